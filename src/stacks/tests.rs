//! Tests of [`StackSet`] on small repositories in a temp directory: naming (path, pattern,
//! template, `name:`), finding a stack, merging imports, the errors each names its file and
//! line for, and the name index staying right when files or variables change.

use super::*;
use crate::config::{ConfigOptions, load_file};
use crate::env_vars::Env;

/// A repository in a temp directory: `atmos.yaml` at its root, manifests under `stacks/`.
struct Repo {
    dir: tempfile::TempDir,
    env: Env,
}

impl Repo {
    fn new(atmos_yaml: &str) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::from_pairs([
            ("HOME", dir.path().join("home").display().to_string()),
            ("XDG_CACHE_HOME", dir.path().join("cache").display().to_string()),
        ]);
        let repo = Repo { dir, env };
        repo.write("atmos.yaml", atmos_yaml);
        std::fs::create_dir_all(repo.path("stacks")).unwrap();
        repo
    }
    fn with_env(mut self, k: &str, v: &str) -> Repo {
        let mut pairs: Vec<(String, String)> = self.env.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        pairs.retain(|(a, _)| a != k);
        pairs.push((k.into(), v.into()));
        self.env = Env::from_pairs(pairs);
        self
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    fn write(&self, rel: &str, text: &str) -> &Repo {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self
    }
    fn stack(&self, rel: &str, text: &str) -> &Repo {
        self.write(&format!("stacks/{rel}"), text)
    }
    fn config(&self) -> AtmosConfig {
        let opts = ConfigOptions { cwd: self.dir.path().to_path_buf(), profiles: vec![] };
        load_file(&self.path("atmos.yaml"), &opts, &self.env).unwrap()
    }
}

const PATTERN: &str = "stacks:\n  name_pattern: \"{tenant}-{environment}-{stage}\"\n";

fn names(cfg: &AtmosConfig) -> Vec<(String, Result<String, String>)> {
    StackSet::load(cfg).unwrap().names().into_iter().map(|n| (n.rel, n.name)).collect()
}

fn find_err(cfg: &AtmosConfig, name: &str) -> StackError {
    match StackSet::load(cfg).unwrap().find(name) {
        Ok(s) => panic!("`{name}` should not be found, got {}", s.file.display()),
        Err(e) => e,
    }
}

fn vars(stack: &Stack) -> serde_json::Value {
    crate::yaml::emit::to_json(stack.manifest.get("vars").unwrap())
}

// --- loading -----------------------------------------------------------------------------

#[test]
fn a_missing_stacks_directory_or_no_manifest_is_an_error_with_a_hint() {
    let repo = Repo::new("stacks:\n  base_path: nowhere\n");
    let cfg = repo.config();
    let err = StackSet::load(&cfg).err().unwrap();
    assert!(matches!(&err, StackError::NoStacksDir(p) if p.ends_with("nowhere")), "{err:?}");
    assert!(
        err.to_string().starts_with("the stacks directory ") && err.to_string().ends_with("nowhere does not exist")
    );
    assert_eq!(err.hint().as_deref(), Some("check stacks.base_path in atmos.yaml (it is relative to base_path)"));

    let repo = Repo::new("stacks:\n  included_paths: [\"orgs/**/*\"]\n");
    repo.stack("other/dev.yaml", "vars: {}\n");
    let cfg = repo.config();
    let set = StackSet::load(&cfg).unwrap();
    assert!(matches!(set.listing(), Err(StackError::NoManifests { .. })));
    let err = set.find("dev").err().unwrap();
    assert!(matches!(&err, StackError::NoManifests { included, .. } if included == "orgs/**/*"), "{err:?}");
    assert!(err.to_string().starts_with("no stack manifests match stacks.included_paths (orgs/**/*) under "));
}

