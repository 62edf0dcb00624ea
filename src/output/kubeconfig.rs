//! A kubeconfig entry for one cluster (cluster, context and exec-plugin user, Atmos's
//! names), and adding it to a kubeconfig without disturbing anything else.
//!
//! [`merge`] is pure: text in, text out. When the file is in block style (as kubectl, the
//! AWS CLI and Atmos write it), only the three entries of the same names are replaced (or
//! appended to their lists) and `current-context` is set; every other byte, comments
//! included, stays. A file that cannot be spliced that way (flow-style lists, an indented
//! document) is rewritten from its parsed contents, and [`Merged::reformatted`] says so.
//! Text that is not YAML, or not a kubeconfig's shape, is refused, never overwritten.
//!
//! Every value goes through the YAML emitter (no value is pasted into the text), and the
//! caller checks the exec plugin's words, since kubectl runs them.
//!
//! [`write`] does the file work: one writer at a time (a lock in tfauth's cache), a
//! regular file of the user's (a symlink is followed, as kubectl does, and its target must
//! be the user's too), written beside and renamed over, never wider than 0600.

use crate::auth::KubeconfigUpdate;
use crate::env_vars::Env;
use crate::session::cache::CacheError;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// The exec plugin API kubectl speaks with `tfauth aws eks token`.
pub const EXEC_API_VERSION: &str = "client.authentication.k8s.io/v1beta1";
/// The largest kubeconfig tfauth reads (kubectl's are a few KiB).
pub const KUBECONFIG_CAP: u64 = 4 << 20;

/// The three entries one cluster adds.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The cluster's key (its ARN, as Atmos and the AWS CLI name it).
    pub cluster: String,
    /// The context's name: the integration's alias, else the ARN.
    pub context: String,
    /// `atmos-eks-<name>-<region>`.
    pub user: String,
    pub server: String,
    /// Base64 of the CA's PEM.
    pub ca_data: String,
    /// The exec plugin: command, arguments, and environment.
    pub command: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Entry {
    fn cluster_item(&self) -> Value {
        json!({"cluster": {"certificate-authority-data": self.ca_data, "server": self.server}, "name": self.cluster})
    }
    fn context_item(&self) -> Value {
        json!({"context": {"cluster": self.cluster, "user": self.user}, "name": self.context})
    }
    fn user_item(&self) -> Value {
        let env: Vec<Value> = self.env.iter().map(|(k, v)| json!({"name": k, "value": v})).collect();
        let mut exec = json!({
            "apiVersion": EXEC_API_VERSION,
            "command": self.command,
            "args": self.args,
            "interactiveMode": "Never",
            "provideClusterInfo": false,
        });
        if !env.is_empty() {
            exec["env"] = Value::Array(env);
        }
        json!({"name": self.user, "user": {"exec": exec}})
    }
    fn items(&self) -> [(&'static str, &str, Value); 3] {
        [
            ("clusters", self.cluster.as_str(), self.cluster_item()),
            ("contexts", self.context.as_str(), self.context_item()),
            ("users", self.user.as_str(), self.user_item()),
        ]
    }
}

/// The result of a merge.
#[derive(Debug, PartialEq)]
pub struct Merged {
    pub text: String,
    /// The file was rewritten whole (its comments and layout are gone).
    pub reformatted: bool,
}

/// Why a kubeconfig cannot take the entry.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KubeconfigError {
    #[error("it is not valid YAML (line {line}: {message})")]
    NotYaml { line: usize, message: String },
    #[error("it is not a kubeconfig: {why}")]
    Shape { why: String },
    #[error("it already has a {what} named `{name}` (kubeconfig.update is `error`)")]
    Exists { what: &'static str, name: String },
}

/// `existing` (a kubeconfig's text, `None` or blank when there is none) with `entry`
/// added as `update` says.
pub fn merge(existing: Option<&str>, entry: &Entry, update: KubeconfigUpdate) -> Result<Merged, KubeconfigError> {
    let existing = existing.filter(|t| !t.trim().is_empty());
    let (Some(text), false) = (existing, update == KubeconfigUpdate::Replace) else {
        if let Some(text) = existing {
            parse(text)?; // `replace` still refuses to overwrite what is not YAML.
        }
        return Ok(Merged { text: fresh(entry), reformatted: false });
    };
    let doc = parse(text)?;
    if doc.empty {
        let sep = if text.ends_with('\n') { "" } else { "\n" };
        return Ok(Merged { text: format!("{text}{sep}{}", fresh(entry)), reformatted: false });
    }
    if update == KubeconfigUpdate::Error {
        if doc.names("clusters").iter().any(|n| n == &entry.cluster) {
            return Err(KubeconfigError::Exists { what: "cluster", name: entry.cluster.clone() });
        }
        if doc.names("contexts").iter().any(|n| n == &entry.context) {
            return Err(KubeconfigError::Exists { what: "context", name: entry.context.clone() });
        }
    }
    match splice(text, &doc, entry) {
        Some(text) => Ok(Merged { text, reformatted: false }),
        None => Ok(Merged { text: rewrite(text, entry)?, reformatted: true }),
    }
}

/// A kubeconfig holding only `entry`.
fn fresh(entry: &Entry) -> String {
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [entry.cluster_item()],
        "contexts": [entry.context_item()],
        "users": [entry.user_item()],
        "current-context": entry.context,
        "preferences": {},
    });
    crate::yaml::emit::json_to_yaml_string(&doc)
}

