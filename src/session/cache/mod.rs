//! Session credentials on disk, shared by every process that needs them (CONTRACT B).
//!
//! - One entry per resolved chain: the key is a hash of the chain's definition (every
//!   provider and identity field that affects the credentials), never of the name alone,
//!   so one name defined differently in two components never shares credentials.
//! - Files live under `$XDG_CACHE_HOME/tfauth/aws/` (0700), are created 0600 and replaced
//!   atomically, so a reader never sees half an entry.
//! - Refresh is single flight across processes: a lock file per key; whoever holds it
//!   re-reads the entry before calling STS, so 200 helpers started at once make one call.
//! - One refresh margin ([`margin`]) decides when an entry is too close to expiry to hand
//!   out, for exec, env and the helper alike.
//!
//! The warm path ([`Cache::read`]) is a file read and a JSON parse: no runtime, no SDK.

pub mod failure;
pub mod key;

use crate::env_vars::{Env, TFAUTH_REFRESH_MARGIN};
use crate::util::fs::PrivateDir;
use std::fs::File;
use std::path::PathBuf;
use std::time::Duration;

/// How long a process waits for another to finish refreshing before giving up (exit 75).
pub const LOCK_WAIT: Duration = Duration::from_secs(120);

pub use crate::providers::credentials::{Credentials, DEFAULT_MARGIN, ENTRY_CAP, Margin, format_utc};
pub use crate::providers::validate;

/// The refresh margin: `TFAUTH_REFRESH_MARGIN`, else `auth.refresh_margin` (given by the
/// caller), else [`DEFAULT_MARGIN`].
pub fn margin(env: &Env, configured: Option<&str>) -> Margin {
    match env.get(TFAUTH_REFRESH_MARGIN).or(configured).and_then(crate::auth::schema::parse_duration) {
        Some(secs) => Margin { duration: Duration::from_secs(secs), explicit: true },
        None => Margin { duration: DEFAULT_MARGIN, explicit: false },
    }
}

pub use crate::util::dirs::cache_home;

/// Whose a cache entry is: the leaf identity, the chain's root, the realm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub identity: String,
    pub root: String,
    pub realm: String,
}

/// The credentials cache directory for one kind of credential.
pub struct Cache {
    dir: PathBuf,
    /// Where tfauth's own tree starts (`$XDG_CACHE_HOME`): below it no symlink is followed.
    base: PathBuf,
}

/// Problems with the cache that stop a refresh.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot use {}, where tfauth keeps credentials and the files that lead to them", dir.display())]
    Io {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("another tfauth process has held the refresh lock {} for {}s", path.display(), waited.as_secs())]
    LockTimeout { path: PathBuf, waited: Duration },
    /// The lock is held by this process's own ancestor: a credential process that, through
    /// the ambient SDK chain, ends up asking for the credentials it is fetching.
    #[error(
        "refreshing identity `{identity}` needs the credentials being refreshed: process {holder}, an ancestor of this one, holds its refresh lock"
    )]
    HeldByAncestor { identity: String, holder: u32 },
}

impl CacheError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            CacheError::Io { source, dir } => match crate::util::fs::TrustError::of(source) {
                Some(t) => t.hint(),
                None => {
                    format!("check that {} is a directory you own and can write (or set XDG_CACHE_HOME)", dir.display())
                }
            },
            CacheError::LockTimeout { .. } => {
                "a login may be waiting in another terminal; finish it, or try again".into()
            }
            CacheError::HeldByAncestor { .. } => "the identity's chain must not start from a profile whose \
                 credential_process is atmos-auth-helper for the same identity: give it a provider, or \
                 point AWS_PROFILE elsewhere for its base credentials"
                .into(),
        })
    }
}

/// Holds a key's refresh lock until dropped.
pub struct LockGuard {
    _file: File,
}

impl Cache {
    /// `$XDG_CACHE_HOME/tfauth/<kind>`, else `~/.cache/tfauth/<kind>`.
    pub fn new(env: &Env, kind: &str) -> Option<Cache> {
        let home = cache_home(env)?;
        let base = home.parent().map_or_else(|| home.clone(), PathBuf::from);
        Some(Cache { dir: home.join(kind), base })
    }

    /// A cache in `dir` (the SSO token store keeps its lock files there).
    pub fn at(dir: PathBuf) -> Cache {
        Cache { base: dir.clone(), dir }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The file that holds the entry for `key` (for `TFAUTH_SESSION`, read by `tfauth prompt`).
    pub fn entry_path(&self, key: &str) -> PathBuf {
        self.dir.join(entry_name(key))
    }

    fn io(&self) -> impl Fn(std::io::Error) -> CacheError + '_ {
        |source| CacheError::Io { dir: self.dir.clone(), source }
    }

