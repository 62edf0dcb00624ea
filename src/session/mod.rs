//! A fresh session for a resolved chain, the one way every command gets one:
//! read the cache; if the entry is fresh (by the refresh margin), use it; else take the
//! key's lock, read again (another process may have just refreshed), and only then walk
//! the chain over the network and write the new entry. `tfauth` (before exec) and
//! `atmos-auth-helper` (cold path) both come through here, so 200 helpers started at once
//! make one STS call. A fetch that fails for a reason asking again would not change
//! (access denied, throttling, an unusable answer) is remembered for a few seconds
//! before the lock is released ([`crate::session::cache::failure`]), so those 200 helpers make one
//! call when STS says no, too.

pub mod azure;
pub mod bearer;
pub mod cache;
pub mod portal;
pub mod vault;
pub mod webflow;

use crate::env_vars::Env;
use crate::identity::Chain;
use crate::keyring::KeyringError;
use crate::providers::ProviderError;
use crate::providers::aws::{FetchContext, MfaPrompt, fetch};
use crate::providers::azure::DeviceCodeUi;
use crate::providers::sso::SsoError;
use crate::yaml::Node;
use cache::{Cache, CacheError, Credentials, failure, key::chain_key};
use portal::{LoginUi, PortalError, PortalRef, TokenStore};
use time::OffsetDateTime;

/// What a session needs of a resolved request, and nothing else: the merged `auth:`
/// settings (`refresh_margin`, `keyring`), the realm, and the stack's region. The resolver
/// builds it (`Resolution::scope`); this module never sees the stacks or the config.
#[derive(Clone, Debug)]
pub struct Scope<'a> {
    /// The merged `auth:` section (component over stack over global).
    pub auth_node: &'a Node,
    /// The realm the run's cache entries and keyring names belong to.
    pub realm: String,
    /// The stack's `vars.region` (where the component deploys), if it names one.
    pub stack_region: Option<&'a str>,
}

/// Why a session could not be had: the provider's, the cache's, the portal's or the
/// keyring's own error, or no place to keep it.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Portal(#[from] PortalError),
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    #[error("cannot tell where to cache credentials: HOME is not set")]
    NoCacheHome,
}

impl SessionError {
    pub fn hint(&self) -> Option<String> {
        match self {
            SessionError::Provider(e) => e.hint(),
            SessionError::Cache(e) => e.hint(),
            SessionError::Portal(e) => e.hint(),
            SessionError::Keyring(e) => e.hint(),
            SessionError::NoCacheHome => Some("set HOME or XDG_CACHE_HOME".to_string()),
        }
    }
}

/// What a refresh may ask of the user: an MFA code, an IAM Identity Center login, an Entra
/// ID device-code sign-in (all on the terminal, when there is one), and how far a login
/// may go.
#[derive(Clone, Copy)]
pub struct Interaction<'a> {
    pub mfa: Option<&'a dyn MfaPrompt>,
    pub login: Option<&'a dyn LoginUi>,
    pub device: Option<&'a dyn DeviceCodeUi>,
    pub mode: portal::Mode,
}

impl Interaction<'_> {
    /// Nothing to ask on: a login or MFA code needed is an error (exit 77).
    pub const NONE: Interaction<'static> =
        Interaction { mfa: None, login: None, device: None, mode: portal::Mode::Use };
}

/// What walking a chain gave, for each cloud: the one answer to "walk this chain and give
/// me a session". Providers hand over credentials and tokens; which files and variables
/// they become is output's business (`output::plan::complete`).
#[derive(Debug)]
// One per chain walked, and moved at once into the plan: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Walked {
    /// AWS credentials, from the cache or the network.
    Aws(Session),
    Gcp(crate::providers::gcp::Walked),
    Azure(crate::providers::azure::Walked),
}

impl Walked {
    /// Who the cloud said the identity is, when the walk asked (GCP and Azure; AWS answers
    /// `sts get-caller-identity` separately).
    pub fn principal(&self) -> Option<&crate::providers::Principal> {
        match self {
            Walked::Aws(_) => None,
            Walked::Gcp(w) => w.principal.as_ref(),
            Walked::Azure(w) => w.principal.as_ref(),
        }
    }
}

