//! The commands run before terraform itself: `terraform init` and the workspace
//! selection. They are children, not execs, with the same environment as the final
//! command; their stdout goes to tfauth's stderr, so stdout carries only the final
//! command's output (`tfauth output -json app -s S | jq` works). While a child runs,
//! tfauth ignores SIGINT and SIGTERM: the terminal delivers Ctrl-C to terraform too, which
//! stops cleanly, and tfauth then exits with terraform's status.

use super::{RunError, Step};
use crate::exec::ChildEnv;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

/// Runs the steps in order. `Ok(None)` when all succeeded; `Ok(Some(code))` with the exit
/// code to end with when one failed (its output has been shown).
pub fn run(program: &Path, steps: &[Step], dir: &Path, env: &ChildEnv) -> Result<Option<i32>, RunError> {
    for step in steps {
        match step.otherwise.as_ref() {
            None => {
                let status = child(program, &step.argv, dir, env, false)?.0;
                if !status.success() {
                    report(&step.argv, status);
                    return Ok(Some(code(status)));
                }
            }
            Some(fallback) => {
                // `workspace select` fails when the workspace does not exist yet; its
                // complaint is noise then, so it is shown only if the fallback fails too.
                let (status, captured) = child(program, &step.argv, dir, env, true)?;
                if status.success() {
                    eprint!("{captured}");
                    continue;
                }
                let status = child(program, fallback, dir, env, false)?.0;
                if !status.success() {
                    eprint!("{captured}");
                    report(fallback, status);
                    return Ok(Some(code(status)));
                }
            }
        }
    }
    Ok(None)
}

fn child(
    program: &Path,
    argv: &[OsString],
    dir: &Path,
    env: &ChildEnv,
    capture: bool,
) -> Result<(ExitStatus, String), RunError> {
    use std::os::fd::AsFd;
    let words = describe(argv);
    tracing::info!("running terraform {words} in {}", dir.display());
    let mut cmd = Command::new(program);
    cmd.args(argv).current_dir(dir).stdin(Stdio::inherit());
    env.apply(&mut cmd);
    let spawn_err = |source| RunError::Spawn { step: format!("terraform {words}"), source };
    if capture {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    } else {
        let err = std::io::stderr().as_fd().try_clone_to_owned().map_err(spawn_err)?;
        cmd.stdout(Stdio::from(err));
    }
    let child = cmd.spawn().map_err(spawn_err)?;
    let _guard = IgnoreSignals::new();
    let out =
        child.wait_with_output().map_err(|source| RunError::Spawn { step: format!("terraform {words}"), source })?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok((out.status, text))
}

fn describe(argv: &[OsString]) -> String {
    argv.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
}

fn report(argv: &[OsString], status: ExitStatus) {
    eprintln!("tfauth: `terraform {}` failed ({}); the command itself was not run", describe(argv), how(status));
}

fn how(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "failed".into(),
    }
}

/// The exit code to end with: the child's, or 128 + the signal that killed it.
fn code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// SIGINT and SIGTERM ignored while it lives (set only after the child was spawned, so the
/// child keeps the default dispositions), restored when dropped.
pub struct IgnoreSignals {
    old: [libc::sighandler_t; 2],
}

#[allow(clippy::new_without_default)]
impl IgnoreSignals {
    pub fn new() -> IgnoreSignals {
        // SAFETY: `signal` with SIG_IGN installs no handler code; the previous dispositions
        // are restored in Drop.
        unsafe {
            IgnoreSignals {
                old: [libc::signal(libc::SIGINT, libc::SIG_IGN), libc::signal(libc::SIGTERM, libc::SIG_IGN)],
            }
        }
    }
}

impl Drop for IgnoreSignals {
    fn drop(&mut self) {
        // SAFETY: restores the dispositions saved in `new`.
        unsafe {
            libc::signal(libc::SIGINT, self.old[0]);
            libc::signal(libc::SIGTERM, self.old[1]);
        }
    }
}
