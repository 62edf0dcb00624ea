//! Why an IAM Identity Center call failed, in words a user can act on: [`SsoError`], its
//! exit code and its hint.
//!
//! Why it exists: every file of the SSO client fails the same few ways (unreachable,
//! throttled, session expired, denied, a token file that cannot be used), and the caller
//! maps one enum to the contract's exit codes.
//!
//! What it must not do: carry a token, client secret, refresh token or device code in a
//! variant (messages are scrubbed before they get here, in `call`; an SDK error is never
//! kept whole, only the connection error under [`SsoError::Unreachable`]), or do any I/O.

use crate::exit;
use std::path::PathBuf;

/// Why an IAM Identity Center call failed. Never carries a token or secret.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("{variable} is `{url}`, which is neither https nor http to a loopback address")]
    InsecureEndpoint { variable: String, url: String },
    #[error("`{region}` is not an AWS region name")]
    BadRegion { region: String },
    #[error("cannot reach {service} at {endpoint} ({operation})")]
    Unreachable {
        service: &'static str,
        operation: &'static str,
        endpoint: String,
        /// The connection error (never the request: it carried the secrets).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
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
    #[error("cannot start the network runtime for IAM Identity Center")]
    Runtime(#[source] std::io::Error),
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
            SsoError::Runtime(_) => exit::SOFTWARE,
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
            SsoError::Runtime(_) => "this is a bug in tfauth; please report it".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::sso::call::{OIDC, PORTAL};

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
}
