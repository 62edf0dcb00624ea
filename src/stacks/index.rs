//! A cache of stack names, so finding one stack among thousands does not mean parsing them
//! all on every run.
//!
//! Each entry records a manifest's name, once known the names of the components it defines
//! (for `list stacks -c` and shell completion), and the stamp (size, modification time) of every
//! file in its import closure. An entry is used only while every one of those files still
//! has the same stamp; anything else is recomputed from the YAML. Manifests whose closure
//! uses `!env`, `!include` or `!repo-root` are never cached: their names can depend on
//! more than file contents. The cache lives under `$XDG_CACHE_HOME/tfauth/stack-index/`,
//! one file per repository configuration, written atomically and privately. Losing or
//! corrupting it only costs time.
//!
//! It also records the stamp of every directory under the stacks directory, once none has
//! changed in the last two seconds. [`recorded`] gives a warm `find` the names and those
//! stamps without building any closure: a guess it verifies against the files themselves
//! (see `StackSet::find`). Nothing here is ever trusted for what a run merges: only for
//! which file to merge.

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

const VERSION: u32 = 4;
/// Largest index file read. The index is a cache of tfauth's: only a regular file of the
/// user's, never through a link; anything else there is ignored, as if missing.
const MAX_INDEX_BYTES: u64 = 64 * 1024 * 1024;

/// Size and modification time of a file, as seen by the directory walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stamp {
    pub size: u64,
    pub mtime_ns: i128,
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        let mtime_ns =
            meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos() as i128);
        Stamp { size: meta.len(), mtime_ns }
    }
}

#[derive(Default, Serialize, Deserialize)]
struct IndexFile {
    version: u32,
    /// (path relative to the stacks directory, stamp): every file some closure holds, once.
    files: Vec<(String, Stamp)>,
    /// (manifest's index in `files`, name, closure as indexes in `files`, component names)
    stacks: Vec<StoredStack>,
    /// Every directory of the stacks directory and its stamp, when they had all settled
    /// (see [`Index::set_dirs`]).
    #[serde(default)]
    dirs: Option<Vec<(String, Stamp)>>,
}

/// (manifest's index in `files`, name, closure as indexes in `files`, component names,
/// whether every file of the closure was read whole)
type StoredStack = (u32, String, Vec<u32>, Option<Vec<String>>, bool);

/// The same file read for its names alone: what a warm `find` needs, without building a
/// closure or a component list.
#[derive(Deserialize)]
struct NamesFile {
    version: u32,
    files: Vec<(String, IgnoredAny)>,
    stacks: Vec<(u32, String, IgnoredAny, IgnoredAny, IgnoredAny)>,
    #[serde(default)]
    dirs: Option<Vec<(String, Stamp)>>,
}

/// What a warm run reads of the index: each manifest's recorded name, and the directories
/// as they were when it was written.
pub struct Recorded {
    /// (manifest path relative to the stacks directory, name)
    pub stacks: Vec<(String, String)>,
    /// (directory relative to the stacks directory, `""` for itself; stamp)
    pub dirs: Vec<(String, Stamp)>,
}

#[derive(PartialEq)]
struct Entry {
    name: String,
    /// Rows of [`Index::files`].
    closure: Vec<u32>,
    components: Option<Vec<String>>,
    /// Whether the name came from the whole files, not only the keys that name them (see
    /// `StackSet::find`): a listing trusts only such names, as it reports a file that
    /// does not parse whole.
    whole: bool,
}

/// Names known from the cache, and new ones to add.
///
/// Each (file, stamp) pair is one row, shared by every closure that holds it, so checking
/// two thousand closures of twenty files each asks for each file's stamp once.
pub struct Index {
    path: Option<PathBuf>,
    /// (path relative to the stacks directory, stamp), by row.
    files: Vec<(String, Stamp)>,
    /// Rows of each path (one per stamp seen), built on the first insert.
    rows: foldhash::HashMap<String, Vec<(Stamp, u32)>>,
    /// Whether each row matches the file as it is now, as of the last [`Index::check`]
    /// (false until then).
    current: Vec<bool>,
    /// manifest rel path -> its entry
    entries: HashMap<String, Entry>,
    dirs: Option<Vec<(String, Stamp)>>,
    changed: bool,
}

/// A directory modified this recently may be modified again within the same tick of the
/// file system's clock, which its stamp would not show.
const SETTLED: std::time::Duration = std::time::Duration::from_secs(2);

