//! An IAM Identity Center session: the access token for one portal (start URL + region),
//! shared by every provider that points at it, and the policy for getting one.
//!
//! Why it exists: [`crate::providers::sso`] speaks the wire; this module decides *when* to
//! speak it. In order: a cached access token with life left is used as is; else, holding
//! the portal's lock (so fifty credential helpers started at once make one call, not
//! fifty), the cache is read again, then the refresh token is tried, and only then, if a
//! terminal is there to show a code on, the device flow runs. Without a terminal the
//! answer is [`PortalError::LoginRequired`] (exit 77) at once: a `credential_process`
//! never waits for input that cannot come.
//!
//! A login that fails (denied in the browser, timed out) leaves a marker next to the
//! token, so processes that were waiting on the lock fail with it instead of each
//! starting a device flow of its own.
//!
//! The token is stored where Atmos keeps it, in the AWS SDK's `ssocreds` JSON shape:
//! `$XDG_CACHE_HOME/atmos/aws-sso/sessions/<sha1 of "start_url|region">.json`, 0600 in
//! 0700, whatever the keyring; so one sign-in serves Atmos and tfauth, and every
//! `credential_process` call (a process of its own) finds it. A token an earlier tfauth
//! kept elsewhere moves there the first time it is needed; a valid one the AWS CLI left is
//! used as it is (see [`TokenStore`]).

use crate::env_vars::Env;
use crate::providers::sso::{self, DeviceAuthorization, Endpoints, PollEvent, SsoError, TokenFile};
use crate::secret::Secret;
use crate::session::cache::{self, Cache, CacheError};
use std::path::PathBuf;
use std::time::Duration;
use time::OffsetDateTime;

/// An access token is used while it has more than this left (the AWS SDKs refresh 5
/// minutes before expiry, too).
pub const TOKEN_MARGIN: Duration = Duration::from_secs(5 * 60);
/// How long a process waits for another one's login (a device flow lasts at most the
/// device code's life, 10 minutes at IAM Identity Center).
pub const LOGIN_WAIT: Duration = Duration::from_secs(11 * 60);
/// The client name tfauth registers with SSO-OIDC.
pub const CLIENT_NAME: &str = "tfauth";

/// The portal a provider signs in to.
#[derive(Clone, Debug)]
pub struct PortalRef {
    /// The provider's name, for messages and the login command in hints.
    pub provider: String,
    pub start_url: String,
    pub region: String,
}

/// Why no access token could be had.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error(
        "provider `{provider}` needs an IAM Identity Center login ({start_url}), and there is no terminal to show the code on"
    )]
    LoginRequired { provider: String, start_url: String },
    /// A command that only uses what is cached (`whoami`) found no token it could use or
    /// refresh: not a missing terminal, so not said as one.
    #[error(
        "provider `{provider}` has no IAM Identity Center session ({start_url}) to use or refresh, and this command does not sign in"
    )]
    NotSignedIn { provider: String, start_url: String },
    #[error("the IAM Identity Center login for provider `{provider}` failed in another tfauth process: {reason}")]
    FailedElsewhere { provider: String, reason: String },
    #[error("IAM Identity Center, provider `{provider}`: {source}")]
    Sso {
        provider: String,
        #[source]
        source: SsoError,
    },
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Keyring(#[from] crate::keyring::KeyringError),
    #[error("cannot tell where to cache the IAM Identity Center token: HOME is not set")]
    NoCacheDir,
}

impl PortalError {
    pub fn exit_code(&self) -> i32 {
        match self {
            PortalError::LoginRequired { .. }
            | PortalError::NotSignedIn { .. }
            | PortalError::FailedElsewhere { .. } => crate::exit::NOPERM,
            PortalError::Sso { source, .. } => source.exit_code(),
            PortalError::Cache(CacheError::LockTimeout { .. }) => crate::exit::TEMPFAIL,
            PortalError::Cache(_) => crate::exit::SOFTWARE,
            PortalError::Keyring(e) => e.exit_code(),
            PortalError::NoCacheDir => crate::exit::USAGE,
        }
    }

