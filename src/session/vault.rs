//! What tfauth keeps in the keyring, and under which names: `aws/user` access keys, per
//! realm, because two repositories may both call an identity `ci`. In the OS keyring and in
//! Atmos's file keyring they are Atmos's entries (key `atmos_<realm>_<identity>`; in the OS
//! keyring as service, with account `atmos-auth`; an `{"type":"aws","data":{...}}`
//! envelope), so keys either tool stored serve both; in the memory keyring, which only
//! tfauth reads, `<realm>/aws-user/<identity>`. Keys an earlier tfauth stored under that
//! name (in the OS keyring, or in its one-file keyring, whose entries move into Atmos's
//! directory under their names) are still read, and the next `auth user configure` of the
//! identity moves them to Atmos's name. IAM Identity Center tokens that an earlier tfauth
//! kept in a keyring (`sso/<portal hash>`) are only read, to move them into the cache file.
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
        // Not [`open`]: an unreachable system keyring is not worth a warning here, nor a
        // file keyring's password a question.
        keyring::open_unprompted(&spec, &env)
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

/// Atmos's name for an `aws/user` identity's keys (`pkg/auth/credentials`): the identity's
/// name as written, in the realm.
pub fn atmos_user_key(realm: &str, identity: &str) -> String {
    format!("atmos_{realm}_{identity}")
}

/// Keys as Atmos stores them: its credential envelope, the whole of it a secret.
fn encode_atmos_user_keys(access_key_id: &str, secret_access_key: &Secret) -> Secret {
    let data = serde_json::json!({"access_key_id": access_key_id, "secret_access_key": secret_access_key.expose()});
    Secret::new(serde_json::json!({"type": "aws", "data": data}).to_string())
}

fn decode_atmos_user_keys(doc: &Secret) -> Option<(String, Secret)> {
    let v: serde_json::Value = serde_json::from_str(doc.expose()).ok()?;
    if v.get("type")?.as_str()? != "aws" {
        return None;
    }
    decode_user_keys(&Secret::new(v.get("data")?.to_string()))
}

/// The keys `ring` holds for `identity`: Atmos's entry where the store has Atmos's names,
/// else tfauth's.
pub fn read_user_keys(
    ring: &dyn Keyring,
    realm: &str,
    identity: &str,
) -> Result<Option<(String, Secret)>, KeyringError> {
    if let Some(atmos) = ring.atmos_entries()
        && let Some(doc) = atmos.get(&atmos_user_key(realm, identity))?
    {
        if let Some(keys) = decode_atmos_user_keys(&doc) {
            return Ok(Some(keys));
        }
        tracing::warn!(
            "ignoring the keyring entry {} of `{identity}`: not AWS access keys",
            atmos_user_key(realm, identity)
        );
    }
    Ok(ring.get(&user_key(realm, identity))?.as_ref().and_then(decode_user_keys))
}

/// Stores `identity`'s keys in `ring`: under Atmos's name and in its shape where the store
/// has Atmos's names (so `atmos` finds them), else under tfauth's. Returns where they went.
pub fn store_user_keys(
    ring: &dyn Keyring,
    realm: &str,
    identity: &str,
    access_key_id: &str,
    secret_access_key: &Secret,
) -> Result<String, KeyringError> {
    match ring.atmos_entries() {
        Some(atmos) => {
            atmos.set(&atmos_user_key(realm, identity), &encode_atmos_user_keys(access_key_id, secret_access_key))?;
            // One copy only: an earlier tfauth's entry would otherwise shadow nothing but linger.
            let _ = ring.delete(&user_key(realm, identity));
            Ok(atmos.describe())
        }
        None => {
            ring.set(&user_key(realm, identity), &encode_user_keys(access_key_id, secret_access_key))?;
            Ok(ring.describe())
        }
    }
}

/// Removes `identity`'s keys from `ring`, under both names; true if any were there.
pub fn delete_user_keys(ring: &dyn Keyring, realm: &str, identity: &str) -> Result<bool, KeyringError> {
    let mut had = ring.delete(&user_key(realm, identity))?;
    if let Some(atmos) = ring.atmos_entries() {
        had |= atmos.delete(&atmos_user_key(realm, identity))?;
    }
    Ok(had)
}

/// The keyring entry of the password of `username` at `aws/saml` provider `provider`.
/// tfauth's own name (Atmos keeps no SAML password in its keyring; saml2aws keeps its own):
/// realm, provider and user, so two repositories' providers of one name stay apart and a
/// provider whose user name is asked can hold several users' passwords.
pub fn saml_password_key(realm: &str, provider: &str, username: &str) -> String {
    format!("{realm}/aws-saml/{provider}/{}", username.to_lowercase())
}

/// Stores the password of `username` at `provider`; returns where it went.
pub fn store_saml_password(
    ring: &dyn Keyring,
    realm: &str,
    provider: &str,
    username: &str,
    password: &Secret,
) -> Result<String, KeyringError> {
    ring.set(&saml_password_key(realm, provider, username), password)?;
    Ok(ring.describe())
}