impl Index {
    /// Reads the cache at `path` (missing or unreadable means empty).
    pub fn load(path: Option<PathBuf>) -> Index {
        let mut index = Index {
            path,
            files: Vec::new(),
            rows: Default::default(),
            current: Vec::new(),
            entries: HashMap::new(),
            dirs: None,
            changed: false,
        };
        if let Some(file) = index.path.as_deref().and_then(read::<IndexFile>).filter(|f| f.version == VERSION) {
            let rows = file.files.len();
            for (m, name, closure, components, whole) in file.stacks {
                if closure.iter().chain([&m]).any(|&i| i as usize >= rows) {
                    continue;
                }
                let rel = file.files[m as usize].0.clone();
                index.entries.insert(rel, Entry { name, closure, components, whole });
            }
            index.files = file.files;
            index.dirs = file.dirs;
            index.current = vec![false; rows];
        }
        index
    }

    /// Compares every recorded file with its stamp now (`None`: gone), once for all the
    /// closures that hold it. Until this is called no entry is valid.
    pub fn check(&mut self, now: impl Fn(&str) -> Option<Stamp>) {
        self.current = self.files.iter().map(|(rel, stamp)| now(rel) == Some(*stamp)).collect();
    }

    /// The cached name of `manifest`, if every file of its closure is unchanged; with
    /// `whole`, only a name that came from the whole files.
    pub fn name(&self, manifest: &str, whole: bool) -> Option<&str> {
        self.valid(manifest).filter(|e| e.whole || !whole).map(|e| e.name.as_str())
    }

    /// The cached component names of `manifest`, if known and its closure is unchanged.
    pub fn components(&self, manifest: &str) -> Option<&[String]> {
        self.valid(manifest)?.components.as_deref()
    }

    fn valid(&self, manifest: &str) -> Option<&Entry> {
        let e = self.entries.get(manifest)?;
        e.closure.iter().all(|&row| self.current.get(row as usize).copied().unwrap_or(false)).then_some(e)
    }

    /// The row of `rel` at `stamp`, added when new: what a closure is recorded as. Rows
    /// stay what they are for the life of this index (saving renumbers only the file).
    pub fn row(&mut self, rel: &str, stamp: Stamp) -> u32 {
        if self.rows.is_empty() && !self.files.is_empty() {
            for (i, (r, s)) in self.files.iter().enumerate() {
                self.rows.entry(r.clone()).or_default().push((*s, i as u32));
            }
        }
        let found = self.rows.get(rel).and_then(|rows| rows.iter().find(|(s, _)| *s == stamp));
        if let Some(&(_, row)) = found {
            return row;
        }
        self.files.push((rel.to_string(), stamp));
        self.current.push(true);
        let row = (self.files.len() - 1) as u32;
        self.rows.entry(rel.to_string()).or_default().push((stamp, row));
        row
    }

    /// [`Self::insert_rows`] with the closure as (path, stamp) pairs.
    #[cfg(test)]
    pub fn insert<S: AsRef<str>>(
        &mut self,
        manifest: &str,
        name: &str,
        closure: impl IntoIterator<Item = (S, Stamp)>,
        whole: bool,
    ) {
        let closure: Vec<u32> = closure.into_iter().map(|(rel, stamp)| self.row(rel.as_ref(), stamp)).collect();
        self.insert_rows(manifest, name, closure, whole);
    }

    /// Records a freshly computed name with its closure as rows ([`Self::row`]) of the
    /// files as they are now (component names recorded for an older closure are dropped
    /// with it), and whether it came from the whole files.
    pub fn insert_rows(&mut self, manifest: &str, name: &str, closure: Vec<u32>, whole: bool) {
        let same = self.entries.get(manifest).filter(|e| e.closure == closure);
        let components = same.and_then(|e| e.components.clone());
        let whole = whole || same.is_some_and(|e| e.whole);
        let new = Entry { name: name.to_string(), closure, components, whole };
        if self.entries.get(manifest) != Some(&new) {
            self.entries.insert(manifest.to_string(), new);
            self.changed = true;
        }
    }

