//! The Kubernetes integrations (`aws/eks`, `gcp/gke`, `azure/aks`): describe the cluster
//! with the `via` identity's credentials, and make its three kubeconfig entries (Atmos's
//! names) whose user runs tfauth's token plugin for that cloud through
//! `atmos-auth-helper` (the small binary; the words are `tfauth`'s):
//!
//! | kind | cluster key | user | plugin words |
//! |---|---|---|---|
//! | aws/eks | the cluster's ARN | `atmos-eks-<name>-<region>` | `aws eks token` |
//! | gcp/gke | `projects/P/locations/L/clusters/N` | `atmos-gke-<name>-<project>-<location>` | `gcp gke token` |
//! | azure/aks | the ARM resource id | `atmos-aks-<name>-<group>-<subscription>` | `azure aks token` |
//!
//! The context is the alias, else the cluster key. Each plugin gets the chain's cache key
//! (`--key`), so its warm path reads one cache file, and what it needs to resolve the chain
//! again when the entry is gone. It writes nothing itself but through the caller; it never
//! prints.

use super::{IntegrationError, realm_dir, spec_warnings};
use crate::auth::{AksCluster, AuthError, EksCluster, GkeCluster, Integration, IntegrationKind, KubeconfigSpec};
use crate::env_vars::Env;
use crate::identity::Chain;
use crate::output::kubeconfig::{self, Entry};
use crate::resolve::Resolution;
use crate::session::Interaction;
use crate::session::bearer::{self, Bearer};
use std::path::{Path, PathBuf};

/// The kubeconfig entries of `integration`'s cluster (described now, with `chain`'s
/// credentials), and where its spec says they go.
pub(super) fn entry<'a>(
    res: &Resolution,
    chain: &Chain,
    integration: &Integration,
    kind: &'a IntegrationKind,
    env: &Env,
    ask: Interaction<'_>,
    plugin: &Path,
) -> Result<(Entry, &'a KubeconfigSpec), IntegrationError> {
    let identity = chain.leaf().name.as_str();
    let command = plugin.display().to_string();
    match kind {
        IntegrationKind::Eks(c) => {
            let session = crate::session::obtain(&res.scope(env), chain, env, ask)?;
            let info = crate::providers::eks::describe_cluster(&crate::providers::eks::DescribeRequest {
                integration: &integration.name,
                identity,
                credentials: &session.credentials,
                cluster: &c.name,
                region: &c.region,
                env,
            })?;
            let head = ["aws", "eks", "token", "--cluster-name", &c.name, "--region", &c.region];
            let entry = Entry {
                context: c.alias.clone().unwrap_or_else(|| info.arn.clone()),
                cluster: info.arn,
                user: eks_user(c),
                server: info.endpoint,
                ca_data: info.certificate_authority_data,
                command,
                args: plugin_args(res, chain, &head),
                env: vec![],
            };
            Ok((entry, &c.kubeconfig))
        }
        IntegrationKind::Gke(c) => {
            // The token that reads the cluster is the one kubectl will send: cached for the
            // plugin, whose first call is then warm.
            let key = bearer::entry_key(&chain_key(res, chain), None);
            let token = bearer::obtain(env, bearer::Kind::Gke, &key, identity, || gke_token(chain, env))?;
            let info = crate::providers::gke::get_cluster(
                &integration.name,
                identity,
                (&c.project_id, &c.location, &c.name),
                &token.token,
                env,
            )?;
            let entry = Entry {
                context: c.alias.clone().unwrap_or_else(|| info.id.clone()),
                cluster: info.id,
                user: gke_user(c),
                server: info.endpoint,
                ca_data: info.certificate_authority_data,
                command,
                args: plugin_args(res, chain, &["gcp", "gke", "token"]),
                env: vec![],
            };
            Ok((entry, &c.kubeconfig))
        }
        IntegrationKind::Aks(c) => {
            let scope = crate::output::azure::scope(chain);
            let subscription = aks_subscription(c, scope.subscription_id.clone(), chain, integration)?;
            let (arm, _tenant) =
                crate::session::azure::arm_token(chain, env, ask.device, crate::providers::azure::Mode::Use)?;
            let at = crate::providers::aks::ClusterRef {
                integration: &integration.name,
                identity,
                subscription: &subscription,
                resource_group: &c.resource_group,
                name: &c.name,
            };
            let info = crate::providers::aks::describe_cluster(&at, &arm, env, scope.cloud)?;
            let head = [
                "azure",
                "aks",
                "token",
                "--cluster-name",
                &c.name,
                "--resource-group",
                &c.resource_group,
                "--server-id",
                &info.server_id,
                "--subscription-id",
                &subscription,
            ];
            let entry = Entry {
                context: c.alias.clone().unwrap_or_else(|| info.id.clone()),
                cluster: info.id,
                user: aks_user(c, &subscription),
                server: info.endpoint,
                ca_data: info.certificate_authority_data,
                command,
                args: plugin_args(res, chain, &head),
                env: vec![],
            };
            Ok((entry, &c.kubeconfig))
        }
        _ => unreachable!("only Kubernetes integrations have kubeconfig entries"),
    }
}

