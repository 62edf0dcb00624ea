//! The bad-input corpus: every directory under `tests/bad_inputs/` is a small, broken
//! Atmos repository plus a `case.json` that says how tfauth must fail on it.
//!
//! Adding a case needs no code: create `tests/bad_inputs/NN-short-name/` with the
//! repository's files and a `case.json`:
//!
//! ```json
//! {
//!   "description": "what is broken, and what a good error says about it",
//!   "args": ["plan", "vpc", "-s", "dev", "--dry-run"],
//!   "env": {"ATMOS_PROFILE": "nope"},
//!   "cwd": "sub/dir",
//!   "exit": 65,
//!   "stderr": ["invalid YAML", "stacks/dev.yaml:3"],
//!   "stdout": ["Dry run"],
//!   "hint": true,
//!   "generate": [{"path": "stacks/dev.yaml", "kind": "huge", "text": "vars: {}\n"}]
//! }
//! ```
//!
//! - `args` (required): the words after `tfauth`. `exit` (required): the exit code.
//! - `env`: extra environment on top of the sandbox's clean one.
//! - `cwd`: where to run, relative to the repository (default: its root).
//! - `stderr` / `stdout`: substrings that must appear, compared case-insensitively (the
//!   wording may change; the facts, such as `file:line`, may not).
//! - `hint`: stderr must have a line starting with `hint: `.
//! - `generate`: files made by the runner instead of being committed (see [`generate`]).
//! - In `args`, `env` and `cwd`, `{repo}` and `{home}` stand for the sandbox's directories.
//!
//! Whatever the case, stderr must not show a panic, stdout must be empty on failure,
//! nothing may appear under HOME, and the repository's files must be unchanged.
//!
//! `BAD_INPUTS_CASE=substring cargo test --test it bad_inputs` runs only matching cases;
//! `BAD_INPUTS_VERBOSE=1` prints every case's stderr (add `-- --nocapture`).

use crate::support::{Sandbox, TFAUTH, copy_dir, outcome};
use assert_cmd::Command;
use serde_json::{Map, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Fewest cases the corpus may have (the issue asks for at least 25).
const MIN_CASES: usize = 25;
/// Longest a single case may run; hostile inputs must fail fast, not hang.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Size of `huge` files: just over the 16 MiB limit.
const HUGE_BYTES: usize = 16 * 1024 * 1024 + 64 * 1024;

const KNOWN_KEYS: &[&str] = &["description", "args", "env", "cwd", "exit", "stderr", "stdout", "hint", "generate"];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs")
}

/// One `case.json`, checked for shape before anything runs.
struct Case {
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: Option<String>,
    exit: i32,
    stderr: Vec<String>,
    stdout: Vec<String>,
    hint: bool,
    generate: Vec<Generate>,
}

struct Generate {
    path: String,
    kind: String,
    text: String,
    levels: usize,
}

fn read_case(dir: &Path) -> Result<Case, String> {
    let path = dir.join("case.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: invalid JSON: {e}", path.display()))?;
    let obj = v.as_object().ok_or("case.json must be an object")?;
    if let Some(k) = obj.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
        return Err(format!("case.json: unknown key `{k}` (known: {})", KNOWN_KEYS.join(", ")));
    }
    let strings = |key: &str| -> Result<Vec<String>, String> {
        match obj.get(key) {
            None => Ok(vec![]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string).ok_or(format!("case.json: `{key}` must hold strings")))
                .collect(),
            Some(_) => Err(format!("case.json: `{key}` must be a list of strings")),
        }
    };
    let args = strings("args")?;
    if obj.get("args").is_none() {
        return Err("case.json: `args` is required".into());
    }
    let exit = obj
        .get("exit")
        .and_then(Value::as_i64)
        .and_then(|e| i32::try_from(e).ok())
        .ok_or("case.json: `exit` (an integer) is required")?;
    let env = match obj.get("env") {
        None => vec![],
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                v.as_str().map(|s| (k.clone(), s.to_string())).ok_or(format!("case.json: env `{k}` must be a string"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("case.json: `env` must be an object of strings".into()),
    };
    let cwd = match obj.get("cwd") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("case.json: `cwd` must be a string".into()),
    };
    let hint = match obj.get("hint") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("case.json: `hint` must be true or false".into()),
    };
    let generate = match obj.get("generate") {
        None => vec![],
        Some(Value::Array(items)) => items.iter().map(read_generate).collect::<Result<_, _>>()?,
        Some(one @ Value::Object(_)) => vec![read_generate(one)?],
        Some(_) => return Err("case.json: `generate` must be an object or a list of them".into()),
    };
    Ok(Case { args, env, cwd, exit, stderr: strings("stderr")?, stdout: strings("stdout")?, hint, generate })
}

