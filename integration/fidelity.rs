//! Atmos fidelity against real parts (issue 16): hub and spoke `required` identities that
//! terraform's aliased providers reach by profile name, an identity's `env:` and an
//! `aws/user`'s `credentials.region` in terraform's environment. moto serves STS; boto3,
//! inside the stand-in terraform, reads the files tfauth wrote exactly as the AWS provider
//! would, and runs each profile's `credential_process`.

use super::{BEARER, github_env};
use crate::support::*;
use serde_json::Value;

/// A component of stack plat-use2-dev whose own `auth:` is a hub (the default), a spoke in
/// another account (`required: true`, region eu-west-1) and a required `aws/user` with no
/// keys anywhere, which can only fail when it is authenticated.
const PEERING: &str = r#"
    tgw-peering:
      metadata:
        component: vpc
      auth:
        identities:
          network-hub:
            default: true
            kind: aws/assume-role
            via: {identity: plat-dev/terraform}
            principal: {assume_role: "arn:aws:iam::444444444444:role/network-hub"}
            env:
              - {key: TF_VAR_peering_owner, value: network-team}
              - {key: AWS_PROFILE, value: not-this-one}
          spoke-production:
            required: true
            kind: aws/assume-role
            via: {identity: acme/admin}
            principal: {assume_role: "arn:aws:iam::666666666666:role/spoke-production"}
            region: eu-west-1
          spoke-keyless:
            required: true
            kind: aws/user
"#;

fn record(bed: &Bed) -> Value {
    serde_json::from_str(&std::fs::read_to_string(bed.dir.path().join("record.json")).unwrap()).unwrap()
}

#[test]
fn hub_and_spoke_profiles_each_get_their_own_role_and_a_failing_spoke_is_a_warning() {
    let bed = Bed::new();
    let stack = bed.repo().join("stacks/orgs/acme/plat/dev/us-east-2.yaml");
    let mut text = std::fs::read_to_string(&stack).unwrap();
    text.push_str(PEERING);
    std::fs::write(&stack, text).unwrap();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let bin = bed.dir.path().join("bin");
    standin_terraform(&bin);
    let mut c = bed.cmd(TFAUTH);
    github_env(&mut c, &moto, &token);
    c.env("PATH", format!("{}:{}:/usr/bin:/bin", bin.display(), venv().join("bin").display()))
        .env("RECORD", bed.dir.path().join("record.json"))
        .env("STANDIN_PROFILES", "spoke-production,spoke-keyless")
        .env("ATMOS_KEYRING_TYPE", "memory")
        .args(["plan", "tgw-peering", "-s", "plat-use2-dev"]);
    let o = run(c);
    assert_eq!(o.code, 0, "a failing secondary fails no run:\n{}", o.stderr);
    assert!(
        o.stderr.contains("us-east-2.yaml:69:11: required identity `spoke-keyless` could not be authenticated"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("spoke-production` could not"), "{}", o.stderr);

    let r = record(&bed);
    let env = &r["env"];
    // The default session is the hub's role, in the stack's region.
    assert_eq!(env["AWS_PROFILE"], "network-hub", "auth wins over the identity's env");
    assert_eq!(env["AWS_REGION"], "us-east-2");
    let hub = r["arn"].as_str().unwrap_or_else(|| panic!("boto3 failed: {}", r["error"]));
    assert!(hub.starts_with("arn:aws:sts::444444444444:assumed-role/network-hub/"), "{hub}");
    // The spoke's profile, by name, is the spoke's role in its own region.
    let spoke = &r["profiles"]["spoke-production"];
    let arn = spoke["arn"].as_str().unwrap_or_else(|| panic!("boto3 with the spoke's profile failed: {spoke}"));
    assert!(arn.starts_with("arn:aws:sts::666666666666:assumed-role/spoke-production/"), "{arn}");
    // AWS_REGION (the hub's) wins over a profile's region, for boto3 as for the AWS
    // provider; the spoke's own region is in its profile for tools that read only that.
    assert_eq!(spoke["region"], "us-east-2");
    // The keyless spoke's profile is there, and fails where it is used, with the helper's error.
    let keyless = r["profiles"]["spoke-keyless"]["error"].as_str().unwrap_or_default();
    assert!(keyless.contains("identity `spoke-keyless` (aws/user) has no access key"), "{keyless}");
    // The identity's env reached terraform.
    assert_eq!(env["TF_VAR_peering_owner"], "network-team");

    // One config file holds all three profiles, each with its own cache key.
    let config = std::fs::read_to_string(env["AWS_CONFIG_FILE"].as_str().unwrap()).unwrap();
    let keys: Vec<&str> = config.lines().filter_map(|l| l.split(" --key ").nth(1)).collect();
    assert_eq!(keys.len(), 3, "{config}");
    assert!(keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2], "{config}");
    assert!(config.contains(" --identity spoke-production ") && config.contains("region = eu-west-1\n"), "{config}");
    for p in ["[profile network-hub]", "[profile spoke-production]", "[profile spoke-keyless]"] {
        assert!(config.contains(p), "{p} missing:\n{config}");
    }
}

#[test]
fn an_aws_users_credentials_region_is_the_runs_region() {
    let bed = Bed::new();
    let moto = Moto::start();
    let bin = bed.dir.path().join("bin");
    standin_terraform(&bin);
    std::fs::write(
        bed.repo().join("atmos.yaml"),
        r#"base_path: "."
components: {terraform: {base_path: components/terraform}}
stacks: {base_path: stacks, included_paths: ["*.yaml"], name_pattern: "{stage}"}
auth:
  identities:
    ci-user:
      kind: aws/user
      default: true
      credentials:
        access_key_id: AKIAEXAMPLEUSERKEY01
        secret_access_key: !env TEST_USER_SECRET
        region: us-west-2
      env:
        - {key: TF_VAR_owner, value: ci}
"#,
    )
    .unwrap();
    for gone in ["profiles", "stacks"] {
        std::fs::remove_dir_all(bed.repo().join(gone)).unwrap();
    }
    std::fs::create_dir(bed.repo().join("stacks")).unwrap();
    // The stack deploys to us-east-2; the user's keys belong in us-west-2.
    std::fs::write(
        bed.repo().join("stacks/dev.yaml"),
        "vars: {stage: dev, region: us-east-2}\ncomponents: {terraform: {dns: {vars: {zone: dev.example}}}}\n",
    )
    .unwrap();
    let mut c = bed.cmd(TFAUTH);
    c.env("PATH", format!("{}:{}:/usr/bin:/bin", bin.display(), venv().join("bin").display()))
        .env("RECORD", bed.dir.path().join("record.json"))
        .env("AWS_ENDPOINT_URL_STS", moto.url())
        .env("TEST_USER_SECRET", "user-secret-canary")
        .args(["plan", "dns", "-s", "dev"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let r = record(&bed);
    let env = &r["env"];
    assert_eq!(env["AWS_REGION"], "us-west-2", "credentials.region over the stack's");
    assert_eq!(env["AWS_DEFAULT_REGION"], "us-west-2");
    assert_eq!(env["TF_VAR_owner"], "ci");
    assert!(r["arn"].as_str().is_some(), "boto3 with these files failed: {}", r["error"]);
    assert!(!o.stderr.contains("user-secret-canary"));
}
