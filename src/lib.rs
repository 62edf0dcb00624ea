//! tfauth reads an Atmos repository's `atmos.yaml` (with its `auth:` section and profiles)
//! and `stacks/`, resolves one component in one stack, chooses the identity its merged
//! auth names, and runs terraform with that identity's credentials.
//!
//! The pipeline flows one way: [`config`] finds and loads `atmos.yaml` and profiles →
//! [`stacks`] finds the stack, follows imports and inheritance → [`merge`] layers the
//! component's sections and auth → [`auth`] types and validates the merged auth →
//! [`identity`] chooses the identity and builds its chain → [`output`] plans the
//! environment and files → [`run`] plans the component's varfile, backend, init and
//! workspace → [`exec`] finds the real terraform and runs it. [`resolve`]
//! strings the stages together; [`cli`] is the command line on top. [`integrations`]
//! derive credentials for other tools (a Docker login to ECR) from a session.

pub mod auth;
pub mod cache;
pub mod cli;
pub mod config;
pub mod env_vars;
pub mod error;
pub mod exec;
pub mod exit;
pub mod fsutil;
pub mod helper;
pub mod identity;
pub mod integrations;
pub mod keyring;
pub mod merge;
pub mod output;
pub mod portal;
pub mod providers;
pub mod resolve;
pub mod run;
pub mod secret;
pub mod session;
pub mod stacks;
pub mod suggest;
pub mod tty;
pub mod vault;
pub mod yaml;

pub use error::Error;

/// The log level `ATMOS_LOGS_LEVEL` asks for (trace, debug, info, warn, error; any case),
/// else `default`.
pub fn log_level(env: &env_vars::Env, default: tracing::Level) -> tracing::Level {
    match env.get(env_vars::ATMOS_LOGS_LEVEL).map(str::to_ascii_lowercase).as_deref() {
        Some("trace") => tracing::Level::TRACE,
        Some("debug") => tracing::Level::DEBUG,
        Some("info") => tracing::Level::INFO,
        Some("warn") => tracing::Level::WARN,
        Some("error") => tracing::Level::ERROR,
        _ => default,
    }
}

/// Logging to stderr at `level` for tfauth's own messages. Other crates (the AWS SDK among
/// them, whose trace output can include request headers) never go below WARN.
pub fn init_logging(level: tracing::Level) {
    use tracing_subscriber::{Layer, filter::Targets, layer::SubscriberExt, util::SubscriberInitExt};
    let filter = Targets::new()
        .with_target("tfauth", level)
        .with_target("atmos_auth_helper", level)
        .with_default(std::cmp::min(level, tracing::Level::WARN));
    use std::io::IsTerminal;
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .without_time();
    let _ = tracing_subscriber::registry().with(layer.with_filter(filter)).try_init();
}

/// Makes a panic (a bug, in tfauth or a dependency) end the process with exit 70 and one
/// line on stderr, instead of Rust's 101 and a backtrace prompt: callers such as AWS SDKs
/// running the helper see a documented code, and stdout stays clean.
pub fn exit_70_on_panic() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!("error: internal error{location}: {message}\n\nhint: this is a bug in tfauth; please report it");
        std::process::exit(exit::SOFTWARE);
    }));
}
