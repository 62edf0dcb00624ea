//! `tfauth auth list` in Atmos's formats (tree, the default; table, json, yaml, graphviz
//! or dot, mermaid, markdown or md), narrowed as Atmos narrows it (`--providers[=a,b]`,
//! `--identities[=a,b]`, `--tags`), with each identity's cached session and each IAM
//! Identity Center provider's token beside it (aws-vault's `list`).
//!
//! Pure: takes the typed auth config, the filter and the cache facts the caller read, and
//! returns text. It must not read a cache, a clock or the environment: the session column
//! is rendered from [`Sessions`] (its `now` included), so the same facts always give the
//! same text.

use crate::auth::{AuthConfig, Identity, Integration, Provider, Via};
use crate::yaml::emit::json_to_yaml_string;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use time::OffsetDateTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Tree,
    Table,
    Json,
    Yaml,
    #[value(alias = "dot")]
    Graphviz,
    Mermaid,
    #[value(alias = "md")]
    Markdown,
}

/// What the flags ask to list, as typed: `None` for a flag not given, `Some(vec![])` for
/// a bare `--providers`/`--identities` (all of them), else the names.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub providers: Option<Vec<String>>,
    pub identities: Option<Vec<String>>,
    /// `--integrations`: tfauth's own (Atmos's list has no integrations).
    pub integrations: bool,
    /// `--tags`: keep providers and identities with any of these tags.
    pub tags: Vec<String>,
}

/// Splits a flag's comma-separated value as Atmos does: trimmed, empty items dropped.
pub fn names(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// A name in `--providers=` or `--identities=` that the configuration does not define.
#[derive(Debug, thiserror::Error)]
#[error("{flag}: no {what} named {} in this auth configuration", quoted(.names))]
pub struct UnknownNames {
    pub flag: &'static str,
    /// `provider` or `identity`.
    pub what: &'static str,
    pub names: Vec<String>,
    /// What is defined (for the hint).
    pub defined: Vec<String>,
}

impl UnknownNames {
    pub fn hint(&self) -> String {
        let plural = if self.what == "provider" { "providers" } else { "identities" };
        crate::util::suggest::hint(&self.names[0], self.defined.iter().map(String::as_str), plural)
    }
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// What is listed, in configuration order.
#[derive(Debug, Default)]
pub struct Selection<'a> {
    pub providers: Vec<&'a Provider>,
    pub identities: Vec<&'a Identity>,
    pub integrations: Vec<&'a Integration>,
}

impl Selection<'_> {
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty() && self.identities.is_empty() && self.integrations.is_empty()
    }
    fn has_identity(&self, name: &str) -> bool {
        self.identities.iter().any(|i| i.name.eq_ignore_ascii_case(name))
    }
    fn has_provider(&self, name: &str) -> bool {
        self.providers.iter().any(|p| p.name.eq_ignore_ascii_case(name))
    }
}

/// Applies `filter` as Atmos applies its flags: with none, everything; `--providers` only
/// providers, `--identities` only identities (names given must exist); `--integrations`
/// adds the integrations; `--tags` then keeps what has any of the tags (compared exactly),
/// and the integrations of the identities it kept.
pub fn select<'a>(auth: &'a AuthConfig, filter: &Filter) -> Result<Selection<'a>, UnknownNames> {
    let only = filter.providers.is_some() || filter.identities.is_some() || filter.integrations;
    let mut sel = Selection::default();
    if !only || filter.providers.is_some() {
        sel.providers = pick(&auth.providers, filter.providers.as_deref(), |p| &p.name, "--providers", "provider")?;
    }
    if !only || filter.identities.is_some() {
        sel.identities = pick(&auth.identities, filter.identities.as_deref(), |i| &i.name, "--identities", "identity")?;
    }
    let tagged = |tags: &[String]| filter.tags.is_empty() || tags.iter().any(|t| filter.tags.contains(t));
    sel.providers.retain(|p| tagged(&p.tags));
    sel.identities.retain(|i| tagged(&i.extra.tags));
    if !only || filter.integrations {
        sel.integrations = auth
            .integrations
            .iter()
            .filter(|g| {
                filter.tags.is_empty()
                    || g.via.as_ref().and_then(|(n, _)| auth.identity(n)).is_some_and(|i| tagged(&i.extra.tags))
            })
            .collect();
    }
    Ok(sel)
}

