//! The one place INI files are rendered (the AWS config and credentials files, gcloud's
//! properties, az's `config`), and the rules a value must meet to be written into one.
//!
//! A value read back by botocore (Python's `configparser`), the Go SDK v1 (Terraform 1.0's
//! S3 backend) and gcloud must be exactly the value written, and no value may add a line:
//! an added `credential_process = ...` line is a command the next AWS client runs. So
//! nothing is escaped, everything is checked, and what fails a check is refused with the
//! reason ([`Unsafe`]); the caller names the value and where it came from
//! ([`UnsafeValue`]). Comments are ours and informational: their control characters are
//! shown escaped instead.

use std::fmt;

/// Why a value cannot be written into an INI file unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unsafe {
    /// A control character (newline, carriage return, NUL, tab...) or a Unicode line break.
    Control(char),
    /// `#` or `;`, which the Go SDK v1's INI lexer may take for the start of a comment.
    CommentChar(char),
    /// Leading or trailing whitespace, which every reader strips.
    Whitespace,
    /// A leading `"`, which the Go SDK v1 strips as quotes.
    LeadingQuote,
    Empty,
    /// A character outside the set section names may hold (ASCII letters, digits, `-_./@+`).
    NameChar(char),
    /// Not of the AWS region grammar (`us-east-1`, `us-gov-west-1`, `cn-north-1`).
    NotARegion,
}

impl fmt::Display for Unsafe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsafe::Control(c) if matches!(c, '\n' | '\r' | '\u{b}' | '\u{c}' | '\u{85}') || is_line_break(*c) => {
                write!(f, "holds {}, which would start a new line", char_name(*c))
            }
            Unsafe::Control(c) => write!(f, "holds {}, which INI readers do not read back unchanged", char_name(*c)),
            Unsafe::CommentChar(c) => write!(f, "holds `{c}`, which an INI reader may take for a comment"),
            Unsafe::Whitespace => f.write_str("starts or ends with whitespace, which INI readers strip"),
            Unsafe::LeadingQuote => f.write_str("starts with `\"`, which the Go SDK strips as a quote"),
            Unsafe::Empty => f.write_str("is empty"),
            Unsafe::NameChar(c) => write!(
                f,
                "holds {}, and a profile name may hold only ASCII letters, digits and `-_./@+`",
                char_name(*c)
            ),
            Unsafe::NotARegion => f.write_str("is not an AWS region name (like us-east-1 or us-gov-west-1)"),
        }
    }
}

fn char_name(c: char) -> String {
    match c {
        '\n' => "a newline (\\n)".into(),
        '\r' => "a carriage return (\\r)".into(),
        '\t' => "a tab (\\t)".into(),
        '\0' => "a NUL byte".into(),
        c if c.is_control() || is_line_break(c) => format!("the control character U+{:04X}", c as u32),
        c => format!("`{c}`"),
    }
}

/// Line breaks beyond the ASCII control characters: Python's `str.splitlines` splits on
/// them, and a BOM confuses readers at the start of a line.
fn is_line_break(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// A value that every reader reads back unchanged, on one line.
pub fn check_value(s: &str) -> Result<(), Unsafe> {
    if s.is_empty() {
        return Err(Unsafe::Empty);
    }
    if let Some(c) = s.chars().find(|c| c.is_control() || is_line_break(*c)) {
        return Err(Unsafe::Control(c));
    }
    if let Some(c) = s.chars().find(|c| matches!(c, '#' | ';')) {
        return Err(Unsafe::CommentChar(c));
    }
    if s.trim() != s {
        return Err(Unsafe::Whitespace);
    }
    if s.starts_with('"') {
        return Err(Unsafe::LeadingQuote);
    }
    Ok(())
}

/// A section (profile) name that botocore and the Go SDK v1 both read back unchanged.
pub fn check_name(s: &str) -> Result<(), Unsafe> {
    if s.is_empty() {
        return Err(Unsafe::Empty);
    }
    if let Some(c) = s.chars().find(|c| c.is_control() || is_line_break(*c)) {
        return Err(Unsafe::Control(c));
    }
    match s.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '@' | '+'))) {
        Some(c) => Err(Unsafe::NameChar(c)),
        None => Ok(()),
    }
}

