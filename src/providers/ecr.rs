//! ECR's GetAuthorizationToken: a Docker login for one registry, from an AWS session; and
//! ECR Public's, for `public.ecr.aws` (a Request with an empty `account_id`).
//!
//! Called with the session of an integration's `via` identity (the caller gets it through
//! [`crate::session`], so it is cached and single flight), in the registry's region, with
//! `registryIds = [account_id]`. The client is the official SDK configured exactly as for
//! STS ([`super::sdk::sdk_config`]): `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_ECR` are honoured,
//! throttling is retried with backoff, every call times out, and the runtime is a
//! current-thread one that lives for this call only.
//!
//! The token decodes to `AWS:<password>`; the password goes straight into a [`Secret`] and
//! is never logged, printed, or put in an error.

use super::ProviderError;
use super::credentials::Credentials;
use crate::env_vars::Env;
use crate::secret::Secret;
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use time::OffsetDateTime;

/// What `docker login` needs for one registry.
#[derive(Debug)]
pub struct RegistryLogin {
    /// The registry's host, as Docker keys it: `123456789012.dkr.ecr.us-east-2.amazonaws.com`.
    pub host: String,
    /// Always `AWS` for ECR, but taken from the token.
    pub username: String,
    pub password: Secret,
    /// ECR tokens last 12 hours.
    pub expires_at: Option<OffsetDateTime>,
}

/// One GetAuthorizationToken call.
pub struct Request<'a> {
    /// The integration's name, for errors.
    pub integration: &'a str,
    /// The identity whose session signs the call, for errors and hints.
    pub identity: &'a str,
    pub credentials: &'a Credentials,
    pub account_id: &'a str,
    pub region: &'a str,
    pub env: &'a Env,
}

/// A Docker login for the request's registry.
pub fn authorization_token(req: &Request<'_>) -> Result<RegistryLogin, ProviderError> {
    super::sdk::runtime().map_err(ProviderError::Runtime)?.block_on(async {
        let config = super::sdk::sdk_config(req.region, Some(req.credentials)).await;
        let ecr = aws_sdk_ecr::Client::new(&config);
        tracing::debug!(
            integration = req.integration,
            account = req.account_id,
            region = req.region,
            "GetAuthorizationToken"
        );
        // `registryIds` is deprecated because the token opens every registry the principal
        // may use; it still makes `proxyEndpoint` name the registry asked for, not the
        // caller's own account's.
        #[allow(deprecated)]
        let call = ecr.get_authorization_token().registry_ids(req.account_id);
        let out = call.send().await.map_err(|e| ecr_error(e, req))?;
        let data = out.authorization_data().first().ok_or_else(|| answer(req, "no authorizationData"))?;
        let (username, password) = data
            .authorization_token()
            .and_then(decode_token)
            .ok_or_else(|| answer(req, "an authorizationToken that is not base64 of `user:password`"))?;
        let host = match data.proxy_endpoint() {
            Some(endpoint) => registry_host(endpoint).ok_or_else(|| answer(req, "an unusable proxyEndpoint"))?,
            None => default_host(req.account_id, req.region),
        };
        let expires_at = data.expires_at().and_then(|t| OffsetDateTime::from_unix_timestamp(t.secs()).ok());
        Ok(RegistryLogin { host, username, password, expires_at })
    })
}

/// ECR Public's registry host, which every public repository is under.
pub const PUBLIC_HOST: &str = "public.ecr.aws";
/// The one region ECR Public issues tokens in.
pub const PUBLIC_AUTH_REGION: &str = "us-east-1";

/// A Docker login for `public.ecr.aws`: ECR Public's GetAuthorizationToken, always in
/// us-east-1 (`AWS_ENDPOINT_URL_ECR_PUBLIC` honoured). `req.account_id` is not sent.
pub fn public_authorization_token(req: &Request<'_>) -> Result<RegistryLogin, ProviderError> {
    super::sdk::runtime().map_err(ProviderError::Runtime)?.block_on(async {
        let config = super::sdk::sdk_config(PUBLIC_AUTH_REGION, Some(req.credentials)).await;
        let ecr = aws_sdk_ecrpublic::Client::new(&config);
        tracing::debug!(integration = req.integration, "ECR Public GetAuthorizationToken");
        let out = ecr.get_authorization_token().send().await.map_err(|e| ecr_error(e, req))?;
        let data = out.authorization_data().ok_or_else(|| answer(req, "no authorizationData"))?;
        let (username, password) = data
            .authorization_token()
            .and_then(decode_token)
            .ok_or_else(|| answer(req, "an authorizationToken that is not base64 of `user:password`"))?;
        let expires_at = data.expires_at().and_then(|t| OffsetDateTime::from_unix_timestamp(t.secs()).ok());
        Ok(RegistryLogin { host: PUBLIC_HOST.to_string(), username, password, expires_at })
    })
}

/// `authorizationToken` is base64 of `user:password`; `None` if it is not.
pub fn decode_token(token: &str) -> Option<(String, Secret)> {
    let bytes = aws_smithy_types::base64::decode(token.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, password) = text.split_once(':')?;
    (!user.is_empty() && !password.is_empty()).then(|| (user.to_string(), Secret::new(password)))
}

