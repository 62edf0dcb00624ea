//! GCP and Azure identities end to end, against the loopback stand-ins for Google
//! ([`crate::google_standin`]) and the Microsoft identity platform
//! ([`crate::microsoft_standin`]), with moto for the AWS half of a mixed run. What tfauth
//! writes is proven by the clients that will read it: google-auth loads the credentials
//! file from the environment terraform was given and gets a token through the stand-ins.

use crate::google_standin::{self as gs, Google, GoogleOpts, ServiceAccount};
use crate::support::*;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const BEARER: &str = "gh-request-token-canary";
/// The service account `examples/stacks/catalog/analytics.yaml` impersonates.
const ANALYTICS_SA: &str = "terraform@acme-analytics.iam.gserviceaccount.com";
/// The workload identity provider of the `github` profile's `acme-gcp`.
fn github_pool_audience() -> String {
    gs::provider_audience("123456789012", "github-pool", "github-provider")
}

/// The sub of the token `github_token_endpoint` hands out.
const GITHUB_SUBJECT: &str = "repo:acme/infra-live:ref:refs/heads/main";

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Runs a google-auth check with the venv's python: `script` after a prelude whose
/// `routed()` transport sends google-auth's fixed `https://*.googleapis.com` URLs to the
/// stand-in (`argv[1]`). The last stdout line is the JSON result.
fn google_auth(script: &str, args: &[String], env: &[(&str, &str)]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("check.py");
    let prelude = r#"
import datetime, json, os, sys, urllib.parse
import requests, requests.adapters
import google.auth, google.auth.transport.requests
STANDIN = urllib.parse.urlsplit(sys.argv[1]).netloc
class ToStandin(requests.adapters.HTTPAdapter):
    def send(self, request, **kw):
        u = urllib.parse.urlsplit(request.url)
        request.headers["X-Standin-Original-Host"] = u.hostname
        request.url = urllib.parse.urlunsplit(("http", STANDIN, u.path, u.query, ""))
        return super().send(request, **kw)
def routed():
    s = requests.Session()
    s.mount("https://", ToStandin())
    return google.auth.transport.requests.Request(session=s)
"#;
    std::fs::write(&path, format!("{prelude}{script}")).unwrap();
    let mut c = std::process::Command::new(venv_bin("python"));
    c.arg(&path)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", dir.path())
        .env("NO_GCE_CHECK", "True");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = run(c);
    assert_eq!(o.code, 0, "python failed:\n{}\n{}", o.stdout, o.stderr);
    serde_json::from_str(o.stdout.lines().last().unwrap_or("")).unwrap_or_else(|e| panic!("{e}: {}", o.stdout))
}

/// google-auth, as the Terraform google provider does: the file named by
/// GOOGLE_APPLICATION_CREDENTIALS, default scopes, a refresh.
const ADC_FROM_ENV: &str = r#"
creds, project = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"], request=routed())
creds.refresh(routed())
print(json.dumps({"type": type(creds).__name__, "token": creds.token, "project": project,
                  "sa": getattr(creds, "service_account_email", None)}))
"#;

