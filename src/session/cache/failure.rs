//! Failures remembered briefly, so a storm of helpers makes one call, not one each.
//!
//! When the holder of a key's refresh lock fails with an answer that asking again within
//! seconds would not change (access denied, throttling, a rejected token, a service that is
//! down, an unusable answer), it writes `<key>.failed` next to the entry before it releases
//! the lock: the error's message, hint and exit code, when, and for how long it stands
//! ([`how_long`]: 10 s, 5 s for throttling and unreachable endpoints). No secret is in
//! it (errors never hold one). Then:
//!
//! - a process that waited on the lock while that fetch ran gets the same error at once;
//! - a process that comes later gets it while the record is younger than its time;
//! - only in the same context ([`context`]: the endpoints, region, profile and key id the
//!   environment chooses), so pointing tfauth elsewhere is tried at once;
//! - a success removes the record.
//!
//! A failure a person can fix from a terminal (a login, an MFA code, an expired session)
//! is never remembered. The record is named `<key>.failed`, like the portal's login
//! marker, so nothing that lists or checks `*.json` entries mistakes it for a session.

use super::Cache;
use crate::env_vars::{self as ev, Env};
use crate::providers::ProviderError;
use crate::providers::sso::SsoError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a deterministic failure stands.
pub const REMEMBER: Duration = Duration::from_secs(10);
/// How long throttling (or an endpoint that did not answer) stands: the SDK already
/// backed off and retried.
pub const REMEMBER_TRANSIENT: Duration = Duration::from_secs(5);
/// Records are a few hundred bytes.
const RECORD_CAP: u64 = 64 * 1024;

#[derive(Serialize, Deserialize)]
struct Record {
    #[serde(rename = "Version")]
    version: u32,
    /// Unix milliseconds.
    #[serde(rename = "FailedAt")]
    failed_at: u64,
    #[serde(rename = "StandsFor")]
    stands_for: u64,
    #[serde(rename = "Context")]
    context: String,
    #[serde(rename = "Exit")]
    exit: i32,
    #[serde(rename = "Message")]
    message: String,
    #[serde(rename = "Hint", skip_serializing_if = "Option::is_none", default)]
    hint: Option<String>,
}

/// How long `e` stands for other processes, `None` when it is not remembered.
pub fn how_long(e: &ProviderError) -> Option<Duration> {
    match e {
        ProviderError::Sts { code, .. } => match code.as_str() {
            // A new session (a login) fixes it.
            "ExpiredToken" | "ExpiredTokenException" => None,
            "Throttling" | "ThrottlingException" | "RequestLimitExceeded" | "TooManyRequestsException" => {
                Some(REMEMBER_TRANSIENT)
            }
            _ => Some(REMEMBER),
        },
        ProviderError::Unreachable { .. } => Some(REMEMBER_TRANSIENT),
        ProviderError::BadCredentials { .. }
        | ProviderError::OidcToken { .. }
        | ProviderError::AccountNotFound { .. } => Some(REMEMBER),
        ProviderError::Refused { status: 429, .. } | ProviderError::CloudUnreachable { .. } => Some(REMEMBER_TRANSIENT),
        ProviderError::Refused { .. } => Some(REMEMBER),
        ProviderError::Sso(e) => match e {
            SsoError::Throttled { .. } | SsoError::Unreachable { .. } => Some(REMEMBER_TRANSIENT),
            SsoError::Forbidden { .. } | SsoError::Service { .. } | SsoError::BadResponse { .. } => Some(REMEMBER),
            // Logins, expired sessions, token files: a terminal or a new login fixes them.
            _ => None,
        },
        ProviderError::Saml(e) => {
            use crate::providers::saml::SamlError as S;
            match e {
                // A refused password, a denied push: every helper waiting gets the one answer,
                // and the IdP (which locks accounts) is not asked again at once.
                S::Rejected { .. }
                | S::Idp { .. }
                | S::Assertion { .. }
                | S::NoRole { .. }
                | S::SeveralRoles { .. } => Some(REMEMBER),
                S::Unreachable { .. } => Some(REMEMBER_TRANSIENT),
                S::NeedTerminal { .. }
                | S::UnsupportedDriver { .. }
                | S::UnsupportedBrowser { .. }
                | S::Browser { .. } => None,
            }
        }
        // Local, interactive or already remembered.
        _ => None,
    }
}