/// Walks `chain`, whatever its cloud: AWS through the cache ([`obtain`]), GCP and Azure
/// through their providers (an Azure device-code user's tokens through [`azure`]'s
/// cache). With `check`, GCP and Azure chains are proven against the cloud the way
/// Terraform's providers will use them. `None` for a chain of no known cloud.
pub fn walk(
    scope: &Scope<'_>,
    chain: &Chain,
    env: &Env,
    ask: Interaction<'_>,
    check: bool,
) -> Result<Option<Walked>, SessionError> {
    use crate::auth::{Cloud, ProviderKind};
    Ok(Some(match chain.leaf().cloud() {
        Some(Cloud::Aws) => Walked::Aws(obtain(scope, chain, env, ask)?),
        Some(Cloud::Gcp) => Walked::Gcp(crate::providers::gcp::walk(chain, env, check)?),
        Some(Cloud::Azure) => match &chain.root {
            crate::identity::ChainRoot::Provider(p) if matches!(p.kind, Some(ProviderKind::AzureDeviceCode { .. })) => {
                let tokens = azure::user_tokens_for(chain, env, ask.device, crate::providers::azure::Mode::Use)?;
                Walked::Azure(tokens.map(crate::providers::azure::signed_in).unwrap_or_default())
            }
            _ => Walked::Azure(crate::providers::azure::walk(chain, env, check)?),
        },
        None => return Ok(None),
    }))
}

/// Credentials for `chain` (the resolution's), and the cache key they are stored under.
#[derive(Debug)]
pub struct Session {
    pub key: String,
    pub credentials: Credentials,
    /// Whether this process called STS (false: served from the cache).
    pub fetched: bool,
}

/// The refresh margin for this scope.
pub fn margin(scope: &Scope<'_>, env: &Env) -> cache::Margin {
    let configured = scope.auth_node.get("refresh_margin").and_then(Node::as_str);
    cache::margin(env, configured)
}

/// The cache key of `chain` under this scope's settings.
pub fn key(scope: &Scope<'_>, chain: &Chain) -> String {
    chain_key(scope.auth_node, chain)
}

/// The cached AWS session of `chain`, if it is fresh by the refresh margin: no lock, no
/// network, nothing asked (`auth env` without `--login`).
pub fn cached(scope: &Scope<'_>, chain: &Chain, env: &Env) -> Option<Session> {
    let key = key(scope, chain);
    let margin = margin(scope, env);
    let credentials = Cache::new(env, "aws")?.read(&key).filter(|c| c.fresh_for(margin, OffsetDateTime::now_utc()))?;
    Some(Session { key, credentials, fetched: false })
}

/// Gets fresh AWS credentials for `chain`: the resolution's own, or one of its
/// `required` identities.
pub fn obtain(scope: &Scope<'_>, chain: &Chain, env: &Env, ask: Interaction<'_>) -> Result<Session, SessionError> {
    portal::begin();
    let key = key(scope, chain);
    let margin = margin(scope, env);
    let cache = Cache::new(env, "aws").ok_or(SessionError::NoCacheHome)?;
    let since = std::time::SystemTime::now();
    if let Some(c) = cache.read(&key).filter(|c| c.fresh_for(margin, OffsetDateTime::now_utc())) {
        return Ok(Session { key, credentials: c, fetched: false });
    }
    if let Some(c) = fetched_here(&key, margin) {
        return Ok(Session { key, credentials: c, fetched: false });
    }
    let region = chain.aws_region(scope.stack_region).0.to_string();
    // Another process's failure moments ago is this one's answer too (see cache::failure).
    let context = failure::context(env, &region, &base_secrets(chain, env));
    if let Some(e) = failure::recall(&cache, &key, &context, None, std::time::SystemTime::now()) {
        return Err(e.into());
    }
    // A refresh through IAM Identity Center may be a human approving a code: wait for it.
    // So may an IdP sign-in (a password, an MFA code, a push to approve).
    let wait = if portal_of(chain).is_some() || is_saml(chain) { portal::LOGIN_WAIT } else { cache::LOCK_WAIT };
    let _lock = cache.lock_for(&key, wait, &chain.leaf().name)?;
    if let Some(c) = cache.read(&key).filter(|c| c.fresh_for(margin, OffsetDateTime::now_utc())) {
        return Ok(Session { key, credentials: c, fetched: false });
    }
    // It failed while this process waited for the lock: the same answer, without a call.
    if let Some(e) = failure::recall(&cache, &key, &context, Some(since), std::time::SystemTime::now()) {
        return Err(e.into());
    }
    let credentials = match fetch_chain(scope, chain, env, ask, region) {
        Ok(c) => c,
        Err(SessionError::Provider(e)) => {
            // Remembered before the lock is released, so every waiter gets it.
            failure::remember(&cache, &key, &context, &e);
            return Err(e.into());
        }
        Err(e) => return Err(e),
    };
    let owner = cache::Owner {
        identity: chain.leaf().name.clone(),
        root: chain.root_name().to_string(),
        realm: scope.realm.clone(),
    };
    cache.write_owned(&key, &credentials, &owner)?;
    failure::forget(&cache, &key);
    if cache::validate::margin_too_long(&credentials, margin) {
        warn_margin(&credentials, margin, chain);
        FETCHED.lock().unwrap_or_else(|e| e.into_inner()).push((key.clone(), credentials.clone()));
    }
    Ok(Session { key, credentials, fetched: true })
}

