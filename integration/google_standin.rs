//! A loopback stand-in for the three Google endpoints a federated or user login touches, all on
//! one port, speaking their real wire formats:
//!
//! * Security Token Service, `POST /v1/token` (sts.googleapis.com): the RFC 8693 token exchange
//!   of workload identity federation, form-encoded (or JSON, snake_case or camelCase, as the
//!   REST API also takes it); answers `{"access_token", "issued_token_type", "token_type",
//!   "expires_in"}` and RFC 6749 errors (`{"error", "error_description"}`, HTTP 400).
//! * IAM Credentials, `POST /v1/projects/-/serviceAccounts/{EMAIL}:generateAccessToken`
//!   (iamcredentials.googleapis.com): a bearer token this stand-in issued, a JSON body of
//!   `scope` / `delegates` / `lifetime`; answers `{"accessToken", "expireTime"}` (RFC 3339 in
//!   whole seconds, as google-auth parses it) and Google API errors
//!   (`{"error": {"code", "message", "status"}}`).
//! * The OAuth 2.0 token endpoint, `POST /token` (oauth2.googleapis.com): the refresh-token
//!   grant an `authorized_user` ADC file uses.
//!
//! Also `GET /v1/projects/{ID}` (Cloud Resource Manager's projects.get), because google-auth
//! looks the project up when it loads an `external_account` file with scopes, and for GKE
//! kubeconfigs:
//!
//! * GKE's container API, `GET /v1/projects/{P}/locations/{L}/clusters/{N}` (clusters.get on
//!   container.googleapis.com; also the older `.../zones/{Z}/clusters/{N}`): a bearer token this
//!   stand-in issued; answers the Cluster resource (`name`, `selfLink`, `location`, `endpoint`,
//!   `status`, `masterAuth.clusterCaCertificate` (base64 of the PEM), ...) of a cluster added with
//!   [`Google::add_cluster`], or 404 NOT_FOUND ("Not found: projects/P/locations/L/clusters/N.").
//! * The tokeninfo endpoint, `GET /oauth2/v3/tokeninfo?access_token=T` (also `/tokeninfo`, and a
//!   POSTed form): for a live token it issued, what Google answers (`azp`, `aud`, `sub`, `scope`,
//!   `exp`, `expires_in`, all strings; `email` and `email_verified` for service account and user
//!   tokens); otherwise 400 `{"error": "invalid_token", "error_description": "Invalid Value"}`. A
//!   federated (STS) token has no email: its `sub` is the principal (`principal://...`).
//!
//! Anything else is
//! a 404 in the Google error shape, recorded as "Unknown": among them the regional access
//! boundary lookups (`GET .../allowedLocations` on iamcredentials) google-auth starts in the
//! background once a token is used for an API call, and ignores when they fail.
//!
//! STS answers as Google does: a malformed audience is `invalid_request`, a well-formed one
//! naming no known provider is `invalid_target` ("The target service indicated by the
//! \"audience\" parameters is invalid..."), a subject token it refuses is `invalid_grant`. The
//! messages of those two, of 401 UNAUTHENTICATED, of 403 PERMISSION_DENIED and of 404
//! NOT_FOUND ("Not found; Gaia id not found for email ...") are Google's words; the other
//! descriptions are paraphrases.
//!
//! Tests steer it (which providers, subject tokens, service accounts and users exist; reject
//! every exchange; revoke issued tokens) and inspect it (every request, per-operation counters,
//! and every access token it issued with the principal it stands for, so a test can ask which
//! service account a token came from).
//!
//! The `#[test]`s at the bottom drive it with google-auth 2.62.2 (Python), an independent
//! client, loading credential files of the shapes tfauth writes. What they established about
//! google-auth 2.62.2 (read in its source, checked by the tests; Terraform's provider reads the
//! same files with Google's Go libraries, which may differ):
//!
//! * No URL validation any more: `token_url`, `service_account_impersonation_url` and
//!   `credential_source.url` of an `external_account` file may be `http://127.0.0.1:PORT/...`
//!   and are used as written (no googleapis.com pattern check, no https requirement).
//!   `token_url` is required in practice: absent, it is `None`, not the default STS URL.
//! * `external_account` honours `service_account_impersonation.token_lifetime_seconds` (sent as
//!   `"lifetime": "600s"`, default `"3600s"`; not range-checked client-side), `quota_project_id`
//!   (an `x-goog-user-project` header, also on generateAccessToken), `universe_domain` (only the
//!   Cloud Resource Manager host and whether a regional-access-boundary lookup runs). With
//!   impersonation, the STS exchange asks for scope `https://www.googleapis.com/auth/iam`, the
//!   requested scopes go to generateAccessToken, and every `refresh()` calls generateAccessToken
//!   again (reusing the STS token while it is fresh).
//! * `load_credentials_from_file(path, scopes=...)` of an `external_account` whose audience names
//!   `projects/NUM` exchanges (and impersonates) at once and GETs
//!   `https://cloudresourcemanager.googleapis.com/v1/projects/NUM` through its `request=`
//!   argument (a fresh `requests` transport if none, so offline the load itself raises
//!   `TransportError`). Loaded without scopes it does neither.
//! * `authorized_user`: `token_uri` is IGNORED (google-auth always refreshes against
//!   `https://oauth2.googleapis.com/token`); `token` and `expiry` are read (a future `expiry`
//!   makes the token valid without a refresh); `scopes`, `quota_project_id`, `universe_domain`
//!   are read.
//! * `impersonated_service_account`: only the email is taken from
//!   `service_account_impersonation_url`; generateAccessToken always goes to
//!   `https://iamcredentials.googleapis.com/...`. `delegates`, `scopes` (when the loader gets no
//!   scopes) and `quota_project_id` are read (the latter only for API calls, not sent to
//!   generateAccessToken); there is no lifetime field (always 3600s). `source_credentials` may
//!   be `authorized_user`, `service_account` or `external_account_authorized_user`; an
//!   `external_account` source is refused (`InvalidType`).
//! * A refused exchange surfaces as `google.auth.exceptions.OAuthError` (a `GoogleAuthError`, not
//!   a `RefreshError`) with the message `Error code invalid_grant: <error_description>` and the
//!   body as second argument; a refused generateAccessToken as
//!   `RefreshError("Unable to acquire impersonated credentials", <body>)`; a refused
//!   refresh-token grant as `RefreshError("invalid_grant: Bad Request", {...})`.
//!
//! To reach the stand-in where google-auth insists on `https://*.googleapis.com`, the Python
//! checks give google-auth a `requests` session that sends those requests here over plain http,
//! naming the host they were meant for in [`ORIGINAL_HOST_HEADER`] (see [`Request::host`]).

use std::collections::{HashMap, HashSet};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::wire::{self, Resp, percent_decode, write_response};

pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
pub const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";
/// The scope google-auth asks STS for when it will impersonate a service account.
pub const IAM_SCOPE: &str = "https://www.googleapis.com/auth/iam";
/// Set by the Python checks' transport when it diverts a `https://*.googleapis.com` request here.
pub const ORIGINAL_HOST_HEADER: &str = "x-standin-original-host";
/// The provider [`GoogleOpts::default`] knows.
pub const DEFAULT_AUDIENCE: &str =
    "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/github/providers/actions";

/// The STS audience of a workload identity pool provider.
pub fn provider_audience(project_number: &str, pool: &str, provider: &str) -> String {
    format!(
        "//iam.googleapis.com/projects/{project_number}/locations/global/workloadIdentityPools/{pool}/providers/{provider}"
    )
}

/// The IAM principal a federated token stands for: the provider's pool and the JWT's `sub`.
pub fn federated_principal(audience: &str, subject: &str) -> String {
    let pool = audience.trim_start_matches("//").split("/providers/").next().unwrap_or("");
    format!("principal://{pool}/subject/{subject}")
}

/// An unsigned JWT with these claims (STS here checks shape, `exp` and `sub`, not signatures).
pub fn fake_jwt(claims: &Value) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "standin"});
    format!(
        "{}.{}.c3RhbmRpbi1zaWduYXR1cmU",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    )
}

/// A service account generateAccessToken may mint tokens for.
#[derive(Clone, Debug)]
pub struct ServiceAccount {
    pub email: String,
    /// Principals ([`Issued::principal`] of the bearer) allowed to impersonate it; empty: any
    /// live token this stand-in issued.
    pub callers: Vec<String>,
    /// When set, the exact delegate chain (emails) a request must name; otherwise not checked.
    pub delegates: Option<Vec<String>>,
}

impl ServiceAccount {
    pub fn new(email: &str) -> ServiceAccount {
        ServiceAccount { email: email.into(), callers: Vec::new(), delegates: None }
    }
    pub fn callers(mut self, callers: &[&str]) -> ServiceAccount {
        self.callers = callers.iter().map(|c| c.to_string()).collect();
        self
    }
    pub fn delegates(mut self, chain: &[&str]) -> ServiceAccount {
        self.delegates = Some(chain.iter().map(|c| c.to_string()).collect());
        self
    }
}

/// A user with a refresh token, as in an `authorized_user` ADC file.
#[derive(Clone, Debug)]
pub struct User {
    pub account: String,
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    /// What the refresh token was granted; a `scope` asking for more is `invalid_scope`.
    pub scopes: Vec<String>,
}

impl User {
    pub fn new(account: &str, client_id: &str, client_secret: &str, refresh_token: &str) -> User {
        User {
            account: account.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            refresh_token: refresh_token.into(),
            scopes: vec![
                "openid".into(),
                "https://www.googleapis.com/auth/userinfo.email".into(),
                CLOUD_PLATFORM.into(),
            ],
        }
    }
}

