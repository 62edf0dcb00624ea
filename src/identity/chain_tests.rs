//! Runs every case in `test-data/chain-cases.yaml`, as aws-config runs
//! `test-data/assume-role-tests.json`: a config, the identity asked for, and the chain
//! expected (root, then hops in order) or the error (variant, message and hint fragments);
//! and, for the same config, every problem [`check`] reports, in order. A failure names
//! the case's `docName`.
//!
//! A case's keys: `docName`; `auth`, the `auth:` section as YAML text (read as
//! `atmos.yaml`, so messages say `atmos.yaml:LINE:COL`); `identity`, the name to build a
//! chain for, with `output`, either `ok: {root, hops}` (`root` is `NAME (KIND)` or
//! `standalone`, each hop `NAME (KIND)`) or `error: {variant, message, hint}`; `problems`,
//! fragments of [`check`]'s problems as `PROBLEM | hint: HINT`, one per problem (none when
//! absent); `schema`, the same for the schema's own problems (none when absent), so that a
//! case cannot pass by testing a config the schema refuses for another reason.

use super::*;
use crate::yaml::{LoadContext, Loader, Node};
use std::path::Path;

const CASES: &str = include_str!("test-data/chain-cases.yaml");

#[test]
fn every_case_in_chain_cases_yaml() {
    let doc = Loader::new(&LoadContext::default())
        .load_str(CASES, Path::new("chain-cases.yaml"))
        .expect("chain-cases.yaml is YAML");
    let cases = doc.as_seq().expect("chain-cases.yaml is a list of cases");
    let mut names: Vec<&str> = Vec::new();
    let mut failures = Vec::new();
    for case in cases {
        let name = case.get("docName").and_then(Node::as_str).expect("every case has a docName");
        assert!(!names.contains(&name), "two cases are called `{name}`");
        names.push(name);
        if let Err(e) = run(case) {
            failures.push(format!("case `{name}`: {e}"));
        }
    }
    assert!(cases.len() >= 20, "only {} cases", cases.len());
    assert!(failures.is_empty(), "{} of {} cases failed:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}

fn run(case: &Node) -> Result<(), String> {
    for key in case.as_map().ok_or("a case is a mapping")?.keys() {
        if !["docName", "auth", "identity", "output", "problems", "schema"].contains(&key.as_str()) {
            return Err(format!("unknown key `{key}`"));
        }
    }
    let src = case.get("auth").and_then(Node::as_str).ok_or("`auth` is YAML text")?;
    let node =
        Loader::new(&LoadContext::default()).load_str(src, Path::new("atmos.yaml")).map_err(|e| e.to_string())?;
    let (auth, schema) = AuthConfig::parse(Some(&node));
    expect_problems("schema", case.get("schema"), &schema)?;
    expect_problems("problems", case.get("problems"), &check(&auth))?;
    match (case.get("identity").and_then(Node::as_str), case.get("output")) {
        (None, None) => Ok(()),
        (Some(leaf), Some(output)) => expect_output(build(&auth, leaf), output),
        _ => Err("`identity` and `output` go together".into()),
    }
}

fn expect_output(got: Result<Chain, ChainError>, output: &Node) -> Result<(), String> {
    match (got, output.get("ok"), output.get("error")) {
        (Ok(chain), Some(want), None) => {
            let root = match &chain.root {
                ChainRoot::Provider(p) => format!("{} ({})", p.name, p.kind_name),
                ChainRoot::Standalone => "standalone".to_string(),
            };
            let hops: Vec<String> = chain.hops.iter().map(|h| format!("{} ({})", h.name, h.kind_name)).collect();
            let want_root = want.get("root").and_then(Node::as_str).ok_or("`ok` needs `root`")?;
            let want_hops = strings(want.get("hops")).ok_or("`ok` needs `hops`, a list")?;
            if root != want_root || hops != want_hops {
                return Err(format!("want root `{want_root}`, hops {want_hops:?}\n got root `{root}`, hops {hops:?}"));
            }
            Ok(())
        }
        (Err(e), None, Some(want)) => {
            let variant = format!("{e:?}").split([' ', '{', '(']).next().unwrap_or_default().to_string();
            let problem = Problem::from(e);
            let (message, hint) = (problem.to_string(), problem.hint.unwrap_or_default());
            let field = |k: &str| want.get(k).and_then(Node::as_str).unwrap_or_default();
            if variant != field("variant") || !message.contains(field("message")) || !hint.contains(field("hint")) {
                return Err(format!(
                    "want {} `{}` (hint `{}`)\n got {variant} `{message}` (hint `{hint}`)",
                    field("variant"),
                    field("message"),
                    field("hint")
                ));
            }
            Ok(())
        }
        (Ok(chain), None, Some(_)) => Err(format!("want an error, got the chain {}", chain.describe())),
        (Err(e), Some(_), None) => Err(format!("want a chain, got the error {e:?}")),
        _ => Err("`output` has exactly one of `ok` and `error`".into()),
    }
}

/// Each problem, as `PROBLEM | hint: HINT`, contains its fragment, and there are as many.
fn expect_problems(what: &str, want: Option<&Node>, got: &[Problem]) -> Result<(), String> {
    let want = match want {
        None => vec![],
        Some(w) => strings(Some(w)).ok_or_else(|| format!("`{what}` is a list of strings"))?,
    };
    let got: Vec<String> = got.iter().map(|p| format!("{p} | hint: {}", p.hint.clone().unwrap_or_default())).collect();
    let matches = want.len() == got.len() && want.iter().zip(&got).all(|(w, g)| g.contains(w.as_str()));
    if !matches {
        return Err(format!("{what}: want\n  {}\ngot\n  {}", want.join("\n  "), got.join("\n  ")));
    }
    Ok(())
}

fn strings(n: Option<&Node>) -> Option<Vec<String>> {
    n?.as_seq()?.iter().map(|s| s.as_str().map(str::to_string)).collect()
}
