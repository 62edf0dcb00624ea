//! RegisterClient: the OAuth client tfauth registers with SSO-OIDC, and the scope and
//! grants it asks for.
//!
//! Why it exists: a registration is what both the device flow (`device`) and the silent
//! refresh (`token`) present, so it sits below both of them.
//!
//! What it must not do: keep or cache a registration (the token file and its caller do),
//! or let the client secret out of its [`Secret`].

use super::call::{OIDC, call, read, required};
use super::endpoints::Endpoints;
use super::error::SsoError;
use crate::secret::Secret;
use time::OffsetDateTime;

/// The scope that lets the token call the portal API (and makes the service issue refresh tokens).
pub const SCOPE: &str = "sso:account:access";
/// CreateToken's grant type for the device flow (RFC 8628).
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// CreateToken's grant type for a silent refresh.
pub const REFRESH_GRANT: &str = "refresh_token";

/// A registered OAuth client (RegisterClient), reusable until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRegistration {
    pub client_id: String,
    pub client_secret: Secret,
    pub expires_at: OffsetDateTime,
}

/// RegisterClient: a public client named `client_name`, with the `sso:account:access` scope
/// and the device-code and refresh-token grants (so CreateToken issues refresh tokens).
pub fn register_client(ep: &Endpoints, client_name: &str) -> Result<ClientRegistration, SsoError> {
    const OP: &str = "RegisterClient";
    let sent = call(ep, OIDC, OP, |c| {
        c.oidc
            .register_client()
            .client_name(client_name)
            .client_type("public")
            .scopes(SCOPE)
            .grant_types(DEVICE_GRANT)
            .grant_types(REFRESH_GRANT)
            .send()
    })?;
    let out = match sent {
        Ok(out) => out,
        Err(e) => return Err(read(e, OIDC, OP, &ep.oidc, &[])?.1.service_error(OIDC, OP)),
    };
    let bad = |problem: &str| SsoError::BadResponse { service: OIDC, operation: OP, problem: problem.into() };
    let client_id = required(out.client_id(), OIDC, OP, "clientId")?;
    let client_secret = required(out.client_secret(), OIDC, OP, "clientSecret")?;
    if out.client_secret_expires_at() <= 0 {
        return Err(bad("`clientSecretExpiresAt` is missing"));
    }
    let expires_at = OffsetDateTime::from_unix_timestamp(out.client_secret_expires_at())
        .map_err(|_| bad("`clientSecretExpiresAt` is out of range"))?;
    Ok(ClientRegistration { client_id: client_id.to_string(), client_secret: Secret::new(client_secret), expires_at })
}