fn pick<'a, T>(
    all: &'a [T],
    wanted: Option<&[String]>,
    name: impl Fn(&T) -> &String,
    flag: &'static str,
    what: &'static str,
) -> Result<Vec<&'a T>, UnknownNames> {
    let wanted = match wanted {
        Some(w) if !w.is_empty() => w,
        _ => return Ok(all.iter().collect()),
    };
    let find = |w: &str| {
        all.iter().position(|t| name(t) == w).or_else(|| all.iter().position(|t| name(t).eq_ignore_ascii_case(w)))
    };
    let missing: Vec<String> = wanted.iter().filter(|w| find(w).is_none()).cloned().collect();
    if !missing.is_empty() {
        return Err(UnknownNames {
            flag,
            what,
            names: missing,
            defined: all.iter().map(|t| name(t).clone()).collect(),
        });
    }
    let mut idx: Vec<usize> = wanted.iter().filter_map(|w| find(w)).collect();
    idx.sort_unstable();
    idx.dedup();
    Ok(idx.into_iter().map(|i| &all[i]).collect())
}

/// What a cache holds for an identity (its AWS session) or an IAM Identity Center
/// provider (its portal token), as the caller read it without changing anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cached {
    /// Nothing cached: the next use signs in or fetches.
    Nothing,
    /// A session or token ending at `expires` (`None`: long-lived keys).
    Held {
        expires: Option<OffsetDateTime>,
        /// Too close to its end to be handed out (the refresh margin): the next use renews it.
        stale: bool,
        /// A portal token past its time that its refresh token can renew without a sign-in.
        refreshable: bool,
        /// Whose file it is, when not tfauth's and Atmos's (`aws-cli`).
        source: Option<&'static str>,
    },
    /// A file is there but is not used (not the user's, a link, damaged): why.
    Unreadable(String),
}

/// The cache facts for one listing, and the moment they are judged at.
#[derive(Clone, Debug)]
pub struct Sessions {
    pub now: OffsetDateTime,
    /// By identity name; an identity absent here has no session tfauth caches (not AWS).
    pub identities: BTreeMap<String, Cached>,
    /// By provider name; only IAM Identity Center providers have one.
    pub providers: BTreeMap<String, Cached>,
}

impl Sessions {
    /// No facts at all (every row without a session column value).
    pub fn none(now: OffsetDateTime) -> Sessions {
        Sessions { now, identities: BTreeMap::new(), providers: BTreeMap::new() }
    }
}

/// A cache fact judged at `now`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Nothing,
    /// Usable; `expiring` when within the refresh margin.
    Valid {
        left: Duration,
        at: OffsetDateTime,
        expiring: bool,
    },
    NoExpiry,
    Expired {
        at: OffsetDateTime,
        refreshable: bool,
    },
    Unreadable(String),
}

fn judge(c: &Cached, now: OffsetDateTime) -> State {
    match c {
        Cached::Nothing => State::Nothing,
        Cached::Unreadable(r) => State::Unreadable(r.clone()),
        Cached::Held { expires: None, .. } => State::NoExpiry,
        Cached::Held { expires: Some(at), stale, refreshable, .. } => {
            let left = *at - now;
            if left <= time::Duration::ZERO {
                State::Expired { at: *at, refreshable: *refreshable }
            } else {
                let left = Duration::from_secs(left.whole_seconds().max(0) as u64);
                State::Valid { left, at: *at, expiring: *stale }
            }
        }
    }
}

/// `42m`, `2h05m`, `1d03h`, `30s`: time left, rounded down (as `tfauth prompt` shows it).
pub fn left_text(d: Duration) -> String {
    let s = d.as_secs();
    let m = s / 60;
    match m {
        0 => format!("{s}s"),
        1..60 => format!("{m}m"),
        60..1440 => format!("{}h{:02}m", m / 60, m % 60),
        _ => format!("{}d{:02}h", m / 1440, (m % 1440) / 60),
    }
}

/// `16:05 UTC`, with the date when `at` is more than a day from `now`.
fn clock_text(at: OffsetDateTime, now: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let hhmm = format!("{:02}:{:02} UTC", at.hour(), at.minute());
    if (at - now).abs() > time::Duration::days(1) {
        format!("{:04}-{:02}-{:02} {hhmm}", at.year(), u8::from(at.month()), at.day())
    } else {
        hhmm
    }
}

