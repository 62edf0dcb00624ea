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
use crate::providers::aws::{FetchContext, MfaPrompt, fetch};
use crate::resolve::Resolution;
use time::OffsetDateTime;

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
pub fn obtain(res: &Resolution, env: &Env, mfa: Option<&dyn MfaPrompt>) -> Result<Session, Error> {
    let chain = res.chain.as_ref().ok_or_else(|| Error::usage("no identity was chosen", None))?;
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
    let _lock = cache.lock(&key, cache::LOCK_WAIT)?;
    if let Some(c) = cache.read(&key).filter(|c| c.fresh_for(margin, OffsetDateTime::now_utc())) {
        return Ok(Session { key, credentials: c, fetched: false });
    }
    let region = crate::output::env::aws_region(
        chain,
        res.component.as_ref().and_then(|c| c.vars.get("region")).and_then(crate::yaml::Node::as_str),
    );
    tracing::debug!(identity = %chain.leaf().name, chain = %chain.describe(), "fetching credentials");
    let credentials = fetch(chain, &FetchContext { env, region, mfa })?;
    cache.write(&key, &credentials)?;
    Ok(Session { key, credentials, fetched: true })
}
