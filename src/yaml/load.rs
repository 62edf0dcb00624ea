//! Reads YAML files into [`Node`] trees, resolving the tags Atmos resolves at load time.
//!
//! - `!env NAME [default]`: the variable's value (from the captured [`Env`], never the live
//!   process environment); unset with no default gives null, remembered as `!env NAME` so a
//!   later "missing field" message can say which variable was not set.
//! - `!include PATH [.a.b]`: another YAML/JSON file (relative to the including file, then to
//!   the base path), optionally one value inside it; other files are included as text.
//! - `!repo-root [default]` (and its alias `!git.root`): the git repository root.
//! - `!cwd`, `!random` and the other `!git.*` functions: see [`super::functions`].
//! - `!exec CMD`: only in configuration files ([`Functions::Config`]) that the user owns and
//!   nobody else may write; elsewhere it is kept as written like the tags below.
//! - `!unset`: kept on the node; the deep merge removes the key instead of setting it.
//! - `!append`: kept on the node; the deep merge appends such a list instead of replacing.
//! - Any other tag (`!terraform.output`, `!store`, `!exec`, ...) is kept with its text; it
//!   is an error only where a value that tfauth needs holds one.
//!
//! Hostile input is bounded: file size, nesting depth, alias expansion (the "billion
//! laughs") and include depth all have limits, and each limit is a located error.

use super::{Map, Node, Span, Value, functions};
use crate::env_vars::Env;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Largest YAML file tfauth reads.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Deepest nesting of mappings and lists.
pub const MAX_DEPTH: usize = 128;
/// Most nodes that aliases may expand to in one file.
pub const MAX_ALIAS_NODES: usize = 200_000;
/// Deepest chain of `!include`s.
pub const MAX_INCLUDE_DEPTH: usize = 16;
/// Most bytes that one file's `!include`s (all of them, nested ones too) may read: each
/// included file is capped at [`MAX_FILE_BYTES`], and this stops one file from including a
/// big one a thousand times.
pub const MAX_INCLUDE_TOTAL_BYTES: u64 = 4 * MAX_FILE_BYTES;

/// Problems reading one YAML file. Each names the file, and the line where there is one.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    #[error("cannot read {}", super::display_path(path))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is {size} bytes, more than the {limit} bytes tfauth reads from a YAML file", super::display_path(path))]
    TooLarge { path: PathBuf, size: u64, limit: u64 },
    #[error("{} is {kind}, not a regular file; tfauth reads YAML only from regular files", super::display_path(path))]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error(
        "{span}: the `!include`s of {} add up to more than the {limit} bytes tfauth reads for one file",
        super::display_path(&span.file)
    )]
    IncludesTooLarge { span: Span, limit: u64 },
    #[error("{}:{line}:{col}: the file is not valid UTF-8", super::display_path(path))]
    NotUtf8 { path: PathBuf, line: usize, col: usize },
    #[error("{}:{line}:{col}: control character {byte:#04x} is not allowed in YAML", super::display_path(path))]
    ControlChar { path: PathBuf, line: usize, col: usize, byte: u8 },
    #[error("invalid YAML at {span}: {message}")]
    Syntax { span: Span, message: String },
    #[error("duplicate key `{key}` at {span} (first set at {first})")]
    DuplicateKey { key: String, span: Span, first: Span },
    #[error("YAML nested more than {MAX_DEPTH} levels deep at {span}")]
    TooDeep { span: Span },
    #[error("aliases at {span} expand to more than {MAX_ALIAS_NODES} values")]
    AliasBomb { span: Span },
    #[error("{span}: {message}")]
    Tag { span: Span, message: String },
    #[error("{span}: a second YAML document starts here; tfauth reads files with one")]
    MultipleDocuments { span: Span },
    #[error("{span}: `{tag}` failed: {message}")]
    Function { span: Span, tag: String, message: String, hint: String },
    #[error("`!include` at {span} failed")]
    Include {
        span: Span,
        #[source]
        source: Box<YamlError>,
    },
}

impl YamlError {
    pub fn hint(&self) -> Option<String> {
        match self {
            YamlError::Syntax { message, .. } if message.contains("has no `:` after it") => Some(
                "add the `:` after the key at that line (`key: value`, or `key:` above its indented values)".into(),
            ),
            YamlError::Syntax { .. } => {
                Some("fix the YAML syntax at that line; indentation and unclosed quotes are the usual causes".into())
            }
            YamlError::DuplicateKey { key, .. } => {
                Some(format!("remove one of the two `{key}` keys; YAML keeps only one"))
            }
            YamlError::NotUtf8 { .. } => Some("save the file as UTF-8".into()),
            YamlError::ControlChar { byte: 0, .. } => Some("remove the NUL byte; is this a binary file?".into()),
            YamlError::ControlChar { .. } => {
                Some("remove the control character (tabs, newlines and printable text are fine)".into())
            }
            YamlError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Some("check the path; it may have been moved or renamed".into())
            }
            YamlError::Read { .. } => Some("check that the file exists and is readable".into()),
            YamlError::TooLarge { .. } => Some("split the file, or check that it is really a stack manifest".into()),
            YamlError::NotRegular { .. } => Some(
                "point at a regular file: devices, FIFOs, sockets and directories are never read (a FIFO would block)"
                    .into(),
            ),
            YamlError::IncludesTooLarge { .. } => {
                Some("include fewer or smaller files; the same file included many times counts each time".into())
            }
            YamlError::TooDeep { .. } | YamlError::AliasBomb { .. } => {
                Some("this file looks machine-generated or hostile; simplify it".into())
            }
            YamlError::MultipleDocuments { .. } => {
                Some("remove the `---` separators, or split the documents into files".into())
            }
            YamlError::Function { hint, .. } => Some(hint.clone()),
            YamlError::Include { source, .. } => Some(format!(
                "{}an `!include` path is relative to the including file, then to base_path",
                source.hint().map(|h| format!("{h}\nhint: ")).unwrap_or_default()
            )),
            _ => None,
        }
    }
    /// Where the problem is, when there is a line to point at.
    pub fn span(&self) -> Option<&Span> {
        match self {
            YamlError::Syntax { span, .. }
            | YamlError::DuplicateKey { span, .. }
            | YamlError::TooDeep { span }
            | YamlError::AliasBomb { span }
            | YamlError::Tag { span, .. }
            | YamlError::Function { span, .. }
            | YamlError::Include { span, .. }
            | YamlError::IncludesTooLarge { span, .. }
            | YamlError::MultipleDocuments { span } => Some(span),
            _ => None,
        }
    }
}