/// What, besides the chain (the key), decides a fetch's answer: the endpoints, the region,
/// the profile and files the SDK reads, the ambient key id, the OIDC token endpoint, and
/// the base credentials' secrets (`secrets`: a secret fixed after a SignatureDoesNotMatch
/// is tried at once). One truncated SHA-256 over all of it, the secrets through a digest
/// of their own: nothing in the record can be read back.
pub fn context(env: &Env, region: &str, secrets: &[&str]) -> String {
    const VARS: &[&str] = &[
        ev::AWS_ENDPOINT_URL,
        ev::AWS_ENDPOINT_URL_STS,
        ev::AWS_ENDPOINT_URL_SSO,
        ev::AWS_ENDPOINT_URL_SSO_OIDC,
        ev::AWS_REGION,
        ev::AWS_DEFAULT_REGION,
        ev::AWS_PROFILE,
        ev::AWS_CONFIG_FILE,
        ev::AWS_SHARED_CREDENTIALS_FILE,
        ev::AWS_ACCESS_KEY_ID,
        ev::AWS_ROLE_ARN,
        ev::AWS_WEB_IDENTITY_TOKEN_FILE,
        ev::AWS_CONTAINER_CREDENTIALS_FULL_URI,
        ev::AWS_CONTAINER_CREDENTIALS_RELATIVE_URI,
        ev::ACTIONS_ID_TOKEN_REQUEST_URL,
        ev::HTTPS_PROXY,
        ev::HTTPS_PROXY_LOWERCASE,
        ev::HTTP_PROXY,
        ev::HTTP_PROXY_LOWERCASE,
        ev::NO_PROXY,
        ev::NO_PROXY_LOWERCASE,
    ];
    let mut inner = Sha256::new();
    inner.update(b"tfauth failure context");
    for s in secrets {
        inner.update((s.len() as u64).to_le_bytes());
        inner.update(s.as_bytes());
    }
    let mut h = Sha256::new();
    h.update(inner.finalize());
    h.update(region.as_bytes());
    for v in VARS {
        h.update([0]);
        h.update(v.as_bytes());
        if let Some(value) = env.get(v) {
            h.update([1]);
            h.update(value.as_bytes());
        }
    }
    h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn path(cache: &Cache, key: &str) -> PathBuf {
    cache.dir().join(format!("{key}.failed"))
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The error with its causes, as one message (what [`crate::error::render`] prints).
fn message(e: &ProviderError) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(&format!("\n  caused by: {s}"));
        source = s.source();
    }
    out
}

/// Records `e` for `key` if it is worth remembering (call it holding the key's lock).
/// Best effort: a record that cannot be written only costs the next process a call.
pub fn remember(cache: &Cache, key: &str, context: &str, e: &ProviderError) {
    let Some(stands_for) = how_long(e) else { return };
    let record = Record {
        version: 1,
        failed_at: millis(SystemTime::now()),
        stands_for: stands_for.as_secs(),
        context: context.to_string(),
        exit: e.exit_code(),
        message: message(e),
        hint: e.hint(),
    };
    let text = serde_json::to_string(&record).unwrap_or_default();
    if let Err(err) = crate::util::fs::write_private_cache(&path(cache, key), text.as_bytes()) {
        tracing::debug!("cannot remember the failure: {err}");
    }
}

/// The failure recorded for `key` in `context`, if it still stands at `now`: younger than
/// its time, or recorded after `waiting_since` (the moment this process began to want the
/// credentials, so it waited on the lock while that fetch failed).
pub fn recall(
    cache: &Cache,
    key: &str,
    context: &str,
    waiting_since: Option<SystemTime>,
    now: SystemTime,
) -> Option<ProviderError> {
    let bytes = crate::util::fs::read_private(&path(cache, key), RECORD_CAP).ok()??;
    let r: Record = serde_json::from_slice(&bytes).ok()?;
    if r.version != 1 || r.context != context {
        return None;
    }
    let now_ms = millis(now);
    // A record from the future (a clock step, a planted file) stands no longer than its time.
    let age_ms = now_ms.saturating_sub(r.failed_at);
    let young = r.failed_at <= now_ms + 1000 && age_ms < r.stands_for.min(REMEMBER.as_secs()) * 1000;
    let waited_for_it = waiting_since.is_some_and(|s| r.failed_at >= millis(s) && r.failed_at <= now_ms + 1000);
    if !young && !waited_for_it {
        return None;
    }
    Some(ProviderError::Remembered {
        message: r.message,
        hint: r.hint,
        code: r.exit,
        age_secs: age_ms / 1000,
        for_secs: r.stands_for,
    })
}

