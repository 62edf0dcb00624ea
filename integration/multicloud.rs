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
    let prelude = gs::PY_PRELUDE;
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

    // whoami asks Google the way a run checks: the service account, reached through the
    // pool's principal for this workflow's subject.
    let (exchanges, impersonations) = (google.count("Exchange"), google.count("GenerateAccessToken"));
    let mut c = bed.cmd(TFAUTH);
    github(&mut c);
    c.args(["auth", "whoami", "analytics", "-s", "plat-use2-dev", "-i", "gcp/analytics", "-o", "json"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let who: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.stdout));
    assert_eq!(who["cloud"], "gcp");
    assert_eq!(who["principal"], ANALYTICS_SA, "{who}");
    assert_eq!(who["via"], principal, "{who}");
    assert_eq!(who["project"], "acme-analytics", "{who}");
    assert!(who["expiration"].as_str().is_some_and(|e| e.ends_with('Z')), "{who}");
    assert_eq!((google.count("Exchange"), google.count("GenerateAccessToken")), (exchanges + 1, impersonations + 1));
    assert!(!o.stdout.contains(BEARER) && !o.stderr.contains(BEARER));
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
        "--login",
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

    // whoami: the service account, reached through the user the refreshed login names.
    let before_calls = (google.count("OAuthToken"), google.count("GenerateAccessToken"));
    let mut c = bed.cmd(TFAUTH);
    c.env("TFAUTH_GOOGLE_IAM_CREDENTIALS_URL", google.url()).args([
        "auth",
        "whoami",
        "analytics",
        "-s",
        "plat-use2-dev",
        "-i",
        "gcp/analytics",
    ]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let row = |name: &str| {
        o.stdout
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("no {name} row:\n{}", o.stdout))
    };
    assert_eq!(row("Principal"), ANALYTICS_SA);
    assert_eq!(row("Via"), "alice@example.com");
    assert_eq!(row("Project"), "acme-analytics");
    assert!(row("Expires").contains("m left"), "{}", o.stdout);
    assert_eq!(
        (google.count("OAuthToken"), google.count("GenerateAccessToken")),
        (before_calls.0 + 1, before_calls.1 + 1)
    );

    // Logging the identity out removes the file holding the copy of the refresh token, and
    // the gcloud configuration; the user's own ADC stays, and there is no provider session
    // of tfauth's to mention.
    let gcloud = Path::new(vars["CLOUDSDK_CONFIG"].as_str().unwrap()).to_path_buf();
    assert!(gcloud.is_dir());
    let mut c = bed.cmd(TFAUTH);
    c.args(["auth", "logout", "gcp/analytics"]);
    let o = run(c);
    assert_eq!(o.code, 64, "the identity is the stack's: {}", o.stderr);
    assert!(o.stderr.contains("stack's or component's `auth:`"), "{}", o.stderr);
    assert!(creds.exists(), "a refused logout removes nothing");
    let mut c = bed.cmd(TFAUTH);
    c.args(["auth", "logout", "gcp/analytics", "-c", "analytics", "-s", "plat-use2-dev"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!creds.exists() && !creds.parent().unwrap().exists(), "{}", o.stderr);
    assert!(!gcloud.exists(), "{}", o.stderr);
    assert!(o.stderr.contains("removed GCP credentials") && o.stderr.contains("removed gcloud configuration"));
    assert!(!o.stderr.contains("note:"), "{}", o.stderr);
    assert_eq!(std::fs::read(&user_adc).unwrap(), before, "the user's ADC is untouched");
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
        .args(["auth", "env", "--login", "analytics", "-s", "plat-use2-dev", "-i", "gcp/analytics"]);
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

// ---------------------------------------------------------------------------------------
// Azure

use crate::microsoft_standin::{self as ms, Entra, EntraOpts, FederatedCredential, Tenant};

/// The tenant, app and subscription of the examples' `acme-azure` providers and `azure/plat-dev`.
const AZ_TENANT: &str = "0b5e6c1d-2a3f-4e5d-8c7b-9a0f1e2d3c4b";
const AZ_CI_APP: &str = "7c9d8e1f-0a2b-4c3d-9e8f-7a6b5c4d3e2f";
const AZ_SUBSCRIPTION: &str = "6f1c2a4e-3b5d-4c7e-9f80-1a2b3c4d5e6f";

fn entra(opts: EntraOpts) -> Entra {
    Entra::start(EntraOpts {
        tenants: vec![Tenant::new(AZ_TENANT, &["acme.onmicrosoft.com"])],
        client_ids: vec![],
        interval: 1,
        federated: vec![FederatedCredential {
            client_id: AZ_CI_APP.into(),
            issuer: None,
            subject: Some(ms::GITHUB_SUBJECT.into()),
            audience: None,
        }],
        ..opts
    })
}

/// sha256 of every file under `dir`, by relative path.
fn tree_hash(dir: &Path) -> Vec<(String, String)> {
    use sha2::Digest;
    let mut out: Vec<(String, String)> = walkdir(dir)
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| {
            let h = sha2::Sha256::digest(std::fs::read(&p).unwrap());
            (p.strip_prefix(dir).unwrap().display().to_string(), format!("{h:x}"))
        })
        .collect();
    out.sort();
    out
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn azure_device_code_sign_in_writes_an_isolated_az_config_that_msal_reads() {
    let bed = Bed::new();
    let entra = entra(EntraOpts { approve_after_polls: Some(2), ..Default::default() });
    // The user's own ~/.azure: must come out byte for byte the same.
    let own = bed.home().join(".azure");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::write(own.join("azureProfile.json"), "{\"subscriptions\": [{\"id\": \"someone-else\"}]}").unwrap();
    std::fs::write(own.join("msal_token_cache.json"), "{\"RefreshToken\": {}}").unwrap();
    let before = tree_hash(&own);
    let target = ["blobstore", "-s", "plat-use2-dev", "-i", "azure/plat-dev"];

    // No terminal: exit 77 at once, no code requested, nothing written.
    let mut c = bed.cmd(TFAUTH);
    c.env("AZURE_AUTHORITY_HOST", entra.url()).args(["auth", "env", "--login"]).args(target);
    let o = run(c);
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(
        o.stderr.contains("no terminal") && o.stderr.contains("tfauth auth login -i azure/plat-dev"),
        "{}",
        o.stderr
    );
    assert_eq!(entra.count("DeviceCode"), 0);
    assert!(!bed.home().join(".config/atmos").exists());

    // On a terminal: the code, the URL, a countdown; approved after two polls.
    let words: Vec<String> = ["auth", "login"].iter().chain(target.iter()).map(|s| s.to_string()).collect();
    let line = format!(
        "AZURE_AUTHORITY_HOST={} TFAUTH_NO_BROWSER=1 {TFAUTH} {}",
        entra.url(),
        words.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" ")
    );
    let mut c = bed.cmd("script");
    c.env_remove("CI").args(["-qfec", &line, "/dev/null"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    let user_code = entra.requests_for("DeviceCodeToken").len();
    assert!(user_code >= 3, "polled until approved: {user_code}");
    assert!(o.stdout.contains("Sign in to Microsoft Entra ID for `acme-azure`"), "{}", o.stdout);
    assert!(o.stdout.contains("Code: ") && o.stdout.contains("/devicelogin"), "{}", o.stdout);
    assert!(o.stdout.contains("Waiting for approval..."), "{}", o.stdout);
    for t in entra.access_tokens().iter().chain(entra.refresh_tokens().iter()) {
        assert!(!o.stdout.contains(t.as_str()) && !o.stderr.contains(t.as_str()), "a token reached the terminal");
    }

    // Again without a terminal: served from tfauth's cache, no new sign-in.
    let mut c = bed.cmd(TFAUTH);
    c.env("AZURE_AUTHORITY_HOST", entra.url())
        .env("ARM_CLIENT_SECRET", "stale-canary")
        .args(["auth", "env", "--login", "-f", "json"])
        .args(target);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(entra.count("DeviceCode"), 1);
    let vars: Value = serde_json::from_str(&o.stdout).unwrap();
    for (k, v) in [
        ("ARM_USE_CLI", "true"),
        ("ARM_TENANT_ID", AZ_TENANT),
        ("AZURE_TENANT_ID", AZ_TENANT),
        ("ARM_SUBSCRIPTION_ID", AZ_SUBSCRIPTION),
        ("AZURE_SUBSCRIPTION_ID", AZ_SUBSCRIPTION),
        ("ARM_LOCATION", "eastus2"),
        ("AZURE_LOCATION", "eastus2"),
        ("ARM_RESOURCE_GROUP", "rg-plat-dev"),
        ("AZURE_RESOURCE_GROUP", "rg-plat-dev"),
    ] {
        assert_eq!(vars[k], v, "{k}");
    }
    assert!(vars.get("ARM_CLIENT_ID").is_none() && vars.get("ARM_USE_OIDC").is_none(), "{vars}");
    let dir = Path::new(vars["AZURE_CONFIG_DIR"].as_str().unwrap()).to_path_buf();
    assert!(dir.starts_with(bed.home().join(".config/atmos")), "{}", dir.display());
    assert_eq!(mode(&dir), 0o700);
    for f in ["azureProfile.json", "msal_token_cache.json", "config"] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    // az reads azureProfile.json (utf-8, BOM tolerated): the subscription is the default.
    let profile: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("azureProfile.json")).unwrap()).unwrap();
    let sub = &profile["subscriptions"][0];
    assert_eq!(sub["id"], AZ_SUBSCRIPTION);
    assert_eq!(sub["isDefault"], true);
    assert_eq!(sub["tenantId"], AZ_TENANT);
    assert_eq!(sub["user"], json!({"name": "jane@acme.onmicrosoft.com", "type": "user"}));
    // MSAL (what az signs in with) reads the cache: the account, and the access token from
    // the cache without a call; then a forced refresh with the stored refresh token.
    let tls = entra.tls();
    let calls = entra.token_calls();
    let cache = dir.join("msal_token_cache.json");
    let read = ms::msal_read_cache(
        &cache,
        &tls.authority(AZ_TENANT),
        ms::AZURE_CLI_CLIENT_ID,
        &[ms::ARM_SCOPE],
        tls.ca_bundle(),
    );
    assert_eq!(read["account"]["username"], "jane@acme.onmicrosoft.com", "{read}");
    assert_eq!(read["served_from_cache"], true, "{read}");
    assert_eq!(entra.token_calls(), calls, "served without a token call");
    let token = read["result"]["access_token"].as_str().unwrap();
    assert!(entra.issued_access_token(token).is_some(), "the token tfauth got from the sign-in");
    // azure-cli-core's Profile, which `az account show` and `az account get-access-token`
    // run, on a copy of the directory: the subscription, the user, and the cached token.
    let copy = tempfile::tempdir().unwrap();
    let az_dir = copy.path().join("azure");
    std::fs::create_dir(&az_dir).unwrap();
    for f in ["azureProfile.json", "msal_token_cache.json", "config"] {
        std::fs::copy(dir.join(f), az_dir.join(f)).unwrap();
    }
    let calls = entra.token_calls();
    let az = ms::az_profile(&az_dir, &tls.url(), tls.ca_bundle());
    assert_eq!(az["subscription"]["id"], AZ_SUBSCRIPTION, "{az}");
    assert_eq!(az["subscription"]["tenantId"], AZ_TENANT, "{az}");
    assert_eq!(az["subscription"]["isDefault"], true, "{az}");
    assert_eq!(az["subscription"]["user"]["name"], "jane@acme.onmicrosoft.com", "{az}");
    for which in ["default", "arm"] {
        let t = &az["tokens"][which];
        assert_eq!(t["subscription"], AZ_SUBSCRIPTION, "{which}: {az}");
        assert_eq!(t["tenant"], AZ_TENANT, "{which}: {az}");
        let issued = entra.issued_access_token(t["access_token"].as_str().unwrap()).expect("a token Entra issued");
        assert_eq!((issued.tenant.as_str(), issued.client_id.as_str()), (AZ_TENANT, ms::AZURE_CLI_CLIENT_ID));
    }
    // Neither scope az names ARM by (`management.core.windows.net//.default` by default,
    // `management.azure.com//.default` for --resource) is the one tfauth signed in for, so
    // az refreshes once for each with the refresh token tfauth stored: no prompt, no sign-in.
    assert_eq!(entra.token_calls() - calls, 2, "{:?}", entra.requests());
    assert!(entra.issued().iter().rev().take(2).all(|t| t.grant == "refresh_token"), "{:?}", entra.issued());
    assert!(
        !az["cache_files"].as_array().unwrap().iter().any(|f| f == "msal_token_cache.bin"),
        "az kept the plain cache tfauth's `config` asks for: {az}"
    );

    // whoami: the signed-in user from tfauth's cache, no call, no sign-in.
    let calls = entra.token_calls();
    let whoami = |bed: &Bed| {
        let mut c = bed.cmd(TFAUTH);
        c.env("AZURE_AUTHORITY_HOST", entra.url()).args(["auth", "whoami", "-o", "json"]).args(target);
        run(c)
    };
    let o = whoami(&bed);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let who: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.stdout));
    assert_eq!(who["cloud"], "azure");
    assert_eq!(who["principal"], "jane@acme.onmicrosoft.com", "{who}");
    assert_eq!(who["tenant"], AZ_TENANT, "{who}");
    assert_eq!(who["subscription"], AZ_SUBSCRIPTION, "{who}");
    assert_eq!(who["location"], "eastus2", "{who}");
    assert_eq!(who["resource_group"], "rg-plat-dev", "{who}");
    assert!(who["object_id"].as_str().is_some_and(|s| !s.is_empty()), "{who}");
    assert_eq!(entra.token_calls(), calls, "whoami used the cached sign-in");

    // Logging the identity out removes its AZURE_CONFIG_DIR (which held the tokens); the
    // provider's sign-in stays, so the next run needs no terminal and writes it again.
    let env_json = |bed: &Bed| {
        let mut c = bed.cmd(TFAUTH);
        c.env("AZURE_AUTHORITY_HOST", entra.url()).args(["auth", "env", "--login", "-f", "json"]).args(target);
        run(c)
    };
    let mut c = bed.cmd(TFAUTH);
    c.args(["auth", "logout", "azure/plat-dev", "-c", "blobstore", "-s", "plat-use2-dev"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!dir.exists(), "{}", o.stderr);
    assert!(o.stderr.contains("removed AZURE_CONFIG_DIR"), "{}", o.stderr);
    assert!(o.stderr.contains("tfauth auth logout --provider acme-azure"), "{}", o.stderr);
    let o = env_json(&bed);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(dir.join("msal_token_cache.json").is_file());
    assert_eq!(entra.count("DeviceCode"), 1);
    // Logging the provider out ends the sign-in: without a terminal the next run is exit 77.
    let tokens = |bed: &Bed| {
        walkdir(&bed.home().join(".cache/tfauth/azure"))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .count()
    };
    assert_eq!(tokens(&bed), 1, "the sign-in is cached");
    let mut c = bed.cmd(TFAUTH);
    c.env("AZURE_AUTHORITY_HOST", entra.url()).args([
        "auth",
        "logout",
        "--provider",
        "acme-azure",
        "-c",
        "blobstore",
        "-s",
        "plat-use2-dev",
    ]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("the Entra ID sign-in of `acme-azure`"), "{}", o.stderr);
    assert!(!dir.exists(), "{}", o.stderr);
    assert_eq!(tokens(&bed), 0, "the sign-in is gone");
    let o = env_json(&bed);
    assert_eq!(o.code, 77, "{}", o.stderr);
    let o = whoami(&bed);
    assert_eq!(o.code, 77, "whoami never signs in: {}", o.stderr);
    assert!(o.stdout.is_empty(), "{}", o.stdout);
    assert_eq!(entra.count("DeviceCode"), 1);

    // The user's own ~/.azure is untouched.
    assert_eq!(tree_hash(&own), before);
}

