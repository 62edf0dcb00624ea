//! Evaluator for Atmos stack name templates (`stacks.name_template` in
//! `atmos.yaml`).
//!
//! Atmos names each stack by evaluating a Go `text/template` (with the Sprig
//! functions) over the stack's merged configuration, for example
//! `{{ .vars.tenant }}-{{ .vars.environment }}-{{ .vars.stage }}`. To find
//! stacks by name without running Go, we evaluate the same templates here. A
//! [`Template`] is parsed once and rendered once per stack manifest (thousands
//! of times), so rendering walks a pre-built tree: no re-parsing, no regexes,
//! and values are borrowed from the context instead of copied where possible.
//!
//! # Supported subset
//!
//! * literal text, `{{ pipeline }}` actions, trim markers `{{- ` and ` -}}`,
//!   and comments `{{/* ... */}}`;
//! * fields `.a.b.c`, `.` (the current value) and `$` / `$.a.b` (the root);
//! * literals: `"..."` strings with Go escapes, raw `` `...` `` strings,
//!   decimal integers, `true` and `false`;
//! * pipelines `x | f a` (the piped value becomes the *last* argument, as in
//!   Go) and parenthesised sub-expressions such as `(lower .vars.x)`;
//! * `if` / `else if` / `else` / `end` and `with` / `else with` / `else` /
//!   `end`, with Go's truthiness (false, 0, "", null, empty map or list are
//!   false);
//! * the functions `lower upper title trim trimPrefix trimSuffix replace
//!   default printf index eq ne and or not empty coalesce quote join`, with
//!   Sprig's names and argument order (`printf` knows `%s %d %v %%`).
//!
//! Everything else (`range`, `define`, `template`, `block`, variables, other
//! functions, floating-point literals, ...) is rejected by [`Template::parse`]
//! with the column where it appears.
//!
//! # Missing keys
//!
//! As in Atmos (`missingkey=error`), printing or otherwise using a field that
//! is absent or null fails with [`TemplateError::MissingKey`]. Testing one is
//! fine: `if` and `with` conditions and the functions `default`, `empty`,
//! `coalesce`, `not`, `and` and `or` treat a missing value as empty.
//!
//! Where Go would print a placeholder such as `%!d(string=x)` or `<no value>`,
//! this evaluator returns an error instead, because such output is never a
//! useful stack name.
//!
//! The module does no I/O: it only turns a template string plus a JSON value
//! into a string.

use std::borrow::Cow;

use serde_json::{Number, Value};

/// Deepest nesting of `if`/`with` blocks (including `else if` chains) and of
/// parentheses; bounds recursion on hostile input.
const MAX_DEPTH: usize = 64;

/// White space as Go's template lexer defines it.
const SPACE: [char; 4] = [' ', '\t', '\r', '\n'];

/// Go template words that stack name templates do not support.
const UNSUPPORTED: [&str; 7] = ["range", "define", "template", "block", "break", "continue", "nil"];

/// Words that may only start an action.
const KEYWORDS: [&str; 4] = ["if", "else", "end", "with"];

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/// A parsed stack name template. Parse once with [`Template::parse`], then
/// call [`Template::render`] for each stack.
#[derive(Debug, Clone)]
pub struct Template {
    /// The source, kept for error messages.
    src: Box<str>,
    nodes: Vec<Node>,
}

/// Why a template could not be parsed or rendered.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum TemplateError {
    /// The template is malformed or uses something unsupported. `column` is
    /// the 1-based column (counted in characters) where the problem is and
    /// `message` says what it is, e.g. "unclosed action: ...", displayed as
    /// "unclosed action: ... (at column 14)". For templates spanning several
    /// lines the message ends with "on line N".
    #[error("{message} (at column {column})")]
    Parse { column: usize, message: String },
    /// A field path that is absent (or null) in ctx, e.g. "vars.tenant".
    #[error("the template reads `.{path}`, which is not set")]
    MissingKey { path: String },
    /// Rendering failed for another reason (a value of the wrong type, a map
    /// printed, ...); the message names the action or function and its column.
    #[error("{message}")]
    Render { message: String },
}

impl Template {
    /// Parses a Go text/template source.
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let items = scan(src)?;
        let mut parser = Parser { src, items: items.into_iter(), depth: 0 };
        let (nodes, stop) = parser.list()?;
        match stop {
            Stop::Eof => Ok(Template { src: src.into(), nodes }),
            Stop::End { pos } => Err(parse_error(src, pos, "`{{ end }}` has no matching `{{ if }}` or `{{ with }}`")),
            Stop::Else { pos, .. } => {
                Err(parse_error(src, pos, "`{{ else }}` has no matching `{{ if }}` or `{{ with }}`"))
            }
        }
    }

    /// Renders over `ctx` (a JSON object like
    /// `{"vars": {...}, "settings": {...}, "env": {...}}`).
    pub fn render(&self, ctx: &Value) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(self.src.len());
        let renderer = Renderer { src: &self.src, root: ctx };
        renderer.nodes(&self.nodes, &Val::Ref(ctx, Cow::Borrowed("")), &mut out)?;
        Ok(out)
    }

    /// The field paths the template reads, e.g. `["vars.tenant", "vars.stage"]`,
    /// in order of first appearance, for messages. Fields read inside `with`
    /// are resolved against the `with` value when that is a plain field;
    /// `index X "key"` with literal keys counts as reading `X.key`.
    pub fn fields(&self) -> Vec<String> {
        let mut out = Vec::new();
        collect_nodes(&self.nodes, Some(""), &mut out);
        out
    }
}

// ---------------------------------------------------------------------------
// Syntax tree
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Print { pipe: Pipeline, span: Span },
    Cond(Box<Cond>),
}

/// An `if` or `with` block; `else if` chains nest in `otherwise`.
#[derive(Debug, Clone)]
struct Cond {
    kind: CondKind,
    pipe: Pipeline,
    then: Vec<Node>,
    otherwise: Vec<Node>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CondKind {
    If,
    With,
}

impl CondKind {
    fn word(self) -> &'static str {
        match self {
            CondKind::If => "if",
            CondKind::With => "with",
        }
    }
}

/// Byte offsets of a whole action, `{{` through `}}`.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

/// `head | tail[0] | tail[1] ...`; only functions can follow a `|`.
#[derive(Debug, Clone)]
struct Pipeline {
    head: Command,
    tail: Vec<Call>,
}

#[derive(Debug, Clone)]
enum Command {
    Operand(Expr),
    Call(Call),
}

#[derive(Debug, Clone)]
struct Call {
    info: &'static FuncInfo,
    args: Vec<Expr>,
    /// Whether a piped value is appended as the last argument.
    piped: bool,
    pos: usize,
}

#[derive(Debug, Clone)]
enum Expr {
    Field(Field),
    Lit(Value),
    Sub(Box<Pipeline>),
}

/// `.a.b` (relative to dot), `$.a.b` (relative to the root), `.` or `$`.
#[derive(Debug, Clone)]
struct Field {
    root: bool,
    keys: Vec<String>,
    /// `keys` joined with dots, precomputed for messages.
    path: String,
}

// ---------------------------------------------------------------------------
// Functions
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Lower,
    Upper,
    Title,
    Trim,
    TrimPrefix,
    TrimSuffix,
    Replace,
    Default,
    Printf,
    Index,
    Eq,
    Ne,
    And,
    Or,
    Not,
    Empty,
    Coalesce,
    Quote,
    Join,
}

#[derive(Debug)]
struct FuncInfo {
    name: &'static str,
    func: Func,
    min: usize,
    max: Option<usize>,
    usage: &'static str,
}

const fn func(name: &'static str, func: Func, min: usize, max: Option<usize>, usage: &'static str) -> FuncInfo {
    FuncInfo { name, func, min, max, usage }
}

const FUNCS: &[FuncInfo] = &[
    func("lower", Func::Lower, 1, Some(1), "lower STRING"),
    func("upper", Func::Upper, 1, Some(1), "upper STRING"),
    func("title", Func::Title, 1, Some(1), "title STRING"),
    func("trim", Func::Trim, 1, Some(1), "trim STRING"),
    func("trimPrefix", Func::TrimPrefix, 2, Some(2), "trimPrefix PREFIX STRING"),
    func("trimSuffix", Func::TrimSuffix, 2, Some(2), "trimSuffix SUFFIX STRING"),
    func("replace", Func::Replace, 3, Some(3), "replace OLD NEW STRING"),
    func("default", Func::Default, 1, Some(2), "default DEFAULT VALUE"),
    func("printf", Func::Printf, 1, None, "printf FORMAT ARGS..."),
    func("index", Func::Index, 1, None, "index MAP KEY..."),
    func("eq", Func::Eq, 2, None, "eq A B..."),
    func("ne", Func::Ne, 2, Some(2), "ne A B"),
    func("and", Func::And, 1, None, "and A B..."),
    func("or", Func::Or, 1, None, "or A B..."),
    func("not", Func::Not, 1, Some(1), "not VALUE"),
    func("empty", Func::Empty, 1, Some(1), "empty VALUE"),
    func("coalesce", Func::Coalesce, 1, None, "coalesce A B..."),
    func("quote", Func::Quote, 1, None, "quote VALUE..."),
    func("join", Func::Join, 2, Some(2), "join SEP LIST"),
];

fn lookup(name: &str) -> Option<&'static FuncInfo> {
    FUNCS.iter().find(|f| f.name == name)
}

/// Message for an identifier that is neither a function nor usable here.
fn ident_message(name: &str) -> String {
    if UNSUPPORTED.contains(&name) {
        return format!(
            "`{name}` is not supported in stack name templates \
             (only `if`, `else`, `with` and `end` blocks are)"
        );
    }
    if KEYWORDS.contains(&name) {
        return format!("`{name}` must be the first word of its action, like `{{{{ {name} ... }}}}`");
    }
    let mut msg = format!("unknown function `{name}`");
    if let Some(close) = suggest(name) {
        msg.push_str(&format!(" (did you mean `{close}`?)"));
    }
    let names: Vec<&str> = FUNCS.iter().map(|f| f.name).collect();
    msg.push_str("; stack name templates support: ");
    msg.push_str(&names.join(", "));
    msg
}

/// The known function whose name is closest to `name`, if any is close.
fn suggest(name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase();
    let limit = if name.chars().count() <= 4 { 1 } else { 2 };
    FUNCS
        .iter()
        .map(|f| (edit_distance(&lower, &f.name.to_lowercase()), f.name))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row.first().copied().unwrap_or(0);
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let up = row.get(j + 1).copied().unwrap_or(0);
            let left = row.get(j).copied().unwrap_or(0);
            let best = (diag + usize::from(ca != *cb)).min(up + 1).min(left + 1);
            diag = up;
            if let Some(cell) = row.get_mut(j + 1) {
                *cell = best;
            }
        }
    }
    row.last().copied().unwrap_or(0)
}

// ---------------------------------------------------------------------------
// Errors and positions
// ---------------------------------------------------------------------------

/// 1-based line and column (in characters) of byte offset `pos`.
fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let before = src.get(..pos).unwrap_or(src);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before.get(line_start..).unwrap_or("").chars().count() + 1;
    (line, column)
}

