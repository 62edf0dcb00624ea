//! The portal API, called with an SSO access token: ListAccounts and ListAccountRoles
//! (every page), GetRoleCredentials, and Logout.
//!
//! Why it exists: these are the calls made after a login, with a bearer token rather than
//! a client secret, and their errors name the account and permission set that was refused.
//!
//! What it must not do: choose an account or role (the identity's chain does), cache the
//! credentials it returns (the cache does), or follow `nextToken` forever.

use super::call::{CallError, PORTAL, call, now_utc, read, required};
use super::endpoints::Endpoints;
use super::error::SsoError;
use crate::providers::credentials::Credentials;
use crate::secret::Secret;
use aws_sdk_sso::error::ProvideErrorMetadata;
use aws_sdk_sso::operation::get_role_credentials::GetRoleCredentialsError;
use aws_sdk_sso::operation::list_account_roles::ListAccountRolesError;
use aws_sdk_sso::operation::list_accounts::ListAccountsError;
use aws_sdk_sso::operation::logout::LogoutError;
use time::OffsetDateTime;

/// `maxResults` asked of the portal's list operations (the service's maximum).
const PAGE_SIZE: i32 = 100;
/// A portal that keeps answering `nextToken` past this many pages is broken (the SDK's
/// paginator stops only on a repeated token).
const MAX_PAGES: usize = 10_000;

/// An account the signed-in user is assigned to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub email: String,
}

/// Who a portal call was about, for [`SsoError::Forbidden`].
#[derive(Clone, Copy, Default)]
struct Target<'a> {
    account_id: Option<&'a str>,
    role_name: Option<&'a str>,
}

/// A failed portal call, read: UnauthorizedException (or 401) is the session expired, 403
/// (the unmodelled ForbiddenException, or AccessDenied) is access denied naming the account
/// and role, throttling stays throttling (after the SDK's retries).
fn portal_error<E>(
    e: CallError<E>,
    ep: &Endpoints,
    token: &Secret,
    operation: &'static str,
    unauthorized: fn(&E) -> bool,
    target: Target<'_>,
) -> SsoError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (err, f) = match read(e, PORTAL, operation, &ep.portal, &[token]) {
        Ok(read) => read,
        Err(e) => return e,
    };
    if err.as_ref().is_some_and(unauthorized) || f.status == 401 {
        return SsoError::SessionExpired { operation, code: f.code };
    }
    if f.status == 403 || matches!(f.code.as_str(), "ForbiddenException" | "AccessDeniedException") {
        return SsoError::Forbidden {
            operation,
            account_id: target.account_id.map(str::to_string),
            role_name: target.role_name.map(str::to_string),
            message: f.message,
        };
    }
    f.service_error(PORTAL, operation)
}

fn too_many_pages(operation: &'static str) -> SsoError {
    SsoError::BadResponse { service: PORTAL, operation, problem: "the pages never end".into() }
}

/// ListAccounts, every page (the SDK's paginator): the accounts the signed-in user may use.
pub fn list_accounts(ep: &Endpoints, access_token: &Secret) -> Result<Vec<Account>, SsoError> {
    const OP: &str = "ListAccounts";
    let sent = call(ep, PORTAL, OP, |c| {
        let mut pages =
            c.portal.list_accounts().access_token(access_token.expose()).max_results(PAGE_SIZE).into_paginator().send();
        async move {
            let mut all = Vec::new();
            let mut count = 0;
            while let Some(page) = pages.next().await {
                count += 1;
                if count > MAX_PAGES {
                    return Ok(None);
                }
                all.extend(page?.account_list.unwrap_or_default());
            }
            Ok(Some(all))
        }
    })?;
    let unauthorized = |e: &ListAccountsError| matches!(e, ListAccountsError::UnauthorizedException(_));
    let accounts = sent
        .map_err(|e| portal_error(e, ep, access_token, OP, unauthorized, Target::default()))?
        .ok_or_else(|| too_many_pages(OP))?;
    accounts
        .into_iter()
        .map(|a| {
            Ok(Account {
                id: required(a.account_id(), PORTAL, OP, "accountId")?.to_string(),
                name: a.account_name.unwrap_or_default(),
                email: a.email_address.unwrap_or_default(),
            })
        })
        .collect()
}

