//! A loopback stand-in for Azure Resource Manager (management.azure.com), the part of it an
//! AKS kubeconfig needs, plain HTTP/1.1 on 127.0.0.1, in ARM's wire format:
//!
//! * `GET /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}`
//!   (Managed Clusters - Get): the managedCluster resource (`id` with ARM's lower-cased
//!   `resourcegroups`, `name`, `type`, `location`, `properties` with `provisioningState`,
//!   `fqdn`, and `aadProfile` for a cluster with AKS-managed Entra integration).
//! * `POST .../managedClusters/{name}/listClusterUserCredential?format=exec` (or `azure`, the
//!   legacy auth-provider; no `format` is `exec`, AKS's default since Kubernetes 1.24):
//!   `{"kubeconfigs": [{"name": "clusterUser", "value": base64(kubeconfig YAML)}]}`, the YAML
//!   as AKS writes it: one cluster, one context, one user `clusterUser_{rg}_{name}` running
//!   `kubelogin get-token --environment AzurePublicCloud --server-id ... --client-id
//!   80faf920-... --tenant-id ... --login devicecode`, or, for a cluster without Entra
//!   integration (local accounts), a client certificate, key and token.
//!
//! Every request needs `Authorization: Bearer T`, T an access token the Entra stand-in
//! ([`crate::microsoft_standin::Entra`]) issued and still considers live, for Resource Manager
//! (`aud` `https://management.azure.com` or `https://management.core.windows.net`, with or
//! without the trailing slash). The check asks the Entra stand-in's `/__introspect` over HTTP, so
//! the two stay decoupled. Refusals are ARM's: 401 `AuthenticationFailed` (no header),
//! `InvalidAuthenticationToken` (not a live token), `InvalidAuthenticationTokenAudience` (a
//! token for another resource, e.g. the AKS server app), each with
//! `WWW-Authenticate: Bearer authorization_uri="...", error="invalid_token", error_description="..."`.
//! Then `api-version` is required (400 `MissingApiVersionParameter`); then the subscription
//! (404 `SubscriptionNotFound`), the resource group (404 `ResourceGroupNotFound`) and the
//! cluster (404 `ResourceNotFound`) must exist. Path segments match case-insensitively, as ARM
//! matches them. Not checked: the token's tenant against the subscription's, RBAC.
//!
//! The subscriptions and resource groups that exist are those of the clusters added
//! ([`Arm::add_cluster`]) and of [`Arm::add_resource_group`].
//!
//! Also here, for AKS and GKE clusters: [`KubeApiServer`], `integration/py/kube_apiserver.py`
//! started in its Google (tokeninfo) or Entra (introspection) mode.
//!
//! The `#[test]`s at the bottom drive both with independent clients: the plain-HTTP client of
//! `microsoft_standin.rs`, PyYAML reading the kubeconfig, the Python `kubernetes` client and
//! `requests` against the API server.

use std::collections::HashMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::microsoft_standin::{AKS_CLIENT_ID, b64url, form_encode, http_get};
use crate::support::venv_bin;
use crate::wire::{Resp, parse_pairs, percent_decode, write_response};

/// The audiences Resource Manager accepts.
pub const ARM_AUDIENCES: [&str; 4] = [
    "https://management.core.windows.net/",
    "https://management.core.windows.net",
    "https://management.azure.com/",
    "https://management.azure.com",
];
/// An api-version of the managedClusters API (any value is accepted).
pub const AKS_API_VERSION: &str = "2024-09-01";

/// A managed cluster ARM knows.
#[derive(Clone, Debug)]
pub struct AksCluster {
    pub subscription: String,
    pub resource_group: String,
    pub name: String,
    /// The API server, `https://127.0.0.1:PORT` (the kubeconfig's `server`).
    pub server: String,
    /// The cluster CA, PEM (the kubeconfig's `certificate-authority-data`, base64).
    pub ca_pem: Vec<u8>,
    /// The Entra server app id (`--server-id`); `None`: a cluster without Entra integration,
    /// whose user kubeconfig holds a local account's client certificate and token.
    pub server_id: Option<String>,
    /// `aadProfile.tenantID` and kubelogin's `--tenant-id`.
    pub tenant_id: String,
    pub location: String,
}

impl AksCluster {
    /// A cluster with AKS-managed Entra integration (server id
    /// [`crate::microsoft_standin::AKS_SERVER_ID`], the Entra stand-in's default tenant) in
    /// `eastus`.
    pub fn new(subscription: &str, resource_group: &str, name: &str, server: &str, ca_pem: &[u8]) -> AksCluster {
        AksCluster {
            subscription: subscription.into(),
            resource_group: resource_group.into(),
            name: name.into(),
            server: server.into(),
            ca_pem: ca_pem.to_vec(),
            server_id: Some(crate::microsoft_standin::AKS_SERVER_ID.into()),
            tenant_id: crate::microsoft_standin::TENANT_ID.into(),
            location: "eastus".into(),
        }
    }

    /// The ARM resource id, as ARM writes it (`resourcegroups` lower case).
    pub fn id(&self) -> String {
        format!(
            "/subscriptions/{}/resourcegroups/{}/providers/Microsoft.ContainerService/managedClusters/{}",
            self.subscription, self.resource_group, self.name
        )
    }

    /// The kubeconfig listClusterUserCredential answers (`format` "exec" or "azure").
    pub fn user_kubeconfig(&self, format: &str) -> String {
        let ca = b64std(&self.ca_pem);
        let user = format!("clusterUser_{}_{}", self.resource_group, self.name);
        let head = format!(
            "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: {server}\n  name: {name}\ncontexts:\n- context:\n    cluster: {name}\n    user: {user}\n  name: {name}\ncurrent-context: {name}\nkind: Config\npreferences: {{}}\nusers:\n- name: {user}\n  user:\n",
            server = self.server,
            name = self.name,
        );
        let body = match (&self.server_id, format) {
            (Some(server_id), "azure") => format!(
                "    auth-provider:\n      config:\n        apiserver-id: {server_id}\n        client-id: {AKS_CLIENT_ID}\n        config-mode: '1'\n        environment: AzurePublicCloud\n        tenant-id: {tenant}\n      name: azure\n",
                tenant = self.tenant_id
            ),
            (Some(server_id), _) => format!(
                "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      args:\n      - get-token\n      - --environment\n      - AzurePublicCloud\n      - --server-id\n      - {server_id}\n      - --client-id\n      - {AKS_CLIENT_ID}\n      - --tenant-id\n      - {tenant}\n      - --login\n      - devicecode\n      command: kubelogin\n      env: null\n      installHint: |2\n\n        kubelogin is not installed which is required to connect to AAD enabled cluster.\n\n        To learn more, please go to https://aka.ms/aks/kubelogin\n      interactiveMode: IfAvailable\n      provideClusterInfo: false\n",
                tenant = self.tenant_id
            ),
            (None, _) => {
                let seed = self.id();
                let cert = format!(
                    "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                    b64std(format!("standin client certificate of clusterUser for {seed}").as_bytes())
                );
                let key = format!(
                    "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n",
                    b64std(format!("standin client key of clusterUser for {seed}").as_bytes())
                );
                format!(
                    "    client-certificate-data: {}\n    client-key-data: {}\n    token: {}\n",
                    b64std(cert.as_bytes()),
                    b64std(key.as_bytes()),
                    local_token(&seed)
                )
            }
        };
        head + &body
    }
}

