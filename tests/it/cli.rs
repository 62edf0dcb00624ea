//! The `tfauth` and `atmos-auth-helper` binaries, run for real with a clean environment:
//! stdout, stderr and the exit code checked together for every command and error class.

use crate::support::{Outcome, Sandbox, examples_dir, outcome};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// `tfauth ARGS` run from `examples/` with a sandboxed HOME.
fn in_examples(sb: &Sandbox, args: &[&str]) -> assert_cmd::Command {
    let mut c = sb.tfauth(args);
    c.current_dir(examples_dir());
    c
}

fn ok(o: &Outcome) {
    assert_eq!(o.code, 0, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
}

fn expected_realm(dir: &Path) -> String {
    // Computed by an independent tool: sha256sum of the lower-cased absolute path.
    let text = dir.canonicalize().unwrap().display().to_string().to_lowercase();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("printf %s \"$1\" | sha256sum")
        .arg("sh")
        .arg(&text)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..16].to_string()
}

#[test]
fn describe_component_yaml_shows_the_component_identity_and_chain() {
    let sb = Sandbox::new();
    let o = outcome(in_examples(&sb, &["describe", "component", "vpc", "-s", "plat-use2-dev"]));
    ok(&o);
    assert!(o.stderr.is_empty(), "stderr: {}", o.stderr);
    for want in [
        "component: vpc",
        "stack: plat-use2-dev",
        "stack_file: stacks/orgs/acme/plat/dev/us-east-2.yaml",
        "  name: acme/network",
        "- provider: acme-sso",
        "- identity: plat-dev/terraform",
        "- identity: acme/network",
        "inherits:\n  - vpc/defaults",
        "AWS_PROFILE: acme/network",
    ] {
        assert!(o.stdout.contains(want), "missing `{want}` in:\n{}", o.stdout);
    }
}

#[test]
fn describe_component_json_has_the_contract_paths_and_environment() {
    let sb = Sandbox::new();
    let o = outcome(in_examples(&sb, &["describe", "component", "vpc", "-s", "plat-use2-dev", "--format", "json"]));
    ok(&o);
    let doc: serde_json::Value = serde_json::from_str(&o.stdout).expect("stdout is one JSON document");
    assert_eq!(doc["identity"]["name"], "acme/network");
    let chain: Vec<&str> = doc["identity"]["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.get("identity").or(h.get("provider")).unwrap().as_str().unwrap())
        .collect();
    assert_eq!(chain, ["acme-sso", "plat-dev/terraform", "acme/network"]);
    let realm = expected_realm(&examples_dir());
    let root = sb.home().join(".config/atmos").join(&realm).join("aws/acme-sso");
    let set = &doc["environment"]["set"];
    // `<root>/<h>/`: a directory addressed by the files' contents, so concurrent runs of
    // other components never share one (issue 14).
    let config = std::path::PathBuf::from(set["AWS_CONFIG_FILE"].as_str().unwrap());
    let dir = config.parent().unwrap().to_path_buf();
    assert_eq!(dir.parent().unwrap(), root);
    let h = dir.file_name().unwrap().to_str().unwrap();
    assert!(h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()), "{h}");
    assert_eq!(config, dir.join("config"));
    assert_eq!(set["AWS_SHARED_CREDENTIALS_FILE"], dir.join("credentials").display().to_string());
    assert_eq!(set["AWS_PROFILE"], "acme/network");
    assert_eq!(set["AWS_REGION"], "us-east-2", "the stack's region, not the SSO portal's");
    assert_eq!(set["AWS_SDK_LOAD_CONFIG"], "1");
    assert_eq!(set["AWS_EC2_METADATA_DISABLED"], "true");
    let clear: Vec<&str> =
        doc["environment"]["clear"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for v in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_ROLE_SESSION_NAME",
        "AWS_DEFAULT_PROFILE",
    ] {
        assert!(clear.contains(&v), "{v} not cleared");
    }
    assert_eq!(doc["environment"]["clear_prefixes"][0], "AWS_CONTAINER_");
    let config = doc["files"][0]["contents"].as_str().unwrap();
    assert!(config.contains("[profile acme/network]"), "{config}");
    assert!(
        config.contains(&format!("credential_process = {} --identity acme/network", crate::support::HELPER)),
        "{config}"
    );
    assert!(config.contains("--stack plat-use2-dev --component vpc"), "{config}");
    assert!(sb.files_written().is_empty(), "describe wrote files: {:?}", sb.files_written());
    // What a run would hand terraform: the workspace, the varfile, the backend with Atmos's defaults.
    assert_eq!(doc["workspace"], "plat-use2-dev");
    assert_eq!(doc["varfile"], "plat-use2-dev-vpc.terraform.tfvars.json");
    assert_eq!(doc["backend_type"], "s3");
    assert_eq!(doc["backend"]["bucket"], "acme-tfstate");
    assert_eq!(doc["backend"]["workspace_key_prefix"], "vpc");
    let o = outcome(in_examples(&sb, &["describe", "component", "app-worker", "-s", "plat-use2-dev", "-f", "json"]));
    ok(&o);
    let doc: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(doc["workspace"], "plat-use2-dev-app-worker", "a derived component has its own workspace");
    assert_eq!(doc["backend"]["workspace_key_prefix"], "app", "and shares the directory's state prefix");
    assert_eq!(doc["inherits"], serde_json::json!(["app/defaults", "app/logging"]));
}