    /// Records the directories of a fresh walk, or none when one of them changed too
    /// recently for its stamp to be trusted (a warm run then walks again, and records them
    /// once they have settled).
    pub fn set_dirs(&mut self, dirs: &[(String, Stamp)]) {
        let now = std::time::SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128);
        let settled = dirs.iter().all(|(_, s)| now - s.mtime_ns >= SETTLED.as_nanos() as i128);
        let dirs = settled.then(|| dirs.to_vec());
        if self.dirs != dirs {
            self.dirs = dirs;
            self.changed = true;
        }
    }

    /// Records the component names of a manifest whose name is already recorded, from a
    /// merge of its whole files.
    pub fn set_components(&mut self, manifest: &str, components: Vec<String>) {
        if let Some(e) = self.entries.get_mut(manifest)
            && (e.components.as_ref() != Some(&components) || !e.whole)
        {
            e.components = Some(components);
            e.whole = true;
            self.changed = true;
        }
    }

    /// Writes the cache if anything changed; failures are logged, never fatal. Only the
    /// rows some closure still holds are written.
    pub fn save(&mut self) {
        let Some(path) = self.path.clone().filter(|_| self.changed) else { return };
        let mut file = IndexFile { version: VERSION, dirs: self.dirs.clone(), ..Default::default() };
        let mut renumbered: Vec<Option<u32>> = vec![None; self.files.len()];
        let mut id = |row: u32, out: &mut Vec<(String, Stamp)>| -> u32 {
            *renumbered[row as usize].get_or_insert_with(|| {
                out.push(self.files[row as usize].clone());
                (out.len() - 1) as u32
            })
        };
        let mut manifests: Vec<&String> = self.entries.keys().collect();
        manifests.sort();
        for m in manifests {
            let e = &self.entries[m];
            let Some(&own) = e.closure.iter().find(|&&row| self.files[row as usize].0 == *m) else { continue };
            let mid = id(own, &mut file.files);
            let cids = e.closure.iter().map(|&row| id(row, &mut file.files)).collect();
            file.stacks.push((mid, e.name.clone(), cids, e.components.clone(), e.whole));
        }
        match serde_json::to_vec(&file) {
            Ok(bytes) => match crate::util::fs::write_private_cache(&path, &bytes) {
                Ok(()) => self.changed = false,
                Err(e) => tracing::debug!("could not write the stack index {}: {e}", path.display()),
            },
            Err(e) => tracing::debug!("could not encode the stack index: {e}"),
        }
    }
}

