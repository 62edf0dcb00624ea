//! The system keyring, through the `keyring` crate: the Secret Service on Linux (over
//! pure-Rust D-Bus, no libdbus), the keychain on macOS, the credential store on Windows.
//! Entries are service `tfauth`, user = the key (on Linux, the attributes `service`,
//! `username` and `target=default`, so `secret-tool lookup service tfauth username KEY`
//! finds them).
//!
//! The `keyring` crate reads the D-Bus address from the process environment
//! (`DBUS_SESSION_BUS_ADDRESS`), not from [`Env`]. Every call runs on a thread of its own
//! with a deadline, so a bus that accepts and never answers (or a runtime the caller is
//! inside) can never hang or break tfauth: [`SystemKeyring::open`] probes with a lookup of
//! a sentinel entry and returns [`KeyringError::SystemUnavailable`] within
//! [`PROBE_TIMEOUT`]. Falling back to another keyring is the caller's decision.

use super::{Keyring, KeyringError};
use crate::env_vars::Env;
use crate::secret::Secret;
use std::time::Duration;

/// The service name every entry is stored under.
pub const SERVICE: &str = "tfauth";
/// The entry [`SystemKeyring::open`] looks up to see whether the keyring answers.
pub const PROBE_USER: &str = "tfauth-probe";
/// How long the availability probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one operation may take: long enough for a person to answer an unlock prompt.
pub const OP_TIMEOUT: Duration = Duration::from_secs(120);

/// The account Atmos files its OS-keyring entries under (`pkg/auth/credentials`,
/// `pkg/keyring/system.go`, through zalando/go-keyring): each entry is service = the key,
/// user = this account, with no `target` attribute on Linux.
pub const ATMOS_ACCOUNT: &str = "atmos-auth";

/// The OS keyring. Cannot list its keys.
#[derive(Debug)]
pub struct SystemKeyring {
    name: &'static str,
}

#[cfg(target_os = "linux")]
const NAME: &str = "Secret Service (org.freedesktop.secrets)";
#[cfg(target_os = "macos")]
const NAME: &str = "macOS keychain";
#[cfg(target_os = "windows")]
const NAME: &str = "Windows Credential Manager";
#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
const NAME: &str = "system keyring";

impl SystemKeyring {
    /// Probes the OS keyring; [`KeyringError::SystemUnavailable`] when it does not answer.
    pub fn open(env: &Env) -> Result<SystemKeyring, KeyringError> {
        let keyring = SystemKeyring { name: NAME };
        let where_ = bus_description(env);
        match run(PROBE_TIMEOUT, || imp::get(PROBE_USER)) {
            Ok(_) => Ok(keyring),
            Err(Failure::Timeout) => Err(KeyringError::SystemUnavailable {
                reason: format!("{NAME}{where_} did not answer within {}s", PROBE_TIMEOUT.as_secs()),
            }),
            Err(Failure::Backend(reason)) => {
                Err(KeyringError::SystemUnavailable { reason: format!("{NAME}{where_}: {reason}") })
            }
        }
    }

    fn error(&self, action: &'static str, key: &str, failure: Failure) -> KeyringError {
        let reason = match failure {
            Failure::Timeout => format!("no answer within {}s", OP_TIMEOUT.as_secs()),
            Failure::Backend(r) => r,
        };
        KeyringError::System { keyring: self.name.to_string(), action, key: key.to_string(), reason }
    }
}

/// ` at <bus address>` on Linux, for messages.
fn bus_description(env: &Env) -> String {
    if cfg!(target_os = "linux") {
        match env.get(crate::env_vars::DBUS_SESSION_BUS_ADDRESS) {
            Some(addr) => format!(" on the D-Bus session bus {addr}"),
            None => " (DBUS_SESSION_BUS_ADDRESS is not set)".into(),
        }
    } else {
        String::new()
    }
}

