//! Whether credentials are fit to hand out, on both sides of the cache.
//!
//! - Write side ([`check`]): every answer a provider gets (STS, IAM Identity Center, the
//!   ambient SDK chain) is checked before it is cached or printed: a key id AWS could
//!   have issued, a secret, a session token where the call returns one, and an
//!   expiration that is in the future and no later than the duration asked for allows
//!   (plus [`SKEW`]). A truncated or garbled answer is an error, never a session.
//! - Read side ([`servable`]): an entry that holds a session token but no expiration, or
//!   one that claims to last longer than any AWS session can ([`LONGEST_SESSION`]), is
//!   not served; it reads as absent and is refreshed. Long-lived keys (no token) may
//!   have no expiration.
//! - Freshness ([`fresh`]): how much life an entry must have left, by the refresh margin.
//!   The default margin is capped at half the session's length; a margin the user set is
//!   taken as given. One at or above the session's own length makes every entry stale the
//!   moment it is written, so every process refreshes (the way to force one):
//!   [`margin_too_long`] tells the caller to warn about it, and a process uses what it
//!   fetched itself rather than fetching again (see `crate::session`).

use super::credentials::{Credentials, Margin, format_utc};
use std::time::Duration;
use time::OffsetDateTime;

/// Clock skew allowed between tfauth and the service that issued a session.
pub const SKEW: Duration = Duration::from_secs(5 * 60);
/// The longest session AWS issues: GetSessionToken's 36 hours.
pub const LONGEST_SESSION: Duration = Duration::from_secs(36 * 3600);
/// The longest role session (AssumeRole*, GetRoleCredentials): 12 hours.
pub const LONGEST_ROLE_SESSION: Duration = Duration::from_secs(12 * 3600);
/// The shortest access key id AWS issues (`AKIA`/`ASIA` and 16 more characters today).
const MIN_KEY_ID_LEN: usize = 16;

/// What one call's answer must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expect {
    /// The call returns a session: a session token and an expiration are required.
    pub session: bool,
    /// The longest the credentials may last from now: the duration asked for, else the
    /// API's maximum.
    pub lasts_at_most: Duration,
    /// The key id comes from AWS and must look like one AWS issues; keys from elsewhere
    /// (the ambient chain, the environment) need only be non-empty.
    pub issued_by_aws: bool,
}

impl Expect {
    /// A session from an AWS API: `asked` is the duration requested (None: the API's
    /// maximum, `api_max`).
    pub fn session(asked: Option<Duration>, api_max: Duration) -> Expect {
        Expect { session: true, lasts_at_most: asked.unwrap_or(api_max), issued_by_aws: true }
    }

    /// Whatever the ambient SDK chain found: long-lived keys or a session.
    pub fn ambient() -> Expect {
        Expect { session: false, lasts_at_most: LONGEST_SESSION, issued_by_aws: false }
    }
}

/// What is wrong with credentials. Never holds the secret or the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("the answer holds no credentials")]
    NoCredentials,
    #[error("the access key id is empty")]
    EmptyKeyId,
    #[error("the access key id `{0}` is not one AWS issues (at least 16 of A-Z and 0-9)")]
    ImplausibleKeyId(String),
    #[error("the secret access key is empty")]
    EmptySecret,
    #[error("the session token is missing or empty")]
    NoSessionToken,
    #[error("the session has no expiration")]
    NoExpiration,
    #[error("the session expired at {at}, before it was handed over (now {now})")]
    Expired { at: String, now: String },
    #[error("the session expires at {at}, later than the {asked}s asked for allow (at most {latest})")]
    TooLong { at: String, latest: String, asked: u64 },
}