/// The session column's text; `None` when there is nothing to say.
fn state_text(s: &State, now: OffsetDateTime) -> Option<String> {
    Some(match s {
        State::Nothing => return None,
        State::Valid { left, at, expiring: false } => format!("{} left ({})", left_text(*left), clock_text(*at, now)),
        State::Valid { left, at, expiring: true } => {
            format!("{} left ({}), renewed on next use", left_text(*left), clock_text(*at, now))
        }
        State::NoExpiry => "cached, no expiry".into(),
        State::Expired { at, refreshable: false } => format!("expired ({})", clock_text(*at, now)),
        State::Expired { at, refreshable: true } => format!("expired ({}), refreshable", clock_text(*at, now)),
        State::Unreadable(_) => "unreadable".into(),
    })
}

fn state_json(s: &State, c: &Cached) -> serde_json::Value {
    let mut v = match s {
        State::Nothing => json!({"status": "none"}),
        State::Valid { left, at, expiring } => json!({
            "status": if *expiring { "expiring" } else { "valid" },
            "expiration": crate::providers::credentials::format_utc(*at),
            "expires_in": left_text(*left),
        }),
        State::NoExpiry => json!({"status": "valid", "expiration": null}),
        State::Expired { at, refreshable } => {
            let mut v = json!({"status": "expired", "expiration": crate::providers::credentials::format_utc(*at)});
            if *refreshable {
                v["refreshable"] = json!(true);
            }
            v
        }
        State::Unreadable(reason) => json!({"status": "unreadable", "reason": reason}),
    };
    if let Cached::Held { source: Some(src), .. } = c {
        v["source"] = json!(src);
    }
    v
}

impl Sessions {
    fn identity(&self, name: &str) -> Option<(State, &Cached)> {
        let c = self.identities.get(name)?;
        Some((judge(c, self.now), c))
    }
    fn provider(&self, name: &str) -> Option<(State, &Cached)> {
        let c = self.providers.get(name)?;
        Some((judge(c, self.now), c))
    }
    fn identity_text(&self, name: &str) -> Option<String> {
        self.identity(name).and_then(|(s, _)| state_text(&s, self.now))
    }
    fn provider_text(&self, name: &str) -> Option<String> {
        self.provider(name).and_then(|(s, _)| state_text(&s, self.now))
    }
}

pub fn render(auth: &AuthConfig, sel: &Selection<'_>, sessions: &Sessions, format: ListFormat) -> String {
    match format {
        ListFormat::Tree => tree(auth, sel, sessions),
        ListFormat::Table => table(sel, sessions),
        ListFormat::Json => {
            let mut s = serde_json::to_string_pretty(&as_json(sel, sessions)).unwrap_or_default();
            s.push('\n');
            s
        }
        ListFormat::Yaml => json_to_yaml_string(&as_json(sel, sessions)),
        ListFormat::Graphviz => graphviz(sel),
        ListFormat::Mermaid => mermaid(sel),
        ListFormat::Markdown => markdown(sel, sessions),
    }
}

fn via_text(via: &Option<Via>) -> String {
    match via {
        Some(Via::Provider(p, _)) => format!("provider:{p}"),
        Some(Via::Identity(i, _)) => format!("identity:{i}"),
        None => "-".into(),
    }
}

fn integration_via(i: &Integration) -> String {
    match (&i.via, &i.via_provider) {
        (Some((n, _)), _) => format!("identity:{n}"),
        (None, Some((p, _))) => format!("provider:{p} ({})", crate::auth::schema::NOT_SUPPORTED_YET),
        (None, None) => "-".to_string(),
    }
}

