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
//! parts that need I/O (the user's ADC, a token held in a variable) come from walking the
//! chain ([`crate::providers::gcp::walk`]) and are filled in by [`complete`].

use super::env::{AddressKind, Addressed, EnvPlan, Origin, PlanContext, PlannedFile, path_component};
use super::ini::{self, Ini, UnsafeValue};
use crate::auth::schema::{TokenSource, TokenSourceKind};
use crate::env_vars::{self as ev, Env};
use crate::identity::Chain;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::providers::gcp::target::{
    ADC_FILE, CLOUD_PLATFORM_SCOPE, IAM_CREDENTIALS_URL, Impersonation, JWT_TOKEN_TYPE, STS_TOKEN_URL, Source, Target,
    copies_subject_token, github_audience, impersonation_url, sts_audience, sts_url, subject_source_problem, target,
    user_adc_path,
};

/// The name of the gcloud configuration tfauth writes.
pub const GCLOUD_CONFIGURATION: &str = "tfauth";
/// A subject token tfauth copied from a variable (`token_source.type: environment`).
pub const SUBJECT_TOKEN_FILE: &str = "subject_token";

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
    subject_source_problem(ts, env)?;
    match &ts.kind {
        TokenSourceKind::GithubActions => {
            let (Some(url), Some(bearer)) =
                (env.get(ev::ACTIONS_ID_TOKEN_REQUEST_URL), env.get(ev::ACTIONS_ID_TOKEN_REQUEST_TOKEN))
            else {
                return Ok((json!({"file": subject_token_file.display().to_string()}), false));
            };
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
        TokenSourceKind::Environment { .. } => Ok((json!({"file": subject_token_file.display().to_string()}), false)),
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
/// [`complete`] replaces.
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
                    if copies_subject_token(token_source, env) {
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

/// Fills the files [`plan`] left to the run with what walking the chain handed over: the
/// subject token copied from a variable, and the impersonated service account over the
/// user's application-default credentials. Pure; the caller writes the plan afterwards.
pub fn complete(plan: &mut EnvPlan, chain: &Chain, walked: &crate::providers::gcp::Walked, env: &Env) {
    if let Some(token) = &walked.subject_token
        && let Some(f) = plan.files.iter_mut().find(|f| f.path.ends_with(SUBJECT_TOKEN_FILE))
    {
        f.contents = token.expose().to_string();
    }
    if let (Some(source), Some(imp)) = (&walked.adc_source, target(chain).and_then(|t| t.impersonate)) {
        let source = serde_json::from_str(source.expose()).unwrap_or(Value::Null);
        let doc = impersonated(&imp, source, env);
        if let Some(f) = plan.files.iter_mut().find(|f| f.path.ends_with(ADC_FILE)) {
            f.contents = format!("{}\n", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
    }
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

#[cfg(test)]
#[path = "gcp_walk_tests.rs"]
mod walk_tests;
