//! A component run the way an Atmos user expects, with the real Terraform 1.0.3 and its S3
//! backend in moto: the stack's vars reach terraform with their types, the backend and
//! workspace come from the stack, and each stack (and each derived component) has its own
//! state object.

use super::{BEARER, github_env};
use crate::support::*;
use serde_json::{Value, json};
use std::path::Path;

/// The examples' backend plus what moto on loopback needs, and a role the backend assumes
/// (Terraform's S3 backend assumes it from the identity's credentials, which come from the
/// helper through `credential_process`).
fn point_backend_at(bed: &Bed, moto: &Moto) {
    let path = bed.repo().join("stacks/orgs/acme/_defaults.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let extra = format!(
        "      encrypt: true\n      role_arn: arn:aws:iam::123456789012:role/acme-tfstate\n      endpoint: {m}\n      sts_endpoint: {m}\n      iam_endpoint: {m}\n      force_path_style: true\n      skip_region_validation: true\n      skip_metadata_api_check: true\n",
        m = moto.url()
    );
    assert!(text.contains("      encrypt: true\n"));
    std::fs::write(&path, text.replace("      encrypt: true\n", &extra)).unwrap();
}

/// The state bucket `acme-tfstate` in us-east-2 (moto accepts any static keys by default).
pub fn create_bucket(bed: &Bed, moto: &Moto) {
    let py = format!(
        "import boto3; boto3.client('s3', endpoint_url='{}', region_name='us-east-2', aws_access_key_id='x', aws_secret_access_key='y').create_bucket(Bucket='acme-tfstate', CreateBucketConfiguration={{'LocationConstraint': 'us-east-2'}})",
        moto.url()
    );
    let o = run({
        let mut c = bed.cmd(venv_bin("python"));
        c.args(["-c", &py]);
        c
    });
    assert_eq!(o.code, 0, "{}", o.stderr);
}

/// The keys in the state bucket, read by boto3.
fn state_keys(bed: &Bed, moto: &Moto) -> Vec<String> {
    let py = format!(
        "import boto3, json; s3 = boto3.client('s3', endpoint_url='{}', region_name='us-east-2', aws_access_key_id='x', aws_secret_access_key='y'); print(json.dumps(sorted(o['Key'] for o in s3.list_objects_v2(Bucket='acme-tfstate').get('Contents', []))))",
        moto.url()
    );
    let o = run({
        let mut c = bed.cmd(venv_bin("python"));
        c.args(["-c", &py]);
        c
    });
    assert_eq!(o.code, 0, "{}", o.stderr);
    serde_json::from_str(&o.stdout).unwrap()
}

fn tfauth(bed: &Bed, moto: &Moto, token: &Stub, args: &[&str]) -> Out {
    let mut c = bed.cmd(TFAUTH);
    github_env(&mut c, moto, token);
    c.env("TF_IN_AUTOMATION", "1").env("APP_BUILD_ID", "build-42").args(args);
    run(c)
}

/// `terraform output -json` reduced to name → value.
fn output_values(stdout: &str) -> Value {
    let v: Value =
        serde_json::from_str(stdout).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{stdout}"));
    let obj = v.as_object().expect("an object of outputs");
    Value::Object(obj.iter().map(|(k, o)| (k.clone(), o["value"].clone())).collect())
}

