//! Logging: `-v`/`-q`, `ATMOS_LOGS_LEVEL` and `auth.logs` choose how much is said and where,
//! and no secret appears at any level, in tfauth or in the helper.

use crate::support::{Bed, Moto, github_token_endpoint, run, venv};

const TFAUTH: &str = env!("CARGO_BIN_EXE_tfauth");
const BEARER: &str = "gh-request-bearer-logging";

fn set_logs(bed: &Bed, logs: &str) {
    let path = bed.repo().join("atmos.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("\n  logs:\n").expect("examples/atmos.yaml has auth.logs") + 1;
    let body = &text[start + "  logs:\n".len()..];
    let len =
        "  logs:\n".len() + body.lines().take_while(|l| l.starts_with("    ")).map(|l| l.len() + 1).sum::<usize>();
    let text = format!("{}{logs}{}", &text[..start], &text[start + len..]);
    std::fs::write(&path, text).unwrap();
}

#[test]
fn no_secret_reaches_a_log_at_trace_and_the_levels_are_honoured() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    set_logs(&bed, "  logs:\n    level: Debug\n    file: logs/auth.log\n");
    std::fs::create_dir_all(bed.repo().join("logs")).unwrap();
    let github = |c: &mut std::process::Command| {
        c.env("ATMOS_PROFILE", "github")
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", format!("{}/token", token.url()))
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER)
            .env("AWS_ENDPOINT_URL_STS", moto.url());
    };

    // auth.logs: debug lines go to the file (0600), not stderr.
    let mut c = bed.cmd(TFAUTH);
    github(&mut c);
    c.args(["auth", "env", "--login", "-i", "plat-dev/terraform"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let log_path = bed.repo().join("logs/auth.log");
    let file_log = std::fs::read_to_string(&log_path).unwrap();
    assert!(file_log.contains("DEBUG"), "auth.logs.level: Debug reaches the file:\n{file_log}");
    assert!(!o.stderr.contains("DEBUG"), "auth.logs.file takes the lines off stderr:\n{}", o.stderr);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&log_path).unwrap().permissions().mode() & 0o777, 0o600);

    // -q beats the file's level: nothing but errors.
    let before = std::fs::read_to_string(&log_path).unwrap().len();
    let mut c = bed.cmd(TFAUTH);
    github(&mut c);
    c.args(["-q", "auth", "env", "--login", "-i", "plat-dev/terraform"]);
    assert_eq!(run(c).code, 0);
    assert_eq!(std::fs::read_to_string(&log_path).unwrap().len(), before, "-q wrote debug lines");

    // Trace everywhere, on stderr, with nothing cached (so STS is called): tfauth, then
    // the helper's cold path through boto3.
    set_logs(&bed, "  logs:\n    level: Info\n");
    std::fs::remove_dir_all(bed.home().join(".cache/tfauth")).unwrap();
    let mut c = bed.cmd(TFAUTH);
    github(&mut c);
    c.env("ATMOS_LOGS_LEVEL", "Trace");
    c.args(["-vv", "auth", "exec", "-i", "plat-dev/terraform", "--"]);
    c.arg(venv().join("bin/python"));
    c.args(["-c", "import boto3,json; c=boto3.Session().get_credentials().get_frozen_credentials(); print(json.dumps([c.access_key, c.secret_key, c.token]))"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("TRACE") || o.stderr.contains("DEBUG"), "trace logging is on:\n{}", o.stderr);
    let creds: Vec<String> = serde_json::from_str(o.stdout.trim()).unwrap();
    let mut logs = o.stderr.clone() + &file_log;

    // The helper itself, cold (no --key, nothing cached): ATMOS_LOGS_LEVEL=trace.
    std::fs::remove_dir_all(bed.home().join(".cache/tfauth")).unwrap();
    let mut c = bed.cmd(env!("CARGO_BIN_EXE_atmos-auth-helper"));
    github(&mut c);
    c.env("ATMOS_LOGS_LEVEL", "trace");
    c.args(["--identity", "plat-dev/terraform"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let doc: serde_json::Value = serde_json::from_str(o.stdout.trim()).expect("stdout is one JSON document");
    assert!(o.stderr.contains("TRACE") || o.stderr.contains("DEBUG"), "{}", o.stderr);
    logs += &o.stderr;
    let secrets = [
        creds[1].as_str(),
        creds[2].as_str(),
        doc["SecretAccessKey"].as_str().unwrap(),
        doc["SessionToken"].as_str().unwrap(),
        BEARER,
    ];
    for secret in secrets {
        assert!(!logs.contains(secret), "a secret reached a log line");
    }
    // The JWT from the GitHub endpoint is a credential too.
    assert!(!logs.contains("eyJhbGciOiJSUzI1NiJ9"), "the GitHub ID token reached a log line");
}

#[test]
fn bad_log_settings_warn_and_never_fail() {
    let bed = Bed::new();
    set_logs(&bed, "  logs:\n    level: Loud\n    file: no/such/dir/auth.log\n");
    let mut c = bed.cmd(TFAUTH);
    c.args(["auth", "validate"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("auth.logs.level `Loud`"), "{}", o.stderr);
    assert!(o.stderr.contains("auth.logs.file") && o.stderr.contains("no/such/dir/auth.log"), "{}", o.stderr);
    // The helper never logs to stdout, whatever it is told.
    let mut c = bed.cmd(env!("CARGO_BIN_EXE_atmos-auth-helper"));
    c.env("ATMOS_LOGS_FILE", "/dev/stdout").env("ATMOS_LOGS_LEVEL", "trace");
    c.args(["--identity", "no-such-identity"]);
    let o = run(c);
    assert_ne!(o.code, 0);
    assert!(o.stdout.is_empty(), "the helper's stdout got: {}", o.stdout);
    assert!(o.stderr.contains("ATMOS_LOGS_FILE"), "{}", o.stderr);
}