#[test]
fn github_run_of_an_aws_backed_azure_component_gets_azurerm_oidc_variables() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let entra = entra(EntraOpts::default());
    let bin = bed.dir.path().join("bin");
    standin_terraform(&bin);
    let rec = bed.dir.path().join("record.json");
    let request_url = format!("{}/token?api-version=2.0", token.url());
    let mut c = bed.cmd(TFAUTH);
    c.env("ATMOS_PROFILE", "github")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", &request_url)
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER)
        .env("AWS_ENDPOINT_URL_STS", moto.url())
        .env("AZURE_AUTHORITY_HOST", entra.url())
        .env("ARM_CLIENT_SECRET", "stale-secret-canary")
        .env("AZURE_CLIENT_SECRET", "stale-secret-canary")
        .env("PATH", format!("{}:{}:/usr/bin:/bin", bin.display(), venv().join("bin").display()))
        .env("RECORD", &rec)
        .args(["plan", "blobstore", "-s", "plat-use2-dev"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&rec).unwrap()).unwrap();
    let env = &r["env"];
    assert_eq!(env["AWS_PROFILE"], "plat-dev/terraform");
    assert!(r["arn"].as_str().is_some(), "boto3 failed: {}", r["error"]);
    for (k, v) in [
        ("ARM_USE_OIDC", "true"),
        ("ARM_USE_CLI", "false"),
        ("ARM_CLIENT_ID", AZ_CI_APP),
        ("AZURE_CLIENT_ID", AZ_CI_APP),
        ("ARM_TENANT_ID", AZ_TENANT),
        ("AZURE_TENANT_ID", AZ_TENANT),
        ("ARM_SUBSCRIPTION_ID", AZ_SUBSCRIPTION),
        ("AZURE_SUBSCRIPTION_ID", AZ_SUBSCRIPTION),
        ("ARM_LOCATION", "eastus2"),
        ("ARM_OIDC_REQUEST_URL", request_url.as_str()),
        ("ARM_OIDC_REQUEST_TOKEN", BEARER),
    ] {
        assert_eq!(env[k], v, "{k}");
    }
    for gone in ["ARM_CLIENT_SECRET", "AZURE_CLIENT_SECRET", "ARM_OIDC_TOKEN_FILE_PATH"] {
        assert!(env.get(gone).is_none(), "{gone} reached terraform");
    }
    let file = Path::new(env["AZURE_FEDERATED_TOKEN_FILE"].as_str().unwrap()).to_path_buf();
    assert_eq!(mode(&file), 0o600);
    let github_jwt = std::fs::read_to_string(&file).unwrap();
    assert_eq!(github_jwt.split('.').count(), 3, "a JWT");
    // The token file's token was asked for with Entra ID's audience; the exchange was
    // checked before terraform started.
    assert!(token.requests.lock().unwrap().iter().any(|r| r.contains("audience=api%3A%2F%2FAzureADTokenExchange")));
    assert_eq!(entra.count("ClientCredentials"), 1);
    // azure-identity, from the same environment, gets an ARM token with that file.
    let tls = entra.tls();
    let script = r#"