fn parse_error(src: &str, pos: usize, message: impl Into<String>) -> TemplateError {
    let (line, column) = line_col(src, pos);
    let message = message.into();
    let message = if line > 1 { format!("line {line}: {message}") } else { message };
    TemplateError::Parse { column, message }
}

/// "column 7", or "line 2, column 7" past the first line.
fn location(src: &str, pos: usize) -> String {
    match line_col(src, pos) {
        (1, column) => format!("column {column}"),
        (line, column) => format!("line {line}, column {column}"),
    }
}

/// The source of an action for messages, shortened if very long.
fn snippet(src: &str, span: Span) -> String {
    let text = src.get(span.start..span.end).unwrap_or("");
    if text.chars().count() <= 60 {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(57).collect();
    short.push_str("...");
    short
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

// ---------------------------------------------------------------------------
// Scanner: splits text from actions and lexes actions into tokens
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// `.`, `.a.b`, `$` or `$.a.b`.
    Field {
        root: bool,
        keys: Vec<String>,
    },
    Ident(String),
    Lit(Value),
    Pipe,
    LParen,
    RParen,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    pos: usize,
    end: usize,
}

enum Item {
    Text(String),
    Action { span: Span, toks: Vec<Token> },
}

fn is_space(c: char) -> bool {
    SPACE.contains(&c)
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Length in bytes of the identifier at the start of `s` (0 if none).
fn ident_len(s: &str) -> usize {
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, c)) if is_ident_start(c) => {}
        _ => return 0,
    }
    chars.find(|&(_, c)| !is_ident_char(c)).map_or(s.len(), |(i, _)| i)
}

/// `{{` followed by `- ` trims the text before the action.
fn has_left_trim(after_open: &str) -> bool {
    matches!(after_open.as_bytes(), [b'-', c, ..] if is_space(char::from(*c)))
}

/// ` -}}` closes an action and trims the text after it.
fn has_right_trim(s: &str) -> bool {
    matches!(s.as_bytes(), [c, b'-', b'}', b'}', ..] if is_space(char::from(*c)))
}

fn push_text(items: &mut Vec<Item>, text: &str) {
    if !text.is_empty() {
        items.push(Item::Text(text.to_owned()));
    }
}

fn scan(src: &str) -> Result<Vec<Item>, TemplateError> {
    let mut items = Vec::new();
    let mut pos = 0;
    let mut trim_start = false;
    loop {
        let open = src.get(pos..).and_then(|rest| rest.find("{{")).map(|i| pos + i);
        let mut text = src.get(pos..open.unwrap_or(src.len())).unwrap_or("");
        if trim_start {
            text = text.trim_start_matches(SPACE);
        }
        let Some(open) = open else {
            push_text(&mut items, text);
            return Ok(items);
        };
        let trim_end = has_left_trim(src.get(open + 2..).unwrap_or(""));
        if trim_end {
            text = text.trim_end_matches(SPACE);
        }
        push_text(&mut items, text);
        let body = open + if trim_end { 4 } else { 2 };
        let (end, trim) = if src.get(body..).is_some_and(|s| s.starts_with("/*")) {
            skip_comment(src, open, body)?
        } else {
            let mut lexer = Lexer { src, pos: body, open, toks: Vec::new() };
            let (end, trim) = lexer.run()?;
            let span = Span { start: open, end };
            items.push(Item::Action { span, toks: lexer.toks });
            (end, trim)
        };
        pos = end;
        trim_start = trim;
    }
}

/// Skips `/* ... */}}` (Go requires the delimiters to hug the comment);
/// returns the offset after the action and whether it trims what follows.
fn skip_comment(src: &str, open: usize, body: usize) -> Result<(usize, bool), TemplateError> {
    let inner = body + 2;
    let Some(len) = src.get(inner..).and_then(|s| s.find("*/")) else {
        return Err(parse_error(src, open, "unclosed comment: this `{{/*` has no matching `*/}}`"));
    };
    let after = inner + len + 2;
    let rest = src.get(after..).unwrap_or("");
    if rest.starts_with("}}") {
        return Ok((after + 2, false));
    }
    if has_right_trim(rest) {
        return Ok((after + 4, true));
    }
    Err(parse_error(
        src,
        after,
        "comment ends before closing delimiter: `*/` must be followed directly by `}}` or ` -}}`",
    ))
}

struct Lexer<'s> {
    src: &'s str,
    pos: usize,
    /// Offset of the action's `{{`.
    open: usize,
    toks: Vec<Token>,
}

impl<'s> Lexer<'s> {
    fn rest(&self) -> &'s str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn error(&self, pos: usize, message: impl Into<String>) -> TemplateError {
        parse_error(self.src, pos, message)
    }

    /// Lexes up to and including the closing `}}`; returns the offset just
    /// past it and whether it carried a trim marker.
    fn run(&mut self) -> Result<(usize, bool), TemplateError> {
        let mut after_space = false;
        loop {
            let rest = self.rest();
            let Some(c) = rest.chars().next() else {
                return Err(self.error(self.open, "unclosed action: this `{{` has no matching `}}`"));
            };
            if is_space(c) {
                self.pos += 1;
                after_space = true;
                continue;
            }
            if rest.starts_with("}}") {
                return Ok((self.pos + 2, false));
            }
            if rest.starts_with("-}}") {
                if after_space {
                    return Ok((self.pos + 3, true));
                }
                return Err(self.error(self.pos, "a trim marker needs a space before it: write ` -}}`"));
            }
            after_space = false;
            self.token(c)?;
        }
    }

    fn token(&mut self, c: char) -> Result<(), TemplateError> {
        let start = self.pos;
        let tok = match c {
            '|' | '(' | ')' => {
                self.pos += 1;
                match c {
                    '|' => Tok::Pipe,
                    '(' => Tok::LParen,
                    _ => Tok::RParen,
                }
            }
            '.' => self.dot()?,
            '$' => self.dollar()?,
            '"' => self.quoted()?,
            '`' => self.raw()?,
            '-' | '+' | '0'..='9' => self.number()?,
            c if is_ident_start(c) => self.ident(),
            _ => return Err(self.unexpected(c)),
        };
        let operand = !matches!(tok, Tok::Pipe | Tok::LParen | Tok::RParen);
        let closes = tok == Tok::RParen;
        self.toks.push(Token { tok, pos: start, end: self.pos });
        if operand {
            self.expect_delimiter(start)?;
        } else if closes && self.rest().starts_with('.') {
            return Err(self.error(
                self.pos,
                "reading a field of a parenthesised value, like `(...).key`, is not supported; \
                 use `index`, e.g. `index (...) \"key\"`",
            ));
        }
        Ok(())
    }

    /// After an operand Go requires a space, `|`, a parenthesis or the end.
    fn expect_delimiter(&self, start: usize) -> Result<(), TemplateError> {
        let rest = self.rest();
        let Some(c) = rest.chars().next() else {
            return Ok(());
        };
        if is_space(c) || matches!(c, '|' | '(' | ')') || rest.starts_with("}}") || rest.starts_with("-}}") {
            return Ok(());
        }
        let token = self.src.get(start..self.pos).unwrap_or("");
        let hint = if c == '-' && (token.starts_with('.') || token.starts_with('$')) {
            "; to read a key containing `-`, use `index`, e.g. `index .vars \"my-key\"`"
        } else if c == ',' {
            "; separate arguments with spaces, not commas"
        } else {
            "; separate arguments with spaces"
        };
        Err(self.error(self.pos, format!("unexpected `{c}` right after `{token}`{hint}")))
    }

    fn unexpected(&self, c: char) -> TemplateError {
        let rest = self.rest();
        let message = if rest.starts_with(":=") {
            "variable declarations (`:=`) are not supported in stack name templates".to_owned()
        } else if c == '=' {
            "assignments (`=`) are not supported in stack name templates".to_owned()
        } else if rest.starts_with("/*") {
            "a comment must start right after `{{` (or `{{- `) and end right before `}}`, \
             like `{{/* note */}}`"
                .to_owned()
        } else if rest.starts_with("-}") {
            "unexpected `-}`: actions end with `}}` or ` -}}`".to_owned()
        } else if rest.starts_with("{{") {
            return self.error(self.open, "unclosed action: this `{{` has no matching `}}` before the next `{{`");
        } else if c == '}' {
            "unexpected `}`: actions end with `}}`".to_owned()
        } else if c == ',' {
            "unexpected `,`: separate arguments with spaces, not commas".to_owned()
        } else if c == '\'' {
            "character literals are not supported; use a double-quoted string".to_owned()
        } else {
            format!("unexpected `{c}` in action")
        };
        self.error(self.pos, message)
    }

    /// `.` or `.a.b.c`.
    fn dot(&mut self) -> Result<Tok, TemplateError> {
        let keys = self.keys(self.pos)?;
        if keys.is_empty() {
            if self.rest().get(1..).is_some_and(|s| s.starts_with(|c: char| c.is_ascii_digit())) {
                return Err(
                    self.error(self.pos, "number literals like `.5` are not supported; only decimal integers are")
                );
            }
            self.pos += 1;
        }
        Ok(Tok::Field { root: false, keys })
    }

    /// `$` or `$.a.b`; `$name` variables are rejected.
    fn dollar(&mut self) -> Result<Tok, TemplateError> {
        let start = self.pos;
        self.pos += 1;
        let len = ident_len(self.rest());
        if len > 0 {
            let name = self.rest().get(..len).unwrap_or("");
            return Err(self.error(
                start,
                format!(
                    "variables like `${name}` are not supported in stack name templates; \
                     use `.` or `$` with a field path, like `$.vars.stage`"
                ),
            ));
        }
        let keys = self.keys(start)?;
        Ok(Tok::Field { root: true, keys })
    }

    /// A chain of `.key` segments; empty (nothing consumed) if the first `.`
    /// is not followed by a name.
    fn keys(&mut self, start: usize) -> Result<Vec<String>, TemplateError> {
        let mut keys = Vec::new();
        while let Some(after) = self.rest().strip_prefix('.') {
            let len = ident_len(after);
            if len == 0 {
                if keys.is_empty() {
                    break;
                }
                let so_far = self.src.get(start..=self.pos).unwrap_or("");
                return Err(self.error(
                    self.pos,
                    format!(
                        "expected a field name after `{so_far}`; for keys that are not \
                         identifiers use `index`, e.g. `index .vars \"0\"`"
                    ),
                ));
            }
            keys.push(after.get(..len).unwrap_or("").to_owned());
            self.pos += 1 + len;
        }
        Ok(keys)
    }

    fn ident(&mut self) -> Tok {
        let len = ident_len(self.rest());
        let name = self.rest().get(..len).unwrap_or("").to_owned();
        self.pos += len;
        Tok::Ident(name)
    }

    fn quoted(&mut self) -> Result<Tok, TemplateError> {
        let start = self.pos;
        let mut value = String::new();
        let mut chars = self.rest().char_indices();
        chars.next(); // the opening quote
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = start + i + 1;
                    return Ok(Tok::Lit(Value::String(value)));
                }
                '\n' => break,
                '\\' => value.push(self.escape(start + i, &mut chars)?),
                c => value.push(c),
            }
        }
        Err(self.error(start, "unterminated string: this `\"` has no closing `\"` on the same line"))
    }

    /// Decodes the escape whose backslash is at `at`.
    fn escape(&self, at: usize, chars: &mut impl Iterator<Item = (usize, char)>) -> Result<char, TemplateError> {
        let Some((_, e)) = chars.next() else {
            return Err(self.error(at, "unterminated string: it ends with a `\\`"));
        };
        let simple = match e {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            '\\' => Some('\\'),
            '"' => Some('"'),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'v' => Some('\u{b}'),
            _ => None,
        };
        if let Some(c) = simple {
            return Ok(c);
        }
        match e {
            'u' | 'U' => {
                let digits = if e == 'u' { 4 } else { 8 };
                let hex: String = chars.take(digits).map(|(_, c)| c).collect();
                let code = (hex.len() == digits && hex.chars().all(|c| c.is_ascii_hexdigit()))
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .and_then(char::from_u32);
                code.ok_or_else(|| self.error(at, format!("invalid unicode escape `\\{e}{hex}` in string literal")))
            }
            'x' | '0'..='7' => Err(self.error(
                at,
                format!(
                    "byte escapes like `\\{e}...` are not supported in stack name templates; \
                     use `\\u00XX`"
                ),
            )),
            other => Err(self.error(
                at,
                format!(
                    "unknown escape sequence `\\{other}` in string literal; supported: \
                     \\\" \\\\ \\n \\t \\r \\a \\b \\f \\v \\uXXXX \\UXXXXXXXX"
                ),
            )),
        }
    }

    fn raw(&mut self) -> Result<Tok, TemplateError> {
        let start = self.pos;
        let body = self.rest().get(1..).unwrap_or("");
        let Some(len) = body.find('`') else {
            return Err(self.error(start, "unterminated raw string: this backquote has no closing backquote"));
        };
        let value = body.get(..len).unwrap_or("").replace('\r', "");
        self.pos = start + len + 2;
        Ok(Tok::Lit(Value::String(value)))
    }

    fn number(&mut self) -> Result<Tok, TemplateError> {
        let start = self.pos;
        let rest = self.rest();
        let sign = usize::from(rest.starts_with(['-', '+']));
        let body = rest.get(sign..).unwrap_or("");
        let len =
            sign + body.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(body.len());
        if len == sign {
            return Err(self.unexpected(rest.chars().next().unwrap_or('-')));
        }
        let text = rest.get(..len).unwrap_or("");
        let digits = text.get(sign..).unwrap_or("");
        self.pos += len;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self
                .error(start, format!("`{text}` is not a supported number; only decimal integers like 42 or -1 are")));
        }
        if digits.len() > 1 && digits.starts_with('0') {
            return Err(
                self.error(start, format!("`{text}`: Go reads a leading 0 as octal; write the number without it"))
            );
        }
        text.parse::<i64>()
            .map(|n| Tok::Lit(Value::from(n)))
            .map_err(|_| self.error(start, format!("integer `{text}` is too large")))
    }
}

