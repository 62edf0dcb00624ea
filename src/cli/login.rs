//! `tfauth auth login`: a person's session, as opposed to a run's (`auth login` then runs the
//! identity's integrations).
//!
//! Why it exists: to sign in before a run needs it, so a login prompt or a permission problem
//! shows up here and not in the middle of terraform. Messages go to stderr; it must not print
//! to stdout. It also holds what `whoami`, `logout` and `user configure` share with it
//! (resolving the target, the SSO providers and portals); their `Args` are re-exported here,
//! where callers always found them.

use super::{Ctx, Target};
use crate::auth::ProviderKind;
use crate::error::Error;
use crate::identity::Selection;
use crate::resolve::{Resolution, resolve};
use crate::session::portal::{self, Mode, PortalRef};
use crate::session::{self, Interaction};
use clap::Args;

pub use super::logout::{LogoutArgs, logout};
pub use super::user::{UserArgs, UserCommand, user};
pub use super::whoami::{WhoamiArgs, WhoamiFormat, whoami};

#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  # Sign in to the IAM Identity Center provider (and provision its identities, if it does)
  tfauth auth login --provider acme-sso

  # A session for one identity now, so a run does not stop to ask
  tfauth auth login -i plat-dev/terraform

  # The identity tagged `network` (asked on the terminal if several are)
  tfauth auth login --tags network

  # The identity vpc runs as in plat-use2-dev (acme/network), signing in again
  tfauth auth login vpc -s plat-use2-dev --force")]
pub struct LoginArgs {
    #[command(flatten)]
    pub target: Target,
    /// Sign in to this provider (IAM Identity Center) without choosing an identity.
    #[arg(long, short = 'p', conflicts_with = "identity")]
    pub provider: Option<String>,
    /// Choose the identity by its tags (comma-separated, any may match) when none is named:
    /// one match is used, several are asked on the terminal.
    #[arg(long, value_name = "TAG,...")]
    pub tags: Option<String>,
    /// Sign in again even if the session is still valid.
    #[arg(long)]
    pub force: bool,
    /// A fresh AWS browser sign-in for an aws/user identity without keys (the cached
    /// refresh token is not used).
    #[arg(long, conflicts_with = "provider")]
    pub webflow: bool,
}

