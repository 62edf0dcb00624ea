//! The SSO token cache file: one JSON file per portal, in the AWS SDK's `ssocreds` shape,
//! holding the access token and the client registration that can refresh it.
//!
//! Why it exists: the file is shared with other tools that read the SDK's shape, and it
//! holds secrets, so its fields, its path and its permissions are decided in one place.
//!
//! What it must not do: call the network, decide when a login or refresh is due (it only
//! answers whether the token and registration are still valid), read a file that others
//! can write or that is a link, or quote the document in an error.

use super::error::SsoError;
use super::register::ClientRegistration;
use super::token::Token;
use crate::providers::credentials::format_utc;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A client registration must have this much life left to start a device flow with it: a
/// device code lives up to ten minutes, and the registration must outlast the login.
pub const REGISTRATION_MARGIN: Duration = Duration::from_secs(15 * 60);

/// The cached SSO session for one portal, in the AWS SDK's `ssocreds` JSON shape
/// (`accessToken`, `expiresAt`, `refreshToken`, `clientId`, `clientSecret`,
/// `registrationExpiresAt`, `region`, `startUrl`; times RFC 3339 in UTC), so it holds the
/// token and the client registration that can refresh it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenFile {
    pub access_token: Secret,
    pub expires_at: OffsetDateTime,
    pub refresh_token: Option<Secret>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub registration_expires_at: Option<OffsetDateTime>,
    pub region: String,
    pub start_url: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenFileJson {
    access_token: String,
    expires_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    registration_expires_at: Option<String>,
    region: String,
    start_url: String,
}

impl TokenFile {
    /// The file for `token`, and for `reg` when the token came from that registration.
    pub fn new(start_url: &str, region: &str, token: &Token, reg: Option<&ClientRegistration>) -> TokenFile {
        TokenFile {
            access_token: token.access_token.clone(),
            expires_at: token.expires_at,
            refresh_token: token.refresh_token.clone(),
            client_id: reg.map(|r| r.client_id.clone()),
            client_secret: reg.map(|r| r.client_secret.clone()),
            registration_expires_at: reg.map(|r| r.expires_at),
            region: region.to_string(),
            start_url: start_url.to_string(),
        }
    }

    /// The token it holds.
    pub fn token(&self) -> Token {
        Token {
            access_token: self.access_token.clone(),
            expires_at: self.expires_at,
            refresh_token: self.refresh_token.clone(),
        }
    }

    /// The client registration it holds, if it holds a whole one.
    pub fn registration(&self) -> Option<ClientRegistration> {
        Some(ClientRegistration {
            client_id: self.client_id.clone()?,
            client_secret: self.client_secret.clone()?,
            expires_at: self.registration_expires_at?,
        })
    }

    /// Whether the access token has more than `margin` of life left at `now`.
    pub fn access_token_valid(&self, now: OffsetDateTime, margin: Duration) -> bool {
        !self.access_token.expose().is_empty() && self.expires_at - now > margin
    }

    /// Whether the client registration is whole and has more than [`REGISTRATION_MARGIN`]
    /// left at `now`: enough to start a device flow or refresh with it.
    pub fn registration_valid(&self, now: OffsetDateTime) -> bool {
        self.registration().is_some_and(|r| r.expires_at - now > REGISTRATION_MARGIN)
    }

    /// Whether this is the session of the portal at `start_url` in `region` (compared as
    /// [`token_cache_path`] compares them).
    pub fn is_for(&self, start_url: &str, region: &str) -> bool {
        portal_key(&self.start_url, &self.region) == portal_key(start_url, region)
    }

    /// The JSON document (one line).
    pub fn to_json(&self) -> String {
        let doc = TokenFileJson {
            access_token: self.access_token.expose().to_string(),
            expires_at: format_utc(self.expires_at),
            refresh_token: self.refresh_token.as_ref().map(|s| s.expose().to_string()),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.as_ref().map(|s| s.expose().to_string()),
            registration_expires_at: self.registration_expires_at.map(format_utc),
            region: self.region.clone(),
            start_url: self.start_url.clone(),
        };
        serde_json::to_string(&doc).unwrap_or_default()
    }

