//! Stack manifests: which files are stacks, what they import, what each is called, and
//! the component configuration a stack gives (CONTRACT A3).
//!
//! A stack is found by name without merging whole manifests: names need only `vars` (and
//! `settings`, `env` for templates), so the import tree is merged for those sections alone,
//! memoized per file, and each manifest's merge keeps only what its namer reads
//! ([`naming::Keep`]: `vars.tenant`, `vars.stage`, ... for a pattern). Names are cached in
//! an [`index`] keyed by the stamps of each manifest's import closure. A cold run parses
//! every file once, in parallel; to find a stack it parses only the keys names depend on
//! ([`crate::yaml::sections`]: `import`, `vars`, `settings`, `env`, `name`), so a syntax
//! error under another key of another manifest is reported by the runs that read that
//! manifest whole (`list stacks`, `auth validate`, a run of that stack). A warm
//! [`StackSet::find`] does not even walk the directory: it merges the one manifest the index
//! names, from the files as they are, and keeps it only when that merge gives the same name
//! and no directory changed; otherwise every manifest is named as on a cold run, from the
//! index where the closures are unchanged. Only the stack that was asked for is merged in
//! full. Errors in a manifest that is not needed do not block a run; they are reported
//! when the stack that was asked for cannot be found.
//!
//! The files come from one walk of the stacks directory, [`walk`]: it follows a directory
//! symlink only inside the directory and never around a loop (such links are skipped with a
//! warning naming them), and every file is read through the bounded reader of
//! [`crate::util::fs::read_regular`] (regular files only, 16 MiB at most).
//!
//! An import with `context:` (and every file below it), or a `.yaml.tmpl` file, is a Go
//! template rendered before it is parsed ([`imports`]); such a file is parsed and merged
//! once per distinct context, so every memo here is keyed by file *and* template scope.

pub mod component;
mod error;
mod imports;
pub mod index;
pub mod naming;
pub mod template;
pub mod walk;

pub use component::ResolvedComponent;
pub use error::StackError;
pub(crate) use error::quote_list;

use crate::config::{AtmosConfig, absolute, clean_path};
use crate::merge::merge_into;
use crate::yaml::{Loader, Node, Span, Value, load::YamlError, sections};
use foldhash::{HashMap, HashSet};
use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use imports::Scope;
use index::{Index, Stamp};
use naming::{Keep, Namer};
use std::cell::{OnceCell, RefCell};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

/// The stack manifests of one repository.
pub struct StackSet<'c> {
    cfg: &'c AtmosConfig,
    included: GlobSet,
    excluded: GlobSet,
    /// The files under the stacks directory, walked the first time they are needed: a warm
    /// [`Self::find`] of a recorded stack never walks.
    tree: OnceCell<Tree>,
    /// Parsed documents (or the error text), filled lazily or in one parallel pass, by file
    /// and template scope (`""` for a file read as it is written).
    parsed: RefCell<Memo<Result<Arc<Node>, String>>>,
    /// Documents cut down to [`NAMING_KEYS`] ([`sections::keep_top_level`]), parsed for
    /// naming only: a cold [`Self::find`] reads the rest of a manifest only when it merges it.
    naming_parsed: RefCell<Memo<Arc<Node>>>,
    /// Each walked file's row in the index (by its place in the walk), or `None` when it
    /// has no stamp; filled as closures are recorded.
    rows: RefCell<Vec<Option<Option<u32>>>>,
    /// Set once a listing asked for every name: from then on files are read whole, so a
    /// file that does not parse is reported (see [`Self::names`]).
    whole: std::cell::Cell<bool>,
    /// Files whose values may depend on more than their contents (`!env`, `!include`).
    dynamic: RefCell<HashSet<OsString>>,
    naming_memo: RefCell<Memo<Arc<Node>>>,
    /// Import closure of each file (itself included) as indexes into `files`, sorted, for
    /// the index; `None` when the closure reaches a file outside the stacks directory.
    closure_memo: RefCell<Memo<Option<Arc<[usize]>>>>,
    index_path: Option<PathBuf>,
    /// The stack index, read the first time it is needed.
    index: RefCell<Option<Index>>,
    full_memo: RefCell<Memo<Arc<Node>>>,
    glob_memo: RefCell<HashMap<String, Vec<PathBuf>>>,
    /// What each import relative to the stacks directory resolved to (found, tried), by
    /// the import as written: thousands of manifests import the same few hundred files.
    import_memo: RefCell<HashMap<String, Rc<Resolved>>>,
    /// Likewise for `./` and `../` imports, by the importing file's directory too.
    relative_import_memo: RefCell<HashMap<(OsString, String), Rc<Resolved>>>,
    namer: Namer,
    /// What of a naming context `namer` reads.
    reads: Keep,
}

/// What one walk of the stacks directory found.
struct Tree {
    /// Every YAML file under the stacks directory: (path relative to it with `/`, absolute).
    files: Vec<(String, PathBuf)>,
    /// Stamps of those files, by relative path.
    stamps: HashMap<String, Stamp>,
    /// Indexes into `files` of the top-level manifests (included, not excluded).
    manifests: Vec<usize>,
    /// Index into `files` by absolute path.
    file_ids: HashMap<OsString, usize>,
    /// Every directory read, with its stamp (see [`walk::Walk::dirs`]).
    dirs: Vec<(String, Stamp)>,
}

