//! Tests of `tfauth auth login`'s decisions: which provider or identity it signs in to, the
//! errors naming a provider that is not there or cannot sign in, a cached session left as
//! it is, and a GCP identity logged in the way a run authenticates (stand-in Google STS).

use super::*;

use crate::cli::test_support::*;

fn args(identity: Option<&str>, provider: Option<&str>, force: bool) -> LoginArgs {
    LoginArgs { target: target(identity), provider: provider.map(str::to_string), force, tags: None, webflow: false }
}

#[test]
fn with_a_valid_portal_token_login_by_provider_signs_in_to_nothing_new() {
    let repo = Repo::new(AUTH);
    repo.sign_in(3600);
    let before = std::fs::read(repo.token_store().path()).unwrap();
    assert_eq!(login(args(None, Some("sso"), false), &repo.ctx(&[])).unwrap(), 0);
    assert_eq!(login(args(None, Some("SSO"), false), &repo.ctx(&[])).unwrap(), 0, "provider names match in any case");
    assert_eq!(std::fs::read(repo.token_store().path()).unwrap(), before, "the token is left as it is");
}

#[test]
fn without_an_identity_the_only_sso_provider_is_signed_in_to() {
    let repo = Repo::new(AUTH);
    // No default identity and no terminal: it must not ask which identity, but sign in to `sso`.
    let err = login(args(None, None, false), &repo.ctx(&[])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "provider `sso` needs an IAM Identity Center login (https://d-1.awsapps.com/start), and there is no terminal to show the code on"
    );
    assert_eq!(err.exit_code(), crate::exit::NOPERM);
    repo.sign_in(3600);
    assert_eq!(login(args(None, None, false), &repo.ctx(&[])).unwrap(), 0);
}

#[test]
fn force_without_a_terminal_cannot_sign_in_again() {
    let repo = Repo::new(AUTH);
    repo.sign_in(3600);
    let err = login(args(None, Some("sso"), true), &repo.ctx(&[])).unwrap_err();
    assert!(err.to_string().starts_with("provider `sso` needs an IAM Identity Center login"), "{err}");
    assert_eq!(err.hint().as_deref(), Some("run `tfauth auth login --provider sso` in a terminal, then try again"));
}

#[test]
fn with_several_sso_providers_and_no_identity_there_is_nothing_to_choose() {
    let two = AUTH.replace(
        "    gh: {kind: github/oidc",
        "    sso2: {kind: aws/iam-identity-center, start_url: \"https://d-2.awsapps.com/start\", region: eu-west-1}\n    gh: {kind: github/oidc",
    );
    let repo = Repo::new(&two);
    let (message, hint) = usage(login(args(None, None, false), &repo.ctx(&[])));
    assert_eq!(message, "nothing to log in to: auth is disabled or no identity is configured");
    assert_eq!(hint.as_deref(), Some("pass --identity NAME or --provider NAME"));
    let (message, _) = usage(login(args(Some("false"), None, false), &repo.ctx(&[])));
    assert!(message.starts_with("nothing to log in to"), "--identity=false too: {message}");
}

#[test]
fn a_provider_that_is_not_defined_or_has_no_login_is_a_usage_error() {
    let repo = Repo::new(AUTH);
    let cases = [
        ("ssso", "provider `ssso` is not defined", "did you mean `sso`?"),
        ("zzzzzzzz", "provider `zzzzzzzz` is not defined", "providers: sso, gh, wif"),
        (
            "gh",
            "provider `gh` (github/oidc) has no login of its own",
            "only aws/iam-identity-center providers sign in with `auth login --provider`; log in with `--identity NAME` instead",
        ),
    ];
    for (provider, message, hint) in cases {
        let (m, h) = usage(login(args(None, Some(provider), false), &repo.ctx(&[])));
        assert_eq!((m.as_str(), h.as_deref()), (message, Some(hint)), "{provider}");
    }
    let empty = Repo::new("auth:\n  identities:\n    a: {kind: aws/ambient}\n");
    let (_, hint) = usage(login(args(None, Some("sso"), false), &empty.ctx(&[])));
    assert_eq!(hint.as_deref(), Some("providers: (none)"));
}

#[test]
fn resolving_for_a_provider_never_needs_an_identity() {
    let repo = Repo::new(&AUTH.replace("    ci: {kind: aws/user,", "    ci: {default: true, kind: aws/user,"));
    let ctx = repo.ctx(&[]);
    let res = resolve_for(&target(None), &ctx, true).unwrap();
    assert!(matches!(res.selection, Selection::Disabled { .. }), "{:?}", res.selection);
    let res = resolve_for(&target(None), &ctx, false).unwrap();
    assert!(matches!(&res.selection, Selection::Identity { name, .. } if name == "ci"));
    let res = resolve_for(&target(Some("deploy")), &ctx, true).unwrap();
    assert!(matches!(&res.selection, Selection::Identity { name, .. } if name == "deploy"), "a named identity stays");
    let err = resolve_for(&target(Some("nope")), &ctx, false).unwrap_err();
    assert_eq!(err.to_string(), "identity `nope` (from --identity) is not defined");
}

