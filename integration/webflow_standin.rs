//! A loopback stand-in for AWS's sign-in service as the `aws/user` browser login uses it
//! (Atmos's webflow, the flow behind `aws login`): `GET /v1/authorize` checks the client id,
//! the PKCE challenge method and the loopback redirect, then answers 302 to the redirect
//! with a one-time code and the `state` it was given (or a wrong one, to test refusal);
//! `POST /v1/token` checks the DPoP proof (ES256 over the header's own JWK, `typ`, `htm`,
//! `htu`, a fresh `iat`, a `jti` never seen before), the PKCE verifier against the
//! challenge, the redirect, and that a refresh token comes with the key it was bound to;
//! it answers with session credentials inside `access_token` and a rotated refresh token.
//! Every proof it accepted is kept for `py/dpop_check.py` (jwcrypto) to verify again.
//!
//! The tests below drive `tfauth auth login` under a real pseudo-terminal with a browser
//! opener that follows the redirect with curl, then the helper with no terminal.

use crate::support::*;
use crate::wire::{self, Resp, Server};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

const CLIENT_ID: &str = "arn:aws:signin:::devtools/same-device";

#[derive(Default)]
pub struct State {
    pub authorize_calls: usize,
    pub code_grants: usize,
    pub refresh_grants: usize,
    pub refused: Vec<String>,
    /// code -> (challenge, redirect_uri)
    codes: HashMap<String, (String, String)>,
    /// refresh token -> JWK x (the key it is bound to)
    refresh: HashMap<String, String>,
    jtis: HashSet<String>,
    /// Accepted proofs and the URL they were for.
    pub proofs: Vec<(String, String)>,
    /// Every verifier, code and refresh token it handed out or took (to look for leaks).
    pub secrets: Vec<String>,
    pub wrong_state: bool,
    seq: usize,
}

pub struct SignIn {
    pub server: Server,
    pub state: Arc<Mutex<State>>,
}

impl SignIn {
    pub fn start(wrong_state: bool) -> SignIn {
        let state = Arc::new(Mutex::new(State { wrong_state, ..State::default() }));
        let bound = Server::bind();
        let base = format!("http://127.0.0.1:{}", bound.port);
        let st = state.clone();
        let server = bound.serve(move |stream| {
            let Some(req) = wire::read_raw(&stream) else { return };
            let resp = handle(&base, &req, &mut st.lock().unwrap());
            wire::write_response(&stream, &resp);
        });
        SignIn { server, state }
    }
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }
}

fn b64url(b: &[u8]) -> String {
    aws_smithy_types::base64::encode(b).trim_end_matches('=').replace('+', "-").replace('/', "_")
}

fn unb64url(s: &str) -> Option<Vec<u8>> {
    let mut t = s.replace('-', "+").replace('_', "/");
    while !t.len().is_multiple_of(4) {
        t.push('=');
    }
    aws_smithy_types::base64::decode(&t).ok()
}

fn json(status: u16, v: serde_json::Value) -> Resp {
    Resp { status, headers: vec![("Content-Type".into(), "application/json".into())], body: v.to_string().into_bytes() }
}

fn oauth_error(st: &mut State, code: &str, why: &str) -> Resp {
    st.refused.push(format!("{code}: {why}"));
    json(400, serde_json::json!({"error": code, "error_description": why}))
}

/// Checks a DPoP proof for `POST url`; the JWK's `x` when it is good.
fn check_dpop(proof: &str, url: &str, st: &mut State) -> Result<String, String> {
    use p256::ecdsa::signature::Verifier;
    let parts: Vec<&str> = proof.split('.').collect();
    let [h, c, s] = parts.as_slice() else { return Err("not a compact JWS".into()) };
    let header: serde_json::Value = serde_json::from_slice(&unb64url(h).ok_or("header")?).map_err(|_| "header")?;
    let claims: serde_json::Value = serde_json::from_slice(&unb64url(c).ok_or("claims")?).map_err(|_| "claims")?;
    if header["typ"] != "dpop+jwt" || header["alg"] != "ES256" {
        return Err("typ/alg".into());
    }
    let jwk = &header["jwk"];
    if jwk["kty"] != "EC" || jwk["crv"] != "P-256" || jwk.get("d").is_some() {
        return Err("jwk".into());
    }
    let mut sec1 = vec![4u8];
    sec1.extend(unb64url(jwk["x"].as_str().ok_or("x")?).ok_or("x")?);
    sec1.extend(unb64url(jwk["y"].as_str().ok_or("y")?).ok_or("y")?);
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| "point")?;
    let sig = p256::ecdsa::Signature::from_slice(&unb64url(s).ok_or("sig")?).map_err(|_| "sig")?;
    vk.verify(format!("{h}.{c}").as_bytes(), &sig).map_err(|_| "signature does not verify")?;
    if claims["htm"] != "POST" || claims["htu"] != url {
        return Err(format!("htm/htu {} {}", claims["htm"], claims["htu"]));
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if (claims["iat"].as_i64().unwrap_or(0) - now).abs() > 60 {
        return Err("iat".into());
    }
    let jti = claims["jti"].as_str().unwrap_or("").to_string();
    if jti.len() < 16 || !st.jtis.insert(jti) {
        return Err("jti missing or replayed".into());
    }
    st.proofs.push((proof.to_string(), url.to_string()));
    Ok(jwk["x"].as_str().unwrap().to_string())
}

