//! The files and variables for a GCP identity (CONTRACT A5).
//!
//! tfauth does not hand Terraform a Google access token: one lasts an hour and a long apply
//! outlives it. It writes a credentials file that Google's own client libraries (and the
//! Terraform `google` provider, and `gcloud`) know how to renew themselves from:
//!
//! - `gcp/workload-identity-federation`: an `external_account` file whose
//!   `credential_source` fetches a fresh subject token on every exchange (GitHub Actions'
//!   token URL with its bearer header, another URL, or a file), exchanged at Google STS,
//!   then, with a service account, through `generateAccessToken`.
//! - `gcp/adc` with a `gcp/service-account`: an `impersonated_service_account` file whose
//!   `source_credentials` are the user's own application-default credentials.
//! - `gcp/adc` alone: the user's ADC file itself, by path (no copy of a refresh token).
//!
//! Everything lives under `<realm>/gcp/<provider>/`: `adc/<identity>/` holds the
//! credentials, `config/<identity>/` is an isolated gcloud configuration directory
//! (`CLOUDSDK_CONFIG`) whose active configuration names the project and region and points
//! gcloud at the same credentials. Pure: the caller supplies the environment snapshot; the
//! parts that need I/O (the user's ADC, a token held in a variable) are filled in by
//! [`crate::providers::gcp::materialize`].

use super::env::{AddressKind, Addressed, EnvPlan, Origin, PlanContext, PlannedFile, path_component};
use super::ini::{self, Ini, UnsafeValue};
use crate::auth::schema::{TokenSource, TokenSourceKind};
use crate::auth::{IdentityKind, ProviderKind};
use crate::env_vars::{self as ev, Env};
use crate::identity::{Chain, ChainRoot};
use crate::providers::github;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Google STS, where subject tokens become federated access tokens.
pub const STS_TOKEN_URL: &str = "https://sts.googleapis.com/v1/token";
/// IAM Credentials, which mints a service account's access tokens.
pub const IAM_CREDENTIALS_URL: &str = "https://iamcredentials.googleapis.com";
/// The subject token type of an OIDC JWT (RFC 8693).
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
/// The scope tfauth asks for when the configuration names none.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// The name of the gcloud configuration tfauth writes.
pub const GCLOUD_CONFIGURATION: &str = "tfauth";
/// The credentials file's name, the one gcloud and the libraries look for by default.
pub const ADC_FILE: &str = "application_default_credentials.json";
/// A subject token tfauth copied from a variable (`token_source.type: environment`).
pub const SUBJECT_TOKEN_FILE: &str = "subject_token";

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

/// Where the subject token comes from, as the file's `credential_source` says it, and
/// whether that holds a secret (a bearer header). `subject_token_file` is where a token
/// held in a variable is copied to. Errors say what the environment lacks.
pub fn credential_source(
    ts: &TokenSource,
    wif: (&str, &str, &str),
    env: &Env,
    subject_token_file: &Path,
) -> Result<(Value, bool), String> {
    let format = |v: &mut Value| {
        if let Some(field) = &ts.json_field {
            v["format"] = json!({"type": "json", "subject_token_field_name": field});
        }
    };
    match &ts.kind {
        TokenSourceKind::GithubActions => {
            let (Some(url), Some(bearer)) =
                (env.get(ev::ACTIONS_ID_TOKEN_REQUEST_URL), env.get(ev::ACTIONS_ID_TOKEN_REQUEST_TOKEN))
            else {
                if env.get(ev::ACTIONS_ID_TOKEN).is_some() {
                    return Ok((json!({"file": subject_token_file.display().to_string()}), false));
                }
                return Err("ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set".into());
            };
            if !github::is_allowed_url(url) {
                return Err("ACTIONS_ID_TOKEN_REQUEST_URL is neither https nor http to a loopback address".into());
            }
            let host = crate::auth::schema::url_host(url);
            if !ts.allowed_hosts.is_empty() && !ts.allowed_hosts.contains(&host) {
                return Err(format!("ACTIONS_ID_TOKEN_REQUEST_URL goes to `{host}`, which is not in `allowed_hosts`"));
            }
            let audience = ts.audience.clone().unwrap_or_else(|| github_audience(wif.0, wif.1, wif.2));
            let sep = if url.contains('?') { '&' } else { '?' };
            let full = format!("{url}{sep}audience={}", crate::providers::encode(&audience));
            Ok((
                json!({
                    "url": full,
                    "headers": {"Authorization": format!("bearer {bearer}")},
                    "format": {"type": "json", "subject_token_field_name": "value"},
                }),
                true,
            ))
        }
        TokenSourceKind::Url { url, headers } => {
            let mut v = json!({"url": url});
            if !headers.is_empty() {
                let map: serde_json::Map<String, Value> =
                    headers.iter().map(|(k, val)| (k.clone(), Value::String(val.clone()))).collect();
                v["headers"] = Value::Object(map);
            }
            format(&mut v);
            Ok((v, !headers.is_empty()))
        }
        TokenSourceKind::File { path } => {
            let mut v = json!({"file": path});
            format(&mut v);
            Ok((v, false))
        }
        TokenSourceKind::Environment { variable } => {
            if env.get(variable).is_none() {
                return Err(format!("`{variable}` (token_source.environment_variable) is not set"));
            }
            Ok((json!({"file": subject_token_file.display().to_string()}), false))
        }
    }
}

