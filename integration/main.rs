//! Integration suite: tfauth and atmos-auth-helper against real servers and clients.
//! moto serves STS, S3 and ECR on loopback; boto3, the AWS CLI and Terraform 1.0.3 consume
//! what tfauth writes. Needs `integration/setup` (the README's test command runs it).

mod action;
mod arm_standin;
mod auth_list;
mod aws_portal;
mod azure_interactive;
mod console;
mod doctor;
mod ecr;
mod eks;
mod fidelity;
mod first_day;
mod google_standin;
mod isolation;
mod keyring;
mod keyring_file;
mod keyring_use;
mod kube_clouds;
mod logging;
mod microsoft_standin;
mod multicloud;
mod saml_browser;
mod saml_login;
mod saml_standin;
mod serve;
mod shell;
mod sso_client;
mod sso_login;
mod sts_answers;
mod support;
mod terraform_run;
mod trust;
mod webflow_standin;
mod wire;
mod workspaces;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use support::*;

const BEARER: &str = "request-token-canary";

/// Environment for a GitHub-Actions-shaped run against moto.
fn github_env(cmd: &mut std::process::Command, moto: &Moto, token: &Stub) {
    cmd.env("ATMOS_PROFILE", "github")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", format!("{}/token?api-version=2.0", token.url()))
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER)
        .env("AWS_ENDPOINT_URL_STS", moto.url());
}

fn record(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the stand-in terraform ran")).unwrap()
}

#[test]
fn plan_runs_terraform_in_the_component_dir_as_the_components_identity() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let bin = bed.dir.path().join("bin");
    standin_terraform(&bin);
    let rec = bed.dir.path().join("record.json");
    let mut c = bed.cmd(TFAUTH);
    github_env(&mut c, &moto, &token);
    c.env("PATH", format!("{}:{}:/usr/bin:/bin", bin.display(), venv().join("bin").display()))
        .env("RECORD", &rec)
        .env("AWS_ACCESS_KEY_ID", "AKIASTALECANARY")
        .env("AWS_SECRET_ACCESS_KEY", "stale-secret-canary")
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.2/creds")
        .args(["plan", "vpc", "-s", "plat-use2-dev", "-out=plan.bin"]);
    let o = run(c);
    assert_eq!(o.code, 0, "stderr:\n{}", o.stderr);
    let r = record(&rec);
    assert_eq!(
        r["argv"],
        serde_json::json!(["plan", "-var-file=plat-use2-dev-vpc.terraform.tfvars.json", "-out=plan.bin"])
    );
    assert_eq!(r["cwd"], bed.repo().join("components/terraform/vpc").display().to_string());
    let env = &r["env"];
    assert_eq!(env["AWS_PROFILE"], "acme/network");
    assert_eq!(env["AWS_SDK_LOAD_CONFIG"], "1");
    assert_eq!(env["AWS_EC2_METADATA_DISABLED"], "true");
    assert_eq!(env["AWS_REGION"], "us-east-2");
    for gone in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_CONTAINER_CREDENTIALS_FULL_URI"] {
        assert!(env.get(gone).is_none(), "{gone} reached terraform");
    }
    let config = Path::new(env["AWS_CONFIG_FILE"].as_str().unwrap());
    assert!(config.starts_with(bed.home().join(".config/atmos")), "{}", config.display());
    assert_eq!(std::fs::metadata(config).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(config.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    let text = std::fs::read_to_string(config).unwrap();
    assert!(text.contains(&format!("credential_process = {HELPER} --identity acme/network")), "{text}");
    // boto3, with exactly the environment terraform got, is the component's role.
    let arn = r["arn"].as_str().unwrap_or_else(|| panic!("boto3 failed: {}", r["error"]));
    assert!(arn.starts_with("arn:aws:sts::444444444444:assumed-role/acme-plat-dev-network-admin/"), "{arn}");
    // init and the workspace selection ran first, in the same directory, as the same role.
    let log = std::fs::read_to_string(rec.with_extension("json.log")).unwrap();
    let calls: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let argvs: Vec<&serde_json::Value> = calls.iter().map(|c| &c["argv"]).collect();
    assert_eq!(
        argvs[..2],
        [&serde_json::json!(["init", "-reconfigure"]), &serde_json::json!(["workspace", "select", "plat-use2-dev"])]
    );
    for c in &calls {
        assert_eq!(c["cwd"], r["cwd"]);
        assert_eq!(c["arn"], r["arn"], "{}", c["error"]);
    }
    // The token request carried the bearer and the provider's audience.
    let reqs = token.requests.lock().unwrap();
    assert!(reqs.iter().all(|r| r.contains("audience=sts.amazonaws.com")), "{reqs:?}");
}

#[test]
fn aws_cli_uses_a_user_written_credential_process() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let cfg = bed.home().join("my-aws-config");
    std::fs::write(
        &cfg,
        format!("[profile planner]\ncredential_process = {HELPER} --identity acme/planner\nregion = us-east-2\n"),
    )
    .unwrap();
    let mut c = bed.cmd(venv_bin("aws"));
    github_env(&mut c, &moto, &token);
    c.env("AWS_CONFIG_FILE", &cfg).args(["sts", "get-caller-identity", "--profile", "planner", "--output", "json"]);
    let o = run(c);
    assert_eq!(o.code, 0, "stderr:\n{}", o.stderr);
    let doc: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let arn = doc["Arn"].as_str().unwrap();
    assert!(arn.starts_with("arn:aws:sts::999999999999:assumed-role/acme-gbl-identity-planner/"), "{arn}");
}

