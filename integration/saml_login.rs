//! `aws/saml` sign-ins against the SAML bed (`saml_standin.rs`): Okta without MFA, with a
//! TOTP code typed at the terminal, with a push approved after polls and one denied; ADFS's
//! forms sign-in; a wrong password (exit 77, one IdP call); three roles where the one the
//! identity names is chosen; a chain SAML → assume-role → assume-role reaching a stand-in
//! terraform; and 30 helpers with no session making one IdP sign-in.
//!
//! STS is moto, or the bed's STS front over moto where the assertion has several roles or
//! the chain goes on (see integration/README.md, "The SAML bed").

use crate::saml_standin::*;
use crate::support::*;
use std::path::Path;
use std::process::{Command, Stdio};

const CHAIN_HOP1: &str = "arn:aws:iam::123456789012:role/saml-hop1";
const CHAIN_HOP2: &str = "arn:aws:iam::333333333333:role/saml-leaf";

struct SamlBed {
    bed: Bed,
    idp: SamlIdp,
    moto: Moto,
    sts: String,
    user: String,
}

impl SamlBed {
    /// The bed for `user`; `front`: STS through the IdP's STS front (several roles, chains).
    fn new(user: &str, front: bool) -> SamlBed {
        let moto = Moto::start();
        let idp = if front { SamlIdp::start_with_sts(&moto) } else { SamlIdp::start_default() };
        let sts = if front { idp.sts_url() } else { moto.url() };
        let bed = Bed::new();
        for gone in ["profiles", "stacks"] {
            std::fs::remove_dir_all(bed.repo().join(gone)).unwrap();
        }
        std::fs::create_dir(bed.repo().join("stacks")).unwrap();
        std::fs::write(
            bed.repo().join("stacks/dev.yaml"),
            "vars: {stage: dev, region: us-east-1}\ncomponents: {terraform: {dns: {vars: {zone: dev.example}}}}\n",
        )
        .unwrap();
        let yaml = format!(
            r#"base_path: "."
components: {{terraform: {{base_path: components/terraform}}}}
stacks: {{base_path: stacks, included_paths: ["*.yaml"], name_pattern: "{{stage}}"}}
auth:
  providers:
    okta:
      kind: aws/saml
      driver: Okta
      region: us-east-1
      url: {okta}
      username: !env SAML_USER
      password: !env SAML_PASSWORD
    adfs:
      kind: aws/saml
      driver: ADFS
      region: us-east-1
      url: "{adfs}"
      username: !env SAML_USER
      password: !env SAML_PASSWORD
  identities:
    okta/admin:
      kind: aws/assume-role
      default: true
      via: {{provider: okta}}
      principal: {{assume_role: "{ADMIN_ROLE}"}}
    okta/read:
      kind: aws/assume-role
      via: {{provider: okta}}
      principal: {{assume_role: "{READ_ROLE}"}}
    okta/dev:
      kind: aws/assume-role
      via: {{provider: okta}}
      principal: {{assume_role: "{DEV_ROLE}"}}
    okta/hop1:
      kind: aws/assume-role
      via: {{identity: okta/admin}}
      principal: {{assume_role: "{CHAIN_HOP1}"}}
    okta/leaf:
      kind: aws/assume-role
      via: {{identity: okta/hop1}}
      principal: {{assume_role: "{CHAIN_HOP2}"}}
    adfs/admin:
      kind: aws/assume-role
      via: {{provider: adfs}}
      principal: {{assume_role: "{ADMIN_ROLE}"}}
"#,
            okta = idp.okta_app_url(&idp.url()),
            adfs = idp.adfs_url(&idp.url()),
        );
        std::fs::write(bed.repo().join("atmos.yaml"), yaml).unwrap();
        SamlBed { bed, idp, moto, sts, user: user.to_string() }
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = self.bed.cmd(program);
        c.env("AWS_ENDPOINT_URL_STS", &self.sts)
            .env("SAML_USER", &self.user)
            .env("SAML_PASSWORD", PASSWORD)
            .env("ATMOS_KEYRING_TYPE", "memory")
            .stdin(Stdio::null());
        c
    }

    fn helper(&self, identity: &str) -> Command {
        let mut c = self.cmd(HELPER);
        c.args(["--identity", identity, "--config"]).arg(self.bed.repo().join("atmos.yaml"));
        c
    }

    /// `inner` (a shell line) under a pseudo-terminal, `typed` written to it: the screen
    /// and the exit code.
    fn pty(&self, inner: &str, typed: &str) -> (i32, String) {
        self.pty_after(inner, typed, std::time::Duration::ZERO)
    }