    /// The checked cache directory, created 0700 if missing.
    fn private_dir(&self) -> Result<PrivateDir, CacheError> {
        PrivateDir::create_below(&self.base, &self.dir).map_err(self.io())
    }

    /// The raw text of `key`'s entry: only a regular file of the user's in a directory of
    /// the user's, at most [`ENTRY_CAP`] bytes. An entry that is not trusted reads as absent
    /// (with a warning), so it is refreshed and replaced, never served.
    pub fn read_text(&self, key: &str) -> Option<String> {
        let dir = match PrivateDir::open_below(&self.base, &self.dir) {
            Ok(d) => d?,
            Err(e) => {
                // Not a warning: a refresh needs the directory too, and fails saying this.
                tracing::debug!("not using the credentials cache: {e}");
                return None;
            }
        };
        match dir.read(&entry_name(key), ENTRY_CAP) {
            Ok(bytes) => String::from_utf8(bytes?).ok(),
            Err(e) => {
                tracing::warn!("not using a cache entry: {e}");
                None
            }
        }
    }

    /// The cached credentials for `key`, if readable (a corrupt entry reads as absent).
    pub fn read(&self, key: &str) -> Option<Credentials> {
        Credentials::from_process_json(&self.read_text(key)?)
    }

    /// The entry for `key` as [`Cache::read`] would take it, for showing (`auth list`):
    /// `Ok(None)` when there is none, `Err(why)` when one is there but would not be used
    /// (not trusted, or not an entry). Creates nothing and warns about nothing.
    pub fn peek(&self, key: &str) -> Result<Option<Credentials>, String> {
        let dir = match PrivateDir::open_below(&self.base, &self.dir) {
            Ok(Some(d)) => d,
            Ok(None) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        match dir.read(&entry_name(key), ENTRY_CAP) {
            Ok(None) => Ok(None),
            Ok(Some(bytes)) => String::from_utf8(bytes)
                .ok()
                .and_then(|t| Credentials::from_process_json(&t))
                .map(Some)
                .ok_or_else(|| format!("{} is not a session entry tfauth can read", self.entry_path(key).display())),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Replaces the entry for `key` with `text` atomically, 0600 (entries of other shapes
    /// than AWS credentials: [`crate::session::bearer`]).
    pub fn write_text(&self, key: &str, text: &str) -> Result<(), CacheError> {
        self.private_dir()?.replace(&entry_name(key), text.as_bytes(), true, 0o600).map_err(self.io())
    }

    /// Replaces the entry for `key` atomically, 0600.
    pub fn write(&self, key: &str, creds: &Credentials) -> Result<(), CacheError> {
        self.private_dir()?.replace(&entry_name(key), creds.json(true).as_bytes(), true, 0o600).map_err(self.io())
    }

    /// Like [`Cache::write`], with whose entry it is, so `auth logout` can find every
    /// entry of an identity (there is one per place its definition differs).
    pub fn write_owned(&self, key: &str, creds: &Credentials, owner: &Owner) -> Result<(), CacheError> {
        let mut doc: serde_json::Value = serde_json::from_str(&creds.json(true)).unwrap_or_default();
        if let Some(m) = doc.as_object_mut() {
            m.insert("Identity".into(), owner.identity.clone().into());
            m.insert("Root".into(), owner.root.clone().into());
            m.insert("Realm".into(), owner.realm.clone().into());
        }
        self.private_dir()?.replace(&entry_name(key), doc.to_string().as_bytes(), true, 0o600).map_err(self.io())
    }

    /// Every entry's key.
    pub fn keys(&self) -> Vec<String> {
        let Ok(Some(dir)) = PrivateDir::open_below(&self.base, &self.dir) else { return vec![] };
        dir.names()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|name| Some(name.strip_suffix(".json")?.to_string()))
            .filter(|k| !k.starts_with('.'))
            .collect()
    }

    /// Every entry's key and owner (`None` for entries written without one).
    pub fn entries(&self) -> Vec<(String, Option<Owner>)> {
        let Ok(Some(dir)) = PrivateDir::open_below(&self.base, &self.dir) else { return vec![] };
        dir.names()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|name| {
                let key = name.strip_suffix(".json")?.to_string();
                if key.starts_with('.') {
                    return None;
                }
                let owner = dir
                    .read(&name, ENTRY_CAP)
                    .ok()
                    .flatten()
                    .and_then(|t| serde_json::from_slice::<serde_json::Value>(&t).ok())
                    .and_then(|v| {
                        Some(Owner {
                            identity: v.get("Identity")?.as_str()?.to_string(),
                            root: v.get("Root")?.as_str()?.to_string(),
                            realm: v.get("Realm")?.as_str()?.to_string(),
                        })
                    });
                Some((key, owner))
            })
            .collect()
    }

    /// Removes the entry for `key`, its lock file and any temporary file a killed writer
    /// left; true if the entry was there.
    pub fn remove(&self, key: &str) -> bool {
        let Ok(Some(dir)) = PrivateDir::open_below(&self.base, &self.dir) else { return false };
        dir.sweep_temps(&entry_name(key));
        dir.sweep_temps(&format!("{key}.failed"));
        // A failure remembered for the entry goes with it: whoever removes an entry (a
        // logout, a new key or password stored) wants the next process to ask again.
        let _ = dir.remove(&format!("{key}.failed"));
        let _ = dir.remove(&format!("{key}.lock"));
        dir.remove(&entry_name(key)).unwrap_or(false)
    }

    /// Removes every remembered failure ([`failure`]'s `<key>.failed` records, seconds old
    /// and holding no secret); how many went. A logout calls it: whatever it changed (a
    /// password deleted, a session ended), the next process asks again rather than being
    /// handed a refusal from before it. The records carry no owner, so all go.
    pub fn forget_failures(&self) -> usize {
        let Ok(Some(dir)) = PrivateDir::open_below(&self.base, &self.dir) else { return 0 };
        let names = dir.names().unwrap_or_default();
        names.iter().filter(|n| n.ends_with(".failed")).filter(|n| dir.remove(n).unwrap_or(false)).count()
    }

    /// Takes the refresh lock for `key`, waiting up to `wait` for another process.
    /// The lock is released when the guard drops, or by the OS if the holder dies. The
    /// holder writes its pid into the lock file; a waiter whose own ancestor holds it fails
    /// at once ([`CacheError::HeldByAncestor`]) instead of waiting for itself. Once held,
    /// temporary files that a writer killed between write and rename left are removed.
    pub fn lock(&self, key: &str, wait: Duration) -> Result<LockGuard, CacheError> {
        self.lock_for(key, wait, "")
    }

    /// [`Cache::lock`], naming the identity in a [`CacheError::HeldByAncestor`].
    pub fn lock_for(&self, key: &str, wait: Duration, identity: &str) -> Result<LockGuard, CacheError> {
        let dir = self.private_dir()?;
        let name = format!("{key}.lock");
        let path = self.dir.join(&name);
        let mut file = dir.lock_file(&name).map_err(self.io())?;
        let started = std::time::Instant::now();
        let mut checked_holder = false;
        loop {
            match file.try_lock() {
                Ok(()) => {
                    // What writers of this key's entry and failure record left when killed.
                    dir.sweep_temps(&entry_name(key));
                    dir.sweep_temps(&format!("{key}.failed"));
                    record_holder(&mut file);
                    return Ok(LockGuard { _file: file });
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    if !checked_holder || started.elapsed() > Duration::from_millis(500) {
                        checked_holder = true;
                        if let Some(holder) = holder(&mut file).filter(|pid| is_ancestor(*pid)) {
                            return Err(CacheError::HeldByAncestor { identity: identity.to_string(), holder });
                        }
                    }
                    if started.elapsed() >= wait {
                        return Err(CacheError::LockTimeout { path, waited: started.elapsed() });
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(self.io()(e)),
            }
        }
    }
}

fn entry_name(key: &str) -> String {
    format!("{key}.json")
}

/// Writes this process's pid into the lock file it holds (best effort: only a waiter's
/// recursion check reads it).
fn record_holder(file: &mut File) {
    use std::io::{Seek, Write};
    let _ = file.set_len(0).and_then(|()| file.rewind()).and_then(|()| write!(file, "{}", std::process::id()));
}

fn holder(file: &mut File) -> Option<u32> {
    use std::io::{Read, Seek};
    let mut text = String::new();
    file.rewind().ok()?;
    file.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Whether `pid` is this process's parent, grandparent, ... (read from `/proc`; false
/// where there is none).
pub fn is_ancestor(pid: u32) -> bool {
    let mut current = std::os::unix::process::parent_id();
    for _ in 0..64 {
        if current == pid {
            return true;
        }
        if current <= 1 {
            return false;
        }
        match parent_of(current) {
            Some(p) => current = p,
            None => return false,
        }
    }
    false
}

/// The parent of `pid`, from `/proc/<pid>/stat` (the command name is in parentheses and
/// may hold spaces; the ppid follows it).
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use std::os::unix::fs::PermissionsExt;
    use time::OffsetDateTime;

    fn creds(exp: Option<OffsetDateTime>) -> Credentials {
        Credentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: Secret::new("s3cr3t"),
            session_token: Some(Secret::new("tok")),
            expiration: exp,
            issued: None,
        }
    }

    #[test]
    fn process_json_shape_and_round_trip() {
        let exp = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let mut c = creds(Some(exp));
        let text = c.to_process_json();
        assert_eq!(
            text,
            r#"{"Version":1,"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"s3cr3t","SessionToken":"tok","Expiration":"2027-01-15T08:00:00Z"}"#
        );
        assert_eq!(Credentials::from_process_json(&text), Some(c.clone()));
        c.issued = Some(exp - Duration::from_secs(3600));
        assert!(!c.to_process_json().contains("Issued"), "the printed document has the standard fields only");
        assert_eq!(Credentials::from_process_json(&c.json(true)), Some(c.clone()));
        assert!(!format!("{c:?}").contains("s3cr3t"), "Debug must not show the secret");
        assert_eq!(Credentials::from_process_json("{\"Version\":2}"), None);
        assert_eq!(Credentials::from_process_json("not json"), None);
    }

    #[test]
    fn margin_decides_freshness() {
        let now = OffsetDateTime::now_utc();
        let explicit = |m| Margin { duration: Duration::from_secs(m), explicit: true };
        let c = creds(Some(now + Duration::from_secs(30 * 60)));
        assert!(c.fresh_for(explicit(20 * 60), now));
        assert!(!c.fresh_for(explicit(31 * 60), now));
        assert!(!creds(None).fresh_for(explicit(60), now), "a session without an expiration");
        let long_lived = Credentials { session_token: None, ..creds(None) };
        assert!(long_lived.fresh_for(explicit(1_000_000), now));
        let env = Env::from_pairs([("TFAUTH_REFRESH_MARGIN", "5m")]);
        assert_eq!(margin(&env, Some("1h")), explicit(300));
        assert_eq!(margin(&Env::default(), Some("1h")), explicit(3600));
        assert_eq!(margin(&Env::default(), None), Margin { duration: DEFAULT_MARGIN, explicit: false });
    }

    #[test]
    fn default_margin_is_capped_for_short_sessions() {
        let now = OffsetDateTime::now_utc();
        // A 15-minute AssumeRoot session, 2 minutes old: 13 minutes left, under the
        // 20-minute default but over half its lifetime, so it is reused.
        let mut root = creds(Some(now + Duration::from_secs(13 * 60)));
        root.issued = Some(now - Duration::from_secs(2 * 60));
        let default = margin(&Env::default(), None);
        assert!(root.fresh_for(default, now));
        assert!(!root.fresh_for(Margin { explicit: true, ..default }, now), "an explicit margin is taken as given");
        // The same 15-minute session 9 minutes old: 6 minutes left, under half its life.
        let mut old = root.clone();
        old.issued = Some(now - Duration::from_secs(9 * 60));
        old.expiration = Some(now + Duration::from_secs(6 * 60));
        assert!(!old.fresh_for(default, now), "past half its life: refreshed");
    }

    #[test]
    fn entries_are_private_and_locks_exclude() {
        let t = tempfile::tempdir().unwrap();
        let env = Env::from_pairs([("XDG_CACHE_HOME", t.path().to_str().unwrap())]);
        let cache = Cache::new(&env, "aws").unwrap();
        cache.write("k", &creds(None)).unwrap();
        let meta = std::fs::metadata(cache.dir().join("k.json")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(cache.read("k"), Some(creds(None)));
        let held = cache.lock("k", Duration::from_secs(1)).unwrap();
        match cache.lock("k", Duration::from_millis(100)) {
            Err(CacheError::LockTimeout { .. }) => {}
            other => panic!("second lock must wait: {:?}", other.is_ok()),
        }
        drop(held);
        assert!(cache.lock("k", Duration::from_millis(100)).is_ok());
    }

    #[test]
    fn peek_says_why_an_entry_is_not_used_and_creates_nothing() {
        let t = tempfile::tempdir().unwrap();
        let env = Env::from_pairs([("XDG_CACHE_HOME", t.path().to_str().unwrap())]);
        let cache = Cache::new(&env, "aws").unwrap();
        assert_eq!(cache.peek("k"), Ok(None));
        assert!(!cache.dir().exists(), "peek made the cache directory");
        cache.write("k", &creds(None)).unwrap();
        assert_eq!(cache.peek("k"), Ok(Some(creds(None))));
        std::fs::write(cache.dir().join("bad.json"), "{\"Version\": 1").unwrap();
        assert!(cache.peek("bad").unwrap_err().contains("is not a session entry"));
        std::os::unix::fs::symlink(cache.dir().join("k.json"), cache.dir().join("link.json")).unwrap();
        let e = cache.peek("link").unwrap_err();
        assert!(e.contains("link.json"), "{e}");
        assert_eq!(cache.peek("gone"), Ok(None));
    }
}