/// What tag resolution needs from outside the file.
#[derive(Clone, Debug, Default)]
pub struct LoadContext {
    pub env: Env,
    /// Where a relative `!include` is looked for when it is not next to the including file.
    pub base_path: Option<PathBuf>,
    /// The git repository root, for `!repo-root`.
    pub repo_root: Option<PathBuf>,
    /// The working directory, for `!cwd` and `!exec`.
    pub cwd: Option<PathBuf>,
    /// Which functions this kind of file may use.
    pub functions: Functions,
}

/// The kind of file being read, which decides whether `!exec` runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Functions {
    /// A stack manifest (or anything else): `!exec` is kept as written, never run.
    #[default]
    Manifest,
    /// `atmos.yaml` and the files it is built from, where Atmos runs `!exec` at load time.
    Config,
}

/// Loads YAML files with one [`LoadContext`].
pub struct Loader<'a> {
    ctx: &'a LoadContext,
}

impl<'a> Loader<'a> {
    pub fn new(ctx: &'a LoadContext) -> Loader<'a> {
        Loader { ctx }
    }

    /// Reads and parses `path`. An empty file is a null node.
    pub fn load_file(&self, path: &Path) -> Result<Node, YamlError> {
        let src = read_text(path)?;
        self.parse(&src, Arc::from(path), &mut Includes::default())
    }

    /// Parses `src` as if it were the file `file`.
    pub fn load_str(&self, src: &str, file: &Path) -> Result<Node, YamlError> {
        self.parse(src, Arc::from(file), &mut Includes::default())
    }

    fn parse(&self, src: &str, file: Arc<Path>, includes: &mut Includes) -> Result<Node, YamlError> {
        let src = src.strip_prefix('\u{feff}').unwrap_or(src);
        let mut builder = Builder {
            loader: self,
            file: file.clone(),
            includes,
            stack: Vec::new(),
            anchors: HashMap::new(),
            docs: Vec::new(),
            doc_starts: Vec::new(),
            error: None,
            alias_nodes: 0,
        };
        let mut parser = Parser::new_from_str(src);
        if let Err(e) = parser.load(&mut builder, true) {
            // A structural error found while building wins over the scanner's follow-up error.
            if let Some(err) = builder.error.take() {
                return Err(err);
            }
            return Err(locate_syntax_error(src, &file, e.marker(), e.info(), &builder.stack));
        }
        if let Some(err) = builder.error.take() {
            return Err(err);
        }
        let mut docs = builder.docs;
        match docs.len() {
            0 => Ok(Node::new(Value::Null, Span::file_start(file))),
            1 => Ok(docs.pop().unwrap_or_else(Node::null)),
            _ => {
                // `---` followed by nothing is an empty trailing document; allow it.
                let real: Vec<usize> = (0..docs.len()).filter(|&i| !docs[i].is_null()).collect();
                if real.len() <= 1 {
                    Ok(docs.into_iter().find(|d| !d.is_null()).unwrap_or_else(Node::null))
                } else {
                    let span =
                        builder.doc_starts.get(real[1]).cloned().unwrap_or_else(|| Span::file_start(file.clone()));
                    Err(YamlError::MultipleDocuments { span })
                }
            }
        }
    }
}

/// Reads a file as UTF-8 text within the size limit: only a regular file, at most
/// [`MAX_FILE_BYTES`], enforced while reading (see [`crate::util::fs::read_regular`]). Every YAML read goes
/// through here: atmos.yaml, profiles, stack manifests and imports, and `!include`.
pub fn read_text(path: &Path) -> Result<String, YamlError> {
    use crate::util::fs::{BoundedReadError, read_regular};
    let bytes = read_regular(path, MAX_FILE_BYTES).map_err(|e| match e {
        BoundedReadError::Io(source) => YamlError::Read { path: path.to_path_buf(), source },
        BoundedReadError::NotRegular(kind) => YamlError::NotRegular { path: path.to_path_buf(), kind },
        BoundedReadError::TooLarge { size } => {
            YamlError::TooLarge { path: path.to_path_buf(), size, limit: MAX_FILE_BYTES }
        }
    })?;
    let line_col = |at: usize, bytes: &[u8]| {
        let before = &bytes[..at];
        let line = 1 + before.iter().filter(|b| **b == b'\n').count();
        let col = 1 + before.iter().rev().take_while(|b| **b != b'\n').count();
        (line, col)
    };
    // YAML allows tab, LF and CR among the C0 controls; a NUL would silently end the
    // parser's input, so every other control byte is refused with its location.
    let refused = |b: &u8| (*b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || *b == 0x7f;
    // A pass without an early exit (which the compiler vectorises) before the search.
    if bytes.chunks(256).any(|c| c.iter().fold(false, |bad, b| bad | refused(b)))
        && let Some(at) = bytes.iter().position(refused)
    {
        let (line, col) = line_col(at, &bytes);
        return Err(YamlError::ControlChar { path: path.to_path_buf(), line, col, byte: bytes[at] });
    }
    String::from_utf8(bytes).map_err(|e| {
        let (line, col) = line_col(e.utf8_error().valid_up_to(), e.as_bytes());
        YamlError::NotUtf8 { path: path.to_path_buf(), line, col }
    })
}

/// The scanner marks some errors far from their cause: a tab is reported at the start of
/// the value before it, and an unclosed `[`/`{` at the end of the file. Point at the cause.
fn locate_syntax_error(src: &str, file: &Arc<Path>, mark: &Marker, info: &str, open: &[Frame]) -> YamlError {
    let mut span = span_at(file, mark);
    let mut message = info.to_string();
    if info.contains("tab") {
        if let Some(rel) = src.get(mark.index().min(src.len())..).and_then(|rest| rest.find('\t')) {
            let at = mark.index() + rel;
            let before = &src[..at];
            let line = 1 + before.matches('\n').count();
            let col = 1 + before.chars().rev().take_while(|c| *c != '\n').count();
            span = Span::new(file.clone(), line as u32, col as u32);
            message = "a tab character where YAML needs spaces".into();
        }
    } else if (info.contains("simple key expect ':'")
        || info.contains("mapping values are not allowed")
        || info.contains("did not find expected key"))
        && let Some((line, col, key)) = key_without_colon(src, mark.line())
    {
        // `kind aws/assume-role` (a key without its `:`) reads as a plain scalar that runs
        // on into the next line, where the parser stops: the cause is the line before.
        message = format!("`{key}` has no `:` after it (the parser stopped at line {}: {info})", mark.line());
        span = Span::new(file.clone(), line as u32, col as u32);
    } else if mark.index() >= src.trim_end().len()
        && let Some(frame) = open.last()
    {
        let start = match frame {
            Frame::Seq { span, .. } | Frame::Map { span, .. } => span.clone(),
        };
        message = format!("{info} (the list or mapping opened at line {} is never closed)", start.line);
        span = start;
    }
    YamlError::Syntax { span, message }
}

/// The line before `line` (1-based), skipping blank and comment lines, when it looks like a
/// mapping key that lost its `:`: a plain word or two, no `:`, not a list item, not a
/// quoted or block scalar. Its line, column and text.
fn key_without_colon(src: &str, line: usize) -> Option<(usize, usize, String)> {
    let lines: Vec<&str> = src.lines().collect();
    let mut i = line.checked_sub(1)?;
    while i > 0 {
        i -= 1;
        let text = lines.get(i)?.trim_end();
        let trimmed = text.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let plain = !trimmed.contains(':')
            && !trimmed.starts_with(['-', '"', '\'', '[', '{', '|', '>', '&', '*', '!'])
            && !trimmed.ends_with(['|', '>'])
            && trimmed.split_whitespace().count() <= 3;
        return plain.then(|| (i + 1, text.len() - trimmed.len() + 1, trimmed.to_string()));
    }
    None
}

fn span_at(file: &Arc<Path>, mark: &Marker) -> Span {
    Span::new(file.clone(), mark.line().max(1) as u32, mark.col() as u32 + 1)
}

/// The `!include`s of one top-level load: the files being included (for cycles and depth)
/// and the bytes read so far (for [`MAX_INCLUDE_TOTAL_BYTES`]).
#[derive(Default)]
struct Includes {
    chain: Vec<PathBuf>,
    bytes: u64,
}

enum Frame {
    Seq {
        items: Vec<Node>,
        span: Span,
        tag: Option<Tag>,
        anchor: usize,
    },
    Map {
        map: Map,
        /// Values of `<<` merge keys, applied at the end for keys not set explicitly.
        merges: Vec<Node>,
        key: Option<(String, Span)>,
        span: Span,
        tag: Option<Tag>,
        anchor: usize,
    },
}

struct Builder<'l, 'c, 'i> {
    loader: &'l Loader<'c>,
    file: Arc<Path>,
    includes: &'i mut Includes,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    docs: Vec<Node>,
    /// Where each document starts, for "a second document starts here".
    doc_starts: Vec<Span>,
    error: Option<YamlError>,
    alias_nodes: usize,
}

impl MarkedEventReceiver for Builder<'_, '_, '_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.handle(ev, mark) {
            self.error = Some(e);
        }
    }
}

