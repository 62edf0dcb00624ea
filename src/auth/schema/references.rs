//! The checks across sections: dangling `via` references, cycles, and links that cannot work
//! (wrong cloud, wrong kind), each with a "did you mean" hint.
//!
//! Why it exists: these need the whole parsed section, so they run after every entry is
//! parsed. It must not build a chain (that is `identity::chain`); it only reports.

use super::*;

/// Dangling references, cycles, and links that cannot work (wrong cloud, wrong kind).
pub(super) fn check_references(cfg: &AuthConfig, problems: &mut Vec<Problem>) {
    let mut reported_cycles: Vec<Vec<String>> = Vec::new();
    for id in &cfg.identities {
        match &id.via {
            Some(Via::Provider(p, span)) => match cfg.provider(p) {
                None => problems.push(Problem {
                    subject: Subject::Identity(id.name.clone()),
                    span: Some(span.clone()),
                    message: format!("identity `{}`: `via.provider` names `{p}`, which is not defined", id.name),
                    hint: Some(suggest_hint(p, cfg.providers.iter().map(|p| p.name.as_str()), "providers")),
                }),
                Some(prov) => check_link(id, &prov.kind_name, true, span, problems),
            },
            Some(Via::Identity(target, span)) => match cfg.identity(target) {
                None => problems.push(Problem {
                    subject: Subject::Identity(id.name.clone()),
                    span: Some(span.clone()),
                    message: format!("identity `{}`: `via.identity` names `{target}`, which is not defined", id.name),
                    hint: Some(suggest_hint(target, cfg.identities.iter().map(|i| i.name.as_str()), "identities")),
                }),
                Some(t) => {
                    check_link(id, &t.kind_name, false, span, problems);
                    if let Some(cycle) = find_cycle(cfg, id) {
                        let mut key = cycle[..cycle.len() - 1].to_vec();
                        key.sort();
                        if !reported_cycles.contains(&key) {
                            reported_cycles.push(key);
                            problems.push(Problem {
                                subject: Subject::Identity(id.name.clone()),
                                span: Some(span.clone()),
                                message: format!("identity chain cycle: {}", cycle.join(" -> ")),
                                hint: Some(
                                    "a chain must end at a provider or a standalone identity; break the cycle".into(),
                                ),
                            });
                        }
                    }
                }
            },
            None => {}
        }
    }
}

pub(super) fn suggest_hint<'a>(name: &str, candidates: impl Iterator<Item = &'a str> + Clone, what: &str) -> String {
    let near = crate::util::suggest::nearest(name, candidates.clone());
    if let Some(n) = near.first() {
        format!("did you mean `{n}`?")
    } else {
        let all: Vec<&str> = candidates.collect();
        if all.is_empty() {
            format!("no {what} are defined; check the active profile")
        } else {
            format!("defined {what}: {}", all.join(", "))
        }
    }
}

/// Follows `via.identity` from `start`; returns the cycle's path if it comes back.
pub(super) fn find_cycle(cfg: &AuthConfig, start: &Identity) -> Option<Vec<String>> {
    let mut path = vec![start.name.clone()];
    let mut cur = start;
    loop {
        let Some(Via::Identity(next, _)) = &cur.via else {
            return None;
        };
        let next = cfg.identity(next)?;
        if let Some(pos) = path.iter().position(|p| p.eq_ignore_ascii_case(&next.name)) {
            path.push(next.name.clone());
            return Some(path[pos..].to_vec());
        }
        path.push(next.name.clone());
        cur = next;
    }
}

/// Whether `id` can come from a provider (or identity) of kind `from`.
pub(super) fn check_link(id: &Identity, from: &str, from_provider: bool, span: &Span, problems: &mut Vec<Problem>) {
    let from_cloud = if from_provider { provider_cloud(from) } else { identity_cloud(from) };
    let (Some(to_cloud), Some(from_cloud)) = (id.cloud(), from_cloud) else {
        return;
    };
    let mut fail = |message: String, hint: &str| {
        problems.push(Problem {
            subject: Subject::Identity(id.name.clone()),
            span: Some(span.clone()),
            message,
            hint: Some(hint.to_string()),
        })
    };
    let what = if from_provider { "provider" } else { "identity" };
    if to_cloud != from_cloud {
        fail(
            format!(
                "identity `{}` ({}) is {to_cloud} but comes from a {from_cloud} {what} ({from})",
                id.name, id.kind_name
            ),
            "an identity's chain must stay in one cloud",
        );
        return;
    }
    match (id.kind_name.as_str(), from_provider, from) {
        ("aws/permission-set", true, "aws/iam-identity-center") => {}
        ("aws/permission-set", _, _) => fail(
            format!(
                "identity `{}` (aws/permission-set) must come from an aws/iam-identity-center provider, not a {from} {what}",
                id.name
            ),
            "point `via.provider` at your IAM Identity Center provider",
        ),
        ("aws/assume-role" | "aws/assume-root", true, "aws/iam-identity-center") => fail(
            format!(
                "identity `{}` ({}) cannot come straight from an IAM Identity Center provider",
                id.name, id.kind_name
            ),
            "chain it from an aws/permission-set identity with `via.identity`",
        ),
        ("aws/assume-root", true, _) => fail(
            format!("identity `{}` (aws/assume-root) must come from an AWS identity with `via.identity`", id.name),
            "AssumeRoot is called with the credentials of an identity in the management account",
        ),
        _ => {}
    }
}
