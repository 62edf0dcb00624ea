//! tfauth's own log lines: where they go and how many there are.
//!
//! The level is, first that is set: `-q` (errors only) or `-v`/`-vv` (debug/trace), then
//! `ATMOS_LOGS_LEVEL`, then `auth.logs.level` in atmos.yaml, then warn. Lines go to stderr,
//! or, with `ATMOS_LOGS_FILE` or `auth.logs.file`, are appended to that file (created
//! 0600). `/dev/stderr` and `/dev/stdout` name the streams; stdout is refused for the
//! helper, whose stdout is the credential document.
//!
//! The configuration is read after logging has started (the file holds the level), so the
//! filter and the destination are swappable: [`init`] installs them from flags and the
//! environment, and [`apply_config`] (called when atmos.yaml is loaded) fills in what the
//! flags and environment left open.
//!
//! Secrets never reach a log line at any level: they travel in [`crate::secret::Secret`],
//! whose `Debug` and `Display` are redacted, and the AWS SDK's own targets (whose trace
//! output includes request headers) are held at warn.

use crate::env_vars::ATMOS_LOGS_FILE;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use tracing::Level;
use tracing_subscriber::{filter::Targets, layer::SubscriberExt, reload, util::SubscriberInitExt};

struct State {
    /// The level was set by a flag or ATMOS_LOGS_LEVEL: the file does not override it.
    level_fixed: bool,
    /// The destination was set by ATMOS_LOGS_FILE.
    file_fixed: bool,
    /// Whether stdout carries data (the helper): a log file of /dev/stdout is refused.
    stdout_is_data: bool,
    filter: reload::Handle<Targets, tracing_subscriber::Registry>,
}

static STATE: OnceLock<State> = OnceLock::new();
static SINK: Mutex<Option<File>> = Mutex::new(None);

/// The level `ATMOS_LOGS_LEVEL` asks for, if it names one.
pub fn env_level(env: &crate::env_vars::Env) -> Option<Option<Level>> {
    env.get(crate::env_vars::ATMOS_LOGS_LEVEL).and_then(parse_level)
}

/// A level name as Atmos writes them (any case): trace, debug, info, warn/warning, error,
/// off. `Some(None)` is off.
pub fn parse_level(s: &str) -> Option<Option<Level>> {
    match s.trim().to_ascii_lowercase().as_str() {
        "trace" => Some(Some(Level::TRACE)),
        "debug" => Some(Some(Level::DEBUG)),
        "info" => Some(Some(Level::INFO)),
        "warn" | "warning" => Some(Some(Level::WARN)),
        "error" => Some(Some(Level::ERROR)),
        "off" | "none" => Some(None),
        _ => None,
    }
}

fn targets(level: Option<Level>) -> Targets {
    match level {
        None => Targets::new(),
        Some(level) => Targets::new()
            .with_target("tfauth", level)
            .with_target("atmos_auth_helper", level)
            .with_default(std::cmp::min(level, Level::WARN)),
    }
}

/// Starts logging. `flag_level` is what `-q`/`-v` asked for (None: nothing asked).
pub fn init(flag_level: Option<Level>, env: &crate::env_vars::Env, stdout_is_data: bool) {
    let from_env = env_level(env);
    let level = flag_level.map(Some).or(from_env).unwrap_or(Some(Level::WARN));
    let (filter, handle) = reload::Layer::new(targets(level));
    let mut file_fixed = false;
    if let Some(path) = env.get(ATMOS_LOGS_FILE) {
        match open_sink(Path::new(path), stdout_is_data) {
            Ok(sink) => {
                *SINK.lock().unwrap_or_else(|e| e.into_inner()) = sink;
                file_fixed = true;
            }
            Err(e) => eprintln!("warning: {ATMOS_LOGS_FILE}: {e}; logging to stderr"),
        }
    }
    use std::io::IsTerminal;
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(|| Writer)
        .with_ansi(std::io::stderr().is_terminal() && !file_fixed)
        .with_target(false)
        .without_time();
    let _ = tracing_subscriber::registry().with(filter).with(layer).try_init();
    let _ = STATE.set(State {
        level_fixed: flag_level.is_some() || from_env.is_some(),
        file_fixed,
        stdout_is_data,
        filter: handle,
    });
}

/// Applies `auth.logs` from atmos.yaml where flags and the environment left it open.
/// Problems are reported once on stderr and never fail a command.
pub fn apply_config(level: Option<&str>, file: Option<&Path>) {
    let Some(state) = STATE.get() else { return };
    if !state.level_fixed
        && let Some(text) = level
    {
        match parse_level(text) {
            Some(l) => {
                let _ = state.filter.modify(|f| *f = targets(l));
            }
            None => tracing::warn!("auth.logs.level `{text}` is not one of trace, debug, info, warn, error, off"),
        }
    }
    if !state.file_fixed
        && let Some(path) = file
    {
        match open_sink(path, state.stdout_is_data) {
            Ok(sink) => *SINK.lock().unwrap_or_else(|e| e.into_inner()) = sink,
            Err(e) => tracing::warn!("auth.logs.file: {e}; logging to stderr"),
        }
    }
}

/// Opens `path` for appending, created 0600 (the parent directory must exist). `None`
/// means stderr.
fn open_sink(path: &Path, stdout_is_data: bool) -> Result<Option<File>, String> {
    match path.to_str() {
        Some("/dev/stderr") | Some("") => return Ok(None),
        Some("/dev/stdout") if stdout_is_data => {
            return Err("stdout carries the credential document; log to a file or /dev/stderr".into());
        }
        _ => {}
    }
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map(Some)
        .map_err(|e| format!("cannot open {}: {e}", PathBuf::from(path).display()))
}

/// Writes to the log file when there is one, else stderr.
struct Writer;

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
        match sink.as_mut() {
            Some(f) => f.write(buf),
            None => std::io::stderr().write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let mut sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
        match sink.as_mut() {
            Some(f) => f.flush(),
            None => std::io::stderr().flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atmos_level_names() {
        assert_eq!(parse_level("Debug"), Some(Some(Level::DEBUG)));
        assert_eq!(parse_level("Warning"), Some(Some(Level::WARN)));
        assert_eq!(parse_level("OFF"), Some(None));
        assert_eq!(parse_level("loud"), None);
    }

    #[test]
    fn sinks() {
        assert!(open_sink(Path::new("/dev/stderr"), true).unwrap().is_none());
        assert!(open_sink(Path::new("/dev/stdout"), true).is_err(), "the helper's stdout is data");
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("auth.log");
        assert!(open_sink(&p, false).unwrap().is_some());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(open_sink(&t.path().join("missing/auth.log"), false).is_err());
    }
}
