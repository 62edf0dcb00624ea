//! The values rendering produces ([`Val`]: borrowed from the context or the
//! template where it can be, with the path it was read from) and how they are
//! printed and described in messages (Go's `%q`, numbers, "the string ...").
//!
//! It exists so that the renderer and the functions share one notion of a
//! value, truthiness and printed form. It must not evaluate the tree or
//! know any function.

use std::borrow::Cow;

use serde_json::{Number, Value};

use super::TemplateError;
use super::error::plural;

/// A value produced while rendering; borrows from the context or the
/// template wherever it can.
#[derive(Debug, Clone)]
pub(super) enum Val<'a> {
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
    pub(super) fn value(&self) -> Option<&Value> {
        match self {
            Val::Ref(v, _) | Val::Lit(v) => Some(*v),
            Val::Owned(v) => Some(v),
            Val::Missing(_) => None,
        }
    }

    pub(super) fn path(&self) -> &str {
        match self {
            Val::Ref(_, p) | Val::Missing(p) => p,
            Val::Lit(_) | Val::Owned(_) => "",
        }
    }

    pub(super) fn string(s: String) -> Self {
        Val::Owned(Value::String(s))
    }

    pub(super) fn bool(b: bool) -> Self {
        Val::Owned(Value::Bool(b))
    }
}

/// Go's truthiness; missing values are false.
pub(super) fn truthy(v: &Val<'_>) -> bool {
    v.value().is_some_and(|v| match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    })
}

pub(super) fn missing_key(v: &Val<'_>) -> TemplateError {
    TemplateError::MissingKey { path: v.path().to_owned() }
}

/// `prefix.rel`, borrowing when there is no prefix.
pub(super) fn join_path<'a>(prefix: &str, rel: &'a str) -> Cow<'a, str> {
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
pub(super) fn scalar(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(number_text(n))),
        Value::Bool(true) => Some(Cow::Borrowed("true")),
        Value::Bool(false) => Some(Cow::Borrowed("false")),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

pub(super) fn kind_phrase(value: &Value) -> String {
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
pub(super) fn describe(v: &Val<'_>) -> String {
    let what = v.value().map_or_else(|| "not set".to_owned(), kind_phrase);
    match v {
        Val::Ref(_, p) | Val::Missing(p) => format!("`.{p}`, which is {what}"),
        Val::Lit(_) | Val::Owned(_) => what,
    }
}

/// Go's `%q` (strconv.Quote) for the characters that matter here.
pub(super) fn go_quote(s: &str) -> String {
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

/// Follows `keys` through nested maps: `Ok(None)` if a key is absent or
/// null, `Err(i)` if the value before `keys[i]` is not a map.
pub(super) fn walk<'v>(mut value: &'v Value, keys: &[String]) -> Result<Option<&'v Value>, usize> {
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
