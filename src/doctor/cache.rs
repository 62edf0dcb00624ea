//! The cache check: every entry under `$XDG_CACHE_HOME/tfauth/`, and every IAM Identity
//! Center session in Atmos's `$XDG_CACHE_HOME/atmos/aws-sso/sessions/` (where tfauth keeps
//! the portal tokens), parses; and how many are usable, expired or corrupt.
//!
//! Why it exists: an entry cut in half by a full disk shows up later as a parse error in the
//! middle of a run. It names entries by file, never by content (they hold secrets), and
//! deletes nothing: it prints the `rm` to run.

use super::{Check, LIST_MAX};
use crate::output::env::shell_quote;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// The kinds of entries under `$XDG_CACHE_HOME/tfauth/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// `aws/<key>.json`: a session.
    AwsSession,
    /// `sso/<hash>.json`: an IAM Identity Center token.
    SsoToken,
    /// `sso/<hash>.identities.json`: auto-provisioned identities.
    SsoIdentities,
    /// `azure/<key>.json`: a device-code user's tokens.
    AzureTokens,
    /// `stack-index/<key>.json`: stack names (rebuilt when damaged).
    StackIndex,
}

impl EntryKind {
    fn label(self) -> &'static str {
        match self {
            EntryKind::AwsSession => "AWS session",
            EntryKind::SsoToken => "IAM Identity Center token",
            EntryKind::SsoIdentities => "provisioned identities",
            EntryKind::AzureTokens => "Azure tokens",
            EntryKind::StackIndex => "stack index",
        }
    }

    /// The kind of `dir/name`, `None` for lock files, failure markers, temp files.
    pub fn of(dir: &str, name: &str) -> Option<EntryKind> {
        if name.starts_with('.') || !name.ends_with(".json") {
            return None;
        }
        Some(match dir {
            "aws" => EntryKind::AwsSession,
            "sso" if name.ends_with(".identities.json") => EntryKind::SsoIdentities,
            "sso" => EntryKind::SsoToken,
            "azure" => EntryKind::AzureTokens,
            "stack-index" => EntryKind::StackIndex,
            _ => return None,
        })
    }
}

/// What a cache entry is worth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryState {
    Usable,
    /// Past its expiry with nothing to renew it from: replaced on next use.
    Expired,
    Corrupt,
}

/// The state of an entry of `kind` holding `text`, at `now`. Reads no secret out.
pub fn entry_state(kind: EntryKind, text: &str, now: OffsetDateTime) -> EntryState {
    let expired = |yes: bool| if yes { EntryState::Expired } else { EntryState::Usable };
    match kind {
        EntryKind::AwsSession => match crate::session::cache::Credentials::from_process_json(text) {
            None => EntryState::Corrupt,
            Some(c) => expired(c.expiration.is_some_and(|e| e <= now)),
        },
        EntryKind::SsoToken => match crate::providers::sso::TokenFile::from_json(text) {
            Err(_) => EntryState::Corrupt,
            Ok(f) => expired(f.expires_at <= now && !(f.refresh_token.is_some() && f.registration_valid(now))),
        },
        EntryKind::AzureTokens => {
            match serde_json::from_str(text).ok().as_ref().and_then(crate::providers::azure::from_json) {
                None => EntryState::Corrupt,
                Some(t) => expired(t.expires_on <= now.unix_timestamp() && t.refresh_token.is_none()),
            }
        }
        EntryKind::SsoIdentities => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) if v.get("identities").is_some_and(serde_json::Value::is_array) => EntryState::Usable,
            _ => EntryState::Corrupt,
        },
        EntryKind::StackIndex => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(_) => EntryState::Usable,
            Err(_) => EntryState::Corrupt,
        },
    }
}