    pub fn hint(&self) -> Option<String> {
        Some(match self {
            PortalError::LoginRequired { provider, .. } => {
                format!("run `tfauth auth login --provider {provider}` in a terminal, then try again")
            }
            PortalError::NotSignedIn { provider, .. } => {
                format!("sign in with `tfauth auth login --provider {provider}`, then try again")
            }
            PortalError::FailedElsewhere { provider, .. } => {
                format!("run `tfauth auth login --provider {provider}` and approve the code in the browser")
            }
            PortalError::Sso { provider, source } => match source {
                SsoError::SessionExpired { .. }
                | SsoError::RefreshTokenInvalid
                | SsoError::AccessDenied
                | SsoError::LoginTimedOut
                | SsoError::InvalidClient { .. } => {
                    format!("run `tfauth auth login --provider {provider}` and approve the code in the browser")
                }
                other => return other.hint(),
            },
            PortalError::Cache(e) => return e.hint(),
            PortalError::Keyring(e) => return e.hint(),
            PortalError::NoCacheDir => "set HOME or XDG_CACHE_HOME".into(),
        })
    }
}

/// What the device flow shows the user. Implemented on `/dev/tty` by
/// [`crate::cli::tty::LoginPrompt`]; tests record the calls.
pub trait LoginUi {
    /// The code and URL to approve (and, if it may, opens the browser).
    fn begin(&self, portal: &PortalRef, auth: &DeviceAuthorization);
    /// About once a second while waiting: the countdown.
    fn progress(&self, event: PollEvent);
    /// The flow is over (`None`: signed in).
    fn end(&self, failure: Option<&SsoError>);
    /// The same UI for an `aws/user`'s browser sign-in, when it can show one.
    fn webflow(&self) -> Option<&dyn crate::providers::aws_webflow::WebflowUi> {
        None
    }
}

/// How far [`access_token`] may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Cached, refreshed, or a device flow when there is a UI.
    Use,
    /// A device flow even if a token is cached (`auth login --force`).
    Relogin,
    /// Cached or refreshed only; never a device flow (`whoami`).
    NoLogin,
}

/// How the token was had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Obtained {
    Cached,
    Refreshed,
    LoggedIn,
}

/// A usable access token.
#[derive(Debug)]
pub struct PortalSession {
    pub access_token: Secret,
    pub expires_at: OffsetDateTime,
    pub obtained: Obtained,
}

/// Where the portal's token lives: Atmos's session file, in the `ssocreds` JSON shape, so
/// a sign-in by either tool serves both. Its lock, failure marker and provisioned
/// identities are tfauth's, in tfauth's cache (`dir`, named by `hash`). Read, in order:
/// Atmos's file; else the file an earlier tfauth kept (`dir/<hash>.json`) or the keyring
/// it kept it in (`legacy`), each moved to Atmos's file; and, when none of those holds a
/// usable token, a valid one the AWS CLI left, used as it is and never written.
pub struct TokenStore {
    /// The provider it was opened for, for errors.
    provider: String,
    /// Atmos's session file for the portal.
    session: PathBuf,
    dir: PathBuf,
    hash: String,
    legacy: Option<LegacyKeyring>,
    /// `~/.aws/sso/cache`, and the portal to look for in it.
    aws_cli: Option<(PathBuf, String, String)>,
    /// Atmos's `provisioned-identities.yaml` of the provider.
    provisioned: PathBuf,
}

/// Opens the keyring an earlier tfauth may have kept the token in, only when the file has
/// no token (opening a file keyring derives its key; a system keyring is a D-Bus probe).
pub type LegacyKeyring = Box<dyn Fn() -> Option<Box<dyn crate::keyring::Keyring>>>;

impl TokenStore {
    /// The store for `portal` under the cache root; `legacy`, a keyring an earlier tfauth
    /// may have kept its token in.
    pub fn new(env: &Env, portal: &PortalRef, legacy: Option<LegacyKeyring>) -> Option<TokenStore> {
        let root = cache::cache_home(env)?;
        let path = sso::token_cache_path(&root, &portal.start_url, &portal.region);
        let hash = path.file_stem()?.to_string_lossy().into_owned();
        let atmos = crate::util::dirs::atmos_cache_home(env)?;
        let session = sso::atmos_session_path(&atmos, &portal.start_url, &portal.region);
        let aws_cli = env
            .get(crate::env_vars::HOME)
            .map(|h| (PathBuf::from(h).join(".aws/sso/cache"), portal.start_url.clone(), portal.region.clone()));
        let dir = path.parent()?.to_path_buf();
        let provisioned = provisioned_path(&atmos, &portal.provider);
        Some(TokenStore { provider: portal.provider.clone(), session, dir, hash, legacy, aws_cli, provisioned })
    }

