//! One run at a time per component directory, across processes.
//!
//! Two stacks of one component share its directory: `backend.tf.json` and the
//! providers override are one file each whatever the stack, the varfile and planfile are
//! written there, and `.terraform` holds one backend configuration and one selected
//! workspace. Two runs at once (`plan app -s dev` and `plan app -s staging`) re-initialise
//! and re-select under each other, and a plan can read the other run's workspace: 2 of 12
//! real runs planned one stack's vars in the other stack's workspace (issue 14, defect 6).
//! Two stacks with different backends cannot safely run at once in one directory at all.
//!
//! So a stack run takes an exclusive `flock` on a lock file for the canonical component
//! directory before it writes the generated files, keeps it through `terraform init` and
//! the workspace selection, and hands it to the exec'd terraform: [`DirLock::keep_across_exec`]
//! clears `FD_CLOEXEC` on the lock's descriptor, so terraform inherits it (same open file
//! description, same lock) and the OS releases the lock when terraform exits, however it
//! exits. A second run of the same directory prints one line and waits. The exec'd
//! terraform also gets its workspace as `TF_WORKSPACE` (see `crate::cli::terraform`), so
//! even a terraform run outside tfauth cannot change which workspace it plans in.
//!
//! Not a per-stack `TF_DATA_DIR`: that would keep `.terraform` apart but not
//! `backend.tf.json`, which is one file for every stack, and it would move Atmos users'
//! existing `.terraform` aside (a re-init and provider re-download per stack).
//!
//! The lock file lives outside the repository, under tfauth's cache home:
//! `$XDG_CACHE_HOME/tfauth/locks/<first 16 hex digits of sha256(canonical dir)>.lock`,
//! created 0600 in a 0700 directory, opened with `O_NOFOLLOW` and never truncated on open
//! (a waiter must not wipe what the holder wrote). Once taken, it holds the holder's pid,
//! stack and directory, for the waiting message.
//!
//! What it costs: two runs of one component directory take as long as one after the
//! other, instead of overlapping. Runs of different components never wait for each other.

