//! Tests of [`select`]: the order `--identity` > `ATMOS_IDENTITY` > `default: true`, the
//! values that disable auth, asking on a terminal, and the errors (with their hints) when
//! there is no one to ask.

use super::*;
use crate::yaml::{LoadContext, Loader};
use std::cell::RefCell;
use std::path::Path;

fn auth(src: &str) -> AuthConfig {
    let node = Loader::new(&LoadContext::default()).load_str(src, Path::new("/repo/atmos.yaml")).unwrap();
    AuthConfig::parse(Some(&node)).0
}

/// Three standalone identities, `dev` the default (on line 3).
const ONE_DEFAULT: &str = "identities:\n  prod: {kind: aws/ambient}\n  dev: {kind: aws/ambient, default: true}\n  ci/user: {kind: aws/ambient}\n";
const NO_DEFAULT: &str = "identities:\n  prod: {kind: aws/ambient}\n  dev: {kind: aws/ambient}\n";
const TWO_DEFAULTS: &str = "identities:\n  prod: {kind: aws/ambient, default: true}\n  dev: {kind: aws/ambient}\n  stage: {kind: aws/ambient, default: true}\n";

/// A terminal that answers with `answer` and records what it was asked.
struct Answer {
    answer: Option<usize>,
    asked: RefCell<Vec<(String, Vec<String>)>>,
}

impl Answer {
    fn new(answer: Option<usize>) -> Answer {
        Answer { answer, asked: RefCell::new(vec![]) }
    }
}

impl Prompt for Answer {
    fn choose(&self, question: &str, items: &[String]) -> Option<usize> {
        self.asked.borrow_mut().push((question.to_string(), items.to_vec()));
        self.answer
    }
}

fn env(identity: Option<&str>) -> Env {
    Env::from_pairs(identity.map(|v| (env_vars::ATMOS_IDENTITY, v)))
}

fn named(v: &str) -> IdentityFlag {
    IdentityFlag::Named(v.into())
}

fn chosen(sel: Result<Selection, AuthError>) -> (String, SelectionSource) {
    match sel {
        Ok(Selection::Identity { name, by }) => (name, by),
        other => panic!("expected an identity, got {other:?}"),
    }
}

#[test]
fn the_flag_wins_over_the_variable_which_wins_over_the_default() {
    let a = auth(ONE_DEFAULT);
    let cases: &[(IdentityFlag, Option<&str>, &str, &str)] = &[
        (named("prod"), Some("ci/user"), "prod", "flag"),
        (named("PROD"), None, "prod", "flag"),
        (named("  ci/user "), None, "ci/user", "flag"),
        (IdentityFlag::Absent, Some("prod"), "prod", "env"),
        (IdentityFlag::Absent, Some("Ci/User"), "ci/user", "env"),
        (IdentityFlag::Absent, Some(""), "dev", "default"),
        (IdentityFlag::Absent, None, "dev", "default"),
    ];
    for (flag, var, want, by) in cases {
        let (name, source) = chosen(select(&a, flag, &env(*var), None, None));
        let source = match source {
            SelectionSource::Flag => "flag",
            SelectionSource::Env => "env",
            SelectionSource::Default(span) => {
                assert_eq!(span.line, 3, "the default's span is where `default: true` is");
                "default"
            }
            SelectionSource::Picked => "picked",
        };
        assert_eq!((name.as_str(), source), (*want, *by), "{flag:?} with ATMOS_IDENTITY={var:?}");
    }
}

#[test]
fn false_0_no_and_off_disable_auth_from_either_source() {
    let a = auth(ONE_DEFAULT);
    for v in ["false", "0", "NO", " Off "] {
        assert_eq!(
            select(&a, &named(v), &env(Some("prod")), None, None).unwrap(),
            Selection::Disabled { by: SelectionSource::Flag },
            "{v}"
        );
        assert_eq!(
            select(&a, &IdentityFlag::Absent, &env(Some(v)), None, None).unwrap(),
            Selection::Disabled { by: SelectionSource::Env },
            "{v}"
        );
    }
    // Even with nothing configured, `false` is a decision, not "none configured".
    assert_eq!(
        select(&AuthConfig::default(), &named("off"), &Env::default(), None, None).unwrap(),
        Selection::Disabled { by: SelectionSource::Flag }
    );
}

#[test]
fn no_identities_at_all_is_nothing_to_authenticate() {
    assert_eq!(
        select(&AuthConfig::default(), &IdentityFlag::Absent, &Env::default(), None, None).unwrap(),
        Selection::NoneConfigured
    );
}

