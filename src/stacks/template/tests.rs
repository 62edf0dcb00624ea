//! Tests of the template evaluator through its public face ([`Template`] and
//! [`TemplateError`]): parsing, rendering, messages and positions.
//!
//! They live apart because they are longer than the code of any one stage;
//! they must test behaviour, not the private types of a stage.

use super::*;
use serde_json::json;

const ATMOS_DEFAULT: &str = "{{ .vars.tenant }}-{{ .vars.environment }}-{{ .vars.stage }}";

fn ctx() -> Value {
    json!({
        "vars": {
            "tenant": "plat",
            "environment": "ue1",
            "stage": "dev",
            "count": 3,
            "negative": -7,
            "ratio": 1.5,
            "whole": 3.0,
            "enabled": true,
            "off": false,
            "zero": 0,
            "blank": "",
            "nothing": null,
            "name": "café",
            "padded": "  x  ",
            "tags": ["a", "b", null, 3],
            "no_tags": [],
            "labels": {"team": "core", "my-key": "dashed"},
            "no_labels": {},
        },
        "settings": {"region": "us-east-1"},
        "env": {"HOME": "/root"},
    })
}

fn render(src: &str) -> String {
    let template = Template::parse(src).unwrap_or_else(|e| panic!("parse {src:?}: {e}"));
    template.render(&ctx()).unwrap_or_else(|e| panic!("render {src:?}: {e}"))
}

fn render_err(src: &str) -> TemplateError {
    let template = Template::parse(src).unwrap_or_else(|e| panic!("parse {src:?}: {e}"));
    match template.render(&ctx()) {
        Ok(out) => panic!("render {src:?} should fail, got {out:?}"),
        Err(e) => e,
    }
}

fn render_msg(src: &str) -> String {
    match render_err(src) {
        TemplateError::Render { message } => message,
        other => panic!("expected a render error for {src:?}, got {other:?}"),
    }
}

fn missing(src: &str) -> String {
    match render_err(src) {
        TemplateError::MissingKey { path } => path,
        other => panic!("expected a missing key for {src:?}, got {other:?}"),
    }
}

fn parse_err(src: &str) -> (usize, String) {
    match Template::parse(src) {
        Ok(_) => panic!("parse {src:?} should fail"),
        Err(TemplateError::Parse { column, message }) => (column, message),
        Err(other) => panic!("expected a parse error for {src:?}, got {other:?}"),
    }
}

#[test]
fn atmos_default_template() {
    assert_eq!(render(ATMOS_DEFAULT), "plat-ue1-dev");
}

#[test]
fn template_is_reusable_across_contexts() {
    let template = Template::parse(ATMOS_DEFAULT).expect("parses");
    for i in 0..100 {
        let ctx = json!({"vars": {"tenant": "t", "environment": i, "stage": "s"}});
        assert_eq!(template.render(&ctx).expect("renders"), format!("t-{i}-s"));
    }
}

#[test]
fn literal_text_and_empty_template() {
    assert_eq!(render("just-text"), "just-text");
    assert_eq!(render(""), "");
    assert_eq!(render("a { b } c"), "a { b } c");
}

#[test]
fn trim_markers() {
    assert_eq!(render("a  \n\t {{- .vars.stage -}} \n  b"), "adevb");
    assert_eq!(render("a {{- .vars.stage }} b"), "adev b");
    assert_eq!(render("a {{ .vars.stage -}} b"), "a devb");
    assert_eq!(render("{{ .vars.tenant }} {{- \"-\" -}} {{ .vars.stage }}"), "plat-dev");
    // Without the space, `{{-3}}` is the number -3, as in Go.
    assert_eq!(render("a {{-3}} b"), "a -3 b");
}

#[test]
fn trim_marker_needs_space() {
    let (column, message) = parse_err("{{ .vars.stage-}}");
    assert_eq!(column, 15);
    assert!(message.contains("space"), "{message}");
}

#[test]
fn comments() {
    assert_eq!(render("a{{/* note */}}b"), "ab");
    assert_eq!(render("a {{- /* note */ -}} b"), "ab");
    assert_eq!(render("{{/* {{ not an action }} */}}x"), "x");
    let (column, message) = parse_err("x{{/* never closed");
    assert_eq!(column, 2);
    assert!(message.starts_with("unclosed comment"), "{message}");
    let (_, message) = parse_err("{{/* c */ x }}");
    assert!(message.contains("comment ends before closing delimiter"), "{message}");
    let (_, message) = parse_err("{{ /* c */ }}");
    assert!(message.contains("comment must start right after"), "{message}");
}

