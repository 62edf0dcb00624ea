//! GCP at run time: reads what the files [`crate::output::gcp`] plans need from I/O (the
//! user's ADC for an impersonated file, a subject token held in a variable) and hands it
//! over as [`Walked`] (output decides the files), and proves the chain works before
//! Terraform starts, the way Google's libraries will use it:
//! the subject token exchanged at Google STS (RFC 8693) or the user's refresh token at
//! their `token_uri`, then `generateAccessToken` for the service account. The access
//! tokens are thrown away: the libraries mint their own from the file, for as long as the
//! apply runs.

use super::http::{self, Call, Reply};
use super::{Principal, ProviderError};
use crate::auth::schema::{TokenSource, TokenSourceKind};
use crate::env_vars::Env;
use crate::exit;
use crate::identity::Chain;
use crate::secret::Secret;
use serde_json::{Value, json};
use std::path::Path;
use target::{self as g, Impersonation, Source};

pub mod target;

/// What walking a GCP chain hands over: the secrets its files need, and who Google said
/// the identity is. Which files they go in is output's business
/// ([`crate::output::gcp::complete`]).
#[derive(Debug, Default)]
pub struct Walked {
    /// The subject token held in a variable, for the run to copy into its file.
    pub subject_token: Option<Secret>,
    /// The user's application-default credentials (JSON), when a service account is
    /// impersonated over them.
    pub adc_source: Option<Secret>,
    /// Who Google said the identity is (with `check`).
    pub principal: Option<Principal>,
    /// The identity's access token that `check` minted on the way (none for a key file's
    /// service account, which is not signed for here).
    pub token: Option<Minted>,
}

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const GOOGLE_OAUTH_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// Reads what the chain's files need and checks the chain against Google (unless `check`
/// is false). Nothing is written here; the caller completes the plan and writes its files
/// afterwards, so a failure leaves nothing behind.
pub fn walk(chain: &Chain, env: &Env, check: bool) -> Result<Walked, ProviderError> {
    let Some(t) = g::target(chain) else { return Ok(Walked::default()) };
    let who = t.identity.as_str();
    let mut principal = None;
    let mut walked = Walked::default();
    match &t.source {
        Source::Wif { project_number, pool_id, provider_id, token_source } => {
            let wif = (project_number.as_str(), pool_id.as_str(), provider_id.as_str());
            if g::subject_source_problem(token_source, env).is_err() {
                return Err(missing_source(who, token_source));
            }
            let mut copied = None;
            if g::copies_subject_token(token_source, env) {
                let token = variable_token(token_source, env).ok_or_else(|| missing_source(who, token_source))?;
                walked.subject_token = Some(token.clone());
                copied = Some(token);
            }
            if check {
                let subject = match copied {
                    Some(t) => t,
                    None => subject_token(who, token_source, wif, env)?,
                };
                let federated = exchange(who, &g::sts_audience(project_number, pool_id, provider_id), &subject, env)?;
                // The pool's principal for this subject (the token's `sub`, when it is a JWT).
                let pool = format!(
                    "principal://iam.googleapis.com/projects/{project_number}/locations/global/workloadIdentityPools/{pool_id}/subject/{}",
                    super::jwt::claim(subject.expose(), "sub").unwrap_or_else(|| "?".into())
                );
                principal = Some(match &t.impersonate {
                    Some(imp) => {
                        let sa = generate_access_token(who, imp, &federated.token, env)?;
                        let p =
                            Principal { name: imp.email.clone(), details: vec![("via", pool)], expires: sa.expires };
                        walked.token = Some(sa);
                        p
                    }
                    None => {
                        let p = Principal { name: pool, details: vec![], expires: federated.expires };
                        walked.token = Some(federated);
                        p
                    }
                });
            }
        }
        Source::Adc { scopes } => {
            let path = g::user_adc_path(env).ok_or_else(|| ProviderError::Setup {
                identity: who.into(),
                message: "cannot tell where your application-default credentials are: HOME is not set".into(),
                hint: "set HOME, or GOOGLE_APPLICATION_CREDENTIALS to your credentials file".into(),
                code: exit::USAGE,
            })?;
            let source = read_adc(who, &path, t.impersonate.is_some())?;
            if t.impersonate.is_some() {
                walked.adc_source = Some(Secret::new(source.to_string()));
            }
            if check {
                let kind = source.get("type").and_then(Value::as_str).unwrap_or("");
                // Who the ADC is: the user of a refreshed login (from its id_token), a key's
                // service account, or just the file.
                let (user, expires) = if kind == "authorized_user" {
                    let mut user = refresh_user(who, &path, &source, scopes)?;
                    if let Some(imp) = &t.impersonate {
                        let sa = generate_access_token(who, imp, &user.token, env)?;
                        let via = user
                            .email
                            .clone()
                            .unwrap_or_else(|| format!("your application-default login ({})", path.display()));
                        principal = Some(Principal {
                            name: imp.email.clone(),
                            details: vec![("via", via)],
                            expires: sa.expires,
                        });
                        walked.token = Some(sa);
                    }
                    let (email, expires) = (user.email.take(), user.expires);
                    if walked.token.is_none() {
                        walked.token = Some(user);
                    }
                    (email, expires)
                } else {
                    (source.get("client_email").and_then(Value::as_str).map(str::to_string), None)
                };
                if principal.is_none() {
                    let name = user.unwrap_or_else(|| format!("the {kind} credentials in {}", path.display()));
                    principal = Some(Principal { name, details: vec![], expires });
                }
            }
        }
    }
    if let Some(p) = &mut principal
        && let Some(project) = &t.project
    {
        p.details.push(("project", project.clone()));
    }
    walked.principal = principal;
    Ok(walked)
}

