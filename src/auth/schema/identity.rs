//! Parses one entry of `auth.identities` by its kind, with its `via` and `duration`.
//!
//! Why it exists: each identity kind has its own principal fields. It checks one identity on
//! its own; whether its `via` exists, or loops, is `identity::chain`'s to check.

use super::*;

pub(super) fn parse_identity(
    name: &str,
    node: &Node,
    problems: &mut Vec<Problem>,
    notes: &mut Notes,
) -> Option<Identity> {
    let subject = Subject::Identity(name.to_string());
    if node.as_map().is_none() {
        problems.push(Problem {
            subject,
            span: Some(node.span.clone()),
            message: format!("identity `{name}` must be a mapping, not {}", node.type_name()),
            hint: None,
        });
        return None;
    }
    let mut f = Fields { node, subject: subject.clone(), what: format!("identity `{name}`"), problems, notes };
    let default = f.opt_bool(&["default"]).unwrap_or(false);
    let default_span = node.get("default").filter(|_| default).map(|n| n.span.clone());
    let required = f.opt_bool(&["required"]).unwrap_or(false);
    if node.get("kind").is_none_or(Node::is_null) {
        // An entry without `kind` only overrides fields of an identity defined elsewhere.
        // Those are dropped by `undefined_defaults`/the caller; nothing to type here.
        let defines = ["via", "principal", "credentials"].iter().any(|k| node.get(k).is_some());
        if defines {
            f.req_str(&["kind"]);
        }
        return None;
    }
    let kind_name = f.req_str(&["kind"])?;
    f.what = format!("identity `{name}` ({kind_name})");
    let region = f
        .opt_matching(&["region"], is_aws_or_any_region, "a region")
        .or_else(|| if kind_name.starts_with("aws/") { f.opt_str(&["principal", "region"]) } else { None })
        // Atmos signs an aws/user in, and exports AWS_REGION, in `credentials.region`.
        .or_else(|| {
            if kind_name == "aws/user" {
                f.opt_matching(&["credentials", "region"], is_aws_or_any_region, "a region")
            } else {
                None
            }
        });
    let env = parse_env(&mut f, node, name);

    let via = parse_via(&mut f, node, &kind_name);
    // As for providers: a bad field drops the kind, never the identity.
    let mut typed = || match kind_name.as_str() {
        "aws/permission-set" => {
            let ps = f.req_str(&["principal", "name"]);
            let id = f.opt_matching(&["principal", "account", "id"], is_account_id, "a 12-digit AWS account id");
            let acct_name = f.opt_str(&["principal", "account", "name"]);
            let account = match (id, acct_name) {
                (Some(id), _) => Some(AccountRef::Id(id)),
                (None, Some(n)) => Some(AccountRef::Name(n)),
                (None, None) => {
                    if node.get_path(&["principal", "account", "id"]).is_none() {
                        let span = node.span.clone();
                        f.problem(&span, format!("identity `{name}` (aws/permission-set) is missing `principal.account.id` or `principal.account.name`"), Some("name the account by id (12 digits) or by its name in IAM Identity Center".into()));
                    }
                    None
                }
            };
            Some(IdentityKind::PermissionSet { permission_set: ps?, account: account? })
        }
        "aws/assume-role" => {
            let role = f.req_matching(
                &["principal", "assume_role"],
                is_role_arn,
                "an IAM role ARN (arn:aws:iam::123456789012:role/NAME)",
            );
            let external_id =
                f.opt_str(&["principal", "external_id"]).or_else(|| f.opt_str(&["external_id"])).map(Secret::new);
            let duration = duration_in(&mut f, &["principal", "duration"], &["duration"]);
            if let Some(d) = duration
                && !(ASSUME_ROLE_MIN_SECS..=ASSUME_ROLE_MAX_SECS).contains(&d)
            {
                // Atmos passes it to STS as written; so does tfauth, and STS decides.
                let span = duration_span(node);
                f.warn(
                    &span,
                    format!(
                        "identity `{name}` (aws/assume-role): `duration` is {d}s; STS allows 900s (15m) to 43200s (12h) and will likely refuse it"
                    ),
                    Some("use a duration from 15m to 12h (and at most the role's maximum session duration)".into()),
                );
            }
            let session_name = f.opt_str(&["principal", "session_name"]).or_else(|| f.opt_str(&["session_name"]));
            Some(IdentityKind::AssumeRole { role_arn: role?, external_id, duration_secs: duration, session_name })
        }
        "aws/assume-root" => {
            let target =
                f.req_matching(&["principal", "target_principal"], is_account_id, "a 12-digit member account id");
            let policy = f.req_str(&["principal", "task_policy_arn"]);
            let policy = policy.and_then(|p| {
                if is_root_task_policy(&p) {
                    Some(p)
                } else {
                    let span = node.get_path(&["principal", "task_policy_arn"]).map_or(node.span.clone(), |n| n.span.clone());
                    f.problem(
                        &span,
                        format!("identity `{name}` (aws/assume-root): `principal.task_policy_arn` is `{p}`, which is not a root task policy (arn:aws:iam::aws:policy/root-task/NAME)"),
                        Some(format!("AWS's root task policies include {}", ROOT_TASK_POLICIES.join(", "))),
                    );
                    None
                }
            });
            let duration = duration_in(&mut f, &["principal", "duration"], &["duration"]);
            if let Some(d) = duration
                && d > ASSUME_ROOT_MAX_SECS
            {
                // As Atmos does: capped at 15 minutes, with a warning.
                let span = duration_span(node);
                f.warn(
                    &span,
                    format!(
                        "identity `{name}` (aws/assume-root): `duration` is {d}s; AssumeRoot sessions last at most 15m, so 900s is used"
                    ),
                    Some("use `duration: 15m` or less".into()),
                );
            }
            Some(IdentityKind::AssumeRoot {
                target_principal: target?,
                task_policy_arn: policy?,
                duration_secs: duration.map(|d| d.min(ASSUME_ROOT_MAX_SECS)),
            })
        }
        "aws/user" => {
            let key = f.opt_str(&["credentials", "access_key_id"]).map(Secret::new);
            let secret = f.opt_str(&["credentials", "secret_access_key"]).map(Secret::new);
            if key.is_some() != secret.is_some()
                && node
                    .get("credentials")
                    .is_some_and(|c| c.get("access_key_id").is_some() != c.get("secret_access_key").is_some())
            {
                let span = node.get("credentials").map_or(node.span.clone(), |n| n.span.clone());
                f.problem(
                    &span,
                    format!(
                        "identity `{name}` (aws/user): `credentials` needs both `access_key_id` and `secret_access_key`"
                    ),
                    None,
                );
            }
            let mfa = f
                .opt_matching(
                    &["credentials", "mfa_arn"],
                    is_mfa_arn,
                    "an MFA device ARN (arn:aws:iam::123456789012:mfa/NAME)",
                )
                .or_else(|| {
                    f.opt_matching(&["mfa_arn"], is_mfa_arn, "an MFA device ARN (arn:aws:iam::123456789012:mfa/NAME)")
                });
            // Atmos: the browser sign-in is on unless `credentials.webflow_enabled` is the
            // boolean false; any other value (a string, a number) leaves it on, unreported.
            let webflow_enabled = node
                .get("credentials")
                .and_then(|c| c.get("webflow_enabled"))
                .and_then(|n| n.as_bool())
                .unwrap_or(true);
            Some(IdentityKind::User { access_key_id: key, secret_access_key: secret, mfa_arn: mfa, webflow_enabled })
        }
        "aws/ambient" => Some(IdentityKind::Ambient),
        "azure/subscription" => {
            let sub = f.req_matching(&["principal", "subscription_id"], is_uuid, "a subscription UUID");
            Some(IdentityKind::AzureSubscription {
                subscription_id: sub?,
                location: f.opt_str(&["principal", "location"]),
                resource_group: f.opt_str(&["principal", "resource_group"]),
            })
        }
        "gcp/service-account" => {
            let email = f.req_matching(&["principal", "service_account_email"], is_email, "an email address");
            let lifetime = f.opt_duration(&["principal", "lifetime"]);
            if let Some(l) = lifetime
                && l > 43_200
            {
                let span = node.span.clone();
                f.problem(
                    &span,
                    format!(
                        "identity `{name}` (gcp/service-account): `lifetime` is {l}s; Google allows at most 43200s"
                    ),
                    None,
                );
            }
            Some(IdentityKind::GcpServiceAccount {
                email: email?,
                lifetime_secs: lifetime,
                delegates: f.opt_str_list(&["principal", "delegates"]),
                scopes: f.opt_str_list(&["principal", "scopes"]),
                project_id: f.opt_str(&["principal", "project_id"]),
            })
        }
        "gcp/project" => {
            let project = f.req_str(&["principal", "project_id"]);
            Some(IdentityKind::GcpProject {
                project_id: project?,
                region: f.opt_str(&["principal", "region"]),
                zone: f.opt_str(&["principal", "zone"]),
            })
        }
        other => {
            unknown_kind(&mut f, node, "identity", other, IDENTITY_KINDS);
            None
        }
    };
    let kind = typed();
    let extra = IdentityExtra {
        tags: f.tags(),
        alias: f.lenient(|f| f.opt_str(&["alias"]), "ignored").filter(|a| !a.trim().is_empty()),
        session_secs: session_duration(&mut f, node, &kind_name),
        endpoint_url: if kind_name.starts_with("aws/") { f.located_str(&["spec", "endpoint_url"]) } else { None },
    };
    Some(Identity {
        name: name.to_string(),
        kind_name,
        kind,
        via,
        default,
        default_span,
        required,
        region,
        env,
        extra,
        span: node.span.clone(),
    })
}