import json, os, sys
from azure.identity import WorkloadIdentityCredential
cred = WorkloadIdentityCredential(authority=sys.argv[1], connection_verify=sys.argv[2])
print(json.dumps({"token": cred.get_token("https://management.azure.com/.default").token}))
"#;
    let authority = tls.url();
    let out = std::process::Command::new(venv_bin("python"))
        .args(["-c", script, &authority, tls.ca_bundle().to_str().unwrap()])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("AZURE_CLIENT_ID", env["AZURE_CLIENT_ID"].as_str().unwrap())
        .env("AZURE_TENANT_ID", env["AZURE_TENANT_ID"].as_str().unwrap())
        .env("AZURE_FEDERATED_TOKEN_FILE", &file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let issued = entra.issued_access_token(v["token"].as_str().unwrap()).expect("issued by the stand-in");
    assert_eq!(issued.client_id, AZ_CI_APP);

    // whoami makes the exchange azurerm makes, and names the app Entra ID issued to.
    let exchanges = entra.count("ClientCredentials");
    let mut c = bed.cmd(TFAUTH);
    c.env("ATMOS_PROFILE", "github")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", &request_url)
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER)
        .env("AZURE_AUTHORITY_HOST", entra.url())
        .args(["auth", "whoami", "blobstore", "-s", "plat-use2-dev", "-i", "azure/plat-dev", "-o", "json"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let who: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.stdout));
    assert_eq!(who["principal"], format!("app {AZ_CI_APP}"), "{who}");
    assert_eq!(who["tenant"], AZ_TENANT, "{who}");
    assert_eq!(who["subscription"], AZ_SUBSCRIPTION, "{who}");
    assert_eq!(entra.count("ClientCredentials"), exchanges + 1);
    assert!(!o.stdout.contains(BEARER) && !o.stderr.contains(BEARER));
}