fn read_generate(v: &Value) -> Result<Generate, String> {
    let m: &Map<String, Value> = v.as_object().ok_or("case.json: a `generate` entry must be an object")?;
    let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
    let path = s("path").ok_or("case.json: `generate[].path` is required")?;
    let kind = s("kind").ok_or("case.json: `generate[].kind` is required")?;
    if !["huge", "non_utf8", "nul", "deep", "alias_bomb"].contains(&kind.as_str()) {
        return Err(format!("case.json: unknown generate kind `{kind}` (huge, non_utf8, nul, deep, alias_bomb)"));
    }
    let levels = m.get("levels").and_then(Value::as_u64).map_or(300, |l| l as usize);
    Ok(Generate { path, kind, text: s("text").unwrap_or_default(), levels })
}

/// The bytes of a generated file. Every kind starts with `text` (valid YAML, usually the
/// manifest's ordinary content) so that the only thing wrong is the generated part.
///
/// - `huge`: `text`, then comment lines until the file is just over 16 MiB.
/// - `non_utf8`: `text` with each `@@` replaced by the byte 0xE9 (é in Latin-1).
/// - `nul`: `text` with each `@@` replaced by a NUL byte.
/// - `deep`: `text`, then a `deep:` mapping nested `levels` (default 300) levels under it.
/// - `alias_bomb`: `text`, then a billion-laughs document: 9 levels of 10 aliases each.
fn generate(g: &Generate) -> Vec<u8> {
    let mut out = g.text.clone().into_bytes();
    match g.kind.as_str() {
        "huge" => {
            let line = format!("# {}\n", "padding ".repeat(12));
            while out.len() <= HUGE_BYTES {
                out.extend_from_slice(line.as_bytes());
            }
        }
        "non_utf8" => out = replace_marker(&g.text, 0xE9),
        "nul" => out = replace_marker(&g.text, 0x00),
        "deep" => {
            let mut s = String::from("deep:\n");
            for level in 1..=g.levels {
                let _ = writeln!(s, "{}l{level}:", "  ".repeat(level));
            }
            let _ = writeln!(s, "{}leaf: x", "  ".repeat(g.levels + 1));
            out.extend_from_slice(s.as_bytes());
        }
        "alias_bomb" => {
            let mut s = String::from("laughs:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
            for i in 1..10 {
                let refs = vec![format!("*a{}", i - 1); 10].join(", ");
                let _ = writeln!(s, "  a{i}: &a{i} [{refs}]");
            }
            out.extend_from_slice(s.as_bytes());
        }
        other => unreachable!("checked in read_generate: {other}"),
    }
    out
}

fn replace_marker(text: &str, byte: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for (i, part) in text.split("@@").enumerate() {
        if i > 0 {
            out.push(byte);
        }
        out.extend_from_slice(part.as_bytes());
    }
    out
}

/// Copies the case's repository (everything but `case.json`) into a fresh sandbox.
fn sandbox_for(dir: &Path) -> Sandbox {
    let sb = Sandbox::new();
    for e in std::fs::read_dir(dir).expect("read case dir").flatten() {
        let name = e.file_name();
        if name == "case.json" {
            continue;
        }
        let to = sb.repo().join(&name);
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).expect("copy case file");
        }
    }
    sb
}

fn expand(s: &str, sb: &Sandbox) -> String {
    s.replace("{repo}", &sb.repo().display().to_string()).replace("{home}", &sb.home().display().to_string())
}

