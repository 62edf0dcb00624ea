//! EKS: the bearer token `kubectl`, helm and Terraform's kubernetes provider send to an EKS
//! cluster (what `aws eks get-token` prints), made from an AWS session.
//!
//! The token is `k8s-aws-v1.` + base64url (no padding) of an STS `GetCallerIdentity` URL
//! presigned with SigV4 over the `host` and `x-k8s-aws-id: <cluster>` headers; the
//! cluster's authenticator calls that URL and maps the ARN STS answers to a Kubernetes
//! user. Presigning is computation only: smithy-rs's signer ([`aws_sigv4`]), no SDK
//! client, no runtime and no network, so the warm path of the token plugin costs what
//! reading the cached session costs.
//!
//! [`describe_cluster`] is the other half, used when a kubeconfig is written (never by the
//! plugin): EKS's DescribeCluster through the SDK's EKS client, configured like STS
//! ([`super::sdk::sdk_config`], so `AWS_ENDPOINT_URL_EKS` works), for the API server's
//! endpoint, its CA and the cluster's ARN.
//!
//! It must not: log or print the session's secrets or the token (the token is a bearer
//! credential for 15 minutes; it lives in a [`Secret`]); sign for an endpoint other than
//! the one the environment names for STS (`AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`) or
//! STS's regional endpoint.

use super::ProviderError;
use super::credentials::Credentials;
use crate::env_vars::{self as ev, Env};
use crate::secret::Secret;
use std::time::{Duration, SystemTime};
use time::OffsetDateTime;

/// The token's prefix, as aws-iam-authenticator reads it.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The signed header that binds a token to one cluster.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// `X-Amz-Expires` of the presigned URL, as `aws eks get-token` and Atmos send it.
pub const PRESIGN_EXPIRES: Duration = Duration::from_secs(60);
/// How long the authenticator accepts a token after its `X-Amz-Date` (15 minutes); the
/// plugin tells kubectl a minute less, as Atmos and the AWS CLI do, so a cached token is
/// never sent at its last second.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);

/// A token for one cluster and when kubectl should ask for a new one.
pub struct EksToken {
    pub token: Secret,
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for EksToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EksToken").field("token", &"** redacted **").field("expires_at", &self.expires_at).finish()
    }
}

/// Why no token could be made.
#[derive(Debug, thiserror::Error)]
pub enum EksError {
    #[error("cannot presign GetCallerIdentity for cluster `{cluster}`: {message}")]
    Presign { cluster: String, message: String },
    #[error("the STS endpoint `{endpoint}` (from {from}) is not an http(s) URL")]
    Endpoint { endpoint: String, from: &'static str },
}

impl EksError {
    pub fn exit_code(&self) -> i32 {
        match self {
            EksError::Presign { .. } => crate::exit::SOFTWARE,
            EksError::Endpoint { .. } => crate::exit::USAGE,
        }
    }
    pub fn hint(&self) -> Option<String> {
        match self {
            EksError::Presign { .. } => None,
            EksError::Endpoint { from, .. } => {
                Some(format!("set {from} to a URL such as https://sts.us-east-1.amazonaws.com, or unset it"))
            }
        }
    }
}

/// The STS endpoint the token is presigned for: the environment's
/// (`AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`), else STS's regional endpoint (the
/// one `aws eks get-token` uses; aws-iam-authenticator accepts every regional host).
pub fn sts_endpoint(env: &Env, region: &str) -> Result<String, EksError> {
    for var in [ev::AWS_ENDPOINT_URL_STS, ev::AWS_ENDPOINT_URL] {
        if let Some(v) = env.get(var).filter(|v| !v.is_empty()) {
            let ok = v.starts_with("https://") || v.starts_with("http://");
            if !ok {
                return Err(EksError::Endpoint { endpoint: v.to_string(), from: var });
            }
            return Ok(v.trim_end_matches('/').to_string());
        }
    }
    let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    Ok(format!("https://sts.{region}.{suffix}"))
}

/// The token for `cluster` (its name, which the authenticator knows it by), signed with
/// `creds` in `region` at `now`, for STS at `endpoint`. It expires at the earlier of
/// [`TOKEN_LIFETIME`] after `now` and the session's own end.
pub fn token(
    creds: &Credentials,
    cluster: &str,
    region: &str,
    endpoint: &str,
    now: SystemTime,
) -> Result<EksToken, EksError> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
    let failed = |message: String| EksError::Presign { cluster: cluster.to_string(), message };
    let identity: aws_smithy_runtime_api::client::identity::Identity = aws_credential_types::Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.expose().to_string(),
        creds.session_token.as_ref().map(|t| t.expose().to_string()),
        None,
        "tfauth-session",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(PRESIGN_EXPIRES);
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| failed(e.to_string()))?
        .into();
    let base = format!("{endpoint}/?Action=GetCallerIdentity&Version=2011-06-15");
    let host = host_of(endpoint).ok_or_else(|| failed(format!("no host in {endpoint}")))?;
    let headers = [("host", host), (CLUSTER_ID_HEADER, cluster)];
    let request = SignableRequest::new("GET", &base, headers.into_iter(), SignableBody::Bytes(&[]))
        .map_err(|e| failed(e.to_string()))?;
    let (instructions, _signature) = sign(request, &params).map_err(|e| failed(e.to_string()))?.into_parts();
    let mut url = base;
    for (name, value) in instructions.params() {
        url.push('&');
        url.push_str(name);
        url.push('=');
        url.push_str(&crate::providers::encode(value));
    }
    let token = Secret::new(format!("{TOKEN_PREFIX}{}", b64url(url.as_bytes())));
    let mut expires_at = OffsetDateTime::from(now) + TOKEN_LIFETIME;
    if let Some(end) = creds.expiration {
        expires_at = expires_at.min(end);
    }
    Ok(EksToken { token, expires_at })
}