// ---------------------------------------------------------------------------
// Parser: items into nodes, tokens into pipelines
// ---------------------------------------------------------------------------

/// What ended a list of nodes.
enum Stop {
    Eof,
    End {
        pos: usize,
    },
    /// `{{ else }}`, or `{{ else if ... }}` / `{{ else with ... }}` with the
    /// chained block's kind, condition and keyword position.
    Else {
        pos: usize,
        chain: Option<(CondKind, Pipeline, usize)>,
    },
}

enum Step {
    Node(Node),
    Stop(Stop),
}

struct Parser<'s> {
    src: &'s str,
    items: std::vec::IntoIter<Item>,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, pos: usize, message: impl Into<String>) -> TemplateError {
        parse_error(self.src, pos, message)
    }

    fn list(&mut self) -> Result<(Vec<Node>, Stop), TemplateError> {
        let mut nodes = Vec::new();
        while let Some(item) = self.items.next() {
            match item {
                Item::Text(text) => nodes.push(Node::Text(text)),
                Item::Action { span, toks } => match self.action(span, &toks)? {
                    Step::Node(node) => nodes.push(node),
                    Step::Stop(stop) => return Ok((nodes, stop)),
                },
            }
        }
        Ok((nodes, Stop::Eof))
    }

    fn action(&mut self, span: Span, toks: &[Token]) -> Result<Step, TemplateError> {
        let Some((first, rest)) = toks.split_first() else {
            return Err(self
                .error(span.start, "empty action: `{{ }}` must contain something to print, like `{{ .vars.stage }}`"));
        };
        let word = match &first.tok {
            Tok::Ident(word) => word.as_str(),
            _ => "",
        };
        match word {
            "if" | "with" => {
                let kind = if word == "if" { CondKind::If } else { CondKind::With };
                let pipe = self.condition(kind, rest, first.pos, span)?;
                self.cond(kind, pipe, first.pos, span.start).map(Step::Node)
            }
            "end" => match rest.first() {
                Some(extra) => Err(self.error(extra.pos, format!("unexpected `{}` after `end`", self.text(extra)))),
                None => Ok(Step::Stop(Stop::End { pos: span.start })),
            },
            "else" => self.else_(rest, span).map(Step::Stop),
            _ => Ok(Step::Node(Node::Print { pipe: self.pipeline(toks, span)?, span })),
        }
    }

    fn text(&self, tok: &Token) -> &str {
        self.src.get(tok.pos..tok.end).unwrap_or("")
    }

    fn condition(&self, kind: CondKind, toks: &[Token], keyword: usize, span: Span) -> Result<Pipeline, TemplateError> {
        if toks.is_empty() {
            let word = kind.word();
            return Err(
                self.error(keyword, format!("missing condition after `{word}`, like `{{{{ {word} .vars.x }}}}`"))
            );
        }
        self.pipeline(toks, span)
    }

    /// Parses the body of a block whose condition is already parsed, up to
    /// and including its `{{ end }}`. `opener` is where the whole `if` chain
    /// started, for the "unclosed" message.
    fn cond(&mut self, kind: CondKind, pipe: Pipeline, at: usize, opener: usize) -> Result<Node, TemplateError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(at, format!("`if`/`with` blocks are nested more than {MAX_DEPTH} deep")));
        }
        let (then, stop) = self.list()?;
        let otherwise = match stop {
            Stop::End { .. } => Vec::new(),
            Stop::Eof => return Err(self.unclosed(kind, opener)),
            Stop::Else { chain: None, .. } => self.else_body(kind, opener)?,
            Stop::Else { chain: Some((chained, pipe, keyword)), .. } => {
                if chained != kind {
                    let (c, k) = (chained.word(), kind.word());
                    return Err(self.error(keyword, format!("`else {c}` can only continue a `{c}` block, not `{k}`")));
                }
                vec![self.cond(chained, pipe, keyword, opener)?]
            }
        };
        self.depth -= 1;
        Ok(Node::Cond(Box::new(Cond { kind, pipe, then, otherwise })))
    }

    fn else_body(&mut self, kind: CondKind, opener: usize) -> Result<Vec<Node>, TemplateError> {
        match self.list()? {
            (nodes, Stop::End { .. }) => Ok(nodes),
            (_, Stop::Eof) => Err(self.unclosed(kind, opener)),
            (_, Stop::Else { pos, .. }) => {
                Err(self
                    .error(pos, format!("this `else` follows another `{{{{ else }}}}` of the same `{}`", kind.word())))
            }
        }
    }

    fn unclosed(&self, kind: CondKind, opener: usize) -> TemplateError {
        let word = kind.word();
        self.error(opener, format!("unclosed `{word}`: this `{{{{ {word} }}}}` has no matching `{{{{ end }}}}`"))
    }

    fn else_(&self, rest: &[Token], span: Span) -> Result<Stop, TemplateError> {
        let Some((next, cond)) = rest.split_first() else {
            return Ok(Stop::Else { pos: span.start, chain: None });
        };
        let kind = match &next.tok {
            Tok::Ident(w) if w == "if" => CondKind::If,
            Tok::Ident(w) if w == "with" => CondKind::With,
            _ => {
                return Err(self.error(
                    next.pos,
                    format!(
                        "unexpected `{}` after `else`; write `{{{{ else }}}}` or `{{{{ else if ... }}}}`",
                        self.text(next)
                    ),
                ));
            }
        };
        let pipe = self.condition(kind, cond, next.pos, span)?;
        Ok(Stop::Else { pos: span.start, chain: Some((kind, pipe, next.pos)) })
    }

    fn pipeline(&self, toks: &[Token], span: Span) -> Result<Pipeline, TemplateError> {
        let mut parser = PipeParser { src: self.src, toks, i: 0, start: span.start, depth: 0 };
        let pipe = parser.pipeline()?;
        match toks.get(parser.i) {
            Some(extra) => {
                Err(self.error(extra.pos, format!("unexpected `{}`: it has no matching `(`", self.text(extra))))
            }
            None => Ok(pipe),
        }
    }
}

/// Parses the tokens of one action (or one parenthesised group).
struct PipeParser<'p> {
    src: &'p str,
    toks: &'p [Token],
    i: usize,
    /// Offset of the action's `{{`.
    start: usize,
    depth: usize,
}

