//! Okta (Classic Engine): the authentication API with the user name and password, the MFA
//! factors a user meets (a TOTP code typed on the terminal; Okta Verify push, polled with a
//! countdown), then the AWS app's link with the one-time session token, whose page is the
//! form carrying the `SAMLResponse` (saml2aws's way, so Atmos's).

use super::web::{self, Web};
use super::{SamlError, Who, form};
use crate::secret::Secret;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How often a push is polled, and for how long (Okta's own push expires in 5 minutes).
const POLL_EVERY: Duration = Duration::from_secs(1);
const PUSH_WAIT: Duration = Duration::from_secs(300);

/// The `SAMLResponse` of the Okta app at `who.url`.
pub fn assertion(who: &Who<'_>) -> Result<Secret, SamlError> {
    let mut web = Web::new(who.provider);
    let base = web::origin(who.url);
    let page = web.post_json(
        &format!("{base}/api/v1/authn"),
        &json!({"username": who.username, "password": who.password.expose()}),
    )?;
    let answer = okta_answer(who, &page, "the user name and password")?;
    let token = match status(&answer) {
        "SUCCESS" => session_token(who, &answer)?,
        "MFA_REQUIRED" => mfa(who, &mut web, &answer)?,
        other => return Err(unexpected_status(who, other)),
    };
    let sep = if who.url.contains('?') { '&' } else { '?' };
    let link = format!("{}{sep}onetimetoken={}", who.url, crate::providers::encode(token.expose()));
    let page = web.get(&link)?;
    drop(link);
    match form::saml_form(&page.body) {
        Some(f) => {
            if let Some(action) = &f.action
                && !web::is_aws_signin(action)
            {
                tracing::debug!(action = %web::strip_query(action), "the SAMLResponse form does not post to AWS's sign-in page");
            }
            Ok(Secret::new(f.value("SAMLResponse").unwrap_or_default()))
        }
        None => Err(who.idp(format!(
            "the app link {} answered HTTP {} without a SAMLResponse form (is `url` the Okta AWS app's embed link?)",
            web::strip_query(&page.url),
            page.status
        ))),
    }
}

fn status(answer: &Value) -> &str {
    answer.get("status").and_then(Value::as_str).unwrap_or("")
}

/// The JSON of an authentication-API answer, or the error it is.
fn okta_answer(who: &Who<'_>, page: &web::Page, step: &str) -> Result<Value, SamlError> {
    let body: Option<Value> = serde_json::from_str(&page.body).ok();
    let code = body.as_ref().and_then(|b| b.get("errorCode")).and_then(Value::as_str).unwrap_or("");
    let summary = body.as_ref().and_then(|b| b.get("errorSummary")).and_then(Value::as_str).unwrap_or("");
    match page.status {
        200..=299 => body.ok_or_else(|| who.idp(format!("Okta's answer to {step} is not JSON"))),
        401 => Err(who.rejected(
            format!("Okta refused {step} of user `{}` ({code}: {summary})", who.username),
            who.password_hint(),
        )),
        403 if code == "E0000068" => Err(who.rejected(
            format!("Okta refused the MFA code of user `{}` ({code}: {summary})", who.username),
            "type the code your authenticator shows now (codes change every 30 seconds)",
        )),
        429 => Err(who.rejected(
            format!("Okta is rate-limiting sign-ins ({code}: {summary})"),
            "wait a minute before signing in again",
        )),
        s => Err(who.idp(format!("Okta answered {step} with HTTP {s} ({code}: {summary})"))),
    }
}

fn session_token(who: &Who<'_>, answer: &Value) -> Result<Secret, SamlError> {
    answer
        .get("sessionToken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(Secret::new)
        .ok_or_else(|| who.idp("Okta said SUCCESS without a sessionToken"))
}

fn unexpected_status(who: &Who<'_>, status: &str) -> SamlError {
    match status {
        "LOCKED_OUT" | "PASSWORD_EXPIRED" | "PASSWORD_WARN" | "MFA_ENROLL" | "RECOVERY" => who.rejected(
            format!("Okta answered {status} for user `{}`", who.username),
            "sign in to Okta in a browser once and do what it asks, then try again",
        ),
        s => who.idp(format!("Okta answered status `{s}`")),
    }
}

/// A factor tfauth can verify.
struct Factor {
    kind: FactorKind,
    label: String,
    verify: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FactorKind {
    Totp,
    Push,
}

fn mfa(who: &Who<'_>, web: &mut Web, answer: &Value) -> Result<Secret, SamlError> {
    let state = answer
        .get("stateToken")
        .and_then(Value::as_str)
        .map(Secret::new)
        .ok_or_else(|| who.idp("Okta said MFA_REQUIRED without a stateToken"))?;
    let listed = answer.pointer("/_embedded/factors").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut others = Vec::new();
    let mut factors = Vec::new();
    for f in &listed {
        let t = f.get("factorType").and_then(Value::as_str).unwrap_or("");
        let p = f.get("provider").and_then(Value::as_str).unwrap_or("");
        let verify = f.pointer("/_links/verify/href").and_then(Value::as_str).map(str::to_string);
        let kind = match t {
            "token:software:totp" => Some(FactorKind::Totp),
            "push" => Some(FactorKind::Push),
            _ => None,
        };
        match (kind, verify) {
            (Some(kind), Some(verify)) => {
                let label = match kind {
                    FactorKind::Totp => format!("a code from your authenticator app ({p} TOTP)"),
                    FactorKind::Push => "a push to Okta Verify".to_string(),
                };
                factors.push(Factor { kind, label, verify: web::resolve(who.url, &verify) });
            }
            _ => others.push(format!("{t} ({p})")),
        }
    }
    let ui = who.ui.ok_or_else(|| who.need("an MFA factor (Okta asks for one)"))?;
    let chosen = match factors.len() {
        0 => {
            return Err(who.rejected(
                format!("Okta asks for an MFA factor tfauth does not speak: {}", others.join(", ")),
                "enroll a TOTP authenticator or Okta Verify push in Okta",
            ));
        }
        1 => &factors[0],
        _ => {
            let items: Vec<String> = factors.iter().map(|f| f.label.clone()).collect();
            let i = ui
                .choose(&format!("Okta asks user `{}` for a second factor:", who.username), &items)
                .ok_or_else(|| who.need("an MFA factor chosen"))?;
            factors.get(i).ok_or_else(|| who.need("an MFA factor chosen"))?
        }
    };
    match chosen.kind {
        FactorKind::Totp => {
            let code = ui.ask("Okta MFA code: ", true).ok_or_else(|| who.need("an MFA code"))?;
            let page = web
                .post_json(&chosen.verify, &json!({"stateToken": state.expose(), "passCode": code.expose().trim()}))?;
            let answer = okta_answer(who, &page, "the MFA code")?;
            match status(&answer) {
                "SUCCESS" => session_token(who, &answer),
                other => Err(unexpected_status(who, other)),
            }
        }
        FactorKind::Push => push(who, web, ui, &chosen.verify, &state),
    }
}

/// Okta Verify push: each verify call is a poll, until SUCCESS, REJECTED or TIMEOUT.
fn push(
    who: &Who<'_>,
    web: &mut Web,
    ui: &dyn super::SamlUi,
    verify: &str,
    state: &Secret,
) -> Result<Secret, SamlError> {
    let deadline = Instant::now() + PUSH_WAIT;
    let mut url = verify.to_string();
    let outcome = loop {
        let page = web.post_json(&url, &json!({"stateToken": state.expose()}))?;
        let answer = match okta_answer(who, &page, "the push") {
            Ok(a) => a,
            Err(e) => break Err(e),
        };
        let result = answer.get("factorResult").and_then(Value::as_str).unwrap_or("");
        match (status(&answer), result) {
            ("SUCCESS", _) => break session_token(who, &answer),
            (_, "REJECTED") => {
                break Err(who.rejected(
                    format!("the Okta Verify push to user `{}` was denied", who.username),
                    "approve the push on your phone when you sign in (tfauth asks once per sign-in)",
                ));
            }
            (_, "TIMEOUT") => {
                break Err(who.rejected(
                    format!("the Okta Verify push to user `{}` was not approved in time", who.username),
                    "sign in again and approve the push on your phone",
                ));
            }
            ("MFA_CHALLENGE", "WAITING") => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break Err(who.rejected(
                        format!(
                            "the Okta Verify push to user `{}` was not approved in {}s",
                            who.username,
                            PUSH_WAIT.as_secs()
                        ),
                        "sign in again and approve the push on your phone",
                    ));
                }
                let s = left.as_secs();
                ui.status(Some(&format!(
                    "Approve the Okta Verify push on your phone... {}:{:02} left",
                    s / 60,
                    s % 60
                )));
                if let Some(next) = answer.pointer("/_links/next/href").and_then(Value::as_str) {
                    url = web::resolve(who.url, next);
                }
                std::thread::sleep(POLL_EVERY);
            }
            (s, r) => break Err(who.idp(format!("Okta answered the push with status `{s}`, factorResult `{r}`"))),
        }
    };
    ui.status(None);
    outcome
}
