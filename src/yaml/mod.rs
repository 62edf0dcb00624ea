//! A YAML value tree that remembers where every value came from.
//!
//! Every error tfauth reports about configuration names a file and a line, so the tree
//! that the loader builds keeps a [`Span`] on each node, and the tag of any YAML tag we
//! do not resolve at load time (`!append`, `!terraform.output`, `!store`, ...). The deep
//! merge, the stack processor and the auth schema all work on this one type.
//!
//! This module does no I/O; [`load`] does the reading and tag resolution, through the bounded
//! reads of [`crate::util::fs::read_regular`].

pub mod emit;
pub mod functions;
pub mod load;
pub mod sections;
use indexmap::IndexMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

pub use load::{Functions, LoadContext, Loader};

/// Where a value was written: file, 1-based line and column. Synthetic values have line 0.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: Arc<Path>,
    pub line: u32,
    pub col: u32,
}

impl Span {
    pub fn new(file: Arc<Path>, line: u32, col: u32) -> Span {
        Span { file, line, col }
    }
    /// A span for values tfauth made up (defaults); prints as nothing.
    pub fn synthetic() -> Span {
        static EMPTY: std::sync::OnceLock<Arc<Path>> = std::sync::OnceLock::new();
        Span { file: EMPTY.get_or_init(|| Arc::from(Path::new(""))).clone(), line: 0, col: 0 }
    }
    pub fn is_synthetic(&self) -> bool {
        self.line == 0
    }
    /// The span of a whole file (line 1), for errors about the file itself.
    pub fn file_start(file: Arc<Path>) -> Span {
        Span { file, line: 1, col: 1 }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_synthetic() {
            return write!(f, "(built-in default)");
        }
        write!(f, "{}:{}:{}", display_path(&self.file), self.line, self.col)
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Paths in messages are shown relative to the current directory when they are below it.
pub fn display_path(path: &Path) -> String {
    if let Ok(cwd) = std::env::current_dir()
        && let Ok(rel) = path.strip_prefix(&cwd)
        && !rel.as_os_str().is_empty()
    {
        return rel.display().to_string();
    }
    path.display().to_string()
}

/// A mapping, in the order it was written. Hashed with foldhash rather than SipHash (a
/// tenth of parsing a repository's stacks): its seed is random per process, and a run is
/// over long before anyone could learn it from the outside to make keys collide.
pub type Map = IndexMap<String, Node, foldhash::fast::RandomState>;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Map),
}

/// One YAML value with its location and, for tags resolved later or never, the tag.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
    /// A tag kept from the source, e.g. `!append` or `!terraform.output`.
    pub tag: Option<Arc<str>>,
}

impl Node {
    pub fn new(value: Value, span: Span) -> Node {
        Node { value, span, tag: None }
    }
    pub fn null() -> Node {
        Node::new(Value::Null, Span::synthetic())
    }
    pub fn empty_map(span: Span) -> Node {
        Node::new(Value::Map(Map::default()), span)
    }
    pub fn string(s: impl Into<String>) -> Node {
        Node::new(Value::Str(s.into()), Span::synthetic())
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }
    pub fn as_map(&self) -> Option<&Map> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match &mut self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// A value printed the way a user wrote it, for scalars used as strings (names, ids).
    pub fn scalar_string(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    /// Looks up `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map().and_then(|m| m.get(key))
    }
    /// Looks up a dotted path of mapping keys.
    pub fn get_path(&self, path: &[&str]) -> Option<&Node> {
        let mut cur = self;
        for key in path {
            cur = cur.get(key)?;
        }
        Some(cur)
    }
    /// Looks up `key` in a mapping, ignoring ASCII case; returns the key as written too.
    pub fn get_ci(&self, key: &str) -> Option<(&str, &Node)> {
        let map = self.as_map()?;
        if let Some((k, v)) = map.get_key_value(key) {
            return Some((k.as_str(), v));
        }
        map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(k, v)| (k.as_str(), v))
    }
    /// A short name for the value's type, for "expected a mapping, found a list" messages.
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
    /// The first unresolved tag in this subtree (e.g. `!terraform.output`), other than `!append`.
    pub fn find_unresolved_tag(&self) -> Option<(&str, &Span)> {
        if let Some(tag) = &self.tag
            && &**tag != "!append"
        {
            return Some((tag, &self.span));
        }
        match &self.value {
            Value::Seq(items) => items.iter().find_map(Node::find_unresolved_tag),
            Value::Map(map) => map.values().find_map(Node::find_unresolved_tag),
            _ => None,
        }
    }
    /// Gives this node and everything below it `span` (for values made from a function's output).
    pub fn set_span_deep(&mut self, span: &Span) {
        self.span = span.clone();
        match &mut self.value {
            Value::Seq(items) => items.iter_mut().for_each(|n| n.set_span_deep(span)),
            Value::Map(map) => map.values_mut().for_each(|n| n.set_span_deep(span)),
            _ => {}
        }
    }
    /// Whether this value is `!unset`: the key holding it is removed, not set.
    pub fn is_unset(&self) -> bool {
        self.tag.as_deref() == Some("!unset")
    }
    /// This subtree without the keys whose value is `!unset` (there is nothing to remove them from).
    pub fn without_unset(&self) -> Node {
        let mut n = self.clone();
        n.strip_unset();
        n
    }
    fn strip_unset(&mut self) {
        match &mut self.value {
            Value::Map(map) => {
                map.retain(|_, v| !v.is_unset());
                map.values_mut().for_each(Node::strip_unset);
            }
            Value::Seq(items) => items.iter_mut().for_each(Node::strip_unset),
            _ => {}
        }
    }
    /// Counts the nodes in this subtree (for size limits).
    pub fn count_nodes(&self) -> usize {
        1 + match &self.value {
            Value::Seq(items) => items.iter().map(Node::count_nodes).sum(),
            Value::Map(map) => map.values().map(Node::count_nodes).sum(),
            _ => 0,
        }
    }
}