impl<'p> PipeParser<'p> {
    fn peek(&self) -> Option<&'p Token> {
        self.toks.get(self.i)
    }

    fn error(&self, pos: usize, message: impl Into<String>) -> TemplateError {
        parse_error(self.src, pos, message)
    }

    fn end_pos(&self) -> usize {
        self.toks.last().map_or(self.start, |t| t.end)
    }

    fn pipeline(&mut self) -> Result<Pipeline, TemplateError> {
        let head = self.command(false)?;
        let mut tail = Vec::new();
        while self.peek().is_some_and(|t| t.tok == Tok::Pipe) {
            self.i += 1;
            let at = self.peek();
            match self.command(true)? {
                Command::Call(call) => tail.push(call),
                Command::Operand(_) => {
                    let pos = at.map_or(self.end_pos(), |t| t.pos);
                    let text = at.map_or("", |t| self.src.get(t.pos..t.end).unwrap_or(""));
                    return Err(self.error(
                        pos,
                        format!(
                            "only a function can follow `|`, but `{text}` is a value; \
                             the piped value becomes the function's last argument"
                        ),
                    ));
                }
            }
        }
        Ok(Pipeline { head, tail })
    }

    fn command(&mut self, piped: bool) -> Result<Command, TemplateError> {
        let Some(first) = self.peek() else {
            return Err(self.missing(piped, None));
        };
        if matches!(first.tok, Tok::Pipe | Tok::RParen) {
            return Err(self.missing(piped, Some(first)));
        }
        if let Tok::Ident(name) = &first.tok
            && let Some(info) = lookup(name)
        {
            self.i += 1;
            let args = self.operands()?;
            let call = Call { info, args, piped, pos: first.pos };
            self.check_arity(&call, false)?;
            return Ok(Command::Call(call));
        }
        let operand = self.operand()?;
        if let Some(extra) = self.peek().filter(|t| !matches!(t.tok, Tok::Pipe | Tok::RParen)) {
            let end = self.i.checked_sub(1).and_then(|j| self.toks.get(j));
            let value = self.src.get(first.pos..end.map_or(first.end, |t| t.end)).unwrap_or("");
            return Err(self.error(
                extra.pos,
                format!(
                    "`{value}` is not a function, so it can't take arguments; to print several \
                     values use separate actions, like `{{{{ .a }}}}-{{{{ .b }}}}`"
                ),
            ));
        }
        Ok(Command::Operand(operand))
    }

    fn missing(&self, piped: bool, at: Option<&Token>) -> TemplateError {
        let pos = at.map_or_else(|| self.end_pos(), |t| t.pos);
        let message = if piped {
            "missing function after `|`"
        } else {
            match at.map(|t| &t.tok) {
                Some(Tok::Pipe) => "missing value before `|`",
                Some(Tok::RParen) => "empty parentheses: `()` must contain a value or function call",
                _ => "missing value: expected a field, literal or function call",
            }
        };
        self.error(pos, message)
    }

    fn operands(&mut self) -> Result<Vec<Expr>, TemplateError> {
        let mut args = Vec::new();
        while self.peek().is_some_and(|t| !matches!(t.tok, Tok::Pipe | Tok::RParen)) {
            args.push(self.operand()?);
        }
        Ok(args)
    }

    fn operand(&mut self) -> Result<Expr, TemplateError> {
        let Some(tok) = self.peek() else {
            return Err(self.missing(false, None));
        };
        self.i += 1;
        match &tok.tok {
            Tok::Field { root, keys } => {
                Ok(Expr::Field(Field { root: *root, path: keys.join("."), keys: keys.clone() }))
            }
            Tok::Lit(value) => Ok(Expr::Lit(value.clone())),
            Tok::Ident(word) if word == "true" || word == "false" => Ok(Expr::Lit(Value::Bool(word == "true"))),
            Tok::Ident(name) => self.bare_call(name, tok.pos),
            Tok::LParen => self.group(tok.pos),
            Tok::Pipe | Tok::RParen => Err(self.missing(false, Some(tok))),
        }
    }

    /// A function named as an argument is called with no arguments, as in Go.
    fn bare_call(&self, name: &str, pos: usize) -> Result<Expr, TemplateError> {
        let Some(info) = lookup(name) else {
            return Err(self.error(pos, ident_message(name)));
        };
        let call = Call { info, args: Vec::new(), piped: false, pos };
        self.check_arity(&call, true)?;
        Ok(Expr::Sub(Box::new(Pipeline { head: Command::Call(call), tail: Vec::new() })))
    }

    fn group(&mut self, open: usize) -> Result<Expr, TemplateError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(open, format!("parentheses are nested more than {MAX_DEPTH} deep")));
        }
        self.depth += 1;
        let inner = self.pipeline()?;
        self.depth -= 1;
        match self.peek() {
            Some(t) if t.tok == Tok::RParen => {
                self.i += 1;
                Ok(Expr::Sub(Box::new(inner)))
            }
            _ => Err(self.error(open, "unclosed `(`: it has no matching `)`")),
        }
    }

    fn check_arity(&self, call: &Call, bare: bool) -> Result<(), TemplateError> {
        let info = call.info;
        let got = call.args.len() + usize::from(call.piped);
        if got >= info.min && info.max.is_none_or(|max| got <= max) {
            return Ok(());
        }
        let want = match info.max {
            Some(max) if max == info.min => plural(max, "argument"),
            Some(max) => format!("{} to {max} arguments", info.min),
            None => format!("at least {}", plural(info.min, "argument")),
        };
        let mut message = format!("`{}` takes {want} but is given {got}", info.name);
        if call.piped {
            message.push_str(" (counting the value piped into it)");
        }
        message.push_str(&format!("; usage: `{}`", info.usage));
        if bare {
            message.push_str(
                "; to pass a function's result as an argument, wrap the call in parentheses, \
                 like `(lower .vars.x)`",
            );
        }
        Err(self.error(call.pos, message))
    }
}

// ---------------------------------------------------------------------------
// Values during rendering
// ---------------------------------------------------------------------------

/// A value produced while rendering; borrows from the context or the
/// template wherever it can.
#[derive(Debug, Clone)]
enum Val<'a> {
    /// Read from the context, with the path it was read from ("" = root).
    Ref(&'a Value, Cow<'a, str>),
    /// A literal from the template.
    Lit(&'a Value),
    /// Computed by a function.
    Owned(Value),
    /// An absent or null field, with the path that was read.
    Missing(Cow<'a, str>),
}

impl Val<'_> {
    fn value(&self) -> Option<&Value> {
        match self {
            Val::Ref(v, _) | Val::Lit(v) => Some(*v),
            Val::Owned(v) => Some(v),
            Val::Missing(_) => None,
        }
    }

    fn path(&self) -> &str {
        match self {
            Val::Ref(_, p) | Val::Missing(p) => p,
            Val::Lit(_) | Val::Owned(_) => "",
        }
    }

    fn string(s: String) -> Self {
        Val::Owned(Value::String(s))
    }

    fn bool(b: bool) -> Self {
        Val::Owned(Value::Bool(b))
    }
}

/// Go's truthiness; missing values are false.
fn truthy(v: &Val<'_>) -> bool {
    v.value().is_some_and(|v| match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    })
}

fn missing_key(v: &Val<'_>) -> TemplateError {
    TemplateError::MissingKey { path: v.path().to_owned() }
}

/// `prefix.rel`, borrowing when there is no prefix.
fn join_path<'a>(prefix: &str, rel: &'a str) -> Cow<'a, str> {
    if prefix.is_empty() {
        Cow::Borrowed(rel)
    } else if rel.is_empty() {
        Cow::Owned(prefix.to_owned())
    } else {
        Cow::Owned(format!("{prefix}.{rel}"))
    }
}

/// Numbers print as JSON does, except that integral floats drop the `.0`.
fn number_text(n: &Number) -> String {
    if n.is_f64()
        && let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
    {
        return format!("{}", f as i64);
    }
    n.to_string()
}

/// The printed form of a string, number or boolean.
fn scalar(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(number_text(n))),
        Value::Bool(true) => Some(Cow::Borrowed("true")),
        Value::Bool(false) => Some(Cow::Borrowed("false")),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

fn kind_phrase(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string {}", go_quote(s)),
        Value::Number(n) => format!("the number {}", number_text(n)),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Null => "null".to_owned(),
        Value::Array(a) => format!("a list of {}", plural(a.len(), "item")),
        Value::Object(_) => "a map".to_owned(),
    }
}

/// "`.vars.stage`, which is the number 2", or just "the number 2".
fn describe(v: &Val<'_>) -> String {
    let what = v.value().map_or_else(|| "not set".to_owned(), kind_phrase);
    match v {
        Val::Ref(_, p) | Val::Missing(p) => format!("`.{p}`, which is {what}"),
        Val::Lit(_) | Val::Owned(_) => what,
    }
}

/// Go's `%q` (strconv.Quote) for the characters that matter here.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if c.is_control() && c.is_ascii() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `strings.Title`: upper-cases the first letter of each word.
fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_word_start = true;
    for c in s.chars() {
        if at_word_start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_word_start = is_word_separator(c);
    }
    out
}

fn is_word_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    !c.is_alphanumeric() && c.is_whitespace()
}

/// Follows `keys` through nested maps: `Ok(None)` if a key is absent or
/// null, `Err(i)` if the value before `keys[i]` is not a map.
fn walk<'v>(mut value: &'v Value, keys: &[String]) -> Result<Option<&'v Value>, usize> {
    for (i, key) in keys.iter().enumerate() {
        match value {
            Value::Object(map) => match map.get(key) {
                None | Some(Value::Null) => return Ok(None),
                Some(child) => value = child,
            },
            Value::Null => return Ok(None),
            _ => return Err(i),
        }
    }
    Ok(Some(value))
}

/// A key for `index`.
enum Key<'v> {
    Name(&'v str),
    Position(i64),
}

impl Key<'_> {
    fn text(&self) -> String {
        match self {
            Key::Name(name) => (*name).to_owned(),
            Key::Position(i) => i.to_string(),
        }
    }
}

/// One step of `index`: `Ok(None)` if absent or null.
fn index_value<'v>(value: &'v Value, key: &Key<'_>) -> Result<Option<&'v Value>, String> {
    let found = match (value, key) {
        (Value::Object(map), Key::Name(name)) => map.get(*name),
        (Value::Array(items), Key::Position(i)) => {
            let item = usize::try_from(*i).ok().and_then(|i| items.get(i));
            if item.is_none() {
                return Err(format!("index {i} is out of range"));
            }
            item
        }
        (Value::Null, _) => None,
        (Value::Object(_), Key::Position(i)) => {
            return Err(format!("a map needs a string key, but got the number {i}"));
        }
        (Value::Array(_), Key::Name(name)) => {
            return Err(format!("a list needs an integer position, but got the string {}", go_quote(name)));
        }
        (other, _) => return Err(format!("can't index {}", kind_phrase(other))),
    };
    Ok(found.filter(|v| !v.is_null()))
}

fn default_value(args: Vec<Val<'_>>) -> Val<'_> {
    let mut args = args.into_iter();
    match (args.next(), args.next()) {
        (_, Some(given)) if truthy(&given) => given,
        (Some(fallback), _) => fallback,
        (None, _) => Val::Owned(Value::Null),
    }
}

/// `and` stops at the first false value, `or` at the first true one; both
/// return the last value otherwise. Arguments after the stop are not
/// evaluated (as in Go 1.18+).
fn logic<'a>(or: bool, values: impl Iterator<Item = Result<Val<'a>, TemplateError>>) -> Result<Val<'a>, TemplateError> {
    let mut last = Val::Owned(Value::Null);
    for value in values {
        let value = value?;
        if truthy(&value) == or {
            return Ok(value);
        }
        last = value;
    }
    Ok(last)
}

fn numbers_equal(a: &Number, b: &Number) -> bool {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x == y;
    }
    a.as_f64() == b.as_f64()
}

// ---------------------------------------------------------------------------
// Renderer
// ---------------------------------------------------------------------------

struct Renderer<'a> {
    src: &'a str,
    root: &'a Value,
}

impl<'a> Renderer<'a> {
    fn nodes(&self, nodes: &'a [Node], dot: &Val<'a>, out: &mut String) -> Result<(), TemplateError> {
        for node in nodes {
            match node {
                Node::Text(text) => out.push_str(text),
                Node::Print { pipe, span } => {
                    let value = self.pipeline(pipe, dot)?;
                    self.print(&value, *span, out)?;
                }
                Node::Cond(cond) => self.cond(cond, dot, out)?,
            }
        }
        Ok(())
    }

    fn cond(&self, cond: &'a Cond, dot: &Val<'a>, out: &mut String) -> Result<(), TemplateError> {
        let value = self.pipeline(&cond.pipe, dot)?;
        if !truthy(&value) {
            return self.nodes(&cond.otherwise, dot, out);
        }
        match cond.kind {
            CondKind::If => self.nodes(&cond.then, dot, out),
            CondKind::With => self.nodes(&cond.then, &value, out),
        }
    }

