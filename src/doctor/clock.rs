//! The clock check: this machine's clock against the `Date` of the STS endpoint a run would
//! call.
//!
//! Why it exists: SigV4 rejects a request signed more than five minutes off, with an error
//! that does not say "clock". It sends one bare GET with no credentials and must never sign
//! or send anything else.

use super::{Check, Status};
use crate::env_vars::Env;
use std::time::Duration;
use time::OffsetDateTime;

/// SigV4 rejects a request signed more than this far from the service's clock.
pub const SKEW_FAIL: Duration = Duration::from_secs(5 * 60);
/// Past this, the clock is drifting: still accepted, but worth fixing before it is not.
pub const SKEW_WARN: Duration = Duration::from_secs(60);
/// How long the clock check waits for STS.
pub const CLOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// The STS endpoint a run would call: `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, else the
/// regional endpoint of `AWS_REGION` / `AWS_DEFAULT_REGION`, else the global one.
pub fn sts_endpoint(env: &Env) -> String {
    if let Some(url) = env.get(crate::env_vars::AWS_ENDPOINT_URL_STS).or(env.get(crate::env_vars::AWS_ENDPOINT_URL)) {
        return url.to_string();
    }
    let region = env
        .get(crate::env_vars::AWS_REGION)
        .or(env.get(crate::env_vars::AWS_DEFAULT_REGION))
        .filter(|r| r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
    match region {
        Some(r) => format!("https://sts.{r}.amazonaws.com"),
        None => "https://sts.amazonaws.com".into(),
    }
}

/// An HTTP `Date` (RFC 9110's IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    let format = time::format_description::parse_borrowed::<2>(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT",
    )
    .ok()?;
    Some(time::PrimitiveDateTime::parse(s.trim(), &format).ok()?.assume_utc())
}

/// Pass within [`SKEW_WARN`], warn up to [`SKEW_FAIL`], fail beyond.
pub fn classify_skew(skew_secs: i64) -> Status {
    let off = skew_secs.unsigned_abs();
    if off > SKEW_FAIL.as_secs() {
        Status::Fail
    } else if off > SKEW_WARN.as_secs() {
        Status::Warn
    } else {
        Status::Pass
    }
}

/// `about 10 min (600 s)`, or `12 s` under a minute.
pub fn skew_text(skew_secs: i64) -> String {
    let off = skew_secs.unsigned_abs();
    if off < 60 { format!("{off} s") } else { format!("about {} min ({off} s)", (off + 30) / 60) }
}

/// The local clock agrees with STS's `Date` header (SigV4 signatures are only accepted
/// within five minutes of the service's time). One bare GET, no credentials; an endpoint
/// that cannot be reached is a warning, so the doctor stays useful offline.
pub fn clock(env: &Env) -> Check {
    const NAME: &str = "clock";
    let url = sts_endpoint(env);
    let shown = url.split('?').next().unwrap_or(&url);
    let before = OffsetDateTime::now_utc();
    let answer = crate::providers::http::server_date(&url, CLOCK_TIMEOUT);
    let after = OffsetDateTime::now_utc();
    let date = match answer {
        Ok(Some(d)) => d,
        Ok(None) => {
            return Check::warn(
                NAME,
                format!("STS at {shown} answered without a Date header; the clock was not checked"),
                "check AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL",
            );
        }
        Err(e) => {
            return Check::warn(
                NAME,
                format!("could not reach STS at {shown} ({e}); the clock was not checked"),
                "check the network, or AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL if you point tfauth at another endpoint",
            );
        }
    };
    let Some(server) = parse_http_date(&date) else {
        return Check::warn(
            NAME,
            format!("STS at {shown} sent a Date header that is not an HTTP date; the clock was not checked"),
            "check AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL",
        );
    };
    let half: time::Duration = (after - before) / 2;
    let skew: time::Duration = server - (before + half);
    let skew = skew.whole_seconds();
    let direction = if skew > 0 { "behind" } else { "ahead of" };
    let detail = format!("the local clock is {} {direction} STS at {shown}", skew_text(skew));
    let sync = "synchronize the clock with NTP (e.g. `sudo timedatectl set-ntp true`, or `sudo chronyc makestep`)";
    match classify_skew(skew) {
        Status::Pass => Check::pass(NAME, format!("within {} of STS at {shown}", skew_text(skew))),
        Status::Warn => Check::warn(NAME, detail, format!("{sync}: STS rejects signatures more than 5 minutes off")),
        Status::Fail => {
            Check::fail(NAME, format!("{detail}: STS rejects requests signed more than 5 minutes off"), sync)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_is_classified_by_sigv4s_limits() {
        assert_eq!(classify_skew(0), Status::Pass);
        assert_eq!(classify_skew(-60), Status::Pass);
        assert_eq!(classify_skew(61), Status::Warn);
        assert_eq!(classify_skew(-120), Status::Warn);
        assert_eq!(classify_skew(300), Status::Warn);
        assert_eq!(classify_skew(301), Status::Fail);
        assert_eq!(classify_skew(-600), Status::Fail);
        assert_eq!(skew_text(-12), "12 s");
        assert_eq!(skew_text(599), "about 10 min (599 s)");
        assert_eq!(skew_text(-120), "about 2 min (120 s)");
    }

    #[test]
    fn http_dates() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.unix_timestamp(), 784111777);
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn sts_endpoint_precedence() {
        let e = |pairs: &[(&str, &str)]| sts_endpoint(&Env::from_pairs(pairs.iter().copied()));
        assert_eq!(e(&[("AWS_ENDPOINT_URL", "http://a"), ("AWS_ENDPOINT_URL_STS", "http://b")]), "http://b");
        assert_eq!(e(&[("AWS_ENDPOINT_URL", "http://a"), ("AWS_REGION", "eu-west-1")]), "http://a");
        assert_eq!(e(&[("AWS_DEFAULT_REGION", "eu-west-1")]), "https://sts.eu-west-1.amazonaws.com");
        assert_eq!(e(&[("AWS_REGION", "x/evil")]), "https://sts.amazonaws.com");
        assert_eq!(e(&[]), "https://sts.amazonaws.com");
    }
}
