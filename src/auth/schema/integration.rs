//! Parses one entry of `auth.integrations`, and checks that its identity can feed it.
//!
//! Why it exists: integrations (registry logins, kubeconfigs) are the only section that
//! refers to an identity's cloud. It must not log in to anything: it only reads the configuration.

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
        "aws/eks" | "gcp/gke" | "azure/aks" => {
            // Atmos reads any `spec` and refuses a bad cluster only when the integration
            // runs: here each is a warning, and the integration's kind stays unset so a
            // login or run that uses it is refused with these same words.
            let before = f.problems.len();
            let kind = parse_cluster(&mut f, name, &kind_name, node);
            let found: Vec<Problem> = f.problems.drain(before..).collect();
            f.notes.warnings.extend(found);
            kind
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

/// `spec.cluster` of a Kubernetes integration (its problems become warnings, see the
/// caller). The fields each kind requires are Atmos's: `name` and `region` for aws/eks,
/// `name`, `project_id` and `location` for gcp/gke, `name` and `resource_group` for
/// azure/aks. `kubeconfig.mode` is Atmos's octal string and `update` one of its three
/// words. A mode that lets others write the file is a problem too: whoever can write a
/// kubeconfig chooses the command kubectl runs.
fn parse_cluster(f: &mut Fields<'_>, name: &str, kind: &str, node: &Node) -> Option<IntegrationKind> {
    let at = |path: &[&str]| node.get_path(path).map_or(node.span.clone(), |n| n.span.clone());
    let what = format!("integration `{name}` ({kind})");
    // A value that goes into a resource path or a kubeconfig name: printable, no `/`.
    let plain = |f: &mut Fields<'_>, field: &str, label: &str, hint: &str| -> Option<String> {
        let value = f.req_str(&["spec", "cluster", field])?;
        if value.is_empty() || value.chars().any(char::is_control) || value.contains('/') {
            let span = at(&["spec", "cluster", field]);
            f.problem(
                &span,
                format!("{what}: `spec.cluster.{field}` {value:?} is not {label}"),
                Some(hint.to_string()),
            );
            return None;
        }
        Some(value)
    };
    // The fields the kind requires, each checked (all of them, so every problem shows).
    enum Required {
        Eks(String, String),
        Gke(String, String, String),
        Aks(String, String),
    }
    let required = match kind {
        "aws/eks" => {
            let cluster = plain(
                f,
                "name",
                "an EKS cluster name",
                "write the cluster's name as EKS shows it (letters, digits, `-` and `_`), not its ARN",
            );
            let region =
                f.req_matching(&["spec", "cluster", "region"], is_aws_region, "an AWS region such as us-east-2");
            cluster.zip(region).map(|(c, r)| Required::Eks(c, r))
        }
        "gcp/gke" => {
            let cluster =
                plain(f, "name", "a GKE cluster name", "write the cluster's short name, not its resource path");
            let project = plain(f, "project_id", "a GCP project id", "write the project's id, such as acme-dev");
            let location = plain(
                f,
                "location",
                "a GCP location",
                "write the cluster's region or zone, such as us-central1 or us-central1-a",
            );
            cluster.zip(project).zip(location).map(|((c, p), l)| Required::Gke(c, p, l))
        }
        _ => {
            let cluster = plain(f, "name", "an AKS cluster name", "write the cluster's name, not its resource id");
            let group = plain(f, "resource_group", "a resource group name", "write the resource group's name");
            cluster.zip(group).map(|(c, g)| Required::Aks(c, g))
        }
    };
    let alias = match f.opt_str(&["spec", "cluster", "alias"]).filter(|a| !a.is_empty()) {
        Some(a) if a.chars().any(char::is_control) => {
            let span = at(&["spec", "cluster", "alias"]);
            f.problem(
                &span,
                format!("{what}: `spec.cluster.alias` {a:?} holds a control character"),
                Some("name the context with printable characters only".into()),
            );
            return None;
        }
        a => a,
    };
    let subscription_id = f.opt_str(&["spec", "cluster", "subscription_id"]).filter(|s| !s.is_empty());
    if let Some(s) = &subscription_id
        && (s.contains('/') || s.chars().any(|c| c.is_control() || c.is_whitespace()))
    {
        let span = at(&["spec", "cluster", "subscription_id"]);
        f.problem(
            &span,
            format!("{what}: `spec.cluster.subscription_id` {s:?} is not a subscription id"),
            Some("write the subscription's GUID, or leave it out to use the identity's".into()),
        );
        return None;
    }
    let kubeconfig = parse_kubeconfig(f, &what, node)?;
    Some(match required? {
        Required::Eks(name, region) => IntegrationKind::Eks(EksCluster { name, region, alias, kubeconfig }),
        Required::Gke(name, project_id, location) => {
            IntegrationKind::Gke(GkeCluster { name, project_id, location, alias, kubeconfig })
        }
        Required::Aks(name, resource_group) => {
            IntegrationKind::Aks(AksCluster { name, resource_group, subscription_id, alias, kubeconfig })
        }
    })
}