#[test]
fn nested_fields_dot_and_root() {
    assert_eq!(render("{{ .vars.labels.team }}"), "core");
    assert_eq!(render("{{ $.settings.region }}"), "us-east-1");
    assert_eq!(render("{{ with .vars.labels }}{{ .team }}/{{ $.vars.stage }}{{ end }}"), "core/dev");
    assert_eq!(render("{{ with .vars.stage }}{{ . }}{{ end }}"), "dev");
    let template = Template::parse("{{ . }}").expect("parses");
    assert_eq!(template.render(&json!("whole")).expect("renders"), "whole");
}

#[test]
fn pipelines_pass_the_value_last() {
    assert_eq!(render("{{ .vars.stage | upper }}"), "DEV");
    assert_eq!(render("{{ \"a-b-c\" | replace \"-\" \"_\" }}"), "a_b_c");
    assert_eq!(render("{{ .vars.tenant | trimPrefix \"pl\" | upper }}"), "AT");
    assert_eq!(render("{{ .vars.nothing | default \"none\" | upper }}"), "NONE");
    assert_eq!(render("{{ .vars.stage | printf \"%s!\" }}"), "dev!");
}

#[test]
fn parenthesised_sub_expressions() {
    assert_eq!(render("{{ printf \"%s-%s\" (upper .vars.tenant) (lower \"UE1\") }}"), "PLAT-ue1");
    assert_eq!(render("{{ (.vars.stage) }}"), "dev");
    assert_eq!(render("{{ upper (default \"x\" (index .vars.labels \"my-key\")) }}"), "DASHED");
    let (column, message) = parse_err("{{ upper (.vars.stage }}");
    assert_eq!(column, 10);
    assert!(message.starts_with("unclosed `(`"), "{message}");
    let (_, message) = parse_err("{{ upper .vars.stage) }}");
    assert!(message.contains("no matching `(`"), "{message}");
    let (_, message) = parse_err("{{ (.vars).stage }}");
    assert!(message.contains("use `index`"), "{message}");
}

