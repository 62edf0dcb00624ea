//! The variables and files for an Azure identity (CONTRACT A5).
//!
//! What Terraform's `azurerm` provider reads, by provider kind:
//! - `azure/oidc` (GitHub federation): `ARM_USE_OIDC`, the client and tenant, and the
//!   GitHub token request URL and bearer (`ARM_OIDC_REQUEST_URL`/`TOKEN`), so azurerm fetches
//!   a fresh GitHub token each time it needs an Entra ID token. Tools that read a token from
//!   a file get `AZURE_FEDERATED_TOKEN_FILE`, a GitHub token fetched once by tfauth.
//!   `ARM_OIDC_TOKEN_FILE_PATH` is set only when there is no request URL to refresh from:
//!   azurerm prefers a token file over the request URL, and a GitHub token lasts minutes,
//!   so pointing it at the file would break an apply that outlives the token.
//! - `azure/cli`: `ARM_USE_CLI`, the user's own `az` login, untouched.
//! - `azure/device-code`: tfauth signs in itself and writes an isolated `AZURE_CONFIG_DIR`
//!   (`azureProfile.json` and the MSAL token cache `az` reads), so `az` and azurerm's
//!   `ARM_USE_CLI` see this identity and the user's `~/.azure` is never touched.
//! - `azure/subscription`: subscription, location and resource group, with their `AZURE_*`
//!   twins. Every other `ARM_*`/`AZURE_*` is removed, except the variables that choose the
//!   cloud (`ARM_ENVIRONMENT`, `ARM_METADATA_HOSTNAME`, `AZURE_AUTHORITY_HOST`).
//! - Any Azure provider's `spec.location` is the location when the identity names none, and
//!   its `spec.cloud_environment` other than `public` sets `ARM_ENVIRONMENT` and
//!   `AZURE_ENVIRONMENT` (as Atmos does) and the cloud `az` is told to use.
//! - `azure/oidc` with `spec.token_file_path`: azurerm and other tools read that file, which
//!   the tool that writes it keeps fresh; tfauth makes no copy.
//!
//! Pure; the files whose contents come from the network carry placeholders until
//! [`complete`] fills them with what walking the chain handed over.

use super::env::{EnvPlan, PlanContext, PlannedFile, path_component};
use super::ini::{Ini, UnsafeValue};
use crate::auth::schema::AzureCloud;
use crate::auth::{IdentityKind, ProviderKind};
use crate::env_vars::{self as ev, Env};
use crate::identity::{Chain, ChainRoot};
use crate::providers::azure::{DEVICE_GRANT, UserTokens};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

pub use crate::providers::azure::{AUTHORITY_HOST, AZURE_CLI_CLIENT_ID, FEDERATED_AUDIENCE, authority_host};

pub const FEDERATED_TOKEN_FILE: &str = "federated_token";
pub const PROFILE_FILE: &str = "azureProfile.json";
pub const MSAL_CACHE_FILE: &str = "msal_token_cache.json";
pub const AZ_CONFIG_FILE: &str = "config";

/// The `az` cloud whose Entra ID lives at `authority` (a host from [`authority_host`]), for
/// the isolated `config`: without it `az` would ask the public cloud for a sovereign
/// cloud's tokens. None for hosts az has no built-in cloud for (a test's loopback).
pub fn az_cloud_name(authority: &str) -> Option<&'static str> {
    let host = authority.trim_start_matches("https://").trim_end_matches('/').to_ascii_lowercase();
    match host.as_str() {
        "login.microsoftonline.com" => Some("AzureCloud"),
        "login.microsoftonline.us" => Some("AzureUSGovernment"),
        "login.chinacloudapi.cn" => Some("AzureChinaCloud"),
        _ => None,
    }
}

/// The provider's directory under the realm.
pub fn provider_dir(realm_dir: &Path, provider: &str) -> PathBuf {
    realm_dir.join("azure").join(path_component(provider))
}

