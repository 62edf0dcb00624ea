//! AWS's browser sign-in for an `aws/user` (Atmos's "webflow", the OAuth flow behind
//! `aws login`): the pieces of the protocol, each testable alone. PKCE (a random verifier,
//! its SHA-256 as the challenge), a random `state`, the authorize URL for the region's
//! sign-in endpoint, a loopback listener on 127.0.0.1 that takes one callback, checks its
//! `state` and gives up after a timeout, DPoP proofs (ES256 JWTs bound to each token
//! request, RFC 9449) signed by a P-256 key, the token exchange (authorization code or
//! refresh token → session credentials), and the refresh cache in Atmos's own file
//! (`$XDG_CACHE_HOME/atmos/aws-webflow/<identity>-<realm>/refresh.json`, 0600 in 0700,
//! the DPoP key kept beside the refresh token that is bound to it, as Atmos does).
//!
//! It must not: log, print or put in an error the authorization code, the PKCE verifier,
//! the refresh token, the session secrets or the DPoP private key (all of them live in
//! [`Secret`] or [`DpopKey`], whose `Debug` is redacted); open a browser or a terminal by
//! itself (the caller's UI does that); follow the token endpoint anywhere but https or
//! loopback http (`http` refuses).

use super::ProviderError;
use super::http::{self, Call};
use crate::exit;
use crate::secret::Secret;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The public OAuth client AWS's sign-in service knows for same-device CLI logins.
pub const CLIENT_ID: &str = "arn:aws:signin:::devtools/same-device";
/// Where the browser is sent back to, on the loopback listener's port.
pub const CALLBACK_PATH: &str = "/oauth/callback";
/// Atmos and the AWS CLI send `SHA-256` (not RFC 7636's `S256` spelling) to this service.
pub const CHALLENGE_METHOD: &str = "SHA-256";
const SCOPE: &str = "openid";
/// How long the listener waits for the browser to come back (Atmos: five minutes).
pub const CALLBACK_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// How long a refresh token lives from the first sign-in: AWS's 12-hour session.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// A refresh token this close to its end is not used (Atmos: one minute).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Atmos's cache file name inside the identity's directory.
pub const CACHE_FILE: &str = "refresh.json";
const CACHE_CAP: u64 = 64 * 1024;
const SERVICE: &str = "AWS sign-in";

fn b64url(bytes: &[u8]) -> String {
    aws_smithy_types::base64::encode(bytes).trim_end_matches('=').replace('+', "-").replace('/', "_")
}

fn random_b64url(n: usize) -> String {
    let mut buf = vec![0u8; n];
    OsRng.fill_bytes(&mut buf);
    b64url(&buf)
}

/// The sign-in service of a region (`us-east-1` has the global name).
pub fn signin_endpoint(region: &str) -> String {
    if region == "us-east-1" {
        "https://signin.aws.amazon.com".into()
    } else {
        format!("https://{region}.signin.aws.amazon.com")
    }
}

/// A PKCE pair (RFC 7636): the verifier stays here, the challenge goes in the URL.
pub struct Pkce {
    pub verifier: Secret,
    pub challenge: String,
}

impl Pkce {
    /// 32 random bytes, base64url: a 43-character verifier.
    pub fn generate() -> Pkce {
        Pkce::from_verifier(Secret::new(random_b64url(32)))
    }
    pub fn from_verifier(verifier: Secret) -> Pkce {
        let challenge = b64url(&Sha256::digest(verifier.expose().as_bytes()));
        Pkce { verifier, challenge }
    }
}

/// A fresh `state` (16 random bytes, base64url).
pub fn new_state() -> String {
    random_b64url(16)
}

/// The URL the browser opens.
pub fn authorize_url(base: &str, port: u16, challenge: &str, state: &str) -> String {
    let redirect = redirect_uri(port);
    let params = [
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("code_challenge", challenge),
        ("code_challenge_method", CHALLENGE_METHOD),
        ("scope", SCOPE),
        ("state", state),
    ];
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", super::encode(v))).collect();
    format!("{}/v1/authorize?{}", base.trim_end_matches('/'), query.join("&"))
}

pub fn redirect_uri(port: u16) -> String {
    format!("http://127.0.0.1:{port}{CALLBACK_PATH}")
}

/// The P-256 key DPoP proofs are signed with. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct DpopKey(SigningKey);

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(crate::secret::REDACTED)
    }
}

