//! The token exchange: CreateToken's answer read into a [`Token`], and the refresh-token
//! grant that renews one without the browser.
//!
//! Why it exists: the device flow (`device`) and a silent refresh end in the same answer,
//! and read it the same way: an empty access token is refused, an empty refresh token is
//! none.
//!
//! What it must not do: decide when to refresh (the session layer does), store the token
//! (the token file does), or let a token out of its [`Secret`].

use super::call::{OIDC, call, now_utc, read, required};
use super::endpoints::Endpoints;
use super::error::SsoError;
use super::register::{ClientRegistration, REFRESH_GRANT};
use crate::secret::Secret;
use aws_sdk_ssooidc::operation::create_token::{CreateTokenError, CreateTokenOutput};
use time::OffsetDateTime;

/// An SSO access token (CreateToken).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub access_token: Secret,
    pub expires_at: OffsetDateTime,
    pub refresh_token: Option<Secret>,
}

pub(super) fn token_from(out: &CreateTokenOutput, operation: &'static str) -> Result<Token, SsoError> {
    let access_token = required(out.access_token(), OIDC, operation, "accessToken")?;
    if out.expires_in() <= 0 {
        return Err(SsoError::BadResponse { service: OIDC, operation, problem: "`expiresIn` is missing".into() });
    }
    Ok(Token {
        access_token: Secret::new(access_token),
        expires_at: now_utc() + time::Duration::seconds(i64::from(out.expires_in())),
        refresh_token: out.refresh_token().filter(|t| !t.is_empty()).map(Secret::new),
    })
}

/// CreateToken with the refresh-token grant: a new access token without the browser. The
/// answer's refresh token if it sends one, else `refresh_token` again (it stays valid).
/// [`SsoError::RefreshTokenInvalid`] when the service no longer accepts it.
pub fn refresh(ep: &Endpoints, reg: &ClientRegistration, refresh_token: &Secret) -> Result<Token, SsoError> {
    const OP: &str = "CreateToken";
    let sent = call(ep, OIDC, OP, |c| {
        c.oidc
            .create_token()
            .client_id(&reg.client_id)
            .client_secret(reg.client_secret.expose())
            .grant_type(REFRESH_GRANT)
            .refresh_token(refresh_token.expose())
            .send()
    })?;
    let e = match sent {
        Ok(out) => {
            let mut t = token_from(&out, OP)?;
            t.refresh_token = t.refresh_token.or_else(|| Some(refresh_token.clone()));
            return Ok(t);
        }
        Err(e) => e,
    };
    let (err, f) = read(e, OIDC, OP, &ep.oidc, &[&reg.client_secret, refresh_token])?;
    Err(match err {
        Some(CreateTokenError::InvalidGrantException(_) | CreateTokenError::ExpiredTokenException(_)) => {
            SsoError::RefreshTokenInvalid
        }
        Some(CreateTokenError::InvalidClientException(_)) => {
            SsoError::InvalidClient { operation: OP, client_id: reg.client_id.clone() }
        }
        _ if f.is_oauth("invalid_grant") || f.is_oauth("expired_token") => SsoError::RefreshTokenInvalid,
        _ if f.is_oauth("invalid_client") => {
            SsoError::InvalidClient { operation: OP, client_id: reg.client_id.clone() }
        }
        _ => f.service_error(OIDC, OP),
    })
}