/// A kubeconfig with no cluster at all (a run whose every cluster failed: kubectl finds no
/// context rather than another file's).
pub fn empty() -> String {
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [],
        "contexts": [],
        "users": [],
        "current-context": "",
        "preferences": {},
    });
    crate::yaml::emit::json_to_yaml_string(&doc)
}

/// The parsed contents with the entry merged in, emitted whole (for files [`splice`]
/// cannot edit in place).
fn rewrite(text: &str, entry: &Entry) -> Result<String, KubeconfigError> {
    let loader_ctx = crate::yaml::LoadContext::default();
    let node = crate::yaml::Loader::new(&loader_ctx).load_str(text, Path::new("kubeconfig")).map_err(|e| {
        KubeconfigError::NotYaml { line: e.span().map_or(0, |s| s.line as usize), message: e.to_string() }
    })?;
    let mut doc = crate::yaml::emit::to_json(&node);
    let map =
        doc.as_object_mut().ok_or_else(|| KubeconfigError::Shape { why: "its top level is not a mapping".into() })?;
    for (key, name, item) in entry.items() {
        let list = map.entry(key).or_insert(Value::Array(vec![]));
        if list.is_null() {
            *list = Value::Array(vec![]);
        }
        let list =
            list.as_array_mut().ok_or_else(|| KubeconfigError::Shape { why: format!("`{key}` is not a list") })?;
        match list.iter_mut().find(|i| i.get("name").and_then(Value::as_str) == Some(name)) {
            Some(old) => *old = item,
            None => list.push(item),
        }
    }
    map.insert("current-context".into(), Value::String(entry.context.clone()));
    Ok(crate::yaml::emit::json_to_yaml_string(&doc))
}

/// Where things are in a parsed kubeconfig: for each of the three lists, where it is and
/// where each item starts, with its name; and `current-context`'s line.
#[derive(Debug, Default)]
struct Doc {
    /// Top level is a block mapping starting at column 0.
    block: bool,
    lists: Vec<List>,
    /// The 0-based line of `current-context:` when its value is a scalar on that line.
    current: Option<usize>,
    /// `current-context` is there but not on one line.
    current_odd: bool,
    /// No document, or only comments: the entry goes after them as a whole kubeconfig.
    empty: bool,
}

#[derive(Debug)]
struct List {
    key: String,
    /// The 0-based line of the key.
    key_line: usize,
    /// `None`: the value is null or an empty flow list on the key's line.
    items: Option<Vec<Item>>,
    /// A flow list with items, or anything else splicing cannot handle.
    odd: bool,
    /// The line after the list's last item (0-based, exclusive).
    end: usize,
}

#[derive(Debug)]
struct Item {
    name: Option<String>,
    /// 0-based line where the item's `-` is.
    start: usize,
}