/// A GCP chain's access token, minted now (what `tfauth gcp gke token` hands kubectl).
pub fn gke_token(chain: &Chain, env: &Env) -> Result<Bearer, crate::session::SessionError> {
    let minted = crate::providers::gcp::identity_token(chain, env)?;
    // Google always says; should it not, a token is assumed good for half its usual hour.
    let expires = minted.expires.unwrap_or_else(|| time::OffsetDateTime::now_utc() + time::Duration::minutes(30));
    Ok(Bearer { token: minted.token, expires })
}

/// The subscription an AKS cluster is addressed in: the integration's, else the identity's.
fn aks_subscription(
    c: &AksCluster,
    identity_subscription: Option<String>,
    chain: &Chain,
    integration: &Integration,
) -> Result<String, IntegrationError> {
    c.subscription_id.clone().or(identity_subscription).ok_or_else(|| {
        AuthError::Invalid {
            problems: vec![crate::auth::Problem {
                subject: crate::auth::Subject::Integration(integration.name.clone()),
                span: Some(integration.span.clone()),
                message: format!(
                    "integration `{}` (azure/aks) names no subscription, and identity `{}` has none",
                    integration.name,
                    chain.leaf().name
                ),
                hint: Some("add `spec.cluster.subscription_id`, or give the identity a `subscription_id`".into()),
            }],
        }
        .into()
    })
}

fn eks_user(c: &EksCluster) -> String {
    format!("atmos-eks-{}-{}", c.name, c.region)
}

fn gke_user(c: &GkeCluster) -> String {
    format!("atmos-gke-{}-{}-{}", c.name, c.project_id, c.location)
}

fn aks_user(c: &AksCluster, subscription: &str) -> String {
    format!("atmos-aks-{}-{}-{subscription}", c.name, c.resource_group)
}

fn chain_key(res: &Resolution, chain: &Chain) -> String {
    crate::session::cache::key::chain_key(&res.auth_node, chain)
}

/// The exec plugin's arguments: `head` (the words and the cluster), then the identity and
/// what the plugin needs to find the same credentials without reading YAML (the cache
/// `--key`), or to resolve them again when they are gone (`--config`, `--profile`,
/// `--stack`, `--component`, `--margin`).
pub fn plugin_args(res: &Resolution, chain: &Chain, head: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = head.iter().map(|s| s.to_string()).collect();
    args.extend(["--identity".into(), chain.leaf().name.clone()]);
    args.extend(["--config".into(), res.config.file.display().to_string()]);
    if !res.config.profiles.is_empty() {
        let names: Vec<&str> = res.config.profiles.iter().map(|p| p.name.as_str()).collect();
        args.extend(["--profile".into(), names.join(",")]);
    }
    if let Some(c) = &res.component {
        args.extend(["--stack".into(), c.stack.clone(), "--component".into(), c.component.clone()]);
    }
    args.extend(["--key".into(), chain_key(res, chain)]);
    if let Some(m) = res.auth_node.get("refresh_margin").and_then(crate::yaml::Node::as_str) {
        args.extend(["--margin".into(), m.to_string()]);
    }
    args
}