/// Every entry under the cache root and in Atmos's `sessions` directory parses; expired
/// ones are counted. A damaged stack index is only a warning: it is rebuilt on the next run.
pub fn cache(root: Option<&Path>, sessions: Option<&Path>, now: OffsetDateTime) -> Check {
    const NAME: &str = "cache";
    let Some(root) = root else {
        return Check::warn(NAME, "no cache directory: neither XDG_CACHE_HOME nor HOME is set", "set HOME");
    };
    let mut counts: Vec<(EntryKind, usize)> = Vec::new();
    let mut expired = 0;
    let mut corrupt: Vec<(PathBuf, EntryKind)> = Vec::new();
    let mut dirs: Vec<(PathBuf, &str)> =
        ["aws", "sso", "azure", "stack-index"].into_iter().map(|d| (root.join(d), d)).collect();
    dirs.extend(sessions.map(|s| (s.to_path_buf(), "sso")));
    for (d, dir) in dirs {
        if !std::fs::symlink_metadata(&d).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let Some(kind) = EntryKind::of(dir, &name) else { continue };
            if !std::fs::symlink_metadata(&f).is_ok_and(|m| m.is_file()) {
                continue;
            }
            match counts.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, n)) => *n += 1,
                None => counts.push((kind, 1)),
            }
            let state = match std::fs::read_to_string(&f) {
                Ok(text) => entry_state(kind, &text, now),
                Err(_) => EntryState::Corrupt,
            };
            match state {
                EntryState::Usable => {}
                EntryState::Expired => expired += 1,
                EntryState::Corrupt => corrupt.push((f, kind)),
            }
        }
    }
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    let summary = if total == 0 {
        format!("nothing cached yet in {}", root.display())
    } else {
        let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {}", k.label())).collect();
        format!("{total} entries in {} ({})", root.display(), parts.join(", "))
    };
    let harmful: Vec<&(PathBuf, EntryKind)> = corrupt.iter().filter(|(_, k)| *k != EntryKind::StackIndex).collect();
    if !corrupt.is_empty() {
        let mut detail = format!("{summary}; {} cannot be read:", corrupt.len());
        for (f, k) in corrupt.iter().take(LIST_MAX) {
            detail.push_str(&format!("\n- {} ({})", f.display(), k.label()));
        }
        let rm: Vec<String> = corrupt.iter().map(|(f, _)| shell_quote(&f.to_string_lossy())).collect();
        let hint = format!(
            "remove them: `rm {}` (tfauth writes new ones when it next needs them); `tfauth auth logout --all` \
             clears this repository's sessions",
            rm.join(" ")
        );
        return if harmful.is_empty() { Check::warn(NAME, detail, hint) } else { Check::fail(NAME, detail, hint) };
    }
    if expired > 0 {
        return Check::warn(
            NAME,
            format!("{summary}; {expired} expired"),
            "harmless: expired entries are replaced on next use; `tfauth auth logout --all` clears this repository's",
        );
    }
    Check::pass(NAME, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn cache_entries_states() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let aws = |exp: &str| {
            format!(
                r#"{{"Version":1,"AccessKeyId":"ASIA","SecretAccessKey":"CANARY","SessionToken":"t","Expiration":"{exp}"}}"#
            )
        };
        assert_eq!(entry_state(EntryKind::AwsSession, &aws("2027-01-15T09:00:00Z"), now), EntryState::Usable);
        assert_eq!(entry_state(EntryKind::AwsSession, &aws("2027-01-15T07:00:00Z"), now), EntryState::Expired);
        assert_eq!(entry_state(EntryKind::AwsSession, "garbage", now), EntryState::Corrupt);
        let sso =
            r#"{"accessToken":"a","expiresAt":"2027-01-15T07:00:00Z","region":"us-east-1","startUrl":"https://x"}"#;
        assert_eq!(entry_state(EntryKind::SsoToken, sso, now), EntryState::Expired, "no refresh token");
        assert_eq!(entry_state(EntryKind::SsoToken, "{}", now), EntryState::Corrupt);
        let az = r#"{"authority":"a","tenant_id":"t","client_id":"c","access_token":"x","refresh_token":"r","expires_on":1,"home_account_id":"u.t"}"#;
        assert_eq!(entry_state(EntryKind::AzureTokens, az, now), EntryState::Usable, "refreshable");
        assert_eq!(entry_state(EntryKind::SsoIdentities, r#"{"identities":[]}"#, now), EntryState::Usable);
        assert_eq!(entry_state(EntryKind::StackIndex, "{not json", now), EntryState::Corrupt);
        assert_eq!(EntryKind::of("aws", "k.lock"), None);
        assert_eq!(EntryKind::of("aws", ".k.json.1.2.tmp"), None);
        assert_eq!(EntryKind::of("sso", "h.identities.json"), Some(EntryKind::SsoIdentities));
    }

    #[test]
    fn cache_check_names_corrupt_files_and_counts_expired_without_secrets() {
        let t = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        assert_eq!(cache(Some(t.path()), None, now).status, Status::Pass);
        std::fs::create_dir_all(t.path().join("aws")).unwrap();
        std::fs::create_dir_all(t.path().join("stack-index")).unwrap();
        let old =
            r#"{"Version":1,"AccessKeyId":"ASIA","SecretAccessKey":"CANARY","Expiration":"2020-01-01T00:00:00Z"}"#;
        std::fs::write(t.path().join("aws/old.json"), old).unwrap();
        std::fs::write(t.path().join("aws/old.lock"), "").unwrap();
        let c = cache(Some(t.path()), None, now);
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.contains("1 expired"), "{}", c.detail);
        std::fs::write(t.path().join("stack-index/i.json"), "{cut").unwrap();
        assert_eq!(cache(Some(t.path()), None, now).status, Status::Warn, "a damaged index is rebuilt");
        std::fs::write(t.path().join("aws/bad.json"), "{\"SecretAccessKey\":\"CANARY2\"").unwrap();
        let c = cache(Some(t.path()), None, now);
        assert_eq!(c.status, Status::Fail);
        let bad = t.path().join("aws/bad.json").display().to_string();
        assert!(c.detail.contains(&bad) && c.hint.as_deref().unwrap().contains(&format!("rm {bad}")), "{c:?}");
        assert!(!format!("{c:?}").contains("CANARY"), "{c:?}");

        // Atmos's sessions directory, where the portal tokens are, is checked too.
        let sessions = t.path().join("atmos-sessions");
        std::fs::create_dir_all(&sessions).unwrap();
        std::fs::write(sessions.join("0123.json"), "{\"accessToken\":\"CANARY3\"").unwrap();
        let c = cache(Some(t.path()), Some(&sessions), now);
        assert!(c.detail.contains(&sessions.join("0123.json").display().to_string()), "{c:?}");
        assert!(c.detail.contains("IAM Identity Center token") && !format!("{c:?}").contains("CANARY3"), "{c:?}");
    }
}