/// The isolated `AZURE_CONFIG_DIR` of a device-code identity.
pub fn config_dir(realm_dir: &Path, provider: &str, identity: &str) -> PathBuf {
    provider_dir(realm_dir, provider).join("config").join(path_component(identity))
}

/// The subscription, tenant, location and resource group of a chain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    pub tenant_id: Option<String>,
    pub subscription_id: Option<String>,
    pub location: Option<String>,
    pub resource_group: Option<String>,
    /// The provider's `cloud_environment`.
    pub cloud: AzureCloud,
}

pub fn scope(chain: &Chain) -> Scope {
    let mut s = Scope::default();
    if let ChainRoot::Provider(p) = &chain.root {
        match &p.kind {
            Some(ProviderKind::AzureCli { tenant_id, subscription_id, azure }) => {
                s.tenant_id = tenant_id.clone();
                s.subscription_id = subscription_id.clone();
                (s.location, s.cloud) = (azure.location.clone(), azure.cloud());
            }
            Some(
                ProviderKind::AzureOidc { tenant_id, subscription_id, azure, .. }
                | ProviderKind::AzureDeviceCode { tenant_id, subscription_id, azure, .. },
            ) => {
                s.tenant_id = Some(tenant_id.clone());
                s.subscription_id = subscription_id.clone();
                (s.location, s.cloud) = (azure.location.clone(), azure.cloud());
            }
            _ => {}
        }
    }
    if let Some(IdentityKind::AzureSubscription { subscription_id, location, resource_group }) = chain
        .hops
        .iter()
        .rev()
        .find_map(|h| matches!(h.kind, Some(IdentityKind::AzureSubscription { .. })).then_some(&h.kind))
        .and_then(|k| k.as_ref())
    {
        s.subscription_id = Some(subscription_id.clone());
        // The identity's location wins over the provider's, as in Atmos.
        s.location = location.clone().or(s.location.take());
        s.resource_group = resource_group.clone();
    }
    s
}

/// The isolated `config`: a plain token cache (the one tfauth writes), no telemetry, and
/// the cloud the sign-in was made in. It lives in the identity's `AZURE_CONFIG_DIR`, which
/// `az` itself writes to (a mutable store, so not content-addressed): its bytes depend on
/// the identity and the cloud only, so concurrent runs of any components write the same
/// file. `who` goes into a comment only.
fn az_config(who: &str, authority: &str) -> String {
    let mut doc = Ini::new();
    doc.comment(&format!("Written by tfauth for {who}. Rewritten on every run; do not edit."));
    // Fixed keys and values: nothing here can fail the checks.
    let fixed = [("encrypt_token_cache", "false"), ("collect_telemetry", "false"), ("first_run", "false")];
    if let Ok(core) = doc.section(None, "core") {
        for (k, v) in fixed {
            let _ = core.pair(k, v);
        }
    }
    if let Some(cloud) = az_cloud_name(authority)
        && let Ok(section) = doc.section(None, "cloud")
    {
        let _ = section.pair("name", cloud);
    }
    doc.render()
}

