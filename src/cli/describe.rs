//! `tfauth describe component COMPONENT -s STACK`: the merged configuration, the chosen
//! identity with its chain, and the environment and files a run would use. Secrets are
//! redacted. Without `--identity`, an identity that does not resolve is no error (as in
//! Atmos): `identity.name` is null and `identity.reason` says why. Prints to stdout;
//! writes nothing.

use super::{Ctx, Target};
use crate::error::Error;
use crate::output::describe::describe;
use crate::resolve::resolve;
use crate::yaml::emit::json_to_yaml_string;
use clap::{Args, Subcommand, ValueEnum};

#[derive(Args, Debug)]
pub struct DescribeArgs {
    #[command(subcommand)]
    pub what: DescribeWhat,
}

#[derive(Subcommand, Debug)]
pub enum DescribeWhat {
    /// One component in one stack.
    #[command(after_long_help = "\
Examples:
  # The merged vars, env, backend and auth of vpc in plat-use2-dev, as YAML
  tfauth describe component vpc -s plat-use2-dev

  # As JSON, for jq
  tfauth describe component vpc -s plat-use2-dev -f json | jq .vars")]
    Component {
        #[command(flatten)]
        target: Target,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value = "yaml")]
        format: Format,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Yaml,
    Json,
}

pub fn run(args: DescribeArgs, ctx: &Ctx) -> Result<i32, Error> {
    let DescribeWhat::Component { target, format } = args.what;
    let Some(component) = target.component() else {
        return Err(Error::usage(
            "describe component needs a COMPONENT",
            Some("tfauth describe component vpc -s plat-use2-dev".to_string()),
        ));
    };
    if target.stack.is_none() {
        return Err(Error::usage(
            format!("describe component `{component}` needs a stack"),
            Some(format!("tfauth describe component {component} -s STACK")),
        ));
    }
    let prompt = ctx.prompt();
    // Atmos's describe builds no auth unless `--identity` is given: an identity that does
    // not resolve is shown as none, with why, where a run would refuse.
    let req = crate::resolve::Request { describe: true, ..ctx.request(&target) };
    let res = resolve(&req, &ctx.env, prompt.as_ref().map(|p| p as _))?;
    super::warn_problems(&res.warnings);
    if let crate::identity::Selection::Unresolved { reason, .. } = &res.selection {
        let reason = reason.lines().map(str::trim).collect::<Vec<_>>().join(" ");
        tracing::warn!("identity: none ({reason}): describe builds no auth without --identity; a run would refuse");
    }
    let plan = super::env_plan(&res, ctx, &ctx.settings.profiles)?;
    let doc = describe(&res, &plan, &ctx.env);
    let text = match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Yaml => json_to_yaml_string(&doc),
    };
    print!("{text}");
    Ok(0)
}