/// The AWS region grammar: groups of lowercase letters separated by `-`, ending in a
/// number (`us-east-1`, `us-gov-west-1`, `cn-north-1`, `us-isob-east-1`).
pub fn check_region(s: &str) -> Result<(), Unsafe> {
    check_value(s)?;
    let parts: Vec<&str> = s.split('-').collect();
    let (last, groups) = parts.split_last().ok_or(Unsafe::NotARegion)?;
    let ok = parts.len() >= 3
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
        && groups.iter().all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_lowercase()));
    if ok { Ok(()) } else { Err(Unsafe::NotARegion) }
}

enum Line {
    Comment(String),
    Blank,
    Section(String),
    Pair(&'static str, String),
}

/// An INI document built from checked parts; [`Ini::render`] is the only way to text.
#[derive(Default)]
pub struct Ini {
    lines: Vec<Line>,
}

impl Ini {
    pub fn new() -> Ini {
        Ini::default()
    }

    /// A `# ` comment line per line of `text`; control characters are shown escaped.
    pub fn comment(&mut self, text: &str) -> &mut Ini {
        for line in text.split('\n') {
            self.lines.push(Line::Comment(escape_controls(line)));
        }
        self
    }

    /// `[prefix name]` (`[profile acme/admin]`) or `[name]`; `name` must pass
    /// [`check_name`] (the prefix is ours).
    pub fn section(&mut self, prefix: Option<&'static str>, name: &str) -> Result<&mut Ini, Unsafe> {
        check_name(name)?;
        if !self.lines.is_empty() && !matches!(self.lines.last(), Some(Line::Comment(_))) {
            self.lines.push(Line::Blank);
        }
        self.lines.push(Line::Section(match prefix {
            Some(p) => format!("{p} {name}"),
            None => name.to_string(),
        }));
        Ok(self)
    }

    /// `key = value` in the current section; `key` is ours (a fixed identifier), `value`
    /// must pass [`check_value`].
    pub fn pair(&mut self, key: &'static str, value: &str) -> Result<&mut Ini, Unsafe> {
        debug_assert!(key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "key `{key}`");
        debug_assert!(self.lines.iter().any(|l| matches!(l, Line::Section(_))), "a pair outside a section");
        check_value(value)?;
        self.lines.push(Line::Pair(key, value.to_string()));
        Ok(self)
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            match l {
                Line::Comment(c) if c.is_empty() => out.push_str("#\n"),
                Line::Comment(c) => {
                    out.push_str("# ");
                    out.push_str(c);
                    out.push('\n');
                }
                Line::Blank => out.push('\n'),
                Line::Section(s) => {
                    out.push('[');
                    out.push_str(s);
                    out.push_str("]\n");
                }
                Line::Pair(k, v) => {
                    out.push_str(k);
                    out.push_str(" = ");
                    out.push_str(v);
                    out.push('\n');
                }
            }
        }
        out
    }
}

/// `s` with control characters and Unicode line breaks written as escapes (`\n`, `\u{2028}`):
/// safe to print in a comment or an error message.
pub fn escape_controls(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() || is_line_break(c) { c.escape_default().to_string() } else { c.to_string() })
        .collect()
}