/// The kubeconfig a Kubernetes integration writes: its `kubeconfig.path` (`~/` expands),
/// else Atmos's, `<config home>/atmos/kube/config`.
pub fn kubeconfig_path(spec: &KubeconfigSpec, env: &Env) -> Result<PathBuf, IntegrationError> {
    match spec.path.as_deref() {
        Some(p) => match p.strip_prefix("~/") {
            Some(rest) => {
                let home = env.get(crate::env_vars::HOME).ok_or(IntegrationError::NoConfigHome)?;
                Ok(Path::new(home).join(rest))
            }
            None => Ok(std::path::absolute(p).unwrap_or_else(|_| PathBuf::from(p))),
        },
        None => {
            let home = crate::output::env::config_home(env).ok_or(IntegrationError::NoConfigHome)?;
            Ok(home.join("atmos").join("kube").join("config"))
        }
    }
}

/// A run's own kubeconfig ([`kubeconfig_for_run`]), and the integrations that could not
/// add their cluster to it (warnings for the caller to show).
#[derive(Debug)]
pub struct RunKubeconfig {
    /// The content-addressed directory's base (`<realm>/kube`).
    pub base: PathBuf,
    pub text: String,
    pub failed: Vec<(String, IntegrationError)>,
}

/// The kubeconfig a run of the resolution gets: one file holding the Kubernetes
/// integrations (with `auto_provision`) of its identities (the chosen one first, whose
/// first cluster is the current context), written into the run's own content-addressed
/// directory, so concurrent runs of other clusters never share it. `None` when none applies.
///
/// An integration that fails (a cluster the cloud does not know, a spec Atmos would refuse)
/// is a warning, as in Atmos, so a component that never talks to Kubernetes still runs;
/// its cluster is simply not in the file, and the file is still the run's (empty if need
/// be): kubectl and terraform never fall back to whatever `KUBECONFIG` said before.
pub fn kubeconfig_for_run(
    res: &Resolution,
    env: &Env,
    ask: Interaction<'_>,
    plugin: &Path,
) -> Result<Option<RunKubeconfig>, IntegrationError> {
    let Some(chosen) = &res.chain else { return Ok(None) };
    let mut text: Option<String> = None;
    let mut contexts = Vec::new();
    let mut failed = Vec::new();
    let mut applies = false;
    for chain in std::iter::once(chosen).chain(&res.required) {
        let leaf = &chain.leaf().name;
        for int in res.auth.integrations.iter().filter(|i| i.auto_provision && i.is_via(leaf)) {
            if !matches!(int.kind_name.as_str(), "aws/eks" | "gcp/gke" | "azure/aks") {
                continue;
            }
            applies = true;
            let added = match &int.kind {
                Some(kind) if kind.kube().is_some() => entry(res, chain, int, kind, env, ask, plugin).map(|(e, _)| e),
                _ => Err(AuthError::Invalid { problems: spec_warnings(res, int) }.into()),
            };
            let entry = match added {
                Ok(entry) => entry,
                Err(e) => {
                    failed.push((int.name.clone(), e));
                    continue;
                }
            };
            let merged =
                kubeconfig::merge(text.as_deref(), &entry, crate::auth::KubeconfigUpdate::Merge).map_err(|source| {
                    kubeconfig::KubeconfigWriteError::Refused {
                        path: PathBuf::from("(the run's kubeconfig)"),
                        cluster: entry.cluster.clone(),
                        source,
                    }
                })?;
            contexts.push(entry.context);
            text = Some(merged.text);
        }
    }
    if !applies {
        return Ok(None);
    }
    let mut text = text.unwrap_or_else(kubeconfig::empty);
    // The chosen identity's first cluster is the one kubectl and terraform talk to by default.
    if let Some(first) = contexts.first()
        && contexts.len() > 1
    {
        text = set_current_context(&text, first);
    }
    Ok(Some(RunKubeconfig { base: realm_dir(res, env)?.join("kube"), text, failed }))
}