    /// The token file: Atmos's session file for the portal.
    pub fn path(&self) -> PathBuf {
        self.session.clone()
    }

    /// Where an earlier tfauth kept the token.
    fn earlier(&self) -> PathBuf {
        self.dir.join(format!("{}.json", self.hash))
    }

    /// The name of the keyring entry an earlier tfauth kept the token in.
    pub fn keyring_key(&self) -> String {
        format!("sso/{}", self.hash)
    }

    fn marker(&self) -> PathBuf {
        self.dir.join(format!("{}.failed", self.hash))
    }

    /// Where the provider's auto-provisioned identities are listed: Atmos's file, so
    /// either tool's login provisions them for both.
    pub fn identities_path(&self) -> PathBuf {
        self.provisioned.clone()
    }

    /// Where an earlier tfauth listed them (read when Atmos's file is missing).
    fn earlier_identities(&self) -> PathBuf {
        self.dir.join(format!("{}.identities.json", self.hash))
    }

    /// The token to use: tfauth's and Atmos's own ([`TokenStore::load_own`]), unless it is
    /// missing or past use and the AWS CLI holds a valid one for the same portal.
    pub fn load(&self) -> Result<Option<TokenFile>, PortalError> {
        let own = self.load_own()?;
        let now = OffsetDateTime::now_utc();
        if own.as_ref().is_some_and(|f| f.access_token_valid(now, TOKEN_MARGIN)) {
            return Ok(own);
        }
        let cli = self
            .aws_cli
            .as_ref()
            .and_then(|(dir, url, region)| sso::aws_cli_token(dir, url, region, now, TOKEN_MARGIN));
        if cli.is_some() {
            tracing::debug!("using the IAM Identity Center token the AWS CLI left for `{}`", self.provider);
            return Ok(cli);
        }
        Ok(own)
    }

    /// The token in Atmos's session file, or one an earlier tfauth kept, moved there.
    pub fn load_own(&self) -> Result<Option<TokenFile>, PortalError> {
        let read = |path: &std::path::Path| {
            TokenFile::load(path).map_err(|source| PortalError::Sso { provider: self.provider.clone(), source })
        };
        // Atmos writes this file too: one that does not parse (a version of either tool
        // writing what the other cannot read) means a sign-in, which replaces it. One that
        // cannot be trusted (another owner, a link) is still an error.
        match TokenFile::load(&self.path()) {
            Ok(Some(f)) => return Ok(Some(f)),
            Ok(None) => {}
            Err(SsoError::TokenFileInvalid { path, reason }) => {
                tracing::warn!("ignoring the IAM Identity Center session in {}: {reason}", path.display());
                return Ok(None);
            }
            Err(source) => return Err(PortalError::Sso { provider: self.provider.clone(), source }),
        }
        if let Some(f) = read(&self.earlier())? {
            self.save(&f)?;
            let _ = std::fs::remove_file(self.earlier());
            tracing::info!("moved the IAM Identity Center token of `{}` to {}", self.provider, self.path().display());
            return Ok(Some(f));
        }
        self.migrate()
    }

    /// A token an earlier tfauth kept in the keyring, moved into the file: written there
    /// (0600, atomically), then removed from the keyring. Best effort: a keyring that
    /// cannot be read, or an entry that does not parse, is as good as none (sign in again).
    fn migrate(&self) -> Result<Option<TokenFile>, PortalError> {
        let Some(k) = self.legacy.as_ref().and_then(|open| open()) else { return Ok(None) };
        let doc = match k.get(&self.keyring_key()) {
            Ok(Some(doc)) => doc,
            Ok(None) => return Ok(None),
            Err(e) => {
                tracing::debug!("not looking for an earlier IAM Identity Center token in the keyring: {e}");
                return Ok(None);
            }
        };
        let Ok(file) = TokenFile::from_json(doc.expose()) else {
            let _ = k.delete(&self.keyring_key());
            return Ok(None);
        };
        self.save(&file)?;
        if let Err(e) = k.delete(&self.keyring_key()) {
            tracing::debug!("the earlier IAM Identity Center token stays in the keyring too: {e}");
        }
        tracing::info!(
            "moved the IAM Identity Center token of `{}` from the keyring to {}",
            self.provider,
            self.path().display()
        );
        Ok(Some(file))
    }