/// What a kubeconfig needs of a cluster, from DescribeCluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterInfo {
    pub name: String,
    pub region: String,
    /// `arn:aws:eks:REGION:ACCOUNT:cluster/NAME`: the kubeconfig's cluster key.
    pub arn: String,
    /// The API server's URL (`https://...`).
    pub endpoint: String,
    /// The cluster CA's PEM, base64 (as EKS returns it and kubeconfig stores it).
    pub certificate_authority_data: String,
}

/// One DescribeCluster call.
pub struct DescribeRequest<'a> {
    /// The integration's name, for errors.
    pub integration: &'a str,
    /// The identity whose session signs the call, for errors and hints.
    pub identity: &'a str,
    pub credentials: &'a Credentials,
    pub cluster: &'a str,
    pub region: &'a str,
    pub env: &'a Env,
}

/// The endpoint, CA and ARN of the request's cluster.
pub fn describe_cluster(req: &DescribeRequest<'_>) -> Result<ClusterInfo, ProviderError> {
    use aws_sdk_eks::error::{ProvideErrorMetadata, SdkError};
    super::sdk::runtime().map_err(ProviderError::Runtime)?.block_on(async {
        let config = super::sdk::sdk_config(req.region, Some(req.credentials)).await;
        let eks = aws_sdk_eks::Client::new(&config);
        tracing::debug!(integration = req.integration, cluster = req.cluster, region = req.region, "DescribeCluster");
        let out = eks.describe_cluster().name(req.cluster).send().await.map_err(|e| {
            if matches!(e, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)) {
                return ProviderError::EksUnreachable {
                    integration: req.integration.to_string(),
                    endpoint: describe_endpoint(req.env, req.region),
                    message: super::ecr::causes(&e),
                };
            }
            let (code, message) = match e.code() {
                Some(code) => (code.to_string(), e.message().map(str::to_string).unwrap_or_else(|| e.to_string())),
                None => super::aws::raw_error(e.raw_response()),
            };
            ProviderError::Eks(Box::new(super::EksFailure {
                integration: req.integration.to_string(),
                identity: req.identity.to_string(),
                cluster: req.cluster.to_string(),
                region: req.region.to_string(),
                code,
                message,
            }))
        })?;
        let answer = |what: &str| ProviderError::EksAnswer {
            integration: req.integration.to_string(),
            message: format!("EKS answered DescribeCluster of `{}` with {what}", req.cluster),
        };
        let c = out.cluster().ok_or_else(|| answer("no cluster"))?;
        let endpoint = c.endpoint().filter(|e| e.starts_with("https://")).ok_or_else(|| answer("no https endpoint"))?;
        let ca = c.certificate_authority().and_then(|ca| ca.data()).filter(|d| !d.is_empty());
        let ca = ca.ok_or_else(|| answer("no certificateAuthority.data"))?;
        if aws_smithy_types::base64::decode(ca).is_err() {
            return Err(answer("a certificateAuthority.data that is not base64"));
        }
        let arn = c.arn().filter(|a| a.starts_with("arn:")).ok_or_else(|| answer("no ARN"))?;
        if [endpoint, arn].iter().any(|v| v.chars().any(|ch| ch.is_control() || ch.is_whitespace())) {
            return Err(answer("an endpoint or ARN holding spaces or control characters"));
        }
        Ok(ClusterInfo {
            name: req.cluster.to_string(),
            region: req.region.to_string(),
            arn: arn.to_string(),
            endpoint: endpoint.to_string(),
            certificate_authority_data: ca.to_string(),
        })
    })
}

/// Where DescribeCluster goes: the endpoint variables, else EKS's regional endpoint.
pub fn describe_endpoint(env: &Env, region: &str) -> String {
    env.get(ev::AWS_ENDPOINT_URL_EKS)
        .or(env.get(ev::AWS_ENDPOINT_URL))
        .map(str::to_string)
        .unwrap_or_else(|| format!("https://eks.{region}.amazonaws.com"))
}

/// The `ExecCredential` document kubectl reads from an exec plugin's stdout.
pub fn exec_credential(t: &EksToken) -> String {
    exec_credential_of(&t.token, t.expires_at)
}

