//! Writing files that must be private and whole: created 0600 (directories 0700) from the
//! first byte, written to a temporary file in the same directory, synced, then renamed
//! over the target. A reader sees the old file or the new one, never half of one, and a
//! process killed mid-write leaves the old file intact.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` and its missing parents with mode 0700 (parents that exist are left as
/// they are), and tightens `dir` itself to 0700 if it already existed wider.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let meta = fs::metadata(dir)?;
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Atomically replaces `path` with `contents`, mode 0600, in a 0700 directory, synced to
/// disk before the rename so a crash cannot leave an empty file behind.
pub fn write_private_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_private(path, contents, true)
}

/// Like [`write_private_atomic`] without the sync: for caches, where losing the newest
/// version to a crash costs only time.
pub fn write_private_cache(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_private(path, contents, false)
}

fn write_private(path: &Path, contents: &[u8], durable: bool) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| io::Error::other("a file path needs a directory"))?;
    create_private_dir(dir)?;
    replace(path, contents, durable, 0o600)
}

/// Atomically replaces `path` in a directory that is someone else's (the user's own
/// `~/.docker`): a missing directory is created 0700, an existing one is left as it is.
/// The file gets `mode`, masked to at most 0600, from its first byte.
pub fn replace_file_with_mode(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| io::Error::other("a file path needs a directory"))?;
    if !dir.is_dir() {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    replace(path, contents, true, mode & 0o600)
}

fn replace(path: &Path, contents: &[u8], durable: bool, mode: u32) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| io::Error::other("a file path needs a directory"))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), unique()));
    let result = (|| {
        let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
        // The mode above is filtered by the umask; set it explicitly too (never wider).
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(contents)?;
        if durable {
            f.sync_all()?;
        }
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() as u64);
    nanos ^ (N.fetch_add(1, Ordering::Relaxed) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_replaced_whole() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("a/b/file");
        write_private_atomic(&p, b"one").unwrap();
        write_private_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(p.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        let leftovers: Vec<_> =
            fs::read_dir(p.parent().unwrap()).unwrap().flatten().filter(|e| e.file_name() != "file").collect();
        assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    }

    #[test]
    fn a_foreign_directory_keeps_its_mode_and_the_file_gets_at_most_0600() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("dot-docker");
        fs::create_dir(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        let p = d.join("config.json");
        replace_file_with_mode(&p, b"{}", 0o644).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(&d).unwrap().permissions().mode() & 0o777, 0o755, "not ours to tighten");
        replace_file_with_mode(&p, b"{ }", 0o400).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o400, "a stricter mode is kept");
        assert_eq!(fs::read(&p).unwrap(), b"{ }");
        let fresh = t.path().join("new/dir/config.json");
        replace_file_with_mode(&fresh, b"{}", 0o600).unwrap();
        assert_eq!(fs::metadata(fresh.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn tightens_an_existing_wide_directory() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("wide");
        fs::create_dir(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
        create_private_dir(&d).unwrap();
        assert_eq!(fs::metadata(&d).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
