//! The block of profiles `tfauth auth configure-profiles` keeps in the user's own AWS
//! config (granted's `sso populate`, aws-vault users' habit): one `[profile NAME]` per AWS
//! identity, each running `atmos-auth-helper` as its `credential_process`, between two
//! marker lines that name the repository's atmos.yaml. Every other byte of the file is the
//! user's and is kept as it is.
//!
//! Pure: builds text from text. Every value goes through [`super::ini`]; what cannot be
//! written unchanged is refused, never escaped into something else. Reading and replacing
//! the file is the command's job.

use super::env::shell_quote;
use super::ini::{self, Ini};
use std::collections::BTreeSet;

/// One profile of the block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    /// The helper's command line, already quoted for `sh -c`.
    pub command: String,
    pub region: Option<String>,
}

/// The helper's command line for `identity` of the atmos.yaml at `config` (with the
/// profiles applied): no `--key`, so the helper resolves the identity's definition every
/// time it has no session, and a changed definition never serves an old session.
pub fn command(helper: &str, identity: &str, config: &str, profiles: &[String]) -> String {
    let mut words = vec![shell_quote(helper), "--identity".into(), shell_quote(identity)];
    words.extend(["--config".into(), shell_quote(config)]);
    if !profiles.is_empty() {
        words.extend(["--profile".into(), shell_quote(&profiles.join(","))]);
    }
    words.join(" ")
}

/// The marker lines of the block for the atmos.yaml at `config`.
pub fn markers(config: &str) -> (String, String) {
    let c = ini::escape_controls(config);
    (format!("# >>> tfauth profiles for {c} >>>"), format!("# <<< tfauth profiles for {c} <<<"))
}

/// The block, markers included, ending with a newline.
pub fn block(config: &str, profiles: &[Profile]) -> Result<String, (String, ini::Unsafe)> {
    let (begin, end) = markers(config);
    let mut ini = Ini::new();
    ini.comment("Written by `tfauth auth configure-profiles`: run it again to update this block, which it replaces;")
        .comment("everything outside the markers is yours and kept as it is.");
    for p in profiles {
        let at = |why| (p.name.clone(), why);
        ini.section(Some("profile"), &p.name).map_err(at)?.pair("credential_process", &p.command).map_err(at)?;
        if let Some(r) = &p.region {
            ini::check_region(r).map_err(at)?;
            ini.pair("region", r).map_err(at)?;
        }
    }
    Ok(format!("{begin}\n{}{end}\n", ini.render()))
}

/// Where the block for `config` is in `text`: the byte range from its first marker line to
/// the end of its last one (newline included).
fn find(text: &str, config: &str) -> Option<(usize, usize)> {
    let (begin, end) = markers(config);
    let mut offset = 0;
    let mut start = None;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if start.is_none() && bare == begin {
            start = Some(offset);
        } else if let Some(s) = start
            && bare == end
        {
            return Some((s, offset + line.len()));
        }
        offset += line.len();
    }
    None
}

/// `text` with the block for `config` replaced by `block`, or appended after a blank line.
/// Nothing else changes, byte for byte.
pub fn splice(text: &str, config: &str, block: &str) -> String {
    match find(text, config) {
        Some((s, e)) => format!("{}{block}{}", &text[..s], &text[e..]),
        None if text.is_empty() => block.to_string(),
        None => {
            let sep = if text.ends_with("\n\n") {
                ""
            } else if text.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            };
            format!("{text}{sep}{block}")
        }
    }
}