/// Nothing in these files comes from the repository but the identity's name, which goes
/// into a comment: the plan cannot fail, but has the signature of the others.
pub fn plan(chain: &Chain, ctx: &PlanContext, env: &Env) -> Result<EnvPlan, Box<UnsafeValue>> {
    let mut plan = EnvPlan {
        clear_prefixes: ev::AZURE_COMPETING_PREFIXES.iter().map(|s| s.to_string()).collect(),
        ..EnvPlan::default()
    };
    let scope = scope(chain);
    let put = |plan: &mut EnvPlan, arm: &str, azure: Option<&str>, v: &str| {
        plan.set.insert(arm.to_string(), v.to_string());
        if let Some(a) = azure {
            plan.set.insert(a.to_string(), v.to_string());
        }
    };
    for k in ev::AZURE_CLOUD_SELECTORS {
        if let Some(v) = env.get(k) {
            plan.set.insert(k.to_string(), v.to_string());
        }
    }
    if scope.cloud != AzureCloud::Public {
        put(&mut plan, ev::ARM_ENVIRONMENT, Some(ev::AZURE_ENVIRONMENT), scope.cloud.name());
    }
    let ChainRoot::Provider(p) = &chain.root else { return Ok(plan) };
    match &p.kind {
        Some(ProviderKind::AzureOidc { client_id, token_file_path: Some(path), .. }) => {
            put(&mut plan, ev::ARM_USE_OIDC, None, "true");
            put(&mut plan, ev::ARM_USE_CLI, None, "false");
            put(&mut plan, ev::ARM_CLIENT_ID, Some(ev::AZURE_CLIENT_ID), client_id);
            // Terraform runs in the component's directory: a relative path is the caller's.
            let file = std::path::absolute(&path.value).unwrap_or_else(|_| PathBuf::from(&path.value));
            put(&mut plan, ev::ARM_OIDC_TOKEN_FILE_PATH, None, &file.display().to_string());
            put(&mut plan, ev::AZURE_FEDERATED_TOKEN_FILE, None, &file.display().to_string());
        }
        Some(ProviderKind::AzureCli { .. }) => {
            put(&mut plan, ev::ARM_USE_CLI, None, "true");
            // The user's own `az` login, wherever they keep it.
            if let Some(dir) = env.get(ev::AZURE_CONFIG_DIR) {
                plan.set.insert(ev::AZURE_CONFIG_DIR.into(), dir.into());
            }
        }
        Some(ProviderKind::AzureOidc { client_id, .. }) => {
            put(&mut plan, ev::ARM_USE_OIDC, None, "true");
            put(&mut plan, ev::ARM_USE_CLI, None, "false");
            put(&mut plan, ev::ARM_CLIENT_ID, Some(ev::AZURE_CLIENT_ID), client_id);
            let token_file = provider_dir(&ctx.realm_dir, &p.name).join(FEDERATED_TOKEN_FILE);
            let request = (env.get(ev::ACTIONS_ID_TOKEN_REQUEST_URL), env.get(ev::ACTIONS_ID_TOKEN_REQUEST_TOKEN));
            if let (Some(url), Some(token)) = request {
                put(&mut plan, ev::ARM_OIDC_REQUEST_URL, None, url);
                put(&mut plan, ev::ARM_OIDC_REQUEST_TOKEN, None, token);
                plan.secret_vars.push(ev::ARM_OIDC_REQUEST_TOKEN.into());
            } else {
                put(&mut plan, ev::ARM_OIDC_TOKEN_FILE_PATH, None, &token_file.display().to_string());
            }
            put(&mut plan, ev::AZURE_FEDERATED_TOKEN_FILE, None, &token_file.display().to_string());
            plan.files.push(PlannedFile {
                path: token_file,
                contents: "<a GitHub OIDC token for Entra ID, fetched at run time>".into(),
                secret: true,
            });
        }
        Some(ProviderKind::AzureDeviceCode { client_id, .. }) => {
            let dir = config_dir(&ctx.realm_dir, &p.name, &chain.leaf().name);
            put(&mut plan, ev::ARM_USE_CLI, None, "true");
            plan.set.insert(ev::AZURE_CONFIG_DIR.into(), dir.display().to_string());
            let client = client_id.as_deref().unwrap_or(AZURE_CLI_CLIENT_ID);
            if client != AZURE_CLI_CLIENT_ID {
                plan.notes.push(format!(
                    "`az` accepts refresh tokens of another client only within Microsoft's family of first-party apps; client `{client}` may leave `az` and ARM_USE_CLI signed out"
                ));
            }
            plan.files.push(PlannedFile {
                path: dir.join(PROFILE_FILE),
                contents: "<the subscription and signed-in user, written at run time>".into(),
                secret: false,
            });
            plan.files.push(PlannedFile {
                path: dir.join(MSAL_CACHE_FILE),
                contents: "<the MSAL token cache, written at run time>".into(),
                secret: true,
            });
            plan.files.push(PlannedFile {
                path: dir.join(AZ_CONFIG_FILE),
                contents: az_config(&format!("identity {}", chain.leaf().name), &authority_host(env, scope.cloud)),
                secret: false,
            });
        }
        _ => {}
    }
    if let Some(t) = &scope.tenant_id {
        put(&mut plan, ev::ARM_TENANT_ID, Some(ev::AZURE_TENANT_ID), t);
    }
    if let Some(s) = &scope.subscription_id {
        put(&mut plan, ev::ARM_SUBSCRIPTION_ID, Some(ev::AZURE_SUBSCRIPTION_ID), s);
    }
    if let Some(l) = &scope.location {
        put(&mut plan, ev::ARM_LOCATION, Some(ev::AZURE_LOCATION), l);
    }
    if let Some(g) = &scope.resource_group {
        put(&mut plan, ev::ARM_RESOURCE_GROUP, Some(ev::AZURE_RESOURCE_GROUP), g);
    }
    Ok(plan)
}

