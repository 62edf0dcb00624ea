//! Atmos's file keyring: a directory with one encrypted file per entry, as Atmos keeps it
//! through 99designs/keyring's file backend, so `atmos auth user configure` and
//! `tfauth auth user configure` serve each other on hosts without an OS keyring.
//!
//! Layout (99designs/keyring v1.2.2 `file.go`, which Atmos's `pkg/keyring/file.go` opens):
//! - the directory is `ATMOS_KEYRING_FILE_PATH`, else `auth.keyring.spec.path`, else
//!   `<data home>/atmos/keyring`; a configured path whose last element has an extension
//!   (`~/.secrets/keyring.db`) means its parent directory, as Atmos reads it;
//! - an entry's file name is its key with `%` and `/` percent-escaped (mtibben/percent);
//! - its content is a JWE ([`super::jwe`]) of the JSON of 99designs's `Item`
//!   (`{"Key":..,"Data":<base64>,"Label":"","Description":"",...}`), `Data` being the
//!   value's bytes, which Go's encoding/json writes as standard base64.
//!
//! Stricter than 99designs (act strictly): the directory is checked and kept 0700 as every
//! tfauth secret directory is ([`crate::util::fs::PrivateDir`]); entries are read only as
//! regular files of the user's, never through a symlink, at most [`ENTRY_CAP`] bytes; each
//! write is a 0600 temporary file renamed over the entry, so a reader never sees half an
//! entry. The password is asked for only when an entry must be decrypted or written (a
//! lookup of an absent key, a deletion and a listing need none), once per process, and
//! checked against an entry already there before a write, so one directory never ends up
//! under two passwords. A key that does not unwrap is a wrong password, unless this
//! password has opened another entry here: then that entry is damaged.
//!
//! What it must not do: create the directory before the first write, follow a link, or
//! put a password or value in an error, a log line or `Debug`.

use super::jwe::{self, JweError};
use super::{KeyringError, file::Password};
use crate::secret::Secret;
use crate::util::fs::PrivateDir;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// The largest entry read (Atmos's entries are a few hundred bytes).
pub const ENTRY_CAP: u64 = 1024 * 1024;
/// How many entries [`AtmosFileKeyring::verify`] tries before giving up on telling.
const VERIFY_TRIES: usize = 3;

/// Where a password comes from: the environment, a prompt, or nowhere (an error naming the
/// variable). Called at most once per keyring.
pub type PasswordSource = Box<dyn Fn() -> Result<(Password, String), KeyringError> + Send + Sync>;

struct Inner {
    dir: PathBuf,
    source: PasswordSource,
    password: Mutex<Option<(Password, String)>>,
    /// The password has opened an entry in this directory.
    verified: AtomicBool,
    /// PBKDF2 rounds for new entries (99designs's 8192; tests use fewer).
    rounds: u32,
}

/// Atmos's file keyring at one directory. Clones share the password.
#[derive(Clone)]
pub struct AtmosFileKeyring {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AtmosFileKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtmosFileKeyring").field("dir", &self.inner.dir).finish_non_exhaustive()
    }
}

