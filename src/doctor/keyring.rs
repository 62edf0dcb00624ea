//! The keyring check: the configured keyring can be reached (and, for the file keyring,
//! opened with the password it will be given).
//!
//! Why it exists: a keyring that cannot be opened fails a login only after the browser
//! step. It only looks the keyring up: it must not create the file, write an entry, or put
//! the password in a detail.

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

/// The file keyring's file, its lock, and its directory when it is tfauth's own.
pub(super) fn keyring_paths(spec: &keyring::KeyringSpec, env: &Env) -> Vec<PathBuf> {
    let Some(path) = spec.path.clone().or_else(|| keyring::default_file_path(env)) else { return vec![] };
    if spec.path.is_none()
        && let Some(dir) = path.parent()
    {
        // `$XDG_DATA_HOME/tfauth/`: holds nothing but the keyring and its lock.
        return vec![dir.to_path_buf()];
    }
    let mut lock = path.clone().into_os_string();
    lock.push(".lock");
    vec![path, PathBuf::from(lock)]
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
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = spec.path.clone().or_else(|| keyring::default_file_path(env)) else {
        let e = KeyringError::NoDataDir;
        return Check::fail(NAME, e.to_string(), hint_of(e.hint()));
    };
    let dir = path.parent().unwrap_or(Path::new("/"));
    if let Err(why) = creatable(dir) {
        return Check::fail(
            NAME,
            format!("file {}: its directory cannot be created ({why})", path.display()),
            "set auth.keyring.spec.path to a path under a directory you own, or fix that directory's permissions",
        );
    }
    let state = match std::fs::metadata(&path) {
        Ok(m) => format!("exists, mode {:04o}", m.permissions().mode() & 0o7777),
        Err(_) => "not created yet".to_string(),
    };
    let mut vars: Vec<&str> = spec.password_env.iter().map(String::as_str).collect();
    if !vars.contains(&env_vars::ATMOS_KEYRING_PASSWORD) {
        vars.push(env_vars::ATMOS_KEYRING_PASSWORD);
    }
    let Some(var) = vars.iter().find(|v| env.get(v).is_some()) else {
        return Check::warn(
            NAME,
            format!(
                "file {} ({state}): no password in {}; tfauth does not prompt for it, so commands that need the \
                 keyring (stored aws/user keys) stop with exit 77",
                path.display(),
                vars.join(" or ")
            ),
            format!(
                "export {}=<a password of at least {} characters> where tfauth runs",
                vars[0],
                keyring::MIN_PASSWORD_CHARS
            ),
        );
    };
    // Opening reads the file (if any) and checks the password; nothing is written.
    match keyring::open(spec, env) {
        Ok(_) => Check::pass(NAME, format!("file {} ({state}), password from {var}", path.display())),
        Err(e) => Check::fail(NAME, e.to_string(), hint_of(e.hint())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn file_keyring_without_password_warns_and_never_creates() {
        let t = tempfile::tempdir().unwrap();
        let data = t.path().join("data");
        let env = Env::from_pairs([("XDG_DATA_HOME", data.to_str().unwrap())]);
        let spec = keyring::KeyringSpec { kind: KeyringType::File, path: None, password_env: None, span: None };
        let c = keyring_check(Some(Ok(Some(spec.clone()))), &env);
        assert_eq!(c.status, Status::Warn, "{c:?}");
        assert!(c.detail.contains("not created yet") && c.detail.contains("ATMOS_KEYRING_PASSWORD"), "{}", c.detail);
        let env = Env::from_pairs([
            ("XDG_DATA_HOME", data.to_str().unwrap()),
            ("ATMOS_KEYRING_PASSWORD", "a long enough canary"),
        ]);
        let c = keyring_check(Some(Ok(Some(spec))), &env);
        assert_eq!(c.status, Status::Pass, "{c:?}");
        assert!(!format!("{c:?}").contains("canary"));
        assert!(!data.exists(), "the doctor creates nothing");
        let memory = keyring::KeyringSpec { kind: KeyringType::Memory, path: None, password_env: None, span: None };
        assert_eq!(keyring_check(Some(Ok(Some(memory))), &env).status, Status::Pass);
        assert_eq!(keyring_check(None, &env).status, Status::Warn);
    }
}
