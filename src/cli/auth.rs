//! `tfauth auth validate` (and the typed auth `auth list` reads): the auth configuration as
//! a whole, or as merged for one component (`-s STACK COMPONENT`).

use super::{Ctx, Target};
use crate::auth::{AuthConfig, AuthError};
use crate::error::Error;
use crate::resolve::{load_component, undefined_default_problems};
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
    #[command(after_long_help = "\
Examples:
  # Every problem of atmos.yaml's auth section, and every stack manifest that
  # cannot be read or merged, at once
  tfauth auth validate

  # The auth vpc gets in plat-use2-dev (component over stack over global)
  tfauth auth validate vpc -s plat-use2-dev")]
    Validate {
        #[command(flatten)]
        target: Target,
    },
    /// Authenticate and print the environment a run with the identity uses.
    #[command(after_long_help = "\
Examples:
  # Load vpc's credentials into this shell
  eval \"$(tfauth auth env vpc -s plat-use2-dev)\"

  # In GitHub Actions: append to $GITHUB_ENV, secrets masked
  tfauth auth env -i plat-dev/terraform -f github

  # As JSON, for scripts
  tfauth auth env -i plat-dev/terraform -f json")]
    Env {
        #[command(flatten)]
        target: Target,
        /// bash (export/unset), fish, powershell, dotenv, json, or github (appended to $GITHUB_ENV, secrets masked).
        #[arg(long, short = 'f', value_enum, default_value = "bash")]
        format: EnvFormat,
    },
    /// Authenticate and run a command with the identity's environment: `tfauth auth exec -- aws sts get-caller-identity`.
    #[command(after_long_help = "\
Examples:
  # Who the identity is, by the AWS CLI
  tfauth auth exec -i plat-dev/terraform -- aws sts get-caller-identity

  # Any command in vpc's environment
  tfauth auth exec vpc -s plat-use2-dev -- terraform state list")]
    Exec {
        #[command(flatten)]
        target: Target,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true)]
        command: Vec<std::ffi::OsString>,
    },
    /// Start a shell with the identity's environment (TFAUTH_IDENTITY, TFAUTH_SHLVL set); its exit code is passed back.
    Shell(super::shell::AuthShellArgs),
    /// Open the AWS console as the identity (--print-only to print the sign-in URL instead).
    Console(super::console::ConsoleArgs),
    /// Sign in: to an IAM Identity Center provider (--provider), or get a session for an identity.
    Login(super::login::LoginArgs),
    /// Show who the identity is: principal ARN (STS GetCallerIdentity), account, region, expiry.
    Whoami(super::login::WhoamiArgs),
    /// Remove what tfauth keeps for an identity, a provider (--provider) or everything (--all).
    Logout(super::login::LogoutArgs),
    /// Log in to ECR registries (`auth.integrations` of kind aws/ecr): all, one by NAME, or
    /// those via --identity. Writes tfauth's isolated Docker config, or --docker-config.
    EcrLogin(super::ecr_login::EcrLoginArgs),
    /// aws/user identities: store their access keys in the keyring.
    User(super::login::UserArgs),
    /// Write a profile per AWS identity into your AWS config (each runs atmos-auth-helper), for every other AWS tool.
    ConfigureProfiles(super::configure_profiles::ConfigureProfilesArgs),
    /// List providers, identities and integrations, with each identity's cached session.
    #[command(after_long_help = "\
Examples:
  # Providers and their identities' chains, as a tree, with cached sessions
  tfauth auth list

  # Only these providers (a bare --providers: all of them), as a table
  tfauth auth list --providers=acme-sso -f table

  # Identities tagged prod or admin, as JSON
  tfauth auth list --identities --tags prod,admin -f json

  # The auth vpc gets in plat-use2-dev, as Markdown with a Mermaid diagram
  tfauth auth list vpc -s plat-use2-dev -f md")]
    List(super::auth_list::ListArgs),
}

pub fn run(args: AuthArgs, ctx: &Ctx) -> Result<i32, Error> {
    match args.command {
        AuthCommand::Validate { target } => validate(&target, ctx),
        AuthCommand::Env { target, format } => {
            if format == EnvFormat::Github {
                // Before signing in: a run that cannot deliver its variables does no work.
                github_env(ctx)?;
            }
            let plan = authenticated_plan(&target, ctx)?;
            print_env(&plan, format, ctx)
        }
        AuthCommand::Exec { target, command } => {
            let plan = authenticated_plan(&target, ctx)?;
            let (program, args) = command.split_first().expect("clap requires a command");
            let program = resolve_program(program, &ctx.env);
            crate::exec::exec(program, args, &ctx.cwd, &plan.child_env(&ctx.env))
        }
        AuthCommand::Shell(a) => super::shell::auth_shell(a, ctx),
        AuthCommand::Console(a) => super::console::run(a, ctx),
        AuthCommand::Login(a) => super::login::login(a, ctx),
        AuthCommand::Whoami(a) => super::login::whoami(a, ctx),
        AuthCommand::Logout(a) => super::login::logout(a, ctx),
        AuthCommand::User(a) => super::login::user(a, ctx),
        AuthCommand::ConfigureProfiles(a) => super::configure_profiles::run(a, ctx),
        AuthCommand::EcrLogin(a) => super::ecr_login::ecr_login(a, ctx),
        AuthCommand::List(a) => super::auth_list::run(a, ctx),
    }
}

