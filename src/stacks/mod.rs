//! Stack manifests: which files are stacks, what they import, what each is called, and
//! the component configuration a stack gives (CONTRACT A3).
//!
//! Every YAML file under `stacks.base_path` is parsed once, in parallel, up front. A stack
//! is found by name without merging whole manifests: names need only `vars` (and
//! `settings`, `env` for templates), so the import tree is merged for those sections alone,
//! memoized per file. Only the stack that was asked for is merged in full. Errors in a
//! manifest that is not needed do not block a run; they are reported when the stack that
//! was asked for cannot be found.

pub mod component;
mod error;
pub mod naming;
pub mod template;

pub use component::ResolvedComponent;
pub use error::StackError;
pub(crate) use error::quote_list;

use crate::config::{AtmosConfig, absolute, clean_path};
use crate::merge::merge_into;
use crate::yaml::{Loader, Node, Span, Value, load::YamlError};
use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use naming::Namer;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The stack manifests of one repository.
pub struct StackSet<'c> {
    cfg: &'c AtmosConfig,
    /// Every YAML file under the stacks directory: (path relative to it with `/`, absolute).
    files: Vec<(String, PathBuf)>,
    /// Indexes into `files` of the top-level manifests (included, not excluded).
    manifests: Vec<usize>,
    parsed: HashMap<PathBuf, Result<Arc<Node>, String>>,
    lazily_parsed: RefCell<HashMap<PathBuf, Arc<Node>>>,
    naming_memo: RefCell<HashMap<PathBuf, Arc<Node>>>,
    full_memo: RefCell<HashMap<PathBuf, Arc<Node>>>,
    glob_memo: RefCell<HashMap<String, Vec<PathBuf>>>,
    namer: Namer,
}

/// One stack, merged in full.
#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    pub file: PathBuf,
    /// The manifest with all its imports merged in.
    pub manifest: Arc<Node>,
}

/// A stack's name, or why it has none.
#[derive(Debug, Clone)]
pub struct StackName {
    pub file: PathBuf,
    /// Path under the stacks directory without extension (also accepted as a name).
    pub rel: String,
    pub name: Result<String, String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Only the sections a stack name can depend on.
    Naming,
    Full,
}

const NAMING_SECTIONS: &[&str] = &["vars", "settings", "env"];

