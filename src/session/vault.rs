//! What tfauth keeps in the keyring, and under which names: IAM Identity Center tokens
//! (`sso/<portal hash>`, shared by every repository that signs in to the same portal, as
//! the AWS CLI shares them) and `aws/user` access keys (`<realm>/aws-user/<identity>`,
//! per realm, because two repositories may both call an identity `ci`).
//!
//! Why it exists apart from [`crate::keyring`]: the keyring is storage; this is policy.
//! With no keyring configured, SSO tokens stay in 0600 files in the SDK's shape and
//! `aws/user` keys come from the configuration or the environment. A `system` keyring
//! that cannot be reached falls back to those files, with one warning that says so.
//!
//! The `memory` keyring never holds SSO tokens: it lives as long as one process, and every
//! `credential_process` call is a process of its own, so each would need a new sign-in.
//! Atmos keeps portal tokens in its file cache whatever the keyring
//! (`pkg/auth/providers/aws/sso.go`, `sso_cache.go`); with `memory`, so does tfauth
//! ([`token_keyring`]). The memory keyring still holds `aws/user` keys, for one process.

use crate::env_vars::Env;
use crate::identity::{Chain, ChainRoot};
use crate::keyring::{self, Keyring, KeyringError, KeyringType};
use crate::secret::Secret;
use crate::yaml::Node;

/// The configured keyring, opened; `None` when none is configured, or when the system
/// keyring is unreachable (after a warning: tokens then stay in the cache files).
pub fn open(auth: &Node, env: &Env) -> Result<Option<Box<dyn Keyring>>, KeyringError> {
    let Some(spec) = keyring::spec(auth, env)? else { return Ok(None) };
    match keyring::open(&spec, env) {
        Ok(k) => Ok(Some(k)),
        Err(KeyringError::SystemUnavailable { reason }) if matches!(spec.kind, KeyringType::System) => {
            tracing::warn!(
                "the system keyring is unavailable ({reason}); IAM Identity Center tokens are kept in 0600 files \
                 under the cache directory instead (set auth.keyring.type: file with ATMOS_KEYRING_PASSWORD to \
                 encrypt them)"
            );
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The keyring IAM Identity Center tokens are kept in: the configured one, except that
/// `memory` keeps none (they go to the 0600 cache file, which outlives the process).
pub fn token_keyring(auth: &Node, env: &Env) -> Result<Option<Box<dyn Keyring>>, KeyringError> {
    if let Some(KeyringType::Memory) = keyring::spec(auth, env)?.map(|s| s.kind) {
        tracing::debug!(
            "the memory keyring ends with this process; the IAM Identity Center token is kept in the cache file"
        );
        return Ok(None);
    }
    open(auth, env)
}

/// The keyring entry of an `aws/user` identity's keys.
pub fn user_key(realm: &str, identity: &str) -> String {
    format!("{realm}/aws-user/{}", identity.to_lowercase())
}

/// Access keys as stored: a small JSON document, the whole of it a secret.
pub fn encode_user_keys(access_key_id: &str, secret_access_key: &Secret) -> Secret {
    Secret::new(
        serde_json::json!({"access_key_id": access_key_id, "secret_access_key": secret_access_key.expose()})
            .to_string(),
    )
}

fn decode_user_keys(doc: &Secret) -> Option<(String, Secret)> {
    let v: serde_json::Value = serde_json::from_str(doc.expose()).ok()?;
    let key = v.get("access_key_id")?.as_str()?.to_string();
    let secret = v.get("secret_access_key")?.as_str()?;
    (!key.is_empty() && !secret.is_empty()).then(|| (key, Secret::new(secret)))
}

/// Keys stored by `tfauth auth user configure` for the chain's root `aws/user` identity,
/// when its configuration holds none. Only looked up when a keyring is configured.
pub fn user_keys(scope: &super::Scope<'_>, chain: &Chain, env: &Env) -> Result<Option<(String, Secret)>, KeyringError> {
    let ChainRoot::Standalone = chain.root else { return Ok(None) };
    let first = &chain.hops[0];
    match &first.kind {
        Some(crate::auth::IdentityKind::User { access_key_id: None, .. }) => {}
        _ => return Ok(None),
    }
    let Some(ring) = open(scope.auth_node, env)? else { return Ok(None) };
    let key = user_key(&scope.realm, &first.name);
    match ring.get(&key)? {
        Some(doc) => Ok(decode_user_keys(&doc)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_keys_round_trip_and_never_print() {
        let doc = encode_user_keys("AKIAEXAMPLE", &Secret::new("CANARYsecret"));
        assert!(!format!("{doc:?}").contains("CANARY"));
        let (k, s) = decode_user_keys(&doc).unwrap();
        assert_eq!((k.as_str(), s.expose()), ("AKIAEXAMPLE", "CANARYsecret"));
        assert_eq!(decode_user_keys(&Secret::new("{}")), None);
        assert_eq!(user_key("acme", "CI/User"), "acme/aws-user/ci/user");
    }
}
