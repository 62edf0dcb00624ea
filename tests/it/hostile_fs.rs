//! Repositories whose files fight back (issue 14, defects 5 and 7): symlink loops in
//! `stacks/`, and `!include`s of `/dev/zero`, a FIFO or a file over the 16 MiB cap. Every
//! run must end fast: each command runs with a timeout (so a regression fails instead of
//! hanging the suite) and under an address-space limit (so a regression that reads
//! `/dev/zero` fails instead of taking the machine's memory).

use crate::support::{Sandbox, TFAUTH, copy_dir};
use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A run that takes longer is killed and fails the test.
const TIMEOUT: Duration = Duration::from_secs(10);
/// What "fast" means here: well under a second on an idle machine; this leaves room for a
/// loaded two-core CI runner and a debug build.
const FAST: Duration = Duration::from_secs(2);
/// Address space a run may use (the old code used 2 GB reading `/dev/zero`).
const MEMORY: u64 = 2 << 30;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

fn baseline(sb: &Sandbox) {
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs/00-baseline-is-valid"), &sb.repo());
    let _ = std::fs::remove_file(sb.repo().join("case.json"));
}

/// `tfauth ARGS` in the sandbox's repository, killed after [`TIMEOUT`].
fn run(sb: &Sandbox, args: &[&str]) -> Run {
    let mut c = Command::new(TFAUTH);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()))
        .env("HOME", sb.home())
        .env("XDG_CONFIG_HOME", sb.home().join(".config"))
        .env("XDG_CACHE_HOME", sb.home().join(".cache"))
        .env("CI", "true")
        .current_dir(sb.repo())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        c.pre_exec(|| {
            let lim = libc::rlimit { rlim_cur: MEMORY, rlim_max: MEMORY };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = c.spawn().expect("spawn tfauth");
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut s);
        s
    });
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break Some(st);
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap()).into_owned();
    let code = status.as_ref().and_then(|s| s.code());
    if status.is_none() {
        panic!("`tfauth {}` was still running after {TIMEOUT:?}; killed\nstderr: {stderr}", args.join(" "));
    }
    Run { code, stdout, stderr, took }
}

fn fast(r: &Run, what: &str) {
    eprintln!("{what}: exit {:?} in {:?}", r.code, r.took);
    assert!(r.took < FAST, "{what} took {:?}\nstderr: {}", r.took, r.stderr);
    assert!(!r.stderr.contains("panicked"), "{what}: {}", r.stderr);
}

/// Every command that walks the stacks directory.
const WALKERS: &[&[&str]] = &[
    &["list", "stacks"],
    &["list", "stacks", "-c", "vpc"],
    &["list", "components", "-s", "dev"],
    &["describe", "component", "vpc", "-s", "dev"],
    &["plan", "vpc", "-s", "dev", "--dry-run"],
];

#[test]
fn symlink_loops_and_links_out_of_stacks_end_fast_and_are_named() {
    let sb = Sandbox::new();
    baseline(&sb);
    let stacks = sb.repo().join("stacks");
    symlink(".", stacks.join("again")).unwrap();
    symlink(".", stacks.join("and-again")).unwrap();
    symlink("..", stacks.join("up")).unwrap();
    symlink("/", stacks.join("root")).unwrap();
    symlink("..", stacks.join("deploy/back")).unwrap();
    for args in WALKERS {
        let r = run(&sb, args);
        let what = format!("tfauth {}", args.join(" "));
        fast(&r, &what);
        assert_eq!(r.code, Some(0), "{what}: {}", r.stderr);
        assert!(r.stdout.contains(if args[0] == "list" && args[1] == "components" { "vpc" } else { "dev" }), "{what}");
        for link in ["stacks/again", "stacks/and-again", "stacks/deploy/back"] {
            assert!(
                r.stderr.lines().any(|l| l.contains(link) && l.contains("symlink loop")),
                "{what}: no warning naming {link}: {}",
                r.stderr
            );
        }
        for link in ["stacks/up", "stacks/root"] {
            assert!(
                r.stderr.lines().any(|l| l.contains(link) && l.contains("outside the stacks directory")),
                "{what}: no warning naming {link}: {}",
                r.stderr
            );
        }
    }
    for words in [&["plan", "vpc", "-s", ""][..], &["plan", ""], &["list", "components", "-s", ""]] {
        let mut args = vec!["__complete", "--"];
        args.extend_from_slice(words);
        let r = run(&sb, &args);
        let what = format!("completion of `{}`", words.join(" "));
        fast(&r, &what);
        assert_eq!(r.code, Some(0), "{what}: {}", r.stderr);
        assert!(r.stdout.contains("dev") || r.stdout.contains("vpc"), "{what}: {}", r.stdout);
    }
}

