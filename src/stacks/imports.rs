//! `import:` entries and the Go-template scope each file is read in, as Atmos reads them
//! (`internal/exec/stack_processor_utils.go`, website `stacks/imports`).
//!
//! An entry is a path, or `{path, context, skip_if_missing, skip_templates_processing,
//! ignore_missing_template_values}`. Its `context` is deep-merged under the context the
//! importing file was itself read with (the parent's values win, as in Atmos's code; its docs
//! say the opposite) and passed down the whole chain of imports. A file is rendered as a Go
//! template over that context *before* it is parsed as YAML when the context is not empty
//! or the file ends in `.yaml.tmpl` / `.yml.tmpl`, unless its own entry says
//! `skip_templates_processing: true`. A value the template reads that the context does not
//! set is an error, or prints `<no value>` with `ignore_missing_template_values` (the
//! entry's, or `templates.settings.ignore_missing_template_values` for every import), which
//! is Go's `missingkey=default`. With `templates.settings.enabled`, an import *path* holding
//! `{{` is rendered too, over the `settings`, `vars` and `env` of the file's earlier imports
//! and the entry's `context`.
//!
//! Rendering is independent of `templates.settings.enabled` (Atmos's `ProcessTmpl` does not
//! read it), unlike the rendering of component sections in [`super::component`]. A scope
//! is a memo key: the same file imported with two contexts is two documents. Pure: no I/O.

use super::template::{Options, Template};
use super::{StackError, wrong_type};
use crate::config::AtmosConfig;
use crate::env_vars::Env;
use crate::yaml::{Node, Span, Value};
use serde_json::{Map as JsonMap, Value as Json};
use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

/// One `import:` entry.
pub(super) struct Entry<'n> {
    pub path: &'n str,
    pub skip_if_missing: bool,
    pub context: JsonMap<String, Json>,
    pub skip_templates: bool,
    pub ignore_missing: bool,
    /// The entry itself, for its span.
    pub node: &'n Node,
}

/// The entries of `own`'s `import:`, in order.
pub(super) fn entries(own: &Node) -> Result<Vec<Entry<'_>>, StackError> {
    let Some(import) = own.get("import") else {
        return Ok(vec![]);
    };
    let items: Vec<&Node> = match &import.value {
        Value::Null => vec![],
        Value::Str(_) => vec![import],
        Value::Seq(items) => items.iter().collect(),
        _ => return Err(wrong_type("import", import, "a list of paths")),
    };
    items.into_iter().map(entry).collect()
}

fn entry(node: &Node) -> Result<Entry<'_>, StackError> {
    let mut e = Entry {
        path: "",
        skip_if_missing: false,
        context: JsonMap::new(),
        skip_templates: false,
        ignore_missing: false,
        node,
    };
    match &node.value {
        Value::Str(s) => e.path = s,
        Value::Map(_) => {
            e.path = node
                .get("path")
                .and_then(Node::as_str)
                .ok_or_else(|| wrong_type("import[].path", node.get("path").unwrap_or(node), "a string"))?;
            let flag = |key: &str| -> Result<bool, StackError> {
                match node.get(key) {
                    None => Ok(false),
                    Some(n) if n.is_null() => Ok(false),
                    Some(n) => n.as_bool().ok_or_else(|| wrong_type(&format!("import[].{key}"), n, "true or false")),
                }
            };
            e.skip_if_missing = flag("skip_if_missing")?;
            e.skip_templates = flag("skip_templates_processing")?;
            e.ignore_missing = flag("ignore_missing_template_values")?;
            match node.get("context") {
                None => {}
                Some(n) if n.is_null() => {}
                Some(n) => match crate::yaml::emit::to_json(n) {
                    Json::Object(m) => e.context = m,
                    _ => return Err(wrong_type("import[].context", n, "a mapping")),
                },
            }
        }
        _ => return Err(wrong_type("import[]", node, "a path or {path, context, skip_if_missing, ...}")),
    }
    Ok(e)
}

/// The template context a file is read in, and how it is rendered.
#[derive(Debug, Clone)]
pub(super) struct Scope {
    ctx: Arc<JsonMap<String, Json>>,
    skip: bool,
    ignore_missing: bool,
    /// "" for the top-level scope (no context, default flags); the memo key otherwise.
    key: Arc<str>,
}

impl Scope {
    /// The scope of a top-level manifest: no context.
    pub fn top(cfg: &AtmosConfig) -> Scope {
        Scope::new(JsonMap::new(), false, cfg.stacks.ignore_missing_template_values, cfg)
    }

    fn new(ctx: JsonMap<String, Json>, skip: bool, ignore_missing: bool, cfg: &AtmosConfig) -> Scope {
        let key: Arc<str> = if ctx.is_empty() && !skip && ignore_missing == cfg.stacks.ignore_missing_template_values {
            top_key().clone()
        } else {
            format!("{}\u{1}{}{}", Json::Object(ctx.clone()), u8::from(skip), u8::from(ignore_missing)).into()
        };
        Scope { ctx: Arc::new(ctx), skip, ignore_missing, key }
    }