    /// Parses the document; the reason for a refusal never quotes the document.
    pub fn from_json(text: &str) -> Result<TokenFile, String> {
        let doc: TokenFileJson = serde_json::from_str(text).map_err(|e| describe(&e))?;
        let time = |field: &str, v: &str| {
            // Older AWS CLI versions wrote `2019-12-04T04:07:05UTC`.
            let v = match v.strip_suffix("UTC") {
                Some(t) => format!("{t}Z"),
                None => v.to_string(),
            };
            OffsetDateTime::parse(&v, &Rfc3339)
                .map(|t| t.to_offset(time::UtcOffset::UTC))
                .map_err(|_| format!("`{field}` is not an RFC 3339 time"))
        };
        Ok(TokenFile {
            expires_at: time("expiresAt", &doc.expires_at)?,
            registration_expires_at: doc
                .registration_expires_at
                .as_deref()
                .map(|v| time("registrationExpiresAt", v))
                .transpose()?,
            access_token: Secret::new(doc.access_token),
            refresh_token: doc.refresh_token.filter(|s| !s.is_empty()).map(Secret::new),
            client_id: doc.client_id.filter(|s| !s.is_empty()),
            client_secret: doc.client_secret.filter(|s| !s.is_empty()).map(Secret::new),
            region: doc.region,
            start_url: doc.start_url,
        })
    }

