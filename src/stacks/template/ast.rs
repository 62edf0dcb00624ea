//! The syntax tree a parsed [`Template`](super::Template) keeps: text, print
//! actions and `if`/`with` blocks, down to pipelines, calls and fields.
//!
//! It exists so that a template is parsed once and rendered many times by
//! walking plain data. It holds data only: no parsing, no rendering, no
//! messages.

use serde_json::Value;

use super::funcs::FuncInfo;

#[derive(Debug, Clone)]
pub(super) enum Node {
    Text(String),
    Print { pipe: Pipeline, span: Span },
    Cond(Box<Cond>),
}

/// An `if` or `with` block; `else if` chains nest in `otherwise`.
#[derive(Debug, Clone)]
pub(super) struct Cond {
    pub(super) kind: CondKind,
    pub(super) pipe: Pipeline,
    pub(super) then: Vec<Node>,
    pub(super) otherwise: Vec<Node>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CondKind {
    If,
    With,
}

impl CondKind {
    pub(super) fn word(self) -> &'static str {
        match self {
            CondKind::If => "if",
            CondKind::With => "with",
        }
    }
}

/// Byte offsets of a whole action, `{{` through `}}`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    pub(super) start: usize,
    pub(super) end: usize,
}

/// `head | tail[0] | tail[1] ...`; only functions can follow a `|`.
#[derive(Debug, Clone)]
pub(super) struct Pipeline {
    pub(super) head: Command,
    pub(super) tail: Vec<Call>,
}

#[derive(Debug, Clone)]
pub(super) enum Command {
    Operand(Expr),
    Call(Call),
}

#[derive(Debug, Clone)]
pub(super) struct Call {
    pub(super) info: &'static FuncInfo,
    pub(super) args: Vec<Expr>,
    /// Whether a piped value is appended as the last argument.
    pub(super) piped: bool,
    pub(super) pos: usize,
}

#[derive(Debug, Clone)]
pub(super) enum Expr {
    Field(Field),
    Lit(Value),
    Sub(Box<Pipeline>),
}

/// `.a.b` (relative to dot), `$.a.b` (relative to the root), `.` or `$`.
#[derive(Debug, Clone)]
pub(super) struct Field {
    pub(super) root: bool,
    pub(super) keys: Vec<String>,
    /// `keys` joined with dots, precomputed for messages.
    pub(super) path: String,
}
