//! Finding the real terraform (or tofu) and running it.
//!
//! The executable is, first that is set: `ATMOS_COMPONENTS_TERRAFORM_COMMAND`, the
//! component's `command`, `components.terraform.command`; else `terraform`, then `tofu`,
//! on PATH. Any candidate that is tfauth itself (also through a symlink, as with
//! `ln -s tfauth terraform`) is skipped, so `alias terraform=tfauth` can never loop.
//!
//! A wrapper script named `terraform` that runs tfauth (`exec tfauth "$@"`, for scripts
//! and Makefiles where an alias does not reach) is not tfauth's file, so tfauth leaves a
//! trail in what it runs: [`TRAIL`] names the process that exec'd and the programs it
//! ran as terraform, and an exec keeps the process id, so tfauth coming back through the
//! wrapper skips it. A wrapper that forks instead of exec'ing changes the id; [`DEPTH`]
//! stops that loop with an error instead of an endless chain of processes.

use crate::env_vars::{self, Env};
use std::path::{Path, PathBuf};

/// The loop guard's two variables, by short names (documented in [`env_vars`]).
use crate::env_vars::{TFAUTH_TERRAFORM_DEPTH as DEPTH, TFAUTH_TERRAFORM_TRAIL as TRAIL};
/// Deeper than any real nesting (tfauth in a local-exec of a run of tfauth...).
const MAX_DEPTH: u32 = 8;

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("no terraform or tofu found on PATH")]
    NotFound { wanted: Vec<String>, skipped_self: Vec<PathBuf> },
    #[error(
        "terraform has been started through tfauth {depth} times in a row: a `terraform` on PATH runs tfauth again"
    )]
    Loop { depth: u32 },
    #[error("cannot run {}", .path.display())]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the component directory {} does not exist", .0.display())]
    NoComponentDir(PathBuf),
}

impl ExecError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ExecError::NotFound { skipped_self, .. } if !skipped_self.is_empty() => format!(
                "{} is tfauth itself, or runs it; install the real terraform, or set ATMOS_COMPONENTS_TERRAFORM_COMMAND to its path",
                skipped_self[0].display()
            ),
            ExecError::Loop { .. } => "a wrapper script named terraform that runs tfauth should `exec` it (then tfauth skips it), or set ATMOS_COMPONENTS_TERRAFORM_COMMAND to the real terraform".into(),
            ExecError::NotFound { .. } => {
                "install terraform (or tofu), or set ATMOS_COMPONENTS_TERRAFORM_COMMAND / components.terraform.command"
                    .into()
            }
            ExecError::Spawn { .. } => "check that the file is an executable for this machine".into(),
            ExecError::NoComponentDir(_) => {
                "check components.terraform.base_path and the component's metadata.component".into()
            }
        })
    }
}

/// Finds the executable to run. `configured` is the component's or atmos.yaml's command.
pub fn find_terraform(configured: Option<&str>, env: &Env, self_exe: Option<&Path>) -> Result<PathBuf, ExecError> {
    let depth = depth(env);
    if depth >= MAX_DEPTH {
        return Err(ExecError::Loop { depth });
    }
    let me = self_exe.and_then(|p| p.canonicalize().ok());
    // Programs this very process already ran as terraform: they led back here.
    let ran: Vec<PathBuf> = own_trail(env).iter().filter_map(|p| Path::new(p).canonicalize().ok()).collect();
    let wanted: Vec<String> = match env.get(env_vars::ATMOS_COMPONENTS_TERRAFORM_COMMAND).or(configured) {
        Some(c) => vec![c.to_string()],
        None => vec!["terraform".into(), "tofu".into()],
    };
    let mut skipped_self = Vec::new();
    let path_var = env.get(env_vars::PATH).unwrap_or("");
    for name in &wanted {
        let candidates: Vec<PathBuf> = if name.contains('/') {
            vec![PathBuf::from(name)]
        } else {
            std::env::split_paths(path_var).filter(|d| d.is_absolute()).map(|d| d.join(name)).collect()
        };
        for c in candidates {
            if !is_executable(&c) {
                continue;
            }
            let canonical = c.canonicalize().ok();
            if (me.is_some() && canonical == me) || canonical.is_some_and(|p| ran.contains(&p)) {
                skipped_self.push(c);
                continue;
            }
            return Ok(c);
        }
    }
    Err(ExecError::NotFound { wanted, skipped_self })
}