/// The ExecCredential document of any bearer token (EKS's, a GKE or AKS plugin's).
pub fn exec_credential_of(token: &Secret, expires_at: OffsetDateTime) -> String {
    let when = super::credentials::format_utc(expires_at);
    serde_json::json!({
        "kind": "ExecCredential",
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "spec": {},
        "status": {"expirationTimestamp": when, "token": token.expose()},
    })
    .to_string()
}

fn host_of(endpoint: &str) -> Option<&str> {
    let rest = endpoint.split_once("://")?.1;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then_some(host)
}

fn b64url(bytes: &[u8]) -> String {
    aws_smithy_types::base64::encode(bytes).trim_end_matches('=').replace('+', "-").replace('/', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: token.map(Secret::new),
            expiration: None,
            issued: None,
        }
    }

    fn url_of(t: &EksToken) -> String {
        let b64 = t.token.expose().strip_prefix(TOKEN_PREFIX).expect("the prefix");
        assert!(!b64.contains('=') && !b64.contains('+') && !b64.contains('/'), "base64url without padding");
        let std = b64.replace('-', "+").replace('_', "/");
        let padded = format!("{std}{}", "=".repeat((4 - std.len() % 4) % 4));
        String::from_utf8(aws_smithy_types::base64::decode(padded).unwrap()).unwrap()
    }

    #[test]
    fn the_token_is_a_presigned_get_caller_identity_bound_to_the_cluster() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let presign = |cluster: &str| {
            token(&creds(Some("FQoGZXIvYXdzEXAMPLE")), cluster, "eu-west-1", "https://sts.eu-west-1.amazonaws.com", now)
                .unwrap()
        };
        let t = presign("prod-eks");
        let url = url_of(&t);
        assert!(
            url.starts_with("https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"),
            "{url}"
        );
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Feu-west-1%2Fsts%2Faws4_request",
            "X-Amz-Date=20231114T221320Z",
            "X-Amz-Expires=60",
            "X-Amz-SignedHeaders=host%3Bx-k8s-aws-id",
            "X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLE",
        ] {
            assert!(url.contains(part), "{part} missing from {url}");
        }
        assert!(!url.contains("wJalrXUtnFEMI"), "the secret key is never in the URL");
        assert_eq!(t.expires_at, OffsetDateTime::from(now) + TOKEN_LIFETIME);
        // Another cluster, another signature; the same inputs, the same token.
        let other = presign("dev-eks");
        let sig = |u: &str| u.split("X-Amz-Signature=").nth(1).unwrap().to_string();
        assert_ne!(sig(&url), sig(&url_of(&other)));
        let again = presign("prod-eks");
        assert_eq!(again.token.expose(), t.token.expose());
        assert!(!format!("{t:?}").contains("k8s-aws-v1"), "Debug redacts the token");
    }

    #[test]
    fn the_token_ends_with_the_session_when_that_comes_first() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut c = creds(None);
        c.expiration = Some(OffsetDateTime::from(now) + Duration::from_secs(300));
        let t = token(&c, "x", "us-east-1", "https://sts.us-east-1.amazonaws.com", now).unwrap();
        assert_eq!(t.expires_at, OffsetDateTime::from(now) + Duration::from_secs(300));
        assert!(!url_of(&t).contains("X-Amz-Security-Token"), "long-lived keys have no session token");
        let doc: serde_json::Value = serde_json::from_str(&exec_credential(&t)).unwrap();
        assert_eq!(doc["kind"], "ExecCredential");
        assert_eq!(doc["apiVersion"], "client.authentication.k8s.io/v1beta1");
        assert_eq!(doc["status"]["expirationTimestamp"], "2023-11-14T22:18:20Z");
        assert_eq!(doc["status"]["token"], t.token.expose());
    }

    #[test]
    fn the_endpoint_is_the_environments_else_regional_sts() {
        let env = |pairs: &[(&str, &str)]| Env::from_pairs(pairs.iter().copied());
        assert_eq!(sts_endpoint(&env(&[]), "eu-west-1").unwrap(), "https://sts.eu-west-1.amazonaws.com");
        assert_eq!(sts_endpoint(&env(&[]), "cn-north-1").unwrap(), "https://sts.cn-north-1.amazonaws.com.cn");
        let e = env(&[
            (ev::AWS_ENDPOINT_URL, "http://127.0.0.1:5000/"),
            (ev::AWS_ENDPOINT_URL_STS, "http://127.0.0.1:6000"),
        ]);
        assert_eq!(sts_endpoint(&e, "us-east-1").unwrap(), "http://127.0.0.1:6000");
        assert_eq!(
            sts_endpoint(&env(&[(ev::AWS_ENDPOINT_URL, "http://127.0.0.1:5000/")]), "x").unwrap(),
            "http://127.0.0.1:5000"
        );
        let bad = sts_endpoint(&env(&[(ev::AWS_ENDPOINT_URL_STS, "sts.local")]), "x").unwrap_err();
        assert_eq!(bad.exit_code(), crate::exit::USAGE);
        assert!(bad.to_string().contains("AWS_ENDPOINT_URL_STS"), "{bad}");
    }
}
