//! `tfauth auth console` against a loopback stand-in for the AWS federation endpoint: the
//! session JSON it receives is the identity's own session (the one boto3 gets through the
//! written profile), and the sign-in URL carries the token, destination and issuer.

use crate::support::{Bed, Moto, Stub, github_token_endpoint, run, venv};
use std::sync::{Arc, Mutex};

const TFAUTH: &str = env!("CARGO_BIN_EXE_tfauth");
const BEARER: &str = "gh-request-bearer-console";
const SIGNIN_TOKEN: &str = "SigninToken+from/the=standin";

/// The federation endpoint's `getSigninToken`: answers with a token, records the Session.
fn federation() -> (Stub, Arc<Mutex<Vec<String>>>) {
    let sessions = Arc::new(Mutex::new(Vec::new()));
    let seen = sessions.clone();
    let stub = Stub::start(Box::new(move |req: &str, _| {
        let target = req.split_whitespace().nth(1).unwrap_or("");
        let query = target.split_once('?').map(|q| q.1).unwrap_or("");
        let params: Vec<(String, String)> = query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_string(), crate::wire::percent_decode(v, false)))
            .collect();
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if get("Action").as_deref() != Some("getSigninToken") {
            return (400, "{\"message\":\"unknown action\"}".into());
        }
        let Some(session) = get("Session") else { return (400, "{\"message\":\"no Session\"}".into()) };
        seen.lock().unwrap().push(format!("{}|{session}", get("SessionDuration").unwrap_or_default()));
        (200, format!("{{\"SigninToken\":\"{SIGNIN_TOKEN}\"}}"))
    }));
    (stub, sessions)
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    q.split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| crate::wire::percent_decode(v, false))
}

#[test]
fn console_url_is_built_from_the_identity_session() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let (fed, sessions) = federation();
    let env = |c: &mut std::process::Command| {
        c.env("ATMOS_PROFILE", "github")
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", format!("{}/token", token.url()))
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER)
            .env("AWS_ENDPOINT_URL_STS", moto.url())
            .env("TFAUTH_AWS_FEDERATION_URL", format!("{}/federation", fed.url()));
    };
    let destination = "https://console.aws.amazon.com/s3/home?region=us-east-2";
    let mut c = bed.cmd(TFAUTH);
    env(&mut c);
    c.args(["auth", "console", "-i", "plat-dev/terraform", "--print-only", "--duration", "2h"]);
    c.args(["--destination", destination]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let url = o.stdout.trim();
    assert_eq!(o.stdout.lines().count(), 1, "stdout is the URL alone: {}", o.stdout);
    assert!(url.starts_with(&format!("{}/federation?Action=login&", fed.url())), "{url}");
    assert_eq!(query_param(url, "SigninToken").as_deref(), Some(SIGNIN_TOKEN));
    assert_eq!(query_param(url, "Destination").as_deref(), Some(destination));
    assert_eq!(query_param(url, "Issuer").as_deref(), Some("tfauth"));

    // The Session the endpoint got is the identity's session: what boto3 gets through
    // the profile tfauth wrote (served from the same cache entry).
    let got = sessions.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let (duration, session) = got[0].split_once('|').unwrap();
    assert_eq!(duration, "7200");
    let session: serde_json::Value = serde_json::from_str(session).unwrap();
    let mut c = bed.cmd(TFAUTH);
    env(&mut c);
    c.args(["auth", "exec", "-i", "plat-dev/terraform", "--"]);
    c.arg(venv().join("bin/python"));
    c.args(["-c", "import boto3,json; c=boto3.Session().get_credentials().get_frozen_credentials(); print(json.dumps([c.access_key, c.secret_key, c.token]))"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let boto: Vec<String> = serde_json::from_str(o.stdout.trim()).unwrap();
    assert_eq!(session["sessionId"], boto[0]);
    assert_eq!(session["sessionKey"], boto[1]);
    assert_eq!(session["sessionToken"], boto[2]);
    assert!(boto[0].starts_with("ASIA"), "a role session: {}", boto[0]);
}

#[test]
fn console_opens_the_browser_through_a_one_time_redirect() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let (fed, _) = federation();
    // A "browser" that records its argv and follows nothing: it prints the redirect target.
    let browser = bed.dir.path().join("browser.sh");
    let argv = bed.dir.path().join("argv.txt");
    let location = bed.dir.path().join("location.txt");
    std::fs::write(
        &browser,
        format!(
            "#!/bin/sh\necho \"$@\" > '{}'\nexec '{}' -c 'import sys, urllib.request as u\nclass N(u.HTTPRedirectHandler):\n    def redirect_request(self, *a): return None\ntry:\n    u.build_opener(N).open(sys.argv[1])\nexcept Exception as e:\n    open(sys.argv[2], \"w\").write(e.headers[\"Location\"])' \"$1\" '{}'\n",
            argv.display(),
            venv().join("bin/python").display(),
            location.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = bed.cmd(TFAUTH);
    c.env("ATMOS_PROFILE", "github")
        .env("CI", "false")
        .env("BROWSER", &browser)
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", format!("{}/token", token.url()))
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER)
        .env("AWS_ENDPOINT_URL_STS", moto.url())
        .env("TFAUTH_AWS_FEDERATION_URL", format!("{}/federation", fed.url()));
    c.args(["auth", "console", "-i", "plat-dev/terraform"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.is_empty(), "nothing on stdout without --print-only: {}", o.stdout);
    let argv = std::fs::read_to_string(&argv).unwrap();
    assert!(argv.starts_with("http://127.0.0.1:"), "the browser got a loopback address: {argv}");
    assert!(!argv.contains(SIGNIN_TOKEN) && !argv.contains("SigninToken"), "the token was on a command line: {argv}");
    let mut target = String::new();
    for _ in 0..100 {
        target = std::fs::read_to_string(&location).unwrap_or_default();
        if !target.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(query_param(&target, "SigninToken").as_deref(), Some(SIGNIN_TOKEN), "redirected to {target}");
    assert_eq!(
        query_param(&target, "Destination").as_deref(),
        Some("https://console.aws.amazon.com/console/home?region=us-east-2"),
        "the default destination is the console home of the identity's region"
    );
    assert!(!o.stderr.contains(SIGNIN_TOKEN));
}

#[test]
fn console_refuses_bad_durations_and_non_aws_identities_before_any_call() {
    let bed = Bed::new();
    let (fed, sessions) = federation();
    for (args, needle) in [
        (vec!["--duration", "13h"], "outside what AWS allows"),
        (vec!["--duration", "5m"], "outside what AWS allows"),
        (vec!["--duration", "soon"], "is not a duration"),
    ] {
        let mut c = bed.cmd(TFAUTH);
        c.env("TFAUTH_AWS_FEDERATION_URL", format!("{}/federation", fed.url()));
        c.args(["auth", "console", "-i", "plat-dev/terraform", "--print-only"]).args(&args);
        let o = run(c);
        assert_eq!(o.code, 64, "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains(needle) && o.stderr.contains("hint:"), "{args:?}: {}", o.stderr);
    }
    let mut c = bed.cmd(TFAUTH);
    c.args(["auth", "console", "analytics", "-s", "plat-use2-dev", "-i", "gcp/analytics", "--print-only"]);
    let o = run(c);
    assert_eq!(o.code, 64, "{}", o.stderr);
    assert!(o.stderr.contains("AWS console") && o.stderr.contains("hint:"), "{}", o.stderr);
    assert!(sessions.lock().unwrap().is_empty());
}