    fn print(&self, v: &Val<'a>, span: Span, out: &mut String) -> Result<(), TemplateError> {
        let Some(value) = v.value() else {
            return Err(missing_key(v));
        };
        match scalar(value) {
            Some(text) => {
                out.push_str(&text);
                Ok(())
            }
            None => Err(self.unprintable(v, value, span)),
        }
    }

    fn unprintable(&self, v: &Val<'a>, value: &Value, span: Span) -> TemplateError {
        let (kind, hint) = match value {
            Value::Object(map) => ("a map", self.map_hint(v, map)),
            Value::Array(_) => {
                ("a list", "; use `join \"-\" LIST` to print all of its items or `index LIST 0` for one".to_owned())
            }
            _ => ("null", String::new()),
        };
        TemplateError::Render {
            message: format!(
                "cannot print {kind}: `{}` at {} produces {}{hint}",
                snippet(self.src, span),
                location(self.src, span.start),
                describe(v)
            ),
        }
    }

    fn map_hint(&self, v: &Val<'a>, map: &serde_json::Map<String, Value>) -> String {
        let Some(first) = map.keys().next() else {
            return String::new();
        };
        let mut keys: Vec<&str> = map.keys().take(5).map(String::as_str).collect();
        if map.len() > keys.len() {
            keys.push("...");
        }
        let example = match v {
            Val::Ref(..) if ident_len(first) == first.len() => {
                format!("`.{}`", join_path(v.path(), first))
            }
            Val::Ref(..) => format!("`index .{} \"{first}\"`", v.path()),
            _ => format!("`index ... \"{first}\"`"),
        };
        format!("; print one of its fields instead, like {example} (its keys: {})", keys.join(", "))
    }

