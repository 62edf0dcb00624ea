//! The portal API, called with an SSO access token: ListAccounts and ListAccountRoles
//! (every page), GetRoleCredentials, and Logout.
//!
//! Why it exists: these are the calls made after a login, with a bearer token rather than
//! a client secret, and their errors name the account and permission set that was refused.
//!
//! What it must not do: choose an account or role (the identity's chain does), cache the
//! credentials it returns (the cache does), or follow `nextToken` forever.

use super::endpoints::Endpoints;
use super::error::SsoError;
use super::http::{Kind, PORTAL, fault, finish, get_portal, now_utc, parse};
use crate::providers::credentials::Credentials;
use crate::secret::Secret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::time::Instant;
use time::OffsetDateTime;

/// `max_result` asked of the portal's list operations (the service's maximum).
const PAGE_SIZE: &str = "100";
/// A portal that keeps answering `nextToken` past this many pages is broken.
const MAX_PAGES: usize = 10_000;

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