/// Removes the stored passwords of provider `provider` in `realm`, of every user (the
/// user name may have been asked, so all of them); how many went. A store that cannot list
/// its entries (the OS keyring) loses the one of `username`, when it is known.
pub fn delete_saml_passwords(
    ring: &dyn Keyring,
    realm: &str,
    provider: &str,
    username: Option<&str>,
) -> Result<usize, KeyringError> {
    let prefix = format!("{realm}/aws-saml/{provider}/");
    let mut gone = 0;
    let listed = ring.keys().unwrap_or_default();
    for key in listed.iter().filter(|k| k.starts_with(&prefix)) {
        gone += usize::from(ring.delete(key)?);
    }
    if let Some(u) = username {
        let key = saml_password_key(realm, provider, u);
        if !listed.contains(&key) {
            gone += usize::from(ring.delete(&key)?);
        }
    }
    Ok(gone)
}

/// The passwords `auth user configure` stored for an `aws/saml` provider's users, looked
/// up in the configured keyring. The keyring is opened on the first lookup (a provider whose
/// configuration holds the password never opens it, nor asks for a file keyring's password).
pub struct StoredSamlPasswords<'a> {
    auth: &'a Node,
    realm: &'a str,
    env: &'a Env,
    ring: std::cell::OnceCell<Option<Box<dyn Keyring>>>,
}

impl<'a> StoredSamlPasswords<'a> {
    pub fn new(auth: &'a Node, realm: &'a str, env: &'a Env) -> Self {
        StoredSamlPasswords { auth, realm, env, ring: std::cell::OnceCell::new() }
    }

    fn ring(&self) -> Option<&dyn Keyring> {
        self.ring
            .get_or_init(|| {
                open(self.auth, self.env)
                    .map_err(|e| tracing::warn!("no stored SAML password can be read: {e}"))
                    .ok()
                    .flatten()
            })
            .as_deref()
    }
}

impl crate::providers::saml::SavedPasswords for StoredSamlPasswords<'_> {
    fn get(&self, provider: &str, username: &str) -> Option<Secret> {
        let ring = self.ring()?;
        ring.get(&saml_password_key(self.realm, provider, username))
            .map_err(|e| tracing::warn!("cannot read the stored password of `{username}` at `{provider}`: {e}"))
            .ok()
            .flatten()
    }
    fn describe(&self) -> String {
        self.ring().map(|r| r.describe()).unwrap_or_else(|| "keyring".into())
    }
}

