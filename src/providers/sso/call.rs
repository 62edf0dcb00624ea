//! One IAM Identity Center call through the official SDK: the two clients (`aws-sdk-ssooidc`
//! and `aws-sdk-sso`, built once per [`Endpoints`] on first use, with their runtime), running
//! a call, and reading a failed one into a [`Fault`] with the request's secrets scrubbed out.
//!
//! Why it exists: every operation fails the same few ways (no answer, an answer the SDK
//! cannot read, an error answer) and must read them alike; the SDK parses the codes, but
//! its errors may quote what the service sent back, so they are described here, never
//! passed on.
//!
//! What it must not do: build a client or a runtime before a call needs one (the warm
//! path never gets here), log a request or response (only the service, the operation, the
//! status and the time taken, at debug level), put a secret the request carried into a
//! [`Fault`], or decide what an operation does with an error (the operations do).

use super::endpoints::Endpoints;
use super::error::SsoError;
use crate::secret::{REDACTED, Secret};
use aws_sdk_ssooidc::config::http::HttpResponse;
use aws_sdk_ssooidc::config::retry::RetryConfig;
use aws_sdk_ssooidc::error::{ProvideErrorMetadata, SdkError};
use std::future::Future;
use std::time::Instant;
use time::OffsetDateTime;

/// Service messages are cut to this many characters in errors.
const MAX_MESSAGE: usize = 300;

pub(super) const OIDC: &str = "SSO-OIDC";
pub(super) const PORTAL: &str = "the SSO portal";

/// What a call failed with, as the SDK returns it.
pub(super) type CallError<E> = SdkError<E, HttpResponse>;

/// The SDK clients of one [`Endpoints`], and the current-thread runtime their calls run on
/// (its connections live as long as it does).
pub(super) struct Clients {
    runtime: tokio::runtime::Runtime,
    pub(super) oidc: aws_sdk_ssooidc::Client,
    pub(super) portal: aws_sdk_sso::Client,
}

impl Clients {
    /// The shared SDK configuration ([`crate::providers::sdk::sdk_config`]: TLS, timeouts,
    /// retries, no credentials: these operations are not signed), pointed at `ep`'s URLs.
    /// SSO-OIDC retries nothing: CreateToken's polling schedule is RFC 8628's, kept by
    /// `device`, and an extra attempt would poll sooner than the interval. The URLs are
    /// always explicit, so the FIPS and dual-stack switches (which the SDK refuses beside a
    /// custom endpoint) are off, as they were for tfauth's own client.
    pub(super) fn build(ep: &Endpoints) -> Result<Clients, SsoError> {
        let runtime = crate::providers::sdk::runtime().map_err(SsoError::Runtime)?;
        let config = runtime.block_on(crate::providers::sdk::sdk_config(&ep.region, None));
        let oidc = aws_sdk_ssooidc::config::Builder::from(&config)
            .endpoint_url(&ep.oidc)
            .use_fips(false)
            .use_dual_stack(false)
            .retry_config(RetryConfig::disabled())
            .build();
        let portal = aws_sdk_sso::config::Builder::from(&config)
            .endpoint_url(&ep.portal)
            .use_fips(false)
            .use_dual_stack(false)
            .build();
        Ok(Clients {
            runtime,
            oidc: aws_sdk_ssooidc::Client::from_conf(oidc),
            portal: aws_sdk_sso::Client::from_conf(portal),
        })
    }
}

/// Runs one operation (all its pages, for a paginated one) to its end, logging the
/// service, the operation, the status and the time taken at debug level.
pub(super) fn call<T, E, F>(
    ep: &Endpoints,
    service: &'static str,
    operation: &'static str,
    send: impl FnOnce(&Clients) -> F,
) -> Result<Result<T, CallError<E>>, SsoError>
where
    F: Future<Output = Result<T, CallError<E>>>,
{
    let clients = ep.clients()?;
    let started = Instant::now();
    let sent = clients.runtime.block_on(send(clients));
    let status = match &sent {
        Ok(_) => Some(200),
        Err(e) => e.raw_response().map(|r| r.status().as_u16()),
    };
    tracing::debug!(
        service,
        operation,
        status,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "IAM Identity Center call"
    );
    Ok(sent)
}

/// An error answer, read: the status, the service's code (the SDK's, else OAuth's `error`,
/// else `HTTP<status>`) and its message, with the request's secrets scrubbed out.
#[derive(Debug)]
pub(super) struct Fault {
    pub(super) status: u16,
    pub(super) code: String,
    pub(super) message: String,
}

/// Reads a failed call. No answer (refused, timed out, a request that could not be built)
/// is [`SsoError::Unreachable`]; a success the SDK could not read is
/// [`SsoError::BadResponse`], described without quoting it; any other answer is the
/// operation's error (`None` if the SDK had none) and its [`Fault`], for the operation to
/// interpret.
pub(super) fn read<E>(
    e: CallError<E>,
    service: &'static str,
    operation: &'static str,
    endpoint: &str,
    secrets: &[&Secret],
) -> Result<(Option<E>, Fault), SsoError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let bad = |problem: String| SsoError::BadResponse { service, operation, problem };
    match e {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            if (200..300).contains(&status) {
                return Err(bad(format!("the HTTP {status} answer is not {operation}'s")));
            }
            let body = ctx.raw().body().bytes().and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok());
            let err = ctx.into_err();
            let text = |k: &str| {
                body.as_ref()
                    .and_then(|b| b.get(k))
                    .and_then(|v| v.as_str())
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            };
            let code = err
                .code()
                .map(str::to_string)
                .filter(|c| !c.trim().is_empty())
                .or_else(|| text("error"))
                .unwrap_or_else(|| format!("HTTP{status}"));
            let message = text("error_description")
                .or_else(|| text("message"))
                .or_else(|| text("Message"))
                .or_else(|| err.message().map(str::to_string))
                .unwrap_or_default();
            let fault = Fault { status, code: scrub(code.trim(), secrets), message: scrub(&message, secrets) };
            Ok((Some(err), fault))
        }
        SdkError::ResponseError(ctx) => {
            Err(bad(format!("the HTTP {} answer could not be read", ctx.raw().status().as_u16())))
        }
        // Refused, timed out, or never sent: the cause (a connection error, never the
        // request) stays the source.
        other => Err(SsoError::Unreachable {
            service,
            operation,
            endpoint: endpoint.to_string(),
            source: other.into_source().unwrap_or_else(|_| "the call failed before an answer".into()),
        }),
    }
}

