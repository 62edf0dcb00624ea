//! One component's configuration in one stack (CONTRACT A3).
//!
//! Sections merge, later wins: the stack's global section, the `terraform:` section, the
//! base components named by `metadata.inherits` (each after its own bases, in order), the
//! component itself, then the `overrides` and `terraform.overrides` of the manifest that
//! defines the component and of the manifests importing it (not of sibling files, as in
//! Atmos: overrides are scoped to a file and its imports). `metadata` is the
//! component's own and is never inherited.
//!
//! Auth is merged in levels, with the default-clearing rule of [`merge_auth_level`]:
//! `atmos.yaml` (with profiles) → the stack (`auth` and `terraform.auth`, with their
//! imports) → each inherited component → the component → `overrides.auth`. Pure.

use super::{Stack, StackError, wrong_type};
use crate::config::AtmosConfig;
use crate::merge::{ListStrategy, merge_all, merge_auth_level};
use crate::yaml::{Node, Span, Value};
use std::path::PathBuf;

/// Sections merged for every component.
const SECTIONS: &[&str] = &["vars", "settings", "env", "backend", "remote_state_backend", "providers"];

/// Everything tfauth knows about one component in one stack.
#[derive(Debug, Clone)]
pub struct ResolvedComponent {
    pub component: String,
    pub stack: String,
    pub stack_file: PathBuf,
    /// `metadata.component`, else the component's name: the directory under
    /// `components.terraform.base_path`.
    pub terraform_component: String,
    pub terraform_dir: PathBuf,
    pub metadata: Node,
    pub is_abstract: bool,
    /// Base components in the order they were merged.
    pub inherits: Vec<String>,
    pub vars: Node,
    pub settings: Node,
    pub env: Node,
    pub backend_type: Option<String>,
    pub backend: Node,
    pub providers: Node,
    pub command: Option<String>,
    /// The merged `auth:` (global → stack → bases → component → overrides).
    pub auth: Node,
    /// Where the auth levels came from, outermost first, for `describe`.
    pub auth_levels: Vec<String>,
}

/// Why a component's Terraform workspace cannot be computed: the `metadata.` field and why.
#[derive(Debug, Clone)]
pub struct WorkspaceProblem {
    pub field: String,
    pub message: String,
}

impl ResolvedComponent {
    /// The component's Terraform workspace, as Atmos computes it: `metadata.terraform_workspace`
    /// (a Go template allowed), `terraform_workspace_template`, `terraform_workspace_pattern`
    /// (`{tenant}`-style tokens), else the stack name, plus `-<component>` when the component
    /// uses another component's directory. `/` becomes `-`.
    pub fn workspace(&self) -> Result<String, WorkspaceProblem> {
        let c = self;
        let meta = |k: &str| c.metadata.get(k).and_then(Node::as_str).filter(|s| !s.trim().is_empty());
        let err = |field: &str, message: String| WorkspaceProblem { field: format!("metadata.{field}"), message };
        let context = || {
            serde_json::json!({
                "vars": crate::yaml::emit::to_json(&c.vars),
                "settings": crate::yaml::emit::to_json(&c.settings),
                "env": crate::yaml::emit::to_json(&c.env),
                "atmos_component": c.component,
                "atmos_stack": c.stack,
                "component": c.terraform_component,
            })
        };
        let render = |field: &str, src: &str| -> Result<String, WorkspaceProblem> {
            if !src.contains("{{") {
                return Ok(src.to_string());
            }
            super::template::Template::parse(src)
                .and_then(|t| t.render(&context()))
                .map_err(|e| err(field, e.to_string()))
        };
        let ws = if let Some(w) = meta("terraform_workspace") {
            render("terraform_workspace", w)?
        } else if let Some(w) = meta("terraform_workspace_template") {
            render("terraform_workspace_template", w)?
        } else if let Some(p) = meta("terraform_workspace_pattern") {
            let var = |k: &str| c.vars.get(k).and_then(Node::scalar_string).unwrap_or_default();
            p.replace("{namespace}", &var("namespace"))
                .replace("{tenant}", &var("tenant"))
                .replace("{environment}", &var("environment"))
                .replace("{region}", &var("region"))
                .replace("{stage}", &var("stage"))
                .replace("{attributes}", &var("attributes"))
                .replace("{base-component}", &c.terraform_component)
                .replace("{component}", &c.component)
        } else if c.terraform_component != c.component {
            format!("{}-{}", c.stack, c.component)
        } else {
            c.stack.clone()
        };
        let ws = ws.replace('/', "-");
        if ws.is_empty() || ws.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
            return Err(err("terraform_workspace", format!("`{ws}` cannot name a Terraform workspace")));
        }
        Ok(ws)
    }
}

