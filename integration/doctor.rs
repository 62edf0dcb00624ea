//! `tfauth doctor` on a bed whose files a real `tfauth auth env` wrote (GitHub OIDC →
//! AssumeRoleWithWebIdentity in moto): a healthy bed passes every check, and each of the
//! setups that break runs in practice (files others can read, no terraform, a terraform
//! that is tfauth, a helper that moved, a damaged cache entry, a clock that drifted) is
//! reported with exit 1 and its fix, in text and in JSON.

use super::{BEARER, github_env};
use crate::support::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

const PASSWORD: &str = "keyring-password-canary";

/// A bed after `tfauth auth env vpc -s plat-use2-dev`: the profile files in the realm and a
/// cached session. Returns the AWS config file it wrote.
fn written_bed(bed: &Bed, moto: &Moto, token: &Stub, tfauth: &Path) -> PathBuf {
    let mut c = bed.cmd(tfauth);
    github_env(&mut c, moto, token);
    c.args(["auth", "env", "--login", "vpc", "-s", "plat-use2-dev", "-f", "json"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let env: Value = serde_json::from_str(&o.stdout).unwrap();
    PathBuf::from(env["AWS_CONFIG_FILE"].as_str().unwrap())
}

/// `tfauth doctor` in text and in JSON, with `setup` applied to both commands.
fn doctor(bed: &Bed, sts: &str, setup: impl Fn(&mut Command)) -> (Out, Out, Value) {
    let cmd = |format: &str| {
        let mut c = bed.cmd(TFAUTH);
        c.env("ATMOS_PROFILE", "github")
            .env("AWS_ENDPOINT_URL_STS", sts)
            .env("ATMOS_KEYRING_PASSWORD", PASSWORD)
            .args(["doctor", "--format", format]);
        setup(&mut c);
        run(c)
    };
    let text = cmd("text");
    let json = cmd("json");
    let doc: Value = serde_json::from_str(&json.stdout)
        .unwrap_or_else(|e| panic!("--format json is not one JSON document ({e}):\n{}", json.stdout));
    assert_eq!(text.code, json.code, "both formats exit alike");
    assert_eq!(doc["ok"], text.code == 0, "{}", json.stdout);
    assert!(!format!("{}{}{}{}", text.stdout, text.stderr, json.stdout, json.stderr).contains(PASSWORD));
    (text, json, doc)
}

fn check<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name}: {doc}"))
}

/// Asserts `name` failed with `detail` in its detail and `hint` in its hint, in both formats.
fn assert_fails(text: &Out, doc: &Value, name: &str, detail: &str, hint: &str) {
    assert_eq!(text.code, 1, "stdout:\n{}\nstderr:\n{}", text.stdout, text.stderr);
    // The check's line, then its indented continuation and hint lines.
    let lines: Vec<&str> = text.stdout.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with(&format!("FAIL {name} ")))
        .unwrap_or_else(|| panic!("no FAIL line for {name}:\n{}", text.stdout));
    let block: Vec<&str> = std::iter::once(lines[start])
        .chain(lines[start + 1..].iter().take_while(|l| l.starts_with(' ')).copied())
        .collect();
    assert!(block.join("\n").contains(detail), "text detail of {name} lacks {detail:?}:\n{}", text.stdout);
    assert!(
        block.iter().any(|l| l.trim_start().starts_with("hint: ") && l.contains(hint)),
        "text hint of {name} lacks {hint:?}:\n{}",
        text.stdout
    );
    let c = check(doc, name);
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c["detail"].as_str().unwrap().contains(detail), "{c}");
    assert!(c["hint"].as_str().unwrap().contains(hint), "{c}");
}