fn handle(base: &str, req: &wire::RawRequest, st: &mut State) -> Resp {
    let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    if req.method == "GET" && path == "/v1/authorize" {
        st.authorize_calls += 1;
        let q: HashMap<String, String> = wire::parse_pairs(query, true).into_iter().collect();
        let get = |k: &str| q.get(k).cloned().unwrap_or_default();
        let redirect = get("redirect_uri");
        if get("client_id") != CLIENT_ID
            || get("response_type") != "code"
            || get("code_challenge_method") != "SHA-256"
            || get("scope") != "openid"
            || get("code_challenge").len() != 43
            || get("state").is_empty()
            || !redirect.starts_with("http://127.0.0.1:")
            || !redirect.ends_with("/oauth/callback")
        {
            st.refused.push(format!("authorize: {query}"));
            return Resp { status: 400, headers: vec![], body: b"bad authorize request".to_vec() };
        }
        st.seq += 1;
        let code = format!("CODEcanary{}x{}", st.seq, b64url(&Sha256::digest(query.as_bytes()))[..12].to_owned());
        st.codes.insert(code.clone(), (get("code_challenge"), redirect.clone()));
        st.secrets.push(code.clone());
        let state = if st.wrong_state { "forged".to_string() } else { get("state") };
        let loc = format!("{redirect}?code={}&state={}", code, wire_encode(&state));
        return Resp { status: 302, headers: vec![("Location".into(), loc)], body: vec![] };
    }
    if req.method == "POST" && path == "/v1/token" {
        let url = format!("{base}/v1/token");
        let proof = wire::header(&req.headers, "dpop").unwrap_or("").to_string();
        let x = match check_dpop(&proof, &url, st) {
            Ok(x) => x,
            Err(why) => return oauth_error(st, "invalid_dpop_proof", &why),
        };
        let form: HashMap<String, String> =
            wire::parse_pairs(&String::from_utf8_lossy(&req.body), true).into_iter().collect();
        let get = |k: &str| form.get(k).cloned().unwrap_or_default();
        if get("client_id") != CLIENT_ID {
            return oauth_error(st, "invalid_client", "client_id");
        }
        match get("grant_type").as_str() {
            "authorization_code" => {
                let Some((challenge, redirect)) = st.codes.remove(&get("code")) else {
                    return oauth_error(st, "invalid_grant", "unknown or used code");
                };
                st.secrets.push(get("code_verifier"));
                if b64url(&Sha256::digest(get("code_verifier").as_bytes())) != challenge {
                    return oauth_error(st, "invalid_grant", "PKCE verifier does not match");
                }
                if get("redirect_uri") != redirect {
                    return oauth_error(st, "invalid_grant", "redirect_uri");
                }
                st.code_grants += 1;
            }
            "refresh_token" => {
                let rt = get("refresh_token");
                match st.refresh.remove(&rt) {
                    Some(bound) if bound == x => {}
                    Some(_) => return oauth_error(st, "invalid_token", "refresh token bound to another key"),
                    None => return oauth_error(st, "invalid_grant", "unknown refresh token"),
                }
                st.refresh_grants += 1;
            }
            other => return oauth_error(st, "unsupported_grant_type", other),
        }
        st.seq += 1;
        let rt = format!("RTcanary{}", st.seq);
        st.refresh.insert(rt.clone(), x);
        st.secrets.push(rt.clone());
        return json(
            200,
            serde_json::json!({
                "access_token": {
                    "access_key_id": format!("ASIAWEBFLOW{:05}", st.seq),
                    "secret_access_key": format!("SECRETcanary{}", st.seq),
                    "session_token": format!("SESSIONcanary{}", st.seq),
                },
                "token_type": "aws_sigv4",
                "expires_in": 900,
                "refresh_token": rt,
                "id_token": "x.y.z",
            }),
        );
    }
    Resp { status: 404, headers: vec![], body: vec![] }
}

fn wire_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

const ATMOS_YAML: &str = r#"base_path: "."
components:
  terraform:
    base_path: components/terraform
stacks:
  base_path: stacks
  included_paths: ["orgs/**/*"]
  excluded_paths: ["**/_defaults.yaml"]
  name_pattern: "{tenant}-{environment}-{stage}"
