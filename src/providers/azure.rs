//! Azure at run time: the tokens the files [`crate::output::azure`] plans need, handed over
//! as [`Walked`] (output decides the files).
//!
//! - `azure/oidc`: the federated token from `spec.token_file_path` when set (the file is the
//!   platform's or another tool's: see [`read_token_file`] for how it is read), else a
//!   GitHub OIDC token (audience `api://AzureADTokenExchange`) for the token file; and, as a
//!   check before Terraform starts, the exchange azurerm will make:
//!   `client_credentials` with that token as `client_assertion` at the Microsoft identity
//!   platform.
//! - `azure/device-code`: the OAuth 2.0 device authorization grant (RFC 8628) against
//!   `{authority}/{tenant}/oauth2/v2.0/devicecode` and `/token`, on the terminal like the
//!   IAM Identity Center login. The tokens are kept in tfauth's cache (0600, one lock per
//!   tenant and client, so concurrent runs sign in once) and written, as `az` writes them,
//!   into the identity's isolated `AZURE_CONFIG_DIR`: the MSAL token cache and
//!   `azureProfile.json`.
//! - `azure/interactive`: the same, signed in through the browser instead: the OAuth 2.0
//!   authorization code flow with PKCE and a loopback redirect ([`browser_flow`]; the
//!   listener and PKCE are in [`browser`]), as `az login` and MSAL do.
//!
//! Every Entra ID call goes to the provider's cloud (`spec.cloud_environment`): its
//! authority host ([`authority_host`]) and its Resource Manager scope ([`arm_scope`]).

pub mod browser;

use super::http::{self, Call};
use super::{Principal, ProviderError};
use crate::auth::ProviderKind;
use crate::auth::schema::{AzureCloud, Located};
use crate::env_vars::{self as ev, Env};
use crate::exit;
use crate::identity::{Chain, ChainRoot};
use crate::secret::Secret;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The Azure CLI's public client id: what `az login` uses, and tfauth's default for
/// `azure/device-code`, so the token cache it writes is one `az` accepts as its own.
pub const AZURE_CLI_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
/// The audience Entra ID expects of a federated (GitHub) token.
pub const FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";
/// The Microsoft identity platform's public host.
pub const AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// The authority host of a provider in `cloud` (its `cloud_environment`):
/// `AZURE_AUTHORITY_HOST` when set (a cloud Atmos has no name for, tests), else the cloud's.
pub fn authority_host(env: &Env, cloud: AzureCloud) -> String {
    env.get(ev::AZURE_AUTHORITY_HOST).unwrap_or(cloud.authority_host()).trim_end_matches('/').to_string()
}

/// Azure Resource Manager of the public cloud, the audience Terraform's azurerm needs.
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";

/// The Resource Manager scope of the cloud whose Entra ID is at `authority` (the public
/// one's for a host of no cloud Atmos names, like a test's loopback).
pub fn arm_scope(authority: &str) -> &'static str {
    let host = authority.trim_start_matches("https://").trim_end_matches('/').to_ascii_lowercase();
    [AzureCloud::UsGovernment, AzureCloud::China]
        .into_iter()
        .find(|c| c.authority_host().trim_start_matches("https://") == host)
        .unwrap_or(AzureCloud::Public)
        .management_scope()
}
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Shows a device code and how the wait goes; on `/dev/tty` in use.
pub trait DeviceCodeUi {
    fn begin(&self, provider: &str, tenant: &str, user_code: &str, url: &str);
    fn waiting(&self, remaining: Duration);
    fn end(&self, failure: Option<&str>);
    /// `azure/interactive`: the sign-in URL, opened in the browser (or shown, with
    /// `--no-browser`); the caller then waits for the redirect. `end` follows.
    fn browse(&self, provider: &str, tenant: &str, url: &str);
}

/// How long the browser sign-in waits for the redirect.
pub const BROWSER_WAIT: Duration = Duration::from_secs(5 * 60);

/// How far a device-code provider may go to get tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Cached, refreshed, or a sign-in when there is a terminal.
    Use,
    /// A new sign-in even with tokens cached.
    Relogin,
}

/// The tokens of one signed-in user, as tfauth caches them.
#[derive(Clone, Debug)]
pub struct UserTokens {
    pub authority: String,
    pub tenant_id: String,
    pub client_id: String,
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub id_token: Option<Secret>,
    /// Unix seconds.
    pub expires_on: i64,
    pub ext_expires_on: i64,
    pub scope: String,
    pub username: String,
    /// `uid.utid` from `client_info`: MSAL's account key.
    pub home_account_id: String,
    pub local_account_id: String,
}