/// The `external_account` document for a WIF target (see the module docs).
pub fn external_account(t: &Target, credential_source: Value, env: &Env) -> Value {
    let Source::Wif { project_number, pool_id, provider_id, .. } = &t.source else {
        unreachable!("external_account is only for workload identity federation")
    };
    let mut doc = json!({
        "type": "external_account",
        "audience": sts_audience(project_number, pool_id, provider_id),
        "subject_token_type": JWT_TOKEN_TYPE,
        "token_url": sts_url(env),
        "credential_source": credential_source,
    });
    if let Some(imp) = &t.impersonate {
        doc["service_account_impersonation_url"] = json!(impersonation_url(env, &imp.email));
        if let Some(l) = imp.lifetime_secs {
            doc["service_account_impersonation"] = json!({"token_lifetime_seconds": l});
        }
    }
    doc
}

/// The `impersonated_service_account` document over the user's ADC (`source`).
pub fn impersonated(imp: &Impersonation, source: Value, env: &Env) -> Value {
    let delegates: Vec<String> = imp
        .delegates
        .iter()
        .map(|d| if d.starts_with("projects/") { d.clone() } else { format!("projects/-/serviceAccounts/{d}") })
        .collect();
    let mut doc = json!({
        "type": "impersonated_service_account",
        "service_account_impersonation_url": impersonation_url(env, &imp.email),
        "delegates": delegates,
        "source_credentials": source,
    });
    if !imp.scopes.is_empty() {
        doc["scopes"] = json!(imp.scopes);
    }
    doc
}

/// The directories of a target under the realm: credentials, gcloud configuration.
pub fn dirs(realm_dir: &Path, t: &Target) -> (PathBuf, PathBuf) {
    let base = realm_dir.join("gcp").join(path_component(&t.provider));
    (base.join("adc").join(path_component(&t.identity)), base.join("config").join(path_component(&t.identity)))
}

