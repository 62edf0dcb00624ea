//! Snapshots of what users read: every `--help`, every `auth list` format, `describe`, a
//! dry run, `doctor`, and the error of each exit code that can be reached offline. Each
//! snapshot holds the exit code, stdout and stderr of one run of the built binary, so a
//! change in wording, layout or exit code shows up as a diff in review.
//!
//! The runs use the sandbox of `support.rs` (HOME and XDG in a temp dir, a clean
//! environment, CI set) with `examples/` or a `tests/bad_inputs/` case copied into it, a
//! stand-in `terraform` on PATH and STS on a closed loopback port, so nothing depends on
//! the machine. [`redact`] replaces what still varies: the sandbox and binary paths, realm and
//! content hashes, cache keys, ports, times, pids and the version.
//!
//! The accepted snapshots live in `tests/it/snapshots/`. After an intended change:
//! `INSTA_UPDATE=always cargo test --test it snapshots` (or `cargo insta review`), then
//! read the diff. With `CI=true` insta never writes one: a missing or changed snapshot fails.

use crate::support::{HELPER, Outcome, Sandbox, TFAUTH, copy_dir, examples_dir, outcome};
use assert_cmd::Command;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Runs `$cmd` (an `assert_cmd::Command`) in `$sb` and compares exit code, stdout and
/// stderr, filtered, with the snapshot `$name` (uv's `uv_snapshot!`).
macro_rules! tfauth_snapshot {
    ($sb:expr, $name:expr, $cmd:expr) => {{
        let cmd = $cmd;
        let line = command_line($sb, &cmd);
        let text = redact($sb, &render(&outcome(cmd)));
        settings(&line).bind(|| insta::assert_snapshot!($name, text));
    }};
}

/// The snapshot's body: what a user sees, in one block.
fn render(o: &Outcome) -> String {
    format!("exit_code: {}\n----- stdout -----\n{}\n----- stderr -----\n{}", o.code, o.stdout, o.stderr)
}

/// The command as a user would type it, for the snapshot's description: the binary's name,
/// the environment the test added to the sandbox's, and the arguments, sandbox paths shortened.
fn command_line(sb: &Sandbox, c: &Command) -> String {
    const SANDBOX_ENV: &[&str] =
        &["PATH", "HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "CI", "COLUMNS", "AWS_ENDPOINT_URL_STS"];
    let mut words: Vec<String> = c
        .get_envs()
        .filter(|(k, _)| !SANDBOX_ENV.contains(&k.to_str().unwrap()))
        .filter_map(|(k, v)| Some(format!("{}={}", k.to_string_lossy(), v?.to_string_lossy())))
        .collect();
    words.push(Path::new(c.get_program()).file_name().unwrap().to_string_lossy().into_owned());
    words.extend(c.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ").replace(&sb.dir.path().display().to_string(), "[SANDBOX]")
}

/// Insta settings for a run: snapshots in `tests/it/snapshots/` named without the module
/// path, and the command line as description.
fn settings(line: &str) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.set_description(line.to_string());
    s.set_omit_expression(true);
    s
}

/// `text` with what differs between runs and machines replaced, most specific first: the
/// binaries, the sandbox (as given and canonical), then hashes, times, ports, pids, errno
/// values and the version. Plain string scanning, not insta's regex filters: those pull
/// regex's Unicode tables into every binary `cargo bench` builds (dev-dependency features
/// are unified there), and the benchmark must time what `cargo build --release` ships.
fn redact(sb: &Sandbox, text: &str) -> String {
    let mut out = text.to_string();
    for (bin, name) in [(HELPER, "[HELPER]"), (TFAUTH, "[TFAUTH]")] {
        let canonical = Path::new(bin).canonicalize().unwrap().display().to_string();
        for path in [canonical.as_str(), bin] {
            out = out.replace(path, name);
        }
    }
    let dir = sb.dir.path();
    for d in [dir.canonicalize().unwrap().as_path(), dir] {
        out = out.replace(&d.display().to_string(), "[SANDBOX]");
    }
    // sha256 names (IAM Identity Center tokens), cache keys, realms and `<h>` dirs.
    out = scan(&out, |rest, prev| {
        let n = rest.bytes().take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)).count();
        let bounded = !prev.is_some_and(is_word) && !rest[n..].chars().next().is_some_and(is_word);
        let name = match n {
            64 => "[SHA256]",
            32 => "[KEY]",
            16 => "[HASH]",
            _ => return None,
        };
        bounded.then(|| (n, name.to_string()))
    });
    // RFC 3339 times (`2026-12-01T10:00:00Z`, with fractions or an offset).
    out = scan(&out, |rest, prev| {
        if prev.is_some_and(is_word) {
            return None;
        }
        let b = rest.as_bytes();
        let shape = b"dddd-dd-dd_dd:dd:dd";
        let fits = b.len() >= shape.len()
            && shape.iter().zip(b).all(|(s, c)| match s {
                b'd' => c.is_ascii_digit(),
                b'_' => *c == b'T' || *c == b' ',
                s => s == c,
            });
        if !fits {
            return None;
        }
        let mut n = shape.len();
        if b.get(n) == Some(&b'.') {
            n += 1 + b[n + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        }
        match b.get(n) {
            Some(b'Z') => n += 1,
            Some(b'+' | b'-') if b.len() >= n + 5 => {
                let zone = &b[n + 1..];
                if zone[..2].iter().all(u8::is_ascii_digit) {
                    let colon = usize::from(zone[2] == b':');
                    if zone.len() >= 4 + colon && zone[2 + colon..4 + colon].iter().all(u8::is_ascii_digit) {
                        n += 5 + colon;
                    }
                }
            }
            _ => {}
        }
        Some((n, "[TIME]".to_string()))
    });
    // `HH:MM UTC` expiries.
    out = scan(&out, |rest, prev| {
        let b = rest.as_bytes();
        let hhmm = b.len() >= 9 && b[..2].iter().chain(&b[3..5]).all(u8::is_ascii_digit) && b[2] == b':';
        let utc = hhmm && &rest[5..9] == " UTC" && !rest[9..].chars().next().is_some_and(is_word);
        (utc && !prev.is_some_and(is_word)).then(|| (9, "[HH:MM] UTC".to_string()))
    });
    // Loopback ports, pids and errno values.
    for (prefix, to) in [
        ("127.0.0.1:", "127.0.0.1:[PORT]"),
        ("localhost:", "localhost:[PORT]"),
        ("[::1]:", "[::1]:[PORT]"),
        ("pid ", "pid [PID]"),
        ("(os error ", "(os error [ERRNO]"),
    ] {
        out = scan(&out, |rest, prev| {
            let digits = rest.strip_prefix(prefix)?.bytes().take_while(u8::is_ascii_digit).count();
            let word_start = prefix.starts_with(|c: char| c.is_alphanumeric());
            (digits > 0 && !(word_start && prev.is_some_and(is_word))).then(|| (prefix.len() + digits, to.to_string()))
        });
    }
    let version = env!("CARGO_PKG_VERSION");
    scan(&out, |rest, prev| {
        let bounded = rest.starts_with(version)
            && !prev.is_some_and(is_word)
            && !rest[version.len()..].chars().next().is_some_and(is_word);
        bounded.then(|| (version.len(), "[VERSION]".to_string()))
    })
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Walks `text`; wherever `at(rest, previous char)` matches `n` bytes, writes its
/// replacement instead and goes on after them.
fn scan(text: &str, at: impl Fn(&str, Option<char>) -> Option<(usize, String)>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prev = None;
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if let Some((n, to)) = at(rest, prev) {
            out.push_str(&to);
            prev = rest[..n].chars().next_back();
            i += n;
            continue;
        }
        let c = rest.chars().next().expect("not at the end");
        out.push(c);
        prev = Some(c);
        i += c.len_utf8();
    }
    out
}