/// What walking an Azure chain hands over: the tokens its files need, and who Entra ID
/// said the identity is. Which files they go in is output's business
/// ([`crate::output::azure::complete`]).
#[derive(Debug, Default)]
pub struct Walked {
    /// `azure/oidc`: the GitHub token for the federated token file.
    pub federated_token: Option<Secret>,
    /// `azure/oidc` outside GitHub Actions: the platform's own token file
    /// (`AZURE_FEDERATED_TOKEN_FILE`, as on AKS), used in place of a copy.
    pub federated_token_file: Option<String>,
    /// `azure/device-code`: the signed-in user's tokens.
    pub tokens: Option<UserTokens>,
    /// Who Entra ID said the identity is (with `check`, or after a sign-in).
    pub principal: Option<Principal>,
}

/// `azure/oidc`: the federated token for the chain's files and, with `check`, the exchange
/// azurerm will make, to prove the app registration trusts it. Other kinds hand over
/// nothing here (`azure/device-code` signs in through [`crate::session::azure`]).
pub fn walk(chain: &Chain, env: &Env, check: bool) -> Result<Walked, ProviderError> {
    let ChainRoot::Provider(p) = &chain.root else { return Ok(Walked::default()) };
    let who = chain.leaf().name.as_str();
    let Some(ProviderKind::AzureOidc { tenant_id, client_id, audience, token_file_path, azure, .. }) = &p.kind else {
        return Ok(Walked::default());
    };
    let (token, in_place) = match token_file_path {
        Some(path) => {
            let token = read_token_file(who, &p.name, path)?;
            let file =
                std::path::absolute(&path.value).map_or_else(|_| path.value.clone(), |f| f.display().to_string());
            (token, Some(file))
        }
        None => federated_token(who, env, audience.as_deref())?,
    };
    let mut walked =
        Walked { federated_token: Some(token.clone()), federated_token_file: in_place, ..Walked::default() };
    if check {
        let authority = authority_host(env, azure.cloud());
        let (access, expires) =
            exchange_assertion(who, &authority, tenant_id, client_id, &token, arm_scope(&authority))?;
        let claim = |k: &str| super::jwt::claim(access.expose(), k);
        let mut details = Vec::new();
        if let Some(oid) = claim("oid") {
            details.push(("object id", oid));
        }
        details.push(("tenant", claim("tid").unwrap_or_else(|| tenant_id.clone())));
        let app = claim("appid").or_else(|| claim("azp")).unwrap_or_else(|| client_id.clone());
        walked.principal = Some(Principal { name: format!("app {app}"), details, expires });
    }
    Ok(walked)
}

/// `azure/device-code`: what a signed-in user's tokens hand over (a sign-in proves itself).
pub fn signed_in(tokens: UserTokens) -> Walked {
    let principal = Principal {
        name: tokens.username.clone(),
        details: vec![("object id", tokens.local_account_id.clone()), ("tenant", tokens.tenant_id.clone())],
        expires: time::OffsetDateTime::from_unix_timestamp(tokens.expires_on).ok(),
    };
    Walked { tokens: Some(tokens), principal: Some(principal), ..Walked::default() }
}

/// Who the user's own `az login` is (`azure/cli`): `az account show`, in the environment
/// the run would get (their `AZURE_CONFIG_DIR`, if they set one).
pub fn az_account(who: &str, env: &Env, subscription: Option<&str>) -> Result<Principal, ProviderError> {
    let mut cmd = std::process::Command::new("az");
    cmd.args(["account", "show", "--output", "json"]);
    if let Some(s) = subscription {
        cmd.args(["--subscription", s]);
    }
    cmd.env_clear().envs(env.iter()).stdin(std::process::Stdio::null());
    let out = cmd.output().map_err(|e| ProviderError::Setup {
        identity: who.into(),
        message: format!("cannot run `az account show`: {e}"),
        hint: "azure/cli identities use your own `az login`: install the Azure CLI and sign in".into(),
        code: exit::UNAVAILABLE,
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(ProviderError::Setup {
            identity: who.into(),
            message: format!(
                "`az account show` failed: {}",
                err.lines().find(|l| !l.trim().is_empty()).unwrap_or("(no message)").trim()
            ),
            hint: "run `az login` (and `az account set --subscription ...`)".into(),
            code: exit::NOPERM,
        });
    }
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| ProviderError::Setup {
        identity: who.into(),
        message: format!("`az account show` printed something other than JSON: {e}"),
        hint: "check that `az` on PATH is the Azure CLI".into(),
        code: exit::UNAVAILABLE,
    })?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let user = v.get("user").and_then(|u| u.get("name")).and_then(Value::as_str).unwrap_or("?");
    let mut details = Vec::new();
    if let Some(t) = s("tenantId") {
        details.push(("tenant", t));
    }
    if let Some(id) = s("id") {
        details.push(("az subscription", id));
    }
    Ok(Principal { name: user.to_string(), details, expires: None })
}

