//! AKS: the cluster an `azure/aks` integration writes a kubeconfig entry for, read from
//! Azure Resource Manager with the identity's ARM token, as Atmos reads it: the managed
//! cluster (its resource id, the kubeconfig's cluster key), then
//! `listClusterUserCredential?format=exec`, the kubeconfig AKS hands out for kubelogin,
//! from which the API server, its CA and the Entra ID server application the cluster
//! accepts tokens for (kubelogin's `--server-id`) are taken. tfauth runs no kubelogin: its
//! own plugin (`tfauth azure aks token`) asks Entra ID for that server application.
//!
//! It must not: run or write anything the returned kubeconfig names (its `exec` command is
//! kubelogin's; only its arguments are read), send the ARM token anywhere but Resource
//! Manager, or log it.

use super::ProviderError;
use super::http::{self, Call};
use crate::auth::schema::AzureCloud;
use crate::env_vars::{self as ev, Env};
use crate::exit;
use crate::secret::Secret;
use yaml_rust2::{Yaml, YamlLoader};

/// The Entra ID server application of AKS-managed Entra integration: the audience of
/// every cluster's tokens unless the kubeconfig AKS returns names another.
pub const AKS_SERVER_APP_ID: &str = "6dae42f8-4368-4678-94ff-3960e28e3630";
/// The ARM API version of the managedClusters calls (GA, has `format=exec`).
pub const API_VERSION: &str = "2024-05-01";
/// The largest kubeconfig AKS's answer may carry (they are a few kilobytes).
const KUBECONFIG_CAP: usize = 1 << 20;

/// Which AKS cluster, as the integration names it.
#[derive(Clone, Copy, Debug)]
pub struct ClusterRef<'a> {
    pub integration: &'a str,
    pub identity: &'a str,
    pub subscription: &'a str,
    pub resource_group: &'a str,
    pub name: &'a str,
}

/// What a kubeconfig needs of an AKS cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterInfo {
    /// The ARM resource id, as ARM answers it: the kubeconfig's cluster key (Atmos's).
    pub id: String,
    /// The API server's URL.
    pub endpoint: String,
    /// The cluster CA's PEM, base64 (kubeconfig's `certificate-authority-data`).
    pub certificate_authority_data: String,
    /// The server application the cluster accepts tokens for.
    pub server_id: String,
    /// The tenant kubelogin would sign in to, when AKS named one.
    pub tenant_id: Option<String>,
}

/// Resource Manager's URL for `cloud`: `TFAUTH_ARM_ENDPOINT`, else the cloud's.
pub fn arm_url(env: &Env, cloud: AzureCloud) -> String {
    if let Some(v) = env.get(ev::TFAUTH_ARM_ENDPOINT).filter(|v| !v.is_empty()) {
        return v.trim_end_matches('/').to_string();
    }
    cloud.management_scope().trim_end_matches("/.default").to_string()
}

/// `/subscriptions/S/resourceGroups/G/providers/Microsoft.ContainerService/managedClusters/N`.
pub fn resource_path(c: &ClusterRef<'_>) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerService/managedClusters/{}",
        super::encode(c.subscription),
        super::encode(c.resource_group),
        super::encode(c.name)
    )
}