impl Keyring for SystemKeyring {
    fn get(&self, key: &str) -> Result<Option<Secret>, KeyringError> {
        let k = key.to_string();
        run(OP_TIMEOUT, move || imp::get(&k)).map_err(|f| self.error("read", key, f))
    }
    fn set(&self, key: &str, value: &Secret) -> Result<(), KeyringError> {
        let (k, v) = (key.to_string(), value.clone());
        run(OP_TIMEOUT, move || imp::set(&k, &v)).map_err(|f| self.error("store", key, f))
    }
    fn delete(&self, key: &str) -> Result<bool, KeyringError> {
        let k = key.to_string();
        run(OP_TIMEOUT, move || imp::delete(&k)).map_err(|f| self.error("delete", key, f))
    }
    fn keys(&self) -> Result<Vec<String>, KeyringError> {
        Err(KeyringError::Unsupported { keyring: self.name.to_string(), operation: "list its keys" })
    }
    fn describe(&self) -> String {
        self.name.to_string()
    }
    fn atmos_entries(&self) -> Option<Box<dyn Keyring>> {
        Some(Box::new(AtmosEntries { name: self.name }))
    }
}

/// Atmos's entries in the OS keyring: what `atmos auth user configure` stored is found,
/// and what tfauth stores there Atmos finds. Cannot list its keys either.
#[derive(Debug)]
pub struct AtmosEntries {
    name: &'static str,
}

impl AtmosEntries {
    fn error(&self, action: &'static str, key: &str, failure: Failure) -> KeyringError {
        SystemKeyring { name: self.name }.error(action, key, failure)
    }
}

impl Keyring for AtmosEntries {
    fn get(&self, key: &str) -> Result<Option<Secret>, KeyringError> {
        let k = key.to_string();
        run(OP_TIMEOUT, move || imp::atmos_get(&k)).map_err(|f| self.error("read", key, f))
    }
    fn set(&self, key: &str, value: &Secret) -> Result<(), KeyringError> {
        let (k, v) = (key.to_string(), value.clone());
        run(OP_TIMEOUT, move || imp::atmos_set(&k, &v)).map_err(|f| self.error("store", key, f))
    }
    fn delete(&self, key: &str) -> Result<bool, KeyringError> {
        let k = key.to_string();
        run(OP_TIMEOUT, move || imp::atmos_delete(&k)).map_err(|f| self.error("delete", key, f))
    }
    fn keys(&self) -> Result<Vec<String>, KeyringError> {
        Err(KeyringError::Unsupported { keyring: self.name.to_string(), operation: "list its keys" })
    }
    fn describe(&self) -> String {
        format!("{} (Atmos's entries)", self.name)
    }
}

/// Why a call failed, in words that never include a secret.
enum Failure {
    Timeout,
    Backend(String),
}

/// Runs `f` on its own thread and waits at most `timeout`; a call that overruns is left
/// to finish (or not) on its own.
fn run<T: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, Failure> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("tfauth-keyring".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| Failure::Backend(format!("cannot start a thread: {e}")))?;
    match rx.recv_timeout(timeout) {
        Ok(result) => result.map_err(Failure::Backend),
        Err(_) => Err(Failure::Timeout),
    }
}

#[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
mod imp {
    use super::SERVICE;
    use crate::secret::Secret;
    use keyring::{Entry, Error};

    /// The error in words. Never `{:?}`: `BadEncoding` holds the stored bytes.
    fn describe(e: &Error) -> String {
        match e {
            Error::PlatformFailure(e) => format!("platform failure: {e}"),
            Error::NoStorageAccess(e) => format!("no access to the keyring: {e}"),
            Error::NoEntry => "no such entry".into(),
            Error::BadEncoding(_) => "the stored value is not UTF-8".into(),
            Error::TooLong(name, len) => format!("{name} is longer than the platform's limit of {len}"),
            Error::Invalid(attr, reason) => format!("{attr} is invalid: {reason}"),
            Error::Ambiguous(items) => format!("{} entries match", items.len()),
            _ => "unknown error".into(),
        }
    }