#[test]
fn profile_switches_the_chain_under_the_same_identity_names() {
    let sb = Sandbox::new();
    let mut c = in_examples(&sb, &["describe", "component", "vpc", "-s", "plat-use2-dev", "-f", "json"]);
    c.env("ATMOS_PROFILE", "github");
    let o = outcome(c);
    ok(&o);
    let doc: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let chain: Vec<String> = doc["identity"]["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.get("identity").or(h.get("provider")).unwrap().as_str().unwrap().to_string())
        .collect();
    assert_eq!(chain, ["github-oidc", "acme/admin", "plat-dev/terraform", "acme/network"]);
    // The github profile marks acme/admin default; the stack's and component's defaults clear it.
    assert_eq!(doc["auth"]["identities"]["acme/admin"]["default"], false);
    // --profile on the command line beats ATMOS_PROFILE.
    let mut c = in_examples(
        &sb,
        &["--profile", "devops", "describe", "component", "dns", "-s", "core-usw2-prod", "-f", "json"],
    );
    c.env("ATMOS_PROFILE", "github");
    let o = outcome(c);
    ok(&o);
    let doc: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(doc["identity"]["name"], "core-prod/terraform");
    assert_eq!(doc["identity"]["chain"][0]["provider"], "acme-sso");
}

#[test]
fn secrets_are_redacted_in_describe_and_never_printed() {
    let sb = Sandbox::new();
    sb.write(
        "atmos.yaml",
        "stacks: {base_path: stacks, name_pattern: \"{stage}\"}\nauth:\n  identities:\n    bg: {kind: aws/user, default: true, credentials: {access_key_id: AKIACANARYKEY, secret_access_key: !env CANARY_SECRET}}\n",
    )
    .write("stacks/dev.yaml", "vars: {stage: dev}\ncomponents: {terraform: {vpc: {env: {DB_PASSWORD: hunter2canary}}}}\n")
    .write("components/terraform/vpc/main.tf", "");
    for args in [
        &["describe", "component", "vpc", "-s", "dev"][..],
        &["describe", "component", "vpc", "-s", "dev", "-f", "json"],
        &["plan", "vpc", "-s", "dev", "--dry-run"],
        &["auth", "list", "-f", "json"],
        &["-vv", "auth", "validate"],
    ] {
        let mut c = sb.tfauth(args);
        c.env("CANARY_SECRET", "wJalrCANARYSECRET").env("AWS_SECRET_ACCESS_KEY", "envCANARYSECRET");
        let o = outcome(c);
        ok(&o);
        for canary in ["wJalrCANARYSECRET", "AKIACANARYKEY", "hunter2canary", "envCANARYSECRET"] {
            assert!(
                !o.stdout.contains(canary) && !o.stderr.contains(canary),
                "{args:?} leaked {canary}:\n{}\n{}",
                o.stdout,
                o.stderr
            );
        }
    }
}

#[test]
fn dry_run_prints_command_environment_and_files_and_writes_nothing() {
    let sb = Sandbox::new();
    let mut c = in_examples(&sb, &["plan", "vpc", "-s", "plat-use2-dev", "--dry-run", "-out=plan.bin", "-var", "x=1"]);
    c.env("AWS_ACCESS_KEY_ID", "AKIASTALE").env("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://x");
    let o = outcome(c);
    ok(&o);
    let dir = examples_dir().join("components/terraform/vpc");
    for want in [
        "Dry run: no credentials or config files were written, and nothing was run.",
        "identity:   acme/network  (default: true at stacks/orgs/acme/plat/dev/us-east-2.yaml:",
        "chain:      acme-sso (aws/iam-identity-center) -> plat-dev/terraform (aws/permission-set) -> acme/network (aws/assume-role)",
        "workspace:  plat-use2-dev\n",
        &format!("commands, in order, in {}:", dir.display()),
        "  1. /",
        "terraform init -reconfigure\n",
        "  2. /",
        "terraform workspace select plat-use2-dev\n     if that fails: /",
        "terraform workspace new plat-use2-dev\n  3. /",
        " plan -var-file=plat-use2-dev-vpc.terraform.tfvars.json -out=plan.bin -var x=1   (exec)\n",
        "files generated in the component directory:",
        "vpc/plat-use2-dev-vpc.terraform.tfvars.json  (varfile, mode 0600, new)\n",
        "    |   \"max_subnet_count\": 2,\n",
        "vpc/backend.tf.json  (backend, mode 0644, new)\n",
        "    |         \"workspace_key_prefix\": \"vpc\"\n",
        "  AWS_PROFILE=acme/network\n",
        "  AWS_ACCESS_KEY_ID  (set now)\n",
        "  AWS_CONTAINER_*  (1 set now)\n",
        "files written (mode 0600, directories 0700):",
        "    | [profile acme/network]",
    ] {
        assert!(o.stdout.contains(want), "missing `{want}` in:\n{}", o.stdout);
    }
    assert!(!o.stdout.contains("AKIASTALE"), "a value of a cleared variable was printed");
    assert!(sb.files_written().is_empty(), "dry run wrote {:?}", sb.files_written());
    assert!(!dir.join("plat-use2-dev-vpc.terraform.tfvars.json").exists() && !dir.join("backend.tf.json").exists());
}

#[test]
fn auth_validate_and_list_in_every_format() {
    let sb = Sandbox::new();
    let o = outcome(in_examples(&sb, &["auth", "validate"]));
    ok(&o);
    assert_eq!(o.stdout, "auth configuration is valid: 3 provider(s), 6 identity(ies)\n");

    let o = outcome(in_examples(&sb, &["auth", "list", "-f", "table"]));
    ok(&o);
    assert!(o.stdout.starts_with("TYPE      NAME"), "{}", o.stdout);
    assert!(o.stdout.contains("identity  plat-dev/terraform"), "{}", o.stdout);

    let o = outcome(in_examples(&sb, &["auth", "list", "-f", "json", "vpc", "-s", "plat-use2-dev"]));
    ok(&o);
    let doc: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let net = doc["identities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "acme/network")
        .expect("component identity listed");
    assert_eq!(net["via"]["identity"], "plat-dev/terraform");
    assert_eq!(net["default"], true);

    let o = outcome(in_examples(&sb, &["auth", "list", "-f", "yaml", "--providers"]));
    ok(&o);
    assert!(
        o.stdout
            .starts_with("providers:\n  - name: acme-sso\n    kind: aws/iam-identity-center\n    region: us-east-1\n"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("  - name: acme-gcp\n    kind: gcp/adc\n"), "{}", o.stdout);

    let o = outcome(in_examples(&sb, &["--profile", "github", "auth", "list", "-f", "tree"]));
    ok(&o);
    assert!(o.stdout.starts_with("github-oidc [github/oidc]\n├── acme/planner"), "{}", o.stdout);
    assert!(o.stdout.contains("    └── plat-prod/terraform [aws/assume-role]"), "{}", o.stdout);

    let o = outcome(in_examples(&sb, &["--profile", "github", "auth", "list", "-f", "graphviz", "--identities"]));
    ok(&o);
    assert!(o.stdout.starts_with("digraph auth {"), "{}", o.stdout);
    assert!(o.stdout.contains("\"identity:acme/admin\" -> \"identity:plat-dev/terraform\";"), "{}", o.stdout);
    assert!(!o.stdout.contains("provider:github-oidc\" ["), "--identities hides providers");

    let o = outcome(in_examples(&sb, &["--profile", "github", "auth", "list", "-f", "mermaid"]));
    ok(&o);
    assert!(o.stdout.starts_with("graph LR\n"), "{}", o.stdout);
    assert!(o.stdout.contains("p_github_oidc --> i_acme_admin"), "{}", o.stdout);
}

#[test]
fn list_stacks_and_components() {
    let sb = Sandbox::new();
    let o = outcome(in_examples(&sb, &["list", "stacks"]));
    ok(&o);
    let stacks: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(stacks.len(), 12, "{stacks:?}");
    assert!(stacks.contains(&"plat-use2-dev") && stacks.contains(&"core-usw2-prod"));
    let o = outcome(in_examples(&sb, &["list", "stacks", "-c", "app"]));
    ok(&o);
    assert!(o.stdout.lines().all(|s| s.starts_with("plat-")), "app is only in plat stacks: {}", o.stdout);
    let o = outcome(in_examples(&sb, &["list", "components", "-s", "plat-use2-dev"]));
    ok(&o);
    assert!(
        o.stdout.lines().any(|l| l == "vpc") && o.stdout.lines().any(|l| l == "vpc/defaults  (abstract)"),
        "{}",
        o.stdout
    );
}

/// Issue 16, point 9: a catalog file two stacks import ends in `bad: "unclosed`. Completion
/// stays quiet (it offers what it can: here the one healthy stack), but the `list` a user
/// runs next reports the broken file and line, exit 65, however warm the name index is;
/// and a run of the healthy stack is not blocked by a manifest it does not read.
#[test]
fn broken_manifest_completion_is_quiet_and_the_next_list_tells() {
    let sb = Sandbox::new();
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs/105-list-stacks-broken-manifests");
    crate::support::copy_dir(&case, &sb.repo());
    std::fs::remove_file(sb.repo().join("case.json")).unwrap();
    std::fs::remove_file(sb.repo().join("stacks/deploy/qa.yaml")).unwrap();
    for _ in 0..2 {
        let o = outcome(sb.tfauth(&["__complete", "--", "plan", "vpc", "-s", ""]));
        ok(&o);
        assert_eq!(o.stdout, "sandbox\n", "only the healthy stack is offered");
        assert_eq!(o.stderr, "", "completion stays quiet");
        let o = outcome(sb.tfauth(&["list", "stacks"]));
        assert_eq!(o.code, 65, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
        assert_eq!(o.stdout, "");
        assert!(o.stderr.contains("stacks/catalog/network.yaml:6"), "{}", o.stderr);
        assert!(o.stderr.contains("1 stack manifest(s) cannot be read"), "reported once: {}", o.stderr);
        assert!(o.stderr.contains("\nhint: "), "{}", o.stderr);
    }
    let o = outcome(sb.tfauth(&["plan", "vpc", "-s", "sandbox", "--dry-run"]));
    ok(&o);
    // Fixed, the listing is whole again.
    sb.write("stacks/catalog/network.yaml", "components:\n  terraform:\n    vpc: {}\n");
    let o = outcome(sb.tfauth(&["list", "stacks"]));
    ok(&o);
    assert_eq!(o.stdout, "dev\nprod\nsandbox\n");
}

/// Issue 16, point 11: realm names accepted and refused by Atmos's rules, and the
/// `ATMOS_XDG_*` variables beside XDG's: the config home holds the realm's files, the
/// cache home the stack index, the data home the file keyring.
#[test]
fn realm_names_and_atmos_xdg_homes_are_read_as_atmos_reads_them() {
    let sb = Sandbox::new();
    let dry_run = |realm: &str| {
        let mut c = in_examples(&sb, &["plan", "vpc", "-s", "plat-use2-dev", "--dry-run"]);
        c.env("ATMOS_AUTH_REALM", realm);
        outcome(c)
    };
    for good in ["acme-prod_2", "a", &"x".repeat(64)] {
        let o = dry_run(good);
        ok(&o);
        assert!(o.stdout.contains(&format!("/atmos/{good}/aws/")), "{good}: {}", o.stdout);
    }
    let long = "x".repeat(65);
    for (bad, why) in [
        ("Acme", "`A`"),
        ("acme.prod", "`.`"),
        ("acme--prod", "in a row"),
        ("_acme", "starts or ends"),
        (long.as_str(), "more than 64"),
    ] {
        let o = dry_run(bad);
        assert_eq!(o.code, 64, "{bad}: {}", o.stderr);
        assert!(o.stderr.contains(&format!("ATMOS_AUTH_REALM `{bad}` is not a valid realm")), "{}", o.stderr);
        assert!(o.stderr.contains(why) && o.stderr.contains("hint: a realm is lowercase"), "{}", o.stderr);
        assert!(o.stdout.is_empty());
    }
    // Every command that resolves refuses it, not only a run (Atmos checks it for any auth).
    for args in [&["auth", "logout", "--all"][..], &["auth", "whoami"], &["auth", "env"]] {
        let mut c = in_examples(&sb, args);
        c.env("ATMOS_AUTH_REALM", "Acme");
        let o = outcome(c);
        assert_eq!(o.code, 64, "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains("ATMOS_AUTH_REALM `Acme` is not a valid realm"), "{args:?}: {}", o.stderr);
    }

    let atmos = |dir: &str| sb.dir.path().join(dir);
    let mut c = in_examples(&sb, &["plan", "vpc", "-s", "plat-use2-dev", "--dry-run"]);
    c.env("ATMOS_XDG_CONFIG_HOME", atmos("atmos-config"));
    let o = outcome(c);
    ok(&o);
    assert!(o.stdout.contains(&format!("{}/atmos/", atmos("atmos-config").display())), "{}", o.stdout);

    // The dry runs above left an index under XDG_CACHE_HOME; this run must not touch it.
    let _ = std::fs::remove_dir_all(sb.home().join(".cache/tfauth/stack-index"));
    let mut c = in_examples(&sb, &["list", "stacks"]);
    c.env("ATMOS_XDG_CACHE_HOME", atmos("atmos-cache"));
    ok(&outcome(c));
    assert!(atmos("atmos-cache/tfauth/stack-index").is_dir(), "the stack index follows ATMOS_XDG_CACHE_HOME");
    assert!(!sb.home().join(".cache/tfauth/stack-index").exists(), "and not XDG_CACHE_HOME");

    let mut c = in_examples(&sb, &["doctor", "-f", "json"]);
    c.env("ATMOS_XDG_DATA_HOME", atmos("atmos-data")).env("ATMOS_XDG_CACHE_HOME", atmos("atmos-cache"));
    let o = outcome(c);
    assert!(o.stdout.contains(&format!("keyring {}/atmos/keyring", atmos("atmos-data").display())), "{}", o.stdout);
}

#[test]
fn user_errors_have_exit_64_and_suggestions() {
    let sb = Sandbox::new();
    for (args, want) in [
        (
            &["plan", "vpc", "-s", "plat-use2-deb"][..],
            "stack `plat-use2-deb` not found\n\nhint: did you mean `plat-use2-dev`",
        ),
        (
            &["plan", "vcp", "-s", "plat-use2-dev", "--dry-run"],
            "component `vcp` not found in stack `plat-use2-dev`\n\nhint: did you mean `vpc`",
        ),
        (
            &["plan", "vpc/defaults", "-s", "plat-use2-dev", "--dry-run"],
            "is abstract (metadata.type: abstract at stacks/catalog/vpc.yaml:",
        ),
        (
            &["plan", "vpc", "-s", "plat-use2-dev", "--identity=acme/netwrk", "--dry-run"],
            "identity `acme/netwrk` (from --identity) is not defined\n\nhint: did you mean `acme/network`",
        ),
        (
            &["--profile", "managers", "auth", "list"],
            "profile `managers` does not exist\n\nhint: use one of the profiles that exist: developers, devops, github",
        ),
        (&["describe", "component", "vpc"], "needs a stack"),
        (&["plan", "-s", "plat-use2-dev"], "needs a component"),
        (&["describe", "component", "vpc", "-s", "plat-use2-dev", "--format", "xml"], "invalid value 'xml'"),
    ] {
        let o = outcome(in_examples(&sb, args));
        assert_eq!(o.code, 64, "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains(want), "{args:?}: want `{want}` in:\n{}", o.stderr);
        assert!(o.stdout.is_empty(), "{args:?} printed to stdout: {}", o.stdout);
    }
}

#[test]
fn no_configuration_is_exit_66_with_a_hint() {
    let sb = Sandbox::new();
    let o = outcome(sb.tfauth(&["describe", "component", "vpc", "-s", "dev"]));
    assert_eq!(o.code, 66, "{}", o.stderr);
    assert!(o.stderr.starts_with("error: no atmos.yaml found\n"), "{}", o.stderr);
    assert!(
        o.stderr.contains("hint: run tfauth inside an Atmos repository, or set ATMOS_CLI_CONFIG_PATH"),
        "{}",
        o.stderr
    );
    let mut c = sb.tfauth(&["auth", "validate"]);
    c.env("ATMOS_CLI_CONFIG_PATH", examples_dir());
    let o = outcome(c);
    ok(&o);
}

#[test]
fn help_and_version_exit_0() {
    let sb = Sandbox::new();
    let o = outcome(sb.tfauth(&["--help"]));
    ok(&o);
    assert!(o.stdout.contains("tfauth plan vpc -s plat-use2-dev"), "{}", o.stdout);
    let o = outcome(sb.tfauth(&["--version"]));
    ok(&o);
    assert!(o.stdout.starts_with("tfauth "));
}

/// A stand-in terraform that records argv, cwd and environment as JSON into `$RECORD`
/// (the last call) and appends the same to `$RECORD.log` (every call, one per line), then
/// exits with `STANDIN_EXIT` (for the final command; preliminary steps exit 0).
fn standin(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join("terraform");
    std::fs::write(
        &p,
        r#"#!/usr/bin/env python3
import json, os, sys
rec = {"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}
json.dump(rec, open(os.environ["RECORD"], "w"))
with open(os.environ["RECORD"] + ".log", "a") as log:
    log.write(json.dumps(rec) + "\n")
preliminary = sys.argv[1:2] in (["init"], ["workspace"])
sys.exit(0 if preliminary else int(os.environ.get("STANDIN_EXIT", "0")))
"#,
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// Every call the stand-in recorded, in order.
fn calls(record: &Path) -> Vec<serde_json::Value> {
    let log = std::fs::read_to_string(record.with_extension("json.log")).unwrap_or_default();
    log.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A copy of `examples/` in the sandbox's repo, for runs that write into component dirs.
fn examples_copy(sb: &Sandbox) -> PathBuf {
    crate::support::copy_dir(&examples_dir(), &sb.repo());
    sb.repo()
}

fn record(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the stand-in ran")).unwrap()
}

#[test]
fn without_a_stack_the_call_passes_through_and_never_execs_itself() {
    let sb = Sandbox::new();
    let bin = sb.dir.path().join("bin");
    let selfdir = sb.dir.path().join("self");
    std::fs::create_dir_all(&selfdir).unwrap();
    // `terraform` earlier on PATH is a symlink to tfauth: it must be skipped.
    std::os::unix::fs::symlink(crate::support::TFAUTH, selfdir.join("terraform")).unwrap();
    standin(&bin);
    let rec = sb.dir.path().join("record.json");
    let path = format!("{}:{}:{}", selfdir.display(), bin.display(), std::env::var("PATH").unwrap());
    let mut c = sb.tfauth(&["plan", "-out=x", "-var", "a=b"]);
    c.env("PATH", &path).env("RECORD", &rec).env("STANDIN_EXIT", "3").env("AWS_PROFILE", "mine");
    let o = outcome(c);
    assert_eq!(o.code, 3, "terraform's exit code is tfauth's: {}", o.stderr);
    let r = record(&rec);
    assert_eq!(r["argv"], serde_json::json!(["plan", "-out=x", "-var", "a=b"]));
    assert_eq!(r["cwd"], sb.repo().canonicalize().unwrap().display().to_string());
    assert_eq!(r["env"]["AWS_PROFILE"], "mine", "the environment passes through as is");
}

/// `dir/terraform`: a wrapper script that runs tfauth, with `exec` or as a child.
fn wrapper(dir: &Path, exec: bool) {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join("terraform");
    let run = if exec { "exec " } else { "" };
    std::fs::write(&p, format!("#!/bin/sh\n{run}{} \"$@\"\n", crate::support::TFAUTH)).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_wrapper_script_named_terraform_that_runs_tfauth_never_loops() {
    let sb = Sandbox::new();
    let bin = sb.dir.path().join("bin");
    let wrap = sb.dir.path().join("wrap");
    standin(&bin);
    let rec = sb.dir.path().join("record.json");
    let base = std::env::var("PATH").unwrap();

    // `exec tfauth "$@"` first on PATH: tfauth comes back through it, skips it, and
    // reaches the real terraform once.
    wrapper(&wrap, true);
    let path = format!("{}:{}:{base}", wrap.display(), bin.display());
    let mut c = sb.tfauth(&["version"]);
    c.env("PATH", &path).env("RECORD", &rec).timeout(std::time::Duration::from_secs(30));
    let o = outcome(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(calls(&rec).len(), 1, "the real terraform ran once");
    assert_eq!(record(&rec)["argv"], serde_json::json!(["version"]));

    // Through the wrapper itself, as a Makefile would call it.
    let mut c = assert_cmd::Command::new(wrap.join("terraform"));
    sb.clean_env(&mut c);
    c.current_dir(sb.repo()).arg("version").env("PATH", &path).env("RECORD", &rec);
    let o = outcome(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(calls(&rec).len(), 2);

    // A wrapper that runs tfauth as a child: stopped with exit 69 and a hint, not an
    // endless chain of processes.
    wrapper(&wrap, false);
    let mut c = sb.tfauth(&["version"]);
    c.env("PATH", &path).env("RECORD", &rec).timeout(std::time::Duration::from_secs(30));
    let o = outcome(c);
    assert_eq!(o.code, 69, "{}", o.stderr);
    assert!(o.stderr.contains("runs tfauth again") && o.stderr.contains("`exec`"), "{}", o.stderr);
    assert_eq!(calls(&rec).len(), 2, "terraform did not run");
}

#[test]
fn identity_false_runs_terraform_in_the_component_dir_with_env_as_is() {
    let sb = Sandbox::new();
    let bin = sb.dir.path().join("bin");
    standin(&bin);
    let rec = sb.dir.path().join("record.json");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let repo = examples_copy(&sb);
    let mut c = sb.tfauth(&["plan", "vpc", "-s", "plat-use2-dev", "--identity=false", "-lock=false"]);
    c.current_dir(&repo).env("PATH", &path).env("RECORD", &rec).env("AWS_ACCESS_KEY_ID", "AKIAMINE");
    let o = outcome(c);
    ok(&o);
    let dir = repo.join("components/terraform/vpc").canonicalize().unwrap();
    let all = calls(&rec);
    let argvs: Vec<&serde_json::Value> = all.iter().map(|r| &r["argv"]).collect();
    assert_eq!(
        argvs,
        [
            &serde_json::json!(["init", "-reconfigure"]),
            &serde_json::json!(["workspace", "select", "plat-use2-dev"]),
            &serde_json::json!([
                "plan",
                "-var-file=plat-use2-dev-vpc.terraform.tfvars.json",
                "-out=plat-use2-dev-vpc.planfile",
                "-lock=false"
            ]),
        ]
    );
    for r in &all {
        assert_eq!(r["cwd"], dir.display().to_string());
        assert_eq!(r["env"]["AWS_ACCESS_KEY_ID"], "AKIAMINE", "auth off: the environment is as it was");
    }
    // The preliminary steps' output went to stderr: stdout is the final command's alone.
    assert!(o.stdout.is_empty(), "{}", o.stdout);
    let vars: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("plat-use2-dev-vpc.terraform.tfvars.json")).unwrap())
            .unwrap();
    assert_eq!(vars["max_subnet_count"], 2);
    assert_eq!(vars["nat_gateway_enabled"], false);
    assert_eq!(vars["availability_zones"], serde_json::json!(["us-east-2a", "us-east-2b"]));
    let backend: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("backend.tf.json")).unwrap()).unwrap();
    assert_eq!(backend["terraform"]["backend"]["s3"]["workspace_key_prefix"], "vpc");
}

#[test]
fn component_env_reaches_every_step_and_skip_init_and_deploy_change_the_steps() {
    let sb = Sandbox::new();
    let bin = sb.dir.path().join("bin");
    standin(&bin);
    let rec = sb.dir.path().join("record.json");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    sb.write("atmos.yaml", "stacks: {base_path: stacks, name_pattern: \"{stage}\"}\ncomponents: {terraform: {apply_auto_approve: true}}\n")
        .write(
            "stacks/dev.yaml",
            "vars: {stage: dev}\ncomponents:\n  terraform:\n    app:\n      vars: {n: 1}\n      env: {TF_LOG: info, REPLICAS: 3, FLAG: true, UNSET_ME: null}\n",
        )
        .write("components/terraform/app/main.tf", "");
    let argvs = |args: &[&str]| -> Vec<serde_json::Value> {
        let _ = std::fs::remove_file(rec.with_extension("json.log"));
        let mut c = sb.tfauth(args);
        c.env("PATH", &path).env("RECORD", &rec);
        let o = outcome(c);
        ok(&o);
        let all = calls(&rec);
        for r in &all {
            assert_eq!(r["env"]["TF_LOG"], "info", "{:?}", r["argv"]);
            assert_eq!(r["env"]["REPLICAS"], "3");
            assert_eq!(r["env"]["FLAG"], "true");
            assert!(r["env"].get("UNSET_ME").is_none());
        }
        all.into_iter().map(|r| r["argv"].clone()).collect()
    };
    let json = |v: &[&str]| serde_json::json!(v);
    assert_eq!(
        argvs(&["apply", "app", "-s", "dev"]),
        [
            json(&["init"]),
            json(&["workspace", "select", "dev"]),
            json(&["apply", "-var-file=dev-app.terraform.tfvars.json", "-auto-approve"])
        ]
    );
    assert_eq!(
        argvs(&["plan", "app", "-s", "dev", "--skip-init", "--skip-planfile"]),
        [json(&["plan", "-var-file=dev-app.terraform.tfvars.json"])]
    );
    assert_eq!(
        argvs(&["deploy", "app", "-s", "dev"]),
        [
            json(&["workspace", "select", "dev"]),
            json(&["apply", "-var-file=dev-app.terraform.tfvars.json", "-auto-approve"])
        ]
    );
    assert_eq!(
        argvs(&["apply", "app", "-s", "dev", "--from-plan", "--skip-init"]),
        [json(&["apply", "dev-app.planfile"])]
    );
    assert_eq!(argvs(&["workspace", "list", "app", "-s", "dev"]), [json(&["init"]), json(&["workspace", "list"])]);
}

#[test]
fn ctrl_c_during_init_stops_terraform_and_tfauth_reports_it() {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let sb = Sandbox::new();
    let bin = sb.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let started = sb.dir.path().join("started");
    let ran = sb.dir.path().join("ran");
    // init says it started, then waits to be interrupted; any other call leaves a trace.
    std::fs::write(
        bin.join("terraform"),
        format!(
            "#!/usr/bin/env python3\nimport sys, time\nif sys.argv[1:2] == ['init']:\n    open('{}', 'w').close()\n    time.sleep(30)\n    sys.exit(0)\nopen('{}', 'a').write(' '.join(sys.argv[1:]) + '\\n')\n",
            started.display(),
            ran.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(bin.join("terraform"), std::fs::Permissions::from_mode(0o755)).unwrap();
    sb.write("atmos.yaml", "stacks: {base_path: stacks, name_pattern: \"{stage}\"}\n")
        .write("stacks/dev.yaml", "vars: {stage: dev}\ncomponents: {terraform: {app: {vars: {n: 1}}}}\n")
        .write("components/terraform/app/main.tf", "");
    let mut cmd = std::process::Command::new(crate::support::TFAUTH);
    cmd.env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("HOME", sb.home())
        .env("CI", "true")
        .current_dir(sb.repo())
        .args(["plan", "app", "-s", "dev"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0);
    let child = cmd.spawn().unwrap();
    let t0 = std::time::Instant::now();
    while !started.exists() {
        assert!(t0.elapsed() < std::time::Duration::from_secs(20), "init never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // What a terminal does on Ctrl-C: SIGINT to the whole foreground process group.
    let kill = std::process::Command::new("kill").args(["-INT", "--", &format!("-{}", child.id())]).status().unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), None, "tfauth itself was not killed by the signal: {stderr}");
    assert_eq!(out.status.code(), Some(130), "128 + SIGINT, from terraform's own end: {stderr}");
    assert!(stderr.contains("`terraform init` failed (killed by signal 2)"), "{stderr}");
    assert!(!ran.exists(), "nothing ran after the interrupted init: {:?}", std::fs::read_to_string(&ran));
}

#[test]
fn an_sso_chain_without_a_session_or_terminal_fails_before_terraform_and_writes_nothing() {
    let sb = Sandbox::new();
    // The developers profile reaches AWS through IAM Identity Center; there is no token
    // and no terminal (CI), so the run stops at once with the login to do.
    let mut c = in_examples(&sb, &["plan", "vpc", "-s", "plat-use2-dev"]);
    c.env("ATMOS_KEYRING_PASSWORD", "a-long-enough-password").env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let o = outcome(c);
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(o.stderr.contains("tfauth auth login --provider acme-sso"), "{}", o.stderr);
    assert!(o.stdout.is_empty());
    assert!(sb.files_written().is_empty(), "{:?}", sb.files_written());

    // The keyring's password is not needed for that: the portal token is in the cache
    // file whatever the keyring, so the error is the same login to do.
    let o = outcome(in_examples(&sb, &["plan", "vpc", "-s", "plat-use2-dev"]));
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(o.stderr.contains("tfauth auth login --provider acme-sso"), "{}", o.stderr);
    assert!(!o.stderr.contains("ATMOS_KEYRING_PASSWORD"), "{}", o.stderr);
    assert!(sb.files_written().is_empty(), "{:?}", sb.files_written());
}

#[test]
fn helper_fails_cleanly_with_nothing_on_stdout() {
    let sb = Sandbox::new();
    let mut c = assert_cmd::Command::new(crate::support::HELPER);
    sb.clean_env(&mut c);
    let o = outcome(c);
    assert_eq!(o.code, 64);
    assert!(o.stdout.is_empty());
    assert!(
        o.stderr.contains("--identity <IDENTITY>")
            && o.stderr.contains("hint: credential_process = atmos-auth-helper --identity"),
        "{}",
        o.stderr
    );
    let mut c = assert_cmd::Command::new(crate::support::HELPER);
    sb.clean_env(&mut c);
    c.args(["--identity", "acme/planner"]);
    let o = outcome(c);
    assert_eq!(o.code, 66, "no atmos.yaml here: {}", o.stderr);
    assert!(o.stdout.is_empty(), "stdout must carry only a credentials document: {}", o.stdout);
    assert!(o.stderr.contains("no atmos.yaml found") && o.stderr.contains("hint:"), "{}", o.stderr);
}

/// The helper binary holds only the warm path: alone in a directory it still serves a
/// fresh cache entry, and on a miss it says it needs `tfauth` beside it (exit 69), with
/// nothing on stdout. Beside `tfauth` the miss is the cold path's answer (the test above).
#[test]
fn helper_alone_serves_the_warm_path_and_names_tfauth_for_a_refresh() {
    let sb = Sandbox::new();
    let bin = sb.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("atmos-auth-helper");
    std::fs::copy(crate::support::HELPER, &helper).unwrap();
    let key = "0123456789abcdef0123456789abcdef";
    let env = tfauth::env_vars::Env::from_pairs([("XDG_CACHE_HOME", sb.home().join(".cache").display().to_string())]);
    let now = time::OffsetDateTime::now_utc();
    let creds = tfauth::session::cache::Credentials {
        access_key_id: "ASIAWARMPATHONLY0000".into(),
        secret_access_key: tfauth::secret::Secret::new("warm-secret"),
        session_token: Some(tfauth::secret::Secret::new("warm-token")),
        expiration: Some(now + time::Duration::hours(1)),
        issued: Some(now),
    };
    tfauth::session::cache::Cache::new(&env, "aws").unwrap().write(key, &creds).unwrap();
    let run = |args: &[&str]| {
        let mut c = assert_cmd::Command::new(&helper);
        sb.clean_env(&mut c);
        c.current_dir(sb.repo()).args(args);
        outcome(c)
    };
    let warm = run(&["--identity", "acme/planner", "--key", key]);
    assert_eq!(warm.code, 0, "{}", warm.stderr);
    let doc: serde_json::Value = serde_json::from_str(&warm.stdout).unwrap();
    assert_eq!(doc["AccessKeyId"], "ASIAWARMPATHONLY0000");

    let miss = run(&["--identity", "acme/planner", "--key", "ffffffffffffffffffffffffffffffff"]);
    assert_eq!(miss.code, 69, "{}", miss.stderr);
    assert!(miss.stdout.is_empty(), "{}", miss.stdout);
    assert_eq!(
        miss.stderr,
        "error: atmos-auth-helper needs the `tfauth` installed beside it to refresh credentials\n\n\
         hint: install both binaries into one directory (`cargo install` does)\n"
    );
}

/// The helper starts from C's `main`, so it does itself what Rust's runtime would: a caller
/// that stops reading gets exit 70, not a SIGPIPE death. Its arguments come from `argv`,
/// in the plain forms and in those only clap reads. (It also reopens closed standard
/// descriptors on `/dev/null`, as the runtime does; nothing on the warm path could show
/// the difference, since std's stdout already drops writes to a closed descriptor.)
#[test]
fn helper_starts_like_a_rust_program_when_its_reader_is_gone_and_reads_argv() {
    let sb = Sandbox::new();
    let key = "0123456789abcdef0123456789abcdef";
    let env = tfauth::env_vars::Env::from_pairs([("XDG_CACHE_HOME", sb.home().join(".cache").display().to_string())]);
    let now = time::OffsetDateTime::now_utc();
    let creds = tfauth::session::cache::Credentials {
        access_key_id: "ASIAWARMFROMARGV0000".into(),
        secret_access_key: tfauth::secret::Secret::new("argv-secret"),
        session_token: None,
        expiration: Some(now + time::Duration::hours(1)),
        issued: Some(now),
    };
    let cache = tfauth::session::cache::Cache::new(&env, "aws").unwrap();
    cache.write(key, &creds).unwrap();
    let warm = ["--identity", "acme/planner", "--key", key];
    // The reader is gone before the document is written: an error exit, not a SIGPIPE death.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut c = std::process::Command::new(crate::support::HELPER);
    c.env_clear().env("HOME", sb.home()).env("XDG_CACHE_HOME", sb.home().join(".cache"));
    let status = c.current_dir(sb.repo()).args(warm).stdout(writer).stderr(std::process::Stdio::null()).status();
    assert_eq!(status.unwrap().code(), Some(70), "a write to a closed pipe is exit 70 (SOFTWARE)");
    for words in [
        &warm[..],
        &["--identity=acme/planner", &format!("--key={key}")],
        &["--key", key, "--identity", "acme/planner"],
        // A value starting with `-` is left to clap, which takes it in this form.
        &["--identity", "acme/planner", "--key", key, "--stack=-odd"],
    ] {
        let mut c = assert_cmd::Command::new(crate::support::HELPER);
        sb.clean_env(&mut c);
        c.current_dir(sb.repo()).args(words);
        let o = outcome(c);
        assert_eq!(o.code, 0, "{words:?}: {}", o.stderr);
        let doc: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(doc["AccessKeyId"], "ASIAWARMFROMARGV0000", "{words:?}");
    }
}

/// Both binaries carry GCC's unwinder (`tfauth::util::sys`), so the loader maps no
/// `libgcc_s.so.1` when they start: about a tenth of a warm helper call. glibc's loader
/// lists what it would map when `LD_TRACE_LOADED_OBJECTS` is set, as `ldd` has it do.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn binaries_start_without_mapping_libgcc_s() {
    for bin in [crate::support::HELPER, crate::support::TFAUTH] {
        let o = std::process::Command::new(bin).env_clear().env("LD_TRACE_LOADED_OBJECTS", "1").output().unwrap();
        let mapped = String::from_utf8_lossy(&o.stdout);
        assert!(mapped.contains("libc.so.6"), "{bin}: the loader listed {mapped:?}");
        assert!(!mapped.contains("libgcc_s"), "{bin} maps libgcc_s at start:\n{mapped}");
    }
}

#[test]
fn stack_index_follows_edits_and_is_private() {
    let sb = Sandbox::new();
    sb.write(
        "atmos.yaml",
        "stacks: {base_path: stacks, excluded_paths: [\"**/_defaults.yaml\"], name_pattern: \"{tenant}-{stage}\"}\n",
    );
    for i in 0..40 {
        sb.write(&format!("stacks/s{i:02}.yaml"), format!("import: [_defaults]\nvars: {{stage: s{i:02}}}\ncomponents: {{terraform: {{vpc: {{vars: {{n: {i}}}}}}}}}\n"));
    }
    sb.write("stacks/_defaults.yaml", "vars: {tenant: plat}\n");
    let describe = |stack: &str| outcome(sb.tfauth(&["describe", "component", "vpc", "-s", stack, "-f", "json"]));
    let o = describe("plat-s07");
    ok(&o);
    let index: Vec<PathBuf> =
        sb.files_in_home().into_iter().filter(|p| p.to_string_lossy().contains("stack-index")).collect();
    assert_eq!(index.len(), 1, "{:?}", sb.files_in_home());
    assert_eq!(std::fs::metadata(&index[0]).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(index[0].parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    // Warm: same answer from the index.
    let o = describe("plat-s07");
    ok(&o);
    // An import changes every name: the index must not answer with the old ones.
    sb.write("stacks/_defaults.yaml", "vars: {tenant: core}\n");
    let o = describe("plat-s07");
    assert_eq!(o.code, 64, "stale name served from the index: {}", o.stdout);
    let o = describe("core-s07");
    ok(&o);
    let doc: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(doc["vars"]["n"], 7);
    // A corrupt index is ignored.
    std::fs::write(&index[0], b"{garbage").unwrap();
    ok(&describe("core-s08"));
}

#[test]
fn env_tags_in_names_are_never_served_from_the_index() {
    let sb = Sandbox::new();
    sb.write("atmos.yaml", "stacks: {base_path: stacks, name_pattern: \"{stage}\"}\n");
    for i in 0..20 {
        sb.write(
            &format!("stacks/f{i:02}.yaml"),
            format!("vars: {{stage: f{i:02}}}\ncomponents: {{terraform: {{vpc: {{}}}}}}\n"),
        );
    }
    sb.write("stacks/dyn.yaml", "vars: {stage: !env STAGE_NAME}\ncomponents: {terraform: {vpc: {}}}\n");
    let run = |stage: &str, ask: &str| {
        let mut c = sb.tfauth(&["describe", "component", "vpc", "-s", ask]);
        c.env("STAGE_NAME", stage);
        outcome(c)
    };
    ok(&run("one", "one"));
    ok(&run("two", "two"));
    assert_eq!(run("two", "one").code, 64);
}

#[test]
fn bare_identity_flag_asks_on_the_terminal_and_keeps_stdout_clean() {
    let sb = Sandbox::new();
    let out = sb.dir.path().join("out.json");
    // Under a pseudo-terminal (util-linux `script`), stdout redirected to a file: the prompt
    // must reach the terminal, and the file must hold only the JSON document.
    let inner = format!(
        "{} describe component dns -s plat-use2-dev --identity -f json > {}",
        crate::support::TFAUTH,
        out.display()
    );
    let mut c = assert_cmd::Command::new("script");
    sb.clean_env(&mut c);
    c.env_remove("CI").current_dir(examples_dir()).args(["-qec", &inner, "/dev/null"]).write_stdin("3\n");
    let o = outcome(c);
    ok(&o);
    assert!(o.stdout.contains("Which identity?") && o.stdout.contains("3) core-prod/terraform"), "{}", o.stdout);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).expect("only JSON on stdout");
    assert_eq!(doc["identity"]["name"], "core-prod/terraform");
    assert_eq!(doc["identity"]["selected_by"], "picked on the terminal");

    // Without a terminal there is nobody to ask: fail at once with the candidates.
    let o = outcome(in_examples(&sb, &["describe", "component", "dns", "-s", "plat-use2-dev", "--identity"]));
    assert_eq!(o.code, 64, "{}", o.stderr);
    assert!(
        o.stderr.contains("no terminal to ask on")
            && o.stderr.contains("hint: pass --identity=NAME; identities: core-dev/terraform"),
        "{}",
        o.stderr
    );
}

/// A repository with one AWS identity and two aws/ecr integrations through it.
const ECR_ATMOS: &str = r#"base_path: "."
auth:
  identities:
    dev-admin: {kind: aws/user, default: true}
  integrations:
    dev/ecr:
      kind: aws/ecr
      via: {identity: dev-admin}
      spec: {registry: {account_id: "123456789012", region: us-east-2}}
    prod/ecr:
      kind: aws/ecr
      via: {identity: DEV-ADMIN}
      spec: {auto_provision: false, registry: {account_id: "210987654321", region: eu-west-1}}
"#;

#[test]
fn auth_validate_and_list_show_integrations() {
    let sb = Sandbox::new();
    sb.write("atmos.yaml", ECR_ATMOS);
    let o = outcome(sb.tfauth(&["auth", "validate"]));
    ok(&o);
    assert_eq!(o.stdout, "auth configuration is valid: 0 provider(s), 1 identity(ies), 2 integration(s)\n");

    let o = outcome(sb.tfauth(&["auth", "list", "-f", "table"]));
    ok(&o);
    assert!(o.stdout.contains("integration  dev/ecr    aws/ecr   identity:dev-admin\n"), "{}", o.stdout);
    assert!(o.stdout.contains("integration  prod/ecr   aws/ecr   identity:DEV-ADMIN\n"), "{}", o.stdout);

    let o = outcome(sb.tfauth(&["auth", "list", "-f", "json", "--integrations"]));
    ok(&o);
    let doc: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert!(doc.get("identities").is_none(), "{doc}");
    assert_eq!(
        doc["integrations"][1],
        serde_json::json!({
            "name": "prod/ecr", "kind": "aws/ecr", "via": {"identity": "DEV-ADMIN"}, "auto_provision": false,
            "registry": {"account_id": "210987654321", "region": "eu-west-1"}
        })
    );
    assert!(sb.files_written().is_empty(), "{:?}", sb.files_written());
}

/// A repository whose atmos.yaml has no `auth:` at all: it lives in `.atmos.d/` (Atmos
/// loads it first). Issue 16, point 1: this used to run without auth.
fn repo_with_auth_in_atmos_d(sb: &Sandbox, dir: &str) {
    sb.write(
        "atmos.yaml",
        "stacks: {base_path: stacks, included_paths: [\"**/*\"], name_pattern: \"{stage}\"}\ncomponents: {terraform: {base_path: components/terraform}}\n",
    )
    .write(
        &format!("{dir}/auth.yaml"),
        "auth:\n  providers:\n    sso: {kind: aws/iam-identity-center, start_url: \"https://acme.awsapps.com/start\", region: us-east-1}\n  identities:\n    acme/admin: {kind: aws/permission-set, default: true, via: {provider: sso}, principal: {name: Admin, account: {id: \"111111111111\"}}}\n",
    )
    .write("stacks/dev.yaml", "vars: {stage: dev}\ncomponents: {terraform: {vpc: {}}}\n")
    .write("components/terraform/vpc/main.tf", "");
}

#[test]
fn auth_only_in_atmos_d_is_used_by_describe_and_plan() {
    for dir in [".atmos.d", "atmos.d"] {
        let sb = Sandbox::new();
        repo_with_auth_in_atmos_d(&sb, dir);
        let o = outcome(sb.tfauth(&["describe", "component", "vpc", "-s", "dev"]));
        ok(&o);
        assert!(o.stdout.contains("acme/admin"), "{dir}: describe shows no identity:\n{}", o.stdout);
        assert!(!o.stdout.contains("running without auth"), "{dir}:\n{}", o.stdout);
        assert!(
            o.stdout.contains(&format!("{dir}/auth.yaml:")),
            "{dir}: the default's file is not named:\n{}",
            o.stdout
        );
        let o = outcome(sb.tfauth(&["plan", "vpc", "-s", "dev", "--dry-run"]));
        ok(&o);
        assert!(o.stdout.contains("AWS_PROFILE=acme/admin"), "{dir}: plan runs without the identity:\n{}", o.stdout);
        assert!(sb.files_written().is_empty(), "dry run wrote {:?}", sb.files_written());
    }
}

#[test]
fn describe_lists_the_required_identities_a_run_carries_with_their_chains() {
    let sb = Sandbox::new();
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs/117-required-hub-and-spoke-dry-run");
    crate::support::copy_dir(&case, &sb.repo());
    let mut c = sb.tfauth(&["describe", "component", "vpc", "-s", "dev", "-f", "json"]);
    c.current_dir(sb.repo());
    let o = outcome(c);
    ok(&o);
    let doc: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let id = &doc["identity"];
    assert_eq!(id["name"], "network-hub");
    assert_eq!(
        id["required"],
        serde_json::json!([{"name": "spoke-production", "chain": [
            {"provider": "ci", "kind": "github/oidc"},
            {"identity": "spoke-production", "kind": "aws/assume-role"},
        ]}])
    );
    // The broken `data` is left out, with its warning.
    assert!(o.stderr.contains("required identity `data` is left out of this run"), "{}", o.stderr);
}

#[test]
fn configure_profiles_refuses_an_aws_config_others_can_write_and_changes_nothing() {
    let sb = Sandbox::new();
    let config = sb.home().join(".aws/config");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "[default]\n").unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o666)).unwrap();
    let o = outcome(in_examples(&sb, &["auth", "configure-profiles"]));
    assert_eq!(o.code, 74, "{}", o.stderr);
    assert!(o.stderr.contains(&config.display().to_string()) && o.stderr.contains("hint: "), "{}", o.stderr);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "[default]\n");
    assert!(!sb.home().join(".aws/config.tfauth-backup").exists());

    // Yours again: the block is written, 0600, after a backup of what was there.
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = outcome(in_examples(&sb, &["auth", "configure-profiles", "--file", config.to_str().unwrap()]));
    ok(&o);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.starts_with("[default]\n\n# >>> tfauth profiles for "), "{text}");
    assert!(text.contains("[profile plat-dev/terraform]\ncredential_process = "), "{text}");
    assert_eq!(std::fs::metadata(&config).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::read_to_string(sb.home().join(".aws/config.tfauth-backup")).unwrap(), "[default]\n");
}

/// The shell snippets run `atmos-auth-helper prompt`: the same answer as `tfauth prompt`
/// (both read the words without clap), and for anything else (help, a bad flag) it is
/// `tfauth prompt` itself.
#[test]
fn the_helpers_prompt_answers_as_tfauth_prompt_does() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let dir = sb.dir.path().join("sessions");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::minutes(90))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    for (name, expiration) in [("live", soon.as_str()), ("old", "2001-01-01T00:00:00Z")] {
        let p = dir.join(name);
        std::fs::write(&p, format!("{{\"Version\":1,\"Expiration\":\"{expiration}\"}}")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let run = |bin: &str, identity: Option<&str>, session: &str, args: &[&str]| {
        let mut c = assert_cmd::Command::new(bin);
        sb.clean_env(&mut c);
        c.env("TFAUTH_SESSION", dir.join(session)).arg("prompt").args(args);
        if let Some(i) = identity {
            c.env("TFAUTH_IDENTITY", i);
        }
        outcome(c)
    };
    let mut seen = Vec::new();
    for (identity, session) in
        [(Some("acme/admin"), "live"), (Some("acme/admin"), "old"), (Some("acme/x"), "gone"), (None, "live")]
    {
        for args in [&[][..], &["-f", "json"], &["--format=text"]] {
            let ours = run(crate::support::HELPER, identity, session, args);
            let theirs = run(crate::support::TFAUTH, identity, session, args);
            assert_eq!(
                (ours.code, &ours.stdout, &ours.stderr),
                (0, &theirs.stdout, &theirs.stderr),
                "{identity:?} {session} {args:?}"
            );
            seen.push(ours.stdout);
        }
    }
    assert!(seen[0].starts_with("acme/admin 1h") && seen[0].ends_with("m\n"), "{}", seen[0]);
    assert_eq!(seen[3], "acme/admin expired\n");
    assert_eq!(seen[6], "acme/x\n");
    assert_eq!(seen[9], "", "no identity: nothing");
    // What only the full parser answers.
    let help = run(crate::support::HELPER, Some("acme/admin"), "live", &["--help"]);
    assert_eq!(help.code, 0);
    assert_eq!(help.stdout, run(crate::support::TFAUTH, Some("acme/admin"), "live", &["--help"]).stdout);
    let bad = run(crate::support::HELPER, Some("acme/admin"), "live", &["-f", "yaml"]);
    assert_eq!(bad.code, 64, "{}", bad.stderr);
    assert!(bad.stdout.is_empty() && bad.stderr.contains("yaml"), "{}", bad.stderr);
}
