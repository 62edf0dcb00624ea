//! The one way tfauth builds an AWS SDK client: a current-thread tokio runtime, the HTTP
//! client (hyper + rustls with ring), and the [`aws_config::SdkConfig`] every service
//! client starts from (STS, ECR, SSO-OIDC and the SSO portal).
//!
//! Why it exists: the clients must agree on TLS, retries, timeouts and endpoint variables,
//! and a runtime exists only where the network is used, so both are made here and nowhere
//! else.
//!
//! What it must not do: be reached from the warm path (a cached credential is served
//! without a runtime or a client), or read credentials from anywhere but its caller.

use super::credentials::Credentials;
use aws_config::{BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig};
use std::time::Duration;

/// A current-thread runtime for the network calls of one command (never in the warm path).
pub(super) fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

/// The one HTTP client every SDK call uses: hyper + rustls with ring. It follows no
/// redirects (the SDK never does).
pub(super) fn https_client() -> aws_sdk_sts::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// The SDK configuration every AWS client shares: our HTTP client, `region`, retries with
/// backoff, timeouts, endpoint variables (`AWS_ENDPOINT_URL[_<SERVICE>]`) from the
/// environment, and `creds` (or no signing).
pub(super) async fn sdk_config(region: &str, creds: Option<&Credentials>) -> aws_config::SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .region(Region::new(region.to_string()))
        .retry_config(RetryConfig::standard().with_max_attempts(5))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(60))
                .build(),
        );
    let loader = match creds {
        Some(c) => loader.credentials_provider(aws_credential_types::Credentials::new(
            c.access_key_id.clone(),
            c.secret_access_key.expose().to_string(),
            c.session_token.as_ref().map(|t| t.expose().to_string()),
            c.expiration.map(std::time::SystemTime::from),
            "tfauth",
        )),
        None => loader.no_credentials(),
    };
    loader.load().await
}
