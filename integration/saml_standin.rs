//! The SAML test bed (issue 18): a real SAML 2.0 IdP on loopback, `integration/py/saml_idp.py`,
//! whose responses pysaml2 signs with xmlsec1, with the two fronts tfauth's `aws/saml`
//! drivers will talk to:
//!
//! - an **Okta** front (the Classic Engine authentication API): `POST /api/v1/authn`
//!   (`SUCCESS` with a one-time `sessionToken`, `MFA_REQUIRED` with a `stateToken` and
//!   `_embedded.factors` for `token:software:totp` and `push`, 401 `E0000004`),
//!   `POST /api/v1/authn/factors/{id}/verify` (TOTP `passCode`, 403 `E0000068` when wrong;
//!   push: `MFA_CHALLENGE` + `factorResult: WAITING` with `_links.next` for N polls, then
//!   `SUCCESS`, `REJECTED` or `TIMEOUT`), `POST /api/v1/sessions`,
//!   `GET /login/sessionCookieRedirect?token=&redirectUrl=` (saml2aws's way, which Atmos
//!   uses), and the app's embed link `GET /home/amazon_aws/{app}/272` with `onetimetoken=`,
//!   `sessionToken=` or the `sid` cookie, answering the auto-posting form with `SAMLResponse`
//!   (and `RelayState`) for `https://signin.aws.amazon.com/saml`;
//! - an **ADFS** front: `GET /adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=urn:amazon:webservices`
//!   (the forms page: `UserName`, `Password`, `AuthMethod=FormsAuthentication`, a relative
//!   form action), `POST` (wrong password: the page again with `label#errorText`; right: 302
//!   with an `MSISAuth` cookie back to the same URL, whose GET answers the `SAMLResponse` form).
//!
//! One process serves plain HTTP (for tfauth) and HTTPS (for the Python clients, which insist
//! on it; CA from `ms_tls_front.py`). Counters per operation and the issued responses are
//! read over `/_bed/*` routes, as moto's recorder is read.
//!
//! The tests below check the bed with clients that did not come from us: aws-okta-processor
//! (its Okta client: authn, TOTP and push, Sessions API, app link), aws-adfs (its fetcher and
//! role extractor), pysaml2's SP parser and signxml (signatures, audience, destination), and
//! boto3's AssumeRoleWithSAML against moto. They must not test tfauth: that is the drivers'
//! job, built on this.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::microsoft_standin::py_script;
use crate::support::{Moto, venv_bin};

pub const AWS_SAML_ENDPOINT: &str = "https://signin.aws.amazon.com/saml";
pub const OKTA_APP_ID: &str = "0oa1samlbedaws272";
/// 160 bits, base32 (pyotp refuses secrets under 112 bits).
pub const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
pub const PASSWORD: &str = "correct horse battery";
/// moto's default account: the only one whose SAML sessions its GetCallerIdentity knows
/// (see integration/README.md).
pub const PROVIDER_111: &str = "arn:aws:iam::123456789012:saml-provider/acme-idp";
pub const ADMIN_ROLE: &str = "arn:aws:iam::123456789012:role/saml-admin";
pub const READ_ROLE: &str = "arn:aws:iam::123456789012:role/saml-read";
pub const DEV_ROLE: &str = "arn:aws:iam::222222222222:role/saml-dev";
pub const PROVIDER_222: &str = "arn:aws:iam::222222222222:saml-provider/acme-idp";

/// One role of a user: the `Role` attribute value is `role,principal` unless
/// `principal_first`.
pub fn role(role: &str, principal: &str, principal_first: bool) -> Value {
    json!({"role": role, "principal": principal, "order": if principal_first { "principal,role" } else { "role,principal" }})
}