/// The GitHub token for the token file; or, outside GitHub Actions, a token file the
/// platform already keeps (`AZURE_FEDERATED_TOKEN_FILE`, as on AKS), used in place.
/// Returns the token, and the path of the platform's file when it is used in place.
fn federated_token(who: &str, env: &Env, audience: Option<&str>) -> Result<(Secret, Option<String>), ProviderError> {
    let github = env.get(crate::env_vars::ACTIONS_ID_TOKEN).is_some()
        || env.get(crate::env_vars::ACTIONS_ID_TOKEN_REQUEST_URL).is_some();
    if !github && let Some(existing) = env.get(ev::AZURE_FEDERATED_TOKEN_FILE) {
        let text = std::fs::read_to_string(existing).map_err(|e| ProviderError::Setup {
            identity: who.into(),
            message: format!("cannot read AZURE_FEDERATED_TOKEN_FILE ({existing}): {e}"),
            hint: "check the workload identity's token file, or run in GitHub Actions with `id-token: write`".into(),
            code: exit::NOPERM,
        })?;
        return Ok((Secret::new(text.trim()), Some(existing.to_string())));
    }
    let token = super::github::token(env, Some(audience.unwrap_or(FEDERATED_AUDIENCE)), who)?;
    Ok((token, None))
}

/// The largest federated token file read (a JWT is a few kilobytes).
const TOKEN_FILE_CAP: u64 = 64 * 1024;

/// The federated token in `spec.token_file_path`, read as Atmos reads it (its priority over
/// `AZURE_FEDERATED_TOKEN_FILE` and GitHub's is Atmos's too).
///
/// The file is the platform's, not tfauth's: AKS's workload identity projects it as a
/// root-owned file reached through a symlink (`..data/`), and a CI tool writes its own. So,
/// unlike the files tfauth keeps, it is not required to be the user's and links are
/// followed; it is still read with the bounded reader (a regular file only, never a FIFO or
/// a device that could block or stream forever, at most 64 KiB), and a token file others
/// could write is refused, since whoever writes it chooses who the run is.
fn read_token_file(who: &str, provider: &str, path: &Located) -> Result<Secret, ProviderError> {
    let fail = |why: String| {
        ProviderError::Setup {
        identity: who.into(),
        message: format!(
            "cannot read the federated token file `{}` (provider `{provider}`'s spec.token_file_path, {}): {why}",
            path.value, path.span
        ),
        hint: "check that the tool that writes the token has run and that the path is right; it must be a regular file that not everyone can write".into(),
        code: exit::NOPERM,
    }
    };
    let file = std::path::Path::new(&path.value);
    use crate::util::fs::BoundedReadError as E;
    let bytes = crate::util::fs::read_regular(file, TOKEN_FILE_CAP).map_err(|e| {
        fail(match e {
            E::Io(e) => e.to_string(),
            E::NotRegular(kind) => format!("it is {kind}, not a regular file"),
            E::TooLarge { .. } => format!("it holds more than {TOKEN_FILE_CAP} bytes"),
        })
    })?;
    use std::os::unix::fs::MetadataExt;
    if let Ok(meta) = std::fs::metadata(file)
        && meta.mode() & 0o002 != 0
    {
        return Err(fail("anyone can write it".into()));
    }
    let text = String::from_utf8(bytes).map_err(|_| fail("it is not text".into()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(fail("it is empty".into()));
    }
    Ok(Secret::new(token))
}

/// The exchange azurerm makes with a federated token: proves the app registration trusts it.
fn exchange_assertion(
    who: &str,
    authority: &str,
    tenant: &str,
    client: &str,
    assertion: &Secret,
    scope: &str,
) -> Result<(Secret, Option<time::OffsetDateTime>), ProviderError> {
    let call = Call { identity: who, service: "the Microsoft identity platform", step: "the federated token exchange" };
    let reply = http::post_form(
        &call,
        &format!("{authority}/{tenant}/oauth2/v2.0/token"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("scope", scope),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion.expose()),
        ],
    )?;
    if !reply.ok() {
        return Err(call.refused(
            &reply,
            format!(
                "check the federated credential of app {client} in tenant {tenant}: issuer https://token.actions.githubusercontent.com, the subject of this workflow, audience {}",
                FEDERATED_AUDIENCE
            ),
        ));
    }
    let body = reply.json().unwrap_or(Value::Null);
    let token = body.get("access_token").and_then(Value::as_str).unwrap_or_default();
    Ok((Secret::new(token), super::expiry_of(&body)))
}

