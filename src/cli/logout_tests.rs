//! Tests of `tfauth auth logout`: what one identity, a provider, or `--all` removes, and
//! what each leaves (other identities' and other realms' sessions, files it did not write,
//! anything behind a symlink).

use super::*;

use crate::cli::test_support::*;

fn args(name: Option<&str>, provider: Option<&str>, all: bool) -> LogoutArgs {
    LogoutArgs {
        name: name.map(str::to_string),
        component: None,
        stack: None,
        provider: provider.map(str::to_string),
        tags: None,
        all,
        all_realms: false,
        dry_run: false,
        keychain: false,
        force: false,
    }
}

/// An isolated AWS profile directory `<realm>/aws/<root>/<h>/` for `profile`.
fn profile_dir(repo: &Repo, root: &str, h: &str, profile: &str) -> std::path::PathBuf {
    let dir = repo.realm_dir().join("aws").join(root).join(h);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config"), format!("[profile {profile}]\ncredential_process = x\n")).unwrap();
    std::fs::write(dir.join("credentials"), "").unwrap();
    dir
}

#[test]
fn one_identity_loses_its_sessions_and_profile_files_in_this_realm_only() {
    let repo = Repo::new(AUTH);
    repo.session("k-deploy", "deploy", "gh", "test-realm");
    repo.session("k-deploy-other-realm", "deploy", "gh", "other-realm");
    repo.session("k-admin", "admin", "sso", "test-realm");
    let mine = profile_dir(&repo, "gh", "aaaa", "deploy");
    let theirs = profile_dir(&repo, "gh", "bbbb", "admin");
    assert_eq!(logout(args(Some("DEPLOY"), None, false), &repo.ctx(&[])).unwrap(), 0);
    assert_eq!(repo.session_keys(), ["k-admin", "k-deploy-other-realm"]);
    assert!(!mine.exists(), "its profile directory goes");
    assert!(theirs.join("config").exists(), "another profile's stays");
    // Again: nothing left to remove, and that is not an error.
    assert_eq!(logout(args(Some("deploy"), None, false), &repo.ctx(&[])).unwrap(), 0);
}

#[test]
fn profile_files_are_never_removed_through_a_symlink() {
    let repo = Repo::new(AUTH);
    let outside = repo.path("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("config"), "[profile deploy]\n").unwrap();
    let root = repo.realm_dir().join("aws/gh");
    std::fs::create_dir_all(&root).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("linked")).unwrap();
    assert_eq!(remove_profile_files(&repo.realm_dir().join("aws"), "deploy", false), Vec::<String>::new());
    assert!(outside.join("config").exists());
    // Files as earlier versions wrote them, straight in <root>/, are found too.
    std::fs::write(root.join("config"), "[profile deploy]\n").unwrap();
    let removed = remove_profile_files(&repo.realm_dir().join("aws"), "deploy", false);
    assert_eq!(removed, [format!("profile file {}", root.join("config").display())]);
}

#[test]
fn a_gcp_identity_loses_its_credentials_and_gcloud_configuration() {
    let repo = Repo::new(AUTH);
    let res = super::super::login::resolve_for(&target(Some("gproj")), &repo.ctx(&[]), false).unwrap();
    let t = crate::output::gcp::target(res.chain.as_ref().unwrap()).unwrap();
    let (adc, config) = crate::output::gcp::dirs(&repo.realm_dir(), &t);
    for d in [&adc, &config] {
        std::fs::create_dir_all(d.join("h")).unwrap();
        std::fs::write(d.join("h/f"), "x").unwrap();
    }
    let other = repo.realm_dir().join("gcp/wif/adc/someone-else");
    std::fs::create_dir_all(&other).unwrap();
    assert_eq!(logout(args(Some("gproj"), None, false), &repo.ctx(&[])).unwrap(), 0);
    assert!(!adc.exists() && !config.exists());
    assert!(other.exists());
}