/// The local account's token of a cluster without Entra integration (64 hex digits, as AKS's).
fn local_token(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(format!("clusterUser-token-{seed}").as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard base64, padded.
pub fn b64std(data: &[u8]) -> String {
    let mut out = b64url(data).replace('-', "+").replace('_', "/");
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

/// One request ARM answered.
#[derive(Clone, Debug)]
pub struct ArmRequest {
    /// "GetCluster", "ListClusterUserCredential" or "Unknown".
    pub op: String,
    pub method: String,
    /// The path without the query, percent-decoded.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Header names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub status: u16,
    /// The `error.code` of an error answer.
    pub error: Option<String>,
    /// The claims of the bearer token, when the Entra stand-in vouched for it.
    pub claims: Option<Value>,
}

impl ArmRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::wire::header(&self.headers, name)
    }
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

struct State {
    entra: String,
    clusters: Vec<AksCluster>,
    /// (subscription, resource group) pairs that exist without a cluster.
    groups: Vec<(String, String)>,
    serial: u64,
    counts: HashMap<String, usize>,
    log: Vec<ArmRequest>,
}

/// The ARM stand-in; stopped when dropped.
pub struct Arm {
    port: u16,
    state: Arc<Mutex<State>>,
    _server: crate::wire::Server,
}

impl Arm {
    /// ARM checking bearer tokens with the Entra stand-in at `entra_url` ([`crate::microsoft_standin::Entra::url`]).
    pub fn start(entra_url: &str) -> Arm {
        let server = crate::wire::Server::bind();
        let port = server.port;
        let state = Arc::new(Mutex::new(State {
            entra: entra_url.trim_end_matches('/').to_string(),
            clusters: Vec::new(),
            groups: Vec::new(),
            serial: 0,
            counts: HashMap::new(),
            log: Vec::new(),
        }));
        let st = state.clone();
        let server = server.serve(move |stream| {
            let st = st.clone();
            std::thread::spawn(move || serve(stream, &st));
        });
        Arm { port, state, _server: server }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash: the "https://management.azure.com".
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A cluster (and so its subscription and resource group); one of the same subscription,
    /// group and name (any case) is replaced.
    pub fn add_cluster(&self, c: AksCluster) {
        let mut s = self.lock();
        s.clusters.retain(|o| !same_cluster(o, &c.subscription, &c.resource_group, &c.name));
        s.clusters.push(c);
    }

    /// A resource group (and its subscription) without clusters.
    pub fn add_resource_group(&self, subscription: &str, resource_group: &str) {
        self.lock().groups.push((subscription.into(), resource_group.into()));
    }

    /// The Managed Clusters - Get URL of a cluster, with an api-version.
    pub fn cluster_url(&self, subscription: &str, resource_group: &str, name: &str) -> String {
        format!(
            "{}/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.ContainerService/managedClusters/{name}?api-version={AKS_API_VERSION}",
            self.url()
        )
    }

    /// The listClusterUserCredential URL of a cluster, with an api-version and `format=exec`.
    pub fn user_credential_url(&self, subscription: &str, resource_group: &str, name: &str) -> String {
        format!(
            "{}/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.ContainerService/managedClusters/{name}/listClusterUserCredential?api-version={AKS_API_VERSION}&format=exec",
            self.url()
        )
    }

    /// How many requests were routed to `op` (names as in [`ArmRequest::op`]), errors included.
    pub fn count(&self, op: &str) -> usize {
        self.lock().counts.get(op).copied().unwrap_or(0)
    }

    /// Every request so far, in the order answered.
    pub fn requests(&self) -> Vec<ArmRequest> {
        self.lock().log.clone()
    }

    pub fn requests_for(&self, op: &str) -> Vec<ArmRequest> {
        self.lock().log.iter().filter(|r| r.op == op).cloned().collect()
    }
}

fn same_cluster(c: &AksCluster, sub: &str, rg: &str, name: &str) -> bool {
    c.subscription.eq_ignore_ascii_case(sub)
        && c.resource_group.eq_ignore_ascii_case(rg)
        && c.name.eq_ignore_ascii_case(name)
}

// ---------------------------------------------------------------------------------------
// HTTP

struct HttpRequest {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        crate::wire::header(&self.headers, name)
    }
    fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    stream.set_nonblocking(false).ok();
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let Some(raw) = crate::wire::read_raw(&stream) else { return };
    let (path, q) = raw.target.split_once('?').unwrap_or((&raw.target, ""));
    let req = HttpRequest {
        method: raw.method.clone(),
        path: path.to_string(),
        query: parse_pairs(q, true),
        headers: raw.headers.clone(),
        body: raw.body.clone(),
    };
    let entra = state.lock().unwrap_or_else(|e| e.into_inner()).entra.clone();
    // The token check talks to the Entra stand-in: not under the lock.
    let auth = authenticate(&req, &entra);
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    s.serial += 1;
    let request_id = format!("{:08x}-5a4e-4c1d-9e2b-{:012x}", 0xa4e0_0000u32 + s.serial as u32, s.serial);
    let (op, mut resp, claims) = match auth {
        Err(r) => (op_of(&req), r, None),
        Ok(claims) => {
            let (op, resp) = route(&req, &s);
            (op, resp, Some(claims))
        }
    };
    resp.headers.push(("x-ms-request-id".into(), request_id.clone()));
    resp.headers.push(("x-ms-correlation-request-id".into(), request_id));
    *s.counts.entry(op.to_string()).or_insert(0) += 1;
    let error = serde_json::from_slice::<Value>(&resp.body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(String::from))
        .filter(|_| resp.status >= 400);
    s.log.push(ArmRequest {
        op: op.into(),
        method: req.method.clone(),
        path: percent_decode(&req.path, false),
        query: req.query.clone(),
        headers: req.headers.clone(),
        body: String::from_utf8_lossy(&req.body).into_owned(),
        status: resp.status,
        error,
        claims,
    });
    drop(s);
    write_response(&stream, &resp);
}

fn json_resp(status: u16, body: Value) -> Resp {
    Resp {
        status,
        headers: vec![
            ("Cache-Control".into(), "no-cache".into()),
            ("Pragma".into(), "no-cache".into()),
            ("Content-Type".into(), "application/json; charset=utf-8".into()),
            ("Expires".into(), "-1".into()),
        ],
        body: body.to_string().into_bytes(),
    }
}

fn arm_error(status: u16, code: &str, message: &str) -> Resp {
    json_resp(status, json!({"error": {"code": code, "message": message}}))
}

/// The claims of the request's bearer token, or ARM's 401.
fn authenticate(req: &HttpRequest, entra: &str) -> Result<Value, Resp> {
    let refuse = |code: &str, message: &str| {
        let mut r = arm_error(401, code, message);
        r.headers.push((
            "WWW-Authenticate".into(),
            format!("Bearer authorization_uri=\"{entra}/\", error=\"invalid_token\", error_description=\"{message}\""),
        ));
        r
    };
    let Some(auth) = req.header("authorization") else {
        return Err(refuse("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."));
    };
    let token = match auth.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => t.trim(),
        _ => {
            return Err(refuse(
                "InvalidAuthenticationToken",
                "The access token is missing or invalid: the 'Authorization' header must be 'Bearer <token>'.",
            ));
        }
    };
    let (status, claims) = http_get(&format!("{entra}/__introspect?{}", form_encode(&[("token", token)])));
    if status != 200 {
        return Err(refuse("InvalidAuthenticationToken", "The access token is invalid."));
    }
    let aud = claims["aud"].as_str().unwrap_or("");
    if !ARM_AUDIENCES.contains(&aud) {
        let allowed = ARM_AUDIENCES.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(",");
        let msg = format!(
            "The access token has been obtained for wrong audience or resource '{aud}'. It should exactly match with one of the allowed audiences {allowed}."
        );
        return Err(refuse("InvalidAuthenticationTokenAudience", &msg));
    }
    Ok(claims)
}

/// A managedClusters path: (subscription, resource group, name, action).
fn parse_path(path: &str) -> Option<(String, String, String, Option<String>)> {
    let segs: Vec<String> = path.trim_start_matches('/').split('/').map(|s| percent_decode(s, false)).collect();
    let lit = |i: usize, want: &str| segs.get(i).is_some_and(|s| s.eq_ignore_ascii_case(want));
    let ok = (segs.len() == 8 || segs.len() == 9)
        && lit(0, "subscriptions")
        && lit(2, "resourceGroups")
        && lit(4, "providers")
        && lit(5, "Microsoft.ContainerService")
        && lit(6, "managedClusters")
        && [1, 3, 7].iter().all(|&i| !segs[i].is_empty());
    ok.then(|| (segs[1].clone(), segs[3].clone(), segs[7].clone(), segs.get(8).cloned()))
}

fn op_of(req: &HttpRequest) -> &'static str {
    match (req.method.as_str(), parse_path(&req.path)) {
        ("GET", Some((_, _, _, None))) => "GetCluster",
        ("POST", Some((_, _, _, Some(a)))) if a.eq_ignore_ascii_case("listClusterUserCredential") => {
            "ListClusterUserCredential"
        }
        _ => "Unknown",
    }
}