/// The secrets a chain starts from (for [`failure::context`], which keeps only a digest):
/// the root identity's configured keys, and the variables the SDK and the GitHub token
/// request read.
fn base_secrets<'a>(chain: &'a Chain, env: &'a Env) -> Vec<&'a str> {
    let mut out: Vec<&str> = [
        crate::env_vars::AWS_SECRET_ACCESS_KEY,
        crate::env_vars::AWS_SESSION_TOKEN,
        crate::env_vars::ACTIONS_ID_TOKEN_REQUEST_TOKEN,
    ]
    .iter()
    .filter_map(|v| env.get(v))
    .collect();
    if let Some(crate::auth::IdentityKind::User { access_key_id, secret_access_key, .. }) =
        chain.hops.first().and_then(|h| h.kind.as_ref())
    {
        out.extend(access_key_id.iter().chain(secret_access_key).map(|s| s.expose()));
    }
    // An IdP password fixed after a refusal is tried at once.
    if let crate::identity::ChainRoot::Provider(p) = &chain.root
        && let Some(crate::auth::ProviderKind::Saml { password: Some(pw), username, .. }) = &p.kind
    {
        out.push(pw.expose());
        out.extend(username.as_deref());
    }
    out
}

/// Sessions this process fetched under a margin at or above their length (which no cache
/// read will ever find fresh), by key.
static FETCHED: std::sync::Mutex<Vec<(String, Credentials)>> = std::sync::Mutex::new(Vec::new());

/// What this process fetched for `key` under a margin at or above the session's length:
/// used again in this process (the plan's own session, then an integration's through the
/// same identity) while it has half its life left, instead of a fetch per use.
fn fetched_here(key: &str, margin: cache::Margin) -> Option<Credentials> {
    let list = FETCHED.lock().unwrap_or_else(|e| e.into_inner());
    let c = list.iter().rev().find(|(k, _)| k == key)?.1.clone();
    let half_life = cache::Margin { explicit: false, ..margin };
    (cache::validate::margin_too_long(&c, margin) && c.fresh_for(half_life, OffsetDateTime::now_utc())).then_some(c)
}

/// Warns, once per process, that the refresh margin is at or above the session's length:
/// such a margin makes every cache entry stale the moment it is written, so every process
/// (each `credential_process` call) asks STS again. Taken as given (it is the way to force
/// a refresh), but never silently; this process reuses what it fetched ([`fetched_here`]).
fn warn_margin(creds: &Credentials, margin: cache::Margin, chain: &Chain) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let length = match (creds.expiration, creds.issued) {
        (Some(e), Some(i)) => (e - i).whole_seconds().max(0) as u64,
        _ => 0,
    };
    tracing::warn!(
        "the refresh margin ({}s, TFAUTH_REFRESH_MARGIN or auth.refresh_margin) is not shorter than the {}s session of `{}`: \
         no cached session is ever fresh enough, so every process (each credential_process call) asks STS again. \
         Set a margin below the session's length",
        margin.duration.as_secs(),
        length,
        chain.leaf().name,
    );
}

/// Whether the chain starts at an `aws/saml` provider.
fn saml_root(chain: &Chain) -> bool {
    matches!(&chain.root, crate::identity::ChainRoot::Provider(p)
        if matches!(p.kind, Some(crate::auth::ProviderKind::Saml { .. })))
}

