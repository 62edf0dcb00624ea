//! What a provider hands over for AWS: [`Credentials`], the `credential_process` JSON they
//! print as (and the cache stores them in), and the [`Margin`] by which they are fresh.
//! The secret parts never print. No I/O here: the cache reads and writes the files.

use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The largest credentials document (a cache entry, a token file) tfauth reads; entries
/// are a few hundred bytes.
pub const ENTRY_CAP: u64 = 64 * 1024;

/// Default refresh margin: more than the 15 minutes at which AWS SDKs refresh on their own,
/// so what tfauth hands out is never already due for refresh.
pub const DEFAULT_MARGIN: Duration = Duration::from_secs(20 * 60);

/// AWS credentials, the secret parts redacted in any formatting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    /// None for long-lived keys.
    pub expiration: Option<OffsetDateTime>,
    /// When STS issued them (kept in the cache, not printed), to size the default margin.
    pub issued: Option<OffsetDateTime>,
}

/// The `credential_process` document (and the cache file's shape).
#[derive(Serialize, Deserialize)]
struct ProcessJson {
    #[serde(rename = "Version")]
    version: u32,
    #[serde(rename = "AccessKeyId")]
    access_key_id: String,
    #[serde(rename = "SecretAccessKey")]
    secret_access_key: String,
    #[serde(rename = "SessionToken", skip_serializing_if = "Option::is_none", default)]
    session_token: Option<String>,
    #[serde(rename = "Expiration", skip_serializing_if = "Option::is_none", default)]
    expiration: Option<String>,
    #[serde(rename = "Issued", skip_serializing_if = "Option::is_none", default)]
    issued: Option<String>,
}

impl Credentials {
    /// The one-line JSON document a `credential_process` prints (Expiration in UTC).
    pub fn to_process_json(&self) -> String {
        self.json(false)
    }

    /// The document, with `Issued` when `with_issued` (the cache's copy keeps it).
    pub fn json(&self, with_issued: bool) -> String {
        let doc = ProcessJson {
            version: 1,
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.expose().to_string(),
            session_token: self.session_token.as_ref().map(|t| t.expose().to_string()),
            expiration: self.expiration.map(format_utc),
            issued: self.issued.filter(|_| with_issued).map(format_utc),
        };
        serde_json::to_string(&doc).unwrap_or_default()
    }

    /// Parses the document written by [`Credentials::to_process_json`].
    pub fn from_process_json(text: &str) -> Option<Credentials> {
        let doc: ProcessJson = serde_json::from_str(text).ok()?;
        if doc.version != 1 || doc.access_key_id.is_empty() || doc.secret_access_key.is_empty() {
            return None;
        }
        let parse = |t: Option<String>| -> Option<Option<OffsetDateTime>> {
            match t {
                Some(t) => Some(Some(OffsetDateTime::parse(&t, &Rfc3339).ok()?)),
                None => Some(None),
            }
        };
        let expiration = parse(doc.expiration)?;
        let issued = parse(doc.issued)?;
        Some(Credentials {
            access_key_id: doc.access_key_id,
            secret_access_key: Secret::new(doc.secret_access_key),
            session_token: doc.session_token.map(Secret::new),
            expiration,
            issued,
        })
    }

    /// Whether these may be served at `now` with at least `margin` of life left. A default
    /// margin is capped at half the session's lifetime, so short sessions (AssumeRoot's 15
    /// minutes) are still reused; a margin the user set is taken as given. A session
    /// without an expiration, or one claiming more than 36 hours, is never fresh
    /// ([`super::validate::servable`]).
    pub fn fresh_for(&self, margin: Margin, now: OffsetDateTime) -> bool {
        super::validate::fresh(self, margin, now)
    }
}

/// `2026-11-22T01:02:03Z`.
pub fn format_utc(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// How much life credentials must have left to be handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Margin {
    pub duration: Duration,
    /// Set by the user (taken as given) rather than the default (capped per session).
    pub explicit: bool,
}
