//! Cuts a YAML document down to some of its top-level keys without parsing it.
//!
//! Naming a stack reads only a manifest's `import`, `vars`, `settings`, `env` and `name`;
//! its `components` are most of its bytes, and a cold run names every manifest. So the
//! naming pass parses [`keep_top_level`]'s text instead of the file's: the same lines, with
//! those of every other top-level key made empty, so each kept value parses to the same
//! node at the same line and column.
//!
//! It must not change what a kept key parses to, so it answers only for the plain shape
//! manifests have: a block mapping whose keys start at column 0, each on a line of its
//! own. A line at column 0 in a document the parser accepts is never inside a multi-line
//! scalar or flow collection (the parser refuses such indentation, see the tests), so it
//! starts a key. Anything else at column 0 (a quoted, complex or tagged key, a sequence,
//! a flow mapping, a directive, a second document, a tab), and a key written twice, gives
//! `None`, and the caller parses the whole text. A kept value that cannot be parsed alone
//! (an alias of an anchor under a dropped key) fails to parse, and the caller then parses
//! the whole text too. What it cannot see is a syntax error under a dropped key: that is
//! reported when the whole file is read.
//!
//! Nearly every `import:` is a list of plain paths, one `- catalog/vpc` per line; such a
//! list is read here, line by line, into the node the parser would build (same values,
//! lines and columns, as the tests check against the parser), and any other shape of it is
//! left to the parser.
//!
//! Pure: no I/O, and no YAML parser.

use super::{Node, Span, Value, load};
use std::path::Path;
use std::sync::Arc;

/// What [`keep_top_level`] kept: the text to parse, and the lists it read itself.
#[derive(Debug)]
pub struct Cut {
    /// The document with the lines of dropped keys (and of `lists`) made empty.
    pub text: String,
    /// Top-level keys whose value is a block list of plain words, read here: the node
    /// the parser would give, at the same lines and columns.
    pub lists: Vec<(String, Node)>,
}

/// `src` with the lines of every top-level key not in `keep` made empty, or `None` when the
/// document is not a plain block mapping with keys at column 0 (see the module docs). A
/// kept key in `lists` whose value is a block list of plain words (`- catalog/vpc`, the
/// shape of nearly every `import:`) is read here rather than left to the parser.
pub fn keep_top_level(src: &str, keep: &[&str], lists: &[&str], file: &Path) -> Option<Cut> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let mut out = String::with_capacity(src.len());
    let mut read = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    // Comments and a `---` before the first key are kept: they parse to nothing.
    let mut keeping = true;
    // The current key's lines, when it is a list to try reading here.
    let mut pending: Option<(&str, usize, Vec<&str>)> = None;
    let flush = |pending: &mut Option<(&str, usize, Vec<&str>)>, out: &mut String, read: &mut Vec<(String, Node)>| {
        let Some((key, first_line, lines)) = pending.take() else { return };
        match plain_list(&lines[1..], first_line, Arc::from(file)) {
            Some(node) => {
                read.push((key.to_string(), node));
                lines.iter().filter(|l| l.ends_with('\n')).for_each(|_| out.push('\n'));
            }
            None => lines.iter().for_each(|l| out.push_str(l)),
        }
    };
    let mut start = 0;
    // Each line with its `\n`, and the last one without.
    let ends = memchr::memchr_iter(b'\n', src.as_bytes()).map(|at| at + 1).chain(std::iter::once(src.len()));
    for (number, end) in ends.enumerate() {
        if end <= start {
            break;
        }
        let line = &src[start..end];
        start = end;
        let starts_key = match line.as_bytes()[0] {
            b' ' | b'\n' | b'\r' | b'#' => false,
            b'\t' if line.trim_start().is_empty() || line.trim_start().starts_with('#') => false,
            b'-' if seen.is_empty() && is_document_start(line) => false,
            _ => true,
        };
        if starts_key {
            flush(&mut pending, &mut out, &mut read);
            let key = top_level_key(line)?;
            if seen.contains(&key) {
                return None;
            }
            seen.push(key);
            keeping = keep.contains(&key);
            if keeping && lists.contains(&key) && line[key.len()..].trim_start_matches(' ').trim_end() == ":" {
                pending = Some((key, number + 1, Vec::new()));
            }
        }
        if let Some((_, _, lines)) = &mut pending {
            lines.push(line);
        } else if keeping {
            out.push_str(line);
        } else if line.ends_with('\n') {
            out.push('\n');
        }
    }
    flush(&mut pending, &mut out, &mut read);
    Some(Cut { text: out, lists: read })
}