/// The users of [`SamlIdp::start_default`]: `plain` (no MFA, one role), `three` (no MFA,
/// three roles in both orders, SessionDuration 7200), `mfa` (TOTP and push, approved after
/// two waiting polls), `denied` (push only, rejected after one waiting poll). All share
/// [`PASSWORD`] and [`TOTP_SECRET`].
pub fn default_users() -> Value {
    json!([
        {"username": "plain@acme.example", "password": PASSWORD,
         "roles": [role(ADMIN_ROLE, PROVIDER_111, false)]},
        {"username": "three@acme.example", "password": PASSWORD, "session_duration": 7200,
         "session_name": "three-user",
         "roles": [role(ADMIN_ROLE, PROVIDER_111, false), role(READ_ROLE, PROVIDER_111, true),
                   role(DEV_ROLE, PROVIDER_222, true)]},
        {"username": "mfa@acme.example", "password": PASSWORD, "factors": ["totp", "push"],
         "totp_secret": TOTP_SECRET, "push": {"waiting_polls": 2, "result": "SUCCESS"},
         "roles": [role(DEV_ROLE, PROVIDER_222, true)]},
        {"username": "denied@acme.example", "password": PASSWORD, "factors": ["push"],
         "push": {"waiting_polls": 1, "result": "REJECTED"},
         "roles": [role(ADMIN_ROLE, PROVIDER_111, false)]},
    ])
}

/// The IdP process; stopped when dropped.
pub struct SamlIdp {
    pub http_port: u16,
    pub https_port: u16,
    /// The CA the HTTPS listener's certificate chains to (for Python clients).
    pub ca: PathBuf,
    /// The IdP's signing certificate (PEM) and its SAML metadata.
    pub signing_cert: PathBuf,
    pub metadata: PathBuf,
    pub entity_id: String,
    /// The STS front for moto ([`SamlIdp::start_with_sts`]).
    pub sts_port: Option<u16>,
    child: Child,
    _dir: tempfile::TempDir,
}

impl SamlIdp {
    pub fn start_default() -> SamlIdp {
        SamlIdp::start(json!({"okta_app_id": OKTA_APP_ID, "users": default_users()}))
    }

    /// [`SamlIdp::start_default`]'s users, with an STS front for `moto` on [`SamlIdp::sts_url`]:
    /// `AssumeRoleWithSAML` checked as AWS checks it, then handed to moto with the one role
    /// asked for; every other call relayed.
    pub fn start_with_sts(moto: &Moto) -> SamlIdp {
        SamlIdp::start(json!({"okta_app_id": OKTA_APP_ID, "users": default_users(), "moto_url": moto.url()}))
    }

