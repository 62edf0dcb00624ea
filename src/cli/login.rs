//! `tfauth auth login`, `whoami`, `logout` and `user configure`: a person's session, as
//! opposed to a run's (`auth login` then runs the identity's integrations). Messages go to stderr; `whoami` prints its answer on stdout (a
//! table, or JSON with `-o json`), so it can be piped.

use super::{Ctx, Target};
use crate::auth::ProviderKind;
use crate::error::Error;
use crate::identity::Selection;
use crate::portal::{self, Mode, PortalRef};
use crate::resolve::{Resolution, resolve};
use crate::session::{self, Interaction};
use clap::Args;
use time::OffsetDateTime;

#[derive(Args, Debug)]
pub struct LoginArgs {
    #[command(flatten)]
    pub target: Target,
    /// Sign in to this provider (IAM Identity Center) without choosing an identity.
    #[arg(long, conflicts_with = "identity")]
    pub provider: Option<String>,
    /// Sign in again even if the session is still valid.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct WhoamiArgs {
    #[command(flatten)]
    pub target: Target,
    /// table or json.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    pub output: WhoamiFormat,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum WhoamiFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
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

#[derive(Args, Debug)]
pub struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum UserCommand {
    /// Store an aws/user identity's access key in the keyring (asked on the terminal, or
    /// read as two lines from stdin when it is not a terminal).
    Configure {
        #[command(flatten)]
        target: Target,
    },
}

// ---------------------------------------------------------------------------------------
// login

pub fn login(args: LoginArgs, ctx: &Ctx) -> Result<i32, Error> {
    let res = resolve_for(&args.target, ctx, args.provider.is_some())?;
    let prompt = crate::tty::LoginPrompt::new(&ctx.env, ctx.no_browser);
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
        let store = session::token_store(&portal, &res, &ctx.env)?;
        let s = portal::access_token(&portal, &store, &ctx.env, prompt.as_ref().map(|p| p as _), mode)?;
        match s.obtained {
            portal::Obtained::Cached => eprintln!(
                "Already signed in to `{name}` until {} (`--force` signs in again).",
                crate::cache::format_utc(s.expires_at)
            ),
            _ => eprintln!("Signed in to `{name}` until {}.", crate::cache::format_utc(s.expires_at)),
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
            crate::providers::azure::forget(chain, &ctx.env);
        }
        let plan = res.env_plan(&ctx.env, &ctx.helper_path(), &ctx.profiles)?;
        let plan = super::authenticate(&res, plan, name, false, ctx)?;
        eprintln!("Logged in as `{name}` ({}); {} file(s) written.", chain.describe(), plan.files.len());
        return Ok(0);
    }
    if args.force {
        if let Some(p) = session::portal_of(chain) {
            let s = session::portal_token(&p, &res, &ctx.env, ask(&prompt, Mode::Relogin))?;
            eprintln!("Signed in to `{}` until {}.", p.provider, crate::cache::format_utc(s.expires_at));
        }
        if let Some(cache) = crate::cache::Cache::new(&ctx.env, "aws") {
            cache.remove(&session::key(&res, chain));
        }
    }
    let tty = ctx.prompt();
    let interaction = Interaction { mfa: tty.as_ref().map(|t| t as _), ..ask(&prompt, Mode::Use) };
    let s = session::obtain(&res, &ctx.env, interaction)?;
    eprintln!(
        "Logged in as `{name}` ({}); credentials valid until {}.",
        chain.describe(),
        s.credentials.expiration.map_or_else(|| "revoked".to_string(), crate::cache::format_utc)
    );
    // Integrations never fail the login: each failure is a warning with its retry command.
    super::ecr_login::after_login(&res, name, ctx, interaction);
    Ok(0)
}

fn ask(prompt: &Option<crate::tty::LoginPrompt>, mode: Mode) -> Interaction<'_> {
    Interaction { mfa: None, login: prompt.as_ref().map(|p| p as _), mode }
}

/// Resolves the target; with `--provider`, the identity is not needed (and not asked for).
fn resolve_for(target: &Target, ctx: &Ctx, by_provider: bool) -> Result<Resolution, Error> {
    let mut req = ctx.request(target);
    if by_provider && target.identity.is_none() {
        req.identity = crate::identity::IdentityFlag::Named("false".into());
    }
    let prompt = ctx.prompt();
    let res = match resolve(&req, &ctx.env, prompt.as_ref().map(|p| p as _)) {
        // No default identity: `auth login` may still sign in to the only SSO provider.
        Err(Error::Auth(crate::auth::AuthError::NoDefault { .. })) if target.identity.is_none() => {
            req.identity = crate::identity::IdentityFlag::Named("false".into());
            resolve(&req, &ctx.env, None)?
        }
        other => other?,
    };
    super::warn_problems(&res.warnings);
    Ok(res)
}