#[test]
fn a_symlink_inside_the_stacks_directory_still_works() {
    let sb = Sandbox::new();
    baseline(&sb);
    sb.write("stacks/extra/staging.yaml", "import:\n  - orgs/shared/vpc\nvars:\n  stage: staging\n");
    std::fs::create_dir_all(sb.repo().join("stacks/orgs")).unwrap();
    // A catalog shared under a second name, and a manifest directory reached only by a link.
    symlink("../catalog", sb.repo().join("stacks/orgs/shared")).unwrap();
    symlink("../extra", sb.repo().join("stacks/deploy/linked")).unwrap();
    let r = run(&sb, &["list", "stacks"]);
    fast(&r, "list stacks");
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), "dev\nstaging\n"), "{}", r.stderr);
    assert!(!r.stderr.contains("symlink"), "{}", r.stderr);
    let r = run(&sb, &["describe", "component", "vpc", "-s", "staging", "-f", "json"]);
    fast(&r, "describe component vpc -s staging");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["vars"]["stage"], "staging");
    assert_eq!(doc["vars"]["cidr"], "10.0.0.0/16", "inherited through the linked catalog");
    let r = run(&sb, &["list", "stacks", "-c", "vpc"]);
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), "dev\nstaging\n"), "{}", r.stderr);
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().expect("mkfifo").success();
    assert!(ok, "mkfifo {}", path.display());
}

#[test]
fn includes_of_dev_zero_a_fifo_or_a_huge_file_fail_fast_with_their_line() {
    let sb = Sandbox::new();
    baseline(&sb);
    mkfifo(&sb.repo().join("pipe.yaml"));
    sb.write("huge.json", vec![b' '; 16 * 1024 * 1024 + 1]);
    let cases = [
        ("/dev/zero", "a character device"),
        ("/dev/zero .a.b", "a character device"),
        ("../../pipe.yaml", "FIFO"),
        ("../../huge.json", "bytes"),
        ("../../huge.json", "16777216"),
    ];
    for (target, says) in cases {
        for tag in ["!include", "!include.raw"] {
            sb.write("stacks/deploy/dev.yaml", format!("import:\n  - catalog/vpc\nvars: {tag} {target}\n"));
            for args in [&["plan", "vpc", "-s", "dev", "--dry-run"][..], &["list", "stacks"]] {
                let what = format!("`vars: {tag} {target}` in tfauth {}", args.join(" "));
                let r = run(&sb, args);
                fast(&r, &what);
                let file = target.split_whitespace().next().unwrap().trim_start_matches("../../");
                // A listing reports a manifest it cannot read, as fast (issue 16, point 9).
                assert_eq!(r.code, Some(65), "{what}: {}", r.stderr);
                for want in ["!include", "stacks/deploy/dev.yaml:3", file, says] {
                    assert!(r.stderr.contains(want), "{what}: no `{want}` in:\n{}", r.stderr);
                }
                assert!(r.stderr.lines().any(|l| l.starts_with("hint: ")), "{what}: {}", r.stderr);
                assert!(r.stdout.is_empty(), "{what}: {}", r.stdout);
            }
        }
    }
}

