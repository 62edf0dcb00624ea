//! Azure user sign-ins kept (`azure/device-code` and `azure/interactive`): the tokens of a signed-in user, cached in tfauth's
//! cache directory (0600, one lock per authority, tenant and client, so concurrent runs
//! sign in once), refreshed with the refresh token, or a new sign-in on the terminal.
//!
//! Why here and not in [`crate::providers::azure`]: the provider speaks to Entra ID (the
//! device flow, the refresh grant); keeping what it gives, and deciding when to ask again,
//! is the session's, as for AWS. Never prints: the prompt is the caller's [`DeviceCodeUi`].

use crate::auth::ProviderKind;
use crate::env_vars::Env;
use crate::exit;
use crate::identity::{Chain, ChainRoot};
use crate::providers::ProviderError;
use crate::providers::azure::{
    AZURE_CLI_CLIENT_ID, BROWSER_WAIT, DeviceCodeUi, Mode, UserTokens, authority_host, browser_flow, device_flow,
    from_json, now, refresh, store_key, to_json,
};
use std::path::PathBuf;
use std::time::Duration;

/// A cached access token is used while it has at least this long to live.
const MIN_LIFE: i64 = 5 * 60;
/// How long another process may hold the sign-in lock (a human approving a code).
const LOGIN_WAIT: Duration = Duration::from_secs(16 * 60);

/// Drops the cached tokens of a device-code chain's user (`auth login --force`, logout).
/// Returns whether there were any.
pub fn forget(chain: &Chain, env: &Env) -> bool {
    let ChainRoot::Provider(p) = &chain.root else { return false };
    forget_provider(p, env)
}

/// Drops the cached tokens of device-code provider `p`; false for other kinds, or when
/// there were none.
pub fn forget_provider(p: &crate::auth::Provider, env: &Env) -> bool {
    let Some(ProviderKind::AzureDeviceCode { tenant_id, client_id, azure, .. }) = &p.kind else { return false };
    let Some(dir) = store_dir(env) else { return false };
    let key =
        store_key(&authority_host(env, azure.cloud()), tenant_id, client_id.as_deref().unwrap_or(AZURE_CLI_CLIENT_ID));
    std::fs::remove_file(dir.join(format!("{key}.json"))).is_ok()
}

fn store_dir(env: &Env) -> Option<PathBuf> {
    super::cache::cache_home(env).map(|d| d.join("azure"))
}

/// The tokens of a device-code chain's user ([`user_tokens`] for its root provider);
/// `None` when the chain's root is no device-code provider.
pub fn user_tokens_for(
    chain: &Chain,
    env: &Env,
    ui: Option<&dyn DeviceCodeUi>,
    mode: Mode,
) -> Result<Option<UserTokens>, ProviderError> {
    let ChainRoot::Provider(p) = &chain.root else { return Ok(None) };
    let Some(ProviderKind::AzureDeviceCode { interactive, tenant_id, client_id, azure, .. }) = &p.kind else {
        return Ok(None);
    };
    let client = client_id.as_deref().unwrap_or(AZURE_CLI_CLIENT_ID);
    let authority = authority_host(env, azure.cloud());
    let signer = Signer { provider: &p.name, interactive: *interactive };
    user_tokens(signer, &chain.leaf().name, &authority, tenant_id, client, env, ui, mode).map(Some)
}

/// An ARM access token for an Azure chain and its tenant (for ACR's token exchange): a
/// device-code or interactive user's (cached, refreshed, or signed in), or the federated
/// exchange of an `azure/oidc` chain. `azure/cli` has none tfauth can use.
pub fn arm_token(
    chain: &Chain,
    env: &Env,
    ui: Option<&dyn DeviceCodeUi>,
    mode: Mode,
) -> Result<(crate::secret::Secret, String), ProviderError> {
    if let Some(t) = user_tokens_for(chain, env, ui, mode)? {
        return Ok((t.access_token, t.tenant_id));
    }
    if let Some(found) = crate::providers::azure::oidc_arm_token(chain, env)? {
        return Ok(found);
    }
    Err(ProviderError::Setup {
        identity: chain.leaf().name.clone(),
        message: format!(
            "`{}` is signed in by your own az login, whose tokens tfauth does not read",
            chain.leaf().name
        ),
        hint: "run `az acr login --name REGISTRY` yourself, or use an azure/oidc or azure/device-code provider".into(),
        code: exit::UNAVAILABLE,
    })
}