#[test]
fn sso_providers_and_auto_provisioning_are_read_from_the_typed_config() {
    let repo = Repo::new(&AUTH.replace("region: eu-west-1}", "region: eu-west-1, auto_provision_identities: true}"));
    let res = resolve_for(&target(Some("false")), &repo.ctx(&[]), false).unwrap();
    assert_eq!(sso_providers(&res), ["sso"]);
    assert!(auto_provisions(&res, "sso") && auto_provisions(&res, "SSO"));
    assert!(!auto_provisions(&res, "gh") && !auto_provisions(&res, "absent"));
    let p = portal_named(&res, "Sso").unwrap();
    assert_eq!(
        (p.provider.as_str(), p.start_url.as_str(), p.region.as_str()),
        ("sso", "https://d-1.awsapps.com/start", "eu-west-1")
    );
}

#[test]
fn a_gcp_identity_logs_in_as_a_run_authenticates_and_writes_its_files() {
    let repo = Repo::new(AUTH);
    let (sts, calls) = google_sts(vec![(200, r#"{"access_token": "federated", "expires_in": 3600}"#)]);
    let ctx = repo.ctx(&[("OIDC", JWT), ("TFAUTH_GOOGLE_STS_URL", &sts)]);
    assert_eq!(login(args(Some("gproj"), None, false), &ctx).unwrap(), 0);
    assert_eq!(calls.lock().unwrap().len(), 1, "the chain was proven once");
    let adc = repo.realm_dir().join("gcp/wif/adc/gproj");
    let written: Vec<String> = std::fs::read_dir(&adc)
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(written.contains(&"application_default_credentials.json".to_string()), "{written:?}");
    assert!(written.contains(&"subject_token".to_string()), "{written:?}");
}

#[test]
fn a_gcp_login_that_google_refuses_writes_nothing() {
    let repo = Repo::new(AUTH);
    let (sts, _) = google_sts(vec![(403, r#"{"error": "access_denied"}"#)]);
    let ctx = repo.ctx(&[("OIDC", JWT), ("TFAUTH_GOOGLE_STS_URL", &sts)]);
    let err = login(args(Some("gproj"), None, false), &ctx).unwrap_err();
    assert!(err.to_string().contains("Google STS"), "{err}");
    assert!(!repo.realm_dir().join("gcp").exists(), "a failure leaves nothing behind");
}

/// The fixture with tags: `deploy` and `admin` share `prod`, only `ci` has `ci`.
fn tagged_auth() -> String {
    AUTH.replace("    deploy: {kind", "    deploy: {tags: [prod, deploy], kind")
        .replace("    admin: {kind", "    admin: {tags: [prod], kind")
        .replace("    ci: {kind", "    ci: {tags: [ci], kind")
}

#[test]
fn tags_choose_the_one_identity_that_has_any_of_them() {
    let repo = Repo::new(&tagged_auth());
    let ctx = repo.ctx(&[]);
    assert_eq!(identity_by_tags(&target(None), "ci", &ctx).unwrap(), "ci");
    assert_eq!(identity_by_tags(&target(None), " nope , deploy ", &ctx).unwrap(), "deploy", "any tag may match");
    // Atmos compares tags exactly: `Prod` is not `prod`.
    let (message, hint) = usage(identity_by_tags(&target(None), "Prod", &ctx).map(|_| 0));
    assert_eq!(message, "no identity has any of the tags `Prod`");
    assert_eq!(hint.as_deref(), Some("identity tags in use: `ci`, `deploy`, `prod`"));
    // Several, and no terminal to ask on: the candidates, and how to choose.
    let (message, hint) = usage(identity_by_tags(&target(None), "prod", &ctx).map(|_| 0));
    assert_eq!(message, "2 identities have the tags `prod`: `admin`, `deploy`");
    assert_eq!(hint.as_deref(), Some("name one with --identity, or use tags only one of them has"));
}

#[test]
fn tag_lists_are_read_as_atmos_reads_them() {
    assert_eq!(parse_tags("a, b,,c ,"), ["a", "b", "c"]);
    assert!(parse_tags(" , ").is_empty());
    let tags = ["x".to_string()];
    assert!(tagged(&[("n", &tags[..])], &[]).is_empty(), "no tag wanted matches nothing");
    let (message, hint) = usage(Err(no_tag_match("provider", &["x".into()], &[("p", &[][..])])));
    assert_eq!(message, "no provider has any of the tags `x`");
    assert_eq!(hint.as_deref(), Some("no provider has tags (`tags:` in atmos.yaml)"));
}

#[test]
fn a_named_identity_wins_over_tags() {
    let repo = Repo::new(&tagged_auth());
    // `ci` by --identity although the tags name no identity at all: they are not even read.
    let mut a = args(Some("ci"), None, false);
    a.tags = Some("no-such-tag".into());
    // The sign-in itself fails (STS is a closed port); the tags did not stop it first.
    let err = login(a, &repo.ctx(&[])).unwrap_err();
    assert!(!err.to_string().contains("tags"), "{err}");
}