    /// `config`: `{"okta_app_id", "users": [{"username", "password", "factors": ["totp",
    /// "push"], "totp_secret", "push": {"waiting_polls", "result"}, "roles": [...],
    /// "session_name", "session_duration"}], "moto_url"}` (see py/saml_idp.py).
    pub fn start(config: Value) -> SamlIdp {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.json");
        std::fs::write(&cfg, config.to_string()).unwrap();
        let mut child = Command::new(venv_bin("python"))
            .arg(py_script("saml_idp.py"))
            .arg(&cfg)
            .arg(dir.path())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start saml_idp.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let doc: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("the SAML IdP did not start: {line:?}"));
        let path = |k: &str| PathBuf::from(doc[k].as_str().unwrap());
        SamlIdp {
            http_port: doc["http"].as_u64().unwrap() as u16,
            https_port: doc["https"].as_u64().unwrap() as u16,
            ca: path("ca"),
            signing_cert: path("cert"),
            metadata: path("metadata"),
            entity_id: doc["entity_id"].as_str().unwrap().to_string(),
            sts_port: doc["sts"].as_u64().map(|p| p as u16),
            child,
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:PORT`: the Okta org URL and ADFS host for tfauth.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// The STS front (`AWS_ENDPOINT_URL_STS` for tfauth), when started with one.
    pub fn sts_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.sts_port.expect("started with SamlIdp::start_with_sts"))
    }

    pub fn https_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.https_port)
    }

    /// The Okta app's embed link under `base` (either listener's URL).
    pub fn okta_app_url(&self, base: &str) -> String {
        format!("{base}/home/amazon_aws/{OKTA_APP_ID}/272")
    }

    /// The ADFS IdP-initiated sign-on URL for AWS under `base`.
    pub fn adfs_url(&self, base: &str) -> String {
        format!("{base}/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=urn:amazon:webservices")
    }

    fn bed(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let mut c = Command::new("curl");
        c.args(["-s", "-f", "-X", method]).arg(format!("{}{path}", self.url()));
        if let Some(b) = body {
            c.args(["-H", "Content-Type: application/json", "-d"]).arg(b.to_string());
        }
        let o = c.output().expect("curl");
        assert!(o.status.success(), "{path}: {}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// Requests per operation so far (`OktaAuthn`, `OktaVerifyTotp`, `OktaVerifyPush`,
    /// `OktaSessions`, `OktaSessionCookieRedirect`, `OktaAppSso`, `OktaAppLinks`,
    /// `OktaSignInPage`, `AdfsSignOnPage`, `AdfsSignOnPost`, `AdfsSamlForm`, `Metadata`),
    /// errors included.
    pub fn count(&self, op: &str) -> u64 {
        self.bed("GET", "/_bed/counts", None)[op].as_u64().unwrap_or(0)
    }

    /// `[{"op", "status", "outcome"}]` for every request, in order.
    pub fn log(&self) -> Vec<Value> {
        self.bed("GET", "/_bed/log", None).as_array().unwrap().clone()
    }

    /// Every SAMLResponse issued (`{"username", "front", "saml_response"}`), oldest first.
    pub fn issued(&self) -> Vec<Value> {
        self.bed("GET", "/_bed/issued", None).as_array().unwrap().clone()
    }

    /// Every SAMLAssertion the STS front was sent (base64), oldest first.
    pub fn received(&self) -> Vec<String> {
        let all = self.bed("GET", "/_bed/received", None);
        all.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
    }

    /// The current TOTP code of `username` (what their authenticator app shows now).
    pub fn totp(&self, username: &str) -> String {
        self.bed("GET", &format!("/_bed/totp?username={username}"), None)["code"].as_str().unwrap().to_string()
    }

    /// From now on `username`'s push answers WAITING `waiting_polls` times, then `result`
    /// (`SUCCESS`, `REJECTED`, `TIMEOUT`).
    pub fn set_push(&self, username: &str, waiting_polls: u32, result: &str) {
        self.bed(
            "POST",
            "/_bed/push",
            Some(json!({"username": username, "waiting_polls": waiting_polls, "result": result})),
        );
    }
}

impl Drop for SamlIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `integration/py/saml_check.py ARGS` and returns its JSON.
pub fn saml_check(args: &[&str]) -> Value {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(venv_bin("python"))
        .arg(py_script("saml_check.py"))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .output()
        .expect("run saml_check.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "saml_check.py failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn okta_check(idp: &SamlIdp, user: &str, password: &str, factor: &str, extra: &[&str]) -> Value {
    let base = idp.https_url();
    let app = idp.okta_app_url(&base);
    let mut args = vec!["okta", &base, p(&idp.ca), user, password, factor, &app, "--totp-secret", TOTP_SECRET];
    args.extend_from_slice(extra);
    saml_check(&args)
}

fn decoded(b64: &str) -> String {
    String::from_utf8(aws_smithy_types::base64::decode(b64).unwrap()).unwrap()
}

/// The signature checks passed and pysaml2 read what AWS reads.
fn assert_verified(doc: &Value, idp: &SamlIdp) {
    let ps = &doc["pysaml2"];
    assert!(ps.get("error").is_none(), "pysaml2 refused the response: {ps}");
    assert!(doc["signxml"].get("error").is_none(), "signxml refused the response: {}", doc["signxml"]);
    assert_eq!(doc["signxml"]["signed_element"], "Response");
    assert_eq!(ps["issuer"], idp.entity_id.as_str());
    assert_eq!(ps["audience"], json!(["urn:amazon:webservices"]));
    assert_eq!(ps["destination"], AWS_SAML_ENDPOINT);
}

#[test]
fn okta_without_mfa_gives_a_signed_assertion_that_moto_accepts() {
    let idp = SamlIdp::start_default();
    let moto = Moto::start();
    let doc = okta_check(
        &idp,
        "plain@acme.example",
        PASSWORD,
        "none",
        &["--metadata", p(&idp.metadata), "--moto", &moto.url(), "--role", ADMIN_ROLE],
    );
    assert!(doc.get("exit").is_none(), "aws-okta-processor gave up: {doc}");
    assert_verified(&doc, &idp);
    assert_eq!(doc["pysaml2"]["roles"], json!([format!("{ADMIN_ROLE},{PROVIDER_111}")]));
    assert_eq!(doc["pysaml2"]["session_name"], "plain@acme.example");
    assert_eq!(doc["pysaml2"]["duration"], Value::Null, "no SessionDuration unless configured");
    assert_eq!(doc["assumed_role_user"], "arn:aws:sts::123456789012:assumed-role/saml-admin/plain@acme.example");
    assert_eq!(doc["caller_arn"], doc["assumed_role_user"], "{doc}");
    assert_eq!(moto.count("AssumeRoleWithSAML"), 1);
    // The client's path: authn, Sessions API, app link with the sid cookie; one response issued.
    assert_eq!((idp.count("OktaAuthn"), idp.count("OktaSessions"), idp.count("OktaAppSso")), (1, 1, 1));
    let issued = idp.issued();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0]["saml_response"], doc["saml_response"], "the client got what the IdP issued");
    assert_eq!(issued[0]["front"], "okta");
    // The metadata (what an AWS account registers as its SAML provider) publishes the key
    // that signed, and the response carries the same certificate.
    let pem = std::fs::read_to_string(&idp.signing_cert).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(std::fs::read_to_string(&idp.metadata).unwrap().contains(&body));
    assert!(decoded(doc["saml_response"].as_str().unwrap()).contains(&body));
}

#[test]
fn okta_totp_and_push_reach_a_saml_response() {
    let idp = SamlIdp::start_default();
    let moto = Moto::start();
    // TOTP: the code pyotp computes from the shared secret (not the IdP's own TOTP code).
    let doc = okta_check(
        &idp,
        "mfa@acme.example",
        PASSWORD,
        "token:software:totp:google",
        &["--metadata", p(&idp.metadata), "--moto", &moto.url(), "--role", DEV_ROLE],
    );
    assert!(doc.get("exit").is_none(), "{doc}");
    assert_verified(&doc, &idp);
    // principal,role order: moto still assumes the role the caller names.
    assert_eq!(doc["pysaml2"]["roles"], json!([format!("{PROVIDER_222},{DEV_ROLE}")]));
    assert_eq!(doc["assumed_role_user"], "arn:aws:sts::222222222222:assumed-role/saml-dev/mfa@acme.example");
    // moto 5.2.5 files a SAML session under its default account, so GetCallerIdentity with
    // keys for a role of another account does not find it (see integration/README.md).
    assert_eq!(doc["caller_arn"], "arn:aws:sts::222222222222:user/moto", "moto changed: {doc}");
    assert_eq!(idp.count("OktaVerifyTotp"), 1);
    assert_eq!(idp.count("OktaVerifyPush"), 0);

    // Push: WAITING twice (the send and one poll), then SUCCESS on the third call.
    let started = std::time::Instant::now();
    let doc = okta_check(&idp, "mfa@acme.example", PASSWORD, "push:okta", &["--metadata", p(&idp.metadata)]);
    assert!(doc.get("exit").is_none(), "{doc}");
    assert_verified(&doc, &idp);
    assert_eq!(idp.count("OktaVerifyPush"), 3, "{:?}", idp.log());
    let outcomes: Vec<String> = idp
        .log()
        .iter()
        .filter(|l| l["op"] == "OktaVerifyPush")
        .map(|l| l["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outcomes, ["WAITING", "WAITING", "SUCCESS"]);
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    assert_eq!(idp.issued().len(), 2);
}

#[test]
fn okta_push_denied_and_a_wrong_password_give_no_assertion() {
    let idp = SamlIdp::start_default();
    let doc = okta_check(&idp, "denied@acme.example", PASSWORD, "push:okta", &[]);
    assert_eq!(doc["exit"], 1, "aws-okta-processor stops on REJECTED: {doc}");
    assert_eq!(doc["saml_response"], Value::Null);
    let pushes: Vec<Value> = idp.log().into_iter().filter(|l| l["op"] == "OktaVerifyPush").collect();
    assert_eq!(pushes.len(), 2, "one WAITING, then REJECTED, and no more polls: {pushes:?}");
    assert_eq!(pushes[1]["outcome"], "REJECTED");

    // The next push is changed at run time: approved at once.
    idp.set_push("denied@acme.example", 0, "SUCCESS");
    let doc = okta_check(&idp, "denied@acme.example", PASSWORD, "push:okta", &[]);
    assert!(doc["saml_response"].as_str().is_some(), "{doc}");

    let doc = okta_check(&idp, "plain@acme.example", "not the password", "none", &[]);
    assert_eq!(doc["exit"], 1, "{doc}");
    assert!(doc["client_said"].as_str().unwrap().contains("Status Code: 401"), "{doc}");
    assert!(doc["client_said"].as_str().unwrap().contains("Authentication failed"), "{doc}");
    let authn: Vec<Value> = idp.log().into_iter().filter(|l| l["op"] == "OktaAuthn").collect();
    assert_eq!(authn.last().unwrap()["status"], 401);
    assert_eq!(authn.last().unwrap()["outcome"], "E0000004");
    assert_eq!(idp.issued().len(), 1, "only the approved push was issued a response");
}

#[test]
fn adfs_forms_sign_in_gives_the_roles_in_either_order_and_refuses_a_wrong_password() {
    let idp = SamlIdp::start_default();
    let hostport = format!("127.0.0.1:{}", idp.https_port);
    let doc =
        saml_check(&["adfs", &hostport, p(&idp.ca), "three@acme.example", PASSWORD, "--metadata", p(&idp.metadata)]);
    assert_eq!(doc["status"], 200, "{doc}");
    assert_verified(&doc, &idp);
    // aws-adfs normalises each pair to principal,role whichever order the IdP wrote.
    assert_eq!(
        doc["aws_adfs_roles"],
        json!([[PROVIDER_111, ADMIN_ROLE], [PROVIDER_111, READ_ROLE], [PROVIDER_222, DEV_ROLE]])
    );
    assert_eq!(doc["aws_adfs_duration"], 7200);
    assert_eq!(
        doc["pysaml2"]["roles"],
        json!([
            format!("{ADMIN_ROLE},{PROVIDER_111}"),
            format!("{PROVIDER_111},{READ_ROLE}"),
            format!("{PROVIDER_222},{DEV_ROLE}")
        ])
    );
    assert_eq!(doc["pysaml2"]["session_name"], "three-user");
    assert_eq!(doc["pysaml2"]["duration"], "7200");
    // aws-adfs posts the credentials to the sign-on URL, then follows the 302 with the cookie.
    assert_eq!((idp.count("AdfsSignOnPost"), idp.count("AdfsSamlForm")), (1, 1));
    assert_eq!(idp.issued()[0]["front"], "adfs");

    let doc = saml_check(&["adfs", &hostport, p(&idp.ca), "three@acme.example", "wrong"]);
    assert_eq!(doc["exit"], -1, "aws-adfs stops at the error label: {doc}");
    assert!(doc["client_said"].as_str().unwrap().contains("Login error: Incorrect user ID or password"), "{doc}");
    assert_eq!(idp.issued().len(), 1);
}

#[test]
fn a_tampered_assertion_fails_both_signature_checks() {
    let idp = SamlIdp::start_default();
    let doc = okta_check(&idp, "plain@acme.example", PASSWORD, "none", &["--metadata", p(&idp.metadata), "--tamper"]);
    assert!(doc["saml_response"].as_str().is_some(), "{doc}");
    let ps = doc["pysaml2"]["error"].as_str().unwrap_or_else(|| panic!("pysaml2 took a changed role: {doc}"));
    assert!(ps.contains("Signature"), "{ps}");
    let sx = doc["signxml"]["error"].as_str().unwrap_or_else(|| panic!("signxml took a changed role: {doc}"));
    assert!(sx.contains("Digest") || sx.contains("Signature"), "{sx}");
}

/// The routes a Rust driver uses over plain HTTP, with a plain HTTP client (curl): the form it
/// gets, the one-time session token, the login redirect, the ADFS cookie dance.
#[test]
fn plain_http_routes_for_the_drivers() {
    let idp = SamlIdp::start_default();
    let curl = |args: &[&str]| -> (String, String) {
        let dir = tempfile::tempdir().unwrap();
        let head = dir.path().join("head");
        let o = Command::new("curl").args(["-s", "-D"]).arg(&head).args(args).output().unwrap();
        (std::fs::read_to_string(&head).unwrap_or_default(), String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let authn = |user: &str| -> Value {
        let (_, body) = curl(&[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            &json!({"username": user, "password": PASSWORD}).to_string(),
            &format!("{}/api/v1/authn", idp.url()),
        ]);
        serde_json::from_str(&body).unwrap()
    };
    let a = authn("plain@acme.example");
    assert_eq!(a["status"], "SUCCESS", "{a}");
    let token = a["sessionToken"].as_str().unwrap();
    let app = format!("{}?onetimetoken={token}", idp.okta_app_url(&idp.url()));
    let (_, page) = curl(&[&app]);
    assert!(page.contains(&format!("action=\"{AWS_SAML_ENDPOINT}\"")), "{page}");
    assert!(page.contains("name=\"RelayState\""), "{page}");
    let b64 = page.split("name=\"SAMLResponse\" type=\"hidden\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    assert!(decoded(b64).contains("<ns1:Audience>urn:amazon:webservices</ns1:Audience>"));
    // A session token is good once: the second use is sent to the sign-in page.
    let (head, _) = curl(&[&app]);
    assert!(head.starts_with("HTTP/1.1 302") && head.contains("/login/login.htm?fromURI="), "{head}");

    // saml2aws's path: sessionCookieRedirect sets sid and redirects to the app.
    let token = authn("plain@acme.example")["sessionToken"].as_str().unwrap().to_string();
    let app = idp.okta_app_url(&idp.url());
    let redirect = format!(
        "{}/login/sessionCookieRedirect?checkAccountSetupComplete=true&token={token}&redirectUrl={}",
        idp.url(),
        app
    );
    let (head, _) = curl(&[&redirect]);
    assert!(head.starts_with("HTTP/1.1 302") && head.contains(&format!("Location: {app}")), "{head}");
    let sid = head.lines().find_map(|l| l.strip_prefix("Set-Cookie: sid=")).unwrap().split(';').next().unwrap();
    let (_, page) = curl(&["-H", &format!("Cookie: sid={sid}"), &app]);
    assert!(page.contains("name=\"SAMLResponse\""), "{page}");

    // MFA_REQUIRED lists both factors with their verify links on the same listener.
    let m = authn("mfa@acme.example");
    assert_eq!(m["status"], "MFA_REQUIRED");
    let kinds: Vec<&str> =
        m["_embedded"]["factors"].as_array().unwrap().iter().map(|f| f["factorType"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["token:software:totp", "push"]);
    let verify = m["_embedded"]["factors"][0]["_links"]["verify"]["href"].as_str().unwrap();
    assert!(verify.starts_with(&format!("http://127.0.0.1:{}/api/v1/authn/factors/", idp.http_port)), "{verify}");
    let (_, body) =
        curl(&["-X", "POST", "-d", &json!({"stateToken": m["stateToken"], "passCode": "000000"}).to_string(), verify]);
    let bad: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(bad["errorCode"], "E0000068", "{bad}");
    let (_, body) = curl(&[
        "-X",
        "POST",
        "-d",
        &json!({"stateToken": m["stateToken"], "passCode": idp.totp("mfa@acme.example")}).to_string(),
        verify,
    ]);
    let ok: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ok["status"], "SUCCESS", "{ok}");

    // ADFS: the page, a POST with the form's fields to its relative action, the cookie, the form.
    let (_, page) = curl(&[&idp.adfs_url(&idp.url())]);
    for field in ["name=\"UserName\"", "name=\"Password\"", "name=\"AuthMethod\" value=\"FormsAuthentication\""] {
        assert!(page.contains(field), "{field}: {page}");
    }
    let action =
        page.split("id=\"loginForm\"").nth(1).unwrap().split("action=\"").nth(1).unwrap().split('"').next().unwrap();
    let action = action.replace("&amp;", "&");
    assert!(
        action.starts_with("/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=urn%3Aamazon%3Awebservices&client-request-id=")
    );
    let jar = tempfile::tempdir().unwrap();
    let jar = jar.path().join("jar");
    let (_, page) = curl(&[
        "-L",
        "-c",
        p(&jar),
        "-b",
        p(&jar),
        "--data-urlencode",
        "UserName=three@acme.example",
        "--data-urlencode",
        &format!("Password={PASSWORD}"),
        "--data-urlencode",
        "AuthMethod=FormsAuthentication",
        &format!("{}{action}", idp.url()),
    ]);
    assert!(page.contains("name=\"SAMLResponse\"") && page.contains(AWS_SAML_ENDPOINT), "{page}");
    assert_eq!(idp.issued().len(), 3);
}

/// Three roles, and the STS front that lets moto take them: the pair asked for is assumed
/// (principal-first in the assertion), a pair not in the assertion and a changed assertion
/// are refused as AWS refuses them, and moto alone answers 500 to the same assertion.
#[test]
fn three_roles_through_the_sts_front_the_asked_pair_only() {
    let moto = Moto::start();
    let idp = SamlIdp::start_with_sts(&moto);
    let hostport = format!("127.0.0.1:{}", idp.https_port);
    let sts = idp.sts_url();
    let doc = saml_check(&[
        "adfs",
        &hostport,
        p(&idp.ca),
        "three@acme.example",
        PASSWORD,
        "--moto",
        &sts,
        "--role",
        READ_ROLE,
    ]);
    assert!(doc.get("sts_error").is_none() && doc.get("moto_error").is_none(), "{doc}");
    assert_eq!(doc["assumed_role_user"], "arn:aws:sts::123456789012:assumed-role/saml-read/three-user");
    assert_eq!(doc["caller_arn"], doc["assumed_role_user"], "GetCallerIdentity relayed with the new keys: {doc}");
    let sent = moto.requests("AssumeRoleWithSAML");
    assert_eq!(sent.len(), 1);
    let to_moto = decoded(sent[0]["SAMLAssertion"].as_str().unwrap());
    assert!(to_moto.contains(&format!(">{READ_ROLE},{PROVIDER_111}<")) && !to_moto.contains(ADMIN_ROLE), "{to_moto}");

    let b64 = doc["saml_response"].as_str().unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), b64).unwrap();
    let f = p(file.path());
    // A role of the assertion with another account's provider: not a pair it lists.
    let denied = saml_check(&["verify", f, "--moto", &sts, "--role", DEV_ROLE, "--principal", PROVIDER_111]);
    assert_eq!(
        denied["sts_error"],
        json!({"code": "AccessDenied", "status": 403, "message": "Not authorized to perform sts:AssumeRoleWithSAML"})
    );
    let tampered =
        saml_check(&["verify", f, "--tamper", "--moto", &sts, "--role", "arn:aws:iam::123456789012:role/xsaml-admin"]);
    assert_eq!(tampered["sts_error"]["code"], "InvalidIdentityToken", "{tampered}");
    assert_eq!(moto.count("AssumeRoleWithSAML"), 1, "refused calls never reach moto");
    assert_eq!(idp.count("StsAssumeRoleWithSAML"), 3);
    // moto itself cannot read a Role attribute with several values.
    let direct = saml_check(&["verify", f, "--moto", &moto.url(), "--role", READ_ROLE]);
    let said = direct["moto_error"].as_str().unwrap_or_default();
    assert!(
        said.contains("500 Internal Server Error"),
        "moto 5.2.5 fails on several roles; if this changed, the front may go: {direct}"
    );
}
