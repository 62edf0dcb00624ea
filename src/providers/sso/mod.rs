//! IAM Identity Center (AWS SSO) on the wire: the OAuth device flow through SSO-OIDC
//! (RegisterClient, StartDeviceAuthorization, CreateToken), the refresh-token grant, the
//! portal API (ListAccounts, ListAccountRoles, GetRoleCredentials), and the token cache file
//! in the AWS SDK's `ssocreds` JSON shape.
//!
//! Why it exists: a human login is a handful of small JSON calls, so tfauth speaks them with
//! one blocking HTTP client instead of pulling in two more SDK crates and an async runtime.
//! It is the network layer only: choosing when to log in, prompting, opening the browser,
//! locking and caching policy belong to the caller.
//!
//! What it must not do: print anything (the caller draws the prompt and the countdown from
//! [`PollEvent`]s), log a request or response body (only the operation and the status, at
//! debug level), or let a secret reach an error, a log line or `Debug` output. Every token,
//! client secret, refresh token and device code is a [`Secret`]; messages that a service
//! sends back are scrubbed of the secrets the request carried.
//!
//! Endpoints must be https, or http to loopback (tests): bearer tokens travel on them, and
//! redirects are never followed.

use super::encode;
use crate::cache::{Credentials, format_utc};
use crate::env_vars::Env;
use crate::exit;
use crate::secret::{REDACTED, Secret};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Endpoint URL for every AWS service (the SDKs' shared setting), below the per-service ones.
pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
/// Endpoint URL of the SSO-OIDC service (RegisterClient, StartDeviceAuthorization, CreateToken).
pub const AWS_ENDPOINT_URL_SSO_OIDC: &str = "AWS_ENDPOINT_URL_SSO_OIDC";
/// Endpoint URL of the SSO portal API (ListAccounts, ListAccountRoles, GetRoleCredentials).
pub const AWS_ENDPOINT_URL_SSO: &str = "AWS_ENDPOINT_URL_SSO";

/// The scope that lets the token call the portal API (and makes the service issue refresh tokens).
pub const SCOPE: &str = "sso:account:access";
/// CreateToken's grant type for the device flow (RFC 8628).
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// CreateToken's grant type for a silent refresh.
pub const REFRESH_GRANT: &str = "refresh_token";
/// How much `slow_down` adds to the polling interval (RFC 8628, section 3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// The polling interval when StartDeviceAuthorization names none (RFC 8628).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// How long a device code lives when StartDeviceAuthorization does not say.
pub const DEFAULT_DEVICE_EXPIRY: Duration = Duration::from_secs(600);
/// A client registration must have this much life left to start a device flow with it: a
/// device code lives up to ten minutes, and the registration must outlast the login.
pub const REGISTRATION_MARGIN: Duration = Duration::from_secs(15 * 60);

/// The longest single sleep while waiting between polls, so the caller's countdown moves.
const TICK: Duration = Duration::from_secs(1);
/// Per-request limit, connection and answer together.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// `max_result` asked of the portal's list operations (the service's maximum).
const PAGE_SIZE: &str = "100";
/// A portal that keeps answering `nextToken` past this many pages is broken.
const MAX_PAGES: usize = 10_000;
/// Service messages are cut to this many characters in errors.
const MAX_MESSAGE: usize = 300;

const OIDC: &str = "SSO-OIDC";
const PORTAL: &str = "the SSO portal";

// ---------------------------------------------------------------------------------------
// Errors

/// Why an IAM Identity Center call failed. Never carries a token or secret.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("{variable} is `{url}`, which is neither https nor http to a loopback address")]
    InsecureEndpoint { variable: &'static str, url: String },
    #[error("`{region}` is not an AWS region name")]
    BadRegion { region: String },
    #[error("cannot reach {service} at {endpoint} ({operation})")]
    Unreachable {
        service: &'static str,
        operation: &'static str,
        endpoint: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("{service} is throttling {operation} (HTTP {status})")]
    Throttled { service: &'static str, operation: &'static str, status: u16 },
    #[error("the SSO session expired or is invalid ({operation} answered {code}): log in again")]
    SessionExpired { operation: &'static str, code: String },
    #[error("access denied to {} ({operation}: {message})", forbidden_target(account_id.as_deref(), role_name.as_deref()))]
    Forbidden { operation: &'static str, account_id: Option<String>, role_name: Option<String>, message: String },
    #[error("the SSO login was denied in the browser")]
    AccessDenied,
    #[error("the SSO login timed out before the code was approved: start it again")]
    LoginTimedOut,
    #[error("the SSO refresh token is no longer valid: log in again")]
    RefreshTokenInvalid,
    #[error("the SSO client registration `{client_id}` is no longer valid ({operation})")]
    InvalidClient { operation: &'static str, client_id: String },
    #[error("{service} {operation} failed: HTTP {status} {code}: {message}")]
    Service { service: &'static str, operation: &'static str, status: u16, code: String, message: String },
    #[error("{service} {operation} answered something tfauth cannot read: {problem}")]
    BadResponse { service: &'static str, operation: &'static str, problem: String },
    #[error("cannot read the SSO token file {}", path.display())]
    TokenFileRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a usable SSO token file: {reason}", path.display())]
    TokenFileInvalid { path: PathBuf, reason: String },
    #[error("cannot write the SSO token file {}", path.display())]
    TokenFileWrite {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn forbidden_target(account_id: Option<&str>, role_name: Option<&str>) -> String {
    match (role_name, account_id) {
        (Some(r), Some(a)) => format!("permission set `{r}` in account {a}"),
        (None, Some(a)) => format!("account {a}"),
        (Some(r), None) => format!("permission set `{r}`"),
        (None, None) => "the SSO portal".into(),
    }
}

impl SsoError {
    /// The contract's exit code: 77 login required or access denied, 75 try again,
    /// 69 service unavailable, 65 bad configuration, 70 the cache file could not be used.
    pub fn exit_code(&self) -> i32 {
        match self {
            SsoError::SessionExpired { .. }
            | SsoError::Forbidden { .. }
            | SsoError::AccessDenied
            | SsoError::LoginTimedOut
            | SsoError::RefreshTokenInvalid
            | SsoError::InvalidClient { .. } => exit::NOPERM,
            SsoError::Throttled { .. } => exit::TEMPFAIL,
            SsoError::InsecureEndpoint { .. }
            | SsoError::Unreachable { .. }
            | SsoError::Service { .. }
            | SsoError::BadResponse { .. } => exit::UNAVAILABLE,
            SsoError::BadRegion { .. } => exit::DATAERR,
            SsoError::TokenFileRead { .. } | SsoError::TokenFileInvalid { .. } | SsoError::TokenFileWrite { .. } => {
                exit::SOFTWARE
            }
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            SsoError::InsecureEndpoint { .. } => {
                "bearer tokens travel to this endpoint: use https (http only to 127.0.0.1, [::1] or localhost, for tests)"
                    .into()
            }
            SsoError::BadRegion { .. } => {
                "set the provider's `region` to the region of your IAM Identity Center instance, e.g. us-east-1".into()
            }
            SsoError::Unreachable { .. } => {
                "check the network, or AWS_ENDPOINT_URL_SSO_OIDC / AWS_ENDPOINT_URL_SSO / AWS_ENDPOINT_URL if you point tfauth at another endpoint".into()
            }
            SsoError::Throttled { .. } => "IAM Identity Center is throttling requests; try again in a minute".into(),
            SsoError::SessionExpired { .. } | SsoError::RefreshTokenInvalid => {
                "run `tfauth auth login --provider <your IAM Identity Center provider>` to sign in again".into()
            }
            SsoError::Forbidden { .. } => {
                "you are not assigned this permission set in this account; check the identity's `principal.name` and `principal.account`, or ask your IAM Identity Center administrator".into()
            }
            SsoError::AccessDenied => {
                "run `tfauth auth login` again and allow the request in the browser, or ask your administrator for access to the portal".into()
            }
            SsoError::LoginTimedOut => {
                "run `tfauth auth login` again and approve the code in the browser before it expires".into()
            }
            SsoError::InvalidClient { .. } => {
                "tfauth registers a new client on the next login; run `tfauth auth login`".into()
            }
            SsoError::Service { .. } => "see the message from IAM Identity Center above".into(),
            SsoError::BadResponse { .. } => {
                "the endpoint did not answer like IAM Identity Center; check AWS_ENDPOINT_URL_SSO_OIDC / AWS_ENDPOINT_URL_SSO / AWS_ENDPOINT_URL".into()
            }
            SsoError::TokenFileRead { .. } | SsoError::TokenFileWrite { .. } => {
                "check the permissions of the cache directory (XDG_CACHE_HOME)".into()
            }
            SsoError::TokenFileInvalid { .. } => "remove the file and log in again with `tfauth auth login`".into(),
        })
    }
}

// ---------------------------------------------------------------------------------------
// Endpoints

/// Where the SSO-OIDC service and the portal API answer, and the HTTP agent that calls them.
#[derive(Clone)]
pub struct Endpoints {
    oidc: String,
    portal: String,
    agent: ureq::Agent,
}

impl fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoints").field("oidc", &self.oidc).field("portal", &self.portal).finish()
    }
}

impl Endpoints {
    /// SSO-OIDC: `AWS_ENDPOINT_URL_SSO_OIDC`, else `AWS_ENDPOINT_URL`, else
    /// `https://oidc.{region}.amazonaws.com`. Portal: `AWS_ENDPOINT_URL_SSO`, else
    /// `AWS_ENDPOINT_URL`, else `https://portal.sso.{region}.amazonaws.com`. China regions
    /// (`cn-*`) use `amazonaws.com.cn`. Only https, or http to loopback, is accepted.
    pub fn from_env(env: &Env, region: &str) -> Result<Endpoints, SsoError> {
        let region = region.trim().to_ascii_lowercase();
        let pick = |specific: &'static str, default: &dyn Fn() -> String| -> Result<(String, &'static str), SsoError> {
            if let Some(u) = env.get(specific) {
                return Ok((u.to_string(), specific));
            }
            if let Some(u) = env.get(AWS_ENDPOINT_URL) {
                return Ok((u.to_string(), AWS_ENDPOINT_URL));
            }
            if region.is_empty() || !region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(SsoError::BadRegion { region: region.clone() });
            }
            Ok((default(), "the default endpoint"))
        };
        let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
        let (oidc, oidc_from) = pick(AWS_ENDPOINT_URL_SSO_OIDC, &|| format!("https://oidc.{region}.{suffix}"))?;
        let (portal, portal_from) = pick(AWS_ENDPOINT_URL_SSO, &|| format!("https://portal.sso.{region}.{suffix}"))?;
        Endpoints::build(&oidc, oidc_from, &portal, portal_from)
    }

    /// Explicit base URLs (no trailing path needed), under the same https-or-loopback rule.
    pub fn new(oidc: &str, portal: &str) -> Result<Endpoints, SsoError> {
        Endpoints::build(oidc, "the SSO-OIDC endpoint", portal, "the SSO portal endpoint")
    }

    fn build(
        oidc: &str,
        oidc_from: &'static str,
        portal: &str,
        portal_from: &'static str,
    ) -> Result<Endpoints, SsoError> {
        for (url, variable) in [(oidc, oidc_from), (portal, portal_from)] {
            if !super::github::is_allowed_url(url) {
                return Err(SsoError::InsecureEndpoint { variable, url: url.to_string() });
            }
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            // A redirect would carry the bearer token or the client secret somewhere else.
            .max_redirects(0)
            .user_agent(concat!("tfauth/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Endpoints {
            oidc: oidc.trim_end_matches('/').to_string(),
            portal: portal.trim_end_matches('/').to_string(),
            agent,
        })
    }

    /// The SSO-OIDC base URL.
    pub fn oidc(&self) -> &str {
        &self.oidc
    }

    /// The portal API base URL.
    pub fn portal(&self) -> &str {
        &self.portal
    }
}

// ---------------------------------------------------------------------------------------
// HTTP

/// An answer: the status, the `x-amzn-ErrorType` header, the body.
struct Reply {
    status: u16,
    error_type: Option<String>,
    body: String,
}

fn finish(
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

fn post_oidc(ep: &Endpoints, operation: &'static str, path: &str, body: &serde_json::Value) -> Result<Reply, SsoError> {
    let started = Instant::now();
    let sent = ep
        .agent
        .post(&format!("{}{path}", ep.oidc))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .send(body.to_string());
    finish(OIDC, operation, &ep.oidc, started, sent)
}

fn get_portal(
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
enum Kind {
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
struct Fault {
    kind: Kind,
    status: u16,
    code: String,
    message: String,
}

/// Reads an error answer. The code comes from the `x-amzn-ErrorType` header
/// (`SlowDownException:http://...`), the body's `__type` (`...portal#UnauthorizedException`)
/// or `code`, and the OAuth `error` field (`slow_down`); the status decides only when none
/// of them is known.
fn fault(reply: &Reply, secrets: &[&Secret]) -> Fault {
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
    fn service_error(self, service: &'static str, operation: &'static str) -> SsoError {
        if self.kind == Kind::Throttled {
            return SsoError::Throttled { service, operation, status: self.status };
        }
        SsoError::Service { service, operation, status: self.status, code: self.code, message: self.message }
    }
}

/// Parses a 200 answer, describing a failure without quoting the body (it holds secrets).
fn parse<T: DeserializeOwned>(service: &'static str, operation: &'static str, reply: &Reply) -> Result<T, SsoError> {
    serde_json::from_str(&reply.body).map_err(|e| SsoError::BadResponse { service, operation, problem: describe(&e) })
}

/// A serde_json error in words that cannot contain a value from the document.
fn describe(e: &serde_json::Error) -> String {
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
fn now_utc() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or_else(|_| OffsetDateTime::now_utc())
}

// ---------------------------------------------------------------------------------------
// SSO-OIDC

/// A registered OAuth client (RegisterClient), reusable until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRegistration {
    pub client_id: String,
    pub client_secret: Secret,
    pub expires_at: OffsetDateTime,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterClientOut {
    client_id: String,
    client_secret: String,
    client_secret_expires_at: i64,
}

/// RegisterClient: a public client named `client_name`, with the `sso:account:access` scope
/// and the device-code and refresh-token grants (so CreateToken issues refresh tokens).
pub fn register_client(ep: &Endpoints, client_name: &str) -> Result<ClientRegistration, SsoError> {
    const OP: &str = "RegisterClient";
    let body = json!({
        "clientName": client_name,
        "clientType": "public",
        "scopes": [SCOPE],
        "grantTypes": [DEVICE_GRANT, REFRESH_GRANT],
    });
    let reply = post_oidc(ep, OP, "/client/register", &body)?;
    if reply.status != 200 {
        return Err(fault(&reply, &[]).service_error(OIDC, OP));
    }
    let out: RegisterClientOut = parse(OIDC, OP, &reply)?;
    let expires_at = OffsetDateTime::from_unix_timestamp(out.client_secret_expires_at).map_err(|_| {
        SsoError::BadResponse { service: OIDC, operation: OP, problem: "clientSecretExpiresAt is out of range".into() }
    })?;
    Ok(ClientRegistration { client_id: out.client_id, client_secret: Secret::new(out.client_secret), expires_at })
}

/// A pending device authorization (StartDeviceAuthorization): show `user_code` and
/// `verification_uri_complete` to the user, then [`poll_for_token`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceAuthorization {
    pub device_code: Secret,
    pub user_code: String,
    pub verification_uri: String,
    /// The verification URI with the user code filled in (`verification_uri` if the
    /// service sent none).
    pub verification_uri_complete: String,
    /// How long the device code lives.
    pub expires_in: Duration,
    /// How long to wait between polls.
    pub interval: Duration,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartDeviceOut {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: Option<String>,
    expires_in: Option<u64>,
    interval: Option<u64>,
}

/// StartDeviceAuthorization for the portal at `start_url`.
pub fn start_device_authorization(
    ep: &Endpoints,
    reg: &ClientRegistration,
    start_url: &str,
) -> Result<DeviceAuthorization, SsoError> {
    const OP: &str = "StartDeviceAuthorization";
    let body = json!({
        "clientId": reg.client_id,
        "clientSecret": reg.client_secret.expose(),
        "startUrl": start_url,
    });
    let reply = post_oidc(ep, OP, "/device_authorization", &body)?;
    if reply.status != 200 {
        let f = fault(&reply, &[&reg.client_secret]);
        if f.kind == Kind::InvalidClient {
            return Err(SsoError::InvalidClient { operation: OP, client_id: reg.client_id.clone() });
        }
        return Err(f.service_error(OIDC, OP));
    }
    let out: StartDeviceOut = parse(OIDC, OP, &reply)?;
    Ok(DeviceAuthorization {
        device_code: Secret::new(out.device_code),
        user_code: out.user_code,
        verification_uri_complete: out.verification_uri_complete.unwrap_or_else(|| out.verification_uri.clone()),
        verification_uri: out.verification_uri,
        expires_in: out.expires_in.map_or(DEFAULT_DEVICE_EXPIRY, Duration::from_secs),
        interval: out.interval.map_or(DEFAULT_INTERVAL, Duration::from_secs),
    })
}

/// An SSO access token (CreateToken).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub access_token: Secret,
    pub expires_at: OffsetDateTime,
    pub refresh_token: Option<Secret>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateTokenOut {
    access_token: String,
    expires_in: i64,
    refresh_token: Option<String>,
}

fn token_from(reply: &Reply, operation: &'static str) -> Result<Token, SsoError> {
    let out: CreateTokenOut = parse(OIDC, operation, reply)?;
    if out.access_token.is_empty() {
        return Err(SsoError::BadResponse { service: OIDC, operation, problem: "the access token is empty".into() });
    }
    Ok(Token {
        access_token: Secret::new(out.access_token),
        expires_at: now_utc() + time::Duration::seconds(out.expires_in),
        refresh_token: out.refresh_token.filter(|t| !t.is_empty()).map(Secret::new),
    })
}

/// What the polling loop tells its caller, to draw a countdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollEvent {
    /// Still waiting for the user; the device code expires in `remaining`. Sent about
    /// once a second.
    Waiting { remaining: Duration },
    /// The service asked to poll less often; polls are now `new_interval` apart.
    SlowDown { new_interval: Duration },
}

/// Time, for the polling loop: the real one in use, a fake in tests.
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Instant;
    /// Waits `duration` (a fake clock just moves on).
    fn sleep(&mut self, duration: Duration);
}

/// The real clock: `Instant::now` and `std::thread::sleep`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn sleep(&mut self, duration: Duration) {
        std::thread::sleep(duration)
    }
}

/// One poll's outcome, when it is not an error.
enum Poll {
    Token(Token),
    Pending,
    SlowDown,
}

/// Polls CreateToken with the device code until the user approves, on the real clock.
/// See [`poll_for_token_with`].
pub fn poll_for_token(
    ep: &Endpoints,
    reg: &ClientRegistration,
    auth: &DeviceAuthorization,
    observer: &mut dyn FnMut(PollEvent),
) -> Result<Token, SsoError> {
    poll_for_token_with(ep, reg, auth, &mut SystemClock, observer)
}

/// Polls CreateToken (the device-code grant) until the user approves: the first poll at
/// once, then `interval` apart (RFC 8628). `authorization_pending` keeps polling;
/// `slow_down` (or HTTP 429) adds 5 s to the interval; `expired_token`, or the device code
/// outliving `expires_in` counted from this call, is [`SsoError::LoginTimedOut`];
/// `access_denied` is [`SsoError::AccessDenied`].
pub fn poll_for_token_with(
    ep: &Endpoints,
    reg: &ClientRegistration,
    auth: &DeviceAuthorization,
    clock: &mut dyn Clock,
    observer: &mut dyn FnMut(PollEvent),
) -> Result<Token, SsoError> {
    poll_loop(auth.expires_in, auth.interval, clock, observer, &mut || poll_once(ep, reg, &auth.device_code))
}

fn poll_once(ep: &Endpoints, reg: &ClientRegistration, device_code: &Secret) -> Result<Poll, SsoError> {
    const OP: &str = "CreateToken";
    let body = json!({
        "clientId": reg.client_id,
        "clientSecret": reg.client_secret.expose(),
        "grantType": DEVICE_GRANT,
        "deviceCode": device_code.expose(),
    });
    let reply = post_oidc(ep, OP, "/token", &body)?;
    if reply.status == 200 {
        return token_from(&reply, OP).map(Poll::Token);
    }
    let f = fault(&reply, &[&reg.client_secret, device_code]);
    match f.kind {
        Kind::AuthorizationPending => Ok(Poll::Pending),
        // A 429 while a human is reading a code is a request to poll less often.
        Kind::SlowDown | Kind::Throttled => Ok(Poll::SlowDown),
        Kind::ExpiredToken => Err(SsoError::LoginTimedOut),
        Kind::AccessDenied => Err(SsoError::AccessDenied),
        Kind::InvalidClient => Err(SsoError::InvalidClient { operation: OP, client_id: reg.client_id.clone() }),
        _ => Err(f.service_error(OIDC, OP)),
    }
}

/// The polling schedule, apart from the network: `poll` at once, then every `interval`
/// (at least 1 s), sleeping in ticks of at most [`TICK`] and telling `observer` each time.
fn poll_loop(
    expires_in: Duration,
    interval: Duration,
    clock: &mut dyn Clock,
    observer: &mut dyn FnMut(PollEvent),
    poll: &mut dyn FnMut() -> Result<Poll, SsoError>,
) -> Result<Token, SsoError> {
    let deadline = clock.now() + expires_in;
    let mut interval = interval.max(Duration::from_secs(1));
    loop {
        if clock.now() >= deadline {
            return Err(SsoError::LoginTimedOut);
        }
        match poll()? {
            Poll::Token(t) => return Ok(t),
            Poll::Pending => {}
            Poll::SlowDown => {
                interval += SLOW_DOWN_STEP;
                observer(PollEvent::SlowDown { new_interval: interval });
            }
        }
        let next = clock.now() + interval;
        loop {
            let now = clock.now();
            if now >= next {
                break;
            }
            let remaining = deadline.saturating_duration_since(now);
            if remaining.is_zero() {
                return Err(SsoError::LoginTimedOut);
            }
            observer(PollEvent::Waiting { remaining });
            clock.sleep(TICK.min(next - now).min(remaining));
        }
    }
}

/// CreateToken with the refresh-token grant: a new access token without the browser. The
/// answer's refresh token if it sends one, else `refresh_token` again (it stays valid).
/// [`SsoError::RefreshTokenInvalid`] when the service no longer accepts it.
pub fn refresh(ep: &Endpoints, reg: &ClientRegistration, refresh_token: &Secret) -> Result<Token, SsoError> {
    const OP: &str = "CreateToken";
    let body = json!({
        "clientId": reg.client_id,
        "clientSecret": reg.client_secret.expose(),
        "grantType": REFRESH_GRANT,
        "refreshToken": refresh_token.expose(),
    });
    let reply = post_oidc(ep, OP, "/token", &body)?;
    if reply.status == 200 {
        let mut t = token_from(&reply, OP)?;
        t.refresh_token = t.refresh_token.or_else(|| Some(refresh_token.clone()));
        return Ok(t);
    }
    let f = fault(&reply, &[&reg.client_secret, refresh_token]);
    Err(match f.kind {
        Kind::InvalidGrant | Kind::ExpiredToken => SsoError::RefreshTokenInvalid,
        Kind::InvalidClient => SsoError::InvalidClient { operation: OP, client_id: reg.client_id.clone() },
        _ => f.service_error(OIDC, OP),
    })
}

// ---------------------------------------------------------------------------------------
// The token file

/// The cached SSO session for one portal, in the AWS SDK's `ssocreds` JSON shape
/// (`accessToken`, `expiresAt`, `refreshToken`, `clientId`, `clientSecret`,
/// `registrationExpiresAt`, `region`, `startUrl`; times RFC 3339 in UTC), so it holds the
/// token and the client registration that can refresh it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenFile {
    pub access_token: Secret,
    pub expires_at: OffsetDateTime,
    pub refresh_token: Option<Secret>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub registration_expires_at: Option<OffsetDateTime>,
    pub region: String,
    pub start_url: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenFileJson {
    access_token: String,
    expires_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    registration_expires_at: Option<String>,
    region: String,
    start_url: String,
}

impl TokenFile {
    /// The file for `token`, and for `reg` when the token came from that registration.
    pub fn new(start_url: &str, region: &str, token: &Token, reg: Option<&ClientRegistration>) -> TokenFile {
        TokenFile {
            access_token: token.access_token.clone(),
            expires_at: token.expires_at,
            refresh_token: token.refresh_token.clone(),
            client_id: reg.map(|r| r.client_id.clone()),
            client_secret: reg.map(|r| r.client_secret.clone()),
            registration_expires_at: reg.map(|r| r.expires_at),
            region: region.to_string(),
            start_url: start_url.to_string(),
        }
    }

    /// The token it holds.
    pub fn token(&self) -> Token {
        Token {
            access_token: self.access_token.clone(),
            expires_at: self.expires_at,
            refresh_token: self.refresh_token.clone(),
        }
    }

    /// The client registration it holds, if it holds a whole one.
    pub fn registration(&self) -> Option<ClientRegistration> {
        Some(ClientRegistration {
            client_id: self.client_id.clone()?,
            client_secret: self.client_secret.clone()?,
            expires_at: self.registration_expires_at?,
        })
    }

    /// Whether the access token has more than `margin` of life left at `now`.
    pub fn access_token_valid(&self, now: OffsetDateTime, margin: Duration) -> bool {
        !self.access_token.expose().is_empty() && self.expires_at - now > margin
    }

    /// Whether the client registration is whole and has more than [`REGISTRATION_MARGIN`]
    /// left at `now`: enough to start a device flow or refresh with it.
    pub fn registration_valid(&self, now: OffsetDateTime) -> bool {
        self.registration().is_some_and(|r| r.expires_at - now > REGISTRATION_MARGIN)
    }

    /// Whether this is the session of the portal at `start_url` in `region` (compared as
    /// [`token_cache_path`] compares them).
    pub fn is_for(&self, start_url: &str, region: &str) -> bool {
        portal_key(&self.start_url, &self.region) == portal_key(start_url, region)
    }

    /// The JSON document (one line).
    pub fn to_json(&self) -> String {
        let doc = TokenFileJson {
            access_token: self.access_token.expose().to_string(),
            expires_at: format_utc(self.expires_at),
            refresh_token: self.refresh_token.as_ref().map(|s| s.expose().to_string()),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.as_ref().map(|s| s.expose().to_string()),
            registration_expires_at: self.registration_expires_at.map(format_utc),
            region: self.region.clone(),
            start_url: self.start_url.clone(),
        };
        serde_json::to_string(&doc).unwrap_or_default()
    }

    /// Parses the document; the reason for a refusal never quotes the document.
    pub fn from_json(text: &str) -> Result<TokenFile, String> {
        let doc: TokenFileJson = serde_json::from_str(text).map_err(|e| describe(&e))?;
        let time = |field: &str, v: &str| {
            OffsetDateTime::parse(v, &Rfc3339)
                .map(|t| t.to_offset(time::UtcOffset::UTC))
                .map_err(|_| format!("`{field}` is not an RFC 3339 time"))
        };
        Ok(TokenFile {
            expires_at: time("expiresAt", &doc.expires_at)?,
            registration_expires_at: doc
                .registration_expires_at
                .as_deref()
                .map(|v| time("registrationExpiresAt", v))
                .transpose()?,
            access_token: Secret::new(doc.access_token),
            refresh_token: doc.refresh_token.filter(|s| !s.is_empty()).map(Secret::new),
            client_id: doc.client_id.filter(|s| !s.is_empty()),
            client_secret: doc.client_secret.filter(|s| !s.is_empty()).map(Secret::new),
            region: doc.region,
            start_url: doc.start_url,
        })
    }

    /// Reads the file at `path`: `None` if there is none.
    pub fn load(path: &Path) -> Result<Option<TokenFile>, SsoError> {
        // Only a regular file of the user's, in a directory of the user's, never a link.
        let text = match crate::fsutil::read_private(path, crate::cache::ENTRY_CAP) {
            Ok(Some(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
            Ok(None) => return Ok(None),
            Err(source) => return Err(SsoError::TokenFileRead { path: path.to_path_buf(), source }),
        };
        TokenFile::from_json(&text)
            .map(Some)
            .map_err(|reason| SsoError::TokenFileInvalid { path: path.to_path_buf(), reason })
    }

    /// Writes the file at `path`: 0600 in a 0700 directory, replaced atomically.
    pub fn save(&self, path: &Path) -> Result<(), SsoError> {
        crate::fsutil::write_private_atomic(path, self.to_json().as_bytes())
            .map_err(|source| SsoError::TokenFileWrite { path: path.to_path_buf(), source })
    }
}

/// The portal's identity for the cache: the start URL without surrounding blanks or
/// trailing `/` and `#` (`.../start`, `.../start/` and `.../start/#/` are one portal), and
/// the region in lower case.
fn portal_key(start_url: &str, region: &str) -> String {
    format!("{}\n{}", start_url.trim().trim_end_matches(['/', '#']), region.trim().to_ascii_lowercase())
}

/// `cache_root/sso/<sha256 hex of the portal key>.json`: one token file per portal (start
/// URL and region), shared by every provider that points at it.
pub fn token_cache_path(cache_root: &Path, start_url: &str, region: &str) -> PathBuf {
    let hex: String =
        Sha256::digest(portal_key(start_url, region).as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    cache_root.join("sso").join(format!("{hex}.json"))
}

// ---------------------------------------------------------------------------------------
// The portal API

/// An account the signed-in user is assigned to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub email: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListAccountsOut {
    next_token: Option<String>,
    account_list: Option<Vec<AccountOut>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountOut {
    account_id: String,
    account_name: Option<String>,
    email_address: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListRolesOut {
    next_token: Option<String>,
    role_list: Option<Vec<RoleOut>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleOut {
    role_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleCredentialsOut {
    role_credentials: RoleCredentials,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    expiration: i64,
}

/// A portal GET, its errors read: 401 → session expired, 403 → access denied (naming the
/// account and role), 429 → throttled.
fn portal_call<T: DeserializeOwned>(
    ep: &Endpoints,
    token: &Secret,
    operation: &'static str,
    path: &str,
    query: &[(&str, &str)],
    account_id: Option<&str>,
    role_name: Option<&str>,
) -> Result<T, SsoError> {
    let reply = get_portal(ep, operation, path, query, token)?;
    if reply.status == 200 {
        return parse(PORTAL, operation, &reply);
    }
    let f = fault(&reply, &[token]);
    Err(match f.kind {
        Kind::Unauthorized => SsoError::SessionExpired { operation, code: f.code },
        Kind::Forbidden | Kind::AccessDenied => SsoError::Forbidden {
            operation,
            account_id: account_id.map(str::to_string),
            role_name: role_name.map(str::to_string),
            message: f.message,
        },
        _ => f.service_error(PORTAL, operation),
    })
}

/// Follows `nextToken` until the last page, refusing a portal that never stops.
fn all_pages<T>(
    operation: &'static str,
    mut page: impl FnMut(Option<&str>) -> Result<(Vec<T>, Option<String>), SsoError>,
) -> Result<Vec<T>, SsoError> {
    let mut all = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let (items, token) = page(next.as_deref())?;
        all.extend(items);
        match token.filter(|t| !t.is_empty()) {
            Some(t) if next.as_deref() == Some(t.as_str()) => break,
            Some(t) => next = Some(t),
            None => return Ok(all),
        }
    }
    Err(SsoError::BadResponse { service: PORTAL, operation, problem: "the pages never end".into() })
}

/// ListAccounts, every page: the accounts the signed-in user may use.
pub fn list_accounts(ep: &Endpoints, access_token: &Secret) -> Result<Vec<Account>, SsoError> {
    const OP: &str = "ListAccounts";
    all_pages(OP, |next| {
        let mut query = vec![("max_result", PAGE_SIZE)];
        query.extend(next.map(|t| ("next_token", t)));
        let out: ListAccountsOut = portal_call(ep, access_token, OP, "/assignment/accounts", &query, None, None)?;
        let accounts = out
            .account_list
            .unwrap_or_default()
            .into_iter()
            .map(|a| Account {
                id: a.account_id,
                name: a.account_name.unwrap_or_default(),
                email: a.email_address.unwrap_or_default(),
            })
            .collect();
        Ok((accounts, out.next_token))
    })
}

/// ListAccountRoles, every page: the permission sets the user may use in `account_id`.
pub fn list_account_roles(ep: &Endpoints, access_token: &Secret, account_id: &str) -> Result<Vec<String>, SsoError> {
    const OP: &str = "ListAccountRoles";
    all_pages(OP, |next| {
        let mut query = vec![("account_id", account_id), ("max_result", PAGE_SIZE)];
        query.extend(next.map(|t| ("next_token", t)));
        let out: ListRolesOut = portal_call(ep, access_token, OP, "/assignment/roles", &query, Some(account_id), None)?;
        Ok((out.role_list.unwrap_or_default().into_iter().map(|r| r.role_name).collect(), out.next_token))
    })
}

/// GetRoleCredentials: session credentials for permission set `role_name` in `account_id`.
pub fn get_role_credentials(
    ep: &Endpoints,
    access_token: &Secret,
    account_id: &str,
    role_name: &str,
) -> Result<Credentials, SsoError> {
    const OP: &str = "GetRoleCredentials";
    let query = [("account_id", account_id), ("role_name", role_name)];
    let out: RoleCredentialsOut =
        portal_call(ep, access_token, OP, "/federation/credentials", &query, Some(account_id), Some(role_name))?;
    let c = out.role_credentials;
    let bad = |problem: &str| SsoError::BadResponse { service: PORTAL, operation: OP, problem: problem.into() };
    if c.access_key_id.is_empty() || c.secret_access_key.is_empty() {
        return Err(bad("the credentials are empty"));
    }
    let expiration = OffsetDateTime::from_unix_timestamp_nanos(i128::from(c.expiration) * 1_000_000)
        .map_err(|_| bad("the expiration is out of range"))?;
    Ok(Credentials {
        access_key_id: c.access_key_id,
        secret_access_key: Secret::new(c.secret_access_key),
        session_token: c.session_token.filter(|t| !t.is_empty()).map(Secret::new),
        expiration: Some(expiration),
        issued: Some(now_utc()),
    })
}

/// Logout: ends the portal session of `access_token` at the service, so a copy of the
/// token left anywhere stops working. A token the service already rejects is logged out.
pub fn logout(ep: &Endpoints, access_token: &Secret) -> Result<(), SsoError> {
    const OP: &str = "Logout";
    let started = Instant::now();
    let sent = ep
        .agent
        .post(&format!("{}/logout", ep.portal))
        .header("x-amz-sso_bearer_token", access_token.expose())
        .header("Accept", "application/json")
        .send_empty();
    let reply = finish(PORTAL, OP, &ep.portal, started, sent)?;
    if reply.status == 200 {
        return Ok(());
    }
    let f = fault(&reply, &[access_token]);
    match f.kind {
        Kind::Unauthorized => Ok(()),
        _ => Err(f.service_error(PORTAL, OP)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    const CANARY: &str = "CANARYsecretVALUE";

    fn t(s: &str) -> OffsetDateTime {
        OffsetDateTime::parse(s, &Rfc3339).unwrap()
    }

    fn sample() -> TokenFile {
        TokenFile {
            access_token: Secret::new("access-CANARYsecretVALUE"),
            expires_at: t("2026-11-22T01:02:03Z"),
            refresh_token: Some(Secret::new("refresh-CANARYsecretVALUE")),
            client_id: Some("client-1".into()),
            client_secret: Some(Secret::new("client-secret-CANARYsecretVALUE")),
            registration_expires_at: Some(t("2027-02-20T00:00:00Z")),
            region: "us-east-1".into(),
            start_url: "https://d-1234567890.awsapps.com/start".into(),
        }
    }

    #[test]
    fn token_file_round_trips_in_the_sdk_field_names() {
        let f = sample();
        let text = f.to_json();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "accessToken",
                "expiresAt",
                "refreshToken",
                "clientId",
                "clientSecret",
                "registrationExpiresAt",
                "region",
                "startUrl"
            ]
        );
        assert_eq!(doc["accessToken"], "access-CANARYsecretVALUE");
        assert_eq!(doc["expiresAt"], "2026-11-22T01:02:03Z");
        assert_eq!(doc["refreshToken"], "refresh-CANARYsecretVALUE");
        assert_eq!(doc["clientId"], "client-1");
        assert_eq!(doc["clientSecret"], "client-secret-CANARYsecretVALUE");
        assert_eq!(doc["registrationExpiresAt"], "2027-02-20T00:00:00Z");
        assert_eq!(doc["region"], "us-east-1");
        assert_eq!(doc["startUrl"], "https://d-1234567890.awsapps.com/start");
        assert_eq!(TokenFile::from_json(&text).unwrap(), f);
    }

    #[test]
    fn token_file_reads_what_other_sdks_write() {
        // botocore's legacy shape (no registration) with fractional seconds and an offset.
        let f = TokenFile::from_json(
            r#"{"startUrl": "https://x.awsapps.com/start", "region": "eu-west-1", "accessToken": "a", "expiresAt": "2026-01-02T03:04:05.678+01:00"}"#,
        )
        .unwrap();
        assert_eq!(f.expires_at, t("2026-01-02T02:04:05.678Z"));
        assert_eq!(f.expires_at.offset(), time::UtcOffset::UTC);
        assert!(f.refresh_token.is_none() && f.registration().is_none());
        let no_region = TokenFile::from_json(r#"{"accessToken": "a", "expiresAt": "2026-01-02T03:04:05Z"}"#);
        assert!(no_region.unwrap_err().contains("missing field"));
    }

    #[test]
    fn a_bad_token_file_is_refused_without_quoting_it() {
        for text in [
            format!(r#"{{"accessToken": 5, "expiresAt": "{CANARY}", "region": "r", "startUrl": "s"}}"#),
            format!(r#"{{"accessToken": "{CANARY}", "expiresAt": "{CANARY}", "region": "r", "startUrl": "s"}}"#),
            format!(r#"{{"accessToken": "{CANARY}", "#),
            format!(r#"{{"accessToken": "{CANARY}", "expiresAt": 17, "region": "r", "startUrl": "s"}}"#),
        ] {
            let reason = TokenFile::from_json(&text).unwrap_err();
            assert!(!reason.contains(CANARY), "{reason}");
        }
    }

    #[test]
    fn save_is_private_and_load_reads_it_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = token_cache_path(dir.path(), "https://x.awsapps.com/start", "us-east-1");
        assert_eq!(TokenFile::load(&path).unwrap(), None);
        let f = sample();
        f.save(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(TokenFile::load(&path).unwrap(), Some(f));
        std::fs::write(&path, format!("{{\"accessToken\": \"{CANARY}\"")).unwrap();
        let err = TokenFile::load(&path).unwrap_err();
        assert!(matches!(err, SsoError::TokenFileInvalid { .. }), "{err}");
        assert!(!err.to_string().contains(CANARY), "{err}");
    }

    #[test]
    fn one_cache_file_per_portal() {
        let root = Path::new("/c");
        let p = token_cache_path(root, "https://d-1.awsapps.com/start", "us-east-1");
        let expected: String =
            Sha256::digest(b"https://d-1.awsapps.com/start\nus-east-1").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(p, root.join("sso").join(format!("{expected}.json")));
        assert_eq!(expected.len(), 64);
        // The same portal written differently shares the file.
        for (url, region) in [
            ("https://d-1.awsapps.com/start/", "us-east-1"),
            ("https://d-1.awsapps.com/start/#/", "US-EAST-1"),
            (" https://d-1.awsapps.com/start ", " us-east-1"),
        ] {
            assert_eq!(token_cache_path(root, url, region), p, "{url} {region}");
        }
        // Another portal, or the same start URL in another region, does not.
        assert_ne!(token_cache_path(root, "https://d-2.awsapps.com/start", "us-east-1"), p);
        assert_ne!(token_cache_path(root, "https://d-1.awsapps.com/start", "us-east-2"), p);
        let f = sample();
        assert!(f.is_for("https://d-1234567890.awsapps.com/start/", "US-EAST-1"));
        assert!(!f.is_for("https://d-1234567890.awsapps.com/start", "us-west-2"));
    }

    #[test]
    fn validity_checks() {
        let f = sample();
        let exp = f.expires_at;
        let margin = Duration::from_secs(600);
        assert!(f.access_token_valid(exp - time::Duration::minutes(11), margin));
        assert!(!f.access_token_valid(exp - time::Duration::minutes(10), margin), "exactly the margin left");
        assert!(!f.access_token_valid(exp + time::Duration::seconds(1), Duration::ZERO));
        assert!(f.access_token_valid(exp - time::Duration::seconds(1), Duration::ZERO));
        let empty = TokenFile { access_token: Secret::new(""), ..f.clone() };
        assert!(!empty.access_token_valid(exp - time::Duration::days(1), margin));

        let reg_exp = f.registration_expires_at.unwrap();
        assert!(f.registration_valid(reg_exp - time::Duration::minutes(16)));
        assert!(!f.registration_valid(reg_exp - time::Duration::minutes(15)), "too close for a device flow");
        assert!(!f.registration_valid(reg_exp + time::Duration::days(1)));
        let half = TokenFile { client_secret: None, ..f.clone() };
        assert!(!half.registration_valid(reg_exp - time::Duration::days(30)));
        let reg = f.registration().unwrap();
        assert_eq!((reg.client_id.as_str(), reg.expires_at), ("client-1", reg_exp));
    }

    #[test]
    fn new_and_token_agree() {
        let token = Token {
            access_token: Secret::new("a"),
            expires_at: t("2026-01-01T00:00:00Z"),
            refresh_token: Some(Secret::new("r")),
        };
        let reg = ClientRegistration {
            client_id: "c".into(),
            client_secret: Secret::new("s"),
            expires_at: t("2026-03-01T00:00:00Z"),
        };
        let f = TokenFile::new("https://x/start", "us-east-1", &token, Some(&reg));
        assert_eq!(f.token(), token);
        assert_eq!(f.registration(), Some(reg));
        let bare = TokenFile::new("https://x/start", "us-east-1", &token, None);
        assert_eq!(bare.registration(), None);
        assert!(!bare.to_json().contains("clientId"));
    }

    #[test]
    fn debug_output_of_every_secret_bearing_type_is_redacted() {
        let reg = ClientRegistration {
            client_id: "client".into(),
            client_secret: Secret::new(CANARY),
            expires_at: t("2026-01-01T00:00:00Z"),
        };
        let auth = DeviceAuthorization {
            device_code: Secret::new(CANARY),
            user_code: "ABCD-EFGH".into(),
            verification_uri: "https://device".into(),
            verification_uri_complete: "https://device?user_code=ABCD-EFGH".into(),
            expires_in: Duration::from_secs(600),
            interval: Duration::from_secs(5),
        };
        let token = Token {
            access_token: Secret::new(CANARY),
            expires_at: reg.expires_at,
            refresh_token: Some(Secret::new(CANARY)),
        };
        let creds = Credentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: Secret::new(CANARY),
            session_token: Some(Secret::new(CANARY)),
            expiration: None,
            issued: None,
        };
        let file = sample();
        for shown in [
            format!("{reg:?}"),
            format!("{auth:?}"),
            format!("{token:?}"),
            format!("{creds:?}"),
            format!("{file:?}"),
            format!("{file:#?}"),
        ] {
            assert!(!shown.contains(CANARY), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
        }
        let ep = Endpoints::new("http://127.0.0.1:1", "http://127.0.0.1:2").unwrap();
        assert_eq!(format!("{ep:?}"), r#"Endpoints { oidc: "http://127.0.0.1:1", portal: "http://127.0.0.1:2" }"#);
    }

    // --- endpoints ------------------------------------------------------------------

    #[test]
    fn endpoint_selection() {
        // (variables, SSO-OIDC URL, portal URL)
        type Case = (&'static [(&'static str, &'static str)], &'static str, &'static str);
        let cases: &[Case] = &[
            (&[], "https://oidc.us-east-2.amazonaws.com", "https://portal.sso.us-east-2.amazonaws.com"),
            (&[(AWS_ENDPOINT_URL, "http://127.0.0.1:9/")], "http://127.0.0.1:9", "http://127.0.0.1:9"),
            (
                &[(AWS_ENDPOINT_URL, "http://127.0.0.1:9"), (AWS_ENDPOINT_URL_SSO_OIDC, "https://oidc.example")],
                "https://oidc.example",
                "http://127.0.0.1:9",
            ),
            (
                &[(AWS_ENDPOINT_URL, "http://127.0.0.1:9"), (AWS_ENDPOINT_URL_SSO, "https://portal.example")],
                "http://127.0.0.1:9",
                "https://portal.example",
            ),
            (
                &[(AWS_ENDPOINT_URL_SSO, "https://portal.example")],
                "https://oidc.us-east-2.amazonaws.com",
                "https://portal.example",
            ),
            // Empty values read as unset.
            (
                &[(AWS_ENDPOINT_URL_SSO_OIDC, "")],
                "https://oidc.us-east-2.amazonaws.com",
                "https://portal.sso.us-east-2.amazonaws.com",
            ),
        ];
        for (vars, oidc, portal) in cases {
            let ep = Endpoints::from_env(&Env::from_pairs(vars.iter().copied()), "us-east-2").unwrap();
            assert_eq!((ep.oidc(), ep.portal()), (*oidc, *portal), "{vars:?}");
        }
        let cn = Endpoints::from_env(&Env::default(), "cn-north-1").unwrap();
        assert_eq!(cn.oidc(), "https://oidc.cn-north-1.amazonaws.com.cn");
        assert_eq!(cn.portal(), "https://portal.sso.cn-north-1.amazonaws.com.cn");
    }

    #[test]
    fn only_https_or_loopback_endpoints() {
        for (name, url) in [
            (AWS_ENDPOINT_URL_SSO_OIDC, "http://oidc.example.com"),
            (AWS_ENDPOINT_URL_SSO, "http://127.0.0.1.evil.com"),
            (AWS_ENDPOINT_URL, "ftp://127.0.0.1/"),
        ] {
            let err = Endpoints::from_env(&Env::from_pairs([(name, url)]), "us-east-1").unwrap_err();
            assert!(matches!(&err, SsoError::InsecureEndpoint { variable, .. } if *variable == name), "{err}");
            assert!(err.to_string().contains(name) && err.to_string().contains(url), "{err}");
            assert_eq!(err.exit_code(), exit::UNAVAILABLE);
        }
        for url in ["http://localhost:8080", "http://[::1]:9", "https://sso.example"] {
            assert!(Endpoints::new(url, url).is_ok(), "{url}");
        }
        assert!(Endpoints::new("https://ok", "http://example.com").is_err());
        for region in ["", "us-east-1.evil.com/x", "us east"] {
            let err = Endpoints::from_env(&Env::default(), region).unwrap_err();
            assert!(matches!(err, SsoError::BadRegion { .. }), "{region}: {err}");
        }
        // With both endpoints given, the region does not make a URL and is not checked.
        assert!(Endpoints::from_env(&Env::from_pairs([(AWS_ENDPOINT_URL, "https://x")]), "").is_ok());
    }

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
    fn exit_codes_and_hints() {
        let forbidden = SsoError::Forbidden {
            operation: "GetRoleCredentials",
            account_id: Some("111111111111".into()),
            role_name: Some("Admin".into()),
            message: "No access".into(),
        };
        assert!(forbidden.to_string().contains("permission set `Admin` in account 111111111111"), "{forbidden}");
        for (e, code) in [
            (forbidden, 77),
            (SsoError::SessionExpired { operation: "ListAccounts", code: "UnauthorizedException".into() }, 77),
            (SsoError::AccessDenied, 77),
            (SsoError::LoginTimedOut, 77),
            (SsoError::RefreshTokenInvalid, 77),
            (SsoError::Throttled { service: PORTAL, operation: "ListAccounts", status: 429 }, 75),
            (SsoError::BadResponse { service: OIDC, operation: "CreateToken", problem: "x".into() }, 69),
            (SsoError::BadRegion { region: "x y".into() }, 65),
        ] {
            assert_eq!(e.exit_code(), code, "{e}");
            assert!(e.hint().is_some_and(|h| !h.is_empty()), "{e}");
        }
        assert!(SsoError::RefreshTokenInvalid.to_string().contains("log in again"));
        let pe: crate::providers::ProviderError = SsoError::LoginTimedOut.into();
        assert_eq!(pe.exit_code(), 77);
        assert_eq!(pe.to_string(), SsoError::LoginTimedOut.to_string());
        assert_eq!(pe.hint(), SsoError::LoginTimedOut.hint());
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

    // --- the polling schedule -------------------------------------------------------

    /// A clock that only moves when slept on, recording the sleeps.
    struct FakeClock {
        base: Instant,
        elapsed: Rc<Cell<Duration>>,
        sleeps: Rc<RefCell<Vec<Duration>>>,
    }

    impl FakeClock {
        fn new() -> FakeClock {
            FakeClock { base: Instant::now(), elapsed: Rc::default(), sleeps: Rc::default() }
        }
    }

    impl Clock for FakeClock {
        fn now(&self) -> Instant {
            self.base + self.elapsed.get()
        }
        fn sleep(&mut self, d: Duration) {
            self.sleeps.borrow_mut().push(d);
            self.elapsed.set(self.elapsed.get() + d);
        }
    }

    fn token() -> Token {
        Token { access_token: Secret::new("a"), expires_at: t("2030-01-01T00:00:00Z"), refresh_token: None }
    }

    #[derive(Clone, Copy, Debug)]
    enum Step {
        Pending,
        SlowDown,
        Done,
        Denied,
    }

    /// Runs the loop over scripted answers; returns the result, the (fake) seconds at which
    /// each poll happened, and the events.
    fn schedule(
        steps: &[Step],
        expires_in: u64,
        interval: u64,
    ) -> (Result<Token, SsoError>, Vec<f64>, Vec<PollEvent>, Vec<Duration>) {
        let mut clock = FakeClock::new();
        let elapsed = clock.elapsed.clone();
        let sleeps = clock.sleeps.clone();
        let mut at = Vec::new();
        let mut events = Vec::new();
        let mut script = steps.iter().copied();
        let result = poll_loop(
            Duration::from_secs(expires_in),
            Duration::from_secs(interval),
            &mut clock,
            &mut |e| events.push(e),
            &mut || {
                at.push(elapsed.get().as_secs_f64());
                match script.next().unwrap_or(Step::Pending) {
                    Step::Pending => Ok(Poll::Pending),
                    Step::SlowDown => Ok(Poll::SlowDown),
                    Step::Done => Ok(Poll::Token(token())),
                    Step::Denied => Err(SsoError::AccessDenied),
                }
            },
        );
        let sleeps = sleeps.borrow().clone();
        (result, at, events, sleeps)
    }

    #[test]
    fn polls_at_once_then_every_interval() {
        use Step::*;
        let (r, at, events, sleeps) = schedule(&[Pending, Pending, Done], 600, 2);
        assert_eq!(r.unwrap(), token());
        assert_eq!(at, [0.0, 2.0, 4.0]);
        assert!(sleeps.iter().all(|s| *s <= TICK), "{sleeps:?}");
        // One Waiting per tick, counting down to the device code's expiry.
        let remaining: Vec<u64> = events
            .iter()
            .map(|e| match e {
                PollEvent::Waiting { remaining } => remaining.as_secs(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(remaining, [600, 599, 598, 597]);
    }

    #[test]
    fn slow_down_adds_five_seconds_for_good() {
        use Step::*;
        let (r, at, events, _) = schedule(&[Pending, SlowDown, Pending, SlowDown, Done], 600, 1);
        assert!(r.is_ok());
        // 1 s, then 6 s after the first slow_down, 11 s after the second.
        assert_eq!(at, [0.0, 1.0, 7.0, 13.0, 24.0]);
        let slow: Vec<PollEvent> = events.into_iter().filter(|e| matches!(e, PollEvent::SlowDown { .. })).collect();
        assert_eq!(
            slow,
            [
                PollEvent::SlowDown { new_interval: Duration::from_secs(6) },
                PollEvent::SlowDown { new_interval: Duration::from_secs(11) }
            ]
        );
    }

    #[test]
    fn an_interval_of_zero_still_waits_a_second() {
        let (_, at, _, _) = schedule(&[Step::Pending, Step::Pending, Step::Done], 600, 0);
        assert_eq!(at, [0.0, 1.0, 2.0]);
    }

    #[test]
    fn the_device_code_expiring_ends_the_wait_without_another_poll() {
        let (r, at, events, sleeps) = schedule(&[], 5, 2);
        assert!(matches!(r, Err(SsoError::LoginTimedOut)), "{r:?}");
        assert_eq!(at, [0.0, 2.0, 4.0], "no poll at 6 s: the code died at 5 s");
        assert_eq!(sleeps.iter().sum::<Duration>(), Duration::from_secs(5));
        assert_eq!(events.last(), Some(&PollEvent::Waiting { remaining: Duration::from_secs(1) }));
        // A code that is already dead is not polled at all.
        let (r, at, _, _) = schedule(&[Step::Done], 0, 1);
        assert!(matches!(r, Err(SsoError::LoginTimedOut)));
        assert!(at.is_empty());
    }

    #[test]
    fn errors_end_the_loop_at_once() {
        let (r, at, _, sleeps) = schedule(&[Step::Pending, Step::Denied, Step::Done], 600, 1);
        assert!(matches!(r, Err(SsoError::AccessDenied)), "{r:?}");
        assert_eq!(at, [0.0, 1.0]);
        assert_eq!(sleeps.iter().sum::<Duration>(), Duration::from_secs(1));
    }
}
