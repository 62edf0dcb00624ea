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
//!   default printf index eq ne and or not empty coalesce quote join hasKey
//!   toJson contains hasPrefix hasSuffix`, with Sprig's names and argument
//!   order (`printf` knows `%s %d %v %%`).
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
//! useful stack name. The exception is [`Template::render_with`] asked for
//! Go's `missingkey=default` (Atmos's `ignore_missing_template_values`): a
//! missing value then prints `<no value>`, as Go prints it.
//!
//! The same evaluator renders manifest values (`templates.settings.enabled`)
//! and whole imported files (`import: [{path, context}]`, `.yaml.tmpl`).
//!
//! The module does no I/O: it only turns a template string plus a JSON value
//! into a string.
//!
//! # Layout
//!
//! The work flows one way through the files of this folder: `lexer` splits
//! the source into text and the tokens of each action, `parser` builds the
//! tree of `ast`, `render` walks it over a context (values in `value`, the
//! functions in `funcs`). `error`
//! holds [`TemplateError`] and the positions its messages give. This file
//! keeps only the public face, [`Template`]; everything else is
//! private to the folder and must stay so.

mod ast;
mod error;
mod funcs;
mod lexer;
mod parser;
mod render;
mod value;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

use serde_json::Value;

pub use error::TemplateError;

use ast::Node;
use error::parse_error;
use lexer::scan;
use parser::{Parser, Stop};
use render::Renderer;
use value::Val;

/// How [`Template::render_with`] renders.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'e> {
    /// Go's `missingkey=default` (Atmos's `ignore_missing_template_values`): a missing value
    /// prints `<no value>`, as Go prints it, instead of failing.
    pub missing_prints: bool,
    /// What Sprig's `env NAME` reads (the run's environment, never the process's own);
    /// without it `env` is an error.
    pub env: Option<&'e crate::env_vars::Env>,
}

/// A parsed stack name template. Parse once with [`Template::parse`], then
/// call [`Template::render`] for each stack.
#[derive(Debug, Clone)]
pub struct Template {
    /// The source, kept for error messages.
    src: Box<str>,
    nodes: Vec<Node>,
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

    /// The paths into the context that rendering can read (`.vars.tenant` is
    /// `["vars", "tenant"]`), or `None` when that cannot be told without a context: a
    /// `with` block (its fields are relative to a value) or a bare `.` or `$`. A value
    /// under none of the paths cannot change the output.
    pub fn fields(&self) -> Option<Vec<Vec<String>>> {
        let mut out = Vec::new();
        nodes_fields(&self.nodes, &mut out).then_some(out)
    }

    /// Renders over `ctx` (a JSON object like
    /// `{"vars": {...}, "settings": {...}, "env": {...}}`).
    pub fn render(&self, ctx: &Value) -> Result<String, TemplateError> {
        self.render_with(ctx, &Options::default())
    }

    /// Renders over `ctx` with [`Options`].
    pub fn render_with(&self, ctx: &Value, opts: &Options<'_>) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(self.src.len());
        let renderer = Renderer { src: &self.src, root: ctx, missing_prints: opts.missing_prints, env: opts.env };
        renderer.nodes(&self.nodes, &Val::Ref(ctx, Cow::Borrowed("")), &mut out)?;
        Ok(out)
    }
}

/// Adds the fields `nodes` read to `out`; false when they cannot all be named.
fn nodes_fields(nodes: &[Node], out: &mut Vec<Vec<String>>) -> bool {
    nodes.iter().all(|n| match n {
        Node::Text(_) => true,
        Node::Print { pipe, .. } => pipe_fields(pipe, out),
        Node::Cond(c) => {
            c.kind == ast::CondKind::If
                && pipe_fields(&c.pipe, out)
                && nodes_fields(&c.then, out)
                && nodes_fields(&c.otherwise, out)
        }
    })
}

fn pipe_fields(pipe: &ast::Pipeline, out: &mut Vec<Vec<String>>) -> bool {
    let head = match &pipe.head {
        ast::Command::Operand(e) => expr_fields(e, out),
        ast::Command::Call(c) => c.args.iter().all(|e| expr_fields(e, out)),
    };
    head && pipe.tail.iter().all(|c| c.args.iter().all(|e| expr_fields(e, out)))
}

fn expr_fields(e: &ast::Expr, out: &mut Vec<Vec<String>>) -> bool {
    match e {
        ast::Expr::Field(f) if f.keys.is_empty() => false,
        ast::Expr::Field(f) => {
            out.push(f.keys.clone());
            true
        }
        ast::Expr::Lit(_) => true,
        ast::Expr::Sub(p) => pipe_fields(p, out),
    }
}