impl Builder<'_, '_, '_> {
    fn handle(&mut self, ev: Event, mark: Marker) -> Result<(), YamlError> {
        let span = span_at(&self.file, &mark);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let node = if self.expecting_key() {
                    Node::new(Value::Str(text), span)
                } else {
                    self.scalar(text, style, tag, span)?
                };
                self.push(node, anchor)
            }
            Event::SequenceStart(anchor, tag) => {
                self.check_depth(&span)?;
                self.stack.push(Frame::Seq { items: Vec::new(), span, tag, anchor });
                Ok(())
            }
            Event::MappingStart(anchor, tag) => {
                self.check_depth(&span)?;
                self.stack.push(Frame::Map { map: Map::default(), merges: Vec::new(), key: None, span, tag, anchor });
                Ok(())
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Seq { items, span, tag, anchor }) => {
                    let node = self.collection(Value::Seq(items), span, tag)?;
                    self.push(node, anchor)
                }
                _ => Err(YamlError::Syntax { span, message: "unbalanced sequence".into() }),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Map { mut map, merges, span, tag, anchor, .. }) => {
                    for merged in merges {
                        apply_merge_key(&mut map, merged, &span)?;
                    }
                    let node = self.collection(Value::Map(map), span, tag)?;
                    self.push(node, anchor)
                }
                _ => Err(YamlError::Syntax { span, message: "unbalanced mapping".into() }),
            },
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or_else(|| YamlError::Syntax {
                    span: span.clone(),
                    message: "alias to an unknown anchor".into(),
                })?;
                self.alias_nodes += node.count_nodes();
                if self.alias_nodes > MAX_ALIAS_NODES {
                    return Err(YamlError::AliasBomb { span });
                }
                self.push(node, 0)
            }
            Event::DocumentStart => {
                self.doc_starts.push(span);
                Ok(())
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => Ok(()),
        }
    }

    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    fn check_depth(&self, span: &Span) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError::TooDeep { span: span.clone() });
        }
        Ok(())
    }

    fn push(&mut self, mut node: Node, anchor: usize) -> Result<(), YamlError> {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { map, merges, key, .. }) => match key.take() {
                None => {
                    let Some(k) = node.scalar_string() else {
                        return Err(YamlError::Syntax {
                            span: node.span,
                            message: "a mapping key must be a plain value, not a list or mapping".into(),
                        });
                    };
                    *key = Some((k, node.span));
                }
                Some((k, key_span)) => {
                    if k == "<<" && node.tag.is_none() {
                        merges.push(node);
                        return Ok(());
                    }
                    // Collections point at their key's line, which is where a reader looks.
                    if matches!(node.value, Value::Map(_) | Value::Seq(_)) {
                        node.span = key_span.clone();
                    }
                    if let Some(first) = map.get(&k) {
                        return Err(YamlError::DuplicateKey { key: k, span: key_span, first: first.span.clone() });
                    }
                    map.insert(k, node);
                }
            },
        }
        Ok(())
    }

    fn collection(&mut self, value: Value, span: Span, tag: Option<Tag>) -> Result<Node, YamlError> {
        let mut node = Node::new(value, span);
        if let Some(tag) = tag {
            let name = tag_name(&tag);
            if !name.starts_with("!!") {
                node.tag = Some(Arc::from(name.as_str()));
            }
        }
        Ok(node)
    }

    fn scalar(&mut self, text: String, style: TScalarStyle, tag: Option<Tag>, span: Span) -> Result<Node, YamlError> {
        let Some(tag) = tag else {
            let value = if style == TScalarStyle::Plain { resolve_plain(&text) } else { Value::Str(text) };
            return Ok(Node::new(value, span));
        };
        let name = tag_name(&tag);
        let tag_err = |message: String| YamlError::Tag { span: span.clone(), message };
        let value = match name.as_str() {
            "!!str" | "!!binary" => Value::Str(text),
            "!!null" => Value::Null,
            "!!bool" | "!!int" | "!!float" => match resolve_plain(&text) {
                v @ (Value::Bool(_) | Value::Int(_) | Value::Float(_)) => v,
                _ => return Err(tag_err(format!("`{text}` is not a valid {name} value"))),
            },
            "!env" => return Ok(self.env_tag(&text, span)),
            "!include" | "!include.raw" => {
                return self.include_tag(&text, name == "!include.raw", span);
            }
            "!repo-root" | "!git.root" => match (&self.loader.ctx.repo_root, text.trim()) {
                (Some(root), _) => Value::Str(root.display().to_string()),
                (None, default) if !default.is_empty() => Value::Str(default.to_string()),
                (None, _) => {
                    return Err(tag_err(format!("`{name}` is used outside a git repository and has no default")));
                }
            },
            "!cwd" => Value::Str(self.function(&name, &span, functions::cwd(self.loader.ctx.cwd.as_deref(), &text))?),
            "!random" => Value::Int(self.function(&name, &span, functions::random(&text))?),
            "!git.sha" | "!git.ref" | "!git.branch" | "!git.url" | "!git.host" | "!git.owner" | "!git.name"
            | "!git.repository" => match functions::git(&name, self.loader.ctx.repo_root.as_deref()) {
                Ok(v) => Value::Str(v),
                Err(_) if !text.trim().is_empty() => Value::Str(text.trim().to_string()),
                Err(e) => return Err(self.function_error(&name, &span, e)),
            },
            "!exec" if self.loader.ctx.functions == Functions::Config => return self.exec_tag(&text, span),
            _ => {
                // Kept as written; resolved by Atmos at run time, or an error where we need it.
                let mut node = Node::new(Value::Str(text), span);
                node.tag = Some(Arc::from(name.as_str()));
                return Ok(node);
            }
        };
        Ok(Node::new(value, span))
    }

    fn function<T>(&self, tag: &str, span: &Span, result: Result<T, String>) -> Result<T, YamlError> {
        result.map_err(|e| self.function_error(tag, span, e))
    }

    fn function_error(&self, tag: &str, span: &Span, message: String) -> YamlError {
        let hint = match tag {
            "!random" => "write `!random`, `!random MAX` or `!random MIN MAX` with integers, MIN below MAX".into(),
            "!cwd" => "`!cwd` takes an optional path relative to the working directory".into(),
            "!exec" => "run the command in a shell to see why it fails; its stderr is shown above".into(),
            _ => format!("give a default after `{tag}` for when git cannot say, e.g. `{tag} unknown`"),
        };
        YamlError::Function { span: span.clone(), tag: tag.to_string(), message, hint }
    }

    /// `!exec CMD`: runs only from a file that is the user's and writable by no one else.
    fn exec_tag(&self, text: &str, span: Span) -> Result<Node, YamlError> {
        let command = text.trim();
        if command.is_empty() {
            return Err(self.function_error("!exec", &span, "no command given".into()));
        }
        if let Err(why) = crate::util::fs::check_user_file(&self.file) {
            return Err(YamlError::Function {
                span,
                tag: "!exec".into(),
                message: format!("tfauth does not run a command from a file it cannot trust: {why}"),
                hint: "`!exec` runs only from configuration files you own that nobody else can write \
                       (chmod go-w); or replace it with a plain value"
                    .into(),
            });
        }
        let out = self.function(
            "!exec",
            &span,
            functions::exec(command, self.loader.ctx.cwd.as_deref(), &self.loader.ctx.env),
        )?;
        // Atmos decodes the output as JSON when it is JSON, else keeps the text.
        let node = match serde_json::from_str::<serde_json::Value>(&out) {
            Ok(json) => {
                let mut n = super::emit::json_to_node(&json);
                n.set_span_deep(&span);
                n
            }
            Err(_) => Node::new(Value::Str(out), span),
        };
        Ok(node)
    }

    fn env_tag(&self, text: &str, span: Span) -> Node {
        let text = text.trim();
        let (name, default) = match text.split_once(char::is_whitespace) {
            Some((n, d)) => (n, Some(unquote(d.trim()))),
            None => (text, None),
        };
        match (self.loader.ctx.env.get_raw(name), default) {
            (Some(v), _) => Node::new(Value::Str(v.to_string()), span),
            (None, Some(d)) => Node::new(Value::Str(d.to_string()), span),
            (None, None) => {
                let mut node = Node::new(Value::Null, span);
                node.tag = Some(Arc::from(format!("!env {name}").as_str()));
                node
            }
        }
    }

    fn include_tag(&mut self, text: &str, raw: bool, span: Span) -> Result<Node, YamlError> {
        let text = text.trim();
        let (target, query) = match text.split_once(char::is_whitespace) {
            Some((t, q)) => (t, Some(q.trim())),
            None => (text, None),
        };
        let fail = |source: YamlError| YamlError::Include { span: span.clone(), source: Box::new(source) };
        if target.contains("://") {
            return Err(YamlError::Tag {
                span: span.clone(),
                message: format!("`!include {target}`: remote includes are not supported by tfauth"),
            });
        }
        let path = self.find_include(target);
        if self.includes.chain.contains(&path) || self.includes.chain.len() >= MAX_INCLUDE_DEPTH {
            return Err(YamlError::Tag {
                span,
                message: format!("`!include {target}` includes itself (directly or through other files)"),
            });
        }
        // Only a regular file, at most MAX_FILE_BYTES, like every other YAML read; and all of
        // one file's includes together at most MAX_INCLUDE_TOTAL_BYTES.
        let src = read_text(&path).map_err(fail)?;
        self.includes.bytes += src.len() as u64;
        if self.includes.bytes > MAX_INCLUDE_TOTAL_BYTES {
            return Err(YamlError::IncludesTooLarge { span, limit: MAX_INCLUDE_TOTAL_BYTES });
        }
        let is_yaml = matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"));
        let mut node = if raw || !is_yaml {
            Node::new(Value::Str(src), span.clone())
        } else {
            self.includes.chain.push(self.file.to_path_buf());
            let loaded = self.loader.parse(&src, Arc::from(path.as_path()), self.includes);
            self.includes.chain.pop();
            loaded.map_err(fail)?
        };
        if let Some(query) = query {
            node = query_path(&node, query).ok_or_else(|| YamlError::Tag {
                span: span.clone(),
                message: format!(
                    "`!include {target} {query}`: tfauth supports only `.key.key` queries, and this one found nothing"
                ),
            })?;
        }
        node.span = span;
        Ok(node)
    }

    fn find_include(&self, target: &str) -> PathBuf {
        let p = Path::new(target);
        if p.is_absolute() {
            return p.to_path_buf();
        }
        let beside = self.file.parent().unwrap_or(Path::new(".")).join(p);
        if beside.exists() {
            return beside;
        }
        match &self.loader.ctx.base_path {
            Some(base) if base.join(p).exists() => base.join(p),
            _ => beside,
        }
    }
}

