//! Where tfauth keeps long-lived secrets: `aws/user` access keys, which must outlive one
//! process but must never sit on disk in the clear (session credentials, which expire
//! within hours, live in [`crate::session::cache`]; IAM Identity Center tokens live in the
//! 0600 cache file, as Atmos and the AWS CLI keep them, see [`crate::session::vault`]).
//!
//! `auth.keyring.type` (or `ATMOS_KEYRING_TYPE`, which wins) chooses one of three keyrings
//! behind the one [`Keyring`] trait:
//! - [`memory`]: a map in this process, gone when it exits (tests, one-shot CI runs);
//! - `file`: Atmos's file keyring ([`atmos_file`]), a directory of JWE files that Atmos
//!   and tfauth both read and write, under a password from the environment or, on a
//!   terminal, asked for (headless hosts);
//! - [`system`]: the OS keyring (Secret Service, the macOS keychain, Windows' credential store).
//!
//! Why `file` is Atmos's format and not tfauth's own: an Atmos user switching to tfauth
//! keeps the keys `atmos auth user configure` stored, and can switch back. tfauth's earlier
//! one-file format ([`mod@file`], Argon2id and XChaCha20-Poly1305, arguably the stronger
//! KDF) is still read: [`open`] moves its entries into Atmos's directory the first time
//! it runs with the password, then removes it, so no earlier tfauth user loses a key.
//!
//! [`spec`] reads the configuration and does no I/O; [`open`] does. Keys are opaque strings
//! the caller chooses; values are [`Secret`]s. No error here carries a secret or a password,
//! and the caller decides what to do when the system keyring is unavailable. The file
//! keyring's password prompt is the caller's too ([`set_password_prompt`]): this layer
//! knows no terminal.

pub mod atmos_file;
pub mod file;
pub mod jwe;
pub mod memory;
pub mod system;

use crate::env_vars::{
    ATMOS_KEYRING_FILE_PATH, ATMOS_KEYRING_PASSWORD, ATMOS_KEYRING_PASSWORD_ENV, ATMOS_KEYRING_TYPE, Env,
};
use crate::exit;
use crate::secret::Secret;
use crate::yaml::{Node, Span};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The shortest password the file keyring accepts, in bytes (as Atmos counts it: Go's `len`).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// What a password typed on the terminal is reported as coming from.
pub const FROM_TERMINAL: &str = "the terminal";
/// Where [`open`] moves a tfauth keyring file out of the way when Atmos's directory must
/// take its path (`<dir>` + this suffix).
pub const LEGACY_SUFFIX: &str = ".tfauth-legacy";

/// Asks for the file keyring's password; installed once by the command line
/// ([`set_password_prompt`]), so this layer never opens a terminal itself.
pub trait PasswordPrompt: Send + Sync {
    /// The password for the file keyring at `dir`, asked with echo off; None when there is
    /// no terminal to ask on.
    fn ask(&self, dir: &Path) -> Option<file::Password>;
}

static PROMPT: std::sync::OnceLock<Box<dyn PasswordPrompt>> = std::sync::OnceLock::new();

/// Installs the prompt [`open`] uses when no password is in the environment (the first
/// call wins). Without one (the credential helper, tests), a missing password is
/// [`KeyringError::PasswordMissing`], which names the variable to set.
pub fn set_password_prompt(prompt: Box<dyn PasswordPrompt>) {
    let _ = PROMPT.set(prompt);
}

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
    /// The file keyring's configured path, absolute (`~/` already expanded):
    /// `ATMOS_KEYRING_FILE_PATH`, else `spec.path`; None for the default. See [`file_dir`].
    pub path: Option<PathBuf>,
    /// The variable holding the file keyring's password, if not `ATMOS_KEYRING_PASSWORD`:
    /// `ATMOS_KEYRING_PASSWORD_ENV`, else `spec.password_env`.
    pub password_env: Option<String>,
    /// Where the keyring was configured (`auth.keyring.type`, else `auth.keyring`), for
    /// errors; None when only `ATMOS_KEYRING_TYPE` configured it.
    pub span: Option<Span>,
}

