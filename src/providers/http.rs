//! Blocking HTTPS for the token endpoints that are plain OAuth 2.0 (Google STS, IAM
//! Credentials, Google's and Microsoft's token endpoints): one small client, no runtime.
//! Bearer tokens and refresh tokens travel on these requests, so every URL must be https,
//! or http to a loopback address (tests); anything else is refused before a byte is sent.

use super::ProviderError;
use crate::secret::Secret;
use std::time::Duration;

/// A status and body; the body of an error is parsed by [`error_text`].
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// What a request is for, to name it in errors.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    pub identity: &'a str,
    pub service: &'static str,
    pub step: &'static str,
}

impl Call<'_> {
    pub fn unreachable(&self, url: &str, message: String) -> ProviderError {
        ProviderError::CloudUnreachable {
            identity: self.identity.to_string(),
            service: self.service,
            endpoint: strip_query(url),
            message,
        }
    }
    /// The service answered with an error status.
    pub fn refused(&self, reply: &Reply, hint: String) -> ProviderError {
        ProviderError::Refused {
            identity: self.identity.to_string(),
            service: self.service,
            step: self.step,
            status: reply.status,
            message: error_text(&reply.body),
            hint,
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into()
}

fn check(call: &Call<'_>, url: &str) -> Result<(), ProviderError> {
    if super::github::is_allowed_url(url) {
        Ok(())
    } else {
        Err(ProviderError::Setup {
            identity: call.identity.to_string(),
            message: format!(
                "{} endpoint `{}` is neither https nor http to a loopback address",
                call.service,
                strip_query(url)
            ),
            hint: "tokens travel to this endpoint: use https".into(),
            code: crate::exit::DATAERR,
        })
    }
}

fn finish(
    call: &Call<'_>,
    url: &str,
    sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Reply, ProviderError> {
    let mut resp = sent.map_err(|e| call.unreachable(url, e.to_string()))?;
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().map_err(|e| call.unreachable(url, e.to_string()))?;
    Ok(Reply { status, body })
}

/// POST `application/x-www-form-urlencoded`.
pub fn post_form(call: &Call<'_>, url: &str, fields: &[(&str, &str)]) -> Result<Reply, ProviderError> {
    check(call, url)?;
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{}={}", super::encode(k), super::encode(v))).collect();
    let sent = agent()
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "application/json")
        .send(body.join("&"));
    finish(call, url, sent)
}

/// POST `application/x-www-form-urlencoded` with extra headers (a DPoP proof).
pub fn post_form_with(
    call: &Call<'_>,
    url: &str,
    fields: &[(&str, &str)],
    headers: &[(String, String)],
) -> Result<Reply, ProviderError> {
    check(call, url)?;
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{}={}", super::encode(k), super::encode(v))).collect();
    let mut req = agent()
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "application/json");
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    finish(call, url, req.send(body.join("&")))
}

/// POST a JSON document with a bearer token.
pub fn post_json(call: &Call<'_>, url: &str, bearer: &Secret, doc: &serde_json::Value) -> Result<Reply, ProviderError> {
    check(call, url)?;
    let sent = agent()
        .post(url)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .header("Authorization", &format!("Bearer {}", bearer.expose()))
        .send(doc.to_string());
    finish(call, url, sent)
}

/// POST with no body, with a bearer token (an ARM action such as `listClusterUserCredential`).
pub fn post_empty(call: &Call<'_>, url: &str, bearer: &Secret) -> Result<Reply, ProviderError> {
    check(call, url)?;
    let sent = agent()
        .post(url)
        .header("Accept", "application/json")
        .header("Authorization", &format!("Bearer {}", bearer.expose()))
        .send_empty();
    finish(call, url, sent)
}

/// GET with extra headers.
pub fn get(call: &Call<'_>, url: &str, headers: &[(String, String)]) -> Result<Reply, ProviderError> {
    check(call, url)?;
    let mut req = agent().get(url).header("Accept", "application/json");
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    finish(call, url, req.call())
}

/// The `Date` header of a bare GET to `url`, whatever the status (`tfauth doctor`'s clock
/// check). The request carries no token, key or body, so unlike the calls above it may go
/// to any http(s) endpoint the user configured. `Ok(None)`: the server sent no `Date`.
pub fn server_date(url: &str, timeout: Duration) -> Result<Option<String>, String> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(format!("`{}` is not an http(s) URL", strip_query(url)));
    }
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build().into();
    let resp = agent.get(url).call().map_err(|e| e.to_string())?;
    Ok(resp.headers().get("date").and_then(|v| v.to_str().ok()).map(str::to_string))
}

/// The message of an OAuth error (`error` + `error_description`), a Google API error
/// (`error.status` + `error.message`), or the first line of anything else. Microsoft's
/// descriptions end in trace and correlation ids, kept out of the message.
pub fn error_text(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        let line = body.lines().next().unwrap_or("").trim();
        return if line.is_empty() { "(empty answer)".into() } else { line.chars().take(200).collect() };
    };
    if let Some(e) = v.get("error").filter(|e| e.is_object()) {
        let status = e.get("status").and_then(|s| s.as_str()).unwrap_or("");
        let message = e.get("message").and_then(|s| s.as_str()).unwrap_or("");
        return format!("{status}: {message}").trim_matches([' ', ':']).to_string();
    }
    let code = v.get("error").and_then(|s| s.as_str()).unwrap_or("error");
    let desc = v.get("error_description").and_then(|s| s.as_str()).unwrap_or("");
    let desc = desc.split("\r\n").next().unwrap_or(desc);
    let desc = desc.split(" Trace ID:").next().unwrap_or(desc).trim();
    if desc.is_empty() { code.to_string() } else { format!("{code}: {desc}") }
}

/// The OAuth `error` code of a reply, if it has one.
pub fn error_code(body: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(body).ok()?.get("error")?.as_str().map(str::to_string)
}

fn strip_query(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts() {
        assert_eq!(
            error_text(r#"{"error":"invalid_grant","error_description":"bad audience"}"#),
            "invalid_grant: bad audience"
        );
        assert_eq!(
            error_text(r#"{"error":{"code":403,"message":"Permission denied","status":"PERMISSION_DENIED"}}"#),
            "PERMISSION_DENIED: Permission denied"
        );
        assert_eq!(
            error_text(
                r#"{"error":"invalid_client","error_description":"AADSTS700213: No matching federated identity record found. Trace ID: 1 Correlation ID: 2"}"#
            ),
            "invalid_client: AADSTS700213: No matching federated identity record found."
        );
        assert_eq!(error_text("<html>oops</html>\nmore"), "<html>oops</html>");
        assert_eq!(error_code(r#"{"error":"slow_down"}"#).as_deref(), Some("slow_down"));
    }
}