/// The cached AWS session `auth env` wrote.
fn cached_session(bed: &Bed) -> PathBuf {
    let aws = bed.home().join(".cache/tfauth/aws");
    let mut entries = bed.written().into_iter().filter(|p| p.parent() == Some(aws.as_path()));
    entries.find(|p| p.extension().is_some_and(|e| e == "json")).expect("a cached session")
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_healthy_bed_passes_every_check_and_doctor_writes_nothing() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let config = written_bed(&bed, &moto, &token, Path::new(TFAUTH));
    let before = bed.written();
    let (text, _, doc) = doctor(&bed, &moto.url(), |_| {});
    assert_eq!(text.code, 0, "stdout:\n{}\nstderr:\n{}", text.stdout, text.stderr);
    assert_eq!(doc["ok"], true);
    let names: Vec<&str> = doc["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["config", "terraform", "helper", "permissions", "clock", "keyring", "cache"]);
    for c in doc["checks"].as_array().unwrap() {
        assert_eq!(c["status"], "pass", "{c}");
        assert!(c["hint"].is_null(), "{c}");
    }
    assert_eq!(text.stdout.lines().count(), 7, "one line per check:\n{}", text.stdout);
    assert!(text.stdout.lines().all(|l| l.starts_with("ok   ")), "{}", text.stdout);
    assert!(check(&doc, "terraform")["detail"].as_str().unwrap().contains(".venv/bin/terraform"), "{doc}");
    let helper = check(&doc, "helper")["detail"].as_str().unwrap().to_string();
    assert!(helper.contains("1 profile(s)") && helper.contains(HELPER), "{helper}");
    assert!(check(&doc, "clock")["detail"].as_str().unwrap().contains(&moto.url()), "{doc}");
    assert!(check(&doc, "cache")["detail"].as_str().unwrap().contains("1 AWS session"), "{doc}");
    // Nothing written, and nothing of the cached session printed.
    assert_eq!(bed.written(), before, "the doctor writes nothing");
    let session: Value = serde_json::from_str(&std::fs::read_to_string(cached_session(&bed)).unwrap()).unwrap();
    for secret in ["SecretAccessKey", "SessionToken"] {
        assert!(!text.stdout.contains(session[secret].as_str().unwrap()), "{secret} printed");
    }
    assert!(config.is_file());
}

#[test]
fn wrong_permissions_are_listed_with_chmod_hints() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let config = written_bed(&bed, &moto, &token, Path::new(TFAUTH));
    let dir = config.parent().unwrap();
    chmod(&config, 0o644);
    chmod(dir, 0o755);
    let (text, _, doc) = doctor(&bed, &moto.url(), |_| {});
    assert_fails(&text, &doc, "permissions", &format!("{}: mode 0644, should be 0600", config.display()), "chmod 600");
    assert_fails(&text, &doc, "permissions", &format!("{}: mode 0755, should be 0700", dir.display()), "chmod 700");
    let hint = check(&doc, "permissions")["hint"].as_str().unwrap().to_string();
    assert!(hint.contains(&format!("chmod 600 {}", config.display())), "{hint}");
    assert!(hint.contains(&format!("chmod 700 {}", dir.display())), "{hint}");
    assert_eq!(check(&doc, "helper")["status"], "pass", "only the broken check fails");
}

#[test]
fn a_missing_terraform_fails_with_an_install_hint() {
    let bed = Bed::new();
    let moto = Moto::start();
    let (text, _, doc) = doctor(&bed, &moto.url(), |c| {
        c.env("PATH", "/usr/bin:/bin");
    });
    assert_fails(&text, &doc, "terraform", "no `terraform` or `tofu` found", "install terraform");
    assert_fails(&text, &doc, "terraform", "", "ATMOS_COMPONENTS_TERRAFORM_COMMAND");
}

#[test]
fn a_terraform_that_is_tfauth_fails_unless_the_real_one_follows() {
    let bed = Bed::new();
    let moto = Moto::start();
    let links = bed.dir.path().join("links");
    std::fs::create_dir_all(&links).unwrap();
    let link = links.join("terraform");
    std::os::unix::fs::symlink(TFAUTH, &link).unwrap();
    let (text, _, doc) = doctor(&bed, &moto.url(), |c| {
        c.env("PATH", format!("{}:/usr/bin:/bin", links.display()));
    });
    assert_fails(
        &text,
        &doc,
        "terraform",
        &format!("{} is tfauth itself (-> {TFAUTH})", link.display()),
        "remove the symlink",
    );
    assert_fails(&text, &doc, "terraform", "", "components.terraform.command");

    // `terraform` → tfauth first on PATH is how `alias terraform=tfauth` users set it up:
    // a run skips it and execs the real terraform after it, so that is healthy.
    let (text, _, doc) = doctor(&bed, &moto.url(), |c| {
        c.env("PATH", format!("{}:{}:/usr/bin:/bin", links.display(), venv().join("bin").display()));
    });
    assert_eq!(check(&doc, "terraform")["status"], "pass", "{}", text.stdout);
}

