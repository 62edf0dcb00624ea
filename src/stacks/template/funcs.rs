//! The functions a stack name template may call (a Sprig-like subset): their
//! table (names, arity, usage), the "unknown function" message with its
//! suggestion, and what each one does when rendered.
//!
//! It exists so that adding or changing a function touches one file. It must
//! not parse or walk the tree itself: it is given evaluated arguments (only
//! `and` and `or`, which stop early, are given a lazy iterator).

use std::borrow::Cow;

use serde_json::{Number, Value};

use crate::util::suggest::edit_distance;

use super::TemplateError;
use super::ast::Call;
use super::error::{location, plural};
use super::render::Renderer;
use super::value::{Val, describe, go_quote, join_path, kind_phrase, missing_key, scalar, truthy};

/// Go template words that stack name templates do not support.
const UNSUPPORTED: [&str; 7] = ["range", "define", "template", "block", "break", "continue", "nil"];

/// Words that may only start an action.
const KEYWORDS: [&str; 4] = ["if", "else", "end", "with"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Func {
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
    HasKey,
    ToJson,
    Contains,
    HasPrefix,
    HasSuffix,
    Env,
}

#[derive(Debug)]
pub(super) struct FuncInfo {
    pub(super) name: &'static str,
    pub(super) func: Func,
    pub(super) min: usize,
    pub(super) max: Option<usize>,
    pub(super) usage: &'static str,
}

pub(super) const fn func(
    name: &'static str,
    func: Func,
    min: usize,
    max: Option<usize>,
    usage: &'static str,
) -> FuncInfo {
    FuncInfo { name, func, min, max, usage }
}

pub(super) const FUNCS: &[FuncInfo] = &[
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
    func("hasKey", Func::HasKey, 2, Some(2), "hasKey MAP KEY"),
    func("toJson", Func::ToJson, 1, Some(1), "toJson VALUE"),
    func("contains", Func::Contains, 2, Some(2), "contains SUBSTRING STRING"),
    func("hasPrefix", Func::HasPrefix, 2, Some(2), "hasPrefix PREFIX STRING"),
    func("hasSuffix", Func::HasSuffix, 2, Some(2), "hasSuffix SUFFIX STRING"),
    func("env", Func::Env, 1, Some(1), "env NAME"),
];

pub(super) fn lookup(name: &str) -> Option<&'static FuncInfo> {
    FUNCS.iter().find(|f| f.name == name)
}

/// Message for an identifier that is neither a function nor usable here.
pub(super) fn ident_message(name: &str) -> String {
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
        .map(|f| (edit_distance(&lower, &f.name.to_lowercase(), false), f.name))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, n)| n)
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
pub(super) fn logic<'a>(
    or: bool,
    values: impl Iterator<Item = Result<Val<'a>, TemplateError>>,
) -> Result<Val<'a>, TemplateError> {
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

impl<'a> Renderer<'a> {
    pub(super) fn apply(&self, call: &Call, args: Vec<Val<'a>>) -> Result<Val<'a>, TemplateError> {
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
            Func::HasKey => {
                let key = self.str_arg(call, &args, 1)?;
                match self.arg(call, &args, 0)?.value() {
                    Some(Value::Object(map)) => Ok(Val::bool(map.contains_key(key))),
                    None | Some(Value::Null) => Ok(Val::bool(false)),
                    Some(_) => Err(self.fail(call, format!("MAP must be a map, but got {}", describe(&args[0])))),
                }
            }
            Func::ToJson => {
                // Sprig's toJson of a missing value is `null`.
                let v = self.arg(call, &args, 0)?.value().unwrap_or(&Value::Null);
                text(serde_json::to_string(v).unwrap_or_default())
            }
            Func::Contains => {
                let needle = self.str_arg(call, &args, 0)?;
                Ok(Val::bool(self.str_arg(call, &args, 1)?.contains(needle)))
            }
            Func::HasPrefix => {
                let prefix = self.str_arg(call, &args, 0)?;
                Ok(Val::bool(self.str_arg(call, &args, 1)?.starts_with(prefix)))
            }
            Func::Env => {
                let name = self.str_arg(call, &args, 0)?;
                match self.env {
                    // Sprig's `env` of an unset variable is "".
                    Some(env) => text(env.get_raw(name).unwrap_or_default().to_owned()),
                    None => Err(self.fail(call, "the environment is not available to this template")),
                }
            }
            Func::HasSuffix => {
                let suffix = self.str_arg(call, &args, 0)?;
                Ok(Val::bool(self.str_arg(call, &args, 1)?.ends_with(suffix)))
            }
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