    pub fn save(&self, file: &TokenFile) -> Result<(), PortalError> {
        file.save(&self.path()).map_err(|source| PortalError::Sso { provider: self.provider.clone(), source })
    }

    /// Marks the access token expired (the service rejected it before its time, e.g. after
    /// a sign-out elsewhere), keeping the refresh token, so the next use refreshes.
    pub fn expire(&self) -> Result<(), PortalError> {
        if let Some(mut f) = self.load_own()? {
            f.expires_at = OffsetDateTime::now_utc() - Duration::from_secs(1);
            self.save(&f)?;
        }
        Ok(())
    }

    /// Ends the session at the service (best effort: a service that cannot be reached is
    /// reported, and the local copy goes anyway), then removes it here. True if a token was
    /// there.
    pub fn logout(&self, portal: &PortalRef, env: &Env) -> Result<bool, PortalError> {
        // Only the session tfauth and Atmos share is ended: the AWS CLI's is its own.
        if let Some(f) = self.load_own()?
            && f.access_token_valid(OffsetDateTime::now_utc(), Duration::ZERO)
        {
            let revoked = Endpoints::from_env(env, &portal.region).and_then(|ep| sso::logout(&ep, &f.access_token));
            if let Err(e) = revoked {
                tracing::warn!(
                    "could not end the IAM Identity Center session of `{}` at the service: {e}",
                    portal.provider
                );
            }
        }
        self.remove()
    }

    /// Removes the token, the failure marker and the provisioned identities; true if a
    /// token was there.
    pub fn remove(&self) -> Result<bool, PortalError> {
        let mut had = std::fs::remove_file(self.path()).is_ok();
        had |= std::fs::remove_file(self.earlier()).is_ok();
        if let Some(k) = self.legacy.as_ref().and_then(|open| open()) {
            had |= k.delete(&self.keyring_key()).unwrap_or(false);
        }
        let _ = std::fs::remove_file(self.marker());
        let _ = std::fs::remove_file(self.identities_path());
        let _ = std::fs::remove_file(self.earlier_identities());
        Ok(had)
    }

    fn lock(&self, wait: Duration) -> Result<cache::LockGuard, CacheError> {
        Cache::at(self.dir.clone()).lock(&self.hash, wait)
    }
}

