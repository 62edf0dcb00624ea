//! GitHub Actions OIDC tokens: `ACTIONS_ID_TOKEN` when set, else a GET of
//! `ACTIONS_ID_TOKEN_REQUEST_URL&audience=...` with `Authorization: bearer
//! $ACTIONS_ID_TOKEN_REQUEST_TOKEN`, which answers `{"value": "<JWT>"}`. The request URL
//! must be https, except on loopback (tests). The token is a [`Secret`].

use super::{ProviderError, encode};
use crate::env_vars::{ACTIONS_ID_TOKEN, ACTIONS_ID_TOKEN_REQUEST_TOKEN, ACTIONS_ID_TOKEN_REQUEST_URL, Env};
use crate::secret::Secret;
use std::time::Duration;

/// The audience when the provider does not name one.
pub const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";

pub fn token(env: &Env, audience: Option<&str>, identity: &str) -> Result<Secret, ProviderError> {
    if let Some(t) = env.get(ACTIONS_ID_TOKEN) {
        return Ok(Secret::new(t));
    }
    let fail = |message: String, hint: &str| ProviderError::OidcToken {
        identity: identity.to_string(),
        message,
        hint: hint.to_string(),
    };
    let (Some(url), Some(bearer)) = (env.get(ACTIONS_ID_TOKEN_REQUEST_URL), env.get(ACTIONS_ID_TOKEN_REQUEST_TOKEN))
    else {
        return Err(fail(
            "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set".into(),
            "run in GitHub Actions with `permissions: id-token: write`, or set ACTIONS_ID_TOKEN",
        ));
    };
    if !is_allowed_url(url) {
        return Err(fail(
            "ACTIONS_ID_TOKEN_REQUEST_URL is not https".into(),
            "the token request carries a bearer token; only https (or loopback for tests) is allowed",
        ));
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!("{url}{sep}audience={}", encode(audience.unwrap_or(DEFAULT_AUDIENCE)));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .get(&full)
        .header("Authorization", &format!("bearer {bearer}"))
        .header("Accept", "application/json")
        .call()
        .map_err(|e| fail(format!("request failed: {e}"), "check that the runner can reach GitHub's token service"))?;
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    if status != 200 {
        return Err(fail(
            format!("the token endpoint answered HTTP {status}"),
            "the request token may have expired (it lasts for the job), or the job lacks `id-token: write`",
        ));
    }
    let value = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("value").and_then(|v| v.as_str()).map(str::to_string))
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            fail("the answer has no `value`".into(), "the endpoint did not answer like GitHub's token service")
        })?;
    Ok(Secret::new(value))
}

pub use crate::util::url::is_allowed_url;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback() {
        assert!(is_allowed_url("https://token.actions.githubusercontent.com/x?y=1"));
        assert!(is_allowed_url("http://127.0.0.1:8080/token?x=1"));
        assert!(is_allowed_url("http://localhost/token"));
        assert!(is_allowed_url("http://[::1]:9/t"));
        assert!(!is_allowed_url("http://example.com/token"));
        assert!(!is_allowed_url("http://127.0.0.1.evil.com/token"));
        assert!(!is_allowed_url("ftp://127.0.0.1/"));
    }

    #[test]
    fn direct_token_wins() {
        let env = Env::from_pairs([("ACTIONS_ID_TOKEN", "jwt")]);
        assert_eq!(token(&env, None, "i").unwrap().expose(), "jwt");
        let err = token(&Env::default(), None, "i").unwrap_err();
        assert!(err.to_string().contains("ACTIONS_ID_TOKEN_REQUEST_URL"), "{err}");
    }
}