#[test]
fn github_run_of_an_aws_backed_gcp_component_gets_both_clouds() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let principal = gs::federated_principal(&github_pool_audience(), GITHUB_SUBJECT);
    let google = Google::start(GoogleOpts {
        audiences: vec![github_pool_audience()],
        service_accounts: vec![ServiceAccount::new(ANALYTICS_SA).callers(&[&principal])],
        projects: vec![("123456789012".into(), "acme-analytics".into())],
        ..Default::default()
    });
    let bin = bed.dir.path().join("bin");
    standin_terraform(&bin);
    let rec = bed.dir.path().join("record.json");
    let github = |c: &mut std::process::Command| {
        c.env("ATMOS_PROFILE", "github")
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", format!("{}/token?api-version=2.0", token.url()))
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER)
            .env("AWS_ENDPOINT_URL_STS", moto.url())
            .env("TFAUTH_GOOGLE_STS_URL", google.sts_token_url())
            .env("TFAUTH_GOOGLE_IAM_CREDENTIALS_URL", google.url())
            .env("PATH", format!("{}:{}:/usr/bin:/bin", bin.display(), venv().join("bin").display()))
            .env("RECORD", &rec)
            // Competing credentials the runner may have: none may reach terraform.
            .env("GOOGLE_CREDENTIALS", "{\"type\":\"service_account\",\"private_key\":\"canary\"}")
            .env("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.stale-canary")
            .env("CLOUDSDK_CORE_ACCOUNT", "someone@else.example");
    };

    // The dry run shows both identities and never the request bearer.
    let mut c = bed.cmd(TFAUTH);
    github(&mut c);
    c.args(["plan", "analytics", "-s", "plat-use2-dev", "--dry-run"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("identity:   plat-dev/terraform"), "{}", o.stdout);
    assert!(o.stdout.contains("also:       gcp/analytics  (required: true)"), "{}", o.stdout);
    assert!(!o.stdout.contains(BEARER), "the GitHub request token was printed:\n{}", o.stdout);
    assert!(!bed.home().join(".config/atmos").exists(), "a dry run wrote {:?}", bed.written());

    let mut c = bed.cmd(TFAUTH);
    github(&mut c);
    c.args(["plan", "analytics", "-s", "plat-use2-dev"]);
    let o = run(c);
    assert_eq!(o.code, 0, "stderr:\n{}", o.stderr);
    assert!(!o.stderr.contains(BEARER));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&rec).unwrap()).unwrap();
    let env = &r["env"];
    // AWS: the stack's identity, for the S3 backend; boto3 with this environment is that role.
    assert_eq!(env["AWS_PROFILE"], "plat-dev/terraform");
    let arn = r["arn"].as_str().unwrap_or_else(|| panic!("boto3 failed: {}", r["error"]));
    assert!(arn.starts_with("arn:aws:sts::444444444444:assumed-role/acme-plat-gbl-dev-terraform/"), "{arn}");
    // GCP: the component's required identity.
    for (k, v) in [
        ("GOOGLE_CLOUD_PROJECT", "acme-analytics"),
        ("GOOGLE_PROJECT", "acme-analytics"),
        ("CLOUDSDK_CORE_PROJECT", "acme-analytics"),
        ("CLOUDSDK_ACTIVE_CONFIG_NAME", "tfauth"),
    ] {
        assert_eq!(env[k], v, "{k}");
    }
    for gone in ["GOOGLE_CREDENTIALS", "GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_CORE_ACCOUNT"] {
        assert!(env.get(gone).is_none(), "{gone} reached terraform");
    }
    let creds = Path::new(env["GOOGLE_APPLICATION_CREDENTIALS"].as_str().unwrap()).to_path_buf();
    assert!(creds.starts_with(bed.home().join(".config/atmos")), "{}", creds.display());
    assert!(creds.display().to_string().contains("/gcp/acme-gcp/adc/gcp-analytics/"), "{}", creds.display());
    assert_eq!(mode(&creds), 0o600, "it holds the request bearer");
    assert_eq!(mode(creds.parent().unwrap()), 0o700);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&creds).unwrap()).unwrap();
    assert_eq!(doc["type"], "external_account");
    assert_eq!(doc["audience"], github_pool_audience());
    assert_eq!(doc["subject_token_type"], "urn:ietf:params:oauth:token-type:jwt");
    assert_eq!(doc["token_url"], google.sts_token_url());
    assert_eq!(doc["service_account_impersonation_url"], google.generate_access_token_url(ANALYTICS_SA));
    assert_eq!(doc["service_account_impersonation"]["token_lifetime_seconds"], 3600);
    let source = &doc["credential_source"];
    assert!(source["url"].as_str().unwrap().starts_with(&format!("{}/token?api-version=2.0&audience=", token.url())));
    assert!(
        source["url"].as_str().unwrap().contains("audience=https%3A%2F%2Fiam.googleapis.com%2Fprojects%2F123456789012")
    );
    assert_eq!(source["headers"]["Authorization"], format!("bearer {BEARER}"));
    assert_eq!(source["format"], json!({"type": "json", "subject_token_field_name": "value"}));
    // gcloud, started with this environment, reads an isolated configuration.
    let gcloud = Path::new(env["CLOUDSDK_CONFIG"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(gcloud.join("active_config")).unwrap(), "tfauth");
    let props = std::fs::read_to_string(gcloud.join("configurations/config_tfauth")).unwrap();
    assert!(props.contains("[core]\nproject = acme-analytics\n"), "{props}");
    assert!(props.contains(&format!("credential_file_override = {}", creds.display())), "{props}");
    // tfauth checked the chain before terraform started: one exchange, one impersonation.
    assert_eq!(google.count("Exchange"), 1);
    assert_eq!(google.count("GenerateAccessToken"), 1);
    assert_eq!(google.requests_for("GenerateAccessToken")[0].params["lifetime"], "3600s");

    // google-auth, with the environment terraform got, mints the service account's token:
    // a fresh GitHub token, the exchange, the impersonation, all from the file.
    let asked = token.hits.load(std::sync::atomic::Ordering::SeqCst);
    let pairs: Vec<(&str, &str)> = ["GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT"]
        .iter()
        .map(|k| (*k, env[*k].as_str().unwrap()))
        .collect();
    let out = google_auth(ADC_FROM_ENV, &[google.url()], &pairs);
    assert_eq!(out["sa"], ANALYTICS_SA);
    assert_eq!(out["project"], "acme-analytics");
    assert_eq!(google.service_account_of(out["token"].as_str().unwrap()).as_deref(), Some(ANALYTICS_SA));
    assert!(token.hits.load(std::sync::atomic::Ordering::SeqCst) > asked, "google-auth fetched its own GitHub token");
    assert!(google.count("Exchange") >= 2);
}

