//! Tests of the portal policy: when a cached token is used, when it is refreshed (against a
//! stand-in SSO-OIDC on 127.0.0.1), when a login is required, a failure in another
//! process, the token store (file or keyring), and provisioned identities.

use super::*;
use crate::keyring::Keyring;
use crate::keyring::memory::MemoryKeyring;
use crate::providers::sso::{ClientRegistration, Token};
use crate::util::test_http;
use std::os::unix::fs::PermissionsExt;

const START: &str = "https://d-1234567890.awsapps.com/start";

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home { dir: tempfile::tempdir().unwrap() }
    }
    fn env(&self, extra: &[(&str, &str)]) -> Env {
        let mut pairs = vec![
            ("HOME".to_string(), self.dir.path().join("home").display().to_string()),
            ("XDG_CACHE_HOME".to_string(), self.dir.path().join("cache").display().to_string()),
        ];
        pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Env::from_pairs(pairs)
    }
    fn sso_dir(&self) -> PathBuf {
        self.dir.path().join("cache/tfauth/sso")
    }
}

fn portal() -> PortalRef {
    PortalRef { provider: "acme-sso".into(), start_url: START.into(), region: "us-east-1".into() }
}

fn in_secs(s: i64) -> OffsetDateTime {
    (OffsetDateTime::now_utc() + time::Duration::seconds(s)).replace_nanosecond(0).unwrap()
}

/// A token file for `start_url` whose access token has `life` seconds left, with (or
/// without) a refresh token and a registration valid for a day.
fn token_file(start_url: &str, life: i64, refreshable: bool) -> TokenFile {
    let token = Token {
        access_token: Secret::new("old-access"),
        expires_at: in_secs(life),
        refresh_token: refreshable.then(|| Secret::new("the-refresh-token")),
    };
    let reg = ClientRegistration {
        client_id: "client-1".into(),
        client_secret: Secret::new("client-secret"),
        expires_at: in_secs(86_400),
    };
    TokenFile::new(start_url, "us-east-1", &token, refreshable.then_some(&reg))
}

fn store(env: &Env) -> TokenStore {
    TokenStore::new(env, &portal(), None).unwrap()
}

/// A UI that must never be shown (the tests that pass one expect no device flow).
struct NoFlow;
impl LoginUi for NoFlow {
    fn begin(&self, _: &PortalRef, _: &DeviceAuthorization) {
        panic!("no device flow was expected")
    }
    fn progress(&self, _: PollEvent) {}
    fn end(&self, _: Option<&SsoError>) {}
}

// --- the store -----------------------------------------------------------------------------

#[test]
fn the_token_is_in_atmos_session_file_shared_by_every_provider_of_the_portal() {
    let home = Home::new();
    let env = home.env(&[]);
    let a = store(&env);
    let other = PortalRef { provider: "other".into(), ..portal() };
    let b = TokenStore::new(&env, &other, None).unwrap();
    assert_eq!(a.path(), b.path(), "the session is the portal's, not the provider's");
    // Atmos's name: SHA-1 of "start_url|region", exactly as configured.
    use sha1::Digest as _;
    let sha1: String = sha1::Sha1::digest(format!("{START}|us-east-1")).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(a.path(), home.dir.path().join(format!("cache/atmos/aws-sso/sessions/{sha1}.json")));
    let with_atmos_home = home.env(&[("ATMOS_XDG_CACHE_HOME", "/elsewhere/cache")]);
    assert_eq!(
        store(&with_atmos_home).path(),
        PathBuf::from(format!("/elsewhere/cache/atmos/aws-sso/sessions/{sha1}.json"))
    );
    // As in Atmos, a start URL written differently is another session file.
    let slash = PortalRef { start_url: format!("{START}/"), ..portal() };
    assert_ne!(TokenStore::new(&env, &slash, None).unwrap().path(), a.path());
    let elsewhere = PortalRef { region: "eu-west-1".into(), ..portal() };
    assert_ne!(TokenStore::new(&env, &elsewhere, None).unwrap().path(), a.path(), "another region is another portal");
    // The lock, the failure marker and the provisioned identities are tfauth's own.
    let hash = a.earlier().file_stem().unwrap().to_string_lossy().into_owned();
    assert_eq!((hash.len(), a.keyring_key()), (64, format!("sso/{hash}")));
    assert_eq!(a.earlier_identities(), home.sso_dir().join(format!("{hash}.identities.json")));
    assert_eq!(a.identities_path(), home.dir.path().join("cache/atmos/auth/acme-sso/provisioned-identities.yaml"));
    assert!(TokenStore::new(&Env::default(), &portal(), None).is_none(), "no HOME, no store");
}

