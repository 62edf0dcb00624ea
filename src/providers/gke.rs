//! GKE: the cluster a `gcp/gke` integration writes a kubeconfig entry for, read from the
//! container API (`projects.locations.clusters.get`) with the GCP identity's access token,
//! for the API server's endpoint and CA. The bearer token kubectl then sends is that same
//! kind of access token (what gke-gcloud-auth-plugin prints), minted by [`super::gcp`].
//!
//! It must not: send the access token anywhere but the container API the environment names
//! (`TFAUTH_GOOGLE_CONTAINER_URL`, else Google's), or log it.

use super::ProviderError;
use super::http::{self, Call};
use crate::env_vars::{self as ev, Env};
use crate::exit;
use crate::secret::Secret;

/// Google's container API.
pub const CONTAINER_URL: &str = "https://container.googleapis.com";

/// What a kubeconfig needs of a GKE cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterInfo {
    /// `projects/P/locations/L/clusters/N`: the kubeconfig's cluster key (Atmos's).
    pub id: String,
    /// The API server's URL (`https://` + the endpoint GKE answers).
    pub endpoint: String,
    /// The cluster CA's PEM, base64 (as GKE returns it and kubeconfig stores it).
    pub certificate_authority_data: String,
}

/// `projects/{project}/locations/{location}/clusters/{name}`.
pub fn resource_name(project: &str, location: &str, name: &str) -> String {
    format!("projects/{project}/locations/{location}/clusters/{name}")
}

/// The container API's base URL: `TFAUTH_GOOGLE_CONTAINER_URL`, else Google's.
pub fn container_url(env: &Env) -> String {
    env.get(ev::TFAUTH_GOOGLE_CONTAINER_URL)
        .filter(|v| !v.is_empty())
        .map_or(CONTAINER_URL, |v| v.trim_end_matches('/'))
        .to_string()
}

/// The cluster's endpoint and CA, asked of the container API as `identity`.
pub fn get_cluster(
    integration: &str,
    identity: &str,
    (project, location, name): (&str, &str, &str),
    token: &Secret,
    env: &Env,
) -> Result<ClusterInfo, ProviderError> {
    let id = resource_name(project, location, name);
    let path = format!(
        "/v1/projects/{}/locations/{}/clusters/{}",
        super::encode(project),
        super::encode(location),
        super::encode(name)
    );
    let url = format!("{}{path}", container_url(env));
    let call = Call { identity, service: "the GKE container API", step: "clusters.get" };
    let reply = http::get(&call, &url, &[("Authorization".into(), format!("Bearer {}", token.expose()))])?;
    let setup = |message: String, hint: &str, code| ProviderError::Setup {
        identity: identity.into(),
        message,
        hint: hint.into(),
        code,
    };
    if reply.status == 404 {
        return Err(setup(
            format!("integration `{integration}`: GKE has no cluster {id}: {}", http::error_text(&reply.body)),
            "check the integration's spec.cluster.name, project_id and location (a region or a zone, as the cluster was created)",
            exit::UNAVAILABLE,
        ));
    }
    if !reply.ok() {
        return Err(call.refused(
            &reply,
            format!("`{identity}` needs container.clusters.get on {id} (roles/container.clusterViewer)"),
        ));
    }
    let body = reply.json().unwrap_or_default();
    let field = |k: &[&str]| {
        k.iter().try_fold(&body, |v, k| v.get(k)).and_then(serde_json::Value::as_str).map(str::trim).unwrap_or("")
    };
    let endpoint = field(&["endpoint"]);
    let ca = field(&["masterAuth", "clusterCaCertificate"]);
    let bad = |what: &str| {
        setup(
            format!("integration `{integration}`: GKE answered for {id} {what}"),
            "the cluster may still be provisioning; retry when `gcloud container clusters describe` shows an endpoint",
            exit::UNAVAILABLE,
        )
    };
    if endpoint.is_empty() {
        return Err(bad("without an endpoint"));
    }
    if endpoint.starts_with("http://") {
        return Err(bad("with a plain-http endpoint"));
    }
    if aws_smithy_types::base64::decode(ca).map_or(true, |pem| pem.is_empty()) {
        return Err(bad("without a CA certificate (masterAuth.clusterCaCertificate)"));
    }
    let endpoint = if endpoint.starts_with("https://") { endpoint.to_string() } else { format!("https://{endpoint}") };
    Ok(ClusterInfo { id, endpoint, certificate_authority_data: ca.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resource_name_and_endpoint_are_atmos_s() {
        assert_eq!(resource_name("acme", "us-central1", "dev"), "projects/acme/locations/us-central1/clusters/dev");
        let env = Env::from_pairs([(ev::TFAUTH_GOOGLE_CONTAINER_URL, "http://127.0.0.1:9/")]);
        assert_eq!(container_url(&env), "http://127.0.0.1:9");
        assert_eq!(container_url(&Env::from_pairs(Vec::<(&str, &str)>::new())), CONTAINER_URL);
    }
}
