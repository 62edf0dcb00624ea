//! The token exchange: CreateToken's answer read into a [`Token`], and the refresh-token
//! grant that renews one without the browser.
//!
//! Why it exists: the device flow (`device`) and a silent refresh end in the same answer,
//! and read it the same way: an empty access token is refused, an empty refresh token is
//! none.
//!
//! What it must not do: decide when to refresh (the session layer does), store the token
//! (the token file does), or let a token out of its [`Secret`].

use super::endpoints::Endpoints;
use super::error::SsoError;
use super::http::{Kind, OIDC, Reply, fault, now_utc, parse, post_oidc};
use super::register::{ClientRegistration, REFRESH_GRANT};
use crate::secret::Secret;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

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

pub(super) fn token_from(reply: &Reply, operation: &'static str) -> Result<Token, SsoError> {
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