/// `session.duration`: seconds, a duration (`1h30m`) or days (`2d`), as Atmos reads it.
/// Only an aws/user uses it (its GetSessionToken); Atmos logs and drops one it cannot read,
/// and so does tfauth, with a warning.
fn session_duration(f: &mut Fields<'_>, node: &Node, kind: &str) -> Option<u64> {
    let n = node.get_path(&["session", "duration"]).filter(|n| !n.is_null())?;
    let days = n.as_str().and_then(|s| s.trim().strip_suffix('d')?.parse::<u64>().ok());
    let secs = match days {
        Some(d) => Some(d.saturating_mul(86_400)),
        None => f.lenient(|f| f.opt_duration(&["session", "duration"]), "ignored, as Atmos ignores it"),
    }?;
    if kind != "aws/user" {
        return Some(secs);
    }
    let span = n.span.clone();
    let what = f.what.clone();
    if secs == 0 {
        f.warn(&span, format!("{what}: `session.duration` is 0; ignored, as Atmos ignores it"), None);
        return None;
    }
    Some(secs)
}

/// Prefixes of the variables auth sets or removes for some cloud, and tfauth's own: an
/// identity's `env:` does not override them (as for a component's `env:`, auth wins).
pub(super) const AUTH_OWNED_PREFIXES: &[&str] = &["AWS_", "ARM_", "AZURE_", "GOOGLE_", "CLOUDSDK_", "TFAUTH_"];

