//! IAM Identity Center (AWS SSO): the OAuth device flow through SSO-OIDC (RegisterClient,
//! StartDeviceAuthorization, CreateToken), the refresh-token grant, the portal API
//! (ListAccounts, ListAccountRoles, GetRoleCredentials, Logout), and the token cache file
//! in the AWS SDK's `ssocreds` JSON shape.
//!
//! Why it exists: the calls go through the official SDK (`aws-sdk-ssooidc`, `aws-sdk-sso`),
//! which tracks the services' models (shapes, error codes, pagination) so tfauth does not
//! keep a wire client of its own; STS and ECR already use the same SDK, so the login shares
//! their TLS stack, timeouts and runtime ([`crate::providers::sdk`]). What stays here is
//! what the SDK does not decide: where the endpoints are and which are safe, the polling
//! schedule of the device flow, what each failure means to a user ([`SsoError`]), and the
//! token file. It is the network layer only: choosing when to log in, prompting, opening
//! the browser, locking and caching policy belong to the caller.
//!
//! The interface is blocking: each call runs on a current-thread runtime that the
//! [`Endpoints`] builds with its clients on the first call, never before, so the warm path
//! (a cached credential) starts no runtime and builds no client. Call it from synchronous
//! code only.
//!
//! What it must not do: print anything (the caller draws the prompt and the countdown from
//! [`PollEvent`]s), log a request or response body (only the operation and the status, at
//! debug level; the SDK's own targets stay at warn), or let a secret reach an error, a log
//! line or `Debug` output. Every token, client secret, refresh token and device code is a
//! [`Secret`](crate::secret::Secret); an SDK error is never passed on whole, and messages
//! that a service sends back are scrubbed of the secrets the request carried.
//!
//! Endpoints must be https, or http to loopback (tests): bearer tokens travel on them, and
//! redirects are never followed (the SDK's HTTP client does not).
//!
//! The files, in the order of a login: `endpoints` (where the services answer, and the
//! https-or-loopback rule), `call` (the SDK clients, one call, its error read and
//! scrubbed), `register` (RegisterClient), `device` (StartDeviceAuthorization and the
//! polling schedule), `token` (CreateToken's answer, the refresh grant), `token_file` (the
//! cache file), `portal` (the portal API), and `error` ([`SsoError`]). This file only
//! re-exports them, so callers keep writing `crate::providers::sso::X`.

mod call;
mod device;
mod endpoints;
mod error;
mod portal;
mod register;
#[cfg(test)]
mod test_support;
mod token;
mod token_file;

pub use device::{
    Clock, DEFAULT_DEVICE_EXPIRY, DEFAULT_INTERVAL, DeviceAuthorization, PollEvent, SLOW_DOWN_STEP, SystemClock,
    poll_for_token, poll_for_token_with, start_device_authorization,
};
pub use endpoints::{Endpoints, with_configured};
pub use error::SsoError;
pub use portal::{Account, get_role_credentials, list_account_roles, list_accounts, logout};
pub use register::{ClientRegistration, DEVICE_GRANT, REFRESH_GRANT, SCOPE, register_client};
pub use token::{Token, refresh};
pub use token_file::{REGISTRATION_MARGIN, TokenFile, atmos_session_path, aws_cli_token, token_cache_path};

#[cfg(test)]
mod tests {
    use super::test_support::{CANARY, sample, t};
    use super::*;
    use crate::providers::credentials::Credentials;
    use crate::secret::{REDACTED, Secret};
    use std::time::Duration;

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
}
