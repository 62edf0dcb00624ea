//! `tfauth auth logout`: removes what tfauth keeps for an identity, a provider, or the realm.
//!
//! Why it exists: a session, a portal token or a profile file must be removable in one
//! command, without knowing where tfauth keeps them. It removes only tfauth's own entries
//! (never a file it did not write), and says on stderr what it removed.

use super::login::{portal_named, resolve_for, sso_providers};
use super::{Ctx, Target};
use crate::auth::ProviderKind;
use crate::error::Error;
use crate::identity::Selection;
use crate::resolve::Resolution;
use crate::session;
use clap::Args;

#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  # Forget plat-dev/terraform's session and the profile files written for it
  tfauth auth logout plat-dev/terraform

  # The IAM Identity Center token, and every session that came through it
  tfauth auth logout --provider acme-sso

  # Everything tfauth keeps for this repository's realm
  tfauth auth logout --all")]
pub struct LogoutArgs {
    /// The identity to log out (default: the default identity).
    #[arg(value_name = "IDENTITY", conflicts_with_all = ["provider", "all"])]
    pub name: Option<String>,
    /// The component whose merged auth to use (needs --stack).
    #[arg(long = "component", short = 'c')]
    pub component: Option<String>,
    /// The stack whose merged auth to use.
    #[arg(short = 's', long)]
    pub stack: Option<String>,
    /// Log out of a provider: its IAM Identity Center token, provisioned identities, and
    /// every session that came through it.
    #[arg(long, conflicts_with = "all")]
    pub provider: Option<String>,
    /// Everything tfauth keeps for this repository's realm, and its SSO tokens.
    #[arg(long)]
    pub all: bool,
}

