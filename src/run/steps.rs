//! The commands run before terraform itself: `terraform init` and the workspace
//! selection. They are children, not execs, with the same environment as the final
//! command; their stdout goes to tfauth's stderr, so stdout carries only the final
//! command's output (`tfauth output -json app -s S | jq` works). While a child runs,
//! tfauth ignores SIGINT and SIGTERM: the terminal delivers Ctrl-C to terraform too, which
//! stops cleanly, and tfauth then exits with terraform's status.
//!
//! The steps up to and including the workspace selection run without `TF_WORKSPACE`
//! (terraform refuses `workspace select` while it is set); the steps after it run with
//! `TF_WORKSPACE` set to the selected workspace, as the exec'd command does.

use super::{RunError, Step};
use crate::exec::ChildEnv;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

/// Runs the steps in order. `Ok(None)` when all succeeded; `Ok(Some(code))` with the exit
/// code to end with when one failed (its output has been shown).
pub fn run(program: &Path, steps: &[Step], dir: &Path, env: &ChildEnv) -> Result<Option<i32>, RunError> {
    let mut selected = env.clone();
    for step in steps {
        let env = &selected.clone();
        if let Some(ws) = &step.selects {
            selected.set(crate::env_vars::TF_WORKSPACE, ws);
        }
        match step.otherwise.as_ref() {
            None => {
                let status = child(program, &step.argv, dir, env, false)?.0;
                if !status.success() {
                    report(&step.argv, status);
                    return Ok(Some(crate::exit::of_child(status)));
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
                    return Ok(Some(crate::exit::of_child(status)));
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
    let _guard = crate::util::sys::IgnoreSignals::new();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_steps_after_the_selection_get_tf_workspace() {
        let t = tempfile::tempdir().unwrap();
        let log = t.path().join("log");
        // `sh -c SCRIPT NAME`: no executable is written, so no ETXTBSY from parallel tests.
        let script = format!("echo \"$0|${{TF_WORKSPACE-unset}}\" >> '{}'", log.display());
        let step = |name: &str| Step {
            argv: ["-c", script.as_str(), name].iter().map(OsString::from).collect(),
            otherwise: None,
            selects: None,
        };
        let select = Step { selects: Some("ws".into()), ..step("select") };
        let steps = [step("init"), select, step("after")];
        assert_eq!(run(Path::new("/bin/sh"), &steps, t.path(), &ChildEnv::default()).unwrap(), None);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "init|unset\nselect|unset\nafter|ws\n");
    }
}