/// The profile names `text` defines outside the block for `config` (`[profile x]` is `x`,
/// `[default]` is `default`), which the block must not define again.
pub fn names_outside(text: &str, config: &str) -> BTreeSet<String> {
    let outside = match find(text, config) {
        Some((s, e)) => format!("{}{}", &text[..s], &text[e..]),
        None => text.to_string(),
    };
    outside
        .lines()
        .filter_map(|l| l.trim().strip_prefix('[')?.strip_suffix(']').map(str::trim))
        .filter(|s| !s.starts_with("sso-session ") && !s.starts_with("services "))
        .map(|s| s.strip_prefix("profile ").map_or(s, str::trim).to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "/repo/atmos.yaml";

    fn profiles() -> Vec<Profile> {
        vec![
            Profile {
                name: "dev/admin".into(),
                command: command("/opt/bin/atmos-auth-helper", "dev/admin", CONFIG, &[]),
                region: Some("us-east-2".into()),
            },
            Profile {
                name: "prod/ro".into(),
                command: command("/opt/bin/atmos-auth-helper", "prod/ro", CONFIG, &["github".into()]),
                region: None,
            },
        ]
    }

    #[test]
    fn the_block_is_appended_once_and_replaced_in_place_keeping_every_other_byte() {
        let mine = "[default]\nregion = eu-west-1\n\n[profile mine]  \r\nsso_session = x\n# my comment\n";
        let b = block(CONFIG, &profiles()).unwrap();
        assert!(b.starts_with("# >>> tfauth profiles for /repo/atmos.yaml >>>\n"), "{b}");
        assert!(b.ends_with("# <<< tfauth profiles for /repo/atmos.yaml <<<\n"), "{b}");
        assert!(b.contains("[profile dev/admin]\ncredential_process = /opt/bin/atmos-auth-helper --identity dev/admin --config /repo/atmos.yaml\nregion = us-east-2\n"), "{b}");
        assert!(b.contains("--identity prod/ro --config /repo/atmos.yaml --profile github\n"), "{b}");
        let once = splice(mine, CONFIG, &b);
        assert!(once.starts_with(mine), "the user's bytes first, unchanged");
        assert_eq!(splice(&once, CONFIG, &b), once, "idempotent");
        // A changed block replaces the old one where it is; text after it stays.
        let after = format!("{once}\n[profile later]\nregion = us-west-2\n");
        let smaller = block(CONFIG, &profiles()[..1]).unwrap();
        let replaced = splice(&after, CONFIG, &smaller);
        assert_eq!(replaced, format!("{mine}\n{smaller}\n[profile later]\nregion = us-west-2\n"));
        // Another repository's block is another block.
        let other = splice(&replaced, "/other/atmos.yaml", &block("/other/atmos.yaml", &[]).unwrap());
        assert!(other.starts_with(&replaced));
        assert_eq!(splice(&other, CONFIG, &smaller), other);
        assert_eq!(splice("", CONFIG, &b), b);
        assert_eq!(splice("[default]", CONFIG, &b), format!("[default]\n\n{b}"));
    }

    #[test]
    fn names_outside_the_block_are_the_users() {
        let text = format!(
            "[default]\n[profile mine]\n[ profile  spaced ]\n[sso-session corp]\n{}",
            block(CONFIG, &profiles()).unwrap()
        );
        let names = names_outside(&text, CONFIG);
        assert_eq!(names.into_iter().collect::<Vec<_>>(), ["default", "mine", "spaced"]);
    }

    #[test]
    fn a_value_that_could_add_a_line_is_refused() {
        let mut p = profiles();
        p[0].name = "dev]x".into();
        assert_eq!(block(CONFIG, &p).unwrap_err(), ("dev]x".to_string(), ini::Unsafe::NameChar(']')));
        let mut p = profiles();
        p[1].region = Some("us-east-1\ncredential_process = evil".into());
        assert!(block(CONFIG, &p).is_err());
        let mut p = profiles();
        p[1].command = command("/opt/bin/atmos-auth-helper", "prod/ro", "/repo\n[profile x]/atmos.yaml", &[]);
        assert!(block(CONFIG, &p).is_err());
        // The markers never carry a line break either.
        assert!(!markers("/a\nb").0.contains('\n'));
    }
}