/// The cluster's resource id, endpoint, CA and server application, asked of ARM with
/// `arm_token` (a Resource Manager token of the identity).
pub fn describe_cluster(
    c: &ClusterRef<'_>,
    arm_token: &Secret,
    env: &Env,
    cloud: AzureCloud,
) -> Result<ClusterInfo, ProviderError> {
    let base = format!("{}{}", arm_url(env, cloud), resource_path(c));
    let get = Call { identity: c.identity, service: "Azure Resource Manager", step: "the managed cluster's lookup" };
    let reply = http::get(
        &get,
        &format!("{base}?api-version={API_VERSION}"),
        &[("Authorization".into(), format!("Bearer {}", arm_token.expose()))],
    )?;
    check(c, &get, &reply)?;
    let id = reply
        .json()
        .and_then(|v| v.get("id")?.as_str().map(str::to_string))
        .filter(|id| !id.is_empty())
        .ok_or_else(|| answer(c, "the managed cluster without an `id`".into()))?;
    let list = Call { identity: c.identity, service: "Azure Resource Manager", step: "listClusterUserCredential" };
    let reply = http::post_empty(
        &list,
        &format!("{base}/listClusterUserCredential?api-version={API_VERSION}&format=exec"),
        arm_token,
    )?;
    check(c, &list, &reply)?;
    let value = reply
        .json()
        .and_then(|v| v.get("kubeconfigs")?.get(0)?.get("value")?.as_str().map(str::to_string))
        .ok_or_else(|| answer(c, "listClusterUserCredential without a kubeconfig".into()))?;
    let bytes = aws_smithy_types::base64::decode(value.trim())
        .map_err(|_| answer(c, "a kubeconfig that is not base64".into()))?;
    if bytes.len() > KUBECONFIG_CAP {
        return Err(answer(c, format!("a kubeconfig of more than {KUBECONFIG_CAP} bytes")));
    }
    let text = String::from_utf8(bytes).map_err(|_| answer(c, "a kubeconfig that is not text".into()))?;
    let parsed = from_kubeconfig(&text).map_err(|why| answer(c, why))?;
    let Some(args) = parsed.exec_args else {
        return Err(ProviderError::Setup {
            identity: c.identity.into(),
            message: format!(
                "integration `{}`: AKS cluster `{}` (resource group `{}`) does not use Entra ID sign-ins: the kubeconfig AKS returns has no exec plugin",
                c.integration, c.name, c.resource_group
            ),
            hint: "enable AKS-managed Entra ID integration on the cluster, or use `az aks get-credentials` for its local accounts".into(),
            code: exit::UNAVAILABLE,
        });
    };
    let (server_id, tenant_id) = kubelogin_args(&args);
    Ok(ClusterInfo {
        id,
        endpoint: parsed.server,
        certificate_authority_data: parsed.ca_data,
        server_id: server_id.unwrap_or_else(|| AKS_SERVER_APP_ID.to_string()),
        tenant_id,
    })
}

/// ARM's errors, named: a cluster, group or subscription it does not have is 69 with the
/// fields to check; a refused token keeps the provider's mapping (77).
fn check(c: &ClusterRef<'_>, call: &Call<'_>, reply: &http::Reply) -> Result<(), ProviderError> {
    if reply.ok() {
        return Ok(());
    }
    let code = reply.json().and_then(|v| v.get("error")?.get("code")?.as_str().map(str::to_string)).unwrap_or_default();
    if reply.status == 404 {
        let hint = match code.as_str() {
            "SubscriptionNotFound" => "check spec.cluster.subscription_id, or the identity's subscription_id",
            "ResourceGroupNotFound" => "check spec.cluster.resource_group",
            _ => {
                "check spec.cluster.name and resource_group (and subscription_id, if the cluster is in another subscription)"
            }
        };
        return Err(ProviderError::Setup {
            identity: c.identity.into(),
            message: format!(
                "integration `{}`: Azure has no AKS cluster `{}` in resource group `{}` of subscription {}: {}",
                c.integration,
                c.name,
                c.resource_group,
                c.subscription,
                http::error_text(&reply.body)
            ),
            hint: hint.into(),
            code: exit::UNAVAILABLE,
        });
    }
    Err(call.refused(
        reply,
        format!(
            "`{}` needs the Azure Kubernetes Service Cluster User Role on cluster `{}` (it lists the cluster's user credentials)",
            c.identity, c.name
        ),
    ))
}

fn answer(c: &ClusterRef<'_>, what: String) -> ProviderError {
    ProviderError::Setup {
        identity: c.identity.into(),
        message: format!("integration `{}`: Azure Resource Manager answered {what}", c.integration),
        hint: "retry; if it persists, check TFAUTH_ARM_ENDPOINT if you set it".into(),
        code: exit::UNAVAILABLE,
    }
}

/// What tfauth reads of the kubeconfig AKS returns.
#[derive(Debug, PartialEq, Eq)]
struct Returned {
    server: String,
    ca_data: String,
    /// The first user's exec arguments; `None` when that user runs no plugin.
    exec_args: Option<Vec<String>>,
}