/// The Docker user ACR takes with an exchanged refresh token (what `az acr login` writes).
pub const ACR_USERNAME: &str = "00000000-0000-0000-0000-000000000000";

/// An ARM access token for an `azure/oidc` chain, and its tenant: the federated token
/// exchanged as azurerm will exchange it. `None` for other roots.
pub fn oidc_arm_token(chain: &Chain, env: &Env) -> Result<Option<(Secret, String)>, ProviderError> {
    let ChainRoot::Provider(p) = &chain.root else { return Ok(None) };
    let Some(ProviderKind::AzureOidc { tenant_id, client_id, azure, .. }) = &p.kind else { return Ok(None) };
    let who = chain.leaf().name.as_str();
    let walked = walk(chain, env, false)?;
    let federated = walked.federated_token.ok_or_else(|| ProviderError::Setup {
        identity: who.into(),
        message: "no federated token for the ARM token exchange".into(),
        hint: "run it in GitHub Actions with `permissions: id-token: write`, or set spec.token_file_path".into(),
        code: exit::NOPERM,
    })?;
    let authority = authority_host(env, azure.cloud());
    let (access, _) = exchange_assertion(who, &authority, tenant_id, client_id, &federated, arm_scope(&authority))?;
    Ok(Some((access, tenant_id.clone())))
}

/// An access token of an `azure/oidc` chain for `scope` (an AKS server application's
/// `GUID/.default`), and when it expires: the federated token exchanged for it. `None`
/// for other roots.
pub fn oidc_token_for(
    chain: &Chain,
    env: &Env,
    scope: &str,
) -> Result<Option<(Secret, Option<time::OffsetDateTime>)>, ProviderError> {
    let ChainRoot::Provider(p) = &chain.root else { return Ok(None) };
    let Some(ProviderKind::AzureOidc { tenant_id, client_id, azure, .. }) = &p.kind else { return Ok(None) };
    let who = chain.leaf().name.as_str();
    let federated = walk(chain, env, false)?.federated_token.ok_or_else(|| ProviderError::Setup {
        identity: who.into(),
        message: "no federated token to exchange".into(),
        hint: "run it in GitHub Actions with `permissions: id-token: write`, or set spec.token_file_path".into(),
        code: exit::NOPERM,
    })?;
    let authority = authority_host(env, azure.cloud());
    exchange_assertion(who, &authority, tenant_id, client_id, &federated, scope).map(Some)
}

/// A signed-in user's access token for another resource (`scope`, such as an AKS server
/// application's `GUID/.default`), from the refresh token of their sign-in: Entra ID's
/// refresh tokens are good for every resource the client may call, as MSAL uses them.
pub fn refresh_for(
    who: &str,
    t: &UserTokens,
    scope: &str,
) -> Result<(Secret, Option<time::OffsetDateTime>), ProviderError> {
    let call = Call { identity: who, service: "the Microsoft identity platform", step: "the token refresh" };
    let rt = t.refresh_token.as_ref().ok_or_else(|| ProviderError::Setup {
        identity: who.into(),
        message: "the cached sign-in has no refresh token to ask for the cluster's token with".into(),
        hint: format!("sign in again: `tfauth auth login -i {who} --force`"),
        code: exit::NOPERM,
    })?;
    let reply = http::post_form(
        &call,
        &format!("{}/{}/oauth2/v2.0/token", t.authority.trim_end_matches('/'), t.tenant_id),
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &t.client_id),
            ("refresh_token", rt.expose()),
            ("scope", scope),
        ],
    )?;
    if !reply.ok() {
        return Err(call.refused(
            &reply,
            format!("the sign-in may not reach {scope}; sign in again: `tfauth auth login -i {who} --force`"),
        ));
    }
    let body = reply.json().unwrap_or(Value::Null);
    let token = body.get("access_token").and_then(Value::as_str).filter(|t| !t.is_empty()).ok_or_else(|| {
        ProviderError::Setup {
            identity: who.into(),
            message: "the Microsoft identity platform answered the refresh without an access_token".into(),
            hint: "retry; if it persists, sign in again".into(),
            code: exit::UNAVAILABLE,
        }
    })?;
    Ok((Secret::new(token), super::expiry_of(&body)))
}