/// A value a run would write into a file, refused: which value, where it came from, why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("identity `{identity}`: cannot write {file}: {what} \"{}\" ({from}) {why}", escape_controls(.value))]
pub struct UnsafeValue {
    /// The identity whose files these are.
    pub identity: String,
    /// The file, as a user knows it: "its AWS config", "its gcloud configuration".
    pub file: String,
    /// What the value is: "the region", "the stack name", "the path of atmos.yaml".
    pub what: String,
    pub value: String,
    /// Where it came from: "the stack's vars.region at stacks/x.yaml:4".
    pub from: String,
    pub why: Unsafe,
    pub hint: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_would_change_the_file_are_refused() {
        let table: &[(&str, Option<Unsafe>)] = &[
            ("us-east-2", None),
            ("/opt/bin/atmos-auth-helper --identity acme/admin --config '/a b/atmos.yaml'", None),
            ("it's = fine: [x] 100% {y}", None),
            ("/home/josé/atmos.yaml", None),
            ("us-east-2\ncredential_process = touch /tmp/x", Some(Unsafe::Control('\n'))),
            ("a\rb", Some(Unsafe::Control('\r'))),
            ("a\0b", Some(Unsafe::Control('\0'))),
            ("a\tb", Some(Unsafe::Control('\t'))),
            ("a\u{85}b", Some(Unsafe::Control('\u{85}'))),
            ("a\u{2028}b", Some(Unsafe::Control('\u{2028}'))),
            ("a # b", Some(Unsafe::CommentChar('#'))),
            ("a;b", Some(Unsafe::CommentChar(';'))),
            (" padded", Some(Unsafe::Whitespace)),
            ("padded ", Some(Unsafe::Whitespace)),
            ("\"quoted\"", Some(Unsafe::LeadingQuote)),
            ("", Some(Unsafe::Empty)),
        ];
        for (v, want) in table {
            assert_eq!(check_value(v).err(), *want, "{v:?}");
        }
    }

    #[test]
    fn region_grammar() {
        for ok in ["us-east-1", "us-gov-west-1", "cn-north-1", "eu-central-2", "us-isob-east-1", "ap-southeast-10"] {
            assert_eq!(check_region(ok), Ok(()), "{ok}");
        }
        for bad in ["useast1", "us-east", "US-EAST-1", "us-east-1a", "us--east-1", "-us-east-1", "us-east-", "us-3-1"] {
            assert_eq!(check_region(bad), Err(Unsafe::NotARegion), "{bad}");
        }
        assert_eq!(check_region("us-east-1\nx = y"), Err(Unsafe::Control('\n')));
    }

    #[test]
    fn profile_names() {
        for ok in ["acme/admin", "plat-dev/terraform", "a.b_c@d+e", "X9"] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_name("a]b"), Err(Unsafe::NameChar(']')));
        assert_eq!(check_name("a b"), Err(Unsafe::NameChar(' ')));
        assert_eq!(check_name("a=b"), Err(Unsafe::NameChar('=')));
        assert_eq!(check_name("a\nb"), Err(Unsafe::Control('\n')));
        assert_eq!(check_name("josé"), Err(Unsafe::NameChar('é')));
        assert_eq!(check_name(""), Err(Unsafe::Empty));
    }

    #[test]
    fn renders_sections_pairs_and_escaped_comments() {
        let mut ini = Ini::new();
        ini.comment("Written by tfauth for stack a\nregion = x");
        ini.section(Some("profile"), "acme/admin").unwrap().pair("region", "us-east-2").unwrap();
        ini.section(None, "default").unwrap().pair("output", "json").unwrap();
        assert_eq!(
            ini.render(),
            "# Written by tfauth for stack a\n# region = x\n[profile acme/admin]\nregion = us-east-2\n\n[default]\noutput = json\n"
        );
        let mut one = Ini::new();
        one.comment("tab\there\u{2028}x");
        assert_eq!(one.render(), "# tab\\there\\u{2028}x\n");
        assert!(Ini::new().section(Some("profile"), "a]\n[b").is_err());
        assert!(Ini::new().section(None, "s").unwrap().pair("region", "x\ny").is_err());
    }

    #[test]
    fn the_error_names_the_value_escaped_and_its_origin() {
        let e = UnsafeValue {
            identity: "acme/admin".into(),
            file: "its AWS config".into(),
            what: "the region".into(),
            value: "us-east-2\ncredential_process = x".into(),
            from: "the stack's vars.region".into(),
            why: Unsafe::NotARegion,
            hint: "h".into(),
        };
        assert_eq!(
            e.to_string(),
            "identity `acme/admin`: cannot write its AWS config: the region \"us-east-2\\ncredential_process = x\" (the stack's vars.region) is not an AWS region name (like us-east-1 or us-gov-west-1)"
        );
    }
}