impl DpopKey {
    pub fn generate() -> DpopKey {
        DpopKey(SigningKey::random(&mut OsRng))
    }

    /// Standard base64 of the PKCS#8 DER, Atmos's `dpopKey` field.
    pub fn to_cache(&self) -> Secret {
        use p256::pkcs8::EncodePrivateKey;
        let der = self.0.to_pkcs8_der().expect("a P-256 key always encodes as PKCS#8");
        Secret::new(aws_smithy_types::base64::encode(der.as_bytes()))
    }

    pub fn from_cache(text: &str) -> Option<DpopKey> {
        use p256::pkcs8::DecodePrivateKey;
        let der = aws_smithy_types::base64::decode(text.trim()).ok()?;
        SigningKey::from_pkcs8_der(&der).ok().map(DpopKey)
    }

    /// The public half as a JWK (`kty`, `crv`, `x`, `y`; no private member).
    pub fn public_jwk(&self) -> serde_json::Value {
        let point = self.0.verifying_key().to_encoded_point(false);
        serde_json::json!({
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(point.x().expect("uncompressed point")),
            "y": b64url(point.y().expect("uncompressed point")),
        })
    }

    /// A DPoP proof (RFC 9449 §4.2) for one request: header `typ: dpop+jwt`, `alg: ES256`
    /// and the public JWK; claims `jti`, `htm`, `htu`, `iat`; the signature is the JWS
    /// `r || s` form (64 bytes).
    pub fn proof(&self, htm: &str, htu: &str, iat: i64) -> String {
        let header = serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk()});
        let claims = serde_json::json!({"jti": random_b64url(16), "htm": htm, "htu": htu, "iat": iat});
        let input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
        let sig: Signature = self.0.sign(input.as_bytes());
        format!("{input}.{}", b64url(&sig.to_bytes()))
    }
}

/// The session credentials a token call returns, and the next refresh token, if any.
#[derive(Debug)]
pub struct Tokens {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Secret,
    pub expires_in: Option<u64>,
    pub refresh_token: Option<Secret>,
}

/// What the token endpoint said, parsed. A refresh the service refused for good
/// (`invalid_grant`, `invalid_token`) is [`Exchange::Revoked`]: drop the cache and sign in.
pub enum Exchange {
    Tokens(Tokens),
    Revoked,
}

fn token_call<'a>(identity: &'a str, step: &'static str) -> Call<'a> {
    Call { identity, service: SERVICE, step }
}

/// Trades the authorization code for credentials.
pub fn exchange_code(
    identity: &str,
    base: &str,
    code: &Secret,
    pkce: &Pkce,
    port: u16,
    key: &DpopKey,
) -> Result<Tokens, ProviderError> {
    let redirect = redirect_uri(port);
    let fields = [
        ("client_id", CLIENT_ID),
        ("grant_type", "authorization_code"),
        ("code", code.expose()),
        ("code_verifier", pkce.verifier.expose()),
        ("redirect_uri", redirect.as_str()),
    ];
    match token_request(&token_call(identity, "authorization code exchange"), base, &fields, key)? {
        Exchange::Tokens(t) => Ok(t),
        Exchange::Revoked => Err(ProviderError::Setup {
            identity: identity.to_string(),
            message: "AWS sign-in refused the authorization code".into(),
            hint: format!("sign in again: `tfauth auth login --identity {identity} --webflow`"),
            code: exit::NOPERM,
        }),
    }
}

/// Trades the cached refresh token for fresh credentials.
pub fn exchange_refresh(
    identity: &str,
    base: &str,
    refresh: &Secret,
    key: &DpopKey,
) -> Result<Exchange, ProviderError> {
    let fields = [("client_id", CLIENT_ID), ("grant_type", "refresh_token"), ("refresh_token", refresh.expose())];
    token_request(&token_call(identity, "refresh"), base, &fields, key)
}

