//! Shared test support: run the built binaries in a sandbox with a clean environment.
//!
//! Every command starts from `env_clear()`: no `AWS_*`, `ATMOS_*`, `ARM_*`, `GOOGLE_*`
//! from the developer's shell can leak in. HOME and the XDG directories point into the
//! sandbox, so tests can assert that nothing was written there.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

pub const TFAUTH: &str = env!("CARGO_BIN_EXE_tfauth");
pub const HELPER: &str = env!("CARGO_BIN_EXE_atmos-auth-helper");

/// The repository's `examples/` directory.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// A temp directory with `home/` (HOME, XDG dirs) and `repo/` (the working directory).
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("repo/.git")).unwrap();
        Sandbox { dir }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    /// Writes `contents` to `rel` under the repo, creating directories.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> &Sandbox {
        let p = self.repo().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
        self
    }

    /// `tfauth ARGS` in the repo, with a clean environment.
    pub fn tfauth(&self, args: &[&str]) -> Command {
        let mut c = Command::new(TFAUTH);
        self.clean_env(&mut c);
        c.current_dir(self.repo()).args(args);
        c
    }

    /// Applies the clean environment to any command.
    pub fn clean_env(&self, c: &mut Command) {
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()))
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join(".config"))
            .env("XDG_CACHE_HOME", self.home().join(".cache"))
            .env("CI", "true");
    }

    /// Every file under HOME (what a command wrote there).
    pub fn files_in_home(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        walk(&self.home(), &mut out);
        out
    }

    /// Files under HOME other than tfauth's disposable cache (the stack-name index):
    /// credentials, config and anything else a command must not write in error or dry runs.
    pub fn files_written(&self) -> Vec<PathBuf> {
        let cache = self.home().join(".cache/tfauth");
        self.files_in_home().into_iter().filter(|p| !p.starts_with(&cache)).collect()
    }

    /// A fingerprint of every file in the repo (path + contents), to check nothing changed.
    pub fn repo_fingerprint(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        walk(&self.repo(), &mut files);
        files.sort();
        files
            .into_iter()
            .map(|f| {
                let bytes = std::fs::read(&f).unwrap_or_default();
                (f, bytes)
            })
            .collect()
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

/// stdout and stderr of a finished command as strings, with its exit code.
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn outcome(mut c: Command) -> Outcome {
    let o = c.output().expect("run");
    Outcome {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}