#[test]
fn an_identity_that_is_not_defined_or_none_at_all_is_a_usage_error() {
    let repo = Repo::new(AUTH);
    // A name nothing defines fails in resolving, with the selection's suggestions.
    let err = logout(args(Some("deplyo"), None, false), &repo.ctx(&[])).unwrap_err();
    assert_eq!(err.to_string(), "identity `deplyo` (from --identity) is not defined");
    assert_eq!(err.hint().as_deref(), Some("did you mean `deploy`?"));
    let (message, hint) = usage(logout(args(None, None, false), &repo.ctx(&[])));
    assert_eq!(message, "no identity to log out");
    assert_eq!(hint.as_deref(), Some("name one: `tfauth auth logout IDENTITY`, or use --provider / --all"));
}

#[test]
fn without_a_name_the_default_identity_is_logged_out() {
    let repo = Repo::new(&AUTH.replace("    deploy: {kind", "    deploy: {default: true, kind"));
    repo.session("k-deploy", "deploy", "gh", "test-realm");
    repo.session("k-admin", "admin", "sso", "test-realm");
    assert_eq!(logout(args(None, None, false), &repo.ctx(&[])).unwrap(), 0);
    assert_eq!(repo.session_keys(), ["k-admin"]);
}

#[test]
fn a_provider_takes_every_session_that_came_through_it_and_its_directories() {
    let repo = Repo::new(AUTH);
    repo.session("k-deploy", "deploy", "gh", "test-realm");
    repo.session("k-deploy-other", "deploy", "GH", "other-realm");
    repo.session("k-admin", "admin", "sso", "test-realm");
    let gh_dir = profile_dir(&repo, "gh", "aaaa", "deploy");
    assert_eq!(logout(args(None, Some("gh"), false), &repo.ctx(&[])).unwrap(), 0);
    assert_eq!(repo.session_keys(), ["k-admin", "k-deploy-other"]);
    assert!(!gh_dir.exists() && !repo.realm_dir().join("aws/gh").exists());

    let (message, hint) = usage(logout(args(None, Some("ghh"), false), &repo.ctx(&[])));
    assert_eq!((message.as_str(), hint.as_deref()), ("provider `ghh` is not defined", Some("did you mean `gh`?")));
}

#[test]
fn an_sso_provider_loses_its_token_and_provisioned_identities_even_if_the_portal_is_down() {
    let repo = Repo::new(AUTH);
    repo.sign_in(3600);
    let store = repo.token_store();
    crate::util::fs::write_private_atomic(&store.identities_path(), b"{}").unwrap();
    repo.session("k-admin", "admin", "sso", "test-realm");
    // AWS_ENDPOINT_URL points at a closed port: the revocation fails, the local copy goes.
    assert_eq!(logout(args(None, Some("sso"), false), &repo.ctx(&[])).unwrap(), 0);
    assert!(!store.path().exists() && !store.identities_path().exists());
    assert!(repo.session_keys().is_empty());
}

#[test]
fn all_takes_the_realm_and_its_tokens_but_not_other_realms() {
    let repo = Repo::new(AUTH);
    repo.sign_in(3600);
    repo.session("k-1", "deploy", "gh", "test-realm");
    repo.session("k-2", "admin", "sso", "test-realm");
    repo.session("k-3", "deploy", "gh", "other-realm");
    profile_dir(&repo, "gh", "aaaa", "deploy");
    let unrelated = repo.path("config/atmos/other-realm/aws");
    std::fs::create_dir_all(&unrelated).unwrap();
    assert_eq!(logout(args(None, None, true), &repo.ctx(&[])).unwrap(), 0);
    assert_eq!(repo.session_keys(), ["k-3"]);
    assert!(!repo.realm_dir().exists());
    assert!(!repo.token_store().path().exists());
    assert!(unrelated.exists(), "another realm's files stay");
}

