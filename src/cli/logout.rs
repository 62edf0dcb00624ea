//! `tfauth auth logout`: removes what tfauth keeps for an identity, a provider (by name or
//! by `--tags`), the realm, or every realm.
//!
//! Why it exists: a session, a portal token or a profile file must be removable in one
//! command, without knowing where tfauth keeps them. It removes only tfauth's own entries
//! (never a file it did not write), and says on stderr what it removed. It must not delete
//! stored access keys unless `--keychain` was given and agreed to, and with `--dry-run` it
//! removes nothing at all; every removal goes through [`Sweep`] so the two stay the same list.

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

  # What --all would remove, removing nothing
  tfauth auth logout --all --dry-run

  # Every provider tagged production, and the access keys stored for aws/user identities
  tfauth auth logout --tags production --keychain --force

  # Everything tfauth keeps for this repository's realm
  tfauth auth logout --all")]
pub struct LogoutArgs {
    /// The identity to log out (default: the default identity).
    #[arg(value_name = "IDENTITY", conflicts_with_all = ["provider", "all", "tags"])]
    pub name: Option<String>,
    /// The component whose merged auth to use (needs --stack).
    #[arg(long = "component", short = 'c')]
    pub component: Option<String>,
    /// The stack whose merged auth to use.
    #[arg(short = 's', long)]
    pub stack: Option<String>,
    /// Log out of a provider: its IAM Identity Center token, provisioned identities, and
    /// every session that came through it.
    #[arg(long, conflicts_with_all = ["all", "tags"])]
    pub provider: Option<String>,
    /// Log out of every provider with one of these tags (comma-separated), as --provider each.
    #[arg(long, value_name = "TAG,...", conflicts_with = "all")]
    pub tags: Option<String>,
    /// Everything tfauth keeps for this repository's realm, and its SSO tokens.
    #[arg(long)]
    pub all: bool,
    /// Every realm's files under the config directory (every repository's), and every cached
    /// session; with --keychain, the stored keys of this configuration's identities in each.
    /// Wins over a name, --provider, --tags and --all, as in Atmos.
    #[arg(long)]
    pub all_realms: bool,
    /// Print what would be removed, and remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also delete the access keys stored in the keyring for aws/user identities, and the
    /// passwords stored for aws/saml providers (asks on the terminal; --force without one).
    /// Without it they stay, as in Atmos.
    #[arg(long)]
    pub keychain: bool,
    /// Do not ask before --keychain deletes stored keys.
    #[arg(long)]
    pub force: bool,
}

/// What a logout removes, or with `--dry-run` would remove: each thing once, as it is found.
struct Sweep {
    dry_run: bool,
    lines: Vec<String>,
}

impl Sweep {
    /// Removes the directory `d` (and what it holds) if it exists; a failure is an error.
    fn dir(&mut self, what: &str, d: &std::path::Path) -> Result<(), Error> {
        if std::fs::symlink_metadata(d).is_err() {
            return Ok(());
        }
        if !self.dry_run {
            std::fs::remove_dir_all(d)
                .map_err(|e| Error::usage(format!("cannot remove {}: {e}", d.display()), None))?;
        }
        self.lines.push(format!("{what} {}", d.display()));
        Ok(())
    }
}

