//! RegisterClient: the OAuth client tfauth registers with SSO-OIDC, and the scope and
//! grants it asks for.
//!
//! Why it exists: a registration is what both the device flow (`device`) and the silent
//! refresh (`token`) present, so it sits below both of them.
//!
//! What it must not do: keep or cache a registration (the token file and its caller do),
//! or let the client secret out of its [`Secret`].

use super::endpoints::Endpoints;
use super::error::SsoError;
use super::http::{OIDC, fault, parse, post_oidc};
use crate::secret::Secret;
use serde::Deserialize;
use serde_json::json;
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