/// ListAccountRoles, every page (the SDK's paginator): the permission sets the user may use
/// in `account_id`.
pub fn list_account_roles(ep: &Endpoints, access_token: &Secret, account_id: &str) -> Result<Vec<String>, SsoError> {
    const OP: &str = "ListAccountRoles";
    let sent = call(ep, PORTAL, OP, |c| {
        let mut pages = c
            .portal
            .list_account_roles()
            .access_token(access_token.expose())
            .account_id(account_id)
            .max_results(PAGE_SIZE)
            .into_paginator()
            .send();
        async move {
            let mut all = Vec::new();
            let mut count = 0;
            while let Some(page) = pages.next().await {
                count += 1;
                if count > MAX_PAGES {
                    return Ok(None);
                }
                all.extend(page?.role_list.unwrap_or_default());
            }
            Ok(Some(all))
        }
    })?;
    let unauthorized = |e: &ListAccountRolesError| matches!(e, ListAccountRolesError::UnauthorizedException(_));
    let target = Target { account_id: Some(account_id), role_name: None };
    let roles = sent
        .map_err(|e| portal_error(e, ep, access_token, OP, unauthorized, target))?
        .ok_or_else(|| too_many_pages(OP))?;
    roles.into_iter().map(|r| Ok(required(r.role_name(), PORTAL, OP, "roleName")?.to_string())).collect()
}

/// GetRoleCredentials: session credentials for permission set `role_name` in `account_id`.
pub fn get_role_credentials(
    ep: &Endpoints,
    access_token: &Secret,
    account_id: &str,
    role_name: &str,
) -> Result<Credentials, SsoError> {
    const OP: &str = "GetRoleCredentials";
    let sent = call(ep, PORTAL, OP, |c| {
        c.portal
            .get_role_credentials()
            .access_token(access_token.expose())
            .account_id(account_id)
            .role_name(role_name)
            .send()
    })?;
    let unauthorized = |e: &GetRoleCredentialsError| matches!(e, GetRoleCredentialsError::UnauthorizedException(_));
    let target = Target { account_id: Some(account_id), role_name: Some(role_name) };
    let out = sent.map_err(|e| portal_error(e, ep, access_token, OP, unauthorized, target))?;
    let bad = |problem: &str| SsoError::BadResponse { service: PORTAL, operation: OP, problem: problem.into() };
    let c = out.role_credentials().ok_or_else(|| bad("`roleCredentials` is missing"))?;
    let (Some(key), Some(secret)) =
        (c.access_key_id().filter(|k| !k.is_empty()), c.secret_access_key().filter(|s| !s.is_empty()))
    else {
        return Err(bad("the credentials are empty"));
    };
    if c.expiration() <= 0 {
        return Err(bad("`expiration` is missing"));
    }
    let expiration = OffsetDateTime::from_unix_timestamp_nanos(i128::from(c.expiration()) * 1_000_000)
        .map_err(|_| bad("the expiration is out of range"))?;
    Ok(Credentials {
        access_key_id: key.to_string(),
        secret_access_key: Secret::new(secret),
        session_token: c.session_token().filter(|t| !t.is_empty()).map(Secret::new),
        expiration: Some(expiration),
        issued: Some(now_utc()),
    })
}

/// Logout: ends the portal session of `access_token` at the service, so a copy of the
/// token left anywhere stops working. A token the service already rejects is logged out.
pub fn logout(ep: &Endpoints, access_token: &Secret) -> Result<(), SsoError> {
    const OP: &str = "Logout";
    let sent = call(ep, PORTAL, OP, |c| c.portal.logout().access_token(access_token.expose()).send())?;
    let Err(e) = sent else { return Ok(()) };
    let (err, f) = read(e, PORTAL, OP, &ep.portal, &[access_token])?;
    if matches!(err, Some(LogoutError::UnauthorizedException(_))) || f.status == 401 {
        return Ok(());
    }
    Err(f.service_error(PORTAL, OP))
}
