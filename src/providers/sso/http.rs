//! One IAM Identity Center call on the wire: send it, read the answer, and turn an error
//! answer into what it means ([`Kind`]) with the request's secrets scrubbed out.
//!
//! Why it exists: SSO-OIDC and the portal say the same failure several ways (the
//! `x-amzn-ErrorType` header, `__type`, `code`, OAuth's `error`, the status), and every
//! operation must read them alike; a body that holds secrets must be described, never
//! quoted.
//!
//! What it must not do: log a request or response body (only the service, the operation,
//! the status and the time taken, at debug level), put a secret the request carried into a
//! [`Fault`], or decide what an operation does with an error (the operations do).

use super::endpoints::Endpoints;
use super::error::SsoError;
use crate::providers::encode;
use crate::secret::{REDACTED, Secret};
use serde::de::DeserializeOwned;
use std::time::Instant;
use time::OffsetDateTime;

/// Service messages are cut to this many characters in errors.
const MAX_MESSAGE: usize = 300;

pub(super) const OIDC: &str = "SSO-OIDC";
pub(super) const PORTAL: &str = "the SSO portal";

/// An answer: the status, the `x-amzn-ErrorType` header, the body.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) error_type: Option<String>,
    pub(super) body: String,
}

pub(super) fn finish(
    service: &'static str,
    operation: &'static str,
    endpoint: &str,
    started: Instant,
    sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Reply, SsoError> {
    let unreachable = |e: ureq::Error| SsoError::Unreachable {
        service,
        operation,
        endpoint: endpoint.to_string(),
        source: Box::new(e),
    };
    let mut resp = sent.map_err(unreachable)?;
    let status = resp.status().as_u16();
    let error_type = resp.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = resp.body_mut().read_to_string().map_err(unreachable)?;
    tracing::debug!(
        service,
        operation,
        status,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "IAM Identity Center call"
    );
    Ok(Reply { status, error_type, body })
}

pub(super) fn post_oidc(
    ep: &Endpoints,
    operation: &'static str,
    path: &str,
    body: &serde_json::Value,
) -> Result<Reply, SsoError> {
    let started = Instant::now();
    let sent = ep
        .agent
        .post(&format!("{}{path}", ep.oidc))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .send(body.to_string());
    finish(OIDC, operation, &ep.oidc, started, sent)
}

pub(super) fn get_portal(
    ep: &Endpoints,
    operation: &'static str,
    path: &str,
    query: &[(&str, &str)],
    token: &Secret,
) -> Result<Reply, SsoError> {
    let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    let started = Instant::now();
    let sent = ep
        .agent
        .get(&format!("{}{path}?{}", ep.portal, query.join("&")))
        .header("x-amz-sso_bearer_token", token.expose())
        .header("Accept", "application/json")
        .call();
    finish(PORTAL, operation, &ep.portal, started, sent)
}

/// What an error answer means, whichever way the service said it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    AccessDenied,
    InvalidGrant,
    InvalidClient,
    Unauthorized,
    Forbidden,
    Throttled,
    Other,
}

/// An error answer, read: the service's code (shape name, else OAuth `error`, else
/// `HTTP <status>`) and its message with the request's secrets scrubbed out.
#[derive(Debug)]
pub(super) struct Fault {
    pub(super) kind: Kind,
    pub(super) status: u16,
    pub(super) code: String,
    pub(super) message: String,
}

/// Reads an error answer. The code comes from the `x-amzn-ErrorType` header
/// (`SlowDownException:http://...`), the body's `__type` (`...portal#UnauthorizedException`)
/// or `code`, and the OAuth `error` field (`slow_down`); the status decides only when none
/// of them is known.
pub(super) fn fault(reply: &Reply, secrets: &[&Secret]) -> Fault {
    let body = serde_json::from_str::<serde_json::Value>(&reply.body).unwrap_or_default();
    let text = |k: &str| body.get(k).and_then(|v| v.as_str()).filter(|s| !s.is_empty());
    let shape = reply
        .error_type
        .as_deref()
        .map(|t| t.split(':').next().unwrap_or(t))
        .or_else(|| text("__type").map(|t| t.rsplit('#').next().unwrap_or(t)))
        .or_else(|| text("code"))
        .or_else(|| text("Code"))
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let oauth = text("error");
    let by_name = |name: &str| match name {
        "AuthorizationPendingException" | "authorization_pending" => Kind::AuthorizationPending,
        "SlowDownException" | "slow_down" => Kind::SlowDown,
        "ExpiredTokenException" | "expired_token" => Kind::ExpiredToken,
        "AccessDeniedException" | "access_denied" => Kind::AccessDenied,
        "InvalidGrantException" | "invalid_grant" => Kind::InvalidGrant,
        "InvalidClientException" | "invalid_client" => Kind::InvalidClient,
        "UnauthorizedException" | "UnauthorizedClientException" | "unauthorized_client" => Kind::Unauthorized,
        "ForbiddenException" => Kind::Forbidden,
        "TooManyRequestsException" | "ThrottlingException" | "Throttling" | "SlowDown" => Kind::Throttled,
        _ => Kind::Other,
    };
    let mut kind = shape.map_or(Kind::Other, by_name);
    if kind == Kind::Other {
        kind = oauth.map_or(Kind::Other, by_name);
    }
    if kind == Kind::Other {
        kind = match reply.status {
            401 => Kind::Unauthorized,
            403 => Kind::Forbidden,
            429 => Kind::Throttled,
            _ => Kind::Other,
        };
    }
    let code = shape.or(oauth).map_or_else(|| format!("HTTP{}", reply.status), str::to_string);
    let message = text("error_description").or_else(|| text("message")).or_else(|| text("Message")).unwrap_or("");
    Fault { kind, status: reply.status, code: scrub(&code, secrets), message: scrub(message, secrets) }
}