fn apply_merge_key(map: &mut Map, merged: Node, span: &Span) -> Result<(), YamlError> {
    let sources: Vec<Node> = match merged.value {
        Value::Map(_) => vec![merged],
        Value::Seq(items) => items,
        _ => {
            return Err(YamlError::Syntax {
                span: span.clone(),
                message: "`<<` must merge a mapping or a list of mappings".into(),
            });
        }
    };
    for source in sources {
        let Value::Map(entries) = source.value else {
            return Err(YamlError::Syntax { span: span.clone(), message: "`<<` must merge mappings".into() });
        };
        for (k, v) in entries {
            map.entry(k).or_insert(v);
        }
    }
    Ok(())
}

fn query_path(node: &Node, query: &str) -> Option<Node> {
    let path = query.strip_prefix('.')?;
    if path.is_empty() {
        return Some(node.clone());
    }
    let keys: Vec<&str> = path.split('.').collect();
    node.get_path(&keys).cloned()
}

fn tag_name(tag: &Tag) -> String {
    match tag.handle.as_str() {
        "!" => format!("!{}", tag.suffix),
        "!!" | "tag:yaml.org,2002:" => format!("!!{}", tag.suffix),
        h => format!("{h}{}", tag.suffix),
    }
}

fn unquote(s: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

/// Types a plain scalar by the YAML 1.2 core schema (as Go's yaml.v3 does for Atmos).
pub fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if let Some(hex) = s.strip_prefix("0x")
        && !hex.is_empty()
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return i64::from_str_radix(hex, 16).map_or_else(|_| Value::Str(s.into()), Value::Int);
    }
    if let Some(oct) = s.strip_prefix("0o")
        && !oct.is_empty()
        && oct.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return i64::from_str_radix(oct, 8).map_or_else(|_| Value::Str(s.into()), Value::Int);
    }
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => s.parse::<f64>().map_or_else(|_| Value::Str(s.into()), Value::Float),
        };
    }
    if is_core_float(unsigned)
        && let Ok(f) = s.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(s.to_string())
}

