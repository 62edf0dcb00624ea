//! `tfauth auth list` in its six formats: table, tree, json, yaml, graphviz, mermaid.
//! Pure: takes the typed auth config, returns text.

use crate::auth::{AuthConfig, Via};
use crate::yaml::emit::json_to_yaml_string;
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Table,
    Tree,
    Json,
    Yaml,
    Graphviz,
    Mermaid,
}

/// Which sections to show.
#[derive(Clone, Copy, Debug)]
pub struct Show {
    pub providers: bool,
    pub identities: bool,
    /// `auth.integrations` (table, json and yaml; the graphs show identities only).
    pub integrations: bool,
}

pub fn render(auth: &AuthConfig, format: ListFormat, show: Show) -> String {
    match format {
        ListFormat::Table => table(auth, show),
        ListFormat::Tree => tree(auth, show),
        ListFormat::Json => {
            let mut s = serde_json::to_string_pretty(&as_json(auth, show)).unwrap_or_default();
            s.push('\n');
            s
        }
        ListFormat::Yaml => json_to_yaml_string(&as_json(auth, show)),
        ListFormat::Graphviz => graphviz(auth, show),
        ListFormat::Mermaid => mermaid(auth, show),
    }
}

fn via_text(via: &Option<Via>) -> String {
    match via {
        Some(Via::Provider(p, _)) => format!("provider:{p}"),
        Some(Via::Identity(i, _)) => format!("identity:{i}"),
        None => "-".into(),
    }
}

fn as_json(auth: &AuthConfig, show: Show) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    if show.providers {
        out.insert(
            "providers".into(),
            auth.providers
                .iter()
                .map(|p| {
                    let mut v = json!({"name": p.name, "kind": p.kind_name, "region": p.region()});
                    // As Atmos's JSON: `default` and `tags` only when set.
                    if p.default {
                        v["default"] = json!(true);
                    }
                    if !p.tags.is_empty() {
                        v["tags"] = json!(p.tags);
                    }
                    v
                })
                .collect(),
        );
    }
    if show.identities {
        out.insert(
            "identities".into(),
            auth.identities
                .iter()
                .map(|i| {
                    let via = match &i.via {
                        Some(Via::Provider(p, _)) => json!({"provider": p}),
                        Some(Via::Identity(n, _)) => json!({"identity": n}),
                        None => serde_json::Value::Null,
                    };
                    let mut v = json!({"name": i.name, "kind": i.kind_name, "via": via, "default": i.default});
                    if let Some(a) = &i.extra.alias {
                        v["alias"] = json!(a);
                    }
                    if !i.extra.tags.is_empty() {
                        v["tags"] = json!(i.extra.tags);
                    }
                    v
                })
                .collect(),
        );
    }
    if show.integrations && !auth.integrations.is_empty() {
        out.insert(
            "integrations".into(),
            auth.integrations
                .iter()
                .map(|i| {
                    let mut v = json!({
                        "name": i.name,
                        "kind": i.kind_name,
                        "via": i.via.as_ref().map(|(n, _)| json!({"identity": n})),
                        "auto_provision": i.auto_provision,
                    });
                    if let Some(crate::auth::IntegrationKind::Ecr { account_id, region }) = &i.kind {
                        v["registry"] = json!({"account_id": account_id, "region": region});
                    }
                    v
                })
                .collect(),
        );
    }
    serde_json::Value::Object(out)
}

/// A kind as listed: an Atmos kind tfauth reads but cannot run yet says so.
fn kind_text(kind: &str, what: &str) -> String {
    use crate::auth::schema::{
        NOT_SUPPORTED_YET, UNIMPLEMENTED_IDENTITY_KINDS, UNIMPLEMENTED_INTEGRATION_KINDS, UNIMPLEMENTED_PROVIDER_KINDS,
    };
    let list = match what {
        "provider" => UNIMPLEMENTED_PROVIDER_KINDS,
        "identity" => UNIMPLEMENTED_IDENTITY_KINDS,
        _ => UNIMPLEMENTED_INTEGRATION_KINDS,
    };
    if list.contains(&kind) { format!("{kind} ({NOT_SUPPORTED_YET})") } else { kind.to_string() }
}

