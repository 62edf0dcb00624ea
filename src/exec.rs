//! Finding the real terraform (or tofu) and running it.
//!
//! The executable is, first that is set: `ATMOS_COMPONENTS_TERRAFORM_COMMAND`, the
//! component's `command`, `components.terraform.command`; else `terraform`, then `tofu`,
//! on PATH. Any candidate that is tfauth itself (also through a symlink, as with
//! `ln -s tfauth terraform`) is skipped, so `alias terraform=tfauth` can never loop.

use crate::env_vars::{self, Env};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("no terraform or tofu found on PATH")]
    NotFound { wanted: Vec<String>, skipped_self: Vec<PathBuf> },
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
                "{} is tfauth itself; install the real terraform, or set ATMOS_COMPONENTS_TERRAFORM_COMMAND to its path",
                skipped_self[0].display()
            ),
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
    let me = self_exe.and_then(|p| p.canonicalize().ok());
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
            if me.is_some() && c.canonicalize().ok() == me {
                skipped_self.push(c);
                continue;
            }
            return Ok(c);
        }
    }
    Err(ExecError::NotFound { wanted, skipped_self })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Replaces this process with `program`, in `dir`, with the plan's variables set and the
/// competing ones removed: signals and the exit code become the program's own. Returns
/// only if the exec failed.
pub fn exec(
    program: PathBuf,
    argv: &[std::ffi::OsString],
    dir: &Path,
    plan: Option<&crate::output::env::EnvPlan>,
    env: &Env,
) -> Result<i32, crate::Error> {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(&program);
    cmd.args(argv).current_dir(dir);
    if let Some(plan) = plan {
        for k in plan.cleared_in(env) {
            cmd.env_remove(k);
        }
        cmd.envs(&plan.set);
    }
    let err = cmd.exec();
    Err(ExecError::Spawn { path: program, source: err }.into())
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