/// An access token of an Azure chain for another resource (`scope`: an AKS cluster's
/// server application), and when it expires: the signed-in user's refresh token asked for
/// it (the sign-in is cached, refreshed or made first, as for ARM), or the federated
/// exchange of an `azure/oidc` chain. `azure/cli` has none tfauth can use.
pub fn token_for(
    chain: &Chain,
    env: &Env,
    ui: Option<&dyn DeviceCodeUi>,
    scope: &str,
) -> Result<(crate::secret::Secret, Option<time::OffsetDateTime>), ProviderError> {
    if let Some(t) = user_tokens_for(chain, env, ui, Mode::Use)? {
        return crate::providers::azure::refresh_for(&chain.leaf().name, &t, scope);
    }
    if let Some(found) = crate::providers::azure::oidc_token_for(chain, env, scope)? {
        return Ok(found);
    }
    Err(ProviderError::Setup {
        identity: chain.leaf().name.clone(),
        message: format!(
            "`{}` is signed in by your own az login, whose tokens tfauth does not read",
            chain.leaf().name
        ),
        hint: "use kubelogin's azurecli mode for this cluster (`kubelogin convert-kubeconfig -l azurecli`), or an azure/oidc or azure/device-code provider".into(),
        code: exit::UNAVAILABLE,
    })
}

/// The provider that signs a user in, and how: the device code, or the browser
/// (`azure/interactive`).
#[derive(Clone, Copy, Debug)]
pub struct Signer<'a> {
    pub provider: &'a str,
    pub interactive: bool,
}

impl Signer<'_> {
    fn kind(&self) -> &'static str {
        if self.interactive { "azure/interactive" } else { "azure/device-code" }
    }
}

/// Tokens for the user of a device-code provider: cached, else refreshed, else a sign-in
/// (with a terminal). Single-flight across processes: the lock is taken and the cache read
/// again before any request. `authority` is the sign-in host ([`authority_host`]).
#[allow(clippy::too_many_arguments)]
pub fn user_tokens(
    signer: Signer<'_>,
    who: &str,
    authority: &str,
    tenant: &str,
    client: &str,
    env: &Env,
    ui: Option<&dyn DeviceCodeUi>,
    mode: Mode,
) -> Result<UserTokens, ProviderError> {
    let dir = store_dir(env).ok_or_else(|| ProviderError::Setup {
        identity: who.into(),
        message: "cannot tell where to cache Azure tokens: HOME is not set".into(),
        hint: "set HOME or XDG_CACHE_HOME".into(),
        code: exit::USAGE,
    })?;
    let key = store_key(authority, tenant, client);
    let path = dir.join(format!("{key}.json"));
    let read = || -> Option<UserTokens> {
        let bytes = crate::util::fs::read_private(&path, crate::util::fs::READ_CAP).ok()??;
        from_json(&serde_json::from_slice(&bytes).ok()?)
    };
    let usable = |t: &UserTokens| t.expires_on - now() > MIN_LIFE;
    if mode == Mode::Use
        && let Some(t) = read().filter(usable)
    {
        return Ok(t);
    }
    let no_terminal = || ProviderError::Setup {
        identity: who.into(),
        message: format!(
            "provider `{}` ({}) needs a sign-in, and there is no terminal to {}",
            signer.provider,
            signer.kind(),
            if signer.interactive { "start the browser sign-in from" } else { "show the code on" }
        ),
        hint: format!("run `tfauth auth login -i {who}` in a terminal first"),
        code: exit::NOPERM,
    };
    // Fail before taking a lock or creating a file when nothing could succeed.
    let cached = read();
    if ui.is_none() && (mode == Mode::Relogin || cached.as_ref().and_then(|t| t.refresh_token.as_ref()).is_none()) {
        return Err(no_terminal());
    }
    let cache = super::cache::Cache::at(dir);
    let _lock = cache.lock(&key, LOGIN_WAIT).map_err(|e| ProviderError::Setup {
        identity: who.into(),
        message: e.to_string(),
        hint: "another tfauth is signing in to this tenant; try again when it is done".into(),
        code: exit::TEMPFAIL,
    })?;
    let cached = read();
    if mode == Mode::Use {
        if let Some(t) = cached.clone().filter(usable) {
            return Ok(t);
        }
        if let Some(rt) = cached.as_ref().and_then(|t| t.refresh_token.clone()) {
            match refresh(who, authority, tenant, client, &rt) {
                Ok(t) => {
                    save(who, &path, &t)?;
                    return Ok(t);
                }
                Err(e) => tracing::debug!(error = %e, "the refresh token was refused; signing in again"),
            }
        }
    }
    let ui = ui.ok_or_else(no_terminal)?;
    let t = if signer.interactive {
        browser_flow(signer.provider, who, authority, tenant, client, ui, BROWSER_WAIT)?
    } else {
        device_flow(signer.provider, who, authority, tenant, client, ui)?
    };
    save(who, &path, &t)?;
    Ok(t)
}

fn save(who: &str, path: &std::path::Path, t: &UserTokens) -> Result<(), ProviderError> {
    let text = serde_json::to_string_pretty(&to_json(t)).unwrap_or_default();
    crate::util::fs::write_private_cache(path, text.as_bytes()).map_err(|e| ProviderError::Setup {
        identity: who.into(),
        message: format!("cannot write the Azure token cache {}: {e}", path.display()),
        hint: "check the permissions of the cache directory".into(),
        code: exit::CANTCREAT,
    })
}