#[test]
fn helper_prints_exactly_one_json_document() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let mut c = bed.cmd(HELPER);
    github_env(&mut c, &moto, &token);
    c.args(["--identity", "acme/planner"]);
    let o = run(c);
    assert_eq!(o.code, 0, "stderr:\n{}", o.stderr);
    assert_eq!(o.stdout.lines().count(), 1, "{}", o.stdout);
    let doc: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(doc["Version"], 1);
    assert!(doc["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
    let exp = doc["Expiration"].as_str().unwrap();
    assert!(exp.ends_with('Z') && exp.len() == 20, "{exp}");
    assert!(o.stderr.is_empty(), "{}", o.stderr);
}

#[test]
fn two_hundred_helpers_on_a_cold_cache_make_one_assume_role() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let config = bed.repo().join("atmos.yaml");
    let mut children = Vec::new();
    for _ in 0..200 {
        let mut c = bed.cmd(HELPER);
        github_env(&mut c, &moto, &token);
        c.args(["--identity", "plat-dev/terraform", "--config"]).arg(&config).args(["--profile", "github"]);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        children.push(c.spawn().unwrap());
    }
    let mut keys = std::collections::HashSet::new();
    for child in children {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("whole JSON, never a partial file");
        keys.insert(doc["AccessKeyId"].as_str().unwrap().to_string());
    }
    assert_eq!(keys.len(), 1, "every helper handed out the same session");
    assert_eq!(moto.count("AssumeRole"), 1, "single flight: one AssumeRole reached STS");
    assert_eq!(moto.count("AssumeRoleWithWebIdentity"), 1);
    assert_eq!(token.hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// Runs the helper for acme/planner against `sts` (an endpoint URL) and a token endpoint.
fn helper_against(bed: &Bed, sts: &str, token: &Stub) -> Out {
    let mut c = bed.cmd(HELPER);
    c.env("ATMOS_PROFILE", "github")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", format!("{}/token?x=1", token.url()))
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER)
        .env("AWS_ENDPOINT_URL_STS", sts)
        .args(["--identity", "acme/planner"]);
    run(c)
}

fn no_cache_entries(bed: &Bed) {
    let entries: Vec<_> = bed
        .written()
        .into_iter()
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json" || e == "tmp") && p.to_string_lossy().contains("/tfauth/aws/")
        })
        .collect();
    assert!(entries.is_empty(), "a failed refresh left {entries:?}");
}

