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
    Run(#[from] crate::run::RunError),
    #[error(transparent)]
    Portal(#[from] crate::session::portal::PortalError),
    #[error(transparent)]
    Keyring(#[from] crate::keyring::KeyringError),
    #[error(transparent)]
    Integration(#[from] crate::integrations::IntegrationError),
    /// No environment plan: a realm that cannot name a directory, no HOME, or a value a run
    /// would write into one of its files, refused before anything is written.
    #[error(transparent)]
    Output(#[from] crate::output::plan::PlanError),
    #[error("{message}")]
    Usage { message: String, hint: Option<String> },
    #[error("{message}")]
    NotYet { message: String, hint: Option<String> },
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
            Error::Auth(_) => exit::DATAERR,
            Error::Exec(ExecError::NoComponentDir(_)) => exit::DATAERR,
            Error::Exec(_) => exit::UNAVAILABLE,
            Error::Provider(e) => e.exit_code(),
            Error::Cache(crate::session::cache::CacheError::LockTimeout { .. }) => exit::TEMPFAIL,
            Error::Cache(crate::session::cache::CacheError::Io { .. }) => exit::IOERR,
            Error::Cache(_) => exit::SOFTWARE,
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
            Error::Output(crate::output::plan::PlanError::Unsafe(_)) => exit::DATAERR,
            Error::Output(_) => exit::USAGE,
            Error::Usage { .. } => exit::USAGE,
            Error::NotYet { .. } => exit::UNAVAILABLE,
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
            Error::Run(e) => e.hint(),
            Error::Portal(e) => e.hint(),
            Error::Keyring(e) => e.hint(),
            Error::Integration(e) => e.hint(),
            Error::Output(e) => Some(e.hint()),
            Error::Usage { hint, .. } | Error::NotYet { hint, .. } => hint.clone(),
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