pub fn logout(args: LogoutArgs, ctx: &Ctx) -> Result<i32, Error> {
    // Asked before anything is removed: a no removes nothing at all, as in Atmos.
    if args.keychain && !args.dry_run && !args.force && !keychain_confirmed(ctx)? {
        eprintln!("Logout cancelled: nothing was removed.");
        return Ok(0);
    }
    let target = Target { component: args.component.clone(), stack: args.stack.clone(), ..Target::default() };
    let identity_given = args.name.clone();
    let t = Target { identity: identity_given.clone().or_else(|| Some("false".into())), ..target.clone() };
    let mut res = resolve_for(&t, ctx, false)?;
    let realm = res.realm(&ctx.env);
    let mut sweep = Sweep { dry_run: args.dry_run, lines: Vec::new() };
    let cache = crate::session::cache::Cache::new(&ctx.env, "aws");
    let atmos_dir = crate::output::env::config_home(&ctx.env).map(|h| h.join("atmos"));
    let realm_dir = atmos_dir.as_ref().map(|d| d.join(crate::output::env::path_component(&realm)));
    // The aws/user identities whose stored keys go with --keychain, and in which realms.
    let mut keys_of: Vec<String> = Vec::new();
    let mut key_realms = vec![realm.clone()];
    // The aws/saml providers whose stored passwords go with --keychain.
    let mut saml_of: Vec<String> = Vec::new();
    let saml_providers =
        |res: &Resolution| super::login::providers_where(res, |k| matches!(k, ProviderKind::Saml { .. }));

    if args.all_realms {
        let realms = atmos_dir.as_deref().map(discover_realms).unwrap_or_default();
        for r in &realms {
            sweep.dir("the files of realm", &atmos_dir.as_ref().expect("realms were found in it").join(r))?;
        }
        sweep.lines.extend(remove_sessions(cache.as_ref(), |_| true, args.dry_run));
        keys_of = res.auth.identities.iter().filter(|i| i.kind_name == "aws/user").map(|i| i.name.clone()).collect();
        saml_of = saml_providers(&res);
        key_realms.extend(realms.into_iter().filter(|r| *r != realm));
    } else if args.all {
        sweep.lines.extend(remove_sessions(cache.as_ref(), |o| o.realm == realm, args.dry_run));
        for name in sso_providers(&res) {
            sweep.lines.extend(logout_provider_token(&res, &name, ctx, args.dry_run)?);
        }
        if let Some(dir) = &realm_dir {
            sweep.dir("the realm's files", dir)?;
        }
        for p in &res.auth.providers {
            if let Some(d) = base_path_dir(p, &ctx.env, &realm) {
                sweep.dir("profile files in", &d)?;
            }
            forget_azure(&mut sweep, p, ctx);
            forget_saml_browser(&mut sweep, p, ctx)?;
        }
        keys_of = res.auth.identities.iter().filter(|i| i.kind_name == "aws/user").map(|i| i.name.clone()).collect();
        saml_of = saml_providers(&res);
        for name in &keys_of {
            forget_webflow(&mut sweep, ctx, &realm, name);
        }
    } else if let Some(tags) = &args.tags {
        let wanted = super::login::parse_tags(tags);
        let providers: Vec<(&str, &[String])> =
            res.auth.providers.iter().map(|p| (p.name.as_str(), p.tags.as_slice())).collect();
        let matched = super::login::tagged(&providers, &wanted);
        if matched.is_empty() {
            return Err(super::login::no_tag_match("provider", &wanted, &providers));
        }
        eprintln!(
            "providers with the tags {}: {}",
            wanted.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", "),
            matched.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
        );
        for provider in &matched {
            logout_provider(&mut sweep, &res, provider, &realm, realm_dir.as_deref(), cache.as_ref(), ctx)?;
        }
        saml_of = saml_providers(&res).into_iter().filter(|p| matched.iter().any(|m| m.as_str() == p)).collect();
    } else if let Some(provider) = &args.provider {
        // Any defined provider may be logged out of; only SSO ones have a token.
        if res.auth.provider(provider).is_none() {
            portal_named(&res, provider)?;
        }
        logout_provider(&mut sweep, &res, provider, &realm, realm_dir.as_deref(), cache.as_ref(), ctx)?;
        saml_of = saml_providers(&res).into_iter().filter(|p| p == provider).collect();
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
        sweep.lines.extend(remove_sessions(
            cache.as_ref(),
            |o| o.realm == realm && o.identity.eq_ignore_ascii_case(&id.name),
            args.dry_run,
        ));
        let chain = crate::identity::chain::build(&res.auth, &id.name).ok();
        if let Some(crate::identity::ChainRoot::Provider(p)) = chain.as_ref().map(|c| &c.root)
            && let Some(d) = base_path_dir(p, &ctx.env, &realm)
            && let Some(aws) = d.parent()
        {
            sweep.lines.extend(remove_profile_files(aws, &id.name, args.dry_run));
        }
        // Its integrations' Docker logins and kubeconfig entries, as Atmos's cleanup removes them.
        sweep.lines.extend(crate::logins::forget(&res, &id.name, &ctx.env, args.dry_run));
        if let Some(dir) = &realm_dir {
            sweep.lines.extend(remove_profile_files(&dir.join("aws"), &id.name, args.dry_run));
            if let Some(chain) = &chain {
                sweep.lines.extend(remove_cloud_files(dir, chain, args.dry_run));
            }
        }
        if id.kind_name == "aws/user" {
            keys_of.push(id.name.clone());
            forget_webflow(&mut sweep, ctx, &realm, &id.name);
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
    stored_keys(&mut sweep, &args, &res, (&keys_of, &saml_of), &key_realms, ctx)?;
    if !args.dry_run
        && let Some(cache) = &cache
    {
        let gone = cache.forget_failures();
        tracing::debug!(gone, "remembered failures removed");
    }
    let verb = if args.dry_run { "would remove" } else { "removed" };
    if sweep.lines.is_empty() {
        eprintln!("Nothing to remove: already logged out.");
    } else {
        for r in &sweep.lines {
            eprintln!("{verb} {r}");
        }
    }
    if args.dry_run {
        eprintln!("Dry run: nothing was removed.");
    }
    Ok(0)
}

/// One provider's logout: its sessions, its directories in the realm and under its
/// `spec.files.base_path`, its Entra ID sign-in, its IAM Identity Center token.
fn logout_provider(
    sweep: &mut Sweep,
    res: &Resolution,
    provider: &str,
    realm: &str,
    realm_dir: Option<&std::path::Path>,
    cache: Option<&crate::session::cache::Cache>,
    ctx: &Ctx,
) -> Result<(), Error> {
    sweep.lines.extend(remove_sessions(
        cache,
        |o| o.realm == realm && o.root.eq_ignore_ascii_case(provider),
        sweep.dry_run,
    ));
    if let Some(dir) = realm_dir {
        for (cloud, what) in [("aws", "profile files in"), ("gcp", "GCP files in"), ("azure", "Azure files in")] {
            sweep.dir(what, &dir.join(cloud).join(crate::output::env::path_component(provider)))?;
        }
    }
    if let Some(d) = res.auth.provider(provider).and_then(|p| base_path_dir(p, &ctx.env, realm)) {
        sweep.dir("profile files in", &d)?;
    }
    if let Some(p) = res.auth.provider(provider) {
        forget_azure(sweep, p, ctx);
        forget_saml_browser(sweep, p, ctx)?;
    }
    if matches!(res.auth.provider(provider).and_then(|p| p.kind.as_ref()), Some(ProviderKind::IamIdentityCenter { .. }))
    {
        sweep.lines.extend(logout_provider_token(res, provider, ctx, sweep.dry_run)?);
    }
    Ok(())
}

/// AWS's browser login of an `aws/user`: the refresh token (and its DPoP key) Atmos and
/// tfauth share.
fn forget_webflow(sweep: &mut Sweep, ctx: &Ctx, realm: &str, identity: &str) {
    if let Some(file) = crate::session::webflow::cache_file(&ctx.env, realm, identity)
        && file.is_file()
    {
        if !sweep.dry_run {
            crate::session::webflow::forget(&ctx.env, realm, identity);
        }
        sweep.lines.push(format!("the browser sign-in's refresh token {}", file.display()));
    }
}

/// The Browser driver's profile of an `aws/saml` provider (the IdP's cookies).
fn forget_saml_browser(sweep: &mut Sweep, p: &crate::auth::Provider, ctx: &Ctx) -> Result<(), Error> {
    if !matches!(p.kind, Some(ProviderKind::Saml { .. })) {
        return Ok(());
    }
    match crate::providers::saml::browser_profile_dir(&ctx.env, &p.name) {
        Some(d) => sweep.dir("the IdP's browser profile", &d),
        None => Ok(()),
    }
}

/// The Entra ID sign-in of a device-code provider (its cached tokens).
fn forget_azure(sweep: &mut Sweep, p: &crate::auth::Provider, ctx: &Ctx) {
    let line = format!("the Entra ID sign-in of `{}` (cached tokens)", p.name);
    if sweep.dry_run {
        if matches!(p.kind, Some(ProviderKind::AzureDeviceCode { .. })) {
            sweep.lines.push(format!("{line}, if there is one"));
        }
    } else if crate::session::azure::forget_provider(p, &ctx.env) {
        sweep.lines.push(line);
    }
}

/// With `--keychain` (agreed to already), the stored access keys of `identities`
/// (aws/user) and the stored passwords of `saml` providers' users, in `realms`; without it
/// they stay, as in Atmos, and a note says so.
fn stored_keys(
    sweep: &mut Sweep,
    args: &LogoutArgs,
    res: &Resolution,
    (identities, saml): (&[String], &[String]),
    realms: &[String],
    ctx: &Ctx,
) -> Result<(), Error> {
    if identities.is_empty() && saml.is_empty() {
        return Ok(());
    }
    if !args.keychain {
        // Said without opening the keyring: a logout that deletes no key asks for no password.
        if crate::keyring::spec(&res.auth_node, &ctx.env).ok().flatten().is_some() {
            let quoted = |names: &[String]| names.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ");
            if !identities.is_empty() {
                eprintln!(
                    "note: the access keys stored in the keyring for {}, if any, stay; --keychain deletes them too",
                    quoted(identities),
                );
            }
            if !saml.is_empty() {
                eprintln!(
                    "note: the SAML passwords stored in the keyring for {}, if any, stay; --keychain deletes them too",
                    quoted(saml),
                );
            }
        }
        return Ok(());
    }
    let Some(ring) = crate::session::vault::open(&res.auth_node, &ctx.env)? else { return Ok(()) };
    if args.dry_run {
        for id in identities {
            sweep.lines.push(format!("the stored access key of `{id}` ({}), if there is one", ring.describe()));
        }
        for p in saml {
            sweep.lines.push(format!("the stored SAML passwords of `{p}` ({}), if there are any", ring.describe()));
        }
        return Ok(());
    }
    for id in identities {
        for r in realms {
            if crate::session::vault::delete_user_keys(ring.as_ref(), r, id)? {
                sweep.lines.push(format!("the stored access key of `{id}` ({})", ring.describe()));
            }
        }
    }
    for name in saml {
        let username = match res.auth.provider(name).and_then(|p| p.kind.as_ref()) {
            Some(ProviderKind::Saml { username, .. }) => username.as_deref(),
            _ => None,
        };
        for r in realms {
            let gone = crate::session::vault::delete_saml_passwords(ring.as_ref(), r, name, username)?;
            if gone > 0 {
                let what = if gone == 1 { "password".to_string() } else { format!("{gone} passwords") };
                sweep.lines.push(format!("the stored SAML {what} of `{name}` ({})", ring.describe()));
            }
        }
    }
    Ok(())
}

/// `--keychain` without `--force`: a yes on the terminal; without one, refused.
fn keychain_confirmed(ctx: &Ctx) -> Result<bool, Error> {
    let Some(tty) = ctx.prompt() else {
        return Err(Error::usage(
            "--keychain deletes stored access keys, which needs a yes on the terminal, and there is none",
            Some("add --force to delete them without asking".to_string()),
        ));
    };
    let question = "Also delete the access keys and SAML passwords stored in the keyring for the aws/user \
                    identities and aws/saml providers this logout covers? They cannot be recovered; \
                    `tfauth auth user configure` stores new ones.";
    let answer = crate::identity::Prompt::choose(
        &tty,
        question,
        &["no, keep everything".to_string(), "yes, delete them too".to_string()],
    );
    Ok(answer == Some(1))
}

/// The realms under `<config home>/atmos/`: its directories that hold an `aws`, `azure`
/// or `gcp` directory (what Atmos and tfauth write there), sorted. Links are not followed.
fn discover_realms(atmos_dir: &std::path::Path) -> Vec<String> {
    let is_dir = |p: &std::path::Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    let mut out: Vec<String> = std::fs::read_dir(atmos_dir)
        .map(|r| r.flatten().collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|e| is_dir(&e.path()) && ["aws", "azure", "gcp"].iter().any(|c| is_dir(&e.path().join(c))))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    out.sort();
    out
}

/// Removes the cached sessions whose owner `mine` accepts; what was removed, for the report.
fn remove_sessions(
    cache: Option<&crate::session::cache::Cache>,
    mine: impl Fn(&crate::session::cache::Owner) -> bool,
    dry_run: bool,
) -> Vec<String> {
    let Some(cache) = cache else { return vec![] };
    cache
        .entries()
        .into_iter()
        .filter(|(key, owner)| owner.as_ref().is_some_and(&mine) && (dry_run || cache.remove(key)))
        .map(|(key, _)| format!("cached session {key}"))
        .collect()
}

/// The SSO token (file or keyring) and the provisioned identities of provider `name`.
fn logout_provider_token(res: &Resolution, name: &str, ctx: &Ctx, dry_run: bool) -> Result<Vec<String>, Error> {
    let portal = portal_named(res, name)?;
    let store = session::token_store(&portal, &res.scope(&ctx.env), &ctx.env)?;
    let mut out = Vec::new();
    if store.identities_path().exists() {
        out.push(format!("the identities provisioned by `{name}`"));
    }
    if dry_run {
        if store.path().exists() {
            out.push(format!("the IAM Identity Center token of `{name}` (ended at the service too)"));
        }
    } else if store.logout(&portal, &ctx.env)? {
        out.push(format!("the IAM Identity Center token of `{name}`"));
    }
    Ok(out)
}

/// The GCP credentials and gcloud configuration, or the isolated `AZURE_CONFIG_DIR`, that
/// runs of `chain`'s identity wrote under `realm_dir`.
fn remove_cloud_files(realm_dir: &std::path::Path, chain: &crate::identity::Chain, dry_run: bool) -> Vec<String> {
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
        .filter(|(_, d)| d.exists() && (dry_run || std::fs::remove_dir_all(d).is_ok()))
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

fn remove_profile_files(aws_dir: &std::path::Path, identity: &str, dry_run: bool) -> Vec<String> {
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
                let file = dir.join(f);
                let there = if dry_run {
                    std::fs::symlink_metadata(&file).is_ok()
                } else {
                    std::fs::remove_file(&file).is_ok()
                };
                if there {
                    out.push(format!("profile file {}", file.display()));
                }
            }
            if !dry_run {
                let _ = std::fs::remove_dir(&dir);
            }
        }
        if !dry_run {
            let _ = std::fs::remove_dir(&root);
        }
    }
    out
}

#[cfg(test)]
#[path = "logout_tests.rs"]
mod tests;
