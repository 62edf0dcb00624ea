//! tfauth's earlier file keyring: every secret in one file, encrypted under a password from
//! the environment. tfauth no longer writes it: Atmos's file keyring
//! ([`super::atmos_file`]) is what both tools read, so entries found here are moved there
//! the first time the file keyring is opened with the password ([`super::migrate`]), and
//! this file is then removed. This module stays so that no earlier tfauth user loses a key;
//! its writer is kept for that migration's tests.
//!
//! The key is derived from the password with Argon2id over a random salt; the body, a JSON
//! object of key → value, is sealed with XChaCha20-Poly1305 under a fresh random nonce on
//! every write, with the whole header as associated data. The plaintext exists only in
//! memory (wiped after use); the file is replaced atomically, 0600 in a 0700 directory.
//!
//! On-disk format, version 1 (integers little-endian):
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 8 | magic `TFAUTHKR` |
//! | 8 | 1 | format version, 1 |
//! | 9 | 1 | KDF, 1 = Argon2id v1.3 |
//! | 10 | 4+4+4 | Argon2 memory (KiB), iterations, parallelism |
//! | 22 | 16 | salt |
//! | 38 | 24 | key-check nonce |
//! | 62 | 16 | key check: XChaCha20-Poly1305 tag of the empty message, AAD = `tfauth keyring key check` ‖ bytes 0..62 |
//! | 78 | 32 | SHA-256 of bytes 0..78 (catches a damaged header before blaming the password) |
//! | 110 | 24 | body nonce |
//! | 134 | rest | body ciphertext and tag, AAD = bytes 0..110 |
//!
//! Reading checks, in order: length and magic, version, header checksum, KDF parameters
//! ([`KeyringError::Tampered`] on any), then the key check ([`KeyringError::WrongPassword`]),
//! then the body ([`KeyringError::Tampered`]). A wrong password is therefore told apart
//! from a damaged file, and a damaged header is never reported as a wrong password.
//!
//! Writers take `<path>.lock` and re-read the file under it, so concurrent writers in
//! several processes lose no key. Readers take no lock: the file is always whole.

use super::{Keyring, KeyringError};
use crate::secret::Secret;
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// The first bytes of every file in this format.
pub const MAGIC: &[u8; 8] = b"TFAUTHKR";
const VERSION: u8 = 1;
const KDF_ARGON2ID: u8 = 1;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;
const CHECK_AAD: &[u8] = b"tfauth keyring key check";
/// Bytes covered by the key check's AAD: magic through the key-check nonce.
const CHECKED_LEN: usize = 38 + NONCE_LEN;
/// Bytes covered by the header checksum: everything before it.
const SUMMED_LEN: usize = CHECKED_LEN + TAG_LEN;
/// The header: magic through the checksum; the body's AAD.
const HEADER_LEN: usize = SUMMED_LEN + 32;
/// The smallest whole file: a header, a nonce and the tag of an empty body.
const MIN_LEN: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;
/// How long a writer waits for another to finish.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Argon2id cost parameters, stored in each file's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl KdfParams {
    /// OWASP's recommendation for Argon2id: 19 MiB, 2 iterations, 1 lane (tens of ms).
    pub const DEFAULT: KdfParams = KdfParams { m_kib: 19456, t: 2, p: 1 };

    /// Parameters a file may ask for: enough for any sane setting, not enough for a hostile
    /// header to exhaust memory or time.
    fn plausible(self) -> bool {
        (1..=16).contains(&self.p) && (8 * self.p..=4 * 1024 * 1024).contains(&self.m_kib) && (1..=64).contains(&self.t)
    }

    fn weaker_than(self, other: KdfParams) -> bool {
        self.m_kib < other.m_kib || self.t < other.t
    }
}

/// The keyring's password, wiped from memory on drop. Never formatted.
pub struct Password(Zeroizing<String>);

impl Password {
    pub fn new(s: impl Into<String>) -> Password {
        Password(Zeroizing::new(s.into()))
    }
    /// The password itself, for a key derivation; never for printing.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl Clone for Password {
    fn clone(&self) -> Password {
        Password(Zeroizing::new(self.0.as_str().to_string()))
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(crate::secret::REDACTED)
    }
}