fn route(req: &HttpRequest, s: &State) -> (&'static str, Resp) {
    let op = op_of(req);
    if req.query("api-version").is_none_or(str::is_empty) {
        return (
            op,
            arm_error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            ),
        );
    }
    let Some((sub, rg, name, _)) = parse_path(&req.path).filter(|_| op != "Unknown") else {
        let msg = format!("The resource path '{}' (method {}) is not known to this stand-in.", req.path, req.method);
        return (op, arm_error(404, "InvalidResourceType", &msg));
    };
    let sub_known = s.clusters.iter().any(|c| c.subscription.eq_ignore_ascii_case(&sub))
        || s.groups.iter().any(|(gs, _)| gs.eq_ignore_ascii_case(&sub));
    if !sub_known {
        return (op, arm_error(404, "SubscriptionNotFound", &format!("The subscription '{sub}' could not be found.")));
    }
    let rg_known = s
        .clusters
        .iter()
        .any(|c| c.subscription.eq_ignore_ascii_case(&sub) && c.resource_group.eq_ignore_ascii_case(&rg))
        || s.groups.iter().any(|(gs, g)| gs.eq_ignore_ascii_case(&sub) && g.eq_ignore_ascii_case(&rg));
    if !rg_known {
        return (op, arm_error(404, "ResourceGroupNotFound", &format!("Resource group '{rg}' could not be found.")));
    }
    let Some(c) = s.clusters.iter().find(|c| same_cluster(c, &sub, &rg, &name)) else {
        let msg = format!(
            "The Resource 'Microsoft.ContainerService/managedClusters/{name}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
        );
        return (op, arm_error(404, "ResourceNotFound", &msg));
    };
    match op {
        "GetCluster" => (op, json_resp(200, managed_cluster(c))),
        _ => {
            let format = req.query("format").unwrap_or("exec").to_ascii_lowercase();
            if !["exec", "azure"].contains(&format.as_str()) {
                let msg = format!("The value '{format}' of the format parameter is invalid: use 'azure' or 'exec'.");
                return (op, arm_error(400, "InvalidParameter", &msg));
            }
            let value = b64std(c.user_kubeconfig(&format).as_bytes());
            (op, json_resp(200, json!({"kubeconfigs": [{"name": "clusterUser", "value": value}]})))
        }
    }
}

