//! Tests of `tfauth auth user configure`'s refusals, made before any key or password is
//! read: no identity, an identity that is neither `aws/user` nor signs in through an
//! `aws/saml` provider, a provider whose password is configured, no keyring to store in.
//! (Reading the secret itself needs a terminal or stdin, which a unit test does not own;
//! integration/saml_login.rs stores one from stdin.)

use super::*;

use crate::cli::test_support::*;

fn configure(identity: Option<&str>, repo: &Repo) -> Result<i32, Error> {
    user(UserArgs { command: UserCommand::Configure { target: target(identity) } }, &repo.ctx(&[]))
}

#[test]
fn without_an_identity_there_is_no_key_to_store() {
    let repo = Repo::new(AUTH);
    for identity in [None, Some("false")] {
        let (message, hint) = usage(configure(identity, &repo));
        assert_eq!(message, "no identity chosen", "{identity:?}");
        assert_eq!(hint.as_deref(), Some("pass --identity NAME of an aws/user identity"));
    }
}

#[test]
fn only_an_aws_user_identity_has_an_access_key() {
    let repo = Repo::new(AUTH);
    for (identity, kind) in [("deploy", "aws/assume-role"), ("admin", "aws/permission-set"), ("gproj", "gcp/project")] {
        let (message, hint) = usage(configure(Some(identity), &repo));
        assert_eq!(
            message,
            format!(
                "identity `{identity}` is {kind}, not aws/user, and does not sign in through an aws/saml provider: it has no access key or password to store"
            )
        );
        assert_eq!(
            hint.as_deref(),
            Some("pass --identity with an aws/user identity, or one that signs in through an aws/saml provider")
        );
    }
}

#[test]
fn without_a_keyring_the_key_is_never_written_to_a_file() {
    let repo = Repo::new(AUTH);
    let (message, hint) = usage(configure(Some("CI"), &repo));
    assert_eq!(message, "no keyring is configured to store the access key in");
    assert_eq!(
        hint.as_deref(),
        Some("set `auth.keyring.type` (system, or file with ATMOS_KEYRING_PASSWORD), or ATMOS_KEYRING_TYPE")
    );
    assert!(!repo.path("cache").exists() && !repo.path("config").exists(), "nothing was written");
}

#[test]
fn a_file_keyring_without_its_password_is_refused_before_a_key_is_asked_for() {
    let repo = Repo::new(&AUTH.replace("  realm: test-realm\n", "  realm: test-realm\n  keyring: {type: file}\n"));
    let err = configure(Some("ci"), &repo).unwrap_err();
    assert!(matches!(err, Error::Keyring(_)), "{err:?}");
    assert!(err.to_string().contains("ATMOS_KEYRING_PASSWORD"), "{err}");
}

const SAML: &str = r#"auth:
  realm: test-realm
  providers:
    okta: {kind: aws/saml, driver: Okta, region: us-east-1, url: "https://acme.okta.com/app/amazon_aws/x/sso/saml", username: alice, password: !env SAML_PW}
  identities:
    okta/admin: {kind: aws/assume-role, via: {provider: okta}, principal: {assume_role: "arn:aws:iam::111111111111:role/admin"}}
    okta/leaf: {kind: aws/assume-role, via: {identity: okta/admin}, principal: {assume_role: "arn:aws:iam::222222222222:role/leaf"}}
"#;

#[test]
fn a_saml_password_is_stored_only_where_the_configuration_has_none_and_only_in_a_keyring() {
    let repo = Repo::new(SAML);
    // `password: !env SAML_PW` with the variable set: that one is used, so nothing to store.
    let ctx = repo.ctx(&[("SAML_PW", "CANARY-pw")]);
    let run = |identity: &str, ctx: &crate::cli::Ctx| {
        user(UserArgs { command: UserCommand::Configure { target: target(Some(identity)) } }, ctx)
    };
    for identity in ["okta/admin", "okta/leaf"] {
        let (message, hint) = usage(run(identity, &ctx));
        assert_eq!(
            message,
            "provider `okta` (aws/saml) has a `password` in the configuration, which is used before any stored one: nothing to store",
            "{identity}"
        );
        assert!(hint.unwrap().contains("remove `password` from provider `okta`"));
    }
    // The variable unset: a keyring is needed, and none is configured.
    let (message, _) = usage(configure(Some("okta/leaf"), &repo));
    assert_eq!(message, "no keyring is configured to store the password in");
    assert!(!repo.path("cache").exists() && !repo.path("config").exists(), "nothing was written");
}