/// The first cluster's server and CA, and the first user's exec arguments.
fn from_kubeconfig(text: &str) -> Result<Returned, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("a kubeconfig that is not YAML: {e}"))?;
    let doc = docs.first().ok_or("an empty kubeconfig")?;
    let first = |key: &str| doc[key].as_vec().and_then(|v| v.first()).cloned();
    let cluster = first("clusters").ok_or("a kubeconfig without clusters")?;
    let s = |y: &Yaml| y.as_str().map(str::trim).unwrap_or("").to_string();
    let server = s(&cluster["cluster"]["server"]);
    let ca_data = s(&cluster["cluster"]["certificate-authority-data"]);
    if !server.starts_with("https://") {
        return Err(format!("a kubeconfig whose server is {server:?}, not an https URL"));
    }
    if aws_smithy_types::base64::decode(&ca_data).map_or(true, |pem| pem.is_empty()) {
        return Err("a kubeconfig without certificate-authority-data".into());
    }
    let exec_args = first("users").and_then(|u| {
        let args = u["user"]["exec"]["args"].as_vec()?;
        Some(args.iter().filter_map(|a| a.as_str().map(str::to_string)).collect())
    });
    Ok(Returned { server, ca_data, exec_args })
}

/// kubelogin's `--server-id` and `--tenant-id` (either `--flag value` or `--flag=value`).
fn kubelogin_args(args: &[String]) -> (Option<String>, Option<String>) {
    let (mut server, mut tenant) = (None, None);
    let mut words = args.iter();
    while let Some(w) = words.next() {
        let (flag, value) = match w.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (w.as_str(), None),
        };
        let slot = match flag {
            "--server-id" => &mut server,
            "--tenant-id" => &mut tenant,
            _ => continue,
        };
        *slot = value.or_else(|| words.next().cloned()).filter(|v| !v.is_empty());
    }
    (server, tenant)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RETURNED: &str = "\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTg==
    server: https://dev-dns-1.hcp.eastus.azmk8s.io:443
  name: dev
contexts:
- context: {cluster: dev, user: clusterUser_rg_dev}
  name: dev
current-context: dev
kind: Config
users:
- name: clusterUser_rg_dev
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --environment, AzurePublicCloud, --server-id, 11111111-2222-3333-4444-555555555555, --client-id, 80faf920-1908-4b52-b5ef-a8e7bedfc67a, --tenant-id, tid, --login, devicecode]
";

    #[test]
    fn the_returned_kubeconfig_gives_the_server_the_ca_and_kubelogin_s_server_id() {
        let r = from_kubeconfig(RETURNED).unwrap();
        assert_eq!(r.server, "https://dev-dns-1.hcp.eastus.azmk8s.io:443");
        assert_eq!(r.ca_data, "LS0tLS1CRUdJTg==");
        let (server, tenant) = kubelogin_args(r.exec_args.as_deref().unwrap());
        assert_eq!(server.as_deref(), Some("11111111-2222-3333-4444-555555555555"));
        assert_eq!(tenant.as_deref(), Some("tid"));
        let eq = ["--server-id=abc".to_string(), "--tenant-id".into()];
        assert_eq!(kubelogin_args(&eq), (Some("abc".into()), None));
    }

    #[test]
    fn a_returned_kubeconfig_without_an_exec_user_or_an_https_server_is_named() {
        let local = RETURNED.split("    exec:").next().unwrap().to_string() + "    token: abc\n";
        assert_eq!(from_kubeconfig(&local).unwrap().exec_args, None);
        let plain = RETURNED.replace("https://dev", "http://dev");
        assert!(from_kubeconfig(&plain).unwrap_err().contains("not an https URL"));
        assert!(from_kubeconfig("clusters: [").unwrap_err().contains("not YAML"));
        assert_eq!(from_kubeconfig("kind: Config\n").unwrap_err(), "a kubeconfig without clusters");
    }

    #[test]
    fn resource_manager_is_the_cloud_s_unless_the_environment_names_one() {
        let none = Env::from_pairs(Vec::<(&str, &str)>::new());
        assert_eq!(arm_url(&none, AzureCloud::Public), "https://management.azure.com");
        assert_eq!(arm_url(&none, AzureCloud::China), "https://management.chinacloudapi.cn");
        let env = Env::from_pairs([(ev::TFAUTH_ARM_ENDPOINT, "http://127.0.0.1:9/")]);
        assert_eq!(arm_url(&env, AzureCloud::Public), "http://127.0.0.1:9");
        let c = ClusterRef { integration: "i", identity: "x", subscription: "s", resource_group: "r g", name: "dev" };
        assert_eq!(
            resource_path(&c),
            "/subscriptions/s/resourceGroups/r%20g/providers/Microsoft.ContainerService/managedClusters/dev"
        );
    }
}