pub fn logout(args: LogoutArgs, ctx: &Ctx) -> Result<i32, Error> {
    let target = Target { component: args.component.clone(), stack: args.stack.clone(), ..Target::default() };
    let identity_given = args.name.clone();
    let t = Target { identity: identity_given.clone().or_else(|| Some("false".into())), ..target.clone() };
    let mut res = resolve_for(&t, ctx, false)?;
    let realm = res.realm(&ctx.env);
    let mut removed: Vec<String> = Vec::new();
    let cache = crate::session::cache::Cache::new(&ctx.env, "aws");
    let realm_dir = crate::output::env::config_home(&ctx.env)
        .map(|h| h.join("atmos").join(crate::output::env::path_component(&realm)));

    if args.all {
        removed.extend(remove_sessions(cache.as_ref(), |o| o.realm == realm));
        for name in sso_providers(&res) {
            removed.extend(logout_provider_token(&res, &name, ctx)?);
        }
        if let Some(dir) = &realm_dir
            && dir.exists()
        {
            std::fs::remove_dir_all(dir)
                .map_err(|e| Error::usage(format!("cannot remove {}: {e}", dir.display()), None))?;
            removed.push(format!("the realm's files {}", dir.display()));
        }
        for p in &res.auth.providers {
            if let Some(d) = base_path_dir(p, &ctx.env, &realm)
                && d.exists()
            {
                let _ = std::fs::remove_dir_all(&d);
                removed.push(format!("profile files in {}", d.display()));
            }
            if crate::session::azure::forget_provider(p, &ctx.env) {
                removed.push(format!("the Entra ID sign-in of `{}` (cached tokens)", p.name));
            }
        }
        if let Some(ring) = crate::session::vault::open(&res.auth_node, &ctx.env)? {
            for id in res.auth.identities.iter().filter(|i| i.kind_name == "aws/user") {
                if crate::session::vault::delete_user_keys(ring.as_ref(), &realm, &id.name)? {
                    removed.push(format!("the stored access key of `{}` ({})", id.name, ring.describe()));
                }
            }
        }
    } else if let Some(provider) = &args.provider {
        // Any defined provider may be logged out of; only SSO ones have a token.
        if res.auth.provider(provider).is_none() {
            portal_named(&res, provider)?;
        }
        removed.extend(remove_sessions(cache.as_ref(), |o| o.realm == realm && o.root.eq_ignore_ascii_case(provider)));
        if let Some(dir) = &realm_dir {
            for (cloud, what) in [("aws", "profile files"), ("gcp", "GCP files"), ("azure", "Azure files")] {
                let d = dir.join(cloud).join(crate::output::env::path_component(provider));
                if d.exists() {
                    let _ = std::fs::remove_dir_all(&d);
                    removed.push(format!("{what} in {}", d.display()));
                }
            }
        }
        if let Some(d) = res.auth.provider(provider).and_then(|p| base_path_dir(p, &ctx.env, &realm))
            && d.exists()
        {
            let _ = std::fs::remove_dir_all(&d);
            removed.push(format!("profile files in {}", d.display()));
        }
        if let Some(p) = res.auth.provider(provider)
            && crate::session::azure::forget_provider(p, &ctx.env)
        {
            removed.push(format!("the Entra ID sign-in of `{}` (cached tokens)", p.name));
        }
        if matches!(
            res.auth.provider(provider).and_then(|p| p.kind.as_ref()),
            Some(ProviderKind::IamIdentityCenter { .. })
        ) {
            removed.extend(logout_provider_token(&res, provider, ctx)?);
        }
    } else {
        // One identity: the named one, else the default.
        let name = match identity_given {
            Some(n) => n,
            None => {
                res = resolve_for(&target, ctx, false)?;
                match &res.selection {
                    Selection::Identity { name, .. } => name.clone(),
                    _ => {
                        return Err(Error::usage(
                            "no identity to log out",
                            Some("name one: `tfauth auth logout IDENTITY`, or use --provider / --all".to_string()),
                        ));
                    }
                }
            }
        };
        let Some(id) = res.auth.identity(&name).cloned() else {
            return Err(Error::usage(
                format!("identity `{name}` is not defined"),
                Some("`tfauth auth list` shows the identities".to_string()),
            ));
        };
        removed
            .extend(remove_sessions(cache.as_ref(), |o| o.realm == realm && o.identity.eq_ignore_ascii_case(&id.name)));
        let chain = crate::identity::chain::build(&res.auth, &id.name).ok();
        if let Some(crate::identity::ChainRoot::Provider(p)) = chain.as_ref().map(|c| &c.root)
            && let Some(d) = base_path_dir(p, &ctx.env, &realm)
            && let Some(aws) = d.parent()
        {
            removed.extend(remove_profile_files(aws, &id.name));
        }
        if let Some(dir) = &realm_dir {
            removed.extend(remove_profile_files(&dir.join("aws"), &id.name));
            if let Some(chain) = &chain {
                removed.extend(remove_cloud_files(dir, chain));
            }
        }
        if id.kind_name == "aws/user"
            && let Some(ring) = crate::session::vault::open(&res.auth_node, &ctx.env)?
            && crate::session::vault::delete_user_keys(ring.as_ref(), &realm, &id.name)?
        {
            removed.push(format!("the stored access key of `{}` ({})", id.name, ring.describe()));
        }
        // A provider session tfauth keeps (a portal token, an Entra ID sign-in) serves
        // every identity of the provider, so it outlives one identity's logout.
        if let Some(crate::identity::ChainRoot::Provider(p)) = chain.as_ref().map(|c| &c.root)
            && matches!(p.kind, Some(ProviderKind::IamIdentityCenter { .. } | ProviderKind::AzureDeviceCode { .. }))
        {
            let p = &p.name;
            eprintln!("note: the session with `{p}` stays; `tfauth auth logout --provider {p}` ends it too");
        }
    }
    if removed.is_empty() {
        eprintln!("Nothing to remove: already logged out.");
    } else {
        for r in &removed {
            eprintln!("removed {r}");
        }
    }
    Ok(0)
}