#[test]
fn redaction_replaces_what_varies_and_nothing_else() {
    let sb = Sandbox::new();
    let text = format!(
        "{}/cache/0123456789abcdef0123456789abcdef.json at 2026-12-01T10:00:00.5+01:00, expires 09:41 UTC, \
         http://127.0.0.1:4242 pid 77 (os error 13) version {} but not v{} or x0123456789abcdef or 2026-12-01 or 1.2",
        sb.dir.path().display(),
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        redact(&sb, &text),
        format!(
            "[SANDBOX]/cache/[KEY].json at [TIME], expires [HH:MM] UTC, http://127.0.0.1:[PORT] pid [PID] \
             (os error [ERRNO]) version [VERSION] but not v{} or x0123456789abcdef or 2026-12-01 or 1.2",
            env!("CARGO_PKG_VERSION")
        )
    );
}

/// A sandbox for snapshots: a stand-in `terraform` in `bin/` (the only PATH entry besides
/// the system's), so a dry run and doctor name the same program everywhere.
fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    let bin = sb.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let terraform = bin.join("terraform");
    std::fs::write(&terraform, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&terraform, std::fs::Permissions::from_mode(0o755)).unwrap();
    sb
}

/// A sandbox whose repository is a copy of `examples/`.
fn examples() -> Sandbox {
    let sb = sandbox();
    copy_dir(&examples_dir(), &sb.repo());
    sb
}

/// A sandbox whose repository is the `tests/bad_inputs/` case `name`, and the case's args
/// and env (so the snapshot runs exactly what `bad_inputs.rs` checks by substrings).
fn bad_input(name: &str) -> (Sandbox, Command) {
    let sb = sandbox();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs").join(name);
    copy_dir(&dir, &sb.repo());
    std::fs::remove_file(sb.repo().join("case.json")).unwrap();
    let case: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap();
    assert!(case.get("generate").is_none() && case.get("cwd").is_none(), "{name}: not a plain case");
    let subst = |s: &str| {
        s.replace("{repo}", &sb.repo().display().to_string()).replace("{home}", &sb.home().display().to_string())
    };
    let args: Vec<String> = case["args"].as_array().unwrap().iter().map(|a| subst(a.as_str().unwrap())).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut c = tfauth(&sb, &args);
    if let Some(env) = case["env"].as_object() {
        for (k, v) in env {
            c.env(k, subst(v.as_str().unwrap()));
        }
    }
    (sb, c)
}

/// The sandbox's clean environment, plus PATH with the stand-in first, a fixed help width,
/// and STS on a closed loopback port (doctor's clock check; no run reaches AWS).
fn clean(sb: &Sandbox, c: &mut Command) {
    sb.clean_env(c);
    c.env("PATH", format!("{}:/usr/bin:/bin", sb.dir.path().join("bin").display()))
        .env("COLUMNS", "100")
        .env("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")
        .current_dir(sb.repo());
}

fn tfauth(sb: &Sandbox, args: &[&str]) -> Command {
    let mut c = Command::new(TFAUTH);
    clean(sb, &mut c);
    c.args(args);
    c
}

fn helper(sb: &Sandbox, args: &[&str]) -> Command {
    let mut c = Command::new(HELPER);
    clean(sb, &mut c);
    c.args(args);
    c
}

// ---------------------------------------------------------------------------------------
// --help of every command and subcommand, and --version.

/// One test per help page: `help!(test_name, "snapshot", BIN, args...)`.
macro_rules! help {
    ($($test:ident: $bin:ident $($arg:literal)*;)*) => {$(
        #[test]
        fn $test() {
            let sb = sandbox();
            let mut c = Command::new($bin);
            clean(&sb, &mut c);
            c.args([$($arg),*]);
            tfauth_snapshot!(&sb, stringify!($test), c);
        }
    )*};
}

