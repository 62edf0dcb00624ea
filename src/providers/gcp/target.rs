//! What a GCP chain means, read from the typed chain (pure): where its Google credentials
//! come from (workload identity federation or the user's ADC), the service account it
//! impersonates, its project, region and zone, and the Google endpoints it talks to.
//!
//! Both sides use it: [`super`] walks the chain over the network, and
//! [`crate::output::gcp`] plans the files Google's libraries renew themselves from. It
//! does no I/O beyond reading the environment snapshot it is given.

use crate::auth::schema::{TokenSource, TokenSourceKind};
use crate::auth::{IdentityKind, ProviderKind};
use crate::env_vars::{self as ev, Env};
use crate::identity::{Chain, ChainRoot};
use std::path::{Path, PathBuf};

/// The credentials file's name, the one gcloud and the libraries look for by default.
pub const ADC_FILE: &str = "application_default_credentials.json";

/// Google STS, where subject tokens become federated access tokens.
pub const STS_TOKEN_URL: &str = "https://sts.googleapis.com/v1/token";
/// IAM Credentials, which mints a service account's access tokens.
pub const IAM_CREDENTIALS_URL: &str = "https://iamcredentials.googleapis.com";
/// The subject token type of an OIDC JWT (RFC 8693).
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
/// The scope tfauth asks for when the configuration names none.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// A service account to impersonate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Impersonation {
    pub email: String,
    pub delegates: Vec<String>,
    pub scopes: Vec<String>,
    pub lifetime_secs: Option<u64>,
}

/// Where the chain's Google credentials come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Wif { project_number: String, pool_id: String, provider_id: String, token_source: TokenSource },
    Adc { scopes: Vec<String> },
}

/// Everything about a GCP chain that its files and variables need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub provider: String,
    pub identity: String,
    pub source: Source,
    pub impersonate: Option<Impersonation>,
    pub project: Option<String>,
    pub region: Option<String>,
    pub zone: Option<String>,
}

/// Reads the chain: the nearest `gcp/service-account` hop (else the WIF provider's
/// `service_account_email`) is impersonated; project, region and zone come from the leaf
/// `gcp/project`, else the service account's or provider's `project_id`.
pub fn target(chain: &Chain) -> Option<Target> {
    let ChainRoot::Provider(p) = &chain.root else { return None };
    let (source, provider_sa, provider_project, provider_region) = match p.kind.as_ref()? {
        ProviderKind::GcpWif {
            project_id,
            project_number,
            pool_id,
            provider_id,
            service_account_email,
            token_source,
            ..
        } => (
            Source::Wif {
                project_number: project_number.clone(),
                pool_id: pool_id.clone(),
                provider_id: provider_id.clone(),
                token_source: token_source.clone(),
            },
            service_account_email.clone(),
            project_id.clone(),
            None,
        ),
        ProviderKind::GcpAdc { project_id, region, scopes } => {
            (Source::Adc { scopes: scopes.clone() }, None, project_id.clone(), region.clone())
        }
        _ => return None,
    };
    let sa_hop = chain.hops.iter().rev().find_map(|h| match &h.kind {
        Some(IdentityKind::GcpServiceAccount { email, lifetime_secs, delegates, scopes, project_id }) => {
            Some((email, lifetime_secs, delegates, scopes, project_id))
        }
        _ => None,
    });
    let impersonate = match sa_hop {
        Some((email, lifetime, delegates, scopes, _)) => Some(Impersonation {
            email: email.clone(),
            delegates: delegates.clone(),
            scopes: scopes.clone(),
            lifetime_secs: *lifetime,
        }),
        None => {
            provider_sa.map(|email| Impersonation { email, delegates: vec![], scopes: vec![], lifetime_secs: None })
        }
    };
    let (mut project, mut region, mut zone) = (None, None, None);
    for h in chain.hops.iter().rev() {
        match &h.kind {
            Some(IdentityKind::GcpProject { project_id, region: r, zone: z }) => {
                project = project.or_else(|| Some(project_id.clone()));
                region = region.or_else(|| r.clone());
                zone = zone.or_else(|| z.clone());
            }
            Some(IdentityKind::GcpServiceAccount { project_id, .. }) => {
                project = project.or_else(|| project_id.clone())
            }
            _ => {}
        }
    }
    Some(Target {
        provider: p.name.clone(),
        identity: chain.leaf().name.clone(),
        source,
        impersonate,
        project: project.or(provider_project),
        region: region.or(provider_region),
        zone,
    })
}

