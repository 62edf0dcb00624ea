//! People signing in: `tfauth auth login` through the IAM Identity Center device flow under
//! a real pseudo-terminal (`script`), the token reused, refreshed and replaced, permission
//! sets by account id and by name across pages, auto-provisioned identities, AssumeRoot,
//! the 50-helper storm, whoami against moto, and logout leaving no trace.
//!
//! The SSO-OIDC service, the portal API and AssumeRoot are the loopback stand-in of
//! `aws_portal.rs` (checked against botocore there); every other STS call goes through it
//! to a real moto server.

use crate::aws_portal::{Account, Portal, PortalOpts};
use crate::support::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const START_URL: &str = "https://d-1234567890.awsapps.com/start";

/// The auth section the tests use; `extra` is appended under `auth:`.
fn atmos_yaml(extra: &str) -> String {
    format!(
        r#"base_path: "."
components:
  terraform:
    base_path: components/terraform
stacks:
  base_path: stacks
  included_paths: ["orgs/**/*"]
  excluded_paths: ["**/_defaults.yaml"]
  name_pattern: "{{tenant}}-{{environment}}-{{stage}}"
auth:
  providers:
    acme-sso:
      kind: aws/iam-identity-center
      region: us-east-1
      start_url: {START_URL}
      auto_provision_identities: true
  identities:
    dev/admin:
      kind: aws/permission-set
      default: true
      via: {{provider: acme-sso}}
      principal: {{name: AdministratorAccess, account: {{name: acme-dev}}}}
    prod/readonly:
      kind: aws/permission-set
      via: {{provider: acme-sso}}
      principal: {{name: ReadOnly, account: {{id: "222222222222"}}}}
    far/readonly:
      kind: aws/permission-set
      via: {{provider: acme-sso}}
      principal: {{name: ReadOnly, account: {{name: acme-far}}}}
    dev/deployer:
      kind: aws/assume-role
      via: {{identity: dev/admin}}
      principal: {{assume_role: "arn:aws:iam::111111111111:role/Deployer"}}
    prod/root-audit:
      kind: aws/assume-root
      via: {{identity: dev/admin}}
      principal:
        target_principal: "222222222222"
        task_policy_arn: arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials
{extra}"#
    )
}

/// Five accounts, so ListAccounts takes three pages of two; acme-far is on the last.
pub fn five_accounts() -> Vec<Account> {
    vec![
        Account::new("111111111111", "acme-dev", "dev@example.com", &["AdministratorAccess", "ReadOnly"]),
        Account::new("222222222222", "acme-prod", "prod@example.com", &["ReadOnly"]),
        Account::new("333333333333", "acme-stage", "stage@example.com", &["ReadOnly"]),
        Account::new("444444444444", "acme-sandbox", "sandbox@example.com", &["PowerUser"]),
        Account::new("555555555555", "acme-far", "far@example.com", &["ReadOnly"]),
    ]
}

/// A repository (the examples' stacks, this file's auth), moto, and the portal stand-in.
pub struct SsoBed {
    pub bed: Bed,
    pub portal: Portal,
    pub moto: Moto,
    /// More environment for every command (a keyring password, a bus address).
    pub env: Vec<(String, String)>,
}

impl SsoBed {
    pub fn new(opts: PortalOpts, auth_extra: &str) -> SsoBed {
        let moto = Moto::start();
        let portal = Portal::start(PortalOpts { sts_upstream: Some(moto.url()), accounts: five_accounts(), ..opts });
        let bed = Bed::new();
        std::fs::remove_dir_all(bed.repo().join("profiles")).unwrap();
        std::fs::write(bed.repo().join("atmos.yaml"), atmos_yaml(auth_extra)).unwrap();
        // A browser opener that records the URL it was asked to open.
        let bin = bed.dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let opener = bin.join("xdg-open");
        std::fs::write(&opener, format!("#!/bin/sh\necho \"$@\" >> {}\n", bed.dir.path().join("opened").display()))
            .unwrap();
        std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
        SsoBed { bed, portal, moto, env: Vec::new() }
    }