#[test]
fn an_entra_id_400_is_exit_77_with_the_aadsts_code_and_nothing_written() {
    let bed = Bed::new();
    let token = github_token_endpoint(BEARER);
    let entra = entra(EntraOpts::default());
    entra.set_fault(Some(ms::Fault::bad_request()));
    let mut c = bed.cmd(TFAUTH);
    c.env("ATMOS_PROFILE", "github")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", format!("{}/token", token.url()))
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER)
        .env("AZURE_AUTHORITY_HOST", entra.url())
        .args(["auth", "env", "--login", "blobstore", "-s", "plat-use2-dev", "-i", "azure/plat-dev"]);
    let o = run(c);
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(
        o.stderr.contains("refused the federated token exchange for identity `azure/plat-dev`: HTTP 400"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("AADSTS50059"), "{}", o.stderr);
    assert!(!o.stderr.contains("Trace ID"), "{}", o.stderr);
    assert!(o.stderr.contains("hint:") && o.stderr.contains(AZ_CI_APP), "{}", o.stderr);
    assert!(!o.stderr.contains(BEARER));
    assert!(!bed.home().join(".config/atmos").exists(), "files were written: {:?}", bed.written());
}

#[test]
fn env_format_github_masks_secrets_and_appends_the_rest_to_github_env() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let entra = entra(EntraOpts::default());
    let github_env = bed.dir.path().join("github_env");
    std::fs::write(&github_env, "EARLIER_STEP=kept\n").unwrap();
    let request_url = format!("{}/token?api-version=2.0", token.url());
    let cmd = |with_file: bool| {
        let mut c = bed.cmd(TFAUTH);
        c.env("ATMOS_PROFILE", "github")
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", &request_url)
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER)
            .env("AWS_ENDPOINT_URL_STS", moto.url())
            .env("AZURE_AUTHORITY_HOST", entra.url())
            .env("ARM_CLIENT_SECRET", "stale-secret-canary")
            .args(["auth", "env", "--login", "blobstore", "-s", "plat-use2-dev", "--format", "github"]);
        if with_file {
            c.env("GITHUB_ENV", &github_env);
        }
        c
    };
    let o = run(cmd(true));
    assert_eq!(o.code, 0, "{}", o.stderr);
    // stdout: the masks and nothing else; the request bearer is masked.
    assert!(o.stdout.lines().all(|l| l.starts_with("::add-mask::")), "stdout:\n{}", o.stdout);
    assert!(o.stdout.lines().any(|l| l == format!("::add-mask::{BEARER}")), "stdout:\n{}", o.stdout);
    assert!(!o.stderr.contains(BEARER));
    // The file: what was there, then the variables; the competing secret emptied.
    let file = std::fs::read_to_string(&github_env).unwrap();
    assert!(file.starts_with("EARLIER_STEP=kept\n"), "{file}");
    for line in [
        "AWS_PROFILE=plat-dev/terraform".to_string(),
        "ARM_USE_OIDC=true".to_string(),
        format!("ARM_CLIENT_ID={AZ_CI_APP}"),
        format!("ARM_SUBSCRIPTION_ID={AZ_SUBSCRIPTION}"),
        format!("ARM_OIDC_REQUEST_TOKEN={BEARER}"),
        "TFAUTH_IDENTITY=plat-dev/terraform".to_string(),
        "ARM_CLIENT_SECRET=".to_string(),
    ] {
        assert!(file.lines().any(|l| l == line), "{line} missing from $GITHUB_ENV:\n{file}");
    }
    assert!(!file.contains("stale-secret-canary"));
    // Outside Actions: refused before signing in, nothing printed.
    let calls = entra.count("ClientCredentials");
    let o = run(cmd(false));
    assert_eq!(o.code, 64, "{}", o.stderr);
    assert_eq!(entra.count("ClientCredentials"), calls, "refused after signing in");
    assert!(o.stdout.is_empty() && o.stderr.contains("GITHUB_ENV") && o.stderr.contains("hint:"), "{}", o.stderr);
}