#[test]
fn faults_have_their_exit_codes_and_hints_and_write_nothing() {
    let bed = Bed::new();
    let token = github_token_endpoint(BEARER);
    // Unreachable: nothing listens there.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let o = helper_against(&bed, &closed, &token);
    assert_eq!(o.code, 69, "{}", o.stderr);
    assert!(
        o.stderr.contains("cannot reach STS at http://127.0.0.1:") && o.stderr.contains("hint: check the network"),
        "{}",
        o.stderr
    );
    assert!(o.stdout.is_empty());
    for (code, status, exit, hint) in [
        ("AccessDenied", 403, 77, "trust policy"),
        ("ExpiredToken", 400, 77, "tfauth auth login --identity acme/planner"),
        ("InvalidIdentityToken", 400, 77, "audience"),
    ] {
        let sts = sts_error_endpoint(code, status);
        let o = helper_against(&bed, &sts.url(), &token);
        assert_eq!(o.code, exit, "{code}: {}", o.stderr);
        assert!(
            o.stderr.contains(code)
                && o.stderr.contains("acme/planner")
                && o.stderr.contains("role/acme-gbl-identity-planner"),
            "{code}: {}",
            o.stderr
        );
        assert!(o.stderr.contains(hint), "{code}: {}", o.stderr);
        assert!(o.stdout.is_empty());
    }
    // Throttling is retried with backoff, then reported as "try again".
    let sts = sts_error_endpoint("Throttling", 400);
    let o = helper_against(&bed, &sts.url(), &token);
    assert_eq!(o.code, 75, "{}", o.stderr);
    assert!(sts.hits.load(std::sync::atomic::Ordering::SeqCst) >= 3, "throttling was not retried");
    // A token endpoint that refuses the bearer.
    let moto = Moto::start();
    let bad = github_token_endpoint("another-token");
    let o = helper_against(&bed, &moto.url(), &bad);
    assert_eq!(o.code, 69, "{}", o.stderr);
    assert!(o.stderr.contains("HTTP 401") && o.stderr.contains("hint:"), "{}", o.stderr);
    no_cache_entries(&bed);
    {
        let canary = BEARER;
        assert!(!o.stderr.contains(canary));
    }
}

#[test]
fn real_terraform_init_and_apply_with_an_s3_backend_in_moto() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    create_state_bucket(&moto);
    let dir = bed.repo().join("components/terraform/state");
    std::fs::create_dir_all(&dir).unwrap();
    // The component's own backend block (the stack's generated one is switched off below).
    std::fs::write(
        dir.join("main.tf"),
        format!(
            r#"terraform {{
  backend "s3" {{
    bucket                      = "acme-tfstate"
    key                         = "state/terraform.tfstate"
    region                      = "us-east-2"
    endpoint                    = "{m}"
    sts_endpoint                = "{m}"
    force_path_style            = true
    skip_region_validation      = true
    skip_metadata_api_check     = true
  }}
}}
output "ok" {{ value = "applied" }}
"#,
            m = moto.url()
        ),
    )
    .unwrap();
    std::fs::write(
        bed.repo().join("stacks/orgs/acme/plat/dev/state-test.yaml"),
        "import: [orgs/acme/plat/dev/_defaults, mixins/region/us-east-2]\nvars: {environment: test}\ncomponents: {terraform: {state: {}}}\n",
    )
    .unwrap();
    for args in [
        &["init", "state", "-s", "plat-test-dev", "-input=false", "-no-color"][..],
        &["apply", "state", "-s", "plat-test-dev", "-auto-approve", "-input=false", "-no-color"],
    ] {
        let mut c = bed.cmd(TFAUTH);
        github_env(&mut c, &moto, &token);
        c.env("TF_IN_AUTOMATION", "1").env("ATMOS_COMPONENTS_TERRAFORM_AUTO_GENERATE_BACKEND_FILE", "false").args(args);
        let o = run(c);
        assert_eq!(o.code, 0, "{args:?}\nstdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
    }
    assert!(!dir.join("backend.tf.json").exists(), "the variable switched the generated backend off");
    // The stack's workspace, under Terraform's default workspace_key_prefix `env:`.
    let check = format!(
        "import boto3; print(boto3.client('s3', endpoint_url='{}', region_name='us-east-2', aws_access_key_id='x', aws_secret_access_key='y').get_object(Bucket='acme-tfstate', Key='env:/plat-test-dev/state/terraform.tfstate')['Body'].read().decode())",
        moto.url()
    );
    let o = run({
        let mut c = bed.cmd(venv_bin("python"));
        c.args(["-c", &check]);
        c
    });
    assert_eq!(o.code, 0, "state object missing: {}", o.stderr);
    assert!(o.stdout.contains("\"applied\""), "{}", o.stdout);
    // Terraform's S3 backend called STS through the helper (the chain's roles were assumed).
    assert!(moto.count("AssumeRole") >= 1);
}

