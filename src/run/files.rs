//! Writing the generated files into the component directory. A file is replaced only when
//! it is missing, already holds what tfauth would write (compared as JSON, so an atmos-written
//! file with the same content counts), or carries tfauth's `"//"` marker; anything else,
//! such as a `backend.tf.json` the user wrote and committed, needs `--force`. All files are
//! checked before any is written, so a refusal leaves the directory as it was.

use super::{GeneratedFile, MARKER_PREFIX, RunError};
use std::path::Path;

/// What writing a file will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Create,
    Unchanged,
    Replace,
    /// Not tfauth's file and no `--force`.
    Refuse,
    /// Not tfauth's file, replaced because of `--force`.
    Force,
}

impl Disposition {
    pub fn describe(self) -> &'static str {
        match self {
            Disposition::Create => "new",
            Disposition::Unchanged => "unchanged",
            Disposition::Replace => "replaced",
            Disposition::Refuse => "exists and was not written by tfauth: refused without --force",
            Disposition::Force => "exists and was not written by tfauth: replaced (--force)",
        }
    }
}

/// Decides, reading only, what writing `f` would do.
pub fn disposition(f: &GeneratedFile, force: bool) -> Disposition {
    let Ok(existing) = std::fs::read_to_string(&f.path) else {
        return if f.path.exists() {
            if force { Disposition::Force } else { Disposition::Refuse }
        } else {
            Disposition::Create
        };
    };
    if existing == f.contents {
        return Disposition::Unchanged;
    }
    let old: Option<serde_json::Value> = serde_json::from_str(&existing).ok();
    let ours =
        old.as_ref().and_then(|v| v.get("//")).and_then(|v| v.as_str()).is_some_and(|s| s.starts_with(MARKER_PREFIX));
    let same = old.map(strip_marker) == serde_json::from_str(&f.contents).ok().map(strip_marker);
    match (ours || same, force) {
        (true, _) => Disposition::Replace,
        (false, true) => Disposition::Force,
        (false, false) => Disposition::Refuse,
    }
}

fn strip_marker(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(m) = v.as_object_mut() {
        m.remove("//");
    }
    v
}

/// What writing each file would do, or the first refusal.
fn dispositions(files: &[GeneratedFile], force: bool) -> Result<Vec<(&GeneratedFile, Disposition)>, RunError> {
    files
        .iter()
        .map(|f| match disposition(f, force) {
            Disposition::Refuse => Err(RunError::WouldOverwrite { path: f.path.clone() }),
            d => Ok((f, d)),
        })
        .collect()
}

/// Fails on the first file that would be refused, writing nothing.
pub fn check(files: &[GeneratedFile], force: bool) -> Result<(), RunError> {
    dispositions(files, force).map(drop)
}

/// Writes every file that needs it, or none: a refusal is found before the first write.
pub fn write_all(files: &[GeneratedFile], force: bool) -> Result<(), RunError> {
    for (f, d) in dispositions(files, force)? {
        match d {
            Disposition::Unchanged => {
                tracing::debug!("{} is up to date", f.path.display());
                continue;
            }
            Disposition::Force => {
                tracing::warn!("replacing {} ({}), which tfauth did not write (--force)", f.path.display(), f.what)
            }
            _ => {}
        }
        write_atomic(&f.path, f.contents.as_bytes(), f.mode)
            .map_err(|source| RunError::Write { path: f.path.clone(), source })?;
    }
    Ok(())
}

/// Replaces `path` whole: a temporary file in the same directory, created 0600 and set to
/// `mode` (never wider than 0644) once written, then renamed over the target. Unlike
/// [`crate::util::fs::write_private_atomic`] it leaves the directory's own mode alone: the
/// component directory belongs to the repository.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = path.parent().ok_or_else(|| std::io::Error::other("a file path needs a directory"))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}.tfauth-tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        f.set_permissions(std::fs::Permissions::from_mode(mode & 0o644))?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn file(dir: &Path, name: &str, contents: &str, mode: u32) -> GeneratedFile {
        GeneratedFile { path: dir.join(name), contents: contents.into(), mode, what: "backend" }
    }

    #[test]
    fn replaces_only_its_own_files_and_writes_nothing_on_refusal() {
        let t = tempfile::tempdir().unwrap();
        let ours = format!("{{\"//\": \"{MARKER_PREFIX} (x)\", \"a\": 2}}\n");
        let vars = file(t.path(), "v.tfvars.json", &ours, 0o600);
        let backend = file(t.path(), "backend.tf.json", "{\"//\": \"Generated by tfauth (b)\", \"b\": 1}\n", 0o644);
        // A hand-written backend.tf.json: refused, and the varfile is not written either.
        std::fs::write(&backend.path, "{\"terraform\": {\"backend\": {\"local\": {}}}}").unwrap();
        let err = write_all(&[vars.clone(), backend.clone()], false).unwrap_err();
        assert!(matches!(err, RunError::WouldOverwrite { ref path } if path == &backend.path), "{err:?}");
        assert!(!vars.path.exists());
        // The same content as an old atmos-written file (no marker) is not a conflict.
        std::fs::write(&backend.path, "{\"b\": 1}").unwrap();
        assert_eq!(disposition(&backend, false), Disposition::Replace);
        write_all(&[vars.clone(), backend.clone()], false).unwrap();
        assert_eq!(std::fs::metadata(&vars.path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&backend.path).unwrap().permissions().mode() & 0o777, 0o644);
        assert_eq!(disposition(&vars, false), Disposition::Unchanged);
        // Our own older version is replaced; --force replaces anything.
        let newer = file(t.path(), "v.tfvars.json", &ours.replace('2', "3"), 0o600);
        assert_eq!(disposition(&newer, false), Disposition::Replace);
        std::fs::write(&backend.path, "hand written").unwrap();
        assert_eq!(disposition(&backend, true), Disposition::Force);
        write_all(std::slice::from_ref(&backend), true).unwrap();
        assert_eq!(std::fs::read_to_string(&backend.path).unwrap(), backend.contents);
        let leftovers: Vec<_> = std::fs::read_dir(t.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