/// The files an import names (found) and the paths it was looked for at (tried).
type Resolved = (Vec<PathBuf>, Vec<PathBuf>);

/// Values by file and template scope (see [`imports::Scope`]), looked up without making a
/// key: a cold run looks up the same few hundred files tens of thousands of times. The
/// path is kept as its bytes, which hash in one pass (a `Path` hashes component by
/// component: a fifth of a cold run); most files are read in one scope only.
struct Memo<V>(HashMap<OsString, Vec<(Arc<str>, V)>>);

impl<V> Default for Memo<V> {
    fn default() -> Self {
        Memo(HashMap::default())
    }
}

impl<V> Memo<V> {
    fn get(&self, path: &Path, scope: &str) -> Option<&V> {
        self.0.get(path.as_os_str())?.iter().find(|(s, _)| &**s == scope).map(|(_, v)| v)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn clear(&mut self) {
        self.0.clear();
    }

    fn insert(&mut self, path: &Path, scope: &Arc<str>, value: V) {
        let scopes = self.0.entry(path_key(path)).or_default();
        match scopes.iter_mut().find(|(s, _)| s == scope) {
            Some(slot) => slot.1 = value,
            None => scopes.push((scope.clone(), value)),
        }
    }
}

fn path_key(path: &Path) -> OsString {
    path.as_os_str().to_os_string()
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

/// The top-level keys naming reads: [`NAMING_SECTIONS`], the imports that merge into
/// them, and a manifest's own `name`.
const NAMING_KEYS: &[&str] = &["import", "name", "vars", "settings", "env"];

/// Top-level manifest sections that must be mappings.
const SECTIONS_THAT_ARE_MAPS: &[&str] =
    &["vars", "settings", "env", "components", "terraform", "overrides", "auth", "backend", "providers"];

impl<'c> StackSet<'c> {
    /// Lists and parses the stack files of `cfg`.
    pub fn load(cfg: &'c AtmosConfig) -> Result<StackSet<'c>, StackError> {
        let base = &cfg.stacks.base_path;
        if !base.is_dir() {
            return Err(StackError::NoStacksDir(base.clone()));
        }
        let included = build_globs(&cfg.stacks.included_paths, cfg)?;
        let excluded = build_globs(&cfg.stacks.excluded_paths, cfg)?;
        let namer = if let Some((src, span)) = &cfg.stacks.name_template {
            Namer::Template(
                template::Template::parse(src)
                    .map_err(|source| StackError::BadTemplate { span: span.clone(), source })?,
            )
        } else if let Some((p, span)) = &cfg.stacks.name_pattern {
            naming::check_pattern(p).map_err(|message| StackError::BadPattern { span: span.clone(), message })?;
            Namer::Pattern(p.clone())
        } else {
            Namer::Path
        };
        let s = &cfg.stacks;
        let key = [
            cfg.file.display().to_string(),
            s.base_path.display().to_string(),
            s.included_paths.join("\n"),
            s.excluded_paths.join("\n"),
            format!("{:?}", s.name_template.as_ref().map(|t| &t.0)),
            format!("{:?}", s.name_pattern.as_ref().map(|t| &t.0)),
            format!("{:?}", cfg.list_strategy),
        ];
        let index_path = index::index_path(&cfg.load_ctx.env, &key.iter().map(String::as_str).collect::<Vec<_>>());
        Ok(StackSet {
            cfg,
            included,
            excluded,
            tree: OnceCell::new(),
            parsed: RefCell::default(),
            naming_parsed: RefCell::default(),
            rows: RefCell::default(),
            whole: std::cell::Cell::new(false),
            dynamic: RefCell::default(),
            naming_memo: RefCell::default(),
            closure_memo: RefCell::default(),
            index_path,
            index: RefCell::default(),
            full_memo: RefCell::default(),
            glob_memo: RefCell::default(),
            import_memo: RefCell::default(),
            relative_import_memo: RefCell::default(),
            reads: namer.reads(NAMING_SECTIONS),
            namer,
        })
    }

    /// The name of every top-level manifest (or why it has none), in path order.
    pub fn names(&self) -> Vec<StackName> {
        // Whole files: a manifest that does not parse is listed with its error, so what
        // was named from a cut is named again.
        self.whole.set(true);
        if !self.naming_parsed.borrow().is_empty() {
            self.naming_parsed.borrow_mut().clear();
            self.naming_memo.borrow_mut().clear();
            self.closure_memo.borrow_mut().clear();
        }
        self.prepare(Mode::Full);
        let tree = self.tree();
        let out = tree
            .manifests
            .iter()
            .map(|&i| {
                let (rel, file) = &tree.files[i];
                let name = self.name_of(file, rel, Mode::Full).map_err(|e| render_inline(&e));
                StackName { file: file.clone(), rel: strip_ext(rel).to_string(), name }
            })
            .collect();
        self.save_index();
        out
    }

    /// The walk of the stacks directory, made on the first call (its warnings with it).
    fn tree(&self) -> &Tree {
        self.tree.get_or_init(|| {
            let walk::Walk { files: walked, skipped, dirs } = walk::walk_yaml(&self.cfg.stacks.base_path);
            for s in &skipped {
                tracing::warn!("{s}");
            }
            let stamps: HashMap<String, Stamp> = walked.iter().map(|(rel, _, st)| (rel.clone(), *st)).collect();
            let files: Vec<(String, PathBuf)> = walked.into_iter().map(|(rel, abs, _)| (rel, abs)).collect();
            let file_ids = files.iter().enumerate().map(|(i, (_, abs))| (path_key(abs), i)).collect();
            let manifests =
                files.iter().enumerate().filter(|(_, (rel, _))| self.is_manifest(rel)).map(|(i, _)| i).collect();
            Tree { files, stamps, manifests, file_ids, dirs }
        })
    }

    /// The walk, or the error of a stacks directory with no manifest in it.
    fn manifests(&self) -> Result<&Tree, StackError> {
        let tree = self.tree();
        if tree.manifests.is_empty() {
            let s = &self.cfg.stacks;
            return Err(StackError::NoManifests { base: s.base_path.clone(), included: s.included_paths.join(", ") });
        }
        Ok(tree)
    }

    /// A top-level manifest: included, not excluded.
    fn is_manifest(&self, rel: &str) -> bool {
        self.included.is_match(rel) && !self.excluded.is_match(rel)
    }

    /// Writes the index, with the directories of this run's walk when there was one.
    fn save_index(&self) {
        let mut index = self.index();
        if let Some(tree) = self.tree.get() {
            index.set_dirs(&tree.dirs);
        }
        index.save();
    }

    /// The stack index, read on the first call and checked against the walk's stamps.
    fn index(&self) -> std::cell::RefMut<'_, Index> {
        std::cell::RefMut::map(self.index.borrow_mut(), |i| {
            i.get_or_insert_with(|| {
                let mut index = Index::load(self.index_path.clone());
                let stamps = &self.tree().stamps;
                index.check(|rel| stamps.get(rel).copied());
                index
            })
        })
    }

    /// Parses, in one parallel pass, every file when many manifests are not in the index
    /// (a cold run), whole or only for naming; a warm run parses only what it touches.
    fn prepare(&self, mode: Mode) {
        let mode = self.reading(mode);
        let tree = self.tree();
        let stale = tree
            .manifests
            .iter()
            .filter(|&&i| self.cached_name(&tree.files[i].0, mode).is_none())
            .take(BULK_THRESHOLD + 1)
            .count();
        if stale <= BULK_THRESHOLD {
            return;
        }
        let started = std::time::Instant::now();
        let todo: Vec<PathBuf> = {
            let parsed = self.parsed.borrow();
            let naming = self.naming_parsed.borrow();
            tree.files
                .iter()
                .map(|(_, abs)| abs)
                .filter(|p| parsed.get(p, "").is_none() && (mode == Mode::Full || naming.get(p, "").is_none()))
                .cloned()
                .collect()
        };
        let results = parse_all(self.cfg, &todo, mode);
        let mut parsed = self.parsed.borrow_mut();
        let mut naming = self.naming_parsed.borrow_mut();
        let mut dynamic = self.dynamic.borrow_mut();
        for (path, result, is_dynamic) in results {
            if is_dynamic {
                dynamic.insert(path_key(&path));
            }
            let top = imports::top_key();
            match result {
                Ok((node, Mode::Naming)) => naming.insert(&path, top, node),
                Ok((node, Mode::Full)) => parsed.insert(&path, top, Ok(node)),
                Err(e) => parsed.insert(&path, top, Err(e)),
            }
        }
        tracing::debug!(files = todo.len(), elapsed = ?started.elapsed(), "parsed stack files");
    }

    /// How much of each file to parse for `mode`: whole once a listing asked for names.
    fn reading(&self, mode: Mode) -> Mode {
        if self.whole.get() { Mode::Full } else { mode }
    }

    /// The indexed name of `rel`; for [`Mode::Full`] only one read from the whole files.
    fn cached_name(&self, rel: &str, mode: Mode) -> Option<String> {
        self.index().name(rel, mode == Mode::Full).map(str::to_string)
    }

    /// The name of the manifest `file`, at `rel_file` under the stacks directory; for
    /// [`Mode::Full`] not from the index unless the index read it whole.
    fn name_of(&self, file: &Path, rel_file: &str, mode: Mode) -> Result<String, StackError> {
        if let Some(name) = self.cached_name(rel_file, mode) {
            return Ok(name);
        }
        let rel = strip_ext(rel_file);
        let top = Scope::top(self.cfg);
        let own = self.node(file, None, &top, Mode::Naming)?;
        let ctx = self.merged(file, Mode::Naming, &mut Vec::new(), None, &top, Some(&self.reads))?;
        let name = self.namer.name(&own, &ctx, rel).map_err(|why| StackError::StackNotFound {
            name: String::new(),
            suggestions: vec![],
            unnamed: vec![(file.to_path_buf(), why)],
            count: 0,
        })?;
        self.remember(file, rel_file, &name);
        Ok(name)
    }

    /// Adds a computed name to the index when its closure is cacheable.
    fn remember(&self, file: &Path, rel: &str, name: &str) {
        let Some(Some(closure)) = self.closure_memo.borrow().get(file, "").cloned() else { return };
        let dynamic = self.dynamic.borrow();
        let tree = self.tree();
        // Whole when nothing in this run was read from a cut (a cold find cuts nearly all).
        let whole = self.naming_parsed.borrow().is_empty();
        let mut index = self.index();
        let mut rows = self.rows.borrow_mut();
        rows.resize(tree.files.len(), None);
        let mut closure_rows = Vec::with_capacity(closure.len());
        for &i in closure.iter() {
            let (r, abs) = &tree.files[i];
            // Each file's row once, for the thousands of closures that hold it; whether
            // it is dynamic every time (a file read in another scope may have become so).
            let row = *rows[i].get_or_insert_with(|| tree.stamps.get(r).map(|st| index.row(r, *st)));
            let Some(row) = row else { return };
            if !dynamic.is_empty() && dynamic.contains(abs.as_os_str()) {
                return;
            }
            closure_rows.push(row);
        }
        index.insert_rows(rel, name, closure_rows, whole);
    }

    /// Runnable component names: of the stack called `stack`, else of every stack (sorted,
    /// each once). From the index like [`Self::names_with_component`].
    pub fn components(&self, stack: Option<&str>) -> Vec<String> {
        let mut out: Vec<String> = self
            .component_index()
            .into_iter()
            .filter(|(n, _)| stack.is_none_or(|s| s == n))
            .flat_map(|(_, c)| c)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The names of the stacks that define `component` (under `components.terraform`),
    /// sorted. Each stack's component names come from the index while its import closure
    /// is unchanged, so a warm call merges nothing; a manifest that cannot be read or merged
    /// is skipped (this answers listings and completion, not runs).
    pub fn names_with_component(&self, component: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .component_index()
            .into_iter()
            .filter(|(_, c)| c.iter().any(|c| c == component))
            .map(|(n, _)| n)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Every named stack with its runnable components, or, when any manifest cannot be read,
    /// named or merged, every such failure at once (deduplicated: a broken catalog file
    /// that ten stacks import is reported once). A manifest that merely has no name under
    /// the naming scheme is skipped, as before. For `list` and `auth validate`, which must
    /// not answer with a silently shortened list.
    pub fn listing(&self) -> Result<Vec<(String, Vec<String>)>, StackError> {
        self.manifests()?;
        let (out, errors) = self.component_index_with_errors();
        if errors.is_empty() { Ok(out) } else { Err(StackError::Broken { errors }) }
    }

    /// Every named stack with its runnable (not abstract) components, from the index where
    /// the import closure is unchanged, else merged once and recorded. Broken manifests are
    /// left out (this answers completion, which stays quiet; [`Self::listing`] reports them).
    fn component_index(&self) -> Vec<(String, Vec<String>)> {
        self.component_index_with_errors().0
    }

    fn component_index_with_errors(&self) -> (Vec<(String, Vec<String>)>, Vec<StackError>) {
        self.prepare(Mode::Full);
        let mut out = Vec::new();
        let mut errors: Vec<StackError> = Vec::new();
        let mut seen = HashSet::default();
        let mut failed = |e: StackError| {
            if seen.insert(e.to_string()) {
                errors.push(e);
            }
        };
        let tree = match self.manifests() {
            Ok(tree) => tree,
            Err(e) => return (vec![], vec![e]),
        };
        for &i in &tree.manifests {
            let (rel_file, file) = &tree.files[i];
            let name = match self.name_of(file, rel_file, Mode::Naming) {
                Ok(name) => name,
                Err(StackError::StackNotFound { unnamed, .. }) => {
                    for (f, why) in unnamed {
                        tracing::debug!("{} has no stack name: {why}", f.display());
                    }
                    continue;
                }
                Err(e) => {
                    failed(e);
                    continue;
                }
            };
            let cached = self.index().components(rel_file).map(<[String]>::to_vec);
            let components = match cached {
                Some(c) => c,
                None => match self.merged(file, Mode::Full, &mut Vec::new(), None, &Scope::top(self.cfg), None) {
                    Ok(m) => {
                        let c = component::runnable_names(&m);
                        self.index().set_components(rel_file, c.clone());
                        c
                    }
                    Err(e) => {
                        failed(e);
                        continue;
                    }
                },
            };
            out.push((name, components));
        }
        self.save_index();
        (out, errors)
    }

    fn rel_of(&self, path: &Path) -> Option<String> {
        let r = path.strip_prefix(&self.cfg.stacks.base_path).ok()?;
        Some(r.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"))
    }

    /// Finds the stack called `name` (or whose manifest path, without extension, is `name`).
    pub fn find(&self, name: &str) -> Result<Stack, StackError> {
        if let Some(stack) = self.find_recorded(name) {
            return Ok(stack);
        }
        let tree = self.manifests()?;
        // Only what names a manifest: the one found is merged (and so read) in full.
        self.prepare(Mode::Naming);
        let mut matches = Vec::new();
        let mut names = Vec::new();
        let mut unnamed = Vec::new();
        let mut first_error: Option<(PathBuf, StackError)> = None;
        for &i in &tree.manifests {
            let (rel_file, file) = &tree.files[i];
            let rel = strip_ext(rel_file);
            match self.name_of(file, rel_file, Mode::Naming) {
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
        tracing::debug!(stacks = names.len(), "named every manifest");
        matches.dedup_by(|a, b| a.1 == b.1);
        match matches.len() {
            1 => {
                let (name, file) = matches.remove(0);
                let manifest = self.merged(&file, Mode::Full, &mut Vec::new(), None, &Scope::top(self.cfg), None)?;
                self.save_index();
                Ok(Stack { name, file, manifest })
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
                    suggestions: crate::util::suggest::nearest(name, names.iter().map(String::as_str)),
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

    /// The warm path of [`Self::find`]: the one manifest the index records under `name` (or
    /// at the path `name`), merged in full from the files as they are now and named again
    /// from that merge, used only when the name still comes out the same and no directory
    /// under the stacks directory has changed (no manifest was added, removed or renamed).
    /// Nothing is walked and no other manifest is read, so what is not checked is whether
    /// another manifest was edited in place to take the same name; the full pass (any run
    /// after a file is added or removed, `list stacks`, `auth validate`) reports that as
    /// ambiguous. Anything else (no index, no or several candidates, a file that no
    /// longer reads or merges, another name) leaves it to the full pass, which finds the
    /// same errors and reports them properly.
    fn find_recorded(&self, name: &str) -> Option<Stack> {
        let recorded = index::recorded(self.index_path.as_deref()?)?;
        let base = &self.cfg.stacks.base_path;
        let moved = recorded.dirs.iter().find(|(rel, stamp)| {
            std::fs::metadata(base.join(rel)).ok().filter(|m| m.is_dir()).map(|m| Stamp::of(&m)) != Some(*stamp)
        });
        if let Some((rel, _)) = moved {
            tracing::debug!("the directory `{rel}` under the stacks directory changed; naming every manifest");
            return None;
        }
        let mut hits = recorded.stacks.iter().filter(|(rel, n)| n == name || strip_ext(rel) == name);
        let (rel, _) = hits.next()?;
        if hits.next().is_some() || !self.is_manifest(rel) {
            return None;
        }
        let file = base.join(rel);
        let top = Scope::top(self.cfg);
        let manifest = self.merged(&file, Mode::Full, &mut Vec::new(), None, &top, None).ok()?;
        let own = self.node(&file, None, &top, Mode::Full).ok()?;
        let mut ctx = Node::empty_map(manifest.span.clone());
        if let (Some(out), Some(all)) = (ctx.as_map_mut(), manifest.as_map()) {
            for k in NAMING_SECTIONS {
                if let Some(v) = all.get(*k) {
                    out.insert((*k).to_string(), v.clone());
                }
            }
        }
        let now = self.namer.name(&own, &ctx, strip_ext(rel)).ok()?;
        if now != name && strip_ext(rel) != name {
            tracing::debug!("{rel} is no longer the stack {name} (now {now}); naming every manifest");
            return None;
        }
        tracing::debug!("{rel} is still the stack {name}: served from the index");
        Some(Stack { name: now, file, manifest })
    }

    /// The parsed document of `path` (a mapping, or an empty one for an empty file); for
    /// [`Mode::Naming`] maybe only its [`NAMING_KEYS`].
    fn node(
        &self,
        path: &Path,
        import_span: Option<&Span>,
        scope: &Scope,
        mode: Mode,
    ) -> Result<Arc<Node>, StackError> {
        let key = scope.parse_key(path);
        let mode = self.reading(mode);
        if mode == Mode::Naming
            && let Some(hit) = self.naming_parsed.borrow().get(path, key)
        {
            return Ok(hit.clone());
        }
        if let Some(hit) = self.parsed.borrow().get(path, key) {
            return match hit {
                Ok(n) => Ok(n.clone()),
                Err(_) => Err(located(reparse_error(self.cfg, path, scope), import_span)),
            };
        }
        let (result, is_dynamic) = parse_one(self.cfg, path, scope, mode);
        if is_dynamic {
            self.dynamic.borrow_mut().insert(path_key(path));
        }
        match result {
            Ok((n, part)) => {
                let n = Arc::new(n);
                if part == Mode::Naming {
                    self.naming_parsed.borrow_mut().insert(path, key, n.clone());
                } else {
                    self.parsed.borrow_mut().insert(path, key, Ok(n.clone()));
                }
                Ok(n)
            }
            Err(StackError::Yaml(YamlError::Read { source, .. }))
                if source.kind() == std::io::ErrorKind::NotFound && import_span.is_some() =>
            {
                Err(StackError::ImportNotFound {
                    import: path.display().to_string(),
                    span: import_span.cloned().unwrap_or_else(Span::synthetic),
                    tried: vec![path.to_path_buf()],
                })
            }
            Err(StackError::Yaml(YamlError::NotRegular { path, kind })) if import_span.is_some() => {
                Err(StackError::ImportNotRegular {
                    path,
                    kind,
                    span: import_span.cloned().unwrap_or_else(Span::synthetic),
                })
            }
            Err(e) => {
                self.parsed.borrow_mut().insert(path, key, Err(e.to_string()));
                Err(located(e, import_span))
            }
        }
    }

    /// `path` with its imports merged in: whole, or only what names it ([`Mode::Naming`]).
    /// A manifest being named passes what its namer reads (`keep`): its imports' contexts
    /// are then cut down to that before they are merged, and the result is not kept for
    /// others (an importer needs the whole naming context).
    fn merged(
        &self,
        path: &Path,
        mode: Mode,
        visiting: &mut Vec<PathBuf>,
        via: Option<&Span>,
        scope: &Scope,
        keep: Option<&Keep>,
    ) -> Result<Arc<Node>, StackError> {
        let memo = match mode {
            Mode::Naming => &self.naming_memo,
            Mode::Full => &self.full_memo,
        };
        let key = scope.key();
        if let Some(m) = memo.borrow().get(path, key) {
            return Ok(m.clone());
        }
        if visiting.iter().any(|p| p == path) {
            let mut chain: Vec<String> = visiting.iter().map(|p| self.rel_name(p)).collect();
            chain.push(self.rel_name(path));
            let start = chain.iter().position(|c| *c == self.rel_name(path)).unwrap_or(0);
            return Err(StackError::ImportCycle {
                chain: chain[start..].to_vec(),
                span: via.cloned().unwrap_or_else(|| Span::file_start(path.into())),
            });
        }
        let own = self.node(path, via, scope, mode)?;
        let entries = imports::entries(&own)?;
        // An import path rendered from what the imports before it set needs all of it.
        let keep = keep.filter(|_| mode == Mode::Naming && !entries.iter().any(|e| imports::renders_path(self.cfg, e)));
        // Imports are merged (and so their closures known, for the index) before this
        // file's own sections; an import path may read what the earlier ones set.
        let mut closure = match mode {
            Mode::Naming => self.tree().file_ids.get(path.as_os_str()).map(|&i| vec![i]),
            Mode::Full => None,
        };
        visiting.push(path.to_path_buf());
        let mut acc = Node::empty_map(Span::file_start(path.into()));
        for entry in &entries {
            let target = imports::render_path(self.cfg, entry, &acc)?;
            let child = scope.child(entry, self.cfg);
            for import in &self.resolve_entry(path, entry, &target)?.0 {
                let m = self.merged(import, mode, visiting, Some(&entry.node.span), &child, None)?;
                if mode == Mode::Naming {
                    match (self.closure_memo.borrow().get(import, child.key()), &mut closure) {
                        (Some(Some(c)), Some(acc)) => acc.extend(c.iter().copied()),
                        _ => closure = None,
                    }
                }
                match keep {
                    // Most imports (the catalog) set nothing a name reads.
                    _ if m.tag.is_none() && m.as_map().is_some_and(|m| m.is_empty()) => {}
                    Some(k) => merge_into(&mut acc, &k.project(&m), self.cfg.list_strategy),
                    None => merge_into(&mut acc, &m, self.cfg.list_strategy),
                }
            }
        }
        visiting.pop();
        if mode == Mode::Naming {
            let closure = closure.map(|mut c| {
                c.sort_unstable();
                c.dedup();
                Arc::from(c)
            });
            self.closure_memo.borrow_mut().insert(path, key, closure);
        }
        // This file's `overrides` (with `terraform.overrides` on top) reach the components
        // of this file and of its imports, and no other file's: they are attached to each
        // of those components, the importing file's winning over the imported one's.
        let overrides = match mode {
            Mode::Full => file_overrides(&own, self.cfg.list_strategy)?,
            Mode::Naming => None,
        };
        if let Some(o) = &overrides {
            attach_overrides(&mut acc, o, self.cfg.list_strategy);
        }
        if let Some(map) = own.as_map() {
            for (k, v) in map {
                let section = match mode {
                    Mode::Naming => NAMING_SECTIONS.contains(&k.as_str()),
                    Mode::Full => k != "import" && k != "overrides",
                };
                if section && SECTIONS_THAT_ARE_MAPS.contains(&k.as_str()) && !v.is_null() && v.as_map().is_none() {
                    return Err(wrong_type(k, v, "a mapping"));
                }
                let cut = match keep {
                    Some(Keep::Keys(keys)) => keys.iter().find(|(key, _)| key == k).map(|(_, sub)| sub),
                    _ => None,
                };
                if section && (keep.is_none() || cut.is_some()) {
                    let mut layer = Node::empty_map(own.span.clone());
                    let mut v = match cut {
                        Some(sub) => sub.project(v),
                        None => v.clone(),
                    };
                    if mode == Mode::Full && k == "terraform" {
                        v.as_map_mut().map(|m| m.shift_remove("overrides"));
                    }
                    if let Some(m) = layer.as_map_mut() {
                        m.insert(k.clone(), v);
                    }
                    if let Some(o) = &overrides {
                        attach_overrides(&mut layer, o, self.cfg.list_strategy);
                    }
                    merge_into(&mut acc, &layer, self.cfg.list_strategy);
                }
            }
        }
        let acc = Arc::new(acc);
        if keep.is_none() {
            memo.borrow_mut().insert(path, key, acc.clone());
        }
        Ok(acc)
    }

    /// The files one `import:` entry names (its path already rendered), in order.
    fn resolve_entry(&self, file: &Path, entry: &imports::Entry<'_>, target: &str) -> Result<Rc<Resolved>, StackError> {
        let resolved = self.resolve_import(file, target);
        let (found, tried) = &*resolved;
        if found.is_empty() && !entry.skip_if_missing {
            // As Atmos: an import that is not found but is itself a Go template (templating
            // off, or skip_templates_processing) is skipped, not an error.
            if target.contains("{{") {
                tracing::debug!(
                    "skipping the import `{target}` at {}: a Go template that names no file",
                    entry.node.span
                );
                return Ok(Rc::default());
            }
            return Err(StackError::ImportNotFound {
                import: target.to_string(),
                span: entry.node.span.clone(),
                tried: tried.clone(),
            });
        }
        Ok(resolved)
    }

    fn resolve_import(&self, file: &Path, target: &str) -> Rc<Resolved> {
        if !(target.starts_with("./") || target.starts_with("../")) {
            if let Some(hit) = self.import_memo.borrow().get(target) {
                return hit.clone();
            }
            let resolved = Rc::new(self.resolve_import_in(&self.cfg.stacks.base_path, target));
            self.import_memo.borrow_mut().insert(target.to_string(), resolved.clone());
            return resolved;
        }
        let base = file.parent().unwrap_or(Path::new("."));
        let key = (path_key(base), target.to_string());
        if let Some(hit) = self.relative_import_memo.borrow().get(&key) {
            return hit.clone();
        }
        let resolved = Rc::new(self.resolve_import_in(base, target));
        self.relative_import_memo.borrow_mut().insert(key, resolved.clone());
        resolved
    }

    fn resolve_import_in(&self, base: &Path, target: &str) -> Resolved {
        if target.contains(['*', '?', '[', '{']) {
            let full = clean_path(&base.join(target));
            let found = self.glob_files(&full);
            return (found, vec![full]);
        }
        let candidate = absolute(base, Path::new(target));
        // As Atmos: `x.yaml` is read from `x.yaml.tmpl` when that exists; `x` is `x.yaml`,
        // `x.yml`, `x.yaml.tmpl` or `x.yml.tmpl`, the first that exists.
        let tried: Vec<PathBuf> = if imports::is_template_file(target) {
            vec![candidate]
        } else if has_yaml_ext(target) {
            vec![with_suffix(&candidate, ".tmpl"), candidate]
        } else {
            let mut tried: Vec<PathBuf> =
                [".yaml", ".yml", ".yaml.tmpl", ".yml.tmpl"].iter().map(|ext| with_suffix(&candidate, ext)).collect();
            tried.push(candidate);
            tried
        };
        // A path that is there but not a regular file (a FIFO, a device) is passed on, so
        // reading it says what it is; it is never opened for reading.
        let found = tried
            .iter()
            .find(|p| {
                self.tree.get().is_some_and(|t| self.rel_of(p).is_some_and(|r| t.stamps.contains_key(&r)))
                    || std::fs::metadata(p).is_ok_and(|m| !m.is_dir())
            })
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
            Ok(set) => {
                self.tree().files.iter().filter(|(_, abs)| set.is_match(abs)).map(|(_, abs)| abs.clone()).collect()
            }
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

/// A manifest's own `overrides`, then its `terraform.overrides` on top; `None` when neither is set.
fn file_overrides(own: &Node, lists: crate::merge::ListStrategy) -> Result<Option<Node>, StackError> {
    let global = own.get("overrides");
    let tf = own.get("terraform").and_then(|t| t.get("overrides"));
    for (field, n) in [("overrides", global), ("terraform.overrides", tf)] {
        if let Some(n) = n
            && !n.is_null()
            && n.as_map().is_none()
        {
            return Err(wrong_type(field, n, "a mapping"));
        }
    }
    let merged = crate::merge::merge_all([global, tf], lists);
    Ok(if merged.as_map().is_some_and(|m| !m.is_empty()) { Some(merged) } else { None })
}

/// Puts `overrides` over the `overrides` of every Terraform component in `stack`.
fn attach_overrides(stack: &mut Node, overrides: &Node, lists: crate::merge::ListStrategy) {
    let Some(components) = stack.as_map_mut().and_then(|m| m.get_mut("components")).and_then(|c| c.as_map_mut()) else {
        return;
    };
    let Some(tf) = components.get_mut("terraform").and_then(Node::as_map_mut) else {
        return;
    };
    for component in tf.values_mut() {
        let Some(map) = component.as_map_mut() else {
            continue;
        };
        match map.get_mut("overrides") {
            Some(existing) if existing.as_map().is_some() => merge_into(existing, overrides, lists),
            _ => {
                map.insert("overrides".into(), overrides.clone());
            }
        }
    }
}

fn build_globs(patterns: &[String], cfg: &AtmosConfig) -> Result<GlobSet, StackError> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let p = p.strip_prefix("./").unwrap_or(p);
        let glob = GlobBuilder::new(p).literal_separator(true).build().map_err(|e| StackError::WrongType {
            field: format!("stacks glob `{p}` ({e})"),
            span: cfg.root.get("stacks").map(|n| n.span.clone()).unwrap_or_else(Span::synthetic),
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

/// Above this many manifests missing from the index, parse everything in parallel.
const BULK_THRESHOLD: usize = 16;

/// Reads and parses one file, for [`Mode::Naming`] only its [`NAMING_KEYS`] where they can
/// be cut out (the document says which it is); says whether it uses tags whose values
/// depend on more than the file (`!env`, `!include`, `!repo-root`).
fn parse_one(cfg: &AtmosConfig, path: &Path, scope: &Scope, mode: Mode) -> (Result<(Node, Mode), StackError>, bool) {
    let text = match crate::yaml::load::read_text(path) {
        Ok(t) => t,
        Err(e) => return (Err(StackError::Yaml(e)), false),
    };
    // A template's `env` reads the environment too.
    let dynamic = text.contains("!env")
        || text.contains("!include")
        || text.contains("!repo-root")
        || (scope.renders(path) && text.contains("env"));
    let result = scope.render_file(&text, path, &cfg.load_ctx.env).and_then(|text| {
        let loader = Loader::new(&cfg.load_ctx);
        // A cut that does not parse alone (say an alias of a dropped anchor) is no answer:
        // the whole file is parsed, and its errors are the ones reported.
        if mode == Mode::Naming
            && let Some(cut) = sections::keep_top_level(&text, NAMING_KEYS, &["import"], path)
            && let Ok(node) = loader.load_str(&cut.text, path)
            && let Ok(mut node) = checked_manifest(node)
        {
            if let Some(map) = node.as_map_mut() {
                map.extend(cut.lists);
            }
            return Ok((node, Mode::Naming));
        }
        loader.load_str(&text, path).map_err(StackError::Yaml).and_then(checked_manifest).map(|n| (n, Mode::Full))
    });
    (result, dynamic)
}

/// A template error of an imported file, located at the `import:` entry that gave it its
/// context.
fn located(e: StackError, import_span: Option<&Span>) -> StackError {
    match (e, import_span) {
        (StackError::ImportTemplate { file, source, .. }, Some(span)) => {
            StackError::ImportTemplate { file, span: span.clone(), imported: true, source }
        }
        (e, _) => e,
    }
}

/// A document of the parallel pass and how much of it there is, or its error's text.
type ParsedResult = Result<(Arc<Node>, Mode), String>;

/// Parses files on every core (two, on the machines this is built for), each taking the
/// next file left: the catalog's files cut down for naming are nearly empty, a manifest
/// is not.
fn parse_all(cfg: &AtmosConfig, files: &[PathBuf], mode: Mode) -> Vec<(PathBuf, ParsedResult, bool)> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8).min(files.len().max(1));
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    while let Some(abs) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let (r, dynamic) = parse_one(cfg, abs, &Scope::top(cfg), mode);
                        out.push((
                            abs.clone(),
                            r.map(|(n, part)| (Arc::new(n), part)).map_err(|e| e.to_string()),
                            dynamic,
                        ));
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
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
fn reparse_error(cfg: &AtmosConfig, path: &Path, scope: &Scope) -> StackError {
    match parse_one(cfg, path, scope, Mode::Full).0 {
        Err(e) => e,
        Ok(_) => StackError::Yaml(YamlError::Read {
            path: path.to_path_buf(),
            source: std::io::Error::other("the file changed while tfauth was reading it"),
        }),
    }
}

fn render_inline(e: &StackError) -> String {
    match e {
        StackError::StackNotFound { unnamed, .. } => unnamed.first().map(|u| u.1.clone()).unwrap_or_default(),
        other => other.to_string(),
    }
}

pub(crate) fn wrong_type(field: &str, n: &Node, expected: &'static str) -> StackError {
    StackError::WrongType { field: field.to_string(), span: n.span.clone(), expected, found: n.type_name() }
}

/// A stack file: `.yaml`, `.yml`, or their Go-template forms `.yaml.tmpl`, `.yml.tmpl`
/// (Atmos's `IsYaml`).
fn has_yaml_ext(p: &str) -> bool {
    p.ends_with(".yaml") || p.ends_with(".yml") || imports::is_template_file(p)
}

fn strip_ext(rel: &str) -> &str {
    let rel = rel.strip_suffix(".tmpl").filter(|r| has_yaml_ext(r)).unwrap_or(rel);
    rel.strip_suffix(".yaml").or_else(|| rel.strip_suffix(".yml")).unwrap_or(rel)
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests;