/// The registry refresh token ACR gives for an ARM access token of `tenant`
/// (`POST https://<login server>/oauth2/exchange`, grant `access_token`, as `az acr login`
/// does), and when it expires (its own `exp` claim). `TFAUTH_ACR_ENDPOINT` replaces
/// `https://<login server>` (a private endpoint, tests).
pub fn acr_refresh_token(
    who: &str,
    login_server: &str,
    tenant: &str,
    arm_token: &Secret,
    env: &Env,
) -> Result<(Secret, Option<time::OffsetDateTime>), ProviderError> {
    let base = env
        .get(ev::TFAUTH_ACR_ENDPOINT)
        .filter(|v| !v.is_empty())
        .map_or_else(|| format!("https://{login_server}"), |v| v.trim_end_matches('/').to_string());
    let call = Call { identity: who, service: "Azure Container Registry", step: "the token exchange" };
    let reply = http::post_form(
        &call,
        &format!("{base}/oauth2/exchange"),
        &[
            ("grant_type", "access_token"),
            ("service", login_server),
            ("tenant", tenant),
            ("access_token", arm_token.expose()),
        ],
    )?;
    if !reply.ok() {
        return Err(call.refused(
            &reply,
            format!(
                "`{who}` may need the AcrPull role on {login_server}, or the registry may not allow Entra ID sign-ins"
            ),
        ));
    }
    let body = reply.json().unwrap_or(Value::Null);
    let token = body.get("refresh_token").and_then(Value::as_str).filter(|t| !t.is_empty()).ok_or_else(|| {
        ProviderError::Setup {
            identity: who.into(),
            message: format!("{login_server} answered the token exchange without a refresh_token"),
            hint: "check TFAUTH_ACR_ENDPOINT if you set it; otherwise retry".into(),
            code: exit::UNAVAILABLE,
        }
    })?;
    let expires = super::jwt::claims(token)
        .and_then(|c| c.get("exp")?.as_i64())
        .and_then(|e| time::OffsetDateTime::from_unix_timestamp(e).ok());
    Ok((Secret::new(token), expires))
}

pub fn store_key(authority: &str, tenant: &str, client: &str) -> String {
    let d = Sha256::digest(format!("{authority}\n{tenant}\n{client}").to_lowercase().as_bytes());
    d.iter().take(10).map(|b| format!("{b:02x}")).collect()
}

/// Now, in Unix seconds (the unit of Entra ID's expiry fields).
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The cache entry, with the secrets' values (they print redacted otherwise).
pub fn to_json(t: &UserTokens) -> Value {
    json!({
        "authority": t.authority,
        "tenant_id": t.tenant_id,
        "client_id": t.client_id,
        "access_token": t.access_token.expose(),
        "refresh_token": t.refresh_token.as_ref().map(Secret::expose),
        "id_token": t.id_token.as_ref().map(Secret::expose),
        "expires_on": t.expires_on,
        "ext_expires_on": t.ext_expires_on,
        "scope": t.scope,
        "username": t.username,
        "home_account_id": t.home_account_id,
        "local_account_id": t.local_account_id,
    })
}

/// Reads a token cache entry (`None`: not one tfauth wrote, or damaged).
pub fn from_json(v: &Value) -> Option<UserTokens> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    Some(UserTokens {
        authority: s("authority")?,
        tenant_id: s("tenant_id")?,
        client_id: s("client_id")?,
        access_token: Secret::new(s("access_token")?),
        refresh_token: s("refresh_token").map(Secret::new),
        id_token: s("id_token").map(Secret::new),
        expires_on: v.get("expires_on")?.as_i64()?,
        ext_expires_on: v.get("ext_expires_on").and_then(Value::as_i64).unwrap_or(0),
        scope: s("scope").unwrap_or_default(),
        username: s("username").unwrap_or_default(),
        home_account_id: s("home_account_id")?,
        local_account_id: s("local_account_id").unwrap_or_default(),
    })
}