/// An access token for `portal`: cached, refreshed, or (with a UI, in [`Mode::Use`] or
/// [`Mode::Relogin`]) from a device flow. Single flight across processes.
pub fn access_token(
    portal: &PortalRef,
    store: &TokenStore,
    env: &Env,
    ui: Option<&dyn LoginUi>,
    mode: Mode,
) -> Result<PortalSession, PortalError> {
    let sso_err = |source| PortalError::Sso { provider: portal.provider.clone(), source };
    let usable = |f: &TokenFile| {
        f.is_for(&portal.start_url, &portal.region) && f.access_token_valid(OffsetDateTime::now_utc(), TOKEN_MARGIN)
    };
    let cached = |f: TokenFile| PortalSession {
        access_token: f.access_token,
        expires_at: f.expires_at,
        obtained: Obtained::Cached,
    };
    let first = store.load()?;
    if mode != Mode::Relogin
        && let Some(f) = first.clone().filter(usable)
    {
        return Ok(cached(f));
    }
    // Nothing to refresh with and no one to show a code to: say so now, without taking
    // the lock or creating anything on disk.
    let can_refresh = first.as_ref().is_some_and(|f| {
        f.is_for(&portal.start_url, &portal.region)
            && f.refresh_token.is_some()
            && f.registration_valid(OffsetDateTime::now_utc())
    });
    let can_login = ui.is_some() && mode != Mode::NoLogin;
    if mode == Mode::NoLogin && !can_refresh {
        return Err(PortalError::NotSignedIn {
            provider: portal.provider.clone(),
            start_url: portal.start_url.clone(),
        });
    }
    if !can_login && (!can_refresh || mode == Mode::Relogin) {
        return Err(PortalError::LoginRequired {
            provider: portal.provider.clone(),
            start_url: portal.start_url.clone(),
        });
    }
    let waiting_since = began();
    let _lock = store.lock(LOGIN_WAIT)?;
    let current = store.load()?.filter(|f| f.is_for(&portal.start_url, &portal.region));
    // Another process may have logged in (or refreshed) while this one waited.
    let fresh_from_others = mode != Mode::Relogin || changed_since(store, waiting_since);
    if let Some(f) = current.clone().filter(usable)
        && fresh_from_others
    {
        return Ok(cached(f));
    }
    if let Some(reason) = failed_since(store, waiting_since) {
        return Err(PortalError::FailedElsewhere { provider: portal.provider.clone(), reason });
    }
    let ep = Endpoints::from_env(env, &portal.region).map_err(sso_err)?;
    let now = OffsetDateTime::now_utc();
    let registration = current.as_ref().filter(|f| f.registration_valid(now)).and_then(TokenFile::registration);
    if mode != Mode::Relogin
        && let (Some(reg), Some(refresh)) = (&registration, current.as_ref().and_then(|f| f.refresh_token.clone()))
    {
        match sso::refresh(&ep, reg, &refresh) {
            Ok(token) => {
                let file = TokenFile::new(&portal.start_url, &portal.region, &token, Some(reg));
                store.save(&file)?;
                tracing::debug!(provider = %portal.provider, "refreshed the IAM Identity Center token");
                return Ok(PortalSession {
                    access_token: token.access_token,
                    expires_at: token.expires_at,
                    obtained: Obtained::Refreshed,
                });
            }
            Err(SsoError::RefreshTokenInvalid | SsoError::InvalidClient { .. }) => {
                tracing::debug!(provider = %portal.provider, "the refresh token is no longer valid");
            }
            Err(e) => return Err(sso_err(e)),
        }
    }
    let ui = match (ui, mode) {
        (Some(ui), Mode::Use | Mode::Relogin) => ui,
        (_, Mode::NoLogin) => {
            return Err(PortalError::NotSignedIn {
                provider: portal.provider.clone(),
                start_url: portal.start_url.clone(),
            });
        }
        _ => {
            return Err(PortalError::LoginRequired {
                provider: portal.provider.clone(),
                start_url: portal.start_url.clone(),
            });
        }
    };
    let result = device_flow(portal, &ep, registration, ui);
    match result {
        Ok(file) => {
            store.save(&file)?;
            let _ = std::fs::remove_file(store.marker());
            Ok(PortalSession {
                access_token: file.access_token,
                expires_at: file.expires_at,
                obtained: Obtained::LoggedIn,
            })
        }
        Err(e) => {
            let _ = crate::util::fs::write_private_cache(&store.marker(), e.to_string().as_bytes());
            Err(sso_err(e))
        }
    }
}

/// Registers a client if there is no valid registration, then the device flow.
fn device_flow(
    portal: &PortalRef,
    ep: &Endpoints,
    registration: Option<sso::ClientRegistration>,
    ui: &dyn LoginUi,
) -> Result<TokenFile, SsoError> {
    let reg = match registration {
        Some(r) => r,
        None => sso::register_client(ep, CLIENT_NAME)?,
    };
    let auth = match sso::start_device_authorization(ep, &reg, &portal.start_url) {
        // A registration the service forgot: register again, once.
        Err(SsoError::InvalidClient { .. }) => {
            let fresh = sso::register_client(ep, CLIENT_NAME)?;
            return device_flow(portal, ep, Some(fresh), ui);
        }
        other => other?,
    };
    ui.begin(portal, &auth);
    let outcome = sso::poll_for_token(ep, &reg, &auth, &mut |ev| ui.progress(ev));
    ui.end(outcome.as_ref().err());
    let token = outcome?;
    Ok(TokenFile::new(&portal.start_url, &portal.region, &token, Some(&reg)))
}

/// When this process began wanting credentials (the first call; see [`begin`]). A login
/// that failed in another process after this moment is this process's answer too.
fn began() -> std::time::SystemTime {
    *BEGAN.get_or_init(std::time::SystemTime::now)
}

static BEGAN: std::sync::OnceLock<std::time::SystemTime> = std::sync::OnceLock::new();

