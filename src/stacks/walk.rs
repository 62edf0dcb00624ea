//! The one walk of the stacks directory: every YAML file under it, each physical directory
//! read once, and no symlink that loops or leaves the directory.
//!
//! Symlinks are read leniently, the way a repository uses them (`orgs/shared -> ../catalog`):
//! a symlink to a directory is followed only when its canonical target is inside the
//! (canonical) stacks directory, and only when that target is not one of the directories
//! being walked above it (a loop: `self -> .`). A link that loops or leads outside is
//! skipped and reported (the caller warns, naming the link), never an error: Atmos, whose
//! Go walk does not follow directory links at all, reads such a repository without one.
//!
//! Directories are remembered by (device, inode). A directory reached a second time by
//! another path (a link to a directory that is also walked directly) is not read again: the
//! files already found under it are listed under the second path too, so imports and
//! globs through either path work. That keeps the work linear in the directories on disk;
//! the listing itself is capped at [`MAX_FILES`].

use super::index::Stamp;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Deepest directory level walked below the stacks directory.
pub const MAX_DEPTH: usize = 32;
/// Most files one walk lists (links that alias directories could otherwise multiply them).
pub const MAX_FILES: usize = 200_000;

/// A YAML file found: (path relative to the stacks directory with `/`, absolute path, stamp).
pub type Found = (String, PathBuf, Stamp);

/// A symlink (or directory) the walk did not follow, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The link as found in the tree.
    pub path: PathBuf,
    /// Where it leads (canonical).
    pub target: PathBuf,
    pub why: SkipReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The target is outside the stacks directory.
    Outside,
    /// The target is a directory the walk is already inside (named here, as walked).
    Loop { ancestor: PathBuf },
    /// More than [`MAX_DEPTH`] levels down.
    TooDeep,
    /// [`MAX_FILES`] were listed; the rest of the tree was not.
    TooManyFiles,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let link = crate::yaml::display_path(&self.path);
        let target = crate::yaml::display_path(&self.target);
        match &self.why {
            SkipReason::Outside => {
                write!(f, "not following the symlink {link} -> {target}: it leads outside the stacks directory")
            }
            SkipReason::Loop { ancestor } => write!(
                f,
                "not following the symlink {link} -> {target}: it leads back to {} (a symlink loop)",
                crate::yaml::display_path(ancestor)
            ),
            SkipReason::TooDeep => {
                write!(f, "not reading {link}: more than {MAX_DEPTH} directory levels below the stacks directory")
            }
            SkipReason::TooManyFiles => {
                write!(f, "stopped listing the stacks directory at {link}: more than {MAX_FILES} files")
            }
        }
    }
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walk {
    /// Sorted by relative path.
    pub files: Vec<Found>,
    pub skipped: Vec<Skipped>,
    /// Every directory read (relative path, `""` for the root; stamp): a file added,
    /// removed or renamed in one changes its modification time.
    pub dirs: Vec<(String, Stamp)>,
}

type DirKey = (u64, u64);

struct Walker {
    root: PathBuf,
    canonical_root: PathBuf,
    /// Each directory read so far, with the path it was read at.
    visited: HashMap<DirKey, PathBuf>,
    /// The directories being read, outermost first.
    ancestors: Vec<(DirKey, PathBuf)>,
    out: Walk,
}

/// Every `.yaml`/`.yml` file under `root`.
pub fn walk_yaml(root: &Path) -> Walk {
    let canonical_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut w = Walker {
        root: root.to_path_buf(),
        canonical_root,
        visited: HashMap::new(),
        ancestors: Vec::new(),
        out: Walk::default(),
    };
    if let Ok(meta) = std::fs::metadata(root) {
        let key = (meta.dev(), meta.ino());
        w.visited.insert(key, root.to_path_buf());
        w.out.dirs.push((String::new(), Stamp::of(&meta)));
        w.ancestors.push((key, root.to_path_buf()));
        w.read(root, "", 0);
    }
    w.out.files.sort_by(|a, b| a.0.cmp(&b.0));
    w.out
}