#[test]
fn string_literals_and_escapes() {
    assert_eq!(render(r#"{{ "a\"b\\c" }}"#), "a\"b\\c");
    assert_eq!(render(r#"{{ "tab\there\nnl" }}"#), "tab\there\nnl");
    assert_eq!(render(r#"{{ "\u00e9\U0001F600" }}"#), "é😀");
    assert_eq!(render("{{ `raw \\n {{ }} \"` }}"), "raw \\n {{ }} \"");
    assert_eq!(render(r#"{{ "}}" }}"#), "}}");
}

#[test]
fn bad_string_escape() {
    let (column, message) = parse_err(r#"{{ .vars.stage }}{{ "a\qb" }}"#);
    assert_eq!(column, 23);
    assert!(message.starts_with("unknown escape sequence `\\q`"), "{message}");
    let (_, message) = parse_err(r#"{{ "\x41" }}"#);
    assert!(message.contains("not supported"), "{message}");
    let (column, message) = parse_err("{{ \"abc }}");
    assert_eq!(column, 4);
    assert!(message.starts_with("unterminated string"), "{message}");
    let (_, message) = parse_err("{{ `abc }}");
    assert!(message.starts_with("unterminated raw string"), "{message}");
}

#[test]
fn numbers_and_booleans_print() {
    assert_eq!(render("{{ .vars.count }}/{{ .vars.negative }}/{{ .vars.ratio }}/{{ .vars.whole }}"), "3/-7/1.5/3");
    assert_eq!(render("{{ .vars.enabled }}/{{ .vars.off }}/{{ true }}/{{ 42 }}/{{ -1 }}"), "true/false/true/42/-1");
    let (_, message) = parse_err("{{ 1.5 }}");
    assert!(message.contains("only decimal integers"), "{message}");
    let (_, message) = parse_err("{{ 012 }}");
    assert!(message.contains("octal"), "{message}");
    let (_, message) = parse_err("{{ 99999999999999999999 }}");
    assert!(message.contains("too large"), "{message}");
}

#[test]
fn unicode() {
    assert_eq!(render("ü-{{ .vars.name }}-{{ .vars.name | upper }}-ß"), "ü-café-CAFÉ-ß");
    assert_eq!(render("{{ \"élan vital\" | title }}"), "Élan Vital");
    // Columns count characters, not bytes.
    let (column, _) = parse_err("éé{{ .x");
    assert_eq!(column, 3);
}

#[test]
fn string_functions() {
    assert_eq!(render("{{ lower \"AbC\" }}"), "abc");
    assert_eq!(render("{{ upper \"AbC\" }}"), "ABC");
    assert_eq!(render("{{ title \"hello wide_world-x\" }}"), "Hello Wide_world-X");
    assert_eq!(render("[{{ trim .vars.padded }}]"), "[x]");
    assert_eq!(render("{{ trimPrefix \"pl\" .vars.tenant }}"), "at");
    assert_eq!(render("{{ trimPrefix \"zz\" .vars.tenant }}"), "plat");
    assert_eq!(render("{{ trimSuffix \"-1\" \"ue-1\" }}"), "ue");
    assert_eq!(render("{{ replace \"e\" \"E\" \"eee\" }}"), "EEE");
}

#[test]
fn string_functions_reject_other_types() {
    let message = render_msg("{{ upper .vars.count }}");
    assert!(message.starts_with("`upper` at column 4"), "{message}");
    assert!(message.contains("`.vars.count`, which is the number 3"), "{message}");
    let message = render_msg("{{ trimPrefix 1 \"x\" }}");
    assert!(message.contains("PREFIX must be a string"), "{message}");
}

#[test]
fn default_function() {
    assert_eq!(render("{{ default \"d\" .vars.missing }}"), "d");
    assert_eq!(render("{{ default \"d\" .vars.nothing }}"), "d");
    assert_eq!(render("{{ default \"d\" .vars.blank }}"), "d");
    assert_eq!(render("{{ default \"d\" .vars.off }}"), "d");
    assert_eq!(render("{{ default \"d\" .vars.zero }}"), "d");
    assert_eq!(render("{{ default \"d\" .vars.no_tags }}"), "d");
    assert_eq!(render("{{ default \"d\" .vars.stage }}"), "dev");
    assert_eq!(render("{{ default \"d\" .vars.missing.deeper }}"), "d");
    assert_eq!(render("{{ .vars.missing | default .vars.stage }}"), "dev");
    assert_eq!(missing("{{ default .vars.a .vars.b }}"), "vars.a");
}

#[test]
fn printf_function() {
    assert_eq!(
        render("{{ printf \"%s-%d-%v-%v-%v%%\" .vars.stage .vars.count .vars.ratio .vars.enabled \"x\" }}"),
        "dev-3-1.5-true-x%"
    );
    assert_eq!(render("{{ printf \"plain\" }}"), "plain");
    let message = render_msg("{{ printf \"%d\" .vars.stage }}");
    assert!(message.contains("%d needs an integer"), "{message}");
    let message = render_msg("{{ printf \"%s\" .vars.count }}");
    assert!(message.contains("use %v"), "{message}");
    let message = render_msg("{{ printf \"%s-%s\" .vars.stage }}");
    assert!(message.contains("more verbs"), "{message}");
    let message = render_msg("{{ printf \"%s\" .vars.stage .vars.tenant }}");
    assert!(message.contains("uses only 1"), "{message}");
    let message = render_msg("{{ printf \"%5s\" .vars.stage }}");
    assert!(message.contains("only %s, %d, %v and %%"), "{message}");
    assert_eq!(missing("{{ printf \"%v\" .vars.gone }}"), "vars.gone");
}

#[test]
fn index_function() {
    assert_eq!(render("{{ index .vars.labels \"my-key\" }}"), "dashed");
    assert_eq!(render("{{ index .vars \"labels\" \"team\" }}"), "core");
    assert_eq!(render("{{ index .vars.tags 1 }}"), "b");
    assert_eq!(render("{{ index . \"vars\" \"stage\" }}"), "dev");
    assert_eq!(missing("{{ index .vars.labels \"nope\" }}"), "vars.labels.nope");
    assert_eq!(missing("{{ index .vars.tags 2 }}"), "vars.tags.2");
    let message = render_msg("{{ index .vars.tags 9 }}");
    assert!(
        message.contains("index 9 is out of range (indexing `.vars.tags`, which is a list of 4 items)"),
        "{message}"
    );
    let message = render_msg("{{ index .vars.stage 0 }}");
    assert!(message.contains("can't index the string \"dev\""), "{message}");
}

#[test]
fn comparison_and_logic_functions() {
    assert_eq!(
        render("{{ eq .vars.stage \"dev\" }} {{ eq .vars.stage \"prod\" \"dev\" }} {{ eq .vars.count 3 }}"),
        "true true true"
    );
    assert_eq!(render("{{ ne .vars.stage \"dev\" }} {{ ne .vars.whole 3 }}"), "false false");
    assert_eq!(render("{{ and .vars.stage .vars.tenant }} {{ and .vars.blank .vars.tenant }}"), "plat ");
    assert_eq!(render("{{ or .vars.blank .vars.missing .vars.stage }}"), "dev");
    assert_eq!(render("{{ not .vars.enabled }} {{ not .vars.missing }}"), "false true");
    assert_eq!(
        render("{{ empty .vars.no_labels }} {{ empty .vars.labels }} {{ empty .vars.missing }}"),
        "true false true"
    );
    assert_eq!(render("{{ coalesce .vars.missing .vars.blank .vars.stage }}"), "dev");
    // `and`/`or` short-circuit: the failing call is never evaluated.
    assert_eq!(render("{{ or .vars.stage (upper .vars.count) }}"), "dev");
    let message = render_msg("{{ eq .vars.stage 1 }}");
    assert!(message.contains("different types"), "{message}");
    let message = render_msg("{{ eq .vars.labels 1 }}");
    assert!(message.contains("only strings, numbers and booleans"), "{message}");
    assert_eq!(missing("{{ eq .vars.missing \"x\" }}"), "vars.missing");
}

#[test]
fn quote_and_join() {
    assert_eq!(render("{{ quote .vars.stage }}"), "\"dev\"");
    assert_eq!(render("{{ quote \"a\\\"b\" 3 true }}"), "\"a\\\"b\" \"3\" \"true\"");
    assert_eq!(render("{{ join \"-\" .vars.tags }}"), "a-b-3");
    assert_eq!(render("{{ .vars.tags | join \",\" }}"), "a,b,3");
    assert_eq!(render("[{{ join \"-\" .vars.no_tags }}]"), "[]");
    let message = render_msg("{{ join \"-\" .vars.labels }}");
    assert!(message.contains("LIST must be a list"), "{message}");
}

#[test]
fn if_else_if_else() {
    let src = "{{ if eq .vars.stage \"prod\" }}P{{ else if eq .vars.stage \"dev\" }}D{{ else }}O{{ end }}";
    assert_eq!(render(src), "D");
    let template = Template::parse(src).expect("parses");
    for (stage, want) in [("prod", "P"), ("dev", "D"), ("qa", "O")] {
        let out = template.render(&json!({"vars": {"stage": stage}})).expect("renders");
        assert_eq!(out, want);
    }
    assert_eq!(render("{{ if .vars.missing }}yes{{ else }}no{{ end }}"), "no");
    assert_eq!(render("{{ if .vars.nothing }}yes{{ end }}"), "");
    assert_eq!(render("{{ if .vars.no_tags }}yes{{ else }}no{{ end }}"), "no");
    assert_eq!(render("{{ if .vars.count }}{{ if .vars.zero }}z{{ else }}nz{{ end }}{{ end }}"), "nz");
}

#[test]
fn with_rebinds_dot() {
    assert_eq!(render("{{ with .vars.labels }}{{ .team }}{{ else }}none{{ end }}"), "core");
    assert_eq!(render("{{ with .vars.missing }}{{ .x }}{{ else }}none{{ end }}"), "none");
    assert_eq!(render("{{ with .vars.blank }}x{{ else with .vars.stage }}{{ . }}{{ end }}"), "dev");
    assert_eq!(render("{{ with upper .vars.stage }}{{ . }}{{ end }}"), "DEV");
    // Missing keys inside `with` report the full path.
    assert_eq!(missing("{{ with .vars.labels }}{{ .owner }}{{ end }}"), "vars.labels.owner");
    let (_, message) = parse_err("{{ if .a }}{{ else with .b }}{{ end }}");
    assert!(message.contains("`else with` can only continue a `with` block"), "{message}");
}

#[test]
fn missing_keys() {
    assert_eq!(missing("{{ .vars.region }}"), "vars.region");
    assert_eq!(missing("{{ .vars.nothing }}"), "vars.nothing");
    assert_eq!(missing("{{ .nope.deeper.still }}"), "nope.deeper.still");
    assert_eq!(missing("{{ $.vars.gone | upper }}"), "vars.gone");
    let err = render_err("{{ .vars.region }}");
    assert_eq!(err.to_string(), "the template reads `.vars.region`, which is not set");
    let template = Template::parse(ATMOS_DEFAULT).expect("parses");
    let err = template.render(&json!({"vars": {"tenant": "t"}})).expect_err("fails");
    assert_eq!(err, TemplateError::MissingKey { path: "vars.environment".into() });
    let message = render_msg("{{ .vars.stage.x }}");
    assert!(message.contains("`.vars.stage` is the string \"dev\", not a map"), "{message}");
}

#[test]
fn printing_composites_is_an_error() {
    let message = render_msg("{{ .vars.labels }}");
    assert!(message.starts_with("cannot print a map: `{{ .vars.labels }}` at column 1"), "{message}");
    assert!(message.contains("`.vars.labels.team`"), "{message}");
    let message = render_msg("x{{ .vars.tags }}");
    assert!(message.starts_with("cannot print a list"), "{message}");
    assert!(message.contains("column 2"), "{message}");
    let message = render_msg("{{ coalesce .vars.missing }}");
    assert!(message.starts_with("cannot print null"), "{message}");
}

#[test]
fn unclosed_action() {
    let (column, message) = parse_err("{{ .vars.tenant }}-{{ .vars.stage");
    assert_eq!(column, 20);
    assert!(message.starts_with("unclosed action"), "{message}");
    let err = Template::parse("ab{{ .x").expect_err("fails");
    assert_eq!(err.to_string(), "unclosed action: this `{{` has no matching `}}` (at column 3)");
    let (column, message) = parse_err("{{ .a {{ .b }}");
    assert_eq!(column, 1);
    assert!(message.starts_with("unclosed action"), "{message}");
}

#[test]
fn unknown_function() {
    let (column, message) = parse_err("{{ .vars.stage | uper }}");
    assert_eq!(column, 18);
    assert!(message.starts_with("unknown function `uper` (did you mean `upper`?)"), "{message}");
    assert!(message.contains("lower, upper, title, trim"), "{message}");
    let (_, message) = parse_err("{{ split \"-\" .vars.stage }}");
    assert!(message.starts_with("unknown function `split`"), "{message}");
}

#[test]
fn unsupported_constructs() {
    let (column, message) = parse_err("ab {{ range .vars.tags }}x{{ end }}");
    assert_eq!(column, 7);
    assert!(message.starts_with("`range` is not supported in stack name templates"), "{message}");
    for word in ["define", "template", "block", "nil"] {
        let (_, message) = parse_err(&format!("{{{{ {word} \"x\" }}}}"));
        assert!(message.starts_with(&format!("`{word}` is not supported")), "{message}");
    }
    let (column, message) = parse_err("{{ $x := .vars.stage }}");
    assert_eq!(column, 4);
    assert!(message.contains("variables like `$x` are not supported"), "{message}");
    let (_, message) = parse_err("{{ .vars.my-key }}");
    assert!(message.contains("use `index`"), "{message}");
    let (_, message) = parse_err("{{ printf \"%s\", .vars.stage }}");
    assert!(message.contains("not commas"), "{message}");
}

#[test]
fn block_structure_errors() {
    let (column, message) = parse_err("a{{ end }}");
    assert_eq!(column, 2);
    assert!(message.contains("`{{ end }}` has no matching"), "{message}");
    let (_, message) = parse_err("{{ else }}");
    assert!(message.contains("`{{ else }}` has no matching"), "{message}");
    let (column, message) = parse_err("x {{ if .vars.stage }}y");
    assert_eq!(column, 3);
    assert!(message.starts_with("unclosed `if`"), "{message}");
    let (column, message) = parse_err("{{ if .a }}{{ else if .b }}{{ else }}");
    assert_eq!(column, 1);
    assert!(message.starts_with("unclosed `if`"), "{message}");
    let (_, message) = parse_err("{{ with .a }}x");
    assert!(message.starts_with("unclosed `with`"), "{message}");
    let (_, message) = parse_err("{{ if .a }}{{ else }}{{ else }}{{ end }}");
    assert!(message.contains("follows another"), "{message}");
    let (_, message) = parse_err("{{ if }}{{ end }}");
    assert!(message.starts_with("missing condition after `if`"), "{message}");
    let (_, message) = parse_err("{{ end .x }}");
    assert!(message.contains("after `end`"), "{message}");
}

#[test]
fn command_shape_errors() {
    let (_, message) = parse_err("{{ }}");
    assert!(message.starts_with("empty action"), "{message}");
    let (_, message) = parse_err("{{ .vars.tenant .vars.stage }}");
    assert!(message.contains("is not a function"), "{message}");
    let (_, message) = parse_err("{{ .vars.stage | .vars.tenant }}");
    assert!(message.starts_with("only a function can follow `|`"), "{message}");
    let (_, message) = parse_err("{{ .vars.stage | }}");
    assert!(message.starts_with("missing function after `|`"), "{message}");
    let (column, message) = parse_err("{{ replace \"a\" \"b\" }}");
    assert_eq!(column, 4);
    assert!(message.contains("`replace` takes 3 arguments but is given 2"), "{message}");
    let (_, message) = parse_err("{{ lower upper .vars.stage }}");
    assert!(message.contains("wrap the call in parentheses"), "{message}");
    let (_, message) = parse_err("{{ .vars.stage | upper \"x\" }}");
    assert!(message.contains("counting the value piped into it"), "{message}");
}

#[test]
fn multi_line_positions() {
    let (column, message) = parse_err("a\nbc {{ foo }}");
    assert_eq!(column, 7);
    assert!(message.starts_with("line 2: unknown function `foo`;"), "{message}");
    let message = render_msg("a\n{{ upper 1 }}");
    assert!(message.contains("line 2, column 4"), "{message}");
    assert_eq!(render("{{ .vars.tenant\n | upper }}"), "PLAT");
}

#[test]
fn deep_nesting_is_rejected_not_overflowed() {
    let parens = format!("{{{{ {}.x{} }}}}", "(".repeat(500), ")".repeat(500));
    let (_, message) = parse_err(&parens);
    assert!(message.contains("nested more than"), "{message}");
    let ifs = format!("{}x{}", "{{ if .a }}".repeat(500), "{{ end }}".repeat(500));
    let (_, message) = parse_err(&ifs);
    assert!(message.contains("nested more than"), "{message}");
}

#[test]
fn mangled_templates_never_panic() {
    let seeds = [
        ATMOS_DEFAULT,
        "{{- if eq .vars.stage \"dev\" -}}d{{ else if .vars.x }}{{ .vars.x | upper }}{{ else }}o{{ end }}",
        "{{ with .vars.labels }}{{ index . \"my-key\" | default `z` | quote }}{{ end }}",
        "{{/* c */}}{{ printf \"%s-%d%%\" (lower .vars.tenant) 42 }}é",
        "{{ join \"-\" .vars.tags | trimSuffix \"\\u00e9\" }}{{ and $.a (or .b (not .c)) }}",
    ];
    let pieces = [
        "{{", "}}", "{{-", "-}}", " ", "|", "(", ")", ".", "$", "\"", "`", "\\", "/*", "*/", "-", "é", "\n", "if",
        "end", "else", "with", "range", "upper", "index", "0", "-9", "x", ":=", ",",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |bound: usize| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(state >> 33).unwrap_or(0) % bound.max(1)
    };
    let mut parsed = 0;
    for round in 0..600 {
        let mut chars: Vec<String> = seeds[round % seeds.len()].chars().map(String::from).collect();
        for _ in 0..=next(4) {
            let at = next(chars.len() + 1);
            match next(4) {
                0 if at < chars.len() => {
                    chars.remove(at);
                }
                1 => chars.insert(at, pieces[next(pieces.len())].to_owned()),
                2 => chars.truncate(at),
                _ => {
                    let from = next(chars.len() + 1);
                    let piece: Vec<String> = chars[from.min(at)..from.max(at)].to_vec();
                    chars.splice(at..at, piece);
                }
            }
        }
        let src: String = chars.concat();
        if let Ok(template) = Template::parse(&src) {
            parsed += 1;
            for ctx in [ctx(), json!(null), json!("s"), json!({"vars": []}), json!({"a": {"b": 1}})] {
                let _ = template.render(&ctx);
            }
        }
    }
    assert!(parsed > 0, "some mangled templates should still parse");
}