#[test]
fn a_bad_name_pattern_or_template_is_refused_before_any_manifest_is_read() {
    let repo = Repo::new("stacks:\n  name_pattern: \"{tenant-{stage}\"\n");
    repo.stack("a.yaml", "vars: {}\n");
    let err = StackSet::load(&repo.config()).err().unwrap();
    assert!(matches!(&err, StackError::BadPattern { span, .. } if span.line == 2), "{err:?}");
    assert!(err.to_string().contains("opens a second `{` at column 9"), "{err}");

    let repo = Repo::new("stacks:\n  name_template: \"{{ .vars.stage \"\n");
    repo.stack("a.yaml", "vars: {}\n");
    let err = StackSet::load(&repo.config()).err().unwrap();
    assert!(matches!(&err, StackError::BadTemplate { span, .. } if span.line == 2), "{err:?}");
    assert!(err.to_string().starts_with("stacks.name_template at "), "{err}");
}

// --- naming ------------------------------------------------------------------------------

#[test]
fn without_a_pattern_a_stack_is_named_by_its_path_and_defaults_files_are_not_stacks() {
    let repo = Repo::new("");
    repo.stack("orgs/acme/dev.yaml", "vars: {stage: dev}\n")
        .stack("orgs/acme/_defaults.yaml", "vars: {tenant: acme}\n")
        .stack("prod.yml", "vars: {}\n")
        .stack("notes.txt", "not yaml");
    let got = names(&repo.config());
    assert_eq!(
        got,
        [("orgs/acme/dev".to_string(), Ok("orgs/acme/dev".to_string())), ("prod".into(), Ok("prod".into()))]
    );
}

#[test]
fn a_pattern_takes_vars_through_imports_and_name_overrides_it() {
    let repo = Repo::new(PATTERN);
    repo.stack("catalog/_defaults.yaml", "vars: {tenant: plat, environment: use2}\n")
        .stack("dev.yaml", "import: [catalog/_defaults]\nvars: {stage: dev}\n")
        .stack("prod.yaml", "import: catalog/_defaults\nvars: {stage: prod, environment: usw2}\n")
        .stack("special.yaml", "name: the-special-one\nvars: {}\n")
        .stack("broken.yaml", "vars: {tenant: plat}\n");
    let got = names(&repo.config());
    assert_eq!(got[0], ("broken".into(), Err("stacks.name_pattern needs vars.environment, which is not set".into())));
    assert_eq!(got[1], ("dev".into(), Ok("plat-use2-dev".into())));
    assert_eq!(got[2], ("prod".into(), Ok("plat-usw2-prod".into())), "own vars win over imported ones");
    assert_eq!(got[3], ("special".into(), Ok("the-special-one".into())));
}

#[test]
fn a_template_names_stacks_from_vars_and_settings() {
    let repo = Repo::new("stacks:\n  name_template: \"{{ .vars.stage }}-{{ .settings.region }}\"\n");
    repo.stack("a.yaml", "vars: {stage: dev}\nsettings: {region: eu}\n").stack("b.yaml", "vars: {stage: dev}\n");
    let got = names(&repo.config());
    assert_eq!(got[0].1, Ok("dev-eu".into()));
    assert_eq!(got[1].1, Err("the name template reads `.settings.region`, which is not set".into()));
}

// --- finding -----------------------------------------------------------------------------

#[test]
fn a_stack_is_found_by_name_or_by_path_and_merged_in_full() {
    let repo = Repo::new(PATTERN);
    repo.stack("catalog/base.yaml", "vars: {tenant: plat, environment: use2, tags: [a]}\ncomponents:\n  terraform:\n    vpc: {vars: {cidr: 10.0.0.0/16}}\n")
        .stack("orgs/dev.yaml", "import: [catalog/base]\nvars: {stage: dev, tags: [b]}\ncomponents:\n  terraform:\n    vpc: {vars: {name: dev}}\n");
    let cfg = repo.config();
    let set = StackSet::load(&cfg).unwrap();
    let s = set.find("plat-use2-dev").unwrap();
    assert_eq!(s.name, "plat-use2-dev");
    assert!(s.file.ends_with("stacks/orgs/dev.yaml"));
    assert_eq!(vars(&s), serde_json::json!({"tenant": "plat", "environment": "use2", "tags": ["b"], "stage": "dev"}));
    let vpc = crate::yaml::emit::to_json(s.manifest.get_path(&["components", "terraform", "vpc", "vars"]).unwrap());
    assert_eq!(vpc, serde_json::json!({"cidr": "10.0.0.0/16", "name": "dev"}), "components deep-merge across imports");
    assert!(s.manifest.get("import").is_none(), "`import` is not part of the merged manifest");
    let by_path = set.find("orgs/dev").unwrap();
    assert_eq!(by_path.name, "plat-use2-dev", "the manifest path names the same stack");
}

