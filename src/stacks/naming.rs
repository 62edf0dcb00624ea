//! A stack's name (CONTRACT A3), first that applies: the manifest's own `name:`, then
//! `stacks.name_template`, then `stacks.name_pattern`, then the file's path under the
//! stacks directory without its extension. Pure: works on the merged naming context.

use super::template::{Template, TemplateError};
use crate::yaml::{Node, emit::to_json};

/// How names are made for this repository.
pub enum Namer {
    Template(Template),
    Pattern(String),
    Path,
}

/// Why a manifest has no name under the configured scheme.
pub type Unnamed = String;

impl Namer {
    /// The name of a manifest whose own document is `own` and whose merged
    /// `{vars, settings, env}` is `ctx`; `rel` is its path without extension.
    pub fn name(&self, own: &Node, ctx: &Node, rel: &str) -> Result<String, Unnamed> {
        if let Some(name) = own.get("name").and_then(Node::as_str).filter(|s| !s.trim().is_empty()) {
            return Ok(name.trim().to_string());
        }
        match self {
            Namer::Template(t) => match t.render(&to_json(ctx)) {
                Ok(s) if s.trim().is_empty() => Err("the name template renders an empty name".into()),
                Ok(s) => Ok(s.trim().to_string()),
                Err(TemplateError::MissingKey { path }) => {
                    Err(format!("the name template reads `.{path}`, which is not set"))
                }
                Err(e) => Err(e.to_string()),
            },
            Namer::Pattern(p) => render_pattern(p, ctx),
            Namer::Path => Ok(rel.to_string()),
        }
    }
}

/// The part of a naming context a [`Namer`] can read: whole subtrees, or some keys of a
/// mapping. Deep merging works key by key, so cutting every layer down to it before
/// merging gives what cutting the merged context gives: naming 2,000 manifests need not
/// copy their every var.
#[derive(Debug, Clone, PartialEq)]
pub enum Keep {
    All,
    Keys(Vec<(String, Keep)>),
}

impl Keep {
    fn add(&mut self, path: &[String]) {
        let Keep::Keys(keys) = self else { return };
        let Some((first, rest)) = path.split_first() else {
            *self = Keep::All;
            return;
        };
        let at = match keys.iter().position(|(k, _)| k == first) {
            Some(at) => at,
            None => {
                keys.push((first.clone(), Keep::Keys(Vec::new())));
                keys.len() - 1
            }
        };
        keys[at].1.add(rest);
    }

    /// `node` with only what this keeps: a mapping keeps its listed keys (in its own
    /// order, with its span and tag), anything else is kept whole.
    pub fn project(&self, node: &Node) -> Node {
        match (self, node.as_map()) {
            (Keep::Keys(keys), Some(map)) => {
                let mut out = Node::empty_map(node.span.clone());
                out.tag.clone_from(&node.tag);
                if let Some(m) = out.as_map_mut() {
                    for (k, v) in map {
                        if let Some((_, sub)) = keys.iter().find(|(key, _)| key == k) {
                            m.insert(k.clone(), sub.project(v));
                        }
                    }
                }
                out
            }
            _ => node.clone(),
        }
    }
}

impl Namer {
    /// What of the merged `{vars, settings, env}` the name can depend on (`sections` is
    /// all of it): `vars.<token>` for a pattern, a template's fields where they can be
    /// named, nothing for a path.
    pub fn reads(&self, sections: &[&str]) -> Keep {
        let mut keep = Keep::Keys(Vec::new());
        match self {
            Namer::Path => {}
            Namer::Pattern(p) => {
                for token in p.split('{').skip(1).filter_map(|t| t.split_once('}')).map(|(t, _)| t.trim()) {
                    keep.add(&["vars".to_string(), token.to_string()]);
                }
            }
            Namer::Template(t) => match t.fields() {
                Some(fields) => fields.iter().for_each(|f| keep.add(f)),
                None => sections.iter().for_each(|s| keep.add(&[s.to_string()])),
            },
        }
        keep
    }
}

/// Checks a name pattern's braces before any manifest is named.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    let mut depth = 0;
    for (i, c) in pattern.char_indices() {
        match c {
            '{' if depth == 0 => depth = 1,
            '{' => return Err(format!("`{pattern}` opens a second `{{` at column {} before closing the first", i + 1)),
            '}' if depth == 1 => depth = 0,
            '}' => return Err(format!("`{pattern}` has a `}}` with no `{{` at column {}", i + 1)),
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("`{pattern}` has an unclosed `{{`"));
    }
    Ok(())
}

/// `{tenant}-{environment}-{stage}` with each token taken from `vars`.
pub fn render_pattern(pattern: &str, ctx: &Node) -> Result<String, Unnamed> {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(format!("stacks.name_pattern `{pattern}` has an unclosed `{{`"));
        };
        let token = after[..close].trim();
        let value = ctx
            .get("vars")
            .and_then(|v| v.get(token))
            .and_then(Node::scalar_string)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("stacks.name_pattern needs vars.{token}, which is not set"))?;
        out.push_str(&value);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{LoadContext, Loader};
    use std::path::Path;

    fn y(s: &str) -> Node {
        Loader::new(&LoadContext::default()).load_str(s, Path::new("/n.yaml")).unwrap()
    }

    #[test]
    fn precedence_name_then_scheme() {
        let ctx = y("vars: {tenant: plat, environment: use2, stage: dev}");
        let p = Namer::Pattern("{tenant}-{environment}-{stage}".into());
        assert_eq!(p.name(&y("a: 1"), &ctx, "x/y").unwrap(), "plat-use2-dev");
        assert_eq!(p.name(&y("name: custom"), &ctx, "x/y").unwrap(), "custom");
        assert_eq!(Namer::Path.name(&y("a: 1"), &ctx, "orgs/x").unwrap(), "orgs/x");
        let t = Namer::Template(Template::parse("{{ .vars.tenant }}-{{ .vars.stage }}").unwrap());
        assert_eq!(t.name(&y("a: 1"), &ctx, "x").unwrap(), "plat-dev");
    }

    #[test]
    fn missing_var_says_which() {
        let ctx = y("vars: {tenant: plat}");
        let err = render_pattern("{tenant}-{stage}", &ctx).unwrap_err();
        assert!(err.contains("vars.stage"), "{err}");
    }
}
