//! The renderer: walks a parsed tree over a context and writes the output,
//! reading fields, running pipelines and printing scalars.
//!
//! It exists so that rendering is a walk of pre-built data, with no
//! re-parsing. What each function does is in [`super::funcs`]; this file must
//! not grow function bodies, and it does no I/O.

use std::borrow::Cow;

use serde_json::Value;

use super::TemplateError;
use super::ast::{Call, Command, Cond, CondKind, Expr, Field, Node, Pipeline, Span};
use super::error::{location, snippet};
use super::funcs::{Func, logic};
use super::lexer::ident_len;
use super::value::{Val, describe, join_path, kind_phrase, missing_key, scalar, truthy, walk};

pub(super) struct Renderer<'a> {
    pub(super) src: &'a str,
    pub(super) root: &'a Value,
    /// Go's `missingkey=default`: a missing value prints `<no value>` instead of failing.
    pub(super) missing_prints: bool,
    pub(super) env: Option<&'a crate::env_vars::Env>,
}

impl<'a> Renderer<'a> {
    pub(super) fn nodes(&self, nodes: &'a [Node], dot: &Val<'a>, out: &mut String) -> Result<(), TemplateError> {
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
            if self.missing_prints {
                out.push_str("<no value>");
                return Ok(());
            }
            if self.src.contains('\n') {
                // A whole-file template: say where the action is.
                return Err(TemplateError::Render {
                    message: format!(
                        "{} (`{}` at {})",
                        missing_key(v),
                        snippet(self.src, span),
                        location(self.src, span.start)
                    ),
                });
            }
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
}
