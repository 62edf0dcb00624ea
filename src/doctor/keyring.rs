//! The keyring check: the configured keyring can be reached (and, for the file keyring,
//! Atmos's directory opened with the password it will be given, and an earlier tfauth
//! keyring file that a first use will move into it named).
//!
//! Why it exists: a keyring that cannot be opened fails a login only after the browser
//! step. It only looks the keyring up: it must not create the directory, write or move an
//! entry, ask for the password, or put the password in a detail.

use super::{Check, Loaded, hint_of};
use crate::env_vars::{self, Env};
use crate::keyring::{self, KeyringError, KeyringType};
use std::path::{Path, PathBuf};

type SpecResult = Option<Result<Option<keyring::KeyringSpec>, KeyringError>>;

/// The keyring configuration; `None` when the configuration did not load and
/// `ATMOS_KEYRING_TYPE` does not say either.
pub(super) fn keyring_spec(loaded: &Loaded, env: &Env) -> SpecResult {
    if loaded.config.is_none() && env.get(env_vars::ATMOS_KEYRING_TYPE).is_none() {
        return None;
    }
    Some(keyring::spec(&loaded.auth, env))
}

/// The file keyring's directory (Atmos's: one file per entry), for the permissions check.
pub(super) fn keyring_paths(spec: &keyring::KeyringSpec, env: &Env) -> Vec<PathBuf> {
    keyring::file_dir(spec, env).into_iter().collect()
}

/// Where a directory that does not exist yet would be created: its nearest existing
/// ancestor, which must be a directory this user can write to.
fn creatable(dir: &Path) -> Result<(), String> {
    let mut p = dir;
    loop {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => {
                return if writable(p) { Ok(()) } else { Err(format!("{} is not writable", p.display())) };
            }
            Ok(_) => return Err(format!("{} is not a directory", p.display())),
            Err(_) => p = p.parent().ok_or_else(|| format!("no directory above {} exists", dir.display()))?,
        }
    }
}

/// Whether this process may create files in directory `p` (access(2): write and search).
fn writable(p: &Path) -> bool {
    use rustix::fs::Access;
    rustix::fs::access(p, Access::WRITE_OK | Access::EXEC_OK).is_ok()
}

/// The configured keyring can be used: the system keyring answers a lookup of an entry
/// that does not exist; the file keyring's directory exists or can be made, and its
/// password is in the environment (and opens the file, when there is one).
pub fn keyring_check(spec: SpecResult, env: &Env) -> Check {
    const NAME: &str = "keyring";
    let spec = match spec {
        None => {
            return Check::warn(
                NAME,
                "not checked: the configuration did not load, so auth.keyring is unknown",
                "fix the config check first",
            );
        }
        Some(Err(e)) => return Check::fail(NAME, e.to_string(), hint_of(e.hint())),
        Some(Ok(None)) => {
            return Check::pass(
                NAME,
                "none configured: aws/user keys come from the configuration only (IAM Identity Center tokens are in 0600 files in the cache whatever the keyring)",
            );
        }
        Some(Ok(Some(s))) => s,
    };
    match spec.kind {
        KeyringType::Memory => Check::pass(NAME, "memory: secrets last for one process, so each command signs in anew"),
        KeyringType::System => match keyring::system::SystemKeyring::open(env) {
            Ok(_) => Check::pass(NAME, "system: the Secret Service answered"),
            Err(e) => Check::fail(NAME, format!("system: {e}; stored aws/user keys cannot be read"), hint_of(e.hint())),
        },
        KeyringType::File => file_keyring(&spec, env),
    }
}

