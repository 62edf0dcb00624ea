//! The terraform check: the `terraform` a run would exec exists, runs, and is not tfauth
//! itself (a symlink or a copy of this executable, which would loop).
//!
//! Why it exists: a `terraform` on PATH that is tfauth shows up as a hang or an odd error
//! far from its cause. It must not run the candidate: it only compares paths and bytes.

use super::{Check, Inputs, hint_of};
use crate::output::env::shell_quote;
use std::path::Path;

/// How a candidate terraform relates to this executable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sameness {
    /// The same file: the same path, or a symlink (or hard link's path) resolving to it.
    Same,
    /// Another file with the same bytes: a copy of tfauth.
    Copy,
}

/// Whether `candidate` is tfauth (`me`): the same canonical path, or a byte-identical copy
/// (size first, then SHA-256, so most files are told apart without reading them).
pub fn same_program(candidate: &Path, me: &Path) -> std::io::Result<Option<Sameness>> {
    let (a, b) = (candidate.canonicalize()?, me.canonicalize()?);
    if a == b {
        return Ok(Some(Sameness::Same));
    }
    if std::fs::metadata(&a)?.len() != std::fs::metadata(&b)?.len() {
        return Ok(None);
    }
    Ok((sha256_file(&a)? == sha256_file(&b)?).then_some(Sameness::Copy))
}

fn sha256_file(path: &Path) -> std::io::Result<[u8; 32]> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut h)?;
    Ok(h.finalize().into())
}

/// The terraform (or tofu) a run would exec is found by the run's own lookup
/// ([`crate::exec::find_terraform`]) and is not tfauth itself. Nothing is executed.
pub fn terraform(configured: Option<&str>, config_loaded: bool, inputs: &Inputs<'_>) -> Check {
    const NAME: &str = "terraform";
    let env = inputs.env;
    let source = if env.get(crate::env_vars::ATMOS_COMPONENTS_TERRAFORM_COMMAND).is_some() {
        crate::env_vars::ATMOS_COMPONENTS_TERRAFORM_COMMAND
    } else if configured.is_some() {
        "components.terraform.command"
    } else {
        crate::env_vars::PATH
    };
    let unread =
        if config_loaded { "" } else { " (components.terraform.command not read: the configuration did not load)" };
    let set_command =
        "point ATMOS_COMPONENTS_TERRAFORM_COMMAND (or components.terraform.command) at the real terraform";
    match crate::exec::find_terraform(configured, env, inputs.self_exe) {
        Ok(path) => {
            if let Some(me) = inputs.self_exe
                && let Ok(Some(same)) = same_program(&path, me)
            {
                let what = match same {
                    Sameness::Same => "tfauth itself",
                    Sameness::Copy => "a copy of tfauth",
                };
                return Check::fail(
                    NAME,
                    format!("{} (from {source}) is {what}, not terraform{unread}", path.display()),
                    format!(
                        "replace {} with the real terraform (or tofu), or {set_command}",
                        shell_quote(&path.to_string_lossy())
                    ),
                );
            }
            Check::pass(NAME, format!("{} (from {source}){unread}", path.display()))
        }
        Err(crate::exec::ExecError::NotFound { wanted, skipped_self }) if !skipped_self.is_empty() => {
            let me = inputs.self_exe.map(|p| p.display().to_string()).unwrap_or_else(|| "tfauth".into());
            let shown: Vec<String> = skipped_self.iter().map(|p| p.display().to_string()).collect();
            Check::fail(
                NAME,
                format!(
                    "{} is tfauth itself (-> {me}), and no real `{}` comes after it{unread}",
                    shown.join(", "),
                    wanted.join("` or `")
                ),
                format!(
                    "remove the symlink {} (or put the real terraform's directory first on PATH), or {set_command}",
                    shell_quote(&skipped_self[0].to_string_lossy())
                ),
            )
        }
        Err(crate::exec::ExecError::NotFound { wanted, .. }) => Check::fail(
            NAME,
            format!("no `{}` found (from {source}){unread}", wanted.join("` or `")),
            "install terraform (or tofu) on PATH, or set ATMOS_COMPONENTS_TERRAFORM_COMMAND to its path",
        ),
        Err(e) => Check::fail(NAME, e.to_string(), hint_of(e.hint())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;
    use crate::env_vars::Env;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn same_program_by_path_link_or_bytes() {
        let t = tempfile::tempdir().unwrap();
        let me = t.path().join("tfauth");
        std::fs::write(&me, b"tfauth bytes").unwrap();
        let link = t.path().join("terraform");
        std::os::unix::fs::symlink(&me, &link).unwrap();
        assert_eq!(same_program(&link, &me).unwrap(), Some(Sameness::Same));
        let copy = t.path().join("copy");
        std::fs::copy(&me, &copy).unwrap();
        assert_eq!(same_program(&copy, &me).unwrap(), Some(Sameness::Copy));
        let other = t.path().join("other");
        std::fs::write(&other, b"tfauth bytez").unwrap();
        assert_eq!(same_program(&other, &me).unwrap(), None, "same size, other bytes");
        std::fs::write(&other, b"real terraform").unwrap();
        assert_eq!(same_program(&other, &me).unwrap(), None);
    }

    #[test]
    fn a_terraform_that_is_a_copy_of_tfauth_fails() {
        let t = tempfile::tempdir().unwrap();
        let me = t.path().join("tfauth");
        std::fs::write(&me, "#!/bin/sh\n# tfauth\n").unwrap();
        let bin = t.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::copy(&me, bin.join("terraform")).unwrap();
        std::fs::set_permissions(bin.join("terraform"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let env = Env::from_pairs([("PATH", bin.to_str().unwrap())]);
        let inputs = Inputs { env: &env, cwd: t.path(), self_exe: Some(&me), profiles: &[] };
        let c = terraform(None, true, &inputs);
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(c.detail.ends_with("terraform (from PATH) is a copy of tfauth, not terraform"), "{}", c.detail);
        std::fs::write(bin.join("terraform"), "#!/bin/sh\n# the real one\n").unwrap();
        assert_eq!(terraform(None, true, &inputs).status, Status::Pass);
    }
}
