//! tfauth's IAM Identity Center client (`tfauth::providers::sso`, over `aws-sdk-ssooidc` and
//! `aws-sdk-sso`) against the loopback stand-in in `aws_portal.rs`, whose wire formats
//! botocore checks: the device flow with real sleeps, refresh, the portal API with
//! pagination, and what tfauth makes of the answers (errors, redirects, secrets).

use crate::aws_portal::{Account, DEVICE_GRANT, Portal, PortalOpts};
use crate::support::{Stub, free_port};
use std::time::{Duration, Instant};
use tfauth::env_vars::Env;
use tfauth::providers::ProviderError;
use tfauth::providers::sso::{self, ClientRegistration, Endpoints, PollEvent, SsoError, Token, TokenFile};
use tfauth::secret::Secret;

const START_URL: &str = "https://d-1234567890.awsapps.com/start";

fn endpoints(portal: &Portal) -> Endpoints {
    Endpoints::from_env(&Env::from_pairs([("AWS_ENDPOINT_URL", portal.url())]), "us-east-1").unwrap()
}

/// A portal that approves the first poll by itself.
fn auto_approving(accounts: Option<Vec<Account>>) -> Portal {
    let mut opts = PortalOpts { approve_after_polls: Some(0), slow_down_polls: 0, ..Default::default() };
    if let Some(accounts) = accounts {
        opts.accounts = accounts;
    }
    Portal::start(opts)
}

/// RegisterClient, StartDeviceAuthorization and polling, on an auto-approving portal.
fn login(portal: &Portal) -> (Endpoints, ClientRegistration, Token) {
    let ep = endpoints(portal);
    let reg = sso::register_client(&ep, "tfauth-test").unwrap();
    let auth = sso::start_device_authorization(&ep, &reg, START_URL).unwrap();
    let token = sso::poll_for_token(&ep, &reg, &auth, &mut |_| {}).unwrap();
    (ep, reg, token)
}

/// No error text may carry one of these.
fn assert_no_secrets(text: &str, secrets: &[&Secret]) {
    for s in secrets {
        assert!(!text.contains(s.expose()), "a secret leaked into: {text}");
    }
}