fn missing_source(who: &str, ts: &TokenSource) -> ProviderError {
    let (message, hint) = match &ts.kind {
        TokenSourceKind::Environment { variable } => (
            format!("`{variable}` (token_source.environment_variable) is not set"),
            format!("export {variable} with the OIDC token to exchange"),
        ),
        _ => (
            "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set, and `token_source` names no other source".into(),
            "run in GitHub Actions with `permissions: id-token: write`, or set `token_source` (type url, file or environment)".into(),
        ),
    };
    ProviderError::Setup { identity: who.into(), message, hint, code: exit::NOPERM }
}

/// A token held in a variable (`type: environment`, or `ACTIONS_ID_TOKEN`).
fn variable_token(ts: &TokenSource, env: &Env) -> Option<Secret> {
    match &ts.kind {
        TokenSourceKind::Environment { variable } => env.get(variable).map(Secret::new),
        TokenSourceKind::GithubActions => env.get(crate::env_vars::ACTIONS_ID_TOKEN).map(Secret::new),
        _ => None,
    }
}

/// The subject token, fetched the way the credentials file tells Google's libraries to.
fn subject_token(who: &str, ts: &TokenSource, wif: (&str, &str, &str), env: &Env) -> Result<Secret, ProviderError> {
    let (url, headers, field) = match &ts.kind {
        TokenSourceKind::GithubActions => {
            let audience = ts.audience.clone().unwrap_or_else(|| g::github_audience(wif.0, wif.1, wif.2));
            return super::github::token(env, Some(&audience), who);
        }
        TokenSourceKind::Url { url, headers } => (url.clone(), headers.clone(), ts.json_field.clone()),
        TokenSourceKind::File { path } => {
            let text = std::fs::read_to_string(path).map_err(|e| ProviderError::Setup {
                identity: who.into(),
                message: format!("cannot read the subject token file {path} (token_source.file): {e}"),
                hint: "check that the tool that writes the token has run, and the path".into(),
                code: exit::NOPERM,
            })?;
            return pick_field(who, &text, ts.json_field.as_deref(), path);
        }
        TokenSourceKind::Environment { variable } => {
            return env.get(variable).map(Secret::new).ok_or_else(|| missing_source(who, ts));
        }
    };
    let call = Call { identity: who, service: "the token source", step: "the subject token request" };
    let reply = http::get(&call, &url, &headers)?;
    if !reply.ok() {
        return Err(call.refused(&reply, "check token_source.url and its headers".into()));
    }
    pick_field(who, &reply.body, field.as_deref(), &url)
}

