//! `tfauth auth list`: Atmos's flags (`-f`, `--providers[=a,b]`, `--identities[=a,b]`,
//! `--tags`) plus tfauth's `--integrations` and `C -s S`, and the cache facts behind the
//! session column: each AWS identity's cached session and each IAM Identity Center
//! provider's portal token.
//!
//! Read-only: it never signs in, refreshes, migrates a token or creates a directory; it
//! reads the files a run would read, as a run would trust them, and a file that a run
//! would not use is listed as unreadable (with a warning), never an error. Rendering is
//! `output::list`'s, from the facts gathered here.

use super::{Ctx, Target};
use crate::auth::{AuthConfig, Cloud, ProviderKind};
use crate::error::Error;
use crate::output::list::{Cached, Filter, ListFormat, Selection, Sessions, names, render, select};
use crate::yaml::Node;
use clap::Args;
use time::OffsetDateTime;

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub target: Target,
    /// Output format (`dot` is graphviz, `md` markdown; Atmos's names).
    #[arg(long, short = 'f', value_enum, default_value = "tree")]
    pub format: ListFormat,
    /// Only providers; with names (`--providers=a,b`), only those.
    #[arg(long, value_name = "NAMES", num_args = 0..=1, default_missing_value = "")]
    pub providers: Option<String>,
    /// Only identities; with names (`--identities=a,b`), only those.
    #[arg(long, value_name = "NAMES", num_args = 0..=1, default_missing_value = "")]
    pub identities: Option<String>,
    /// Only integrations (`auth.integrations`, e.g. aws/ecr); with --providers or --identities, those too.
    #[arg(long)]
    pub integrations: bool,
    /// Only providers and identities tagged with any of these (comma-separated; `tags:` in atmos.yaml).
    #[arg(long, value_name = "TAGS")]
    pub tags: Option<String>,
}

pub fn run(a: ListArgs, ctx: &Ctx) -> Result<i32, Error> {
    if a.providers.is_some() && a.identities.is_some() {
        return Err(Error::usage(
            "--providers and --identities cannot be used together (as in Atmos)",
            Some("list one at a time, e.g. `tfauth auth list --identities=a,b`; --tags narrows both".to_string()),
        ));
    }
    let filter = Filter {
        providers: a.providers.as_deref().map(names),
        identities: a.identities.as_deref().map(names),
        integrations: a.integrations,
        tags: a.tags.as_deref().map(names).unwrap_or_default(),
    };
    let (cfg, comp) = crate::resolve::load_component(&ctx.request(&a.target), &ctx.env)?;
    let (node, auth, _) = super::auth::auth_of(&cfg, comp.as_ref(), ctx);
    let sel = select(&auth, &filter).map_err(|e| {
        let mut hint = e.hint();
        // `--providers vpc -s S`: the component was taken as the flag's value, as Atmos takes it.
        if a.target.component.is_none() && a.target.stack.is_some() {
            hint.push_str(&format!(
                "; a word after {} is its value: put the component first (`tfauth auth list COMPONENT -s STACK {}`)",
                e.flag, e.flag
            ));
        }
        Error::usage(e.to_string(), Some(hint))
    })?;
    if sel.is_empty() && matches!(a.format, ListFormat::Tree | ListFormat::Table) {
        if filter.providers.is_some() || filter.identities.is_some() || filter.integrations || !filter.tags.is_empty() {
            eprintln!("nothing to list: no provider, identity or integration matches the filters");
        } else {
            eprintln!("nothing to list: no providers, identities or integrations are configured");
            // As Atmos does: the auth may live in a profile not applied.
            let profiles = crate::config::available_profiles(&cfg, &ctx.env);
            if !profiles.is_empty() {
                eprintln!(
                    "hint: profiles that may hold auth: {}; try `tfauth --profile NAME auth list`",
                    profiles.join(", ")
                );
            }
        }
        return Ok(0);
    }
    let sessions = sessions(&node, &auth, &sel, ctx);
    print!("{}", render(&auth, &sel, &sessions, a.format));
    Ok(0)
}

/// What the caches hold for what is listed, judged now. Nothing is written: no lock, no
/// refresh, no migration of an earlier token, no directory made.
fn sessions(node: &Node, auth: &AuthConfig, sel: &Selection<'_>, ctx: &Ctx) -> Sessions {
    let now = OffsetDateTime::now_utc();
    let mut out = Sessions::none(now);
    let env = &ctx.env;
    if let Some(cache) = crate::session::cache::Cache::new(env, "aws") {
        let margin = crate::session::cache::margin(env, node.get("refresh_margin").and_then(Node::as_str));
        for i in &sel.identities {
            let Ok(chain) = crate::identity::chain::build(auth, &i.name) else { continue };
            if chain.leaf().cloud() != Some(Cloud::Aws) {
                continue;
            }
            let key = crate::session::cache::key::chain_key(node, &chain);
            let fact = match cache.peek(&key) {
                Ok(None) => Cached::Nothing,
                Ok(Some(c)) => Cached::Held {
                    expires: c.expiration,
                    stale: !c.fresh_for(margin, now),
                    refreshable: false,
                    source: None,
                },
                Err(why) => unreadable(&format!("the cached session of identity `{}`", i.name), why),
            };
            out.identities.insert(i.name.clone(), fact);
        }
    }
    for p in &sel.providers {
        if let Some(ProviderKind::IamIdentityCenter { start_url, region, .. }) = &p.kind {
            let portal = crate::session::portal::PortalRef {
                provider: p.name.clone(),
                start_url: start_url.clone(),
                region: region.clone(),
            };
            if let Some(fact) = portal_token(&portal, ctx, now) {
                out.providers.insert(p.name.clone(), fact);
            }
        }
    }
    out
}

/// The portal token a run would use: Atmos's session file (tfauth's too); when that holds
/// none that is usable, a valid one the AWS CLI left (read as the run reads it, unchanged).
fn portal_token(portal: &crate::session::portal::PortalRef, ctx: &Ctx, now: OffsetDateTime) -> Option<Cached> {
    use crate::providers::sso::{TokenFile, aws_cli_token};
    use crate::session::portal::{TOKEN_MARGIN, TokenStore};
    let store = TokenStore::new(&ctx.env, portal, None)?;
    let own = match TokenFile::load(&store.path()) {
        Ok(own) => own,
        Err(e) => {
            return Some(unreadable(&format!("the IAM Identity Center token of `{}`", portal.provider), e.to_string()));
        }
    };
    let held = |f: &TokenFile, source| Cached::Held {
        expires: Some(f.expires_at),
        stale: !f.access_token_valid(now, TOKEN_MARGIN),
        refreshable: f.refresh_token.is_some() && f.registration_valid(now),
        source,
    };
    if let Some(f) = own.as_ref().filter(|f| f.access_token_valid(now, TOKEN_MARGIN)) {
        return Some(held(f, None));
    }
    let cli = ctx.env.get(crate::env_vars::HOME).and_then(|h| {
        let dir = std::path::Path::new(h).join(".aws/sso/cache");
        aws_cli_token(&dir, &portal.start_url, &portal.region, now, TOKEN_MARGIN)
    });
    Some(match (cli, own) {
        (Some(f), _) => held(&f, Some("aws-cli")),
        (None, Some(f)) => held(&f, None),
        (None, None) => Cached::Nothing,
    })
}

/// A file a run would not use: listed as such, and why on stderr.
fn unreadable(what: &str, why: String) -> Cached {
    tracing::warn!("{what} is not used: {why}");
    Cached::Unreadable(why)
}
