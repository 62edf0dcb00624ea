//! [`TemplateError`] and the positions its messages give ("line 2, column 7").
//!
//! It exists so that every stage words its errors the same way. It only
//! builds errors and position text; it must not decide what is an error.

use super::ast::Span;

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

/// 1-based line and column (in characters) of byte offset `pos`.
fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let before = src.get(..pos).unwrap_or(src);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before.get(line_start..).unwrap_or("").chars().count() + 1;
    (line, column)
}

pub(super) fn parse_error(src: &str, pos: usize, message: impl Into<String>) -> TemplateError {
    let (line, column) = line_col(src, pos);
    let message = message.into();
    let message = if line > 1 { format!("line {line}: {message}") } else { message };
    TemplateError::Parse { column, message }
}

/// "column 7", or "line 2, column 7" past the first line.
pub(super) fn location(src: &str, pos: usize) -> String {
    match line_col(src, pos) {
        (1, column) => format!("column {column}"),
        (line, column) => format!("line {line}, column {column}"),
    }
}

/// The source of an action for messages, shortened if very long.
pub(super) fn snippet(src: &str, span: Span) -> String {
    let text = src.get(span.start..span.end).unwrap_or("");
    if text.chars().count() <= 60 {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(57).collect();
    short.push_str("...");
    short
}

pub(super) fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}