use super::RunError;
use crate::env_vars::Env;
use std::fs::File;
use std::io::{Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The exclusive lock on one component directory, held while this value lives (and, after
/// [`DirLock::keep_across_exec`], by the program this process execs).
#[derive(Debug)]
pub struct DirLock {
    file: File,
    path: PathBuf,
}

/// Who holds a lock, as written into the lock file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub stack: String,
    pub dir: PathBuf,
}

/// `$XDG_CACHE_HOME/tfauth/locks/<hash>.lock` for the component directory `dir`
/// (canonicalised, so `components/terraform/app` and a symlink to it share one lock).
pub fn lock_path(env: &Env, dir: &Path) -> Result<PathBuf, RunError> {
    use sha2::{Digest, Sha256};
    use std::os::unix::ffi::OsStrExt;
    let canonical = dir.canonicalize().map_err(|source| RunError::Write { path: dir.to_path_buf(), source })?;
    let home = crate::session::cache::cache_home(env).ok_or_else(|| RunError::Write {
        path: PathBuf::from("~/.cache/tfauth/locks"),
        source: std::io::Error::other("neither XDG_CACHE_HOME nor HOME is set"),
    })?;
    let digest = Sha256::digest(canonical.as_os_str().as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Ok(home.join("locks").join(format!("{hex}.lock")))
}

impl DirLock {
    /// Takes the lock for the component directory `dir`, run for `stack`. When another
    /// process holds it, says so once on stderr and waits for it, however long it runs.
    pub fn acquire(env: &Env, dir: &Path, stack: &str) -> Result<DirLock, RunError> {
        let path = lock_path(env, dir)?;
        let file = open(&path)?;
        let err = |source| RunError::Write { path: path.clone(), source };
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = read_holder(&path);
                let shown = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
                if let Some(h) = holder.as_ref().filter(|h| crate::session::cache::is_ancestor(h.pid)) {
                    return Err(RunError::LockedByAncestor { dir: shown, holder: h.pid });
                }
                match holder {
                    Some(h) => eprintln!(
                        "tfauth: waiting for another tfauth run in {} (stack {}, pid {})",
                        shown.display(),
                        h.stack,
                        h.pid
                    ),
                    None => eprintln!("tfauth: waiting for another tfauth run in {}", shown.display()),
                }
                loop {
                    match file.lock() {
                        Ok(()) => break,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(err(e)),
                    }
                }
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(err(e)),
        }
        let mut lock = DirLock { file, path };
        let holder = Holder {
            pid: std::process::id(),
            stack: stack.to_string(),
            dir: dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()),
        };
        // Informational only: a failure to record the holder does not stop the run.
        if let Err(e) = lock.record(&holder) {
            tracing::debug!("cannot record the holder in {}: {e}", lock.path.display());
        }
        Ok(lock)
    }

    fn record(&mut self, holder: &Holder) -> std::io::Result<()> {
        let mut text = serde_json::to_string(holder).map_err(std::io::Error::other)?;
        text.push('\n');
        self.file.set_len(0)?;
        self.file.rewind()?;
        self.file.write_all(text.as_bytes())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lets the lock outlive this process image: clears `FD_CLOEXEC` on the lock file's
    /// descriptor (whatever number `open` gave it; the first free one, usually 3), so the
    /// program this process execs next inherits it, keeps the lock for as long as it runs,
    /// and the OS releases it when the last holder of the descriptor exits. Call it right
    /// before the exec: the steps before (init, workspace select) are children that need
    /// not inherit it, since tfauth holds the lock while they run. Whatever the exec'd
    /// terraform starts without closing descriptors (providers, a `local-exec`, the
    /// credential helper) inherits it too; a background process left running by a
    /// `local-exec` would keep the directory locked until it exits.
    pub fn keep_across_exec(&self) -> std::io::Result<i32> {
        use rustix::io::{FdFlags, fcntl_getfd, fcntl_setfd};
        let flags = fcntl_getfd(&self.file)?;
        fcntl_setfd(&self.file, flags - FdFlags::CLOEXEC)?;
        Ok(self.file.as_raw_fd())
    }
}

/// Opens (creating) the lock file through [`crate::util::fs`]: the directory checked and
/// made 0700, the file opened relative to its descriptor with `O_NOFOLLOW`, created
/// `O_EXCL` 0600 when missing, never truncated, and only a regular file of this user's
/// (a wider one of ours is tightened).
fn open(path: &Path) -> Result<File, RunError> {
    let dir = path.parent().expect("the lock path has a directory");
    let name = path.file_name().and_then(|n| n.to_str()).expect("the lock file's name is hex");
    let private =
        crate::util::fs::create_private_dir(dir).map_err(|source| RunError::Write { path: dir.into(), source })?;
    private.lock_file(name).map_err(|source| RunError::Write { path: path.to_path_buf(), source })
}

/// The holder recorded in the lock file, if it can be read (it is only informational).
fn read_holder(path: &Path) -> Option<Holder> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut text = String::new();
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?
        .take(4096)
        .read_to_string(&mut text)
        .ok()?;
    serde_json::from_str(text.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn env(t: &Path) -> Env {
        Env::from_pairs([("XDG_CACHE_HOME", t.join("cache").to_str().unwrap())])
    }

    #[test]
    fn one_lock_per_canonical_directory_private_and_recording_its_holder() {
        let t = tempfile::tempdir().unwrap();
        let app = t.path().join("components/terraform/app");
        std::fs::create_dir_all(&app).unwrap();
        std::os::unix::fs::symlink(&app, t.path().join("link")).unwrap();
        let env = env(t.path());
        let p = lock_path(&env, &app).unwrap();
        assert_eq!(p, lock_path(&env, &t.path().join("link")).unwrap(), "a symlink to the directory shares its lock");
        assert_eq!(p.parent().unwrap(), t.path().join("cache/tfauth/locks"));
        let stem = p.file_stem().unwrap().to_str().unwrap();
        assert!(stem.len() == 16 && stem.chars().all(|c| c.is_ascii_hexdigit()), "{stem}");
        let other = t.path().join("components/terraform/vpc");
        std::fs::create_dir_all(&other).unwrap();
        assert_ne!(p, lock_path(&env, &other).unwrap());

        let lock = DirLock::acquire(&env, &app, "plat-use2-dev").unwrap();
        assert_eq!(lock.path(), p);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&p), 0o600);
        assert_eq!(mode(p.parent().unwrap()), 0o700);
        let holder = read_holder(&p).unwrap();
        assert_eq!(holder.pid, std::process::id());
        assert_eq!(holder.stack, "plat-use2-dev");
        assert_eq!(holder.dir, app.canonicalize().unwrap());
        // Another open file description (as another process has) cannot take it.
        let second = open(&p).unwrap();
        assert!(matches!(second.try_lock(), Err(std::fs::TryLockError::WouldBlock)));
        // Opening it again does not truncate what the holder wrote.
        assert_eq!(read_holder(&p).unwrap(), holder);
        drop(lock);
        second.try_lock().unwrap();
    }

    #[test]
    fn keep_across_exec_clears_close_on_exec() {
        let t = tempfile::tempdir().unwrap();
        let lock = DirLock::acquire(&env(t.path()), t.path(), "s").unwrap();
        let cloexec = |f: &File| rustix::io::fcntl_getfd(f).unwrap().contains(rustix::io::FdFlags::CLOEXEC);
        let fd = lock.file.as_raw_fd();
        assert!(cloexec(&lock.file), "children spawned before the exec do not inherit it");
        assert_eq!(lock.keep_across_exec().unwrap(), fd);
        assert!(!cloexec(&lock.file));
    }

    #[test]
    fn a_symlinked_or_wide_lock_file_is_refused_or_tightened() {
        let t = tempfile::tempdir().unwrap();
        let env = env(t.path());
        let p = lock_path(&env, t.path()).unwrap();
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let target = t.path().join("victim");
        std::fs::write(&target, "keep").unwrap();
        std::os::unix::fs::symlink(&target, &p).unwrap();
        let err = DirLock::acquire(&env, t.path(), "s").unwrap_err();
        let RunError::Write { path, source } = &err else { panic!("{err:?}") };
        assert_eq!(path, &p);
        assert!(matches!(crate::util::fs::TrustError::of(source), Some(crate::util::fs::TrustError::Symlink { .. })));
        assert!(err.hint().unwrap().contains("remove the link"), "{:?}", err.hint());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep", "the link's target is untouched");
        std::fs::remove_file(&p).unwrap();
        std::fs::write(&p, "").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
        let _lock = DirLock::acquire(&env, t.path(), "s").unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