/// `spec.cluster.kubeconfig`: path, mode (octal, no group or other write) and update.
fn parse_kubeconfig(f: &mut Fields<'_>, what: &str, node: &Node) -> Option<KubeconfigSpec> {
    let at = |path: &[&str]| node.get_path(path).map_or(node.span.clone(), |n| n.span.clone());
    let path = f.opt_str(&["spec", "cluster", "kubeconfig", "path"]).filter(|p| !p.is_empty());
    let mut ok = true;
    let mode = match f.opt_str(&["spec", "cluster", "kubeconfig", "mode"]).filter(|m| !m.is_empty()) {
        None => DEFAULT_KUBECONFIG_MODE,
        Some(m) => match u32::from_str_radix(&m, 8).ok().filter(|v| *v <= 0o7777) {
            None => {
                let span = at(&["spec", "cluster", "kubeconfig", "mode"]);
                f.problem(
                    &span,
                    format!("{what}: `spec.cluster.kubeconfig.mode` `{m}` is not an octal file mode"),
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
                        "{what}: `spec.cluster.kubeconfig.mode` `{m}` lets other users write the kubeconfig, and with it the command kubectl runs"
                    ),
                    Some("use \"0600\" (the default) or \"0644\"".into()),
                );
                ok = false;
                0
            }
            Some(v) => v,
        },
    };
    let update = match f.opt_str(&["spec", "cluster", "kubeconfig", "update"]).filter(|u| !u.is_empty()).as_deref() {
        None | Some("merge") => KubeconfigUpdate::Merge,
        Some("replace") => KubeconfigUpdate::Replace,
        Some("error") => KubeconfigUpdate::Error,
        Some(other) => {
            let span = at(&["spec", "cluster", "kubeconfig", "update"]);
            f.problem(
                &span,
                format!("{what}: `spec.cluster.kubeconfig.update` is `{other}`"),
                Some("use merge (the default), replace or error".into()),
            );
            ok = false;
            KubeconfigUpdate::Merge
        }
    };
    ok.then_some(KubeconfigSpec { path, mode, update })
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
                    if int.kind_name == "azure/aks" {
                        "point `via.identity` at an azure/subscription identity that may read the cluster's user credentials".into()
                    } else {
                        "point `via.identity` at an azure/subscription identity whose principal may pull from the registry"
                            .into()
                    },
                ))
            }
            Some(id) if int.kind_name.starts_with("gcp/") && id.cloud() != Some(Cloud::Gcp) => problems.push(problem(
                format!(
                    "integration `{}` ({}) needs a GCP identity, but `{}` is {}",
                    int.name, int.kind_name, id.name, id.kind_name
                ),
                "point `via.identity` at a gcp/service-account or gcp/project identity that may get the cluster".into(),
            )),
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