impl Doc {
    fn list(&self, key: &str) -> Option<&List> {
        self.lists.iter().find(|l| l.key == key)
    }
    fn names(&self, key: &str) -> Vec<String> {
        self.list(key)
            .and_then(|l| l.items.as_ref())
            .map_or_else(Vec::new, |items| items.iter().filter_map(|i| i.name.clone()).collect())
    }
}

struct Events(Vec<(Event, Marker)>);

impl MarkedEventReceiver for Events {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        self.0.push((ev, mark));
    }
}

/// Parses `text` into a [`Doc`], refusing what is not YAML or not a kubeconfig's shape.
fn parse(text: &str) -> Result<Doc, KubeconfigError> {
    let mut events = Events(Vec::new());
    let mut parser = Parser::new_from_str(text);
    parser
        .load(&mut events, true)
        .map_err(|e| KubeconfigError::NotYaml { line: e.marker().line(), message: e.info().to_string() })?;
    let ev = &events.0;
    let docs = ev.iter().filter(|(e, _)| matches!(e, Event::DocumentStart)).count();
    if docs > 1 {
        return Err(KubeconfigError::Shape { why: "it holds more than one YAML document".into() });
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut doc = Doc::default();
    let Some(top) = ev.iter().position(|(e, _)| matches!(e, Event::MappingStart(..))) else {
        let only_null = ev.iter().all(|(e, _)| {
            matches!(
                e,
                Event::StreamStart | Event::StreamEnd | Event::DocumentStart | Event::DocumentEnd | Event::Nothing
            ) || matches!(e, Event::Scalar(v, ..) if v.is_empty() || v == "~" || v == "null")
        });
        return if only_null {
            Ok(Doc { block: true, empty: true, ..Doc::default() })
        } else {
            Err(KubeconfigError::Shape { why: "its top level is not a mapping".into() })
        };
    };
    if !ev[..top].iter().all(|(e, _)| matches!(e, Event::StreamStart | Event::DocumentStart)) {
        return Err(KubeconfigError::Shape { why: "its top level is not a mapping".into() });
    }
    // (Start events' markers point past their first token; scalars' point at themselves.)
    let first_key_col = ev.get(top + 1).map_or(0, |(_, m)| m.col());
    let flow_top = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#') && *l != "---");
    doc.block = first_key_col == 0 && !flow_top.is_some_and(|l| l.starts_with('{'));
    let mut i = top + 1;
    while let Some((e, mark)) = ev.get(i) {
        let key = match e {
            Event::MappingEnd => break,
            Event::Scalar(k, ..) => k.clone(),
            _ => {
                i = skip(ev, i);
                i = skip(ev, i);
                continue;
            }
        };
        let key_line = mark.line().saturating_sub(1);
        let value = i + 1;
        let after = skip(ev, value);
        match key.as_str() {
            "clusters" | "contexts" | "users" => {
                let (ve, vm) = &ev[value];
                let mut list = List { key: key.clone(), key_line, items: None, odd: false, end: key_line + 1 };
                match ve {
                    Event::Scalar(v, ..) if v.is_empty() || v == "~" || v == "null" => {
                        list.odd = vm.line().saturating_sub(1) != key_line && !v.is_empty();
                    }
                    Event::SequenceStart(..) => {
                        let rest = lines[key_line].chars().skip(mark.col() + key.len()).collect::<String>();
                        let flow = rest.trim_start().trim_start_matches(':').trim_start().starts_with('[');
                        let mut items = Vec::new();
                        let mut j = value + 1;
                        while let Some((ie, im)) = ev.get(j) {
                            if matches!(ie, Event::SequenceEnd) {
                                break;
                            }
                            let Event::MappingStart(..) = ie else {
                                return Err(KubeconfigError::Shape {
                                    why: format!("an item of `{key}` is not a mapping"),
                                });
                            };
                            let name = item_name(ev, j);
                            let mut start = im.line().saturating_sub(1);
                            while start > key_line && !lines[start].trim_start().starts_with('-') {
                                start -= 1;
                            }
                            items.push(Item { name, start });
                            j = skip(ev, j);
                        }
                        let end_mark = &ev[after.min(ev.len() - 1)].1;
                        let mut end =
                            if end_mark.col() == 0 { end_mark.line().saturating_sub(1) } else { end_mark.line() };
                        end = end.min(lines.len());
                        // Comments and blank lines after the last item belong to what follows.
                        let floor = items.last().map_or(key_line + 1, |it| it.start + 1);
                        while end > floor && is_blank_or_comment(lines[end - 1]) {
                            end -= 1;
                        }
                        list.end = end;
                        if flow {
                            list.odd = !items.is_empty() || vm.line().saturating_sub(1) != key_line;
                        } else {
                            list.items = Some(items);
                        }
                    }
                    _ => return Err(KubeconfigError::Shape { why: format!("`{key}` is not a list") }),
                }
                doc.lists.push(list);
            }
            "current-context" => match &ev[value] {
                (Event::Scalar(v, ..), vm) if vm.line().saturating_sub(1) == key_line || v.is_empty() => {
                    doc.current = Some(key_line)
                }
                (Event::Scalar(..), _) => doc.current_odd = true,
                _ => return Err(KubeconfigError::Shape { why: "`current-context` is not a string".into() }),
            },
            _ => {}
        }
        i = after;
    }
    Ok(doc)
}

/// The line after item `k`: the next item's first line (or the list's end), less the
/// comments and blank lines just above it, which belong to what follows.
fn item_end<S: AsRef<str>>(lines: &[S], items: &[Item], k: usize, end: usize) -> usize {
    let start = items[k].start;
    let mut stop = items.get(k + 1).map_or(end, |n| n.start);
    while stop > start + 1 && is_blank_or_comment(lines[stop - 1].as_ref()) {
        stop -= 1;
    }
    stop
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// The index of the event after the node that starts at `i`.
fn skip(ev: &[(Event, Marker)], i: usize) -> usize {
    let mut depth = 0usize;
    let mut j = i;
    while let Some((e, _)) = ev.get(j) {
        match e {
            Event::MappingStart(..) | Event::SequenceStart(..) => depth += 1,
            Event::MappingEnd | Event::SequenceEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
        j += 1;
        if depth == 0 {
            break;
        }
    }
    j
}

/// The `name` of the mapping that starts at `i`.
fn item_name(ev: &[(Event, Marker)], i: usize) -> Option<String> {
    let mut j = i + 1;
    while let Some((e, _)) = ev.get(j) {
        match e {
            Event::MappingEnd => return None,
            Event::Scalar(k, ..) if k == "name" => {
                return match ev.get(j + 1) {
                    Some((Event::Scalar(v, ..), _)) => Some(v.clone()),
                    _ => None,
                };
            }
            _ => {}
        }
        j = skip(ev, j); // the key
        j = skip(ev, j); // its value
    }
    None
}

/// One item as block YAML, indented by `indent` spaces.
fn item_text(item: &Value, indent: usize) -> String {
    let text = crate::yaml::emit::json_to_yaml_string(&Value::Array(vec![item.clone()]));
    let pad = " ".repeat(indent);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// `text` with the entry spliced in, every other line unchanged; `None` when the file's
/// layout does not allow it.
fn splice(text: &str, doc: &Doc, entry: &Entry) -> Option<String> {
    if !doc.block || doc.current_odd || doc.lists.iter().any(|l| l.odd) {
        return None;
    }
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    if let Some(last) = lines.last_mut()
        && !last.ends_with('\n')
    {
        last.push('\n');
    }
    // Edits as (first line, lines replaced, new text), applied from the bottom up.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut appended = String::new();
    for (key, name, item) in entry.items() {
        match doc.list(key) {
            None => appended.push_str(&format!("{key}:\n{}", item_text(&item, 0))),
            Some(List { items: None, key_line, .. }) => {
                edits.push((*key_line, 1, format!("{key}:\n{}", item_text(&item, 0))));
            }
            Some(List { items: Some(items), end, key_line, .. }) => {
                let indent = items.first().map_or(0, |i| lines[i.start].len() - lines[i.start].trim_start().len());
                match items.iter().position(|i| i.name.as_deref() == Some(name)) {
                    Some(k) => {
                        let start = items[k].start;
                        let stop = item_end(&lines, items, k, *end);
                        edits.push((start, stop - start, item_text(&item, indent)));
                    }
                    None => {
                        edits.push((if items.is_empty() { key_line + 1 } else { *end }, 0, item_text(&item, indent)))
                    }
                }
            }
        }
    }
    let current = crate::yaml::emit::json_to_yaml_string(&json!({"current-context": entry.context}));
    match doc.current {
        Some(line) => edits.push((line, 1, current)),
        None => appended.push_str(&current),
    }
    // Bottom up; at one line, the replacement first, so an insertion there lands before it.
    edits.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    for (start, count, new) in edits {
        lines.splice(start..start + count, std::iter::once(new));
    }
    let mut out: String = lines.concat();
    out.push_str(&appended);
    Some(out)
}

/// `text` without the entries named in `names` (`clusters`, `contexts`, `users`), and
/// `current-context` emptied when it named a removed context; `None` when none of them is
/// there, or the file cannot be edited in place (logout never reformats a user's file).
pub fn without(text: &str, cluster: &str, context: &str, user: &str) -> Option<String> {
    let doc = parse(text).ok()?;
    if !doc.block || doc.empty || doc.lists.iter().any(|l| l.odd) || doc.current_odd {
        return None;
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut drop = vec![false; lines.len()];
    for (key, name) in [("clusters", cluster), ("contexts", context), ("users", user)] {
        let Some(List { items: Some(items), end, .. }) = doc.list(key) else { continue };
        for (k, item) in items.iter().enumerate() {
            if item.name.as_deref() == Some(name) {
                let stop = item_end(&lines, items, k, *end);
                drop[item.start..stop].iter_mut().for_each(|d| *d = true);
            }
        }
    }
    let current_removed = doc.current.filter(|&l| {
        let value = lines[l].split_once(':').map_or("", |(_, v)| v).trim();
        value.trim_matches(|c| c == '"' || c == '\'') == context
    });
    if !drop.contains(&true) && current_removed.is_none() {
        return None;
    }
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if Some(i) == current_removed {
            out.push_str("current-context: \"\"\n");
        } else if !drop[i] {
            out.push_str(line);
        }
    }
    Some(out)
}

/// Removes the entries from the kubeconfig at `path` (`auth logout`); whether any were there.
pub fn remove(path: &Path, cluster: &str, context: &str, user: &str, env: &Env) -> Result<bool, KubeconfigWriteError> {
    let io = |source| KubeconfigWriteError::Io { path: path.to_path_buf(), source };
    let _lock = super::file_lock(env, "kube", "kubeconfig", path)?;
    let text = match crate::util::fs::read_regular(path, KUBECONFIG_CAP) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => return Ok(false),
    };
    crate::util::fs::check_user_file(path).map_err(io)?;
    let Some(new) = without(&text, cluster, context, user) else { return Ok(false) };
    let mode = std::fs::metadata(path).map_or(0o600, |m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()));
    crate::util::fs::replace_file_with_mode(path, new.as_bytes(), mode).map_err(io)?;
    Ok(true)
}

/// The cluster keys of the kubeconfig text (none if it is not one), for a logout that
/// knows the integration but not the whole key (an EKS ARN's account).
pub fn cluster_names(text: &str) -> Vec<String> {
    parse(text).map(|doc| doc.names("clusters")).unwrap_or_default()
}

/// Why a kubeconfig could not be written.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigWriteError {
    #[error("cannot add cluster `{cluster}` to the kubeconfig {}: {source}", path.display())]
    Refused {
        path: PathBuf,
        cluster: String,
        #[source]
        source: KubeconfigError,
    },
    #[error("cannot use the kubeconfig {}: it is {kind}, not a file", path.display())]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error("cannot write the kubeconfig {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Lock(#[from] CacheError),
}

impl KubeconfigWriteError {
    pub fn exit_code(&self) -> i32 {
        match self {
            KubeconfigWriteError::Refused { source: KubeconfigError::Exists { .. }, .. } => crate::exit::CANTCREAT,
            KubeconfigWriteError::Refused { .. } => crate::exit::DATAERR,
            KubeconfigWriteError::NotAFile { .. } => crate::exit::CANTCREAT,
            KubeconfigWriteError::Io { source, .. } if crate::util::fs::TrustError::of(source).is_some() => {
                crate::exit::IOERR
            }
            KubeconfigWriteError::Io { .. } => crate::exit::CANTCREAT,
            KubeconfigWriteError::Lock(CacheError::LockTimeout { .. }) => crate::exit::TEMPFAIL,
            KubeconfigWriteError::Lock(_) => crate::exit::SOFTWARE,
        }
    }
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            KubeconfigWriteError::Refused { source: KubeconfigError::Exists { .. }, .. } => {
                "remove the entry, or set the integration's `kubeconfig.update` to merge or replace".into()
            }
            KubeconfigWriteError::Refused { path, .. } => format!(
                "fix {} (it was left as it was), or point the integration's `kubeconfig.path` at another file",
                path.display()
            ),
            KubeconfigWriteError::NotAFile { .. } => {
                "point `kubeconfig.path` at a file (kubectl reads a file, not a directory)".into()
            }
            KubeconfigWriteError::Io { source, .. } => match crate::util::fs::TrustError::of(source) {
                Some(t) => t.hint(),
                None => return None,
            },
            KubeconfigWriteError::Lock(e) => return e.hint(),
        })
    }
}