/// Runs one case; returns what differed from the expectation (empty when it passed).
fn run_case(dir: &Path, case: &Case) -> (Vec<String>, String) {
    let sb = sandbox_for(dir);
    for g in &case.generate {
        sb.write(&g.path, generate(g));
    }
    let before = sb.repo_fingerprint();

    let args: Vec<String> = case.args.iter().map(|a| expand(a, &sb)).collect();
    let mut cmd = Command::new(TFAUTH);
    sb.clean_env(&mut cmd);
    cmd.current_dir(case.cwd.as_deref().map_or_else(|| sb.repo(), |c| sb.repo().join(expand(c, &sb))))
        .args(&args)
        .timeout(TIMEOUT);
    for (k, v) in &case.env {
        cmd.env(k, expand(v, &sb));
    }
    let out = outcome(cmd);

    let mut diffs = Vec::new();
    if out.code != case.exit {
        diffs.push(format!("exit code {} (expected {})", out.code, case.exit));
    }
    let stderr_lc = out.stderr.to_lowercase();
    for want in &case.stderr {
        if !stderr_lc.contains(&want.to_lowercase()) {
            diffs.push(format!("stderr lacks {want:?}"));
        }
    }
    let stdout_lc = out.stdout.to_lowercase();
    for want in &case.stdout {
        if !stdout_lc.contains(&want.to_lowercase()) {
            diffs.push(format!("stdout lacks {want:?}"));
        }
    }
    if case.hint && !out.stderr.lines().any(|l| l.starts_with("hint: ")) {
        diffs.push("stderr has no line starting with \"hint: \"".into());
    }
    for bad in ["panicked", "RUST_BACKTRACE"] {
        if out.stderr.contains(bad) {
            diffs.push(format!("stderr contains {bad:?}"));
        }
    }
    if out.code != 0 && !out.stdout.is_empty() {
        diffs.push(format!("stdout is not empty on failure:\n{}", indent(&out.stdout)));
    }
    let written = sb.files_written();
    if !written.is_empty() {
        let list: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        diffs.push(format!("files were created under HOME: {}", list.join(", ")));
    }
    let after = sb.repo_fingerprint();
    if after != before {
        diffs.push(format!("the repository changed: {}", changed_files(&before, &after, &sb.repo()).join(", ")));
    }
    (diffs, out.stderr)
}

fn changed_files(before: &[(PathBuf, Vec<u8>)], after: &[(PathBuf, Vec<u8>)], repo: &Path) -> Vec<String> {
    let mut changed = Vec::new();
    let rel = |p: &Path| p.strip_prefix(repo).unwrap_or(p).display().to_string();
    for (p, bytes) in after {
        match before.iter().find(|(q, _)| q == p) {
            None => changed.push(format!("{} (created)", rel(p))),
            Some((_, old)) if old != bytes => changed.push(format!("{} (modified)", rel(p))),
            _ => {}
        }
    }
    for (p, _) in before {
        if !after.iter().any(|(q, _)| q == p) {
            changed.push(format!("{} (deleted)", rel(p)));
        }
    }
    changed
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    | {l}\n")).collect()
}

#[test]
fn every_bad_input_fails_cleanly() {
    let root = corpus_dir();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= MIN_CASES, "the corpus has {} cases; it needs at least {MIN_CASES}", dirs.len());

    let only = std::env::var("BAD_INPUTS_CASE").ok();
    let verbose = std::env::var_os("BAD_INPUTS_VERBOSE").is_some();
    let mut failures = String::new();
    let mut failed = 0;
    let mut ran = 0;
    for dir in &dirs {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        ran += 1;
        let (diffs, stderr) = match read_case(dir) {
            Ok(case) => run_case(dir, &case),
            Err(e) => (vec![e], String::new()),
        };
        if verbose {
            println!("=== {name}: {}\n{}", if diffs.is_empty() { "ok" } else { "FAILED" }, indent(&stderr));
        }
        if !diffs.is_empty() {
            failed += 1;
            let _ = writeln!(failures, "=== {name}");
            for d in &diffs {
                let _ = writeln!(failures, "  - {d}");
            }
            let _ = writeln!(failures, "  stderr:\n{}", indent(&stderr));
        }
    }
    assert!(ran > 0, "BAD_INPUTS_CASE={only:?} matches no case");
    assert!(failed == 0, "{failed} of {ran} bad-input cases failed:\n\n{failures}");
}
