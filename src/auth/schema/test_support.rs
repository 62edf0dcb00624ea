//! What the tests of the auth section share (here and in `identity`'s chain checks): a
//! set of providers of each cloud, and helpers that find and print problems.

use crate::auth::Problem;

const PROVIDERS: &str = r#"providers:
  sso: {kind: aws/iam-identity-center, start_url: "https://d-1.awsapps.com/start", region: us-east-1}
  gh: {kind: github/oidc, region: us-east-2}
  adc: {kind: gcp/adc}
  az: {kind: azure/cli}
"#;

pub(crate) fn with_identities(ids: &str) -> String {
    format!("{PROVIDERS}identities:\n{ids}")
}

pub(crate) fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p} (hint: {:?}, subject: {:?})", p.hint, p.subject))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The one problem a fixture has whose message contains `needle`.
pub(crate) fn problem<'a>(problems: &'a [Problem], needle: &str) -> &'a Problem {
    let found: Vec<&Problem> = problems.iter().filter(|p| p.message.contains(needle)).collect();
    match found.as_slice() {
        [one] => one,
        _ => panic!("expected one problem containing {needle:?}, got {}:\n{}", found.len(), render(problems)),
    }
}

pub(crate) fn line_of(p: &Problem) -> u32 {
    p.span.as_ref().map_or(0, |s| s.line)
}