/// Removes the cached sessions whose owner `mine` accepts; what was removed, for the report.
fn remove_sessions(
    cache: Option<&crate::session::cache::Cache>,
    mine: impl Fn(&crate::session::cache::Owner) -> bool,
) -> Vec<String> {
    let Some(cache) = cache else { return vec![] };
    cache
        .entries()
        .into_iter()
        .filter(|(key, owner)| owner.as_ref().is_some_and(&mine) && cache.remove(key))
        .map(|(key, _)| format!("cached session {key}"))
        .collect()
}

/// The SSO token (file or keyring) and the provisioned identities of provider `name`.
fn logout_provider_token(res: &Resolution, name: &str, ctx: &Ctx) -> Result<Vec<String>, Error> {
    let portal = portal_named(res, name)?;
    let store = session::token_store(&portal, &res.scope(&ctx.env), &ctx.env)?;
    let mut out = Vec::new();
    if store.identities_path().exists() {
        out.push(format!("the identities provisioned by `{name}`"));
    }
    if store.logout(&portal, &ctx.env)? {
        out.push(format!("the IAM Identity Center token of `{name}`"));
    }
    Ok(out)
}

/// The GCP credentials and gcloud configuration, or the isolated `AZURE_CONFIG_DIR`, that
/// runs of `chain`'s identity wrote under `realm_dir`.
fn remove_cloud_files(realm_dir: &std::path::Path, chain: &crate::identity::Chain) -> Vec<String> {
    let mut dirs = Vec::new();
    if let Some(t) = crate::output::gcp::target(chain) {
        let (adc, config) = crate::output::gcp::dirs(realm_dir, &t);
        dirs.push(("GCP credentials", adc));
        dirs.push(("gcloud configuration", config));
    }
    if let crate::identity::ChainRoot::Provider(p) = &chain.root
        && matches!(p.kind, Some(ProviderKind::AzureDeviceCode { .. }))
    {
        dirs.push((
            crate::env_vars::AZURE_CONFIG_DIR,
            crate::output::azure::config_dir(realm_dir, &p.name, &chain.leaf().name),
        ));
    }
    dirs.into_iter()
        .filter(|(_, d)| d.exists() && std::fs::remove_dir_all(d).is_ok())
        .map(|(what, d)| format!("{what} {}", d.display()))
        .collect()
}

/// The isolated profile files whose profile is `identity`: `aws_dir/<root>/<h>/` (one
/// directory per distinct set of files, see [`crate::output::env`]), and `aws_dir/<root>/`
/// as earlier versions wrote them. Never through a symlink.
/// `<base_path>/<realm>/aws/<provider>` of a provider with `spec.files.base_path`, where
/// its runs' AWS files are (Atmos's logout cleans them there too).
fn base_path_dir(p: &crate::auth::Provider, env: &crate::env_vars::Env, realm: &str) -> Option<std::path::PathBuf> {
    let base = crate::output::plan::files_base_path(p, env).ok().flatten()?;
    let component = crate::output::env::path_component;
    Some(base.join(component(realm)).join("aws").join(component(&p.name)))
}

fn remove_profile_files(aws_dir: &std::path::Path, identity: &str) -> Vec<String> {
    let mut out = Vec::new();
    let header = format!("[profile {identity}]");
    let is_dir = |p: &std::path::Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    let subdirs = |d: &std::path::Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(d).map(|r| r.flatten().map(|e| e.path()).filter(|p| is_dir(p)).collect()).unwrap_or_default()
    };
    for root in subdirs(aws_dir) {
        for dir in std::iter::once(root.clone()).chain(subdirs(&root)) {
            let mine = crate::util::fs::read_private(&dir.join("config"), crate::session::cache::ENTRY_CAP)
                .ok()
                .flatten()
                .is_some_and(|t| String::from_utf8_lossy(&t).lines().any(|l| l.trim() == header));
            if !mine {
                continue;
            }
            for f in ["config", "credentials"] {
                if std::fs::remove_file(dir.join(f)).is_ok() {
                    out.push(format!("profile file {}", dir.join(f).display()));
                }
            }
            let _ = std::fs::remove_dir(&dir);
        }
        let _ = std::fs::remove_dir(&root);
    }
    out
}

#[cfg(test)]
#[path = "logout_tests.rs"]
mod tests;
