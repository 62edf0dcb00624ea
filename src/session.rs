//! A fresh session for a resolved chain, the one way every command gets one:
//! read the cache; if the entry is fresh (by the refresh margin), use it; else take the
//! key's lock, read again (another process may have just refreshed), and only then walk
//! the chain over the network and write the new entry. `tfauth` (before exec) and
//! `atmos-auth-helper` (cold path) both come through here, so 200 helpers started at once
//! make one STS call.

use crate::cache::{self, Cache, Credentials, key::chain_key};
use crate::env_vars::Env;
use crate::error::Error;
use crate::identity::Chain;
use crate::portal::{self, LoginUi, PortalRef, TokenStore};
use crate::providers::ProviderError;
use crate::providers::aws::{FetchContext, MfaPrompt, fetch};
use crate::providers::sso::SsoError;
use crate::resolve::Resolution;
use time::OffsetDateTime;

/// What a refresh may ask of the user: an MFA code, an IAM Identity Center login (both on
/// the terminal, when there is one), and how far a login may go.
#[derive(Clone, Copy)]
pub struct Interaction<'a> {
    pub mfa: Option<&'a dyn MfaPrompt>,
    pub login: Option<&'a dyn LoginUi>,
    pub mode: portal::Mode,
}

impl Interaction<'_> {
    /// Nothing to ask on: a login or MFA code needed is an error (exit 77).
    pub const NONE: Interaction<'static> = Interaction { mfa: None, login: None, mode: portal::Mode::Use };
}

/// Credentials for `chain` (the resolution's), and the cache key they are stored under.
pub struct Session {
    pub key: String,
    pub credentials: Credentials,
    /// Whether this process called STS (false: served from the cache).
    pub fetched: bool,
}

/// The refresh margin for this resolution.
pub fn margin(res: &Resolution, env: &Env) -> cache::Margin {
    let configured = res.auth_node.get("refresh_margin").and_then(crate::yaml::Node::as_str);
    cache::margin(env, configured)
}

/// The cache key of the resolution's chain.
pub fn key(res: &Resolution, chain: &Chain) -> String {
    chain_key(&res.auth_node, chain)
}

/// Gets fresh AWS credentials for the resolution's chain.
pub fn obtain(res: &Resolution, env: &Env, ask: Interaction<'_>) -> Result<Session, Error> {
    let chain = res.chain.as_ref().ok_or_else(|| Error::usage("no identity was chosen", None))?;
    obtain_for(res, chain, env, ask)
}

/// Gets fresh AWS credentials for `chain`: the resolution's own, or one of its
/// `required` identities.
pub fn obtain_for(res: &Resolution, chain: &Chain, env: &Env, ask: Interaction<'_>) -> Result<Session, Error> {
    portal::begin();
    let key = key(res, chain);
    let margin = margin(res, env);
    let cache = Cache::new(env, "aws").ok_or_else(|| {
        Error::usage(
            "cannot tell where to cache credentials: HOME is not set",
            Some("set HOME or XDG_CACHE_HOME".to_string()),
        )
    })?;
    if let Some(c) = cache.read(&key).filter(|c| c.fresh_for(margin, OffsetDateTime::now_utc())) {
        return Ok(Session { key, credentials: c, fetched: false });
    }
    // A refresh through IAM Identity Center may be a human approving a code: wait for it.
    let wait = if portal_of(chain).is_some() { portal::LOGIN_WAIT } else { cache::LOCK_WAIT };
    let _lock = cache.lock(&key, wait)?;
    if let Some(c) = cache.read(&key).filter(|c| c.fresh_for(margin, OffsetDateTime::now_utc())) {
        return Ok(Session { key, credentials: c, fetched: false });
    }
    let region = crate::output::env::aws_region(
        chain,
        res.component.as_ref().and_then(|c| c.vars.get("region")).and_then(crate::yaml::Node::as_str),
    );
    tracing::debug!(identity = %chain.leaf().name, chain = %chain.describe(), "fetching credentials");
    let user_keys = crate::vault::user_keys(res, chain, env)?;
    let credentials = match portal_of(chain) {
        None => fetch(chain, &FetchContext { env, region, mfa: ask.mfa, sso_token: None, user_keys })?,
        Some(p) => {
            let token = portal_token(&p, res, env, ask)?;
            let ctx = FetchContext {
                env,
                region: region.clone(),
                mfa: ask.mfa,
                sso_token: Some(&token.access_token),
                user_keys: None,
            };
            match fetch(chain, &ctx) {
                // Rejected before its time (signed out elsewhere, revoked): once more, through
                // the refresh token or a new login.
                Err(ProviderError::Sso(SsoError::SessionExpired { .. }))
                    if token.obtained != portal::Obtained::LoggedIn =>
                {
                    tracing::debug!(provider = %p.provider, "the portal rejected the cached token; refreshing");
                    token_store(&p, res, env)?.expire()?;
                    let token = portal_token(&p, res, env, ask)?;
                    fetch(chain, &FetchContext { sso_token: Some(&token.access_token), ..ctx })?
                }
                other => other?,
            }
        }
    };
    let owner = cache::Owner {
        identity: chain.leaf().name.clone(),
        root: chain.root_name().to_string(),
        realm: res.realm(env),
    };
    cache.write_owned(&key, &credentials, &owner)?;
    Ok(Session { key, credentials, fetched: true })
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

/// An access token for `portal`, from the store the resolution's keyring settings choose.
pub fn portal_token(
    portal: &PortalRef,
    res: &Resolution,
    env: &Env,
    ask: Interaction<'_>,
) -> Result<portal::PortalSession, Error> {
    let store = token_store(portal, res, env)?;
    Ok(portal::access_token(portal, &store, env, ask.login, ask.mode)?)
}

/// The token store for `portal`: the keyring when one is configured, else the cache file.
pub fn token_store(portal: &PortalRef, res: &Resolution, env: &Env) -> Result<TokenStore, Error> {
    let keyring = crate::vault::open(&res.auth_node, env)?;
    TokenStore::new(env, portal, keyring).ok_or_else(|| portal::PortalError::NoCacheDir.into())
}