/// Walks the chain over the network (through the portal when it starts at one).
fn fetch_chain(
    scope: &Scope<'_>,
    chain: &Chain,
    env: &Env,
    ask: Interaction<'_>,
    region: String,
) -> Result<Credentials, SessionError> {
    tracing::debug!(identity = %chain.leaf().name, chain = %chain.describe(), "fetching credentials");
    let user_keys = vault::user_keys(scope, chain, env)?;
    let user_session = if webflow::applies(chain, user_keys.is_some()) {
        let first = &chain.hops[0];
        let signin_region = first.region.clone().unwrap_or_else(|| region.clone());
        let ui = if ask.mode == portal::Mode::NoLogin { None } else { ask.login.and_then(|l| l.webflow()) };
        let force = ask.mode == portal::Mode::Relogin;
        Some(webflow::session(env, &scope.realm, &first.name, &signin_region, ui, force)?)
    } else {
        None
    };
    let credentials = match portal_of(chain) {
        None => {
            let stored = vault::StoredSamlPasswords::new(scope.auth_node, &scope.realm, env);
            let saml_passwords = saml_root(chain).then_some(&stored as &dyn crate::providers::saml::SavedPasswords);
            fetch(
                chain,
                &FetchContext { env, region, mfa: ask.mfa, sso_token: None, user_keys, user_session, saml_passwords },
            )?
        }
        Some(p) => {
            let oidc = match &chain.root {
                crate::identity::ChainRoot::Provider(root) => oidc_env(root, env)?,
                crate::identity::ChainRoot::Standalone => env.clone(),
            };
            let token = portal_token(&p, scope, &oidc, ask)?;
            let ctx = FetchContext {
                env,
                region: region.clone(),
                mfa: ask.mfa,
                sso_token: Some(&token.access_token),
                user_keys: None,
                user_session: None,
                saml_passwords: None,
            };
            match fetch(chain, &ctx) {
                // Rejected before its time (signed out elsewhere, revoked): once more, through
                // the refresh token or a new login.
                Err(ProviderError::Sso(SsoError::SessionExpired { .. }))
                    if token.obtained != portal::Obtained::LoggedIn =>
                {
                    tracing::debug!(provider = %p.provider, "the portal rejected the cached token; refreshing");
                    token_store(&p, scope, env)?.expire()?;
                    let token = portal_token(&p, scope, &oidc, ask)?;
                    fetch(chain, &FetchContext { sso_token: Some(&token.access_token), ..ctx })?
                }
                other => other?,
            }
        }
    };
    Ok(credentials)
}

/// The environment the SSO-OIDC calls (sign-in, refresh) of provider `p` see: its
/// `spec.endpoint_url`, if any, as their endpoint ([`crate::providers::sso::with_configured`]). The portal
/// calls keep theirs: Atmos sends them where the permission set's own `spec.endpoint_url`
/// says.
pub fn oidc_env(p: &crate::auth::Provider, env: &Env) -> Result<Env, SessionError> {
    let configured = match &p.kind {
        Some(crate::auth::ProviderKind::IamIdentityCenter { endpoint_url, .. }) => endpoint_url.as_ref(),
        _ => None,
    };
    crate::providers::sso::with_configured(env, crate::env_vars::AWS_ENDPOINT_URL_SSO_OIDC, configured)
        .map_err(|e| ProviderError::Sso(e).into())
}

/// Whether the chain starts at an `aws/saml` provider (an IdP sign-in, maybe a human's).
fn is_saml(chain: &Chain) -> bool {
    matches!(&chain.root, crate::identity::ChainRoot::Provider(p) if matches!(p.kind, Some(crate::auth::ProviderKind::Saml { .. })))
}

/// The IAM Identity Center portal the chain starts at, if it does.
pub fn portal_of(chain: &Chain) -> Option<PortalRef> {
    match &chain.root {
        crate::identity::ChainRoot::Provider(p) => match &p.kind {
            Some(crate::auth::ProviderKind::IamIdentityCenter { start_url, region, .. }) => {
                Some(PortalRef { provider: p.name.clone(), start_url: start_url.clone(), region: region.clone() })
            }
            _ => None,
        },
        crate::identity::ChainRoot::Standalone => None,
    }
}

/// An access token for `portal`, from the store the scope's keyring settings choose.
pub fn portal_token(
    portal: &PortalRef,
    scope: &Scope<'_>,
    env: &Env,
    ask: Interaction<'_>,
) -> Result<portal::PortalSession, SessionError> {
    let store = token_store(portal, scope, env)?;
    Ok(portal::access_token(portal, &store, env, ask.login, ask.mode)?)
}

/// The token store for `portal`: the cache file, whatever the keyring (as in Atmos), with
/// the keyring an earlier tfauth may have kept the token in (see [`vault::token_keyring`]).
pub fn token_store(portal: &PortalRef, scope: &Scope<'_>, env: &Env) -> Result<TokenStore, SessionError> {
    let legacy = vault::token_keyring(scope.auth_node, env);
    TokenStore::new(env, portal, legacy).ok_or_else(|| PortalError::NoCacheDir.into())
}

#[cfg(test)]
mod tests;
