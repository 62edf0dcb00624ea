//! The document `tfauth describe component` prints: merged config, the identity and its
//! chain, the environment and the files a run would use. Secrets are redacted by key
//! name before anything is printed.

use crate::identity::{ChainRoot, Selection, SelectionSource};
use crate::output::env::EnvPlan;
use crate::resolve::Resolution;
use crate::secret::{REDACTED, is_secret_key};
use crate::yaml::{Node, Value, display_path, emit::to_json};
use serde_json::{Value as J, json};

/// Replaces, in place, every scalar under a secret-looking key of a JSON value.
fn redact_json(v: &mut J) {
    match v {
        J::Object(m) => {
            for (k, v) in m.iter_mut() {
                if is_secret_key(k) && !matches!(v, J::Object(_) | J::Array(_) | J::Null) {
                    *v = J::String(REDACTED.into());
                } else {
                    redact_json(v);
                }
            }
        }
        J::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

/// A copy of `node` with every scalar under a secret-looking key replaced.
pub fn redact(node: &Node) -> Node {
    let mut out = node.clone();
    redact_in_place(&mut out);
    out
}

fn redact_in_place(node: &mut Node) {
    match &mut node.value {
        Value::Map(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_key(k) && !matches!(v.value, Value::Map(_) | Value::Seq(_) | Value::Null) {
                    *v = Node::new(Value::Str(REDACTED.into()), v.span.clone());
                } else {
                    redact_in_place(v);
                }
            }
        }
        Value::Seq(items) => items.iter_mut().for_each(redact_in_place),
        _ => {}
    }
}

/// How the identity was chosen, in words.
pub fn selection_text(sel: &Selection) -> (Option<String>, String) {
    match sel {
        Selection::Disabled { by } => (None, format!("auth disabled ({})", source_text(by))),
        Selection::NoneConfigured => (None, "no identities configured; running without auth".into()),
        Selection::Identity { name, by } => (Some(name.clone()), source_text(by)),
        Selection::Unresolved { .. } => (None, "none: describe builds no auth without --identity".into()),
    }
}

fn source_text(by: &SelectionSource) -> String {
    match by {
        SelectionSource::Flag => "--identity".into(),
        SelectionSource::Env => crate::env_vars::ATMOS_IDENTITY.into(),
        SelectionSource::Default(span) if span.is_synthetic() => "default".into(),
        SelectionSource::Default(span) => format!("default: true at {span}"),
        SelectionSource::Picked => "picked on the terminal".into(),
    }
}

/// The whole description as JSON (YAML output is made from this).
pub fn describe(res: &Resolution, plan: &EnvPlan, env: &crate::env_vars::Env) -> J {
    let mut doc = serde_json::Map::new();
    if let Some(c) = &res.component {
        doc.insert("component".into(), json!(c.component));
        doc.insert("stack".into(), json!(c.stack));
        doc.insert("stack_file".into(), json!(display_path(&c.stack_file)));
        doc.insert("terraform_component".into(), json!(c.terraform_component));
        doc.insert("terraform_dir".into(), json!(c.terraform_dir.display().to_string()));
        doc.insert("terraform_dir_exists".into(), json!(c.terraform_dir.is_dir()));
        doc.insert("abstract".into(), json!(c.is_abstract));
        doc.insert("inherits".into(), json!(c.inherits));
        doc.insert("metadata".into(), to_json(&c.metadata));
        doc.insert("vars".into(), to_json(&redact(&c.vars)));
        doc.insert("settings".into(), to_json(&redact(&c.settings)));
        doc.insert("env".into(), to_json(&redact(&c.env)));
        doc.insert("backend_type".into(), json!(c.backend_type));
        // The backend as terraform gets it: Atmos's defaults (workspace_key_prefix...) filled in.
        let backend = crate::run::backend_config(c).map_or_else(
            || to_json(&redact(&c.backend)),
            |(_, b)| {
                let mut b = b;
                redact_json(&mut b);
                b
            },
        );
        doc.insert("backend".into(), backend);
        doc.insert("workspace".into(), crate::run::workspace(c).map_or(J::Null, J::String));
        doc.insert("varfile".into(), json!(crate::run::varfile_name(c)));
        doc.insert("command".into(), json!(c.command));
        doc.insert("auth_levels".into(), json!(c.auth_levels));
    }
    doc.insert("auth".into(), to_json(&redact(&res.auth_node)));
    let (name, by) = selection_text(&res.selection);
    let chain_json = |ch: &crate::identity::Chain| -> Vec<J> {
        let mut v = Vec::new();
        if let ChainRoot::Provider(p) = &ch.root {
            v.push(json!({"provider": p.name, "kind": p.kind_name}));
        }
        v.extend(ch.hops.iter().map(|h| json!({"identity": h.name, "kind": h.kind_name})));
        v
    };
    let chain: Vec<J> = res.chain.as_ref().map(chain_json).unwrap_or_default();
    // The `required: true` identities the run authenticates too (hub and spoke).
    let required: Vec<J> =
        res.required.iter().map(|c| json!({"name": c.leaf().name, "chain": chain_json(c)})).collect();
    let mut identity = json!({"name": name, "selected_by": by, "chain": chain, "required": required});
    if let Selection::Unresolved { reason, hint } = &res.selection {
        identity["reason"] = json!(reason);
        if let Some(h) = hint {
            identity["hint"] = json!(h);
        }
    }
    doc.insert("identity".into(), identity);
    doc.insert(
        "environment".into(),
        json!({
            "set": plan.shown_set(),
            "clear": plan.clear,
            "clear_prefixes": plan.clear_prefixes,
            "cleared_now": plan.cleared_in(env),
        }),
    );
    doc.insert(
        "files".into(),
        plan.files
            .iter()
            .map(|f| json!({"path": f.path.display().to_string(), "mode": "0600", "contents": f.shown()}))
            .collect(),
    );
    if !plan.notes.is_empty() {
        doc.insert("notes".into(), json!(plan.notes));
    }
    if !res.warnings.is_empty() {
        doc.insert("warnings".into(), res.warnings.iter().map(|w| json!(w.to_string())).collect());
    }
    J::Object(doc)
}
