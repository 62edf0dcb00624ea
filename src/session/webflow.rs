//! An `aws/user` with no keys signs in through AWS's browser login (Atmos's webflow):
//! the cached refresh token first, silently, until its 12-hour session ends; else, with a
//! UI, the browser flow; else exit 77 at once with the login command. Single flight across
//! processes: one lock file per identity beside Atmos's cache file, and the cache read
//! again once it is held, so 30 helpers with an expired session open one browser.
//!
//! It must not: print to stdout, open a browser without a UI, or put the refresh token,
//! the code, the verifier or the DPoP key anywhere but the 0600 cache file.

use super::SessionError;
use super::cache::{Cache, Credentials};
use crate::env_vars::{self as ev, Env};
use crate::providers::ProviderError;
use crate::providers::aws_webflow::{self as wf, Callback, DpopKey, Exchange, Pkce, RefreshCache, Tokens, WebflowUi};
use crate::secret::Secret;
use std::path::PathBuf;
use std::time::Duration;
use time::OffsetDateTime;

/// Whether the chain's session comes from the browser sign-in: its first identity is an
/// `aws/user` with no keys anywhere and `credentials.webflow_enabled` is not false.
pub fn applies(chain: &crate::identity::Chain, keyring_keys: bool) -> bool {
    matches!(chain.root, crate::identity::ChainRoot::Standalone)
        && !keyring_keys
        && matches!(
            chain.hops.first().and_then(|h| h.kind.as_ref()),
            Some(crate::auth::IdentityKind::User { access_key_id: None, webflow_enabled: true, .. })
        )
}

/// The sign-in service: `AWS_ENDPOINT_URL_SIGNIN`, else `AWS_ENDPOINT_URL`, else the region's.
pub fn endpoint(env: &Env, region: &str) -> String {
    env.get(ev::AWS_ENDPOINT_URL_SIGNIN)
        .or_else(|| env.get(ev::AWS_ENDPOINT_URL))
        .map(str::to_string)
        .unwrap_or_else(|| wf::signin_endpoint(region))
}

fn home(env: &Env, identity: &str) -> Result<PathBuf, SessionError> {
    crate::util::dirs::atmos_cache_home(env).and_then(|a| a.parent().map(PathBuf::from)).ok_or_else(|| {
        ProviderError::Setup {
            identity: identity.to_string(),
            message: "no cache directory for AWS's browser sign-in (neither XDG_CACHE_HOME nor HOME is set)".into(),
            hint: "set XDG_CACHE_HOME or HOME".into(),
            code: crate::exit::CANTCREAT,
        }
        .into()
    })
}

fn credentials(t: &Tokens) -> Credentials {
    let now = OffsetDateTime::now_utc();
    Credentials {
        access_key_id: t.access_key_id.clone(),
        secret_access_key: t.secret_access_key.clone(),
        session_token: (!t.session_token.expose().is_empty()).then(|| t.session_token.clone()),
        expiration: t.expires_in.map(|s| now + Duration::from_secs(s)),
        issued: Some(now),
    }
}

/// Atmos's refresh cache file of `identity`, when there is a cache directory at all.
pub fn cache_file(env: &Env, realm: &str, identity: &str) -> Option<PathBuf> {
    let home = home(env, identity).ok()?;
    Some(wf::cache_dir(&home, identity, realm).join(wf::CACHE_FILE))
}

/// Drops the cached refresh token (`auth login --webflow` / `--force`, `auth logout`).
pub fn forget(env: &Env, realm: &str, identity: &str) {
    if let Ok(home) = home(env, identity) {
        wf::drop_cache(&home, identity, realm);
    }
}

/// The identity's session. `force` (`auth login --webflow`) skips the refresh token.
pub fn session(
    env: &Env,
    realm: &str,
    identity: &str,
    region: &str,
    ui: Option<&dyn WebflowUi>,
    force: bool,
) -> Result<Credentials, SessionError> {
    let home = home(env, identity)?;
    let need_terminal = || SessionError::from(ProviderError::UserNeedsSignIn { identity: identity.to_string() });
    let usable = |c: &RefreshCache| !force && c.usable(OffsetDateTime::now_utc());
    // Nothing to refresh and nowhere to sign in: fail at once, creating nothing.
    if ui.is_none() && !wf::load_cache(&home, identity, realm).is_some_and(|c| usable(&c)) {
        return Err(need_terminal());
    }
    let dir = wf::cache_dir(&home, identity, realm);
    let io = |e: std::io::Error| ProviderError::Setup {
        identity: identity.to_string(),
        message: format!("cannot use the browser sign-in's cache {}: {e}", dir.display()),
        hint: "the directory must be yours and not writable by others".into(),
        code: crate::exit::CANTCREAT,
    };
    crate::util::fs::PrivateDir::create_below(&home, &dir).map_err(io)?;
    let _lock = Cache::at(dir.clone()).lock_for("refresh", wf::CALLBACK_TIMEOUT + Duration::from_secs(30), identity)?;
    let base = endpoint(env, region);
    if let Some(cache) = wf::load_cache(&home, identity, realm)
        && usable(&cache)
        && let Some(key) = &cache.dpop_key
    {
        match wf::exchange_refresh(identity, &base, &cache.refresh_token, key)? {
            Exchange::Tokens(t) => {
                if let Some(next) = &t.refresh_token {
                    let kept = RefreshCache { refresh_token: next.clone(), ..cache };
                    wf::save_cache(&home, identity, realm, &kept).map_err(io)?;
                }
                tracing::debug!(identity, "AWS browser sign-in: refreshed silently");
                return Ok(credentials(&t));
            }
            Exchange::Revoked => {
                tracing::debug!(identity, "AWS browser sign-in: the refresh token was refused; signing in again");
                wf::drop_cache(&home, identity, realm);
            }
        }
    }
    let Some(ui) = ui else { return Err(need_terminal()) };
    let (pkce, state, key) = (Pkce::generate(), wf::new_state(), DpopKey::generate());
    let callback = Callback::bind().map_err(io)?;
    let port = callback.port();
    ui.open(identity, &wf::authorize_url(&base, port, &pkce.challenge, &state));
    let code = match callback.wait(&state, wf::CALLBACK_TIMEOUT) {
        Ok(c) => c,
        Err(e) => {
            ui.end(false);
            return Err(ProviderError::Setup {
                identity: identity.to_string(),
                message: format!("AWS browser sign-in failed: {e}"),
                hint: format!("run `tfauth auth login --identity {identity} --webflow` again"),
                code: crate::exit::NOPERM,
            }
            .into());
        }
    };
    let tokens = wf::exchange_code(identity, &base, &code, &pkce, port, &key);
    ui.end(tokens.is_ok());
    let tokens = tokens?;
    if let Some(refresh) = &tokens.refresh_token {
        let cache = RefreshCache {
            refresh_token: Secret::new(refresh.expose()),
            region: region.to_string(),
            expires_at: OffsetDateTime::now_utc() + wf::SESSION_LIFETIME,
            dpop_key: Some(key),
        };
        wf::save_cache(&home, identity, realm, &cache).map_err(io)?;
    }
    Ok(credentials(&tokens))
}