/// A derived key and the header fields it belongs to.
struct DerivedKey {
    params: KdfParams,
    salt: [u8; SALT_LEN],
    key: Zeroizing<[u8; KEY_LEN]>,
}

/// The decrypted body: key → value.
type Entries = BTreeMap<String, Secret>;

/// A parsed header (the bytes are kept whole: they are the body's AAD).
struct Header {
    bytes: [u8; HEADER_LEN],
    params: KdfParams,
    salt: [u8; SALT_LEN],
}

/// The encrypted file keyring at one path.
pub struct FileKeyring {
    path: PathBuf,
    lock_path: PathBuf,
    password: Password,
    /// The variable the password came from, for errors.
    password_var: String,
    /// Parameters for new files, and the floor below which a rewrite re-keys.
    target: KdfParams,
    /// The key of the file as last read (or the one a new file will get).
    key: Mutex<Option<DerivedKey>>,
}

impl std::fmt::Debug for FileKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileKeyring")
            .field("path", &self.path)
            .field("password", &self.password)
            .field("password_var", &self.password_var)
            .finish_non_exhaustive()
    }
}

impl FileKeyring {
    /// Opens the keyring at `path` (which need not exist yet). An existing file is read
    /// now, so a wrong password or a damaged file is reported here, and its key derived
    /// once for every later call.
    pub fn open(
        path: PathBuf,
        password: Password,
        password_var: String,
        target: KdfParams,
    ) -> Result<FileKeyring, KeyringError> {
        let lock_path = {
            let mut name = path.file_name().unwrap_or_default().to_os_string();
            name.push(".lock");
            path.with_file_name(name)
        };
        let keyring = FileKeyring { path, lock_path, password, password_var, target, key: Mutex::new(None) };
        keyring.load()?;
        Ok(keyring)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn tampered(&self, reason: impl Into<String>) -> KeyringError {
        KeyringError::Tampered { path: self.path.clone(), reason: reason.into() }
    }

    fn io(&self, action: &'static str) -> impl FnOnce(std::io::Error) -> KeyringError + '_ {
        move |source| KeyringError::Io { action, path: self.path.clone(), source }
    }

    /// The file's entries, or None when there is no file yet.
    fn load(&self) -> Result<Option<(Header, Entries)>, KeyringError> {
        // Only a regular file of the user's, in a directory of the user's, never a link.
        let data = match crate::util::fs::read_private(&self.path, crate::util::fs::READ_CAP) {
            Ok(Some(d)) => d,
            Ok(None) => return Ok(None),
            Err(e) => return Err(self.io("read")(e)),
        };
        let header = self.parse_header(&data)?;
        let key = self.key_for(&header)?;
        let body = &data[HEADER_LEN..];
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let cipher = XChaCha20Poly1305::new(key.as_slice().into());
        let plain = cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: &header.bytes })
            .map(Zeroizing::new)
            .map_err(|_| self.tampered("the body does not match its authentication tag"))?;
        let map: BTreeMap<String, String> =
            serde_json::from_slice(&plain).map_err(|_| self.tampered("the body is not a JSON object of strings"))?;
        Ok(Some((header, map.into_iter().map(|(k, v)| (k, Secret::new(v))).collect())))
    }

    fn parse_header(&self, data: &[u8]) -> Result<Header, KeyringError> {
        if data.len() < MAGIC.len() || &data[..MAGIC.len()] != MAGIC {
            return Err(self.tampered("it is not a tfauth keyring file"));
        }
        if data[8..].first().is_some_and(|v| *v != VERSION) {
            return Err(KeyringError::UnsupportedVersion { path: self.path.clone(), version: data[8] });
        }
        if data.len() < MIN_LEN {
            return Err(self.tampered(format!("it is truncated ({} bytes)", data.len())));
        }
        let bytes: [u8; HEADER_LEN] = data[..HEADER_LEN].try_into().expect("length checked");
        if Sha256::digest(&bytes[..SUMMED_LEN]).as_slice() != &bytes[SUMMED_LEN..] {
            return Err(self.tampered("the header does not match its checksum"));
        }
        let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        let params = KdfParams { m_kib: u32_at(10), t: u32_at(14), p: u32_at(18) };
        if bytes[9] != KDF_ARGON2ID || !params.plausible() {
            return Err(self.tampered("the header names an unknown key derivation"));
        }
        let salt = bytes[22..22 + SALT_LEN].try_into().expect("salt length");
        Ok(Header { bytes, params, salt })
    }

