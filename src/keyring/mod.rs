//! Where tfauth keeps long-lived secrets: `aws/user` access keys, which must outlive one
//! process but must never sit on disk in the clear (session credentials, which expire
//! within hours, live in [`crate::session::cache`]; IAM Identity Center tokens live in the
//! 0600 cache file, as Atmos and the AWS CLI keep them, see [`crate::session::vault`]).
//!
//! `auth.keyring.type` (or `ATMOS_KEYRING_TYPE`, which wins) chooses one of three keyrings
//! behind the one [`Keyring`] trait:
//! - [`memory`]: a map in this process, gone when it exits (tests, one-shot CI runs);
//! - [`file`](mod@file): one file encrypted with a password from the environment (headless hosts);
//! - [`system`]: the OS keyring (Secret Service, the macOS keychain, Windows' credential store).
//!
//! [`spec`] reads the configuration and does no I/O; [`open`] does. Keys are opaque strings
//! the caller chooses; values are [`Secret`]s. No error here carries a secret or a password,
//! and the caller decides what to do when the system keyring is unavailable.

pub mod file;
pub mod memory;
pub mod system;

use crate::env_vars::{ATMOS_KEYRING_PASSWORD, ATMOS_KEYRING_TYPE, Env};
use crate::exit;
use crate::secret::Secret;
use crate::yaml::{Node, Span};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The shortest password the file keyring accepts.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Which keyring holds the secrets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyringType {
    Memory,
    File,
    System,
}

impl KeyringType {
    /// Parses a configured name (exact, lower case, as Atmos spells it).
    pub fn parse(s: &str) -> Option<KeyringType> {
        match s {
            "memory" => Some(KeyringType::Memory),
            "file" => Some(KeyringType::File),
            "system" => Some(KeyringType::System),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            KeyringType::Memory => "memory",
            KeyringType::File => "file",
            KeyringType::System => "system",
        }
    }
}

impl fmt::Display for KeyringType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated keyring configuration: what [`open`] needs, and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyringSpec {
    pub kind: KeyringType,
    /// The file keyring's path, absolute (`~/` already expanded); None for the default.
    pub path: Option<PathBuf>,
    /// The variable holding the file keyring's password, if not `ATMOS_KEYRING_PASSWORD`.
    pub password_env: Option<String>,
    /// Where the keyring was configured (`auth.keyring.type`, else `auth.keyring`), for
    /// errors; None when only `ATMOS_KEYRING_TYPE` configured it.
    pub span: Option<Span>,
}

/// Reads `auth.keyring` (`type`, `spec.path`, `spec.password_env`) from the merged auth
/// node and `ATMOS_KEYRING_TYPE`; Ok(None) when neither configures a keyring.
pub fn spec(auth: &Node, env: &Env) -> Result<Option<KeyringSpec>, KeyringError> {
    let keyring = auth.get("keyring").filter(|n| !n.is_null());
    if let Some(k) = keyring
        && k.as_map().is_none()
    {
        return Err(invalid_spec("auth.keyring", k, format!("must be a mapping, not {}", k.type_name()), None));
    }
    let type_node = keyring.and_then(|k| k.get("type")).filter(|n| !n.is_null());
    let spec_node = keyring.and_then(|k| k.get("spec")).filter(|n| !n.is_null());
    let (kind, span) = if let Some(value) = env.get(ATMOS_KEYRING_TYPE) {
        let kind = KeyringType::parse(value.trim())
            .ok_or_else(|| KeyringError::InvalidTypeEnv { var: ATMOS_KEYRING_TYPE, value: value.to_string() })?;
        (kind, type_node.or(keyring).map(|n| n.span.clone()))
    } else if let Some(t) = type_node {
        let kind = t.as_str().and_then(KeyringType::parse).ok_or_else(|| KeyringError::InvalidType {
            found: match t.scalar_string() {
                Some(s) => format!("`{s}`"),
                None => t.type_name().to_string(),
            },
            span: t.span.clone(),
        })?;
        (kind, Some(t.span.clone()))
    } else if let Some(s) = spec_node {
        return Err(invalid_spec(
            "auth.keyring.spec",
            s,
            "is set, but `auth.keyring.type` is not".into(),
            Some("add `type: file` (or `system`, `memory`) under `auth.keyring`".into()),
        ));
    } else {
        return Ok(None);
    };
    let mut out = KeyringSpec { kind, path: None, password_env: None, span };
    if kind != KeyringType::File {
        return Ok(Some(out));
    }
    if let Some(s) = spec_node
        && s.as_map().is_none()
    {
        return Err(invalid_spec("auth.keyring.spec", s, format!("must be a mapping, not {}", s.type_name()), None));
    }
    if let Some(p) = spec_node.and_then(|s| s.get("path")).filter(|n| !n.is_null()) {
        out.path = Some(keyring_path(p, env)?);
    }
    if let Some(v) = spec_node.and_then(|s| s.get("password_env")).filter(|n| !n.is_null()) {
        match v.as_str() {
            Some(name) if is_variable_name(name) => out.password_env = Some(name.to_string()),
            _ => {
                return Err(invalid_spec(
                    "auth.keyring.spec.password_env",
                    v,
                    "must name an environment variable (letters, digits and `_`)".into(),
                    Some(format!("for example `password_env: {ATMOS_KEYRING_PASSWORD}`")),
                ));
            }
        }
    }
    Ok(Some(out))
}

