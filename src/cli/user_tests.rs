//! Tests of `tfauth auth user configure`'s refusals, made before any key is read: no
//! identity, an identity that is not `aws/user`, no keyring to store the key in. (Reading
//! the key itself needs a terminal or stdin, which a unit test does not own.)

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
        assert_eq!(message, format!("identity `{identity}` is {kind}, not aws/user: it has no access key to store"));
        assert_eq!(hint.as_deref(), Some("pass --identity with an aws/user identity"));
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