/// Checks credentials just obtained against what the call that produced them promises.
pub fn check(c: &Credentials, expect: Expect, now: OffsetDateTime) -> Result<(), Problem> {
    let id = c.access_key_id.as_str();
    if id.is_empty() {
        return Err(Problem::EmptyKeyId);
    }
    if expect.issued_by_aws
        && (id.len() < MIN_KEY_ID_LEN || !id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
    {
        // A key id is not a secret (CloudTrail logs it); shown cut short all the same.
        return Err(Problem::ImplausibleKeyId(id.chars().take(32).collect()));
    }
    if c.secret_access_key.expose().is_empty() {
        return Err(Problem::EmptySecret);
    }
    let token = c.session_token.as_ref().map(|t| t.expose().is_empty());
    if (expect.session && token != Some(false)) || token == Some(true) {
        return Err(Problem::NoSessionToken);
    }
    let Some(exp) = c.expiration else {
        return if expect.session { Err(Problem::NoExpiration) } else { Ok(()) };
    };
    if exp <= now {
        return Err(Problem::Expired { at: format_utc(exp), now: format_utc(now) });
    }
    let latest = now + expect.lasts_at_most + SKEW;
    if exp > latest {
        return Err(Problem::TooLong {
            at: format_utc(exp),
            latest: format_utc(latest),
            asked: expect.lasts_at_most.as_secs(),
        });
    }
    Ok(())
}

/// Whether a cache entry may be served at all: a session (it has a token) must have an
/// expiration, and none may end later than [`LONGEST_SESSION`] (+ [`SKEW`]) after it was
/// issued (after `now` when the entry does not say when).
pub fn servable(c: &Credentials, now: OffsetDateTime) -> bool {
    let Some(exp) = c.expiration else { return c.session_token.is_none() };
    let from = c.issued.filter(|i| *i <= now + SKEW).unwrap_or(now);
    exp <= from + LONGEST_SESSION + SKEW
}

/// The session's length, when the entry says when it was issued.
fn lifetime(c: &Credentials) -> Option<Duration> {
    Duration::try_from(c.expiration? - c.issued?).ok().filter(|d| !d.is_zero())
}

/// Whether an explicit margin is at or above the session's own length (so it makes the
/// entry stale from the start, and caching across processes is off).
pub fn margin_too_long(c: &Credentials, margin: Margin) -> bool {
    margin.explicit && lifetime(c).is_some_and(|l| margin.duration >= l)
}

/// The life credentials must have left to be handed out under `margin`: the margin, or
/// half the session's length when that is shorter and the margin is the default.
pub fn needed(c: &Credentials, margin: Margin) -> Duration {
    match lifetime(c) {
        Some(l) if !margin.explicit => margin.duration.min(l / 2),
        _ => margin.duration,
    }
}

/// Whether `c` may be served at `now` under `margin` (see [`servable`] and [`needed`]).
pub fn fresh(c: &Credentials, margin: Margin, now: OffsetDateTime) -> bool {
    if !servable(c, now) {
        return false;
    }
    let Some(exp) = c.expiration else { return true };
    exp - now >= needed(c, margin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    const HOUR: Duration = Duration::from_secs(3600);

    fn session(now: OffsetDateTime, secs: u64) -> Credentials {
        Credentials {
            access_key_id: "ASIAQWERTYUIOP123456".into(),
            secret_access_key: Secret::new("secret-canary"),
            session_token: Some(Secret::new("token-canary")),
            expiration: Some(now + Duration::from_secs(secs)),
            issued: Some(now),
        }
    }

    #[test]
    fn a_whole_answer_passes() {
        let now = OffsetDateTime::now_utc();
        let asked = Expect::session(Some(HOUR), LONGEST_ROLE_SESSION);
        assert_eq!(check(&session(now, 3600), asked, now), Ok(()));
        // Within the clock-skew allowance.
        assert_eq!(check(&session(now, 3600 + 299), asked, now), Ok(()));
        let gst = Expect::session(None, LONGEST_SESSION);
        assert_eq!(check(&session(now, 36 * 3600), gst, now), Ok(()));
    }

    #[test]
    fn truncated_expired_empty_and_overlong_answers_fail() {
        let now = OffsetDateTime::now_utc();
        let asked = Expect::session(Some(HOUR), LONGEST_ROLE_SESSION);
        // What a body cut after `<AccessKeyId>ASIA` parses to.
        let truncated = Credentials {
            access_key_id: "ASIA".into(),
            secret_access_key: Secret::new(""),
            session_token: Some(Secret::new("")),
            expiration: OffsetDateTime::from_unix_timestamp(0).ok(),
            issued: Some(now),
        };
        assert_eq!(check(&truncated, asked, now), Err(Problem::ImplausibleKeyId("ASIA".into())));
        let mut c = session(now, 3600);
        c.access_key_id = "asiaqwertyuiop123456".into();
        assert!(matches!(check(&c, asked, now), Err(Problem::ImplausibleKeyId(_))));
        c.access_key_id.clear();
        assert_eq!(check(&c, asked, now), Err(Problem::EmptyKeyId));
        let mut c = session(now, 3600);
        c.secret_access_key = Secret::new("");
        assert_eq!(check(&c, asked, now), Err(Problem::EmptySecret));
        let mut c = session(now, 3600);
        c.session_token = Some(Secret::new(""));
        assert_eq!(check(&c, asked, now), Err(Problem::NoSessionToken));
        c.session_token = None;
        assert_eq!(check(&c, asked, now), Err(Problem::NoSessionToken));
        let mut c = session(now, 3600);
        c.expiration = None;
        assert_eq!(check(&c, asked, now), Err(Problem::NoExpiration));
        let mut c = session(now, 0);
        c.expiration = Some(now - Duration::from_secs(60));
        assert!(matches!(check(&c, asked, now), Err(Problem::Expired { .. })));
        let far = session(now, 3600 + 301);
        assert!(matches!(check(&far, asked, now), Err(Problem::TooLong { asked: 3600, .. })));
        let role_max = Expect::session(None, LONGEST_ROLE_SESSION);
        assert!(matches!(check(&session(now, 13 * 3600), role_max, now), Err(Problem::TooLong { .. })));
        // No problem ever shows the secret or the token.
        for p in [check(&c, asked, now), check(&far, asked, now)] {
            let text = p.unwrap_err().to_string();
            assert!(!text.contains("canary"), "{text}");
        }
    }

    #[test]
    fn ambient_keys_need_only_be_present() {
        let now = OffsetDateTime::now_utc();
        let long_lived = Credentials {
            access_key_id: "AKIAAMBIENT".into(),
            secret_access_key: Secret::new("s"),
            session_token: None,
            expiration: None,
            issued: Some(now),
        };
        assert_eq!(check(&long_lived, Expect::ambient(), now), Ok(()));
        let mut env_session = long_lived.clone();
        env_session.session_token = Some(Secret::new("t"));
        assert_eq!(check(&env_session, Expect::ambient(), now), Ok(()), "AWS_SESSION_TOKEN without an expiry");
        let mut empty = long_lived.clone();
        empty.secret_access_key = Secret::new("");
        assert_eq!(check(&empty, Expect::ambient(), now), Err(Problem::EmptySecret));
        let mut expired = env_session.clone();
        expired.expiration = Some(now - Duration::from_secs(1));
        assert!(matches!(check(&expired, Expect::ambient(), now), Err(Problem::Expired { .. })));
    }

    #[test]
    fn entries_without_expiry_or_from_the_far_future_are_not_served() {
        let now = OffsetDateTime::now_utc();
        assert!(servable(&session(now, 3600), now));
        assert!(servable(&session(now, 36 * 3600), now));
        let mut forever = session(now, 0);
        forever.expiration =
            OffsetDateTime::parse("9999-12-31T23:59:59Z", &time::format_description::well_known::Rfc3339).ok();
        assert!(!servable(&forever, now));
        forever.issued = None;
        assert!(!servable(&forever, now), "no Issued: measured from now");
        let mut none = session(now, 0);
        none.expiration = None;
        assert!(!servable(&none, now), "a session without an expiration");
        none.session_token = None;
        assert!(servable(&none, now), "long-lived keys may have none");
        // Issued in the future (a planted entry) does not stretch the limit.
        let mut planted = session(now, 0);
        planted.issued = Some(now + Duration::from_secs(100 * 3600));
        planted.expiration = Some(now + Duration::from_secs(100 * 3600 + 3600));
        assert!(!servable(&planted, now));
        let m = Margin { duration: Duration::from_secs(60), explicit: true };
        assert!(!fresh(&forever, m, now) && !fresh(&session(now, 0), m, now));
    }

    #[test]
    fn a_margin_at_or_above_the_session_is_taken_as_given_and_flagged() {
        let now = OffsetDateTime::now_utc();
        let explicit = |s| Margin { duration: Duration::from_secs(s), explicit: true };
        let c = session(now, 3600);
        // Under the session's length: taken as given, no warning.
        assert!(!margin_too_long(&c, explicit(3597)));
        assert_eq!(needed(&c, explicit(3597)), Duration::from_secs(3597));
        assert!(fresh(&c, explicit(3597), now + Duration::from_secs(2)));
        assert!(!fresh(&c, explicit(3597), now + Duration::from_secs(4)));
        // At or above it: stale from the start (a refresh every time), and flagged.
        for m in [3600, 7200] {
            assert!(margin_too_long(&c, explicit(m)));
            assert!(!fresh(&c, explicit(m), now + Duration::from_secs(1)));
        }
        // Without Issued the length is unknown: nothing to flag.
        let mut old = c.clone();
        old.issued = None;
        assert!(!margin_too_long(&old, explicit(7200)));
        // The default margin is capped at half any session, without a warning.
        let default = Margin { duration: crate::providers::credentials::DEFAULT_MARGIN, explicit: false };
        let root = session(now, 900);
        assert!(!margin_too_long(&root, default));
        assert_eq!(needed(&root, default), Duration::from_secs(450));
    }
}