help! {
    help_tfauth: TFAUTH "--help";
    help_tfauth_short: TFAUTH "-h";
    help_describe: TFAUTH "describe" "--help";
    help_describe_component: TFAUTH "describe" "component" "--help";
    help_auth: TFAUTH "auth" "--help";
    help_auth_validate: TFAUTH "auth" "validate" "--help";
    help_auth_env: TFAUTH "auth" "env" "--help";
    help_auth_exec: TFAUTH "auth" "exec" "--help";
    help_auth_shell: TFAUTH "auth" "shell" "--help";
    help_auth_console: TFAUTH "auth" "console" "--help";
    help_auth_login: TFAUTH "auth" "login" "--help";
    help_auth_whoami: TFAUTH "auth" "whoami" "--help";
    help_auth_logout: TFAUTH "auth" "logout" "--help";
    help_auth_ecr_login: TFAUTH "auth" "ecr-login" "--help";
    help_auth_serve: TFAUTH "auth" "serve" "--help";
    help_aws: TFAUTH "aws" "--help";
    help_aws_eks: TFAUTH "aws" "eks" "--help";
    help_aws_eks_token: TFAUTH "aws" "eks" "token" "--help";
    help_aws_eks_update_kubeconfig: TFAUTH "aws" "eks" "update-kubeconfig" "--help";
    help_gcp: TFAUTH "gcp" "--help";
    help_gcp_gke: TFAUTH "gcp" "gke" "--help";
    help_gcp_gke_token: TFAUTH "gcp" "gke" "token" "--help";
    help_gcp_gke_update_kubeconfig: TFAUTH "gcp" "gke" "update-kubeconfig" "--help";
    help_azure: TFAUTH "azure" "--help";
    help_azure_aks: TFAUTH "azure" "aks" "--help";
    help_azure_aks_token: TFAUTH "azure" "aks" "token" "--help";
    help_azure_aks_update_kubeconfig: TFAUTH "azure" "aks" "update-kubeconfig" "--help";
    help_auth_user: TFAUTH "auth" "user" "--help";
    help_auth_user_configure: TFAUTH "auth" "user" "configure" "--help";
    help_auth_configure_profiles: TFAUTH "auth" "configure-profiles" "--help";
    help_auth_list: TFAUTH "auth" "list" "--help";
    help_list: TFAUTH "list" "--help";
    help_list_stacks: TFAUTH "list" "stacks" "--help";
    help_list_components: TFAUTH "list" "components" "--help";
    help_shell_init: TFAUTH "shell-init" "--help";
    help_prompt: TFAUTH "prompt" "--help";
    help_doctor: TFAUTH "doctor" "--help";
    help_helper: HELPER "--help";
    version_tfauth: TFAUTH "--version";
    version_helper: HELPER "--version";
}

// ---------------------------------------------------------------------------------------
// `auth list` in every format, on the examples.

macro_rules! on_examples {
    ($($test:ident: $($arg:literal)*;)*) => {$(
        #[test]
        fn $test() {
            let sb = examples();
            tfauth_snapshot!(&sb, stringify!($test), tfauth(&sb, &[$($arg),*]));
        }
    )*};
}

on_examples! {
    auth_list_default_is_tree: "auth" "list";
    auth_list_table: "auth" "list" "-f" "table";
    auth_list_tree: "auth" "list" "-f" "tree";
    auth_list_json: "auth" "list" "-f" "json";
    auth_list_yaml: "auth" "list" "-f" "yaml";
    auth_list_graphviz: "auth" "list" "-f" "graphviz";
    auth_list_dot: "auth" "list" "-f" "dot";
    auth_list_mermaid: "auth" "list" "-f" "mermaid";
    auth_list_markdown: "auth" "list" "-f" "markdown";
    auth_list_md: "auth" "list" "vpc" "-s" "plat-use2-dev" "-f" "md";
    auth_list_component_tree: "auth" "list" "vpc" "-s" "plat-use2-dev" "-f" "tree";
    auth_list_component_table: "auth" "list" "vpc" "-s" "plat-use2-dev" "-f" "table";
    auth_list_github_profile_tree: "--profile" "github" "auth" "list";
    auth_list_providers_bare: "auth" "list" "--providers";
    auth_list_providers_named: "auth" "list" "--providers=acme-gcp,ACME-SSO" "-f" "table";
    auth_list_providers_spaced: "auth" "list" "--providers" "acme-azure" "-f" "json";
    auth_list_identities_bare: "--profile" "github" "auth" "list" "--identities";
    auth_list_identities_named: "--profile" "github" "auth" "list" "--identities=plat-prod/terraform,acme/planner";
    auth_list_identities_named_table: "auth" "list" "vpc" "-s" "plat-use2-dev" "--identities=acme/network" "-f" "table";
    auth_list_tags_none_match: "auth" "list" "--tags" "no-such-tag";
    auth_list_unknown_provider_is_64: "auth" "list" "--providers=acme-ss";
    auth_list_providers_with_identities_is_64: "auth" "list" "--providers" "--identities";
    auth_list_unknown_format_is_64: "auth" "list" "-f" "html";
    auth_validate_examples: "auth" "validate";
    list_stacks: "list" "stacks";
    list_components: "list" "components" "-s" "plat-use2-dev";
    describe_component_yaml: "describe" "component" "vpc" "-s" "plat-use2-dev";
    describe_component_json: "describe" "component" "vpc" "-s" "plat-use2-dev" "-f" "json";
    plan_dry_run: "plan" "vpc" "-s" "plat-use2-dev" "--dry-run";
    doctor_text: "doctor";
    doctor_json: "doctor" "-f" "json";
    // 64: usage errors, with suggestions.
    error_64_unknown_stack: "plan" "vpc" "-s" "plat-use2-deb";
    error_64_unknown_component: "plan" "vcp" "-s" "plat-use2-dev" "--dry-run";
    error_64_abstract_component: "plan" "vpc/defaults" "-s" "plat-use2-dev" "--dry-run";
    error_64_unknown_identity: "plan" "vpc" "-s" "plat-use2-dev" "--identity=acme/netwrk" "--dry-run";
    error_64_unknown_profile: "--profile" "managers" "auth" "list";
    error_64_describe_without_stack: "describe" "component" "vpc";
    // The first day (issue 17.5): what a new user types, and what they are told.
    error_64_misspelled_subcommand_with_a_stack: "plna" "vpc" "-s" "plat-use2-dev";
    run_help_after_a_stack: "plan" "vpc" "-s" "plat-use2-dev" "--help";
    help_of_a_terraform_subcommand: "help" "plan";
    help_of_a_tfauth_command: "help" "list" "stacks";
    error_64_help_of_nothing_known: "help" "plx";
    passthrough_of_a_component_hints_at_the_stack: "plan" "vpc";
    error_64_whoami_without_a_default: "auth" "whoami";
    error_77_whoami_without_a_session: "auth" "whoami" "-i" "plat-dev/terraform";
    auth_list_component_by_flag: "auth" "list" "-c" "vpc" "-s" "plat-use2-dev" "-f" "tree";
    error_64_component_without_a_stack: "auth" "env" "vpc";
}

