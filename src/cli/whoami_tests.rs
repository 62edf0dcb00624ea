//! Tests of `tfauth auth whoami`: it needs an identity, never starts a login, and for GCP
//! proves the chain against (stand-in) Google without writing anything. What it prints
//! goes straight to stdout from inside `whoami`, so the table and JSON are checked by the
//! CLI snapshot tests, not here.

use super::*;
use crate::error::Error;

use crate::cli::test_support::*;

fn args(identity: Option<&str>, output: WhoamiFormat) -> WhoamiArgs {
    WhoamiArgs { target: target(identity), output }
}

#[test]
fn without_an_identity_there_is_no_one_to_report_on() {
    let repo = Repo::new(AUTH);
    let (message, hint) = usage(whoami(args(Some("false"), WhoamiFormat::Table), &repo.ctx(&[])));
    assert_eq!(message, "no identity: auth is disabled (--identity false)");
    assert_eq!(hint.as_deref(), Some("pass --identity NAME"));
    // No default: said as that, with the identities to choose from (not "disabled").
    let err = whoami(args(None, WhoamiFormat::Table), &repo.ctx(&[])).unwrap_err();
    assert!(matches!(err, Error::Auth(crate::auth::AuthError::NoDefault { .. })), "{err:?}");
    assert!(err.hint().unwrap().starts_with("pass --identity NAME"), "{:?}", err.hint());
    let err = whoami(args(Some("nobody"), WhoamiFormat::Json), &repo.ctx(&[])).unwrap_err();
    assert!(matches!(err, Error::Auth(crate::auth::AuthError::UnknownIdentity { .. })), "{err:?}");
}

#[test]
fn an_identity_behind_a_portal_without_a_session_is_not_signed_in_for() {
    let repo = Repo::new(AUTH);
    let err = whoami(args(Some("admin"), WhoamiFormat::Table), &repo.ctx(&[])).unwrap_err();
    assert!(err.to_string().starts_with("provider `sso` has no IAM Identity Center session"), "{err}");
    assert_eq!(err.exit_code(), crate::exit::NOPERM);
    assert!(!repo.token_store().path().exists(), "no login was started");
}

#[test]
fn a_gcp_identity_is_proven_against_google_and_nothing_is_written() {
    let repo = Repo::new(AUTH);
    let (sts, calls) = google_sts(vec![
        (200, r#"{"access_token": "federated", "expires_in": 3600}"#),
        (200, r#"{"access_token": "federated", "expires_in": 3600}"#),
    ]);
    let ctx = repo.ctx(&[("OIDC", JWT), ("TFAUTH_GOOGLE_STS_URL", &sts)]);
    assert_eq!(whoami(args(Some("gproj"), WhoamiFormat::Json), &ctx).unwrap(), 0);
    assert_eq!(whoami(args(Some("gproj"), WhoamiFormat::Table), &ctx).unwrap(), 0);
    assert_eq!(calls.lock().unwrap().len(), 2, "one exchange per whoami");
    assert!(!repo.realm_dir().exists(), "whoami writes no credentials files");
}

#[test]
fn a_gcp_identity_google_refuses_is_an_error_not_a_report() {
    let repo = Repo::new(AUTH);
    let (sts, _) = google_sts(vec![(401, r#"{"error": "invalid_token"}"#)]);
    let ctx = repo.ctx(&[("OIDC", JWT), ("TFAUTH_GOOGLE_STS_URL", &sts)]);
    let err = whoami(args(Some("gproj"), WhoamiFormat::Table), &ctx).unwrap_err();
    assert!(err.to_string().contains("Google STS"), "{err}");
    let ctx = repo.ctx(&[]);
    let err = whoami(args(Some("gproj"), WhoamiFormat::Table), &ctx).unwrap_err();
    assert!(err.to_string().contains("`OIDC` (token_source.environment_variable) is not set"), "{err}");
}

#[test]
fn output_is_read_as_atmos_reads_it() {
    // Atmos prints JSON for exactly `json` and its table for anything else.
    assert_eq!(WhoamiFormat::lenient("json").unwrap(), WhoamiFormat::Json);
    for other in ["table", "yaml", "JSON", ""] {
        assert_eq!(WhoamiFormat::lenient(other).unwrap(), WhoamiFormat::Table, "{other:?}");
    }
}