/// `text` (a kubeconfig tfauth wrote) with `current-context` set to `context`.
fn set_current_context(text: &str, context: &str) -> String {
    let line = crate::yaml::emit::json_to_yaml_string(&serde_json::json!({"current-context": context}));
    text.split_inclusive('\n').map(|l| if l.starts_with("current-context:") { line.as_str() } else { l }).collect()
}

/// What `auth logout` removes of a Kubernetes integration: its entries in the kubeconfig
/// its spec names (one line per removal, or per removal it would make with `dry_run`), and
/// for GKE and AKS the tokens cached for its plugin. The cluster key is found in the file
/// (EKS: an ARN of the cluster's name and region in any account; AKS: the resource id of
/// the name and group in the integration's subscription, else any), as Atmos's cleanup
/// does, since no credentials are at hand to ask the cloud.
pub(super) fn forget(
    int: &Integration,
    kind: &IntegrationKind,
    env: &Env,
    dry_run: bool,
) -> Result<Vec<String>, IntegrationError> {
    let Some((spec, alias)) = kind.kube() else { return Ok(vec![]) };
    let path = kubeconfig_path(spec, env)?;
    let mut lines = Vec::new();
    if let (false, Some(via)) = (dry_run, int.via.as_ref()) {
        // The plugin's cached tokens (none are kept for EKS, which signs from the session).
        match kind {
            IntegrationKind::Gke(_) => bearer::forget_identity(env, bearer::Kind::Gke, &via.0),
            IntegrationKind::Aks(_) => bearer::forget_identity(env, bearer::Kind::Aks, &via.0),
            _ => 0,
        };
    }
    let Ok(bytes) = crate::util::fs::read_regular(&path, kubeconfig::KUBECONFIG_CAP) else { return Ok(lines) };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let names = kubeconfig::cluster_names(&text);
    let found: Vec<(String, String)> = match kind {
        IntegrationKind::Eks(c) => names
            .into_iter()
            .filter(|n| {
                n.starts_with(&format!("arn:aws:eks:{}:", c.region)) && n.ends_with(&format!(":cluster/{}", c.name))
            })
            .map(|n| (n, eks_user(c)))
            .collect(),
        IntegrationKind::Gke(c) => {
            let id = crate::providers::gke::resource_name(&c.project_id, &c.location, &c.name);
            names.into_iter().filter(|n| *n == id).map(|n| (n, gke_user(c))).collect()
        }
        IntegrationKind::Aks(c) => {
            let tail = format!(
                "/resourcegroups/{}/providers/microsoft.containerservice/managedclusters/{}",
                c.resource_group, c.name
            )
            .to_ascii_lowercase();
            names
                .into_iter()
                .filter_map(|n| {
                    let lower = n.to_ascii_lowercase();
                    let sub = lower.strip_prefix("/subscriptions/")?.strip_suffix(&tail)?;
                    let wanted = c.subscription_id.as_deref().is_none_or(|s| s.eq_ignore_ascii_case(sub));
                    // The user's name keeps the subscription as the resource id writes it.
                    let sub = n.split('/').nth(2).unwrap_or_default();
                    wanted.then(|| (n.clone(), aks_user(c, sub)))
                })
                .collect()
        }
        _ => vec![],
    };
    for (cluster, user) in found {
        let context = alias.map_or_else(|| cluster.clone(), str::to_string);
        let removed = if dry_run {
            kubeconfig::without(&text, &cluster, &context, &user).is_some()
        } else {
            kubeconfig::remove(&path, &cluster, &context, &user, env)?
        };
        if removed {
            lines.push(format!("the kubeconfig entries of {cluster} in {}", path.display()));
        }
    }
    Ok(lines)
}