fn app_vars(stage: &str, overrides: Value) -> Value {
    let mut v = json!({
        "namespace": "acme", "tenant": "plat", "environment": "use2", "stage": stage, "region": "us-east-2",
        "enabled": true, "image": "ghcr.io/acme/app:1.4.2", "replicas": 1,
        "labels": {"team": "platform", "logging": "enabled"},
        "log_level": "info", "log_retention_days": 30,
        "ports": [8080, 8443],
        "resources": {"cpu": 0.5, "memory_mb": 512, "limits": {"burst": true, "max_cpu": 2}},
        "build_id": "unset",
    });
    for (k, x) in overrides.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

#[test]
fn apply_then_output_gives_the_stacks_vars_and_each_stack_its_own_state() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    point_backend_at(&bed, &moto);
    create_bucket(&bed, &moto);
    let app = bed.repo().join("components/terraform/app");

    // A backend.tf.json written by hand is never replaced silently.
    let mine = "{\"terraform\": {\"backend\": {\"local\": {}}}}\n";
    std::fs::write(app.join("backend.tf.json"), mine).unwrap();
    let o = tfauth(&bed, &moto, &token, &["apply", "app", "-s", "plat-use2-dev", "-auto-approve", "-no-color"]);
    assert_eq!(o.code, 73, "{}", o.stderr);
    assert!(o.stderr.contains("backend.tf.json exists and was not written by tfauth"), "{}", o.stderr);
    assert!(o.stderr.contains("--force"), "{}", o.stderr);
    assert_eq!(std::fs::read_to_string(app.join("backend.tf.json")).unwrap(), mine);
    assert!(!app.join("plat-use2-dev-app.terraform.tfvars.json").exists(), "nothing is written on a refusal");
    assert_eq!(moto.count("AssumeRoleWithWebIdentity"), 0, "refused before authenticating");

    // --force replaces it; the apply runs init, creates the workspace, applies.
    let o =
        tfauth(&bed, &moto, &token, &["apply", "app", "-s", "plat-use2-dev", "-auto-approve", "-no-color", "--force"]);
    assert_eq!(o.code, 0, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("Terraform has been successfully initialized"), "init's output goes to stderr");
    assert!(o.stderr.contains("Created and switched to workspace \"plat-use2-dev\""), "{}", o.stderr);
    assert!(!o.stdout.contains("initialized"), "stdout is the apply's alone:\n{}", o.stdout);
    let backend: Value = serde_json::from_str(&std::fs::read_to_string(app.join("backend.tf.json")).unwrap()).unwrap();
    assert!(backend["//"].as_str().unwrap().starts_with("Generated by tfauth"));
    let mode = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    };
    assert_eq!(mode(&app.join("plat-use2-dev-app.terraform.tfvars.json")), 0o600, "vars may be secret");

    // `tfauth output -json` prints exactly the stack's merged vars, types intact.
    let o = tfauth(&bed, &moto, &token, &["output", "-json", "app", "-s", "plat-use2-dev"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let want = app_vars("dev", json!({"image": "ghcr.io/acme/app:main", "log_level": "debug", "build_id": "build-42"}));
    assert_eq!(output_values(&o.stdout), want);

    // Same component, another stack: its own workspace, its own state, its own vars.
    let o = tfauth(&bed, &moto, &token, &["apply", "app", "-s", "plat-use2-staging", "-auto-approve", "-no-color"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = tfauth(&bed, &moto, &token, &["output", "-json", "app", "-s", "plat-use2-staging"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(output_values(&o.stdout), app_vars("staging", json!({"replicas": 2})));

    // A derived component: metadata.component points at app/, vars from two bases.
    let o = tfauth(&bed, &moto, &token, &["apply", "app-worker", "-s", "plat-use2-dev", "-auto-approve", "-no-color"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("workspace \"plat-use2-dev-app-worker\""), "{}", o.stderr);
    let o = tfauth(&bed, &moto, &token, &["output", "-json", "app-worker", "-s", "plat-use2-dev"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        output_values(&o.stdout),
        app_vars("dev", json!({"image": "ghcr.io/acme/app-worker:1.4.2", "replicas": 2}))
    );
    assert!(app.join("plat-use2-dev-app-worker.terraform.tfvars.json").is_file());

    // The state objects, as boto3 sees the bucket: prefix "app" (the Terraform component),
    // one workspace per stack and per derived component.
    assert_eq!(
        state_keys(&bed, &moto),
        [
            "app/plat-use2-dev-app-worker/terraform.tfstate",
            "app/plat-use2-dev/terraform.tfstate",
            "app/plat-use2-staging/terraform.tfstate",
        ]
    );
    // The backend's role was assumed by Terraform from the identity's credentials.
    let roles: Vec<String> =
        moto.requests("AssumeRole").iter().filter_map(|r| r["RoleArn"].as_str().map(String::from)).collect();
    assert!(roles.iter().any(|r| r == "arn:aws:iam::123456789012:role/acme-tfstate"), "{roles:?}");
}

#[test]
fn a_var_terraform_rejects_and_a_failing_init_end_with_terraforms_own_messages() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    point_backend_at(&bed, &moto);
    create_bucket(&bed, &moto);
    // `replicas` is a number in Terraform; the stack gives it a word.
    let path = bed.repo().join("stacks/orgs/acme/plat/staging/us-east-2.yaml");
    let text = std::fs::read_to_string(&path).unwrap().replace("replicas: 2", "replicas: many");
    std::fs::write(&path, text).unwrap();
    let o = tfauth(&bed, &moto, &token, &["plan", "app", "-s", "plat-use2-staging", "-no-color"]);
    assert_eq!(o.code, 1, "terraform's exit code is tfauth's:\n{}", o.stderr);
    assert!(o.stderr.contains("Invalid value for input variable"), "{}", o.stderr);
    assert!(o.stderr.contains("plat-use2-staging-app.terraform.tfvars.json"), "names the varfile:\n{}", o.stderr);
    assert!(o.stdout.is_empty() || !o.stdout.contains("initialized"), "{}", o.stdout);

    // A state bucket that does not exist: init fails; tfauth says which step failed and
    // stops there, with terraform's exit code.
    let defaults = bed.repo().join("stacks/orgs/acme/_defaults.yaml");
    let text =
        std::fs::read_to_string(&defaults).unwrap().replace("bucket: acme-tfstate", "bucket: acme-no-such-bucket");
    std::fs::write(&defaults, text).unwrap();
    let o = tfauth(&bed, &moto, &token, &["plan", "dns", "-s", "plat-use2-dev", "-no-color"]);
    assert_ne!(o.code, 0);
    assert!(o.code < 64, "terraform's failure, not tfauth's: {}", o.code);
    assert!(o.stderr.contains("`terraform init -reconfigure` failed"), "{}", o.stderr);
    assert!(o.stderr.contains("the command itself was not run"), "{}", o.stderr);
}