#[test]
fn stored_user_keys_go_only_with_keychain_and_a_yes_or_force() {
    let repo = Repo::new(&AUTH.replace("  realm: test-realm\n", "  realm: test-realm\n  keyring: {type: memory}\n"));
    let ring = crate::keyring::memory::MemoryKeyring::shared();
    let key = crate::session::vault::user_key("test-realm", "ci");
    use crate::keyring::Keyring;
    ring.set(&key, &crate::session::vault::encode_user_keys("AKIA", &crate::secret::Secret::new("s"))).unwrap();
    let other = crate::session::vault::user_key("other-realm", "ci");
    ring.set(&other, &crate::secret::Secret::new("x")).unwrap();
    // As in Atmos, a logout keeps the keys: they are not a session.
    assert_eq!(logout(args(None, None, true), &repo.ctx(&[])).unwrap(), 0);
    assert_eq!(logout(args(Some("ci"), None, false), &repo.ctx(&[])).unwrap(), 0);
    assert!(ring.get(&key).unwrap().is_some(), "without --keychain the key stays");
    // --keychain with no terminal to say yes on: refused, nothing deleted.
    let keychain = LogoutArgs { keychain: true, ..args(None, None, true) };
    let (message, hint) = usage(logout(keychain, &repo.ctx(&[])));
    assert_eq!(message, "--keychain deletes stored access keys, which needs a yes on the terminal, and there is none");
    assert_eq!(hint.as_deref(), Some("add --force to delete them without asking"));
    assert!(ring.get(&key).unwrap().is_some());
    // A dry run names it and deletes nothing.
    let dry = LogoutArgs { keychain: true, dry_run: true, ..args(Some("ci"), None, false) };
    assert_eq!(logout(dry, &repo.ctx(&[])).unwrap(), 0);
    assert!(ring.get(&key).unwrap().is_some());
    let forced = LogoutArgs { keychain: true, force: true, ..args(None, None, true) };
    assert_eq!(logout(forced, &repo.ctx(&[])).unwrap(), 0);
    assert_eq!(ring.get(&key).unwrap(), None);
    assert!(ring.get(&other).unwrap().is_some(), "another realm's key stays");
    ring.delete(&other).unwrap();
}

#[test]
fn a_dry_run_removes_nothing() {
    let repo = Repo::new(AUTH);
    repo.sign_in(3600);
    repo.session("k-1", "deploy", "gh", "test-realm");
    let dir = profile_dir(&repo, "gh", "aaaa", "deploy");
    let before = (repo.session_keys(), std::fs::read(repo.token_store().path()).unwrap());
    for a in [
        args(Some("deploy"), None, false),
        args(None, Some("gh"), false),
        args(None, Some("sso"), false),
        args(None, None, true),
    ] {
        assert_eq!(logout(LogoutArgs { dry_run: true, ..a }, &repo.ctx(&[])).unwrap(), 0);
    }
    let all_realms = LogoutArgs { all_realms: true, dry_run: true, ..args(None, None, false) };
    assert_eq!(logout(all_realms, &repo.ctx(&[])).unwrap(), 0);
    assert_eq!((repo.session_keys(), std::fs::read(repo.token_store().path()).unwrap()), before);
    assert!(dir.join("config").exists() && dir.join("credentials").exists());
}

#[test]
fn tags_log_out_of_every_provider_that_has_one_of_them() {
    let repo = Repo::new(
        &AUTH
            .replace("    gh: {kind", "    gh: {tags: [ci, prod], kind")
            .replace("    sso: {kind", "    sso: {tags: [people], kind"),
    );
    repo.session("k-deploy", "deploy", "gh", "test-realm");
    repo.session("k-admin", "admin", "sso", "test-realm");
    let tags = |t: &str| LogoutArgs { tags: Some(t.into()), ..args(None, None, false) };
    assert_eq!(logout(tags("nope,prod"), &repo.ctx(&[])).unwrap(), 0);
    assert_eq!(repo.session_keys(), ["k-admin"]);
    let (message, hint) = usage(logout(tags("PROD"), &repo.ctx(&[])));
    assert_eq!(message, "no provider has any of the tags `PROD`");
    assert_eq!(hint.as_deref(), Some("provider tags in use: `ci`, `people`, `prod`"));
}