/// How the stand-in behaves. `GoogleOpts::default()`: one provider ([`DEFAULT_AUDIENCE`]), any
/// JWT, one service account anyone may impersonate, one user, one project.
#[derive(Clone, Debug)]
pub struct GoogleOpts {
    /// Audiences (providers) STS knows; another well-formed one is `invalid_target`.
    pub audiences: Vec<String>,
    /// Every exchange that gets past request validation answers 400 `invalid_grant`.
    pub reject_exchanges: bool,
    /// Lifetime of STS tokens (`expires_in`).
    pub sts_token_ttl: Duration,
    pub service_accounts: Vec<ServiceAccount>,
    /// Longest generateAccessToken `lifetime` (Google's ceiling is 12h, with the org policy).
    pub max_lifetime: Duration,
    pub users: Vec<User>,
    /// Lifetime of refresh-grant tokens (`expires_in`; Google says 3599).
    pub oauth_token_ttl: Duration,
    /// (project number, project id) pairs projects.get knows.
    pub projects: Vec<(String, String)>,
}

impl Default for GoogleOpts {
    fn default() -> Self {
        GoogleOpts {
            audiences: vec![DEFAULT_AUDIENCE.into()],
            reject_exchanges: false,
            sts_token_ttl: Duration::from_secs(3600),
            service_accounts: vec![ServiceAccount::new("terraform@acme-dev.iam.gserviceaccount.com")],
            max_lifetime: Duration::from_secs(43200),
            users: vec![User::new(
                "alice@example.com",
                "standin-adc.apps.googleusercontent.com",
                "standin-client-secret",
                "1//standin-refresh-token-alice",
            )],
            oauth_token_ttl: Duration::from_secs(3599),
            projects: vec![("123456789012".into(), "acme-dev".into())],
        }
    }
}

/// One request the stand-in answered.
#[derive(Clone, Debug)]
pub struct Request {
    /// "Exchange" (STS), "GenerateAccessToken", "OAuthToken" (`/token`), "GetProject",
    /// "GetCluster" (GKE clusters.get), "TokenInfo" or "Unknown".
    pub op: String,
    /// The path without the query, percent-decoded.
    pub path: String,
    /// The host the client meant: [`ORIGINAL_HOST_HEADER`] if set, else the `Host` header.
    pub host: String,
    /// Header names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The parameters as a JSON object: form fields (strings; a JSON STS body normalised to
    /// the snake_case form names), the generateAccessToken JSON body, tokeninfo's query or form
    /// (strings), or `Null`.
    pub params: Value,
    pub body: String,
    pub status: u16,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::wire::header(&self.headers, name)
    }
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).and_then(Value::as_str)
    }
    /// The bearer token of the `Authorization` header.
    pub fn bearer(&self) -> Option<&str> {
        bearer_of(self.header("authorization"))
    }
}

/// An access token the stand-in issued.
#[derive(Clone, Debug, PartialEq)]
pub struct Issued {
    /// The operation that issued it: "Exchange", "GenerateAccessToken" or "OAuthToken".
    pub op: String,
    pub access_token: String,
    /// Who it stands for: `principal://iam.googleapis.com/projects/.../subject/SUB` (STS), the
    /// service account's email (generateAccessToken) or the user's account (refresh grant).
    pub principal: String,
    /// Who asked for it: the bearer's principal (generateAccessToken); the audience (STS); the
    /// OAuth client id (refresh grant).
    pub via: String,
    pub scopes: Vec<String>,
    /// The delegate chain (emails) a generateAccessToken named.
    pub delegates: Vec<String>,
    /// Seconds since the epoch.
    pub expires_at: u64,
}

/// A GKE cluster clusters.get knows (see [`Google::add_cluster`]).
#[derive(Clone, Debug)]
struct GkeCluster {
    project: String,
    location: String,
    name: String,
    endpoint: String,
    ca_pem: Vec<u8>,
}

struct State {
    opts: GoogleOpts,
    clusters: Vec<GkeCluster>,
    port: u16,
    serial: u64,
    counts: HashMap<String, usize>,
    log: Vec<Request>,
    issued: Vec<Issued>,
    revoked: HashSet<String>,
}