#[test]
fn sso_device_flow_slow_down_then_pending_then_approval_with_polls_spaced_by_the_interval() {
    // Polling faster than the interval would be answered SlowDown again, which the sequence
    // check below would catch.
    let portal = Portal::start(PortalOpts {
        interval: 1,
        slow_down_polls: 1,
        enforce_interval: true,
        approve_after_polls: None,
        ..Default::default()
    });
    let ep = endpoints(&portal);
    let reg = sso::register_client(&ep, "tfauth-test").unwrap();
    let register = &portal.requests_for("RegisterClient")[0];
    assert_eq!(register.params["clientName"], "tfauth-test");
    assert_eq!(register.params["clientType"], "public");
    assert_eq!(register.params["scopes"], serde_json::json!(["sso:account:access"]));
    assert_eq!(register.params["grantTypes"], serde_json::json!([DEVICE_GRANT, "refresh_token"]));
    assert_eq!(register.header("content-type"), Some("application/json"));
    let days = (reg.expires_at - time::OffsetDateTime::now_utc()).whole_days();
    assert!((89..=90).contains(&days), "{:?}", reg.expires_at);

    let auth = sso::start_device_authorization(&ep, &reg, START_URL).unwrap();
    assert_eq!(portal.requests_for("StartDeviceAuthorization")[0].params["startUrl"], START_URL);
    assert_eq!((auth.interval, auth.expires_in), (Duration::from_secs(1), Duration::from_secs(600)));
    assert!(auth.verification_uri_complete.ends_with(&format!("user_code={}", auth.user_code)));
    assert_eq!(auth.verification_uri, format!("{}/device", portal.url()));
    assert_eq!(portal.pending_user_codes(), std::slice::from_ref(&auth.user_code));

    let mut events = Vec::new();
    let started = Instant::now();
    let token = std::thread::scope(|scope| {
        // The user approves in the browser once the client has polled twice.
        scope.spawn(|| {
            while started.elapsed() < Duration::from_secs(60) {
                if portal.count("CreateToken") >= 2 {
                    assert!(portal.approve(&auth.user_code));
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        sso::poll_for_token(&ep, &reg, &auth, &mut |e| events.push(e))
    })
    .unwrap();

    assert_eq!(portal.access_tokens(), [token.access_token.expose().to_string()]);
    assert!(token.refresh_token.is_some(), "a client registered with scopes gets a refresh token");
    let hours = (token.expires_at - time::OffsetDateTime::now_utc()).whole_minutes() as f64 / 60.0;
    assert!((7.9..=8.0).contains(&hours), "{:?}", token.expires_at);

    // SlowDown, Pending, the token: three polls, each carrying the device grant and code.
    let polls = portal.requests_for("CreateToken");
    let statuses: Vec<u16> = polls.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [400, 400, 200]);
    for p in &polls {
        assert_eq!(p.param("grantType"), Some(DEVICE_GRANT));
        assert_eq!(p.param("deviceCode"), Some(auth.device_code.expose()));
        assert_eq!(p.param("clientId"), Some(reg.client_id.as_str()));
    }
    // After slow_down the interval is 1 + 5 seconds, for every later poll.
    let times = portal.token_polls();
    for w in times.windows(2) {
        let gap = w[1].duration_since(w[0]);
        assert!(gap >= Duration::from_secs(6), "polls only {gap:?} apart");
        assert!(gap < Duration::from_secs(8), "polls {gap:?} apart: slower than asked");
    }
    let slow: Vec<&PollEvent> = events.iter().filter(|e| matches!(e, PollEvent::SlowDown { .. })).collect();
    assert_eq!(slow, [&PollEvent::SlowDown { new_interval: Duration::from_secs(6) }]);
    let remaining: Vec<Duration> = events
        .iter()
        .filter_map(|e| match e {
            PollEvent::Waiting { remaining } => Some(*remaining),
            _ => None,
        })
        .collect();
    assert!(remaining.len() >= 10, "a countdown tick about every second: {remaining:?}");
    assert!(remaining.windows(2).all(|w| w[1] < w[0]), "{remaining:?}");
    assert!(remaining[0] <= Duration::from_secs(600) && remaining[0] > Duration::from_secs(590));
}

#[test]
fn sso_refresh_works_and_an_expired_refresh_token_is_a_distinct_error() {
    let portal = auto_approving(None);
    let (ep, reg, token) = login(&portal);
    let refresh_token = token.refresh_token.clone().unwrap();

    let fresh = sso::refresh(&ep, &reg, &refresh_token).unwrap();
    assert_ne!(fresh.access_token, token.access_token);
    assert_eq!(portal.access_tokens().last().map(String::as_str), Some(fresh.access_token.expose()));
    let last = portal.requests_for("CreateToken").pop().unwrap();
    assert_eq!(last.param("grantType"), Some("refresh_token"));
    assert_eq!(last.param("refreshToken"), Some(refresh_token.expose()));
    assert_eq!(last.status, 200);
    // The new token works on the portal.
    assert_eq!(sso::list_accounts(&ep, &fresh.access_token).unwrap().len(), 2);

    // The session ends: the refresh token is refused, distinctly from any other failure.
    portal.expire_refresh_tokens();
    let err = sso::refresh(&ep, &reg, &refresh_token).unwrap_err();
    assert!(matches!(err, SsoError::RefreshTokenInvalid), "{err:?}");
    assert_eq!(err.exit_code(), 77);
    let shown = format!("{err} {err:?} {}", err.hint().unwrap_or_default());
    assert!(shown.contains("refresh token is no longer valid: log in again"), "{shown}");
    assert_no_secrets(&shown, &[&refresh_token, &reg.client_secret, &token.access_token]);
    let as_provider = ProviderError::from(err);
    assert_eq!(as_provider.exit_code(), 77);
    assert!(as_provider.hint().unwrap().contains("tfauth auth login"));

    // A client whose secret no longer works is told apart too.
    let wrong = ClientRegistration { client_secret: Secret::new("not-the-secret"), ..reg.clone() };
    let err = sso::refresh(&ep, &wrong, fresh.refresh_token.as_ref().unwrap()).unwrap_err();
    assert!(matches!(err, SsoError::InvalidClient { .. }), "{err:?}");
    assert_no_secrets(&err.to_string(), &[&wrong.client_secret]);
}

#[test]
fn sso_token_file_from_a_real_login() {
    let portal = auto_approving(None);
    let (_, reg, token) = login(&portal);
    let dir = tempfile::tempdir().unwrap();
    let path = sso::token_cache_path(dir.path(), START_URL, "us-east-1");
    assert!(path.starts_with(dir.path().join("sso")));
    let file = TokenFile::new(START_URL, "us-east-1", &token, Some(&reg));
    file.save(&path).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(doc["accessToken"], token.access_token.expose());
    assert_eq!(doc["refreshToken"], token.refresh_token.as_ref().unwrap().expose());
    assert_eq!(doc["clientId"], reg.client_id.as_str());
    assert_eq!(doc["clientSecret"], reg.client_secret.expose());
    assert_eq!((doc["region"].as_str(), doc["startUrl"].as_str()), (Some("us-east-1"), Some(START_URL)));
    for k in ["expiresAt", "registrationExpiresAt"] {
        let v = doc[k].as_str().unwrap();
        assert!(v.ends_with('Z') && v.len() == 20, "{k}: {v}");
    }
    let back = TokenFile::load(&path).unwrap().unwrap();
    assert_eq!(back, file);
    let now = time::OffsetDateTime::now_utc();
    assert!(back.access_token_valid(now, Duration::from_secs(3600)));
    assert!(!back.access_token_valid(now, Duration::from_secs(9 * 3600)));
    assert!(back.registration_valid(now));
    assert_eq!(back.registration(), Some(reg));
}

#[test]
fn sso_access_denied_in_the_browser() {
    let portal = Portal::start(PortalOpts { slow_down_polls: 0, approve_after_polls: None, ..Default::default() });
    let ep = endpoints(&portal);
    let reg = sso::register_client(&ep, "tfauth-test").unwrap();
    let auth = sso::start_device_authorization(&ep, &reg, START_URL).unwrap();
    let started = Instant::now();
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            while started.elapsed() < Duration::from_secs(60) {
                if portal.count("CreateToken") >= 1 {
                    assert_eq!(portal.deny(), 1);
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        sso::poll_for_token(&ep, &reg, &auth, &mut |_| {})
    });
    let err = result.unwrap_err();
    assert!(matches!(err, SsoError::AccessDenied), "{err:?}");
    assert_eq!(err.exit_code(), 77);
    assert_eq!(portal.count("CreateToken"), 2, "pending, then denied");
    assert_no_secrets(&format!("{err} {err:?}"), &[&auth.device_code, &reg.client_secret]);
}

#[test]
fn sso_a_device_code_past_its_life_is_a_timed_out_login() {
    let portal = Portal::start(PortalOpts {
        slow_down_polls: 0,
        approve_after_polls: None,
        device_code_ttl: Duration::from_secs(1),
        ..Default::default()
    });
    let ep = endpoints(&portal);
    let reg = sso::register_client(&ep, "tfauth-test").unwrap();
    // The service says so (ExpiredTokenException): the code died before the first poll.
    let auth = sso::start_device_authorization(&ep, &reg, START_URL).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let err = sso::poll_for_token(&ep, &reg, &auth, &mut |_| {}).unwrap_err();
    assert!(matches!(err, SsoError::LoginTimedOut), "{err:?}");
    assert_eq!(portal.count("CreateToken"), 1);
    assert_eq!(err.exit_code(), 77);
    assert!(err.to_string().contains("start it again"), "{err}");
    // tfauth's own deadline (`expiresIn`) ends the wait without polling a dead code.
    let portal = Portal::start(PortalOpts {
        slow_down_polls: 0,
        approve_after_polls: None,
        device_code_ttl: Duration::from_secs(2),
        ..Default::default()
    });
    let ep = endpoints(&portal);
    let reg = sso::register_client(&ep, "tfauth-test").unwrap();
    let auth = sso::start_device_authorization(&ep, &reg, START_URL).unwrap();
    let started = Instant::now();
    let err = sso::poll_for_token(&ep, &reg, &auth, &mut |_| {}).unwrap_err();
    assert!(matches!(err, SsoError::LoginTimedOut), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    assert!((2..=3).contains(&portal.count("CreateToken")), "{}", portal.count("CreateToken"));
}

fn five_accounts() -> Vec<Account> {
    (1..=5)
        .map(|i| {
            let roles: &[&str] = if i == 1 { &["Admin", "Deploy", "ReadOnly"] } else { &["ReadOnly"] };
            Account::new(&format!("10000000000{i}"), &format!("acme-{i}"), &format!("aws+{i}@example.com"), roles)
        })
        .collect()
}

#[test]
fn sso_list_accounts_follows_every_page() {
    let portal = auto_approving(Some(five_accounts()));
    let (ep, _, token) = login(&portal);
    let accounts = sso::list_accounts(&ep, &token.access_token).unwrap();
    let want: Vec<sso::Account> =
        five_accounts().into_iter().map(|a| sso::Account { id: a.id, name: a.name, email: a.email }).collect();
    assert_eq!(accounts, want);
    assert_eq!(portal.count("ListAccounts"), 3, "three pages of two");
    let reqs = portal.requests_for("ListAccounts");
    let next: Vec<Option<&str>> = reqs.iter().map(|r| r.param("next_token")).collect();
    // The opaque token went back intact, `+`, `/` and `=` included.
    assert_eq!(next, [None, Some("AAEA+accounts/2=="), Some("AAEA+accounts/4==")]);
    for r in &reqs {
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-amz-sso_bearer_token"), Some(token.access_token.expose()));
    }
}

#[test]
fn sso_list_account_roles_follows_every_page_and_names_a_forbidden_account() {
    let portal = auto_approving(Some(five_accounts()));
    let (ep, _, token) = login(&portal);
    let roles = sso::list_account_roles(&ep, &token.access_token, "100000000001").unwrap();
    assert_eq!(roles, ["Admin", "Deploy", "ReadOnly"]);
    assert_eq!(portal.count("ListAccountRoles"), 2);
    assert!(portal.requests_for("ListAccountRoles").iter().all(|r| r.param("account_id") == Some("100000000001")));
    assert_eq!(sso::list_account_roles(&ep, &token.access_token, "100000000002").unwrap(), ["ReadOnly"]);
    let err = sso::list_account_roles(&ep, &token.access_token, "999999999999").unwrap_err();
    assert!(matches!(&err, SsoError::Forbidden { account_id: Some(a), .. } if a == "999999999999"), "{err:?}");
    assert_eq!(err.exit_code(), 77);
    assert!(err.to_string().contains("account 999999999999"), "{err}");
}

#[test]
fn sso_get_role_credentials_returns_exactly_what_the_portal_issued() {
    let portal = auto_approving(Some(five_accounts()));
    let (ep, _, token) = login(&portal);
    let before = time::OffsetDateTime::now_utc();
    let creds = sso::get_role_credentials(&ep, &token.access_token, "100000000001", "Deploy").unwrap();
    let issued = portal.issued();
    assert_eq!(issued.len(), 1);
    let i = &issued[0];
    assert_eq!((i.account.as_str(), i.role.as_str()), ("100000000001", "Deploy"));
    assert_eq!(creds.access_key_id, i.access_key_id);
    assert_eq!(creds.secret_access_key.expose(), i.secret_access_key);
    assert_eq!(creds.session_token.as_ref().map(Secret::expose), Some(i.session_token.as_str()));
    let exp = creds.expiration.unwrap();
    assert_eq!(exp.unix_timestamp_nanos() / 1_000_000, i128::from(i.expiration_ms));
    let issued_at = creds.issued.unwrap();
    assert!(issued_at >= before.replace_nanosecond(0).unwrap() && issued_at < exp);
    let req = &portal.requests_for("GetRoleCredentials")[0];
    assert_eq!((req.param("account_id"), req.param("role_name")), (Some("100000000001"), Some("Deploy")));
    // What tfauth hands on is the same document.
    let doc: serde_json::Value = serde_json::from_str(&creds.to_process_json()).unwrap();
    assert_eq!(doc["SecretAccessKey"], i.secret_access_key.as_str());

    // Not assigned: access denied, naming the account and the permission set.
    let err = sso::get_role_credentials(&ep, &token.access_token, "100000000002", "Deploy").unwrap_err();
    assert!(
        matches!(&err, SsoError::Forbidden { account_id: Some(a), role_name: Some(r), .. } if a == "100000000002" && r == "Deploy"),
        "{err:?}"
    );
    assert_eq!(err.exit_code(), 77);
    let shown = err.to_string();
    assert!(shown.contains("100000000002") && shown.contains("Deploy"), "{shown}");
    assert_no_secrets(&format!("{shown} {err:?}"), &[&token.access_token]);
    assert_eq!(portal.issued().len(), 1, "the refused call issued nothing");

    // The session ends: every portal call says log in again.
    portal.expire_access_tokens();
    for err in [
        sso::get_role_credentials(&ep, &token.access_token, "100000000001", "Deploy").unwrap_err(),
        sso::list_accounts(&ep, &token.access_token).unwrap_err(),
        sso::list_account_roles(&ep, &token.access_token, "100000000001").unwrap_err(),
    ] {
        assert!(matches!(err, SsoError::SessionExpired { .. }), "{err:?}");
        assert_eq!(err.exit_code(), 77);
        assert!(
            err.to_string().contains("SSO session expired or is invalid") && err.to_string().contains("log in again")
        );
        assert_no_secrets(&format!("{err} {err:?}"), &[&token.access_token]);
    }
}

#[test]
fn sso_throttling_is_try_again_and_an_unreachable_portal_is_unavailable() {
    let token = Secret::new("aoaCANARYaccesstoken");
    let throttled = Stub::start(Box::new(|_, _| {
        (
            429,
            r#"{"message":"Rate exceeded","__type":"com.amazonaws.switchboard.portal#TooManyRequestsException"}"#
                .into(),
        )
    }));
    let ep = Endpoints::new(&throttled.url(), &throttled.url()).unwrap();
    let err = sso::list_accounts(&ep, &token).unwrap_err();
    assert!(matches!(err, SsoError::Throttled { status: 429, .. }), "{err:?}");
    assert_eq!(err.exit_code(), 75);
    assert_eq!(ProviderError::from(err).exit_code(), 75);
    let sent = throttled.requests.lock().unwrap().concat();
    assert!(sent.to_ascii_lowercase().contains("x-amz-sso_bearer_token: aoacanaryaccesstoken"), "{sent}");

    let closed = format!("http://127.0.0.1:{}", free_port());
    let ep = Endpoints::from_env(&Env::from_pairs([("AWS_ENDPOINT_URL", closed.as_str())]), "us-east-1").unwrap();
    let err = sso::get_role_credentials(&ep, &token, "111111111111", "Admin").unwrap_err();
    assert!(matches!(err, SsoError::Unreachable { .. }), "{err:?}");
    assert_eq!(err.exit_code(), 69);
    assert!(err.to_string().contains(&closed), "{err}");
    assert_no_secrets(&format!("{err} {err:?}"), &[&token]);
    let err = sso::register_client(&ep, "tfauth-test").unwrap_err();
    assert_eq!(err.exit_code(), 69);
}

#[test]
fn sso_a_redirect_is_never_followed_so_no_secret_travels_elsewhere() {
    use crate::wire::{Resp, Server, read_raw, write_response};
    use std::sync::atomic::Ordering;
    // Where a redirect would send the client secret, the refresh token or the bearer token.
    let elsewhere = Stub::start(Box::new(|_, _| (200, "{}".into())));
    let location = elsewhere.url();
    let server = Server::bind();
    let url = format!("http://127.0.0.1:{}", server.port);
    let _server = server.serve(move |stream| {
        stream.set_nonblocking(false).ok();
        let _ = read_raw(&stream);
        let headers = vec![("Location".to_string(), format!("{location}/token"))];
        write_response(&stream, &Resp { status: 307, headers, body: Vec::new() });
    });
    let ep = Endpoints::new(&url, &url).unwrap();
    let reg = ClientRegistration {
        client_id: "client".into(),
        client_secret: Secret::new("client-secret-canary"),
        expires_at: time::OffsetDateTime::now_utc() + Duration::from_secs(3600),
    };
    let refresh_token = Secret::new("refresh-token-canary");
    let err = sso::refresh(&ep, &reg, &refresh_token).unwrap_err();
    assert!(matches!(err, SsoError::Service { status: 307, .. }), "{err:?}");
    assert_no_secrets(&format!("{err} {err:?}"), &[&reg.client_secret, &refresh_token]);
    let token = Secret::new("access-token-canary");
    let err = sso::list_accounts(&ep, &token).unwrap_err();
    assert!(matches!(err, SsoError::Service { status: 307, .. }), "{err:?}");
    assert_no_secrets(&format!("{err} {err:?}"), &[&token]);
    assert_eq!(elsewhere.hits.load(Ordering::SeqCst), 0, "the redirect was followed");
}
