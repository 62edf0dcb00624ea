//! tfauth reads an Atmos repository's `atmos.yaml` (with its `auth:` section and profiles)
//! and `stacks/`, resolves one component in one stack, chooses the identity its merged
//! auth names, and runs terraform with that identity's credentials.
//!
//! The pipeline flows one way, and the modules are its stages in order (a module uses
//! only those before it; `tests/it/structure.rs` keeps it so):
//! - [`util`], [`secret`], [`exit`], [`env_vars`]: the ground floor (XDG dirs, owner-checked
//!   private files, suggestions, logging, the one `unsafe` module).
//! - [`yaml`] reads YAML with spans and Atmos's tags; [`merge`] deep-merges; [`config`]
//!   finds and loads `atmos.yaml`, `.atmos.d`, imports and profiles.
//! - [`stacks`] finds the stack, follows imports and inheritance, resolves the component.
//! - [`auth`] types and validates the merged `auth:`; [`identity`] chooses the identity
//!   and builds its chain (pure).
//! - [`keyring`] keeps long-lived secrets; [`providers`] walk a chain over the network
//!   (STS, IAM Identity Center, GitHub, Azure, GCP, ECR); [`session`] keeps what they give
//!   (the cache and its locks, the portal token, the vault) and refreshes single-flight;
//!   [`serve`] hands sessions to what reads only the container-credentials variables.
//! - [`exec`] finds the real terraform, builds a child's environment and runs or execs it;
//!   [`run`] plans the component's varfile, backend, init, workspace and directory lock;
//!   [`resolve`] turns a request into a resolution; [`output`] plans the environment and
//!   files (AWS, GCP, Azure, Docker); [`logins`] derive logins for other tools (Atmos's
//!   `auth.integrations`: registry logins and kubeconfigs).
//! - [`error`] is every domain's error and its exit code; [`doctor`] the checks of
//!   `tfauth doctor`; [`cli`] the commands on top (with the credential helper, completion,
//!   the terminal prompts and the console sign-in).

pub mod auth;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod env_vars;
pub mod error;
pub mod exec;
pub mod exit;
pub mod identity;
pub mod keyring;
pub mod logins;
pub mod merge;
pub mod output;
pub mod providers;
pub mod resolve;
pub mod run;
pub mod secret;
pub mod serve;
pub mod session;
pub mod stacks;
pub mod util;
pub mod yaml;

pub use error::Error;

/// No core dumps: a crash while a session's keys are in memory must not write them to a
/// `core` file (in the repository, where terraform runs). Sets `RLIMIT_CORE` to 0 and, on
/// Linux, clears the dumpable flag, which also keeps other processes of the same user from
/// attaching to read our memory. Both binaries call it first. The exec'd terraform gets
/// the dumpable flag back from the kernel (it is reset by execve) but keeps the zero limit.
pub fn no_core_dumps() {
    let zero = rustix::process::Rlimit { current: Some(0), maximum: Some(0) };
    if let Err(e) = rustix::process::setrlimit(rustix::process::Resource::Core, zero) {
        tracing::debug!("could not disable core dumps: {e}");
    }
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable) {
        tracing::debug!("could not clear the dumpable flag: {e}");
    }
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