/// Keys stored by `auth user configure` (tfauth's or Atmos's) for the chain's root
/// `aws/user` identity, when its configuration holds none. Only looked up when a keyring is
/// configured.
pub fn user_keys(scope: &super::Scope<'_>, chain: &Chain, env: &Env) -> Result<Option<(String, Secret)>, KeyringError> {
    let ChainRoot::Standalone = chain.root else { return Ok(None) };
    let first = &chain.hops[0];
    match &first.kind {
        Some(crate::auth::IdentityKind::User { access_key_id: None, .. }) => {}
        _ => return Ok(None),
    }
    let Some(ring) = open(scope.auth_node, env)? else { return Ok(None) };
    read_user_keys(ring.as_ref(), &scope.realm, &first.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saml_passwords_are_kept_per_realm_provider_and_user_and_logout_removes_every_user() {
        use crate::keyring::memory::MemoryKeyring;
        use crate::providers::saml::SavedPasswords;
        let ring = MemoryKeyring::new();
        store_saml_password(&ring, "acme", "okta", "Alice@Acme.example", &Secret::new("CANARY-a")).unwrap();
        store_saml_password(&ring, "acme", "okta", "bob@acme.example", &Secret::new("CANARY-b")).unwrap();
        store_saml_password(&ring, "other", "okta", "alice@acme.example", &Secret::new("CANARY-o")).unwrap();
        store_saml_password(&ring, "acme", "okta-eu", "alice@acme.example", &Secret::new("CANARY-e")).unwrap();
        assert_eq!(
            ring.get(&saml_password_key("acme", "okta", "alice@acme.example")).unwrap().unwrap().expose(),
            "CANARY-a",
            "user names are matched in any case, as IdPs match them"
        );
        // Looked up through the configured keyring: here the memory keyring of this process,
        // which starts empty, so nothing is found and nothing fails.
        let ctx = crate::yaml::LoadContext::default();
        let auth = crate::yaml::Loader::new(&ctx)
            .load_str("keyring: {type: memory}\n", std::path::Path::new("atmos.yaml"))
            .unwrap();
        let env = crate::env_vars::Env::from_pairs([("HOME", "/nonexistent")]);
        let stored = StoredSamlPasswords::new(&auth, "acme", &env);
        assert_eq!(stored.get("okta", "alice@acme.example"), None);
        assert_eq!(stored.describe(), "memory keyring");

        assert_eq!(delete_saml_passwords(&ring, "acme", "okta", None).unwrap(), 2, "both users of the provider");
        assert_eq!(ring.get(&saml_password_key("acme", "okta", "bob@acme.example")).unwrap(), None);
        assert!(ring.get(&saml_password_key("other", "okta", "alice@acme.example")).unwrap().is_some());
        assert!(ring.get(&saml_password_key("acme", "okta-eu", "alice@acme.example")).unwrap().is_some());
        assert_eq!(delete_saml_passwords(&ring, "acme", "okta", Some("alice@acme.example")).unwrap(), 0);
    }

    #[test]
    fn user_keys_round_trip_and_never_print() {
        let doc = encode_user_keys("AKIAEXAMPLE", &Secret::new("CANARYsecret"));
        assert!(!format!("{doc:?}").contains("CANARY"));
        let (k, s) = decode_user_keys(&doc).unwrap();
        assert_eq!((k.as_str(), s.expose()), ("AKIAEXAMPLE", "CANARYsecret"));
        assert_eq!(decode_user_keys(&Secret::new("{}")), None);
        assert_eq!(user_key("acme", "CI/User"), "acme/aws-user/ci/user");
    }

    /// A store with Atmos's names beside its own, as the OS keyring has.
    struct WithAtmos(crate::keyring::memory::MemoryKeyring, crate::keyring::memory::MemoryKeyring);
    impl Keyring for WithAtmos {
        fn get(&self, key: &str) -> Result<Option<Secret>, KeyringError> {
            self.0.get(key)
        }
        fn set(&self, key: &str, value: &Secret) -> Result<(), KeyringError> {
            self.0.set(key, value)
        }
        fn delete(&self, key: &str) -> Result<bool, KeyringError> {
            self.0.delete(key)
        }
        fn keys(&self) -> Result<Vec<String>, KeyringError> {
            self.0.keys()
        }
        fn describe(&self) -> String {
            "test keyring".into()
        }
        fn atmos_entries(&self) -> Option<Box<dyn Keyring>> {
            Some(Box::new(self.1.clone()))
        }
    }

    #[test]
    fn keys_atmos_stored_are_read_and_new_ones_go_under_its_name() {
        use crate::keyring::memory::MemoryKeyring;
        let (own, atmos) = (MemoryKeyring::new(), MemoryKeyring::new());
        let ring = WithAtmos(own.clone(), atmos.clone());
        // As `atmos auth user configure` stores them (with the fields Atmos adds).
        let doc = r#"{"type":"aws","data":{"access_key_id":"AKIAATMOS","secret_access_key":"CANARY-atmos","mfa_arn":"arn:aws:iam::1:mfa/me","region":"us-east-1"}}"#;
        atmos.set("atmos_acme_ci-user", &Secret::new(doc)).unwrap();
        let (k, s) = read_user_keys(&ring, "acme", "ci-user").unwrap().unwrap();
        assert_eq!((k.as_str(), s.expose()), ("AKIAATMOS", "CANARY-atmos"));
        assert_eq!(read_user_keys(&ring, "other-realm", "ci-user").unwrap(), None, "the realm is part of the name");

        // Stored by tfauth: Atmos's name and shape; an earlier tfauth entry goes.
        own.set(&user_key("acme", "dev"), &encode_user_keys("AKIAOLD", &Secret::new("old"))).unwrap();
        assert_eq!(read_user_keys(&ring, "acme", "dev").unwrap().unwrap().0, "AKIAOLD", "earlier entries still work");
        store_user_keys(&ring, "acme", "dev", "AKIANEW", &Secret::new("new")).unwrap();
        let stored: serde_json::Value =
            serde_json::from_str(atmos.get("atmos_acme_dev").unwrap().unwrap().expose()).unwrap();
        assert_eq!(
            stored,
            serde_json::json!({"type": "aws", "data": {"access_key_id": "AKIANEW", "secret_access_key": "new"}})
        );
        assert_eq!(own.get(&user_key("acme", "dev")).unwrap(), None);
        assert!(delete_user_keys(&ring, "acme", "dev").unwrap());
        assert!(!delete_user_keys(&ring, "acme", "dev").unwrap());

        // Another kind of credential under the name is not keys.
        atmos
            .set(
                "atmos_acme_gcp",
                &Secret::new(r#"{"type":"gcp","data":{"access_key_id":"x","secret_access_key":"y"}}"#),
            )
            .unwrap();
        assert_eq!(read_user_keys(&ring, "acme", "gcp").unwrap(), None);
        // A store without Atmos's names keeps tfauth's.
        let plain = MemoryKeyring::new();
        store_user_keys(&plain, "acme", "dev", "AKIAFILE", &Secret::new("f")).unwrap();
        assert_eq!(read_user_keys(&plain, "acme", "dev").unwrap().unwrap().0, "AKIAFILE");
    }
}