fn as_json(sel: &Selection<'_>, sessions: &Sessions) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    if !sel.providers.is_empty() {
        out.insert(
            "providers".into(),
            sel.providers
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
                    if let Some((s, c)) = sessions.provider(&p.name) {
                        v["session"] = state_json(&s, c);
                    }
                    v
                })
                .collect(),
        );
    }
    if !sel.identities.is_empty() {
        out.insert(
            "identities".into(),
            sel.identities
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
                    if let Some((s, c)) = sessions.identity(&i.name) {
                        v["session"] = state_json(&s, c);
                    }
                    v
                })
                .collect(),
        );
    }
    if !sel.integrations.is_empty() {
        out.insert(
            "integrations".into(),
            sel.integrations
                .iter()
                .map(|i| {
                    let mut v = json!({
                        "name": i.name,
                        "kind": i.kind_name,
                        "via": i.via.as_ref().map(|(n, _)| json!({"identity": n})),
                        "auto_provision": i.auto_provision,
                    });
                    match &i.kind {
                        Some(crate::auth::IntegrationKind::Ecr { account_id, region }) => {
                            v["registry"] = json!({"account_id": account_id, "region": region});
                        }
                        Some(crate::auth::IntegrationKind::Acr { login_server }) => {
                            v["registry"] = json!({"host": login_server});
                        }
                        Some(crate::auth::IntegrationKind::EcrPublic) => {
                            v["registry"] = json!({"host": crate::providers::ecr::PUBLIC_HOST});
                        }
                        Some(crate::auth::IntegrationKind::Eks(c)) => {
                            v["cluster"] = json!({"name": c.name, "region": c.region, "alias": c.alias});
                        }
                        Some(crate::auth::IntegrationKind::Gke(c)) => {
                            v["cluster"] = json!({"name": c.name, "project_id": c.project_id, "location": c.location, "alias": c.alias});
                        }
                        Some(crate::auth::IntegrationKind::Aks(c)) => {
                            v["cluster"] = json!({"name": c.name, "resource_group": c.resource_group, "subscription_id": c.subscription_id, "alias": c.alias});
                        }
                        None => {}
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

fn table(sel: &Selection<'_>, sessions: &Sessions) -> String {
    let dash = || "-".to_string();
    let mut rows: Vec<[String; 6]> =
        vec![["TYPE".into(), "NAME".into(), "KIND".into(), "VIA".into(), "DEFAULT".into(), "SESSION".into()]];
    rows.extend(sel.providers.iter().map(|p| {
        let default = if p.default { "yes" } else { "" };
        let session = sessions.provider_text(&p.name).unwrap_or_else(dash);
        ["provider".into(), p.name.clone(), kind_text(&p.kind_name, "provider"), "-".into(), default.into(), session]
    }));
    rows.extend(sel.identities.iter().map(|i| {
        [
            "identity".into(),
            name_with_alias(i),
            kind_text(&i.kind_name, "identity"),
            via_text(&i.via),
            if i.default { "yes".into() } else { "".into() },
            sessions.identity_text(&i.name).unwrap_or_else(dash),
        ]
    }));
    rows.extend(sel.integrations.iter().map(|i| {
        [
            "integration".into(),
            i.name.clone(),
            kind_text(&i.kind_name, "integration"),
            integration_via(i),
            "".into(),
            "".into(),
        ]
    }));
    let widths: Vec<usize> = (0..6).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = r.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// An identity's name as listed, with its `alias` (Atmos shows it beside the name).
fn name_with_alias(i: &Identity) -> String {
    match &i.extra.alias {
        Some(a) => format!("{} (alias: {a})", i.name),
        None => i.name.clone(),
    }
}

/// The selected identities that hang directly on `parent` (a provider or an identity).
fn children<'a>(sel: &Selection<'a>, parent: &str, from_provider: bool) -> Vec<&'a Identity> {
    sel.identities
        .iter()
        .copied()
        .filter(|i| match &i.via {
            Some(Via::Provider(p, _)) => from_provider && p.eq_ignore_ascii_case(parent),
            Some(Via::Identity(n, _)) => !from_provider && n.eq_ignore_ascii_case(parent),
            None => false,
        })
        .collect()
}

fn identity_line(id: &Identity, sessions: &Sessions) -> String {
    let mark = if id.default { " (default)" } else { "" };
    let session = sessions.identity_text(&id.name).map(|t| format!("  session: {t}")).unwrap_or_default();
    format!("{} [{}]{mark}{session}", name_with_alias(id), kind_text(&id.kind_name, "identity"))
}

struct Walk<'s, 'a> {
    sel: &'s Selection<'a>,
    sessions: &'s Sessions,
    out: String,
}

impl Walk<'_, '_> {
    fn kids(&mut self, parent: &str, from_provider: bool, prefix: &str, path: &mut Vec<String>) {
        let kids = children(self.sel, parent, from_provider);
        for (n, k) in kids.iter().enumerate() {
            self.node(k, prefix, n + 1 == kids.len(), path);
        }
    }

    fn node(&mut self, id: &Identity, prefix: &str, last: bool, path: &mut Vec<String>) {
        let branch = if last { "└── " } else { "├── " };
        let key = id.name.to_lowercase();
        if path.contains(&key) {
            self.out.push_str(&format!("{prefix}{branch}{} (cycle)\n", id.name));
            return;
        }
        self.out.push_str(&format!("{prefix}{branch}{}\n", identity_line(id, self.sessions)));
        path.push(key);
        let next = format!("{prefix}{}", if last { "    " } else { "│   " });
        self.kids(&id.name, false, &next, path);
        path.pop();
    }
}

/// Providers as roots with their identities' chains below them; a provider that is not
/// listed itself but leads to a listed identity is shown for context, marked `(filtered)`.
/// Then the identities that hang on nothing listed (aws/user, or a parent filtered out),
/// then the integrations with the identity each uses.
fn tree(auth: &AuthConfig, sel: &Selection<'_>, sessions: &Sessions) -> String {
    let mut w = Walk { sel, sessions, out: String::new() };
    for p in &auth.providers {
        let listed = sel.has_provider(&p.name);
        let kids = children(sel, &p.name, true);
        if !listed && kids.is_empty() {
            continue;
        }
        let mark = if !listed {
            " (filtered)".to_string()
        } else {
            let default = if p.default { " (default)" } else { "" };
            let token = sessions.provider_text(&p.name).map(|t| format!("  token: {t}")).unwrap_or_default();
            format!("{default}{token}")
        };
        w.out.push_str(&format!("{} [{}]{mark}\n", p.name, kind_text(&p.kind_name, "provider")));
        w.kids(&p.name, true, "", &mut Vec::new());
    }
    for id in &sel.identities {
        let parent_shown = match &id.via {
            Some(Via::Provider(p, _)) => auth.provider(p).is_some(),
            Some(Via::Identity(n, _)) => sel.has_identity(n),
            None => false,
        };
        if !parent_shown {
            w.out.push_str(&format!("{}\n", identity_line(id, sessions)));
            let mut path = vec![id.name.to_lowercase()];
            w.kids(&id.name, false, "", &mut path);
        }
    }
    if !sel.integrations.is_empty() {
        w.out.push_str("integrations\n");
        for (n, i) in sel.integrations.iter().enumerate() {
            let branch = if n + 1 == sel.integrations.len() { "└── " } else { "├── " };
            let via = match integration_via(i).as_str() {
                "-" => String::new(),
                v => format!(" via {v}"),
            };
            w.out.push_str(&format!("{branch}{} [{}]{via}\n", i.name, kind_text(&i.kind_name, "integration")));
        }
    }
    w.out
}

fn dot_id(kind: &str, name: &str) -> String {
    format!("\"{kind}:{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

fn graphviz(sel: &Selection<'_>) -> String {
    let mut out = String::from("digraph auth {\n  rankdir=LR;\n");
    for p in &sel.providers {
        out.push_str(&format!(
            "  {} [label=\"{}\\n{}\", shape=box];\n",
            dot_id("provider", &p.name),
            p.name,
            p.kind_name
        ));
    }
    for i in &sel.identities {
        let style = if i.default { ", style=bold" } else { "" };
        out.push_str(&format!("  {} [label=\"{}\\n{}\"{style}];\n", dot_id("identity", &i.name), i.name, i.kind_name));
    }
    for i in &sel.identities {
        match &i.via {
            Some(Via::Provider(p, _)) if sel.has_provider(p) => {
                out.push_str(&format!("  {} -> {};\n", dot_id("provider", p), dot_id("identity", &i.name)))
            }
            Some(Via::Identity(n, _)) if sel.has_identity(n) => {
                out.push_str(&format!("  {} -> {};\n", dot_id("identity", n), dot_id("identity", &i.name)))
            }
            _ => {}
        }
    }
    out.push_str("}\n");
    out
}

fn mermaid(sel: &Selection<'_>) -> String {
    let id = |kind: &str, name: &str| -> String {
        let safe: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        format!("{kind}_{safe}")
    };
    let mut out = String::from("graph LR\n");
    for p in &sel.providers {
        out.push_str(&format!("  {}[\"{} ({})\"]\n", id("p", &p.name), p.name, p.kind_name));
    }
    for i in &sel.identities {
        out.push_str(&format!("  {}(\"{} ({})\")\n", id("i", &i.name), i.name, i.kind_name));
    }
    for i in &sel.identities {
        match &i.via {
            Some(Via::Provider(p, _)) if sel.has_provider(p) => {
                out.push_str(&format!("  {} --> {}\n", id("p", p), id("i", &i.name)))
            }
            Some(Via::Identity(n, _)) if sel.has_identity(n) => {
                out.push_str(&format!("  {} --> {}\n", id("i", n), id("i", &i.name)))
            }
            _ => {}
        }
    }
    out
}

/// A markdown table cell: `|` escaped, no line breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn md_table(out: &mut String, title: &str, head: &[&str], rows: Vec<Vec<String>>) {
    if rows.is_empty() {
        return;
    }
    out.push_str(&format!("\n## {title}\n\n| {} |\n|{}\n", head.join(" | "), "---|".repeat(head.len())));
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| cell(c)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
}

/// As Atmos's: a title and the Mermaid diagram in a fence; then tables with what the
/// diagram cannot show (defaults, tags, sessions).
fn markdown(sel: &Selection<'_>, sessions: &Sessions) -> String {
    let mut out = String::from("# Authentication Configuration\n\n");
    if sel.is_empty() {
        out.push_str("No providers or identities configured.\n");
        return out;
    }
    out.push_str("```mermaid\n");
    out.push_str(&mermaid(sel));
    out.push_str("```\n");
    let yes = |b: bool| if b { "yes" } else { "" }.to_string();
    let dash = || "-".to_string();
    md_table(
        &mut out,
        "Providers",
        &["Name", "Kind", "Region", "Default", "Tags", "Session"],
        sel.providers
            .iter()
            .map(|p| {
                vec![
                    format!("`{}`", p.name),
                    kind_text(&p.kind_name, "provider"),
                    p.region().unwrap_or("-").to_string(),
                    yes(p.default),
                    p.tags.join(", "),
                    sessions.provider_text(&p.name).unwrap_or_else(dash),
                ]
            })
            .collect(),
    );
    md_table(
        &mut out,
        "Identities",
        &["Name", "Kind", "Via", "Default", "Tags", "Session"],
        sel.identities
            .iter()
            .map(|i| {
                vec![
                    format!("`{}`", name_with_alias(i)),
                    kind_text(&i.kind_name, "identity"),
                    via_text(&i.via),
                    yes(i.default),
                    i.extra.tags.join(", "),
                    sessions.identity_text(&i.name).unwrap_or_else(dash),
                ]
            })
            .collect(),
    );
    md_table(
        &mut out,
        "Integrations",
        &["Name", "Kind", "Via"],
        sel.integrations
            .iter()
            .map(|i| vec![format!("`{}`", i.name), kind_text(&i.kind_name, "integration"), integration_via(i)])
            .collect(),
    );
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

    const SRC: &str = "providers:\n  sso: {kind: aws/iam-identity-center, start_url: \"https://d-1.awsapps.com/start\", region: us-east-1, default: true, tags: [aws, prod]}\n  gh: {kind: github/oidc}\nidentities:\n  admin: {kind: aws/permission-set, via: {provider: sso}, principal: {name: A, account: {id: \"111111111111\"}}, alias: boss, tags: [prod]}\n  ci: {kind: aws/assume-role, via: {provider: gh}, principal: {assume_role: \"arn:aws:iam::111111111111:role/ci\"}}\n  deploy: {kind: aws/assume-role, via: {identity: admin}, principal: {assume_role: \"arn:aws:iam::111111111111:role/d\"}, tags: [dev]}\n";

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2026-12-01T10:00:00Z", &time::format_description::well_known::Rfc3339).unwrap()
    }

    fn at(secs: i64) -> Option<OffsetDateTime> {
        Some(now() + time::Duration::seconds(secs))
    }

    fn filter(providers: Option<&str>, identities: Option<&str>, tags: &str) -> Filter {
        Filter {
            providers: providers.map(names),
            identities: identities.map(names),
            integrations: false,
            tags: names(tags),
        }
    }

    fn listed(a: &AuthConfig, f: &Filter) -> (Vec<String>, Vec<String>) {
        let s = select(a, f).unwrap();
        (s.providers.iter().map(|p| p.name.clone()).collect(), s.identities.iter().map(|i| i.name.clone()).collect())
    }

    fn render_all(a: &AuthConfig, f: ListFormat, s: &Sessions) -> String {
        render(a, &select(a, &Filter::default()).unwrap(), s, f)
    }

    #[test]
    fn tags_alias_and_a_default_provider_are_listed_as_atmos_lists_them() {
        let a = auth(SRC);
        let none = Sessions::none(now());
        let v = as_json(&select(&a, &Filter::default()).unwrap(), &none);
        // JSON: only when set (Atmos's `omitempty`).
        assert_eq!(v["providers"][0]["default"], true);
        assert_eq!(v["providers"][0]["tags"], json!(["aws", "prod"]));
        assert!(v["providers"][1].get("default").is_none() && v["providers"][1].get("tags").is_none(), "{v}");
        assert_eq!(v["identities"][0]["alias"], "boss");
        assert_eq!(v["identities"][0]["tags"], json!(["prod"]));
        assert!(v["identities"][1].get("alias").is_none() && v["identities"][1].get("tags").is_none(), "{v}");
        // Table and tree: the alias beside the name, the default provider marked.
        let table = render_all(&a, ListFormat::Table, &none);
        assert!(
            table.lines().any(|l| l.starts_with("provider") && l.contains("sso") && l.contains(" yes ")),
            "{table}"
        );
        assert!(table.contains("admin (alias: boss)"), "{table}");
        let tree = render_all(&a, ListFormat::Tree, &none);
        assert!(tree.contains("sso [aws/iam-identity-center] (default)\n"), "{tree}");
        assert!(tree.contains("└── admin (alias: boss) [aws/permission-set]\n"), "{tree}");
        assert!(tree.contains("    └── deploy [aws/assume-role]\n"), "{tree}");
    }

    #[test]
    fn the_flags_narrow_as_atmos_narrows() {
        let a = auth(SRC);
        let all = (vec!["sso".to_string(), "gh".into()], vec!["admin".to_string(), "ci".into(), "deploy".into()]);
        assert_eq!(listed(&a, &Filter::default()), all);
        // Bare --providers: every provider, no identity; with names, those (any case, config order).
        assert_eq!(listed(&a, &filter(Some(""), None, "")), (all.0.clone(), vec![]));
        assert_eq!(listed(&a, &filter(Some(" GH , sso,,"), None, "")), (all.0.clone(), vec![]));
        assert_eq!(
            listed(&a, &filter(None, Some("deploy,admin"), "")),
            (vec![], vec!["admin".into(), "deploy".into()])
        );
        // --tags: any of them, exactly; it composes with the names.
        assert_eq!(listed(&a, &filter(None, None, "prod")), (vec!["sso".into()], vec!["admin".into()]));
        assert_eq!(listed(&a, &filter(None, None, "dev,prod")).1, ["admin", "deploy"]);
        assert_eq!(listed(&a, &filter(None, None, "Prod")), (vec![], vec![]));
        assert_eq!(listed(&a, &filter(None, Some("ci,deploy"), "dev")), (vec![], vec!["deploy".into()]));
        // A name nothing defines: every such name, and the nearest as the hint.
        let e = select(&a, &filter(None, Some("admn,nope,ci"), "")).unwrap_err();
        assert_eq!(e.to_string(), "--identities: no identity named `admn`, `nope` in this auth configuration");
        assert_eq!(e.hint(), "did you mean `admin`?");
        let e = select(&a, &filter(Some("okta"), None, "")).unwrap_err();
        assert_eq!(e.hint(), "defined providers: sso, gh");
    }

    #[test]
    fn a_filtered_tree_keeps_the_context_of_what_it_lists() {
        let a = auth(SRC);
        let none = Sessions::none(now());
        let sel = select(&a, &filter(None, Some("deploy,ci"), "")).unwrap();
        // deploy's parent is filtered out: it stands at the top; ci's provider is context.
        assert_eq!(
            render(&a, &sel, &none, ListFormat::Tree),
            "gh [github/oidc] (filtered)\n└── ci [aws/assume-role]\ndeploy [aws/assume-role]\n"
        );
        // Edges only between what is listed.
        let dot = render(&a, &sel, &none, ListFormat::Graphviz);
        assert!(!dot.contains("->"), "{dot}");
    }

    #[test]
    fn time_left_reads_as_the_prompt_shows_it() {
        let d = Duration::from_secs;
        assert_eq!(left_text(d(30)), "30s");
        assert_eq!(left_text(d(42 * 60 + 59)), "42m");
        assert_eq!(left_text(d(2 * 3600 + 5 * 60)), "2h05m");
        assert_eq!(left_text(d(27 * 3600)), "1d03h");
    }

    #[test]
    fn the_session_column_judges_the_cache_at_the_given_moment() {
        let a = auth(SRC);
        let mut s = Sessions::none(now());
        s.identities.insert(
            "admin".into(),
            Cached::Held { expires: at(3600 + 300 + 59), stale: false, refreshable: false, source: None },
        );
        s.identities
            .insert("ci".into(), Cached::Held { expires: at(-60), stale: false, refreshable: false, source: None });
        s.identities.insert("deploy".into(), Cached::Unreadable("it is a symbolic link".into()));
        s.providers.insert(
            "sso".into(),
            Cached::Held { expires: at(-1), stale: false, refreshable: true, source: Some("aws-cli") },
        );
        let table = render_all(&a, ListFormat::Table, &s);
        assert!(table.contains("provider  sso"), "{table}");
        assert!(table.lines().any(|l| l.contains("sso") && l.ends_with("expired (09:59 UTC), refreshable")), "{table}");
        assert!(table.lines().any(|l| l.starts_with("provider  gh") && l.ends_with(" -")), "{table}");
        assert!(table.lines().any(|l| l.contains("admin") && l.ends_with("1h05m left (11:05 UTC)")), "{table}");
        assert!(table.lines().any(|l| l.contains("ci ") && l.ends_with("expired (09:59 UTC)")), "{table}");
        assert!(table.lines().any(|l| l.contains("deploy") && l.ends_with("unreadable")), "{table}");
        let tree = render_all(&a, ListFormat::Tree, &s);
        assert!(tree.contains("admin (alias: boss) [aws/permission-set]  session: 1h05m left (11:05 UTC)\n"), "{tree}");
        assert!(tree.contains("sso [aws/iam-identity-center] (default)  token: expired (09:59 UTC), refreshable\n"));
        let v = as_json(&select(&a, &Filter::default()).unwrap(), &s);
        assert_eq!(
            v["identities"][0]["session"],
            json!({"status": "valid", "expiration": "2026-12-01T11:05:59Z", "expires_in": "1h05m"})
        );
        assert_eq!(v["identities"][2]["session"], json!({"status": "unreadable", "reason": "it is a symbolic link"}));
        assert_eq!(v["providers"][0]["session"]["source"], "aws-cli");
        assert!(v["providers"][1].get("session").is_none(), "{v}");
        // Within the refresh margin: still there, and renewed on its next use.
        s.identities
            .insert("admin".into(), Cached::Held { expires: at(240), stale: true, refreshable: false, source: None });
        let v = as_json(&select(&a, &Filter::default()).unwrap(), &s);
        assert_eq!(v["identities"][0]["session"]["status"], "expiring");
        assert!(render_all(&a, ListFormat::Tree, &s).contains("session: 4m left (10:04 UTC), renewed on next use"));
        // More than a day away: with the date.
        s.identities.insert(
            "admin".into(),
            Cached::Held { expires: at(3 * 86400), stale: false, refreshable: false, source: None },
        );
        assert!(render_all(&a, ListFormat::Tree, &s).contains("session: 3d00h left (2026-12-04 10:00 UTC)"));
        // Nothing cached: nothing said in the tree, `-` in the table, `none` in JSON.
        s.identities.insert("admin".into(), Cached::Nothing);
        assert!(render_all(&a, ListFormat::Tree, &s).contains("admin (alias: boss) [aws/permission-set]\n"));
        let v = as_json(&select(&a, &Filter::default()).unwrap(), &s);
        assert_eq!(v["identities"][0]["session"], json!({"status": "none"}));
    }

    #[test]
    fn markdown_is_atmos_mermaid_fence_then_tables() {
        let a = auth(SRC);
        let mut s = Sessions::none(now());
        s.identities
            .insert("admin".into(), Cached::Held { expires: at(7200), stale: false, refreshable: false, source: None });
        let md = render_all(&a, ListFormat::Markdown, &s);
        assert!(md.starts_with("# Authentication Configuration\n\n```mermaid\ngraph LR\n"), "{md}");
        assert!(md.contains(
            "```\n\n## Providers\n\n| Name | Kind | Region | Default | Tags | Session |\n|---|---|---|---|---|---|\n"
        ));
        assert!(md.contains("| `sso` | aws/iam-identity-center | us-east-1 | yes | aws, prod | - |\n"), "{md}");
        assert!(md.contains(
            "| `admin (alias: boss)` | aws/permission-set | provider:sso |  | prod | 2h00m left (12:00 UTC) |\n"
        ));
        let empty = render(&a, &Selection::default(), &s, ListFormat::Markdown);
        assert_eq!(empty, "# Authentication Configuration\n\nNo providers or identities configured.\n");
    }
}
