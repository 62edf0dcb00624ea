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
//! The token is stored in the AWS SDK's `ssocreds` JSON shape, in a 0600 file under the
//! cache directory, or in the keyring when one is configured (see [`TokenStore`]).

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
            PortalError::LoginRequired { .. } | PortalError::FailedElsewhere { .. } => crate::exit::NOPERM,
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

/// Where the portal's token lives: the `ssocreds` JSON file, or a keyring entry holding
/// the same document. The lock and the failure marker are files either way.
pub struct TokenStore {
    /// The provider it was opened for, for errors.
    provider: String,
    dir: PathBuf,
    hash: String,
    keyring: Option<Box<dyn crate::keyring::Keyring>>,
}

impl TokenStore {
    /// The store for `portal` under the cache root, in `keyring` when given.
    pub fn new(env: &Env, portal: &PortalRef, keyring: Option<Box<dyn crate::keyring::Keyring>>) -> Option<TokenStore> {
        let root = cache::cache_home(env)?;
        let path = sso::token_cache_path(&root, &portal.start_url, &portal.region);
        let hash = path.file_stem()?.to_string_lossy().into_owned();
        Some(TokenStore { provider: portal.provider.clone(), dir: path.parent()?.to_path_buf(), hash, keyring })
    }

    /// The token file (used when no keyring is configured).
    pub fn path(&self) -> PathBuf {
        self.dir.join(format!("{}.json", self.hash))
    }

    /// The keyring entry's name.
    pub fn keyring_key(&self) -> String {
        format!("sso/{}", self.hash)
    }

    fn marker(&self) -> PathBuf {
        self.dir.join(format!("{}.failed", self.hash))
    }

    /// Where auto-provisioned identities for this portal are listed.
    pub fn identities_path(&self) -> PathBuf {
        self.dir.join(format!("{}.identities.json", self.hash))
    }

    pub fn load(&self) -> Result<Option<TokenFile>, PortalError> {
        match &self.keyring {
            None => TokenFile::load(&self.path())
                .map_err(|source| PortalError::Sso { provider: self.provider.clone(), source }),
            Some(k) => match k.get(&self.keyring_key())? {
                // A keyring entry that does not parse is as good as none: log in again.
                Some(doc) => Ok(TokenFile::from_json(doc.expose()).ok()),
                None => Ok(None),
            },
        }
    }

    pub fn save(&self, file: &TokenFile) -> Result<(), PortalError> {
        match &self.keyring {
            None => {
                file.save(&self.path()).map_err(|source| PortalError::Sso { provider: self.provider.clone(), source })
            }
            Some(k) => Ok(k.set(&self.keyring_key(), &Secret::new(file.to_json()))?),
        }
    }

    /// Marks the access token expired (the service rejected it before its time, e.g. after
    /// a sign-out elsewhere), keeping the refresh token, so the next use refreshes.
    pub fn expire(&self) -> Result<(), PortalError> {
        if let Some(mut f) = self.load()? {
            f.expires_at = OffsetDateTime::now_utc() - Duration::from_secs(1);
            self.save(&f)?;
        }
        Ok(())
    }

    /// Ends the session at the service (best effort: a service that cannot be reached is
    /// reported, and the local copy goes anyway), then removes it here. True if a token was
    /// there.
    pub fn logout(&self, portal: &PortalRef, env: &Env) -> Result<bool, PortalError> {
        if let Some(f) = self.load()?
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
        let had = match &self.keyring {
            None => std::fs::remove_file(self.path()).is_ok(),
            Some(k) => k.delete(&self.keyring_key())?,
        };
        let _ = std::fs::remove_file(self.marker());
        let _ = std::fs::remove_file(self.identities_path());
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
    store.keyring.is_none() && modified(&store.path()).is_some_and(|m| m >= since)
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

#[derive(serde::Serialize, serde::Deserialize)]
struct ProvisionedFile {
    start_url: String,
    region: String,
    written_at: String,
    identities: Vec<Provisioned>,
}

/// Lists every account (all pages) and every permission set in each, and stores them as
/// identities for the portal. Returns them, sorted by name.
pub fn provision(
    portal: &PortalRef,
    store: &TokenStore,
    env: &Env,
    token: &Secret,
) -> Result<Vec<Provisioned>, PortalError> {
    let sso_err = |source| PortalError::Sso { provider: portal.provider.clone(), source };
    let ep = Endpoints::from_env(env, &portal.region).map_err(sso_err)?;
    let mut out = Vec::new();
    for account in sso::list_accounts(&ep, token).map_err(sso_err)? {
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
    let doc = ProvisionedFile {
        start_url: portal.start_url.clone(),
        region: portal.region.clone(),
        written_at: crate::session::cache::format_utc(OffsetDateTime::now_utc()),
        identities: out.clone(),
    };
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    crate::util::fs::write_private_atomic(&store.identities_path(), text.as_bytes())
        .map_err(|source| CacheError::Io { dir: store.dir.clone(), source })?;
    Ok(out)
}

/// Adds the identities provisioned for each `auto_provision_identities` provider to
/// `auth`, except names the configuration defines itself (which always win). Reads one
/// small file per such provider; no network.
pub fn add_provisioned(auth: &mut crate::auth::AuthConfig, env: &Env) {
    use crate::auth::{Identity, IdentityKind, ProviderKind, Via, schema::AccountRef};
    let mut extra: Vec<Identity> = Vec::new();
    for p in &auth.providers {
        let Some(ProviderKind::IamIdentityCenter { start_url, region, auto_provision: true, .. }) = &p.kind else {
            continue;
        };
        let portal = PortalRef { provider: p.name.clone(), start_url: start_url.clone(), region: region.clone() };
        let Some(store) = TokenStore::new(env, &portal, None) else { continue };
        let path = store.identities_path();
        let text = match crate::util::fs::read_private(&path, crate::util::fs::READ_CAP) {
            Ok(Some(text)) => text,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!("ignoring provisioned identities: {e}");
                continue;
            }
        };
        let Ok(doc) = serde_json::from_slice::<ProvisionedFile>(&text) else {
            tracing::warn!("ignoring {}: not a list of provisioned identities", path.display());
            continue;
        };
        let span = crate::yaml::Span::new(std::sync::Arc::from(path.as_path()), 1, 1);
        for i in doc.identities {
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
