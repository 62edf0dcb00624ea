//! The crate's error: one variant per domain, each domain's type carrying what the user
//! needs (file and line, stack, identity). [`Error::exit_code`] is the one place that maps
//! errors to exit codes; [`Error::hint`] says what to do next; [`render`] prints both.

use crate::auth::AuthError;
use crate::config::ConfigError;
use crate::exec::ExecError;
use crate::exit;
use crate::stacks::StackError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Provider(#[from] crate::providers::ProviderError),
    #[error(transparent)]
    Cache(#[from] crate::session::cache::CacheError),
    #[error(transparent)]
    Eks(#[from] crate::providers::eks::EksError),
    #[error(transparent)]
    Serve(#[from] crate::serve::ServeError),
    #[error(transparent)]
    Run(#[from] crate::run::RunError),
    #[error(transparent)]
    Portal(#[from] crate::session::portal::PortalError),
    #[error(transparent)]
    Keyring(#[from] crate::keyring::KeyringError),
    #[error(transparent)]
    Integration(Box<crate::logins::IntegrationError>),
    /// No environment plan: a realm that cannot name a directory, no HOME, or a value a run
    /// would write into one of its files, refused before anything is written.
    #[error(transparent)]
    Output(#[from] crate::output::plan::PlanError),
    #[error("{message}")]
    Usage { message: String, hint: Option<String> },
    /// A command that signs in only when asked (`auth env` without `--login`) needs a
    /// session that is not cached.
    #[error("no valid session of `{identity}` is cached, and {why}: nothing was signed in")]
    LoginNeeded { identity: String, why: String },
    /// A file the user named for output (`auth env -o FILE`) cannot be written.
    #[error("cannot write {}", path.display())]
    OutputFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// An integration's error, unless it is another domain's (a session's, a provider's):
/// then that domain's, with its exit code and hint.
impl From<crate::logins::IntegrationError> for Error {
    fn from(e: crate::logins::IntegrationError) -> Error {
        use crate::logins::IntegrationError as I;
        match e {
            I::Auth(e) => Error::Auth(*e),
            I::Resolve(e) => (*e).into(),
            I::Session(e) => (*e).into(),
            I::Provider(e) => Error::Provider(*e),
            e @ I::NoConfigHome => Error::usage(e.to_string(), e.hint()),
            e => Error::Integration(Box::new(e)),
        }
    }
}

/// A resolver's error is the error of the domain that failed.
impl From<crate::resolve::ResolveError> for Error {
    fn from(e: crate::resolve::ResolveError) -> Error {
        use crate::resolve::ResolveError as R;
        match e {
            R::Config(e) => Error::Config(e),
            R::Stack(e) => Error::Stack(e),
            R::Auth(e) => Error::Auth(e),
            R::Usage { message, hint } => Error::Usage { message, hint },
        }
    }
}

/// A session's error is the error of the domain that failed (so its exit code and hint are
/// that domain's).
impl From<crate::session::SessionError> for Error {
    fn from(e: crate::session::SessionError) -> Error {
        use crate::session::SessionError as S;
        match e {
            S::Provider(e) => Error::Provider(e),
            S::Cache(e) => Error::Cache(e),
            S::Portal(e) => Error::Portal(e),
            S::Keyring(e) => Error::Keyring(e),
            e @ S::NoCacheHome => Error::usage(e.to_string(), e.hint()),
        }
    }
}

impl From<Box<crate::output::ini::UnsafeValue>> for Error {
    fn from(e: Box<crate::output::ini::UnsafeValue>) -> Error {
        Error::Output(e.into())
    }
}

impl Error {
    pub fn usage(message: impl Into<String>, hint: impl Into<Option<String>>) -> Error {
        Error::Usage { message: message.into(), hint: hint.into() }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(ConfigError::NotFound { .. }) => exit::NOINPUT,
            Error::Config(ConfigError::ProfileNotFound { .. }) => exit::USAGE,
            Error::Config(_) => exit::DATAERR,
            Error::Stack(
                StackError::StackNotFound { .. } | StackError::ComponentNotFound { .. } | StackError::Abstract { .. },
            ) => exit::USAGE,
            Error::Stack(_) => exit::DATAERR,
            Error::Auth(
                AuthError::UnknownIdentity { .. } | AuthError::NoDefault { .. } | AuthError::NeedTerminal { .. },
            ) => exit::USAGE,
            Error::Auth(AuthError::Unsupported { .. }) => exit::UNAVAILABLE,
            Error::Auth(_) => exit::DATAERR,
            Error::Exec(ExecError::NoComponentDir(_)) => exit::DATAERR,
            Error::Exec(_) => exit::UNAVAILABLE,
            Error::Provider(e) => e.exit_code(),
            Error::Cache(crate::session::cache::CacheError::LockTimeout { .. }) => exit::TEMPFAIL,
            Error::Cache(crate::session::cache::CacheError::Io { .. }) => exit::IOERR,
            Error::Cache(_) => exit::SOFTWARE,
            Error::Eks(e) => e.exit_code(),
            Error::Run(crate::run::RunError::WouldOverwrite { .. }) => exit::CANTCREAT,
            Error::Run(crate::run::RunError::Write { source, .. })
                if crate::util::fs::TrustError::of(source).is_some() =>
            {
                exit::IOERR
            }
            Error::Run(crate::run::RunError::Write { .. }) => exit::CANTCREAT,
            Error::Run(crate::run::RunError::LockedByAncestor { .. }) => exit::SOFTWARE,
            Error::Run(crate::run::RunError::Spawn { .. }) => exit::UNAVAILABLE,
            Error::Run(_) => exit::DATAERR,
            Error::Portal(e) => e.exit_code(),
            Error::Keyring(e) => e.exit_code(),
            Error::Integration(e) => e.exit_code(),
            Error::Serve(e) => e.exit_code(),
            Error::Output(crate::output::plan::PlanError::Unsafe(_)) => exit::DATAERR,
            Error::Output(crate::output::plan::PlanError::BasePath { .. }) => exit::DATAERR,
            Error::Output(_) => exit::USAGE,
            Error::Usage { .. } => exit::USAGE,
            Error::LoginNeeded { .. } => exit::NOPERM,
            Error::OutputFile { source, .. } if crate::util::fs::TrustError::of(source).is_some() => exit::IOERR,
            Error::OutputFile { .. } => exit::CANTCREAT,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Config(e) => e.hint(),
            Error::Stack(e) => e.hint(),
            Error::Auth(e) => e.hint(),
            Error::Exec(e) => e.hint(),
            Error::Provider(e) => e.hint(),
            Error::Cache(e) => e.hint(),
            Error::Eks(e) => e.hint(),
            Error::Run(e) => e.hint(),
            Error::Portal(e) => e.hint(),
            Error::Keyring(e) => e.hint(),
            Error::Integration(e) => e.hint(),
            Error::Serve(e) => e.hint(),
            Error::Output(e) => Some(e.hint()),
            Error::Usage { hint, .. } => hint.clone(),
            Error::LoginNeeded { identity, .. } => {
                Some(format!("add --login to sign in if needed, or run `tfauth auth login -i {identity}` first"))
            }
            Error::OutputFile { source, .. } => Some(match crate::util::fs::TrustError::of(source) {
                Some(crate::util::fs::TrustError::NotRegular { .. }) => {
                    "name a file to write (a new one, or a regular file of yours)".to_string()
                }
                Some(crate::util::fs::TrustError::Symlink { .. }) => {
                    "name the file the link points to: the environment is never written through a link".to_string()
                }
                Some(t) => t.hint(),
                None if source.kind() == std::io::ErrorKind::NotFound => {
                    "create the directory first: --output-file creates none".to_string()
                }
                None => "check the path given to --output-file (or ATMOS_AUTH_ENV_OUTPUT_FILE)".to_string(),
            }),
        }
    }
}

/// `error: ...`, the causes, a blank line, then `hint: ...` lines.
pub fn render(err: &(dyn std::error::Error + 'static), hint: Option<&str>) -> String {
    let mut out = format!("error: {err}\n");
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(&format!("  caused by: {s}\n"));
        source = s.source();
    }
    if let Some(h) = hint {
        out.push('\n');
        for (i, line) in h.lines().enumerate() {
            if i == 0 || !line.starts_with("hint: ") {
                out.push_str("hint: ");
            }
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