#[test]
fn all_realms_takes_every_realms_files_and_every_session() {
    let repo = Repo::new(AUTH);
    repo.session("k-1", "deploy", "gh", "test-realm");
    repo.session("k-3", "deploy", "gh", "other-realm");
    profile_dir(&repo, "gh", "aaaa", "deploy");
    let other = repo.path("config/atmos/other-realm/azure/p");
    std::fs::create_dir_all(&other).unwrap();
    // Not a realm: nothing tfauth or Atmos writes is in it.
    let unrelated = repo.path("config/atmos/notes");
    std::fs::create_dir_all(&unrelated).unwrap();
    // With --all too, as Atmos takes it: --all-realms wins (--all would keep other realms).
    let a = LogoutArgs { all_realms: true, ..args(None, None, true) };
    assert_eq!(logout(a, &repo.ctx(&[])).unwrap(), 0);
    assert!(repo.session_keys().is_empty());
    assert!(!repo.realm_dir().exists() && !repo.path("config/atmos/other-realm").exists());
    assert!(unrelated.exists());
}

#[test]
fn with_a_base_path_the_profile_files_there_go_too() {
    let outside = tempfile::tempdir().unwrap();
    let base = outside.path().join("custom");
    let sso = "region: eu-west-1}";
    let yaml =
        AUTH.replacen(sso, &format!("region: eu-west-1, spec: {{files: {{base_path: \"{}\"}}}}}}", base.display()), 1);
    let repo = Repo::new(&yaml);
    let make = |h: &str, profile: &str| {
        let dir = base.join("test-realm/aws/sso").join(h);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config"), format!("[profile {profile}]\ncredential_process = x\n")).unwrap();
        dir
    };
    let mine = make("aaaa", "admin");
    let other = make("bbbb", "someone");
    assert_eq!(logout(args(Some("admin"), None, false), &repo.ctx(&[])).unwrap(), 0);
    assert!(!mine.exists(), "the identity's profile under base_path goes");
    assert!(other.join("config").exists(), "another profile's stays");
    assert_eq!(logout(args(None, Some("sso"), false), &repo.ctx(&[])).unwrap(), 0);
    assert!(!base.join("test-realm/aws/sso").exists(), "the provider's directory under base_path goes");
    assert!(base.join("test-realm/aws").exists(), "what is not the provider's stays");
}

#[test]
fn a_saml_provider_loses_its_browser_profile_with_the_provider_and_with_all() {
    let yaml = AUTH.replace(
        "  identities:\n",
        "    corp: {kind: aws/saml, driver: Browser, region: us-east-1, url: \"https://idp.example.com/sso\"}\n    other: {kind: aws/saml, driver: Browser, region: us-east-1, url: \"https://idp.example.com/sso\"}\n  identities:\n",
    );
    let repo = Repo::new(&yaml);
    let profile = |name: &str| {
        let d = repo.path("cache/tfauth/saml-browser").join(name);
        std::fs::create_dir_all(d.join("Default")).unwrap();
        std::fs::write(d.join("Default/Cookies"), "idp cookie").unwrap();
        d
    };
    let (corp, other) = (profile("corp"), profile("other"));
    assert_eq!(logout(args(None, Some("corp"), false), &repo.ctx(&[])).unwrap(), 0);
    assert!(!corp.exists(), "the provider's browser profile stayed");
    assert!(other.exists(), "another provider's profile went too");
    let mut dry = args(None, None, true);
    dry.dry_run = true;
    assert_eq!(logout(dry, &repo.ctx(&[])).unwrap(), 0);
    assert!(other.exists(), "a dry run removed a profile");
    assert_eq!(logout(args(None, None, true), &repo.ctx(&[])).unwrap(), 0);
    assert!(!other.exists(), "--all left a browser profile");
}

#[test]
fn all_takes_every_aws_user_s_browser_sign_in_refresh_token() {
    let repo = Repo::new(AUTH);
    let env = repo.env(&[]);
    let file = crate::session::webflow::cache_file(&env, "test-realm", "ci").unwrap();
    let dir = file.parent().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for d in dir.ancestors().take(3) {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    std::fs::write(&file, "{}").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(logout(args(None, None, true), &repo.ctx(&[])).unwrap(), 0);
    assert!(!file.exists(), "--all left the aws/user's refresh token");
}