    /// The scope of the file `entry` imports: the entry's context under this one's (this
    /// one wins), with the entry's own flags.
    pub fn child(&self, entry: &Entry<'_>, cfg: &AtmosConfig) -> Scope {
        let ignore_missing = entry.ignore_missing || cfg.stacks.ignore_missing_template_values;
        // Most imports: no context here or there, the same flags.
        if entry.context.is_empty()
            && self.ctx.is_empty()
            && entry.skip_templates == self.skip
            && ignore_missing == self.ignore_missing
        {
            return self.clone();
        }
        let mut ctx = Json::Object(entry.context.clone());
        merge_json(&mut ctx, &Json::Object((*self.ctx).clone()));
        let Json::Object(ctx) = ctx else { unreachable!("an object merged with an object") };
        Scope::new(ctx, entry.skip_templates, ignore_missing, cfg)
    }

    pub fn key(&self) -> &Arc<str> {
        &self.key
    }

    /// Whether `path` is rendered before it is parsed.
    pub fn renders(&self, path: &Path) -> bool {
        !self.skip && (is_template_file(&path.to_string_lossy()) || !self.ctx.is_empty())
    }

    /// The memo key of `path`'s parsed document: a file that is not rendered is the same
    /// document in every scope.
    pub fn parse_key(&self, path: &Path) -> &Arc<str> {
        if self.renders(path) { &self.key } else { top_key() }
    }

    /// `text` rendered when this scope renders `path`; the error's span is the file's
    /// start (the caller puts the importing entry's in its place).
    pub fn render_file<'t>(&self, text: &'t str, path: &Path, env: &Env) -> Result<Cow<'t, str>, StackError> {
        if !self.renders(path) {
            return Ok(Cow::Borrowed(text));
        }
        let ctx = Json::Object((*self.ctx).clone());
        let opts = Options { missing_prints: self.ignore_missing, env: Some(env) };
        Template::parse(text).and_then(|t| t.render_with(&ctx, &opts)).map(Cow::Owned).map_err(|source| {
            StackError::ImportTemplate {
                file: path.to_path_buf(),
                span: Span::file_start(path.into()),
                imported: false,
                source,
            }
        })
    }
}

/// The entry's path, rendered when `templates.settings.enabled` and it holds `{{` (unless
/// `skip_templates_processing`), over the `settings`, `vars` and `env` merged from the
/// file's earlier imports (`sofar`) with the entry's `context` on top.
pub(super) fn render_path<'n>(cfg: &AtmosConfig, entry: &Entry<'n>, sofar: &Node) -> Result<Cow<'n, str>, StackError> {
    if !renders_path(cfg, entry) {
        return Ok(Cow::Borrowed(entry.path));
    }
    let mut data = Json::Object(JsonMap::new());
    if let Json::Object(m) = &mut data {
        for key in ["settings", "vars", "env"] {
            if let Some(n) = sofar.get(key).filter(|n| !n.is_null()) {
                m.insert(key.into(), crate::yaml::emit::to_json(n));
            }
        }
    }
    merge_json(&mut data, &Json::Object(entry.context.clone()));
    let ignore = entry.ignore_missing || cfg.stacks.ignore_missing_template_values;
    let opts = Options { missing_prints: ignore, env: Some(&cfg.load_ctx.env) };
    Template::parse(entry.path).and_then(|t| t.render_with(&data, &opts)).map(Cow::Owned).map_err(|source| {
        StackError::ImportPathTemplate { import: entry.path.to_string(), span: entry.node.span.clone(), source }
    })
}

/// The key of the top-level scope (and of a file read as it is written): `""`, made once.
pub(super) fn top_key() -> &'static Arc<str> {
    static KEY: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
    KEY.get_or_init(|| Arc::from(""))
}

/// Whether [`render_path`] renders the entry's path (and so reads what came before it).
pub(super) fn renders_path(cfg: &AtmosConfig, entry: &Entry<'_>) -> bool {
    cfg.stacks.template_evaluations.is_some() && !entry.skip_templates && entry.path.contains("{{")
}

/// `.yaml.tmpl` or `.yml.tmpl`: always rendered (Atmos's `IsTemplateFile`).
pub(super) fn is_template_file(p: &str) -> bool {
    p.ends_with(".yaml.tmpl") || p.ends_with(".yml.tmpl")
}

/// Deep merge of JSON objects, `over` winning; anything else is replaced.
fn merge_json(base: &mut Json, over: &Json) {
    match (base, over) {
        (Json::Object(b), Json::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) => merge_json(existing, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_context_wins_and_merges_deep() {
        let mut a = serde_json::json!({"k": {"x": 1, "y": 2}, "only_child": true});
        merge_json(&mut a, &serde_json::json!({"k": {"y": 3}, "p": [1]}));
        assert_eq!(a, serde_json::json!({"k": {"x": 1, "y": 3}, "only_child": true, "p": [1]}));
    }

    #[test]
    fn template_files_are_named_by_their_double_extension() {
        assert!(is_template_file("catalog/x.yaml.tmpl") && is_template_file("x.yml.tmpl"));
        assert!(!is_template_file("x.tmpl") && !is_template_file("x.yaml"));
    }
}