#[test]
fn a_token_atmos_wrote_is_read_and_one_an_earlier_tfauth_kept_moves_to_atmos_file() {
    let home = Home::new();
    let env = home.env(&[]);
    let s = store(&env);
    // Atmos's own shape: Go's time.Time with fractions and a zone offset, a zero time for
    // "no registration".
    std::fs::create_dir_all(s.path().parent().unwrap()).unwrap();
    let expires =
        (OffsetDateTime::now_utc() + time::Duration::hours(2)).to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
    let expires = expires.format(&time::format_description::well_known::Rfc3339).unwrap();
    let doc = format!(
        r#"{{"accessToken":"from-atmos","expiresAt":"{expires}","region":"us-east-1","startUrl":"{START}","registrationExpiresAt":"0001-01-01T00:00:00Z"}}"#
    );
    crate::util::fs::write_private_atomic(&s.path(), doc.as_bytes()).unwrap();
    let env_down = home.env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:1")]);
    let got = access_token(&portal(), &s, &env_down, None, Mode::NoLogin).unwrap();
    assert_eq!((got.obtained, got.access_token.expose()), (Obtained::Cached, "from-atmos"));

    // tfauth's earlier file moves into Atmos's, once.
    std::fs::remove_file(s.path()).unwrap();
    let file = token_file(START, 3600, true);
    file.save(&s.earlier()).unwrap();
    assert_eq!(s.load().unwrap(), Some(file.clone()));
    assert!(!s.earlier().exists(), "the earlier file is gone");
    assert_eq!(TokenFile::load(&s.path()).unwrap(), Some(file.clone()));
    let mode = std::fs::metadata(s.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(s.remove().unwrap() && !s.path().exists());

    // A session file that does not parse means a sign-in, not a failed run; one that is a
    // link (or another user's) is never read.
    crate::util::fs::write_private_atomic(&s.path(), b"{\"accessToken\": 42").unwrap();
    assert_eq!(s.load().unwrap(), None);
    std::fs::remove_file(s.path()).unwrap();
    let elsewhere = home.dir.path().join("planted.json");
    std::fs::write(&elsewhere, file.to_json()).unwrap();
    std::os::unix::fs::symlink(&elsewhere, s.path()).unwrap();
    assert!(s.load().is_err(), "a linked session file is refused");
}

#[test]
fn a_valid_token_the_aws_cli_left_is_used_but_never_written_or_ended() {
    let home = Home::new();
    let env = home.env(&[]);
    let s = store(&env);
    let cli = home.dir.path().join("home/.aws/sso/cache");
    crate::util::fs::create_private_dir(&cli).unwrap();
    // An `sso-session` file (named after the session) among botocore's other files, in the
    // older CLI's `UTC` time format.
    std::fs::write(cli.join("botocore-client-id-us-east-1.json"), r#"{"clientId":"x","clientSecret":"y"}"#).unwrap();
    let in_an_hour = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let rfc = in_an_hour.replace_nanosecond(0).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap();
    let expires = rfc.trim_end_matches('Z').to_string();
    let doc = format!(
        r#"{{"startUrl":"{START}","region":"us-east-1","accessToken":"from-the-cli","expiresAt":"{expires}UTC"}}"#
    );
    let session_file = cli.join("0123456789abcdef0123456789abcdef01234567.json");
    crate::util::fs::write_private_atomic(&session_file, doc.as_bytes()).unwrap();
    // As the AWS CLI leaves them: a 0755 directory, and a 0644 file is still only read.
    std::fs::set_permissions(&cli, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&session_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let got = s.load().unwrap().unwrap();
    assert_eq!(got.access_token.expose(), "from-the-cli");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(&cli), mode(&session_file)), (0o755, 0o644), "the AWS CLI's files are not re-moded");
    std::fs::set_permissions(&session_file, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(s.load().unwrap(), None, "a token file others could have written is not trusted");
    std::fs::set_permissions(&session_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(!s.path().exists(), "nothing was written to Atmos's file");
    assert_eq!(s.load_own().unwrap(), None, "it is not tfauth's own");
    // A token of its own with life left wins; an expired one of its own loses to the CLI's.
    s.save(&token_file(START, 3600, true)).unwrap();
    assert_eq!(s.load().unwrap().unwrap().access_token.expose(), "old-access");
    s.save(&token_file(START, -60, true)).unwrap();
    assert_eq!(s.load().unwrap().unwrap().access_token.expose(), "from-the-cli");
    // Logout ends and removes tfauth's and Atmos's session only.
    assert!(s.remove().unwrap());
    assert_eq!(std::fs::read_to_string(&session_file).unwrap(), doc);
    // The CLI's expired token, or another portal's, is not used.
    let other = PortalRef { start_url: "https://other.awsapps.com/start".into(), ..portal() };
    assert_eq!(TokenStore::new(&env, &other, None).unwrap().load().unwrap(), None);
    let expired = doc.replace(&format!("{expires}UTC"), "2001-01-01T00:00:00Z");
    crate::util::fs::write_private_atomic(&session_file, expired.as_bytes()).unwrap();
    assert_eq!(s.load().unwrap(), None);
}

#[test]
fn the_token_round_trips_through_the_file_and_moves_there_from_an_earlier_keyring() {
    let home = Home::new();
    let env = home.env(&[]);
    let file = token_file(START, 3600, true);
    let s = store(&env);
    assert_eq!(s.load().unwrap(), None);
    s.save(&file).unwrap();
    assert_eq!(s.load().unwrap(), Some(file.clone()));
    assert!(s.remove().unwrap());

    // A token an earlier tfauth kept in the keyring: the first load moves it to the file.
    let ring = MemoryKeyring::new();
    let opened = std::rc::Rc::new(std::cell::Cell::new(0));
    let legacy = |ring: &MemoryKeyring, opened: &std::rc::Rc<std::cell::Cell<u32>>| -> super::LegacyKeyring {
        let (ring, opened) = (ring.clone(), opened.clone());
        Box::new(move || {
            opened.set(opened.get() + 1);
            Some(Box::new(ring.clone()) as Box<dyn crate::keyring::Keyring>)
        })
    };
    let k = TokenStore::new(&env, &portal(), Some(legacy(&ring, &opened))).unwrap();
    ring.set(&k.keyring_key(), &Secret::new(file.to_json())).unwrap();
    assert_eq!(k.load().unwrap(), Some(file.clone()));
    assert_eq!(s.load().unwrap(), Some(file.clone()), "it is in the file now, for every process");
    assert_eq!(ring.get(&k.keyring_key()).unwrap(), None, "and no longer in the keyring");
    assert_eq!(opened.get(), 1);
    k.load().unwrap();
    assert_eq!(opened.get(), 1, "with a token in the file, the keyring is not even opened");
    k.save(&token_file(START, 60, true)).unwrap();
    assert_eq!(ring.get(&k.keyring_key()).unwrap(), None, "a save goes to the file only");

    // An entry that does not parse is as good as none, and goes.
    assert!(k.remove().unwrap());
    ring.set(&k.keyring_key(), &Secret::new("not json")).unwrap();
    assert_eq!(k.load().unwrap(), None);
    assert_eq!(ring.get(&k.keyring_key()).unwrap(), None);
    // remove takes a keyring entry too, so no old token comes back.
    ring.set(&k.keyring_key(), &Secret::new(file.to_json())).unwrap();
    assert!(k.remove().unwrap());
    assert_eq!(ring.get(&k.keyring_key()).unwrap(), None);
    assert!(!k.remove().unwrap());
    // A keyring that cannot be opened (no password) is no error: sign in again.
    let locked = TokenStore::new(&env, &portal(), Some(Box::new(|| None))).unwrap();
    assert_eq!(locked.load().unwrap(), None);
}

#[test]
fn expire_keeps_the_refresh_token_and_remove_takes_everything() {
    let home = Home::new();
    let env = home.env(&[]);
    let s = store(&env);
    s.expire().unwrap();
    assert_eq!(s.load().unwrap(), None, "nothing to expire: nothing written");
    s.save(&token_file(START, 3600, true)).unwrap();
    s.expire().unwrap();
    let f = s.load().unwrap().unwrap();
    assert!(!f.access_token_valid(OffsetDateTime::now_utc(), Duration::ZERO));
    assert_eq!(f.refresh_token.as_ref().map(Secret::expose), Some("the-refresh-token"));

    crate::util::fs::write_private_cache(&s.marker(), b"denied").unwrap();
    crate::util::fs::write_private_atomic(&s.identities_path(), b"{}").unwrap();
    assert!(s.remove().unwrap());
    assert!(!s.path().exists() && !s.marker().exists() && !s.identities_path().exists());
    assert!(!s.remove().unwrap(), "a second remove finds nothing");
}

#[test]
fn logout_removes_the_token_even_when_the_service_cannot_be_reached() {
    let home = Home::new();
    // Nothing listens on port 1: the revocation fails at once.
    let env = home.env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:1")]);
    let s = store(&env);
    s.save(&token_file(START, 3600, true)).unwrap();
    assert!(s.logout(&portal(), &env).unwrap());
    assert!(!s.path().exists());
    assert!(!s.logout(&portal(), &env).unwrap());
}

#[test]
fn logout_revokes_a_valid_token_at_the_portal() {
    let home = Home::new();
    let (url, seen) = test_http::serve(vec![(200, "{}".into())]);
    let env = home.env(&[("AWS_ENDPOINT_URL_SSO", &url)]);
    let s = store(&env);
    s.save(&token_file(START, 3600, false)).unwrap();
    assert!(s.logout(&portal(), &env).unwrap());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].0.starts_with("POST /logout "), "{seen:?}");
}

// --- access_token --------------------------------------------------------------------------

#[test]
fn a_cached_token_with_life_left_is_used_without_a_lock_or_a_call() {
    let home = Home::new();
    let env = home.env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:1")]);
    let s = store(&env);
    s.save(&token_file(START, 3600, true)).unwrap();
    for mode in [Mode::Use, Mode::NoLogin] {
        let got = access_token(&portal(), &s, &env, None, mode).unwrap();
        assert_eq!((got.obtained, got.access_token.expose()), (Obtained::Cached, "old-access"), "{mode:?}");
    }
    assert!(!home.sso_dir().exists(), "no lock file was made");
    let files: Vec<_> = std::fs::read_dir(s.path().parent().unwrap()).unwrap().collect();
    assert_eq!(files.len(), 1, "only the session file: {files:?}");
}

#[test]
fn without_a_terminal_or_a_refresh_token_a_login_is_required_at_once() {
    let cases: &[(&str, Option<TokenFile>, Mode)] = &[
        ("nothing cached", None, Mode::Use),
        ("expires inside the margin", Some(token_file(START, 60, false)), Mode::Use),
        ("another portal's token", Some(token_file("https://other.awsapps.com/start", 3600, true)), Mode::Use),
        ("--force without a terminal", Some(token_file(START, 3600, true)), Mode::Relogin),
    ];
    for (what, file, mode) in cases {
        let home = Home::new();
        let env = home.env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:1")]);
        let s = store(&env);
        if let Some(f) = file {
            crate::util::fs::write_private_atomic(&s.path(), f.to_json().as_bytes()).unwrap();
        }
        let err = access_token(&portal(), &s, &env, None, *mode).unwrap_err();
        assert!(
            matches!(&err, PortalError::LoginRequired { provider, start_url } if provider == "acme-sso" && start_url == START),
            "{what}: {err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "provider `acme-sso` needs an IAM Identity Center login ({START}), and there is no terminal to show the code on"
            )
        );
        assert_eq!(
            err.hint().as_deref(),
            Some("run `tfauth auth login --provider acme-sso` in a terminal, then try again")
        );
        assert_eq!(err.exit_code(), crate::exit::NOPERM);
        let made: Vec<_> = std::fs::read_dir(home.sso_dir()).map(|d| d.count()).into_iter().collect();
        assert!(made.is_empty() || made == [usize::from(file.is_some())], "{what}: no lock file is made");
    }
}