    /// A command without a terminal (CI=true), pointed at the stand-in and moto.
    pub fn cmd(&self, program: &str) -> Command {
        let mut c = self.bed.cmd(program);
        c.env("AWS_ENDPOINT_URL_SSO_OIDC", self.portal.url())
            .env("AWS_ENDPOINT_URL_SSO", self.portal.url())
            .env("AWS_ENDPOINT_URL_STS", self.portal.url())
            .env(
                "PATH",
                format!("{}:{}:/usr/bin:/bin", self.bed.dir.path().join("bin").display(), venv().join("bin").display()),
            )
            .stdin(Stdio::null());
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// `words` run under a pseudo-terminal (util-linux `script`), not in CI: what the
    /// terminal showed, and the exit code.
    pub fn pty(&self, words: &[&str]) -> Out {
        let line: Vec<String> = words.iter().map(|w| shell_word(w)).collect();
        self.pty_shell(&line.join(" "))
    }

    pub fn pty_shell(&self, script: &str) -> Out {
        let mut c = self.cmd("script");
        c.env_remove("CI").args(["-qfec", script, "/dev/null"]);
        run(c)
    }

    pub fn opened(&self) -> Vec<String> {
        std::fs::read_to_string(self.bed.dir.path().join("opened"))
            .map(|t| t.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// Atmos's IAM Identity Center sessions, where tfauth keeps the token too.
    pub fn sso_dir(&self) -> PathBuf {
        self.bed.home().join(".cache/atmos/aws-sso/sessions")
    }

    /// The one token file (`<sha1>.json`).
    pub fn token_file(&self) -> Option<PathBuf> {
        let files: Vec<PathBuf> = std::fs::read_dir(self.sso_dir())
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy().into_owned();
                n.ends_with(".json") && !n.ends_with(".identities.json") && !n.starts_with('.')
            })
            .collect();
        assert!(files.len() <= 1, "one token file per portal: {files:?}");
        files.into_iter().next()
    }

    /// Moves the cached access token's expiry into the past, as if hours had passed.
    pub fn age_token(&self) {
        let path = self.token_file().expect("a token file");
        let mut doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        doc["expiresAt"] = "2020-01-01T00:00:00Z".into();
        std::fs::write(&path, doc.to_string()).unwrap();
    }

    pub fn helper(&self, identity: &str) -> Command {
        let mut c = self.cmd(HELPER);
        c.args(["--identity", identity, "--config"]).arg(self.bed.repo().join("atmos.yaml"));
        c
    }

    /// Signs in through the pty, approving on the first poll.
    pub fn login(&self) -> Out {
        let o = self.pty(&[TFAUTH, "auth", "login", "--provider", "acme-sso"]);
        assert_eq!(o.code, 0, "login failed:\n{}", o.stdout);
        o
    }
}

fn shell_word(w: &str) -> String {
    if w.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-_.,:=@".contains(&b)) {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn creds(o: &Out) -> serde_json::Value {
    assert_eq!(o.code, 0, "helper failed:\nstdout: {}\nstderr: {}", o.stdout, o.stderr);
    let v: serde_json::Value = serde_json::from_str(o.stdout.trim()).expect("one JSON document on stdout");
    assert_eq!(v["Version"], 1);
    v
}

fn approving_portal() -> PortalOpts {
    PortalOpts { approve_after_polls: Some(2), slow_down_polls: 1, interval: 1, ..Default::default() }
}

#[test]
fn sso_login_under_a_terminal_shows_the_code_opens_the_browser_and_writes_the_sdk_token_file() {
    let b = SsoBed::new(approving_portal(), "");
    let o = b.pty(&[TFAUTH, "auth", "login", "--provider", "acme-sso"]);
    assert_eq!(o.code, 0, "terminal:\n{}", o.stdout);

    // The terminal showed the code and the URL; the opener got the same URL.
    let opened = b.opened();
    assert_eq!(opened.len(), 1, "the browser opener ran once: {opened:?}");
    let url = &opened[0];
    let code = url.split("user_code=").nth(1).expect("the URL carries the code");
    assert_eq!(url, &format!("{}/device?user_code={code}", b.portal.url()));
    assert!(o.stdout.contains(&format!("Code: {code}")), "terminal:\n{}", o.stdout);
    assert!(o.stdout.contains(&format!("URL:  {url}")), "terminal:\n{}", o.stdout);
    assert!(o.stdout.contains("left"), "a countdown while waiting:\n{}", o.stdout);
    assert!(o.stdout.contains("Signed in."), "terminal:\n{}", o.stdout);
    assert_eq!(b.portal.count("RegisterClient"), 1);
    assert_eq!(b.portal.count("StartDeviceAuthorization"), 1);
    // One SlowDown, one pending, then the approval: three polls, spaced by the interval.
    assert_eq!(b.portal.count("CreateToken"), 3);

    // The token file: the SDK's ssocreds shape, 0600 in a 0700 directory.
    let path = b.token_file().expect("a token file");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut keys: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "accessToken",
            "clientId",
            "clientSecret",
            "expiresAt",
            "refreshToken",
            "region",
            "registrationExpiresAt",
            "startUrl"
        ]
    );
    assert_eq!(doc["startUrl"], START_URL);
    assert_eq!(doc["region"], "us-east-1");
    assert_eq!(b.portal.access_tokens(), [doc["accessToken"].as_str().unwrap()]);
    assert!(doc["expiresAt"].as_str().unwrap().ends_with('Z'));
    // The provisioned identities were written too (auto_provision_identities: true).
    assert!(o.stderr.is_empty() || !o.stderr.contains("error"), "{}", o.stderr);
    // No secret reached the terminal.
    for secret in [doc["accessToken"].as_str().unwrap(), doc["refreshToken"].as_str().unwrap()] {
        assert!(!o.stdout.contains(secret));
    }

    // A second login without a terminal reuses the token: no call to SSO-OIDC at all.
    let before = b.portal.requests().len();
    let mut c = b.cmd(TFAUTH);
    c.args(["auth", "login", "--provider", "acme-sso"]);
    let again = run(c);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.contains("Already signed in to `acme-sso`"), "{}", again.stderr);
    let oidc_calls = b.portal.requests()[before..]
        .iter()
        .filter(|r| ["RegisterClient", "StartDeviceAuthorization", "CreateToken"].contains(&r.op.as_str()))
        .count();
    assert_eq!(oidc_calls, 0);

    // --no-browser shows the URL but does not open it.
    let o = b.pty(&[TFAUTH, "auth", "login", "--provider", "acme-sso", "--force", "--no-browser"]);
    assert_eq!(o.code, 0, "terminal:\n{}", o.stdout);
    assert_eq!(b.opened().len(), 1, "the opener did not run again");
    assert_eq!(b.portal.count("StartDeviceAuthorization"), 2);
    assert_eq!(b.portal.count("RegisterClient"), 1, "the client registration is reused");
}