/// `spec.path`: absolute, or `~/...` below HOME.
fn keyring_path(p: &Node, env: &Env) -> Result<PathBuf, KeyringError> {
    let field = "auth.keyring.spec.path";
    let Some(s) = p.as_str().filter(|s| !s.is_empty()) else {
        return Err(invalid_spec(field, p, format!("must be a path, not {}", p.type_name()), None));
    };
    let path = if let Some(rest) = s.strip_prefix("~/") {
        match env.get(crate::env_vars::HOME) {
            Some(home) => Path::new(home).join(rest),
            None => return Err(invalid_spec(field, p, "starts with `~/`, but HOME is not set".into(), None)),
        }
    } else {
        PathBuf::from(s)
    };
    if !path.is_absolute() {
        return Err(invalid_spec(
            field,
            p,
            format!("must be an absolute path or start with `~/`, not `{s}`"),
            Some("a relative path would depend on the directory tfauth runs in".into()),
        ));
    }
    Ok(path)
}

fn is_variable_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn invalid_spec(field: &str, node: &Node, message: String, hint: Option<String>) -> KeyringError {
    KeyringError::InvalidSpec { field: field.to_string(), span: node.span.clone(), message, hint }
}

/// A store of secrets by key. Implementations are safe to share between threads; the file
/// keyring is also safe to share between processes.
pub trait Keyring: Send + Sync {
    fn get(&self, key: &str) -> Result<Option<Secret>, KeyringError>;
    fn set(&self, key: &str, value: &Secret) -> Result<(), KeyringError>;
    /// true if something was removed
    fn delete(&self, key: &str) -> Result<bool, KeyringError>;
    /// Keys held (not values), sorted; Err(Unsupported) for system keyrings that cannot enumerate.
    fn keys(&self) -> Result<Vec<String>, KeyringError>;
    /// e.g. "file keyring /home/u/.local/share/tfauth/keyring", "Secret Service (org.freedesktop.secrets)", "memory keyring"
    fn describe(&self) -> String;
    /// The same store's entries under the names Atmos gives them, where it can hold them
    /// (the OS keyring, which both tools share); `None` for stores only tfauth reads.
    fn atmos_entries(&self) -> Option<Box<dyn Keyring>> {
        None
    }
}

/// Opens the keyring `spec` describes. The file keyring checks its password here (an
/// existing file is read and its key derived once); the system keyring is probed, and
/// [`KeyringError::SystemUnavailable`] returned within seconds when nothing answers.
pub fn open(spec: &KeyringSpec, env: &Env) -> Result<Box<dyn Keyring>, KeyringError> {
    Ok(match spec.kind {
        KeyringType::Memory => Box::new(memory::MemoryKeyring::shared()),
        KeyringType::File => {
            let path = match &spec.path {
                Some(p) => p.clone(),
                None => default_file_path(env).ok_or(KeyringError::NoDataDir)?,
            };
            let (password, var) = password(spec, env, &path)?;
            Box::new(file::FileKeyring::open(path, password, var, file::KdfParams::DEFAULT)?)
        }
        KeyringType::System => Box::new(system::SystemKeyring::open(env)?),
    })
}

/// `<data home>/tfauth/keyring`: `ATMOS_XDG_DATA_HOME`, else `XDG_DATA_HOME`, else
/// `~/.local/share` (see [`crate::util::dirs::data_home`]).
pub fn default_file_path(env: &Env) -> Option<PathBuf> {
    crate::util::dirs::data_home(env).map(|base| base.join("tfauth").join("keyring"))
}