fn table(auth: &AuthConfig, show: Show) -> String {
    let mut rows: Vec<[String; 5]> =
        vec![["TYPE".into(), "NAME".into(), "KIND".into(), "VIA".into(), "DEFAULT".into()]];
    if show.providers {
        rows.extend(auth.providers.iter().map(|p| {
            let default = if p.default { "yes" } else { "" };
            ["provider".into(), p.name.clone(), kind_text(&p.kind_name, "provider"), "-".into(), default.into()]
        }));
    }
    if show.identities {
        rows.extend(auth.identities.iter().map(|i| {
            [
                "identity".into(),
                name_with_alias(i),
                kind_text(&i.kind_name, "identity"),
                via_text(&i.via),
                if i.default { "yes".into() } else { "".into() },
            ]
        }));
    }
    if show.integrations {
        rows.extend(auth.integrations.iter().map(|i| {
            let via = match (&i.via, &i.via_provider) {
                (Some((n, _)), _) => format!("identity:{n}"),
                (None, Some((p, _))) => format!("provider:{p} ({})", crate::auth::schema::NOT_SUPPORTED_YET),
                (None, None) => "-".to_string(),
            };
            ["integration".into(), i.name.clone(), kind_text(&i.kind_name, "integration"), via, "".into()]
        }));
    }
    let widths: Vec<usize> = (0..5).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = r.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// An identity's name as listed, with its `alias` (Atmos shows it beside the name).
fn name_with_alias(i: &crate::auth::Identity) -> String {
    match &i.extra.alias {
        Some(a) => format!("{} (alias: {a})", i.name),
        None => i.name.clone(),
    }
}

fn children<'a>(auth: &'a AuthConfig, parent: &str, from_provider: bool) -> Vec<&'a crate::auth::Identity> {
    auth.identities
        .iter()
        .filter(|i| match &i.via {
            Some(Via::Provider(p, _)) => from_provider && p.eq_ignore_ascii_case(parent),
            Some(Via::Identity(n, _)) => !from_provider && n.eq_ignore_ascii_case(parent),
            None => false,
        })
        .collect()
}

fn walk(out: &mut String, auth: &AuthConfig, id: &crate::auth::Identity, prefix: &str, last: bool, depth: usize) {
    let mark = if id.default { " (default)" } else { "" };
    let kind = kind_text(&id.kind_name, "identity");
    out.push_str(&format!("{prefix}{}{} [{kind}]{mark}\n", if last { "└── " } else { "├── " }, name_with_alias(id)));
    if depth > 64 {
        return;
    }
    let kids = children(auth, &id.name, false);
    let next = format!("{prefix}{}", if last { "    " } else { "│   " });
    for (i, k) in kids.iter().enumerate() {
        walk(out, auth, k, &next, i + 1 == kids.len(), depth + 1);
    }
}

fn tree(auth: &AuthConfig, show: Show) -> String {
    let mut out = String::new();
    for p in auth.providers.iter().filter(|_| show.providers || show.identities) {
        let mark = if p.default { " (default)" } else { "" };
        out.push_str(&format!("{} [{}]{mark}\n", p.name, kind_text(&p.kind_name, "provider")));
        if show.identities {
            let kids = children(auth, &p.name, true);
            for (i, k) in kids.iter().enumerate() {
                walk(&mut out, auth, k, "", i + 1 == kids.len(), 0);
            }
        }
    }
    if show.identities {
        for id in auth.identities.iter().filter(|i| i.via.is_none()) {
            let kind = kind_text(&id.kind_name, "identity");
            out.push_str(&format!("{} [{kind}]{}\n", name_with_alias(id), if id.default { " (default)" } else { "" }));
            let kids = children(auth, &id.name, false);
            for (i, k) in kids.iter().enumerate() {
                walk(&mut out, auth, k, "", i + 1 == kids.len(), 0);
            }
        }
    }
    out
}