/// The managedCluster resource, as Managed Clusters - Get answers it.
fn managed_cluster(c: &AksCluster) -> Value {
    let host = c.server.split_once("://").map_or(c.server.as_str(), |(_, r)| r);
    let fqdn = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let mut properties = json!({
        "provisioningState": "Succeeded",
        "powerState": {"code": "Running"},
        "kubernetesVersion": "1.29.9",
        "currentKubernetesVersion": "1.29.9",
        "dnsPrefix": format!("{}-dns", c.name),
        "fqdn": fqdn,
        "azurePortalFQDN": fqdn,
        "agentPoolProfiles": [{
            "name": "nodepool1", "count": 1, "vmSize": "Standard_DS2_v2", "osType": "Linux",
            "mode": "System", "provisioningState": "Succeeded", "powerState": {"code": "Running"}
        }],
        "nodeResourceGroup": format!("MC_{}_{}_{}", c.resource_group, c.name, c.location),
        "enableRBAC": true,
        "supportPlan": "KubernetesOfficial",
        "disableLocalAccounts": false,
    });
    if c.server_id.is_some() {
        properties["aadProfile"] = json!({"managed": true, "enableAzureRBAC": true, "tenantID": c.tenant_id});
    }
    json!({
        "id": c.id(),
        "location": c.location,
        "name": c.name,
        "type": "Microsoft.ContainerService/ManagedClusters",
        "properties": properties,
        "identity": {"type": "SystemAssigned"},
        "sku": {"name": "Base", "tier": "Free"},
    })
}

// ---------------------------------------------------------------------------------------
// The Kubernetes API server of a GKE or AKS cluster