#[test]
fn sso_token_is_reused_then_refreshed_then_replaced_by_a_new_login_or_exit_77() {
    let b = SsoBed::new(PortalOpts { approve_after_polls: Some(0), slow_down_polls: 0, ..Default::default() }, "");
    b.login();
    let oidc = |b: &SsoBed| (b.portal.count("CreateToken"), b.portal.count("StartDeviceAuthorization"));
    let after_login = oidc(&b);

    // Reuse: credentials through the cached token, no SSO-OIDC call.
    let v = creds(&run(b.helper("prod/readonly")));
    assert_eq!(oidc(&b), after_login);
    let issued = b.portal.issued_key(v["AccessKeyId"].as_str().unwrap()).expect("issued by GetRoleCredentials");
    assert_eq!((issued.account.as_str(), issued.role.as_str()), ("222222222222", "ReadOnly"));

    // Expired access token: refreshed with the refresh token, no browser.
    b.age_token();
    creds(&run(b.helper("dev/admin")));
    let refreshes = b.portal.requests_for("CreateToken");
    assert_eq!(refreshes.len(), after_login.0 + 1);
    assert_eq!(refreshes.last().unwrap().params["grantType"], "refresh_token");
    assert_eq!(b.portal.count("StartDeviceAuthorization"), after_login.1);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.token_file().unwrap()).unwrap()).unwrap();
    assert_eq!(doc["accessToken"], b.portal.access_tokens().last().unwrap().as_str(), "the new token was saved");

    // A token the service revoked before its time: refreshed once, then used.
    b.portal.expire_access_tokens();
    creds(&run(b.helper("far/readonly")));
    assert_eq!(b.portal.count("CreateToken"), after_login.0 + 2);

    // Refresh token dead too: without a terminal, exit 77 at once with the login command.
    b.age_token();
    b.portal.expire_refresh_tokens();
    let started = Instant::now();
    // (A margin longer than the cached session's life, so the helper must go to the portal.)
    let mut c = b.helper("prod/readonly");
    c.env("TFAUTH_REFRESH_MARGIN", "2h");
    let o = run(c);
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(started.elapsed() < Duration::from_secs(20), "no waiting for input that cannot come");
    assert!(o.stdout.is_empty());
    assert!(o.stderr.contains("tfauth auth login --provider acme-sso"), "{}", o.stderr);
    assert_eq!(b.portal.count("StartDeviceAuthorization"), after_login.1);

    // With a terminal, the helper itself runs the device flow on /dev/tty, and stdout
    // still carries only the credentials.
    let out = b.bed.dir.path().join("helper.out");
    let script = format!(
        "TFAUTH_REFRESH_MARGIN=2h {} --identity prod/readonly --config {} > {}",
        HELPER,
        b.bed.repo().join("atmos.yaml").display(),
        out.display()
    );
    let o = b.pty_shell(&script);
    assert_eq!(o.code, 0, "terminal:\n{}", o.stdout);
    assert!(o.stdout.contains("Code: "), "the prompt went to the terminal:\n{}", o.stdout);
    assert_eq!(b.portal.count("StartDeviceAuthorization"), after_login.1 + 1);
    let printed = std::fs::read_to_string(&out).unwrap();
    let v: serde_json::Value = serde_json::from_str(printed.trim()).expect("only JSON on stdout");
    assert!(v["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
}

#[test]
fn sso_accounts_by_name_across_pages_and_auto_provisioned_identities() {
    let b = SsoBed::new(PortalOpts { approve_after_polls: Some(0), slow_down_polls: 0, ..Default::default() }, "");
    let o = b.login();
    assert!(
        o.stderr.contains("6 identities provisioned") || o.stdout.contains("6 identities provisioned"),
        "{}{}",
        o.stdout,
        o.stderr
    );
    // In Atmos's file and shape, so `atmos auth list` sees them too (issue 17.1), read back
    // here by an independent YAML parser.
    let file = b.bed.home().join(".cache/atmos/auth/acme-sso/provisioned-identities.yaml");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let py = "import sys, yaml, json; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))";
    let mut c = b.bed.cmd(venv_bin("python"));
    c.args(["-c", py]).arg(&file);
    let doc: serde_json::Value = serde_json::from_str(&run(c).stdout).expect("PyYAML reads it");
    let ids = doc["auth"]["identities"].as_object().unwrap();
    assert_eq!(ids.len(), 6);
    let far = &ids["acme-far/ReadOnly"];
    assert_eq!(far["kind"], "aws/permission-set");
    assert_eq!(far["via"]["provider"], "acme-sso");
    assert_eq!(
        far["principal"],
        serde_json::json!({"name": "ReadOnly", "account": {"id": "555555555555", "name": "acme-far"}})
    );
    assert_eq!(doc["auth"]["_metadata"]["provider"], "acme-sso");

    // acme-far is on the third page of ListAccounts.
    let before = b.portal.count("ListAccounts");
    let v = creds(&run(b.helper("far/readonly")));
    assert_eq!(b.portal.count("ListAccounts") - before, 3, "every page was read");
    let issued = b.portal.issued_key(v["AccessKeyId"].as_str().unwrap()).unwrap();
    assert_eq!((issued.account.as_str(), issued.role.as_str()), ("555555555555", "ReadOnly"));

    // An account name that is nowhere: exit 77 naming it, with the nearest names.
    std::fs::write(
        b.bed.repo().join("atmos.yaml"),
        atmos_yaml("    typo/readonly:\n      kind: aws/permission-set\n      via: {provider: acme-sso}\n      principal: {name: ReadOnly, account: {name: acme-fra}}\n"),
    )
    .unwrap();
    let o = run(b.helper("typo/readonly"));
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(o.stderr.contains("account `acme-fra`") && o.stderr.contains("did you mean `acme-far`"), "{}", o.stderr);

    // Auto-provisioned: every account × permission set, listed and usable by name.
    let mut c = b.cmd(TFAUTH);
    c.args(["auth", "list", "--identities", "-f", "json"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let list: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let names: Vec<&str> = list["identities"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    for n in [
        "acme-dev/AdministratorAccess",
        "acme-dev/ReadOnly",
        "acme-prod/ReadOnly",
        "acme-stage/ReadOnly",
        "acme-sandbox/PowerUser",
        "acme-far/ReadOnly",
    ] {
        assert!(names.contains(&n), "{n} is listed: {names:?}");
    }
    let v = creds(&run(b.helper("acme-sandbox/PowerUser")));
    let issued = b.portal.issued_key(v["AccessKeyId"].as_str().unwrap()).unwrap();
    assert_eq!((issued.account.as_str(), issued.role.as_str()), ("444444444444", "PowerUser"));
}

#[test]
fn sso_assume_root_from_a_permission_set_lasts_at_most_15_minutes() {
    let b = SsoBed::new(PortalOpts { approve_after_polls: Some(0), slow_down_polls: 0, ..Default::default() }, "");
    b.login();
    let v = creds(&run(b.helper("prod/root-audit")));
    let calls = b.portal.requests_for("AssumeRoot");
    assert_eq!(calls.len(), 1);
    let p = &calls[0].params;
    assert_eq!(p["TargetPrincipal"], "222222222222");
    assert_eq!(p["TaskPolicyArn.arn"], "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials");
    assert_eq!(p["DurationSeconds"], "900");
    // Signed with the permission set's credentials.
    let auth = calls[0].header("authorization").unwrap_or_default().to_string();
    let ps = b.portal.issued().into_iter().find(|i| i.op == "GetRoleCredentials").unwrap();
    assert!(auth.contains(&ps.access_key_id), "{auth}");
    let root = b.portal.issued_key(v["AccessKeyId"].as_str().unwrap()).unwrap();
    assert_eq!(root.op, "AssumeRoot");
    let exp =
        time::OffsetDateTime::parse(v["Expiration"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert!(exp - time::OffsetDateTime::now_utc() <= time::Duration::minutes(15));
}

#[test]
fn sso_whoami_against_moto_shows_the_assumed_role_and_logout_leaves_no_trace() {
    let b = SsoBed::new(PortalOpts { approve_after_polls: Some(0), slow_down_polls: 0, ..Default::default() }, "");
    b.login();
    let mut c = b.cmd(TFAUTH);
    c.args(["auth", "whoami", "-i", "dev/deployer", "-o", "json"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let who: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert!(who["arn"].as_str().unwrap().starts_with("arn:aws:sts::111111111111:assumed-role/Deployer/"), "{who}");
    assert_eq!(who["account"], "111111111111");
    assert_eq!(who["identity"], "dev/deployer");
    assert_eq!(who["provider"], "acme-sso");
    assert_eq!(b.moto.count("GetCallerIdentity"), 1);
    assert_eq!(b.moto.count("AssumeRole"), 1);

    // Sessions for two identities, and the isolated profile files for one of them.
    creds(&run(b.helper("prod/readonly")));
    let mut c = b.cmd(TFAUTH);
    c.args(["auth", "env", "--login", "-i", "dev/deployer"]);
    assert_eq!(run(c).code, 0);
    let cache = b.bed.home().join(".cache/tfauth/aws");
    let entries = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    let owners = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = entries(dir)
            .iter()
            .filter(|n| n.ends_with(".json"))
            .map(|n| {
                let doc: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(dir.join(n)).unwrap()).unwrap();
                doc["Identity"].as_str().unwrap().to_string()
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(owners(&cache), ["dev/deployer", "prod/readonly"]);

    // whoami never starts a login.
    b.age_token();
    b.portal.expire_refresh_tokens();
    let mut c = b.cmd(TFAUTH);
    c.env_remove("CI").args(["auth", "whoami", "-i", "far/readonly"]);
    let o = run(c);
    assert_eq!(o.code, 77, "{}", o.stderr);

    let mut c = b.cmd(TFAUTH);
    c.args(["auth", "logout", "dev/deployer"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(owners(&cache), ["prod/readonly"], "only dev/deployer's session went");
    let config_home = b.bed.home().join(".config/atmos");
    let profile_files: Vec<PathBuf> =
        b.bed.written().into_iter().filter(|p| p.starts_with(&config_home) && p.is_file()).collect();
    assert!(profile_files.is_empty(), "dev/deployer's profile files went: {profile_files:?}");
    assert!(b.token_file().is_some(), "the SSO session stays");

    // (A fresh login: the one above was aged and its refresh token killed.)
    b.login();
    let token = b.portal.access_tokens().last().unwrap().clone();
    let mut c = b.cmd(TFAUTH);
    c.args(["auth", "logout", "--provider", "acme-sso"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("IAM Identity Center token"), "{}", o.stderr);
    // The session was ended at the service too: a copy of the token no longer works.
    let logouts = b.portal.requests_for("Logout");
    assert_eq!(logouts.len(), 1);
    assert_eq!(logouts[0].header("x-amz-sso_bearer_token"), Some(token.as_str()));
    assert_eq!(logouts[0].status, 200);
    let remaining: Vec<PathBuf> = b.bed.written().into_iter().filter(|p| p.is_file()).collect();
    let leftovers: Vec<&PathBuf> = remaining.iter().filter(|p| p.extension().is_none_or(|e| e != "lock")).collect();
    assert!(leftovers.is_empty(), "logout --provider leaves nothing but lock files: {leftovers:?}");
}

#[test]
fn sso_storm_of_50_helpers_makes_one_device_authorization() {
    let b = SsoBed::new(PortalOpts { approve_after_polls: Some(3), slow_down_polls: 0, ..Default::default() }, "");
    b.login();
    b.age_token();
    b.portal.expire_refresh_tokens();
    let before = b.portal.count("StartDeviceAuthorization");

    // Without a terminal: every helper ends at once with 77, none starts a login.
    let out = b.bed.dir.path().join("storm");
    std::fs::create_dir_all(&out).unwrap();
    let ids = ["dev/admin", "prod/readonly", "far/readonly", "dev/deployer", "acme-dev/ReadOnly"];
    let spawn_all = |tag: &str| -> String {
        let mut s = String::new();
        for i in 0..50 {
            s.push_str(&format!(
                "({HELPER} --identity {} --config {} > {dir}/{tag}{i}.out 2> {dir}/{tag}{i}.err; echo $? > {dir}/{tag}{i}.code) &\n",
                ids[i % ids.len()],
                b.bed.repo().join("atmos.yaml").display(),
                dir = out.display()
            ));
        }
        s.push_str("wait\n");
        s
    };
    let started = Instant::now();
    let mut c = b.cmd("sh");
    c.args(["-c", &spawn_all("ci")]);
    assert_eq!(run(c).code, 0);
    assert!(started.elapsed() < Duration::from_secs(60), "no helper hung");
    for i in 0..50 {
        let code = std::fs::read_to_string(out.join(format!("ci{i}.code"))).unwrap();
        assert_eq!(
            code.trim(),
            "77",
            "helper {i}: {}",
            std::fs::read_to_string(out.join(format!("ci{i}.err"))).unwrap()
        );
    }
    assert_eq!(b.portal.count("StartDeviceAuthorization"), before);

    // On a terminal: one device authorization for all fifty, across five identities.
    let script_path = b.bed.dir.path().join("storm.sh");
    std::fs::write(&script_path, spawn_all("tty")).unwrap();
    let started = Instant::now();
    let o = b.pty_shell(&format!("sh {}", script_path.display()));
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(started.elapsed() < Duration::from_secs(120), "no helper hung");
    assert_eq!(b.portal.count("StartDeviceAuthorization"), before + 1, "one device flow for fifty helpers");
    let mut keys = std::collections::BTreeSet::new();
    for i in 0..50 {
        let code = std::fs::read_to_string(out.join(format!("tty{i}.code"))).unwrap();
        assert_eq!(
            code.trim(),
            "0",
            "helper {i}: {}",
            std::fs::read_to_string(out.join(format!("tty{i}.err"))).unwrap()
        );
        let v: serde_json::Value =
            serde_json::from_str(std::fs::read_to_string(out.join(format!("tty{i}.out"))).unwrap().trim()).unwrap();
        keys.insert(v["AccessKeyId"].as_str().unwrap().to_string());
    }
    assert_eq!(keys.len(), ids.len(), "one session per identity, shared by its helpers");
}

/// Issue 16, point 10: `keyring: memory` ends with the process; the portal token must not,
/// or every `credential_process` call would need a sign-in of its own. As in Atmos, it is
/// kept in the cache file whatever the keyring.
#[test]
fn sso_memory_keyring_a_second_process_after_login_needs_no_new_device_flow() {
    let b = SsoBed::new(
        PortalOpts { approve_after_polls: Some(0), slow_down_polls: 0, ..Default::default() },
        "  keyring: {type: memory}\n",
    );
    b.login();
    assert_eq!(b.portal.count("StartDeviceAuthorization"), 1);
    assert!(b.token_file().is_some(), "the token is in the cache file, not only in the login's memory");

    // Other processes, without a terminal: the helper and `auth login` find the token.
    let v = creds(&run(b.helper("prod/readonly")));
    let issued = b.portal.issued_key(v["AccessKeyId"].as_str().unwrap()).expect("issued by GetRoleCredentials");
    assert_eq!((issued.account.as_str(), issued.role.as_str()), ("222222222222", "ReadOnly"));
    creds(&run(b.helper("dev/admin")));
    let mut c = b.cmd(TFAUTH);
    c.args(["auth", "login", "--provider", "acme-sso"]);
    let again = run(c);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.contains("Already signed in to `acme-sso`"), "{}", again.stderr);
    // And with a terminal to ask on, a helper still asks nothing.
    let o =
        b.pty(&[HELPER, "--identity", "far/readonly", "--config", b.bed.repo().join("atmos.yaml").to_str().unwrap()]);
    assert_eq!(o.code, 0, "terminal:\n{}", o.stdout);
    assert!(!o.stdout.contains("Code: "), "no sign-in was shown:\n{}", o.stdout);
    assert_eq!(b.portal.count("StartDeviceAuthorization"), 1, "one device authorization for every process");
}

#[test]
fn sso_plan_hands_terraform_a_profile_whose_helper_serves_the_permission_set_chain() {
    let b = SsoBed::new(PortalOpts { approve_after_polls: Some(0), slow_down_polls: 0, ..Default::default() }, "");
    b.login();
    let bin = b.bed.dir.path().join("bin");
    standin_terraform(&bin);
    let rec = b.bed.dir.path().join("record.json");
    let mut c = b.cmd(TFAUTH);
    c.env("RECORD", &rec).env("STANDIN_STS", b.portal.url()).args([
        "plan",
        "vpc",
        "-s",
        "plat-use2-dev",
        "-i",
        "dev/deployer",
        "--skip-init",
    ]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&rec).unwrap()).unwrap();
    assert_eq!(r["env"]["AWS_PROFILE"], "dev/deployer");
    // boto3 inside "terraform" ran the helper from the profile and got the chain's role.
    let arn = r["arn"].as_str().unwrap_or_else(|| panic!("{r}"));
    assert!(arn.starts_with("arn:aws:sts::111111111111:assumed-role/Deployer/"), "{arn}");
    assert_eq!(b.portal.count("StartDeviceAuthorization"), 1, "the run reused the login");
}

#[test]
fn sso_a_login_denied_in_the_browser_fails_every_waiting_helper_without_a_second_prompt() {
    let b = SsoBed::new(PortalOpts { approve_after_polls: None, slow_down_polls: 0, ..Default::default() }, "");
    let out = b.bed.dir.path().join("denied");
    std::fs::create_dir_all(&out).unwrap();
    let mut script = String::new();
    for i in 0..6 {
        script.push_str(&format!(
            "({HELPER} --identity {} --config {} > {dir}/{i}.out 2> {dir}/{i}.err; echo $? > {dir}/{i}.code) &\n",
            ["dev/admin", "prod/readonly"][i % 2],
            b.bed.repo().join("atmos.yaml").display(),
            dir = out.display()
        ));
    }
    script.push_str("wait\n");
    let path = b.bed.dir.path().join("denied.sh");
    std::fs::write(&path, script).unwrap();
    let started = Instant::now();
    let o = std::thread::scope(|s| {
        let run = s.spawn(|| b.pty_shell(&format!("sh {}", path.display())));
        while b.portal.pending_user_codes().is_empty() {
            assert!(started.elapsed() < Duration::from_secs(60), "no device flow started");
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(b.portal.deny(), 1);
        run.join().unwrap()
    });
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(started.elapsed() < Duration::from_secs(60), "nobody waited for a second login");
    assert_eq!(b.portal.count("StartDeviceAuthorization"), 1, "the denial was everyone's answer");
    for i in 0..6 {
        let code = std::fs::read_to_string(out.join(format!("{i}.code"))).unwrap();
        let err = std::fs::read_to_string(out.join(format!("{i}.err"))).unwrap();
        assert_eq!(code.trim(), "77", "helper {i}: {err}");
        assert!(err.contains("tfauth auth login --provider acme-sso"), "helper {i}: {err}");
        assert!(std::fs::read_to_string(out.join(format!("{i}.out"))).unwrap().is_empty());
    }
}

/// The SDK refuses a custom endpoint beside `AWS_USE_FIPS_ENDPOINT` or
/// `AWS_USE_DUALSTACK_ENDPOINT`; tfauth always hands it the URL it chose, so a user who
/// sets them for other tools still signs in and gets a permission set.
#[test]
fn sso_fips_and_dual_stack_switches_in_the_environment_do_not_break_a_login() {
    let mut b = SsoBed::new(PortalOpts { approve_after_polls: Some(0), slow_down_polls: 0, ..Default::default() }, "");
    b.env = vec![("AWS_USE_FIPS_ENDPOINT".into(), "true".into()), ("AWS_USE_DUALSTACK_ENDPOINT".into(), "true".into())];
    b.login();
    // By name: every ListAccounts page, then GetRoleCredentials.
    let v = creds(&run(b.helper("far/readonly")));
    let key = v["AccessKeyId"].as_str().unwrap_or_default();
    assert_eq!(b.portal.issued_key(key).map(|i| i.role), Some("ReadOnly".to_string()), "{v}");
}

/// Issue 17, point 1: one sign-in for Atmos, the AWS CLI and tfauth. tfauth keeps the
/// portal's token in Atmos's session file, in the SDK's shape; a token Atmos left there (in
/// Go's own time format) and one the AWS CLI left in its cache each serve a run with no
/// new sign-in, and the AWS CLI's file is only read.
#[test]
fn sso_a_token_atmos_or_the_aws_cli_left_serves_a_run_without_a_new_sign_in() {
    use sha1::Digest as _;
    use std::os::unix::fs::PermissionsExt as _;
    let b = SsoBed::new(PortalOpts { approve_after_polls: Some(0), slow_down_polls: 0, ..Default::default() }, "");
    b.login();
    let sessions = b.bed.home().join(".cache/atmos/aws-sso/sessions");
    let hex = |s: &str| -> String { sha1::Sha1::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect() };
    let atmos_file = sessions.join(format!("{}.json", hex(&format!("{START_URL}|us-east-1"))));
    assert_eq!(b.token_file(), Some(atmos_file.clone()), "Atmos's name for the session");
    assert_eq!(std::fs::metadata(&atmos_file).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&sessions).unwrap().permissions().mode() & 0o777, 0o700);
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&atmos_file).unwrap()).unwrap();
    for key in [
        "accessToken",
        "expiresAt",
        "region",
        "startUrl",
        "refreshToken",
        "clientId",
        "clientSecret",
        "registrationExpiresAt",
    ] {
        assert!(doc.get(key).is_some(), "the SDK's ssocreds key {key} is missing: {doc}");
    }
    assert_eq!((doc["startUrl"].as_str(), doc["region"].as_str()), (Some(START_URL), Some("us-east-1")));
    let token = doc["accessToken"].as_str().unwrap().to_string();
    let counts = |b: &SsoBed| (b.portal.count("StartDeviceAuthorization"), b.portal.count("CreateToken"));
    let after_login = counts(&b);
    let forget_sessions = |b: &SsoBed| {
        let _ = std::fs::remove_dir_all(b.bed.home().join(".cache/tfauth/aws"));
    };

    // As Atmos writes it: Go's time.Time with nanoseconds and a zone offset, a zero time for
    // the registration, no refresh token.
    let later = time::OffsetDateTime::now_utc() + time::Duration::hours(4);
    let go_time = later.to_offset(time::UtcOffset::from_hms(-5, 0, 0).unwrap());
    let go_time = go_time.format(&time::format_description::well_known::Rfc3339).unwrap();
    let atmos_doc = serde_json::json!({
        "accessToken": token, "expiresAt": go_time, "region": "us-east-1", "startUrl": START_URL,
        "registrationExpiresAt": "0001-01-01T00:00:00Z",
    });
    std::fs::write(&atmos_file, atmos_doc.to_string()).unwrap();
    forget_sessions(&b);
    creds(&run(b.helper("dev/admin")));
    assert_eq!(counts(&b), after_login, "Atmos's token served the run: no sign-in, no refresh");

    // As the AWS CLI leaves it (`aws sso login` with a legacy profile): its cache only.
    std::fs::remove_file(&atmos_file).unwrap();
    let cli = b.bed.home().join(".aws/sso/cache");
    std::fs::create_dir_all(&cli).unwrap();
    std::fs::set_permissions(&cli, std::fs::Permissions::from_mode(0o700)).unwrap();
    let cli_file = cli.join(format!("{}.json", hex(START_URL)));
    let utc = later.replace_nanosecond(0).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap();
    let cli_doc = serde_json::json!({
        "startUrl": START_URL, "region": "us-east-1", "accessToken": token,
        "expiresAt": format!("{}UTC", utc.trim_end_matches('Z')),
    })
    .to_string();
    std::fs::write(&cli_file, &cli_doc).unwrap();
    std::fs::set_permissions(&cli_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    forget_sessions(&b);
    let v = creds(&run(b.helper("prod/readonly")));
    assert!(b.portal.issued_key(v["AccessKeyId"].as_str().unwrap()).is_some());
    assert_eq!(counts(&b), after_login, "the AWS CLI's token served the run");
    assert!(!atmos_file.exists(), "a token only read is not copied");
    assert_eq!(std::fs::read_to_string(&cli_file).unwrap(), cli_doc, "and the AWS CLI's file is untouched");
}

/// `auth env` signs in to nothing without --login, as Atmos's does: under a terminal, with
/// no token cached, it starts no device authorization (the stand-in counts them), prints the
/// variables and says no session is cached; with --login it signs in once, and afterwards
/// `auth env` alone is quiet and calls nothing, and the variables it printed serve the AWS
/// CLI through the helper without a new sign-in.
#[test]
fn auth_env_signs_in_only_with_login() {
    let b = SsoBed::new(approving_portal(), "");
    let o = b.pty(&[TFAUTH, "auth", "env", "-i", "dev/admin"]);
    assert_eq!(o.code, 0, "terminal:\n{}", o.stdout);
    assert_eq!(b.portal.count("StartDeviceAuthorization"), 0, "{:?}", b.portal.requests());
    assert_eq!(b.portal.count("RegisterClient"), 0);
    assert!(b.token_file().is_none(), "nothing was signed in");
    assert!(b.opened().is_empty(), "no browser was opened");
    assert!(o.stdout.contains("export AWS_PROFILE=dev/admin"), "terminal:\n{}", o.stdout);
    assert!(o.stdout.contains("no valid session of `dev/admin` is cached"), "terminal:\n{}", o.stdout);
    assert!(o.stdout.contains("hint: add --login"), "terminal:\n{}", o.stdout);

    let o = b.pty(&[TFAUTH, "auth", "env", "-i", "dev/admin", "--login"]);
    assert_eq!(o.code, 0, "terminal:\n{}", o.stdout);
    assert_eq!(b.portal.count("StartDeviceAuthorization"), 1, "--login signs in");
    assert!(b.token_file().is_some());
    assert!(o.stdout.contains("export AWS_PROFILE=dev/admin"), "terminal:\n{}", o.stdout);
    assert!(!o.stdout.contains("no valid session"), "terminal:\n{}", o.stdout);

    // Cached now: no warning and no request at all, and the variables work.
    let before = b.portal.requests().len();
    let mut c = b.cmd(TFAUTH);
    c.args(["auth", "env", "-i", "dev/admin"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.is_empty(), "{}", o.stderr);
    assert_eq!(b.portal.requests().len(), before, "served from the cache");
    let script =
        format!("{}\n{} sts get-caller-identity --query Arn --output text", o.stdout, venv().join("bin/aws").display());
    let mut sh = b.cmd("bash");
    sh.args(["-c", &script]);
    let who = run(sh);
    assert_eq!(who.code, 0, "{}", who.stderr);
    assert!(who.stdout.starts_with("arn:aws:"), "{}", who.stdout);
    assert_eq!(b.portal.count("StartDeviceAuthorization"), 1, "no second sign-in");
    assert_eq!(b.portal.count("GetRoleCredentials"), 1, "the helper served the session --login cached");
}