/// Every (manifest, name) the cache at `path` records, whether or not its files still
/// match, with the directories as they were: a guess for a warm run to verify, read without
/// the closures. `None` when there is no usable cache or it has no settled directories.
pub fn recorded(path: &Path) -> Option<Recorded> {
    let file = read::<NamesFile>(path).filter(|f| f.version == VERSION)?;
    let dirs = file.dirs?;
    let mut files: Vec<Option<String>> = file.files.into_iter().map(|(rel, _)| Some(rel)).collect();
    let stacks =
        file.stacks.into_iter().filter_map(|(m, name, ..)| Some((files.get_mut(m as usize)?.take()?, name))).collect();
    Some(Recorded { stacks, dirs })
}

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let bytes = crate::util::fs::read_private(path, MAX_INDEX_BYTES).ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// Where the index for a configuration lives: one file per distinct set of inputs that a
/// name can depend on.
pub fn index_path(env: &crate::env_vars::Env, key_parts: &[&str]) -> Option<PathBuf> {
    let base = crate::util::dirs::cache_home(env)?;
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in key_parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let key: String = h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    Some(base.join("stack-index").join(format!("{key}.json")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name from the naming keys alone is kept as such, for a listing to read again
    /// whole; the same closure read whole (or merged for its components) makes it whole.
    #[test]
    fn a_name_read_from_a_cut_is_marked_until_read_whole() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("idx.json");
        let s = Stamp { size: 1, mtime_ns: 1 };
        let mut idx = Index::load(Some(path.clone()));
        idx.insert("a.yaml", "dev", [("a.yaml", s)], false);
        idx.insert("b.yaml", "qa", [("b.yaml", s)], false);
        idx.save();
        let mut idx = Index::load(Some(path.clone()));
        idx.check(|_| Some(s));
        assert_eq!((idx.name("a.yaml", false), idx.name("a.yaml", true)), (Some("dev"), None));
        idx.insert("a.yaml", "dev", [("a.yaml", s)], true);
        idx.insert("a.yaml", "dev", [("a.yaml", s)], false);
        idx.set_components("b.yaml", vec!["vpc".into()]);
        idx.save();
        let mut idx = Index::load(Some(path));
        idx.check(|_| Some(s));
        assert_eq!((idx.name("a.yaml", true), idx.name("b.yaml", true)), (Some("dev"), Some("qa")));
    }

    #[test]
    fn round_trip_and_invalidation() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("idx.json");
        let s1 = Stamp { size: 10, mtime_ns: 1 };
        let s2 = Stamp { size: 20, mtime_ns: 2 };
        let mut idx = Index::load(Some(path.clone()));
        idx.insert("a.yaml", "dev", [("a.yaml", s1), ("_defaults.yaml", s2)], true);
        idx.save();
        let mut idx = Index::load(Some(path.clone()));
        let same = |rel: &str| match rel {
            "a.yaml" => Some(s1),
            "_defaults.yaml" => Some(s2),
            _ => None,
        };
        idx.check(same);
        assert_eq!(idx.name("a.yaml", false), Some("dev"));
        let touched = |rel: &str| match rel {
            "a.yaml" => Some(s1),
            "_defaults.yaml" => Some(Stamp { size: 20, mtime_ns: 3 }),
            _ => None,
        };
        idx.check(touched);
        assert_eq!(idx.name("a.yaml", false), None, "an import changed");
        let gone = |rel: &str| if rel == "a.yaml" { Some(s1) } else { None };
        idx.check(gone);
        assert_eq!(idx.name("a.yaml", false), None, "an import disappeared");
    }

    #[test]
    fn components_follow_their_closure() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("idx.json");
        let s1 = Stamp { size: 10, mtime_ns: 1 };
        let s2 = Stamp { size: 20, mtime_ns: 2 };
        let closure = vec![("a.yaml".to_string(), s1)];
        let mut idx = Index::load(Some(path.clone()));
        idx.set_components("a.yaml", vec!["vpc".into()]);
        assert!(idx.entries.is_empty(), "components only attach to a recorded name");
        idx.insert("a.yaml", "dev", closure.clone(), true);
        idx.set_components("a.yaml", vec!["vpc".into(), "eks".into()]);
        idx.save();
        let mut idx = Index::load(Some(path));
        let same = |rel: &str| (rel == "a.yaml").then_some(s1);
        idx.check(same);
        assert_eq!(idx.components("a.yaml"), Some(&["vpc".to_string(), "eks".to_string()][..]));
        let touched = |rel: &str| (rel == "a.yaml").then_some(s2);
        idx.check(touched);
        assert_eq!(idx.components("a.yaml"), None);
        idx.insert("a.yaml", "dev", vec![("a.yaml".to_string(), s2)], true);
        assert_eq!(idx.name("a.yaml", false), Some("dev"), "a fresh closure is current");
        assert_eq!(idx.components("a.yaml"), None, "a new closure forgets the old components");
        idx.insert("a.yaml", "dev", vec![("a.yaml".to_string(), s2)], true);
    }

    #[test]
    fn an_index_that_is_a_fifo_or_a_device_is_empty_at_once() {
        let t = tempfile::tempdir().unwrap();
        let fifo = t.path().join("idx.json");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let started = std::time::Instant::now();
        assert_eq!(Index::load(Some(fifo)).name("a.yaml", false), None);
        assert_eq!(Index::load(Some(PathBuf::from("/dev/zero"))).name("a.yaml", false), None);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn corrupt_cache_is_empty() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("idx.json");
        std::fs::write(&path, b"{not json").unwrap();
        let idx = Index::load(Some(path));
        assert_eq!(idx.name("a.yaml", false), None);
    }

    #[test]
    fn closures_share_rows_and_only_used_rows_are_written() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("idx.json");
        let (d1, d2, s) =
            (Stamp { size: 1, mtime_ns: 1 }, Stamp { size: 2, mtime_ns: 2 }, Stamp { size: 9, mtime_ns: 9 });
        let mut idx = Index::load(Some(path.clone()));
        idx.insert("a.yaml", "a", [("a.yaml", s), ("_defaults.yaml", d1)], true);
        idx.insert("b.yaml", "b", [("b.yaml", s), ("_defaults.yaml", d1)], true);
        assert_eq!(idx.files.len(), 3, "the shared import is one row");
        idx.save();
        let mut idx = Index::load(Some(path.clone()));
        // _defaults changed and a is named again: its old row stays for b until b is too.
        idx.insert("a.yaml", "a2", [("a.yaml", s), ("_defaults.yaml", d2)], true);
        idx.save();
        let file: IndexFile = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(file.files.len(), 4);
        let mut idx = Index::load(Some(path.clone()));
        idx.insert("b.yaml", "b2", [("b.yaml", s), ("_defaults.yaml", d2)], true);
        idx.save();
        let file: IndexFile = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(file.files.len(), 3, "the row no closure holds is gone: {:?}", file.files);
        let mut idx = Index::load(Some(path.clone()));
        idx.check(|rel| Some(if rel == "_defaults.yaml" { d2 } else { s }));
        assert_eq!((idx.name("a.yaml", false), idx.name("b.yaml", false)), (Some("a2"), Some("b2")));
    }

    #[test]
    fn recorded_names_need_settled_directories() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("idx.json");
        let s = Stamp { size: 1, mtime_ns: 1 };
        let mut idx = Index::load(Some(path.clone()));
        idx.insert("a.yaml", "dev", [("a.yaml", s)], true);
        let now = std::time::SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as i128;
        idx.set_dirs(&[(String::new(), Stamp { size: 4096, mtime_ns: now })]);
        idx.save();
        assert!(recorded(&path).is_none(), "a directory changed just now");
        let mut idx = Index::load(Some(path.clone()));
        let old = Stamp { size: 4096, mtime_ns: now - 60_000_000_000 };
        idx.set_dirs(&[(String::new(), old)]);
        idx.save();
        let r = recorded(&path).unwrap();
        assert_eq!(r.stacks, vec![("a.yaml".to_string(), "dev".to_string())]);
        assert_eq!(r.dirs, vec![(String::new(), old)]);
    }
}