/// The list the lines after a top-level key (on line `line`, 1-based) hold when each is
/// `- word` at one indentation, or blank, or a comment; a word is a plain scalar of
/// letters, digits and `._/*-` that the core schema reads as a string. The parser places
/// such a list where its key is.
fn plain_list(lines: &[&str], line: usize, file: Arc<Path>) -> Option<Node> {
    let mut items = Vec::new();
    let mut indent = None;
    for (i, l) in lines.iter().enumerate() {
        let l = l.strip_suffix('\n').unwrap_or(l);
        let l = l.strip_suffix('\r').unwrap_or(l);
        let body = l.trim_start_matches(' ');
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let n = l.len() - body.len();
        if n == 0 || *indent.get_or_insert(n) != n {
            return None;
        }
        let word = body.strip_prefix("- ")?.trim_start_matches(' ').trim_end_matches(' ');
        let b = word.as_bytes();
        if b.is_empty()
            || !(b[0].is_ascii_alphanumeric() || matches!(b[0], b'.' | b'/' | b'_'))
            || !b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'/' | b'_' | b'*' | b'-'))
        {
            return None;
        }
        // With a `/` in it, no word is a number, a bool or null.
        let word = if word.contains('/') {
            word.to_string()
        } else {
            let Value::Str(word) = load::resolve_plain(word) else { return None };
            word
        };
        let after_dash = &body[1..];
        let col = n + 1 + (after_dash.len() - after_dash.trim_start_matches(' ').len());
        let at = (line + 1 + i) as u32;
        items.push(Node::new(Value::Str(word), Span::new(file.clone(), at, col as u32 + 1)));
    }
    if items.is_empty() {
        return None;
    }
    Some(Node::new(Value::Seq(items), Span::new(file, line as u32, 1)))
}

/// `---` alone on its line (a comment may follow).
fn is_document_start(line: &str) -> bool {
    line.strip_prefix("---").is_some_and(|rest| {
        let rest = rest.trim_start_matches([' ', '\t']);
        rest.is_empty() || rest.starts_with('#') || rest.trim_end_matches(['\r', '\n']).is_empty()
    })
}