pub fn login(mut args: LoginArgs, ctx: &Ctx) -> Result<i32, Error> {
    // --tags chooses the identity, unless one is named (flag or ATMOS_IDENTITY) or a provider is.
    if let Some(tags) = &args.tags {
        let named = args.target.identity.is_some()
            || args.provider.is_some()
            || ctx.env.get(crate::env_vars::ATMOS_IDENTITY).is_some_and(|v| !v.is_empty());
        if named {
            tracing::warn!("--tags is ignored: an identity or provider is named");
        } else {
            let name = identity_by_tags(&args.target, tags, ctx)?;
            args.target.identity = Some(name);
        }
    }
    let res = resolve_for(&args.target, ctx, args.provider.is_some())?;
    let prompt = crate::cli::tty::LoginPrompt::new(&ctx.env, &ctx.settings);
    let mode = if args.force { Mode::Relogin } else { Mode::Use };
    let provider = match (&args.provider, &res.selection) {
        (Some(p), _) => Some(p.clone()),
        (None, Selection::Identity { .. }) => None,
        // No identity chosen: the one IAM Identity Center provider, if there is just one.
        (None, _) => match sso_providers(&res).as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        },
    };
    if let Some(name) = provider {
        let portal = portal_named(&res, &name)?;
        let store = session::token_store(&portal, &res.scope(&ctx.env), &ctx.env)?;
        let oidc = match res.auth.provider(&name) {
            Some(p) => session::oidc_env(p, &ctx.env)?,
            None => ctx.env.clone(),
        };
        let s = portal::access_token(&portal, &store, &oidc, prompt.as_ref().map(|p| p as _), mode)?;
        match s.obtained {
            portal::Obtained::Cached => eprintln!(
                "Already signed in to `{name}` until {} (`--force` signs in again).",
                crate::session::cache::format_utc(s.expires_at)
            ),
            _ => eprintln!("Signed in to `{name}` until {}.", crate::session::cache::format_utc(s.expires_at)),
        }
        if auto_provisions(&res, &name) {
            let ids = portal::provision(&portal, &store, &ctx.env, &s.access_token)?;
            eprintln!(
                "{} identities provisioned from your account assignments (`tfauth auth list` shows them).",
                ids.len()
            );
        }
        return Ok(0);
    }
    let Selection::Identity { name, .. } = &res.selection else {
        return Err(Error::usage(
            "nothing to log in to: auth is disabled or no identity is configured",
            Some("pass --identity NAME or --provider NAME".to_string()),
        ));
    };
    let chain = res.chain.as_ref().expect("an identity has a chain");
    if chain.leaf().cloud() != Some(crate::auth::Cloud::Aws) {
        // Azure and GCP: the same as a run's authentication (sign in, check, write files).
        if args.force {
            crate::session::azure::forget(chain, &ctx.env);
        }
        let plan = super::env_plan(&res, ctx, &ctx.settings.profiles)?;
        let plan = super::authenticate(&res, plan, name, false, ctx)?;
        eprintln!("Logged in as `{name}` ({}); {} file(s) written.", chain.describe(), plan.files.len());
        // Its integrations (ACR logins, GKE and AKS kubeconfigs), as after an AWS login.
        let tty = ctx.prompt();
        let interaction = Interaction { mfa: tty.as_ref().map(|t| t as _), ..ask(&prompt, Mode::Use) };
        super::ecr_login::after_login(&res, name, ctx, interaction);
        return Ok(0);
    }
    let webflow =
        session::webflow::applies(chain, session::vault::user_keys(&res.scope(&ctx.env), chain, &ctx.env)?.is_some());
    if args.webflow && !webflow {
        return Err(Error::usage(
            format!("--webflow: identity `{name}` does not sign in through AWS's browser login"),
            Some("--webflow is for an aws/user identity with no keys (configured or stored) and `credentials.webflow_enabled` not false".to_string()),
        ));
    }
    if webflow && (args.force || args.webflow) {
        session::webflow::forget(&ctx.env, &res.scope(&ctx.env).realm, &chain.hops[0].name);
        if let Some(cache) = crate::session::cache::Cache::new(&ctx.env, "aws") {
            cache.remove(&session::key(&res.scope(&ctx.env), chain));
        }
    }
    if args.force {
        if let Some(p) = session::portal_of(chain)
            && let crate::identity::ChainRoot::Provider(root) = &chain.root
        {
            let oidc = session::oidc_env(root, &ctx.env)?;
            let s = session::portal_token(&p, &res.scope(&ctx.env), &oidc, ask(&prompt, Mode::Relogin))?;
            eprintln!("Signed in to `{}` until {}.", p.provider, crate::session::cache::format_utc(s.expires_at));
        }
        if let Some(cache) = crate::session::cache::Cache::new(&ctx.env, "aws") {
            cache.remove(&session::key(&res.scope(&ctx.env), chain));
        }
    }
    let tty = ctx.prompt();
    let interaction = Interaction { mfa: tty.as_ref().map(|t| t as _), ..ask(&prompt, Mode::Use) };
    let s = session::obtain(&res.scope(&ctx.env), chain, &ctx.env, interaction)?;
    eprintln!(
        "Logged in as `{name}` ({}); credentials valid until {}.",
        chain.describe(),
        s.credentials.expiration.map_or_else(|| "revoked".to_string(), crate::session::cache::format_utc)
    );
    // Integrations never fail the login: each failure is a warning with its retry command.
    super::ecr_login::after_login(&res, name, ctx, interaction);
    Ok(0)
}

/// The identity `--tags` chooses in the target's auth: the one whose tags include any of
/// them (as Atmos matches: exactly), or the user's pick on the terminal among several.
fn identity_by_tags(target: &Target, tags: &str, ctx: &Ctx) -> Result<String, Error> {
    let res = resolve_for(&Target { identity: Some("false".into()), ..target.clone() }, ctx, true)?;
    let wanted = parse_tags(tags);
    let identities: Vec<(&str, &[String])> =
        res.auth.identities.iter().map(|i| (i.name.as_str(), i.extra.tags.as_slice())).collect();
    let matched = tagged(&identities, &wanted);
    match matched.as_slice() {
        [] => Err(no_tag_match("identity", &wanted, &identities)),
        [one] => Ok(one.clone()),
        several => {
            let question = format!("Identities with the tags {}:", quoted(&wanted));
            match ctx.prompt() {
                Some(tty) => crate::identity::Prompt::choose(&tty, &question, several)
                    .map(|i| several[i].clone())
                    .ok_or_else(|| Error::usage("no identity chosen", None)),
                None => Err(Error::usage(
                    format!("{} identities have the tags {}: {}", several.len(), quoted(&wanted), quoted(several)),
                    Some("name one with --identity, or use tags only one of them has".to_string()),
                )),
            }
        }
    }
}

/// `--tags a,b`: the tags, trimmed, empty ones dropped (Atmos's reading).
pub(super) fn parse_tags(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect()
}

