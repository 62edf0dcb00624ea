//! Parses one entry of `auth.integrations`, and checks that its identity can feed it.
//!
//! Why it exists: integrations (ECR logins) are the only section that refers to an
//! identity's cloud. It must not log in to anything: it only reads the configuration.

use super::*;

pub(super) fn parse_integration(
    name: &str,
    node: &Node,
    problems: &mut Vec<Problem>,
    notes: &mut Notes,
) -> Option<Integration> {
    let subject = Subject::Integration(name.to_string());
    if node.as_map().is_none() {
        problems.push(Problem {
            subject,
            span: Some(node.span.clone()),
            message: format!("integration `{name}` must be a mapping, not {}", node.type_name()),
            hint: None,
        });
        return None;
    }
    let mut f = Fields { node, subject, what: format!("integration `{name}`"), problems, notes };
    let kind_name = f.req_str(&["kind"])?;
    f.what = format!("integration `{name}` ({kind_name})");
    let mut via_provider = None;
    let via = match (f.opt_str(&["via", "identity"]).filter(|s| !s.is_empty()), node.get_path(&["via", "provider"])) {
        (Some(i), _) => Some((i, node.get_path(&["via", "identity"]).map_or(node.span.clone(), |n| n.span.clone()))),
        (None, Some(p)) => {
            // Atmos binds it to every identity whose chain starts at that provider; tfauth
            // reads it, and refuses the login that would need it.
            let span = p.span.clone();
            let provider = f.opt_str(&["via", "provider"]).unwrap_or_default();
            f.unsupported(
                &span,
                format!("integration `{name}`: `via.provider` (`{provider}`) is {NOT_SUPPORTED_YET}"),
                Some("write `via: {identity: NAME}` with the identity whose session it uses".into()),
            );
            via_provider = Some((provider, span));
            None
        }
        (None, None) => {
            let span = node.get("via").map_or(node.span.clone(), |v| v.span.clone());
            f.problem(
                &span,
                format!("integration `{name}` has no `via.identity`"),
                Some("add `via: {identity: NAME}` with the AWS identity whose session it uses".into()),
            );
            None
        }
    };
    let auto_provision = f.opt_bool(&["spec", "auto_provision"]).unwrap_or(true);
    let kind = match kind_name.as_str() {
        "aws/ecr" => {
            let account = f.req_str(&["spec", "registry", "account_id"]);
            let account = account.and_then(|a| {
                if is_account_id(&a) {
                    return Some(a);
                }
                let span = node.get_path(&["spec", "registry", "account_id"]).map_or(node.span.clone(), |n| n.span.clone());
                let unquoted = matches!(
                    node.get_path(&["spec", "registry", "account_id"]).map(|n| &n.value),
                    Some(Value::Int(_))
                );
                f.problem(
                    &span,
                    format!("integration `{name}` (aws/ecr): `spec.registry.account_id` is `{a}`, which is not a 12-digit AWS account id"),
                    Some(if unquoted {
                        "quote the account id (`account_id: \"012345678901\"`): as a number YAML drops its leading zeros".into()
                    } else {
                        "use the registry's 12-digit account id, as in 123456789012.dkr.ecr.us-east-2.amazonaws.com".into()
                    }),
                );
                None
            });
            let region =
                f.req_matching(&["spec", "registry", "region"], is_aws_region, "an AWS region such as us-east-2");
            match (account, region) {
                (Some(account_id), Some(region)) => Some(IntegrationKind::Ecr { account_id, region }),
                _ => None,
            }
        }
        other => {
            unknown_kind(&mut f, node, "integration", other, INTEGRATION_KINDS);
            None
        }
    };
    Some(Integration {
        name: name.to_string(),
        kind_name,
        kind,
        via,
        via_provider,
        auto_provision,
        span: node.span.clone(),
    })
}

/// An integration's `via.identity` must name an AWS identity.
pub(super) fn check_integrations(cfg: &AuthConfig, problems: &mut Vec<Problem>) {
    for int in &cfg.integrations {
        let Some((via, span)) = &int.via else { continue };
        let problem = |message: String, hint: String| Problem {
            subject: Subject::Integration(int.name.clone()),
            span: Some(span.clone()),
            message,
            hint: Some(hint),
        };
        match cfg.identity(via) {
            None => problems.push(problem(
                format!("integration `{}`: `via.identity` names `{via}`, which is not defined", int.name),
                crate::util::suggest::hint(via, cfg.identities.iter().map(|i| i.name.as_str()), "identities"),
            )),
            Some(id) if int.kind_name.starts_with("aws/") && id.cloud() != Some(Cloud::Aws) => problems.push(problem(
                format!(
                    "integration `{}` ({}) needs an AWS identity, but `{}` is {}",
                    int.name, int.kind_name, id.name, id.kind_name
                ),
                "point `via.identity` at an AWS identity that may call ecr:GetAuthorizationToken".into(),
            )),
            Some(_) => {}
        }
    }
}