    fn pipeline(&self, pipe: &'a Pipeline, dot: &Val<'a>) -> Result<Val<'a>, TemplateError> {
        let mut value = match &pipe.head {
            Command::Operand(expr) => self.expr(expr, dot)?,
            Command::Call(call) => self.call(call, dot, None)?,
        };
        for call in &pipe.tail {
            value = self.call(call, dot, Some(value))?;
        }
        Ok(value)
    }

    fn expr(&self, expr: &'a Expr, dot: &Val<'a>) -> Result<Val<'a>, TemplateError> {
        match expr {
            Expr::Field(field) => self.field(field, dot),
            Expr::Lit(value) => Ok(Val::Lit(value)),
            Expr::Sub(pipe) => self.pipeline(pipe, dot),
        }
    }

    fn field(&self, field: &'a Field, dot: &Val<'a>) -> Result<Val<'a>, TemplateError> {
        let root;
        let base = if field.root {
            root = Val::Ref(self.root, Cow::Borrowed(""));
            &root
        } else {
            dot
        };
        if field.keys.is_empty() {
            return Ok(base.clone());
        }
        let full = || join_path(base.path(), &field.path);
        let value = match base {
            Val::Missing(_) => return Ok(Val::Missing(full())),
            Val::Ref(v, _) | Val::Lit(v) => *v,
            Val::Owned(v) => {
                return match walk(v, &field.keys) {
                    Ok(Some(found)) => Ok(Val::Owned(found.clone())),
                    Ok(None) => Ok(Val::Missing(full())),
                    Err(i) => Err(self.not_a_map(field, base, v, i)),
                };
            }
        };
        match walk(value, &field.keys) {
            Ok(Some(found)) => Ok(Val::Ref(found, full())),
            Ok(None) => Ok(Val::Missing(full())),
            Err(i) => Err(self.not_a_map(field, base, value, i)),
        }
    }

    fn not_a_map(&self, field: &Field, base: &Val<'a>, value: &Value, i: usize) -> TemplateError {
        let keys = field.keys.get(..i).unwrap_or(&[]);
        let parent = walk(value, keys).ok().flatten().unwrap_or(value);
        let parent_path = join_path(base.path(), &keys.join(".")).into_owned();
        TemplateError::Render {
            message: format!(
                "cannot read `.{}`: `.{parent_path}` is {}, not a map",
                join_path(base.path(), &field.path),
                kind_phrase(parent)
            ),
        }
    }

    fn call(&self, call: &'a Call, dot: &Val<'a>, piped: Option<Val<'a>>) -> Result<Val<'a>, TemplateError> {
        if let Func::And | Func::Or = call.info.func {
            let or = call.info.func == Func::Or;
            let values = call.args.iter().map(|arg| self.expr(arg, dot));
            return logic(or, values.chain(piped.map(Ok)));
        }
        let mut args = Vec::with_capacity(call.args.len() + 1);
        for arg in &call.args {
            args.push(self.expr(arg, dot)?);
        }
        args.extend(piped);
        self.apply(call, args)
    }

    fn apply(&self, call: &Call, args: Vec<Val<'a>>) -> Result<Val<'a>, TemplateError> {
        let text = |s: String| -> Result<Val<'a>, TemplateError> { Ok(Val::string(s)) };
        match call.info.func {
            Func::Lower => text(self.str_arg(call, &args, 0)?.to_lowercase()),
            Func::Upper => text(self.str_arg(call, &args, 0)?.to_uppercase()),
            Func::Title => text(title_case(self.str_arg(call, &args, 0)?)),
            Func::Trim => text(self.str_arg(call, &args, 0)?.trim().to_owned()),
            Func::TrimPrefix => {
                let prefix = self.str_arg(call, &args, 0)?;
                let s = self.str_arg(call, &args, 1)?;
                text(s.strip_prefix(prefix).unwrap_or(s).to_owned())
            }
            Func::TrimSuffix => {
                let suffix = self.str_arg(call, &args, 0)?;
                let s = self.str_arg(call, &args, 1)?;
                text(s.strip_suffix(suffix).unwrap_or(s).to_owned())
            }
            Func::Replace => {
                let old = self.str_arg(call, &args, 0)?;
                let new = self.str_arg(call, &args, 1)?;
                text(self.str_arg(call, &args, 2)?.replace(old, new))
            }
            Func::Default => Ok(default_value(args)),
            Func::Printf => self.printf(call, &args).map(Val::string),
            Func::Index => self.index(call, args),
            Func::Eq => self.eq(call, &args).map(Val::bool),
            Func::Ne => self.eq(call, &args).map(|same| Val::bool(!same)),
            Func::Not | Func::Empty => Ok(Val::bool(!args.first().is_some_and(truthy))),
            Func::Coalesce => Ok(args.into_iter().find(truthy).unwrap_or(Val::Owned(Value::Null))),
            Func::Quote => self.quote(call, &args).map(Val::string),
            Func::Join => self.join(call, &args).map(Val::string),
            Func::And | Func::Or => logic(call.info.func == Func::Or, args.into_iter().map(Ok)),
        }
    }

    /// An error attributed to a function call.
    fn fail(&self, call: &Call, message: impl std::fmt::Display) -> TemplateError {
        TemplateError::Render {
            message: format!("`{}` at {}: {message}", call.info.name, location(self.src, call.pos)),
        }
    }

    fn arg<'v>(&self, call: &Call, args: &'v [Val<'a>], i: usize) -> Result<&'v Val<'a>, TemplateError> {
        args.get(i).ok_or_else(|| self.fail(call, format!("internal error: argument {} is missing", i + 1)))
    }

    fn str_arg<'v>(&self, call: &Call, args: &'v [Val<'a>], i: usize) -> Result<&'v str, TemplateError> {
        let v = self.arg(call, args, i)?;
        match v.value() {
            None => Err(missing_key(v)),
            Some(Value::String(s)) => Ok(s),
            Some(_) => {
                let what = match call.info.usage.split_whitespace().nth(i + 1) {
                    Some(role) if call.info.max != Some(1) => format!("{role} must be a string"),
                    _ => "expects a string".to_owned(),
                };
                Err(self.fail(call, format!("{what}, but got {}", describe(v))))
            }
        }
    }

    fn printf(&self, call: &Call, args: &[Val<'a>]) -> Result<String, TemplateError> {
        let format = self.str_arg(call, args, 0)?;
        let values = args.get(1..).unwrap_or(&[]);
        let mut out = String::with_capacity(format.len() + 16);
        let mut used = 0;
        let mut chars = format.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let verb = chars.next();
            if verb == Some('%') {
                out.push('%');
                continue;
            }
            let Some(verb @ ('s' | 'd' | 'v')) = verb else {
                let shown = verb.map_or(String::new(), String::from);
                return Err(self.fail(call, format!("the format supports only %s, %d, %v and %%, but has `%{shown}`")));
            };
            let Some(value) = values.get(used) else {
                return Err(self.fail(
                    call,
                    format!(
                        "the format {} has more verbs than the {} given",
                        go_quote(format),
                        plural(values.len(), "argument")
                    ),
                ));
            };
            used += 1;
            self.format_verb(call, verb, value, used, &mut out)?;
        }
        if used < values.len() {
            return Err(self.fail(
                call,
                format!("got {} after the format, but the format uses only {used}", plural(values.len(), "argument")),
            ));
        }
        Ok(out)
    }

    fn format_verb(
        &self,
        call: &Call,
        verb: char,
        v: &Val<'a>,
        n: usize,
        out: &mut String,
    ) -> Result<(), TemplateError> {
        let Some(value) = v.value() else {
            return Err(missing_key(v));
        };
        let text = match (verb, value) {
            ('s', Value::String(s)) => Some(Cow::Borrowed(s.as_str())),
            ('d', Value::Number(num)) if num.is_i64() || num.is_u64() => Some(Cow::Owned(num.to_string())),
            ('v', value) => scalar(value),
            _ => None,
        };
        let Some(text) = text else {
            let wanted = match verb {
                's' => "a string (use %v for numbers and booleans)",
                'd' => "an integer",
                _ => "a string, number or boolean",
            };
            return Err(self.fail(call, format!("%{verb} needs {wanted}, but argument {n} is {}", describe(v))));
        };
        out.push_str(&text);
        Ok(())
    }

    fn index(&self, call: &Call, args: Vec<Val<'a>>) -> Result<Val<'a>, TemplateError> {
        let mut args = args.into_iter();
        let Some(mut current) = args.next() else {
            return Err(self.fail(call, "internal error: nothing to index"));
        };
        for key in args {
            current = self.index_one(call, current, &key)?;
        }
        Ok(current)
    }

    fn index_one(&self, call: &Call, base: Val<'a>, key: &Val<'a>) -> Result<Val<'a>, TemplateError> {
        let key = self.index_key(call, key)?;
        let path = Cow::Owned(join_path(base.path(), &key.text()).into_owned());
        let found: Result<Option<Cow<'a, Value>>, String> = match &base {
            Val::Missing(_) => Ok(None),
            Val::Ref(v, _) | Val::Lit(v) => index_value(v, &key).map(|f| f.map(Cow::Borrowed)),
            Val::Owned(v) => index_value(v, &key).map(|f| f.cloned().map(Cow::Owned)),
        };
        match found {
            Ok(Some(Cow::Borrowed(v))) => Ok(Val::Ref(v, path)),
            Ok(Some(Cow::Owned(v))) => Ok(Val::Owned(v)),
            Ok(None) => Ok(Val::Missing(path)),
            Err(why) => Err(self.fail(call, format!("{why} (indexing {})", describe(&base)))),
        }
    }

    fn index_key<'v>(&self, call: &Call, key: &'v Val<'a>) -> Result<Key<'v>, TemplateError> {
        let position = match key.value() {
            Some(Value::Number(n)) => n.as_i64(),
            _ => None,
        };
        match (key.value(), position) {
            (None, _) => Err(missing_key(key)),
            (Some(Value::String(s)), _) => Ok(Key::Name(s)),
            (_, Some(i)) => Ok(Key::Position(i)),
            _ => Err(self.fail(call, format!("keys must be strings or integers, but got {}", describe(key)))),
        }
    }

    fn comparable<'v>(&self, call: &Call, v: &'v Val<'a>) -> Result<&'v Value, TemplateError> {
        match v.value() {
            None => Err(missing_key(v)),
            Some(Value::Object(_) | Value::Array(_)) => {
                Err(self
                    .fail(call, format!("only strings, numbers and booleans can be compared, but got {}", describe(v))))
            }
            Some(value) => Ok(value),
        }
    }

    /// `eq a b c ...` is true if `a` equals any of the others.
    fn eq(&self, call: &Call, args: &[Val<'a>]) -> Result<bool, TemplateError> {
        let Some((first, others)) = args.split_first() else {
            return Err(self.fail(call, "internal error: nothing to compare"));
        };
        let a = self.comparable(call, first)?;
        for other in others {
            let b = self.comparable(call, other)?;
            let same = match (a, b) {
                (Value::String(x), Value::String(y)) => x == y,
                (Value::Number(x), Value::Number(y)) => numbers_equal(x, y),
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Null, Value::Null) => true,
                _ => {
                    return Err(self.fail(
                        call,
                        format!(
                            "can't compare values of different types: {}, and {}",
                            describe(first),
                            describe(other)
                        ),
                    ));
                }
            };
            if same {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Sprig's `quote`: each non-null argument in double quotes, space-separated.
    fn quote(&self, call: &Call, args: &[Val<'a>]) -> Result<String, TemplateError> {
        let mut out = String::new();
        for v in args {
            let Some(value) = v.value() else {
                return Err(missing_key(v));
            };
            if value.is_null() {
                continue;
            }
            let Some(text) = scalar(value) else {
                return Err(
                    self.fail(call, format!("can only quote strings, numbers and booleans, but got {}", describe(v)))
                );
            };
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&go_quote(&text));
        }
        Ok(out)
    }

    /// Sprig's `join SEP LIST`: null items are skipped; a single scalar is
    /// treated as a one-item list.
    fn join(&self, call: &Call, args: &[Val<'a>]) -> Result<String, TemplateError> {
        let sep = self.str_arg(call, args, 0)?;
        let list = self.arg(call, args, 1)?;
        let items = match list.value() {
            None => return Err(missing_key(list)),
            Some(Value::Array(items)) => items,
            Some(Value::Null) => return Ok(String::new()),
            Some(Value::Object(_)) => {
                return Err(self.fail(call, format!("LIST must be a list, but got {}", describe(list))));
            }
            Some(value) => return Ok(scalar(value).unwrap_or_default().into_owned()),
        };
        let mut out = String::new();
        let mut first = true;
        for (i, item) in items.iter().enumerate() {
            if item.is_null() {
                continue;
            }
            let Some(text) = scalar(item) else {
                return Err(self.fail(
                    call,
                    format!(
                        "item {i} of {} is {}; only strings, numbers and booleans can be joined",
                        describe(list),
                        kind_phrase(item)
                    ),
                ));
            };
            if !first {
                out.push_str(sep);
            }
            first = false;
            out.push_str(&text);
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------
// fields()
// ---------------------------------------------------------------------------

/// `prefix` is the path of dot, or `None` when dot is not a plain field.
fn collect_nodes(nodes: &[Node], prefix: Option<&str>, out: &mut Vec<String>) {
    for node in nodes {
        match node {
            Node::Text(_) => {}
            Node::Print { pipe, .. } => collect_pipe(pipe, prefix, out),
            Node::Cond(cond) => {
                collect_pipe(&cond.pipe, prefix, out);
                let inner = match cond.kind {
                    CondKind::If => prefix.map(str::to_owned),
                    CondKind::With => with_prefix(&cond.pipe, prefix),
                };
                collect_nodes(&cond.then, inner.as_deref(), out);
                collect_nodes(&cond.otherwise, prefix, out);
            }
        }
    }
}

fn with_prefix(pipe: &Pipeline, prefix: Option<&str>) -> Option<String> {
    match (&pipe.head, pipe.tail.is_empty()) {
        (Command::Operand(Expr::Field(field)), true) => resolve(field, prefix),
        _ => None,
    }
}

fn resolve(field: &Field, prefix: Option<&str>) -> Option<String> {
    if field.root {
        return Some(field.path.clone());
    }
    prefix.map(|p| join_path(p, &field.path).into_owned())
}

fn push_unique(out: &mut Vec<String>, path: String) {
    if !path.is_empty() && !out.contains(&path) {
        out.push(path);
    }
}

fn collect_pipe(pipe: &Pipeline, prefix: Option<&str>, out: &mut Vec<String>) {
    match &pipe.head {
        Command::Operand(expr) => collect_expr(expr, prefix, out),
        Command::Call(call) => collect_call(call, prefix, out),
    }
    for call in &pipe.tail {
        collect_call(call, prefix, out);
    }
}

fn collect_call(call: &Call, prefix: Option<&str>, out: &mut Vec<String>) {
    if call.info.func == Func::Index
        && !call.piped
        && let Some(path) = literal_index_path(call, prefix)
    {
        push_unique(out, path);
        return;
    }
    for arg in &call.args {
        collect_expr(arg, prefix, out);
    }
}

/// `index .a "b" 0` with literal keys reads `a.b.0`.
fn literal_index_path(call: &Call, prefix: Option<&str>) -> Option<String> {
    let (Expr::Field(base), keys) = call.args.split_first()? else {
        return None;
    };
    let mut path = resolve(base, prefix)?;
    for key in keys {
        let text = match key {
            Expr::Lit(Value::String(s)) => s.clone(),
            Expr::Lit(Value::Number(n)) => n.to_string(),
            _ => return None,
        };
        path = join_path(&path, &text).into_owned();
    }
    Some(path)
}

fn collect_expr(expr: &Expr, prefix: Option<&str>, out: &mut Vec<String>) {
    match expr {
        Expr::Field(field) => {
            if let Some(path) = resolve(field, prefix) {
                push_unique(out, path);
            }
        }
        Expr::Lit(_) => {}
        Expr::Sub(pipe) => collect_pipe(pipe, prefix, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ATMOS_DEFAULT: &str = "{{ .vars.tenant }}-{{ .vars.environment }}-{{ .vars.stage }}";

    fn ctx() -> Value {
        json!({
            "vars": {
                "tenant": "plat",
                "environment": "ue1",
                "stage": "dev",
                "count": 3,
                "negative": -7,
                "ratio": 1.5,
                "whole": 3.0,
                "enabled": true,
                "off": false,
                "zero": 0,
                "blank": "",
                "nothing": null,
                "name": "café",
                "padded": "  x  ",
                "tags": ["a", "b", null, 3],
                "no_tags": [],
                "labels": {"team": "core", "my-key": "dashed"},
                "no_labels": {},
            },
            "settings": {"region": "us-east-1"},
            "env": {"HOME": "/root"},
        })
    }

    fn render(src: &str) -> String {
        let template = Template::parse(src).unwrap_or_else(|e| panic!("parse {src:?}: {e}"));
        template.render(&ctx()).unwrap_or_else(|e| panic!("render {src:?}: {e}"))
    }

    fn render_err(src: &str) -> TemplateError {
        let template = Template::parse(src).unwrap_or_else(|e| panic!("parse {src:?}: {e}"));
        match template.render(&ctx()) {
            Ok(out) => panic!("render {src:?} should fail, got {out:?}"),
            Err(e) => e,
        }
    }

    fn render_msg(src: &str) -> String {
        match render_err(src) {
            TemplateError::Render { message } => message,
            other => panic!("expected a render error for {src:?}, got {other:?}"),
        }
    }

    fn missing(src: &str) -> String {
        match render_err(src) {
            TemplateError::MissingKey { path } => path,
            other => panic!("expected a missing key for {src:?}, got {other:?}"),
        }
    }

    fn parse_err(src: &str) -> (usize, String) {
        match Template::parse(src) {
            Ok(_) => panic!("parse {src:?} should fail"),
            Err(TemplateError::Parse { column, message }) => (column, message),
            Err(other) => panic!("expected a parse error for {src:?}, got {other:?}"),
        }
    }

    #[test]
    fn atmos_default_template() {
        assert_eq!(render(ATMOS_DEFAULT), "plat-ue1-dev");
    }

    #[test]
    fn template_is_reusable_across_contexts() {
        let template = Template::parse(ATMOS_DEFAULT).expect("parses");
        for i in 0..100 {
            let ctx = json!({"vars": {"tenant": "t", "environment": i, "stage": "s"}});
            assert_eq!(template.render(&ctx).expect("renders"), format!("t-{i}-s"));
        }
    }

    #[test]
    fn literal_text_and_empty_template() {
        assert_eq!(render("just-text"), "just-text");
        assert_eq!(render(""), "");
        assert_eq!(render("a { b } c"), "a { b } c");
    }

    #[test]
    fn trim_markers() {
        assert_eq!(render("a  \n\t {{- .vars.stage -}} \n  b"), "adevb");
        assert_eq!(render("a {{- .vars.stage }} b"), "adev b");
        assert_eq!(render("a {{ .vars.stage -}} b"), "a devb");
        assert_eq!(render("{{ .vars.tenant }} {{- \"-\" -}} {{ .vars.stage }}"), "plat-dev");
        // Without the space, `{{-3}}` is the number -3, as in Go.
        assert_eq!(render("a {{-3}} b"), "a -3 b");
    }

    #[test]
    fn trim_marker_needs_space() {
        let (column, message) = parse_err("{{ .vars.stage-}}");
        assert_eq!(column, 15);
        assert!(message.contains("space"), "{message}");
    }

    #[test]
    fn comments() {
        assert_eq!(render("a{{/* note */}}b"), "ab");
        assert_eq!(render("a {{- /* note */ -}} b"), "ab");
        assert_eq!(render("{{/* {{ not an action }} */}}x"), "x");
        let (column, message) = parse_err("x{{/* never closed");
        assert_eq!(column, 2);
        assert!(message.starts_with("unclosed comment"), "{message}");
        let (_, message) = parse_err("{{/* c */ x }}");
        assert!(message.contains("comment ends before closing delimiter"), "{message}");
        let (_, message) = parse_err("{{ /* c */ }}");
        assert!(message.contains("comment must start right after"), "{message}");
    }

    #[test]
    fn nested_fields_dot_and_root() {
        assert_eq!(render("{{ .vars.labels.team }}"), "core");
        assert_eq!(render("{{ $.settings.region }}"), "us-east-1");
        assert_eq!(render("{{ with .vars.labels }}{{ .team }}/{{ $.vars.stage }}{{ end }}"), "core/dev");
        assert_eq!(render("{{ with .vars.stage }}{{ . }}{{ end }}"), "dev");
        let template = Template::parse("{{ . }}").expect("parses");
        assert_eq!(template.render(&json!("whole")).expect("renders"), "whole");
    }

    #[test]
    fn pipelines_pass_the_value_last() {
        assert_eq!(render("{{ .vars.stage | upper }}"), "DEV");
        assert_eq!(render("{{ \"a-b-c\" | replace \"-\" \"_\" }}"), "a_b_c");
        assert_eq!(render("{{ .vars.tenant | trimPrefix \"pl\" | upper }}"), "AT");
        assert_eq!(render("{{ .vars.nothing | default \"none\" | upper }}"), "NONE");
        assert_eq!(render("{{ .vars.stage | printf \"%s!\" }}"), "dev!");
    }

    #[test]
    fn parenthesised_sub_expressions() {
        assert_eq!(render("{{ printf \"%s-%s\" (upper .vars.tenant) (lower \"UE1\") }}"), "PLAT-ue1");
        assert_eq!(render("{{ (.vars.stage) }}"), "dev");
        assert_eq!(render("{{ upper (default \"x\" (index .vars.labels \"my-key\")) }}"), "DASHED");
        let (column, message) = parse_err("{{ upper (.vars.stage }}");
        assert_eq!(column, 10);
        assert!(message.starts_with("unclosed `(`"), "{message}");
        let (_, message) = parse_err("{{ upper .vars.stage) }}");
        assert!(message.contains("no matching `(`"), "{message}");
        let (_, message) = parse_err("{{ (.vars).stage }}");
        assert!(message.contains("use `index`"), "{message}");
    }

    #[test]
    fn string_literals_and_escapes() {
        assert_eq!(render(r#"{{ "a\"b\\c" }}"#), "a\"b\\c");
        assert_eq!(render(r#"{{ "tab\there\nnl" }}"#), "tab\there\nnl");
        assert_eq!(render(r#"{{ "\u00e9\U0001F600" }}"#), "é😀");
        assert_eq!(render("{{ `raw \\n {{ }} \"` }}"), "raw \\n {{ }} \"");
        assert_eq!(render(r#"{{ "}}" }}"#), "}}");
    }

    #[test]
    fn bad_string_escape() {
        let (column, message) = parse_err(r#"{{ .vars.stage }}{{ "a\qb" }}"#);
        assert_eq!(column, 23);
        assert!(message.starts_with("unknown escape sequence `\\q`"), "{message}");
        let (_, message) = parse_err(r#"{{ "\x41" }}"#);
        assert!(message.contains("not supported"), "{message}");
        let (column, message) = parse_err("{{ \"abc }}");
        assert_eq!(column, 4);
        assert!(message.starts_with("unterminated string"), "{message}");
        let (_, message) = parse_err("{{ `abc }}");
        assert!(message.starts_with("unterminated raw string"), "{message}");
    }

    #[test]
    fn numbers_and_booleans_print() {
        assert_eq!(render("{{ .vars.count }}/{{ .vars.negative }}/{{ .vars.ratio }}/{{ .vars.whole }}"), "3/-7/1.5/3");
        assert_eq!(render("{{ .vars.enabled }}/{{ .vars.off }}/{{ true }}/{{ 42 }}/{{ -1 }}"), "true/false/true/42/-1");
        let (_, message) = parse_err("{{ 1.5 }}");
        assert!(message.contains("only decimal integers"), "{message}");
        let (_, message) = parse_err("{{ 012 }}");
        assert!(message.contains("octal"), "{message}");
        let (_, message) = parse_err("{{ 99999999999999999999 }}");
        assert!(message.contains("too large"), "{message}");
    }

    #[test]
    fn unicode() {
        assert_eq!(render("ü-{{ .vars.name }}-{{ .vars.name | upper }}-ß"), "ü-café-CAFÉ-ß");
        assert_eq!(render("{{ \"élan vital\" | title }}"), "Élan Vital");
        // Columns count characters, not bytes.
        let (column, _) = parse_err("éé{{ .x");
        assert_eq!(column, 3);
    }

    #[test]
    fn string_functions() {
        assert_eq!(render("{{ lower \"AbC\" }}"), "abc");
        assert_eq!(render("{{ upper \"AbC\" }}"), "ABC");
        assert_eq!(render("{{ title \"hello wide_world-x\" }}"), "Hello Wide_world-X");
        assert_eq!(render("[{{ trim .vars.padded }}]"), "[x]");
        assert_eq!(render("{{ trimPrefix \"pl\" .vars.tenant }}"), "at");
        assert_eq!(render("{{ trimPrefix \"zz\" .vars.tenant }}"), "plat");
        assert_eq!(render("{{ trimSuffix \"-1\" \"ue-1\" }}"), "ue");
        assert_eq!(render("{{ replace \"e\" \"E\" \"eee\" }}"), "EEE");
    }

    #[test]
    fn string_functions_reject_other_types() {
        let message = render_msg("{{ upper .vars.count }}");
        assert!(message.starts_with("`upper` at column 4"), "{message}");
        assert!(message.contains("`.vars.count`, which is the number 3"), "{message}");
        let message = render_msg("{{ trimPrefix 1 \"x\" }}");
        assert!(message.contains("PREFIX must be a string"), "{message}");
    }

    #[test]
    fn default_function() {
        assert_eq!(render("{{ default \"d\" .vars.missing }}"), "d");
        assert_eq!(render("{{ default \"d\" .vars.nothing }}"), "d");
        assert_eq!(render("{{ default \"d\" .vars.blank }}"), "d");
        assert_eq!(render("{{ default \"d\" .vars.off }}"), "d");
        assert_eq!(render("{{ default \"d\" .vars.zero }}"), "d");
        assert_eq!(render("{{ default \"d\" .vars.no_tags }}"), "d");
        assert_eq!(render("{{ default \"d\" .vars.stage }}"), "dev");
        assert_eq!(render("{{ default \"d\" .vars.missing.deeper }}"), "d");
        assert_eq!(render("{{ .vars.missing | default .vars.stage }}"), "dev");
        assert_eq!(missing("{{ default .vars.a .vars.b }}"), "vars.a");
    }

    #[test]
    fn printf_function() {
        assert_eq!(
            render("{{ printf \"%s-%d-%v-%v-%v%%\" .vars.stage .vars.count .vars.ratio .vars.enabled \"x\" }}"),
            "dev-3-1.5-true-x%"
        );
        assert_eq!(render("{{ printf \"plain\" }}"), "plain");
        let message = render_msg("{{ printf \"%d\" .vars.stage }}");
        assert!(message.contains("%d needs an integer"), "{message}");
        let message = render_msg("{{ printf \"%s\" .vars.count }}");
        assert!(message.contains("use %v"), "{message}");
        let message = render_msg("{{ printf \"%s-%s\" .vars.stage }}");
        assert!(message.contains("more verbs"), "{message}");
        let message = render_msg("{{ printf \"%s\" .vars.stage .vars.tenant }}");
        assert!(message.contains("uses only 1"), "{message}");
        let message = render_msg("{{ printf \"%5s\" .vars.stage }}");
        assert!(message.contains("only %s, %d, %v and %%"), "{message}");
        assert_eq!(missing("{{ printf \"%v\" .vars.gone }}"), "vars.gone");
    }

    #[test]
    fn index_function() {
        assert_eq!(render("{{ index .vars.labels \"my-key\" }}"), "dashed");
        assert_eq!(render("{{ index .vars \"labels\" \"team\" }}"), "core");
        assert_eq!(render("{{ index .vars.tags 1 }}"), "b");
        assert_eq!(render("{{ index . \"vars\" \"stage\" }}"), "dev");
        assert_eq!(missing("{{ index .vars.labels \"nope\" }}"), "vars.labels.nope");
        assert_eq!(missing("{{ index .vars.tags 2 }}"), "vars.tags.2");
        let message = render_msg("{{ index .vars.tags 9 }}");
        assert!(
            message.contains("index 9 is out of range (indexing `.vars.tags`, which is a list of 4 items)"),
            "{message}"
        );
        let message = render_msg("{{ index .vars.stage 0 }}");
        assert!(message.contains("can't index the string \"dev\""), "{message}");
    }

    #[test]
    fn comparison_and_logic_functions() {
        assert_eq!(
            render("{{ eq .vars.stage \"dev\" }} {{ eq .vars.stage \"prod\" \"dev\" }} {{ eq .vars.count 3 }}"),
            "true true true"
        );
        assert_eq!(render("{{ ne .vars.stage \"dev\" }} {{ ne .vars.whole 3 }}"), "false false");
        assert_eq!(render("{{ and .vars.stage .vars.tenant }} {{ and .vars.blank .vars.tenant }}"), "plat ");
        assert_eq!(render("{{ or .vars.blank .vars.missing .vars.stage }}"), "dev");
        assert_eq!(render("{{ not .vars.enabled }} {{ not .vars.missing }}"), "false true");
        assert_eq!(
            render("{{ empty .vars.no_labels }} {{ empty .vars.labels }} {{ empty .vars.missing }}"),
            "true false true"
        );
        assert_eq!(render("{{ coalesce .vars.missing .vars.blank .vars.stage }}"), "dev");
        // `and`/`or` short-circuit: the failing call is never evaluated.
        assert_eq!(render("{{ or .vars.stage (upper .vars.count) }}"), "dev");
        let message = render_msg("{{ eq .vars.stage 1 }}");
        assert!(message.contains("different types"), "{message}");
        let message = render_msg("{{ eq .vars.labels 1 }}");
        assert!(message.contains("only strings, numbers and booleans"), "{message}");
        assert_eq!(missing("{{ eq .vars.missing \"x\" }}"), "vars.missing");
    }

    #[test]
    fn quote_and_join() {
        assert_eq!(render("{{ quote .vars.stage }}"), "\"dev\"");
        assert_eq!(render("{{ quote \"a\\\"b\" 3 true }}"), "\"a\\\"b\" \"3\" \"true\"");
        assert_eq!(render("{{ join \"-\" .vars.tags }}"), "a-b-3");
        assert_eq!(render("{{ .vars.tags | join \",\" }}"), "a,b,3");
        assert_eq!(render("[{{ join \"-\" .vars.no_tags }}]"), "[]");
        let message = render_msg("{{ join \"-\" .vars.labels }}");
        assert!(message.contains("LIST must be a list"), "{message}");
    }

    #[test]
    fn if_else_if_else() {
        let src = "{{ if eq .vars.stage \"prod\" }}P{{ else if eq .vars.stage \"dev\" }}D{{ else }}O{{ end }}";
        assert_eq!(render(src), "D");
        let template = Template::parse(src).expect("parses");
        for (stage, want) in [("prod", "P"), ("dev", "D"), ("qa", "O")] {
            let out = template.render(&json!({"vars": {"stage": stage}})).expect("renders");
            assert_eq!(out, want);
        }
        assert_eq!(render("{{ if .vars.missing }}yes{{ else }}no{{ end }}"), "no");
        assert_eq!(render("{{ if .vars.nothing }}yes{{ end }}"), "");
        assert_eq!(render("{{ if .vars.no_tags }}yes{{ else }}no{{ end }}"), "no");
        assert_eq!(render("{{ if .vars.count }}{{ if .vars.zero }}z{{ else }}nz{{ end }}{{ end }}"), "nz");
    }

    #[test]
    fn with_rebinds_dot() {
        assert_eq!(render("{{ with .vars.labels }}{{ .team }}{{ else }}none{{ end }}"), "core");
        assert_eq!(render("{{ with .vars.missing }}{{ .x }}{{ else }}none{{ end }}"), "none");
        assert_eq!(render("{{ with .vars.blank }}x{{ else with .vars.stage }}{{ . }}{{ end }}"), "dev");
        assert_eq!(render("{{ with upper .vars.stage }}{{ . }}{{ end }}"), "DEV");
        // Missing keys inside `with` report the full path.
        assert_eq!(missing("{{ with .vars.labels }}{{ .owner }}{{ end }}"), "vars.labels.owner");
        let (_, message) = parse_err("{{ if .a }}{{ else with .b }}{{ end }}");
        assert!(message.contains("`else with` can only continue a `with` block"), "{message}");
    }

    #[test]
    fn missing_keys() {
        assert_eq!(missing("{{ .vars.region }}"), "vars.region");
        assert_eq!(missing("{{ .vars.nothing }}"), "vars.nothing");
        assert_eq!(missing("{{ .nope.deeper.still }}"), "nope.deeper.still");
        assert_eq!(missing("{{ $.vars.gone | upper }}"), "vars.gone");
        let err = render_err("{{ .vars.region }}");
        assert_eq!(err.to_string(), "the template reads `.vars.region`, which is not set");
        let template = Template::parse(ATMOS_DEFAULT).expect("parses");
        let err = template.render(&json!({"vars": {"tenant": "t"}})).expect_err("fails");
        assert_eq!(err, TemplateError::MissingKey { path: "vars.environment".into() });
        let message = render_msg("{{ .vars.stage.x }}");
        assert!(message.contains("`.vars.stage` is the string \"dev\", not a map"), "{message}");
    }

    #[test]
    fn printing_composites_is_an_error() {
        let message = render_msg("{{ .vars.labels }}");
        assert!(message.starts_with("cannot print a map: `{{ .vars.labels }}` at column 1"), "{message}");
        assert!(message.contains("`.vars.labels.team`"), "{message}");
        let message = render_msg("x{{ .vars.tags }}");
        assert!(message.starts_with("cannot print a list"), "{message}");
        assert!(message.contains("column 2"), "{message}");
        let message = render_msg("{{ coalesce .vars.missing }}");
        assert!(message.starts_with("cannot print null"), "{message}");
    }

    #[test]
    fn unclosed_action() {
        let (column, message) = parse_err("{{ .vars.tenant }}-{{ .vars.stage");
        assert_eq!(column, 20);
        assert!(message.starts_with("unclosed action"), "{message}");
        let err = Template::parse("ab{{ .x").expect_err("fails");
        assert_eq!(err.to_string(), "unclosed action: this `{{` has no matching `}}` (at column 3)");
        let (column, message) = parse_err("{{ .a {{ .b }}");
        assert_eq!(column, 1);
        assert!(message.starts_with("unclosed action"), "{message}");
    }

    #[test]
    fn unknown_function() {
        let (column, message) = parse_err("{{ .vars.stage | uper }}");
        assert_eq!(column, 18);
        assert!(message.starts_with("unknown function `uper` (did you mean `upper`?)"), "{message}");
        assert!(message.contains("lower, upper, title, trim"), "{message}");
        let (_, message) = parse_err("{{ split \"-\" .vars.stage }}");
        assert!(message.starts_with("unknown function `split`"), "{message}");
    }

    #[test]
    fn unsupported_constructs() {
        let (column, message) = parse_err("ab {{ range .vars.tags }}x{{ end }}");
        assert_eq!(column, 7);
        assert!(message.starts_with("`range` is not supported in stack name templates"), "{message}");
        for word in ["define", "template", "block", "nil"] {
            let (_, message) = parse_err(&format!("{{{{ {word} \"x\" }}}}"));
            assert!(message.starts_with(&format!("`{word}` is not supported")), "{message}");
        }
        let (column, message) = parse_err("{{ $x := .vars.stage }}");
        assert_eq!(column, 4);
        assert!(message.contains("variables like `$x` are not supported"), "{message}");
        let (_, message) = parse_err("{{ .vars.my-key }}");
        assert!(message.contains("use `index`"), "{message}");
        let (_, message) = parse_err("{{ printf \"%s\", .vars.stage }}");
        assert!(message.contains("not commas"), "{message}");
    }

    #[test]
    fn block_structure_errors() {
        let (column, message) = parse_err("a{{ end }}");
        assert_eq!(column, 2);
        assert!(message.contains("`{{ end }}` has no matching"), "{message}");
        let (_, message) = parse_err("{{ else }}");
        assert!(message.contains("`{{ else }}` has no matching"), "{message}");
        let (column, message) = parse_err("x {{ if .vars.stage }}y");
        assert_eq!(column, 3);
        assert!(message.starts_with("unclosed `if`"), "{message}");
        let (column, message) = parse_err("{{ if .a }}{{ else if .b }}{{ else }}");
        assert_eq!(column, 1);
        assert!(message.starts_with("unclosed `if`"), "{message}");
        let (_, message) = parse_err("{{ with .a }}x");
        assert!(message.starts_with("unclosed `with`"), "{message}");
        let (_, message) = parse_err("{{ if .a }}{{ else }}{{ else }}{{ end }}");
        assert!(message.contains("follows another"), "{message}");
        let (_, message) = parse_err("{{ if }}{{ end }}");
        assert!(message.starts_with("missing condition after `if`"), "{message}");
        let (_, message) = parse_err("{{ end .x }}");
        assert!(message.contains("after `end`"), "{message}");
    }

    #[test]
    fn command_shape_errors() {
        let (_, message) = parse_err("{{ }}");
        assert!(message.starts_with("empty action"), "{message}");
        let (_, message) = parse_err("{{ .vars.tenant .vars.stage }}");
        assert!(message.contains("is not a function"), "{message}");
        let (_, message) = parse_err("{{ .vars.stage | .vars.tenant }}");
        assert!(message.starts_with("only a function can follow `|`"), "{message}");
        let (_, message) = parse_err("{{ .vars.stage | }}");
        assert!(message.starts_with("missing function after `|`"), "{message}");
        let (column, message) = parse_err("{{ replace \"a\" \"b\" }}");
        assert_eq!(column, 4);
        assert!(message.contains("`replace` takes 3 arguments but is given 2"), "{message}");
        let (_, message) = parse_err("{{ lower upper .vars.stage }}");
        assert!(message.contains("wrap the call in parentheses"), "{message}");
        let (_, message) = parse_err("{{ .vars.stage | upper \"x\" }}");
        assert!(message.contains("counting the value piped into it"), "{message}");
    }

    #[test]
    fn multi_line_positions() {
        let (column, message) = parse_err("a\nbc {{ foo }}");
        assert_eq!(column, 7);
        assert!(message.starts_with("line 2: unknown function `foo`;"), "{message}");
        let message = render_msg("a\n{{ upper 1 }}");
        assert!(message.contains("line 2, column 4"), "{message}");
        assert_eq!(render("{{ .vars.tenant\n | upper }}"), "PLAT");
    }

    #[test]
    fn fields_lists_paths() {
        let template = Template::parse(ATMOS_DEFAULT).expect("parses");
        assert_eq!(template.fields(), ["vars.tenant", "vars.environment", "vars.stage"]);
        let src = "{{ .vars.stage | upper }}{{ if .vars.x }}{{ .vars.stage }}{{ end }}\
                   {{ with .vars.labels }}{{ .team }}{{ $.settings.region }}{{ end }}\
                   {{ index .vars.labels \"my-key\" }}{{ default \"d\" (lower .env.USER) }}{{ . }}";
        let template = Template::parse(src).expect("parses");
        assert_eq!(
            template.fields(),
            [
                "vars.stage",
                "vars.x",
                "vars.labels",
                "vars.labels.team",
                "settings.region",
                "vars.labels.my-key",
                "env.USER",
            ]
        );
        assert!(Template::parse("text").expect("parses").fields().is_empty());
    }

    #[test]
    fn deep_nesting_is_rejected_not_overflowed() {
        let parens = format!("{{{{ {}.x{} }}}}", "(".repeat(500), ")".repeat(500));
        let (_, message) = parse_err(&parens);
        assert!(message.contains("nested more than"), "{message}");
        let ifs = format!("{}x{}", "{{ if .a }}".repeat(500), "{{ end }}".repeat(500));
        let (_, message) = parse_err(&ifs);
        assert!(message.contains("nested more than"), "{message}");
    }

    #[test]
    fn mangled_templates_never_panic() {
        let seeds = [
            ATMOS_DEFAULT,
            "{{- if eq .vars.stage \"dev\" -}}d{{ else if .vars.x }}{{ .vars.x | upper }}{{ else }}o{{ end }}",
            "{{ with .vars.labels }}{{ index . \"my-key\" | default `z` | quote }}{{ end }}",
            "{{/* c */}}{{ printf \"%s-%d%%\" (lower .vars.tenant) 42 }}é",
            "{{ join \"-\" .vars.tags | trimSuffix \"\\u00e9\" }}{{ and $.a (or .b (not .c)) }}",
        ];
        let pieces = [
            "{{", "}}", "{{-", "-}}", " ", "|", "(", ")", ".", "$", "\"", "`", "\\", "/*", "*/", "-", "é", "\n", "if",
            "end", "else", "with", "range", "upper", "index", "0", "-9", "x", ":=", ",",
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |bound: usize| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(state >> 33).unwrap_or(0) % bound.max(1)
        };
        let mut parsed = 0;
        for round in 0..600 {
            let mut chars: Vec<String> = seeds[round % seeds.len()].chars().map(String::from).collect();
            for _ in 0..=next(4) {
                let at = next(chars.len() + 1);
                match next(4) {
                    0 if at < chars.len() => {
                        chars.remove(at);
                    }
                    1 => chars.insert(at, pieces[next(pieces.len())].to_owned()),
                    2 => chars.truncate(at),
                    _ => {
                        let from = next(chars.len() + 1);
                        let piece: Vec<String> = chars[from.min(at)..from.max(at)].to_vec();
                        chars.splice(at..at, piece);
                    }
                }
            }
            let src: String = chars.concat();
            if let Ok(template) = Template::parse(&src) {
                parsed += 1;
                for ctx in [ctx(), json!(null), json!("s"), json!({"vars": []}), json!({"a": {"b": 1}})] {
                    let _ = template.render(&ctx);
                }
                let _ = template.fields();
            }
        }
        assert!(parsed > 0, "some mangled templates should still parse");
    }
}