/// Fills the files [`plan`] left to the run with what walking the chain handed over: the
/// federated token (or the platform's own token file, used in place), the MSAL token
/// cache and `azureProfile.json` of a signed-in user. Pure; the caller writes the plan.
pub fn complete(plan: &mut EnvPlan, chain: &Chain, walked: &crate::providers::azure::Walked) {
    if let Some(existing) = &walked.federated_token_file {
        plan.files.retain(|f| !f.path.ends_with(FEDERATED_TOKEN_FILE));
        plan.set.insert(ev::AZURE_FEDERATED_TOKEN_FILE.into(), existing.clone());
        plan.set.insert(ev::ARM_OIDC_TOKEN_FILE_PATH.into(), existing.clone());
    } else if let Some(token) = &walked.federated_token
        && let Some(f) = plan.files.iter_mut().find(|f| f.path.ends_with(FEDERATED_TOKEN_FILE))
    {
        f.contents = token.expose().to_string();
    }
    if let Some(tokens) = &walked.tokens {
        let subscription = scope(chain).subscription_id;
        for f in &mut plan.files {
            if f.path.ends_with(MSAL_CACHE_FILE) {
                f.contents = msal_cache(tokens, crate::providers::azure::now()).to_string();
            } else if f.path.ends_with(PROFILE_FILE) {
                f.contents = profile(tokens, subscription.as_deref(), &chain.leaf().name).to_string();
            }
        }
    }
}

/// The MSAL cache environment for an authority: its host name (what MSAL keys on).
pub fn msal_environment(authority: &str) -> String {
    crate::auth::schema::url_host(authority)
}

