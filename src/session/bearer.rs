//! Bearer tokens the kubeconfig plugins hand kubectl for GKE and AKS clusters (a GCP
//! access token; an Entra ID token for an AKS cluster's server application), cached as
//! sessions are: one entry per chain (and audience) in `$XDG_CACHE_HOME/tfauth/<kind>/`,
//! 0600 in a 0700 directory of the user's, replaced atomically, minted single flight under
//! the entry's lock, so the plugins kubectl starts for every command read one file.
//!
//! Unlike an AWS session, which the EKS plugin signs a fresh token from, these tokens are
//! what the cluster receives: they are handed out only with [`MIN_LIFE`] left, and kubectl
//! is told when they expire.
//!
//! It must not mint anything itself (the caller's `mint` does) or print a token.

use super::SessionError;
use super::cache::{Cache, LOCK_WAIT};
use crate::env_vars::Env;
use crate::secret::Secret;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A cached token is handed out while it has at least this long to live (kubectl asks again
/// when the token expires; an apply's provider may hold it for a few minutes).
pub const MIN_LIFE: time::Duration = time::Duration::minutes(5);

/// Which kind of token: the cache directory it lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A GCP identity's access token (GKE).
    Gke,
    /// An Entra ID token for an AKS cluster's server application.
    Aks,
}

impl Kind {
    fn dir(self) -> &'static str {
        match self {
            Kind::Gke => "gke",
            Kind::Aks => "aks",
        }
    }
}

/// A bearer token and when it expires.
#[derive(Clone, Debug)]
pub struct Bearer {
    pub token: Secret,
    pub expires: OffsetDateTime,
}

impl Bearer {
    fn usable(&self, now: OffsetDateTime) -> bool {
        self.expires - now >= MIN_LIFE
    }
}

/// The entry of a chain's token for `audience` (the AKS server application; `None` for
/// GCP, whose token has one audience): the chain's cache key when there is no audience,
/// else 32 hex digits of both.
pub fn entry_key(chain_key: &str, audience: Option<&str>) -> String {
    match audience {
        None => chain_key.to_string(),
        Some(a) => {
            let d = Sha256::digest(format!("{chain_key}\n{}", a.to_ascii_lowercase()).as_bytes());
            d.iter().take(16).map(|b| format!("{b:02x}")).collect()
        }
    }
}

/// The cached token of `key`, if it is still usable (the warm path: one file read).
pub fn cached(env: &Env, kind: Kind, key: &str) -> Option<Bearer> {
    let cache = Cache::new(env, kind.dir())?;
    read(&cache, key).filter(|b| b.usable(OffsetDateTime::now_utc()))
}

/// The token of `key`: cached, else minted by `mint` under the entry's lock (re-reading the
/// entry once the lock is held, so concurrent plugins mint once) and cached.
pub fn obtain(
    env: &Env,
    kind: Kind,
    key: &str,
    identity: &str,
    mint: impl FnOnce() -> Result<Bearer, SessionError>,
) -> Result<Bearer, SessionError> {
    let cache = Cache::new(env, kind.dir()).ok_or(SessionError::NoCacheHome)?;
    let now = OffsetDateTime::now_utc();
    if let Some(b) = read(&cache, key).filter(|b| b.usable(now)) {
        return Ok(b);
    }
    let _lock = cache.lock_for(key, LOCK_WAIT, identity)?;
    if let Some(b) = read(&cache, key).filter(|b| b.usable(OffsetDateTime::now_utc())) {
        return Ok(b);
    }
    let minted = mint()?;
    write(&cache, key, identity, &minted)?;
    Ok(minted)
}

/// Stores `b` as `key`'s token of `identity` (what [`obtain`] does after minting).
pub fn store(env: &Env, kind: Kind, key: &str, identity: &str, b: &Bearer) -> Result<(), SessionError> {
    let cache = Cache::new(env, kind.dir()).ok_or(SessionError::NoCacheHome)?;
    Ok(write(&cache, key, identity, b)?)
}