#[test]
fn an_unknown_name_says_where_it_came_from_and_suggests_near_names() {
    let a = auth(ONE_DEFAULT);
    let err = select(&a, &named("prdo"), &Env::default(), None, None).unwrap_err();
    assert_eq!(err.to_string(), "identity `prdo` (from --identity) is not defined");
    match &err {
        AuthError::UnknownIdentity { suggestions, available, scoped, .. } => {
            assert_eq!(suggestions, &["prod"]);
            assert_eq!(available, &["prod", "dev", "ci/user"]);
            assert!(!scoped);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.hint().as_deref(), Some("did you mean `prod`?"));

    let err = select(&a, &IdentityFlag::Absent, &env(Some("zzzzzzzz")), None, None).unwrap_err();
    assert_eq!(err.to_string(), "identity `zzzzzzzz` (from ATMOS_IDENTITY) is not defined");
    let hint = err.hint().unwrap();
    assert!(hint.starts_with("defined identities: prod, dev, ci/user; `tfauth auth list` shows them all"), "{hint}");
    assert!(hint.contains("exists only with that component and stack on the command line"), "unscoped: {hint}");

    let scoped = select(&a, &named("zzzzzzzz"), &Env::default(), None, Some("component `vpc` in stack `dev`"));
    let hint = scoped.unwrap_err().hint().unwrap();
    assert!(!hint.contains("-s STACK"), "with a component and stack, the scoping hint is noise: {hint}");

    let none = select(&AuthConfig::default(), &named("x"), &Env::default(), None, None).unwrap_err();
    assert_eq!(none.hint().as_deref(), Some("no identities are defined; check ATMOS_PROFILE / --profile"));
}

#[test]
fn without_a_default_a_terminal_is_asked_and_otherwise_the_error_lists_the_candidates() {
    let a = auth(NO_DEFAULT);
    let t = Answer::new(Some(1));
    assert_eq!(
        chosen(select(&a, &IdentityFlag::Absent, &Env::default(), Some(&t), None)),
        ("dev".into(), SelectionSource::Picked)
    );
    assert_eq!(
        t.asked.borrow().as_slice(),
        [("No identity is marked default. Which identity?".to_string(), vec!["prod".to_string(), "dev".into()])]
    );

    let ctx = Some("component `vpc` in stack `plat-use2-dev`");
    for prompt in [None, Some(Answer::new(None)), Some(Answer::new(Some(7)))] {
        let err = select(&a, &IdentityFlag::Absent, &Env::default(), prompt.as_ref().map(|p| p as _), ctx).unwrap_err();
        match &err {
            AuthError::NoDefault { candidates, context, .. } => {
                assert_eq!(candidates, &["prod", "dev"]);
                assert_eq!(context.as_deref(), ctx);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.to_string(), "no default identity for component `vpc` in stack `plat-use2-dev`");
        assert_eq!(
            err.hint().as_deref(),
            Some(
                "pass --identity NAME (or set ATMOS_IDENTITY), or mark one identity `default: true`; identities: prod, dev"
            )
        );
    }
}

#[test]
fn several_defaults_ask_among_them_only_or_name_each_with_its_line() {
    let a = auth(TWO_DEFAULTS);
    let t = Answer::new(Some(1));
    assert_eq!(chosen(select(&a, &IdentityFlag::Absent, &Env::default(), Some(&t), None)).0, "stage");
    assert_eq!(t.asked.borrow()[0].0, "Several identities are marked default. Which one?");
    assert_eq!(t.asked.borrow()[0].1, ["prod", "stage"], "only the defaults are offered");

    let err = select(&a, &IdentityFlag::Absent, &Env::default(), None, None).unwrap_err();
    match &err {
        AuthError::SeveralDefaults { candidates, context: None } => {
            let lines: Vec<(&str, u32)> = candidates.iter().map(|(n, s)| (n.as_str(), s.line)).collect();
            assert_eq!(lines, [("prod", 2), ("stage", 4)]);
        }
        other => panic!("{other:?}"),
    }
    let shown = err.to_string();
    assert!(shown.starts_with("several default identities: `prod` (/repo/atmos.yaml:2:"), "{shown}");
    assert!(shown.contains("`stage` (/repo/atmos.yaml:4:"), "{shown}");
    assert_eq!(
        err.hint().as_deref(),
        Some("pass --identity with one of `prod`, `stage`, or leave one `default: true`")
    );
    // A name on the command line settles it without asking.
    assert_eq!(chosen(select(&a, &named("dev"), &Env::default(), None, None)).0, "dev");
}

#[test]
fn identity_without_a_value_asks_among_all_even_with_a_default() {
    let a = auth(ONE_DEFAULT);
    let t = Answer::new(Some(2));
    assert_eq!(
        chosen(select(&a, &IdentityFlag::Ask, &env(Some("prod")), Some(&t), None)),
        ("ci/user".into(), SelectionSource::Picked),
        "asking wins over ATMOS_IDENTITY and the default"
    );
    assert_eq!(t.asked.borrow()[0], ("Which identity?".to_string(), a.identity_names()));
    for prompt in [None, Some(Answer::new(None))] {
        let err = select(&a, &IdentityFlag::Ask, &Env::default(), prompt.as_ref().map(|p| p as _), None).unwrap_err();
        assert!(matches!(&err, AuthError::NeedTerminal { candidates } if candidates.len() == 3), "{err:?}");
        assert_eq!(err.hint().as_deref(), Some("pass --identity=NAME; identities: prod, dev, ci/user"));
    }
    // Nothing to pick from: the terminal is not bothered.
    let t = Answer::new(Some(0));
    assert!(matches!(
        select(&AuthConfig::default(), &IdentityFlag::Ask, &Env::default(), Some(&t), None),
        Err(AuthError::NeedTerminal { candidates }) if candidates.is_empty()
    ));
    assert!(t.asked.borrow().is_empty());
}

#[test]
fn long_candidate_lists_are_abbreviated_in_hints() {
    let ids: String = (0..15).map(|i| format!("  id{i:02}: {{kind: aws/ambient}}\n")).collect();
    let a = auth(&format!("identities:\n{ids}"));
    let hint = select(&a, &IdentityFlag::Absent, &Env::default(), None, None).unwrap_err().hint().unwrap();
    assert!(hint.ends_with("id10, id11 and 3 more"), "{hint}");
}