/// A name a process environment can carry as written: a letter or `_`, then letters,
/// digits and `_`.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// An identity's `env:`, a list of `{key, value}` (Atmos's shape). An entry that is not
/// one, names no valid variable, or names one auth owns is dropped with a warning: the
/// run goes on without it.
pub(super) fn parse_env(f: &mut Fields<'_>, node: &Node, name: &str) -> Vec<(String, String)> {
    let Some(list) = node.get("env").filter(|n| !n.is_null()) else { return Vec::new() };
    let Some(items) = list.as_seq() else {
        let span = list.span.clone();
        f.warn(
            &span,
            format!("identity `{name}`: `env` must be a list of `{{key, value}}`, not {}; ignored", list.type_name()),
            Some("write `env: [{key: NAME, value: VALUE}]`".into()),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let key = item.get("key").and_then(Node::scalar_string);
        let value = item
            .get("value")
            .map_or(Some(String::new()), |v| if v.is_null() { Some(String::new()) } else { v.scalar_string() });
        let (Some(key), Some(value)) = (key, value) else {
            f.warn(
                &item.span,
                format!("identity `{name}`: each `env` entry must be `{{key: NAME, value: VALUE}}` with scalar values; ignored"),
                None,
            );
            continue;
        };
        let shown = key.escape_default().to_string();
        if !is_env_name(&key) {
            f.warn(
                &item.span,
                format!("identity `{name}`: `env` key `{shown}` is not a valid environment variable name; ignored"),
                Some("use letters, digits and `_`, not starting with a digit".into()),
            );
        } else if let Some(p) = AUTH_OWNED_PREFIXES.iter().find(|p| key.starts_with(**p)) {
            f.warn(
                &item.span,
                format!("identity `{name}`: `env` key `{shown}` is one auth sets ({p}*); ignored, auth's value wins"),
                Some("let the identity, its `region` or the provider set credentials variables".into()),
            );
        } else if value.contains('\0') {
            f.warn(
                &item.span,
                format!("identity `{name}`: `env` value of `{shown}` holds a NUL character, which no environment can carry; ignored"),
                None,
            );
        } else {
            out.push((key, value));
        }
    }
    out
}

/// Where an identity's `duration` is written (under `principal` or at the top).
pub(super) fn duration_span(node: &Node) -> Span {
    node.get_path(&["principal", "duration"]).or(node.get("duration")).map_or(node.span.clone(), |n| n.span.clone())
}

/// An aws/assume-role or aws/assume-root `duration`. One that does not parse is ignored
/// with a warning (the STS default applies), as Atmos does: its validator never reads it,
/// and its run logs a warning and sends none.
pub(super) fn duration_in(f: &mut Fields<'_>, first: &[&str], second: &[&str]) -> Option<u64> {
    let path = if f.node.get_path(first).is_some() { first } else { second };
    let before = f.problems.len();
    let parsed = f.opt_duration(path);
    let found: Vec<Problem> = f.problems.drain(before..).collect();
    for mut p in found {
        p.message.push_str("; ignored, as Atmos ignores it (the session gets STS's default)");
        f.notes.warnings.push(p);
    }
    parsed
}

pub(super) fn parse_via(f: &mut Fields<'_>, node: &Node, kind: &str) -> Option<Via> {
    let name = match &f.subject {
        Subject::Identity(n) => n.clone(),
        _ => String::new(),
    };
    let via = node.get("via").filter(|v| !v.is_null());
    if kind == "aws/user" {
        // Atmos never looks at an aws/user's `via` (its validator skips it): ignored.
        if let Some(v) = via {
            f.warn(
                &v.span,
                format!("identity `{name}` (aws/user) stands alone: its `via` is ignored"),
                Some("remove `via`; aws/user signs in with its own access key".into()),
            );
        }
        return None;
    }
    if let Some(v) = via
        && v.as_map().is_none()
    {
        f.problem(&v.span, format!("identity `{name}`: `via` must be a mapping with `provider` or `identity`"), None);
        return None;
    }
    let provider = f.opt_str(&["via", "provider"]).filter(|s| !s.is_empty());
    let identity = f.opt_str(&["via", "identity"]).filter(|s| !s.is_empty());
    if is_standalone_kind(kind) {
        // Atmos refuses these too: aws/ambient, ambient and the emulators "must not define via".
        if let Some(v) = via {
            f.problem(
                &v.span,
                format!("identity `{name}` ({kind}) stands alone and must not define `via` (Atmos refuses it too)"),
                Some("remove `via`".into()),
            );
        }
        return None;
    }
    let span_of = |k: &str| node.get_path(&["via", k]).map_or(node.span.clone(), |n| n.span.clone());
    match (provider, identity) {
        (Some(p), None) => Some(Via::Provider(p, span_of("provider"))),
        (None, Some(i)) => Some(Via::Identity(i, span_of("identity"))),
        (Some(_), Some(_)) => {
            let span = via.map_or(node.span.clone(), |v| v.span.clone());
            f.problem(
                &span,
                format!("identity `{name}` has both `via.provider` and `via.identity`"),
                Some("keep exactly one: a chain starts at one provider or continues one identity".into()),
            );
            None
        }
        (None, None) => {
            f.problem(
                &node.span,
                format!("identity `{name}` ({kind}) has no `via`"),
                Some("add `via: {provider: NAME}` or `via: {identity: NAME}`".into()),
            );
            None
        }
    }
}