#[test]
fn gcp_adc_with_a_service_account_is_an_impersonated_file_google_auth_uses() {
    let bed = Bed::new();
    let google = Google::start(GoogleOpts {
        service_accounts: vec![ServiceAccount::new(ANALYTICS_SA).callers(&["alice@example.com"])],
        projects: vec![("123456789012".into(), "acme-analytics".into())],
        ..Default::default()
    });
    // The user's own `gcloud auth application-default login`.
    let user_adc = bed.home().join(".config/gcloud/application_default_credentials.json");
    std::fs::create_dir_all(user_adc.parent().unwrap()).unwrap();
    let user_doc = json!({
        "type": "authorized_user",
        "client_id": "standin-adc.apps.googleusercontent.com",
        "client_secret": "standin-client-secret",
        "refresh_token": "1//standin-refresh-token-alice",
        "token_uri": google.oauth_token_url(),
    });
    std::fs::write(&user_adc, user_doc.to_string()).unwrap();
    std::fs::set_permissions(&user_adc, std::fs::Permissions::from_mode(0o600)).unwrap();
    let before = std::fs::read(&user_adc).unwrap();

    let mut c = bed.cmd(TFAUTH);
    c.env("TFAUTH_GOOGLE_IAM_CREDENTIALS_URL", google.url()).args([
        "auth",
        "env",
        "analytics",
        "-s",
        "plat-use2-dev",
        "-i",
        "gcp/analytics",
        "-f",
        "json",
    ]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let vars: Value = serde_json::from_str(&o.stdout).unwrap();
    assert!(vars.get("AWS_PROFILE").is_none(), "only the GCP identity was asked for: {vars}");
    let creds = Path::new(vars["GOOGLE_APPLICATION_CREDENTIALS"].as_str().unwrap()).to_path_buf();
    assert_eq!(mode(&creds), 0o600, "it embeds the user's refresh token");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&creds).unwrap()).unwrap();
    assert_eq!(doc["type"], "impersonated_service_account");
    assert_eq!(doc["source_credentials"], user_doc);
    assert_eq!(doc["service_account_impersonation_url"], google.generate_access_token_url(ANALYTICS_SA));
    assert_eq!(doc["delegates"], json!([]));
    // The check before handing over: the user's refresh, then the impersonation.
    assert_eq!(google.count("OAuthToken"), 1);
    assert_eq!(google.count("GenerateAccessToken"), 1);
    assert_eq!(std::fs::read(&user_adc).unwrap(), before, "the user's ADC is untouched");

    let out = google_auth(
        ADC_FROM_ENV,
        &[google.url()],
        &[("GOOGLE_APPLICATION_CREDENTIALS", creds.to_str().unwrap()), ("GOOGLE_CLOUD_PROJECT", "acme-analytics")],
    );
    assert_eq!(out["type"], "Credentials");
    assert_eq!(google.service_account_of(out["token"].as_str().unwrap()).as_deref(), Some(ANALYTICS_SA));
}

#[test]
fn a_google_sts_400_is_exit_77_with_a_hint_and_nothing_written() {
    let bed = Bed::new();
    let token = github_token_endpoint(BEARER);
    let google = Google::start(GoogleOpts {
        audiences: vec![github_pool_audience()],
        reject_exchanges: true,
        ..Default::default()
    });
    let mut c = bed.cmd(TFAUTH);
    c.env("ATMOS_PROFILE", "github")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", format!("{}/token", token.url()))
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER)
        .env("TFAUTH_GOOGLE_STS_URL", google.sts_token_url())
        .args(["auth", "env", "analytics", "-s", "plat-use2-dev", "-i", "gcp/analytics"]);
    let o = run(c);
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(
        o.stderr.contains("Google STS refused the token exchange for identity `gcp/analytics`: HTTP 400"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("invalid_grant"), "{}", o.stderr);
    assert!(o.stderr.contains("hint:") && o.stderr.contains("github-pool"), "{}", o.stderr);
    assert!(!o.stderr.contains(BEARER));
    assert!(o.stdout.is_empty());
    assert!(!bed.home().join(".config/atmos").exists(), "files were written: {:?}", bed.written());
}