fn token_request(
    call: &Call<'_>,
    base: &str,
    fields: &[(&str, &str)],
    key: &DpopKey,
) -> Result<Exchange, ProviderError> {
    let url = format!("{}/v1/token", base.trim_end_matches('/'));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let proof = key.proof("POST", &url, now);
    tracing::debug!(endpoint = %url, step = call.step, "AWS sign-in token request");
    let reply = http::post_form_with(call, &url, fields, &[("DPoP".to_string(), proof)])?;
    tracing::debug!(endpoint = %url, status = reply.status, "AWS sign-in token reply");
    if !reply.ok() {
        let code = http::error_code(&reply.body);
        if call.step == "refresh" && matches!(code.as_deref(), Some("invalid_grant" | "invalid_token")) {
            return Ok(Exchange::Revoked);
        }
        let hint = format!("sign in again: `tfauth auth login --identity {} --webflow`", call.identity);
        return Err(call.refused(&reply, hint));
    }
    parse_tokens(call.identity, &reply.body).map(Exchange::Tokens)
}

/// The success body: `access_token` is an object holding the session credentials.
pub fn parse_tokens(identity: &str, body: &str) -> Result<Tokens, ProviderError> {
    let bad = |what: &str| ProviderError::Setup {
        identity: identity.to_string(),
        message: format!("AWS sign-in's token answer {what}"),
        hint: "this is not the answer of AWS's sign-in service; check the endpoint".into(),
        code: exit::UNAVAILABLE,
    };
    let doc: serde_json::Value = serde_json::from_str(body).map_err(|_| bad("is not JSON"))?;
    // Atmos reads snake_case at the top level; the AWS CLI's SDK model (CreateOAuth2Token)
    // names the same fields in camelCase inside `tokenOutput`. Either is read.
    let doc = doc.get("tokenOutput").unwrap_or(&doc);
    let pick = |v: &serde_json::Value, snake: &str, camel: &str| {
        v.get(snake).or_else(|| v.get(camel)).cloned().filter(|x| x.as_str() != Some(""))
    };
    let access = pick(doc, "access_token", "accessToken").ok_or_else(|| bad("has no access_token"))?;
    let field = |snake: &str, camel: &str| pick(&access, snake, camel).and_then(|v| v.as_str().map(str::to_string));
    let access_key_id = field("access_key_id", "accessKeyId").ok_or_else(|| bad("has no access_key_id"))?;
    let secret = field("secret_access_key", "secretAccessKey").ok_or_else(|| bad("has no secret_access_key"))?;
    let session = field("session_token", "sessionToken").unwrap_or_default();
    Ok(Tokens {
        access_key_id,
        secret_access_key: Secret::new(secret),
        session_token: Secret::new(session),
        expires_in: pick(doc, "expires_in", "expiresIn").and_then(|v| v.as_u64()),
        refresh_token: pick(doc, "refresh_token", "refreshToken").and_then(|v| v.as_str().map(Secret::new)),
    })
}

/// Where the browser sign-in is shown: the URL opened (or printed), then its outcome.
pub trait WebflowUi {
    fn open(&self, identity: &str, url: &str);
    fn end(&self, signed_in: bool);
}

/// Why the callback did not bring a code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CallbackError {
    #[error("the browser did not come back within {0} seconds")]
    Timeout(u64),
    #[error("the sign-in answered with the wrong state (not the request tfauth made)")]
    StateMismatch,
    #[error("the sign-in was refused: {0}")]
    Denied(String),
    #[error("the callback carried no authorization code")]
    NoCode,
    #[error("the loopback listener failed: {0}")]
    Io(String),
}

/// The loopback listener the browser is sent back to: bound before the browser opens,
/// it takes callbacks until one arrives on [`CALLBACK_PATH`] (other paths, such as a
/// browser's `/favicon.ico`, get a 404), checks it, answers the browser, and closes.
pub struct Callback {
    listener: TcpListener,
}

impl Callback {
    pub fn bind() -> std::io::Result<Callback> {
        Ok(Callback { listener: TcpListener::bind(("127.0.0.1", 0))? })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Waits for the callback; the code it carries when its `state` is `state`.
    pub fn wait(self, state: &str, timeout: Duration) -> Result<Secret, CallbackError> {
        let deadline = Instant::now() + timeout;
        self.listener.set_nonblocking(true).map_err(|e| CallbackError::Io(e.to_string()))?;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if let Some(result) = answer(stream, state, deadline) {
                        return result;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(CallbackError::Timeout(timeout.as_secs()));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(CallbackError::Io(e.to_string())),
            }
        }
    }
}