pub fn refresh(
    who: &str,
    authority: &str,
    tenant: &str,
    client: &str,
    rt: &Secret,
) -> Result<UserTokens, ProviderError> {
    let call = Call { identity: who, service: "the Microsoft identity platform", step: "the token refresh" };
    let scope = format!("{} offline_access openid profile", arm_scope(authority));
    let reply = http::post_form(
        &call,
        &format!("{authority}/{tenant}/oauth2/v2.0/token"),
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client),
            ("refresh_token", rt.expose()),
            ("scope", &scope),
            ("client_info", "1"),
        ],
    )?;
    if !reply.ok() {
        return Err(call.refused(&reply, format!("sign in again: `tfauth auth login -i {who}`")));
    }
    let mut t = parse_tokens(&call, &reply.body, authority, tenant, client)?;
    // Entra ID may not rotate the refresh token; keep the one we have.
    if t.refresh_token.is_none() {
        t.refresh_token = Some(rt.clone());
    }
    Ok(t)
}

pub fn device_flow(
    provider: &str,
    who: &str,
    authority: &str,
    tenant: &str,
    client: &str,
    ui: &dyn DeviceCodeUi,
) -> Result<UserTokens, ProviderError> {
    let call = Call { identity: who, service: "the Microsoft identity platform", step: "the device code request" };
    let scope = format!("{} offline_access openid profile", arm_scope(authority));
    let reply = http::post_form(
        &call,
        &format!("{authority}/{tenant}/oauth2/v2.0/devicecode"),
        &[("client_id", client), ("scope", &scope)],
    )?;
    if !reply.ok() {
        return Err(call.refused(
            &reply,
            format!("check `spec.tenant_id` ({tenant}) and `spec.client_id` ({client}) of provider `{provider}`"),
        ));
    }
    let v = reply.json().unwrap_or(Value::Null);
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let n = |k: &str| v.get(k).and_then(|x| x.as_u64().or_else(|| x.as_str()?.parse().ok()));
    let (Some(device_code), Some(user_code), Some(url)) = (s("device_code"), s("user_code"), s("verification_uri"))
    else {
        return Err(ProviderError::Setup {
            identity: who.into(),
            message: "the device code answer lacks device_code, user_code or verification_uri".into(),
            hint: "the endpoint did not answer like the Microsoft identity platform; check AZURE_AUTHORITY_HOST".into(),
            code: exit::UNAVAILABLE,
        });
    };
    let device_code = Secret::new(device_code);
    let expires = Instant::now() + Duration::from_secs(n("expires_in").unwrap_or(900));
    let mut interval = Duration::from_secs(n("interval").unwrap_or(5));
    ui.begin(provider, tenant, &user_code, &url);
    let call = Call { identity: who, service: "the Microsoft identity platform", step: "the sign-in" };
    loop {
        let wake = Instant::now() + interval;
        while Instant::now() < wake {
            ui.waiting(expires.saturating_duration_since(Instant::now()));
            std::thread::sleep(wake.saturating_duration_since(Instant::now()).min(Duration::from_secs(1)));
        }
        if Instant::now() >= expires {
            ui.end(Some("the code expired"));
            return Err(ProviderError::Setup {
                identity: who.into(),
                message: format!("the sign-in code for provider `{provider}` expired before it was approved"),
                hint: format!("run `tfauth auth login -i {who}` again and approve the code in time"),
                code: exit::NOPERM,
            });
        }
        let url = format!("{authority}/{tenant}/oauth2/v2.0/token");
        let reply = http::post_form(
            &call,
            &url,
            &[
                ("grant_type", DEVICE_GRANT),
                ("client_id", client),
                ("device_code", device_code.expose()),
                ("client_info", "1"),
            ],
        )?;
        if reply.ok() {
            ui.end(None);
            return parse_tokens(&call, &reply.body, authority, tenant, client);
        }
        match http::error_code(&reply.body).as_deref() {
            Some("authorization_pending") => {}
            Some("slow_down") => interval += Duration::from_secs(5),
            _ => {
                let e = call.refused(&reply, format!("run `tfauth auth login -i {who}` to try again"));
                ui.end(Some(&http::error_text(&reply.body)));
                return Err(e);
            }
        }
    }
}