impl State {
    fn next(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    /// The issued token `token`, if it is still good.
    fn live(&self, token: &str) -> Option<&Issued> {
        let now = epoch().as_secs();
        self.issued.iter().find(|i| i.access_token == token && i.expires_at > now && !self.revoked.contains(token))
    }
}

/// The stand-in server; stopped when dropped.
pub struct Google {
    port: u16,
    state: Arc<Mutex<State>>,
    _server: crate::wire::Server,
}

impl Google {
    pub fn start(opts: GoogleOpts) -> Google {
        let server = crate::wire::Server::bind();
        let port = server.port;
        let state = Arc::new(Mutex::new(State {
            opts,
            clusters: Vec::new(),
            port,
            serial: 0,
            counts: HashMap::new(),
            log: Vec::new(),
            issued: Vec::new(),
            revoked: HashSet::new(),
        }));
        let st = state.clone();
        let server = server.serve(move |stream| {
            let st = st.clone();
            std::thread::spawn(move || serve(stream, &st));
        });
        Google { port, state, _server: server }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    /// The STS token exchange (`token_url` of an external_account file).
    pub fn sts_token_url(&self) -> String {
        format!("{}/v1/token", self.url())
    }
    /// The OAuth 2.0 token endpoint (`token_uri` of an authorized_user file).
    pub fn oauth_token_url(&self) -> String {
        format!("{}/token", self.url())
    }
    /// generateAccessToken for `email` (`service_account_impersonation_url`).
    pub fn generate_access_token_url(&self, email: &str) -> String {
        format!("{}/v1/projects/-/serviceAccounts/{email}:generateAccessToken", self.url())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A GKE cluster clusters.get answers for: `endpoint` is `host:port` (GKE's `endpoint` is
    /// an address without a scheme; clients put `https://` in front), `ca_pem` the cluster CA
    /// (answered base64-encoded, as `masterAuth.clusterCaCertificate`). Adding a cluster again
    /// under the same project, location and name replaces it.
    pub fn add_cluster(&self, project: &str, location: &str, name: &str, endpoint: &str, ca_pem: &[u8]) {
        let mut s = self.lock();
        s.clusters.retain(|c| (c.project.as_str(), c.location.as_str(), c.name.as_str()) != (project, location, name));
        s.clusters.push(GkeCluster {
            project: project.into(),
            location: location.into(),
            name: name.into(),
            endpoint: endpoint.into(),
            ca_pem: ca_pem.to_vec(),
        });
    }
    /// GKE's clusters.get URL of a cluster (what gcloud's `get-credentials` asks).
    pub fn cluster_url(&self, project: &str, location: &str, name: &str) -> String {
        format!("{}/v1/projects/{project}/locations/{location}/clusters/{name}", self.url())
    }
    /// The tokeninfo endpoint (`?access_token=T`).
    pub fn tokeninfo_url(&self) -> String {
        format!("{}/oauth2/v3/tokeninfo", self.url())
    }

    /// From now on every exchange answers (or stops answering) 400 `invalid_grant`.
    pub fn set_reject_exchanges(&self, reject: bool) {
        self.lock().opts.reject_exchanges = reject;
    }
    /// Every access token issued so far stops working (401 wherever it is presented).
    pub fn revoke_access_tokens(&self) {
        let mut s = self.lock();
        let all: Vec<String> = s.issued.iter().map(|i| i.access_token.clone()).collect();
        s.revoked.extend(all);
    }

    /// How many requests reached `op` (names as in [`Request::op`]), errors included.
    pub fn count(&self, op: &str) -> usize {
        self.lock().counts.get(op).copied().unwrap_or(0)
    }
    pub fn requests_for(&self, op: &str) -> Vec<Request> {
        self.lock().log.iter().filter(|r| r.op == op).cloned().collect()
    }
    /// Every access token handed out, in order.
    pub fn issued(&self) -> Vec<Issued> {
        self.lock().issued.clone()
    }
    /// What the stand-in knows about an access token it issued.
    pub fn issued_token(&self, access_token: &str) -> Option<Issued> {
        self.lock().issued.iter().find(|i| i.access_token == access_token).cloned()
    }
    /// Who an access token stands for (see [`Issued::principal`]).
    pub fn principal_of(&self, access_token: &str) -> Option<String> {
        self.issued_token(access_token).map(|i| i.principal)
    }
    /// The service account an access token was minted for, if generateAccessToken minted it.
    pub fn service_account_of(&self, access_token: &str) -> Option<String> {
        self.issued_token(access_token).filter(|i| i.op == "GenerateAccessToken").map(|i| i.principal)
    }
}

// ---------------------------------------------------------------------------------------
// HTTP (one request per connection, `Connection: close`)

struct HttpRequest {
    method: String,
    path: String,
    /// The query string, undecoded (empty when there is none).
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        crate::wire::header(&self.headers, name)
    }
}

fn read_request(stream: &TcpStream) -> Option<HttpRequest> {
    let crate::wire::RawRequest { method, target, headers, body } = crate::wire::read_raw(stream)?;
    let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
    Some(HttpRequest { method, path: percent_decode(path, false), query: query.to_string(), headers, body })
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn b64url(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Standard or URL-safe base64, padded or not.
fn b64decode(s: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'+' => 62,
            b'/' => 63,
            _ => B64.iter().position(|&x| x == c)? as u32,
        };
        bits = bits << 6 | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    Some(out)
}

fn bearer_of(authorization: Option<&str>) -> Option<&str> {
    let a = authorization?;
    let (scheme, token) = a.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn epoch() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

/// RFC 3339 in whole seconds, UTC (`2026-11-22T12:34:56Z`), as generateAccessToken writes it.
pub fn rfc3339(secs: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(secs as i64).unwrap();
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

fn json_resp(status: u16, body: Value) -> Resp {
    Resp {
        status,
        headers: vec![("Content-Type".into(), "application/json; charset=utf-8".into())],
        body: serde_json::to_vec_pretty(&body).unwrap(),
    }
}

/// An RFC 6749 error (STS, the OAuth token endpoint).
fn oauth_error(status: u16, error: &str, description: &str) -> Resp {
    json_resp(status, json!({"error": error, "error_description": description}))
}

/// A Google API error (IAM Credentials, Resource Manager).
fn api_error(code: u16, status: &str, message: &str) -> Resp {
    let mut r = json_resp(code, json!({"error": {"code": code, "message": message, "status": status}}));
    if code == 401 {
        r.headers.push(("WWW-Authenticate".into(), "Bearer realm=\"https://accounts.google.com/\"".into()));
    }
    r
}

fn unauthenticated() -> Resp {
    api_error(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
    )
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    stream.set_nonblocking(false).ok();
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let Some(req) = read_request(&stream) else { return };
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    let (op, params, resp) = route(&req, &mut s);
    *s.counts.entry(op.to_string()).or_insert(0) += 1;
    let host = req.header(ORIGINAL_HOST_HEADER).or(req.header("host")).unwrap_or("").to_string();
    s.log.push(Request {
        op: op.to_string(),
        path: req.path.clone(),
        host,
        headers: req.headers.clone(),
        params,
        body: String::from_utf8_lossy(&req.body).into_owned(),
        status: resp.status,
    });
    drop(s);
    write_response(&stream, &resp);
}

fn route(req: &HttpRequest, s: &mut State) -> (&'static str, Value, Resp) {
    let path = req.path.as_str();
    if req.method == "POST" && path == "/v1/token" {
        let (params, resp) = exchange(s, req);
        return ("Exchange", params, resp);
    }
    if req.method == "POST" && path == "/token" {
        let form = wire::parse_pairs(&String::from_utf8_lossy(&req.body), true);
        let params = Value::Object(form.iter().map(|(k, v)| (k.clone(), json!(v))).collect());
        return ("OAuthToken", params, oauth_token(s, req, &form));
    }
    if let Some(email) =
        path.strip_prefix("/v1/projects/-/serviceAccounts/").and_then(|r| r.strip_suffix(":generateAccessToken"))
        && req.method == "POST"
    {
        let body = serde_json::from_slice::<Value>(&req.body).unwrap_or(Value::Null);
        return ("GenerateAccessToken", body.clone(), generate_access_token(s, req, email, &body));
    }
    if let Some(id) = path.strip_prefix("/v1/projects/").filter(|id| !id.contains('/') && *id != "-")
        && req.method == "GET"
    {
        return ("GetProject", Value::Null, get_project(s, req, id));
    }
    if let Some((project, location, name)) = gke_cluster_path(path)
        && req.method == "GET"
    {
        return ("GetCluster", Value::Null, get_cluster(s, req, project, location, name));
    }
    if matches!(path, "/oauth2/v3/tokeninfo" | "/tokeninfo") && matches!(req.method.as_str(), "GET" | "POST") {
        let mut pairs = wire::parse_pairs(&req.query, true);
        if req.method == "POST" {
            pairs.extend(wire::parse_pairs(&String::from_utf8_lossy(&req.body), true));
        }
        let params = Value::Object(pairs.iter().map(|(k, v)| (k.clone(), json!(v))).collect());
        return ("TokenInfo", params, token_info(s, &pairs));
    }
    let msg = format!("The requested URL {path} was not found on this server.");
    ("Unknown", Value::Null, api_error(404, "NOT_FOUND", &msg))
}

// ---------------------------------------------------------------------------------------
// STS

/// JSON field names of the REST API (`grantType`) and their form names (`grant_type`).
const STS_FIELDS: [(&str, &str); 8] = [
    ("grantType", "grant_type"),
    ("audience", "audience"),
    ("scope", "scope"),
    ("requestedTokenType", "requested_token_type"),
    ("subjectToken", "subject_token"),
    ("subjectTokenType", "subject_token_type"),
    ("options", "options"),
    ("resource", "resource"),
];

/// The request's fields by form name, whether it came as a form or as JSON.
fn sts_params(req: &HttpRequest) -> Result<Map<String, Value>, Resp> {
    let body = String::from_utf8_lossy(&req.body);
    let is_json = req.header("content-type").is_some_and(|c| c.starts_with("application/json"));
    if !is_json {
        return Ok(wire::parse_pairs(&body, true).into_iter().map(|(k, v)| (k, Value::String(v))).collect());
    }
    let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(&body) else {
        return Err(oauth_error(400, "invalid_request", "Invalid JSON payload received."));
    };
    let mut out = Map::new();
    for (k, v) in doc {
        let name = STS_FIELDS.iter().find(|(camel, _)| *camel == k).map_or(k.clone(), |(_, snake)| snake.to_string());
        let v = match v {
            Value::String(s) => Value::String(s),
            other => Value::String(other.to_string()),
        };
        out.insert(name, v);
    }
    Ok(out)
}

fn audience_well_formed(a: &str) -> bool {
    let parts: Vec<&str> = a.split('/').collect();
    // "", "", iam.googleapis.com, projects, NUM, locations, global, workloadIdentityPools, POOL, providers, PROV
    let workload = parts.len() == 11
        && parts[..4] == ["", "", "iam.googleapis.com", "projects"]
        && !parts[4].is_empty()
        && parts[4].bytes().all(|c| c.is_ascii_digit())
        && parts[5] == "locations"
        && parts[7] == "workloadIdentityPools"
        && parts[9] == "providers"
        && [6, 8, 10].iter().all(|&i| !parts[i].is_empty());
    let workforce = parts.len() == 9
        && parts[..4] == ["", "", "iam.googleapis.com", "locations"]
        && parts[5] == "workforcePools"
        && parts[7] == "providers"
        && [4, 6, 8].iter().all(|&i| !parts[i].is_empty());
    workload || workforce
}

/// The claims of a JWT-shaped token.
fn jwt_claims(token: &str) -> Option<Map<String, Value>> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 || parts[2].is_empty() {
        return None;
    }
    let header: Value = serde_json::from_slice(&b64decode(parts[0])?).ok()?;
    header.as_object()?;
    match serde_json::from_slice(&b64decode(parts[1])?).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

fn exchange(s: &mut State, req: &HttpRequest) -> (Value, Resp) {
    match sts_params(req) {
        Ok(p) => {
            let resp = exchange_answer(s, &p);
            (Value::Object(p), resp)
        }
        Err(r) => (Value::Null, r),
    }
}

fn exchange_answer(s: &mut State, p: &Map<String, Value>) -> Resp {
    let get = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("");
    let bad = |msg: &str| oauth_error(400, "invalid_request", msg);
    match get("grant_type") {
        "" => {
            return bad(
                "Invalid value for \"grant_type\". Supported value: urn:ietf:params:oauth:grant-type:token-exchange.",
            );
        }
        TOKEN_EXCHANGE_GRANT => {}
        other => return oauth_error(400, "unsupported_grant_type", &format!("Unsupported grant type: {other}")),
    }
    if get("requested_token_type") != ACCESS_TOKEN_TYPE {
        return bad(
            "Invalid value for \"requested_token_type\". Supported value: urn:ietf:params:oauth:token-type:access_token.",
        );
    }
    let audience = get("audience");
    if !audience_well_formed(audience) {
        return bad(
            "Invalid value for \"audience\". This value should be the full resource name of the Identity Provider. See https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token for the list of possible formats.",
        );
    }
    let token_type = get("subject_token_type");
    if token_type != JWT_TOKEN_TYPE && token_type != ID_TOKEN_TYPE {
        return bad(
            "Invalid value for \"subject_token_type\". Supported values: urn:ietf:params:oauth:token-type:jwt, urn:ietf:params:oauth:token-type:id_token.",
        );
    }
    let subject_token = get("subject_token");
    if subject_token.is_empty() {
        return bad("Missing required parameter: subject_token.");
    }
    let options = get("options");
    if !options.is_empty() {
        let parsed = serde_json::from_str::<Value>(options)
            .or_else(|_| serde_json::from_str::<Value>(&percent_decode(options, false)));
        if !matches!(parsed, Ok(Value::Object(_))) {
            return bad("Invalid value for \"options\": it must be a URL-encoded JSON object.");
        }
    }
    if !s.opts.audiences.iter().any(|a| a == audience) {
        return oauth_error(
            400,
            "invalid_target",
            "The target service indicated by the \"audience\" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn't exist.",
        );
    }
    if s.opts.reject_exchanges {
        return oauth_error(400, "invalid_grant", "The subject token was rejected by the stand-in (reject_exchanges).");
    }
    let Some(claims) = jwt_claims(subject_token) else {
        return oauth_error(400, "invalid_grant", "Unable to parse the ID Token.");
    };
    let now = epoch().as_secs();
    if claims.get("exp").and_then(Value::as_u64).is_some_and(|exp| exp <= now) {
        return oauth_error(400, "invalid_grant", "ID Token issued at an earlier time has expired.");
    }
    let subject = claims.get("sub").and_then(Value::as_str).unwrap_or("");
    if subject.is_empty() {
        return oauth_error(400, "invalid_grant", "The mapped attribute 'google.subject' must not be empty.");
    }
    let n = s.next();
    let token = format!("ya29.d.standin{}-sts-{n:06}", s.port);
    let ttl = s.opts.sts_token_ttl.as_secs();
    s.issued.push(Issued {
        op: "Exchange".into(),
        access_token: token.clone(),
        principal: federated_principal(audience, subject),
        via: audience.into(),
        scopes: get("scope").split_whitespace().map(String::from).collect(),
        delegates: Vec::new(),
        expires_at: now + ttl,
    });
    json_resp(
        200,
        json!({
            "access_token": token,
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": "Bearer",
            "expires_in": ttl
        }),
    )
}

// ---------------------------------------------------------------------------------------
// IAM Credentials

/// A protobuf Duration in JSON (`"600s"`, `"1.5s"`).
fn parse_duration(v: &Value) -> Option<Duration> {
    let secs: f64 = v.as_str()?.strip_suffix('s')?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

fn generate_access_token(s: &mut State, req: &HttpRequest, email: &str, body: &Value) -> Resp {
    let Some(caller) = bearer_of(req.header("authorization")).and_then(|t| s.live(t)).cloned() else {
        return unauthenticated();
    };
    let invalid = |m: &str| api_error(400, "INVALID_ARGUMENT", m);
    if !body.is_object() {
        return invalid("Invalid JSON payload received.");
    }
    let scopes: Vec<String> = match &body["scope"] {
        Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_string) => {
            a.iter().filter_map(|x| x.as_str().map(String::from)).collect()
        }
        _ => return invalid("Scope required."),
    };
    let lifetime = match body.get("lifetime").filter(|v| !v.is_null()) {
        None => Duration::from_secs(3600),
        Some(v) => match parse_duration(v) {
            Some(d) if d.as_secs() >= 1 && d <= s.opts.max_lifetime => d,
            Some(d) => {
                return invalid(&format!(
                    "The lifetime {}s must be between 1s and {}s.",
                    d.as_secs(),
                    s.opts.max_lifetime.as_secs()
                ));
            }
            None => {
                return invalid(&format!(
                    "Invalid value at 'lifetime' (type.googleapis.com/google.protobuf.Duration), {v}"
                ));
            }
        },
    };
    let mut delegates = Vec::new();
    for d in body.get("delegates").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]) {
        match d.as_str().and_then(|d| d.strip_prefix("projects/-/serviceAccounts/")) {
            Some(e) if !e.is_empty() => delegates.push(e.to_string()),
            _ => return invalid(&format!("Invalid delegate {d}: use projects/-/serviceAccounts/EMAIL.")),
        }
    }
    let Some(sa) = s.opts.service_accounts.iter().find(|a| a.email == email).cloned() else {
        return api_error(404, "NOT_FOUND", &format!("Not found; Gaia id not found for email {email}"));
    };
    let allowed = sa.callers.is_empty() || sa.callers.contains(&caller.principal);
    let chain_ok = sa.delegates.as_ref().is_none_or(|chain| *chain == delegates);
    if !allowed || !chain_ok {
        const DENIED: &str =
            "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).";
        return json_resp(
            403,
            json!({"error": {
                "code": 403,
                "message": DENIED,
                "status": "PERMISSION_DENIED",
                "details": [{
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "IAM_PERMISSION_DENIED",
                    "domain": "iam.googleapis.com",
                    "metadata": {"permission": "iam.serviceAccounts.getAccessToken"}
                }]
            }}),
        );
    }
    let n = s.next();
    let token = format!("ya29.c.standin{}-sa-{n:06}", s.port);
    let expires_at = epoch().as_secs() + lifetime.as_secs();
    s.issued.push(Issued {
        op: "GenerateAccessToken".into(),
        access_token: token.clone(),
        principal: sa.email.clone(),
        via: caller.principal.clone(),
        scopes,
        delegates,
        expires_at,
    });
    json_resp(200, json!({"accessToken": token, "expireTime": rfc3339(expires_at)}))
}

// ---------------------------------------------------------------------------------------
// OAuth 2.0 token endpoint (refresh-token grant)

fn oauth_token(s: &mut State, req: &HttpRequest, form: &[(String, String)]) -> Resp {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    // Client credentials in the body or, as RFC 6749 also allows, in Basic auth.
    let (mut client_id, mut client_secret) = (get("client_id"), get("client_secret"));
    if let Some(basic) = req.header("authorization").and_then(|a| a.strip_prefix("Basic "))
        && let Some((id, secret)) = b64decode(basic.trim())
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| t.split_once(':').map(|(i, s)| (percent_decode(i, true), percent_decode(s, true))))
    {
        (client_id, client_secret) = (id, secret);
    }
    match get("grant_type").as_str() {
        "refresh_token" => {}
        "" => return oauth_error(400, "invalid_request", "Required parameter is missing: grant_type"),
        other => return oauth_error(400, "unsupported_grant_type", &format!("Invalid grant_type: {other}")),
    }
    if client_id.is_empty() {
        return oauth_error(400, "invalid_request", "Could not determine client ID from request.");
    }
    if !s.opts.users.iter().any(|u| u.client_id == client_id) {
        return oauth_error(401, "invalid_client", "The OAuth client was not found.");
    }
    if !s.opts.users.iter().any(|u| u.client_id == client_id && u.client_secret == client_secret) {
        return oauth_error(401, "invalid_client", "Unauthorized");
    }
    let refresh = get("refresh_token");
    let Some(user) = s.opts.users.iter().find(|u| u.client_id == client_id && u.refresh_token == refresh).cloned()
    else {
        return oauth_error(400, "invalid_grant", "Bad Request");
    };
    let asked: Vec<String> = get("scope").split_whitespace().map(String::from).collect();
    if asked.iter().any(|a| !user.scopes.contains(a)) {
        return oauth_error(400, "invalid_scope", "Bad Request");
    }
    let scopes = if asked.is_empty() { user.scopes.clone() } else { asked };
    let n = s.next();
    let token = format!("ya29.a0standin{}-user-{n:06}", s.port);
    let ttl = s.opts.oauth_token_ttl.as_secs();
    s.issued.push(Issued {
        op: "OAuthToken".into(),
        access_token: token.clone(),
        principal: user.account.clone(),
        via: client_id,
        scopes: scopes.clone(),
        delegates: Vec::new(),
        expires_at: epoch().as_secs() + ttl,
    });
    let mut answer =
        json!({"access_token": token, "expires_in": ttl, "scope": scopes.join(" "), "token_type": "Bearer"});
    // Google adds an OpenID Connect id_token when `openid` is among the scopes granted; it
    // names the user (`email` with the userinfo.email scope). Its signature is a stand-in's.
    if scopes.iter().any(|x| x == "openid") {
        let now = epoch().as_secs();
        let mut claims = json!({
            "iss": "https://accounts.google.com",
            "aud": user.client_id,
            "azp": user.client_id,
            "sub": format!("1{:020}", n),
            "iat": now,
            "exp": now + ttl,
        });
        if scopes.iter().any(|x| x.ends_with("/auth/userinfo.email") || x == "email") {
            claims["email"] = json!(user.account);
            claims["email_verified"] = json!(true);
        }
        let header = json!({"alg": "RS256", "kid": "standin", "typ": "JWT"});
        answer["id_token"] = json!(format!(
            "{}.{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes()),
            b64url(b"standin-signature")
        ));
    }
    json_resp(200, answer)
}

// ---------------------------------------------------------------------------------------
// Cloud Resource Manager projects.get (v1)

fn get_project(s: &mut State, req: &HttpRequest, id: &str) -> Resp {
    if bearer_of(req.header("authorization")).and_then(|t| s.live(t)).is_none() {
        return unauthenticated();
    }
    match s.opts.projects.iter().find(|(num, pid)| num == id || pid == id) {
        Some((num, pid)) => json_resp(
            200,
            json!({
                "projectNumber": num, "projectId": pid, "lifecycleState": "ACTIVE", "name": pid,
                "createTime": "2020-01-01T00:00:00.000Z", "parent": {"type": "organization", "id": "1000000001"}
            }),
        ),
        None => api_error(403, "PERMISSION_DENIED", "The caller does not have permission"),
    }
}

// ---------------------------------------------------------------------------------------
// GKE clusters.get (container.googleapis.com v1)

/// (project, location, name) of `/v1/projects/P/locations/L/clusters/N` (or `.../zones/Z/...`).
fn gke_cluster_path(path: &str) -> Option<(&str, &str, &str)> {
    let segs: Vec<&str> = path.strip_prefix("/v1/")?.split('/').collect();
    match segs.as_slice() {
        ["projects", p, "locations" | "zones", l, "clusters", n] if ![p, l, n].iter().any(|x| x.is_empty()) => {
            Some((p, l, n))
        }
        _ => None,
    }
}

/// FNV-1a of `seed`: stable made-up ids.
fn fnv(seed: &str) -> u64 {
    seed.bytes().fold(0xcbf29ce484222325, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

/// A numeric id derived from `seed`, shaped like Google's 21-digit account ids.
fn numeric_id(seed: &str) -> String {
    format!("1{:020}", fnv(seed))
}

/// Standard base64, padded (`masterAuth.clusterCaCertificate`).
fn b64std(data: &[u8]) -> String {
    let mut out = b64url(data).replace('-', "+").replace('_', "/");
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

fn get_cluster(s: &mut State, req: &HttpRequest, project: &str, location: &str, name: &str) -> Resp {
    if bearer_of(req.header("authorization")).and_then(|t| s.live(t)).is_none() {
        return unauthenticated();
    }
    let Some(c) = s.clusters.iter().find(|c| c.project == project && c.location == location && c.name == name) else {
        let msg = format!("Not found: projects/{project}/locations/{location}/clusters/{name}.");
        return api_error(404, "NOT_FOUND", &msg);
    };
    let ca = b64std(&c.ca_pem);
    // A zone (us-central1-a) or a region (us-central1): `locations` lists the zones nodes run in.
    let zonal = location.matches('-').count() >= 2;
    let zones: Vec<String> = if zonal {
        vec![location.to_string()]
    } else {
        ["a", "b", "c"].iter().map(|z| format!("{location}-{z}")).collect()
    };
    let host = c.endpoint.rsplit_once(':').map_or(c.endpoint.as_str(), |(h, _)| h);
    let self_link =
        format!("https://container.googleapis.com/v1/projects/{project}/locations/{location}/clusters/{name}");
    json_resp(
        200,
        json!({
            "name": c.name,
            "nodeConfig": {"machineType": "e2-medium", "diskSizeGb": 100, "imageType": "COS_CONTAINERD"},
            "masterAuth": {"clusterCaCertificate": ca},
            "loggingService": "logging.googleapis.com/kubernetes",
            "monitoringService": "monitoring.googleapis.com/kubernetes",
            "network": "default",
            "clusterIpv4Cidr": "10.8.0.0/14",
            "subnetwork": "default",
            "locations": zones,
            "selfLink": self_link,
            "zone": location,
            "endpoint": c.endpoint,
            "initialClusterVersion": "1.29.1-gke.1589000",
            "currentMasterVersion": "1.29.1-gke.1589000",
            "currentNodeVersion": "1.29.1-gke.1589000",
            "createTime": "2026-01-01T00:00:00+00:00",
            "status": "RUNNING",
            "servicesIpv4Cidr": "34.118.224.0/20",
            "location": location,
            "id": (0..4).map(|i| format!("{:016x}", fnv(&format!("{i}{self_link}")))).collect::<String>(),
            "workloadIdentityConfig": {"workloadPool": format!("{project}.svc.id.goog")},
            "privateClusterConfig": {"publicEndpoint": host},
            "controlPlaneEndpointsConfig": {
                "ipEndpointsConfig": {"enabled": true, "enablePublicEndpoint": true, "publicEndpoint": host}
            },
        }),
    )
}

// ---------------------------------------------------------------------------------------
// tokeninfo (oauth2.googleapis.com)

fn token_info(s: &mut State, pairs: &[(String, String)]) -> Resp {
    let token = pairs.iter().find(|(k, _)| k == "access_token").map(|(_, v)| v.as_str()).unwrap_or("");
    if token.is_empty() {
        return oauth_error(400, "invalid_request", "Either access_token, id_token, or token_handle required");
    }
    let Some(i) = s.live(token).cloned() else {
        return oauth_error(400, "invalid_token", "Invalid Value");
    };
    let now = epoch().as_secs();
    let mut body = match i.op.as_str() {
        // A service account's token names its OAuth client (the account's unique id).
        "GenerateAccessToken" => {
            let id = numeric_id(&i.principal);
            json!({"azp": id, "aud": id, "sub": id})
        }
        // A user's token names the OAuth client it was granted to.
        "OAuthToken" => json!({"azp": i.via, "aud": i.via, "sub": numeric_id(&i.principal)}),
        // A federated token: no Google account behind it.
        _ => json!({"azp": i.via, "aud": i.via, "sub": i.principal}),
    };
    body["scope"] = json!(i.scopes.join(" "));
    body["exp"] = json!(i.expires_at.to_string());
    body["expires_in"] = json!(i.expires_at.saturating_sub(now).to_string());
    if i.op != "Exchange" {
        body["email"] = json!(i.principal);
        body["email_verified"] = json!("true");
    }
    if i.op == "OAuthToken" {
        body["access_type"] = json!("offline");
    }
    json_resp(200, body)
}

// ---------------------------------------------------------------------------------------
// Faithfulness: google-auth (Google's own Python client library) against the stand-in.

/// The Python prelude of google-auth checks: `routed()` sends google-auth's fixed
/// `https://*.googleapis.com` URLs to the stand-in named by `argv[1]`, over http.
pub const PY_PRELUDE: &str = r#"
import datetime, json, sys, urllib.parse
import requests, requests.adapters
import google.auth, google.auth.transport.requests
from google.auth import exceptions
CLOUD = "https://www.googleapis.com/auth/cloud-platform"
STANDIN = urllib.parse.urlsplit(sys.argv[1]).netloc

class ToStandin(requests.adapters.HTTPAdapter):
    """Sends https://... (google-auth's fixed googleapis.com URLs) to the stand-in over http."""
    def send(self, request, **kw):
        u = urllib.parse.urlsplit(request.url)
        request.headers["X-Standin-Original-Host"] = u.hostname
        request.url = urllib.parse.urlunsplit(("http", STANDIN, u.path, u.query, ""))
        return super().send(request, **kw)

def routed():
    s = requests.Session()
    s.mount("https://", ToStandin())
    return google.auth.transport.requests.Request(session=s)

def plain():
    return google.auth.transport.requests.Request()

def write(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f)
    return path

def seconds_left(expiry):
    # google-auth keeps naive UTC datetimes.
    return (expiry - datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)).total_seconds()

def report(creds, project=None):
    return {"type": type(creds).__module__ + "." + type(creds).__name__, "token": creds.token,
            "left": seconds_left(creds.expiry), "valid": creds.valid, "project": project,
            "sa": getattr(creds, "service_account_email", None)}

def failure(fn):
    try:
        fn()
    except exceptions.GoogleAuthError as e:
        return {"class": type(e).__name__, "refresh_error": isinstance(e, exceptions.RefreshError), "args": [str(a) for a in e.args]}
    raise AssertionError("did not fail")
"#;

#[cfg(test)]
mod google_auth_checks {
    use super::*;
    use crate::support::{github_token_endpoint, venv_bin};
    use std::process::Command;

    const SA: &str = "terraform@acme-dev.iam.gserviceaccount.com";
    const HOP: &str = "hop@acme-dev.iam.gserviceaccount.com";
    const SUBJECT: &str = "repo:acme/infra-live:ref:refs/heads/main";
    /// The `sub` of the token `support::github_token_endpoint` hands out.
    const GITHUB_SUBJECT: &str = "repo:acme/infra-live:ref:refs/heads/main";
    const BEARER: &str = "google-standin-request-token";

    /// Runs `script` (after [`PRELUDE`]) with the venv's python and `args`; its stdout parsed as JSON.
    fn python(script: &str, args: &[String]) -> Value {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("check.py");
        std::fs::write(&path, format!("{PRELUDE}{script}")).unwrap();
        let out = Command::new(venv_bin("python"))
            .arg(&path)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", dir.path())
            .env("NO_GCE_CHECK", "True")
            .current_dir(dir.path())
            .output()
            .expect("run python");
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "python failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);
        let last = stdout.lines().last().unwrap_or("");
        serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: stdout:\n{stdout}\nstderr:\n{stderr}"))
    }

    const PRELUDE: &str = super::PY_PRELUDE;

    const EXTERNAL_ACCOUNT: &str = r#"
standin, dirname, audience, sa_url, subject_file = sys.argv[1:6]
base = {"type": "external_account", "audience": audience, "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": standin + "/v1/token", "credential_source": {"file": subject_file}}
direct = write(dirname + "/direct.json", base)
impersonated = write(dirname + "/impersonated.json", dict(base, service_account_impersonation_url=sa_url,
    service_account_impersonation={"token_lifetime_seconds": 600}, quota_project_id="acme-billing", universe_domain="googleapis.com"))
out = {}
for name, path in (("direct", direct), ("impersonated", impersonated)):
    creds, project = google.auth.load_credentials_from_file(path, scopes=[CLOUD], request=routed())
    loaded = creds.token
    creds.refresh(plain())
    out[name] = dict(report(creds, project), loaded=loaded)
# Loaded without scopes: nothing is fetched until the scoped copy refreshes.
creds, project = google.auth.load_credentials_from_file(direct)
assert project is None and creds.token is None and creds.requires_scopes
creds = creds.with_scopes([CLOUD])
creds.refresh(plain())
out["unscoped"] = report(creds)
print(json.dumps(out))
"#;

    #[test]
    fn google_standin_external_account_with_a_file_source_direct_and_impersonated() {
        let principal = federated_principal(DEFAULT_AUDIENCE, SUBJECT);
        let google = Google::start(GoogleOpts {
            service_accounts: vec![ServiceAccount::new(SA).callers(&[&principal])],
            ..Default::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let subject_file = dir.path().join("token.jwt");
        let jwt =
            fake_jwt(&json!({"sub": SUBJECT, "aud": "https://iam.googleapis.com/", "exp": epoch().as_secs() + 300}));
        std::fs::write(&subject_file, &jwt).unwrap();
        let out = python(
            EXTERNAL_ACCOUNT,
            &[
                google.url(),
                dir.path().display().to_string(),
                DEFAULT_AUDIENCE.into(),
                google.generate_access_token_url(SA),
                subject_file.display().to_string(),
            ],
        );
        // Direct: the federated token itself, for the pool's principal, an hour long.
        let direct = &out["direct"];
        assert_eq!(direct["type"], "google.auth.identity_pool.Credentials");
        assert_eq!(direct["project"], "acme-dev", "projects.get answered with the token");
        let token = direct["token"].as_str().unwrap();
        let issued = google.issued_token(token).expect("issued here");
        assert_eq!((issued.op.as_str(), issued.principal.as_str()), ("Exchange", principal.as_str()));
        assert_eq!(issued.scopes, [CLOUD_PLATFORM]);
        assert_eq!(google.service_account_of(token), None);
        let left = direct["left"].as_f64().unwrap();
        assert!((3500.0..=3600.0).contains(&left), "{left}");
        // Impersonated: a token for the service account, as long as token_lifetime_seconds says.
        let imp = &out["impersonated"];
        assert_eq!(imp["sa"], SA);
        assert_eq!(imp["project"], "acme-dev");
        let token = imp["token"].as_str().unwrap();
        assert_eq!(google.service_account_of(token).as_deref(), Some(SA));
        let issued = google.issued_token(token).unwrap();
        assert_eq!(issued.via, principal, "the federated principal impersonated the SA");
        assert_eq!(issued.scopes, [CLOUD_PLATFORM]);
        let left = imp["left"].as_f64().unwrap();
        assert!((500.0..=600.0).contains(&left), "{left}");
        assert_ne!(imp["loaded"], imp["token"], "refresh() impersonated again");
        assert_ne!(direct["loaded"], direct["token"], "refresh() exchanged again");

        // What STS saw: the RFC 8693 form fields.
        let exchanges = google.requests_for("Exchange");
        for x in &exchanges {
            assert_eq!(x.status, 200, "{}", x.body);
            assert_eq!(x.header("content-type"), Some("application/x-www-form-urlencoded"));
            assert_eq!(x.param("grant_type"), Some(TOKEN_EXCHANGE_GRANT));
            assert_eq!(x.param("requested_token_type"), Some(ACCESS_TOKEN_TYPE));
            assert_eq!(x.param("audience"), Some(DEFAULT_AUDIENCE));
            assert_eq!(x.param("subject_token"), Some(jwt.as_str()));
            assert_eq!(x.param("subject_token_type"), Some(JWT_TOKEN_TYPE));
            assert_eq!(x.param("options"), None);
            assert_eq!(x.host, google.url().trim_start_matches("http://"));
        }
        // direct: load + refresh; impersonated: one (the STS token stayed fresh); unscoped: one.
        assert_eq!(exchanges.len(), 4, "{exchanges:#?}");
        let scopes: Vec<&str> = exchanges.iter().map(|x| x.param("scope").unwrap_or("")).collect();
        assert_eq!(
            scopes,
            [CLOUD_PLATFORM, CLOUD_PLATFORM, IAM_SCOPE, CLOUD_PLATFORM],
            "impersonation asks STS for the iam scope"
        );
        let metrics: Vec<&str> = exchanges.iter().map(|x| x.header("x-goog-api-client").unwrap_or("")).collect();
        assert!(metrics[0].contains("google-byoid-sdk") && metrics[0].contains("source/file"), "{metrics:?}");
        assert!(metrics[0].contains("sa-impersonation/false") && metrics[2].contains("sa-impersonation/true"));
        assert!(metrics[2].contains("config-lifetime/true"), "{metrics:?}");
        // What IAM Credentials saw: the federated token as bearer, the lifetime, the quota project.
        // refresh() always calls generateAccessToken again, reusing a still-fresh STS token.
        let gen_calls = google.requests_for("GenerateAccessToken");
        assert_eq!(gen_calls.len(), 2, "{gen_calls:#?}");
        assert_eq!(gen_calls[0].bearer(), gen_calls[1].bearer());
        for g in &gen_calls {
            assert_eq!(g.path, format!("/v1/projects/-/serviceAccounts/{SA}:generateAccessToken"));
            assert_eq!(g.params, json!({"delegates": null, "scope": [CLOUD_PLATFORM], "lifetime": "600s"}));
            assert_eq!(google.issued_token(g.bearer().unwrap()).unwrap().op, "Exchange");
            assert_eq!(g.header("x-goog-user-project"), Some("acme-billing"));
            assert_eq!(g.header("content-type"), Some("application/json"));
        }
        // load_credentials_from_file(scopes=...) looked the project up, with the final token.
        let gets = google.requests_for("GetProject");
        assert_eq!(gets.len(), 2);
        assert!(
            gets.iter()
                .all(|r| r.host == "cloudresourcemanager.googleapis.com" && r.path == "/v1/projects/123456789012")
        );
        assert_eq!(google.principal_of(gets[0].bearer().unwrap()), Some(principal.clone()));
        assert_eq!(google.service_account_of(gets[1].bearer().unwrap()).as_deref(), Some(SA));
        assert_eq!(gets[1].header("x-goog-user-project"), Some("acme-billing"));
    }

    const URL_SOURCE: &str = r#"
standin, dirname, audience, sa_url, token_url = sys.argv[1:6]
path = write(dirname + "/github.json", {
    "type": "external_account", "audience": audience,
    "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
    "token_url": standin + "/v1/token", "service_account_impersonation_url": sa_url,
    "credential_source": {"url": token_url, "headers": {"Authorization": "bearer " + sys.argv[6]},
                          "format": {"type": "json", "subject_token_field_name": "value"}}})
creds, project = google.auth.load_credentials_from_file(path, scopes=[CLOUD], request=routed())
creds.refresh(plain())
print(json.dumps(report(creds, project)))
"#;

    #[test]
    fn google_standin_external_account_with_a_github_url_source_and_impersonation() {
        let principal = federated_principal(DEFAULT_AUDIENCE, GITHUB_SUBJECT);
        let google = Google::start(GoogleOpts {
            service_accounts: vec![ServiceAccount::new(SA).callers(&[&principal])],
            ..Default::default()
        });
        let github = github_token_endpoint(BEARER);
        let dir = tempfile::tempdir().unwrap();
        let token_url = format!(
            "{}/token?api-version=2.0&audience=https://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/github/providers/actions",
            github.url()
        );
        let out = python(
            URL_SOURCE,
            &[
                google.url(),
                dir.path().display().to_string(),
                DEFAULT_AUDIENCE.into(),
                google.generate_access_token_url(SA),
                token_url,
                BEARER.into(),
            ],
        );
        let token = out["token"].as_str().unwrap();
        assert_eq!(google.service_account_of(token).as_deref(), Some(SA));
        let left = out["left"].as_f64().unwrap();
        assert!((3500.0..=3600.0).contains(&left), "default lifetime: {left}");
        // The GitHub endpoint got its bearer; STS got what it answered, as an id_token.
        assert_eq!(github.hits.load(Ordering::SeqCst), 1);
        let gh = github.requests.lock().unwrap()[0].clone();
        assert!(gh.starts_with("GET /token?api-version=2.0&audience="), "{gh}");
        let x = &google.requests_for("Exchange")[0];
        assert_eq!(x.param("subject_token_type"), Some(ID_TOKEN_TYPE));
        assert!(x.param("subject_token").unwrap().starts_with("eyJhbGciOiJSUzI1NiJ9."));
        assert!(x.header("x-goog-api-client").unwrap().contains("source/url"));
        let g = &google.requests_for("GenerateAccessToken")[0];
        assert_eq!(g.params["lifetime"], "3600s");
        assert_eq!(google.issued_token(token).unwrap().via, principal);
        assert_eq!(out["project"], "acme-dev");
        assert_eq!(google.count("GetProject"), 1);
    }

    const IMPERSONATED_FILE: &str = r#"
standin, dirname, sa_url, hop, client_id, secret, refresh = sys.argv[1:8]
doc = {"type": "impersonated_service_account", "service_account_impersonation_url": sa_url,
       "delegates": ["projects/-/serviceAccounts/" + hop],
       "quota_project_id": "acme-billing",
       "source_credentials": {"type": "authorized_user", "client_id": client_id, "client_secret": secret,
                              "refresh_token": refresh, "token_uri": standin + "/token"}}
path = write(dirname + "/impersonated.json", doc)
creds, project = google.auth.load_credentials_from_file(path, scopes=[CLOUD])
creds.refresh(routed())
out = {"scoped": report(creds, project)}
# With "scopes" in the file and none from the loader, the file's are used.
path = write(dirname + "/scopes.json", dict(doc, scopes=["https://www.googleapis.com/auth/cloud-platform.read-only"]))
creds, _ = google.auth.load_credentials_from_file(path)
creds.refresh(routed())
out["file_scopes"] = report(creds)
print(json.dumps(out))
"#;

    #[test]
    fn google_standin_impersonated_service_account_file_with_an_authorized_user_source() {
        let google = Google::start(GoogleOpts {
            service_accounts: vec![
                ServiceAccount::new(SA).callers(&["alice@example.com"]).delegates(&[HOP]),
                ServiceAccount::new(HOP),
            ],
            ..Default::default()
        });
        let user = GoogleOpts::default().users[0].clone();
        let dir = tempfile::tempdir().unwrap();
        let out = python(
            IMPERSONATED_FILE,
            &[
                google.url(),
                dir.path().display().to_string(),
                google.generate_access_token_url(SA),
                HOP.into(),
                user.client_id.clone(),
                user.client_secret.clone(),
                user.refresh_token.clone(),
            ],
        );
        let scoped = &out["scoped"];
        assert_eq!(scoped["type"], "google.auth.impersonated_credentials.Credentials");
        let token = scoped["token"].as_str().unwrap();
        let issued = google.issued_token(token).unwrap();
        assert_eq!(issued.principal, SA);
        assert_eq!(issued.via, "alice@example.com");
        assert_eq!(issued.delegates, [HOP]);
        let left = scoped["left"].as_f64().unwrap();
        assert!((3500.0..=3600.0).contains(&left), "{left}");
        // google-auth ignored token_uri and the impersonation URL's host: both went to Google.
        let refreshes = google.requests_for("OAuthToken");
        assert_eq!(refreshes.len(), 2, "one per credentials object");
        for r in &refreshes {
            assert_eq!(r.host, "oauth2.googleapis.com", "token_uri is not honoured");
            assert_eq!(r.status, 200);
            assert_eq!(r.param("grant_type"), Some("refresh_token"));
            assert_eq!(r.param("client_id"), Some(user.client_id.as_str()));
            assert_eq!(r.param("client_secret"), Some(user.client_secret.as_str()));
            assert_eq!(r.param("refresh_token"), Some(user.refresh_token.as_str()));
            assert_eq!(r.param("scope"), None, "authorized_user source asks for no scope");
        }
        let gens = google.requests_for("GenerateAccessToken");
        assert_eq!(gens.len(), 2);
        for g in &gens {
            assert_eq!(g.host, "iamcredentials.googleapis.com", "only the email comes from the URL");
            assert_eq!(g.params["lifetime"], "3600s", "no lifetime field for this file type");
            assert_eq!(g.params["delegates"], json!([format!("projects/-/serviceAccounts/{HOP}")]));
            assert_eq!(google.principal_of(g.bearer().unwrap()).as_deref(), Some("alice@example.com"));
            // quota_project_id goes on API calls only: the source credentials carry none.
            assert_eq!(g.header("x-goog-user-project"), None);
        }
        assert_eq!(gens[0].params["scope"], json!([CLOUD_PLATFORM]));
        assert_eq!(gens[1].params["scope"], json!(["https://www.googleapis.com/auth/cloud-platform.read-only"]));
        assert_eq!(google.service_account_of(out["file_scopes"]["token"].as_str().unwrap()).as_deref(), Some(SA));
    }

    const FAILURES: &str = r#"
standin, dirname, audience, subject_file, sa_url, unknown_sa_url, other_audience = sys.argv[1:8]
def ext(name, **extra):
    doc = {"type": "external_account", "audience": audience, "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
           "token_url": standin + "/v1/token", "credential_source": {"file": subject_file}}
    doc.update(extra)
    creds, _ = google.auth.load_credentials_from_file(write(dirname + "/" + name + ".json", doc))
    return creds.with_scopes([CLOUD])
out = {}
out["rejected"] = failure(lambda: ext("rejected").refresh(plain()))
out["rejected_impersonated"] = failure(lambda: ext("rejected2", service_account_impersonation_url=sa_url).refresh(plain()))
out["unknown_provider"] = failure(lambda: ext("target", audience=other_audience).refresh(plain()))
print(json.dumps(out))
"#;

    const IMPERSONATION_FAILURES: &str = r#"
standin, dirname, audience, subject_file, sa_url, unknown_sa_url, other_audience = sys.argv[1:8]
def ext(name, **extra):
    doc = {"type": "external_account", "audience": audience, "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
           "token_url": standin + "/v1/token", "credential_source": {"file": subject_file}}
    doc.update(extra)
    creds, _ = google.auth.load_credentials_from_file(write(dirname + "/" + name + ".json", doc))
    return creds.with_scopes([CLOUD])
out = {}
out["unknown_sa"] = failure(lambda: ext("unknown", service_account_impersonation_url=unknown_sa_url).refresh(plain()))
out["not_allowed"] = failure(lambda: ext("denied", service_account_impersonation_url=sa_url).refresh(plain()))
out["too_long"] = failure(lambda: ext("long", service_account_impersonation_url=unknown_sa_url.replace("nobody@", "long@"),
                                      service_account_impersonation={"token_lifetime_seconds": 43201}).refresh(plain()))
user = {"type": "authorized_user", "client_id": "standin-adc.apps.googleusercontent.com",
        "client_secret": "standin-client-secret", "refresh_token": "1//revoked"}
creds, _ = google.auth.load_credentials_from_file(write(dirname + "/user.json", user))
out["bad_refresh_token"] = failure(lambda: creds.refresh(routed()))
print(json.dumps(out))
"#;

    #[test]
    fn google_standin_refusals_reach_google_auth_as_google_sends_them() {
        let google = Google::start(GoogleOpts {
            reject_exchanges: true,
            service_accounts: vec![
                ServiceAccount::new(SA).callers(&["principal://nobody"]),
                ServiceAccount::new("long@acme-dev.iam.gserviceaccount.com"),
            ],
            ..Default::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let subject_file = dir.path().join("token.jwt");
        std::fs::write(&subject_file, fake_jwt(&json!({"sub": SUBJECT}))).unwrap();
        let other = provider_audience("123456789012", "github", "deleted");
        let args = [
            google.url(),
            dir.path().display().to_string(),
            DEFAULT_AUDIENCE.into(),
            subject_file.display().to_string(),
            google.generate_access_token_url(SA),
            google.generate_access_token_url("nobody@acme-dev.iam.gserviceaccount.com"),
            other,
        ];
        let out = python(FAILURES, &args);
        // A refused exchange: OAuthError (not a RefreshError), carrying Google's error.
        for case in ["rejected", "rejected_impersonated"] {
            let f = &out[case];
            assert_eq!(f["class"], "OAuthError", "{case}: {f}");
            assert_eq!(f["refresh_error"], false);
            let msg = f["args"][0].as_str().unwrap();
            assert!(msg.starts_with("Error code invalid_grant: "), "{msg}");
            let body: Value = serde_json::from_str(f["args"][1].as_str().unwrap()).unwrap();
            assert_eq!(body["error"], "invalid_grant");
        }
        let f = &out["unknown_provider"];
        assert!(f["args"][0].as_str().unwrap().starts_with("Error code invalid_target: The target service"), "{f}");
        assert_eq!(google.count("GenerateAccessToken"), 0, "nothing to impersonate with");
        assert!(google.issued().is_empty());
        assert!(google.requests_for("Exchange").iter().all(|r| r.status == 400));

        // With exchanges allowed again: the IAM Credentials refusals.
        google.set_reject_exchanges(false);
        let out = python(IMPERSONATION_FAILURES, &args);
        for (case, code, status) in [
            ("unknown_sa", 404, "NOT_FOUND"),
            ("not_allowed", 403, "PERMISSION_DENIED"),
            ("too_long", 400, "INVALID_ARGUMENT"),
        ] {
            let f = &out[case];
            assert_eq!(f["class"], "RefreshError", "{case}: {f}");
            assert_eq!(f["args"][0], "Unable to acquire impersonated credentials", "{case}: {f}");
            let body: Value = serde_json::from_str(f["args"][1].as_str().unwrap()).unwrap();
            assert_eq!((body["error"]["code"].as_u64(), body["error"]["status"].as_str()), (Some(code), Some(status)));
        }
        let f = &out["bad_refresh_token"];
        assert_eq!(f["class"], "RefreshError");
        assert_eq!(f["args"][0], "invalid_grant: Bad Request");
        let gens = google.requests_for("GenerateAccessToken");
        assert_eq!(gens.iter().map(|g| g.status).collect::<Vec<_>>(), [404, 403, 400]);
        assert_eq!(gens[2].params["lifetime"], "43201s");
        assert!(google.issued().iter().all(|i| i.op == "Exchange"), "no SA or user token was issued");
    }

    const RAW_WIRE: &str = r#"
standin, audience, jwt, sa_url = sys.argv[1:5]
http = requests.Session()
out = {}
# JSON body with the REST API's camelCase names, as google-github-actions/auth sends it.
r = http.post(standin + "/v1/token", json={"grantType": "urn:ietf:params:oauth:grant-type:token-exchange",
    "audience": audience, "scope": CLOUD, "requestedTokenType": "urn:ietf:params:oauth:token-type:access_token",
    "subjectToken": jwt, "subjectTokenType": "urn:ietf:params:oauth:token-type:jwt"})
out["json"] = [r.status_code, r.json()]
sts = r.json()["access_token"]
form = {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "audience": audience, "scope": CLOUD,
        "requested_token_type": "urn:ietf:params:oauth:token-type:access_token", "subject_token": jwt,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "options": urllib.parse.quote(json.dumps({"userProject": "123"}))}
def post(**change):
    body = {k: v for k, v in dict(form, **change).items() if v is not None}
    r = http.post(standin + "/v1/token", data=body)
    return [r.status_code, r.json()]
out["options"] = post()
out["no_subject"] = post(subject_token=None)
out["grant"] = post(grant_type="refresh_token")
out["bad_audience"] = post(audience="projects/1/locations/global/workloadIdentityPools/p/providers/x")
out["not_jwt"] = post(subject_token="opaque")
def gen(body, bearer=sts):
    headers = {"Authorization": "Bearer " + bearer} if bearer else {}
    r = http.post(sa_url, json=body, headers=headers)
    return [r.status_code, r.json(), r.headers.get("WWW-Authenticate")]
out["no_bearer"] = gen({"scope": [CLOUD]}, bearer=None)
out["foreign_bearer"] = gen({"scope": [CLOUD]}, bearer="ya29.not-from-here")
out["no_scope"] = gen({"lifetime": "60s"})
out["bad_lifetime"] = gen({"scope": [CLOUD], "lifetime": "ten minutes"})
out["ok"] = gen({"scope": [CLOUD], "lifetime": "1800s"})
out["unknown_path"] = [http.get(standin + "/v1/nothing").status_code]
print(json.dumps(out))
"#;

    #[test]
    fn google_standin_wire_details_and_request_validation() {
        let google = Google::start(GoogleOpts::default());
        let jwt = fake_jwt(&json!({"sub": SUBJECT}));
        let out = python(
            RAW_WIRE,
            &[google.url(), DEFAULT_AUDIENCE.into(), jwt.clone(), google.generate_access_token_url(SA)],
        );
        let (status, body) = (&out["json"][0], &out["json"][1]);
        assert_eq!(status, 200);
        assert_eq!(body["issued_token_type"], ACCESS_TOKEN_TYPE);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        let json_req = &google.requests_for("Exchange")[0];
        assert_eq!(json_req.param("subject_token"), Some(jwt.as_str()), "camelCase normalised");
        assert_eq!(out["options"][0], 200);
        for (case, status, error) in [
            ("no_subject", 400, "invalid_request"),
            ("grant", 400, "unsupported_grant_type"),
            ("bad_audience", 400, "invalid_request"),
            ("not_jwt", 400, "invalid_grant"),
        ] {
            assert_eq!(out[case][0], status, "{case}: {}", out[case]);
            assert_eq!(out[case][1]["error"], error, "{case}: {}", out[case]);
            assert!(out[case][1]["error_description"].as_str().is_some_and(|d| !d.is_empty()));
        }
        for case in ["no_bearer", "foreign_bearer"] {
            assert_eq!(out[case][0], 401, "{case}");
            assert_eq!(out[case][1]["error"]["status"], "UNAUTHENTICATED");
            assert!(out[case][2].as_str().unwrap().starts_with("Bearer realm="));
        }
        for case in ["no_scope", "bad_lifetime"] {
            assert_eq!(out[case][0], 400, "{case}");
            assert_eq!(out[case][1]["error"]["status"], "INVALID_ARGUMENT");
            assert_eq!(out[case][1]["error"]["code"], 400);
        }
        let ok = &out["ok"][1];
        let expire = ok["expireTime"].as_str().unwrap();
        assert!(expire.len() == 20 && expire.ends_with('Z'), "{expire}");
        let issued = google.issued_token(ok["accessToken"].as_str().unwrap()).unwrap();
        assert_eq!(rfc3339(issued.expires_at), expire);
        assert!(issued.expires_at.abs_diff(epoch().as_secs() + 1800) <= 5);
        assert_eq!(out["unknown_path"][0], 404);
        assert_eq!(google.count("Unknown"), 1);
        // Revoked tokens stop working.
        google.revoke_access_tokens();
        let again =
            python(RAW_WIRE, &[google.url(), DEFAULT_AUDIENCE.into(), jwt, google.generate_access_token_url(SA)]);
        assert_eq!(again["ok"][0], 200, "a fresh exchange still works");
        assert_eq!(google.issued().len(), 6);
    }

    const GKE: &str = r#"
import base64
from google.auth.transport.requests import AuthorizedSession
standin, dirname, sa_url, client_id, secret, refresh, project, location, name = sys.argv[1:10]
user = {"type": "authorized_user", "client_id": client_id, "client_secret": secret, "refresh_token": refresh}
imp = {"type": "impersonated_service_account", "service_account_impersonation_url": sa_url, "source_credentials": user}
out = {}
def session(creds):
    s = AuthorizedSession(creds, auth_request=routed())
    s.mount("https://", ToStandin())
    return s
for kind, doc in (("user", user), ("sa", imp)):
    creds, _ = google.auth.load_credentials_from_file(write(dirname + "/" + kind + ".json", doc), scopes=[CLOUD])
    s = session(creds)
    r = s.get(f"https://container.googleapis.com/v1/projects/{project}/locations/{location}/clusters/{name}")
    cluster = r.json()
    out[kind] = {"status": r.status_code, "cluster": cluster, "token": creds.token,
                 "ca": base64.b64decode(cluster.get("masterAuth", {}).get("clusterCaCertificate", "")).decode()}
    r = s.get(f"https://container.googleapis.com/v1/projects/{project}/zones/{location}/clusters/{name}")
    out[kind]["zones_path"] = r.status_code
r = s.get(f"https://container.googleapis.com/v1/projects/{project}/locations/{location}/clusters/nope")
out["unknown"] = [r.status_code, r.json()]
r = requests.get(f"{standin}/v1/projects/{project}/locations/{location}/clusters/{name}")
out["anonymous"] = [r.status_code, r.json()]
print(json.dumps(out))
"#;

    const TOKENINFO: &str = r#"
standin = sys.argv[1]
out = {}
for i, token in enumerate(sys.argv[2:]):
    r = requests.get(standin + "/oauth2/v3/tokeninfo", params={"access_token": token})
    p = requests.post(standin + "/oauth2/v3/tokeninfo", data={"access_token": token})
    out[str(i)] = {"get": [r.status_code, r.json()], "post": [p.status_code, p.json()]}
r = requests.get(standin + "/oauth2/v3/tokeninfo")
out["none"] = [r.status_code, r.json()]
print(json.dumps(out))
"#;

    #[test]
    fn google_standin_gke_cluster_get_and_tokeninfo() {
        let google = Google::start(GoogleOpts::default());
        let ca = b"-----BEGIN CERTIFICATE-----\nMIIB-standin-ca\n-----END CERTIFICATE-----\n";
        google.add_cluster("acme-dev", "us-central1", "dev", "127.0.0.1:6443", ca);
        let user = GoogleOpts::default().users[0].clone();
        let dir = tempfile::tempdir().unwrap();
        let out = python(
            GKE,
            &[
                google.url(),
                dir.path().display().to_string(),
                google.generate_access_token_url(SA),
                user.client_id.clone(),
                user.client_secret.clone(),
                user.refresh_token.clone(),
                "acme-dev".into(),
                "us-central1".into(),
                "dev".into(),
            ],
        );
        for kind in ["user", "sa"] {
            let got = &out[kind];
            assert_eq!(got["status"], 200, "{kind}: {got}");
            let c = &got["cluster"];
            assert_eq!(c["name"], "dev");
            assert_eq!(c["location"], "us-central1");
            assert_eq!(c["endpoint"], "127.0.0.1:6443", "an address without scheme, as GKE answers");
            assert_eq!(c["status"], "RUNNING");
            assert_eq!(
                c["selfLink"],
                "https://container.googleapis.com/v1/projects/acme-dev/locations/us-central1/clusters/dev"
            );
            assert_eq!(
                got["ca"].as_str().unwrap().as_bytes(),
                ca,
                "masterAuth.clusterCaCertificate is base64 of the PEM"
            );
            assert_eq!(got["zones_path"], 200, "the older zones/ path names the same cluster");
        }
        assert_eq!(google.principal_of(out["user"]["token"].as_str().unwrap()).as_deref(), Some("alice@example.com"));
        assert_eq!(google.service_account_of(out["sa"]["token"].as_str().unwrap()).as_deref(), Some(SA));
        let gets = google.requests_for("GetCluster");
        assert_eq!(gets.len(), 6);
        assert!(gets.iter().take(5).all(|g| g.host == "container.googleapis.com" && g.bearer().is_some()));
        assert_eq!(
            out["unknown"],
            json!([404, {"error": {"code": 404, "message": "Not found: projects/acme-dev/locations/us-central1/clusters/nope.", "status": "NOT_FOUND"}}])
        );
        assert_eq!(out["anonymous"][0], 401);
        assert_eq!(out["anonymous"][1]["error"]["status"], "UNAUTHENTICATED");
        assert_eq!(google.count("GetCluster"), 6);

        // tokeninfo: the user's and the service account's tokens name their accounts.
        let (user_token, sa_token) =
            (out["user"]["token"].as_str().unwrap().to_string(), out["sa"]["token"].as_str().unwrap().to_string());
        let info = python(TOKENINFO, &[google.url(), user_token.clone(), sa_token.clone(), "ya29.made-up".into()]);
        for (i, email) in [("0", "alice@example.com"), ("1", SA)] {
            for how in ["get", "post"] {
                let (status, body) = (&info[i][how][0], &info[i][how][1]);
                assert_eq!(status, 200, "{i} {how}: {body}");
                assert_eq!(body["email"], email);
                assert_eq!(body["email_verified"], "true");
                assert!(body["scope"].as_str().unwrap().split(' ').any(|x| x == CLOUD_PLATFORM), "{body}");
                let exp: u64 = body["exp"].as_str().unwrap().parse().unwrap();
                let left: u64 = body["expires_in"].as_str().unwrap().parse().unwrap();
                assert!(exp.abs_diff(epoch().as_secs() + left) <= 2, "{body}");
                assert!((3500..=3600).contains(&left), "{body}");
                for k in ["azp", "aud", "sub"] {
                    assert!(body[k].as_str().is_some_and(|v| !v.is_empty()), "{k}: {body}");
                }
            }
        }
        assert_eq!(info["0"]["get"][1]["aud"], user.client_id.as_str(), "a user token names its OAuth client");
        let invalid = json!([400, {"error": "invalid_token", "error_description": "Invalid Value"}]);
        assert_eq!(info["2"]["get"], invalid);
        assert_eq!(info["2"]["post"], invalid);
        assert_eq!(info["none"][0], 400);
        assert_eq!(info["none"][1]["error"], "invalid_request");
        let calls = google.requests_for("TokenInfo");
        assert_eq!(calls.len(), 7);
        assert_eq!(calls[0].param("access_token"), Some(user_token.as_str()));

        // Revoked: tokeninfo and the cluster refuse them.
        google.revoke_access_tokens();
        let info = python(TOKENINFO, &[google.url(), user_token.clone(), sa_token]);
        assert_eq!(info["0"]["get"], invalid);
        assert_eq!(info["1"]["post"], invalid);
        let (status, body) = crate::microsoft_standin::http_get_with(
            &google.cluster_url("acme-dev", "us-central1", "dev"),
            &[("Authorization", &format!("Bearer {user_token}"))],
        );
        assert_eq!((status, body["error"]["status"].as_str()), (401, Some("UNAUTHENTICATED")));
    }

    #[test]
    fn google_standin_tokeninfo_of_a_federated_token_has_no_email() {
        let google = Google::start(GoogleOpts::default());
        let form = [
            ("grant_type", TOKEN_EXCHANGE_GRANT),
            ("audience", DEFAULT_AUDIENCE),
            ("scope", CLOUD_PLATFORM),
            ("requested_token_type", ACCESS_TOKEN_TYPE),
            ("subject_token_type", JWT_TOKEN_TYPE),
        ];
        let jwt = fake_jwt(&json!({"sub": SUBJECT}));
        let mut form = form.to_vec();
        form.push(("subject_token", &jwt));
        let (status, sts) = crate::microsoft_standin::http_post_form(&google.sts_token_url(), &form, &[]);
        assert_eq!(status, 200, "{sts}");
        let token = sts["access_token"].as_str().unwrap();
        let (status, info) =
            crate::microsoft_standin::http_get(&format!("{}?access_token={token}", google.tokeninfo_url()));
        assert_eq!(status, 200, "{info}");
        assert_eq!(info["sub"], federated_principal(DEFAULT_AUDIENCE, SUBJECT));
        assert_eq!(info.get("email"), None);
        assert_eq!(google.count("TokenInfo"), 1);
    }

    #[test]
    fn google_standin_helpers() {
        assert!(audience_well_formed(DEFAULT_AUDIENCE));
        assert!(audience_well_formed("//iam.googleapis.com/locations/global/workforcePools/staff/providers/okta"));
        assert!(!audience_well_formed(
            "//iam.googleapis.com/projects/acme/locations/global/workloadIdentityPools/p/providers/x"
        ));
        assert_eq!(
            federated_principal(DEFAULT_AUDIENCE, "repo:a/b"),
            "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/github/subject/repo:a/b"
        );
        for s in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            assert_eq!(b64decode(&b64url(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(b64decode("Zm9vOmJhcg==").unwrap(), b"foo:bar");
        let claims = jwt_claims(&fake_jwt(&json!({"sub": "x"}))).unwrap();
        assert_eq!(claims["sub"], "x");
        assert_eq!(rfc3339(1_800_000_000), "2027-01-15T08:00:00Z");
        for t in ["", "f", "fo", "foo", "-----BEGIN CERTIFICATE-----\n"] {
            let py = Command::new(venv_bin("python"))
                .args(["-c", "import base64,sys; print(base64.b64encode(sys.argv[1].encode()).decode())", t])
                .output()
                .unwrap();
            assert_eq!(b64std(t.as_bytes()), String::from_utf8_lossy(&py.stdout).trim());
        }
        assert_eq!(gke_cluster_path("/v1/projects/p/locations/l/clusters/n"), Some(("p", "l", "n")));
        assert_eq!(gke_cluster_path("/v1/projects/p/zones/z/clusters/n"), Some(("p", "z", "n")));
        assert_eq!(gke_cluster_path("/v1/projects/p/locations/l/clusters/n/nodePools"), None);
    }
}
