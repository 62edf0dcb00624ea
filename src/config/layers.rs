//! The files `atmos.yaml` is built from, beside itself (CONTRACT A1): `atmos.d/` and
//! `.atmos.d/`, and `import:` entries, in Atmos's order.
//!
//! Why: a repository may keep its `auth:` in `.atmos.d/` or in an imported file; if those
//! were not read, a run would go ahead without auth on whatever ambient credentials exist.
//!
//! What Atmos does (`pkg/config/load.go`, `imports.go`, `adapters/local_adapter.go`):
//! - Default directories, lowest first: `atmos.d/` then `.atmos.d/` at the git root of the
//!   working directory (when it is not the directory of `atmos.yaml`), then `atmos.d/` then
//!   `.atmos.d/` beside `atmos.yaml`. Every `*.yaml` and `*.yml` below them, recursively; in one directory
//!   `x.yaml` hides `x.yml`; sorted by depth (shallower first), then by path.
//!   A file there that does not parse is an error.
//! - Then `import:` (a string or a list of strings), then the file itself on top. An entry
//!   is a file, a directory (its YAML files, as above), a path without extension
//!   (`.yaml`, `.yml` added) or a glob (`**` too); relative to `base_path`. Remote URLs are
//!   downloaded by Atmos; tfauth reads nothing over the network and warns instead. An
//!   entry that matches nothing is a warning, as in Atmos.
//! - An imported file's own `import:` is read too, relative to that file's `base_path:`
//!   if it sets one, else the importer's base. Atmos merges each imported file and then
//!   what it imports (its local adapter appends the nested imports after the file), so
//!   below the root a nested import wins over the file importing it; the root, `atmos.yaml`
//!   or a profile file, always goes on top of all its imports.
//! - Cycles are not an error in Atmos (it follows them ten levels deep and stops); here the
//!   entry that closes a cycle is skipped with a located warning, which merges the same
//!   files in the same final order, and so is anything deeper than ten levels.
//!
//! Stricter than Atmos on purpose: an imported file that does not parse is a located error
//! (Atmos skips it with a warning), because the file may hold the `auth:` a run needs.
//!
//! Reads only regular files within the YAML size cap (through [`Loader`]); never follows a
//! directory symlink while walking a directory, never writes.

use super::{ConfigError, absolute};
use crate::yaml::{LoadContext, Loader, Node, Span, Value, display_path};
use globset::GlobBuilder;
use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Deepest chain of imports followed (Atmos's `MaximumImportLvL`).
pub const MAX_IMPORT_DEPTH: usize = 10;
/// Most imported files (counting each time one is applied) for one configuration.
pub const MAX_IMPORTED_FILES: usize = 1000;
/// Most YAML files read from one directory (`.atmos.d/`, a profile, an imported directory).
pub const MAX_DIR_FILES: usize = 10_000;
/// Deepest directory level walked below such a directory.
pub const MAX_DIR_DEPTH: usize = 32;

/// The default-import directories for `config_dir`, lowest precedence first.
pub fn default_dirs(config_dir: &Path, git_root: Option<&Path>) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Some(g) = git_root.filter(|g| *g != config_dir) {
        roots.push(g.to_path_buf());
    }
    roots.push(config_dir.to_path_buf());
    roots.iter().flat_map(|r| [r.join("atmos.d"), r.join(".atmos.d")]).filter(|d| d.is_dir()).collect()
}

/// Every `*.yaml` / `*.yml` file below `dir`, in Atmos's order (see the module docs).
/// Directory symlinks are not followed; file symlinks are (reading checks the target).
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(dir, 0, &mut out);
    order(out)
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > MAX_DIR_DEPTH || out.len() >= MAX_DIR_FILES {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            walk(&path, depth + 1, out);
        } else if is_yaml(&path) && out.len() < MAX_DIR_FILES {
            out.push(path);
        }
    }
}

fn is_yaml(p: &Path) -> bool {
    matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
}