fn write(cache: &Cache, key: &str, identity: &str, b: &Bearer) -> Result<(), super::cache::CacheError> {
    let expires = crate::providers::credentials::format_utc(b.expires);
    let doc = json!({"Token": b.token.expose(), "Expiration": expires, "Identity": identity});
    cache.write_text(key, &doc.to_string())
}

/// Drops `key`'s token; true if it was there.
pub fn forget(env: &Env, kind: Kind, key: &str) -> bool {
    Cache::new(env, kind.dir()).is_some_and(|c| c.remove(key))
}

/// Drops every token of `kind` minted for an identity of this name (`auth logout`; in any
/// realm or definition, which only means the next plugin call mints again); how many went.
pub fn forget_identity(env: &Env, kind: Kind, identity: &str) -> usize {
    let Some(cache) = Cache::new(env, kind.dir()) else { return 0 };
    let whose = |key: &str| -> Option<String> {
        let doc: Value = serde_json::from_str(&cache.read_text(key)?).ok()?;
        Some(doc.get("Identity")?.as_str()?.to_string())
    };
    cache
        .keys()
        .into_iter()
        .filter(|k| whose(k).is_some_and(|i| i.eq_ignore_ascii_case(identity)))
        .filter(|k| cache.remove(k))
        .count()
}

fn read(cache: &Cache, key: &str) -> Option<Bearer> {
    let doc: Value = serde_json::from_str(&cache.read_text(key)?).ok()?;
    let token = doc.get("Token")?.as_str().filter(|t| !t.is_empty())?;
    let expires = OffsetDateTime::parse(doc.get("Expiration")?.as_str()?, &Rfc3339).ok()?;
    Some(Bearer { token: Secret::new(token), expires })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(dir: &std::path::Path) -> Env {
        Env::from_pairs([(crate::env_vars::XDG_CACHE_HOME, dir.to_str().unwrap())])
    }

    #[test]
    fn a_token_is_minted_once_then_read_until_it_is_too_close_to_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let env = env(dir.path());
        let key = entry_key("0123456789abcdef0123456789abcdef", None);
        let in_ = |mins| OffsetDateTime::now_utc() + time::Duration::minutes(mins);
        let mut mints = 0;
        for _ in 0..3 {
            let b = obtain(&env, Kind::Gke, &key, "dev", || {
                mints += 1;
                Ok(Bearer { token: Secret::new("ya29.one"), expires: in_(60) })
            })
            .unwrap();
            assert_eq!(b.token.expose(), "ya29.one");
        }
        assert_eq!(mints, 1);
        assert_eq!(cached(&env, Kind::Gke, &key).unwrap().token.expose(), "ya29.one");
        assert!(cached(&env, Kind::Aks, &key).is_none(), "kinds do not share entries");
        let file = dir.path().join("tfauth/gke").join(format!("{key}.json"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        // Four minutes left: not handed out, minted again.
        obtain(&env, Kind::Gke, "k2", "dev", || Ok(Bearer { token: Secret::new("old"), expires: in_(4) })).unwrap();
        assert!(cached(&env, Kind::Gke, "k2").is_none());
        let b = obtain(&env, Kind::Gke, "k2", "dev", || Ok(Bearer { token: Secret::new("new"), expires: in_(60) }))
            .unwrap();
        assert_eq!(b.token.expose(), "new");
        assert!(forget(&env, Kind::Gke, "k2"));
        assert!(cached(&env, Kind::Gke, "k2").is_none());
        // A logout of `DEV` drops the identity's tokens, whatever their keys.
        assert_eq!(forget_identity(&env, Kind::Gke, "other"), 0);
        assert_eq!(forget_identity(&env, Kind::Gke, "DEV"), 1);
        assert!(cached(&env, Kind::Gke, &key).is_none());
    }

    #[test]
    fn an_audience_gets_its_own_entry() {
        let k = "0123456789abcdef0123456789abcdef";
        let a = entry_key(k, Some("6dae42f8-4368-4678-94ff-3960e28e3630"));
        assert_eq!(a.len(), 32);
        assert_ne!(a, k);
        assert_eq!(a, entry_key(k, Some("6DAE42F8-4368-4678-94FF-3960E28E3630")));
        assert_ne!(a, entry_key(k, Some("other")));
    }
}