fn file_keyring(spec: &keyring::KeyringSpec, env: &Env) -> Check {
    const NAME: &str = "keyring";
    let Some(dir) = keyring::file_dir(spec, env) else {
        let e = KeyringError::NoDataDir;
        return Check::fail(NAME, e.to_string(), hint_of(e.hint()));
    };
    if let Err(why) = creatable(&dir) {
        return Check::fail(
            NAME,
            format!("file {}: the directory cannot be created ({why})", dir.display()),
            "set ATMOS_KEYRING_FILE_PATH or auth.keyring.spec.path to a directory you own, or fix that directory's \
             permissions",
        );
    }
    // No prompt: the doctor asks nothing and writes nothing (no move of an earlier file).
    let ring = match keyring::open_file(spec, env, None) {
        Ok(r) => r,
        Err(e) => return Check::fail(NAME, e.to_string(), hint_of(e.hint())),
    };
    let state = match ring.entry_count() {
        Ok(0) if !dir.exists() => "not created yet".to_string(),
        Ok(1) => "1 entry".to_string(),
        Ok(n) => format!("{n} entries"),
        Err(e) => return Check::fail(NAME, e.to_string(), hint_of(e.hint())),
    };
    let legacy = keyring::legacy_files(spec, env);
    let pending = match legacy.as_slice() {
        [] => String::new(),
        files => format!(
            "; the earlier tfauth keyring {} moves into it on first use",
            files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        ),
    };
    let mut vars: Vec<&str> = spec.password_env.iter().map(String::as_str).collect();
    if !vars.contains(&env_vars::ATMOS_KEYRING_PASSWORD) {
        vars.push(env_vars::ATMOS_KEYRING_PASSWORD);
    }
    let Some(var) = vars.iter().find(|v| env.get(v).is_some_and(|s| !s.is_empty())) else {
        return Check::warn(
            NAME,
            format!(
                "Atmos's file keyring {} ({state}{pending}): no password in {}; tfauth asks for it on the terminal, \
                 and where there is none (CI, the credential helper) a command that needs a stored key stops with \
                 exit 77",
                dir.display(),
                vars.join(" or ")
            ),
            format!(
                "export {}=<a password of at least {} characters> where tfauth runs without a terminal",
                vars[0],
                keyring::MIN_PASSWORD_CHARS
            ),
        );
    };
    // Decrypts an entry (if any) to check the password; nothing is written.
    match ring.verify() {
        Ok(()) => {
            Check::pass(NAME, format!("Atmos's file keyring {} ({state}{pending}), password from {var}", dir.display()))
        }
        Err(e) => Check::fail(NAME, e.to_string(), hint_of(e.hint())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;
    use crate::keyring::Keyring;

    #[test]
    fn file_keyring_without_password_warns_and_never_creates() {
        let t = tempfile::tempdir().unwrap();
        let data = t.path().join("data");
        let env = Env::from_pairs([("XDG_DATA_HOME", data.to_str().unwrap())]);
        let spec = keyring::KeyringSpec { kind: KeyringType::File, path: None, password_env: None, span: None };
        let c = keyring_check(Some(Ok(Some(spec.clone()))), &env);
        assert_eq!(c.status, Status::Warn, "{c:?}");
        assert!(c.detail.contains("not created yet") && c.detail.contains("ATMOS_KEYRING_PASSWORD"), "{}", c.detail);
        assert!(c.detail.contains("atmos/keyring") && c.detail.contains("asks for it on the terminal"), "{}", c.detail);
        let env = Env::from_pairs([
            ("XDG_DATA_HOME", data.to_str().unwrap()),
            ("ATMOS_KEYRING_PASSWORD", "a long enough canary"),
        ]);
        let c = keyring_check(Some(Ok(Some(spec.clone()))), &env);
        assert_eq!(c.status, Status::Pass, "{c:?}");
        assert!(!format!("{c:?}").contains("canary"));
        assert!(!data.exists(), "the doctor creates nothing");

        // A keyring with an entry: the password is checked against it, and an earlier
        // tfauth file is reported, not moved.
        let dir = data.join("atmos/keyring");
        crate::keyring::atmos_file::tests::cheap(&dir, "a long enough canary")
            .set("atmos_r_x", &crate::secret::Secret::new("v"))
            .unwrap();
        let old = data.join("tfauth/keyring");
        crate::keyring::file::tests::cheap_keyring(&old, "a long enough canary", "V")
            .set("k", &crate::secret::Secret::new("v"))
            .unwrap();
        let c = keyring_check(Some(Ok(Some(spec.clone()))), &env);
        assert_eq!(c.status, Status::Pass, "{c:?}");
        assert!(c.detail.contains("1 entry") && c.detail.contains("tfauth/keyring moves into it"), "{}", c.detail);
        assert!(old.exists(), "the doctor moves nothing");
        let wrong = Env::from_pairs([
            ("XDG_DATA_HOME", data.to_str().unwrap()),
            ("ATMOS_KEYRING_PASSWORD", "another password"),
        ]);
        let c = keyring_check(Some(Ok(Some(spec.clone()))), &wrong);
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(c.detail.contains("wrong password"), "{}", c.detail);
        let memory = keyring::KeyringSpec { kind: KeyringType::Memory, path: None, password_env: None, span: None };
        assert_eq!(keyring_check(Some(Ok(Some(memory))), &env).status, Status::Pass);
        assert_eq!(keyring_check(None, &env).status, Status::Warn);
    }
}