/// `azure/interactive`: the authorization code flow with PKCE (`S256`) and a loopback
/// redirect; the code, the verifier and the tokens never leave [`Secret`]s.
pub fn browser_flow(
    provider: &str,
    who: &str,
    authority: &str,
    tenant: &str,
    client: &str,
    ui: &dyn DeviceCodeUi,
    wait: Duration,
) -> Result<UserTokens, ProviderError> {
    let setup =
        |message: String, hint: String, code: i32| ProviderError::Setup { identity: who.into(), message, hint, code };
    let loopback = browser::Loopback::bind().map_err(|e| {
        setup(
            format!("cannot listen on 127.0.0.1 for the sign-in redirect: {e}"),
            "the browser sign-in needs a loopback port; check that 127.0.0.1 is up".into(),
            exit::UNAVAILABLE,
        )
    })?;
    let pkce = browser::Pkce::fresh();
    let state = browser::random_token(16);
    let scope = format!("{} offline_access openid profile", arm_scope(authority));
    let enc = super::encode;
    let url = format!(
        "{authority}/{tenant}/oauth2/v2.0/authorize?client_id={}&response_type=code&redirect_uri={}&scope={}&state={}&code_challenge={}&code_challenge_method=S256&prompt=select_account",
        enc(client),
        enc(&loopback.redirect_uri),
        enc(&scope),
        enc(&state),
        enc(&pkce.challenge),
    );
    let redirect_uri = loopback.redirect_uri.clone();
    ui.browse(provider, tenant, &url);
    let code = match loopback.wait(&state, wait) {
        Ok(code) => code,
        Err(e) => {
            ui.end(Some(&e.to_string()));
            let hint = match e {
                browser::CallbackError::Timeout(_) => {
                    format!("run `tfauth auth login -i {who}` again and finish the sign-in in the browser in time")
                }
                _ => format!(
                    "run `tfauth auth login -i {who}` to try again; check `spec.tenant_id` ({tenant}) and `spec.client_id` ({client}) of provider `{provider}`"
                ),
            };
            return Err(setup(
                format!("the browser sign-in for provider `{provider}` failed: {e}"),
                hint,
                exit::NOPERM,
            ));
        }
    };
    let call =
        Call { identity: who, service: "the Microsoft identity platform", step: "the authorization code exchange" };
    let reply = http::post_form(
        &call,
        &format!("{authority}/{tenant}/oauth2/v2.0/token"),
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("code", code.expose()),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", pkce.verifier.expose()),
            ("scope", &scope),
            ("client_info", "1"),
        ],
    )?;
    if !reply.ok() {
        ui.end(Some(&http::error_text(&reply.body)));
        return Err(call.refused(&reply, format!("run `tfauth auth login -i {who}` to try again")));
    }
    ui.end(None);
    parse_tokens(&call, &reply.body, authority, tenant, client)
}