impl Fault {
    /// Whether the answer names the OAuth error `oauth` (RFC 6749 / 8628, e.g.
    /// `invalid_grant`), as its code or as the service's exception name for it
    /// (`InvalidGrantException`): an answer that carries only the OAuth body, without the
    /// `x-amzn-ErrorType` header the SDK models errors by, reads the same.
    pub(super) fn is_oauth(&self, oauth: &str) -> bool {
        let exception: String = oauth
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
            })
            .collect::<String>()
            + "Exception";
        self.code == oauth || self.code == exception
    }

    /// HTTP 429, or a throttling code (the portal's `TooManyRequestsException`).
    pub(super) fn throttled(&self) -> bool {
        self.status == 429
            || matches!(self.code.as_str(), "TooManyRequestsException" | "ThrottlingException" | "Throttling")
    }

    /// The answer as an error of its own: throttled, else the service's code and message.
    pub(super) fn service_error(self, service: &'static str, operation: &'static str) -> SsoError {
        if self.throttled() {
            return SsoError::Throttled { service, operation, status: self.status };
        }
        SsoError::Service { service, operation, status: self.status, code: self.code, message: self.message }
    }
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

/// A required field the answer left out or empty, as [`SsoError::BadResponse`].
pub(super) fn required<'a>(
    value: Option<&'a str>,
    service: &'static str,
    operation: &'static str,
    field: &str,
) -> Result<&'a str, SsoError> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| SsoError::BadResponse {
        service,
        operation,
        problem: format!("`{field}` is missing or empty"),
    })
}

/// Now, to the second, in UTC (what the token file can hold exactly).
pub(super) fn now_utc() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or_else(|_| OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::sso::test_support::CANARY;
    use aws_sdk_ssooidc::operation::create_token::CreateTokenError;
    use aws_smithy_types::body::SdkBody;

    fn answer(status: u16, body: &str) -> CallError<CreateTokenError> {
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body));
        SdkError::service_error(CreateTokenError::unhandled("unmodeled"), raw)
    }

    #[test]
    fn an_error_answer_is_read_and_scrubbed_of_the_requests_secrets() {
        let secret = Secret::new("refresh-CANARYsecretVALUE");
        let body = format!(r#"{{"error":"weird","error_description":"token {} is odd"}}"#, secret.expose());
        let (err, f) = read(answer(400, &body), OIDC, "CreateToken", "http://x", &[&secret]).unwrap();
        assert!(err.is_some());
        assert_eq!((f.status, f.code.as_str()), (400, "weird"), "OAuth's `error` when the SDK has no code");
        let shown = f.service_error(OIDC, "CreateToken").to_string();
        assert!(!shown.contains(CANARY), "{shown}");
        assert!(shown.contains("weird") && shown.contains(REDACTED), "{shown}");
        // No code anywhere: the status; 429 is throttling whatever the body says.
        let (_, f) = read(answer(502, "<html>"), OIDC, "CreateToken", "http://x", &[]).unwrap();
        assert_eq!((f.code.as_str(), f.throttled()), ("HTTP502", false));
        let (_, f) = read(answer(429, r#"{"message":"Rate exceeded"}"#), OIDC, "CreateToken", "http://x", &[]).unwrap();
        assert!(f.throttled());
        assert_eq!(f.message, "Rate exceeded");
        assert!(scrub(&"x".repeat(5000), &[]).len() < 400);
    }

    #[test]
    fn a_success_the_sdk_cannot_read_is_described_not_quoted() {
        let err = read(answer(200, &format!(r#"{{"accessToken": {CANARY}"#)), OIDC, "CreateToken", "http://x", &[])
            .unwrap_err();
        assert!(matches!(err, SsoError::BadResponse { .. }), "{err:?}");
        assert!(!format!("{err} {err:?}").contains(CANARY), "{err:?}");
    }

    #[test]
    fn no_answer_is_unreachable_naming_the_endpoint() {
        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out");
        let e: CallError<CreateTokenError> = SdkError::timeout_error(io);
        let err = read(e, OIDC, "CreateToken", "http://127.0.0.1:9", &[]).unwrap_err();
        assert!(matches!(err, SsoError::Unreachable { .. }), "{err:?}");
        assert!(err.to_string().contains("http://127.0.0.1:9"), "{err}");
        assert_eq!(err.exit_code(), crate::exit::UNAVAILABLE);
    }

    #[test]
    fn an_oauth_error_reads_the_same_as_its_exception_name() {
        let f = |code: &str| Fault { status: 400, code: code.into(), message: String::new() };
        assert!(f("invalid_grant").is_oauth("invalid_grant"));
        assert!(f("InvalidGrantException").is_oauth("invalid_grant"));
        assert!(f("AuthorizationPendingException").is_oauth("authorization_pending"));
        assert!(!f("invalid_grant").is_oauth("invalid_client"));
        assert!(!f("HTTP400").is_oauth("slow_down"));
    }
}
