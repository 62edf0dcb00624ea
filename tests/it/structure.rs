//! The shape of the code: `src/`'s top-level modules in pipeline order, and arrows that
//! point one way. A module may use the modules in earlier layers (and its own layer's
//! ground floor), never a later one. The order is written once, in [`LAYERS`]; every
//! `crate::` path in `src/` (code, not comments) is an arrow.
//!
//! No arrow points up: one that does fails the test, naming its file and line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `src/`'s top-level modules, lowest layer first. Modules on one line are one layer and
/// may use each other.
const LAYERS: &[&[&str]] = &[
    // The ground floor: everyone may use these (util: XDG dirs, owner-checked files,
    // suggestions, logging, the one unsafe module).
    &["secret", "exit", "env_vars", "util"],
    // Reading configuration: YAML with spans and tags, deep merge, atmos.yaml and profiles.
    &["yaml"],
    &["merge"],
    &["config"],
    // Stacks and components, then the auth schema over them.
    &["stacks"],
    &["auth"],
    // Who: the chosen identity and its chain (pure).
    &["identity"],
    // Where long-lived secrets are kept.
    &["keyring"],
    // Walking the chain over the network.
    &["providers"],
    // Keeping what it gives: the cache and its locks, the portal token, the vault, refresh.
    &["session"],
    // Handing sessions to what reads only the container-credentials variables.
    &["serve"],
    // Running programs: finding the real terraform, the child's environment, exec. Below
    // the runner, whose steps it spawns, and the plans, which it only carries.
    &["exec"],
    // The component runner's plan (varfile, backend, workspace, steps, the directory lock).
    &["run"],
    // A request resolved end to end; the files and environment it plans.
    &["resolve"],
    &["output"],
    // Logins for other tools (Atmos's `auth.integrations`: registry logins, kubeconfigs).
    &["logins"],
    // The crate's error: every domain's error, and its exit code, in one place.
    &["error"],
    // Programs and commands on top: the checks, the command line (the helper, completion,
    // the terminal and browser prompts, the console sign-in live in cli/).
    &["doctor"],
    &["cli"],
];

/// Every arrow in `src/`: (from, to) -> the first place it is seen (`file:line`).
fn arrows(src: &Path) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for file in rust_files(src) {
        let rel = file.strip_prefix(src).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if top == "lib" || top == "bin" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for target in crate_paths(code) {
                if target != top {
                    out.entry((top.clone(), target)).or_insert_with(|| format!("src/{}:{}", rel.display(), n + 1));
                }
            }
        }
    }
    out
}

/// The top-level modules a line names through `crate::` (also `crate::{a, b::c}`).
fn crate_paths(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        // Not `tfauth_crate::` or a string's `mycrate::`.
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn layer_of() -> BTreeMap<&'static str, usize> {
    LAYERS.iter().enumerate().flat_map(|(i, l)| l.iter().map(move |m| (*m, i))).collect()
}

/// Every import in `src` that points up the pipeline: `from -> to (first at file:line)`.
fn back_edges(src: &Path) -> Vec<String> {
    let layers = layer_of();
    let mut out = Vec::new();
    for ((from, to), place) in arrows(src) {
        let (Some(&lf), Some(&lt)) = (layers.get(from.as_str()), layers.get(to.as_str())) else { continue };
        if lt > lf {
            out.push(format!("{from} -> {to} (first at {place})"));
        }
    }
    out
}

#[test]
fn every_top_level_module_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layers = layer_of();
    let missing: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().trim_end_matches(".rs").to_string())
        .filter(|m| m != "lib" && m != "bin" && !layers.contains_key(m.as_str()))
        .collect();
    assert!(missing.is_empty(), "give these modules a place in LAYERS (tests/it/structure.rs): {missing:?}");
}

#[test]
fn arrows_point_down_the_pipeline() {
    let new = back_edges(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(
        new.is_empty(),
        "these imports point up the pipeline (see LAYERS in tests/it/structure.rs); move the code, or pass the value down:\n  {}",
        new.join("\n  ")
    );
}

/// The check above can fail: a stack module that reaches up into the command line is
/// caught, with its file and line; the same arrow pointing down is not.
#[test]
fn a_back_edge_is_named_with_its_file_and_line() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("stacks")).unwrap();
    std::fs::create_dir_all(src.join("cli")).unwrap();
    std::fs::write(src.join("stacks/mod.rs"), "//! stacks\n\nuse crate::cli::Ctx;\n").unwrap();
    std::fs::write(src.join("cli/mod.rs"), "use crate::stacks::StackSet;\n// crate::doctor in a comment\n").unwrap();
    assert_eq!(back_edges(&src), ["stacks -> cli (first at src/stacks/mod.rs:3)"]);
}

#[test]
fn the_scanner_sees_paths_and_groups_but_not_lookalikes() {
    assert_eq!(crate_paths("use crate::yaml::Node;"), ["yaml"]);
    assert_eq!(crate_paths("use crate::{auth::Cloud, env_vars as ev};"), ["auth", "env_vars"]);
    assert_eq!(crate_paths("let x = crate::cache::margin(&env, crate::exit::USAGE);"), ["cache", "exit"]);
    assert!(crate_paths("my_crate::thing(); \"tfauth_crate::x\"").is_empty());
}