#[test]
fn whoami_of_an_azure_cli_identity_is_what_your_own_az_login_says() {
    let bed = Bed::new();
    let profile = bed.repo().join("profiles/azcli");
    std::fs::create_dir_all(&profile).unwrap();
    std::fs::write(
        profile.join("atmos.yaml"),
        format!(
            "auth:\n  providers:\n    my-az:\n      kind: azure/cli\n  identities:\n    azure/sandbox:\n      kind: azure/subscription\n      via:\n        provider: my-az\n      principal:\n        subscription_id: \"{AZ_SUBSCRIPTION}\"\n"
        ),
    )
    .unwrap();
    let bin = bed.dir.path().join("bin");
    ms::az_account_show_cli(&bin);
    let whoami = |bed: &Bed, path: &str| {
        let mut c = bed.cmd(TFAUTH);
        c.env("ATMOS_PROFILE", "azcli").env("PATH", path).args(["auth", "whoami", "-i", "azure/sandbox", "-o", "json"]);
        run(c)
    };
    let with_az = format!("{}:/usr/bin:/bin", bin.display());

    // Not signed in: az's own message, exit 77, a hint to sign in.
    let o = whoami(&bed, &with_az);
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(o.stderr.contains("`az account show` failed") && o.stderr.contains("az login"), "{}", o.stderr);

    // The user's own `az login` (as az writes ~/.azure/azureProfile.json): the user it names.
    let own = bed.home().join(".azure");
    std::fs::create_dir_all(&own).unwrap();
    let profile_json = json!({"installationId": "x", "subscriptions": [{
        "id": AZ_SUBSCRIPTION, "name": "Plat Dev", "state": "Enabled", "tenantId": AZ_TENANT,
        "isDefault": true, "environmentName": "AzureCloud", "homeTenantId": AZ_TENANT,
        "user": {"name": "bob@acme.onmicrosoft.com", "type": "user"}, "managedByTenants": []
    }]});
    std::fs::write(own.join("azureProfile.json"), profile_json.to_string()).unwrap();
    let before = tree_hash(&own);
    let o = whoami(&bed, &with_az);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let who: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.stdout));
    assert_eq!(who["principal"], "bob@acme.onmicrosoft.com", "{who}");
    assert_eq!(who["tenant"], AZ_TENANT, "{who}");
    assert_eq!(who["subscription"], AZ_SUBSCRIPTION, "{who}");
    assert_eq!(who["expiration"], Value::Null, "az renews its own tokens: {who}");
    assert_eq!(tree_hash(&own), before, "whoami wrote nothing into ~/.azure");

    // Without az: exit 69, saying what is missing.
    let o = whoami(&bed, "/usr/bin:/bin");
    assert_eq!(o.code, 69, "{}", o.stderr);
    assert!(
        o.stderr.contains("cannot run `az account show`") && o.stderr.contains("install the Azure CLI"),
        "{}",
        o.stderr
    );
}