/// The registry host of a `proxyEndpoint` (`https://HOST[/...]`): without the scheme and
/// any path, lower-cased, as Docker keys `auths` (a port stays).
pub fn registry_host(proxy_endpoint: &str) -> Option<String> {
    let rest = proxy_endpoint.trim();
    let rest = rest.split_once("://").map_or(rest, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("").to_ascii_lowercase();
    (!host.is_empty() && !host.contains(char::is_whitespace) && !host.contains('@')).then_some(host)
}

/// The registry's host when ECR does not say (`<account>.dkr.ecr.<region>.amazonaws.com`,
/// `.com.cn` in the China regions).
pub fn default_host(account_id: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    format!("{account_id}.dkr.ecr.{region}.{suffix}")
}

/// Where the call went: the endpoint variables, else ECR's public endpoint.
pub fn endpoint(env: &Env, region: &str) -> String {
    env.get(crate::env_vars::AWS_ENDPOINT_URL_ECR)
        .or(env.get(crate::env_vars::AWS_ENDPOINT_URL))
        .map(str::to_string)
        .unwrap_or_else(|| format!("https://api.ecr.{region}.amazonaws.com"))
}

/// Where ECR Public's call went: the endpoint variables, else its us-east-1 endpoint.
pub fn public_endpoint(env: &Env) -> String {
    env.get(crate::env_vars::AWS_ENDPOINT_URL_ECR_PUBLIC)
        .or(env.get(crate::env_vars::AWS_ENDPOINT_URL))
        .map(str::to_string)
        .unwrap_or_else(|| format!("https://api.ecr-public.{PUBLIC_AUTH_REGION}.amazonaws.com"))
}

fn answer(req: &Request<'_>, what: &str) -> ProviderError {
    ProviderError::EcrAnswer { integration: req.integration.to_string(), message: format!("ECR answered with {what}") }
}

fn ecr_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    e: SdkError<E, aws_sdk_ecr::config::http::HttpResponse>,
    req: &Request<'_>,
) -> ProviderError {
    if matches!(e, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)) {
        let endpoint = if req.account_id.is_empty() { public_endpoint(req.env) } else { endpoint(req.env, req.region) };
        return ProviderError::EcrUnreachable {
            integration: req.integration.to_string(),
            endpoint,
            message: causes(&e),
        };
    }
    let (code, message) = match e.code() {
        Some(code) => (code.to_string(), e.message().map(str::to_string).unwrap_or_else(|| e.to_string())),
        None => super::aws::raw_error(e.raw_response()),
    };
    let registry = if req.account_id.is_empty() {
        PUBLIC_HOST.to_string()
    } else {
        format!("{} in {}", req.account_id, req.region)
    };
    ProviderError::Ecr {
        integration: req.integration.to_string(),
        identity: req.identity.to_string(),
        registry,
        code,
        message,
    }
}

/// The messages under a dispatch failure, joined (`io error: ... Connection refused`):
/// the SDK's own top line only says that dispatch failed.
pub(super) fn causes(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    if parts.is_empty() { e.to_string() } else { parts.join(": ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_decode_to_user_and_password() {
        // base64("AWS:eyJwYXlsb2FkIjoi...") as ECR sends it.
        let (user, password) = decode_token("QVdTOnBhc3M6d2l0aDpjb2xvbnM=").unwrap();
        assert_eq!(user, "AWS");
        assert_eq!(password.expose(), "pass:with:colons", "only the first colon separates");
        assert_eq!(format!("{password:?}"), crate::secret::REDACTED);
        for bad in [
            "",
            "not base64!",
            "QVdT",     /* "AWS": no colon */
            "OnBhc3M=", /* ":pass" */
            "QVdTOg==", /* "AWS:" */
        ] {
            assert!(decode_token(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn hosts_come_from_the_proxy_endpoint() {
        assert_eq!(
            registry_host("https://123456789012.dkr.ecr.us-east-2.amazonaws.com").as_deref(),
            Some("123456789012.dkr.ecr.us-east-2.amazonaws.com")
        );
        assert_eq!(
            registry_host("https://123456789012.DKR.ecr.eu-west-1.amazonaws.com/").as_deref(),
            Some("123456789012.dkr.ecr.eu-west-1.amazonaws.com")
        );
        assert_eq!(
            registry_host("123456789012.dkr.ecr.us-east-2.amazonaws.com").as_deref(),
            Some("123456789012.dkr.ecr.us-east-2.amazonaws.com")
        );
        assert_eq!(registry_host("http://localhost:5000/v2/").as_deref(), Some("localhost:5000"));
        for bad in ["", "https://", "https:///path", "https://user@host"] {
            assert!(registry_host(bad).is_none(), "{bad}");
        }
        assert_eq!(default_host("123456789012", "us-east-2"), "123456789012.dkr.ecr.us-east-2.amazonaws.com");
        assert_eq!(default_host("123456789012", "cn-north-1"), "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn");
    }

    #[test]
    fn the_endpoint_named_in_errors_follows_the_variables() {
        assert_eq!(endpoint(&Env::default(), "us-east-2"), "https://api.ecr.us-east-2.amazonaws.com");
        let env = Env::from_pairs([("AWS_ENDPOINT_URL", "http://a"), ("AWS_ENDPOINT_URL_ECR", "http://b")]);
        assert_eq!(endpoint(&env, "us-east-2"), "http://b");
    }
}