/// The file keyring's password and the variable it came from: `spec.password_env`'s
/// variable if set, else `ATMOS_KEYRING_PASSWORD`.
fn password(spec: &KeyringSpec, env: &Env, path: &Path) -> Result<(file::Password, String), KeyringError> {
    let mut vars: Vec<String> = spec.password_env.iter().cloned().collect();
    if !vars.iter().any(|v| v == ATMOS_KEYRING_PASSWORD) {
        vars.push(ATMOS_KEYRING_PASSWORD.to_string());
    }
    let Some((var, value)) = vars.iter().find_map(|v| env.get(v).map(|value| (v.clone(), value))) else {
        return Err(KeyringError::PasswordMissing { path: path.to_path_buf(), vars });
    };
    if value.chars().count() < MIN_PASSWORD_CHARS {
        return Err(KeyringError::PasswordTooShort { path: path.to_path_buf(), var, min: MIN_PASSWORD_CHARS });
    }
    Ok((file::Password::new(value), var))
}

/// Everything that can go wrong choosing, opening or using a keyring. Messages name the
/// file, variable or keyring; none carries a secret or a password.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("`auth.keyring.type` at {span} must be system, file or memory, not {found}")]
    InvalidType { found: String, span: Span },
    #[error("environment variable {var} must be system, file or memory, not `{value}`")]
    InvalidTypeEnv { var: &'static str, value: String },
    #[error("`{field}` at {span} {message}")]
    InvalidSpec { field: String, span: Span, message: String, hint: Option<String> },
    #[error("cannot place the file keyring: none of ATMOS_XDG_DATA_HOME, XDG_DATA_HOME or HOME is set")]
    NoDataDir,
    #[error("the file keyring {} needs a password, but {} is not set", path.display(), or_list(vars))]
    PasswordMissing { path: PathBuf, vars: Vec<String> },
    #[error(
        "the password in {var} for the file keyring {} is too short: it needs at least {min} characters",
        path.display()
    )]
    PasswordTooShort { path: PathBuf, var: String, min: usize },
    #[error("wrong password for the file keyring {} (the password came from {var})", path.display())]
    WrongPassword { path: PathBuf, var: String },
    #[error("the file keyring {} is damaged or was tampered with: {reason}", path.display())]
    Tampered { path: PathBuf, reason: String },
    #[error("the file keyring {} has format version {version}, which this tfauth cannot read", path.display())]
    UnsupportedVersion { path: PathBuf, version: u8 },
    #[error("cannot {action} the file keyring {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("another process has held the keyring lock {} for {}s", path.display(), waited.as_secs())]
    LockTimeout { path: PathBuf, waited: Duration },
    #[error("the system keyring is not available: {reason}")]
    SystemUnavailable { reason: String },
    #[error("{keyring} could not {action} `{key}`: {reason}")]
    System { keyring: String, action: &'static str, key: String, reason: String },
    #[error("the {keyring} cannot {operation}")]
    Unsupported { keyring: String, operation: &'static str },
}

impl KeyringError {
    /// The process exit code for this error (see [`crate::exit`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            KeyringError::InvalidType { .. } | KeyringError::InvalidSpec { .. } => exit::DATAERR,
            KeyringError::InvalidTypeEnv { .. }
            | KeyringError::NoDataDir
            | KeyringError::PasswordTooShort { .. }
            | KeyringError::Unsupported { .. } => exit::USAGE,
            KeyringError::PasswordMissing { .. } | KeyringError::WrongPassword { .. } => exit::NOPERM,
            KeyringError::Tampered { .. } | KeyringError::UnsupportedVersion { .. } => exit::DATAERR,
            KeyringError::Io { .. } => exit::CANTCREAT,
            KeyringError::LockTimeout { .. } => exit::TEMPFAIL,
            KeyringError::SystemUnavailable { .. } | KeyringError::System { .. } => exit::UNAVAILABLE,
        }
    }

    /// What the user can do next (printed after a blank line as `hint: ...`).
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            KeyringError::InvalidType { .. } => "set `auth.keyring.type` to system, file or memory".into(),
            KeyringError::InvalidTypeEnv { var, .. } => {
                format!("set {var} to system, file or memory, or unset it to use `auth.keyring.type`")
            }
            KeyringError::InvalidSpec { hint, .. } => return hint.clone(),
            KeyringError::NoDataDir => "set HOME (or XDG_DATA_HOME), or `auth.keyring.spec.path`".into(),
            KeyringError::PasswordMissing { vars, .. } => format!(
                "export {}=<a password of at least {MIN_PASSWORD_CHARS} characters>, or set `auth.keyring.type: system`",
                vars[0]
            ),
            KeyringError::PasswordTooShort { var, min, .. } => {
                format!("set {var} to a password of at least {min} characters")
            }
            KeyringError::WrongPassword { path, var } => format!(
                "set {var} to the password the keyring was created with, or remove {} and log in again",
                path.display()
            ),
            KeyringError::Tampered { path, .. } => {
                format!("restore {} from a backup, or remove it and log in again", path.display())
            }
            KeyringError::UnsupportedVersion { .. } => "a newer tfauth wrote this keyring; upgrade tfauth".into(),
            KeyringError::Io { path, .. } => format!(
                "check the permissions of {}",
                path.parent().map_or_else(|| path.display().to_string(), |d| d.display().to_string())
            ),
            KeyringError::LockTimeout { .. } => "another tfauth may be stuck; try again".into(),
            KeyringError::SystemUnavailable { .. } | KeyringError::System { .. } => format!(
                "start a Secret Service such as gnome-keyring (or unlock the keychain), or set \
                 `auth.keyring.type: file` with {ATMOS_KEYRING_PASSWORD}"
            ),
            KeyringError::Unsupported { .. } => return None,
        })
    }
}

fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env_vars::{ATMOS_XDG_DATA_HOME, XDG_DATA_HOME};

    /// Parses an `auth:` mapping from YAML with spans in `atmos.yaml`.
    fn auth(yaml: &str) -> Node {
        let ctx = crate::yaml::LoadContext::default();
        let doc = crate::yaml::Loader::new(&ctx).load_str(yaml, Path::new("/repo/atmos.yaml")).unwrap();
        doc.get("auth").cloned().unwrap_or_else(Node::null)
    }

    #[test]
    fn nothing_configured_is_none() {
        assert_eq!(spec(&auth("auth: {}"), &Env::default()).unwrap(), None);
        assert_eq!(spec(&Node::null(), &Env::default()).unwrap(), None);
        assert_eq!(spec(&auth("auth:\n  keyring: {}\n"), &Env::default()).unwrap(), None);
    }

    #[test]
    fn reads_type_path_and_password_env() {
        let a = auth("auth:\n  keyring:\n    type: file\n    spec:\n      path: ~/k/ring\n      password_env: MY_PW\n");
        let env = Env::from_pairs([("HOME", "/home/u")]);
        let s = spec(&a, &env).unwrap().unwrap();
        assert_eq!(s.kind, KeyringType::File);
        assert_eq!(s.path.as_deref(), Some(Path::new("/home/u/k/ring")));
        assert_eq!(s.password_env.as_deref(), Some("MY_PW"));
        assert_eq!(s.span.unwrap().line, 3);
    }

    #[test]
    fn env_type_overrides_the_yaml() {
        let a = auth("auth:\n  keyring:\n    type: system\n");
        let env = Env::from_pairs([(ATMOS_KEYRING_TYPE, "memory")]);
        assert_eq!(spec(&a, &env).unwrap().unwrap().kind, KeyringType::Memory);
        let s = spec(&auth("auth: {}"), &Env::from_pairs([(ATMOS_KEYRING_TYPE, "file")])).unwrap().unwrap();
        assert_eq!((s.kind, s.span), (KeyringType::File, None));
        let e = spec(&a, &Env::from_pairs([(ATMOS_KEYRING_TYPE, "vault")])).unwrap_err();
        assert!(e.to_string().contains("ATMOS_KEYRING_TYPE") && e.to_string().contains("`vault`"), "{e}");
        assert_eq!(e.exit_code(), exit::USAGE);
    }

    #[test]
    fn invalid_type_names_the_file_and_line() {
        let a = auth("auth:\n  realm: x\n  keyring:\n    type: vault\n");
        let e = spec(&a, &Env::default()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("/repo/atmos.yaml:4:") && msg.contains("`vault`"), "{msg}");
        assert_eq!(e.exit_code(), exit::DATAERR);
        assert!(e.hint().unwrap().contains("system, file or memory"));
        let e = spec(&auth("auth:\n  keyring:\n    type: [file]\n"), &Env::default()).unwrap_err();
        assert!(e.to_string().contains("not a list"), "{e}");
    }

    #[test]
    fn bad_specs_name_the_field() {
        let env = Env::default();
        for (yaml, field, line) in [
            ("auth:\n  keyring:\n    type: file\n    spec:\n      path: rel/ring\n", "spec.path", 5),
            ("auth:\n  keyring:\n    type: file\n    spec:\n      path: ~/ring\n", "spec.path", 5),
            ("auth:\n  keyring:\n    type: file\n    spec:\n      password_env: 'a b'\n", "password_env", 5),
            ("auth:\n  keyring:\n    spec:\n      path: /x\n", "auth.keyring.spec", 3),
            ("auth:\n  keyring: file\n", "auth.keyring", 2),
        ] {
            let e = spec(&auth(yaml), &env).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains(field) && msg.contains(&format!("atmos.yaml:{line}:")), "{yaml}: {msg}");
        }
    }

    #[test]
    fn passwords_come_from_the_named_variable() {
        let path = Path::new("/k/ring");
        let mut s = KeyringSpec { kind: KeyringType::File, path: None, password_env: None, span: None };
        let e = password(&s, &Env::default(), path).unwrap_err();
        assert!(e.to_string().contains("ATMOS_KEYRING_PASSWORD is not set"), "{e}");
        assert!(e.hint().unwrap().contains("export ATMOS_KEYRING_PASSWORD="));
        assert_eq!(e.exit_code(), exit::NOPERM);
        s.password_env = Some("MY_PW".into());
        let e = password(&s, &Env::default(), path).unwrap_err();
        assert!(e.to_string().contains("MY_PW or ATMOS_KEYRING_PASSWORD is not set"), "{e}");
        let env = Env::from_pairs([("MY_PW", "tiny123"), (ATMOS_KEYRING_PASSWORD, "long enough here")]);
        let e = password(&s, &env, path).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("MY_PW") && msg.contains("at least 8") && !msg.contains("tiny123"), "{msg}");
        let env = Env::from_pairs([("MY_PW", "correct horse"), (ATMOS_KEYRING_PASSWORD, "other password")]);
        assert_eq!(password(&s, &env, path).unwrap().1, "MY_PW");
        let env = Env::from_pairs([(ATMOS_KEYRING_PASSWORD, "other password")]);
        assert_eq!(password(&s, &env, path).unwrap().1, ATMOS_KEYRING_PASSWORD);
    }

    #[test]
    fn default_path_follows_xdg() {
        let env = Env::from_pairs([("HOME", "/home/u"), (XDG_DATA_HOME, "/data")]);
        assert_eq!(default_file_path(&env).unwrap(), Path::new("/data/tfauth/keyring"));
        let env =
            Env::from_pairs([("HOME", "/home/u"), (XDG_DATA_HOME, "/data"), (ATMOS_XDG_DATA_HOME, "/atmos-data")]);
        assert_eq!(default_file_path(&env), Some(PathBuf::from("/atmos-data/tfauth/keyring")));
        let env = Env::from_pairs([("HOME", "/home/u"), (XDG_DATA_HOME, "rel")]);
        assert_eq!(default_file_path(&env).unwrap(), Path::new("/home/u/.local/share/tfauth/keyring"));
        let s = KeyringSpec { kind: KeyringType::File, path: None, password_env: None, span: None };
        assert!(matches!(open(&s, &Env::default()), Err(KeyringError::NoDataDir)));
    }

    #[test]
    fn open_honours_password_env() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("ring");
        file::tests::cheap_keyring(&path, "password-one", "MY_PW").set("k", &Secret::new("v")).unwrap();
        let s = KeyringSpec {
            kind: KeyringType::File,
            path: Some(path.clone()),
            password_env: Some("MY_PW".into()),
            span: None,
        };
        let env = Env::from_pairs([("MY_PW", "password-one"), (ATMOS_KEYRING_PASSWORD, "password-two")]);
        assert_eq!(open(&s, &env).unwrap().get("k").unwrap().unwrap().expose(), "v");
        let env = Env::from_pairs([("MY_PW", "password-two")]);
        let e = open(&s, &env).err().unwrap();
        assert!(matches!(&e, KeyringError::WrongPassword { var, .. } if var == "MY_PW"), "{e}");
        let s = KeyringSpec { password_env: None, ..s };
        let env = Env::from_pairs([("MY_PW", "password-one"), (ATMOS_KEYRING_PASSWORD, "password-two")]);
        let e = open(&s, &env).err().unwrap();
        assert!(e.to_string().contains("from ATMOS_KEYRING_PASSWORD"), "{e}");
        assert!(!format!("{e} {e:?}").contains("password-two"));
    }

    #[test]
    fn memory_keyring_opens_shared() {
        let s = KeyringSpec { kind: KeyringType::Memory, path: None, password_env: None, span: None };
        let a = open(&s, &Env::default()).unwrap();
        a.set("mod-test/shared", &Secret::new("v")).unwrap();
        let b = open(&s, &Env::default()).unwrap();
        assert_eq!(b.get("mod-test/shared").unwrap().unwrap().expose(), "v");
        assert!(b.delete("mod-test/shared").unwrap());
        assert_eq!(a.describe(), "memory keyring");
    }
}