fn pick_field(who: &str, text: &str, field: Option<&str>, from: &str) -> Result<Secret, ProviderError> {
    let token = match field {
        None => Some(text.trim().to_string()),
        Some(f) => serde_json::from_str::<Value>(text).ok().and_then(|v| v.get(f)?.as_str().map(str::to_string)),
    };
    token.filter(|t| !t.is_empty()).map(Secret::new).ok_or_else(|| ProviderError::Setup {
        identity: who.into(),
        message: match field {
            Some(f) => format!("the subject token from {from} has no JSON field `{f}`"),
            None => format!("the subject token from {from} is empty"),
        },
        hint: "check token_source.format and subject_token_field_name".into(),
        code: exit::NOPERM,
    })
}

/// RFC 8693 token exchange at Google STS: the subject token for a federated access token.
pub fn exchange(who: &str, audience: &str, subject: &Secret, env: &Env) -> Result<Minted, ProviderError> {
    let url = g::sts_url(env);
    let call = Call { identity: who, service: "Google STS", step: "the token exchange" };
    let reply = http::post_form(
        &call,
        &url,
        &[
            ("grant_type", TOKEN_EXCHANGE),
            ("audience", audience),
            ("scope", g::CLOUD_PLATFORM_SCOPE),
            ("requested_token_type", ACCESS_TOKEN_TYPE),
            ("subject_token", subject.expose()),
            ("subject_token_type", g::JWT_TOKEN_TYPE),
        ],
    )?;
    if !reply.ok() {
        return Err(call.refused(
            &reply,
            format!(
                "check the provider's project_number, workload_identity_pool_id and workload_identity_provider_id ({audience}), and that the pool's attribute condition admits this token"
            ),
        ));
    }
    access_token(&call, &reply, "access_token")
}

/// `generateAccessToken` for the service account, with `bearer` (federated or user).
pub fn generate_access_token(
    who: &str,
    imp: &Impersonation,
    bearer: &Secret,
    env: &Env,
) -> Result<Minted, ProviderError> {
    let url = g::impersonation_url(env, &imp.email);
    let call = Call { identity: who, service: "IAM Credentials", step: "generateAccessToken" };
    let scopes = if imp.scopes.is_empty() { vec![g::CLOUD_PLATFORM_SCOPE.to_string()] } else { imp.scopes.clone() };
    let delegates: Vec<String> = imp
        .delegates
        .iter()
        .map(|d| if d.starts_with("projects/") { d.clone() } else { format!("projects/-/serviceAccounts/{d}") })
        .collect();
    let mut doc = json!({"scope": scopes, "lifetime": format!("{}s", imp.lifetime_secs.unwrap_or(3600))});
    if !delegates.is_empty() {
        doc["delegates"] = json!(delegates);
    }
    let reply = http::post_json(&call, &url, bearer, &doc)?;
    if !reply.ok() {
        return Err(call.refused(
            &reply,
            format!(
                "the caller needs roles/iam.serviceAccountTokenCreator (or workloadIdentityUser) on {}; check the email and the grant",
                imp.email
            ),
        ));
    }
    access_token(&call, &reply, "accessToken")
}

/// The user's ADC, refreshed at its `token_uri`: proves the login is still good.
fn refresh_user(who: &str, path: &Path, source: &Value, scopes: &[String]) -> Result<Minted, ProviderError> {
    let field = |k: &str| source.get(k).and_then(Value::as_str).unwrap_or("");
    let url = source.get("token_uri").and_then(Value::as_str).unwrap_or(GOOGLE_OAUTH_TOKEN_URL);
    let call =
        Call { identity: who, service: "Google OAuth", step: "the refresh of your application-default credentials" };
    let scope = scopes.join(" ");
    let mut fields = vec![
        ("grant_type", "refresh_token"),
        ("client_id", field("client_id")),
        ("client_secret", field("client_secret")),
        ("refresh_token", field("refresh_token")),
    ];
    if !scope.is_empty() {
        fields.push(("scope", &scope));
    }
    let reply = http::post_form(&call, url, &fields)?;
    if !reply.ok() {
        return Err(call.refused(
            &reply,
            format!(
                "your application-default login ({}) has expired or was revoked; run `gcloud auth application-default login`",
                path.display()
            ),
        ));
    }
    access_token(&call, &reply, "access_token")
}