#[test]
fn a_stack_not_found_suggests_near_names_and_mentions_unnamed_manifests() {
    let repo = Repo::new(PATTERN);
    repo.stack("dev.yaml", "vars: {tenant: plat, environment: use2, stage: dev}\n")
        .stack("prod.yaml", "vars: {tenant: plat, environment: use2, stage: prod}\n")
        .stack("lost.yaml", "vars: {tenant: plat}\n");
    let cfg = repo.config();
    let err = find_err(&cfg, "plat-use2-dve");
    match &err {
        StackError::StackNotFound { name, suggestions, unnamed, count } => {
            assert_eq!((name.as_str(), *count), ("plat-use2-dve", 2));
            assert_eq!(suggestions, &["plat-use2-dev", "plat-use2-prod"]);
            assert_eq!(unnamed.len(), 1);
            assert!(unnamed[0].0.ends_with("stacks/lost.yaml"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.to_string(), "stack `plat-use2-dve` not found");
    let hint = err.hint().unwrap();
    assert!(
        hint.starts_with("did you mean `plat-use2-dev`, `plat-use2-prod`?\nhint: 1 manifest(s) have no name, e.g. "),
        "{hint}"
    );
    assert!(hint.ends_with("lost.yaml: stacks.name_pattern needs vars.environment, which is not set"), "{hint}");

    let hint = find_err(&cfg, "qqqqqqqqqqqqqq").hint().unwrap();
    assert!(hint.starts_with("run `tfauth list stacks` to see the 2 stacks"), "{hint}");
}

#[test]
fn two_manifests_with_one_name_are_ambiguous() {
    let repo = Repo::new(PATTERN);
    let v = "vars: {tenant: plat, environment: use2, stage: dev}\n";
    repo.stack("a/dev.yaml", v).stack("b/dev.yaml", v);
    let err = find_err(&repo.config(), "plat-use2-dev");
    match &err {
        StackError::AmbiguousStack { files, .. } => assert_eq!(files.len(), 2),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().starts_with("stack `plat-use2-dev` is defined by more than one manifest: "), "{err}");
    assert_eq!(
        err.hint().as_deref(),
        Some("give each manifest distinct vars, or a `name:`; stack names must be unique")
    );
}

#[test]
fn a_broken_manifest_blocks_only_the_stack_it_is() {
    let repo = Repo::new("");
    repo.stack("good.yaml", "vars: {a: 1}\n").stack("bad.yaml", "vars: [1, 2\n");
    let cfg = repo.config();
    let set = StackSet::load(&cfg).unwrap();
    assert_eq!(vars(&set.find("good").unwrap()), serde_json::json!({"a": 1}));
    let err = set.find("bad").unwrap_err();
    assert!(matches!(err, StackError::Yaml(_)), "asked for by path, its own error: {err:?}");
    assert!(err.to_string().contains("bad.yaml"), "{err}");
    let listed = set.names();
    assert!(
        listed.iter().any(|n| n.rel == "bad" && n.name.as_ref().is_err_and(|e| e.contains("bad.yaml"))),
        "{listed:?}"
    );
}

/// Issue 16, point 9: the listing reports every broken manifest once, however many stacks
/// import it, while completion's quiet view still offers the healthy ones.
#[test]
fn listing_reports_every_broken_manifest_once_and_completion_stays_quiet() {
    let repo = Repo::new("stacks:\n  excluded_paths: [\"catalog/**\"]\n");
    repo.stack("catalog/net.yaml", "components: {terraform: {vpc: {}}}\nbad: \"unclosed\n")
        .stack("dev.yaml", "import: [catalog/net]\n")
        .stack("prod.yaml", "import: [catalog/net]\n")
        .stack("qa.yaml", "terraform: [x]\ncomponents: {terraform: {vpc: {}}}\n")
        .stack("sandbox.yaml", "components: {terraform: {vpc: {}}}\n");
    let cfg = repo.config();
    let set = StackSet::load(&cfg).unwrap();
    let StackError::Broken { errors } = set.listing().unwrap_err() else { panic!("not Broken") };
    let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].contains("catalog/net.yaml:2"), "{texts:?}");
    assert!(texts[1].contains("`terraform` at ") && texts[1].contains("qa.yaml:1"), "{texts:?}");
    assert_eq!(set.components(None), vec!["vpc".to_string()]);
    assert_eq!(set.names_with_component("vpc"), vec!["sandbox".to_string()]);
    // A second set (the warm index) still tells.
    let again = StackSet::load(&cfg).unwrap();
    assert!(matches!(again.listing(), Err(StackError::Broken { errors }) if errors.len() == 2));
}

// --- imports -----------------------------------------------------------------------------

#[test]
fn imports_by_glob_relative_path_and_skip_if_missing() {
    let repo = Repo::new("");
    repo.stack("catalog/net/a.yaml", "vars: {a: 1, order: a}\n")
        .stack("catalog/net/b.yaml", "vars: {b: 2, order: b}\n")
        .stack("orgs/shared.yaml", "vars: {shared: true}\n")
        .stack(
            "orgs/dev.yaml",
            "import:\n  - catalog/net/*\n  - ./shared\n  - {path: catalog/absent, skip_if_missing: true}\nvars: {own: 1}\n",
        );
    let cfg = repo.config();
    let s = StackSet::load(&cfg).unwrap().find("orgs/dev").unwrap();
    assert_eq!(
        vars(&s),
        serde_json::json!({"a": 1, "order": "b", "b": 2, "shared": true, "own": 1}),
        "globs import in path order"
    );
}

#[test]
fn a_missing_import_names_the_import_line_and_every_path_tried() {
    let repo = Repo::new("");
    repo.stack("dev.yaml", "vars: {}\nimport:\n  - catalog/missing\n");
    let err = find_err(&repo.config(), "dev");
    match &err {
        StackError::ImportNotFound { import, span, tried } => {
            assert_eq!((import.as_str(), span.line), ("catalog/missing", 3));
            let tried: Vec<String> =
                tried.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
            // Atmos's order: .yaml, .yml, then the Go-template forms.
            assert_eq!(tried, ["missing.yaml", "missing.yml", "missing.yaml.tmpl", "missing.yml.tmpl", "missing"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.hint().unwrap().contains("add `skip_if_missing: true`"));
}

#[test]
fn an_import_cycle_is_shown_as_a_chain() {
    let repo = Repo::new("");
    repo.stack("a.yaml", "import: [catalog/b]\n")
        .stack("catalog/b.yaml", "import: [catalog/c]\n")
        .stack("catalog/c.yaml", "vars: {}\nimport: [catalog/b]\n");
    let err = find_err(&repo.config(), "a");
    match &err {
        StackError::ImportCycle { chain, span } => {
            assert_eq!(chain, &["catalog/b", "catalog/c", "catalog/b"]);
            assert!(span.file.ends_with("catalog/c.yaml") && span.line == 2, "{span}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().starts_with("import cycle: catalog/b -> catalog/c -> catalog/b (closed by the import at "));
}

#[test]
fn values_of_the_wrong_type_name_the_field_and_line() {
    let cases = [
        ("vars: {}\nimport: 5\n", "import", 2, "a list of paths"),
        ("import:\n  - [x]\n", "import[]", 2, "a path or {path, context, skip_if_missing, ...}"),
        ("import:\n  - {path: x, context: [a]}\n", "import[].context", 2, "a mapping"),
        (
            "import:\n  - {path: x, skip_templates_processing: 1}\n",
            "import[].skip_templates_processing",
            2,
            "true or false",
        ),
        ("import:\n  - {skip_if_missing: true}\n", "import[].path", 2, "a string"),
        ("import:\n  - {path: x, skip_if_missing: maybe}\n", "import[].skip_if_missing", 2, "true or false"),
        ("x: 1\ncomponents: [vpc]\n", "components", 2, "a mapping"),
        ("- just\n- a list\n", "stack manifest", 1, "a mapping"),
    ];
    for (text, field, line, expected) in cases {
        let repo = Repo::new("");
        repo.stack("s.yaml", text);
        let err = find_err(&repo.config(), "s");
        match &err {
            StackError::WrongType { field: f, span, expected: e, .. } => {
                assert_eq!((f.as_str(), span.line, *e), (field, line, expected), "{text}");
            }
            other => panic!("{text}: {other:?}"),
        }
        assert_eq!(err.hint().as_deref(), Some("fix the value in that file"));
    }
}

// --- components --------------------------------------------------------------------------

#[test]
fn components_and_the_stacks_that_define_them_skip_abstract_ones() {
    let repo = Repo::new("");
    repo.stack(
        "catalog/_defaults.yaml",
        "components:\n  terraform:\n    base: {metadata: {type: abstract}}\n    vpc: {}\n",
    )
    .stack("dev.yaml", "import: [catalog/_defaults]\ncomponents:\n  terraform:\n    eks: {}\n")
    .stack("prod.yaml", "import: [catalog/_defaults]\n");
    let cfg = repo.config();
    let set = StackSet::load(&cfg).unwrap();
    assert_eq!(set.components(None), ["eks", "vpc"]);
    assert_eq!(set.components(Some("prod")), ["vpc"]);
    assert_eq!(set.names_with_component("vpc"), ["dev", "prod"]);
    assert_eq!(set.names_with_component("eks"), ["dev"]);
    assert!(set.names_with_component("base").is_empty(), "an abstract component is not runnable");
    // Again from the index, on a new load: the same answers.
    let again = StackSet::load(&cfg).unwrap();
    assert_eq!(
        (again.components(None), again.names_with_component("vpc")),
        (set.components(None), vec!["dev".to_string(), "prod".into()])
    );
}

// --- the name index ----------------------------------------------------------------------

#[test]
fn a_changed_import_renames_the_stack_on_the_next_load() {
    let repo = Repo::new(PATTERN);
    repo.stack("catalog/t.yaml", "vars: {tenant: plat, environment: use2}\n")
        .stack("dev.yaml", "import: [catalog/t]\nvars: {stage: dev}\n");
    let cfg = repo.config();
    assert_eq!(names(&cfg)[1].1, Ok("plat-use2-dev".into()));
    assert!(std::fs::read_dir(repo.path("cache/tfauth/stack-index")).unwrap().next().is_some(), "the index was saved");
    // A different size, so the stamp changes whatever the clock's granularity.
    repo.stack("catalog/t.yaml", "vars: {tenant: core-x, environment: use2}\n");
    assert_eq!(names(&cfg)[1].1, Ok("core-x-use2-dev".into()), "the import's stamp changed: named again");
    assert!(StackSet::load(&cfg).unwrap().find("core-x-use2-dev").is_ok());
}

#[test]
fn a_name_that_reads_the_environment_is_never_served_from_the_index() {
    let repo = Repo::new(PATTERN).with_env("STAGE", "dev");
    repo.stack("s.yaml", "vars: {tenant: plat, environment: use2, stage: !env STAGE}\n");
    assert_eq!(names(&repo.config())[0].1, Ok("plat-use2-dev".into()));
    let repo = repo.with_env("STAGE", "prod");
    assert_eq!(names(&repo.config())[0].1, Ok("plat-use2-prod".into()));
}

#[test]
fn many_manifests_are_parsed_in_one_pass_with_the_same_answers() {
    let repo = Repo::new(PATTERN);
    for i in 0..(BULK_THRESHOLD + 4) {
        repo.stack(&format!("s{i:02}.yaml"), &format!("vars: {{tenant: t, environment: e, stage: s{i:02}}}\n"));
    }
    repo.stack("zz-bad.yaml", "vars: {tenant: [\n");
    let cfg = repo.config();
    let set = StackSet::load(&cfg).unwrap();
    let got = set.names();
    assert_eq!(got.len(), BULK_THRESHOLD + 5);
    assert_eq!(got[3].name, Ok("t-e-s03".into()));
    assert!(got.last().unwrap().name.as_ref().is_err_and(|e| e.contains("zz-bad.yaml")), "{:?}", got.last());
    // The broken file parsed in the bulk pass is read again for its own, full error.
    let err = set.find("zz-bad").unwrap_err();
    assert!(matches!(err, StackError::Yaml(_)), "{err:?}");
    assert_eq!(set.find("t-e-s19").unwrap().name, "t-e-s19");
}

/// A cold `find` parses only what names each manifest (the bulk pass cuts them down to
/// `import`, `vars`, `settings`, `env`, `name`): the names are those of the whole files,
/// an error under another key of another manifest does not get in the way, and that
/// manifest is read whole, with its error, by the runs that need all of it.
#[test]
fn a_cold_find_reads_only_what_names_each_manifest() {
    let repo = Repo::new(PATTERN);
    repo.stack("catalog/vpc.yaml", "components:\n  terraform:\n    vpc: {vars: {cidr: 10.0.0.0/16}}\n");
    repo.stack("_defaults.yaml", "vars:\n  tenant: plat\n  region: us-east-2\n");
    for i in 0..(BULK_THRESHOLD + 2) {
        repo.stack(
            &format!("s{i:02}.yaml"),
            &format!(
                "import:\n  - _defaults\n  - catalog/vpc\ncomponents:\n  terraform:\n    vpc:\n      vars: {{n: {i}}}\nvars:\n  environment: ue2\n  stage: s{i:02}\n"
            ),
        );
    }
    // Broken under `components` only; named from its vars, an anchor its vars need from
    // under `components` (the cut does not parse alone, so the whole file is read).
    repo.stack(
        "zz-broken.yaml",
        "import: [_defaults]\nvars: {environment: ue2, stage: broken}\ncomponents: {terraform: [\n",
    );
    repo.stack("zz-anchor.yaml", "import:\n  - _defaults\ncomponents: &c {terraform: {}}\nvars:\n  environment: ue2\n  stage: anchored\n  copy: *c\n");
    let cfg = repo.config();
    let set = StackSet::load(&cfg).unwrap();
    let s07 = set.find("plat-ue2-s07").unwrap();
    assert_eq!(
        s07.manifest
            .get("components")
            .and_then(|c| c.get("terraform"))
            .and_then(|t| t.get("vpc"))
            .map(crate::yaml::emit::to_json),
        Some(serde_json::json!({"vars": {"cidr": "10.0.0.0/16", "n": 7}}))
    );
    assert_eq!(vars(&s07)["region"], "us-east-2", "the whole manifest, imports and all");
    assert_eq!(StackSet::load(&cfg).unwrap().find("plat-ue2-anchored").unwrap().name, "plat-ue2-anchored");
    // The broken manifest has its name, and asking for it reads it whole.
    let err = find_err(&repo.config(), "plat-ue2-broken");
    assert!(matches!(err, StackError::Yaml(_)) && err.to_string().contains("zz-broken.yaml:3"), "{err}");
    // Listing reads every manifest whole and reports it.
    let listed = names(&repo.config());
    assert!(
        listed.iter().any(|(rel, n)| rel == "zz-broken" && n.as_ref().is_err_and(|e| e.contains("zz-broken.yaml"))),
        "{listed:?}"
    );
}

/// Naming merges only what the namer reads; a template it cannot see through (`with`)
/// gets all of `vars`, `settings` and `env`, and gives the same names.
#[test]
fn names_from_a_cut_context_are_the_names_of_the_whole_one() {
    let yaml = "stacks:\n  name_template: \"{{ with .settings.org }}{{ .name }}{{ end }}-{{ .vars.stage }}\"\n";
    let repo = Repo::new(yaml);
    repo.stack("_org.yaml", "settings: {org: {name: acme, other: 1}}\nvars: {stage: base, big: {a: 1}}\n");
    repo.stack("dev.yaml", "import: [_org]\nvars: {stage: dev}\n");
    repo.stack("prod.yaml", "import: [_org]\nsettings: {org: {name: corp}}\nvars: {stage: prod}\n");
    assert_eq!(
        names(&repo.config()),
        vec![
            ("_org".into(), Ok("acme-base".into())),
            ("dev".into(), Ok("acme-dev".into())),
            ("prod".into(), Ok("corp-prod".into()))
        ]
    );
    let t = |src: &str| Namer::Template(template::Template::parse(src).unwrap()).reads(NAMING_SECTIONS);
    let keys = |k: &[(&str, Keep)]| Keep::Keys(k.iter().map(|(a, b)| (a.to_string(), b.clone())).collect());
    assert_eq!(
        t("{{ .vars.stage }}-{{ if .settings.x }}{{ .vars.tenant | lower }}{{ end }}"),
        keys(&[
            ("vars", keys(&[("stage", Keep::All), ("tenant", Keep::All)])),
            ("settings", keys(&[("x", Keep::All)]))
        ])
    );
    assert_eq!(
        t("{{ with .vars }}{{ .stage }}{{ end }}"),
        keys(&[("vars", Keep::All), ("settings", Keep::All), ("env", Keep::All)])
    );
    assert_eq!(t("{{ .vars.stage }}{{ .vars }}"), keys(&[("vars", Keep::All)]));
    assert_eq!(
        Namer::Pattern("{tenant}-{stage}".into()).reads(NAMING_SECTIONS),
        keys(&[("vars", keys(&[("tenant", Keep::All), ("stage", Keep::All)]))])
    );
    assert_eq!(Namer::Path.reads(NAMING_SECTIONS), keys(&[]));
    // What a namer reads is all of what it names from.
    let ctx = crate::yaml::Loader::new(&Default::default())
        .load_str("vars: {tenant: t, stage: s, x: [1]}\nsettings: {y: 1}\n", Path::new("/c.yaml"))
        .unwrap();
    let p = Namer::Pattern("{tenant}-{stage}".into());
    assert_eq!(p.name(&ctx, &p.reads(NAMING_SECTIONS).project(&ctx), "x"), p.name(&ctx, &ctx, "x"));
    assert_eq!(
        crate::yaml::emit::to_json(&p.reads(NAMING_SECTIONS).project(&ctx)),
        serde_json::json!({"vars": {"tenant": "t", "stage": "s"}})
    );
}

/// An import path rendered from the vars before it (templates on) sees all of them, even
/// where the manifest's own naming merge is cut down.
#[test]
fn an_import_path_template_sees_everything_before_it() {
    let repo = Repo::new("stacks:\n  name_pattern: \"{stage}\"\ntemplates:\n  settings:\n    enabled: true\n");
    repo.stack("_base.yaml", "vars: {stage: base, flavour: large}\n");
    repo.stack("mixins/large.yaml", "vars: {stage: large}\n");
    repo.stack("dev.yaml", "import:\n  - _base\n  - \"mixins/{{ .vars.flavour }}\"\n");
    let got = names(&repo.config());
    assert!(got.contains(&("dev".into(), Ok("large".into()))), "{got:?}");
}

// --- the warm path of `find` -----------------------------------------------------------

/// Moves the modification time of every directory under `stacks/` ten seconds back, so the
/// index trusts their stamps (a directory changed in the last two seconds is not trusted).
fn settle(repo: &Repo) {
    fn walk(dir: &Path) {
        let when = std::time::SystemTime::now() - std::time::Duration::from_secs(10);
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                walk(&e.path());
            }
        }
        std::fs::File::open(dir).unwrap().set_modified(when).unwrap();
    }
    walk(&repo.path("stacks"));
}

fn two_stacks() -> Repo {
    let repo = Repo::new(PATTERN);
    repo.stack("catalog/t.yaml", "vars: {tenant: plat, environment: use2}\n")
        .stack("dev.yaml", "import: [catalog/t]\nvars: {stage: dev}\n")
        .stack("prod.yaml", "import: [catalog/t]\nvars: {stage: prod}\n");
    settle(&repo);
    repo
}

fn cold(repo: &Repo) {
    std::fs::remove_dir_all(repo.path("cache/tfauth/stack-index")).unwrap();
}

#[test]
fn a_warm_find_names_the_stack_again_and_follows_a_name_that_moved() {
    let repo = two_stacks();
    let cfg = repo.config();
    assert_eq!(names(&cfg).len(), 3);
    // In place (the directories do not change), and of other sizes: dev.yaml is now
    // `plat-use2-qa`, and prod.yaml has taken dev's old name.
    repo.stack("dev.yaml", "import: [catalog/t]\nvars: {stage: qa}\n")
        .stack("prod.yaml", "import: [catalog/t]\nvars: {stage: dev}\n # was prod\n");
    let found = StackSet::load(&cfg).unwrap().find("plat-use2-dev").unwrap();
    assert_eq!(found.file, repo.path("stacks/prod.yaml"), "the recorded file is named again and no longer matches");
    assert_eq!(StackSet::load(&cfg).unwrap().find("plat-use2-qa").unwrap().file, repo.path("stacks/dev.yaml"));
    // The manifest merged is the one on disk now.
    repo.stack("prod.yaml", "import: [catalog/t]\nvars: {stage: dev, extra: here}\n");
    let found = StackSet::load(&cfg).unwrap().find("plat-use2-dev").unwrap();
    assert_eq!(found.manifest.get("vars").and_then(|v| v.get("extra")).and_then(Node::as_str), Some("here"));
    // By path, too.
    assert_eq!(StackSet::load(&cfg).unwrap().find("dev").unwrap().name, "plat-use2-qa");
}

#[test]
fn a_new_manifest_with_the_same_name_is_ambiguous_even_when_the_index_is_warm() {
    let repo = two_stacks();
    let cfg = repo.config();
    assert!(StackSet::load(&cfg).unwrap().find("plat-use2-dev").is_ok());
    assert!(StackSet::load(&cfg).unwrap().find("plat-use2-dev").is_ok(), "warm");
    // A copy: its directory changes, so the warm path steps aside for the full pass.
    repo.stack("dev-copy.yaml", "import: [catalog/t]\nvars: {stage: dev}\n");
    let err = find_err(&cfg, "plat-use2-dev");
    assert!(matches!(err, StackError::AmbiguousStack { .. }), "{err:?}");
}

#[test]
fn a_manifest_edited_in_place_to_take_a_name_is_seen_by_the_full_pass_only() {
    // The limit of the warm path, pinned: what it does not check, and who does.
    let repo = two_stacks();
    let cfg = repo.config();
    assert!(StackSet::load(&cfg).unwrap().find("plat-use2-dev").is_ok());
    repo.stack("prod.yaml", "import: [catalog/t]\nvars: {stage: dev}\n# now dev too\n");
    let warm = StackSet::load(&cfg).unwrap().find("plat-use2-dev").unwrap();
    assert_eq!(warm.file, repo.path("stacks/dev.yaml"), "the recorded stack, still named so, is served");
    let listed = names(&cfg);
    assert_eq!(listed.iter().filter(|(_, n)| n.as_deref() == Ok("plat-use2-dev")).count(), 2, "{listed:?}");
    cold(&repo);
    assert!(matches!(find_err(&cfg, "plat-use2-dev"), StackError::AmbiguousStack { .. }));
}

#[test]
fn a_recently_changed_directory_keeps_the_warm_path_off_until_it_settles() {
    let repo = Repo::new(PATTERN);
    repo.stack("dev.yaml", "vars: {tenant: plat, environment: use2, stage: dev}\n");
    let cfg = repo.config();
    assert!(StackSet::load(&cfg).unwrap().find("plat-use2-dev").is_ok());
    let path = index::index_path(&cfg.load_ctx.env, &[]).unwrap();
    let dir = path.parent().unwrap();
    let file = std::fs::read_dir(dir).unwrap().next().unwrap().unwrap().path();
    assert!(index::recorded(&file).is_none(), "the stacks directory changed a moment ago: not trusted yet");
    settle(&repo);
    assert!(StackSet::load(&cfg).unwrap().find("plat-use2-dev").is_ok());
    let recorded = index::recorded(&file).expect("settled: recorded on the next full pass");
    assert_eq!(recorded.stacks, vec![("dev.yaml".to_string(), "plat-use2-dev".to_string())]);
    assert_eq!(recorded.dirs.iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>(), vec![""]);
}