/// The names of `items` (name, tags) that carry any of `wanted`, compared exactly as
/// Atmos does, sorted. No tags wanted matches nothing.
pub(super) fn tagged(items: &[(&str, &[String])], wanted: &[String]) -> Vec<String> {
    let mut out: Vec<String> = items
        .iter()
        .filter(|(_, tags)| tags.iter().any(|t| wanted.contains(t)))
        .map(|(name, _)| name.to_string())
        .collect();
    out.sort();
    out
}

/// No `what` (identity, provider) carries any of `wanted`: the tags that are in use.
pub(super) fn no_tag_match(what: &str, wanted: &[String], items: &[(&str, &[String])]) -> Error {
    let mut known: Vec<String> = items.iter().flat_map(|(_, t)| t.iter().cloned()).collect();
    known.sort();
    known.dedup();
    let hint = if known.is_empty() {
        format!("no {what} has tags (`tags:` in atmos.yaml)")
    } else {
        format!("{what} tags in use: {}", quoted(&known))
    };
    let message = if wanted.is_empty() {
        "--tags names no tag".to_string()
    } else {
        format!("no {what} has any of the tags {}", quoted(wanted))
    };
    Error::usage(message, Some(hint))
}

fn quoted(items: &[String]) -> String {
    items.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
}

pub(super) fn ask(prompt: &Option<crate::cli::tty::LoginPrompt>, mode: Mode) -> Interaction<'_> {
    Interaction { mfa: None, login: prompt.as_ref().map(|p| p as _), device: prompt.as_ref().map(|p| p as _), mode }
}

/// Resolves the target; with `--provider`, the identity is not needed (and not asked for).
pub(super) fn resolve_for(target: &Target, ctx: &Ctx, by_provider: bool) -> Result<Resolution, Error> {
    let mut req = ctx.request(target);
    if by_provider && target.identity.is_none() {
        req.identity = crate::identity::IdentityFlag::Named("false".into());
    }
    let prompt = ctx.prompt();
    let res = match resolve(&req, &ctx.env, prompt.as_ref().map(|p| p as _)) {
        // No default identity: `auth login` may still sign in to the only SSO provider.
        Err(crate::resolve::ResolveError::Auth(crate::auth::AuthError::NoDefault { .. }))
            if target.identity.is_none() =>
        {
            req.identity = crate::identity::IdentityFlag::Named("false".into());
            resolve(&req, &ctx.env, None)?
        }
        other => other?,
    };
    super::warn_problems(&res.warnings);
    Ok(res)
}

pub(super) fn sso_providers(res: &Resolution) -> Vec<String> {
    providers_where(res, |k| matches!(k, ProviderKind::IamIdentityCenter { .. }))
}

/// The names of the providers whose kind `is` accepts.
pub(super) fn providers_where(res: &Resolution, is: impl Fn(&ProviderKind) -> bool) -> Vec<String> {
    res.auth.providers.iter().filter(|p| p.kind.as_ref().is_some_and(&is)).map(|p| p.name.clone()).collect()
}

fn auto_provisions(res: &Resolution, provider: &str) -> bool {
    matches!(
        res.auth.provider(provider).and_then(|p| p.kind.as_ref()),
        Some(ProviderKind::IamIdentityCenter { auto_provision: true, .. })
    )
}

/// The portal of the IAM Identity Center provider called `name`.
pub(super) fn portal_named(res: &Resolution, name: &str) -> Result<PortalRef, Error> {
    let Some(p) = res.auth.provider(name) else {
        let names: Vec<&str> = res.auth.providers.iter().map(|p| p.name.as_str()).collect();
        let hint = match crate::util::suggest::nearest(name, names.iter().copied()).first() {
            Some(n) => format!("did you mean `{n}`?"),
            None => format!("providers: {}", if names.is_empty() { "(none)".into() } else { names.join(", ") }),
        };
        return Err(Error::usage(format!("provider `{name}` is not defined"), Some(hint)));
    };
    match &p.kind {
        Some(ProviderKind::IamIdentityCenter { start_url, region, .. }) => {
            Ok(PortalRef { provider: p.name.clone(), start_url: start_url.clone(), region: region.clone() })
        }
        _ => Err(Error::usage(
            format!("provider `{}` ({}) has no login of its own", p.name, p.kind_name),
            Some("only aws/iam-identity-center providers sign in with `auth login --provider`; log in with `--identity NAME` instead".to_string()),
        )),
    }
}

#[cfg(test)]
#[path = "login_tests.rs"]
mod tests;