/// Notes that this process now wants credentials, before it waits for any lock (a helper
/// queued behind another helper of the same identity must still see that one's failed
/// login as its own).
pub fn begin() {
    began();
}

fn modified(path: &std::path::Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Whether the token was written after `since` (by another process, while this one waited).
fn changed_since(store: &TokenStore, since: std::time::SystemTime) -> bool {
    modified(&store.path()).is_some_and(|m| m >= since)
}

/// The reason a login failed in another process after `since`, if one did.
fn failed_since(store: &TokenStore, since: std::time::SystemTime) -> Option<String> {
    let m = modified(&store.marker())?;
    if m < since {
        return None;
    }
    let bytes = crate::util::fs::read_private(&store.marker(), crate::session::cache::ENTRY_CAP).ok()??;
    Some(String::from_utf8_lossy(&bytes).trim().to_string())
}

/// An identity made from an account assignment (`auto_provision_identities: true`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Provisioned {
    /// `ACCOUNT-NAME/PERMISSION-SET`.
    pub name: String,
    pub account_id: String,
    pub account_name: String,
    pub permission_set: String,
}

/// How an earlier tfauth listed provisioned identities (JSON beside its token).
#[derive(serde::Deserialize)]
struct EarlierProvisioned {
    identities: Vec<Provisioned>,
}

/// `<atmos cache>/auth/<provider>/provisioned-identities.yaml`, Atmos's file for the
/// provider's auto-provisioned identities (`pkg/auth/provisioning`). The provider's name is
/// one path element: blanks trimmed, `/` and `\` written `_`, as Atmos writes it.
pub fn provisioned_path(atmos_cache: &std::path::Path, provider: &str) -> PathBuf {
    let mut name = provider.trim().replace(['/', '\\'], "_");
    if name.is_empty() || name == "." || name == ".." {
        name = format!("_{name}");
    }
    atmos_cache.join("auth").join(name).join("provisioned-identities.yaml")
}