auth:
  realm: wf
  identities:
    me:
      kind: aws/user
      default: true
      region: us-east-1
"#;

struct WfBed {
    bed: Bed,
    signin: SignIn,
}

impl WfBed {
    fn new(wrong_state: bool) -> WfBed {
        let signin = SignIn::start(wrong_state);
        let bed = Bed::new();
        std::fs::remove_dir_all(bed.repo().join("profiles")).unwrap();
        std::fs::write(bed.repo().join("atmos.yaml"), ATMOS_YAML).unwrap();
        // The "browser": follows the authorize redirect to the loopback callback, as a
        // signed-in browser would.
        let bin = bed.dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let opener = bin.join("xdg-open");
        std::fs::write(
            &opener,
            format!(
                "#!/bin/sh\necho opened >> {}\nexec curl -s -L -o /dev/null --max-time 20 \"$1\"\n",
                bed.dir.path().join("opened").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
        WfBed { bed, signin }
    }
    fn cmd(&self, program: &str) -> Command {
        let mut c = self.bed.cmd(program);
        c.env("AWS_ENDPOINT_URL_SIGNIN", self.signin.url())
            .env("ATMOS_LOGS_LEVEL", "Trace")
            .env("PATH", format!("{}:/usr/bin:/bin", self.bed.dir.path().join("bin").display()))
            .stdin(Stdio::null());
        c
    }
    fn pty(&self, words: &[&str]) -> Out {
        let mut c = self.cmd("script");
        c.env_remove("CI").args(["-qfec", &words.join(" "), "/dev/null"]);
        run(c)
    }
    fn helper(&self) -> Out {
        let mut c = self.cmd(HELPER);
        c.args(["--identity", "me"]);
        run(c)
    }
    fn refresh_file(&self) -> std::path::PathBuf {
        self.bed.home().join(".cache/atmos/aws-webflow/me-wf/refresh.json")
    }
    fn drop_session_cache(&self) {
        let _ = std::fs::remove_dir_all(self.bed.home().join(".cache/tfauth"));
    }
}

fn assert_no_secrets(w: &WfBed, outs: &[&Out]) {
    let st = w.signin.state.lock().unwrap();
    let mut secrets = st.secrets.clone();
    if let Ok(text) = std::fs::read_to_string(w.refresh_file()) {
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        secrets.push(doc["dpopKey"].as_str().unwrap().to_string());
    }
    for o in outs {
        for s in &secrets {
            assert!(!o.stderr.contains(s.as_str()), "secret {s} in stderr:\n{}", o.stderr);
            assert!(
                !o.stdout.contains(s.as_str()) || o.stdout.starts_with('{'),
                "secret {s} on the terminal:\n{}",
                o.stdout
            );
        }
    }
}

#[test]
fn webflow_first_login_then_silent_refresh_and_no_terminal() {
    let w = WfBed::new(false);
    // No terminal, nothing cached: exit 77 at once, with the login command.
    let t0 = std::time::Instant::now();
    let o = w.helper();
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(o.stderr.contains("tfauth auth login --identity me"), "{}", o.stderr);
    assert!(t0.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(w.signin.state.lock().unwrap().authorize_calls, 0);

    // The first login opens the browser, which comes back through the loopback callback.
    let login = w.pty(&[TFAUTH, "auth", "login", "--identity", "me"]);
    assert_eq!(login.code, 0, "{}{}", login.stdout, login.stderr);
    {
        let st = w.signin.state.lock().unwrap();
        assert_eq!((st.authorize_calls, st.code_grants, st.refresh_grants), (1, 1, 0), "{:?}", st.refused);
    }
    let file = w.refresh_file();
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(file.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    let cached: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(cached["refreshToken"].as_str().unwrap().starts_with("RTcanary"));
    assert!(cached["dpopKey"].as_str().is_some() && cached["expiresAt"].as_str().is_some());

    // The helper, no terminal, tfauth's session cache gone: the refresh token, silently.
    w.drop_session_cache();
    let h = w.helper();
    assert_eq!(h.code, 0, "{}", h.stderr);
    let doc: serde_json::Value = serde_json::from_str(&h.stdout).unwrap();
    assert!(doc["AccessKeyId"].as_str().unwrap().starts_with("ASIAWEBFLOW"));
    assert!(doc["SessionToken"].as_str().unwrap().starts_with("SESSIONcanary"));
    {
        let st = w.signin.state.lock().unwrap();
        assert_eq!((st.authorize_calls, st.code_grants, st.refresh_grants), (1, 1, 1), "{:?}", st.refused);
        assert!(st.refused.is_empty(), "{:?}", st.refused);
    }
    assert_eq!(std::fs::read_to_string(w.bed.dir.path().join("opened")).unwrap().lines().count(), 1);
    // The rotated refresh token was kept.
    let again: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_ne!(again["refreshToken"], cached["refreshToken"]);
    assert_eq!(again["dpopKey"], cached["dpopKey"]);
    // Trace logging was on, and says what it did, but no secret.
    assert!(h.stderr.contains("refreshed silently"), "{}", h.stderr);
    eprintln!("login terminal:\n{}\nhelper stderr:\n{}", login.stdout, h.stderr);
    assert_no_secrets(&w, &[&login, &h]);

    // Every accepted proof verifies again with an independent JOSE library.
    let proofs: Vec<serde_json::Value> =
        w.signin.state.lock().unwrap().proofs.iter().map(|(p, u)| serde_json::json!({"proof": p, "htu": u})).collect();
    let list = w.bed.dir.path().join("proofs.json");
    std::fs::write(&list, serde_json::to_string(&proofs).unwrap()).unwrap();
    let py = Command::new(venv_bin("python"))
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/integration/py/dpop_check.py"))
        .arg(&list)
        .output()
        .unwrap();
    assert!(py.status.success(), "{}", String::from_utf8_lossy(&py.stderr));
    assert_eq!(String::from_utf8_lossy(&py.stdout).trim(), "2 proofs verified");

    // A refresh token presented with another key is refused; the cache is dropped and,
    // with no terminal, the helper says to log in.
    let mut forged = again.clone();
    forged["dpopKey"] = serde_json::Value::String(other_key());
    std::fs::write(&file, serde_json::to_string(&forged).unwrap()).unwrap();
    w.drop_session_cache();
    let h = w.helper();
    assert_eq!(h.code, 77, "{}", h.stderr);
    assert!(w.signin.state.lock().unwrap().refused.iter().any(|r| r.contains("another key")));
    assert!(!file.exists(), "a refused refresh token is dropped");
}

/// A PKCS#8 P-256 key in Atmos's cache encoding, from a different login.
fn other_key() -> String {
    use p256::pkcs8::EncodePrivateKey;
    let k = p256::ecdsa::SigningKey::random(&mut chacha20poly1305::aead::OsRng);
    aws_smithy_types::base64::encode(k.to_pkcs8_der().unwrap().as_bytes())
}

#[test]
fn webflow_wrong_state_is_refused_and_nothing_is_cached() {
    let w = WfBed::new(true);
    let login = w.pty(&[TFAUTH, "auth", "login", "--identity", "me"]);
    assert_eq!(login.code, 77, "{}{}", login.stdout, login.stderr);
    assert!(
        login.stdout.contains("wrong state") || login.stderr.contains("wrong state"),
        "{}{}",
        login.stdout,
        login.stderr
    );
    let st = w.signin.state.lock().unwrap();
    assert_eq!((st.authorize_calls, st.code_grants), (1, 0));
    drop(st);
    assert!(!w.refresh_file().exists());
}

#[test]
fn webflow_standin_refuses_a_bad_dpop_proof() {
    let w = WfBed::new(false);
    let url = format!("{}/v1/token", w.signin.url());
    let post = |proof: &str| {
        let o = Command::new("curl")
            .args([
                "-s",
                "-X",
                "POST",
                "-H",
                &format!("DPoP: {proof}"),
                "--data",
                "grant_type=refresh_token&client_id=x",
                &url,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    assert!(post("").contains("invalid_dpop_proof"));
    assert!(post("a.b.c").contains("invalid_dpop_proof"));
    assert_eq!(w.signin.state.lock().unwrap().refused.len(), 2);
}

#[test]
fn webflow_twenty_helpers_make_one_refresh() {
    let w = WfBed::new(false);
    let login = w.pty(&[TFAUTH, "auth", "login", "--identity", "me"]);
    assert_eq!(login.code, 0, "{}{}", login.stdout, login.stderr);
    w.drop_session_cache();
    let children: Vec<_> = (0..20)
        .map(|_| {
            let mut c = w.cmd(HELPER);
            c.args(["--identity", "me"]).stdout(Stdio::piped()).stderr(Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    for child in children {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(doc["AccessKeyId"].as_str().unwrap().starts_with("ASIAWEBFLOW"));
    }
    let st = w.signin.state.lock().unwrap();
    // One refresh: the rotated token is never presented twice, nobody opened a browser.
    assert_eq!((st.authorize_calls, st.code_grants, st.refresh_grants), (1, 1, 1), "{:?}", st.refused);
    assert!(st.refused.is_empty(), "{:?}", st.refused);
    drop(st);
    // Logout ends it: the refresh token and its key are gone, and the next helper needs a login.
    let mut c = w.cmd(TFAUTH);
    c.args(["auth", "logout", "me"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("refresh token"), "{}", o.stderr);
    assert!(!w.refresh_file().exists());
    assert_eq!(w.helper().code, 77);
}