    /// Reads the file at `path`: `None` if there is none.
    pub fn load(path: &Path) -> Result<Option<TokenFile>, SsoError> {
        // Only a regular file of the user's, in a directory of the user's, never a link.
        let text = match crate::util::fs::read_private(path, crate::providers::credentials::ENTRY_CAP) {
            Ok(Some(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
            Ok(None) => return Ok(None),
            Err(source) => return Err(SsoError::TokenFileRead { path: path.to_path_buf(), source }),
        };
        TokenFile::from_json(&text)
            .map(Some)
            .map_err(|reason| SsoError::TokenFileInvalid { path: path.to_path_buf(), reason })
    }

    /// Writes the file at `path`: 0600 in a 0700 directory, replaced atomically.
    pub fn save(&self, path: &Path) -> Result<(), SsoError> {
        crate::util::fs::write_private_atomic(path, self.to_json().as_bytes())
            .map_err(|source| SsoError::TokenFileWrite { path: path.to_path_buf(), source })
    }
}

/// The portal's identity for the cache: the start URL without surrounding blanks or
/// trailing `/` and `#` (`.../start`, `.../start/` and `.../start/#/` are one portal), and
/// the region in lower case.
fn portal_key(start_url: &str, region: &str) -> String {
    format!("{}\n{}", start_url.trim().trim_end_matches(['/', '#']), region.trim().to_ascii_lowercase())
}

/// `cache_root/sso/<sha256 hex of the portal key>.json`: one token file per portal (start
/// URL and region), shared by every provider that points at it.
pub fn token_cache_path(cache_root: &Path, start_url: &str, region: &str) -> PathBuf {
    let hex: String =
        Sha256::digest(portal_key(start_url, region).as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    cache_root.join("sso").join(format!("{hex}.json"))
}

/// `atmos_cache/aws-sso/sessions/<sha1 hex of "start_url|region">.json`: where Atmos keeps
/// the token of a portal (`pkg/auth/providers/aws/sso_cache.go`), so one sign-in serves
/// Atmos and tfauth. The start URL and region are hashed exactly as configured, as Atmos
/// does (SHA-1 names a file here, as in the AWS SDK's own cache; it guards nothing).
pub fn atmos_session_path(atmos_cache: &Path, start_url: &str, region: &str) -> PathBuf {
    use sha1::Digest as _;
    let hex: String =
        sha1::Sha1::digest(format!("{start_url}|{region}").as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    atmos_cache.join("aws-sso").join("sessions").join(format!("{hex}.json"))
}

/// The most files of the AWS CLI's SSO cache looked at, and the largest read: it also
/// holds client registrations and botocore's other caches.
const AWS_CLI_SCAN: usize = 256;

/// A token the AWS CLI left for this portal in `dir` (`~/.aws/sso/cache`), still valid at
/// `now` with `margin` to spare: `<sha1 of the start URL>.json` for a legacy profile, any
/// file whose `startUrl` and `region` are this portal's for an `sso-session`
/// (named after the session, which only the user's AWS config knows). Read only from files
/// that are the user's and writable by no one else; never written, never re-moded.
pub fn aws_cli_token(
    dir: &Path,
    start_url: &str,
    region: &str,
    now: OffsetDateTime,
    margin: std::time::Duration,
) -> Option<TokenFile> {
    use sha1::Digest as _;
    let legacy: String = sha1::Sha1::digest(start_url.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let legacy = dir.join(format!("{legacy}.json"));
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && *p != legacy)
        .take(AWS_CLI_SCAN)
        .collect();
    names.sort();
    names.insert(0, legacy);
    names.into_iter().find_map(|p| {
        let f = read_foreign(&p)?;
        (f.is_for(start_url, region) && f.access_token_valid(now, margin)).then_some(f)
    })
}

/// A token file of another tool's, read without changing it: it must be the user's and
/// writable by no one else (a link too, and what it points at), a regular file, small. Not
/// [`TokenFile::load`], which tightens tfauth's own files and directories to 0600/0700:
/// the AWS CLI's cache is the AWS CLI's.
fn read_foreign(path: &Path) -> Option<TokenFile> {
    std::fs::symlink_metadata(path).ok()?;
    if let Err(e) = crate::util::fs::check_user_file(path) {
        tracing::debug!("not reading {}: {e}", path.display());
        return None;
    }
    let bytes = crate::util::fs::read_regular(path, crate::providers::credentials::ENTRY_CAP).ok()?;
    TokenFile::from_json(&String::from_utf8_lossy(&bytes)).ok()
}

/// A serde_json error in words that cannot contain a value from the document.
fn describe(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    if e.is_data() && msg.starts_with("missing field") {
        // "missing field `accessToken` at line 1 column 2": names only.
        return msg;
    }
    let what = match e.classify() {
        serde_json::error::Category::Data => "a field has the wrong type",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Eof => "the answer ends too soon",
        serde_json::error::Category::Io => "the answer could not be read",
    };
    format!("{what} (line {}, column {})", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::sso::test_support::{CANARY, sample, t};

    #[test]
    fn describe_never_quotes_the_document() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct N {
            n: u64,
        }
        let e = serde_json::from_str::<N>(&format!(r#"{{"n": "{CANARY}"}}"#)).unwrap_err();
        assert!(e.to_string().contains(CANARY), "the raw message would have leaked");
        assert!(!describe(&e).contains(CANARY), "{}", describe(&e));
        let e = serde_json::from_str::<N>("{}").unwrap_err();
        assert!(describe(&e).starts_with("missing field `n`"));
    }

    #[test]
    fn token_file_round_trips_in_the_sdk_field_names() {
        let f = sample();
        let text = f.to_json();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "accessToken",
                "expiresAt",
                "refreshToken",
                "clientId",
                "clientSecret",
                "registrationExpiresAt",
                "region",
                "startUrl"
            ]
        );
        assert_eq!(doc["accessToken"], "access-CANARYsecretVALUE");
        assert_eq!(doc["expiresAt"], "2026-11-22T01:02:03Z");
        assert_eq!(doc["refreshToken"], "refresh-CANARYsecretVALUE");
        assert_eq!(doc["clientId"], "client-1");
        assert_eq!(doc["clientSecret"], "client-secret-CANARYsecretVALUE");
        assert_eq!(doc["registrationExpiresAt"], "2027-02-20T00:00:00Z");
        assert_eq!(doc["region"], "us-east-1");
        assert_eq!(doc["startUrl"], "https://d-1234567890.awsapps.com/start");
        assert_eq!(TokenFile::from_json(&text).unwrap(), f);
    }

    #[test]
    fn token_file_reads_what_other_sdks_write() {
        // botocore's legacy shape (no registration) with fractional seconds and an offset.
        let f = TokenFile::from_json(
            r#"{"startUrl": "https://x.awsapps.com/start", "region": "eu-west-1", "accessToken": "a", "expiresAt": "2026-01-02T03:04:05.678+01:00"}"#,
        )
        .unwrap();
        assert_eq!(f.expires_at, t("2026-01-02T02:04:05.678Z"));
        assert_eq!(f.expires_at.offset(), time::UtcOffset::UTC);
        assert!(f.refresh_token.is_none() && f.registration().is_none());
        let no_region = TokenFile::from_json(r#"{"accessToken": "a", "expiresAt": "2026-01-02T03:04:05Z"}"#);
        assert!(no_region.unwrap_err().contains("missing field"));
    }

    #[test]
    fn a_bad_token_file_is_refused_without_quoting_it() {
        for text in [
            format!(r#"{{"accessToken": 5, "expiresAt": "{CANARY}", "region": "r", "startUrl": "s"}}"#),
            format!(r#"{{"accessToken": "{CANARY}", "expiresAt": "{CANARY}", "region": "r", "startUrl": "s"}}"#),
            format!(r#"{{"accessToken": "{CANARY}", "#),
            format!(r#"{{"accessToken": "{CANARY}", "expiresAt": 17, "region": "r", "startUrl": "s"}}"#),
        ] {
            let reason = TokenFile::from_json(&text).unwrap_err();
            assert!(!reason.contains(CANARY), "{reason}");
        }
    }

    #[test]
    fn save_is_private_and_load_reads_it_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = token_cache_path(dir.path(), "https://x.awsapps.com/start", "us-east-1");
        assert_eq!(TokenFile::load(&path).unwrap(), None);
        let f = sample();
        f.save(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(TokenFile::load(&path).unwrap(), Some(f));
        std::fs::write(&path, format!("{{\"accessToken\": \"{CANARY}\"")).unwrap();
        let err = TokenFile::load(&path).unwrap_err();
        assert!(matches!(err, SsoError::TokenFileInvalid { .. }), "{err}");
        assert!(!err.to_string().contains(CANARY), "{err}");
    }

    #[test]
    fn one_cache_file_per_portal() {
        let root = Path::new("/c");
        let p = token_cache_path(root, "https://d-1.awsapps.com/start", "us-east-1");
        let expected: String =
            Sha256::digest(b"https://d-1.awsapps.com/start\nus-east-1").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(p, root.join("sso").join(format!("{expected}.json")));
        assert_eq!(expected.len(), 64);
        // The same portal written differently shares the file.
        for (url, region) in [
            ("https://d-1.awsapps.com/start/", "us-east-1"),
            ("https://d-1.awsapps.com/start/#/", "US-EAST-1"),
            (" https://d-1.awsapps.com/start ", " us-east-1"),
        ] {
            assert_eq!(token_cache_path(root, url, region), p, "{url} {region}");
        }
        // Another portal, or the same start URL in another region, does not.
        assert_ne!(token_cache_path(root, "https://d-2.awsapps.com/start", "us-east-1"), p);
        assert_ne!(token_cache_path(root, "https://d-1.awsapps.com/start", "us-east-2"), p);
        let f = sample();
        assert!(f.is_for("https://d-1234567890.awsapps.com/start/", "US-EAST-1"));
        assert!(!f.is_for("https://d-1234567890.awsapps.com/start", "us-west-2"));
    }

    #[test]
    fn validity_checks() {
        let f = sample();
        let exp = f.expires_at;
        let margin = Duration::from_secs(600);
        assert!(f.access_token_valid(exp - time::Duration::minutes(11), margin));
        assert!(!f.access_token_valid(exp - time::Duration::minutes(10), margin), "exactly the margin left");
        assert!(!f.access_token_valid(exp + time::Duration::seconds(1), Duration::ZERO));
        assert!(f.access_token_valid(exp - time::Duration::seconds(1), Duration::ZERO));
        let empty = TokenFile { access_token: Secret::new(""), ..f.clone() };
        assert!(!empty.access_token_valid(exp - time::Duration::days(1), margin));

        let reg_exp = f.registration_expires_at.unwrap();
        assert!(f.registration_valid(reg_exp - time::Duration::minutes(16)));
        assert!(!f.registration_valid(reg_exp - time::Duration::minutes(15)), "too close for a device flow");
        assert!(!f.registration_valid(reg_exp + time::Duration::days(1)));
        let half = TokenFile { client_secret: None, ..f.clone() };
        assert!(!half.registration_valid(reg_exp - time::Duration::days(30)));
        let reg = f.registration().unwrap();
        assert_eq!((reg.client_id.as_str(), reg.expires_at), ("client-1", reg_exp));
    }

    #[test]
    fn new_and_token_agree() {
        let token = Token {
            access_token: Secret::new("a"),
            expires_at: t("2026-01-01T00:00:00Z"),
            refresh_token: Some(Secret::new("r")),
        };
        let reg = ClientRegistration {
            client_id: "c".into(),
            client_secret: Secret::new("s"),
            expires_at: t("2026-03-01T00:00:00Z"),
        };
        let f = TokenFile::new("https://x/start", "us-east-1", &token, Some(&reg));
        assert_eq!(f.token(), token);
        assert_eq!(f.registration(), Some(reg));
        let bare = TokenFile::new("https://x/start", "us-east-1", &token, None);
        assert_eq!(bare.registration(), None);
        assert!(!bare.to_json().contains("clientId"));
    }
}