/// Reads `auth.keyring` (`type`, `spec.path`, `spec.password_env`) from the merged auth
/// node, and `ATMOS_KEYRING_TYPE`, `ATMOS_KEYRING_FILE_PATH` and `ATMOS_KEYRING_PASSWORD_ENV`,
/// which win as in Atmos; Ok(None) when nothing configures a keyring.
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
    if let Some(value) = env.get(ATMOS_KEYRING_FILE_PATH).filter(|v| !v.is_empty()) {
        out.path = Some(env_path(value, env)?);
    } else if let Some(p) = spec_node.and_then(|s| s.get("path")).filter(|n| !n.is_null()) {
        out.path = Some(keyring_path(p, env)?);
    }
    if let Some(value) = env.get(ATMOS_KEYRING_PASSWORD_ENV).filter(|v| !v.is_empty()) {
        if !is_variable_name(value) {
            return Err(KeyringError::InvalidEnv {
                var: ATMOS_KEYRING_PASSWORD_ENV,
                value: value.to_string(),
                message: "must name an environment variable (letters, digits and `_`)".into(),
                hint: format!("for example {ATMOS_KEYRING_PASSWORD_ENV}=MY_KEYRING_PASSWORD, or unset it"),
            });
        }
        out.password_env = Some(value.to_string());
    } else if let Some(v) = spec_node.and_then(|s| s.get("password_env")).filter(|n| !n.is_null()) {
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

/// `ATMOS_KEYRING_FILE_PATH`: absolute, or `~/...` below HOME.
fn env_path(value: &str, env: &Env) -> Result<PathBuf, KeyringError> {
    let invalid = |message: String, hint: String| KeyringError::InvalidEnv {
        var: ATMOS_KEYRING_FILE_PATH,
        value: value.to_string(),
        message,
        hint,
    };
    let path = match value.strip_prefix("~/") {
        Some(rest) => match env.get(crate::env_vars::HOME) {
            Some(home) => Path::new(home).join(rest),
            None => return Err(invalid("starts with `~/`, but HOME is not set".into(), "set HOME".into())),
        },
        None => PathBuf::from(value),
    };
    if !path.is_absolute() {
        return Err(invalid(
            "must be an absolute path or start with `~/`".into(),
            format!(
                "a relative path would depend on the directory tfauth runs in; for example {ATMOS_KEYRING_FILE_PATH}=$HOME/.atmos-keyring"
            ),
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
    /// Gets what a write will need (the file keyring's password, checked against an entry
    /// already there), so a command can fail before it asks the user for anything.
    fn ready_to_write(&self) -> Result<(), KeyringError> {
        Ok(())
    }
}

/// Opens the keyring `spec` describes. The file keyring asks for its password only when
/// an entry must be decrypted or written, except that an earlier tfauth keyring file
/// found beside it is moved into it now ([`migrate`]), which needs the password; the system
/// keyring is probed, and [`KeyringError::SystemUnavailable`] returned within seconds when
/// nothing answers.
pub fn open(spec: &KeyringSpec, env: &Env) -> Result<Box<dyn Keyring>, KeyringError> {
    open_with(spec, env, PROMPT.get().map(|p| p.as_ref() as &dyn PasswordPrompt))
}

/// [`open`] that never asks for the file keyring's password: for a look that is worth no
/// question (an earlier tfauth's IAM Identity Center token), it fails instead.
pub fn open_unprompted(spec: &KeyringSpec, env: &Env) -> Result<Box<dyn Keyring>, KeyringError> {
    open_with(spec, env, None)
}

fn open_with(
    spec: &KeyringSpec,
    env: &Env,
    prompt: Option<&'static dyn PasswordPrompt>,
) -> Result<Box<dyn Keyring>, KeyringError> {
    Ok(match spec.kind {
        KeyringType::Memory => Box::new(memory::MemoryKeyring::shared()),
        KeyringType::File => {
            let ring = open_file(spec, env, prompt)?;
            migrate(&ring, spec, env)?;
            Box::new(ring)
        }
        KeyringType::System => Box::new(system::SystemKeyring::open(env)?),
    })
}

/// Atmos's file keyring for `spec`, with its password from the environment or `prompt`;
/// nothing is read or written yet.
pub fn open_file(
    spec: &KeyringSpec,
    env: &Env,
    prompt: Option<&'static dyn PasswordPrompt>,
) -> Result<atmos_file::AtmosFileKeyring, KeyringError> {
    let dir = file_dir(spec, env).ok_or(KeyringError::NoDataDir)?;
    let home = env.get(crate::env_vars::HOME).map(PathBuf::from);
    if dir.parent().is_none() || home.is_some_and(|h| h == dir || h.starts_with(&dir)) {
        return Err(KeyringError::DirTooWide { path: spec.path.clone().unwrap_or_default(), dir });
    }
    let (spec2, env2, dir2) = (spec.clone(), env.clone(), dir.clone());
    Ok(atmos_file::AtmosFileKeyring::new(dir, Box::new(move || password(&spec2, &env2, &dir2, prompt))))
}

/// The directory of Atmos's file keyring: the configured path, or its parent when the
/// path's last element has an extension (Go's `filepath.Ext`, as Atmos reads it), else
/// [`default_file_dir`].
pub fn file_dir(spec: &KeyringSpec, env: &Env) -> Option<PathBuf> {
    let Some(path) = &spec.path else { return default_file_dir(env) };
    let text = path.to_string_lossy();
    let has_ext = !text.ends_with('/') && path.file_name().is_some_and(|n| n.to_string_lossy().contains('.'));
    match path.parent() {
        Some(parent) if has_ext => Some(parent.to_path_buf()),
        _ => Some(path.clone()),
    }
}

/// `<data home>/atmos/keyring`, Atmos's default: `ATMOS_XDG_DATA_HOME`, else
/// `XDG_DATA_HOME`, else `~/.local/share` (see [`crate::util::dirs::data_home`]).
pub fn default_file_dir(env: &Env) -> Option<PathBuf> {
    crate::util::dirs::data_home(env).map(|base| base.join("atmos").join("keyring"))
}

/// Where an earlier tfauth kept its one-file keyring when no path was configured.
pub fn legacy_default_path(env: &Env) -> Option<PathBuf> {
    crate::util::dirs::data_home(env).map(|base| base.join("tfauth").join("keyring"))
}

/// Earlier tfauth keyring files that [`migrate`] would move into `spec`'s directory: the
/// old default file (no path configured), the configured path when it is such a file, and
/// one an interrupted move left at `<dir>.tfauth-legacy`. Only looks.
pub fn legacy_files(spec: &KeyringSpec, env: &Env) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let is_legacy = |p: &Path| {
        std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file())
            && std::fs::File::open(p).is_ok_and(|mut f| {
                let mut magic = [0u8; 8];
                std::io::Read::read_exact(&mut f, &mut magic).is_ok() && &magic == file::MAGIC
            })
    };
    match (&spec.path, file_dir(spec, env)) {
        (None, _) => out.extend(legacy_default_path(env).filter(|p| is_legacy(p))),
        (Some(p), Some(dir)) => {
            if is_legacy(p) {
                out.push(p.clone());
            }
            let mut aside = dir.into_os_string();
            aside.push(LEGACY_SUFFIX);
            let aside = PathBuf::from(aside);
            if is_legacy(&aside) {
                out.push(aside);
            }
        }
        (Some(_), None) => {}
    }
    out
}

/// Moves the entries of earlier tfauth keyring files ([`legacy_files`]) into `ring`, then
/// removes those files. An entry already in `ring` is kept as it is (it is newer). A
/// configured path that is itself such a file, where Atmos's directory must go, is first
/// renamed to `<dir>.tfauth-legacy`. Each step can be repeated: a run killed midway
/// finishes the move next time.
pub fn migrate(ring: &atmos_file::AtmosFileKeyring, spec: &KeyringSpec, env: &Env) -> Result<usize, KeyringError> {
    let sources = legacy_files(spec, env);
    if sources.is_empty() {
        return Ok(0);
    }
    let mut moved = 0;
    for mut source in sources {
        // Read it whole first: a wrong password moves nothing.
        let (password, var) = ring.password()?;
        let old = file::FileKeyring::open(source.clone(), password, var, file::KdfParams::DEFAULT)?;
        let mut entries = Vec::new();
        for key in old.keys()? {
            if let Some(value) = old.get(&key)? {
                entries.push((key, value));
            }
        }
        let lock = PathBuf::from(format!("{}.lock", source.display()));
        if source == ring.dir() {
            let mut aside = source.clone().into_os_string();
            aside.push(LEGACY_SUFFIX);
            let aside = PathBuf::from(aside);
            match std::fs::rename(&source, &aside) {
                Ok(()) => {}
                // Another process moved it first.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && aside.exists() => {}
                Err(e) => return Err(KeyringError::Io { action: "move aside", path: source, source: e }),
            }
            source = aside;
        }
        let present = ring.keys()?;
        for (key, value) in entries {
            if !present.contains(&key) {
                ring.set(&key, &value)?;
                moved += 1;
            }
        }
        for path in [source.clone(), lock] {
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!("could not remove the earlier tfauth keyring file {}: {e}", path.display());
            }
        }
        tracing::info!(
            "moved {moved} entries from the earlier tfauth keyring {} into {}",
            source.display(),
            ring.describe()
        );
    }
    Ok(moved)
}

/// The file keyring's password and where it came from: `spec.password_env`'s variable if
/// set, else `ATMOS_KEYRING_PASSWORD`, else asked on the terminal through `prompt`.
fn password(
    spec: &KeyringSpec,
    env: &Env,
    dir: &Path,
    prompt: Option<&dyn PasswordPrompt>,
) -> Result<(file::Password, String), KeyringError> {
    let mut vars: Vec<String> = spec.password_env.iter().cloned().collect();
    if !vars.iter().any(|v| v == ATMOS_KEYRING_PASSWORD) {
        vars.push(ATMOS_KEYRING_PASSWORD.to_string());
    }
    let (password, var) = match vars.iter().find_map(|v| env.get(v).filter(|s| !s.is_empty()).map(|s| (v, s))) {
        Some((var, value)) => (file::Password::new(value), var.clone()),
        None => match prompt.and_then(|p| p.ask(dir)) {
            Some(p) => (p, FROM_TERMINAL.to_string()),
            None => return Err(KeyringError::PasswordMissing { path: dir.to_path_buf(), vars }),
        },
    };
    if password.expose().len() < MIN_PASSWORD_CHARS {
        return Err(KeyringError::PasswordTooShort { path: dir.to_path_buf(), var, min: MIN_PASSWORD_CHARS });
    }
    Ok((password, var))
}

/// Everything that can go wrong choosing, opening or using a keyring. Messages name the
/// file, variable or keyring; none carries a secret or a password.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("`auth.keyring.type` at {span} must be system, file or memory, not {found}")]
    InvalidType { found: String, span: Span },
    #[error("environment variable {var} must be system, file or memory, not `{value}`")]
    InvalidTypeEnv { var: &'static str, value: String },
    #[error("environment variable {var} {message}, not `{value}`")]
    InvalidEnv { var: &'static str, value: String, message: String, hint: String },
    #[error("`{field}` at {span} {message}")]
    InvalidSpec { field: String, span: Span, message: String, hint: Option<String> },
    #[error("cannot place the file keyring: none of ATMOS_XDG_DATA_HOME, XDG_DATA_HOME or HOME is set")]
    NoDataDir,
    /// A path with an extension names its parent directory (as Atmos reads it), which here
    /// is the home directory or the root: every file in it would be taken for a key.
    #[error(
        "the file keyring path {} names the directory {} (a path with an extension means its parent, as in Atmos), and tfauth keeps no keyring in your home directory or the root",
        path.display(),
        dir.display()
    )]
    DirTooWide { path: PathBuf, dir: PathBuf },
    #[error("the file keyring {} needs a password, but {} is not set", path.display(), or_list(vars))]
    PasswordMissing { path: PathBuf, vars: Vec<String> },
    #[error(
        "the password from {var} for the file keyring {} is too short: it needs at least {min} characters",
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
            | KeyringError::InvalidEnv { .. }
            | KeyringError::NoDataDir
            | KeyringError::DirTooWide { .. }
            | KeyringError::PasswordTooShort { .. }
            | KeyringError::Unsupported { .. } => exit::USAGE,
            KeyringError::PasswordMissing { .. } | KeyringError::WrongPassword { .. } => exit::NOPERM,
            KeyringError::Tampered { .. } | KeyringError::UnsupportedVersion { .. } => exit::DATAERR,
            KeyringError::Io { source, .. } if crate::util::fs::TrustError::of(source).is_some() => exit::IOERR,
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
            KeyringError::DirTooWide { .. } => {
                "name a directory of its own, e.g. `spec.path: ~/.local/share/atmos/keyring` (or unset it for that default)"
                    .into()
            }
            KeyringError::InvalidEnv { hint, .. } => hint.clone(),
            KeyringError::NoDataDir => "set HOME (or XDG_DATA_HOME), or `auth.keyring.spec.path`".into(),
            KeyringError::PasswordMissing { vars, .. } => format!(
                "export {}=<a password of at least {MIN_PASSWORD_CHARS} characters> (on a terminal, tfauth asks for \
                 it), or set `auth.keyring.type: system`",
                vars[0]
            ),
            KeyringError::PasswordTooShort { var, min, .. } if var == FROM_TERMINAL => {
                format!("type a password of at least {min} characters")
            }
            KeyringError::PasswordTooShort { var, min, .. } => {
                format!("set {var} to a password of at least {min} characters")
            }
            KeyringError::WrongPassword { path, var } if var == FROM_TERMINAL => format!(
                "type the password the keyring {} was created with (Atmos's and tfauth's are the same), or set \
                 {ATMOS_KEYRING_PASSWORD}",
                path.display()
            ),
            KeyringError::WrongPassword { path, var } => format!(
                "set {var} to the password the keyring was created with (Atmos's and tfauth's are the same), or \
                 remove {} and store the keys again",
                path.display()
            ),
            KeyringError::Tampered { path, .. } => format!(
                "restore {} from a backup, or remove it and store the keys again (`tfauth auth user configure`)",
                path.display()
            ),
            KeyringError::UnsupportedVersion { .. } => "a newer tfauth wrote this keyring; upgrade tfauth".into(),
            KeyringError::Io { source, .. } if crate::util::fs::TrustError::of(source).is_some() => {
                use crate::util::fs::TrustError;
                match TrustError::of(source).expect("checked") {
                    TrustError::NotRegular { path, .. } | TrustError::TooLarge { path, .. } => format!(
                        "move {} out of the keyring directory, then store the keys again \
                         (`tfauth auth user configure`)",
                        path.display()
                    ),
                    other => other.hint(),
                }
            }
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
        let e = password(&s, &Env::default(), path, None).unwrap_err();
        assert!(e.to_string().contains("ATMOS_KEYRING_PASSWORD is not set"), "{e}");
        assert!(e.hint().unwrap().contains("export ATMOS_KEYRING_PASSWORD="));
        assert_eq!(e.exit_code(), exit::NOPERM);
        s.password_env = Some("MY_PW".into());
        let e = password(&s, &Env::default(), path, None).unwrap_err();
        assert!(e.to_string().contains("MY_PW or ATMOS_KEYRING_PASSWORD is not set"), "{e}");
        let env = Env::from_pairs([("MY_PW", "tiny123"), (ATMOS_KEYRING_PASSWORD, "long enough here")]);
        let e = password(&s, &env, path, None).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("MY_PW") && msg.contains("at least 8") && !msg.contains("tiny123"), "{msg}");
        let env = Env::from_pairs([("MY_PW", "correct horse"), (ATMOS_KEYRING_PASSWORD, "other password")]);
        assert_eq!(password(&s, &env, path, None).unwrap().1, "MY_PW");
        let env = Env::from_pairs([(ATMOS_KEYRING_PASSWORD, "other password")]);
        assert_eq!(password(&s, &env, path, None).unwrap().1, ATMOS_KEYRING_PASSWORD);
        // Eight bytes is enough, as Atmos counts (Go's len): four two-byte characters.
        let env = Env::from_pairs([(ATMOS_KEYRING_PASSWORD, "\u{e9}\u{e9}\u{e9}\u{e9}")]);
        assert!(password(&s, &env, path, None).is_ok());
    }

    struct Typed(Option<&'static str>);
    impl PasswordPrompt for Typed {
        fn ask(&self, _dir: &Path) -> Option<file::Password> {
            self.0.map(file::Password::new)
        }
    }

    #[test]
    fn without_a_variable_the_prompt_is_asked() {
        let s = KeyringSpec { kind: KeyringType::File, path: None, password_env: None, span: None };
        let dir = Path::new("/k/ring");
        let (p, from) = password(&s, &Env::default(), dir, Some(&Typed(Some("typed password")))).unwrap();
        assert_eq!((p.expose(), from.as_str()), ("typed password", FROM_TERMINAL));
        let e = password(&s, &Env::default(), dir, Some(&Typed(Some("short")))).unwrap_err();
        assert!(e.to_string().contains("from the terminal"), "{e}");
        assert!(e.hint().unwrap().starts_with("type a password"), "{:?}", e.hint());
        // No terminal to ask on: the variable to set.
        let e = password(&s, &Env::default(), dir, Some(&Typed(None))).unwrap_err();
        assert!(matches!(e, KeyringError::PasswordMissing { .. }), "{e}");
        // The environment wins over the prompt.
        let env = Env::from_pairs([(ATMOS_KEYRING_PASSWORD, "from the env")]);
        assert_eq!(password(&s, &env, dir, Some(&Typed(Some("typed password")))).unwrap().1, ATMOS_KEYRING_PASSWORD);
    }

    #[test]
    fn atmos_variables_win_over_the_yaml() {
        let a =
            auth("auth:\n  keyring:\n    type: file\n    spec:\n      path: /yaml/ring\n      password_env: YAML_PW\n");
        let env = Env::from_pairs([(ATMOS_KEYRING_FILE_PATH, "/env/ring"), (ATMOS_KEYRING_PASSWORD_ENV, "ENV_PW")]);
        let s = spec(&a, &env).unwrap().unwrap();
        assert_eq!((s.path.as_deref(), s.password_env.as_deref()), (Some(Path::new("/env/ring")), Some("ENV_PW")));
        let env = Env::from_pairs([(ATMOS_KEYRING_FILE_PATH, "~/r"), ("HOME", "/home/u")]);
        assert_eq!(spec(&a, &env).unwrap().unwrap().path.unwrap(), Path::new("/home/u/r"));
        for (var, value) in [(ATMOS_KEYRING_FILE_PATH, "rel/ring"), (ATMOS_KEYRING_PASSWORD_ENV, "not a name")] {
            let e = spec(&a, &Env::from_pairs([(var, value)])).unwrap_err();
            assert!(e.to_string().contains(var) && e.to_string().contains(value), "{e}");
            assert_eq!(e.exit_code(), exit::USAGE);
            assert!(e.hint().is_some());
        }
    }

    #[test]
    fn a_path_whose_parent_is_home_or_the_root_is_refused() {
        let env = Env::from_pairs([("HOME", "/home/u"), ("ATMOS_KEYRING_PASSWORD", "long-enough-password")]);
        for path in ["/home/u/keyring.db", "/home/u/.atmos-keyring", "/keyring.db", "/home/keyring.db"] {
            let spec = KeyringSpec {
                kind: KeyringType::File,
                path: Some(PathBuf::from(path)),
                password_env: None,
                span: None,
            };
            let err = open_file(&spec, &env, None).err().unwrap_or_else(|| panic!("{path} was accepted"));
            assert!(matches!(err, KeyringError::DirTooWide { .. }), "{path}: {err:?}");
            assert_eq!(err.exit_code(), exit::USAGE);
        }
        let spec = KeyringSpec {
            kind: KeyringType::File,
            path: Some(PathBuf::from("/home/u/.secrets/keyring.db")),
            password_env: None,
            span: None,
        };
        assert!(open_file(&spec, &env, None).is_ok(), "a directory of its own is fine");
    }

    #[test]
    fn the_directory_is_atmos_s() {
        let env = Env::from_pairs([("HOME", "/home/u"), (XDG_DATA_HOME, "/data")]);
        let mut s = KeyringSpec { kind: KeyringType::File, path: None, password_env: None, span: None };
        assert_eq!(file_dir(&s, &env).unwrap(), Path::new("/data/atmos/keyring"));
        for (path, dir) in [
            ("/x/keyring", "/x/keyring"),
            ("/x/keyring.db", "/x"),
            ("/x/.keyring", "/x"),
            ("/x/a.b/", "/x/a.b/"),
            ("/x/a.b/ring", "/x/a.b/ring"),
        ] {
            s.path = Some(PathBuf::from(path));
            assert_eq!(file_dir(&s, &env).unwrap(), Path::new(dir), "{path}");
        }
    }

    #[test]
    fn default_path_follows_xdg() {
        let env = Env::from_pairs([("HOME", "/home/u"), (XDG_DATA_HOME, "/data")]);
        assert_eq!(default_file_dir(&env).unwrap(), Path::new("/data/atmos/keyring"));
        assert_eq!(legacy_default_path(&env).unwrap(), Path::new("/data/tfauth/keyring"));
        let env =
            Env::from_pairs([("HOME", "/home/u"), (XDG_DATA_HOME, "/data"), (ATMOS_XDG_DATA_HOME, "/atmos-data")]);
        assert_eq!(default_file_dir(&env), Some(PathBuf::from("/atmos-data/atmos/keyring")));
        let env = Env::from_pairs([("HOME", "/home/u"), (XDG_DATA_HOME, "rel")]);
        assert_eq!(default_file_dir(&env).unwrap(), Path::new("/home/u/.local/share/atmos/keyring"));
        let s = KeyringSpec { kind: KeyringType::File, path: None, password_env: None, span: None };
        assert!(matches!(open(&s, &Env::default()), Err(KeyringError::NoDataDir)));
    }

    #[test]
    fn open_honours_password_env() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("ring");
        atmos_file::tests::cheap(&dir, "password-one").set("k", &Secret::new("v")).unwrap();
        let s = KeyringSpec {
            kind: KeyringType::File,
            path: Some(dir.clone()),
            password_env: Some("MY_PW".into()),
            span: None,
        };
        let env = Env::from_pairs([("MY_PW", "password-one"), (ATMOS_KEYRING_PASSWORD, "password-two")]);
        assert_eq!(open(&s, &env).unwrap().get("k").unwrap().unwrap().expose(), "v");
        let env = Env::from_pairs([("MY_PW", "password-two")]);
        let e = open(&s, &env).unwrap().get("k").unwrap_err();
        assert!(matches!(&e, KeyringError::WrongPassword { var, .. } if var == "MY_PW"), "{e}");
        let s = KeyringSpec { password_env: None, ..s };
        let env = Env::from_pairs([("MY_PW", "password-one"), (ATMOS_KEYRING_PASSWORD, "password-two")]);
        let e = open(&s, &env).unwrap().get("k").unwrap_err();
        assert!(e.to_string().contains("from ATMOS_KEYRING_PASSWORD"), "{e}");
        assert!(!format!("{e} {e:?}").contains("password-two"));
    }

    /// An earlier tfauth keyring file, at the old default place or at the configured path
    /// (also where Atmos's directory must go), moves into Atmos's directory on first open.
    #[test]
    fn earlier_tfauth_keyrings_move_into_atmos_s_directory() {
        let t = tempfile::tempdir().unwrap();
        let data = t.path().join("data");
        let env = Env::from_pairs([(XDG_DATA_HOME, data.to_str().unwrap()), (ATMOS_KEYRING_PASSWORD, "correct horse")]);
        let old = data.join("tfauth/keyring");
        let k = file::tests::cheap_keyring(&old, "correct horse", "V");
        k.set("acme/aws-user/ci", &Secret::new("CANARY-OLD")).unwrap();
        k.set("atmos_acme_kept", &Secret::new("older")).unwrap();
        let s = KeyringSpec { kind: KeyringType::File, path: None, password_env: None, span: None };
        let newer = atmos_file::tests::cheap(&data.join("atmos/keyring"), "correct horse");
        newer.set("atmos_acme_kept", &Secret::new("newer")).unwrap();
        assert_eq!(legacy_files(&s, &env), std::slice::from_ref(&old));
        let ring = open(&s, &env).unwrap();
        assert_eq!(ring.get("acme/aws-user/ci").unwrap().unwrap().expose(), "CANARY-OLD");
        assert_eq!(ring.get("atmos_acme_kept").unwrap().unwrap().expose(), "newer", "what is there wins");
        assert!(!old.exists(), "the earlier file is gone once moved");
        assert!(legacy_files(&s, &env).is_empty());
        assert_eq!(open(&s, &env).unwrap().keys().unwrap(), ["acme/aws-user/ci", "atmos_acme_kept"]);

        // spec.path naming the earlier file itself: Atmos's directory takes its place.
        let path = t.path().join("custom/ring");
        file::tests::cheap_keyring(&path, "correct horse", "V").set("acme/sso/1", &Secret::new("tok")).unwrap();
        let s = KeyringSpec { kind: KeyringType::File, path: Some(path.clone()), password_env: None, span: None };
        // A wrong password moves nothing and says which file it is.
        let wrong = Env::from_pairs([(ATMOS_KEYRING_PASSWORD, "wrong horse")]);
        let e = open(&s, &wrong).err().unwrap();
        assert!(matches!(&e, KeyringError::WrongPassword { path: p, .. } if p == &path), "{e}");
        assert!(path.is_file(), "nothing moved");
        let ring = open(&s, &env).unwrap();
        assert_eq!(ring.get("acme/sso/1").unwrap().unwrap().expose(), "tok");
        assert!(path.is_dir() && !t.path().join("custom/ring.tfauth-legacy").exists());
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