/// Lists every account (all pages) and every permission set in each, and stores them as
/// identities for the provider, in Atmos's file and shape (an `auth:` section of
/// `aws/permission-set` identities named `ACCOUNT/ROLE`, and `_metadata`), written by the
/// YAML emitter, never by hand. Returns them, sorted by name.
pub fn provision(
    portal: &PortalRef,
    store: &TokenStore,
    env: &Env,
    token: &Secret,
) -> Result<Vec<Provisioned>, PortalError> {
    let sso_err = |source| PortalError::Sso { provider: portal.provider.clone(), source };
    let ep = Endpoints::from_env(env, &portal.region).map_err(sso_err)?;
    let mut out = Vec::new();
    let accounts = sso::list_accounts(&ep, token).map_err(sso_err)?;
    for account in &accounts {
        let label = if account.name.is_empty() { account.id.clone() } else { account.name.clone() };
        for role in sso::list_account_roles(&ep, token, &account.id).map_err(sso_err)? {
            out.push(Provisioned {
                name: format!("{label}/{role}"),
                account_id: account.id.clone(),
                account_name: account.name.clone(),
                permission_set: role,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name.eq_ignore_ascii_case(&b.name));
    let p = &portal.provider;
    let identities: serde_json::Map<String, serde_json::Value> = out
        .iter()
        .map(|i| {
            let mut account = serde_json::json!({"id": i.account_id});
            if !i.account_name.is_empty() {
                account["name"] = i.account_name.clone().into();
            }
            let id = serde_json::json!({
                "kind": "aws/permission-set",
                "provider": p,
                "via": {"provider": p},
                "principal": {"name": i.permission_set, "account": account},
            });
            (i.name.clone(), id)
        })
        .collect();
    let doc = serde_json::json!({"auth": {
        "identities": identities,
        "_metadata": {
            "provisioned_at": crate::session::cache::format_utc(OffsetDateTime::now_utc()),
            "source": p,
            "provider": p,
            "counts": {"accounts": accounts.len(), "roles": out.len(), "identities": out.len()},
        },
    }});
    let text = crate::yaml::emit::json_to_yaml_string(&doc);
    let path = store.identities_path();
    crate::util::fs::write_private_atomic(&path, text.as_bytes())
        .map_err(|source| CacheError::Io { dir: path.parent().map(PathBuf::from).unwrap_or_default(), source })?;
    let _ = std::fs::remove_file(store.earlier_identities());
    Ok(out)
}

/// The identities in Atmos's `provisioned-identities.yaml` at `path` that are this
/// provider's permission sets. Read as data: no YAML function runs, whatever the file says.
fn read_provisioned(path: &std::path::Path, provider: &str) -> Option<Vec<Provisioned>> {
    let text = match crate::util::fs::read_private(path, crate::util::fs::READ_CAP) {
        Ok(Some(text)) => String::from_utf8_lossy(&text).into_owned(),
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!("ignoring provisioned identities in {}: {e}", path.display());
            return None;
        }
    };
    let ctx = crate::yaml::LoadContext::default();
    let doc = match crate::yaml::Loader::new(&ctx).load_str(&text, path) {
        Ok(doc) => doc,
        Err(e) => {
            tracing::warn!("ignoring provisioned identities: {e}");
            return None;
        }
    };
    let ids = doc.get("auth").and_then(|a| a.get("identities")).and_then(crate::yaml::Node::as_map)?;
    let s = |n: &crate::yaml::Node, path: &[&str]| {
        path.iter().try_fold(n, |n, k| n.get(k)).and_then(crate::yaml::Node::as_str).map(str::to_string)
    };
    let mut out = Vec::new();
    for (name, id) in ids.iter() {
        let via = s(id, &["via", "provider"]).or_else(|| s(id, &["provider"]));
        if s(id, &["kind"]).as_deref() != Some("aws/permission-set") || via.as_deref() != Some(provider) {
            continue;
        }
        let (Some(role), Some(account_id)) = (s(id, &["principal", "name"]), s(id, &["principal", "account", "id"]))
        else {
            continue;
        };
        let account_name = s(id, &["principal", "account", "name"]).unwrap_or_default();
        out.push(Provisioned { name: name.clone(), account_id, account_name, permission_set: role });
    }
    Some(out)
}

/// Adds the identities provisioned for each IAM Identity Center provider to `auth` (from
/// Atmos's file, else an earlier tfauth's), except names the configuration defines itself
/// (which always win, as Atmos imports the file before the configuration). Reads one small
/// file per provider; no network.
pub fn add_provisioned(auth: &mut crate::auth::AuthConfig, env: &Env) {
    use crate::auth::{Identity, IdentityKind, ProviderKind, Via, schema::AccountRef};
    let mut extra: Vec<Identity> = Vec::new();
    for p in &auth.providers {
        let Some(ProviderKind::IamIdentityCenter { start_url, region, .. }) = &p.kind else {
            continue;
        };
        let portal = PortalRef { provider: p.name.clone(), start_url: start_url.clone(), region: region.clone() };
        let Some(store) = TokenStore::new(env, &portal, None) else { continue };
        let (path, found) = match read_provisioned(&store.identities_path(), &p.name) {
            Some(found) => (store.identities_path(), found),
            None => {
                let path = store.earlier_identities();
                let Ok(Some(text)) = crate::util::fs::read_private(&path, crate::util::fs::READ_CAP) else { continue };
                let Ok(doc) = serde_json::from_slice::<EarlierProvisioned>(&text) else {
                    tracing::warn!("ignoring {}: not a list of provisioned identities", path.display());
                    continue;
                };
                (path, doc.identities)
            }
        };
        let span = crate::yaml::Span::new(std::sync::Arc::from(path.as_path()), 1, 1);
        for i in found {
            let taken = auth.identities.iter().chain(&extra).any(|d| d.name.eq_ignore_ascii_case(&i.name));
            if taken {
                continue;
            }
            extra.push(Identity {
                required: false,
                name: i.name,
                kind_name: "aws/permission-set".into(),
                kind: Some(IdentityKind::PermissionSet {
                    permission_set: i.permission_set,
                    account: AccountRef::Id(i.account_id),
                }),
                via: Some(Via::Provider(p.name.clone(), span.clone())),
                default: false,
                default_span: None,
                region: None,
                env: Vec::new(),
                extra: Default::default(),
                span: span.clone(),
            });
        }
    }
    auth.identities.extend(extra);
}

#[cfg(test)]
#[path = "portal_tests.rs"]
mod tests;
