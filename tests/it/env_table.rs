//! The README's table of environment variables and `src/env_vars.rs` agree: every
//! variable constant (`pub const NAME: &str = "VARIABLE";`) has a row under
//! "## Environment variables", and every row there names a constant.

use std::collections::BTreeSet;
use std::path::Path;

/// The variable names of `src/env_vars.rs`'s `&str` constants.
fn constants(text: &str) -> BTreeSet<String> {
    // Join a value that rustfmt wrapped onto the next line.
    let joined = text.split('\n').map(str::trim).collect::<Vec<_>>().join(" ");
    let mut out = BTreeSet::new();
    let mut rest = joined.as_str();
    while let Some(at) = rest.find("pub const ") {
        rest = &rest[at + "pub const ".len()..];
        let Some((name, after)) = rest.split_once(':') else { break };
        let Some(value) = after.trim_start().strip_prefix("&str =") else { continue };
        let value = value.trim_start();
        let Some(value) = value.strip_prefix('"') else { continue };
        let Some((value, _)) = value.split_once('"') else { continue };
        assert!(
            value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "src/env_vars.rs: {name} = {value:?} is not a variable name"
        );
        out.insert(value.to_string());
    }
    out
}

/// The first cells (`` `NAME` ``) of the table rows in the README's
/// "## Environment variables" section.
fn readme_rows(text: &str) -> BTreeSet<String> {
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with("Environment variables\n"))
        .expect("README.md has no `## Environment variables` section");
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`'))
        .map(|(name, _)| name.to_string())
        .collect()
}

#[test]
fn readme_table_and_constants_agree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let consts = constants(&std::fs::read_to_string(root.join("src/env_vars.rs")).unwrap());
    let rows = readme_rows(&std::fs::read_to_string(root.join("README.md")).unwrap());
    assert!(consts.len() > 50, "found only {} constants in src/env_vars.rs", consts.len());
    let mut problems = vec![];
    for c in consts.difference(&rows) {
        problems
            .push(format!("{c}: a constant in src/env_vars.rs, but no row in README.md's environment variables table"));
    }
    for r in rows.difference(&consts) {
        problems
            .push(format!("{r}: a row in README.md's environment variables table, but no constant in src/env_vars.rs"));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