fn depth(env: &Env) -> u32 {
    env.get(DEPTH).and_then(|d| d.trim().parse().ok()).unwrap_or(0)
}

/// The programs of [`TRAIL`] when it is this process's own (it exec'd and came back).
fn own_trail(env: &Env) -> Vec<String> {
    let Some(t) = env.get(TRAIL) else { return vec![] };
    let mut lines = t.lines();
    if lines.next().and_then(|pid| pid.trim().parse::<u32>().ok()) != Some(std::process::id()) {
        return vec![];
    }
    lines.filter(|l| !l.is_empty()).map(str::to_string).collect()
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The environment changes a child gets: variables set, and variables removed from
/// the inherited environment. The same value drives the preliminary steps and the exec,
/// so `terraform init` and `terraform plan` see the same credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChildEnv {
    pub set: Vec<(String, String)>,
    pub remove: Vec<String>,
}

impl ChildEnv {
    /// Adds the component's `env:` section underneath: where it names a variable that auth
    /// sets or removes, auth wins (credentials are not the stack's to override), and the
    /// names that lost are returned for a warning.
    pub fn with_component_env(mut self, component: &[(String, String)]) -> (ChildEnv, Vec<String>) {
        let mut lost = Vec::new();
        let mut set = Vec::new();
        for (k, v) in component {
            if self.set.iter().any(|(a, _)| a == k) || self.remove.contains(k) {
                lost.push(k.clone());
            } else {
                set.push((k.clone(), v.clone()));
            }
        }
        set.append(&mut self.set);
        self.set = set;
        (self, lost)
    }

    /// Sets `name` (replacing any value the plan gave it).
    pub fn set(&mut self, name: &str, value: &str) {
        self.set.retain(|(k, _)| k != name);
        self.remove.retain(|k| k != name);
        self.set.push((name.to_string(), value.to_string()));
    }

    /// Marks the environment of `program`, which this process runs as terraform (see
    /// [`TRAIL`] and [`DEPTH`]).
    pub fn running_terraform(mut self, program: &Path, env: &Env) -> ChildEnv {
        let mut trail = std::process::id().to_string();
        for p in own_trail(env) {
            trail.push('\n');
            trail.push_str(&p);
        }
        trail.push('\n');
        trail.push_str(&program.display().to_string());
        self.set(TRAIL, &trail);
        self.set(DEPTH, &(depth(env) + 1).to_string());
        self
    }

    /// Applies the changes to a command.
    pub fn apply(&self, cmd: &mut std::process::Command) {
        for k in &self.remove {
            cmd.env_remove(k);
        }
        cmd.envs(self.set.iter().map(|(k, v)| (k, v)));
    }
}

/// Replaces this process with `program`, in `dir`, with `child_env` applied: signals and
/// the exit code become the program's own. Returns only if the exec failed.
pub fn exec(
    program: PathBuf,
    argv: &[std::ffi::OsString],
    dir: &Path,
    child_env: &ChildEnv,
) -> Result<i32, crate::Error> {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(&program);
    cmd.args(argv).current_dir(dir);
    child_env.apply(&mut cmd);
    let err = cmd.exec();
    Err(ExecError::Spawn { path: program, source: err }.into())
}