impl<'c> StackSet<'c> {
    /// Lists and parses the stack files of `cfg`.
    pub fn load(cfg: &'c AtmosConfig) -> Result<StackSet<'c>, StackError> {
        let base = &cfg.stacks.base_path;
        if !base.is_dir() {
            return Err(StackError::NoStacksDir(base.clone()));
        }
        let mut files = Vec::new();
        walk_yaml(base, base, 0, &mut files);
        files.sort();
        let included = build_globs(&cfg.stacks.included_paths, cfg)?;
        let excluded = build_globs(&cfg.stacks.excluded_paths, cfg)?;
        let manifests: Vec<usize> = files
            .iter()
            .enumerate()
            .filter(|(_, (rel, _))| included.is_match(rel) && !excluded.is_match(rel))
            .map(|(i, _)| i)
            .collect();
        if manifests.is_empty() {
            return Err(StackError::NoManifests {
                base: base.clone(),
                included: cfg.stacks.included_paths.join(", "),
            });
        }
        let namer = if let Some((src, span)) = &cfg.stacks.name_template {
            Namer::Template(template::Template::parse(src).map_err(|source| {
                StackError::BadTemplate {
                    span: span.clone(),
                    source,
                }
            })?)
        } else if let Some((p, _)) = &cfg.stacks.name_pattern {
            Namer::Pattern(p.clone())
        } else {
            Namer::Path
        };
        let parsed = parse_all(cfg, &files);
        Ok(StackSet {
            cfg,
            files,
            manifests,
            parsed,
            lazily_parsed: RefCell::default(),
            naming_memo: RefCell::default(),
            full_memo: RefCell::default(),
            glob_memo: RefCell::default(),
            namer,
        })
    }

    /// How many top-level manifests there are.
    pub fn manifest_count(&self) -> usize {
        self.manifests.len()
    }

    /// The name of every top-level manifest (or why it has none), in path order.
    pub fn names(&self) -> Vec<StackName> {
        self.manifests
            .iter()
            .map(|&i| {
                let (rel, file) = &self.files[i];
                let rel = strip_ext(rel).to_string();
                let name = self.name_of(file, &rel).map_err(|e| render_inline(&e));
                StackName {
                    file: file.clone(),
                    rel,
                    name,
                }
            })
            .collect()
    }

    fn name_of(&self, file: &Path, rel: &str) -> Result<String, StackError> {
        let own = self.node(file, None)?;
        let ctx = self.merged(file, Mode::Naming, &mut Vec::new(), None)?;
        self.namer
            .name(&own, &ctx, rel)
            .map_err(|why| StackError::StackNotFound {
                name: String::new(),
                suggestions: vec![],
                unnamed: vec![(file.to_path_buf(), why)],
                count: 0,
            })
    }

    /// Finds the stack called `name` (or whose manifest path, without extension, is `name`).
    pub fn find(&self, name: &str) -> Result<Stack, StackError> {
        let mut matches = Vec::new();
        let mut names = Vec::new();
        let mut unnamed = Vec::new();
        let mut first_error: Option<(PathBuf, StackError)> = None;
        for &i in &self.manifests {
            let (rel, file) = &self.files[i];
            let rel = strip_ext(rel);
            match self.name_of(file, rel) {
                Ok(n) => {
                    if n == name || rel == name {
                        matches.push((n.clone(), file.clone()));
                    }
                    names.push(n);
                }
                Err(StackError::StackNotFound { unnamed: u, .. }) => unnamed.extend(u),
                Err(e) => {
                    if rel == name {
                        return Err(e);
                    }
                    if first_error.is_none() {
                        first_error = Some((file.clone(), e));
                    }
                }
            }
        }
        matches.dedup_by(|a, b| a.1 == b.1);
        match matches.len() {
            1 => {
                let (name, file) = matches.remove(0);
                let manifest = self.merged(&file, Mode::Full, &mut Vec::new(), None)?;
                Ok(Stack {
                    name,
                    file,
                    manifest,
                })
            }
            0 => {
                // A manifest that could not be read may be the one that was asked for.
                if let Some((_, e)) = first_error {
                    return Err(e);
                }
                names.sort();
                names.dedup();
                Err(StackError::StackNotFound {
                    name: name.to_string(),
                    suggestions: crate::suggest::nearest(name, names.iter().map(String::as_str)),
                    unnamed,
                    count: names.len(),
                })
            }
            _ => Err(StackError::AmbiguousStack {
                name: name.to_string(),
                files: matches.into_iter().map(|m| m.1).collect(),
            }),
        }
    }

    /// The parsed document of `path` (a mapping, or an empty one for an empty file).
    fn node(&self, path: &Path, import_span: Option<&Span>) -> Result<Arc<Node>, StackError> {
        let node = match self.parsed.get(path) {
            Some(Ok(n)) => n.clone(),
            Some(Err(_)) => return Err(reparse_error(self.cfg, path)),
            None => {
                if let Some(n) = self.lazily_parsed.borrow().get(path) {
                    return Ok(n.clone());
                }
                let n = Arc::new(checked_manifest(
                    Loader::new(&self.cfg.load_ctx)
                        .load_file(path)
                        .map_err(|e| match (import_span, e) {
                            (Some(span), YamlError::Read { source, .. })
                                if source.kind() == std::io::ErrorKind::NotFound =>
                            {
                                StackError::ImportNotFound {
                                    import: path.display().to_string(),
                                    span: span.clone(),
                                    tried: vec![path.to_path_buf()],
                                }
                            }
                            (_, e) => StackError::Yaml(e),
                        })?,
                )?);
                self.lazily_parsed
                    .borrow_mut()
                    .insert(path.to_path_buf(), n.clone());
                n
            }
        };
        Ok(node)
    }

    fn merged(
        &self,
        path: &Path,
        mode: Mode,
        visiting: &mut Vec<PathBuf>,
        via: Option<&Span>,
    ) -> Result<Arc<Node>, StackError> {
        let memo = match mode {
            Mode::Naming => &self.naming_memo,
            Mode::Full => &self.full_memo,
        };
        if let Some(m) = memo.borrow().get(path) {
            return Ok(m.clone());
        }
        if visiting.iter().any(|p| p == path) {
            let mut chain: Vec<String> = visiting.iter().map(|p| self.rel_name(p)).collect();
            chain.push(self.rel_name(path));
            let start = chain
                .iter()
                .position(|c| *c == self.rel_name(path))
                .unwrap_or(0);
            return Err(StackError::ImportCycle {
                chain: chain[start..].to_vec(),
                span: via
                    .cloned()
                    .unwrap_or_else(|| Span::file_start(path.into())),
            });
        }
        let own = self.node(path, via)?;
        let imports = self.imports_of(path, &own)?;
        visiting.push(path.to_path_buf());
        let mut acc = Node::empty_map(Span::file_start(path.into()));
        for (import, span) in &imports {
            let m = self.merged(import, mode, visiting, Some(span))?;
            merge_into(&mut acc, &m, self.cfg.list_strategy);
        }
        visiting.pop();
        if let Some(map) = own.as_map() {
            for (k, v) in map {
                let keep = match mode {
                    Mode::Naming => NAMING_SECTIONS.contains(&k.as_str()),
                    Mode::Full => k != "import",
                };
                if keep {
                    let mut layer = Node::empty_map(own.span.clone());
                    if let Some(m) = layer.as_map_mut() {
                        m.insert(k.clone(), v.clone());
                    }
                    merge_into(&mut acc, &layer, self.cfg.list_strategy);
                }
            }
        }
        let acc = Arc::new(acc);
        memo.borrow_mut().insert(path.to_path_buf(), acc.clone());
        Ok(acc)
    }

    /// The files `own` imports, in order, each with the span of its `import:` entry.
    fn imports_of(&self, file: &Path, own: &Node) -> Result<Vec<(PathBuf, Span)>, StackError> {
        let Some(import) = own.get("import") else {
            return Ok(vec![]);
        };
        let entries: Vec<&Node> = match &import.value {
            Value::Null => vec![],
            Value::Str(_) => vec![import],
            Value::Seq(items) => items.iter().collect(),
            _ => return Err(wrong_type("import", import, "a list of paths")),
        };
        let mut out = Vec::new();
        for entry in entries {
            let (target, skip) = match &entry.value {
                Value::Str(s) => (s.clone(), false),
                Value::Map(_) => {
                    let path = entry.get("path").and_then(Node::as_str).ok_or_else(|| {
                        wrong_type(
                            "import[].path",
                            entry.get("path").unwrap_or(entry),
                            "a string",
                        )
                    })?;
                    let skip = match entry.get("skip_if_missing") {
                        None => false,
                        Some(n) => n.as_bool().ok_or_else(|| {
                            wrong_type("import[].skip_if_missing", n, "true or false")
                        })?,
                    };
                    (path.to_string(), skip)
                }
                _ => {
                    return Err(wrong_type(
                        "import[]",
                        entry,
                        "a path or {path, skip_if_missing}",
                    ));
                }
            };
            let (found, tried) = self.resolve_import(file, &target);
            if found.is_empty() && !skip {
                return Err(StackError::ImportNotFound {
                    import: target,
                    span: entry.span.clone(),
                    tried,
                });
            }
            out.extend(found.into_iter().map(|p| (p, entry.span.clone())));
        }
        Ok(out)
    }

    fn resolve_import(&self, file: &Path, target: &str) -> (Vec<PathBuf>, Vec<PathBuf>) {
        let relative_to_file = target.starts_with("./") || target.starts_with("../");
        let base = if relative_to_file {
            file.parent().unwrap_or(Path::new(".")).to_path_buf()
        } else {
            self.cfg.stacks.base_path.clone()
        };
        if target.contains(['*', '?', '[', '{']) {
            let full = clean_path(&base.join(target));
            let found = self.glob_files(&full);
            return (found, vec![full]);
        }
        let candidate = absolute(&base, Path::new(target));
        let tried: Vec<PathBuf> = if has_yaml_ext(target) {
            vec![candidate]
        } else {
            vec![
                with_suffix(&candidate, ".yaml"),
                with_suffix(&candidate, ".yml"),
                candidate,
            ]
        };
        let found = tried
            .iter()
            .find(|p| self.parsed.contains_key(*p) || p.is_file())
            .cloned();
        (found.into_iter().collect(), tried)
    }

    /// YAML files under the stacks directory matching an absolute glob, sorted.
    fn glob_files(&self, pattern: &Path) -> Vec<PathBuf> {
        let key = pattern.display().to_string();
        if let Some(hit) = self.glob_memo.borrow().get(&key) {
            return hit.clone();
        }
        let mut patterns = vec![key.clone()];
        if !has_yaml_ext(&key) {
            patterns.push(format!("{key}.yaml"));
            patterns.push(format!("{key}.yml"));
        }
        let mut set = GlobSetBuilder::new();
        for p in &patterns {
            if let Ok(g) = GlobBuilder::new(p).literal_separator(true).build() {
                set.add(g);
            }
        }
        let found: Vec<PathBuf> = match set.build() {
            Ok(set) => self
                .files
                .iter()
                .filter(|(_, abs)| set.is_match(abs))
                .map(|(_, abs)| abs.clone())
                .collect(),
            Err(_) => vec![],
        };
        self.glob_memo.borrow_mut().insert(key, found.clone());
        found
    }

    fn rel_name(&self, path: &Path) -> String {
        path.strip_prefix(&self.cfg.stacks.base_path)
            .map(|r| strip_ext(&r.to_string_lossy()).to_string())
            .unwrap_or_else(|_| path.display().to_string())
    }
}

fn build_globs(patterns: &[String], cfg: &AtmosConfig) -> Result<GlobSet, StackError> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let p = p.strip_prefix("./").unwrap_or(p);
        let glob = GlobBuilder::new(p)
            .literal_separator(true)
            .build()
            .map_err(|e| StackError::WrongType {
                field: format!("stacks glob `{p}` ({e})"),
                span: cfg
                    .root
                    .get("stacks")
                    .map(|n| n.span.clone())
                    .unwrap_or_else(Span::synthetic),
                expected: "a valid glob",
                found: "an invalid one",
            })?;
        b.add(glob);
        // `dir/**/*` should also match `dir/x.yaml`; globset's `**/` already does. A pattern
        // without an extension matches the YAML files it names.
        if !has_yaml_ext(p) && !p.ends_with('*') {
            for ext in [".yaml", ".yml"] {
                if let Ok(g) = Glob::new(&format!("{p}{ext}")) {
                    b.add(g);
                }
            }
        }
    }
    b.build().map_err(|e| StackError::WrongType {
        field: format!("stacks globs ({e})"),
        span: Span::synthetic(),
        expected: "valid globs",
        found: "invalid ones",
    })
}