#[test]
fn an_expired_token_is_refreshed_and_stored_with_its_refresh_token() {
    let home = Home::new();
    let (url, seen) = test_http::serve(vec![(200, r#"{"accessToken": "new-access", "expiresIn": 28800}"#.into())]);
    let env = home.env(&[("AWS_ENDPOINT_URL_SSO_OIDC", &url)]);
    let s = store(&env);
    s.save(&token_file(START, -60, true)).unwrap();
    let got = access_token(&portal(), &s, &env, None, Mode::NoLogin).unwrap();
    assert_eq!((got.obtained, got.access_token.expose()), (Obtained::Refreshed, "new-access"));
    assert!(got.expires_at > in_secs(28_000));
    let saved = s.load().unwrap().unwrap();
    assert_eq!(saved.access_token.expose(), "new-access");
    assert_eq!(saved.refresh_token.as_ref().map(Secret::expose), Some("the-refresh-token"), "kept when none is sent");
    assert_eq!(saved.client_id.as_deref(), Some("client-1"), "the registration is kept");
    let seen = seen.lock().unwrap();
    assert!(seen[0].0.starts_with("POST /token "), "{seen:?}");
    let body: serde_json::Value = serde_json::from_str(&seen[0].1).unwrap();
    assert_eq!(body["grantType"], "refresh_token");
    assert_eq!(body["refreshToken"], "the-refresh-token");
    assert_eq!(body["clientId"], "client-1");
}

#[test]
fn a_refresh_token_the_service_refuses_means_a_login_and_other_failures_are_errors() {
    let home = Home::new();
    let (url, _) = test_http::serve(vec![(400, r#"{"error": "invalid_grant"}"#.into())]);
    let env = home.env(&[("AWS_ENDPOINT_URL_SSO_OIDC", &url)]);
    let s = store(&env);
    s.save(&token_file(START, -60, true)).unwrap();
    let err = access_token(&portal(), &s, &env, None, Mode::NoLogin).unwrap_err();
    assert!(matches!(err, PortalError::NotSignedIn { .. }), "{err:?}");
    assert!(err.to_string().ends_with("and this command does not sign in"), "{err}");
    assert_eq!(err.exit_code(), crate::exit::NOPERM);

    let home = Home::new();
    let (url, _) = test_http::serve(vec![(500, r#"{"message": "boom"}"#.into())]);
    let env = home.env(&[("AWS_ENDPOINT_URL_SSO_OIDC", &url)]);
    let s = store(&env);
    s.save(&token_file(START, -60, true)).unwrap();
    let err = access_token(&portal(), &s, &env, Some(&NoFlow), Mode::Use).unwrap_err();
    assert!(matches!(&err, PortalError::Sso { provider, .. } if provider == "acme-sso"), "{err:?}");
    assert!(err.to_string().starts_with("IAM Identity Center, provider `acme-sso`: "), "{err}");
    assert_eq!(err.exit_code(), crate::exit::UNAVAILABLE);
    assert_eq!(s.load().unwrap().unwrap().access_token.expose(), "old-access", "nothing was replaced");
}

#[test]
fn a_login_that_failed_in_another_process_is_this_ones_answer() {
    let home = Home::new();
    // Nothing may be called: the failure is known before any request.
    let env = home.env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:1")]);
    let s = store(&env);
    s.save(&token_file(START, -60, true)).unwrap();
    begin();
    // File times come from a clock coarser than SystemTime::now: let it move on.
    std::thread::sleep(Duration::from_millis(30));
    crate::util::fs::write_private_cache(&s.marker(), b"the login was denied in the browser\n").unwrap();
    let err = access_token(&portal(), &s, &env, Some(&NoFlow), Mode::Use).unwrap_err();
    match &err {
        PortalError::FailedElsewhere { provider, reason } => {
            assert_eq!((provider.as_str(), reason.as_str()), ("acme-sso", "the login was denied in the browser"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.hint().as_deref(),
        Some("run `tfauth auth login --provider acme-sso` and approve the code in the browser")
    );
    assert_eq!(err.exit_code(), crate::exit::NOPERM);
}

#[test]
fn errors_map_to_exit_codes_and_hints() {
    let sso = |source| PortalError::Sso { provider: "p".into(), source };
    let cases: Vec<(PortalError, i32, Option<&str>)> = vec![
        (
            sso(SsoError::RefreshTokenInvalid),
            crate::exit::NOPERM,
            Some("run `tfauth auth login --provider p` and approve the code in the browser"),
        ),
        (
            sso(SsoError::AccessDenied),
            crate::exit::NOPERM,
            Some("run `tfauth auth login --provider p` and approve the code in the browser"),
        ),
        (
            PortalError::Cache(CacheError::LockTimeout { path: "/x".into(), waited: Duration::from_secs(3) }),
            crate::exit::TEMPFAIL,
            Some("a login may be waiting in another terminal; finish it, or try again"),
        ),
        (PortalError::NoCacheDir, crate::exit::USAGE, Some("set HOME or XDG_CACHE_HOME")),
    ];
    for (err, code, hint) in cases {
        assert_eq!((err.exit_code(), err.hint().as_deref()), (code, hint), "{err}");
    }
}

// --- provisioned identities ----------------------------------------------------------------

fn provisioned_auth(src: &str) -> crate::auth::AuthConfig {
    use crate::yaml::{LoadContext, Loader};
    let node = Loader::new(&LoadContext::default()).load_str(src, std::path::Path::new("/r/atmos.yaml")).unwrap();
    crate::auth::AuthConfig::parse(Some(&node)).0
}

#[test]
fn provisioned_identities_join_the_config_but_never_replace_its_own() {
    let home = Home::new();
    let env = home.env(&[]);
    // Atmos's file, as `atmos auth login` writes it (yaml.Marshal of its map: keys sorted).
    let atmos_file = "auth:
  _metadata:
    counts: {accounts: 2, identities: 3, roles: 3}
    provider: acme-sso
    provisioned_at: \"2026-01-01T00:00:00Z\"
    source: acme-sso
  identities:
    dev/ReadOnly:
      kind: aws/permission-set
      principal:
        account: {id: \"222222222222\", name: dev}
        name: ReadOnly
      provider: acme-sso
      via: {provider: acme-sso}
    prod/Admin:
      kind: aws/permission-set
      principal: {account: {id: \"111111111111\", name: prod}, name: Admin}
      provider: acme-sso
      via: {provider: acme-sso}
    other/Admin:
      kind: aws/permission-set
      principal: {account: {id: !exec \"touch /tmp/tfauth-never\", name: other}, name: Admin}
      via: {provider: someone-else}
";
    let path = store(&env).identities_path();
    assert_eq!(path, home.dir.path().join("cache/atmos/auth/acme-sso/provisioned-identities.yaml"));
    crate::util::fs::write_private_atomic(&path, atmos_file.as_bytes()).unwrap();
    let src = format!(
        "providers:\n  acme-sso: {{kind: aws/iam-identity-center, start_url: \"{START}\", region: us-east-1, auto_provision_identities: true}}\nidentities:\n  Prod/admin: {{kind: aws/permission-set, via: {{provider: acme-sso}}, principal: {{name: Own, account: {{id: \"999999999999\"}}}}}}\n"
    );
    let mut auth = provisioned_auth(&src);
    add_provisioned(&mut auth, &env);
    assert_eq!(
        auth.identity_names(),
        ["Prod/admin", "dev/ReadOnly"],
        "the configured name wins, in any case; another provider's is not this one's"
    );
    assert!(!std::path::Path::new("/tmp/tfauth-never").exists(), "the file is data: no YAML function ran");
    let dev = auth.identity("dev/readonly").unwrap();
    assert_eq!(dev.kind_name, "aws/permission-set");
    assert!(
        matches!(&dev.via, Some(crate::auth::Via::Provider(p, span)) if p == "acme-sso" && span.file.to_string_lossy().ends_with("provisioned-identities.yaml"))
    );
    assert!(matches!(
        &dev.kind,
        Some(crate::auth::IdentityKind::PermissionSet { permission_set, account: crate::auth::schema::AccountRef::Id(id) })
            if permission_set == "ReadOnly" && id == "222222222222"
    ));
    assert!(!dev.default && !dev.required);

    // As in Atmos, the file is read whatever auto_provision_identities says (it only says
    // whether a login writes one).
    let mut off = provisioned_auth(&src.replace("auto_provision_identities: true", "auto_provision_identities: false"));
    add_provisioned(&mut off, &env);
    assert_eq!(off.identity_names(), ["Prod/admin", "dev/ReadOnly"]);
    // A file that is not an auth section adds nothing, and fails nothing.
    crate::util::fs::write_private_atomic(&path, b"[1, 2]").unwrap();
    let mut bad = provisioned_auth(&src);
    add_provisioned(&mut bad, &env);
    assert_eq!(bad.identity_names(), ["Prod/admin"]);

    // The list an earlier tfauth kept is read when Atmos's file is missing.
    std::fs::remove_file(&path).unwrap();
    let earlier = serde_json::json!({
        "start_url": START, "region": "us-east-1", "written_at": "2026-01-01T00:00:00Z",
        "identities": [{"name": "dev/ReadOnly", "account_id": "222222222222", "account_name": "dev", "permission_set": "ReadOnly"}],
    });
    crate::util::fs::write_private_atomic(&store(&env).earlier_identities(), earlier.to_string().as_bytes()).unwrap();
    let mut old = provisioned_auth(&src);
    add_provisioned(&mut old, &env);
    assert_eq!(old.identity_names(), ["Prod/admin", "dev/ReadOnly"]);
    // A provider's name is one path element.
    let cache = std::path::Path::new("/c");
    assert_eq!(provisioned_path(cache, "../x/y"), std::path::Path::new("/c/auth/.._x_y/provisioned-identities.yaml"));
    assert_eq!(provisioned_path(cache, ".."), std::path::Path::new("/c/auth/_../provisioned-identities.yaml"));
}
