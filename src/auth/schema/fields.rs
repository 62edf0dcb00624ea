//! The field reader every section parser uses ([`Fields`]), and the problems common to all
//! sections (duplicate names, unknown kinds, values of the wrong type).
//!
//! Why it exists: so each parser says what a field must be, not how to report it. It
//! records a problem for each bad field and must never stop at the first.

use super::*;

pub(super) fn general(n: &Node, message: String) -> Problem {
    Problem { subject: Subject::General, span: Some(n.span.clone()), message, hint: None }
}

pub(super) fn describe_value(n: &Node) -> String {
    match n.scalar_string() {
        Some(s) => format!("`{s}`"),
        None => n.type_name().to_string(),
    }
}

pub(super) fn check_duplicate_names(what: &str, map: &crate::yaml::Map, problems: &mut Vec<Problem>) {
    let names: Vec<&String> = map.keys().collect();
    for (i, a) in names.iter().enumerate() {
        if a.trim().is_empty() {
            problems.push(Problem {
                subject: Subject::General,
                span: map.get(*a).map(|n| n.span.clone()),
                message: format!("an {what} has an empty name"),
                hint: None,
            });
        }
        for b in &names[i + 1..] {
            if a.eq_ignore_ascii_case(b) {
                problems.push(Problem {
                    subject: match what {
                        "provider" => Subject::Provider(b.to_string()),
                        "integration" => Subject::Integration(b.to_string()),
                        _ => Subject::Identity(b.to_string()),
                    },
                    span: map.get(*b).map(|n| n.span.clone()),
                    message: format!(
                        "{what} names `{a}` and `{b}` differ only in case; names match case-insensitively"
                    ),
                    hint: Some(format!("rename or merge one of the two {what}s")),
                });
            }
        }
    }
}

/// Reads typed fields of one provider or identity, recording a problem for each bad one.
pub(super) struct Fields<'a> {
    pub(super) node: &'a Node,
    pub(super) subject: Subject,
    pub(super) what: String,
    pub(super) problems: &'a mut Vec<Problem>,
    pub(super) notes: &'a mut Notes,
}

impl<'a> Fields<'a> {
    /// Accepted as Atmos accepts it, with a note ([`Notes::warnings`]).
    pub(super) fn warn(&mut self, span: &Span, message: String, hint: Option<String>) {
        self.notes.warnings.push(Problem { subject: self.subject.clone(), span: Some(span.clone()), message, hint });
    }

    /// Accepted, but a run that needs it is refused ([`Notes::unsupported`]).
    pub(super) fn unsupported(&mut self, span: &Span, message: String, hint: Option<String>) {
        self.notes.unsupported.push(Problem { subject: self.subject.clone(), span: Some(span.clone()), message, hint });
    }

    pub(super) fn problem(&mut self, span: &Span, message: String, hint: Option<String>) {
        self.problems.push(Problem { subject: self.subject.clone(), span: Some(span.clone()), message, hint });
    }

