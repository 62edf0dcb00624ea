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
        "aws/ecr-public" => {
            // Atmos checks `spec.registry.region` only when the login runs: a warning here.
            match f.opt_str(&["spec", "registry", "region"]).filter(|r| !r.is_empty()) {
                Some(r) if r != "us-east-1" && r != "us-west-2" => {
                    let span =
                        node.get_path(&["spec", "registry", "region"]).map_or(node.span.clone(), |n| n.span.clone());
                    f.warn(
                        &span,
                        format!("integration `{name}` (aws/ecr-public): `spec.registry.region` is `{r}`, where ECR Public is not"),
                        Some("use us-east-1 or us-west-2, or leave it out (the login always asks us-east-1)".into()),
                    );
                    None
                }
                _ => Some(IntegrationKind::EcrPublic),
            }
        }
        "azure/acr" => {
            // Atmos needs `spec.registry.name` only when the login runs: a warning here.
            let name_at = node.get_path(&["spec", "registry", "name"]).map_or(node.span.clone(), |n| n.span.clone());
            match f.opt_str(&["spec", "registry", "name"]).map(|n| n.to_ascii_lowercase()) {
                None => {
                    f.warn(
                        &name_at,
                        format!("integration `{name}` (azure/acr) is missing `spec.registry.name`"),
                        Some("add the registry's name (`myregistry` for myregistry.azurecr.io)".into()),
                    );
                    None
                }
                Some(n) => {
                    let short = n.strip_suffix(".azurecr.io").unwrap_or(&n).to_string();
                    if short.is_empty() || !short.bytes().all(|b| b.is_ascii_alphanumeric()) {
                        f.warn(
                            &name_at,
                            format!("integration `{name}` (azure/acr): `spec.registry.name` `{n}` is not an ACR registry name"),
                            Some("ACR names are letters and digits only (`myregistry` for myregistry.azurecr.io)".into()),
                        );
                        None
                    } else {
                        Some(IntegrationKind::Acr { login_server: format!("{short}.azurecr.io") })
                    }
                }
            }
        }
        "aws/eks" => {
            // Atmos reads any `spec` and refuses a bad cluster only when the integration
            // runs: here each is a warning, and the integration's kind stays unset so a
            // login or run that uses it is refused with these same words.
            let before = f.problems.len();
            let cluster = parse_eks(&mut f, name, node);
            let found: Vec<Problem> = f.problems.drain(before..).collect();
            f.notes.warnings.extend(found);
            cluster.map(IntegrationKind::Eks)
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

/// `spec.cluster` of an `aws/eks` integration (its problems become warnings, see the
/// caller). `name` and `region` are required, as in Atmos; `kubeconfig.mode` is Atmos's octal string and `update` one of its three words. A
/// mode that lets others write the file is a problem too: whoever can write a kubeconfig
/// chooses the command kubectl runs.
fn parse_eks(f: &mut Fields<'_>, name: &str, node: &Node) -> Option<EksCluster> {
    let at = |path: &[&str]| node.get_path(path).map_or(node.span.clone(), |n| n.span.clone());
    let cluster = f.req_str(&["spec", "cluster", "name"]);
    let cluster = cluster.and_then(|c| {
        if c.chars().any(char::is_control) || c.contains('/') {
            let span = at(&["spec", "cluster", "name"]);
            f.problem(
                &span,
                format!("integration `{name}` (aws/eks): `spec.cluster.name` {c:?} is not an EKS cluster name"),
                Some("write the cluster's name as EKS shows it (letters, digits, `-` and `_`), not its ARN".into()),
            );
            return None;
        }
        Some(c)
    });
    let region = f.req_matching(&["spec", "cluster", "region"], is_aws_region, "an AWS region such as us-east-2");
    let alias = f.opt_str(&["spec", "cluster", "alias"]).filter(|a| !a.is_empty());
    let alias = match alias {
        Some(a) if a.chars().any(char::is_control) => {
            let span = at(&["spec", "cluster", "alias"]);
            f.problem(
                &span,
                format!("integration `{name}` (aws/eks): `spec.cluster.alias` {a:?} holds a control character"),
                Some("name the context with printable characters only".into()),
            );
            return None;
        }
        a => a,
    };
    let kubeconfig_path = f.opt_str(&["spec", "cluster", "kubeconfig", "path"]).filter(|p| !p.is_empty());
    let mut ok = cluster.is_some() && region.is_some();
    let mode = match f.opt_str(&["spec", "cluster", "kubeconfig", "mode"]).filter(|m| !m.is_empty()) {
        None => DEFAULT_KUBECONFIG_MODE,
        Some(m) => {
            match u32::from_str_radix(&m, 8).ok().filter(|v| *v <= 0o7777) {
                None => {
                    let span = at(&["spec", "cluster", "kubeconfig", "mode"]);
                    f.problem(
                    &span,
                    format!("integration `{name}` (aws/eks): `spec.cluster.kubeconfig.mode` `{m}` is not an octal file mode"),
                    Some("write it as an octal string, as Atmos reads it: `mode: \"0600\"`".into()),
                );
                    ok = false;
                    0
                }
                Some(v) if v & 0o022 != 0 => {
                    let span = at(&["spec", "cluster", "kubeconfig", "mode"]);
                    f.problem(
                    &span,
                    format!(
                        "integration `{name}` (aws/eks): `spec.cluster.kubeconfig.mode` `{m}` lets other users write the kubeconfig, and with it the command kubectl runs"
                    ),
                    Some("use \"0600\" (the default) or \"0644\"".into()),
                );
                    ok = false;
                    0
                }
                Some(v) => v,
            }
        }
    };
    let update = match f.opt_str(&["spec", "cluster", "kubeconfig", "update"]).filter(|u| !u.is_empty()).as_deref() {
        None | Some("merge") => KubeconfigUpdate::Merge,
        Some("replace") => KubeconfigUpdate::Replace,
        Some("error") => KubeconfigUpdate::Error,
        Some(other) => {
            let span = at(&["spec", "cluster", "kubeconfig", "update"]);
            f.problem(
                &span,
                format!("integration `{name}` (aws/eks): `spec.cluster.kubeconfig.update` is `{other}`"),
                Some("use merge (the default), replace or error".into()),
            );
            ok = false;
            KubeconfigUpdate::Merge
        }
    };
    if !ok {
        return None;
    }
    Some(EksCluster { name: cluster?, region: region?, alias, kubeconfig_path, mode, update })
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
            Some(id) if int.kind_name.starts_with("azure/") && id.cloud() != Some(Cloud::Azure) => {
                problems.push(problem(
                    format!(
                        "integration `{}` ({}) needs an Azure identity, but `{}` is {}",
                        int.name, int.kind_name, id.name, id.kind_name
                    ),
                    "point `via.identity` at an azure/subscription identity whose principal may pull from the registry"
                        .into(),
                ))
            }
            Some(id) if int.kind_name.starts_with("aws/") && id.cloud() != Some(Cloud::Aws) => problems.push(problem(
                format!(
                    "integration `{}` ({}) needs an AWS identity, but `{}` is {}",
                    int.name, int.kind_name, id.name, id.kind_name
                ),
                match int.kind_name.as_str() {
                    "aws/eks" => "point `via.identity` at an AWS identity that may call eks:DescribeCluster".into(),
                    _ => "point `via.identity` at an AWS identity that may call ecr:GetAuthorizationToken".into(),
                },
            )),
            Some(_) => {}
        }
    }
}