/// Reads one request; `None` when it was not the callback (the listener keeps waiting).
fn answer(stream: TcpStream, state: &str, deadline: Instant) -> Option<Result<Secret, CallbackError>> {
    let _ = stream.set_nonblocking(false);
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(100));
    let _ = stream.set_read_timeout(Some(left.min(Duration::from_secs(10))));
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    (&mut reader).take(8192).read_line(&mut line).ok()?;
    // The headers are not needed; read them so the browser sees a clean answer.
    let mut header = String::new();
    while (&mut reader).take(8192).read_line(&mut header).map(|n| n > 2).unwrap_or(false) {
        header.clear();
    }
    let target = line.split_whitespace().nth(1).unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut out = stream;
    if path != CALLBACK_PATH {
        let _ = out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return None;
    }
    let params = parse_query(query);
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let result = if let Some(err) = get("error") {
        let desc = get("error_description").unwrap_or_default();
        Err(CallbackError::Denied(if desc.is_empty() { err } else { format!("{err}: {desc}") }))
    } else if get("state").as_deref() != Some(state) {
        Err(CallbackError::StateMismatch)
    } else {
        match get("code").filter(|c| !c.is_empty()) {
            Some(code) => Ok(Secret::new(code)),
            None => Err(CallbackError::NoCode),
        }
    };
    let (status, text) = match &result {
        Ok(_) => ("200 OK", "Signed in. You can close this tab and return to the terminal."),
        Err(_) => ("400 Bad Request", "The sign-in did not complete. You can close this tab; the terminal says why."),
    };
    let body = format!("<!DOCTYPE html><html><body><p>{text}</p></body></html>");
    let _ = write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    Some(result)
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec =
                |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
            (dec(k), dec(v))
        })
        .collect()
}

/// Atmos's refresh cache file: the refresh token, its region, the end of the 12-hour
/// session, and the DPoP key the token is bound to.
#[derive(Debug)]
pub struct RefreshCache {
    pub refresh_token: Secret,
    pub region: String,
    pub expires_at: time::OffsetDateTime,
    pub dpop_key: Option<DpopKey>,
}

impl RefreshCache {
    /// Usable now: not within [`REFRESH_MARGIN`] of its end and with its DPoP key.
    pub fn usable(&self, now: time::OffsetDateTime) -> bool {
        self.dpop_key.is_some() && now + REFRESH_MARGIN < self.expires_at
    }

    pub fn to_json(&self) -> String {
        let fmt = &time::format_description::well_known::Rfc3339;
        let mut doc = serde_json::json!({
            "refreshToken": self.refresh_token.expose(),
            "region": self.region,
            "expiresAt": self.expires_at.format(fmt).unwrap_or_default(),
        });
        if let Some(k) = &self.dpop_key {
            doc["dpopKey"] = serde_json::Value::String(k.to_cache().expose().to_string());
        }
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }

    /// `None` for a file Atmos would not use either (no token, bad JSON).
    pub fn from_json(text: &str) -> Option<RefreshCache> {
        let doc: serde_json::Value = serde_json::from_str(text).ok()?;
        let token = doc.get("refreshToken")?.as_str().filter(|s| !s.is_empty())?;
        let fmt = &time::format_description::well_known::Rfc3339;
        let expires_at = time::OffsetDateTime::parse(doc.get("expiresAt")?.as_str()?, fmt).ok()?;
        Some(RefreshCache {
            refresh_token: Secret::new(token),
            region: doc.get("region").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
            expires_at,
            dpop_key: doc.get("dpopKey").and_then(|v| v.as_str()).and_then(DpopKey::from_cache),
        })
    }
}

/// Atmos's directory for one identity's cache: `<cache>/atmos/aws-webflow/<name>-<realm>`.
pub fn cache_dir(cache_home: &Path, identity: &str, realm: &str) -> PathBuf {
    cache_home.join("atmos").join("aws-webflow").join(format!("{identity}-{realm}"))
}

/// Reads the cache; `None` when there is none or it cannot be used.
pub fn load_cache(cache_home: &Path, identity: &str, realm: &str) -> Option<RefreshCache> {
    let dir = crate::util::fs::PrivateDir::open_below(cache_home, &cache_dir(cache_home, identity, realm)).ok()??;
    let bytes = dir.read(CACHE_FILE, CACHE_CAP).ok()??;
    RefreshCache::from_json(&String::from_utf8_lossy(&bytes))
}

