//! The permissions check: tfauth's directories are 0700 and its files 0600, owned by this
//! user (OpenSSH's `StrictModes`).
//!
//! Why it exists: these files hold or lead to secrets, and a tree someone made readable to
//! others is found here before it leaks. It must not follow symlinks nor change any mode: it
//! prints the `chmod` to run.

use super::{Check, LIST_MAX};
use crate::output::env::shell_quote;
use std::path::{Path, PathBuf};

/// What is wrong with one file or directory tfauth owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offense {
    /// Permission bits other than 0700 (directories) or 0600 (files).
    Mode { have: u32, want: u32 },
    /// Owned by another user.
    Owner { uid: u32 },
}

/// What a file or directory tfauth owns must look like: directories 0700, files 0600,
/// owned by `me`.
pub fn classify(is_dir: bool, mode: u32, owner: u32, me: u32) -> Vec<Offense> {
    let want = if is_dir { 0o700 } else { 0o600 };
    let have = mode & 0o7777;
    let mut out = Vec::new();
    if have != want {
        out.push(Offense::Mode { have, want });
    }
    if owner != me {
        out.push(Offense::Owner { uid: owner });
    }
    out
}

#[derive(Default)]
struct Walk {
    dirs: usize,
    files: usize,
    offenders: Vec<(PathBuf, Offense)>,
    symlinks: Vec<PathBuf>,
}

impl Walk {
    /// Looks at `path` without following a symlink, and below it if it is a directory.
    fn visit(&mut self, path: &Path, me: u32) {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::symlink_metadata(path) else { return };
        if meta.file_type().is_symlink() {
            self.symlinks.push(path.to_path_buf());
            return;
        }
        let is_dir = meta.is_dir();
        if is_dir {
            self.dirs += 1;
        } else {
            self.files += 1;
        }
        for o in classify(is_dir, meta.mode(), meta.uid(), me) {
            self.offenders.push((path.to_path_buf(), o));
        }
        // A directory that cannot be listed is already an offender (mode or owner).
        if is_dir && let Ok(entries) = std::fs::read_dir(path) {
            let mut children: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            children.sort();
            for c in children {
                self.visit(&c, me);
            }
        }
    }
}

/// The fix for one offense.
fn fix(path: &Path, offense: &Offense) -> String {
    let quoted = shell_quote(&path.to_string_lossy());
    match offense {
        Offense::Mode { want, .. } => format!("chmod {want:o} {quoted}"),
        Offense::Owner { .. } => format!("sudo chown \"$(id -u):$(id -g)\" {quoted}"),
    }
}

/// Every directory (0700) and file (0600) under `roots` is private and owned by `me`.
/// Symlinks are reported, never followed.
pub fn permissions(roots: &[PathBuf], me: u32) -> Check {
    const NAME: &str = "permissions";
    let mut walk = Walk::default();
    let existing: Vec<&PathBuf> = roots.iter().filter(|r| std::fs::symlink_metadata(r).is_ok()).collect();
    for root in &existing {
        walk.visit(root, me);
    }
    let shown: Vec<String> = existing.iter().map(|r| r.display().to_string()).collect();
    if !walk.offenders.is_empty() {
        let mut detail = format!("{} path(s) are not private to you:", walk.offenders.len());
        let mut hints = Vec::new();
        for (path, o) in walk.offenders.iter().take(LIST_MAX) {
            let what = match o {
                Offense::Mode { have, want } => format!("mode {have:04o}, should be {want:04o}"),
                Offense::Owner { uid } => format!("owned by uid {uid}, not by you (uid {me})"),
            };
            detail.push_str(&format!("\n- {}: {what}", path.display()));
            hints.push(fix(path, o));
        }
        if walk.offenders.len() > LIST_MAX {
            detail.push_str(&format!("\n- and {} more", walk.offenders.len() - LIST_MAX));
        }
        return Check::fail(NAME, detail, hints.join("\n"));
    }
    if !walk.symlinks.is_empty() {
        let list: Vec<String> = walk.symlinks.iter().map(|p| p.display().to_string()).collect();
        return Check::warn(
            NAME,
            format!("symlink(s) where tfauth writes none, not followed: {}", list.join(", ")),
            "tfauth never writes symlinks there: remove them unless you made them on purpose",
        );
    }
    if existing.is_empty() {
        return Check::pass(NAME, "nothing written yet");
    }
    Check::pass(NAME, format!("{} dir(s) (0700) and {} file(s) (0600) in {}", walk.dirs, walk.files, shown.join(", ")))
}

/// The real user id of this process.
pub fn current_uid() -> u32 {
    rustix::process::getuid().as_raw()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn modes_are_classified_against_0700_and_0600() {
        assert_eq!(classify(true, 0o40700, 1000, 1000), []);
        assert_eq!(classify(false, 0o100600, 1000, 1000), []);
        assert_eq!(classify(true, 0o40755, 1000, 1000), [Offense::Mode { have: 0o755, want: 0o700 }]);
        assert_eq!(classify(false, 0o100644, 1000, 1000), [Offense::Mode { have: 0o644, want: 0o600 }]);
        assert_eq!(classify(false, 0o100400, 1000, 1000), [Offense::Mode { have: 0o400, want: 0o600 }]);
        assert_eq!(classify(true, 0o40700, 0, 1000), [Offense::Owner { uid: 0 }]);
        assert_eq!(
            classify(false, 0o104600, 0, 1000),
            [Offense::Mode { have: 0o4600, want: 0o600 }, Offense::Owner { uid: 0 }],
            "setuid counts"
        );
        assert_eq!(fix(Path::new("/a b/c"), &Offense::Mode { have: 0o644, want: 0o600 }), "chmod 600 '/a b/c'");
        assert_eq!(fix(Path::new("/d"), &Offense::Mode { have: 0o755, want: 0o700 }), "chmod 700 /d");
    }

    #[test]
    fn permissions_list_offenders_and_never_follow_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("realm");
        let me = current_uid();
        let set = |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
        std::fs::create_dir_all(root.join("aws/p")).unwrap();
        for d in [&root, &root.join("aws"), &root.join("aws/p")] {
            set(d, 0o700);
        }
        std::fs::write(root.join("aws/p/config"), "x").unwrap();
        set(&root.join("aws/p/config"), 0o600);
        let ok = permissions(std::slice::from_ref(&root), me);
        assert_eq!(ok.status, Status::Pass, "{ok:?}");
        assert!(ok.detail.contains("3 dir(s) (0700) and 1 file(s) (0600)"), "{}", ok.detail);

        // A wide tree outside, reachable only through a symlink: not followed.
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        set(&outside, 0o777);
        std::os::unix::fs::symlink(&outside, root.join("aws/link")).unwrap();
        let c = permissions(std::slice::from_ref(&root), me);
        assert_eq!(c.status, Status::Warn, "{c:?}");
        assert!(c.detail.contains("aws/link") && !c.detail.contains("outside"), "{}", c.detail);

        set(&root.join("aws/p/config"), 0o644);
        set(&root.join("aws"), 0o755);
        let c = permissions(&[root.clone(), t.path().join("missing")], me);
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(c.detail.contains("mode 0644, should be 0600"), "{}", c.detail);
        let hint = c.hint.unwrap();
        assert!(hint.contains(&format!("chmod 600 {}", root.join("aws/p/config").display())), "{hint}");
        assert!(hint.contains(&format!("chmod 700 {}", root.join("aws").display())), "{hint}");
        assert_eq!(permissions(&[t.path().join("missing")], me).detail, "nothing written yet");
    }
}