impl Walker {
    /// Lists `dir`, which is at `rel` under the root (`""` for the root itself).
    fn read(&mut self, dir: &Path, rel: &str, depth: usize) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            if self.out.files.len() >= MAX_FILES {
                if !self.out.skipped.iter().any(|s| s.why == SkipReason::TooManyFiles) {
                    self.skip(e.path(), e.path(), SkipReason::TooManyFiles);
                }
                return;
            }
            let path = e.path();
            let Ok(ft) = e.file_type() else { continue };
            // The type of what the entry names, through a symlink (a dangling one is
            // skipped); anything else is asked of the directory already open, not by path.
            let meta = if ft.is_symlink() { std::fs::metadata(&path) } else { e.metadata() };
            let Ok(meta) = meta else { continue };
            let name = e.file_name();
            let name = name.to_string_lossy();
            let child_rel = if rel.is_empty() { name.into_owned() } else { format!("{rel}/{name}") };
            if meta.is_dir() {
                if ft.is_symlink() {
                    let Ok(target) = path.canonicalize() else { continue };
                    if !target.starts_with(&self.canonical_root) {
                        self.skip(path, target, SkipReason::Outside);
                        continue;
                    }
                }
                self.dir(path, child_rel, &meta, depth + 1);
            } else if meta.is_file() && super::has_yaml_ext(&child_rel) {
                self.out.files.push((child_rel, path, Stamp::of(&meta)));
            }
        }
    }

    fn dir(&mut self, path: PathBuf, rel: String, meta: &std::fs::Metadata, depth: usize) {
        let key = (meta.dev(), meta.ino());
        if let Some((_, ancestor)) = self.ancestors.iter().find(|(k, _)| *k == key) {
            let ancestor = ancestor.clone();
            let target = path.canonicalize().unwrap_or_else(|_| ancestor.clone());
            self.skip(path, target, SkipReason::Loop { ancestor });
            return;
        }
        if let Some(first) = self.visited.get(&key).cloned() {
            // Read already under another path: list what it holds under this one too.
            let copies: Vec<Found> = self
                .out
                .files
                .iter()
                .filter_map(|(_, abs, st)| abs.strip_prefix(&first).ok().map(|r| (path.join(r), *st)))
                .map(|(abs, st)| (self.rel(&abs), abs, st))
                .take(MAX_FILES.saturating_sub(self.out.files.len()))
                .collect();
            self.out.files.extend(copies);
            return;
        }
        if depth > MAX_DEPTH {
            let target = path.canonicalize().unwrap_or_else(|_| path.clone());
            self.skip(path, target, SkipReason::TooDeep);
            return;
        }
        self.visited.insert(key, path.clone());
        self.out.dirs.push((rel.clone(), Stamp::of(meta)));
        self.ancestors.push((key, path.clone()));
        self.read(&path, &rel, depth);
        self.ancestors.pop();
    }

    fn skip(&mut self, path: PathBuf, target: PathBuf, why: SkipReason) {
        self.out.skipped.push(Skipped { path, target, why });
    }

    fn rel(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::time::{Duration, Instant};

    fn rels(w: &Walk) -> Vec<&str> {
        w.files.iter().map(|f| f.0.as_str()).collect()
    }

    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let s = t.path().join("stacks");
        std::fs::create_dir_all(s.join("catalog")).unwrap();
        std::fs::create_dir_all(s.join("orgs/acme")).unwrap();
        std::fs::write(s.join("catalog/vpc.yaml"), "").unwrap();
        std::fs::write(s.join("orgs/acme/dev.yaml"), "").unwrap();
        t
    }

    #[test]
    fn loops_and_links_out_are_skipped_and_named() {
        let t = tree();
        let s = t.path().join("stacks");
        symlink(".", s.join("self1")).unwrap();
        symlink(".", s.join("self2")).unwrap();
        symlink("..", s.join("up")).unwrap();
        symlink("/", s.join("root")).unwrap();
        symlink("../..", s.join("orgs/acme/back")).unwrap();
        let started = Instant::now();
        let w = walk_yaml(&s);
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
        assert_eq!(rels(&w), ["catalog/vpc.yaml", "orgs/acme/dev.yaml"]);
        let why = |name: &str| w.skipped.iter().find(|k| k.path.ends_with(name)).map(|k| k.why.clone());
        assert_eq!(why("self1"), Some(SkipReason::Loop { ancestor: s.clone() }));
        assert_eq!(why("self2"), Some(SkipReason::Loop { ancestor: s.clone() }));
        assert_eq!(why("orgs/acme/back"), Some(SkipReason::Loop { ancestor: s.clone() }));
        assert_eq!(why("up"), Some(SkipReason::Outside));
        assert_eq!(why("root"), Some(SkipReason::Outside));
        let text = w.skipped.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
        assert!(text.contains("self1") && text.contains("symlink loop"), "{text}");
        assert!(text.contains("outside the stacks directory"), "{text}");
    }

    #[test]
    fn links_inside_are_followed_under_both_paths() {
        let t = tree();
        let s = t.path().join("stacks");
        symlink("../catalog", s.join("orgs/shared")).unwrap();
        // A link that sorts before its target is walked first; the target is then an alias.
        symlink("orgs/acme", s.join("a-acme")).unwrap();
        let w = walk_yaml(&s);
        assert_eq!(
            rels(&w),
            ["a-acme/dev.yaml", "catalog/vpc.yaml", "orgs/acme/dev.yaml", "orgs/shared/vpc.yaml"],
            "{:?}",
            w.skipped
        );
        assert!(w.skipped.is_empty(), "{:?}", w.skipped);
        assert!(w.files.iter().all(|(rel, abs, _)| abs == &s.join(rel)));
    }

    #[test]
    fn a_stacks_directory_that_is_itself_a_link_is_walked() {
        let t = tree();
        let link = t.path().join("stacks-link");
        symlink("stacks", &link).unwrap();
        symlink("../catalog", t.path().join("stacks/orgs/shared")).unwrap();
        let w = walk_yaml(&link);
        assert_eq!(rels(&w), ["catalog/vpc.yaml", "orgs/acme/dev.yaml", "orgs/shared/vpc.yaml"]);
        assert!(w.skipped.is_empty(), "{:?}", w.skipped);
    }

    #[test]
    fn a_lattice_of_links_stays_linear() {
        // d0/{a,b} -> d1, d1/{a,b} -> d2, ...: 2^20 paths, 20 directories.
        let t = tempfile::tempdir().unwrap();
        let s = t.path().join("stacks");
        for i in 0..=20 {
            std::fs::create_dir_all(s.join(format!("d{i}"))).unwrap();
            std::fs::write(s.join(format!("d{i}/f.yaml")), "").unwrap();
            if i < 20 {
                symlink(format!("../d{}", i + 1), s.join(format!("d{i}/a"))).unwrap();
                symlink(format!("../d{}", i + 1), s.join(format!("d{i}/b"))).unwrap();
            }
        }
        let started = Instant::now();
        let w = walk_yaml(&s);
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        assert!(w.files.len() <= MAX_FILES);
        assert!(w.skipped.iter().any(|k| k.why == SkipReason::TooManyFiles), "{:?}", w.skipped.len());
    }
}