fn sso_providers(res: &Resolution) -> Vec<String> {
    res.auth
        .providers
        .iter()
        .filter(|p| matches!(p.kind, Some(ProviderKind::IamIdentityCenter { .. })))
        .map(|p| p.name.clone())
        .collect()
}

fn auto_provisions(res: &Resolution, provider: &str) -> bool {
    matches!(
        res.auth.provider(provider).and_then(|p| p.kind.as_ref()),
        Some(ProviderKind::IamIdentityCenter { auto_provision: true, .. })
    )
}

/// The portal of the IAM Identity Center provider called `name`.
fn portal_named(res: &Resolution, name: &str) -> Result<PortalRef, Error> {
    let Some(p) = res.auth.provider(name) else {
        let names: Vec<&str> = res.auth.providers.iter().map(|p| p.name.as_str()).collect();
        let hint = match crate::suggest::nearest(name, names.iter().copied()).first() {
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

// ---------------------------------------------------------------------------------------
// whoami

pub fn whoami(args: WhoamiArgs, ctx: &Ctx) -> Result<i32, Error> {
    let res = resolve_for(&args.target, ctx, false)?;
    let Selection::Identity { name, .. } = &res.selection else {
        return Err(Error::usage(
            "no identity: auth is disabled or none is configured",
            Some("pass --identity NAME".to_string()),
        ));
    };
    let chain = res.chain.as_ref().expect("an identity has a chain");
    if chain.leaf().cloud() != Some(crate::auth::Cloud::Aws) {
        return whoami_elsewhere(&res, chain, name, args.output, ctx);
    }
    // whoami never starts a login: it reports the session there is.
    let s = session::obtain(&res, &ctx.env, Interaction { mode: Mode::NoLogin, ..Interaction::NONE })?;
    let region = crate::output::env::aws_region(
        chain,
        res.component.as_ref().and_then(|c| c.vars.get("region")).and_then(crate::yaml::Node::as_str),
    );
    let who = crate::providers::aws::caller_identity(name, &s.credentials, &ctx.env, region.clone())?;
    let provider = match &chain.root {
        crate::identity::ChainRoot::Provider(p) => Some(p.name.clone()),
        crate::identity::ChainRoot::Standalone => None,
    };
    let expiration = s.credentials.expiration.map(crate::cache::format_utc);
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
                format!("{} ({mins}m left)", crate::cache::format_utc(e))
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
    let mut plan = res.env_plan(&ctx.env, &ctx.helper_path(), &ctx.profiles)?;
    let cloud = chain.leaf().cloud();
    let scope = crate::output::azure::scope(chain);
    let is_cli = matches!(
        &chain.root,
        crate::identity::ChainRoot::Provider(p) if matches!(p.kind, Some(ProviderKind::AzureCli { .. }))
    );
    let principal = match cloud {
        Some(Cloud::Gcp) => crate::providers::gcp::materialize(chain, &mut plan, &ctx.env, true)?,
        Some(Cloud::Azure) if is_cli => {
            Some(crate::providers::azure::az_account(name, &ctx.env, scope.subscription_id.as_deref())?)
        }
        Some(Cloud::Azure) => crate::providers::azure::materialize(
            chain,
            &mut plan,
            &ctx.env,
            None,
            crate::providers::azure::Mode::Use,
            true,
        )?,
        _ => None,
    };
    let Some(mut principal) = principal else {
        return Err(Error::NotYet {
            message: format!("`whoami` cannot ask {} who `{name}` is yet", chain.leaf().kind_name),
            hint: None,
        });
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
            doc["expiration"] = serde_json::json!(principal.expires.map(crate::cache::format_utc));
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
                format!("{} ({mins}m left; the libraries renew it)", crate::cache::format_utc(e))
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

// ---------------------------------------------------------------------------------------
// logout

pub fn logout(args: LogoutArgs, ctx: &Ctx) -> Result<i32, Error> {
    let target = Target { component: args.component.clone(), stack: args.stack.clone(), identity: None };
    let identity_given = args.name.clone();
    let t = Target { identity: identity_given.clone().or_else(|| Some("false".into())), ..target.clone() };
    let mut res = resolve_for(&t, ctx, false)?;
    let realm = res.realm(&ctx.env);
    let mut removed: Vec<String> = Vec::new();
    let cache = crate::cache::Cache::new(&ctx.env, "aws");
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
            if crate::providers::azure::forget_provider(p, &ctx.env) {
                removed.push(format!("the Entra ID sign-in of `{}` (cached tokens)", p.name));
            }
        }
        if let Some(ring) = crate::vault::open(&res.auth_node, &ctx.env)? {
            for id in res.auth.identities.iter().filter(|i| i.kind_name == "aws/user") {
                if ring.delete(&crate::vault::user_key(&realm, &id.name))? {
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
        if let Some(p) = res.auth.provider(provider)
            && crate::providers::azure::forget_provider(p, &ctx.env)
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
        if let Some(dir) = &realm_dir {
            removed.extend(remove_profile_files(&dir.join("aws"), &id.name));
            if let Some(chain) = &chain {
                removed.extend(remove_cloud_files(dir, chain));
            }
        }
        if id.kind_name == "aws/user"
            && let Some(ring) = crate::vault::open(&res.auth_node, &ctx.env)?
            && ring.delete(&crate::vault::user_key(&realm, &id.name))?
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
fn remove_sessions(cache: Option<&crate::cache::Cache>, mine: impl Fn(&crate::cache::Owner) -> bool) -> Vec<String> {
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
    let store = session::token_store(&portal, res, &ctx.env)?;
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
        dirs.push(("AZURE_CONFIG_DIR", crate::output::azure::config_dir(realm_dir, &p.name, &chain.leaf().name)));
    }
    dirs.into_iter()
        .filter(|(_, d)| d.exists() && std::fs::remove_dir_all(d).is_ok())
        .map(|(what, d)| format!("{what} {}", d.display()))
        .collect()
}

/// The isolated profile files whose profile is `identity`: `aws_dir/<root>/<h>/` (one
/// directory per distinct set of files, see [`crate::output::env`]), and `aws_dir/<root>/`
/// as earlier versions wrote them. Never through a symlink.
fn remove_profile_files(aws_dir: &std::path::Path, identity: &str) -> Vec<String> {
    let mut out = Vec::new();
    let header = format!("[profile {identity}]");
    let is_dir = |p: &std::path::Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    let subdirs = |d: &std::path::Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(d).map(|r| r.flatten().map(|e| e.path()).filter(|p| is_dir(p)).collect()).unwrap_or_default()
    };
    for root in subdirs(aws_dir) {
        for dir in std::iter::once(root.clone()).chain(subdirs(&root)) {
            let mine = crate::fsutil::read_private(&dir.join("config"), crate::cache::ENTRY_CAP)
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

// ---------------------------------------------------------------------------------------
// user configure

pub fn user(args: UserArgs, ctx: &Ctx) -> Result<i32, Error> {
    let UserCommand::Configure { target } = args.command;
    let res = resolve_for(&target, ctx, false)?;
    let Selection::Identity { name, .. } = &res.selection else {
        return Err(Error::usage(
            "no identity chosen",
            Some("pass --identity NAME of an aws/user identity".to_string()),
        ));
    };
    let Some(id) = res.auth.identity(name) else { unreachable!("a selected identity is defined") };
    if id.kind_name != "aws/user" {
        return Err(Error::usage(
            format!("identity `{name}` is {}, not aws/user: it has no access key to store", id.kind_name),
            Some("pass --identity with an aws/user identity".to_string()),
        ));
    }
    let Some(spec) = crate::keyring::spec(&res.auth_node, &ctx.env)? else {
        return Err(Error::usage(
            "no keyring is configured to store the access key in",
            Some(
                "set `auth.keyring.type` (system, or file with ATMOS_KEYRING_PASSWORD), or ATMOS_KEYRING_TYPE"
                    .to_string(),
            ),
        ));
    };
    // Storing keys is never silently downgraded to a plain file.
    let ring = crate::keyring::open(&spec, &ctx.env)?;
    let (key_id, secret) = crate::tty::read_access_key(&ctx.env).map_err(|m| {
        Error::usage(
            m,
            Some("run it in a terminal, or pipe two lines: the access key id, then the secret access key".to_string()),
        )
    })?;
    let realm = res.realm(&ctx.env);
    ring.set(&crate::vault::user_key(&realm, name), &crate::vault::encode_user_keys(&key_id, &secret))?;
    // A session made from the old key is no longer wanted.
    if let (Some(cache), Some(chain)) = (crate::cache::Cache::new(&ctx.env, "aws"), res.chain.as_ref()) {
        cache.remove(&session::key(&res, chain));
    }
    let shown = format!("{}...{}", &key_id[..4.min(key_id.len())], &key_id[key_id.len().saturating_sub(4)..]);
    eprintln!("Stored access key {shown} for `{name}` in the {}.", ring.describe());
    Ok(0)
}