/// ACR's token exchange (`POST /oauth2/exchange`): form fields as `az acr login` sends them;
/// answers a refresh token (a JWT with `exp`, as ACR's are) for the fields it was given.
fn acr_exchange() -> Stub {
    Stub::start(Box::new(|req: &str, _| {
        let Some(body) = req.split("\r\n\r\n").nth(1) else { return (400, "{}".into()) };
        if !req.starts_with("POST /oauth2/exchange ")
            || !req.to_ascii_lowercase().contains("content-type: application/x-www-form-urlencoded")
        {
            return (404, "{\"errors\":[{\"code\":\"NOT_FOUND\"}]}".into());
        }
        let form = form_of(body);
        if form.get("grant_type").map(String::as_str) != Some("access_token") || !form.contains_key("access_token") {
            return (400, "{\"errors\":[{\"code\":\"UNSUPPORTED\",\"message\":\"bad grant\"}]}".into());
        }
        let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3 * 3600;
        let b64 = |v: &Value| base64_url(v.to_string().as_bytes());
        let claims =
            json!({"exp": exp, "aud": form["service"], "tenant": form["tenant"], "grant_type": "refresh_token"});
        let jwt = format!("{}.{}.c2ln", b64(&json!({"alg": "RS256"})), b64(&claims));
        (200, json!({"refresh_token": jwt}).to_string())
    }))
}