/// Runs `program` as a child, in `dir`, with `child_env` applied, and returns its exit
/// code (128 + the signal when a signal ended it, as shells report it). For commands that
/// tfauth must outlive, such as `auth shell`, which prints nothing after but must not leave
/// the terminal to a process group it does not own. Ctrl-C reaches the child, not tfauth.
pub fn spawn_wait(
    program: &std::ffi::OsStr,
    argv: &[std::ffi::OsString],
    dir: &Path,
    child_env: &ChildEnv,
) -> Result<i32, crate::Error> {
    let mut cmd = std::process::Command::new(program);
    cmd.args(argv).current_dir(dir);
    child_env.apply(&mut cmd);
    let mut child = cmd.spawn().map_err(|source| ExecError::Spawn { path: PathBuf::from(program), source })?;
    let _ignore = crate::util::sys::IgnoreSignals::new();
    let status = child.wait().map_err(|source| ExecError::Spawn { path: PathBuf::from(program), source })?;
    Ok(crate::exit::of_child(status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn exe(dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn skips_itself_even_through_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("a");
        let b = t.path().join("b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let me = exe(t.path(), "tfauth");
        std::os::unix::fs::symlink(&me, a.join("terraform")).unwrap();
        let real = exe(&b, "terraform");
        let path = format!("{}:{}", a.display(), b.display());
        let env = Env::from_pairs([("PATH", path.as_str())]);
        assert_eq!(find_terraform(None, &env, Some(&me)).unwrap(), real);
        std::fs::remove_file(&real).unwrap();
        let err = find_terraform(None, &env, Some(&me)).unwrap_err();
        assert!(matches!(&err, ExecError::NotFound { skipped_self, .. } if skipped_self.len() == 1), "{err:?}");
    }

    #[test]
    fn a_wrapper_this_process_already_ran_is_skipped_and_a_deep_chain_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let wrapper = exe(&a, "terraform");
        let real = exe(&b, "terraform");
        let path = format!("{}:{}", a.display(), b.display());
        let first = Env::from_pairs([("PATH", path.as_str())]);
        assert_eq!(find_terraform(None, &first, None).unwrap(), wrapper);
        // What the wrapper inherits when this process runs it; an exec keeps the pid, so
        // tfauth, back through the wrapper, reads its own trail and skips it.
        let marked = ChildEnv::default().running_terraform(&wrapper, &first);
        let get = |k: &str| marked.set.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
        assert_eq!(get(DEPTH), "1");
        let back = Env::from_pairs([("PATH", path.as_str()), (TRAIL, &get(TRAIL)), (DEPTH, "1")]);
        assert_eq!(find_terraform(None, &back, None).unwrap(), real);
        // Another process's trail (a nested tfauth in a local-exec) skips nothing.
        let other = format!("{}\n{}", std::process::id() + 1, wrapper.display());
        let nested = Env::from_pairs([("PATH", path.as_str()), (TRAIL, other.as_str()), (DEPTH, "1")]);
        assert_eq!(find_terraform(None, &nested, None).unwrap(), wrapper);
        // The trail grows while the pid stays the same; the depth counts every run.
        let again = ChildEnv::default().running_terraform(&real, &back);
        let trail = again.set.iter().find(|(n, _)| n == TRAIL).unwrap().1.clone();
        assert_eq!(trail.lines().skip(1).collect::<Vec<_>>(), [wrapper.to_str().unwrap(), real.to_str().unwrap()]);
        // A wrapper that forks (new pid every time) is stopped by the depth.
        let deep = Env::from_pairs([("PATH", path.as_str()), (DEPTH, "8")]);
        let err = find_terraform(None, &deep, None).unwrap_err();
        assert!(matches!(err, ExecError::Loop { depth: 8 }), "{err:?}");
        assert!(err.hint().unwrap().contains("exec"));
    }

    #[test]
    fn credentials_win_over_the_component_env() {
        let auth = ChildEnv {
            set: vec![("AWS_PROFILE".into(), "acme/admin".into())],
            remove: vec!["AWS_ACCESS_KEY_ID".into()],
        };
        let component = [
            ("AWS_PROFILE".to_string(), "mine".to_string()),
            ("AWS_ACCESS_KEY_ID".to_string(), "AKIA".to_string()),
            ("TF_LOG".to_string(), "info".to_string()),
        ];
        let (env, lost) = auth.with_component_env(&component);
        assert_eq!(lost, ["AWS_PROFILE", "AWS_ACCESS_KEY_ID"]);
        assert_eq!(
            env.set,
            [("TF_LOG".to_string(), "info".to_string()), ("AWS_PROFILE".to_string(), "acme/admin".to_string())]
        );
        assert_eq!(env.remove, ["AWS_ACCESS_KEY_ID"]);
    }

    #[test]
    fn falls_back_to_tofu_and_honours_override() {
        let t = tempfile::tempdir().unwrap();
        let tofu = exe(t.path(), "tofu");
        let env = Env::from_pairs([("PATH", t.path().to_str().unwrap())]);
        assert_eq!(find_terraform(None, &env, None).unwrap(), tofu);
        let custom = exe(t.path(), "tf-custom");
        let env =
            Env::from_pairs([("PATH", "/nowhere"), ("ATMOS_COMPONENTS_TERRAFORM_COMMAND", custom.to_str().unwrap())]);
        assert_eq!(find_terraform(Some("terraform"), &env, None).unwrap(), custom);
    }
}