    /// The node at `path`, treating null as absent; an unset `!env` is reported.
    pub(super) fn get(&mut self, path: &[&str]) -> Option<&'a Node> {
        let node: &'a Node = self.node;
        let n = node.get_path(path)?;
        if n.is_null() {
            if let Some(tag) = n.tag.as_deref().and_then(|t| t.strip_prefix("!env ")) {
                let (span, what) = (n.span.clone(), self.what.clone());
                self.problem(
                    &span,
                    format!("{what}: `{}` reads `!env {tag}`, which is not set", path.join(".")),
                    Some(format!("export {tag}, or give `!env {tag} DEFAULT` a default")),
                );
            }
            return None;
        }
        if let Some(tag) = n.tag.as_deref().filter(|t| *t != "!append") {
            let (span, what, tag) = (n.span.clone(), self.what.clone(), tag.to_string());
            self.problem(
                &span,
                format!("{what}: `{}` holds `{tag}`, which tfauth cannot resolve", path.join(".")),
                Some("write the value directly, or use !env".into()),
            );
            return None;
        }
        Some(n)
    }

    pub(super) fn opt_str(&mut self, path: &[&str]) -> Option<String> {
        let n = self.get(path)?;
        match &n.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(_) | Value::Float(_) => n.scalar_string(),
            _ => {
                let (span, found, what) = (n.span.clone(), n.type_name(), self.what.clone());
                self.problem(&span, format!("{what}: `{}` must be a string, not {found}", path.join(".")), None);
                None
            }
        }
    }

    pub(super) fn req_str(&mut self, path: &[&str]) -> Option<String> {
        let had_env = self.node.get_path(path).is_some_and(|n| n.is_null() && n.tag.is_some());
        let v = self.opt_str(path).filter(|s| !s.trim().is_empty());
        if v.is_none() && !had_env && self.node.get_path(path).is_none_or(|n| n.is_null() || n.as_str().is_some()) {
            let (span, what) = (self.node.span.clone(), self.what.clone());
            self.problem(
                &span,
                format!("{what} is missing `{}`", path.join(".")),
                Some(format!("add `{}` to its definition", path.join("."))),
            );
        }
        v
    }

    pub(super) fn opt_bool(&mut self, path: &[&str]) -> Option<bool> {
        let n = self.get(path)?;
        match n.as_bool() {
            Some(b) => Some(b),
            None => {
                let (span, what, v) = (n.span.clone(), self.what.clone(), describe_value(n));
                self.problem(&span, format!("{what}: `{}` must be true or false, not {v}", path.join(".")), None);
                None
            }
        }
    }

    pub(super) fn opt_duration(&mut self, path: &[&str]) -> Option<u64> {
        let n = self.get(path)?;
        let parsed = match &n.value {
            Value::Int(i) if *i >= 0 => Some(*i as u64),
            Value::Str(s) => parse_duration(s),
            _ => None,
        };
        if parsed.is_none() {
            let (span, what, v) = (n.span.clone(), self.what.clone(), describe_value(n));
            self.problem(
                &span,
                format!("{what}: `{}` is {v}, which is not a duration", path.join(".")),
                Some("write durations like 900s, 15m, 1h or 1h30m (or a number of seconds)".into()),
            );
        }
        parsed
    }

    pub(super) fn opt_str_list(&mut self, path: &[&str]) -> Vec<String> {
        let Some(n) = self.get(path) else {
            return vec![];
        };
        if let Some(s) = n.as_str() {
            return vec![s.to_string()];
        }
        match n.as_seq() {
            Some(items) if items.iter().all(|i| i.as_str().is_some()) => {
                items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect()
            }
            _ => {
                let (span, what) = (n.span.clone(), self.what.clone());
                self.problem(&span, format!("{what}: `{}` must be a list of strings", path.join(".")), None);
                vec![]
            }
        }
    }

    /// A required field that must pass `check`, with a message saying what it should be.
    pub(super) fn req_matching(&mut self, path: &[&str], check: fn(&str) -> bool, should_be: &str) -> Option<String> {
        let v = self.req_str(path)?;
        self.check_value(path, v, check, should_be)
    }

    pub(super) fn opt_matching(&mut self, path: &[&str], check: fn(&str) -> bool, should_be: &str) -> Option<String> {
        let v = self.opt_str(path)?;
        self.check_value(path, v, check, should_be)
    }

    pub(super) fn check_value(
        &mut self,
        path: &[&str],
        v: String,
        check: fn(&str) -> bool,
        should_be: &str,
    ) -> Option<String> {
        if check(&v) {
            return Some(v);
        }
        let span = self.node.get_path(path).map_or_else(|| self.node.span.clone(), |n| n.span.clone());
        let what = self.what.clone();
        self.problem(&span, format!("{what}: `{}` is `{v}`, which is not {should_be}", path.join(".")), None);
        None
    }

    /// What `read` finds, with any problem it records turned into a warning that ends in
    /// `; {ignored}`: for fields Atmos reads loosely (a bad one is dropped, never refused).
    pub(super) fn lenient<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>, ignored: &str) -> Option<T> {
        let before = self.problems.len();
        let got = read(self);
        let found: Vec<Problem> = self.problems.drain(before..).collect();
        for mut p in found {
            p.message.push_str(&format!("; {ignored}"));
            self.notes.warnings.push(p);
        }
        got
    }

    /// A string at `path` with where it was written; empty is unset. Anything but a string
    /// is ignored with a warning, as Atmos ignores it (its `.(string)` finds nothing).
    pub(super) fn located_str(&mut self, path: &[&str]) -> Option<Located> {
        let value = self.lenient(|f| f.opt_str(path), "ignored, as Atmos ignores it")?;
        let span = self.node.get_path(path).map_or_else(|| self.node.span.clone(), |n| n.span.clone());
        (!value.is_empty()).then_some(Located { value, span })
    }

    /// `tags`: a list of strings (one string is one tag). Anything else is ignored with a
    /// warning: tags only filter lists.
    pub(super) fn tags(&mut self) -> Vec<String> {
        let mut tags = self.lenient(|f| Some(f.opt_str_list(&["tags"])), "ignored").unwrap_or_default();
        tags.retain(|t| !t.trim().is_empty());
        tags
    }

    /// A field that may sit under `spec:` or at the top level.
    pub(super) fn spec_str(&mut self, key: &str) -> Option<String> {
        if self.node.get_path(&["spec", key]).is_some() { self.opt_str(&["spec", key]) } else { self.opt_str(&[key]) }
    }

    pub(super) fn spec_req(&mut self, key: &str, check: fn(&str) -> bool, should_be: &str) -> Option<String> {
        if self.node.get(key).is_some() && self.node.get_path(&["spec", key]).is_none() {
            self.req_matching(&[key], check, should_be)
        } else {
            self.req_matching(&["spec", key], check, should_be)
        }
    }
}

/// Reports an unknown `kind`, suggesting the nearest known one and listing them all.
pub(super) fn unknown_kind(f: &mut Fields<'_>, node: &Node, what: &str, kind: &str, known: &[&str]) {
    let span = node.get("kind").map_or(node.span.clone(), |k| k.span.clone());
    let unimplemented = match what {
        "provider" => UNIMPLEMENTED_PROVIDER_KINDS,
        "identity" => UNIMPLEMENTED_IDENTITY_KINDS,
        _ => UNIMPLEMENTED_INTEGRATION_KINDS,
    };
    if unimplemented.contains(&kind) {
        let name = match &f.subject {
            Subject::Provider(n) | Subject::Identity(n) | Subject::Integration(n) => n.clone(),
            Subject::General => String::new(),
        };
        f.unsupported(
            &span,
            format!("{what} `{name}`: kind `{kind}` (an Atmos kind) is {NOT_SUPPORTED_YET}"),
            Some(format!(
                "tfauth reads and lists it; a run that needs it fails. Kinds tfauth runs: {}",
                known.join(", ")
            )),
        );
        return;
    }
    let near = crate::util::suggest::nearest(kind, known.iter().copied());
    let list = format!("known {what} kinds: {}", known.join(", "));
    let name = match &f.subject {
        Subject::Provider(n) | Subject::Identity(n) | Subject::Integration(n) => n.clone(),
        Subject::General => String::new(),
    };
    let hint = match near.first() {
        Some(n) => format!("did you mean `{n}`? {list}"),
        None => list,
    };
    f.problem(&span, format!("{what} `{name}` has unknown kind `{kind}`"), Some(hint));
}