fn dot_id(kind: &str, name: &str) -> String {
    format!("\"{kind}:{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

fn graphviz(auth: &AuthConfig, show: Show) -> String {
    let mut out = String::from("digraph auth {\n  rankdir=LR;\n");
    if show.providers {
        for p in &auth.providers {
            out.push_str(&format!(
                "  {} [label=\"{}\\n{}\", shape=box];\n",
                dot_id("provider", &p.name),
                p.name,
                p.kind_name
            ));
        }
    }
    if show.identities {
        for i in &auth.identities {
            let style = if i.default { ", style=bold" } else { "" };
            out.push_str(&format!(
                "  {} [label=\"{}\\n{}\"{style}];\n",
                dot_id("identity", &i.name),
                i.name,
                i.kind_name
            ));
        }
        for i in &auth.identities {
            match &i.via {
                Some(Via::Provider(p, _)) if show.providers => {
                    out.push_str(&format!("  {} -> {};\n", dot_id("provider", p), dot_id("identity", &i.name)))
                }
                Some(Via::Identity(n, _)) => {
                    out.push_str(&format!("  {} -> {};\n", dot_id("identity", n), dot_id("identity", &i.name)))
                }
                _ => {}
            }
        }
    }
    out.push_str("}\n");
    out
}

fn mermaid(auth: &AuthConfig, show: Show) -> String {
    let id = |kind: &str, name: &str| -> String {
        let safe: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        format!("{kind}_{safe}")
    };
    let mut out = String::from("graph LR\n");
    if show.providers {
        for p in &auth.providers {
            out.push_str(&format!("  {}[\"{} ({})\"]\n", id("p", &p.name), p.name, p.kind_name));
        }
    }
    if show.identities {
        for i in &auth.identities {
            out.push_str(&format!("  {}(\"{} ({})\")\n", id("i", &i.name), i.name, i.kind_name));
        }
        for i in &auth.identities {
            match &i.via {
                Some(Via::Provider(p, _)) if show.providers => {
                    out.push_str(&format!("  {} --> {}\n", id("p", p), id("i", &i.name)))
                }
                Some(Via::Identity(n, _)) => out.push_str(&format!("  {} --> {}\n", id("i", n), id("i", &i.name))),
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(src: &str) -> AuthConfig {
        use crate::yaml::{LoadContext, Loader};
        let node = Loader::new(&LoadContext::default()).load_str(src, std::path::Path::new("/a.yaml")).unwrap();
        let (auth, problems) = AuthConfig::parse(Some(&node));
        assert!(problems.is_empty(), "{problems:?}");
        auth
    }

    const SRC: &str = "providers:\n  sso: {kind: aws/iam-identity-center, start_url: \"https://d-1.awsapps.com/start\", region: us-east-1, default: true, tags: [aws, prod]}\n  gh: {kind: github/oidc}\nidentities:\n  admin: {kind: aws/permission-set, via: {provider: sso}, principal: {name: A, account: {id: \"111111111111\"}}, alias: boss, tags: [prod]}\n  ci: {kind: aws/assume-role, via: {provider: gh}, principal: {assume_role: \"arn:aws:iam::111111111111:role/ci\"}}\n";
    const ALL: Show = Show { providers: true, identities: true, integrations: true };

    #[test]
    fn tags_alias_and_a_default_provider_are_listed_as_atmos_lists_them() {
        let v = as_json(&auth(SRC), ALL);
        // JSON: only when set (Atmos's `omitempty`).
        assert_eq!(v["providers"][0]["default"], true);
        assert_eq!(v["providers"][0]["tags"], json!(["aws", "prod"]));
        assert!(v["providers"][1].get("default").is_none() && v["providers"][1].get("tags").is_none(), "{v}");
        assert_eq!(v["identities"][0]["alias"], "boss");
        assert_eq!(v["identities"][0]["tags"], json!(["prod"]));
        assert!(v["identities"][1].get("alias").is_none() && v["identities"][1].get("tags").is_none(), "{v}");
        // Table and tree: the alias beside the name, the default provider marked.
        let table = render(&auth(SRC), ListFormat::Table, ALL);
        assert!(table.lines().any(|l| l.starts_with("provider") && l.contains("sso") && l.ends_with("yes")), "{table}");
        assert!(table.contains("admin (alias: boss)"), "{table}");
        let tree = render(&auth(SRC), ListFormat::Tree, ALL);
        assert!(tree.contains("sso [aws/iam-identity-center] (default)\n"), "{tree}");
        assert!(tree.contains("└── admin (alias: boss) [aws/permission-set]\n"), "{tree}");
    }
}