/// The access token of a GCP chain's identity (what gke-gcloud-auth-plugin hands kubectl):
/// the federated or impersonated token, or the user's refreshed one, minted now.
pub fn identity_token(chain: &Chain, env: &Env) -> Result<Minted, ProviderError> {
    let walked = walk(chain, env, true)?;
    walked.token.ok_or_else(|| ProviderError::Setup {
        identity: chain.leaf().name.clone(),
        message: format!(
            "`{}` uses application-default credentials that are not a user login (a key file or an external account), which tfauth does not mint tokens from",
            chain.leaf().name
        ),
        hint: "impersonate a service account (a gcp/service-account identity) over them, or sign in with `gcloud auth application-default login`".into(),
        code: exit::UNAVAILABLE,
    })
}

/// An access token Google minted, and what came with it.
#[derive(Debug)]
pub struct Minted {
    pub token: Secret,
    pub expires: Option<time::OffsetDateTime>,
    /// The `email` claim of the `id_token` a user refresh may return (unverified).
    pub email: Option<String>,
}

fn access_token(call: &Call<'_>, reply: &Reply, field: &str) -> Result<Minted, ProviderError> {
    let body = reply.json().unwrap_or(Value::Null);
    let token =
        body.get(field).and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or_else(|| ProviderError::Setup {
            identity: call.identity.into(),
            message: format!("{} answered {} without `{field}`", call.service, call.step),
            hint: "the endpoint did not answer like Google's; check TFAUTH_GOOGLE_* endpoint overrides".into(),
            code: exit::UNAVAILABLE,
        })?;
    Ok(Minted {
        token: Secret::new(token),
        expires: super::expiry_of(&body),
        email: body.get("id_token").and_then(Value::as_str).and_then(|t| super::jwt::claim(t, "email")),
    })
}

/// The user's ADC document. As the source of an impersonation, Google's libraries accept
/// only user, service account and workforce (external_account_authorized_user) credentials.
fn read_adc(who: &str, path: &Path, impersonating: bool) -> Result<Value, ProviderError> {
    let text = std::fs::read_to_string(path).map_err(|e| ProviderError::Setup {
        identity: who.into(),
        message: if e.kind() == std::io::ErrorKind::NotFound {
            format!("no application-default credentials at {}", path.display())
        } else {
            format!("cannot read your application-default credentials at {}: {e}", path.display())
        },
        hint:
            "run `gcloud auth application-default login`, or point GOOGLE_APPLICATION_CREDENTIALS at a credentials file"
                .into(),
        code: exit::NOPERM,
    })?;
    let v: Value = serde_json::from_str(&text).map_err(|e| ProviderError::Setup {
        identity: who.into(),
        message: format!("{} is not a credentials file: {e}", path.display()),
        hint: "run `gcloud auth application-default login` again to rewrite it".into(),
        code: exit::DATAERR,
    })?;
    match v.get("type").and_then(Value::as_str) {
        Some("authorized_user" | "service_account" | "external_account_authorized_user") => Ok(v),
        Some("external_account" | "impersonated_service_account") if !impersonating => Ok(v),
        other => Err(ProviderError::Setup {
            identity: who.into(),
            message: format!(
                "{} has credential type {}, which cannot be the source of an impersonation",
                path.display(),
                other.map_or("(none)".to_string(), |t| format!("`{t}`"))
            ),
            hint: "run `gcloud auth application-default login` to write user credentials".into(),
            code: exit::DATAERR,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_token_is_taken_from_the_body_or_a_json_field() {
        assert_eq!(pick_field("w", "  tok\n", None, "x").unwrap().expose(), "tok");
        assert_eq!(pick_field("w", r#"{"id_token": "t2"}"#, Some("id_token"), "x").unwrap().expose(), "t2");
        let err = |text: &str, field| match pick_field("w", text, field, "/run/t") {
            Err(ProviderError::Setup { message, .. }) => message,
            other => panic!("{:?}", other.map(|s| s.expose().to_string())),
        };
        assert_eq!(
            err(r#"{"other": "t"}"#, Some("id_token")),
            "the subject token from /run/t has no JSON field `id_token`"
        );
        assert_eq!(err("not json", Some("id_token")), "the subject token from /run/t has no JSON field `id_token`");
        assert_eq!(err(" \n", None), "the subject token from /run/t is empty");
    }

    // --- with check: the exchange and impersonation ------------------------------------------
}