/// `integration/py/kube_apiserver.py` in its Google or Entra mode: an HTTPS API server on
/// loopback with a throwaway CA, authenticating bearer tokens with the Google stand-in's
/// tokeninfo or the Entra stand-in's introspection; namespaces only for a user containing
/// `allow` (403 otherwise). Stopped when dropped.
pub struct KubeApiServer {
    child: Child,
    api: String,
    ca: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for KubeApiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl KubeApiServer {
    /// A GKE cluster's API server: tokens checked at `tokeninfo_url`
    /// ([`crate::google_standin::Google::tokeninfo_url`]); the user is the token's email.
    pub fn google(tokeninfo_url: &str, allow: &str) -> KubeApiServer {
        KubeApiServer::start(&["--google-tokeninfo", tokeninfo_url, "--allow", allow])
    }

    /// An AKS cluster's API server: tokens checked at `introspect_url`
    /// ([`crate::microsoft_standin::Entra::introspect_url`]), `aud` `server_id` (or
    /// `spn:server_id`), `tid` `tenant_id` when given; the user is `upn`, `unique_name`, `oid`
    /// or `appid`.
    pub fn entra(introspect_url: &str, server_id: &str, tenant_id: Option<&str>, allow: &str) -> KubeApiServer {
        let mut args = vec!["--entra-introspect", introspect_url, "--server-id", server_id, "--allow", allow];
        if let Some(t) = tenant_id {
            args.extend(["--tenant-id", t]);
        }
        KubeApiServer::start(&args)
    }

    fn start(args: &[&str]) -> KubeApiServer {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/py/kube_apiserver.py");
        let child = Command::new(venv_bin("python"))
            .arg(script)
            .args(args)
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("start kube_apiserver.py");
        let ready = dir.path().join("ready.json");
        let start = Instant::now();
        while !ready.exists() {
            assert!(start.elapsed() < Duration::from_secs(30), "the API-server stand-in did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&ready).unwrap()).unwrap();
        KubeApiServer { child, api: r["api"].as_str().unwrap().into(), ca: r["ca"].as_str().unwrap().into(), dir }
    }

    /// `https://127.0.0.1:PORT` (an AKS kubeconfig's `server`).
    pub fn url(&self) -> String {
        self.api.clone()
    }

    /// `127.0.0.1:PORT` (GKE's `endpoint`, for [`crate::google_standin::Google::add_cluster`]).
    pub fn endpoint(&self) -> String {
        self.api.trim_start_matches("https://").to_string()
    }

    /// The CA certificate file (PEM).
    pub fn ca_path(&self) -> &Path {
        &self.ca
    }

    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(&self.ca).unwrap()
    }

    /// The authentication decisions so far (auth.log: `path`, `ok`, and `arn`/`user` or
    /// `status`/`reason`).
    pub fn decisions(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("auth.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// Faithfulness: a plain-HTTP client, PyYAML, the Python kubernetes client and requests.

#[cfg(test)]
mod checks {
    use super::*;
    use crate::microsoft_standin::{
        AKS_SCOPE, AKS_SERVER_ID, ARM_SCOPE, AZURE_CLI_CLIENT_ID, Entra, EntraOpts, EntraUser, TENANT_ID, http_request,
    };
    use crate::support::{python_c, run};

    const SUB: &str = "0b1f6471-1bf0-4dda-aec3-111122223333";
    const CA: &[u8] = b"-----BEGIN CERTIFICATE-----\nMIIB-aks-standin-ca\n-----END CERTIFICATE-----\n";

    fn call(method: &str, url: &str, token: Option<&str>) -> crate::microsoft_standin::HttpAnswer {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = bearer.iter().map(|b| ("Authorization", b.as_str())).collect();
        http_request(method, url, None, &headers)
    }

    /// PyYAML's reading of `text`, as JSON.
    fn yaml(text: &str) -> Value {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, text).unwrap();
        let o = run(python_c(&format!(
            "import json, yaml; print(json.dumps(yaml.safe_load(open({:?}))))",
            path.display().to_string()
        )));
        assert_eq!(o.code, 0, "{}", o.stderr);
        serde_json::from_str(&o.stdout).unwrap()
    }

    fn kubeconfig_of(answer: &Value) -> String {
        assert_eq!(answer["kubeconfigs"].as_array().map(Vec::len), Some(1), "{answer}");
        assert_eq!(answer["kubeconfigs"][0]["name"], "clusterUser");
        let value = answer["kubeconfigs"][0]["value"].as_str().unwrap();
        String::from_utf8(crate::microsoft_standin::b64url_decode(value).unwrap()).unwrap()
    }

    #[test]
    fn arm_standin_managed_cluster_and_user_credential() {
        let entra = Entra::start(EntraOpts::default());
        let arm = Arm::start(&entra.url());
        arm.add_cluster(AksCluster::new(SUB, "rg-Dev", "aks-dev", "https://127.0.0.1:6443", CA));
        arm.add_cluster(AksCluster {
            server_id: None,
            location: "westeurope".into(),
            ..AksCluster::new(SUB, "rg-Dev", "aks-local", "https://127.0.0.1:7443", CA)
        });
        arm.add_resource_group(SUB, "rg-empty");
        let (status, tok) = entra.workload_token(ARM_SCOPE);
        assert_eq!(status, 200, "{tok}");
        let token = tok["access_token"].as_str().unwrap();

        // Managed Clusters - Get; the path's case does not matter.
        let url = arm.cluster_url(SUB, "rg-Dev", "aks-dev");
        let a = call("GET", &url, Some(token));
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
        let mc = a.json();
        assert_eq!(
            mc["id"],
            format!(
                "/subscriptions/{SUB}/resourcegroups/rg-Dev/providers/Microsoft.ContainerService/managedClusters/aks-dev"
            )
        );
        assert_eq!(mc["name"], "aks-dev");
        assert_eq!(mc["type"], "Microsoft.ContainerService/ManagedClusters");
        assert_eq!(mc["location"], "eastus");
        assert_eq!(mc["properties"]["provisioningState"], "Succeeded");
        assert_eq!(mc["properties"]["fqdn"], "127.0.0.1");
        assert_eq!(
            mc["properties"]["aadProfile"],
            json!({"managed": true, "enableAzureRBAC": true, "tenantID": TENANT_ID})
        );
        assert!(a.header("x-ms-request-id").is_some());
        let lower = url.replace("resourceGroups", "RESOURCEGROUPS").replace("managedClusters", "managedclusters");
        let a = call("GET", &lower.replace("rg-Dev", "RG-DEV").replace("aks-dev", "AKS-Dev"), Some(token));
        assert_eq!((a.status, a.json()["name"].as_str()), (200, Some("aks-dev")));
        let local = call("GET", &arm.cluster_url(SUB, "rg-dev", "aks-local"), Some(token)).json();
        assert_eq!(local["properties"].get("aadProfile"), None, "{local}");
        assert_eq!(local["location"], "westeurope");

        // listClusterUserCredential: the kubeconfig AKS writes, read by PyYAML.
        let a = call("POST", &arm.user_credential_url(SUB, "rg-Dev", "aks-dev"), Some(token));
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
        let doc = yaml(&kubeconfig_of(&a.json()));
        assert_eq!(doc["apiVersion"], "v1");
        assert_eq!(doc["kind"], "Config");
        assert_eq!(doc["current-context"], "aks-dev");
        assert_eq!(doc["clusters"].as_array().unwrap().len(), 1);
        assert_eq!(doc["clusters"][0]["name"], "aks-dev");
        assert_eq!(doc["clusters"][0]["cluster"]["server"], "https://127.0.0.1:6443");
        let ca = doc["clusters"][0]["cluster"]["certificate-authority-data"].as_str().unwrap();
        assert_eq!(crate::microsoft_standin::b64url_decode(ca).unwrap(), CA);
        assert_eq!(
            doc["contexts"],
            json!([{"name": "aks-dev", "context": {"cluster": "aks-dev", "user": "clusterUser_rg-Dev_aks-dev"}}])
        );
        assert_eq!(doc["users"][0]["name"], "clusterUser_rg-Dev_aks-dev");
        let exec = &doc["users"][0]["user"]["exec"];
        assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1beta1");
        assert_eq!(exec["command"], "kubelogin");
        assert_eq!(
            exec["args"],
            json!([
                "get-token",
                "--environment",
                "AzurePublicCloud",
                "--server-id",
                AKS_SERVER_ID,
                "--client-id",
                AKS_CLIENT_ID,
                "--tenant-id",
                TENANT_ID,
                "--login",
                "devicecode"
            ])
        );
        assert_eq!(exec["provideClusterInfo"], false);
        assert_eq!(exec["env"], Value::Null);
        assert!(exec["installHint"].as_str().unwrap().contains("https://aka.ms/aks/kubelogin"), "{exec}");
        // Without format: exec too; format=azure: the legacy auth-provider.
        let no_format = arm.user_credential_url(SUB, "rg-Dev", "aks-dev").replace("&format=exec", "");
        let a = call("POST", &no_format, Some(token));
        assert_eq!(yaml(&kubeconfig_of(&a.json()))["users"][0]["user"]["exec"]["command"], "kubelogin");
        let a = call("POST", &no_format.replace("?", "?format=azure&"), Some(token));
        let ap = &yaml(&kubeconfig_of(&a.json()))["users"][0]["user"]["auth-provider"];
        assert_eq!(ap["name"], "azure");
        assert_eq!(ap["config"]["apiserver-id"], AKS_SERVER_ID);
        // A cluster without Entra integration: a local account, no exec.
        let a = call("POST", &arm.user_credential_url(SUB, "rg-Dev", "aks-local"), Some(token));
        let doc = yaml(&kubeconfig_of(&a.json()));
        let user = &doc["users"][0]["user"];
        assert_eq!(user.get("exec"), None, "{user}");
        assert!(user["token"].as_str().is_some_and(|t| t.len() == 64), "{user}");
        for k in ["client-certificate-data", "client-key-data"] {
            let pem = crate::microsoft_standin::b64url_decode(user[k].as_str().unwrap()).unwrap();
            assert!(String::from_utf8(pem).unwrap().starts_with("-----BEGIN "), "{k}");
        }
        assert_eq!(doc["clusters"][0]["cluster"]["server"], "https://127.0.0.1:7443");

        // Not found, in ARM's words.
        let err = |url: &str| {
            let a = call("GET", url, Some(token));
            (a.status, a.json()["error"]["code"].as_str().unwrap_or("").to_string(), a.json())
        };
        let (status, code, body) = err(&arm.cluster_url(SUB, "rg-Dev", "nope"));
        assert_eq!((status, code.as_str()), (404, "ResourceNotFound"));
        assert_eq!(
            body["error"]["message"],
            "The Resource 'Microsoft.ContainerService/managedClusters/nope' under resource group 'rg-Dev' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
        );
        let (status, code, _) = err(&arm.cluster_url(SUB, "rg-empty", "aks-dev"));
        assert_eq!((status, code.as_str()), (404, "ResourceNotFound"));
        let (status, code, body) = err(&arm.cluster_url(SUB, "rg-gone", "aks-dev"));
        assert_eq!((status, code.as_str()), (404, "ResourceGroupNotFound"));
        assert_eq!(body["error"]["message"], "Resource group 'rg-gone' could not be found.");
        let (status, code, _) = err(&arm.cluster_url("00000000-0000-0000-0000-000000000000", "rg-Dev", "aks-dev"));
        assert_eq!((status, code.as_str()), (404, "SubscriptionNotFound"));
        let a = call("POST", &arm.user_credential_url(SUB, "rg-Dev", "nope"), Some(token));
        assert_eq!((a.status, a.json()["error"]["code"].as_str()), (404, Some("ResourceNotFound")));

        // api-version is required on every route.
        for (method, url) in [
            ("GET", arm.cluster_url(SUB, "rg-Dev", "aks-dev")),
            ("POST", arm.user_credential_url(SUB, "rg-Dev", "aks-dev")),
        ] {
            let url = url.replace(&format!("api-version={AKS_API_VERSION}"), "x=1");
            let a = call(method, &url, Some(token));
            assert_eq!(
                (a.status, a.json()["error"]["code"].as_str()),
                (400, Some("MissingApiVersionParameter")),
                "{url}"
            );
        }
        assert_eq!(arm.count("GetCluster"), 8);
        assert_eq!(arm.count("ListClusterUserCredential"), 6);
        let logged = arm.requests();
        assert_eq!(logged.len(), 14);
        assert!(logged.iter().all(|r| r.claims.as_ref().is_some_and(|c| c["aud"] == "https://management.azure.com")));
        assert_eq!(logged[0].query("api-version"), Some(AKS_API_VERSION));
        let first = &arm.requests_for("GetCluster")[0];
        assert_eq!((first.op.as_str(), first.method.as_str(), first.status), ("GetCluster", "GET", 200));
        assert_eq!(
            first.path,
            format!(
                "/subscriptions/{SUB}/resourceGroups/rg-Dev/providers/Microsoft.ContainerService/managedClusters/aks-dev"
            )
        );
        assert_eq!(first.header("authorization"), Some(format!("Bearer {token}").as_str()));
        assert_eq!((first.body.as_str(), first.error.as_deref()), ("", None));
        let errors: Vec<&str> = logged.iter().filter_map(|r| r.error.as_deref()).collect();
        assert_eq!(
            errors,
            [
                "ResourceNotFound",
                "ResourceNotFound",
                "ResourceGroupNotFound",
                "SubscriptionNotFound",
                "ResourceNotFound",
                "MissingApiVersionParameter",
                "MissingApiVersionParameter"
            ]
        );
    }

    #[test]
    fn arm_standin_refuses_tokens_that_are_not_resource_managers() {
        let entra = Entra::start(EntraOpts::default());
        let arm = Arm::start(&entra.url());
        arm.add_cluster(AksCluster::new(SUB, "rg", "aks", "https://127.0.0.1:6443", CA));
        let url = arm.user_credential_url(SUB, "rg", "aks");
        // A user's tokens: ARM's (accepted), then the AKS server app's from the same refresh token.
        let login = entra.sign_in(AZURE_CLI_CLIENT_ID, &format!("{ARM_SCOPE} offline_access openid profile"));
        let arm_token = login["access_token"].as_str().unwrap();
        assert_eq!(call("POST", &url, Some(arm_token)).status, 200);
        let (status, aks) = entra.refresh(
            AZURE_CLI_CLIENT_ID,
            login["refresh_token"].as_str().unwrap(),
            &format!("{AKS_SCOPE} offline_access"),
        );
        assert_eq!(status, 200);
        let aks_token = aks["access_token"].as_str().unwrap();
        let a = call("POST", &url, Some(aks_token));
        assert_eq!(a.status, 401);
        assert_eq!(a.json()["error"]["code"], "InvalidAuthenticationTokenAudience");
        assert!(a.json()["error"]["message"].as_str().unwrap().contains(AKS_SERVER_ID));
        let www = a.header("www-authenticate").unwrap();
        assert!(www.starts_with(&format!("Bearer authorization_uri=\"{}/\"", entra.url())), "{www}");
        // The legacy audience works too, with and without its trailing slash.
        let (_, legacy) = entra.workload_token("https://management.core.windows.net//.default");
        assert_eq!(call("GET", &arm.cluster_url(SUB, "rg", "aks"), legacy["access_token"].as_str()).status, 200);
        // Made up, missing, revoked.
        let forged =
            crate::microsoft_standin::jwt(&json!({"aud": "https://management.azure.com", "exp": 4_000_000_000u64}));
        let a = call("POST", &url, Some(&forged));
        assert_eq!(a.status, 401);
        assert_eq!(
            a.json(),
            json!({"error": {"code": "InvalidAuthenticationToken", "message": "The access token is invalid."}})
        );
        assert!(a.header("www-authenticate").unwrap().contains("error=\"invalid_token\""));
        let a = call("POST", &url, None);
        assert_eq!((a.status, a.json()["error"]["code"].as_str()), (401, Some("AuthenticationFailed")));
        entra.revoke_access_tokens();
        let a = call("GET", &arm.cluster_url(SUB, "rg", "aks"), Some(arm_token));
        assert_eq!((a.status, a.json()["error"]["code"].as_str()), (401, Some("InvalidAuthenticationToken")));
        // Authentication comes before api-version.
        let a = call("POST", &url.replace("api-version", "v"), Some(&forged));
        assert_eq!(a.status, 401);
        assert_eq!(arm.count("ListClusterUserCredential"), 5);
        assert_eq!(arm.count("GetCluster"), 2);
        assert_eq!(entra.count("Introspect"), 6, "every call with a token asked Entra");
    }

    /// The API-server stand-in in its Entra mode, read by the Python kubernetes client (a
    /// kubeconfig with a static token and the CA) and by `requests`.
    const KUBE_CLIENT: &str = r#"
import json, sys, requests
from kubernetes import client, config
api, ca, tokens = sys.argv[1], sys.argv[2], sys.argv[3:]
out = []
for t in tokens:
    conf = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "c", "cluster": {"server": api, "certificate-authority": ca}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            "users": [{"name": "u", "user": {"token": t}}]}
    cfg = client.Configuration()
    config.load_kube_config_from_dict(config_dict=conf, client_configuration=cfg)
    core = client.CoreV1Api(client.ApiClient(cfg))
    try:
        names = [n.metadata.name for n in core.list_namespace().items]
        entry = {"status": 200, "names": names}
    except client.exceptions.ApiException as e:
        entry = {"status": e.status, "body": json.loads(e.body)}
    r = requests.get(api + "/version", headers={"Authorization": "Bearer " + t}, verify=ca)
    entry["version"] = r.status_code
    out.append(entry)
print(json.dumps(out))
"#;

    fn kube_client(server: &KubeApiServer, tokens: &[&str]) -> Vec<Value> {
        let mut c = python_c(KUBE_CLIENT);
        c.arg(server.url()).arg(server.ca_path()).args(tokens);
        let o = run(c);
        assert_eq!(o.code, 0, "{}", o.stderr);
        serde_json::from_str(o.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", o.stdout))
    }

    #[test]
    fn kube_apiserver_entra_mode_authenticates_tokens_for_the_server_id() {
        let entra = Entra::start(EntraOpts::default());
        let upn = EntraUser::default().upn;
        let server = KubeApiServer::entra(&entra.introspect_url(), AKS_SERVER_ID, Some(TENANT_ID), &upn);
        let login = entra.sign_in(AZURE_CLI_CLIENT_ID, &format!("{ARM_SCOPE} offline_access openid profile"));
        let arm_token = login["access_token"].as_str().unwrap().to_string();
        let (_, aks) = entra.refresh(AZURE_CLI_CLIENT_ID, login["refresh_token"].as_str().unwrap(), AKS_SCOPE);
        let user_token = aks["access_token"].as_str().unwrap().to_string();
        let (_, app) = entra.workload_token(AKS_SCOPE);
        let app_token = app["access_token"].as_str().unwrap().to_string();
        let forged = crate::microsoft_standin::jwt(&json!({"aud": AKS_SERVER_ID, "exp": 4_000_000_000u64, "upn": upn}));
        let out = kube_client(&server, &[&user_token, &app_token, &arm_token, &forged]);
        let label = format!("granted-to-{}", upn.to_lowercase().replace(['@', '.'], "-"));
        assert_eq!(out[0], json!({"status": 200, "names": ["default", "kube-system", label], "version": 200}));
        // The app is authenticated (discovery works) but not authorized for namespaces.
        assert_eq!(out[1]["status"], 403, "{}", out[1]);
        assert_eq!(out[1]["body"]["reason"], "Forbidden");
        assert_eq!(out[1]["version"], 200);
        for refused in &out[2..] {
            assert_eq!(refused["status"], 401, "{refused}");
            assert_eq!(refused["body"]["kind"], "Status");
            assert_eq!(refused["body"]["reason"], "Unauthorized");
            assert_eq!(refused["version"], 401);
        }
        let seen = server.decisions();
        assert_eq!(seen.len(), 8, "{seen:?}");
        assert_eq!(seen[0]["user"], upn.as_str());
        assert_eq!(seen[0]["arn"], upn.as_str());
        assert_eq!(seen[0]["mode"], "entra");
        let app_oid = jwt_oid(&app_token);
        assert!(seen.iter().any(|d| d["user"] == app_oid.as_str() && d["status"] == 403), "{seen:?}");
        assert!(seen.iter().any(|d| d["reason"].as_str().unwrap_or("").contains("audience")), "{seen:?}");
        assert!(seen.iter().any(|d| d["reason"].as_str().unwrap_or("").contains("introspection refused")), "{seen:?}");

        // Another tenant's server: the right audience, the wrong tenant; `spn:` audiences pass.
        let other = KubeApiServer::entra(
            &entra.introspect_url(),
            AKS_SERVER_ID,
            Some("11111111-2222-3333-4444-555555555555"),
            "",
        );
        assert_eq!(kube_client(&other, &[&user_token])[0]["status"], 401);
        assert!(other.decisions()[0]["reason"].as_str().unwrap().contains("tenant"));
        let (_, spn) = entra.workload_token(&format!("spn:{AKS_SERVER_ID}/.default"));
        let open = KubeApiServer::entra(&entra.introspect_url(), AKS_SERVER_ID, None, "");
        let out = kube_client(&open, &[spn["access_token"].as_str().unwrap(), &user_token]);
        assert_eq!((out[0]["status"].as_u64(), out[1]["status"].as_u64()), (Some(200), Some(200)), "{out:?}");
        // Revoked tokens stop working.
        entra.revoke_access_tokens();
        assert_eq!(kube_client(&server, &[&user_token])[0]["status"], 401);
    }

    fn jwt_oid(token: &str) -> String {
        crate::microsoft_standin::jwt_claims(token).unwrap()["oid"].as_str().unwrap().to_string()
    }

    #[test]
    fn kube_apiserver_google_mode_authenticates_with_tokeninfo() {
        use crate::google_standin::{Google, GoogleOpts};
        let google = Google::start(GoogleOpts::default());
        let server = KubeApiServer::google(&google.tokeninfo_url(), "alice@example.com");
        google.add_cluster("acme-dev", "us-central1", "dev", &server.endpoint(), &server.ca_pem());
        let user = GoogleOpts::default().users[0].clone();
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", user.client_id.as_str()),
            ("client_secret", user.client_secret.as_str()),
            ("refresh_token", user.refresh_token.as_str()),
        ];
        let (status, t) = crate::microsoft_standin::http_post_form(&google.oauth_token_url(), &form, &[]);
        assert_eq!(status, 200, "{t}");
        let alice = t["access_token"].as_str().unwrap().to_string();
        // A service account's token, minted with alice's.
        let sa = "terraform@acme-dev.iam.gserviceaccount.com";
        let body = json!({"scope": [crate::google_standin::CLOUD_PLATFORM]}).to_string();
        let bearer = format!("Bearer {alice}");
        let a = http_request(
            "POST",
            &google.generate_access_token_url(sa),
            Some(("application/json", body.as_bytes())),
            &[("Authorization", &bearer)],
        );
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
        let sa_token = a.json()["accessToken"].as_str().unwrap().to_string();
        // The cluster GKE describes is this server: its endpoint and CA.
        let cluster = crate::microsoft_standin::http_get_with(
            &google.cluster_url("acme-dev", "us-central1", "dev"),
            &[("Authorization", &bearer)],
        )
        .1;
        let ca =
            crate::microsoft_standin::b64url_decode(cluster["masterAuth"]["clusterCaCertificate"].as_str().unwrap());
        assert_eq!(ca.unwrap(), server.ca_pem());
        let api = format!("https://{}", cluster["endpoint"].as_str().unwrap());
        assert_eq!(api, server.url());

        let out = kube_client(&server, &[&alice, &sa_token, "ya29.made-up", "k8s-aws-v1.aHR0cHM6Ly9zdHMu"]);
        assert_eq!(
            out[0],
            json!({"status": 200, "names": ["default", "kube-system", "granted-to-alice-example-com"], "version": 200})
        );
        assert_eq!((out[1]["status"].as_u64(), out[1]["version"].as_u64()), (Some(403), Some(200)), "{}", out[1]);
        for refused in &out[2..] {
            assert_eq!((refused["status"].as_u64(), refused["version"].as_u64()), (Some(401), Some(401)), "{refused}");
            assert_eq!(refused["body"]["reason"], "Unauthorized");
        }
        let seen = server.decisions();
        assert_eq!(seen[0]["user"], "alice@example.com");
        assert_eq!(seen[0]["mode"], "google");
        assert!(seen.iter().any(|d| d["user"] == sa && d["status"] == 403), "{seen:?}");
        assert_eq!(google.count("TokenInfo"), 6, "the EKS-shaped token is refused without asking");
        // Revoked tokens stop working.
        google.revoke_access_tokens();
        assert_eq!(kube_client(&server, &[&alice])[0]["status"], 401);
    }

    /// Azure's own SDK for AKS (azure-mgmt-containerservice, with azure-identity getting the
    /// token from the Entra stand-in's TLS front): Managed Clusters - Get,
    /// listClusterUserCredential, and ARM's errors as the SDK raises them (the package is
    /// pinned in integration/requirements.txt).
    const AZURE_MGMT: &str = r#"
import json, sys
entra, tenant, client_id, assertion, arm, sub, aks_scope = sys.argv[1:8]
import yaml
from azure.identity import ClientAssertionCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.mgmt.containerservice import ContainerServiceClient
cred = ClientAssertionCredential(tenant, client_id, lambda: assertion, authority=entra)
# azure-core's bearer policy refuses plain http unless the call says enforce_https=False.
plain = {"enforce_https": False}
client = ContainerServiceClient(cred, sub, base_url=arm)
out = {}
mc = client.managed_clusters.get("rg-Dev", "aks-dev", **plain)
out["get"] = {"id": mc.id, "name": mc.name, "type": mc.type, "location": mc.location, "state": mc.provisioning_state,
              "fqdn": mc.fqdn}
a = mc.aad_profile
out["get"]["aad"] = {"managed": a.managed, "enable_azure_rbac": a.enable_azure_rbac, "tenant_id": a.tenant_id}
local = client.managed_clusters.get("RG-DEV", "aks-local", **plain)
out["local_aad"] = local.aad_profile
cr = client.managed_clusters.list_cluster_user_credentials("rg-Dev", "aks-dev", format="exec", **plain)
out["kubeconfigs"] = [k.name for k in cr.kubeconfigs]
out["kubeconfig"] = yaml.safe_load(bytes(cr.kubeconfigs[0].value))
def error(fn):
    try:
        fn()
    except HttpResponseError as e:
        return {"class": type(e).__name__, "status": e.status_code, "code": e.error.code if e.error else None,
                "message": e.error.message if e.error else str(e)}
    raise AssertionError("no error")
out["not_found"] = error(lambda: client.managed_clusters.get("rg-Dev", "nope", **plain))
out["no_group"] = error(lambda: client.managed_clusters.get("rg-gone", "aks-dev", **plain))
wrong = ContainerServiceClient(cred, sub, base_url=arm, credential_scopes=[aks_scope])
out["wrong_audience"] = error(lambda: wrong.managed_clusters.get("rg-Dev", "aks-dev", **plain))
out["api_version"] = client._config.api_version
print(json.dumps(out))
"#;

    #[test]
    fn arm_standin_azure_mgmt_containerservice_client() {
        let entra = Entra::start(EntraOpts::default());
        let tls = entra.tls();
        let arm = Arm::start(&entra.url());
        arm.add_cluster(AksCluster::new(SUB, "rg-Dev", "aks-dev", "https://127.0.0.1:6443", CA));
        arm.add_cluster(AksCluster {
            server_id: None,
            ..AksCluster::new(SUB, "rg-Dev", "aks-local", "https://127.0.0.1:7443", CA)
        });
        let assertion = crate::microsoft_standin::federated_assertion(
            crate::microsoft_standin::GITHUB_ISSUER,
            crate::microsoft_standin::GITHUB_SUBJECT,
            crate::microsoft_standin::EXCHANGE_AUDIENCE,
            Duration::from_secs(600),
        );
        let mut c = python_c(AZURE_MGMT);
        c.args([
            tls.url(),
            TENANT_ID.into(),
            crate::microsoft_standin::WORKLOAD_CLIENT_ID.into(),
            assertion,
            arm.url(),
        ])
        .args([SUB, AKS_SCOPE])
        .env("REQUESTS_CA_BUNDLE", tls.ca_bundle());
        let o = run(c);
        assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
        let out: Value = serde_json::from_str(o.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", o.stdout));
        let id = format!(
            "/subscriptions/{SUB}/resourcegroups/rg-Dev/providers/Microsoft.ContainerService/managedClusters/aks-dev"
        );
        assert_eq!(
            out["get"],
            json!({"id": id, "name": "aks-dev", "type": "Microsoft.ContainerService/ManagedClusters", "location": "eastus",
                   "state": "Succeeded", "fqdn": "127.0.0.1",
                   "aad": {"managed": true, "enable_azure_rbac": true, "tenant_id": TENANT_ID}})
        );
        assert_eq!(out["local_aad"], Value::Null);
        assert_eq!(out["kubeconfigs"], json!(["clusterUser"]));
        let exec = &out["kubeconfig"]["users"][0]["user"]["exec"];
        assert_eq!(exec["command"], "kubelogin");
        assert_eq!(exec["args"][4], AKS_SERVER_ID);
        assert_eq!(out["kubeconfig"]["clusters"][0]["cluster"]["server"], "https://127.0.0.1:6443");
        for (case, class, status, code) in [
            ("not_found", "ResourceNotFoundError", 404, "ResourceNotFound"),
            ("no_group", "ResourceNotFoundError", 404, "ResourceGroupNotFound"),
            ("wrong_audience", "ClientAuthenticationError", 401, "InvalidAuthenticationTokenAudience"),
        ] {
            let e = &out[case];
            assert_eq!(
                (e["class"].as_str(), e["status"].as_u64(), e["code"].as_str()),
                (Some(class), Some(status), Some(code)),
                "{case}: {e}"
            );
        }
        // What ARM saw: the SDK's api-version and format, its bearer for ARM.
        let api_version = out["api_version"].as_str().unwrap();
        let list = &arm.requests_for("ListClusterUserCredential")[0];
        assert_eq!((list.query("api-version"), list.query("format")), (Some(api_version), Some("exec")));
        assert_eq!(list.claims.as_ref().unwrap()["aud"], "https://management.azure.com");
        assert!(
            list.header("user-agent").is_some_and(|u| u.contains("azsdk-python-mgmt-containerservice")),
            "{list:?}"
        );
        assert_eq!(arm.count("GetCluster"), 5);
    }
}