/// A terraform stand-in that says which words it got, so the order of what is printed shows.
fn examples_with_talking_terraform() -> Sandbox {
    let sb = examples();
    let terraform = sb.dir.path().join("bin/terraform");
    std::fs::write(&terraform, "#!/bin/sh\necho \"Terraform v1.0.3 (stand-in) got: $*\"\n").unwrap();
    sb
}

#[test]
fn version_prints_tfauths_beside_terraforms() {
    let sb = examples_with_talking_terraform();
    tfauth_snapshot!(&sb, "version_beside_terraforms", tfauth(&sb, &["version"]));
    // stdout stays terraform's alone (here with -json); tfauth's line is on stderr.
    let out = tfauth(&sb, &["version", "-json"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Terraform v1.0.3 (stand-in) got: version -json\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), format!("tfauth v{}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn run_help_after_a_stack_shows_terraforms_help_too_and_signs_in_to_nothing() {
    let sb = examples_with_talking_terraform();
    tfauth_snapshot!(&sb, "run_help_then_terraforms", tfauth(&sb, &["plan", "vpc", "-s", "plat-use2-dev", "-help"]));
    assert!(sb.files_in_home().is_empty(), "nothing written: {:?}", sb.files_in_home());
}

#[test]
fn a_dry_run_says_when_the_helper_is_not_beside_tfauth() {
    // `cargo run` builds tfauth alone: a tfauth with no atmos-auth-helper in its directory.
    let sb = examples();
    let lone = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("lone-tfauth-{}", std::process::id()));
    std::fs::create_dir_all(&lone).unwrap();
    let exe = lone.join("tfauth");
    let _ = std::fs::remove_file(&exe);
    std::fs::hard_link(TFAUTH, &exe).or_else(|_| std::fs::copy(TFAUTH, &exe).map(|_| ())).unwrap();
    let mut c = Command::new(&exe);
    clean(&sb, &mut c);
    c.args(["plan", "vpc", "-s", "plat-use2-dev", "--dry-run"]);
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let note =
        format!("note: {} does not exist, and the AWS config above runs it", lone.join("atmos-auth-helper").display());
    assert!(stdout.contains(&note), "{stdout}");
    assert!(stdout.contains("cargo build --release --bins"), "{stdout}");
    let mut d = Command::new(&exe);
    clean(&sb, &mut d);
    let doctor = d.arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(text.contains(&format!("{} does not exist", lone.join("atmos-auth-helper").display())), "{text}");
    assert_eq!(doctor.status.code(), Some(1), "{text}");
    std::fs::remove_dir_all(&lone).unwrap();
}

#[test]
fn the_helper_names_its_own_flags_in_hints() {
    let sb = examples();
    tfauth_snapshot!(
        &sb,
        "error_64_helper_component_without_stack",
        helper(&sb, &["--identity", "acme/network", "--component", "vpc"])
    );
}

/// `--tags`, on a repository whose providers and identities carry `tags:` (the examples have
/// none): any of the tags, compared exactly; a provider listed for its identities only is
/// marked `(filtered)`.
#[test]
fn auth_list_by_tags() {
    let sb = sandbox();
    sb.write(
        "atmos.yaml",
        "auth:\n  providers:\n    sso: {kind: aws/iam-identity-center, region: us-east-1, start_url: \"https://d-1.awsapps.com/start\"}\n    \
         gh: {kind: github/oidc, region: us-east-2, tags: [ci]}\n  identities:\n    \
         dev/admin: {kind: aws/permission-set, via: {provider: sso}, principal: {name: Admin, account: {id: \"111111111111\"}}, tags: [dev, admin]}\n    \
         prod/readonly: {kind: aws/permission-set, via: {provider: sso}, principal: {name: ReadOnly, account: {id: \"222222222222\"}}, tags: [prod]}\n    \
         ci/deploy: {kind: aws/assume-role, via: {provider: gh}, principal: {assume_role: \"arn:aws:iam::222222222222:role/ci\"}, tags: [ci, prod]}\n  \
         integrations:\n    ci/ecr: {kind: aws/ecr, via: {identity: ci/deploy}, spec: {registry: {account_id: \"222222222222\", region: us-east-2}}}\n    \
         dev/ecr: {kind: aws/ecr, via: {identity: dev/admin}, spec: {registry: {account_id: \"111111111111\", region: us-east-2}}}\n",
    );
    tfauth_snapshot!(&sb, "auth_list_tags", tfauth(&sb, &["auth", "list", "--tags", "prod,admin"]));
    // --integrations: tfauth's own; with --tags, the integrations of the identities kept.
    tfauth_snapshot!(&sb, "auth_list_integrations", tfauth(&sb, &["auth", "list", "--integrations"]));
    tfauth_snapshot!(
        &sb,
        "auth_list_integrations_tagged",
        tfauth(&sb, &["auth", "list", "--integrations", "--tags=ci", "-f", "table"])
    );
    tfauth_snapshot!(
        &sb,
        "auth_list_tags_identities",
        tfauth(&sb, &["auth", "list", "--identities", "--tags=ci", "-f", "json"])
    );
}

/// No auth in atmos.yaml, but profiles that may hold it: nothing listed, and (as Atmos
/// suggests) the profiles to try.
#[test]
fn auth_list_nothing_configured_names_the_profiles() {
    let sb = sandbox();
    sb.write("atmos.yaml", "base_path: \".\"\n");
    sb.write("profiles/ci/atmos.yaml", "auth:\n  providers:\n    gh: {kind: github/oidc, region: us-east-2}\n");
    sb.write("profiles/dev/atmos.yaml", "logs: {level: Info}\n");
    tfauth_snapshot!(&sb, "auth_list_nothing_configured", tfauth(&sb, &["auth", "list"]));
}

/// The examples, with what a run leaves in the caches: a session for `acme/network` (vpc's
/// identity in plat-use2-dev) under the key a run computes (taken from the dry run), and
/// Atmos's IAM Identity Center session file for `acme-sso`. `entry` replaces the session
/// with raw text. Each expiry is half a minute past the round figure, so the rounded-down
/// time left stays the same while the test runs.
fn examples_with_sessions(entry: Option<&str>) -> (Sandbox, std::path::PathBuf, std::path::PathBuf) {
    let sb = examples();
    let o = outcome(tfauth(&sb, &["plan", "vpc", "-s", "plat-use2-dev", "--dry-run"]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let session =
        o.stdout.lines().find_map(|l| l.trim().strip_prefix("TFAUTH_SESSION=")).expect("dry run names the entry");
    let session = std::path::PathBuf::from(session);
    let now = time::OffsetDateTime::now_utc();
    match entry {
        None => {
            let aws = session.parent().unwrap();
            let env = tfauth::env_vars::Env::from_pairs([(
                "XDG_CACHE_HOME",
                aws.parent().unwrap().parent().unwrap().display().to_string(),
            )]);
            let creds = tfauth::session::cache::Credentials {
                access_key_id: "ASIALISTCANARY000000".into(),
                secret_access_key: tfauth::secret::Secret::new("list-secret-canary"),
                session_token: Some(tfauth::secret::Secret::new("list-token-canary")),
                expiration: Some(now + time::Duration::seconds(2 * 3600 + 30)),
                issued: Some(now),
            };
            let key = session.file_stem().unwrap().to_str().unwrap();
            tfauth::session::cache::Cache::new(&env, "aws").unwrap().write(key, &creds).unwrap();
        }
        Some(text) => {
            std::fs::create_dir_all(session.parent().unwrap()).unwrap();
            std::fs::write(&session, text).unwrap();
            std::fs::set_permissions(&session, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
    let atmos = sb.home().join(".cache/atmos");
    let token = tfauth::providers::sso::atmos_session_path(&atmos, "https://acme.awsapps.com/start", "us-east-1");
    std::fs::create_dir_all(token.parent().unwrap()).unwrap();
    let expires = tfauth::session::cache::format_utc(now + time::Duration::seconds(8 * 3600 + 30));
    let doc = serde_json::json!({"accessToken": "sso-token-canary", "expiresAt": expires, "region": "us-east-1", "startUrl": "https://acme.awsapps.com/start"});
    std::fs::write(&token, doc.to_string()).unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    (sb, session, token)
}

/// Every file below the sandbox's cache, with its bytes.
fn cache_files(sb: &Sandbox) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    fn walk(d: &Path, out: &mut Vec<(std::path::PathBuf, Vec<u8>)>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() { walk(&p, out) } else { out.push((p.clone(), std::fs::read(&p).unwrap_or_default())) }
        }
    }
    let mut out = Vec::new();
    walk(&sb.home().join(".cache"), &mut out);
    out.sort();
    out
}

/// The session column: the cached session's time left and end, the portal token's; in the
/// tree, the table and JSON. Listing reads: no file changes, none appears, no secret shows.
#[test]
fn auth_list_with_cached_sessions() {
    let (sb, _, _) = examples_with_sessions(None);
    let before = cache_files(&sb);
    let list = |args: &[&str]| {
        let mut all = vec!["auth", "list", "vpc", "-s", "plat-use2-dev"];
        all.extend(args);
        tfauth(&sb, &all)
    };
    tfauth_snapshot!(&sb, "auth_list_session_tree", list(&[]));
    tfauth_snapshot!(&sb, "auth_list_session_table", list(&["-f", "table"]));
    tfauth_snapshot!(&sb, "auth_list_session_json", list(&["--identities=acme/network", "-f", "json"]));
    tfauth_snapshot!(&sb, "auth_list_session_providers_yaml", list(&["--providers=acme-sso", "-f", "yaml"]));
    assert_eq!(cache_files(&sb), before, "auth list changed or added a cache file");
    let o = outcome(list(&["-f", "json"]));
    for canary in ["list-secret-canary", "list-token-canary", "sso-token-canary", "ASIALISTCANARY"] {
        assert!(!o.stdout.contains(canary) && !o.stderr.contains(canary), "{canary} shown:\n{}{}", o.stdout, o.stderr);
    }
}

/// A damaged entry is listed as unreadable, with a warning naming it; the list still works.
#[test]
fn auth_list_with_a_damaged_session_entry() {
    let (sb, _, _) = examples_with_sessions(Some("{\"Version\": 1, \"AccessKeyId\": "));
    tfauth_snapshot!(
        &sb,
        "auth_list_session_unreadable",
        tfauth(&sb, &["auth", "list", "vpc", "-s", "plat-use2-dev", "--identities", "-f", "table"])
    );
}

/// Nothing cached and no cache directory: the list says nothing of sessions, and makes no
/// directory (it never prepares a sign-in).
#[test]
fn auth_list_without_a_cache_creates_nothing() {
    let sb = examples();
    let o = outcome(tfauth(&sb, &["auth", "list", "-f", "json"]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let doc: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(doc["identities"][0]["session"], serde_json::json!({"status": "none"}), "{doc}");
    assert!(doc["providers"][0]["session"] == serde_json::json!({"status": "none"}), "{doc}");
    assert!(doc["providers"][1].get("session").is_none(), "gcp/adc has no portal token: {doc}");
    assert!(!sb.home().join(".cache").exists(), "auth list created {}", sb.home().join(".cache").display());
}

// ---------------------------------------------------------------------------------------
// Errors, one per exit code that can be reached offline.

/// One test per `tests/bad_inputs/` case: the whole error, where `bad_inputs.rs` checks substrings.
macro_rules! bad_inputs {
    ($($test:ident: $case:literal;)*) => {$(
        #[test]
        fn $test() {
            let (sb, c) = bad_input($case);
            tfauth_snapshot!(&sb, stringify!($test), c);
        }
    )*};
}

bad_inputs! {
    error_64_identity_flag_unknown: "56-identity-flag-unknown";
    error_65_atmos_yaml_malformed: "01-atmos-yaml-malformed";
    error_65_stack_malformed: "02-stack-malformed";
    error_65_auth_unknown_provider_kind: "45-auth-unknown-provider-kind";
    error_65_auth_several_problems_at_once: "53-auth-several-problems-at-once";
    error_66_no_atmos_yaml: "38-no-atmos-yaml";
    error_73_backend_file_hand_written: "59-backend-file-hand-written";
    error_77_login_without_terminal: "70-login-without-terminal";
    describe_without_a_default_identity: "103-describe-without-default";
    error_64_plan_without_a_default_identity: "104-plan-without-default";
    error_65_list_stacks_broken_manifests: "105-list-stacks-broken-manifests";
    plan_dry_run_hub_and_spoke: "117-required-hub-and-spoke-dry-run";
    error_65_stack_key_without_colon: "173-stack-key-without-colon";
    error_77_azure_interactive_without_terminal: "190-azure-interactive-no-terminal";
}

#[test]
fn doctor_fails_without_a_configuration() {
    let sb = sandbox();
    tfauth_snapshot!(&sb, "doctor_fail_no_config", tfauth(&sb, &["doctor"]));
}

#[test]
fn helper_without_arguments_is_64() {
    let sb = sandbox();
    tfauth_snapshot!(&sb, "error_64_helper_without_identity", helper(&sb, &[]));
}

#[test]
fn helper_without_a_configuration_is_66() {
    let sb = sandbox();
    tfauth_snapshot!(&sb, "error_66_helper_no_atmos_yaml", helper(&sb, &["--identity", "acme/planner"]));
}

/// The helper for the examples' SSO chain, as terraform would call it, with the keyring's
/// password set and every AWS endpoint on a closed port.
fn examples_helper(sb: &Sandbox) -> Command {
    let config = sb.repo().join("atmos.yaml");
    let mut c = helper(sb, &["--identity", "acme/network", "--stack", "plat-use2-dev", "--component", "vpc"]);
    c.arg("--config").arg(config);
    c.env("ATMOS_KEYRING_PASSWORD", "a-long-enough-password").env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    c
}

#[test]
fn helper_with_no_session_and_no_terminal_is_77() {
    let sb = examples();
    tfauth_snapshot!(&sb, "error_77_helper_needs_sso_login", examples_helper(&sb));
}

#[test]
fn a_run_with_no_keyring_password_is_77() {
    let (sb, c) = bad_input("118-keyring-file-without-password");
    tfauth_snapshot!(&sb, "error_77_no_keyring_password", c);
}

/// Makes `$XDG_CACHE_HOME/tfauth/<name>` a symbolic link to a directory elsewhere.
fn link_cache_dir_elsewhere(sb: &Sandbox, name: &str) {
    let elsewhere = sb.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let cache = sb.home().join(".cache/tfauth");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&elsewhere, cache.join(name)).unwrap();
}

#[test]
fn helper_with_a_symlinked_cache_directory_is_74() {
    let sb = examples();
    link_cache_dir_elsewhere(&sb, "aws");
    tfauth_snapshot!(&sb, "error_74_helper_cache_dir_is_a_symlink", examples_helper(&sb));
}

#[test]
fn a_run_with_a_symlinked_locks_directory_is_74() {
    let sb = examples();
    link_cache_dir_elsewhere(&sb, "locks");
    let mut c = tfauth(&sb, &["plan", "vpc", "-s", "plat-use2-dev"]);
    c.env("ATMOS_KEYRING_PASSWORD", "a-long-enough-password").env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    tfauth_snapshot!(&sb, "error_74_plan_locks_dir_is_a_symlink", c);
}

#[test]
fn a_saml_chain_with_a_driver_tfauth_does_not_speak_is_69() {
    let sb = sandbox();
    sb.write(
        "atmos.yaml",
        "auth:\n  providers:\n    okta: {kind: aws/saml, region: us-east-1, url: \"https://acme.okta.com/app/x\", driver: GoogleApps}\n  identities:\n    saml/admin: {kind: aws/assume-role, default: true, via: {provider: okta}, principal: {assume_role: \"arn:aws:iam::111111111111:role/admin\"}}\n",
    );
    let mut c = tfauth(&sb, &["auth", "env", "--login"]);
    c.env("ATMOS_KEYRING_PASSWORD", "a-long-enough-password").env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    tfauth_snapshot!(&sb, "error_69_saml_googleapps_driver", c);
}

#[test]
fn a_saml_sign_in_without_a_password_or_a_terminal_is_77() {
    let sb = sandbox();
    sb.write(
        "atmos.yaml",
        "auth:\n  providers:\n    okta: {kind: aws/saml, region: us-east-1, url: \"https://acme.okta.com/home/amazon_aws/0oa1/272\", username: jane@acme.example}\n  identities:\n    saml/admin: {kind: aws/assume-role, default: true, via: {provider: okta}, principal: {assume_role: \"arn:aws:iam::111111111111:role/admin\"}}\n",
    );
    let mut c = tfauth(&sb, &["auth", "env", "--login"]);
    c.env("ATMOS_KEYRING_PASSWORD", "a-long-enough-password").env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    tfauth_snapshot!(&sb, "error_77_saml_no_password_no_terminal", c);
}

/// The `Commands:` of a help page: the first word of each entry line (continuation lines
/// are indented further).
fn subcommands(help: &str) -> Vec<String> {
    let Some(start) = help.find("\nCommands:\n") else {
        return vec![];
    };
    help[start + "\nCommands:\n".len()..]
        .lines()
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .filter(|c| c != "help")
        .collect()
}

/// Every command and subcommand that `--help` lists has a `help_*` snapshot above, so a new
/// subcommand cannot ship with a help page nobody reviewed.
#[test]
fn every_subcommand_has_a_help_snapshot() {
    let sb = sandbox();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots");
    let mut todo: Vec<Vec<String>> = vec![vec![]];
    let mut missing = Vec::new();
    while let Some(path) = todo.pop() {
        let mut args = path.clone();
        args.push("--help".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = outcome(tfauth(&sb, &args));
        assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
        let name = if path.is_empty() { "help_tfauth".to_string() } else { format!("help_{}", path.join("_")) };
        let name = name.replace('-', "_");
        if !dir.join(format!("{name}.snap")).is_file() {
            missing.push(name);
        }
        for sub in subcommands(&o.stdout) {
            let mut next = path.clone();
            next.push(sub);
            todo.push(next);
        }
    }
    assert!(missing.is_empty(), "help pages without a snapshot (add them to `help!`): {missing:?}");
}

// ---------------------------------------------------------------------------------------
// Atmos's flags of `auth env`, `login` and `logout` (issue 17.3), and the variables that
// stand for them.

/// An aws/user identity with its keys in atmos.yaml (nothing reaches AWS: a session is
/// seeded into the cache where a test needs one), tagged, with an `env:` entry to quote.
const FLAGS_AUTH: &str = "auth:
  realm: snap
  keyring: {type: memory}
  providers:
    acme-sso: {kind: aws/iam-identity-center, region: us-east-1, start_url: \"https://d-1.awsapps.com/start\", tags: [people]}
    acme-gh: {kind: github/oidc, region: us-east-1, tags: [ci, prod]}
  identities:
    dev/user:
      kind: aws/user
      default: true
      region: us-east-1
      tags: [dev, prod]
      credentials: {access_key_id: AKIASNAPSHOTEXAMPLE, secret_access_key: not-a-real-secret}
      env:
        - {key: TEAM, value: platform team}
    prod/admin: {kind: aws/permission-set, tags: [prod], via: {provider: acme-sso}, principal: {name: Admin, account: {id: \"111111111111\"}}}
    ci/deploy: {kind: aws/assume-role, tags: [ci], via: {provider: acme-gh}, principal: {assume_role: \"arn:aws:iam::111111111111:role/deploy\"}}
";

fn flags_sandbox() -> Sandbox {
    let sb = sandbox();
    sb.write("atmos.yaml", FLAGS_AUTH);
    sb
}

/// Seeds a fresh session for the default identity where `auth env` says it is cached.
fn seed_session(sb: &Sandbox) {
    let o = outcome(tfauth(sb, &["auth", "env", "-f", "json"]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let doc: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let entry = PathBuf::from(doc["TFAUTH_SESSION"].as_str().unwrap());
    let key = entry.file_stem().unwrap().to_str().unwrap().to_string();
    let cache_home = entry.parent().unwrap().parent().unwrap().parent().unwrap();
    let env = tfauth::env_vars::Env::from_pairs([("XDG_CACHE_HOME", cache_home.display().to_string())]);
    let now = time::OffsetDateTime::now_utc();
    let creds = tfauth::session::cache::Credentials {
        access_key_id: "ASIASEEDEDSESSION000".into(),
        secret_access_key: tfauth::secret::Secret::new("seeded-secret"),
        session_token: Some(tfauth::secret::Secret::new("seeded-token")),
        expiration: Some(now + time::Duration::hours(1)),
        issued: Some(now),
    };
    let owner =
        tfauth::session::cache::Owner { identity: "dev/user".into(), root: "dev/user".into(), realm: "snap".into() };
    tfauth::session::cache::Cache::new(&env, "aws").unwrap().write_owned(&key, &creds, &owner).unwrap();
}

#[test]
fn auth_env_format_env_without_login_signs_in_nothing_and_says_so() {
    let sb = flags_sandbox();
    tfauth_snapshot!(&sb, "auth_env_format_env_no_login", tfauth(&sb, &["auth", "env", "--format", "env"]));
}

#[test]
fn auth_env_with_a_cached_session_prints_without_a_warning_with_or_without_login() {
    let sb = flags_sandbox();
    seed_session(&sb);
    tfauth_snapshot!(&sb, "auth_env_dotenv_cached", tfauth(&sb, &["auth", "env", "-f", "dotenv"]));
    // --login: the cached session is enough, nothing is signed in (no network here at all).
    tfauth_snapshot!(&sb, "auth_env_login_cached", tfauth(&sb, &["auth", "env", "--login", "-f", "json"]));
}

/// `-o FILE` (and ATMOS_AUTH_ENV_OUTPUT_FILE): nothing on stdout, the file appended (json
/// replaced), 0600 whatever it was.
#[test]
fn auth_env_output_file_is_appended_private_and_the_variables_spell_the_flags() {
    let sb = flags_sandbox();
    seed_session(&sb);
    let out = sb.dir.path().join("out.env");
    std::fs::write(&out, "KEPT=1\n").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    let show = |o: &Outcome| {
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        format!("{}\n----- {} (mode {mode:o}) -----\n{}", render(o), "out.env", std::fs::read_to_string(&out).unwrap())
    };
    let c = tfauth(&sb, &["auth", "env", "-f", "env", "-o", out.to_str().unwrap()]);
    let line = command_line(&sb, &c);
    let text = redact(&sb, &show(&outcome(c)));
    settings(&line).bind(|| insta::assert_snapshot!("auth_env_output_file_env", text));

    let mut c = tfauth(&sb, &["auth", "env"]);
    c.env("ATMOS_AUTH_ENV_FORMAT", "json").env("ATMOS_AUTH_ENV_OUTPUT_FILE", &out);
    let line = command_line(&sb, &c);
    let text = redact(&sb, &show(&outcome(c)));
    settings(&line).bind(|| insta::assert_snapshot!("auth_env_output_file_json_from_variables", text));
}

#[test]
fn auth_env_static_credentials_without_login_and_no_session_is_77() {
    let sb = sandbox();
    sb.write("atmos.yaml", FLAGS_AUTH.replace("  realm: snap\n", "  realm: snap\n  static_credentials: true\n"));
    tfauth_snapshot!(&sb, "error_77_auth_env_static_no_login", tfauth(&sb, &["auth", "env"]));
}

#[test]
fn logout_dry_run_lists_and_removes_nothing() {
    let sb = flags_sandbox();
    seed_session(&sb);
    let before = sb.files_in_home();
    tfauth_snapshot!(&sb, "auth_logout_all_dry_run", tfauth(&sb, &["auth", "logout", "--all", "--dry-run"]));
    tfauth_snapshot!(
        &sb,
        "auth_logout_identity_dry_run_keychain",
        tfauth(&sb, &["auth", "logout", "dev/user", "--dry-run", "--keychain"])
    );
    assert_eq!(sb.files_in_home(), before, "a dry run removes nothing");
}

#[test]
fn tags_select_providers_for_logout_and_identities_for_login() {
    let sb = flags_sandbox();
    tfauth_snapshot!(&sb, "auth_logout_tags", tfauth(&sb, &["auth", "logout", "--tags", "prod,people"]));
    tfauth_snapshot!(
        &sb,
        "error_64_auth_logout_tags_match_nothing",
        tfauth(&sb, &["auth", "logout", "--tags", "Prod"])
    );
    tfauth_snapshot!(&sb, "error_64_auth_login_tags_several", tfauth(&sb, &["auth", "login", "--tags", "prod"]));
    tfauth_snapshot!(&sb, "error_64_auth_login_tags_none", tfauth(&sb, &["auth", "login", "--tags", "nope"]));
}

/// `auth shell` starts `$ATMOS_SHELL` before `$SHELL`, and sets Atmos's `ATMOS_IDENTITY`
/// beside `TFAUTH_IDENTITY` (the session is cached: nothing reaches AWS).
#[test]
fn auth_shell_runs_atmos_shell_with_atmos_identity() {
    let sb = flags_sandbox();
    seed_session(&sb);
    let bin = sb.dir.path().join("bin");
    let shell = bin.join("recording-shell");
    std::fs::write(
        &shell,
        "#!/bin/sh\nenv | grep -E '^(ATMOS_IDENTITY|TFAUTH_IDENTITY|ATMOS_SHLVL|TFAUTH_SHLVL)=' | sort\n",
    )
    .unwrap();
    std::fs::set_permissions(&shell, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = tfauth(&sb, &["auth", "shell"]);
    c.env("ATMOS_SHELL", &shell).env("SHELL", "/bin/false");
    tfauth_snapshot!(&sb, "auth_shell_atmos_shell_and_identity", c);
}

// `auth console`: each flag's output and each refusal. AWS identities are `aws/ambient`
// with keys in the environment (no STS call) and a federation stand-in on loopback; Azure
// needs no network at all.

/// A repository with an identity of each console kind, and one of each kind without.
fn console_repo() -> Sandbox {
    let sb = sandbox();
    sb.write(
        "atmos.yaml",
        "auth:
  providers:
    corp-azure:
      kind: azure/oidc
      spec: {tenant_id: 0b5e6c1d-2a3f-4e5d-8c7b-9a0f1e2d3c4b, client_id: 7c9d8e1f-0a2b-4c3d-9e8f-7a6b5c4d3e2f}
    corp-gcp: {kind: gcp/adc}
  identities:
    dev/ambient: {kind: aws/ambient, default: true, principal: {region: us-east-2}}
    gov/ambient: {kind: aws/ambient, principal: {region: us-gov-west-1}}
    azure/dev:
      kind: azure/subscription
      via: {provider: corp-azure}
      principal: {subscription_id: 6f1c2a4e-3b5d-4c7e-9f80-1a2b3c4d5e6f}
    gcp/sa:
      kind: gcp/service-account
      via: {provider: corp-gcp}
      principal: {service_account_email: terraform@acme.iam.gserviceaccount.com}
",
    );
    sb
}

/// The federation endpoint's `getSigninToken`, answering one fixed token to anyone.
fn federation_standin() -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        for stream in listener.incoming().take(1) {
            let mut s = stream.unwrap();
            let mut buf = [0u8; 8192];
            let n = s.read(&mut buf).unwrap_or(0);
            let asked = String::from_utf8_lossy(&buf[..n]).contains("Action=getSigninToken");
            let body = if asked { "{\"SigninToken\":\"TOKEN-from-the-standin\"}" } else { "{}" };
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (addr, server)
}

/// `auth console ARGS` in the console repository, with the ambient keys and the stand-in.
fn console(sb: &Sandbox, args: &[&str], federation: Option<std::net::SocketAddr>) -> Command {
    let mut all = vec!["auth", "console"];
    all.extend_from_slice(args);
    let mut c = tfauth(sb, &all);
    c.env("AWS_ACCESS_KEY_ID", "ASIAAMBIENTEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "ambient-secret")
        .env("AWS_SESSION_TOKEN", "ambient-session-token");
    if let Some(addr) = federation {
        c.env("TFAUTH_AWS_FEDERATION_URL", format!("http://{addr}/federation"));
    }
    c
}

macro_rules! console_snapshots {
    ($($test:ident: $federation:literal $($arg:literal)*;)*) => {$(
        #[test]
        fn $test() {
            let sb = console_repo();
            let standin = $federation.then(federation_standin);
            let c = console(&sb, &[$($arg),*], standin.as_ref().map(|s| s.0));
            tfauth_snapshot!(&sb, stringify!($test), c);
        }
    )*};
}

console_snapshots! {
    console_print_only_alias_and_issuer: true "--print-only" "--destination" "s3" "--issuer" "my-org";
    console_no_open_url_with_duration: true "--no-open" "--destination" "https://us-east-1.console.aws.amazon.com/ec2/home" "--duration" "2h";
    console_no_open_govcloud_home: true "-i" "gov/ambient" "--no-open";
    console_azure_print_only_home: false "-i" "azure/dev" "--print-only";
    console_azure_no_open_alias: false "-i" "azure/dev" "--no-open" "--destination" "rg";
    console_azure_subscription: false "-i" "azure/dev" "--print-only" "--destination" "sub";
    error_64_console_unknown_alias: false "--print-only" "--destination" "s4";
    error_64_console_unknown_azure_alias: false "-i" "azure/dev" "--print-only" "--destination" "keyvalt";
    error_64_console_not_a_console_url: false "--print-only" "--destination" "https://console.aws.amazon.com.evil.example/s3?x=1";
    error_64_console_url_with_a_user: false "--print-only" "--destination" "https://console.aws.amazon.com@evil.example/";
    error_64_console_other_partition: false "-i" "gov/ambient" "--print-only" "--destination" "https://console.aws.amazon.com/s3";
    error_64_console_not_the_azure_portal: false "-i" "azure/dev" "--print-only" "--destination" "https://console.aws.amazon.com/s3";
    error_64_console_gcp_identity: false "-i" "gcp/sa" "--print-only";
    error_64_console_no_browser: false "--destination" "iam";
    error_64_console_duration_too_long: false "--print-only" "--duration" "13h";
}

/// `auth validate` with Atmos's `ATMOS_AUTH_VALIDATE_VERBOSE`: each provider and identity
/// checked, with its kind, line and chain, on stderr; the verdict on stdout as without it.
#[test]
fn auth_validate_verbose_lists_what_was_checked() {
    let sb = examples();
    let mut c = tfauth(&sb, &["auth", "validate"]);
    c.env("ATMOS_AUTH_VALIDATE_VERBOSE", "true");
    tfauth_snapshot!(&sb, "auth_validate_verbose", c);
}
