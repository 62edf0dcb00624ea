//! The value formats the schema checks: durations, regions, account ids, ARNs, URLs,
//! UUIDs, e-mail addresses, realm names.
//!
//! Why it exists: the same formats are checked by several parsers and read again by the
//! providers (`url_host`, `parse_duration`). Pure functions of a string; they must not
//! record problems themselves.

use super::types::ROOT_TASK_POLICY_PREFIX;

/// The longest realm Atmos accepts.
pub const REALM_MAX_CHARS: usize = 64;

/// Why `r` is not a realm, by Atmos's rules (`pkg/auth/realm`): not empty, at most 64
/// characters, only `a-z`, `0-9`, `-` and `_`, not starting or ending with `-` or `_`,
/// and no two of those in a row. `None` when it is one.
pub fn realm_error(r: &str) -> Option<String> {
    if r.is_empty() {
        return Some("it is empty".into());
    }
    if r.chars().count() > REALM_MAX_CHARS {
        return Some(format!("it has {} characters, more than {REALM_MAX_CHARS}", r.chars().count()));
    }
    if r.contains('/') || r.contains('\\') || r.contains("..") {
        return Some("it contains a path separator or `..`".into());
    }
    let mut bad: Vec<char> = r.chars().filter(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-' | '_')).collect();
    if !bad.is_empty() {
        bad.dedup();
        let mut seen = Vec::new();
        bad.retain(|c| {
            if seen.contains(c) {
                false
            } else {
                seen.push(*c);
                true
            }
        });
        let list: Vec<String> = bad.iter().map(|c| format!("`{}`", c.escape_default())).collect();
        return Some(format!(
            "it contains {} (only lowercase letters, digits, `-` and `_` are allowed)",
            list.join(", ")
        ));
    }
    let sep = |c: char| c == '-' || c == '_';
    if r.starts_with(sep) || r.ends_with(sep) {
        return Some("it starts or ends with `-` or `_`".into());
    }
    if r.as_bytes().windows(2).any(|w| sep(w[0] as char) && sep(w[1] as char)) {
        return Some("it has two of `-` and `_` in a row".into());
    }
    None
}

pub fn is_valid_realm(r: &str) -> bool {
    realm_error(r).is_none()
}

/// How to write a realm, for hints.
pub const REALM_RULE: &str = "a realm is lowercase letters, digits, `-` and `_`, at most 64 characters, \
     neither starting nor ending with `-` or `_` nor doubling them (as Atmos requires)";

/// Go-style durations (`900s`, `15m`, `1h30m`, `1.5h`) or a whole number of seconds.
pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<u64>() {
        return Some(n);
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[unit_len..];
    }
    Some(total.round() as u64)
}

pub(super) fn is_https_url(s: &str) -> bool {
    s.strip_prefix("https://").is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace))
}

/// https, or http to 127.0.0.1, [::1] or localhost (a loopback IdP in tests).
pub(super) fn is_https_or_loopback_url(s: &str) -> bool {
    is_https_url(s) || (s.starts_with("http://") && crate::util::url::is_allowed_url(s))
}

pub fn is_aws_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

pub(super) fn is_aws_or_any_region(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn arn_parts(s: &str) -> Option<(&str, &str, &str, &str, &str)> {
    let mut it = s.splitn(6, ':');
    let (arn, partition, service, region, account, resource) =
        (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
    (arn == "arn" && partition.starts_with("aws")).then_some((partition, service, region, account, resource))
}

pub fn is_role_arn(s: &str) -> bool {
    arn_parts(s).is_some_and(|(_, svc, region, acct, res)| {
        svc == "iam"
            && region.is_empty()
            && is_account_id(acct)
            && res.strip_prefix("role/").is_some_and(|n| !n.is_empty())
    })
}

pub(super) fn is_mfa_arn(s: &str) -> bool {
    arn_parts(s).is_some_and(|(_, svc, _, acct, res)| svc == "iam" && is_account_id(acct) && res.starts_with("mfa/"))
}

/// An AWS-managed root task policy: any name under `policy/root-task/`, as Atmos checks it
/// (its prefix), so policies AWS publishes later work.
pub(super) fn is_root_task_policy(s: &str) -> bool {
    arn_parts(s).is_some_and(|(_, svc, region, acct, res)| {
        svc == "iam" && region.is_empty() && acct == "aws" && res.starts_with(ROOT_TASK_POLICY_PREFIX)
    })
}

/// The lower-cased host of an http(s) URL, without port or credentials.
pub fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or(host)
    } else {
        host.split(':').next().unwrap_or(host)
    };
    host.to_ascii_lowercase()
}

pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A DNS name of at least two labels (an Entra ID tenant's domain).
pub(super) fn is_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

pub fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((user, domain)) => {
            !user.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("900"), Some(900));
        assert_eq!(parse_duration("15m"), Some(900));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("1.5h"), Some(5400));
        assert_eq!(parse_duration("3600s"), Some(3600));
        for bad in ["", "h", "10x", "1h m", "-5m", "fifteen"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats() {
        assert!(is_role_arn("arn:aws:iam::123456789012:role/x"));
        assert!(is_role_arn("arn:aws-us-gov:iam::123456789012:role/path/x"));
        assert!(!is_role_arn("arn:aws:iam::12345:role/x"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:user/x"));
        assert!(is_root_task_policy("arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy"));
        // Any root task policy, so new AWS ones work (issue 16); never another policy.
        assert!(is_root_task_policy("arn:aws:iam::aws:policy/root-task/SomeFutureRootTask"));
        assert!(!is_root_task_policy("arn:aws:iam::aws:policy/AdministratorAccess"));
        assert!(!is_root_task_policy("arn:aws:iam::123456789012:policy/root-task/Mine"));
        assert!(is_domain("contoso.onmicrosoft.com") && !is_domain("contoso") && !is_domain("a..b"));
        assert!(is_uuid("12345678-1234-1234-1234-123456789012"));
        assert!(!is_uuid("12345678-1234-1234-1234-12345678901"));
        assert!(is_email("terraform@p.iam.gserviceaccount.com"));
        assert!(!is_email("terraform"));
        assert!(is_aws_region("us-east-1") && is_aws_region("us-gov-west-1") && !is_aws_region("useast1"));
    }
}