#[test]
fn an_include_of_dev_zero_in_atmos_yaml_fails_fast() {
    let sb = Sandbox::new();
    baseline(&sb);
    let atmos = std::fs::read_to_string(sb.repo().join("atmos.yaml")).unwrap();
    sb.write("atmos.yaml", format!("{atmos}settings: !include /dev/zero\n"));
    let r = run(&sb, &["plan", "vpc", "-s", "dev", "--dry-run"]);
    fast(&r, "atmos.yaml `!include /dev/zero`");
    assert_eq!(r.code, Some(65), "{}", r.stderr);
    assert!(r.stderr.contains("atmos.yaml:") && r.stderr.contains("/dev/zero"), "{}", r.stderr);
    assert!(r.stderr.lines().any(|l| l.starts_with("hint: ")), "{}", r.stderr);
}

#[test]
fn a_manifest_or_import_that_is_a_fifo_or_device_never_blocks() {
    let sb = Sandbox::new();
    baseline(&sb);
    mkfifo(&sb.repo().join("stacks/deploy/stuck.yaml"));
    symlink("/dev/zero", sb.repo().join("stacks/deploy/zero.yaml")).unwrap();
    mkfifo(&sb.repo().join("stacks/catalog/pipe.yaml"));
    let r = run(&sb, &["list", "stacks"]);
    fast(&r, "list stacks with FIFO and device manifests");
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), "dev\n"), "{}", r.stderr);
    sb.write("stacks/deploy/dev.yaml", "import:\n  - catalog/vpc\n  - catalog/pipe\nvars:\n  stage: dev\n");
    let r = run(&sb, &["plan", "vpc", "-s", "dev", "--dry-run"]);
    fast(&r, "plan importing a FIFO");
    assert_eq!(r.code, Some(65), "{}", r.stderr);
    for want in ["stacks/deploy/dev.yaml:3", "catalog/pipe.yaml", "FIFO", "hint: "] {
        assert!(r.stderr.contains(want), "no `{want}` in:\n{}", r.stderr);
    }
}

/// `.atmos.d/` and `import:` (issue 16): a FIFO or `/dev/zero` there is refused at once
/// with its name, a directory link that loops is not followed, and an import glob over a
/// deep tree stays bounded.
#[test]
fn atmos_d_and_imports_with_a_fifo_a_device_or_a_loop_end_fast() {
    let sb = Sandbox::new();
    baseline(&sb);
    std::fs::create_dir_all(sb.repo().join(".atmos.d/sub")).unwrap();
    symlink("..", sb.repo().join(".atmos.d/sub/loop")).unwrap();
    sb.write(".atmos.d/sub/ok.yaml", "settings: {fine: true}\n");
    let r = run(&sb, &["plan", "vpc", "-s", "dev", "--dry-run"]);
    fast(&r, ".atmos.d with a directory loop");
    assert_eq!(r.code, Some(0), "{}", r.stderr);

    mkfifo(&sb.repo().join(".atmos.d/stuck.yaml"));
    let r = run(&sb, &["plan", "vpc", "-s", "dev", "--dry-run"]);
    fast(&r, ".atmos.d with a FIFO");
    assert_eq!(r.code, Some(65), "{}", r.stderr);
    assert!(r.stderr.contains(".atmos.d/stuck.yaml") && r.stderr.contains("FIFO"), "{}", r.stderr);
    std::fs::remove_file(sb.repo().join(".atmos.d/stuck.yaml")).unwrap();

    let atmos = std::fs::read_to_string(sb.repo().join("atmos.yaml")).unwrap();
    symlink("/dev/zero", sb.repo().join("zero.yaml")).unwrap();
    sb.write("atmos.yaml", format!("{atmos}import:\n  - \"**/*\"\n  - zero.yaml\n"));
    let r = run(&sb, &["plan", "vpc", "-s", "dev", "--dry-run"]);
    fast(&r, "import of a glob over the repository and of /dev/zero");
    assert_eq!(r.code, Some(65), "{}", r.stderr);
    assert!(r.stderr.contains("zero.yaml"), "{}", r.stderr);
}
