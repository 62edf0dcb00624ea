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

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::UNIX_EPOCH;

const VERSION: u32 = 2;
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
    /// (path relative to the stacks directory, stamp)
    files: Vec<(String, Stamp)>,
    /// (manifest's index in `files`, name, closure as indexes in `files`, component names)
    stacks: Vec<StoredStack>,
}

/// (manifest's index in `files`, name, closure as indexes in `files`, component names)
type StoredStack = (u32, String, Vec<u32>, Option<Vec<String>>);

#[derive(PartialEq)]
struct Entry {
    name: String,
    closure: Vec<(String, Stamp)>,
    components: Option<Vec<String>>,
}

/// Names known from the cache, and new ones to add.
pub struct Index {
    path: Option<PathBuf>,
    /// manifest rel path -> its entry
    entries: HashMap<String, Entry>,
    changed: bool,
}

impl Index {
    /// Reads the cache at `path` (missing or unreadable means empty).
    pub fn load(path: Option<PathBuf>) -> Index {
        let mut entries = HashMap::new();
        if let Some(p) = &path
            && let Ok(Some(bytes)) = crate::util::fs::read_private(p, MAX_INDEX_BYTES)
            && let Ok(file) = serde_json::from_slice::<IndexFile>(&bytes)
            && file.version == VERSION
        {
            for (m, name, closure, components) in file.stacks {
                let get = |i: u32| file.files.get(i as usize).cloned();
                let (Some((rel, _)), Some(closure)) =
                    (get(m), closure.into_iter().map(get).collect::<Option<Vec<_>>>())
                else {
                    continue;
                };
                entries.insert(rel, Entry { name, closure, components });
            }
        }
        Index { path, entries, changed: false }
    }

    /// The cached name of `manifest`, if every file of its closure is unchanged.
    pub fn name(&self, manifest: &str, current: &impl Fn(&str) -> Option<Stamp>) -> Option<&str> {
        self.valid(manifest, current).map(|e| e.name.as_str())
    }

    /// The cached component names of `manifest`, if known and its closure is unchanged.
    pub fn components(&self, manifest: &str, current: &impl Fn(&str) -> Option<Stamp>) -> Option<&[String]> {
        self.valid(manifest, current)?.components.as_deref()
    }

    fn valid(&self, manifest: &str, current: &impl Fn(&str) -> Option<Stamp>) -> Option<&Entry> {
        let e = self.entries.get(manifest)?;
        e.closure.iter().all(|(rel, stamp)| current(rel) == Some(*stamp)).then_some(e)
    }

    /// Records a freshly computed name (component names recorded for an older closure are
    /// dropped with it).
    pub fn insert(&mut self, manifest: &str, name: &str, closure: Vec<(String, Stamp)>) {
        let components = self.entries.get(manifest).filter(|e| e.closure == closure).and_then(|e| e.components.clone());
        let new = Entry { name: name.to_string(), closure, components };
        if self.entries.get(manifest) != Some(&new) {
            self.entries.insert(manifest.to_string(), new);
            self.changed = true;
        }
    }

    /// Records the component names of a manifest whose name is already recorded.
    pub fn set_components(&mut self, manifest: &str, components: Vec<String>) {
        if let Some(e) = self.entries.get_mut(manifest)
            && e.components.as_ref() != Some(&components)
        {
            e.components = Some(components);
            self.changed = true;
        }
    }

    /// Writes the cache if anything changed; failures are logged, never fatal.
    pub fn save(&mut self) {
        let Some(path) = self.path.clone().filter(|_| self.changed) else { return };
        let mut file = IndexFile { version: VERSION, ..Default::default() };
        let mut ids: HashMap<(String, Stamp), u32> = HashMap::new();
        let mut id = |rel: &str, stamp: Stamp, files: &mut Vec<(String, Stamp)>| -> u32 {
            *ids.entry((rel.to_string(), stamp)).or_insert_with(|| {
                files.push((rel.to_string(), stamp));
                (files.len() - 1) as u32
            })
        };
        let mut manifests: Vec<&String> = self.entries.keys().collect();
        manifests.sort();
        for m in manifests {
            let e = &self.entries[m];
            let Some((_, own)) = e.closure.iter().find(|(rel, _)| rel == m) else { continue };
            let mid = id(m, *own, &mut file.files);
            let cids = e.closure.iter().map(|(rel, s)| id(rel, *s, &mut file.files)).collect();
            file.stacks.push((mid, e.name.clone(), cids, e.components.clone()));
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

    #[test]
    fn round_trip_and_invalidation() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("idx.json");
        let s1 = Stamp { size: 10, mtime_ns: 1 };
        let s2 = Stamp { size: 20, mtime_ns: 2 };
        let mut idx = Index::load(Some(path.clone()));
        idx.insert("a.yaml", "dev", vec![("a.yaml".into(), s1), ("_defaults.yaml".into(), s2)]);
        idx.save();
        let idx = Index::load(Some(path.clone()));
        let same = |rel: &str| match rel {
            "a.yaml" => Some(s1),
            "_defaults.yaml" => Some(s2),
            _ => None,
        };
        assert_eq!(idx.name("a.yaml", &same), Some("dev"));
        let touched = |rel: &str| match rel {
            "a.yaml" => Some(s1),
            "_defaults.yaml" => Some(Stamp { size: 20, mtime_ns: 3 }),
            _ => None,
        };
        assert_eq!(idx.name("a.yaml", &touched), None, "an import changed");
        let gone = |rel: &str| if rel == "a.yaml" { Some(s1) } else { None };
        assert_eq!(idx.name("a.yaml", &gone), None, "an import disappeared");
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
        idx.insert("a.yaml", "dev", closure.clone());
        idx.set_components("a.yaml", vec!["vpc".into(), "eks".into()]);
        idx.save();
        let mut idx = Index::load(Some(path));
        let same = |rel: &str| (rel == "a.yaml").then_some(s1);
        assert_eq!(idx.components("a.yaml", &same), Some(&["vpc".to_string(), "eks".to_string()][..]));
        let touched = |rel: &str| (rel == "a.yaml").then_some(s2);
        assert_eq!(idx.components("a.yaml", &touched), None);
        idx.insert("a.yaml", "dev", vec![("a.yaml".to_string(), s2)]);
        assert_eq!(idx.components("a.yaml", &touched), None, "a new closure forgets the old components");
        idx.insert("a.yaml", "dev", vec![("a.yaml".to_string(), s2)]);
    }

    #[test]
    fn an_index_that_is_a_fifo_or_a_device_is_empty_at_once() {
        let t = tempfile::tempdir().unwrap();
        let fifo = t.path().join("idx.json");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let started = std::time::Instant::now();
        assert_eq!(Index::load(Some(fifo)).name("a.yaml", &|_| None), None);
        assert_eq!(Index::load(Some(PathBuf::from("/dev/zero"))).name("a.yaml", &|_| None), None);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn corrupt_cache_is_empty() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("idx.json");
        std::fs::write(&path, b"{not json").unwrap();
        let idx = Index::load(Some(path));
        assert_eq!(idx.name("a.yaml", &|_| None), None);
    }
}