    /// The key for `header`'s salt and parameters (derived once, then cached), checked
    /// against the header's key check.
    fn key_for(&self, header: &Header) -> Result<Zeroizing<[u8; KEY_LEN]>, KeyringError> {
        let mut cached = self.key.lock().unwrap_or_else(|p| p.into_inner());
        let key = match cached.as_ref() {
            Some(k) if k.params == header.params && k.salt == header.salt => k.key.clone(),
            _ => self.derive(header.params, &header.salt)?,
        };
        let check_nonce = &header.bytes[38..CHECKED_LEN];
        let check_tag = &header.bytes[CHECKED_LEN..SUMMED_LEN];
        if key_check(&key, check_nonce, &header.bytes[..CHECKED_LEN]) != check_tag {
            return Err(KeyringError::WrongPassword { path: self.path.clone(), var: self.password_var.clone() });
        }
        *cached = Some(DerivedKey { params: header.params, salt: header.salt, key: key.clone() });
        Ok(key)
    }

    fn derive(&self, params: KdfParams, salt: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>, KeyringError> {
        let p = Params::new(params.m_kib, params.t, params.p, Some(KEY_LEN))
            .map_err(|_| self.tampered("the header names an unknown key derivation"))?;
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
            .hash_password_into(self.password.0.as_bytes(), salt, key.as_mut_slice())
            .map_err(|_| self.tampered("the header names an unknown key derivation"))?;
        Ok(key)
    }

    /// A header for a new salt at the target parameters, and its key (cached).
    fn new_header(&self) -> Result<(Header, Zeroizing<[u8; KEY_LEN]>), KeyringError> {
        let params = self.target;
        let mut salt = [0u8; SALT_LEN];
        OsRng.fill_bytes(&mut salt);
        let key = self.derive(params, &salt)?;
        let mut bytes = [0u8; HEADER_LEN];
        bytes[..8].copy_from_slice(MAGIC);
        bytes[8] = VERSION;
        bytes[9] = KDF_ARGON2ID;
        bytes[10..14].copy_from_slice(&params.m_kib.to_le_bytes());
        bytes[14..18].copy_from_slice(&params.t.to_le_bytes());
        bytes[18..22].copy_from_slice(&params.p.to_le_bytes());
        bytes[22..38].copy_from_slice(&salt);
        OsRng.fill_bytes(&mut bytes[38..CHECKED_LEN]);
        let tag = key_check(&key, &bytes[38..CHECKED_LEN], &bytes[..CHECKED_LEN]);
        bytes[CHECKED_LEN..SUMMED_LEN].copy_from_slice(&tag);
        let sum = Sha256::digest(&bytes[..SUMMED_LEN]);
        bytes[SUMMED_LEN..].copy_from_slice(&sum);
        *self.key.lock().unwrap_or_else(|p| p.into_inner()) = Some(DerivedKey { params, salt, key: key.clone() });
        Ok((Header { bytes, params, salt }, key))
    }

    /// Applies `change` to the current entries under the lock and writes the result if
    /// `change` says something changed.
    fn update<T>(&self, change: impl FnOnce(&mut Entries) -> (T, bool)) -> Result<T, KeyringError> {
        let _lock = self.lock()?;
        let current = self.load()?;
        let (header, mut map) = match current {
            Some((h, m)) => (Some(h), m),
            None => (None, BTreeMap::new()),
        };
        let (out, changed) = change(&mut map);
        if !changed {
            return Ok(out);
        }
        // Reuse the file's salt and key unless its parameters are below today's.
        let (header, key) = match header {
            Some(h) if !h.params.weaker_than(self.target) => {
                let key = self.key_for(&h)?;
                (h, key)
            }
            // No file yet, or one below today's parameters: a new salt and key.
            _ => self.new_header()?,
        };
        let plain = {
            let doc: BTreeMap<&str, &str> = map.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
            // Sized up front so no reallocation leaves a copy of the plaintext behind.
            let size = doc.iter().map(|(k, v)| 2 * (k.len() + v.len()) + 8).sum::<usize>() + 2;
            let mut buf = Zeroizing::new(Vec::with_capacity(size));
            serde_json::to_writer(&mut *buf, &doc).expect("a map of strings serializes");
            buf
        };
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let sealed = XChaCha20Poly1305::new(key.as_slice().into())
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: &plain, aad: &header.bytes })
            .map_err(|_| self.tampered("the body is too large to encrypt"))?;
        let mut out_bytes = Vec::with_capacity(HEADER_LEN + NONCE_LEN + sealed.len());
        out_bytes.extend_from_slice(&header.bytes);
        out_bytes.extend_from_slice(&nonce);
        out_bytes.extend_from_slice(&sealed);
        crate::util::fs::write_private_atomic(&self.path, &out_bytes).map_err(self.io("write"))?;
        Ok(out)
    }

    /// Takes `<path>.lock`, waiting up to [`LOCK_WAIT`] for another writer.
    fn lock(&self) -> Result<File, KeyringError> {
        let io = |source| KeyringError::Io { action: "lock", path: self.lock_path.clone(), source };
        if let Some(dir) = self.path.parent() {
            crate::util::fs::create_private_dir(dir).map_err(io)?;
        }
        let file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(&self.lock_path)
                .map_err(io)?
        };
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(std::fs::TryLockError::WouldBlock) => {
                    if started.elapsed() >= LOCK_WAIT {
                        return Err(KeyringError::LockTimeout {
                            path: self.lock_path.clone(),
                            waited: started.elapsed(),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        }
    }
}

/// The key check: the XChaCha20-Poly1305 tag of the empty message under `key`.
fn key_check(key: &[u8; KEY_LEN], nonce: &[u8], header: &[u8]) -> Vec<u8> {
    let aad = [CHECK_AAD, header].concat();
    XChaCha20Poly1305::new(key.into())
        .encrypt(XNonce::from_slice(nonce), Payload { msg: b"", aad: &aad })
        .expect("an empty message always encrypts")
}

impl Keyring for FileKeyring {
    fn get(&self, key: &str) -> Result<Option<Secret>, KeyringError> {
        Ok(self.load()?.and_then(|(_, mut map)| map.remove(key)))
    }
    fn set(&self, key: &str, value: &Secret) -> Result<(), KeyringError> {
        self.update(|map| {
            let changed = map.get(key) != Some(value);
            map.insert(key.to_string(), value.clone());
            ((), changed)
        })
    }
    fn delete(&self, key: &str) -> Result<bool, KeyringError> {
        self.update(|map| {
            let removed = map.remove(key).is_some();
            (removed, removed)
        })
    }
    fn keys(&self) -> Result<Vec<String>, KeyringError> {
        Ok(self.load()?.map(|(_, map)| map.into_keys().collect()).unwrap_or_default())
    }
    fn describe(&self) -> String {
        format!("file keyring {}", self.path.display())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::exit;
    use std::os::unix::fs::PermissionsExt;

    /// Parameters that keep tests fast; a file keeps the parameters it was created with.
    const CHEAP: KdfParams = KdfParams { m_kib: 64, t: 1, p: 1 };

    /// A keyring at `path` whose new files use cheap KDF parameters.
    pub(crate) fn cheap_keyring(path: &Path, password: &str, var: &str) -> FileKeyring {
        FileKeyring::open(path.to_path_buf(), Password::new(password), var.into(), CHEAP).unwrap()
    }

    fn open_err(path: &Path, password: &str) -> KeyringError {
        FileKeyring::open(path.to_path_buf(), Password::new(password), "ATMOS_KEYRING_PASSWORD".into(), CHEAP)
            .expect_err("open must fail")
    }

    /// A keyring file holding one canary secret; returns the path and its bytes.
    fn fixture(t: &tempfile::TempDir) -> (PathBuf, Vec<u8>) {
        let path = t.path().join("keyring");
        cheap_keyring(&path, "correct horse", "ATMOS_KEYRING_PASSWORD")
            .set("acme/sso/1", &Secret::new("CANARY-VALUE"))
            .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        (path, bytes)
    }

    #[test]
    fn round_trip_across_opens_private_and_sealed() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("data/tfauth");
        let path = dir.join("keyring");
        let open =
            || FileKeyring::open(path.clone(), Password::new("correct horse"), "V".into(), KdfParams::DEFAULT).unwrap();
        let k = open();
        assert_eq!(k.get("acme/sso/1").unwrap(), None);
        assert!(!path.exists(), "reading an absent keyring writes nothing");
        k.set("acme/sso/1", &Secret::new("{\"accessToken\":\"CANARY-TOKEN\"}")).unwrap();
        k.set("acme/aws-user/ci-user", &Secret::new("CANARY-KEY")).unwrap();
        let k = open();
        assert_eq!(k.get("acme/sso/1").unwrap().unwrap().expose(), "{\"accessToken\":\"CANARY-TOKEN\"}");
        assert_eq!(k.keys().unwrap(), ["acme/aws-user/ci-user", "acme/sso/1"]);
        assert!(k.delete("acme/aws-user/ci-user").unwrap());
        assert!(!k.delete("acme/aws-user/ci-user").unwrap());
        assert_eq!(open().keys().unwrap(), ["acme/sso/1"]);
        assert_eq!(k.describe(), format!("file keyring {}", path.display()));

        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..9], b"TFAUTHKR\x01");
        let params: Vec<u32> =
            (0..3).map(|i| u32::from_le_bytes(bytes[10 + 4 * i..14 + 4 * i].try_into().unwrap())).collect();
        assert_eq!(params, [19456, 2, 1], "OWASP's Argon2id parameters are in the header");
        for plain in ["CANARY", "acme", "accessToken", "correct horse"] {
            assert!(!bytes.windows(plain.len()).any(|w| w == plain.as_bytes()), "{plain} is in the file");
        }
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        let mut names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["keyring", "keyring.lock"], "no temp files left");
        let debug = format!("{k:?}");
        assert!(debug.contains(crate::secret::REDACTED) && !debug.contains("correct horse"), "{debug}");
    }

    #[test]
    fn every_write_uses_a_fresh_nonce() {
        let t = tempfile::tempdir().unwrap();
        let (path, first) = fixture(&t);
        let k = cheap_keyring(&path, "correct horse", "V");
        k.set("acme/sso/1", &Secret::new("other")).unwrap();
        k.set("acme/sso/1", &Secret::new("CANARY-VALUE")).unwrap();
        let second = std::fs::read(&path).unwrap();
        assert_eq!(first.len(), second.len());
        assert_eq!(first[..HEADER_LEN], second[..HEADER_LEN], "the salt and key check are kept");
        assert_ne!(first[HEADER_LEN..HEADER_LEN + NONCE_LEN], second[HEADER_LEN..HEADER_LEN + NONCE_LEN]);
    }

    #[test]
    fn wrong_password_names_the_file_and_variable() {
        let t = tempfile::tempdir().unwrap();
        let (path, _) = fixture(&t);
        let e = FileKeyring::open(path.clone(), Password::new("wrong horse"), "MY_PW".into(), CHEAP).err().unwrap();
        assert!(matches!(e, KeyringError::WrongPassword { .. }), "{e}");
        let msg = format!("{e} {e:?} {}", e.hint().unwrap());
        assert!(msg.contains(&path.display().to_string()) && msg.contains("MY_PW"), "{msg}");
        assert!(!msg.contains("wrong horse") && !msg.contains("correct horse"), "{msg}");
        assert_eq!(e.exit_code(), exit::NOPERM);
    }

    #[test]
    fn a_flipped_body_byte_is_tampering() {
        let t = tempfile::tempdir().unwrap();
        let (path, mut bytes) = fixture(&t);
        let k = cheap_keyring(&path, "correct horse", "V");
        let last = bytes.len() - 20;
        bytes[last] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        let e = k.get("acme/sso/1").unwrap_err();
        assert!(matches!(e, KeyringError::Tampered { .. }), "{e}");
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        assert_eq!(e.exit_code(), exit::DATAERR);
        let hint = e.hint().unwrap();
        assert!(hint.contains("restore") && hint.contains("remove it and store the keys again"), "{hint}");
        assert!(matches!(open_err(&path, "correct horse"), KeyringError::Tampered { .. }));
        assert!(matches!(k.set("x", &Secret::new("y")), Err(KeyringError::Tampered { .. })), "no write over it");
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn a_flipped_header_byte_is_tampering_not_a_wrong_password() {
        let t = tempfile::tempdir().unwrap();
        let (path, bytes) = fixture(&t);
        // Salt, key-check nonce, key-check tag, the KDF parameters, the checksum itself.
        for i in [22, 37, 40, 70, 10, 14, 90] {
            let mut b = bytes.clone();
            b[i] ^= 0x80;
            std::fs::write(&path, &b).unwrap();
            let e = open_err(&path, "correct horse");
            assert!(matches!(e, KeyringError::Tampered { .. }), "byte {i}: {e}");
        }
        // A header rewritten with a valid checksum but another salt: the check fails.
        let mut b = bytes.clone();
        b[22] ^= 0x80;
        let sum = Sha256::digest(&b[..SUMMED_LEN]);
        b[SUMMED_LEN..HEADER_LEN].copy_from_slice(&sum);
        std::fs::write(&path, &b).unwrap();
        assert!(matches!(open_err(&path, "correct horse"), KeyringError::WrongPassword { .. }));
    }

    #[test]
    fn truncated_or_foreign_files_are_errors_not_panics() {
        let t = tempfile::tempdir().unwrap();
        let (path, bytes) = fixture(&t);
        for len in [0, 5, 8, 9, 21, HEADER_LEN - 1, HEADER_LEN, MIN_LEN - 1, MIN_LEN, bytes.len() - 1] {
            std::fs::write(&path, &bytes[..len]).unwrap();
            let e = open_err(&path, "correct horse");
            assert!(matches!(e, KeyringError::Tampered { .. }), "{len} bytes: {e}");
        }
        std::fs::write(&path, b"{\"acme/sso/1\": \"plain\"}").unwrap();
        assert!(open_err(&path, "correct horse").to_string().contains("not a tfauth keyring file"));
        let mut b = bytes.clone();
        b[8] = 2;
        std::fs::write(&path, &b).unwrap();
        let e = open_err(&path, "correct horse");
        assert!(matches!(e, KeyringError::UnsupportedVersion { version: 2, .. }), "{e}");
        let mut b = bytes.clone();
        b[10..14].copy_from_slice(&u32::MAX.to_le_bytes());
        let sum = Sha256::digest(&b[..SUMMED_LEN]);
        b[SUMMED_LEN..HEADER_LEN].copy_from_slice(&sum);
        std::fs::write(&path, &b).unwrap();
        assert!(matches!(open_err(&path, "correct horse"), KeyringError::Tampered { .. }), "4 TiB of memory asked");
    }

    #[test]
    fn weaker_parameters_are_raised_on_the_next_write() {
        let t = tempfile::tempdir().unwrap();
        let (path, _) = fixture(&t);
        let stronger = KdfParams { m_kib: 128, t: 2, p: 1 };
        let k = FileKeyring::open(path.clone(), Password::new("correct horse"), "V".into(), stronger).unwrap();
        k.set("acme/sso/2", &Secret::new("two")).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(u32::from_le_bytes(bytes[10..14].try_into().unwrap()), 128);
        let k = cheap_keyring(&path, "correct horse", "V");
        assert_eq!(k.get("acme/sso/1").unwrap().unwrap().expose(), "CANARY-VALUE");
        assert_eq!(k.get("acme/sso/2").unwrap().unwrap().expose(), "two");
    }

    #[test]
    fn concurrent_writers_lose_no_key() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("keyring");
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for i in 0..20 {
                        cheap_keyring(&path, "correct horse", "V")
                            .set(&format!("writer{w}/key{i:02}"), &Secret::new(format!("value {w} {i}")))
                            .unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let k = cheap_keyring(&path, "correct horse", "V");
        let keys = k.keys().unwrap();
        assert_eq!(keys.len(), 40, "{keys:?}");
        assert_eq!(k.get("writer1/key19").unwrap().unwrap().expose(), "value 1 19");
    }
}