/// An entry's file name: `%` and `/` percent-escaped, as mtibben/percent does for 99designs.
pub fn escape(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for c in key.chars() {
        if c == '%' || c == '/' {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The key of a file name (the inverse of [`escape`]; any `%XX` is decoded, as percent does).
pub fn unescape(name: &str) -> String {
    let b = name.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("ascii");
            out.push(u8::from_str_radix(hex, 16).expect("hex digits"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The JSON of 99designs's `Item` holding `value`, in a buffer wiped on drop.
fn item_json(key: &str, value: &str) -> Zeroizing<Vec<u8>> {
    let data = Zeroizing::new(aws_smithy_types::base64::encode(value.as_bytes()));
    let mut buf = Zeroizing::new(Vec::with_capacity(data.len() + key.len() * 2 + 160));
    let doc = serde_json::json!({
        "Key": key,
        "Data": data.as_str(),
        "Label": "",
        "Description": "",
        "KeychainNotTrustApplication": false,
        "KeychainNotSynchronizable": false,
    });
    serde_json::to_writer(&mut *buf, &doc).expect("a JSON value serializes");
    // The Value held a copy of the data; wipe what we can reach of it.
    if let serde_json::Value::Object(mut m) = doc
        && let Some(serde_json::Value::String(s)) = m.get_mut("Data")
    {
        zeroize::Zeroize::zeroize(s);
    }
    buf
}

/// The value in an `Item`'s JSON: its `Data` (matched as Go's encoding/json matches field
/// names: exactly, else ignoring case), base64-decoded; `null` or absent is empty.
fn item_value(json: &[u8]) -> Result<Secret, String> {
    let v: serde_json::Value = serde_json::from_slice(json).map_err(|_| "its content is not JSON".to_string())?;
    let obj = v.as_object().ok_or("its content is not a JSON object")?;
    let data = obj.get("Data").or_else(|| obj.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case("data")).map(|e| e.1));
    let encoded = match data {
        None | Some(serde_json::Value::Null) => return Ok(Secret::new("")),
        Some(serde_json::Value::String(s)) => s,
        Some(_) => return Err("its `Data` is not a base64 string".into()),
    };
    let bytes = Zeroizing::new(
        aws_smithy_types::base64::decode(encoded).map_err(|_| "its `Data` is not a base64 string".to_string())?,
    );
    let text = std::str::from_utf8(&bytes).map_err(|_| "its value is not text".to_string())?;
    Ok(Secret::new(text))
}

impl AtmosFileKeyring {
    /// The keyring at `dir` (which need not exist); `source` gives the password when one is
    /// first needed.
    pub fn new(dir: PathBuf, source: PasswordSource) -> AtmosFileKeyring {
        AtmosFileKeyring::with_rounds(dir, source, jwe::P2C)
    }

    pub(crate) fn with_rounds(dir: PathBuf, source: PasswordSource, rounds: u32) -> AtmosFileKeyring {
        AtmosFileKeyring {
            inner: Arc::new(Inner {
                dir,
                source,
                password: Mutex::new(None),
                verified: AtomicBool::new(false),
                rounds,
            }),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    fn io(&self, action: &'static str, path: PathBuf) -> impl FnOnce(std::io::Error) -> KeyringError {
        move |source| KeyringError::Io { action, path, source }
    }

    /// The password (asked for once) and where it came from.
    pub(crate) fn password(&self) -> Result<(Password, String), KeyringError> {
        let mut cached = self.inner.password.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((p, from)) = cached.as_ref() {
            return Ok((p.clone(), from.clone()));
        }
        let (p, from) = (self.inner.source)()?;
        *cached = Some((p.clone(), from.clone()));
        Ok((p, from))
    }

    /// The directory, checked, if it exists.
    fn open_dir(&self) -> Result<Option<PrivateDir>, KeyringError> {
        PrivateDir::open(&self.inner.dir).map_err(self.io("open", self.inner.dir.clone()))
    }

    /// The entry files' names (dot files are tfauth's temporaries, never entries).
    fn entry_names(&self, dir: &PrivateDir) -> Result<Vec<String>, KeyringError> {
        let names = dir.names().map_err(self.io("list", self.inner.dir.clone()))?;
        Ok(names.into_iter().filter(|n| !n.starts_with('.')).collect())
    }

    /// Decrypts the entry file `name`; Ok(None) when there is none.
    fn read(&self, dir: &PrivateDir, name: &str) -> Result<Option<Secret>, KeyringError> {
        let path = self.inner.dir.join(name);
        let Some(bytes) = dir.read(name, ENTRY_CAP).map_err(self.io("read", path.clone()))? else {
            return Ok(None);
        };
        let damaged = |reason: String| KeyringError::Tampered { path: path.clone(), reason };
        let token = std::str::from_utf8(&bytes).map_err(|_| damaged("it is not a JWE (not text)".into()))?;
        let (password, from) = self.password()?;
        let plain = match jwe::open(token, password.expose().as_bytes()) {
            Ok(p) => p,
            Err(JweError::KeyUnwrap) if !self.inner.verified.load(Ordering::Relaxed) => {
                return Err(KeyringError::WrongPassword { path: self.inner.dir.clone(), var: from });
            }
            Err(JweError::KeyUnwrap) => {
                return Err(damaged("its key does not unwrap with the password that opens the other entries".into()));
            }
            Err(e) => return Err(damaged(e.to_string())),
        };
        self.inner.verified.store(true, Ordering::Relaxed);
        item_value(&plain).map(Some).map_err(damaged)
    }

    /// Checks the password against up to a few entries already here (nothing to check in
    /// an empty or absent directory). [`KeyringError::WrongPassword`] when none opens and at
    /// least one refused the key; a damaged entry is skipped.
    pub fn verify(&self) -> Result<(), KeyringError> {
        if self.inner.verified.load(Ordering::Relaxed) {
            return Ok(());
        }
        let Some(dir) = self.open_dir()? else { return Ok(()) };
        let mut refused = None;
        for name in self.entry_names(&dir)?.iter().take(VERIFY_TRIES) {
            match self.read(&dir, name) {
                Ok(_) => return Ok(()),
                Err(e @ KeyringError::WrongPassword { .. }) => refused = Some(e),
                Err(KeyringError::Tampered { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        refused.map_or(Ok(()), Err)
    }

    /// How many entries the directory holds (0 when it does not exist); no password needed.
    pub fn entry_count(&self) -> Result<usize, KeyringError> {
        match self.open_dir()? {
            Some(d) => Ok(self.entry_names(&d)?.len()),
            None => Ok(0),
        }
    }
}

impl super::Keyring for AtmosFileKeyring {
    fn get(&self, key: &str) -> Result<Option<Secret>, KeyringError> {
        match self.open_dir()? {
            Some(dir) => self.read(&dir, &escape(key)),
            None => Ok(None),
        }
    }

    fn set(&self, key: &str, value: &Secret) -> Result<(), KeyringError> {
        self.verify()?;
        let (password, _) = self.password()?;
        let plain = item_json(key, value.expose());
        let token = jwe::seal_with(&plain, password.expose().as_bytes(), &jwe::created_now(), self.inner.rounds);
        let dir = PrivateDir::create(&self.inner.dir).map_err(self.io("create", self.inner.dir.clone()))?;
        let name = escape(key);
        dir.replace(&name, token.as_bytes(), true, 0o600).map_err(self.io("write", self.inner.dir.join(&name)))?;
        self.inner.verified.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<bool, KeyringError> {
        let Some(dir) = self.open_dir()? else { return Ok(false) };
        let name = escape(key);
        dir.remove(&name).map_err(self.io("remove", self.inner.dir.join(&name)))
    }

    fn keys(&self) -> Result<Vec<String>, KeyringError> {
        let Some(dir) = self.open_dir()? else { return Ok(vec![]) };
        let mut keys: Vec<String> = self.entry_names(&dir)?.iter().map(|n| unescape(n)).collect();
        keys.sort();
        Ok(keys)
    }

    fn describe(&self) -> String {
        format!("file keyring {}", self.inner.dir.display())
    }

    fn ready_to_write(&self) -> Result<(), KeyringError> {
        self.password()?;
        self.verify()
    }

    /// The same directory: Atmos's names live beside tfauth's earlier ones.
    fn atmos_entries(&self) -> Option<Box<dyn super::Keyring>> {
        Some(Box::new(self.clone()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::exit;
    use crate::keyring::Keyring;
    use std::os::unix::fs::PermissionsExt;

    /// A keyring at `dir` with a fixed password and few PBKDF2 rounds.
    pub(crate) fn cheap(dir: &Path, password: &str) -> AtmosFileKeyring {
        let password = password.to_string();
        AtmosFileKeyring::with_rounds(
            dir.to_path_buf(),
            Box::new(move || Ok((Password::new(password.clone()), "ATMOS_KEYRING_PASSWORD".to_string()))),
            16,
        )
    }

    #[test]
    fn names_are_escaped_as_99designs_does() {
        assert_eq!(escape("atmos_acme_ci-user"), "atmos_acme_ci-user");
        assert_eq!(escape("acme/aws-user/ci"), "acme%2Faws-user%2Fci");
        assert_eq!(escape("100%/x"), "100%25%2Fx");
        for k in ["atmos_acme_ci-user", "acme/aws-user/ci", "100%/x", "é/ü", "%2F", "a%"] {
            assert_eq!(unescape(&escape(k)), k);
        }
        assert_eq!(unescape("a%2fb"), "a/b", "lower-case hex is decoded too");
        assert_eq!(unescape("a%zz%2"), "a%zz%2", "what is not %XX stays");
    }

    #[test]
    fn round_trip_private_files_one_per_entry() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("data/atmos/keyring");
        let k = cheap(&dir, "correct horse");
        assert_eq!(k.get("atmos_acme_ci").unwrap(), None);
        assert!(!dir.exists(), "a lookup creates nothing");
        k.set("atmos_acme_ci", &Secret::new(r#"{"type":"aws","data":{"access_key_id":"AKIA"}}"#)).unwrap();
        k.set("acme/aws-user/old", &Secret::new("CANARY-OLD")).unwrap();
        let k = cheap(&dir, "correct horse");
        assert_eq!(
            k.get("atmos_acme_ci").unwrap().unwrap().expose(),
            r#"{"type":"aws","data":{"access_key_id":"AKIA"}}"#
        );
        assert_eq!(k.keys().unwrap(), ["acme/aws-user/old", "atmos_acme_ci"]);
        let mut names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["acme%2Faws-user%2Fold", "atmos_acme_ci"], "no temporaries left");
        for n in &names {
            let p = dir.join(n);
            assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(!text.contains("CANARY") && !text.contains("AKIA") && !text.contains("acme"), "{text}");
        }
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        assert!(k.delete("acme/aws-user/old").unwrap());
        assert!(!k.delete("acme/aws-user/old").unwrap());
        assert_eq!(k.keys().unwrap(), ["atmos_acme_ci"]);
        assert_eq!(k.describe(), format!("file keyring {}", dir.display()));
        assert!(!format!("{k:?}").contains("correct horse"));
    }

    #[test]
    fn the_item_is_99designs_json() {
        let t = tempfile::tempdir().unwrap();
        let k = cheap(t.path(), "correct horse");
        k.set("atmos_r_id", &Secret::new("v\u{e9}")).unwrap();
        let token = std::fs::read_to_string(t.path().join("atmos_r_id")).unwrap();
        let plain = jwe::open(&token, b"correct horse").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"Key": "atmos_r_id", "Data": "dsOp", "Label": "", "Description": "",
                "KeychainNotTrustApplication": false, "KeychainNotSynchronizable": false})
        );
        // Go reads field names ignoring case, and a null Data as empty.
        assert_eq!(item_value(br#"{"key":"k","data":"dsOp"}"#).unwrap().expose(), "v\u{e9}");
        assert_eq!(item_value(br#"{"Key":"k","Data":null}"#).unwrap().expose(), "");
        assert!(item_value(br#"{"Data":5}"#).is_err());
        assert!(item_value(b"[1]").is_err());
    }

    #[test]
    fn wrong_password_is_not_a_damaged_entry() {
        let t = tempfile::tempdir().unwrap();
        let k = cheap(t.path(), "correct horse");
        k.set("a", &Secret::new("one")).unwrap();
        k.set("b", &Secret::new("two")).unwrap();
        let wrong = cheap(t.path(), "wrong horse!");
        let e = wrong.get("a").unwrap_err();
        assert!(matches!(e, KeyringError::WrongPassword { .. }), "{e}");
        assert_eq!(e.exit_code(), exit::NOPERM);
        let msg = format!("{e} {e:?} {}", e.hint().unwrap());
        assert!(msg.contains(&t.path().display().to_string()) && !msg.contains("horse"), "{msg}");
        assert!(matches!(wrong.verify(), Err(KeyringError::WrongPassword { .. })));
        assert!(matches!(wrong.set("c", &Secret::new("x")), Err(KeyringError::WrongPassword { .. })));
        assert!(!t.path().join("c").exists(), "a wrong password writes nothing");

        // A flipped byte in an entry: damaged, exit 65, whatever the password did before.
        let path = t.path().join("b");
        let mut token = std::fs::read_to_string(&path).unwrap();
        let last = token.pop().unwrap();
        token.push(if last == 'A' { 'B' } else { 'A' });
        std::fs::write(&path, &token).unwrap();
        let e = cheap(t.path(), "correct horse").get("b").unwrap_err();
        assert!(matches!(&e, KeyringError::Tampered { path: p, .. } if p.ends_with("b")), "{e}");
        assert_eq!(e.exit_code(), exit::DATAERR);
        // Another entry's key that does not unwrap, once the password opened one: damaged.
        let other = jwe::seal_with(b"{}", b"another password", "x", 16);
        std::fs::write(t.path().join("c"), other).unwrap();
        let k = cheap(t.path(), "correct horse");
        assert_eq!(k.get("a").unwrap().unwrap().expose(), "one");
        assert!(matches!(k.get("c"), Err(KeyringError::Tampered { .. })));
        std::fs::write(t.path().join("d"), "garbage").unwrap();
        assert!(matches!(k.get("d"), Err(KeyringError::Tampered { .. })));
    }

    #[test]
    fn symlinks_and_foreign_files_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("ring");
        let k = cheap(&dir, "correct horse");
        k.set("a", &Secret::new("one")).unwrap();
        std::fs::write(t.path().join("elsewhere"), "x").unwrap();
        std::os::unix::fs::symlink(t.path().join("elsewhere"), dir.join("atmos_r_link")).unwrap();
        let e = k.get("atmos_r_link").unwrap_err();
        assert!(matches!(&e, KeyringError::Io { .. }) && e.to_string().contains("atmos_r_link"), "{e}");
        assert_eq!(e.exit_code(), exit::IOERR);
        assert!(e.hint().unwrap().contains("remove the link"), "{:?}", e.hint());
        // The keyring directory itself a link: refused too.
        std::os::unix::fs::symlink(&dir, t.path().join("linked")).unwrap();
        let e = cheap(&t.path().join("linked"), "correct horse").get("a").unwrap_err();
        assert_eq!(e.exit_code(), exit::IOERR, "{e}");
        // A directory others can write above it: refused, with the chmod to run.
        let open = t.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = cheap(&open.join("ring"), "correct horse").set("a", &Secret::new("x")).unwrap_err();
        assert_eq!(e.exit_code(), exit::IOERR, "{e}");
        assert!(e.hint().unwrap().contains("chmod go-w"), "{:?}", e.hint());
        // The keyring directory of ours but wider than 0700: tightened, as tfauth's own are.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(k.get("a").unwrap().unwrap().expose(), "one");
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn no_password_is_needed_to_look_up_absent_keys_list_or_delete() {
        let t = tempfile::tempdir().unwrap();
        cheap(t.path(), "correct horse").set("a", &Secret::new("one")).unwrap();
        let k = AtmosFileKeyring::new(
            t.path().to_path_buf(),
            Box::new(|| Err(KeyringError::PasswordMissing { path: "/x".into(), vars: vec!["V".into()] })),
        );
        assert_eq!(k.get("absent").unwrap(), None);
        assert_eq!(k.keys().unwrap(), ["a"]);
        assert!(matches!(k.get("a"), Err(KeyringError::PasswordMissing { .. })));
        assert!(k.delete("a").unwrap());
    }
}
