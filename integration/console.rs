//! `tfauth auth console` against a loopback stand-in for the AWS federation endpoint: the
//! session JSON it receives is the identity's own session (the one boto3 gets through the
//! written profile), and the sign-in URL carries the token, destination and issuer. A
//! "browser" that follows the one-time redirect brings the login to the stand-in, which
//! records the Destination an alias became and the Issuer `--issuer` gave.

use crate::support::{Bed, Moto, Stub, github_token_endpoint, run, venv};
use std::sync::{Arc, Mutex};

const TFAUTH: &str = env!("CARGO_BIN_EXE_tfauth");
const BEARER: &str = "gh-request-bearer-console";
const SIGNIN_TOKEN: &str = "SigninToken+from/the=standin";

/// A login the federation stand-in received (`Action=login`), as a browser brings it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Login {
    issuer: Option<String>,
    destination: Option<String>,
    token: Option<String>,
}

type Seen<T> = Arc<Mutex<Vec<T>>>;

/// The federation endpoint: `getSigninToken` answers with a token and records the Session
/// (with its SessionDuration); `login` records what the browser brought.
fn federation_with_logins() -> (Stub, Seen<String>, Seen<Login>) {
    let sessions = Arc::new(Mutex::new(Vec::new()));
    let logins = Arc::new(Mutex::new(Vec::new()));
    let (seen, landed) = (sessions.clone(), logins.clone());
    let stub = Stub::start(Box::new(move |req: &str, _| {
        let target = req.split_whitespace().nth(1).unwrap_or("");
        let query = target.split_once('?').map(|q| q.1).unwrap_or("");
        let params: Vec<(String, String)> = query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_string(), crate::wire::percent_decode(v, false)))
            .collect();
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match get("Action").as_deref() {
            Some("getSigninToken") => {
                let Some(session) = get("Session") else { return (400, "{\"message\":\"no Session\"}".into()) };
                seen.lock().unwrap().push(format!("{}|{session}", get("SessionDuration").unwrap_or_default()));
                (200, format!("{{\"SigninToken\":\"{SIGNIN_TOKEN}\"}}"))
            }
            Some("login") => {
                landed.lock().unwrap().push(Login {
                    issuer: get("Issuer"),
                    destination: get("Destination"),
                    token: get("SigninToken"),
                });
                (200, "signed in".into())
            }
            _ => (400, "{\"message\":\"unknown action\"}".into()),
        }
    }));
    (stub, sessions, logins)
}

/// The federation endpoint's `getSigninToken` (and `login`), for tests that read the Session.
fn federation() -> (Stub, Seen<String>) {
    let (stub, sessions, _) = federation_with_logins();
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
    assert!(
        o.stderr.contains("no console for `gcp/analytics`")
            && o.stderr.contains("gcp/service-account")
            && o.stderr.contains("hint:"),
        "{}",
        o.stderr
    );
    // A destination that is no alias and no console of the identity's partition.
    for (dest, needle) in [
        ("s4", "did you mean `s3`"),
        ("https://evil.example/s3", "`evil.example` is not the host of an AWS console"),
        ("https://console.amazonaws.cn/s3", "console of aws-cn"),
    ] {
        let mut c = bed.cmd(TFAUTH);
        c.env("TFAUTH_AWS_FEDERATION_URL", format!("{}/federation", fed.url()));
        c.args(["auth", "console", "-i", "plat-dev/terraform", "--print-only", "--destination", dest]);
        let o = run(c);
        assert_eq!(o.code, 64, "{dest}: {}", o.stderr);
        assert!(o.stderr.contains(needle) && o.stdout.is_empty(), "{dest}: {}", o.stderr);
    }
    assert!(sessions.lock().unwrap().is_empty());
}