/// The key of a line `key:` or `key: value` whose key is a plain word (letters, digits and
/// `_-./`, not starting with `-`, `.` or `/`).
fn top_level_key(line: &str) -> Option<&str> {
    let bytes = line.as_bytes();
    let end = bytes.iter().position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/')))?;
    if end == 0 || !(bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_') {
        return None;
    }
    let after = line[end..].trim_start_matches(' ');
    let rest = after.strip_prefix(':')?;
    match rest.as_bytes().first() {
        None | Some(b' ' | b'\t' | b'\r' | b'\n') => Some(&line[..end]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{LoadContext, Loader};

    const NAMING: &[&str] = &["import", "vars", "settings", "env", "name"];
    const LISTS: &[&str] = &["import"];

    fn parse(s: &str) -> Result<Node, String> {
        Loader::new(&LoadContext::default()).load_str(s, Path::new("/m.yaml")).map_err(|e| e.to_string())
    }

    fn cut(src: &str) -> Option<Cut> {
        keep_top_level(src, NAMING, LISTS, Path::new("/m.yaml"))
    }

    /// The kept keys parse (or are read) to the same values at the same lines and columns
    /// as in the whole document, and the others are gone. Says how many lists were read.
    #[track_caller]
    fn same_kept(src: &str) -> usize {
        let whole = parse(src).unwrap();
        let cut = cut(src).expect("a plain manifest");
        assert_eq!(cut.text.lines().count(), src.lines().count());
        let mut part = parse(&cut.text).unwrap();
        if part.is_null() {
            part = Node::empty_map(part.span.clone());
        }
        let read = cut.lists.len();
        let p = part.as_map_mut().expect("a mapping");
        for (k, v) in cut.lists {
            assert!(p.insert(k, v).is_none(), "a list read and parsed");
        }
        let w = whole.as_map().expect("a mapping");
        for (k, v) in w {
            match p.get(k) {
                Some(pv) => {
                    assert!(NAMING.contains(&k.as_str()), "{k} kept");
                    // Debug shows every value's span.
                    assert_eq!(format!("{v:?}"), format!("{pv:?}"), "{k}");
                }
                None => assert!(!NAMING.contains(&k.as_str()), "{k} dropped"),
            }
        }
        assert!(p.keys().all(|k| w.contains_key(k)));
        read
    }

    #[test]
    fn keeps_the_naming_keys_where_they_were() {
        same_kept(
            "# a stack\nimport:\n  - catalog/a\n  - path: catalog/b\n    context: {x: 1}\n\ncomponents:\n  terraform:\n    vpc:\n      vars:\n        cidr: 10.0.0.0/16\n        note: |\n          text\n\n          more\n# between\nvars:\n  stage: dev\n  tags:\n    - a\n    - b\nsettings: {spacelift: {workspace_enabled: true}}\nterraform:\n  backend_type: s3\nname: custom\n",
        );
        same_kept("---\nvars: {stage: dev}\ncomponents:\n  terraform: {}\n");
        same_kept("components:\r\n  terraform: {}\r\nvars:\r\n  stage: dev\r\n");
        same_kept("\u{feff}vars:\n  stage: dev\n");
        same_kept("components:\n  terraform:\n    a: {vars: {x: 1}}\n");
        same_kept("vars :\n  stage: dev\nenv: &e\n  A: 1\nsettings:\n  copy: *e\n");
    }

    #[test]
    fn plain_import_lists_are_read_as_the_parser_reads_them() {
        for src in [
            "import:\n  - catalog/a\n  - catalog/b\nvars: {stage: dev}\n",
            "# top\nimport:\n    - catalog/a   \n\n    # a comment\n    -   mixins/region/us-east-2\n# after\ncomponents: {}\n",
            "import:\r\n  - ./relative/x\r\n  - ../up/y.yaml\r\n  - catalog/**/*\r\n",
            "vars:\n  a: 1\nimport:\n - orgs/acme/_defaults\n",
        ] {
            assert_eq!(same_kept(src), 1, "{src:?}");
        }
        // Anything else is left to the parser, which reads it the same as before.
        for src in [
            "import:\n  - catalog/a\n    - catalog/b\n",
            "import:\n  - catalog/a\n   - catalog/b\n",
            "import:\n  - path: catalog/a\n",
            "import:\n  - \"catalog/a\"\n",
            "import:\n  - catalog/a # why\n",
            "import:\n  - catalog/{{ .vars.x }}\n",
            "import:\n  - true\n  - 12\n",
            "import:\n  - catalog/a\n    continued\n",
            "import: [catalog/a]\n",
            "import: # none yet\n",
            "import:\n",
            "import: &i\n  - catalog/a\nvars: {x: *i}\n",
        ] {
            assert_eq!(same_kept(src), 0, "{src:?}");
        }
    }

    #[test]
    fn anything_but_a_plain_top_level_mapping_is_left_to_the_parser() {
        for src in [
            "- a\n- b\n",
            "{vars: {stage: dev}}\n",
            "\"vars\": {stage: dev}\n",
            "? vars\n: {stage: dev}\n",
            "<<: *base\nvars: {}\n",
            "!!map\nvars: {}\n",
            "%YAML 1.2\n---\nvars: {}\n",
            "vars: {}\n---\nvars: {}\n",
            "vars: {}\nvars: {}\n",
            "vars:x\n",
            "my vars: {}\n",
            "vars: a\nb\n",
            "\tvars: {}\n",
            "vars:\n\tstage: dev\n",
            "import:\n- catalog/a\n",
        ] {
            assert!(cut(src).is_none(), "{src:?}");
        }
    }

    /// Why a line at column 0 always starts a key: the parser refuses a quoted scalar or a
    /// flow collection that goes on at column 0, so a dropped key cannot reach into a kept
    /// one (nor the other way round) in a document it accepts.
    #[test]
    fn the_parser_refuses_column_0_inside_a_value() {
        for src in [
            "components: \"abc\nvars: x\"\n",
            "components: 'abc\nvars: x'\n",
            "components: [a,\nvars: x]\n",
            "components: {a: 1,\nvars: x}\n",
            "components:\n  a: \"abc\nvars: x\"\n",
            "components:\n  a: [1,\nvars: 2]\n",
            "components:\n  - \"a\nvars: x\"\n",
        ] {
            assert!(parse(src).is_err(), "{src:?}");
        }
        // A block scalar ends at the first line less indented than its text.
        same_kept("components: |\n  abc\nvars: x\n");
        same_kept("components: >\n abc\n\nvars: x\n");
    }

    #[test]
    fn a_kept_value_that_needs_a_dropped_anchor_does_not_parse_alone() {
        let src = "components: &c {a: 1}\nvars:\n  copy: *c\n";
        assert!(parse(src).is_ok());
        let cut = cut(src).unwrap();
        assert!(parse(&cut.text).is_err(), "{:?}", cut.text);
    }
}