/// An `application/x-www-form-urlencoded` body's fields.
fn form_of(body: &str) -> std::collections::HashMap<String, String> {
    let decode = |v: &str| percent_encoding::percent_decode_str(&v.replace('+', " ")).decode_utf8_lossy().into_owned();
    body.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect()
}

fn base64_url(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[test]
fn acr_login_exchanges_the_identitys_arm_token_for_a_registry_refresh_token() {
    let bed = Bed::new();
    let token = github_token_endpoint(BEARER);
    let entra = entra(EntraOpts::default());
    let acr = acr_exchange();
    std::fs::write(
        bed.repo().join("profiles/github/zz-acr.yaml"),
        format!("auth:\n  identities:\n    azure/ci:\n      kind: azure/subscription\n      via:\n        provider: acme-azure\n      principal:\n        subscription_id: \"{AZ_SUBSCRIPTION}\"\n  integrations:\n    acr/main:\n      kind: azure/acr\n      via:\n        identity: azure/ci\n      spec:\n        registry:\n          name: AcmeImages\n    acr/bad:\n      kind: azure/acr\n      via:\n        identity: azure/ci\n      spec:\n        auto_provision: false\n        registry:\n          name: acme-images\n"),
    )
    .unwrap();
    let tfauth = |args: &[&str]| {
        let mut c = bed.cmd(TFAUTH);
        c.env("ATMOS_PROFILE", "github")
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", format!("{}/token?api-version=2.0", token.url()))
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER)
            .env("AZURE_AUTHORITY_HOST", entra.url())
            .env("TFAUTH_ACR_ENDPOINT", acr.url())
            .env("ATMOS_AUTH_REALM", "acr-test")
            .args(args);
        run(c)
    };
    let o = tfauth(&["auth", "ecr-login", "acr/main"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.is_empty());
    assert!(
        o.stderr.starts_with("logged in to acmeimages.azurecr.io (expires ")
            && o.stderr.ends_with(" UTC) via azure/ci\n"),
        "{}",
        o.stderr
    );
    // One exchange, with an ARM token Entra ID issued to the app for the federated token.
    let reqs = acr.requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    let body = reqs[0].split("\r\n\r\n").nth(1).unwrap();
    let form = form_of(body);
    assert_eq!(form["service"], "acmeimages.azurecr.io");
    assert_eq!(form["tenant"], AZ_TENANT);
    let claims = jwt_claims(&form["access_token"]);
    assert_eq!(claims["aud"], "https://management.azure.com", "{claims}");
    assert_eq!(claims["appid"], AZ_CI_APP, "{claims}");
    assert_eq!(entra.count("ClientCredentials"), 1);
    // The Docker login: ACR's user, the refresh token; the ARM token is nowhere on disk or stderr.
    let file = bed.home().join(".config/atmos/acr-test/docker/config.json");
    assert_eq!(mode(&file), 0o600);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let auth = doc["auths"]["acmeimages.azurecr.io"]["auth"].as_str().unwrap();
    let py = format!("import base64; print(base64.b64decode('{auth}').decode(), end='')");
    let o2 = run(python_c(&py));
    let (user, password) = o2.stdout.split_once(':').unwrap();
    assert_eq!(user, "00000000-0000-0000-0000-000000000000");
    assert_eq!(jwt_claims(password)["aud"], "acmeimages.azurecr.io");
    assert!(!std::fs::read_to_string(&file).unwrap().contains(&form["access_token"]));
    assert!(!o.stderr.contains(password) && !o.stderr.contains(&form["access_token"]));

    // A name ACR cannot have: a warning at validate, refused when it runs.
    let o = tfauth(&["auth", "ecr-login", "acr/bad"]);
    assert_eq!(o.code, 65, "{}", o.stderr);
    assert!(
        o.stderr.contains(
            "integration `acr/bad` (azure/acr): `spec.registry.name` `acme-images` is not an ACR registry name"
        ),
        "{}",
        o.stderr
    );
    assert_eq!(acr.requests.lock().unwrap().len(), 1, "nothing was asked");
}

/// A JWT's claims (unverified).
fn jwt_claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    let py = format!(
        "import base64, sys; p = '{part}'; sys.stdout.write(base64.urlsafe_b64decode(p + '=' * (-len(p) % 4)).decode())"
    );
    let o = run(python_c(&py));
    serde_json::from_str(&o.stdout).unwrap_or_else(|_| panic!("not a JWT: {jwt}: {}", o.stderr))
}