/// What [`write`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    Changed { reformatted: bool },
    Unchanged,
}

/// Adds `entry` to the kubeconfig at `path` (created with its directory when missing),
/// mode `mode` narrowed to at most 0600.
pub fn write(
    path: &Path,
    entry: &Entry,
    update: KubeconfigUpdate,
    mode: u32,
    env: &Env,
) -> Result<Written, KubeconfigWriteError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| KubeconfigWriteError::Io { path, source }
    };
    // A symlinked kubeconfig (dotfiles) is updated where it points, as kubectl does; the
    // link and its target must be the user's.
    let file = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            crate::util::fs::check_user_file(path).map_err(io(path))?;
            std::fs::canonicalize(path).map_err(io(path))?
        }
        _ => path.to_path_buf(),
    };
    let _lock = super::file_lock(env, "kube", "kubeconfig", &file)?;
    let existing = match crate::util::fs::read_regular(&file, KUBECONFIG_CAP) {
        Ok(bytes) => {
            crate::util::fs::check_user_file(&file).map_err(io(&file))?;
            Some(String::from_utf8(bytes).map_err(|_| KubeconfigWriteError::Refused {
                path: file.clone(),
                cluster: entry.cluster.clone(),
                source: KubeconfigError::NotYaml { line: 0, message: "it is not UTF-8 text".into() },
            })?)
        }
        Err(crate::util::fs::BoundedReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(crate::util::fs::BoundedReadError::NotRegular(kind)) => {
            return Err(KubeconfigWriteError::NotAFile { path: file, kind });
        }
        Err(crate::util::fs::BoundedReadError::Io(e)) if e.raw_os_error() == Some(21) => {
            return Err(KubeconfigWriteError::NotAFile { path: file, kind: "a directory" });
        }
        Err(crate::util::fs::BoundedReadError::Io(e)) => return Err(io(&file)(e)),
        Err(crate::util::fs::BoundedReadError::TooLarge { size }) => {
            return Err(KubeconfigWriteError::Refused {
                path: file,
                cluster: entry.cluster.clone(),
                source: KubeconfigError::Shape {
                    why: format!("it holds {size} bytes, more than the {KUBECONFIG_CAP} tfauth reads"),
                },
            });
        }
    };
    let merged = merge(existing.as_deref(), entry, update).map_err(|source| KubeconfigWriteError::Refused {
        path: file.clone(),
        cluster: entry.cluster.clone(),
        source,
    })?;
    let mode = mode & 0o600;
    let current_mode =
        std::fs::metadata(&file).ok().map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777);
    if existing.as_deref() == Some(merged.text.as_str()) && current_mode == Some(mode) {
        return Ok(Written::Unchanged);
    }
    crate::util::fs::replace_file_with_mode(&file, merged.text.as_bytes(), mode).map_err(io(&file))?;
    Ok(Written::Changed { reformatted: merged.reformatted })
}

#[cfg(test)]
#[path = "kubeconfig_tests.rs"]
mod tests;