fn parse_tokens(
    call: &Call<'_>,
    body: &str,
    authority: &str,
    tenant: &str,
    client: &str,
) -> Result<UserTokens, ProviderError> {
    let bad = |what: &str| ProviderError::Setup {
        identity: call.identity.into(),
        message: format!("{} answered without {what}", call.service),
        hint: "the endpoint did not answer like the Microsoft identity platform; check AZURE_AUTHORITY_HOST".into(),
        code: exit::UNAVAILABLE,
    };
    let v: Value = serde_json::from_str(body).map_err(|_| bad("JSON"))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let n = |k: &str| v.get(k).and_then(|x| x.as_i64().or_else(|| x.as_str()?.parse().ok()));
    let access = s("access_token").ok_or_else(|| bad("an access_token"))?;
    let claims = s("id_token").and_then(|t| super::jwt::claims(&t)).unwrap_or(Value::Null);
    let claim = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_string);
    let info = s("client_info").and_then(|c| super::jwt::b64url_json(&c)).unwrap_or(Value::Null);
    let uid = info.get("uid").and_then(Value::as_str).map(str::to_string).or_else(|| claim("oid")).unwrap_or_default();
    let utid = info
        .get("utid")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| claim("tid"))
        .unwrap_or_else(|| tenant.to_string());
    let t = now();
    let expires_in = n("expires_in").unwrap_or(3600);
    // MSAL keys the cache on the tenant's GUID (the token's `utid`/`tid`), whatever name the
    // configuration used for it; and on the granted scopes, sorted, without the OIDC ones.
    let raw_scope = s("scope").unwrap_or_else(|| arm_scope(authority).to_string());
    let mut scopes: Vec<&str> =
        raw_scope.split_whitespace().filter(|x| !matches!(*x, "openid" | "profile" | "offline_access")).collect();
    scopes.sort_unstable();
    scopes.dedup();
    Ok(UserTokens {
        authority: authority.to_string(),
        tenant_id: utid.clone(),
        client_id: client.to_string(),
        access_token: Secret::new(access),
        refresh_token: s("refresh_token").map(Secret::new),
        id_token: s("id_token").map(Secret::new),
        expires_on: t + expires_in,
        ext_expires_on: t + n("ext_expires_in").unwrap_or(expires_in),
        scope: scopes.join(" "),
        username: claim("preferred_username").or_else(|| claim("upn")).or_else(|| claim("email")).unwrap_or_default(),
        home_account_id: format!("{uid}.{utid}"),
        local_account_id: claim("oid").unwrap_or(uid),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cloud_signs_in_at_its_own_host_for_its_own_resource_manager() {
        let none = Env::default();
        assert_eq!(authority_host(&none, AzureCloud::Public), "https://login.microsoftonline.com");
        assert_eq!(authority_host(&none, AzureCloud::UsGovernment), "https://login.microsoftonline.us");
        assert_eq!(authority_host(&none, AzureCloud::China), "https://login.chinacloudapi.cn");
        // AZURE_AUTHORITY_HOST still wins (a stand-in, a cloud Atmos has no name for).
        let set = Env::from_pairs([(ev::AZURE_AUTHORITY_HOST, "http://127.0.0.1:9/")]);
        assert_eq!(authority_host(&set, AzureCloud::China), "http://127.0.0.1:9");
        assert_eq!(arm_scope("https://login.microsoftonline.us"), "https://management.usgovcloudapi.net/.default");
        assert_eq!(arm_scope("https://login.chinacloudapi.cn/"), "https://management.chinacloudapi.cn/.default");
        assert_eq!(arm_scope("http://127.0.0.1:9"), ARM_SCOPE);
    }

    #[test]
    fn the_token_file_path_is_read_as_a_bounded_regular_file_that_others_cannot_write() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let at = crate::yaml::Span::new(std::sync::Arc::from(std::path::Path::new("atmos.yaml")), 9, 5);
        let read = |p: &std::path::Path| {
            read_token_file("ci", "gh", &Located { value: p.display().to_string(), span: at.clone() })
        };
        let file = dir.path().join("token");
        std::fs::write(&file, "eyJ.payload.sig\n").unwrap();
        assert_eq!(read(&file).unwrap().expose(), "eyJ.payload.sig");
        // Links are followed: the platform's file is reached through one (AKS's `..data`).
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(read(&link).unwrap().expose(), "eyJ.payload.sig");
        let why = |p: &std::path::Path| {
            let e = read(p).unwrap_err();
            assert_eq!(e.exit_code(), exit::NOPERM, "{e}");
            assert!(e.to_string().starts_with("identity `ci`: cannot read the federated token file `"), "{e}");
            assert!(e.to_string().contains("(provider `gh`'s spec.token_file_path, atmos.yaml:9:5): "), "{e}");
            assert!(e.hint().is_some_and(|h| h.contains("regular file")), "{e}");
            e.to_string()
        };
        assert!(why(&dir.path().join("missing")).contains("No such file"));
        assert!(why(dir.path()).contains("not a regular file"));
        std::fs::write(&file, "  \n").unwrap();
        assert!(why(&file).contains("it is empty"));
        std::fs::write(&file, "t").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(why(&file).contains("anyone can write it"));
        std::fs::write(&file, vec![b'a'; 70 * 1024]).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(why(&file).contains("more than 65536 bytes"));
    }

    #[test]
    fn cache_entry_round_trips_and_never_prints_a_token() {
        let t = UserTokens {
            authority: "https://login.microsoftonline.com".into(),
            tenant_id: "T-1".into(),
            client_id: AZURE_CLI_CLIENT_ID.into(),
            access_token: Secret::new("at"),
            refresh_token: Some(Secret::new("rt")),
            id_token: None,
            expires_on: 2000,
            ext_expires_on: 2000,
            scope: "https://management.azure.com/user_impersonation".into(),
            username: "ada@example.com".into(),
            home_account_id: "OID.T-1".into(),
            local_account_id: "OID".into(),
        };
        let back = from_json(&to_json(&t)).unwrap();
        assert_eq!(back.refresh_token.unwrap().expose(), "rt");
        assert_eq!(format!("{:?}", back.access_token), crate::secret::REDACTED);
    }
}