/// Removes `key`'s record (after a success).
pub fn forget(cache: &Cache, key: &str) {
    let _ = std::fs::remove_file(path(cache, key));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts(code: &str) -> ProviderError {
        ProviderError::Sts {
            identity: "acme/planner".into(),
            operation: "AssumeRole",
            role: Some("arn:aws:iam::111111111111:role/r".into()),
            code: code.into(),
            message: "not allowed".into(),
        }
    }

    fn denied() -> ProviderError {
        sts("AccessDenied")
    }

    fn cache() -> (tempfile::TempDir, Cache) {
        let t = tempfile::tempdir().unwrap();
        let c = Cache::at(t.path().join("aws"));
        (t, c)
    }

    #[test]
    fn a_remembered_failure_is_the_same_error() {
        let (_t, c) = cache();
        let now = SystemTime::now();
        remember(&c, "k", "ctx", &denied());
        let got = recall(&c, "k", "ctx", None, now).expect("fresh record");
        assert_eq!(got.to_string(), denied().to_string());
        assert_eq!(got.exit_code(), denied().exit_code());
        let hint = got.hint().unwrap();
        assert!(hint.starts_with(&denied().hint().unwrap()) && hint.contains("another tfauth process"), "{hint}");
        let meta = std::fs::metadata(c.dir().join("k.failed")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        // Another context, or another key, does not see it.
        assert!(recall(&c, "k", "other", None, now).is_none());
        assert!(recall(&c, "j", "ctx", None, now).is_none());
        forget(&c, "k");
        assert!(recall(&c, "k", "ctx", None, now).is_none());
    }

    #[test]
    fn records_expire_unless_this_process_waited_for_them() {
        let (_t, c) = cache();
        let before = SystemTime::now() - Duration::from_secs(1);
        remember(&c, "k", "ctx", &denied());
        let later = SystemTime::now() + Duration::from_secs(11);
        assert!(recall(&c, "k", "ctx", None, later).is_none(), "10 s old: asked again");
        assert!(recall(&c, "k", "ctx", Some(before), later).is_some(), "failed while this one waited");
        assert!(recall(&c, "k", "ctx", Some(later), later).is_none(), "failed before this one began");
        // Throttling stands 5 s.
        let throttled = sts("Throttling");
        remember(&c, "t", "ctx", &throttled);
        assert!(recall(&c, "t", "ctx", None, SystemTime::now() + Duration::from_secs(3)).is_some());
        assert!(recall(&c, "t", "ctx", None, SystemTime::now() + Duration::from_secs(6)).is_none());
    }

    #[test]
    fn only_failures_a_retry_would_not_change_are_remembered() {
        let (_t, c) = cache();
        let login = ProviderError::NeedTerminal { identity: "x".into(), what: "an MFA code" };
        let expired = sts("ExpiredToken");
        for e in [login, expired] {
            assert_eq!(how_long(&e), None, "{e}");
            remember(&c, "k", "ctx", &e);
            assert!(recall(&c, "k", "ctx", None, SystemTime::now()).is_none(), "{e}");
        }
        assert!(how_long(&ProviderError::Sso(SsoError::SessionExpired { operation: "x", code: "y".into() })).is_none());
        assert_eq!(how_long(&denied()), Some(REMEMBER));
    }

    #[test]
    fn a_planted_or_garbled_record_is_ignored() {
        let (_t, c) = cache();
        crate::util::fs::write_private_cache(&c.dir().join("k.failed"), b"not json").unwrap();
        assert!(recall(&c, "k", "ctx", None, SystemTime::now()).is_none());
        // From the far future: not believed.
        let far = Record {
            version: 1,
            failed_at: millis(SystemTime::now()) + 3_600_000,
            stands_for: 3600,
            context: "ctx".into(),
            exit: 77,
            message: "planted".into(),
            hint: None,
        };
        crate::util::fs::write_private_cache(
            &c.dir().join("k.failed"),
            serde_json::to_string(&far).unwrap().as_bytes(),
        )
        .unwrap();
        assert!(recall(&c, "k", "ctx", Some(SystemTime::now()), SystemTime::now()).is_none());
    }

    #[test]
    fn the_context_holds_no_secret_and_follows_the_endpoint() {
        let a = Env::from_pairs([("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1"), ("AWS_SECRET_ACCESS_KEY", "s1")]);
        let b = Env::from_pairs([("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2"), ("AWS_SECRET_ACCESS_KEY", "s1")]);
        let a2 = Env::from_pairs([("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1"), ("AWS_SECRET_ACCESS_KEY", "s2")]);
        assert_ne!(context(&a, "us-east-1", &[]), context(&b, "us-east-1", &[]));
        assert_ne!(context(&a, "us-east-1", &[]), context(&a, "us-east-2", &[]));
        assert_eq!(context(&a, "us-east-1", &[]), context(&a2, "us-east-1", &[]), "only the secrets passed count");
        let (one, two) = (context(&a, "us-east-1", &["s1"]), context(&a, "us-east-1", &["s2"]));
        assert_ne!(one, two, "a fixed secret is a new context");
        assert!(!one.contains("s1") && one.len() == 32);
    }
}