/// `x.yaml` hides `x.yml` in the same directory; then by depth, then by path (bytes).
fn order(mut files: Vec<PathBuf>) -> Vec<PathBuf> {
    files.sort();
    files.dedup();
    let has_yaml: std::collections::HashSet<PathBuf> =
        files.iter().filter(|f| f.extension().is_some_and(|x| x == "yaml")).map(|f| f.with_extension("")).collect();
    files.retain(|f| !(f.extension().is_some_and(|x| x == "yml") && has_yaml.contains(&f.with_extension(""))));
    files.sort_by(|a, b| {
        let depth = |p: &Path| p.components().count();
        depth(a).cmp(&depth(b)).then_with(|| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()))
    });
    files
}

/// Applies imports and files over a tree, remembering what it read and what it warned.
pub struct Importer {
    ctx: LoadContext,
    git_root: Option<PathBuf>,
    merge: fn(&mut Node, &Node),
    loaded: HashMap<PathBuf, Node>,
    applied: usize,
    /// Warnings are collected but only logged at debug level (reading a profile the run
    /// does not apply, which is not the user's concern unless it is chosen).
    quiet: bool,
    /// Every file applied as an import, in order (a file may appear more than once).
    pub files: Vec<PathBuf>,
    pub warnings: Vec<String>,
}

