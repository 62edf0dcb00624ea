//! `tfauth auth whoami`: which identity this shell or target would use, and what session it
//! has.
//!
//! Why it exists: to answer "who am I, and for how long" without running terraform. It prints
//! its answer on stdout (a table, or JSON with `-o json`) so it can be piped, messages on
//! stderr; it must not sign in or refresh anything it reports on.

use super::{Ctx, Target};
use crate::auth::ProviderKind;
use crate::error::Error;
use crate::resolve::Resolution;
use crate::session::portal::Mode;
use crate::session::{self, Interaction};
use clap::Args;
use time::OffsetDateTime;

#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  # The default identity (plat-dev/terraform in plat-use2-dev's stacks) and its session
  tfauth auth whoami -i plat-dev/terraform

  # The identity vpc runs as in plat-use2-dev, as JSON for scripts
  tfauth auth whoami vpc -s plat-use2-dev -o json")]
pub struct WhoamiArgs {
    #[command(flatten)]
    pub target: Target,
    /// json, or table (any other value is table, as in Atmos).
    #[arg(long, short = 'o', value_name = "FORMAT", default_value = "table", value_parser = WhoamiFormat::lenient, env = crate::env_vars::ATMOS_AUTH_WHOAMI_OUTPUT)]
    pub output: WhoamiFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhoamiFormat {
    Table,
    Json,
}

impl WhoamiFormat {
    /// Read as Atmos reads `--output` and `ATMOS_AUTH_WHOAMI_OUTPUT`: `json` is JSON,
    /// anything else the table.
    fn lenient(s: &str) -> Result<WhoamiFormat, std::convert::Infallible> {
        Ok(if s == "json" { WhoamiFormat::Json } else { WhoamiFormat::Table })
    }
}

pub fn whoami(args: WhoamiArgs, ctx: &Ctx) -> Result<i32, Error> {
    // Not `resolve_for`: its fallback for `login` (no default: sign in to the provider)
    // would hide why there is no identity to report on.
    let prompt = ctx.prompt();
    let res = crate::resolve::resolve(&ctx.request(&args.target), &ctx.env, prompt.as_ref().map(|p| p as _))?;
    super::warn_problems(&res.warnings);
    let (name, chain) = res.chosen()?;
    if chain.leaf().cloud() != Some(crate::auth::Cloud::Aws) {
        return whoami_elsewhere(&res, chain, name, args.output, ctx);
    }
    // whoami never starts a login: it reports the session there is.
    let s = session::obtain(
        &res.scope(&ctx.env),
        chain,
        &ctx.env,
        Interaction { mode: Mode::NoLogin, ..Interaction::NONE },
    )?;
    let region = chain.aws_region(res.stack_region()).0.to_string();
    let who = crate::providers::aws::caller_identity(name, &s.credentials, &ctx.env, region.clone())?;
    let provider = match &chain.root {
        crate::identity::ChainRoot::Provider(p) => Some(p.name.clone()),
        crate::identity::ChainRoot::Standalone => None,
    };
    let expiration = s.credentials.expiration.map(crate::session::cache::format_utc);
    match args.output {
        WhoamiFormat::Json => {
            let doc = serde_json::json!({
                "identity": name,
                "provider": provider,
                "chain": chain.describe(),
                "arn": who.arn,
                "account": who.account,
                "user_id": who.user_id,
                "region": region,
                "expiration": expiration,
                "cached": !s.fetched,
            });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        WhoamiFormat::Table => {
            let left = s.credentials.expiration.map(|e| {
                let mins = (e - OffsetDateTime::now_utc()).whole_minutes().max(0);
                format!("{} ({mins}m left)", crate::session::cache::format_utc(e))
            });
            let rows = [
                ("Identity", name.clone()),
                ("Provider", provider.unwrap_or_else(|| "-".into())),
                ("Chain", chain.describe()),
                ("Principal", who.arn),
                ("Account", who.account),
                ("Region", region),
                ("Expires", left.unwrap_or_else(|| "never (long-lived keys)".into())),
            ];
            for (k, v) in rows {
                println!("{k:<10} {v}");
            }
        }
    }
    Ok(0)
}

/// `whoami` for Azure and GCP: the checks a run makes before handing over (a token
/// exchange, an impersonation, a cached or refreshed sign-in, `az account show`), whose
/// answers name the principal. Like AWS's, it never starts a sign-in and writes nothing.
fn whoami_elsewhere(
    res: &Resolution,
    chain: &crate::identity::Chain,
    name: &str,
    output: WhoamiFormat,
    ctx: &Ctx,
) -> Result<i32, Error> {
    use crate::auth::Cloud;
    // What a run would refuse to write, whoami refuses too.
    super::env_plan(res, ctx, &ctx.settings.profiles)?;
    let cloud = chain.leaf().cloud();
    let scope = crate::output::azure::scope(chain);
    let is_cli = matches!(
        &chain.root,
        crate::identity::ChainRoot::Provider(p) if matches!(p.kind, Some(ProviderKind::AzureCli { .. }))
    );
    let principal = match cloud {
        Some(Cloud::Azure) if is_cli => {
            Some(crate::providers::azure::az_account(name, &ctx.env, scope.subscription_id.as_deref())?)
        }
        _ => crate::session::walk(&res.scope(&ctx.env), chain, &ctx.env, Interaction::NONE, true)?
            .and_then(|w| w.principal().cloned()),
    };
    let Some(mut principal) = principal else {
        return Err(Error::usage(
            format!("`whoami` has no way to ask who `{name}` ({}) is", chain.leaf().kind_name),
            Some("`tfauth auth list` shows the chain; `tfauth auth validate` says what it lacks".to_string()),
        ));
    };
    if cloud == Some(Cloud::Azure) {
        for (label, v) in [
            ("subscription", &scope.subscription_id),
            ("location", &scope.location),
            ("resource group", &scope.resource_group),
        ] {
            if let Some(v) = v {
                principal.details.push((label, v.clone()));
            }
        }
    }
    let provider = match &chain.root {
        crate::identity::ChainRoot::Provider(p) => Some(p.name.clone()),
        crate::identity::ChainRoot::Standalone => None,
    };
    let cloud_name = match cloud {
        Some(Cloud::Gcp) => "gcp",
        _ => "azure",
    };
    match output {
        WhoamiFormat::Json => {
            let mut doc = serde_json::json!({
                "identity": name,
                "provider": provider,
                "chain": chain.describe(),
                "cloud": cloud_name,
                "principal": principal.name,
            });
            for (label, v) in &principal.details {
                doc[label.replace(' ', "_")] = serde_json::Value::String(v.clone());
            }
            doc["expiration"] = serde_json::json!(principal.expires.map(crate::session::cache::format_utc));
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        WhoamiFormat::Table => {
            let mut rows = vec![
                ("Identity".to_string(), name.to_string()),
                ("Provider".to_string(), provider.unwrap_or_else(|| "-".into())),
                ("Chain".to_string(), chain.describe()),
                ("Principal".to_string(), principal.name.clone()),
            ];
            for (label, v) in &principal.details {
                let mut l = label.to_string();
                l[..1].make_ascii_uppercase();
                rows.push((l, v.clone()));
            }
            let left = principal.expires.map(|e| {
                let mins = (e - OffsetDateTime::now_utc()).whole_minutes().max(0);
                format!("{} ({mins}m left; the libraries renew it)", crate::session::cache::format_utc(e))
            });
            rows.push(("Expires".into(), left.unwrap_or_else(|| "-".into())));
            let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0).max(10);
            for (k, v) in rows {
                println!("{k:<width$} {v}");
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
#[path = "whoami_tests.rs"]
mod tests;
