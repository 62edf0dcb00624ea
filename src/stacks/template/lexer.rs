//! The scanner: splits a template's source into literal text and actions,
//! applies trim markers, skips comments, and lexes each action into tokens
//! with byte offsets.
//!
//! It exists so that the parser sees tokens, never characters. It rejects
//! what Go's lexer would (and the variables and literals we do not support),
//! but it must not look at the shape of an action: that is the parser's.

use serde_json::Value;

use super::TemplateError;
use super::ast::Span;
use super::error::parse_error;

/// White space as Go's template lexer defines it.
const SPACE: [char; 4] = [' ', '\t', '\r', '\n'];

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) pos: usize,
    pub(super) end: usize,
}

pub(super) enum Item {
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
pub(super) fn ident_len(s: &str) -> usize {
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

pub(super) fn scan(src: &str) -> Result<Vec<Item>, TemplateError> {
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