#[test]
fn a_moved_helper_fails_naming_the_profile_the_file_and_the_path() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    // tfauth and its helper installed in one place, the profiles written from there...
    let old = bed.dir.path().join("old-install");
    std::fs::create_dir_all(&old).unwrap();
    for (from, name) in [(TFAUTH, "tfauth"), (HELPER, "atmos-auth-helper")] {
        std::fs::hard_link(from, old.join(name)).or_else(|_| std::fs::copy(from, old.join(name)).map(|_| ())).unwrap();
    }
    let config = written_bed(&bed, &moto, &token, &old.join("tfauth"));
    let moved = old.join("atmos-auth-helper");
    assert!(std::fs::read_to_string(&config).unwrap().contains(&moved.display().to_string()));
    // ...then that install is gone.
    std::fs::remove_file(&moved).unwrap();
    let (text, _, doc) = doctor(&bed, &moto.url(), |_| {});
    let detail = format!("profile `acme/network` in {}: {} does not exist", config.display(), moved.display());
    assert_fails(&text, &doc, "helper", &detail, "tfauth auth env -i acme/network");
    assert_fails(&text, &doc, "helper", "", "reinstall atmos-auth-helper");
}

#[test]
fn a_corrupt_cache_entry_fails_naming_the_file() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    written_bed(&bed, &moto, &token, Path::new(TFAUTH));
    let entry = cached_session(&bed);
    std::fs::write(&entry, "{\"Version\":1,\"AccessKeyId\":\"ASIA").unwrap();
    let (text, _, doc) = doctor(&bed, &moto.url(), |_| {});
    assert_fails(
        &text,
        &doc,
        "cache",
        &format!("{} (AWS session)", entry.display()),
        &format!("rm {}", entry.display()),
    );
    assert_fails(&text, &doc, "cache", "", "tfauth auth logout --all");
}

/// An "STS" on loopback whose `Date` header is `offset_secs` off the real time.
fn skewed_sts(offset_secs: i64) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        let format = time::format_description::parse_borrowed::<2>(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT",
        )
        .unwrap();
        for mut stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let date =
                (time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_secs)).format(&format).unwrap();
            let _ = write!(
                stream,
                "HTTP/1.1 403 Forbidden\r\nDate: {date}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    url
}

#[test]
fn clock_skew_against_sts_fails_past_five_minutes_and_warns_past_one() {
    let bed = Bed::new();
    let ahead = skewed_sts(10 * 60);
    let (text, _, doc) = doctor(&bed, &ahead, |_| {});
    assert_fails(&text, &doc, "clock", "the local clock is about 10 min (", "synchronize the clock");
    assert!(check(&doc, "clock")["detail"].as_str().unwrap().contains(&format!("behind STS at {ahead}")), "{doc}");

    let behind = skewed_sts(-2 * 60);
    let (text, _, doc) = doctor(&bed, &behind, |_| {});
    let c = check(&doc, "clock");
    assert_eq!(c["status"], "warn", "{c}");
    assert!(c["detail"].as_str().unwrap().contains("about 2 min ("), "{c}");
    assert!(c["detail"].as_str().unwrap().contains("ahead of STS"), "{c}");
    assert!(c["hint"].as_str().unwrap().contains("synchronize the clock"), "{c}");
    assert_eq!(text.code, 0, "a warning is not a failure:\n{}", text.stdout);
    assert!(text.stdout.lines().any(|l| l.starts_with("warn clock ")), "{}", text.stdout);

    // Unreachable: a warning that says so, never a failure (the doctor works offline).
    let port = free_port();
    let (text, _, doc) = doctor(&bed, &format!("http://127.0.0.1:{port}"), |_| {});
    assert_eq!(check(&doc, "clock")["status"], "warn", "{doc}");
    assert!(check(&doc, "clock")["detail"].as_str().unwrap().contains("could not reach STS"), "{doc}");
    assert_eq!(text.code, 0, "{}", text.stdout);
}