    /// [`Self::pty`], typing only after `delay` (once the prompt has turned echo off: what
    /// is typed before that, the terminal echoes whatever the program does).
    fn pty_after(&self, inner: &str, typed: &str, delay: std::time::Duration) -> (i32, String) {
        let mut c = self.cmd("script");
        c.env_remove("CI")
            .args(["-qec", inner, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        std::thread::sleep(delay);
        child.stdin.take().unwrap().write_all(typed.as_bytes()).unwrap();
        let o = child.wait_with_output().unwrap();
        (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// Who STS says the helper's credentials for `identity` are (GetCallerIdentity with boto3).
    fn arn_of(&self, creds: &serde_json::Value) -> String {
        caller_arn(creds, &self.sts)
    }
}

fn creds(o: &Out) -> serde_json::Value {
    assert_eq!(o.code, 0, "helper failed:\nstdout: {}\nstderr: {}", o.stdout, o.stderr);
    let v: serde_json::Value = serde_json::from_str(o.stdout.trim()).expect("one JSON document on stdout");
    assert_eq!(v["Version"], 1);
    v
}

fn caller_arn(creds: &serde_json::Value, sts: &str) -> String {
    let py = format!(
        "import boto3; print(boto3.client('sts', endpoint_url='{sts}', region_name='us-east-1', aws_access_key_id='{}', aws_secret_access_key='{}', aws_session_token='{}').get_caller_identity()['Arn'])",
        creds["AccessKeyId"].as_str().unwrap(),
        creds["SecretAccessKey"].as_str().unwrap(),
        creds["SessionToken"].as_str().unwrap()
    );
    let mut c = Command::new(venv_bin("python"));
    c.env_clear().env("PATH", "/usr/bin:/bin").args(["-c", &py]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    o.stdout.trim().to_string()
}

fn no_secret_in(text: &str, bed: &SamlBed) {
    assert!(!text.contains(PASSWORD), "the password leaked:\n{text}");
    for issued in bed.idp.issued() {
        let r = issued["saml_response"].as_str().or(issued["SAMLResponse"].as_str()).unwrap_or("");
        if r.len() > 40 {
            assert!(!text.contains(&r[..40]), "the assertion leaked:\n{text}");
        }
    }
}

fn files_are_private(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for e in walkdir(dir) {
        let m = std::fs::metadata(&e).unwrap();
        if m.is_file() {
            assert_eq!(m.permissions().mode() & 0o077, 0, "{} is readable by others", e.display());
        }
    }
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walkdir(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn saml_okta_without_mfa_serves_the_helper_then_the_cache() {
    let b = SamlBed::new("plain@acme.example", false);
    let mut h = b.helper("okta/admin");
    h.env("ATMOS_LOGS_LEVEL", "Trace");
    let o = run(h);
    let c = creds(&o);
    assert!(o.stderr.contains("signing in at the IdP"), "traced: {}", o.stderr);
    let arn = b.arn_of(&c);
    assert!(arn.starts_with("arn:aws:sts::123456789012:assumed-role/saml-admin/"), "{arn}");
    assert_eq!(b.idp.count("OktaAuthn"), 1);
    assert_eq!(b.idp.count("OktaAppSso"), 1);
    assert_eq!(b.moto.count("AssumeRoleWithSAML"), 1);
    // Atmos's walk: the first identity assumes its role with the SAML session.
    assert_eq!(b.moto.count("AssumeRole"), 1);
    // What STS got is the assertion the IdP issued.
    let sent = b.moto.requests("AssumeRoleWithSAML");
    let issued = b.idp.issued();
    assert_eq!(issued.len(), 1);
    let issued_text = issued[0].to_string();
    assert!(issued_text.contains(sent[0]["SAMLAssertion"].as_str().unwrap()), "STS got another assertion");
    assert_eq!(sent[0]["RoleArn"], ADMIN_ROLE);
    assert_eq!(sent[0]["PrincipalArn"], PROVIDER_111);
    no_secret_in(&o.stderr, &b);
    // Nor Okta's one-time session token (the bed does not show it: no URL with its query,
    // no answer body, is traced).
    assert!(!o.stderr.contains("onetimetoken") && !o.stderr.contains("sessionToken"), "{}", o.stderr);
    // A second helper: the cache, no IdP call.
    let again = creds(&run(b.helper("okta/admin")));
    assert_eq!(again["AccessKeyId"], c["AccessKeyId"]);
    assert_eq!(b.idp.count("OktaAuthn"), 1);
    files_are_private(&b.bed.home());
}

#[test]
fn saml_okta_wrong_password_is_77_after_one_authn_call_even_for_a_storm() {
    let b = SamlBed::new("plain@acme.example", false);
    let mut c = b.helper("okta/admin");
    c.env("SAML_PASSWORD", "wrong password canary");
    let o = run(c);
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(
        o.stderr.contains("Okta refused the user name and password of user `plain@acme.example` (E0000004"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("hint: check `username` and `password` of provider `okta`"), "{}", o.stderr);
    assert!(!o.stderr.contains("wrong password canary"));
    assert_eq!(b.idp.count("OktaAuthn"), 1, "no retry");
    // Ten more helpers at once, moments later: the remembered answer, no IdP call.
    let kids: Vec<_> = (0..10)
        .map(|_| {
            let mut c = b.helper("okta/admin");
            c.env("SAML_PASSWORD", "wrong password canary").stdout(Stdio::piped()).stderr(Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    for k in kids {
        let o = k.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(77), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(b.idp.count("OktaAuthn"), 1, "a storm with a wrong password is one IdP call");
    assert_eq!(b.moto.count("AssumeRoleWithSAML"), 0);

    // Twenty started together on a fresh bed: one of them asks Okta, the others wait for
    // its answer under the lock and share it.
    let f = SamlBed::new("plain@acme.example", false);
    let kids: Vec<_> = (0..20)
        .map(|_| {
            let mut c = f.helper("okta/admin");
            c.env("SAML_PASSWORD", "wrong password canary").stdout(Stdio::piped()).stderr(Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    for k in kids {
        let o = k.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(77), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(f.idp.count("OktaAuthn"), 1, "twenty helpers with a wrong password: one IdP call");
}

/// Sleeps past a TOTP step boundary when it is near, so the code typed is still current.
fn fresh_totp_window() {
    let s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() % 30;
    if s > 22 {
        std::thread::sleep(std::time::Duration::from_secs(31 - s));
    }
}

#[test]
fn saml_okta_totp_is_typed_at_the_terminal() {
    let b = SamlBed::new("mfa@acme.example", true);
    let out = b.bed.dir.path().join("creds.json");
    fresh_totp_window();
    let code = b.idp.totp("mfa@acme.example");
    let inner = format!(
        "{HELPER} --identity okta/dev --config {} > {}",
        b.bed.repo().join("atmos.yaml").display(),
        out.display()
    );
    let (rc, screen) = b.pty(&inner, &format!("1\n{code}\n"));
    assert_eq!(rc, 0, "{screen}");
    assert!(screen.contains("Okta asks user `mfa@acme.example` for a second factor:"), "{screen}");
    assert!(screen.contains("Okta MFA code: "), "{screen}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).expect("only JSON on stdout");
    // DEV_ROLE is in account 222222222222: moto's GetCallerIdentity cannot name it (README).
    assert!(doc["SessionToken"].as_str().is_some());
    assert_eq!(b.idp.count("OktaVerifyTotp"), 1);
    assert_eq!(b.idp.count("OktaVerifyPush"), 0);
    assert_eq!(b.idp.count("StsAssumeRoleWithSAML"), 1);
    no_secret_in(&screen, &b);
}

#[test]
fn saml_okta_push_approved_after_polls_then_denied() {
    let b = SamlBed::new("mfa@acme.example", true);
    let out = b.bed.dir.path().join("creds.json");
    let inner = format!(
        "{HELPER} --identity okta/dev --config {} > {}",
        b.bed.repo().join("atmos.yaml").display(),
        out.display()
    );
    let (rc, screen) = b.pty(&inner, "2\n");
    assert_eq!(rc, 0, "{screen}");
    assert!(screen.contains("Approve the Okta Verify push on your phone... 4:5"), "a countdown: {screen}");
    // Two waiting polls, then SUCCESS: three verify calls.
    assert_eq!(b.idp.count("OktaVerifyPush"), 3);
    assert_eq!(b.idp.count("StsAssumeRoleWithSAML"), 1);

    let d = SamlBed::new("denied@acme.example", false);
    let inner = format!("{HELPER} --identity okta/admin --config {}", d.bed.repo().join("atmos.yaml").display());
    let (rc, screen) = d.pty(&inner, "");
    assert_eq!(rc, 77, "{screen}");
    assert!(screen.contains("the Okta Verify push to user `denied@acme.example` was denied"), "{screen}");
    assert_eq!(d.idp.count("OktaVerifyPush"), 2);
    assert_eq!(d.moto.count("AssumeRoleWithSAML"), 0);
}

#[test]
fn saml_login_asks_the_password_with_echo_off_then_helpers_use_the_session() {
    let b = SamlBed::new("plain@acme.example", false);
    // OKTA's password variable is not set: asked on the terminal, as Atmos asks.
    let inner = format!("env -u SAML_PASSWORD {TFAUTH} auth login --identity okta/admin");
    let (rc, screen) = b.pty_after(&inner, &format!("{PASSWORD}\n"), std::time::Duration::from_secs(3));
    assert_eq!(rc, 0, "{screen}");
    assert!(screen.contains("Password for plain@acme.example at okta (not shown): "), "{screen}");
    assert!(!screen.contains(PASSWORD), "the password was echoed:\n{screen}");
    assert!(screen.contains("Logged in as `okta/admin`"), "{screen}");
    let mut h = b.helper("okta/admin");
    h.env_remove("SAML_PASSWORD");
    let c = creds(&run(h));
    assert!(b.arn_of(&c).starts_with("arn:aws:sts::123456789012:assumed-role/saml-admin/"));
    assert_eq!(b.idp.count("OktaAuthn"), 1, "the helper used the session the login cached");
}

#[test]
fn saml_okta_mfa_without_a_terminal_is_77_with_the_login_command() {
    let b = SamlBed::new("mfa@acme.example", true);
    let o = run(b.helper("okta/dev"));
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(o.stderr.contains("needs an MFA factor (Okta asks for one), and there is no terminal"), "{}", o.stderr);
    assert!(o.stderr.contains("tfauth auth login --identity okta/dev"), "{}", o.stderr);
}

#[test]
fn saml_adfs_forms_sign_in_with_its_cookie() {
    let b = SamlBed::new("plain@acme.example", false);
    let o = run(b.helper("adfs/admin"));
    let c = creds(&o);
    assert!(b.arn_of(&c).starts_with("arn:aws:sts::123456789012:assumed-role/saml-admin/"));
    assert_eq!(b.idp.count("AdfsSignOnPage"), 1);
    assert_eq!(b.idp.count("AdfsSignOnPost"), 1);
    assert_eq!(b.idp.count("AdfsSamlForm"), 1);
    no_secret_in(&o.stderr, &b);

    let w = SamlBed::new("plain@acme.example", false);
    let mut c = w.helper("adfs/admin");
    c.env("SAML_PASSWORD", "nope");
    let o = run(c);
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(
        o.stderr.contains("ADFS refused the sign-in of user `plain@acme.example`: Incorrect user ID or password"),
        "{}",
        o.stderr
    );
    assert_eq!(w.idp.count("AdfsSignOnPost"), 1);
}

#[test]
fn saml_password_stored_in_the_file_keyring_signs_in_helpers_without_a_terminal_until_logout_keychain() {
    let b = SamlBed::new("plain@acme.example", false);
    // Atmos's file keyring, its password in the environment; SAML_PASSWORD is unset, so the
    // provider's `password: !env SAML_PASSWORD` is empty.
    let with_ring = |mut c: Command| {
        c.env("ATMOS_KEYRING_TYPE", "file")
            .env("ATMOS_KEYRING_PASSWORD", "keyring-pass-123")
            .env_remove("SAML_PASSWORD");
        c
    };
    let before = run(with_ring(b.helper("adfs/admin")));
    assert_eq!(before.code, 77, "{}", before.stderr);
    assert!(before.stderr.contains("needs a password, and there is no terminal"), "{}", before.stderr);
    assert_eq!(b.idp.count("AdfsSignOnPost"), 0);

    // Stored from stdin (the provider has a `username`, so one line: the password).
    let mut c = with_ring(b.cmd(TFAUTH));
    c.args(["auth", "user", "configure", "-i", "adfs/admin"]);
    let o = run_with_stdin(c, &format!("{PASSWORD}\n"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("Stored the password of `plain@acme.example` at provider `adfs` in the file keyring"),
        "{}",
        o.stderr
    );
    no_secret_in(&o.stderr, &b);
    let ring = b.bed.home().join(".local/share/atmos/keyring");
    files_are_private(&ring);
    for f in walkdir(&ring) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(PASSWORD), "{} holds the password in the clear", f.display());
    }

    // A helper with no terminal signs in with it.
    let o = run(with_ring(b.helper("adfs/admin")));
    let c = creds(&o);
    assert!(b.arn_of(&c).starts_with("arn:aws:sts::123456789012:assumed-role/saml-admin/"));
    assert_eq!(b.idp.count("AdfsSignOnPost"), 1);
    no_secret_in(&o.stderr, &b);

    // A stored password the IdP refuses: one try, and the hint says how to store the right one.
    let mut c = with_ring(b.cmd(TFAUTH));
    c.args(["auth", "user", "configure", "-i", "adfs/admin"]);
    assert_eq!(run_with_stdin(c, "not-the-password\n").code, 0);
    let mut c = with_ring(b.cmd(TFAUTH));
    c.args(["auth", "logout", "adfs/admin"]);
    assert_eq!(run(c).code, 0);
    let o = run(with_ring(b.helper("adfs/admin")));
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(o.stderr.contains("the password stored in the file keyring"), "{}", o.stderr);
    assert!(o.stderr.contains("tfauth auth user configure --identity adfs/admin"), "{}", o.stderr);
    assert_eq!(b.idp.count("AdfsSignOnPost"), 2, "one IdP call for the refused password");

    // `logout --provider adfs --keychain --force` deletes it: the next helper needs a terminal again.
    let mut c = with_ring(b.cmd(TFAUTH));
    c.args(["auth", "logout", "--provider", "adfs", "--keychain", "--force"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("removed the stored SAML password of `adfs` (file keyring"), "{}", o.stderr);
    let o = run(with_ring(b.helper("adfs/admin")));
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(o.stderr.contains("needs a password, and there is no terminal"), "{}", o.stderr);
}

#[test]
fn saml_three_roles_the_configured_one_is_chosen() {
    let b = SamlBed::new("three@acme.example", true);
    let c = creds(&run(b.helper("okta/read")));
    let arn = b.arn_of(&c);
    assert!(arn.starts_with("arn:aws:sts::123456789012:assumed-role/saml-read/"), "{arn}");
    let sent: Vec<_> = b.idp.log().into_iter().filter(|l| l.to_string().contains("AssumeRoleWithSAML")).collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    // The assertion's SessionDuration (7200) is asked for, the session no longer than it.
    let exp =
        time::OffsetDateTime::parse(c["Expiration"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
            .unwrap();
    let left = (exp - time::OffsetDateTime::now_utc()).whole_seconds();
    assert!(left <= 3600 + 60, "the first hop's AssumeRole decides the leaf's length: {left}");
    // A role the assertion does not offer: 77, naming the roles offered.
    let mut yaml = std::fs::read_to_string(b.bed.repo().join("atmos.yaml")).unwrap();
    yaml = yaml.replace(READ_ROLE, "arn:aws:iam::123456789012:role/not-offered");
    std::fs::write(b.bed.repo().join("atmos.yaml"), yaml).unwrap();
    let o = run(b.helper("okta/read"));
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(o.stderr.contains(&format!("it offers: {ADMIN_ROLE}, {READ_ROLE}, {DEV_ROLE}")), "{}", o.stderr);
}

#[test]
fn saml_chain_to_a_stand_in_terraform_whose_boto3_sees_the_leaf_role() {
    let b = SamlBed::new("plain@acme.example", true);
    let bin = b.bed.dir.path().join("bin");
    standin_terraform(&bin);
    let record = b.bed.dir.path().join("record.json");
    let mut c = b.cmd(TFAUTH);
    c.env("PATH", format!("{}:{}:/usr/bin:/bin", bin.display(), venv().join("bin").display()))
        .env("RECORD", &record)
        .env("STANDIN_STS", &b.sts)
        .args(["plan", "dns", "-s", "dev", "--identity", "okta/leaf"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    let arn = r["arn"].as_str().unwrap_or_else(|| panic!("boto3 failed: {}", r["error"]));
    assert!(arn.starts_with("arn:aws:sts::333333333333:assumed-role/saml-leaf/"), "{arn}");
    assert_eq!(b.idp.count("OktaAuthn"), 1);
    assert_eq!(b.idp.count("StsAssumeRoleWithSAML"), 1);
    no_secret_in(&o.stderr, &b);
    // (The child's environment keeps the user's own SAML_PASSWORD, as it keeps every
    // variable the user set: tfauth put nothing secret of its own there.)
    let mut env = r["env"].clone();
    env.as_object_mut().unwrap().remove("SAML_PASSWORD");
    no_secret_in(&env.to_string(), &b);
    // Nothing tfauth wrote holds the password or the assertion.
    for f in walkdir(&b.bed.home()) {
        no_secret_in(&String::from_utf8_lossy(&std::fs::read(&f).unwrap()), &b);
    }
    files_are_private(&b.bed.home());
}

#[test]
fn saml_storm_of_30_helpers_makes_one_idp_sign_in() {
    let b = SamlBed::new("plain@acme.example", false);
    let kids: Vec<_> = (0..30)
        .map(|_| {
            let mut c = b.helper("okta/admin");
            c.stdout(Stdio::piped()).stderr(Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    let mut keys = std::collections::BTreeSet::new();
    for k in kids {
        let o = k.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        keys.insert(v["AccessKeyId"].as_str().unwrap().to_string());
    }
    assert_eq!(keys.len(), 1, "every helper got the one session");
    assert_eq!(b.idp.count("OktaAuthn"), 1);
    assert_eq!(b.idp.count("OktaAppSso"), 1);
    assert_eq!(b.moto.count("AssumeRoleWithSAML"), 1);
}

/// The keys in the examples' state bucket, read by boto3.
fn state_keys(bed: &Bed, moto: &Moto) -> Vec<String> {
    let py = format!(
        "import boto3, json; s3 = boto3.client('s3', endpoint_url='{}', region_name='us-east-2', aws_access_key_id='x', aws_secret_access_key='y'); print(json.dumps(sorted(o['Key'] for o in s3.list_objects_v2(Bucket='acme-tfstate').get('Contents', []))))",
        moto.url()
    );
    let mut c = bed.cmd(venv_bin("python"));
    c.args(["-c", &py]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    serde_json::from_str(&o.stdout).unwrap()
}

#[test]
fn saml_examples_okta_profile_runs_terraform_1_0_3_with_its_s3_backend_through_the_helper() {
    let moto = Moto::start();
    let idp = SamlIdp::start_default();
    let bed = Bed::new();
    // The examples' okta profile, pointed at the bed: its url, a role the IdP grants, and
    // the user's name and password.
    let profile = bed.repo().join("profiles/okta/atmos.yaml");
    let original = std::fs::read_to_string(&profile).unwrap();
    let text = original
        .replace("https://acme.okta.com/home/amazon_aws/0oa1b2c3d4e5f6g7h8i9/272", &idp.okta_app_url(&idp.url()))
        .replace("arn:aws:iam::999999999999:role/acme-gbl-identity-okta-admin", ADMIN_ROLE)
        .replace("# username: jane@acme.example", "username: plain@acme.example")
        .replace("# password: !env OKTA_PASSWORD", "password: !env OKTA_PASSWORD");
    assert_eq!(text.matches("127.0.0.1").count(), 1, "the profile's url was replaced");
    assert!(text.contains(ADMIN_ROLE) && text.contains("username: plain@") && text.contains("password: !env"));
    std::fs::write(&profile, text).unwrap();
    s3_backend_on_moto(&bed.repo(), &moto, Some(STATE_ROLE));
    create_state_bucket(&moto);
    let mut c = bed.cmd(TFAUTH);
    c.env("ATMOS_PROFILE", "okta")
        .env("AWS_ENDPOINT_URL_STS", moto.url())
        .env("OKTA_PASSWORD", PASSWORD)
        .env("ATMOS_KEYRING_TYPE", "memory")
        .env("TF_IN_AUTOMATION", "1")
        .env("APP_BUILD_ID", "build-42")
        .args(["apply", "app", "-s", "plat-use2-dev", "-auto-approve", "-no-color", "--force"]);
    let o = run(c);
    assert_eq!(o.code, 0, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("Terraform has been successfully initialized"), "{}", o.stderr);
    assert_eq!(state_keys(&bed, &moto), ["app/plat-use2-dev/terraform.tfstate"]);
    // One sign-in served tfauth, terraform's helper calls and its backend.
    assert_eq!(idp.count("OktaAuthn"), 1);
    assert_eq!(moto.count("AssumeRoleWithSAML"), 1);
    let roles: Vec<String> =
        moto.requests("AssumeRole").iter().filter_map(|r| r["RoleArn"].as_str().map(String::from)).collect();
    assert!(roles.iter().any(|r| r == "arn:aws:iam::444444444444:role/acme-plat-gbl-dev-terraform"), "{roles:?}");
    assert!(roles.iter().any(|r| r == STATE_ROLE), "the backend assumed its role: {roles:?}");
    assert!(!o.stderr.contains(PASSWORD) && !o.stdout.contains(PASSWORD));
}