#[test]
fn a_long_running_child_gets_new_keys_when_the_margin_says_so() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    // One-hour sessions with a margin of 3597s: each session is "due" 3s after it was issued.
    // The child keeps asking its AWS SDK for credentials, as a long apply does; tfauth runs once.
    let script = bed.dir.path().join("child.py");
    std::fs::write(
        &script,
        r#"
import boto3, json, os, time
keys = []
for _ in range(10):
    s = boto3.Session()
    c = s.get_credentials().get_frozen_credentials()
    keys.append(c.access_key)
    s.client("sts").get_caller_identity()
    time.sleep(1)
json.dump(keys, open(os.environ["RECORD"], "w"))
"#,
    )
    .unwrap();
    let rec = bed.dir.path().join("keys.json");
    let mut c = bed.cmd(TFAUTH);
    github_env(&mut c, &moto, &token);
    c.env("TFAUTH_REFRESH_MARGIN", "3597s")
        .env("RECORD", &rec)
        .args(["auth", "exec", "vpc", "-s", "plat-use2-dev", "--"])
        .arg(venv_bin("python"))
        .arg(&script);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let keys: Vec<String> = serde_json::from_str(&std::fs::read_to_string(&rec).unwrap()).unwrap();
    let distinct: std::collections::BTreeSet<&String> = keys.iter().collect();
    assert!(distinct.len() >= 2, "the child never got new keys: {keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("ASIA")), "{keys:?}");
}