/// `text` without any of `secrets` in it, cut to [`MAX_MESSAGE`] characters.
fn scrub(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if !s.expose().is_empty() {
            out = out.replace(s.expose(), REDACTED);
        }
    }
    if out.chars().count() > MAX_MESSAGE {
        out = out.chars().take(MAX_MESSAGE).collect::<String>() + "...";
    }
    out
}

impl Fault {
    pub(super) fn service_error(self, service: &'static str, operation: &'static str) -> SsoError {
        if self.kind == Kind::Throttled {
            return SsoError::Throttled { service, operation, status: self.status };
        }
        SsoError::Service { service, operation, status: self.status, code: self.code, message: self.message }
    }
}

/// Parses a 200 answer, describing a failure without quoting the body (it holds secrets).
pub(super) fn parse<T: DeserializeOwned>(
    service: &'static str,
    operation: &'static str,
    reply: &Reply,
) -> Result<T, SsoError> {
    serde_json::from_str(&reply.body).map_err(|e| SsoError::BadResponse { service, operation, problem: describe(&e) })
}

/// A serde_json error in words that cannot contain a value from the document.
pub(super) fn describe(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    if e.is_data() && msg.starts_with("missing field") {
        // "missing field `accessToken` at line 1 column 2": names only.
        return msg;
    }
    let what = match e.classify() {
        serde_json::error::Category::Data => "a field has the wrong type",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Eof => "the answer ends too soon",
        serde_json::error::Category::Io => "the answer could not be read",
    };
    format!("{what} (line {}, column {})", e.line(), e.column())
}

/// Now, to the second, in UTC (what the token file can hold exactly).
pub(super) fn now_utc() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or_else(|_| OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::sso::test_support::CANARY;
    use serde::Deserialize;
    use serde_json::json;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode("AAEA+accounts/2=="), "AAEA%2Baccounts%2F2%3D%3D");
        assert_eq!(encode("111111111111"), "111111111111");
        assert_eq!(encode("Admin Role"), "Admin%20Role");
    }

    // --- error answers --------------------------------------------------------------

    fn reply(status: u16, error_type: Option<&str>, body: serde_json::Value) -> Reply {
        Reply { status, error_type: error_type.map(str::to_string), body: body.to_string() }
    }

    #[test]
    fn faults_are_read_from_the_header_the_type_or_the_oauth_error() {
        let ns = "http://internal.amazon.com/coral/com.amazonaws.sso.oidc/";
        let cases = [
            (reply(400, Some(&format!("SlowDownException:{ns}")), json!({})), Kind::SlowDown, "SlowDownException"),
            (
                reply(400, None, json!({"error": "authorization_pending"})),
                Kind::AuthorizationPending,
                "authorization_pending",
            ),
            (
                reply(400, Some(&format!("ExpiredTokenException:{ns}")), json!({"error": "expired_token"})),
                Kind::ExpiredToken,
                "ExpiredTokenException",
            ),
            (reply(400, None, json!({"error": "access_denied"})), Kind::AccessDenied, "access_denied"),
            (reply(400, None, json!({"error": "invalid_grant"})), Kind::InvalidGrant, "invalid_grant"),
            (reply(401, Some("InvalidClientException"), json!({})), Kind::InvalidClient, "InvalidClientException"),
            (
                reply(401, None, json!({"__type": "com.amazonaws.switchboard.portal#UnauthorizedException"})),
                Kind::Unauthorized,
                "UnauthorizedException",
            ),
            (
                reply(
                    403,
                    None,
                    json!({"__type": "com.amazonaws.switchboard.portal#ForbiddenException", "message": "No access"}),
                ),
                Kind::Forbidden,
                "ForbiddenException",
            ),
            (reply(429, None, json!({"message": "Rate exceeded"})), Kind::Throttled, "HTTP429"),
            (reply(400, Some("TooManyRequestsException"), json!({})), Kind::Throttled, "TooManyRequestsException"),
            (reply(401, None, json!({})), Kind::Unauthorized, "HTTP401"),
            (reply(500, None, json!({"message": "boom"})), Kind::Other, "HTTP500"),
            (Reply { status: 502, error_type: None, body: "<html>".into() }, Kind::Other, "HTTP502"),
        ];
        for (r, kind, code) in cases {
            let f = fault(&r, &[]);
            assert_eq!((f.kind, f.code.as_str()), (kind, code), "{}", r.body);
        }
        let f = fault(&reply(403, None, json!({"message": "No access"})), &[]);
        assert_eq!(f.message, "No access");
    }

    #[test]
    fn service_messages_are_scrubbed_of_the_requests_secrets() {
        let secret = Secret::new("refresh-CANARYsecretVALUE");
        let r = reply(
            400,
            None,
            json!({"error": "weird", "error_description": format!("token {} is odd", secret.expose())}),
        );
        let err = fault(&r, &[&secret]).service_error(OIDC, "CreateToken");
        let shown = err.to_string();
        assert!(!shown.contains(CANARY), "{shown}");
        assert!(shown.contains("weird") && shown.contains(REDACTED), "{shown}");
        let long = "x".repeat(5000);
        assert!(scrub(&long, &[]).len() < 400);
    }

    #[test]
    fn describe_never_quotes_the_document() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct N {
            n: u64,
        }
        let e = serde_json::from_str::<N>(&format!(r#"{{"n": "{CANARY}"}}"#)).unwrap_err();
        assert!(e.to_string().contains(CANARY), "the raw message would have leaked");
        assert!(!describe(&e).contains(CANARY), "{}", describe(&e));
        let e = serde_json::from_str::<N>("{}").unwrap_err();
        assert!(describe(&e).starts_with("missing field `n`"));
    }
}