/// Writes the cache whole, 0600 in a 0700 directory.
pub fn save_cache(cache_home: &Path, identity: &str, realm: &str, cache: &RefreshCache) -> std::io::Result<()> {
    let dir = crate::util::fs::PrivateDir::create_below(cache_home, &cache_dir(cache_home, identity, realm))?;
    dir.replace(CACHE_FILE, cache.to_json().as_bytes(), true, 0o600)
}

/// Removes a refused refresh token.
pub fn drop_cache(cache_home: &Path, identity: &str, realm: &str) {
    if let Ok(Some(dir)) = crate::util::fs::PrivateDir::open_below(cache_home, &cache_dir(cache_home, identity, realm))
    {
        let _ = dir.remove(CACHE_FILE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier;

    fn unb64(s: &str) -> Vec<u8> {
        crate::providers::jwt::b64url_decode(s).unwrap()
    }

    #[test]
    fn pkce_challenge_matches_rfc7636_appendix_b() {
        let p = Pkce::from_verifier(Secret::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert_eq!(p.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn generated_pkce_and_state_are_fresh_and_urlsafe() {
        let (a, b) = (Pkce::generate(), Pkce::generate());
        assert_eq!(a.verifier.expose().len(), 43);
        assert_ne!(a.verifier, b.verifier);
        assert!(a.verifier.expose().bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(Pkce::from_verifier(a.verifier.clone()).challenge, a.challenge);
        assert_ne!(new_state(), new_state());
        assert_eq!(format!("{:?}", DpopKey::generate()), crate::secret::REDACTED);
    }

    #[test]
    fn authorize_url_carries_the_client_pkce_and_loopback_redirect() {
        let url = authorize_url(&signin_endpoint("eu-west-1"), 4242, "CH", "ST+/");
        assert_eq!(
            url,
            "https://eu-west-1.signin.aws.amazon.com/v1/authorize?client_id=arn%3Aaws%3Asignin%3A%3A%3Adevtools%2Fsame-device\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A4242%2Foauth%2Fcallback&response_type=code&code_challenge=CH\
             &code_challenge_method=SHA-256&scope=openid&state=ST%2B%2F"
        );
        assert_eq!(signin_endpoint("us-east-1"), "https://signin.aws.amazon.com");
    }

    #[test]
    fn dpop_proof_has_rfc9449_shape_and_verifies_with_its_own_jwk() {
        let key = DpopKey::generate();
        let proof = key.proof("POST", "https://signin.aws.amazon.com/v1/token", 1_700_000_000);
        let parts: Vec<&str> = proof.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value = serde_json::from_slice(&unb64(parts[0])).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&unb64(parts[1])).unwrap();
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["jwk"]["kty"], "EC");
        assert_eq!(header["jwk"]["crv"], "P-256");
        assert!(header["jwk"].get("d").is_none(), "the proof must not carry the private key");
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["htu"], "https://signin.aws.amazon.com/v1/token");
        assert_eq!(claims["iat"], 1_700_000_000);
        assert_eq!(unb64(claims["jti"].as_str().unwrap()).len(), 16);
        // Rebuild the public key from the JWK alone and check the signature with it.
        let mut sec1 = vec![4u8];
        sec1.extend(unb64(header["jwk"]["x"].as_str().unwrap()));
        sec1.extend(unb64(header["jwk"]["y"].as_str().unwrap()));
        let vk = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
        let sig_bytes = unb64(parts[2]);
        assert_eq!(sig_bytes.len(), 64);
        let sig = Signature::from_slice(&sig_bytes).unwrap();
        let input = format!("{}.{}", parts[0], parts[1]);
        assert!(vk.verify(input.as_bytes(), &sig).is_ok());
        assert!(vk.verify(b"tampered", &sig).is_err());
        // Each proof has its own jti.
        let other = key.proof("POST", "https://signin.aws.amazon.com/v1/token", 1_700_000_000);
        assert_ne!(other.split('.').nth(1), Some(parts[1]));
    }

    #[test]
    fn dpop_key_round_trips_through_atmos_cache_encoding() {
        let key = DpopKey::generate();
        let back = DpopKey::from_cache(key.to_cache().expose()).unwrap();
        assert_eq!(back.public_jwk(), key.public_jwk());
        assert!(DpopKey::from_cache("not base64!").is_none());
    }

    fn hit(port: u16, target: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    fn run_callback(
        targets: &'static [&'static str],
        timeout: Duration,
    ) -> (Result<Secret, CallbackError>, Vec<String>) {
        let cb = Callback::bind().unwrap();
        let port = cb.port();
        let client = std::thread::spawn(move || targets.iter().map(|t| hit(port, t)).collect::<Vec<_>>());
        let r = cb.wait("good", timeout);
        (r, client.join().unwrap())
    }

    #[test]
    fn listener_takes_the_code_when_state_matches_and_skips_other_paths() {
        let (r, replies) =
            run_callback(&["/favicon.ico", "/oauth/callback?code=c%2Bd&state=good"], Duration::from_secs(10));
        assert_eq!(r.unwrap().expose(), "c+d");
        assert!(replies[0].starts_with("HTTP/1.1 404"));
        assert!(replies[1].starts_with("HTTP/1.1 200"));
        assert!(!replies[1].contains("c+d"), "the page must not echo the code");
    }

    #[test]
    fn listener_refuses_a_wrong_state_a_denial_and_a_missing_code() {
        let (r, replies) = run_callback(&["/oauth/callback?code=x&state=evil"], Duration::from_secs(10));
        assert_eq!(r.unwrap_err(), CallbackError::StateMismatch);
        assert!(replies[0].starts_with("HTTP/1.1 400"));
        let (r, _) = run_callback(
            &["/oauth/callback?error=access_denied&error_description=no&state=good"],
            Duration::from_secs(10),
        );
        assert_eq!(r.unwrap_err(), CallbackError::Denied("access_denied: no".into()));
        let (r, _) = run_callback(&["/oauth/callback?state=good"], Duration::from_secs(10));
        assert_eq!(r.unwrap_err(), CallbackError::NoCode);
    }

    #[test]
    fn listener_gives_up_after_its_timeout() {
        let cb = Callback::bind().unwrap();
        let t0 = Instant::now();
        assert_eq!(cb.wait("s", Duration::from_millis(300)).unwrap_err(), CallbackError::Timeout(0));
        assert!(t0.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn token_answer_is_parsed_and_a_missing_key_is_refused() {
        let t = parse_tokens(
            "me",
            r#"{"access_token":{"access_key_id":"ASIA1","secret_access_key":"s3","session_token":"tok"},"expires_in":900,"refresh_token":"r1","token_type":"aws_sigv4"}"#,
        )
        .unwrap();
        assert_eq!(t.access_key_id, "ASIA1");
        assert_eq!(t.secret_access_key.expose(), "s3");
        assert_eq!(t.expires_in, Some(900));
        assert_eq!(t.refresh_token.unwrap().expose(), "r1");
        // The AWS CLI's model of the same answer.
        let t = parse_tokens(
            "me",
            r#"{"tokenOutput":{"accessToken":{"accessKeyId":"ASIA2","secretAccessKey":"s4","sessionToken":"t"},"expiresIn":600,"refreshToken":"r2"}}"#,
        )
        .unwrap();
        assert_eq!((t.access_key_id.as_str(), t.expires_in), ("ASIA2", Some(600)));
        assert_eq!(t.refresh_token.unwrap().expose(), "r2");
        let e = parse_tokens("me", r#"{"access_token":{"access_key_id":"ASIA1"}}"#).unwrap_err();
        assert!(e.to_string().contains("secret_access_key") || format!("{e:?}").contains("secret_access_key"));
    }

    #[test]
    fn refresh_cache_round_trips_0600_in_atmos_place_and_honours_its_end() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let now = time::OffsetDateTime::now_utc();
        let c = RefreshCache {
            refresh_token: Secret::new("rt-1"),
            region: "us-east-1".into(),
            expires_at: now + SESSION_LIFETIME,
            dpop_key: Some(DpopKey::generate()),
        };
        save_cache(home.path(), "dev", "abc", &c).unwrap();
        let file = home.path().join("atmos/aws-webflow/dev-abc/refresh.json");
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(file.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        let back = load_cache(home.path(), "dev", "abc").unwrap();
        assert_eq!(back.refresh_token.expose(), "rt-1");
        assert_eq!(back.dpop_key.as_ref().unwrap().public_jwk(), c.dpop_key.as_ref().unwrap().public_jwk());
        assert!(back.usable(now));
        assert!(!back.usable(now + SESSION_LIFETIME - Duration::from_secs(30)));
        assert!(!format!("{back:?}").contains("rt-1"));
        drop_cache(home.path(), "dev", "abc");
        assert!(load_cache(home.path(), "dev", "abc").is_none());
    }
}
