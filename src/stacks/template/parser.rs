//! The parser: turns scanned items into the tree of [`super::ast`], matching
//! `if`/`with`/`else`/`end` blocks and building pipelines from tokens, with
//! each function's arity checked against [`super::funcs::FUNCS`].
//!
//! It exists so that every shape error is found once, at parse time, with its
//! column. It must not evaluate anything: values belong to the renderer.

use serde_json::Value;

use super::TemplateError;
use super::ast::{Call, Command, Cond, CondKind, Expr, Field, Node, Pipeline, Span};
use super::error::{parse_error, plural};
use super::funcs::{ident_message, lookup};
use super::lexer::{Item, Tok, Token};

/// Deepest nesting of `if`/`with` blocks (including `else if` chains) and of
/// parentheses; bounds recursion on hostile input.
const MAX_DEPTH: usize = 64;

/// What ended a list of nodes.
pub(super) enum Stop {
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

pub(super) struct Parser<'s> {
    pub(super) src: &'s str,
    pub(super) items: std::vec::IntoIter<Item>,
    pub(super) depth: usize,
}

impl Parser<'_> {
    fn error(&self, pos: usize, message: impl Into<String>) -> TemplateError {
        parse_error(self.src, pos, message)
    }

    pub(super) fn list(&mut self) -> Result<(Vec<Node>, Stop), TemplateError> {
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