/// The typed auth for a loaded target, with every problem, and the merged node.
pub(super) fn auth_of(
    cfg: &crate::config::AtmosConfig,
    comp: Option<&crate::stacks::ResolvedComponent>,
    ctx: &Ctx,
) -> (Node, AuthConfig, Vec<crate::auth::Problem>) {
    let node = match comp {
        Some(c) => c.auth.clone(),
        None => cfg.auth().cloned().unwrap_or_else(Node::null),
    };
    let (mut auth, problems) = crate::identity::parse_auth(Some(&node));
    crate::session::portal::add_provisioned(&mut auth, &ctx.env);
    (node, auth, problems)
}

/// Repository-wide (no COMPONENT), the stack manifests are checked too: every one that
/// cannot be read or merged is reported, since the stack-level `auth:` it holds is unread.
/// A repository without stacks (auth only) has nothing to check there.
fn validate(target: &Target, ctx: &Ctx) -> Result<i32, Error> {
    use crate::stacks::{StackError, StackSet};
    let (cfg, comp) = load_component(&ctx.request(target), &ctx.env)?;
    let (node, auth, mut problems) = auth_of(&cfg, comp.as_ref(), ctx);
    problems.extend(undefined_default_problems(&node));
    let broken = match comp {
        Some(_) => None,
        None => match StackSet::load(&cfg) {
            Ok(set) => set.listing().err(),
            Err(StackError::NoStacksDir(_) | StackError::NoManifests { .. }) => None,
            Err(e) => Some(e),
        },
    };
    if let Some(broken) = broken {
        // Both at once: the auth problems as errors on stderr, then the manifests' error.
        for p in &problems {
            tracing::error!("{p}");
        }
        return Err(broken.into());
    }
    if !problems.is_empty() {
        return Err(AuthError::Invalid { problems }.into());
    }
    // Accepted as Atmos accepts them; a run whose chain needs an unsupported one refuses it.
    for note in auth.notes.all() {
        eprintln!("warning: {note}");
        if let Some(h) = &note.hint {
            eprintln!("  hint: {h}");
        }
    }
    let integrations = match auth.integrations.len() {
        0 => String::new(),
        n => format!(", {n} integration(s)"),
    };
    println!(
        "auth configuration is valid: {} provider(s), {} identity(ies){integrations}",
        auth.providers.len(),
        auth.identities.len()
    );
    Ok(0)
}

pub use crate::output::envfmt::EnvFormat;

/// Resolves the target, authenticates (writing the isolated files) and returns the plan;
/// an empty plan when auth is disabled or nothing is configured.
pub(crate) fn authenticated_plan(target: &Target, ctx: &Ctx) -> Result<crate::output::env::EnvPlan, Error> {
    let prompt = ctx.prompt();
    let res = crate::resolve::resolve(&ctx.request(target), &ctx.env, prompt.as_ref().map(|p| p as _))?;
    super::warn_problems(&res.warnings);
    match &res.selection {
        crate::identity::Selection::Identity { name, .. } => {
            let plan = super::env_plan(&res, ctx, &ctx.settings.profiles)?;
            super::authenticate(&res, plan, name, false, ctx)
        }
        _ => Ok(crate::output::env::EnvPlan::default()),
    }
}

fn print_env(plan: &crate::output::env::EnvPlan, format: EnvFormat, ctx: &Ctx) -> Result<i32, Error> {
    use crate::output::envfmt::{SECRET_NAMES, render};
    let secret = |k: &str| plan.secret_vars.iter().any(|s| s == k) || SECRET_NAMES.contains(&k);
    let github_env = match format {
        EnvFormat::Github => Some(github_env(ctx)?),
        _ => None,
    };
    let out = render(&plan.set, &plan.cleared_in(&ctx.env), format, &secret);
    // Masks first: they must reach the runner before any value could be printed.
    print!("{}", out.stdout);
    if let (Some(path), Some(text)) = (github_env, out.github_env) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).create(true).open(path).map_err(|e| {
            Error::usage(
                format!("cannot append to $GITHUB_ENV ({path}): {e}"),
                Some("check the GITHUB_ENV variable".to_string()),
            )
        })?;
        f.write_all(text.as_bytes())
            .map_err(|e| Error::usage(format!("cannot write $GITHUB_ENV ({path}): {e}"), None))?;
    }
    Ok(0)
}

/// `$GITHUB_ENV`, which `--format github` appends to.
fn github_env(ctx: &Ctx) -> Result<&str, Error> {
    ctx.env.get(crate::env_vars::GITHUB_ENV).ok_or_else(|| {
        Error::usage(
            "--format github appends to $GITHUB_ENV, which is not set: this is not a GitHub Actions step",
            Some("outside Actions use --format bash, fish, powershell, dotenv or json".to_string()),
        )
    })
}

/// A command name found on PATH (as the shell would), or the path as given.
fn resolve_program(program: &std::ffi::OsStr, env: &crate::env_vars::Env) -> std::path::PathBuf {
    let p = std::path::Path::new(program);
    if p.components().count() > 1 {
        return p.to_path_buf();
    }
    std::env::split_paths(env.get(crate::env_vars::PATH).unwrap_or(""))
        .map(|d| d.join(p))
        .find(|c| c.is_file())
        .unwrap_or_else(|| p.to_path_buf())
}