impl Importer {
    pub fn new(ctx: LoadContext, git_root: Option<PathBuf>, merge: fn(&mut Node, &Node)) -> Importer {
        Importer {
            ctx,
            git_root,
            merge,
            loaded: HashMap::new(),
            applied: 0,
            quiet: false,
            files: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The same importer, logging its warnings at debug level only.
    pub fn quiet(self) -> Importer {
        Importer { quiet: true, ..self }
    }

    /// Loads further files with `ctx` (once `base_path` is known, for `!include`).
    pub fn set_context(&mut self, ctx: LoadContext) {
        self.ctx = ctx;
    }

    fn warn(&mut self, message: String) {
        if self.quiet {
            tracing::debug!("{message}");
        } else {
            tracing::warn!("{message}");
        }
        self.warnings.push(message);
    }

    /// Loads `path` as a configuration layer: a mapping, or null for an empty file.
    pub fn load(&mut self, path: &Path, what: &str) -> Result<Option<Node>, ConfigError> {
        if let Some(n) = self.loaded.get(path) {
            return Ok(Some(n.clone()));
        }
        let node = Loader::new(&self.ctx).load_file(path)?;
        if node.is_null() {
            return Ok(None);
        }
        if node.as_map().is_none() {
            return Err(ConfigError::WrongType {
                field: what.to_string(),
                span: node.span.clone(),
                expected: "a mapping",
                found: node.type_name(),
            });
        }
        self.loaded.insert(path.to_path_buf(), node.clone());
        Ok(Some(node))
    }

    /// Merges what `node` (the file `file`) imports into `out`, each imported file followed
    /// by what it imports; not `node` itself (the caller merges it on top). `bases` are the
    /// directories a relative entry is tried in, first match wins; `chain` the files
    /// being imported above this one, for cycles. After `bases`, the file's own directory
    /// and the git root are tried.
    pub fn apply_imports(
        &mut self,
        out: &mut Node,
        file: &Path,
        node: &Node,
        bases: &[PathBuf],
        chain: &mut Vec<PathBuf>,
    ) -> Result<(), ConfigError> {
        let Some(import) = node.get("import") else {
            return Ok(());
        };
        let entries: Vec<&Node> = match &import.value {
            Value::Null => vec![],
            Value::Str(_) => vec![import],
            Value::Seq(items) => items.iter().collect(),
            _ => {
                self.warn(format!("{}: `import` is {}, not a list of paths; ignored", import.span, import.type_name()));
                return Ok(());
            }
        };
        // Then the importing file's directory (what Atmos's docs say) and the git root
        // (where Atmos's own resolution of an empty `base_path` lands).
        let mut tried = bases.to_vec();
        tried.extend(file.parent().map(Path::to_path_buf));
        tried.extend(self.git_root.clone());
        let tried = dedup(&tried);
        chain.push(file.to_path_buf());
        for entry in entries {
            let Some(target) = entry.as_str().map(str::trim).filter(|s| !s.is_empty()) else {
                if !entry.is_null() {
                    self.warn(format!(
                        "{}: an `import` entry is {}, not a path; ignored",
                        entry.span,
                        entry.type_name()
                    ));
                }
                continue;
            };
            for found in self.resolve(target, &entry.span, &tried) {
                if let Some(at) = chain.iter().position(|c| *c == found) {
                    let mut cycle: Vec<String> = chain[at..].iter().map(|p| display_path(p)).collect();
                    cycle.push(display_path(&found));
                    self.warn(format!(
                        "{}: import `{target}` is a cycle ({}); not read again",
                        entry.span,
                        cycle.join(" -> ")
                    ));
                    continue;
                }
                if chain.len() > MAX_IMPORT_DEPTH {
                    self.warn(format!(
                        "{}: import `{target}` is more than {MAX_IMPORT_DEPTH} imports deep; not read",
                        entry.span
                    ));
                    continue;
                }
                self.applied += 1;
                if self.applied > MAX_IMPORTED_FILES {
                    return Err(ConfigError::Invalid {
                        field: "import".into(),
                        span: entry.span.clone(),
                        message: format!("the imports add up to more than {MAX_IMPORTED_FILES} files"),
                    });
                }
                let Some(child) = self.load(&found, &format!("imported file {}", display_path(&found)))? else {
                    continue;
                };
                // Atmos merges an imported file, then what it imports in turn (its local
                // adapter lists nested imports after the file): below the root file, the
                // nested import wins.
                (self.merge)(out, &child);
                self.files.push(found.clone());
                let child_bases = nested_bases(&found, &child, bases);
                self.apply_imports(out, &found, &child, &child_bases, chain)?;
            }
        }
        chain.pop();
        Ok(())
    }

    /// The files one entry names, tried in each base in turn.
    fn resolve(&mut self, target: &str, span: &Span, bases: &[PathBuf]) -> Vec<PathBuf> {
        if is_remote(target) {
            self.warn(format!(
                "{span}: import `{}` is remote; tfauth reads no configuration over the network, so it is skipped",
                redact(target)
            ));
            return vec![];
        }
        let bases: Vec<PathBuf> = if Path::new(target).is_absolute() { vec![PathBuf::from("/")] } else { dedup(bases) };
        for base in &bases {
            let found = expand(&absolute(base, Path::new(target)));
            if !found.is_empty() {
                return found;
            }
        }
        let tried: Vec<String> = bases.iter().map(|b| display_path(&absolute(b, Path::new(target)))).collect();
        self.warn(format!("{span}: import `{target}` matched no file (looked for {}); skipped", tried.join(", ")));
        vec![]
    }
}

/// The bases for what `file` imports: its own `base_path:` (relative to its directory)
/// first, then the importer's bases.
pub fn nested_bases(file: &Path, node: &Node, inherited: &[PathBuf]) -> Vec<PathBuf> {
    let dir = file.parent().unwrap_or(Path::new("/"));
    let mut out = Vec::new();
    if let Some(bp) = node.get("base_path").and_then(Node::as_str).filter(|s| !s.trim().is_empty()) {
        out.push(absolute(dir, Path::new(bp)));
    }
    out.extend(inherited.iter().cloned());
    dedup(&out)
}

fn dedup(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for p in paths {
        if !out.contains(p) {
            out.push(p.clone());
        }
    }
    out
}

/// What one absolute import path names: a file, a directory's YAML files, the path with
/// `.yaml` / `.yml` added, or a glob's matches; in Atmos's order.
fn expand(path: &Path) -> Vec<PathBuf> {
    if let Ok(meta) = std::fs::metadata(path) {
        return if meta.is_dir() { yaml_files(path) } else { vec![path.to_path_buf()] };
    }
    let text = path.to_string_lossy().into_owned();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let patterns: Vec<String> = if name.contains('.') && !name.ends_with('.') {
        vec![text.clone()]
    } else {
        vec![format!("{text}.yaml"), format!("{text}.yml")]
    };
    let mut found = Vec::new();
    for p in &patterns {
        if !p.contains(['*', '?', '[', '{']) {
            if std::fs::metadata(p).is_ok_and(|m| !m.is_dir()) {
                found.push(PathBuf::from(p));
            }
            continue;
        }
        let Ok(glob) = GlobBuilder::new(p).literal_separator(true).build() else {
            continue;
        };
        let matcher = glob.compile_matcher();
        let root = literal_prefix(Path::new(p));
        let mut under = Vec::new();
        walk_all(&root, 0, &mut under);
        found.extend(under.into_iter().filter(|f| matcher.is_match(f)));
    }
    order(found)
}

/// Every file below `dir` (not following directory symlinks), capped like [`yaml_files`].
fn walk_all(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > MAX_DIR_DEPTH || out.len() >= MAX_DIR_FILES {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            walk_all(&e.path(), depth + 1, out);
        } else if out.len() < MAX_DIR_FILES {
            out.push(e.path());
        }
    }
}

/// The directories of `pattern` before its first glob character.
fn literal_prefix(pattern: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in pattern.components() {
        if c.as_os_str().to_string_lossy().contains(['*', '?', '[', '{']) {
            break;
        }
        out.push(c);
    }
    out
}

/// The schemes and prefixes Atmos hands to its downloader.
fn is_remote(target: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "http://",
        "https://",
        "git::",
        "git@",
        "s3::",
        "s3://",
        "gcs::",
        "gcs://",
        "oci://",
        "file://",
        "hg::",
        "scp://",
        "sftp://",
        "github.com/",
        "bitbucket.org/",
    ];
    let lower = target.to_ascii_lowercase();
    PREFIXES.iter().any(|p| lower.starts_with(p)) || lower.contains("://")
}

