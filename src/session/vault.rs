//! What tfauth keeps in the keyring, and under which names: `aws/user` access keys
//! (`<realm>/aws-user/<identity>`, per realm, because two repositories may both call an
//! identity `ci`). IAM Identity Center tokens that an earlier tfauth kept there
//! (`sso/<portal hash>`) are only read, to move them into the cache file.
//!
//! Why it exists apart from [`crate::keyring`]: the keyring is storage; this is policy.
//! With no keyring configured, `aws/user` keys come from the configuration only. A
//! `system` keyring that cannot be reached holds no keys, with one warning that says so.
//!
//! No keyring holds SSO tokens: Atmos keeps portal tokens in its file cache whatever the
//! keyring (`pkg/auth/providers/aws/sso.go`, `sso_cache.go`), so does tfauth, and so does
//! the AWS CLI. With `memory` a keyring token would end with the process, and every
//! `credential_process` call is a process of its own. The memory keyring still holds
//! `aws/user` keys, for one process.

use crate::env_vars::Env;
use crate::identity::{Chain, ChainRoot};
use crate::keyring::{self, Keyring, KeyringError, KeyringType};
use crate::secret::Secret;
use crate::yaml::Node;

/// The configured keyring, opened; `None` when none is configured, or when the system
/// keyring is unreachable (after a warning: no stored key can be read then).
pub fn open(auth: &Node, env: &Env) -> Result<Option<Box<dyn Keyring>>, KeyringError> {
    let Some(spec) = keyring::spec(auth, env)? else { return Ok(None) };
    match keyring::open(&spec, env) {
        Ok(k) => Ok(Some(k)),
        Err(KeyringError::SystemUnavailable { reason }) if matches!(spec.kind, KeyringType::System) => {
            tracing::warn!(
                "the system keyring is unavailable ({reason}); keys stored in it cannot be read (set \
                 auth.keyring.type: file with ATMOS_KEYRING_PASSWORD to keep them in an encrypted file)"
            );
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The keyring an earlier tfauth kept IAM Identity Center tokens in (`file` or `system`),
/// opened only when called (to move a token from it into the cache file); it opens to
/// `None` when it cannot be opened then (a file keyring without its password: nothing is
/// asked for, and the user signs in again at worst). Tokens are never written to a
/// keyring any more.
pub fn token_keyring(auth: &Node, env: &Env) -> Option<crate::session::portal::LegacyKeyring> {
    let spec = keyring::spec(auth, env).ok().flatten()?;
    if spec.kind == KeyringType::Memory {
        return None;
    }
    let env = env.clone();
    Some(Box::new(move || {
        // Not [`open`]: an unreachable system keyring is not worth a warning here.
        keyring::open(&spec, &env)
            .map_err(|e| tracing::debug!("not looking in the keyring for an earlier IAM Identity Center token: {e}"))
            .ok()
    }))
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
