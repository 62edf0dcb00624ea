//! What the unit tests of several SSO files share: the canary secret that must never show,
//! a time parser, and a full token file.
//!
//! Why it exists: the token file's tests and the redaction test in `mod.rs` use the same
//! sample, and every leak test looks for the same canary.
//!
//! What it must not do: be compiled outside tests, or hold a real secret.

use super::TokenFile;
use crate::secret::Secret;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub(super) const CANARY: &str = "CANARYsecretVALUE";

pub(super) fn t(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &Rfc3339).unwrap()
}

pub(super) fn sample() -> TokenFile {
    TokenFile {
        access_token: Secret::new("access-CANARYsecretVALUE"),
        expires_at: t("2026-11-22T01:02:03Z"),
        refresh_token: Some(Secret::new("refresh-CANARYsecretVALUE")),
        client_id: Some("client-1".into()),
        client_secret: Some(Secret::new("client-secret-CANARYsecretVALUE")),
        registration_expires_at: Some(t("2027-02-20T00:00:00Z")),
        region: "us-east-1".into(),
        start_url: "https://d-1234567890.awsapps.com/start".into(),
    }
}