/// Parses every file on two threads (the machines this runs on have few cores).
fn parse_all(
    cfg: &AtmosConfig,
    files: &[(String, PathBuf)],
) -> HashMap<PathBuf, Result<Arc<Node>, String>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    let chunk = files.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let loader = Loader::new(&cfg.load_ctx);
                    part.iter()
                        .map(|(_, abs)| {
                            let r = loader
                                .load_file(abs)
                                .map_err(|e| e.to_string())
                                .and_then(|n| checked_manifest(n).map_err(|e| e.to_string()))
                                .map(Arc::new);
                            (abs.clone(), r)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// A manifest must be a mapping; an empty file is an empty mapping.
fn checked_manifest(n: Node) -> Result<Node, StackError> {
    match n.value {
        Value::Map(_) => Ok(n),
        Value::Null => Ok(Node::empty_map(n.span)),
        _ => Err(StackError::WrongType {
            field: "stack manifest".into(),
            expected: "a mapping",
            found: n.type_name(),
            span: n.span,
        }),
    }
}

/// The owned error for a file that failed to parse in the parallel pass.
fn reparse_error(cfg: &AtmosConfig, path: &Path) -> StackError {
    match Loader::new(&cfg.load_ctx).load_file(path) {
        Err(e) => StackError::Yaml(e),
        Ok(n) => match checked_manifest(n) {
            Err(e) => e,
            Ok(_) => StackError::Yaml(YamlError::Read {
                path: path.to_path_buf(),
                source: std::io::Error::other("the file changed while tfauth was reading it"),
            }),
        },
    }
}

fn render_inline(e: &StackError) -> String {
    match e {
        StackError::StackNotFound { unnamed, .. } => {
            unnamed.first().map(|u| u.1.clone()).unwrap_or_default()
        }
        other => other.to_string(),
    }
}

pub(crate) fn wrong_type(field: &str, n: &Node, expected: &'static str) -> StackError {
    StackError::WrongType {
        field: field.to_string(),
        span: n.span.clone(),
        expected,
        found: n.type_name(),
    }
}

fn walk_yaml(root: &Path, dir: &Path, depth: usize, out: &mut Vec<(String, PathBuf)>) {
    if depth > 32 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk_yaml(root, &path, depth + 1, out);
        } else if meta.is_file() && has_yaml_ext(&path.to_string_lossy()) {
            if let Ok(rel) = path.strip_prefix(root) {
                let rel = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((rel, path));
            }
        }
    }
}

fn has_yaml_ext(p: &str) -> bool {
    p.ends_with(".yaml") || p.ends_with(".yml")
}

fn strip_ext(rel: &str) -> &str {
    rel.strip_suffix(".yaml")
        .or_else(|| rel.strip_suffix(".yml"))
        .unwrap_or(rel)
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}