/// The token cache as MSAL (and so `az`) serializes it: the account, its access, refresh
/// and id tokens, and the app's metadata. Keys are lower-case, as MSAL writes them.
pub fn msal_cache(t: &UserTokens, now: i64) -> Value {
    let env = msal_environment(&t.authority);
    let home = &t.home_account_id;
    let target = t.scope.clone();
    let k = |parts: &[&str]| parts.join("-").to_lowercase();
    let mut doc = json!({
        "Account": {
            k(&[home, &env, &t.tenant_id]): {
                "home_account_id": home,
                "environment": env,
                "realm": t.tenant_id,
                "local_account_id": t.local_account_id,
                "username": t.username,
                "authority_type": "MSSTS",
                "account_source": DEVICE_GRANT,
            }
        },
        "AccessToken": {
            k(&[home, &env, "accesstoken", &t.client_id, &t.tenant_id, &target]): {
                "credential_type": "AccessToken",
                "secret": t.access_token.expose(),
                "home_account_id": home,
                "environment": env,
                "client_id": t.client_id,
                "target": target,
                "realm": t.tenant_id,
                "token_type": "Bearer",
                "cached_at": now.to_string(),
                "expires_on": t.expires_on.to_string(),
                "extended_expires_on": t.ext_expires_on.to_string(),
            }
        },
        "RefreshToken": {},
        "IdToken": {},
        "AppMetadata": {
            k(&["appmetadata", &env, &t.client_id]): {"client_id": t.client_id, "environment": env}
        },
    });
    if let Some(rt) = &t.refresh_token {
        doc["RefreshToken"][k(&[home, &env, "refreshtoken", &t.client_id, "", &target])] = json!({
            "credential_type": "RefreshToken",
            "secret": rt.expose(),
            "home_account_id": home,
            "environment": env,
            "client_id": t.client_id,
            "target": target,
            "last_modification_time": now.to_string(),
        });
    }
    if let Some(id) = &t.id_token {
        doc["IdToken"][k(&[home, &env, "idtoken", &t.client_id, &t.tenant_id, ""])] = json!({
            "credential_type": "IdToken",
            "secret": id.expose(),
            "home_account_id": home,
            "environment": env,
            "realm": t.tenant_id,
            "client_id": t.client_id,
        });
    }
    doc
}

/// `azureProfile.json` as `az login` leaves it: one subscription, the default.
pub fn profile(t: &UserTokens, subscription: Option<&str>, name: &str) -> Value {
    let subs: Vec<Value> = subscription
        .map(|s| {
            json!({
                "id": s,
                "name": name,
                "state": "Enabled",
                "user": {"name": t.username, "type": "user"},
                "isDefault": true,
                "tenantId": t.tenant_id,
                "environmentName": "AzureCloud",
                "homeTenantId": t.tenant_id,
                "managedByTenants": [],
            })
        })
        .into_iter()
        .collect();
    json!({"installationId": crate::providers::azure::store_key(&t.authority, &t.tenant_id, "installation"), "subscriptions": subs})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_az_config_names_the_cloud_of_a_known_authority_host() {
        let gov = az_config("plat-dev", "https://login.microsoftonline.us/");
        assert!(gov.contains("\n[cloud]\nname = AzureUSGovernment\n"), "{gov}");
        assert!(gov.contains("encrypt_token_cache = false"), "{gov}");
        assert!(az_config("x", "https://login.chinacloudapi.cn").contains("name = AzureChinaCloud"));
        assert!(az_config("x", AUTHORITY_HOST).contains("name = AzureCloud"));
        // A loopback stand-in is no cloud az knows: no [cloud] section at all.
        assert!(!az_config("x", "http://127.0.0.1:8080").contains("[cloud]"));
    }

    #[test]
    fn msal_cache_keys_are_lower_case_as_msal_writes_them() {
        let t = UserTokens {
            authority: "https://login.microsoftonline.com".into(),
            tenant_id: "T-1".into(),
            client_id: AZURE_CLI_CLIENT_ID.into(),
            access_token: crate::secret::Secret::new("at"),
            refresh_token: Some(crate::secret::Secret::new("rt")),
            id_token: None,
            expires_on: 2000,
            ext_expires_on: 2000,
            scope: "https://management.azure.com/user_impersonation".into(),
            username: "ada@example.com".into(),
            home_account_id: "OID.T-1".into(),
            local_account_id: "OID".into(),
        };
        let c = msal_cache(&t, 1000);
        let keys: Vec<&String> = c["RefreshToken"].as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            vec![
                "oid.t-1-login.microsoftonline.com-refreshtoken-04b07795-8ddb-461a-bbee-02f9e1bf7b46--https://management.azure.com/user_impersonation"
            ]
        );
        assert_eq!(c["AccessToken"].as_object().unwrap().values().next().unwrap()["expires_on"], "2000");
    }
}
