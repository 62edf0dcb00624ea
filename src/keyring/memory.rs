//! The memory keyring: a map in this process. Nothing is written anywhere, so nothing
//! survives the process: a login stored here lasts one tfauth run. Useful for tests and
//! one-shot CI runs whose credentials come from the environment anyway.

use super::{Keyring, KeyringError};
use crate::secret::Secret;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

/// A process-local map of secrets. Clones share the map.
#[derive(Clone, Debug, Default)]
pub struct MemoryKeyring {
    map: Arc<Mutex<BTreeMap<String, Secret>>>,
}

impl MemoryKeyring {
    /// A new, empty keyring of its own.
    pub fn new() -> MemoryKeyring {
        MemoryKeyring::default()
    }

    /// The keyring every `open()` of `type: memory` in this process shares, so what one
    /// step stores a later step of the same run can read.
    pub fn shared() -> MemoryKeyring {
        static SHARED: OnceLock<MemoryKeyring> = OnceLock::new();
        SHARED.get_or_init(MemoryKeyring::new).clone()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Secret>> {
        // A panic while holding the lock cannot leave the map half-changed: every change is one call.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Keyring for MemoryKeyring {
    fn get(&self, key: &str) -> Result<Option<Secret>, KeyringError> {
        Ok(self.map().get(key).cloned())
    }
    fn set(&self, key: &str, value: &Secret) -> Result<(), KeyringError> {
        self.map().insert(key.to_string(), value.clone());
        Ok(())
    }
    fn delete(&self, key: &str) -> Result<bool, KeyringError> {
        Ok(self.map().remove(key).is_some())
    }
    fn keys(&self) -> Result<Vec<String>, KeyringError> {
        Ok(self.map().keys().cloned().collect())
    }
    fn describe(&self) -> String {
        "memory keyring".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let k = MemoryKeyring::new();
        assert_eq!(k.get("acme/sso/1").unwrap(), None);
        k.set("acme/sso/1", &Secret::new("{\"token\":\"CANARY\"}")).unwrap();
        k.set("acme/aws-user/ci", &Secret::new("two")).unwrap();
        k.set("acme/sso/1", &Secret::new("one")).unwrap();
        assert_eq!(k.get("acme/sso/1").unwrap().unwrap().expose(), "one");
        assert_eq!(k.keys().unwrap(), ["acme/aws-user/ci", "acme/sso/1"]);
        assert!(k.delete("acme/sso/1").unwrap());
        assert!(!k.delete("acme/sso/1").unwrap());
        assert_eq!(k.keys().unwrap(), ["acme/aws-user/ci"]);
        assert!(!format!("{k:?}").contains("two"), "Debug shows no value");
        assert!(MemoryKeyring::new().keys().unwrap().is_empty(), "new() is a keyring of its own");
    }
}