/// `( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`, sign already removed.
fn is_core_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let int_digits = digits(&mut i);
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_digits = digits(&mut i);
        if int_digits == 0 && frac_digits == 0 {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(src: &str) -> Result<Node, YamlError> {
        let ctx = LoadContext { env: Env::from_pairs([("SET", "value"), ("EMPTY", "")]), ..Default::default() };
        Loader::new(&ctx).load_str(src, Path::new("/t/test.yaml"))
    }

    #[test]
    fn a_key_without_its_colon_is_reported_at_its_own_line() {
        let syntax = |src: &str| match load(src).unwrap_err() {
            YamlError::Syntax { span, message } => (span.line, span.col, message),
            other => panic!("{other:?}"),
        };
        // The scanner stops on the next line; the cause is the line before.
        let (line, col, message) = syntax("a:\n  b:\n    kind aws/assume-role\n    via:\n      x: 1\n");
        assert_eq!((line, col), (3, 5), "{message}");
        assert!(
            message.starts_with("`kind aws/assume-role` has no `:` after it (the parser stopped at line 4"),
            "{message}"
        );
        // A comment and a blank line between them change nothing.
        for src in ["vpc:\n  vars\n\n  # the image\n    image: app:main\n", "vpc:\n  vars\n  image: app:main\n"] {
            let (line, _, message) = syntax(src);
            assert_eq!(line, 2, "{message}");
            assert!(message.starts_with("`vars` has no `:` after it"), "{message}");
        }
        // A real `a: b: c` stays where it is.
        let (line, _, message) = syntax("top:\n  a: b: c\n");
        assert_eq!(line, 2, "{message}");
        assert!(!message.contains("has no `:`"), "{message}");
    }

    #[test]
    fn core_schema_scalars() {
        let cases = [
            ("1", Value::Int(1)),
            ("-7", Value::Int(-7)),
            ("0x1f", Value::Int(31)),
            ("0o17", Value::Int(15)),
            ("1.5", Value::Float(1.5)),
            ("1e3", Value::Float(1000.0)),
            ("true", Value::Bool(true)),
            ("False", Value::Bool(false)),
            ("~", Value::Null),
            ("yes", Value::Str("yes".into())),
            ("1.2.3", Value::Str("1.2.3".into())),
            ("123456789012", Value::Int(123456789012)),
            ("e3", Value::Str("e3".into())),
            (".", Value::Str(".".into())),
        ];
        for (src, want) in cases {
            assert_eq!(resolve_plain(src), want, "{src}");
        }
    }

    #[test]
    fn quoted_scalars_stay_strings() {
        let n = load("a: '1'\nb: \"true\"\nc: 1\n").unwrap();
        assert_eq!(n.get("a").unwrap().value, Value::Str("1".into()));
        assert_eq!(n.get("b").unwrap().value, Value::Str("true".into()));
        assert_eq!(n.get("c").unwrap().value, Value::Int(1));
    }

    #[test]
    fn spans_point_at_lines() {
        let n = load("a:\n  b: 1\n  c:\n    - x\n").unwrap();
        assert_eq!(n.get_path(&["a", "b"]).unwrap().span.line, 2);
        assert_eq!(n.get_path(&["a", "c"]).unwrap().span.line, 3, "collections point at their key");
        assert_eq!(n.get_path(&["a", "c"]).unwrap().as_seq().unwrap()[0].span.line, 4);
    }

    #[test]
    fn env_tag_with_and_without_default() {
        let n = load("a: !env SET\nb: !env UNSET fallback value\nc: !env UNSET\nd: !env EMPTY x\n").unwrap();
        assert_eq!(n.get("a").unwrap().as_str(), Some("value"));
        assert_eq!(n.get("b").unwrap().as_str(), Some("fallback value"));
        let c = n.get("c").unwrap();
        assert!(c.is_null());
        assert_eq!(c.tag.as_deref(), Some("!env UNSET"));
        assert_eq!(n.get("d").unwrap().as_str(), Some(""), "set-but-empty is a value");
    }

    #[test]
    fn unknown_tags_are_kept() {
        let n = load("a: !terraform.output vpc .id\nb: !append [1]\n").unwrap();
        let a = n.get("a").unwrap();
        assert_eq!(a.tag.as_deref(), Some("!terraform.output"));
        assert_eq!(a.as_str(), Some("vpc .id"));
        assert_eq!(n.get("b").unwrap().tag.as_deref(), Some("!append"));
        assert_eq!(n.find_unresolved_tag().unwrap().0, "!terraform.output");
    }

    fn config_ctx(dir: &Path) -> LoadContext {
        LoadContext {
            env: Env::from_pairs([("PATH", "/usr/bin:/bin"), ("WHO", "acme")]),
            cwd: Some(dir.to_path_buf()),
            functions: Functions::Config,
            ..Default::default()
        }
    }

    #[test]
    fn exec_runs_only_in_config_files_the_user_owns() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("atmos.yaml");
        std::fs::write(&file, "a: !exec echo \"$WHO\"\nb: !exec echo '[1,2]'\nc: !exec printf '7\\n\\n'\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let ctx = config_ctx(t.path());
        let n = Loader::new(&ctx).load_file(&file).unwrap();
        assert_eq!(n.get("a").unwrap().as_str(), Some("acme"));
        assert_eq!(n.get("b").unwrap().as_seq().unwrap()[1].value, Value::Int(2), "JSON output is decoded");
        assert_eq!(n.get("c").unwrap().value, Value::Int(7), "trailing newlines go");
        // A stack manifest keeps `!exec` as written and runs nothing.
        let manifest = LoadContext { functions: Functions::Manifest, ..ctx.clone() };
        let n = Loader::new(&manifest).load_file(&file).unwrap();
        assert_eq!(n.get("a").unwrap().tag.as_deref(), Some("!exec"));
        // A file others can write runs nothing either.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o646)).unwrap();
        let err = Loader::new(&ctx).load_file(&file).unwrap_err();
        assert!(err.to_string().contains("cannot trust") && err.to_string().contains("writable"), "{err}");
        assert!(err.hint().unwrap().contains("chmod go-w"));
        // Nor does a file in a directory others can write.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = Loader::new(&ctx).load_file(&file).unwrap_err();
        assert!(err.to_string().contains("writable by other users"), "{err}");
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        // Text that is not a file on disk cannot be vouched for.
        assert!(Loader::new(&ctx).load_str("a: !exec echo hi\n", &t.path().join("nope.yaml")).is_err());
    }

    #[test]
    fn exec_failure_is_located() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("atmos.yaml");
        std::fs::write(&file, "x: 1\na: !exec exit 4\n").unwrap();
        let err = Loader::new(&config_ctx(t.path())).load_file(&file).unwrap_err();
        assert_eq!(err.span().unwrap().line, 2);
        assert!(err.to_string().contains("`!exec` failed: exited with status 4"), "{err}");
    }

    #[test]
    fn cwd_random_and_git_functions() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join(".git")).unwrap();
        std::fs::write(t.path().join(".git/HEAD"), "ref: refs/heads/feature\n").unwrap();
        let ctx = LoadContext { repo_root: Some(t.path().to_path_buf()), ..config_ctx(t.path()) };
        let src = "a: !cwd\nb: !cwd sub/dir\nc: !random 10 12\nd: !git.branch\ne: !git.sha none\nf: !git.root\n";
        let n = Loader::new(&ctx).load_str(src, &t.path().join("x.yaml")).unwrap();
        let dir = t.path().display().to_string();
        assert_eq!(n.get("a").unwrap().as_str(), Some(dir.as_str()));
        assert_eq!(n.get("b").unwrap().as_str(), Some(t.path().join("sub/dir").display().to_string().as_str()));
        assert!(matches!(n.get("c").unwrap().value, Value::Int(10..=12)));
        assert_eq!(n.get("d").unwrap().as_str(), Some("feature"));
        assert_eq!(n.get("e").unwrap().as_str(), Some("none"), "the default when HEAD names no commit");
        assert_eq!(n.get("f").unwrap().as_str(), Some(dir.as_str()));
        let err = Loader::new(&ctx).load_str("a: 1\nb: !random 5 1\n", Path::new("/x.yaml")).unwrap_err();
        assert_eq!(err.span().unwrap().line, 2);
        assert!(err.to_string().contains("must be less than"), "{err}");
    }

    #[test]
    fn unset_is_kept_for_the_merge() {
        let n = load("a: !unset\n").unwrap();
        assert!(n.get("a").unwrap().is_unset());
    }

    #[test]
    fn duplicate_keys_are_errors_with_both_lines() {
        let err = load("a: 1\nb: 2\na: 3\n").unwrap_err();
        match err {
            YamlError::DuplicateKey { key, span, first } => {
                assert_eq!(key, "a");
                assert_eq!(span.line, 3);
                assert_eq!(first.line, 1);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn merge_keys_and_aliases() {
        let n = load("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n").unwrap();
        assert_eq!(n.get_path(&["d", "x"]).unwrap().value, Value::Int(1));
        assert_eq!(n.get_path(&["d", "y"]).unwrap().value, Value::Int(3));
    }

    #[test]
    fn billion_laughs_is_stopped() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            src.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        assert!(matches!(load(&src), Err(YamlError::AliasBomb { .. })));
    }

    #[test]
    fn deep_nesting_is_stopped() {
        let src = "[".repeat(MAX_DEPTH + 5) + &"]".repeat(MAX_DEPTH + 5);
        assert!(matches!(load(&src), Err(YamlError::TooDeep { .. })));
    }

    #[test]
    fn syntax_errors_have_lines() {
        let err = load("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        let YamlError::Syntax { span, .. } = err else { panic!("{err:?}") };
        assert!(span.line >= 2, "{span}");
    }

    #[test]
    fn empty_and_comment_only_files_are_null() {
        assert!(load("").unwrap().is_null());
        assert!(load("# nothing\n").unwrap().is_null());
    }

    #[test]
    fn multiple_documents_are_refused() {
        assert!(matches!(load("a: 1\n---\nb: 2\n"), Err(YamlError::MultipleDocuments { .. })));
        assert!(load("---\na: 1\n").is_ok());
    }

    #[test]
    fn include_yaml_with_query_text_and_repo_root() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path();
        std::fs::write(dir.join("shared.yaml"), "a:\n  b: [1, 2]\n").unwrap();
        std::fs::write(dir.join("policy.json"), "{\"x\": true}").unwrap();
        std::fs::write(dir.join("notes.txt"), "plain text\n").unwrap();
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/loop.yaml"), "me: !include loop.yaml\n").unwrap();
        let ctx = LoadContext { repo_root: Some(dir.to_path_buf()), ..Default::default() };
        let src = "whole: !include shared.yaml\npart: !include shared.yaml .a.b\njson: !include policy.json\ntext: !include notes.txt\nroot: !repo-root\n";
        let n = Loader::new(&ctx).load_str(src, &dir.join("main.yaml")).unwrap();
        assert_eq!(crate::yaml::emit::to_json(n.get("whole").unwrap()).to_string(), r#"{"a":{"b":[1,2]}}"#);
        assert_eq!(crate::yaml::emit::to_json(n.get("part").unwrap()).to_string(), "[1,2]");
        assert_eq!(n.get_path(&["json", "x"]).unwrap().as_bool(), Some(true));
        assert_eq!(n.get("text").unwrap().as_str(), Some("plain text\n"));
        assert_eq!(n.get("root").unwrap().as_str(), Some(dir.to_str().unwrap()));
        assert_eq!(n.get("part").unwrap().span.line, 2, "included values point at the !include");
        let err = Loader::new(&ctx).load_file(&dir.join("sub/loop.yaml")).unwrap_err();
        assert!(err.to_string().contains("!include") || format!("{err:?}").contains("includes itself"), "{err:?}");
        let no_repo = LoadContext::default();
        assert!(Loader::new(&no_repo).load_str("r: !repo-root\n", Path::new("/x.yaml")).is_err());
        let n = Loader::new(&no_repo).load_str("r: !repo-root /fallback\n", Path::new("/x.yaml")).unwrap();
        assert_eq!(n.get("r").unwrap().as_str(), Some("/fallback"));
    }

    #[test]
    fn includes_of_devices_fifos_and_huge_files_fail_fast_with_their_line() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path();
        let fifo = dir.join("pipe.yaml");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let huge = dir.join("huge.json");
        std::fs::write(&huge, vec![b' '; MAX_FILE_BYTES as usize + 1]).unwrap();
        let ctx = LoadContext::default();
        type Check = fn(&YamlError) -> bool;
        let cases: [(&str, Check); 5] = [
            ("/dev/zero", |e| matches!(e, YamlError::NotRegular { kind: "a character device", .. })),
            ("/dev/zero .a", |e| matches!(e, YamlError::NotRegular { .. })),
            ("pipe.yaml", |e| matches!(e, YamlError::NotRegular { kind: "a FIFO (named pipe)", .. })),
            ("huge.json", |e| matches!(e, YamlError::TooLarge { .. })),
            (".", |e| matches!(e, YamlError::NotRegular { kind: "a directory", .. })),
        ];
        for (target, want) in cases {
            for tag in ["!include", "!include.raw"] {
                let started = std::time::Instant::now();
                let src = format!("a: 1\nb: {tag} {target}\n");
                let err = Loader::new(&ctx).load_str(&src, &dir.join("main.yaml")).unwrap_err();
                assert!(started.elapsed() < std::time::Duration::from_secs(1), "{target}: {:?}", started.elapsed());
                let YamlError::Include { span, source } = &err else { panic!("{target}: {err:?}") };
                assert_eq!((span.line, &*span.file), (2, dir.join("main.yaml").as_path()), "{target}");
                assert!(want(source), "{target}: {source:?}");
                assert!(err.hint().is_some_and(|h| h.contains("regular file") || h.contains("split")), "{err:?}");
            }
        }
    }

    #[test]
    fn many_includes_of_one_big_file_are_bounded_together() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path();
        std::fs::write(dir.join("big.txt"), vec![b'x'; (MAX_FILE_BYTES / 2) as usize]).unwrap();
        let n = (MAX_INCLUDE_TOTAL_BYTES / (MAX_FILE_BYTES / 2)) as usize + 1;
        let src: String = (0..n).map(|i| format!("k{i}: !include big.txt\n")).collect();
        let err = Loader::new(&LoadContext::default()).load_str(&src, &dir.join("main.yaml")).unwrap_err();
        let YamlError::IncludesTooLarge { span, .. } = &err else { panic!("{err:?}") };
        assert_eq!(span.line as usize, n);
        let ok: String = (0..n - 1).map(|i| format!("k{i}: !include big.txt\n")).collect();
        assert!(Loader::new(&LoadContext::default()).load_str(&ok, &dir.join("main.yaml")).is_ok());
    }

    #[test]
    fn control_bytes_are_refused_with_their_location() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x.yaml");
        std::fs::write(&p, b"a: 1\nb: x\x00y\n").unwrap();
        match read_text(&p) {
            Err(YamlError::ControlChar { line, col, byte, .. }) => assert_eq!((line, col, byte), (2, 5, 0)),
            other => panic!("{other:?}"),
        }
    }
}