/// The names of the Terraform components a stack defines.
pub fn component_names(stack: &Stack) -> Vec<String> {
    stack
        .manifest
        .get_path(&["components", "terraform"])
        .and_then(Node::as_map)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The components of a merged manifest that can be run: all but `metadata.type: abstract`.
pub fn runnable_names(manifest: &Node) -> Vec<String> {
    manifest
        .get_path(&["components", "terraform"])
        .and_then(Node::as_map)
        .map(|m| {
            m.iter()
                .filter(|(_, c)| c.get_path(&["metadata", "type"]).and_then(Node::as_str) != Some("abstract"))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Resolves `name` in `stack`.
pub fn resolve(cfg: &AtmosConfig, stack: &Stack, name: &str) -> Result<ResolvedComponent, StackError> {
    let m = &stack.manifest;
    let all = match m.get_path(&["components", "terraform"]) {
        None => None,
        Some(n) if n.is_null() => None,
        Some(n) => Some(n.as_map().ok_or_else(|| wrong_type("components.terraform", n, "a mapping"))?),
    };
    let Some(own) = all.and_then(|c| c.get(name)) else {
        let names = component_names(stack);
        return Err(StackError::ComponentNotFound {
            component: name.to_string(),
            stack: stack.name.clone(),
            suggestions: crate::util::suggest::nearest(name, names.iter().map(String::as_str)),
        });
    };
    let all = all.expect("component found above");
    if !own.is_null() && own.as_map().is_none() {
        return Err(wrong_type(&format!("components.terraform.{name}"), own, "a mapping"));
    }
    let global = m.as_ref();
    let tf = m.get("terraform");
    if let Some(tf) = tf
        && !tf.is_null()
        && tf.as_map().is_none()
    {
        return Err(wrong_type("terraform", tf, "a mapping"));
    }

    let metadata = own.get("metadata").cloned().unwrap_or_else(|| Node::empty_map(own.span.clone()));
    if !metadata.is_null() && metadata.as_map().is_none() {
        return Err(wrong_type("metadata", &metadata, "a mapping"));
    }
    let mut chain = vec![name.to_string()];
    let mut inherits = Vec::new();
    collect_bases(stack, all, name, own, &mut chain, &mut inherits)?;
    let bases: Vec<&Node> = inherits.iter().filter_map(|b| all.get(b)).collect();

    let lists = cfg.list_strategy;
    // The `overrides` of the manifests that define this component or import one that does,
    // attached to it while the stack was merged (see `StackSet::merged`).
    let overrides = [own.get("overrides")];
    let section = |key: &str| -> Node {
        let mut layers: Vec<Option<&Node>> = vec![global.get(key), tf.and_then(|t| t.get(key))];
        layers.extend(bases.iter().map(|b| b.get(key)));
        layers.push(own.get(key));
        layers.extend(overrides.iter().map(|o| o.and_then(|o| o.get(key))));
        let merged = merge_all(layers, lists);
        if merged.is_null() { Node::empty_map(Span::synthetic()) } else { merged }
    };
    for key in SECTIONS {
        let n = section(key);
        if n.as_map().is_none() {
            return Err(wrong_type(key, &n, "a mapping"));
        }
    }
    let scalar = |key: &str| -> Option<String> {
        let mut v = None;
        let mut layers: Vec<Option<&Node>> = vec![global.get(key), tf.and_then(|t| t.get(key))];
        layers.extend(bases.iter().map(|b| b.get(key)));
        layers.push(own.get(key));
        for n in layers.into_iter().flatten() {
            if let Some(s) = n.as_str() {
                v = Some(s.to_string());
            }
        }
        v
    };
    let backend_type = scalar("backend_type");
    let backend_all = section("backend");
    let backend = backend_type
        .as_deref()
        .and_then(|t| backend_all.get(t).cloned())
        .unwrap_or_else(|| Node::empty_map(Span::synthetic()));

    let terraform_component = metadata
        .get("component")
        .and_then(Node::as_str)
        .or_else(|| own.get("component").and_then(Node::as_str))
        .unwrap_or(name)
        .to_string();
    let is_abstract = metadata.get("type").and_then(Node::as_str) == Some("abstract");

    // Auth, level by level.
    let mut auth = cfg.auth().cloned().unwrap_or_else(|| Node::empty_map(Span::synthetic()));
    if auth.is_null() {
        auth = Node::empty_map(Span::synthetic());
    }
    let mut auth_levels = vec![format!("atmos.yaml{}", profile_note(cfg))];
    let stack_level = merge_all([global.get("auth"), tf.and_then(|t| t.get("auth"))], ListStrategy::Replace);
    if !stack_level.is_null() {
        check_auth_map(&stack_level)?;
        merge_auth_level(&mut auth, &stack_level);
        auth_levels.push(format!("stack {}", stack.name));
    }
    for (base_name, base) in inherits.iter().zip(&bases) {
        if let Some(a) = base.get("auth") {
            check_auth_map(a)?;
            merge_auth_level(&mut auth, a);
            auth_levels.push(format!("inherited component {base_name}"));
        }
    }
    if let Some(a) = own.get("auth") {
        check_auth_map(a)?;
        merge_auth_level(&mut auth, a);
        auth_levels.push(format!("component {name}"));
    }
    let over = merge_all(overrides.iter().map(|o| o.and_then(|o| o.get("auth"))), ListStrategy::Replace);
    if !over.is_null() {
        check_auth_map(&over)?;
        merge_auth_level(&mut auth, &over);
        auth_levels.push("overrides".to_string());
    }

    let mut metadata = metadata;
    if metadata.is_null() {
        metadata = Node::empty_map(Span::synthetic());
    }
    let mut c = ResolvedComponent {
        component: name.to_string(),
        stack: stack.name.clone(),
        stack_file: stack.file.clone(),
        terraform_dir: cfg.terraform.base_path.join(&terraform_component),
        terraform_component,
        metadata,
        is_abstract,
        inherits,
        vars: section("vars"),
        settings: section("settings"),
        env: section("env"),
        backend_type,
        backend,
        providers: section("providers"),
        command: scalar("command").or_else(|| cfg.terraform.command.clone()),
        auth,
        auth_levels,
    };
    if let Some(times) = cfg.stacks.template_evaluations {
        // As in Atmos's component section: the manifest's path under the stacks directory
        // without its extension is both `atmos_stack_file` and `atmos_manifest`; the
        // workspace is computed before the templates are rendered.
        let stack_file = stack
            .file
            .strip_prefix(&cfg.stacks.base_path)
            .map(|r| super::strip_ext(&r.to_string_lossy()).to_string())
            .unwrap_or_else(|_| stack.file.display().to_string());
        let workspace = if cfg.terraform.workspaces_enabled { c.workspace().ok() } else { Some("default".into()) };
        let about = serde_json::json!({
            "atmos_component": c.component,
            "atmos_stack": c.stack,
            "stack": c.stack,
            "atmos_stack_file": stack_file,
            "atmos_manifest": stack_file,
            "component": c.terraform_component,
            "backend_type": c.backend_type,
            "workspace": workspace,
            "metadata": crate::yaml::emit::to_json(&c.metadata),
        });
        let take = |n: &mut Node| std::mem::replace(n, Node::null());
        let mut sections = Sections {
            vars: take(&mut c.vars),
            settings: take(&mut c.settings),
            env: take(&mut c.env),
            backend: take(&mut c.backend),
            providers: take(&mut c.providers),
            auth: take(&mut c.auth),
        };
        for _ in 0..times {
            sections.render(&about, &cfg.load_ctx.env)?;
        }
        Sections {
            vars: c.vars,
            settings: c.settings,
            env: c.env,
            backend: c.backend,
            providers: c.providers,
            auth: c.auth,
        } = sections;
    }
    Ok(c)
}

/// The sections Go templates are rendered in when `templates.settings.enabled` is true.
struct Sections {
    vars: Node,
    settings: Node,
    env: Node,
    backend: Node,
    providers: Node,
    /// The merged auth, atmos.yaml's included: Atmos renders the whole component section,
    /// and the auth it authenticates with is read back from it afterwards.
    auth: Node,
}

impl Sections {
    /// One evaluation, as Atmos's: every string holding `{{` is rendered over the
    /// component's merged sections (`.vars`, `.settings`, `.env`, `.backend`, `.providers`,
    /// `.auth`) and `.atmos_component`, `.atmos_stack` (and `.stack`), `.atmos_stack_file`
    /// (and `.atmos_manifest`), `.component`, `.backend_type`, `.workspace`, `.metadata`.
    /// A string stays a string; a template error names the value's file and line. A value
    /// that is not set prints `<no value>` with a warning: Atmos renders component sections
    /// with `missingkey=default` (`ProcessTmplWithDatasources(..., true)` in
    /// internal/exec/utils.go), so what it accepts is accepted here.
    fn render(&mut self, about: &serde_json::Value, env: &crate::env_vars::Env) -> Result<(), StackError> {
        use crate::yaml::emit::to_json;
        let mut ctx = about.clone();
        if let Some(obj) = ctx.as_object_mut() {
            obj.insert("vars".into(), to_json(&self.vars));
            obj.insert("settings".into(), to_json(&self.settings));
            obj.insert("env".into(), to_json(&self.env));
            obj.insert("backend".into(), to_json(&self.backend));
            obj.insert("providers".into(), to_json(&self.providers));
            obj.insert("auth".into(), to_json(&self.auth));
        }
        for n in
            [&mut self.vars, &mut self.settings, &mut self.env, &mut self.backend, &mut self.providers, &mut self.auth]
        {
            render_strings(n, &ctx, env)?;
        }
        Ok(())
    }
}

fn render_strings(n: &mut Node, ctx: &serde_json::Value, env: &crate::env_vars::Env) -> Result<(), StackError> {
    use super::template::{Options, Template};
    match &mut n.value {
        Value::Str(s) if s.contains("{{") && n.tag.is_none() => {
            let located = |source| StackError::ManifestTemplate { span: n.span.clone(), source };
            let t = Template::parse(s).map_err(located)?;
            let strict = Options { missing_prints: false, env: Some(env) };
            let out = match t.render_with(ctx, &strict) {
                Ok(out) => out,
                Err(why) => {
                    let out = t.render_with(ctx, &Options { missing_prints: true, ..strict }).map_err(located)?;
                    tracing::warn!("{}: {why}; it renders as <no value>, as in Atmos", n.span);
                    out
                }
            };
            *s = out;
        }
        Value::Map(m) => m.values_mut().try_for_each(|v| render_strings(v, ctx, env))?,
        Value::Seq(items) => items.iter_mut().try_for_each(|v| render_strings(v, ctx, env))?,
        _ => {}
    }
    Ok(())
}

fn profile_note(cfg: &AtmosConfig) -> String {
    if cfg.profiles.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = cfg.profiles.iter().map(|p| p.name.as_str()).collect();
        format!(" + profile {}", names.join(", "))
    }
}

fn check_auth_map(n: &Node) -> Result<(), StackError> {
    if n.is_null() || n.as_map().is_some() { Ok(()) } else { Err(wrong_type("auth", n, "a mapping")) }
}

/// Depth-first: each base's own bases come before it; a base is merged once.
fn collect_bases(
    stack: &Stack,
    all: &crate::yaml::Map,
    name: &str,
    node: &Node,
    chain: &mut Vec<String>,
    out: &mut Vec<String>,
) -> Result<(), StackError> {
    let mut entries: Vec<(String, Span)> = Vec::new();
    if let Some(inh) = node.get_path(&["metadata", "inherits"]) {
        match &inh.value {
            Value::Null => {}
            Value::Seq(items) => {
                for i in items {
                    let s = i.as_str().ok_or_else(|| wrong_type("metadata.inherits[]", i, "a component name"))?;
                    entries.push((s.to_string(), i.span.clone()));
                }
            }
            Value::Str(s) => entries.push((s.clone(), inh.span.clone())),
            _ => {
                return Err(wrong_type("metadata.inherits", inh, "a list of component names"));
            }
        }
    }
    // Legacy form: a top-level `component: base` inherits from that component when the
    // stack defines one by that name.
    if let Some(c) = node.get("component").and_then(Node::as_str)
        && c != name
        && all.contains_key(c)
    {
        entries
            .insert(0, (c.to_string(), node.get("component").map(|n| n.span.clone()).unwrap_or_else(Span::synthetic)));
    }
    for (base, span) in entries {
        if chain.contains(&base) {
            let mut cycle = chain.clone();
            cycle.push(base);
            let start = cycle.iter().position(|c| *c == cycle[cycle.len() - 1]).unwrap_or(0);
            return Err(StackError::InheritCycle { stack: stack.name.clone(), chain: cycle[start..].to_vec(), span });
        }
        let Some(base_node) = all.get(&base) else {
            return Err(StackError::InheritNotFound {
                component: name.to_string(),
                stack: stack.name.clone(),
                suggestions: crate::util::suggest::nearest(
                    &base,
                    all.keys().map(String::as_str).filter(|k| !chain.iter().any(|c| c == k)),
                ),
                base,
                span,
            });
        };
        chain.push(base.clone());
        collect_bases(stack, all, &base, base_node, chain, out)?;
        chain.pop();
        if !out.contains(&base) {
            out.push(base);
        }
    }
    Ok(())
}