/// A URL without credentials or query (either may hold a token), for messages.
fn redact(target: &str) -> String {
    let no_query = target.split('?').next().unwrap_or(target);
    let Some((scheme, rest)) = no_query.split_once("://") else {
        return no_query.to_string();
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = authority.rsplit('@').next().unwrap_or(authority);
    if rest.contains('/') { format!("{scheme}://{host}/{path}") } else { format!("{scheme}://{host}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn rel(root: &Path, files: &[PathBuf]) -> Vec<String> {
        files.iter().map(|f| f.strip_prefix(root).unwrap().display().to_string()).collect()
    }

    #[test]
    fn directory_files_by_depth_then_path_and_yaml_hides_yml() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        for f in ["b.yaml", "a/z.yml", "a.yml", "a.yaml", "c.yml", "notes.txt", "a/b/deep.yaml"] {
            write(d, f, "");
        }
        assert_eq!(rel(d, &yaml_files(d)), ["a.yaml", "b.yaml", "c.yml", "a/z.yml", "a/b/deep.yaml"]);
    }

    #[test]
    fn default_dirs_git_root_first_then_beside_atmos_yaml_atmos_d_before_dot() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        for d in ["atmos.d", ".atmos.d", "sub/atmos.d", "sub/.atmos.d"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let dirs = default_dirs(&root.join("sub"), Some(root));
        assert_eq!(rel(root, &dirs), ["atmos.d", ".atmos.d", "sub/atmos.d", "sub/.atmos.d"]);
        // At the git root itself, each directory is read once.
        assert_eq!(rel(root, &default_dirs(root, Some(root))), ["atmos.d", ".atmos.d"]);
    }

    #[test]
    fn expand_file_dir_extensionless_and_globs() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        for f in ["conf/a.yaml", "conf/sub/b.yml", "conf/c.json", "logs.yaml", "other.yml"] {
            write(d, f, "");
        }
        assert_eq!(rel(d, &expand(&d.join("logs"))), ["logs.yaml"]);
        assert_eq!(rel(d, &expand(&d.join("other"))), ["other.yml"]);
        assert_eq!(rel(d, &expand(&d.join("conf"))), ["conf/a.yaml", "conf/sub/b.yml"]);
        assert_eq!(rel(d, &expand(&d.join("conf/**/*"))), ["conf/a.yaml", "conf/sub/b.yml"]);
        assert_eq!(rel(d, &expand(&d.join("*.yaml"))), ["logs.yaml"]);
        assert_eq!(rel(d, &expand(&d.join("conf/c.json"))), ["conf/c.json"]);
        assert!(expand(&d.join("missing")).is_empty());
    }

    #[test]
    fn remote_imports_are_recognised_and_redacted() {
        for r in ["https://x/a.yaml", "git::https://github.com/o/r//p?ref=main", "github.com/o/r", "s3::bucket/x"] {
            assert!(is_remote(r), "{r}");
        }
        assert!(!is_remote("./logs.yaml") && !is_remote("configs.d/**/*"));
        assert_eq!(redact("https://user:tok@host/a.yaml?token=x"), "https://host/a.yaml");
    }
}