/// `//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/Q`:
/// the STS audience of a workload identity provider.
pub fn sts_audience(project_number: &str, pool: &str, provider: &str) -> String {
    format!(
        "//iam.googleapis.com/projects/{project_number}/locations/global/workloadIdentityPools/{pool}/providers/{provider}"
    )
}

/// The STS token URL: `TFAUTH_GOOGLE_STS_URL` (private endpoints, tests), else Google's.
pub fn sts_url(env: &Env) -> String {
    env.get(ev::TFAUTH_GOOGLE_STS_URL).map_or_else(|| STS_TOKEN_URL.to_string(), str::to_string)
}

/// `generateAccessToken` for `email`, under `TFAUTH_GOOGLE_IAM_CREDENTIALS_URL` or Google's.
pub fn impersonation_url(env: &Env, email: &str) -> String {
    let base = env.get(ev::TFAUTH_GOOGLE_IAM_CREDENTIALS_URL).unwrap_or(IAM_CREDENTIALS_URL).trim_end_matches('/');
    format!("{base}/v1/projects/-/serviceAccounts/{email}:generateAccessToken")
}

/// The user's own application-default credentials file: the `GOOGLE_APPLICATION_CREDENTIALS`
/// they had, else `$CLOUDSDK_CONFIG/`, else `~/.config/gcloud/` (where `gcloud auth
/// application-default login` writes it).
pub fn user_adc_path(env: &Env) -> Option<PathBuf> {
    if let Some(p) = env.get(ev::GOOGLE_APPLICATION_CREDENTIALS) {
        return Some(PathBuf::from(p));
    }
    if let Some(dir) = env.get(ev::CLOUDSDK_CONFIG) {
        return Some(Path::new(dir).join(ADC_FILE));
    }
    env.get(ev::HOME).map(|h| Path::new(h).join(".config").join("gcloud").join(ADC_FILE))
}

/// The GitHub token's audience when `token_source.audience` is not set: the provider's
/// full resource name, which a workload identity provider accepts by default.
pub fn github_audience(project_number: &str, pool: &str, provider: &str) -> String {
    format!(
        "https://iam.googleapis.com/projects/{project_number}/locations/global/workloadIdentityPools/{pool}/providers/{provider}"
    )
}

/// Why the environment cannot give Google's libraries a subject token the way `ts` says
/// (a missing variable, a token URL that is not https or not allowed); `Ok` when it can.
pub fn subject_source_problem(ts: &TokenSource, env: &Env) -> Result<(), String> {
    match &ts.kind {
        TokenSourceKind::GithubActions => {
            let (Some(url), Some(_)) =
                (env.get(ev::ACTIONS_ID_TOKEN_REQUEST_URL), env.get(ev::ACTIONS_ID_TOKEN_REQUEST_TOKEN))
            else {
                if env.get(ev::ACTIONS_ID_TOKEN).is_some() {
                    return Ok(());
                }
                return Err("ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set".into());
            };
            if !crate::providers::github::is_allowed_url(url) {
                return Err("ACTIONS_ID_TOKEN_REQUEST_URL is neither https nor http to a loopback address".into());
            }
            let host = crate::auth::schema::url_host(url);
            if !ts.allowed_hosts.is_empty() && !ts.allowed_hosts.contains(&host) {
                return Err(format!("ACTIONS_ID_TOKEN_REQUEST_URL goes to `{host}`, which is not in `allowed_hosts`"));
            }
            Ok(())
        }
        TokenSourceKind::Url { .. } | TokenSourceKind::File { .. } => Ok(()),
        TokenSourceKind::Environment { variable } => match env.get(variable) {
            Some(_) => Ok(()),
            None => Err(format!("`{variable}` (token_source.environment_variable) is not set")),
        },
    }
}

/// Whether the subject token is held in a variable (`type: environment`, or GitHub's
/// `ACTIONS_ID_TOKEN` without the token request variables), so a run copies it into a
/// file once: Google's libraries cannot fetch a new one when it expires.
pub fn copies_subject_token(ts: &TokenSource, env: &Env) -> bool {
    matches!(ts.kind, TokenSourceKind::Environment { .. })
        || (ts.kind == TokenSourceKind::GithubActions && env.get(ev::ACTIONS_ID_TOKEN_REQUEST_URL).is_none())
}
