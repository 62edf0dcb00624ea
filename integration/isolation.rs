//! A run's files are its own (CONTRACT B, issue 14 defects 1 and 2).
//!
//! - Concurrent runs of components whose override gives one identity name different roles
//!   (and a third run with another identity, all with the same chain root) each get their
//!   own role, round after round: a stand-in terraform reads `AWS_CONFIG_FILE` late and
//!   asks moto's STS through boto3 who it is.
//! - A value from the repository (a stack's `vars.region`, a stack name, the repository's
//!   path) that would add a `credential_process` line to the AWS config is refused with
//!   exit 65 before anything is written, and real Terraform 1.0.3 runs nothing.

use super::{BEARER, github_env};
use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::Stdio;

const ROUNDS: usize = 20;

/// The stand-in terraform of this file: init and workspace steps exit at once; the
/// command itself sleeps (so the other runs have written their files by then), then reads
/// `AWS_CONFIG_FILE` and `AWS_PROFILE` and asks STS who it is, into `$RECORD`.
fn late_reading_terraform(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let script = dir.join("terraform");
    std::fs::write(
        &script,
        format!(
            r#"#!{py}
import json, os, sys, time
if sys.argv[1:2] in (["init"], ["workspace"]):
    sys.exit(0)
time.sleep(0.4)
out = {{"profile": os.environ.get("AWS_PROFILE"), "config": os.environ.get("AWS_CONFIG_FILE")}}
try:
    import boto3
    endpoint = os.environ.get("AWS_ENDPOINT_URL_STS") or os.environ.get("STANDIN_STS")
    out["arn"] = boto3.client("sts", endpoint_url=endpoint).get_caller_identity()["Arn"]
except Exception as e:
    out["error"] = repr(e)
try:
    out["config_text"] = open(out["config"]).read()
except Exception as e:
    out["config_text"] = repr(e)
json.dump(out, open(os.environ["RECORD"], "w"))
"#,
            py = venv_bin("python").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// dns gets the same override as vpc (`acme/network`, default for the component), with
/// another role: the same identity name means two different things in two components.
fn give_dns_its_own_network_role(bed: &Bed) {
    let path = bed.repo().join("stacks/orgs/acme/plat/dev/us-east-2.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let dns = "    dns:\n      auth:\n        identities:\n          acme/network:\n            default: true\n            kind: aws/assume-role\n            via:\n              identity: plat-dev/terraform\n            principal:\n              assume_role: arn:aws:iam::444444444444:role/acme-plat-dev-dns-admin\n";
    assert!(text.contains("    app:\n"));
    std::fs::write(&path, text.replace("    app:\n", &format!("{dns}    app:\n"))).unwrap();
}

#[test]
fn concurrent_runs_of_components_sharing_a_chain_root_never_get_each_others_role() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    give_dns_its_own_network_role(&bed);
    let bin = bed.dir.path().join("bin");
    late_reading_terraform(&bin);
    // Component, the role its run must be, and the profile it names.
    let runs = [
        ("vpc", "assumed-role/acme-plat-dev-network-admin/", "acme/network"),
        ("dns", "assumed-role/acme-plat-dev-dns-admin/", "acme/network"),
        ("app", "assumed-role/acme-plat-gbl-dev-terraform/", "plat-dev/terraform"),
    ];
    let mut crossed = Vec::new();
    let mut configs = std::collections::BTreeSet::new();
    for round in 0..ROUNDS {
        let children: Vec<_> = runs
            .iter()
            .map(|(component, _, _)| {
                let rec = bed.dir.path().join(format!("record-{component}-{round}.json"));
                let mut c = bed.cmd(TFAUTH);
                github_env(&mut c, &moto, &token);
                c.env("PATH", format!("{}:{}:/usr/bin:/bin", bin.display(), venv().join("bin").display()))
                    .env("RECORD", &rec)
                    .env("STANDIN_STS", moto.url())
                    .args(["plan", component, "-s", "plat-use2-dev"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                (rec, c.spawn().unwrap())
            })
            .collect();
        for ((rec, child), (component, role, profile)) in children.into_iter().zip(&runs) {
            let o = child.wait_with_output().unwrap();
            assert!(o.status.success(), "{component}, round {round}: {}", String::from_utf8_lossy(&o.stderr));
            let r: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&rec).expect("the stand-in ran")).unwrap();
            assert_eq!(r["profile"], *profile);
            configs.insert((component.to_string(), r["config"].as_str().unwrap_or("").to_string()));
            match r["arn"].as_str() {
                Some(arn) if arn.contains(role) => {}
                _ => crossed.push(format!(
                    "round {round}, {component}: arn {} error {} with config\n{}",
                    r["arn"],
                    r["error"],
                    r["config_text"].as_str().unwrap_or("")
                )),
            }
        }
    }
    eprintln!("{} of {} runs crossed", crossed.len(), ROUNDS * runs.len());
    assert!(
        crossed.is_empty(),
        "{} of {} runs got another run's profile:\n{}",
        crossed.len(),
        ROUNDS * runs.len(),
        crossed.join("\n")
    );
    // Each component always had one config file, and no two components shared one.
    let paths: std::collections::BTreeSet<&str> = configs.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(configs.len(), runs.len(), "{configs:?}");
    assert_eq!(paths.len(), runs.len(), "{configs:?}");
}

// ---- defect 2: nothing from the repository adds a line to the AWS config ----

/// `tfauth plan dns -s STACK` with real Terraform 1.0.3 (on the venv's PATH), run from
/// `repo`.
fn plan_dns(bed: &Bed, repo: &Path, moto: &Moto, token: &Stub, stack: &str) -> Out {
    let mut c = bed.cmd(TFAUTH);
    github_env(&mut c, moto, token);
    c.current_dir(repo).env("TF_IN_AUTOMATION", "1").args(["plan", "dns", "-s", stack, "-no-color"]);
    run(c)
}

/// The files tfauth wrote for a run (`<config>/atmos/<realm>/...`).
fn aws_files(bed: &Bed) -> Vec<PathBuf> {
    let atmos = bed.home().join(".config/atmos");
    bed.written().into_iter().filter(|p| p.is_file() && p.starts_with(&atmos)).collect()
}

/// A marker command: `touch` of a file in the bed, which must never exist.
fn marker(bed: &Bed) -> (PathBuf, String) {
    let m = bed.dir.path().join("PWNED");
    let cmd = format!("touch {}", m.display());
    (m, cmd)
}

/// Every case is checked, then all failures are reported together.
#[test]
fn a_value_that_would_add_a_credential_process_line_is_refused_and_terraform_runs_nothing() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    s3_backend_on_moto(&bed.repo(), &moto, None);
    create_state_bucket(&moto);
    let (pwned, touch) = marker(&bed);
    // The baseline: this bed plans cleanly with real Terraform, so a refusal below is a
    // refusal of the injected value, not of a broken bed.
    let o = plan_dns(&bed, &bed.repo(), &moto, &token, "plat-use2-dev");
    assert_eq!(o.code, 0, "the bed plans cleanly:\n{}", o.stderr);
    std::fs::remove_dir_all(bed.home().join(".config/atmos")).unwrap();

    let mut failures = Vec::new();
    let mut check = |case: &str, o: &Out, what: &[&str]| {
        let ran = find_named(bed.dir.path(), "PWNED");
        let mut why = Vec::new();
        if o.code != 65 {
            why.push(format!("exit {} instead of 65", o.code));
        }
        if !ran.is_empty() {
            why.push(format!("terraform ran the injected credential_process ({ran:?})"));
        }
        for w in what.iter().chain(&["\nhint: "]) {
            if !o.stderr.contains(w) {
                why.push(format!("stderr lacks {w:?}"));
            }
        }
        if !aws_files(&bed).is_empty() {
            why.push(format!("files were written: {:?}", aws_files(&bed)));
        }
        if !why.is_empty() {
            failures.push(format!("{case}: {}\nstderr:\n{}", why.join("; "), o.stderr));
        }
        for p in ran {
            let _ = std::fs::remove_file(p);
        }
        let _ = std::fs::remove_dir_all(bed.home().join(".config/atmos"));
    };

    // 1. The stack's vars.region (the chain names no region, so the stack's is used).
    let stack = bed.repo().join("stacks/orgs/acme/plat/dev/us-east-2.yaml");
    let original = std::fs::read_to_string(&stack).unwrap();
    let injected =
        format!("    dns:\n      vars:\n        region: \"us-east-2\\ncredential_process = {touch}\"\n    app:\n");
    std::fs::write(&stack, original.replace("    app:\n", &injected)).unwrap();
    let o = plan_dns(&bed, &bed.repo(), &moto, &token, "plat-use2-dev");
    check("vars.region", &o, &["region", "vars.region", "plat-use2-dev"]);
    std::fs::write(&stack, &original).unwrap();

    // 2. A stack name with a newline (`name:` in the manifest).
    let name = format!("plat-use2-dev\ncredential_process = {touch}\n#");
    // The workspace is named in the manifest, so the run gets as far as writing its files.
    let workspace = "    dns:\n      metadata:\n        terraform_workspace: plat-use2-dev\n    app:\n";
    let named = format!("name: \"{}\"\n{}", name.replace('\n', "\\n"), original.replace("    app:\n", workspace));
    std::fs::write(&stack, named).unwrap();
    let o = plan_dns(&bed, &bed.repo(), &moto, &token, &name);
    check("stack name", &o, &["stack name"]);
    std::fs::write(&stack, &original).unwrap();

    // 3. The repository's own path (the helper's `--config` argument); the command runs
    // in terraform's working directory, the component's.
    let odd = bed.dir.path().join("repo\ncredential_process = touch PWNED\n#");
    std::fs::rename(bed.repo(), &odd).unwrap();
    let o = plan_dns(&bed, &odd, &moto, &token, "plat-use2-dev");
    check("repository path", &o, &["path"]);
    let _ = pwned;

    assert!(failures.is_empty(), "{} of 3 injections not refused:\n{}", failures.len(), failures.join("\n\n"));
}

/// Every file named `name` under `dir`.
fn find_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut all = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            } else if e.file_name() == name {
                all.push(e.path());
            }
        }
    }
    all
}