#[test]
fn a_helper_killed_while_holding_the_lock_does_not_block_the_next() {
    let bed = Bed::new();
    let token = github_token_endpoint(BEARER);
    // An STS that accepts and never answers keeps the first helper inside the lock.
    let hang = Stub::start(Box::new(|_, _| {
        std::thread::sleep(std::time::Duration::from_secs(30));
        (500, String::new())
    }));
    let mut c = bed.cmd(HELPER);
    c.env("ATMOS_PROFILE", "github")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", format!("{}/token?x=1", token.url()))
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER)
        .env("AWS_ENDPOINT_URL_STS", hang.url())
        .args(["--identity", "acme/planner"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut first = c.spawn().unwrap();
    let started = std::time::Instant::now();
    while hang.hits.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(started.elapsed().as_secs() < 20, "the first helper never reached STS");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    first.kill().unwrap(); // SIGKILL, inside the lock
    first.wait().unwrap();
    let moto = Moto::start();
    let begun = std::time::Instant::now();
    let o = helper_against(&bed, &moto.url(), &token);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(begun.elapsed().as_secs() < 20, "the next helper waited for a dead lock holder");
    no_temp_files(&bed);
}

fn no_temp_files(bed: &Bed) {
    let tmp: Vec<_> = bed.written().into_iter().filter(|p| p.extension().is_some_and(|e| e == "tmp")).collect();
    assert!(tmp.is_empty(), "{tmp:?}");
}

#[test]
fn secrets_stay_out_of_argv_logs_errors_and_wide_files_even_under_umask_000() {
    let bed = Bed::new();
    let moto = Moto::start();
    let canary_secret = "wJalrCANARYSECRETKEYxx";
    std::fs::write(
        bed.repo().join("profiles/github/zz-user.yaml"),
        "auth:\n  identities:\n    breakglass: {kind: aws/user, region: us-east-2, credentials: {access_key_id: AKIACANARYKEYID00000, secret_access_key: !env BG_SECRET}}\n    bg/admin: {kind: aws/assume-role, via: {identity: breakglass}, principal: {assume_role: \"arn:aws:iam::111111111111:role/bg\"}}\n",
    )
    .unwrap();
    let bin = bed.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // A stand-in terraform that, while it runs, scans every process's argv for the canary.
    std::fs::write(
        bin.join("terraform"),
        format!(
            "#!{}\nimport os, sys\nhits = []\nfor pid in os.listdir('/proc'):\n    try:\n        if '{canary_secret}'.encode() in open(f'/proc/{{pid}}/cmdline','rb').read(): hits.append(pid)\n    except Exception: pass\nopen(os.environ['RECORD'],'w').write(','.join(hits))\n",
            venv_bin("python").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(bin.join("terraform"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let rec = bed.dir.path().join("argv-hits");
    let tfauth_cmd = |args: &str| {
        let mut c = bed.cmd("sh");
        c.env("ATMOS_PROFILE", "github")
            .env("AWS_ENDPOINT_URL_STS", moto.url())
            .env("BG_SECRET", canary_secret)
            .env("ATMOS_LOGS_LEVEL", "trace")
            .env("RECORD", &rec)
            .env("PATH", format!("{}:{}:/usr/bin:/bin", bin.display(), venv().join("bin").display()))
            .args(["-c", &format!("umask 000; exec {TFAUTH} -vv {args}")]);
        c
    };
    for args in [
        "plan vpc -s plat-use2-dev --identity=bg/admin",
        "plan vpc -s plat-use2-dev --identity=bg/admin --static-credentials",
    ] {
        let o = run(tfauth_cmd(args));
        assert_eq!(o.code, 0, "{args}: {}", o.stderr);
        assert!(!o.stdout.contains(canary_secret) && !o.stderr.contains(canary_secret), "{args}: leaked in output");
        assert_eq!(std::fs::read_to_string(&rec).unwrap(), "", "{args}: the secret was in some process's argv");
    }
    for args in [
        "describe component vpc -s plat-use2-dev --identity=bg/admin",
        "plan vpc -s plat-use2-dev --identity=bg/admin --dry-run",
    ] {
        let o = run(tfauth_cmd(args));
        assert_eq!(o.code, 0, "{args}: {}", o.stderr);
        assert!(!o.stdout.contains(canary_secret) && !o.stderr.contains(canary_secret), "{args}: leaked");
    }
    // An error path that carries the identity's data: STS refuses.
    let deny = sts_error_endpoint("InvalidClientTokenId", 403);
    let mut c = tfauth_cmd("plan dns -s plat-use2-dev --identity=bg/admin");
    c.env("AWS_ENDPOINT_URL_STS", deny.url()).env("TFAUTH_REFRESH_MARGIN", "100h");
    let o = run(c);
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(!o.stderr.contains(canary_secret), "{}", o.stderr);
    // Every file tfauth wrote is 0600, every directory 0700, despite umask 000.
    for p in bed.written() {
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        if p.is_dir() {
            assert_eq!(mode, 0o700, "{}", p.display());
        } else {
            assert_eq!(mode, 0o600, "{}", p.display());
        }
    }
    // --static-credentials put the keys in an isolated credentials file (0600, checked
    // above): its own addressed directory, beside the credential_process run's.
    let creds: Vec<_> = bed.written().into_iter().filter(|p| p.ends_with("credentials")).collect();
    assert!(creds.len() >= 2, "{creds:?}");
    let with_keys = creds.iter().filter(|p| std::fs::read_to_string(p).unwrap().contains("aws_session_token = "));
    assert_eq!(with_keys.count(), 1, "{creds:?}");
}

#[test]
fn moto_checking_signatures_accepts_our_keys_and_rejects_wrong_ones() {
    let bed = Bed::new();
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
    // In the free calls: a user with an admin policy and an access key.
    let py = format!(
        r#"
import boto3, json
iam = boto3.client("iam", endpoint_url="{m}", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
iam.create_user(UserName="ci")
iam.put_user_policy(UserName="ci", PolicyName="all", PolicyDocument=json.dumps({{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": "*", "Resource": "*"}}]}}))
k = iam.create_access_key(UserName="ci")["AccessKey"]
print(k["AccessKeyId"], k["SecretAccessKey"])
"#,
        m = moto.url()
    );
    let o = run({
        let mut c = bed.cmd(venv_bin("python"));
        c.args(["-c", &py]);
        c
    });
    assert_eq!(o.code, 0, "{}", o.stderr);
    let mut parts = o.stdout.split_whitespace();
    let (key, secret) = (parts.next().unwrap().to_string(), parts.next().unwrap().to_string());
    std::fs::write(
        bed.repo().join("profiles/github/zz-user.yaml"),
        "auth:\n  identities:\n    ci: {kind: aws/user, region: us-east-1, credentials: {access_key_id: !env CI_KEY, secret_access_key: !env CI_SECRET}}\n    ci/admin: {kind: aws/assume-role, via: {identity: ci}, principal: {assume_role: \"arn:aws:iam::123456789012:role/admin\"}}\n",
    )
    .unwrap();
    let helper = |secret: &str| {
        let mut c = bed.cmd(HELPER);
        c.env("ATMOS_PROFILE", "github")
            .env("AWS_ENDPOINT_URL_STS", moto.url())
            .env("CI_KEY", &key)
            .env("CI_SECRET", secret)
            .args(["--identity", "ci/admin"]);
        run(c)
    };
    let wrong = helper("not-the-secret-at-all");
    assert_eq!(wrong.code, 77, "a wrong secret must fail the signature check: {}", wrong.stderr);
    assert!(wrong.stderr.contains("hint:"), "{}", wrong.stderr);
    let good = helper(&secret);
    assert_eq!(good.code, 0, "{}", good.stderr);
    let doc: serde_json::Value = serde_json::from_str(&good.stdout).unwrap();
    assert!(doc["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
}

#[test]
fn auth_env_and_exec_use_the_same_environment_as_a_run() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let mut c = bed.cmd(TFAUTH);
    github_env(&mut c, &moto, &token);
    c.env("AWS_ACCESS_KEY_ID", "AKIASTALE").args([
        "auth",
        "env",
        "--login",
        "vpc",
        "-s",
        "plat-use2-dev",
        "-f",
        "bash",
    ]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("unset AWS_ACCESS_KEY_ID\n"), "{}", o.stdout);
    assert!(o.stdout.contains("export AWS_PROFILE=acme/network\n"), "{}", o.stdout);
    // Source it in a real shell and ask the AWS CLI who we are.
    let script =
        format!("{}\n{} sts get-caller-identity --query Arn --output text", o.stdout, venv_bin("aws").display());
    let mut sh = bed.cmd("bash");
    sh.env("AWS_ENDPOINT_URL_STS", moto.url()).env("AWS_ACCESS_KEY_ID", "AKIASTALE").args(["-c", &script]);
    let arn = run(sh);
    assert_eq!(arn.code, 0, "{}", arn.stderr);
    assert!(
        arn.stdout.trim().starts_with("arn:aws:sts::444444444444:assumed-role/acme-plat-dev-network-admin/"),
        "{}",
        arn.stdout
    );
    // json lists the same variables; exec runs the command with them.
    let mut c = bed.cmd(TFAUTH);
    github_env(&mut c, &moto, &token);
    c.args(["auth", "env", "--login", "vpc", "-s", "plat-use2-dev", "-f", "json"]);
    let j = run(c);
    let doc: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(doc["AWS_PROFILE"], "acme/network");
    let mut c = bed.cmd(TFAUTH);
    github_env(&mut c, &moto, &token);
    c.args([
        "auth",
        "exec",
        "--identity=acme/planner",
        "--",
        "aws",
        "sts",
        "get-caller-identity",
        "--query",
        "Arn",
        "--output",
        "text",
    ]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("assumed-role/acme-gbl-identity-planner/"), "{}", o.stdout);
}

/// A bed whose github profile also defines `extra` (YAML under `auth.identities`).
fn with_identities(bed: &Bed, extra: &str) {
    std::fs::write(bed.repo().join("profiles/github/zz-extra.yaml"), format!("auth:\n  identities:\n{extra}")).unwrap();
}

#[test]
fn ambient_and_environment_keys_start_chains() {
    let bed = Bed::new();
    let moto = Moto::start();
    with_identities(
        &bed,
        "    amb: {kind: aws/ambient}\n    amb/admin: {kind: aws/assume-role, via: {identity: amb}, principal: {assume_role: \"arn:aws:iam::222222222222:role/from-ambient\"}}\n    envuser: {kind: aws/user, credentials: {access_key_id: !env AWS_ACCESS_KEY_ID, secret_access_key: !env AWS_SECRET_ACCESS_KEY}}\n    envuser/admin: {kind: aws/assume-role, via: {identity: envuser}, principal: {assume_role: \"arn:aws:iam::333333333333:role/from-env-user\"}}\n    bare: {kind: aws/user}\n    bare/admin: {kind: aws/assume-role, via: {identity: bare}, principal: {assume_role: \"arn:aws:iam::333333333333:role/from-env-user\"}}\n",
    );
    for (identity, role) in [
        ("amb/admin", "222222222222:assumed-role/from-ambient/"),
        ("envuser/admin", "333333333333:assumed-role/from-env-user/"),
    ] {
        let mut c = bed.cmd(TFAUTH);
        c.env("ATMOS_PROFILE", "github")
            .env("AWS_ENDPOINT_URL_STS", moto.url())
            .env("AWS_ACCESS_KEY_ID", "AKIAAMBIENT")
            .env("AWS_SECRET_ACCESS_KEY", "ambient-secret")
            .args([
                "auth",
                "exec",
                &format!("--identity={identity}"),
                "--",
                "aws",
                "sts",
                "get-caller-identity",
                "--query",
                "Arn",
                "--output",
                "text",
            ]);
        let o = run(c);
        assert_eq!(o.code, 0, "{identity}: {}", o.stderr);
        assert!(o.stdout.contains(role), "{identity}: {}", o.stdout);
    }
    // An aws/user whose configuration names no keys does not take the shell's (Atmos never
    // does): that is aws/ambient's job, or `!env` in its credentials, as above.
    let mut c = bed.cmd(TFAUTH);
    c.env("ATMOS_PROFILE", "github")
        .env("AWS_ENDPOINT_URL_STS", moto.url())
        .env("AWS_ACCESS_KEY_ID", "AKIAAMBIENT")
        .env("AWS_SECRET_ACCESS_KEY", "ambient-secret")
        .env("ATMOS_KEYRING_TYPE", "memory")
        .args(["auth", "exec", "--identity=bare/admin", "--", "aws", "sts", "get-caller-identity"]);
    let o = run(c);
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(o.stderr.contains("identity `bare` (aws/user) has no access key"), "{}", o.stderr);
    assert!(
        o.stderr.contains("hint: store its keys with `tfauth auth user configure --identity bare`"),
        "{}",
        o.stderr
    );
    assert_eq!(moto.count("GetSessionToken") + moto.count("AssumeRole"), 2, "only the two chains above called STS");
}

#[test]
fn a_helper_that_ends_up_calling_itself_fails_instead_of_hanging() {
    let bed = Bed::new();
    let moto = Moto::start();
    with_identities(&bed, "    loop: {kind: aws/ambient}\n");
    // The ambient credentials come from a profile whose credential_process is the helper,
    // for the very identity being resolved.
    let cfg = bed.home().join("aws-config");
    std::fs::write(
        &cfg,
        format!(
            "[profile mine]\ncredential_process = {HELPER} --identity loop --config {} --profile github\n",
            bed.repo().join("atmos.yaml").display()
        ),
    )
    .unwrap();
    let mut c = bed.cmd(HELPER);
    c.env("ATMOS_PROFILE", "github")
        .env("AWS_ENDPOINT_URL_STS", moto.url())
        .env("AWS_CONFIG_FILE", &cfg)
        .env("AWS_PROFILE", "mine")
        .args(["--identity", "loop"]);
    let started = std::time::Instant::now();
    let o = run(c);
    assert!(started.elapsed().as_secs() < 60, "took {:?}", started.elapsed());
    assert_ne!(o.code, 0);
    assert!(o.stdout.is_empty(), "{}", o.stdout);
    // The inner helper (run by the SDK for the ambient profile) saw itself among its
    // ancestors and refused; the outer one reports no ambient credentials.
    assert!(o.stderr.contains("the credential helper for identity `loop` ended up calling itself"), "{}", o.stderr);
    assert!(o.stderr.contains("no ambient AWS credentials for identity `loop`"), "{}", o.stderr);
    assert!(!o.stderr.contains("\u{1b}["), "no colour codes when stderr is not a terminal");
}

#[test]
fn mfa_code_is_read_from_the_terminal_and_refused_without_one() {
    let bed = Bed::new();
    let moto = Moto::start();
    with_identities(
        &bed,
        "    mfa-user: {kind: aws/user, region: us-east-1, credentials: {access_key_id: AKIAMFA, secret_access_key: mfa-secret, mfa_arn: \"arn:aws:iam::111111111111:mfa/jane\"}}\n",
    );
    // No terminal: exit 77 at once, with the login command.
    let mut c = bed.cmd(HELPER);
    c.env("ATMOS_PROFILE", "github").env("AWS_ENDPOINT_URL_STS", moto.url()).args(["--identity", "mfa-user"]);
    let o = run(c);
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(
        o.stderr.contains("needs an MFA code") && o.stderr.contains("tfauth auth login --identity mfa-user"),
        "{}",
        o.stderr
    );
    assert_eq!(moto.count("GetSessionToken"), 0);
    // Under a pseudo-terminal the prompt goes to the terminal; stdout keeps only the JSON.
    let out = bed.dir.path().join("creds.json");
    let inner = format!("{HELPER} --identity mfa-user > {}", out.display());
    let mut c = bed.cmd("script");
    c.env_remove("CI")
        .env("ATMOS_PROFILE", "github")
        .env("AWS_ENDPOINT_URL_STS", moto.url())
        .args(["-qec", &inner, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"123456\n").unwrap();
    let o = child.wait_with_output().unwrap();
    let screen = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{screen}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(screen.contains("MFA code for mfa-user (arn:aws:iam::111111111111:mfa/jane)"), "{screen}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).expect("only JSON on stdout");
    assert!(doc["SessionToken"].as_str().is_some());
    assert_eq!(moto.count("GetSessionToken"), 1);
}

/// Issue 17, point 4: `auth configure-profiles` writes a profile per AWS identity into the
/// user's own AWS config; the AWS CLI and boto3, run outside the repository, get the
/// assumed role through it; a second run changes nothing; the user's own lines stay.
#[test]
fn configure_profiles_serves_the_aws_cli_and_boto3_from_anywhere_and_keeps_the_users_lines() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let aws_config = bed.home().join(".aws/config");
    std::fs::create_dir_all(aws_config.parent().unwrap()).unwrap();
    let mine = "[default]\nregion = eu-west-1\n\n[profile acme/admin]\nregion = ap-south-1\n# mine, untouched\n";
    std::fs::write(&aws_config, mine).unwrap();
    std::fs::set_permissions(&aws_config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let configure = |extra: &[&str]| {
        let mut c = bed.cmd(TFAUTH);
        github_env(&mut c, &moto, &token);
        c.args(["auth", "configure-profiles"]).args(extra);
        run(c)
    };
    let o = configure(&["--dry-run"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("[profile acme/planner]\ncredential_process = "), "{}", o.stdout);
    assert_eq!(std::fs::read_to_string(&aws_config).unwrap(), mine, "a dry run writes nothing");

    let o = configure(&[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // acme/admin is the user's already: left to them, with a located warning.
    assert!(o.stderr.contains("not writing a profile for `acme/admin`"), "{}", o.stderr);
    let text = std::fs::read_to_string(&aws_config).unwrap();
    assert!(text.starts_with(mine), "the user's bytes, unchanged:\n{text}");
    let config_yaml = bed.repo().join("atmos.yaml");
    assert!(
        text.contains(&format!(
            "[profile plat-dev/terraform]\ncredential_process = {HELPER} --identity plat-dev/terraform --config {} --profile github\n",
            config_yaml.display()
        )),
        "{text}"
    );
    assert_eq!(std::fs::metadata(&aws_config).unwrap().permissions().mode() & 0o777, 0o600);
    let backup = bed.home().join(".aws/config.tfauth-backup");
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), mine);
    let o = configure(&[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("is up to date"), "{}", o.stderr);
    assert_eq!(std::fs::read_to_string(&aws_config).unwrap(), text, "a second run changes nothing");

    // From a directory outside the repository, with no tfauth environment but GitHub's.
    let outside = bed.dir.path().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    let mut c = bed.cmd(venv_bin("aws"));
    github_env(&mut c, &moto, &token);
    c.env_remove("ATMOS_PROFILE").current_dir(&outside).args([
        "sts",
        "get-caller-identity",
        "--profile",
        "plat-dev/terraform",
        "--output",
        "json",
    ]);
    let o = run(c);
    assert_eq!(o.code, 0, "the AWS CLI through the profile: {}", o.stderr);
    let arn = serde_json::from_str::<serde_json::Value>(&o.stdout).unwrap()["Arn"].as_str().unwrap().to_string();
    assert!(arn.starts_with("arn:aws:sts::444444444444:assumed-role/acme-plat-gbl-dev-terraform/"), "{arn}");
    let py =
        "import boto3; print(boto3.Session(profile_name='acme/planner').client('sts').get_caller_identity()['Arn'])";
    let mut c = bed.cmd(venv_bin("python"));
    github_env(&mut c, &moto, &token);
    c.env_remove("ATMOS_PROFILE").current_dir(&outside).args(["-c", py]);
    let o = run(c);
    assert_eq!(o.code, 0, "boto3 through the profile: {}", o.stderr);
    assert!(o.stdout.contains(":assumed-role/acme-gbl-identity-planner/"), "{}", o.stdout);
}
