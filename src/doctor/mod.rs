//! `tfauth doctor`: what must hold on this machine, outside the configuration's logic, for
//! a run to work, each checked on its own with a concrete fix.
//!
//! Why it exists: when one of these breaks, a run fails far from the cause. A `terraform`
//! that is a symlink to tfauth, a helper that moved after `cargo install` to another place,
//! a clock five minutes off (STS rejects the signature), a profile directory someone made
//! world-readable, a cache entry cut in half by a full disk: each shows up as some other
//! error in terraform's output. The doctor looks at each precondition directly.
//!
//! Each check is a function returning a [`Check`]; none prints, none stops the others, and
//! a configuration that does not load still lets the checks that do not need it run. The
//! doctor writes, creates and deletes nothing: the keyring is only looked up, and the clock
//! check sends one bare GET with no credentials. No detail or hint carries a secret: cache
//! entries and profiles are named by file and profile, never by content. The pure parts
//! (mode classification, `credential_process` parsing, skew classification, HTTP dates,
//! cache entry states) are plain functions of their inputs, tested below.
//!
//! One file per check, in the order [`run`] prints them; this file holds what they share
//! ([`Check`], [`Inputs`]) and the order. A check's file must not call another check: what
//! one finds for the next (the loaded configuration, the realm directories) is passed in
//! by [`run`].

use crate::env_vars::Env;
use crate::keyring::KeyringType;
use serde::Serialize;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;
mod cache;
mod clock;
mod config;
mod helper;
mod keyring;
mod permissions;
mod realm;
mod terraform;

pub use self::cache::{EntryKind, EntryState, cache, entry_state};
pub use self::clock::{
    CLOCK_TIMEOUT, SKEW_FAIL, SKEW_WARN, classify_skew, clock, parse_http_date, skew_text, sts_endpoint,
};
pub use self::config::{Loaded, config};
pub use self::helper::{HELPER_NAME, ProcessLine, credential_processes, helper, program_of};
pub use self::keyring::keyring_check;
use self::keyring::{keyring_paths, keyring_spec};
pub use self::permissions::{Offense, classify, current_uid, permissions};
pub use self::realm::{Realms, realm_dirs};
pub use self::terraform::{Sameness, same_program, terraform};

/// How a check came out. Only [`Status::Fail`] makes `tfauth doctor` exit 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

/// One check's result: what was found, and what to do when it is not a pass.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    pub hint: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check { name, status: Status::Pass, detail: detail.into(), hint: None }
    }
    fn warn(name: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check { name, status: Status::Warn, detail: detail.into(), hint: Some(hint.into()) }
    }
    fn fail(name: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check { name, status: Status::Fail, detail: detail.into(), hint: Some(hint.into()) }
    }
}

/// An error's hint as a check's: without the `hint: ` prefixes some hints carry on their
/// later lines (the renderer adds its own).
fn hint_of(hint: Option<String>) -> String {
    let hint = hint.unwrap_or_default();
    hint.lines().map(|l| l.strip_prefix("hint: ").unwrap_or(l)).collect::<Vec<_>>().join("\n")
}

/// What the doctor is given: the same as every command.
pub struct Inputs<'a> {
    pub env: &'a Env,
    pub cwd: &'a Path,
    /// This executable, to tell a `terraform` that is tfauth itself.
    pub self_exe: Option<&'a Path>,
    /// `--profile` values.
    pub profiles: &'a [String],
}

/// The most offenders a check lists one by one.
const LIST_MAX: usize = 20;

/// Runs every check, in the order they are printed.
pub fn run(inputs: &Inputs<'_>) -> Vec<Check> {
    let env = inputs.env;
    let (config_check, loaded) = config(inputs);
    let realms = realm_dirs(&loaded, env);
    let keyring_spec = keyring_spec(&loaded, env);
    let cache_home = crate::session::cache::cache_home(env);
    let sessions = crate::util::dirs::atmos_cache_home(env).map(|a| a.join("aws-sso").join("sessions"));
    let mut roots: Vec<PathBuf> = realms.dirs.clone();
    roots.extend(cache_home.clone());
    if let Some(Ok(Some(spec))) = &keyring_spec
        && spec.kind == KeyringType::File
    {
        roots.extend(keyring_paths(spec, env));
    }
    vec![
        config_check,
        terraform(loaded.config.as_ref().and_then(|c| c.terraform.command.as_deref()), loaded.config.is_some(), inputs),
        helper(&realms, inputs.self_exe.and_then(Path::parent).map(|d| d.join(HELPER_NAME)).as_deref(), env),
        permissions(&roots, current_uid()),
        clock(env),
        keyring_check(keyring_spec, env),
        cache(cache_home.as_deref(), sessions.as_deref(), OffsetDateTime::now_utc()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_hints_lose_their_prefixes() {
        assert_eq!(hint_of(Some("run it here\nhint: looked in /a, /b".into())), "run it here\nlooked in /a, /b");
        assert_eq!(hint_of(None), "");
    }
}