/// A browser that follows the redirect tfauth hands it, as a real one does, and records
/// its argv: the login then reaches the federation stand-in.
fn following_browser(bed: &Bed) -> (std::path::PathBuf, std::path::PathBuf) {
    let browser = bed.dir.path().join("follow.sh");
    let argv = bed.dir.path().join("follow-argv.txt");
    std::fs::write(
        &browser,
        format!(
            "#!/bin/sh\necho \"$@\" > '{}'\nexec '{}' -c 'import sys, urllib.request as u; u.urlopen(sys.argv[1]).read()' \"$1\"\n",
            argv.display(),
            venv().join("bin/python").display(),
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    (browser, argv)
}

#[test]
fn console_alias_and_issuer_reach_the_federation_endpoint() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let (fed, sessions, logins) = federation_with_logins();
    let (browser, argv) = following_browser(&bed);
    let env = |c: &mut std::process::Command| {
        c.env("ATMOS_PROFILE", "github")
            .env("CI", "false")
            .env("BROWSER", &browser)
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", format!("{}/token", token.url()))
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER)
            .env("AWS_ENDPOINT_URL_STS", moto.url())
            .env("TFAUTH_AWS_FEDERATION_URL", format!("{}/federation", fed.url()));
    };

    // The browser: the alias's console URL and the issuer arrive with the stand-in's token.
    let mut c = bed.cmd(TFAUTH);
    env(&mut c);
    c.args(["auth", "console", "-i", "plat-dev/terraform", "--destination", "S3", "--issuer", "my-org"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.is_empty(), "nothing on stdout when the browser opens: {}", o.stdout);
    let mut landed = Vec::new();
    for _ in 0..100 {
        landed = logins.lock().unwrap().clone();
        if !landed.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        landed,
        [Login {
            issuer: Some("my-org".into()),
            destination: Some("https://console.aws.amazon.com/s3".into()),
            token: Some(SIGNIN_TOKEN.into()),
        }],
        "the login the browser brought to the federation endpoint"
    );
    let argv = std::fs::read_to_string(&argv).unwrap();
    assert!(argv.starts_with("http://127.0.0.1:") && !argv.contains("SigninToken"), "{argv}");
    for secret in [SIGNIN_TOKEN, "SigninToken="] {
        assert!(!o.stderr.contains(secret), "{}", o.stderr);
    }

    // --no-open: the URL on stdout alone, what it is on stderr, and no token there.
    let mut c = bed.cmd(TFAUTH);
    env(&mut c);
    c.args(["auth", "console", "-i", "plat-dev/terraform", "--no-open", "--destination", "cost-explorer"]);
    c.args(["--duration", "1h"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.lines().count(), 1, "{}", o.stdout);
    let url = o.stdout.trim();
    assert_eq!(
        query_param(url, "Destination").as_deref(),
        Some("https://console.aws.amazon.com/cost-management/home#/cost-explorer")
    );
    assert_eq!(query_param(url, "Issuer").as_deref(), Some("tfauth"));
    assert!(o.stderr.contains("cost-management/home#/cost-explorer") && o.stderr.contains("1h"), "{}", o.stderr);
    assert!(!o.stderr.contains(SIGNIN_TOKEN) && !o.stderr.contains("SigninToken"), "{}", o.stderr);
    assert_eq!(logins.lock().unwrap().len(), 1, "--no-open opened no browser");
    let durations: Vec<String> =
        sessions.lock().unwrap().iter().map(|s| s.split_once('|').unwrap().0.to_string()).collect();
    assert_eq!(durations, ["", "3600"], "AWS's default, then --duration 1h");
}

#[test]
fn console_opens_the_azure_portal_in_the_provider_s_tenant() {
    let bed = Bed::new();
    let browser = bed.dir.path().join("browser.sh");
    let argv = bed.dir.path().join("argv.txt");
    std::fs::write(&browser, format!("#!/bin/sh\necho \"$@\" > '{}'\n", argv.display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    let tenant = "0b5e6c1d-2a3f-4e5d-8c7b-9a0f1e2d3c4b";
    let mut c = bed.cmd(TFAUTH);
    c.env("CI", "false").env("BROWSER", &browser);
    c.args(["auth", "console", "blobstore", "-s", "plat-use2-dev", "-i", "azure/plat-dev", "--destination", "kv"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.is_empty(), "{}", o.stdout);
    let want = format!(
        "https://portal.azure.com/#@{tenant}/blade/HubsExtension/BrowseResource/resourceType/Microsoft.KeyVault%2FVaults"
    );
    let mut got = String::new();
    for _ in 0..100 {
        got = std::fs::read_to_string(&argv).unwrap_or_default();
        if !got.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(got.trim(), want);
    // Nothing was signed in to build it: no Azure configuration directory, no token cache.
    let written = bed.written();
    assert!(!written.iter().any(|p| p.to_string_lossy().contains("azure")), "{written:?}");
}
