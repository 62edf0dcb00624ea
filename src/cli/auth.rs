//! `tfauth auth validate` and `tfauth auth list`: the auth configuration as a whole, or as
//! merged for one component (`-s STACK COMPONENT`).

use super::{Ctx, Target};
use crate::auth::{AuthConfig, AuthError};
use crate::error::Error;
use crate::output::list::{ListFormat, Show, render};
use crate::resolve::{load_component, undefined_defaults};
use crate::yaml::Node;
use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct AuthArgs {
    #[command(subcommand)]
    pub command: AuthCommand,
}

#[derive(Subcommand, Debug)]
pub enum AuthCommand {
    /// Check the auth configuration and report every problem at once.
    Validate {
        #[command(flatten)]
        target: Target,
    },
    /// List providers and identities.
    List {
        #[command(flatten)]
        target: Target,
        #[arg(long, short = 'f', value_enum, default_value = "table")]
        format: ListFormat,
        /// Only providers.
        #[arg(long)]
        providers: bool,
        /// Only identities.
        #[arg(long)]
        identities: bool,
    },
}

pub fn run(args: AuthArgs, ctx: &Ctx) -> Result<i32, Error> {
    match args.command {
        AuthCommand::Validate { target } => validate(&target, ctx),
        AuthCommand::List { target, format, providers, identities } => {
            let (_, auth, _) = load_auth(&target, ctx)?;
            let show = if providers || identities {
                Show { providers, identities }
            } else {
                Show { providers: true, identities: true }
            };
            print!("{}", render(&auth, format, show));
            Ok(0)
        }
    }
}

/// The typed auth for the target, with every problem, and the merged node.
fn load_auth(target: &Target, ctx: &Ctx) -> Result<(Node, AuthConfig, Vec<crate::auth::Problem>), Error> {
    let (cfg, comp) = load_component(&ctx.request(target), &ctx.env)?;
    let node = match &comp {
        Some(c) => c.auth.clone(),
        None => cfg.auth().cloned().unwrap_or_else(Node::null),
    };
    let (auth, problems) = AuthConfig::parse(Some(&node));
    Ok((node, auth, problems))
}

fn validate(target: &Target, ctx: &Ctx) -> Result<i32, Error> {
    let (node, auth, mut problems) = load_auth(target, ctx)?;
    for (name, span) in undefined_defaults(&node) {
        problems.push(crate::auth::Problem {
            subject: crate::auth::Subject::Identity(name.clone()),
            span: Some(span),
            message: format!("identity `{name}` is marked `default: true` but nothing defines it"),
            hint: Some("define it in atmos.yaml or the active profile, or select a profile that does".into()),
        });
    }
    if !problems.is_empty() {
        return Err(AuthError::Invalid { problems }.into());
    }
    println!(
        "auth configuration is valid: {} provider(s), {} identity(ies)",
        auth.providers.len(),
        auth.identities.len()
    );
    Ok(0)
}