/// The plan for a GCP chain. Files whose contents need I/O carry a placeholder that
/// [`crate::providers::gcp::materialize`] replaces.
pub fn plan(chain: &Chain, ctx: &PlanContext, env: &Env) -> Result<EnvPlan, Box<UnsafeValue>> {
    let mut plan = EnvPlan {
        clear: ev::GCP_COMPETING.iter().map(|s| s.to_string()).collect(),
        clear_prefixes: ev::GCP_COMPETING_PREFIXES.iter().map(|s| s.to_string()).collect(),
        ..EnvPlan::default()
    };
    let Some(t) = target(chain) else {
        plan.notes.push(format!("identity `{}` has no GCP provider at the root of its chain", chain.leaf().name));
        return Ok(plan);
    };
    let (adc_dir, config_dir) = dirs(&ctx.realm_dir, &t);
    let header = format!(
        "Written by tfauth for {}. Do not edit: tfauth writes a new directory when anything changes.",
        ctx.purpose
    );
    let mut creds_path = adc_dir.join(ADC_FILE);
    match &t.source {
        Source::Wif { project_number, pool_id, provider_id, token_source } => {
            let subject_file = adc_dir.join(SUBJECT_TOKEN_FILE);
            match credential_source(token_source, (project_number, pool_id, provider_id), env, &subject_file) {
                Ok((source, secret)) => {
                    let doc = external_account(&t, source, env);
                    plan.files.push(PlannedFile { path: creds_path.clone(), contents: pretty(&doc), secret });
                    let from_var = matches!(token_source.kind, TokenSourceKind::Environment { .. })
                        || (token_source.kind == TokenSourceKind::GithubActions
                            && env.get(ev::ACTIONS_ID_TOKEN_REQUEST_URL).is_none());
                    if from_var {
                        plan.files.push(PlannedFile {
                            path: subject_file,
                            contents: String::from("<the subject token, copied at run time>"),
                            secret: true,
                        });
                        plan.notes.push(
                            "the subject token comes from a variable and is copied once: Google's libraries cannot fetch a new one when it expires".into(),
                        );
                    }
                }
                Err(why) => plan.notes.push(format!("cannot write the external_account file yet: {why}")),
            }
        }
        Source::Adc { .. } => match &t.impersonate {
            Some(_) => plan.files.push(PlannedFile {
                path: creds_path.clone(),
                contents: String::from(
                    "<impersonated_service_account over your application-default credentials, written at run time>",
                ),
                secret: true,
            }),
            None => {
                // The user's own file, by path: no second copy of their refresh token.
                creds_path = user_adc_path(env).unwrap_or(creds_path);
            }
        },
    }
    if let Some(imp) = &t.impersonate
        && !imp.delegates.is_empty()
        && matches!(t.source, Source::Wif { .. })
    {
        plan.notes.push(format!(
            "`delegates` of `{}` are not used: an external_account file impersonates the service account directly",
            t.identity
        ));
    }

    let props = properties(&t, &header, &creds_path)?;
    plan.files.push(PlannedFile {
        path: config_dir.join("configurations").join(format!("config_{GCLOUD_CONFIGURATION}")),
        contents: props,
        secret: false,
    });
    plan.files.push(PlannedFile {
        path: config_dir.join("active_config"),
        contents: GCLOUD_CONFIGURATION.to_string(),
        secret: false,
    });
    // Both directories are content-addressed: the credentials first, since the gcloud
    // properties name their file.
    if plan.files.iter().any(|f| f.path.starts_with(&adc_dir)) {
        plan.addressed.push(Addressed { kind: AddressKind::Gcp, base: adc_dir.clone(), dir: adc_dir.clone() });
    }
    plan.addressed.push(Addressed { kind: AddressKind::Gcp, base: config_dir.clone(), dir: config_dir.clone() });

    let set: &mut BTreeMap<String, String> = &mut plan.set;
    set.insert(ev::GOOGLE_APPLICATION_CREDENTIALS.into(), creds_path.display().to_string());
    set.insert(ev::CLOUDSDK_CONFIG.into(), config_dir.display().to_string());
    set.insert(ev::CLOUDSDK_ACTIVE_CONFIG_NAME.into(), GCLOUD_CONFIGURATION.into());
    if let Some(p) = &t.project {
        for k in [ev::GOOGLE_CLOUD_PROJECT, ev::GOOGLE_PROJECT, ev::GCLOUD_PROJECT, ev::CLOUDSDK_CORE_PROJECT] {
            set.insert(k.into(), p.clone());
        }
    }
    if let Some(r) = &t.region {
        for k in [ev::GOOGLE_CLOUD_REGION, ev::GOOGLE_REGION, ev::CLOUDSDK_COMPUTE_REGION] {
            set.insert(k.into(), r.clone());
        }
    }
    if let Some(z) = &t.zone {
        for k in [ev::GOOGLE_CLOUD_ZONE, ev::GOOGLE_ZONE, ev::CLOUDSDK_COMPUTE_ZONE] {
            set.insert(k.into(), z.clone());
        }
    }
    plan.readdress();
    Ok(plan)
}

/// gcloud's properties for the isolated configuration, every value checked.
fn properties(t: &Target, header: &str, creds_path: &Path) -> Result<String, Box<UnsafeValue>> {
    const FILE: &str = "its gcloud configuration";
    let origin = |what: &str, value: &str, from: &str, hint: &str| Origin {
        value: value.to_string(),
        what: what.to_string(),
        from: from.to_string(),
        hint: hint.to_string(),
    };
    let id = ini::escape_controls(&t.identity);
    let chain_from = format!("the chain of identity `{id}`");
    let mut values: Vec<(&'static str, &'static str, Origin)> = Vec::new();
    if let Some(p) = &t.project {
        values.push(("core", "project", origin("the project", p, &chain_from, "set `project_id` to a GCP project id")));
    }
    values.push(("core", "disable_usage_reporting", origin("a setting", "true", "tfauth", "")));
    if let Some(r) = &t.region {
        values.push((
            "compute",
            "region",
            origin("the region", r, &chain_from, "set `region` to a GCP region such as us-central1"),
        ));
    }
    if let Some(z) = &t.zone {
        values.push((
            "compute",
            "zone",
            origin("the zone", z, &chain_from, "set `zone` to a GCP zone such as us-central1-a"),
        ));
    }
    let path = creds_path.display().to_string();
    values.push((
        "auth",
        "credential_file_override",
        origin(
            "the credentials path",
            &path,
            "the credentials file's location (HOME, XDG_CONFIG_HOME or GOOGLE_APPLICATION_CREDENTIALS)",
            "use a config directory whose path has no control characters, `#` or `;`",
        ),
    ));
    let mut doc = Ini::new();
    doc.comment(header);
    let mut current = "";
    for (section, key, o) in &values {
        let refuse = |why| {
            Box::new(UnsafeValue {
                identity: t.identity.clone(),
                file: FILE.into(),
                what: o.what.clone(),
                value: o.value.clone(),
                from: o.from.clone(),
                why,
                hint: format!("{}; tfauth never writes a value that could add a line to a config file", o.hint),
            })
        };
        if *section != current {
            doc.section(None, section).map_err(refuse)?;
            current = section;
        }
        doc.pair(key, &o.value).map_err(refuse)?;
    }
    Ok(doc.render())
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
#[path = "gcp_tests.rs"]
mod tests;