    fn entry(key: &str) -> Result<Entry, String> {
        Entry::new(SERVICE, key).map_err(|e| describe(&e))
    }

    pub fn get(key: &str) -> Result<Option<Secret>, String> {
        match entry(key)?.get_password() {
            Ok(v) => Ok(Some(Secret::new(v))),
            Err(Error::NoEntry) => Ok(None),
            Err(e) => Err(describe(&e)),
        }
    }

    pub fn set(key: &str, value: &Secret) -> Result<(), String> {
        entry(key)?.set_password(value.expose()).map_err(|e| describe(&e))
    }

    pub fn delete(key: &str) -> Result<bool, String> {
        remove(entry(key)?)
    }

    fn remove(entry: Entry) -> Result<bool, String> {
        match entry.delete_credential() {
            Ok(()) => Ok(true),
            Err(Error::NoEntry) => Ok(false),
            Err(e) => Err(describe(&e)),
        }
    }

    /// Atmos's entry for `key`: service = the key, user = [`super::ATMOS_ACCOUNT`]; on
    /// Linux searched by those two attributes only, as go-keyring writes them.
    fn atmos_entry(key: &str) -> Result<Entry, String> {
        #[cfg(target_os = "linux")]
        {
            let cred = keyring::secret_service::SsCredential::new_with_no_target(key, super::ATMOS_ACCOUNT)
                .map_err(|e| describe(&e))?;
            Ok(Entry::new_with_credential(Box::new(cred)))
        }
        #[cfg(not(target_os = "linux"))]
        {
            Entry::new(key, super::ATMOS_ACCOUNT).map_err(|e| describe(&e))
        }
    }

    pub fn atmos_get(key: &str) -> Result<Option<Secret>, String> {
        match atmos_entry(key)?.get_password() {
            Ok(v) => Ok(Some(Secret::new(v))),
            Err(Error::NoEntry) => Ok(None),
            Err(e) => Err(describe(&e)),
        }
    }

    /// Updates Atmos's entry in place, or creates one. On Linux a new item needs a
    /// collection, so it is created in the default one with a `target` attribute too, which
    /// go-keyring's lookup by `service` and `username` still finds.
    pub fn atmos_set(key: &str, value: &Secret) -> Result<(), String> {
        match atmos_entry(key)?.set_password(value.expose()) {
            Ok(()) => Ok(()),
            #[cfg(target_os = "linux")]
            Err(Error::Invalid(..)) => {
                let cred = keyring::secret_service::SsCredential::new_with_target(None, key, super::ATMOS_ACCOUNT)
                    .map_err(|e| describe(&e))?;
                Entry::new_with_credential(Box::new(cred)).set_password(value.expose()).map_err(|e| describe(&e))
            }
            Err(e) => Err(describe(&e)),
        }
    }

    pub fn atmos_delete(key: &str) -> Result<bool, String> {
        remove(atmos_entry(key)?)
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
mod imp {
    use crate::secret::Secret;

    const UNSUPPORTED: &str = "tfauth has no system keyring on this platform";

    pub fn get(_: &str) -> Result<Option<Secret>, String> {
        Err(UNSUPPORTED.into())
    }
    pub fn set(_: &str, _: &Secret) -> Result<(), String> {
        Err(UNSUPPORTED.into())
    }
    pub fn delete(_: &str) -> Result<bool, String> {
        Err(UNSUPPORTED.into())
    }
    pub fn atmos_get(_: &str) -> Result<Option<Secret>, String> {
        Err(UNSUPPORTED.into())
    }
    pub fn atmos_set(_: &str, _: &Secret) -> Result<(), String> {
        Err(UNSUPPORTED.into())
    }
    pub fn atmos_delete(_: &str) -> Result<bool, String> {
        Err(UNSUPPORTED.into())
    }
}
