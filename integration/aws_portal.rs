//! A loopback stand-in for the AWS services moto does not implement: IAM Identity Center's
//! OIDC service (`sso-oidc`: RegisterClient, StartDeviceAuthorization, CreateToken), its
//! portal API (`sso`: ListAccounts, ListAccountRoles, GetRoleCredentials, Logout) and STS
//! `AssumeRoot`, all on one port, speaking the wire formats the real services use (the shapes
//! of botocore's `service-2.json` for sso-oidc 2019-06-10, sso 2019-06-10 and sts 2011-06-15).
//! Any other STS call is forwarded verbatim to an optional upstream (a moto server), so one
//! `AWS_ENDPOINT_URL` can serve a whole login. Tests steer it (approve, deny, expire) and
//! inspect it (counters, a log of every request, the credentials it issued).
//!
//! The `#[test]`s at the bottom drive it with botocore, an independent client, to prove the
//! wire formats: exception classes, pagination, timestamps, XML.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::wire::{Resp, parse_pairs, write_response};

/// The grant type of the device authorization flow (RFC 8628), as CreateToken takes it.
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The task policies AssumeRoot accepts (the AWS managed `root-task` policies).
pub const ROOT_TASK_POLICIES: [&str; 5] = [
    "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials",
    "arn:aws:iam::aws:policy/root-task/IAMCreateRootUserPassword",
    "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials",
    "arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy",
    "arn:aws:iam::aws:policy/root-task/SQSUnlockQueuePolicy",
];
const OIDC_FAULT_NS: &str = "http://internal.amazon.com/coral/com.amazonaws.sso.oidc/";
const PORTAL_NS: &str = "com.amazonaws.switchboard.portal";
const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// An account the signed-in user is assigned to, with the roles (permission sets) they may use.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub email: String,
    pub roles: Vec<String>,
}

impl Account {
    pub fn new(id: &str, name: &str, email: &str, roles: &[&str]) -> Account {
        Account {
            id: id.into(),
            name: name.into(),
            email: email.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        }
    }
}

/// How the stand-in behaves. `PortalOpts::default()` is a polite, slow-to-approve service.
#[derive(Clone, Debug)]
pub struct PortalOpts {
    /// What ListAccounts / ListAccountRoles show and GetRoleCredentials accepts.
    pub accounts: Vec<Account>,
    /// Largest page ListAccounts / ListAccountRoles return, whatever `max_result` asks for.
    pub page_size: usize,
    /// Approve a device authorization by itself once it has been polled this many times
    /// (`Some(0)`: the first poll succeeds, unless `slow_down_polls` says otherwise).
    /// `None`: only `Portal::approve` (or a GET of `verificationUriComplete`) approves.
    pub approve_after_polls: Option<usize>,
    /// The first this-many polls of each device code answer `SlowDownException`.
    pub slow_down_polls: usize,
    /// Also answer `SlowDownException` to a poll sooner than `interval` after the last one.
    pub enforce_interval: bool,
    /// `interval` of StartDeviceAuthorization, in seconds.
    pub interval: u64,
    /// Device codes (and their user codes) expire after this.
    pub device_code_ttl: Duration,
    /// Access tokens from CreateToken expire after this (`expiresIn` is its whole seconds).
    pub access_token_ttl: Duration,
    /// Issue refresh tokens to clients registered without scopes too. The service gives
    /// them only to clients registered with scopes (the `sso-session` configuration).
    pub refresh_without_scopes: bool,
    /// Lifetime of GetRoleCredentials credentials.
    pub role_credentials_ttl: Duration,
    /// `SourceIdentity` in AssumeRoot's answer (omitted when `None`).
    pub source_identity: Option<String>,
    /// Where STS calls other than AssumeRoot go (e.g. a moto server's URL).
    pub sts_upstream: Option<String>,
}

impl Default for PortalOpts {
    fn default() -> Self {
        PortalOpts {
            accounts: vec![
                Account::new("111111111111", "acme-dev", "dev@example.com", &["AdministratorAccess", "ReadOnly"]),
                Account::new("222222222222", "acme-prod", "prod@example.com", &["ReadOnly"]),
            ],
            page_size: 2,
            approve_after_polls: None,
            slow_down_polls: 1,
            enforce_interval: false,
            interval: 1,
            device_code_ttl: Duration::from_secs(600),
            access_token_ttl: Duration::from_secs(8 * 3600),
            refresh_without_scopes: false,
            role_credentials_ttl: Duration::from_secs(3600),
            source_identity: None,
            sts_upstream: None,
        }
    }
}

/// One request the stand-in answered.
#[derive(Clone, Debug)]
pub struct Request {
    /// The operation it was routed to: "RegisterClient", "StartDeviceAuthorization",
    /// "CreateToken", "ListAccounts", "ListAccountRoles", "GetRoleCredentials", "Logout",
    /// "AssumeRoot", "Forwarded", "VerifyDevice" or "Unknown".
    pub op: String,
    /// Header names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The parameters: the JSON body (sso-oidc), the query (portal GETs), or the form
    /// fields as a JSON object of strings (STS); `Null` when there were none.
    pub params: Value,
    /// When the request had been read.
    pub at: Instant,
    /// The status it was answered with.
    pub status: u16,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::wire::header(&self.headers, name)
    }
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).and_then(Value::as_str)
    }
}

/// Credentials the stand-in handed out (GetRoleCredentials or AssumeRoot).
#[derive(Clone, Debug, PartialEq)]
pub struct Issued {
    /// "GetRoleCredentials" or "AssumeRoot".
    pub op: String,
    /// The account (GetRoleCredentials) or the TargetPrincipal (AssumeRoot).
    pub account: String,
    /// The role name (GetRoleCredentials) or the task policy ARN (AssumeRoot).
    pub role: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Expiration, in milliseconds since the epoch.
    pub expiration_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Grant {
    Pending,
    Approved,
    Denied,
    Redeemed,
}

struct Client {
    id: String,
    secret: String,
    scopes: Vec<String>,
}

struct DeviceAuth {
    device_code: String,
    user_code: String,
    client_id: String,
    started: Instant,
    polls: usize,
    last_poll: Option<Instant>,
    grant: Grant,
}

struct AccessToken {
    token: String,
    expires: Instant,
    revoked: bool,
}

struct RefreshToken {
    token: String,
    client_id: String,
    expired: bool,
}

struct State {
    opts: PortalOpts,
    serial: u64,
    clients: Vec<Client>,
    devices: Vec<DeviceAuth>,
    access: Vec<AccessToken>,
    refresh: Vec<RefreshToken>,
    counts: HashMap<String, usize>,
    log: Vec<Request>,
    issued: Vec<Issued>,
}

impl State {
    fn next(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }
}

/// The stand-in server; stopped when dropped.
pub struct Portal {
    port: u16,
    state: Arc<Mutex<State>>,
    _server: crate::wire::Server,
}

impl Portal {
    pub fn start(opts: PortalOpts) -> Portal {
        let server = crate::wire::Server::bind();
        let port = server.port;
        let state = Arc::new(Mutex::new(State {
            opts,
            serial: 0,
            clients: Vec::new(),
            devices: Vec::new(),
            access: Vec::new(),
            refresh: Vec::new(),
            counts: HashMap::new(),
            log: Vec::new(),
            issued: Vec::new(),
        }));
        let st = state.clone();
        let base = format!("http://127.0.0.1:{port}");
        let server = server.serve(move |stream| {
            let (st, base) = (st.clone(), base.clone());
            std::thread::spawn(move || serve(stream, &st, &base));
        });
        Portal { port, state, _server: server }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The user approves `user_code` in the browser. False if no pending authorization has it.
    pub fn approve(&self, user_code: &str) -> bool {
        let mut s = self.lock();
        match s.devices.iter_mut().find(|d| d.user_code == user_code && d.grant == Grant::Pending) {
            Some(d) => {
                d.grant = Grant::Approved;
                true
            }
            None => false,
        }
    }

    /// The user denies every authorization still pending: their next poll gets
    /// `AccessDeniedException`. Returns how many were denied.
    pub fn deny(&self) -> usize {
        let mut s = self.lock();
        let mut n = 0;
        for d in s.devices.iter_mut().filter(|d| d.grant == Grant::Pending) {
            d.grant = Grant::Denied;
            n += 1;
        }
        n
    }

    /// User codes of the authorizations neither approved, denied nor redeemed, oldest first.
    pub fn pending_user_codes(&self) -> Vec<String> {
        self.lock().devices.iter().filter(|d| d.grant == Grant::Pending).map(|d| d.user_code.clone()).collect()
    }

    /// Every refresh token issued so far stops working (`InvalidGrantException`).
    pub fn expire_refresh_tokens(&self) {
        self.lock().refresh.iter_mut().for_each(|r| r.expired = true);
    }

    /// Every access token issued so far stops working (`UnauthorizedException`).
    pub fn expire_access_tokens(&self) {
        self.lock().access.iter_mut().for_each(|t| t.revoked = true);
    }

    /// Access tokens issued so far, oldest first.
    pub fn access_tokens(&self) -> Vec<String> {
        self.lock().access.iter().map(|t| t.token.clone()).collect()
    }

    /// How many requests reached `op` (names as in `Request::op`), errors included.
    pub fn count(&self, op: &str) -> usize {
        self.lock().counts.get(op).copied().unwrap_or(0)
    }

    /// Every request so far, in the order answered.
    pub fn requests(&self) -> Vec<Request> {
        self.lock().log.clone()
    }

    /// The requests routed to `op`.
    pub fn requests_for(&self, op: &str) -> Vec<Request> {
        self.lock().log.iter().filter(|r| r.op == op).cloned().collect()
    }

    /// When each CreateToken call arrived (to check the polling interval was honoured).
    pub fn token_polls(&self) -> Vec<Instant> {
        self.requests_for("CreateToken").iter().map(|r| r.at).collect()
    }

    /// Every set of credentials handed out, in order.
    pub fn issued(&self) -> Vec<Issued> {
        self.lock().issued.clone()
    }

    /// The issued credentials with this access key id.
    pub fn issued_key(&self, access_key_id: &str) -> Option<Issued> {
        self.lock().issued.iter().find(|i| i.access_key_id == access_key_id).cloned()
    }
}

// ---------------------------------------------------------------------------------------
// HTTP

struct HttpRequest {
    method: String,
    /// Path and query, as sent.
    target: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    at: Instant,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        crate::wire::header(&self.headers, name)
    }
    fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn read_request(stream: &TcpStream) -> Option<HttpRequest> {
    let crate::wire::RawRequest { method, target, headers, body } = crate::wire::read_raw(stream)?;
    let (path, q) = target.split_once('?').unwrap_or((&target, ""));
    Some(HttpRequest {
        method,
        path: path.to_string(),
        query: parse_pairs(q, false),
        target: target.clone(),
        headers,
        body,
        at: Instant::now(),
    })
}

fn pairs_json(pairs: &[(String, String)]) -> Value {
    if pairs.is_empty() {
        return Value::Null;
    }
    Value::Object(pairs.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
}

fn serve(stream: TcpStream, state: &Mutex<State>, base: &str) {
    stream.set_nonblocking(false).ok();
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let Some(req) = read_request(&stream) else { return };
    let (op, params, resp) = route(&req, state, base);
    {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        *s.counts.entry(op.to_string()).or_insert(0) += 1;
        s.log.push(Request {
            op: op.to_string(),
            headers: req.headers.clone(),
            params,
            at: req.at,
            status: resp.status,
        });
    }
    write_response(&stream, &resp);
}

/// Picks the operation, then answers it (holding the state lock, except while forwarding).
fn route(req: &HttpRequest, state: &Mutex<State>, base: &str) -> (&'static str, Value, Resp) {
    let json_body = || serde_json::from_slice::<Value>(&req.body).unwrap_or(Value::Null);
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    let query = pairs_json(&req.query);
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/client/register") => {
            let p = json_body();
            let r = register_client(&mut lock(), &p);
            ("RegisterClient", p, r)
        }
        ("POST", "/device_authorization") => {
            let p = json_body();
            let r = start_device_authorization(&mut lock(), &p, base);
            ("StartDeviceAuthorization", p, r)
        }
        ("POST", "/token") if req.query("aws_iam").is_none() => {
            let p = json_body();
            let r = create_token(&mut lock(), &p);
            ("CreateToken", p, r)
        }
        ("GET", "/assignment/accounts") => ("ListAccounts", query, list_accounts(&mut lock(), req)),
        ("GET", "/assignment/roles") => ("ListAccountRoles", query, list_account_roles(&mut lock(), req)),
        ("GET", "/federation/credentials") => ("GetRoleCredentials", query, get_role_credentials(&mut lock(), req)),
        ("POST", "/logout") => ("Logout", query, logout(&mut lock(), req)),
        ("GET", "/device") => ("VerifyDevice", query, verify_device(&mut lock(), req)),
        _ => {
            let form = if req.method == "POST" {
                parse_pairs(&String::from_utf8_lossy(&req.body), true)
            } else {
                req.query.clone()
            };
            let action = form.iter().find(|(k, _)| k == "Action").map(|(_, v)| v.clone());
            let params = pairs_json(&form);
            if action.as_deref() == Some("AssumeRoot") {
                let r = assume_root(&mut lock(), &form);
                return ("AssumeRoot", params, r);
            }
            let upstream = lock().opts.sts_upstream.clone();
            match upstream {
                Some(u) => ("Forwarded", params, forward(&u, req)),
                None if action.is_some() => {
                    let a = action.unwrap_or_default();
                    let id = request_id(&mut lock());
                    let msg = format!("Could not find operation {a} for version 2011-06-15");
                    ("Unknown", params, sts_error(400, "InvalidAction", &msg, &id))
                }
                None => ("Unknown", params, json_resp(404, &[], json!({"message": "Not Found"}))),
            }
        }
    }
}

fn request_id(s: &mut State) -> String {
    let n = s.next();
    format!("{:08x}-{:04x}-4{:03x}-8000-{:012x}", std::process::id(), n & 0xffff, n & 0xfff, n)
}

fn epoch() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

fn json_resp(status: u16, headers: &[(&str, String)], body: Value) -> Resp {
    let mut h = vec![("Content-Type".to_string(), "application/json".to_string())];
    h.extend(headers.iter().map(|(k, v)| (k.to_string(), v.clone())));
    Resp { status, headers: h, body: body.to_string().into_bytes() }
}

// ---------------------------------------------------------------------------------------
// SSO-OIDC (restJson1). Errors: `x-amzn-ErrorType: <Shape>:<namespace>` and a body of
// `{"error": ..., "error_description": ...}`, status from the model (400; 401 for
// InvalidClientException; 500 for InternalServerException).

fn oidc_error(s: &mut State, shape: &str, error: &str, description: &str) -> Resp {
    let status = match shape {
        "InvalidClientException" => 401,
        "InternalServerException" => 500,
        _ => 400,
    };
    let id = request_id(s);
    json_resp(
        status,
        &[("x-amzn-RequestId", id), ("x-amzn-ErrorType", format!("{shape}:{OIDC_FAULT_NS}"))],
        json!({"error": error, "error_description": description}),
    )
}

fn oidc_ok(s: &mut State, body: Value) -> Resp {
    let id = request_id(s);
    json_resp(200, &[("x-amzn-RequestId", id)], body)
}

fn str_list(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default()
}

fn register_client(s: &mut State, p: &Value) -> Resp {
    let name = p.get("clientName").and_then(Value::as_str).unwrap_or("");
    let kind = p.get("clientType").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() || kind.is_empty() {
        return oidc_error(s, "InvalidRequestException", "invalid_request", "clientName and clientType are required");
    }
    if kind != "public" {
        return oidc_error(s, "InvalidClientMetadataException", "invalid_client_metadata", "Invalid client type");
    }
    let grants = str_list(&p["grantTypes"]);
    if let Some(g) =
        grants.iter().find(|g| !["authorization_code", "refresh_token", DEVICE_GRANT].contains(&g.as_str()))
    {
        return oidc_error(
            s,
            "UnsupportedGrantTypeException",
            "unsupported_grant_type",
            &format!("Unsupported grant type: {g}"),
        );
    }
    let n = s.next();
    let client = Client {
        id: format!("portal-client-{n:04}-{}", name.replace(|c: char| !c.is_ascii_alphanumeric(), "")),
        secret: format!("eyJraWQiOiJrZXktcG9ydGFsIiwiYWxnIjoiSFMzODQifQ.client-secret-{n:04}"),
        scopes: str_list(&p["scopes"]),
    };
    let now = epoch().as_secs();
    let body = json!({
        "clientId": client.id,
        "clientSecret": client.secret,
        "clientIdIssuedAt": now,
        "clientSecretExpiresAt": now + 90 * 24 * 3600,
    });
    s.clients.push(client);
    oidc_ok(s, body)
}

/// The client named by `clientId` / `clientSecret`, or the InvalidClientException answer.
fn authenticate(s: &mut State, p: &Value) -> Result<usize, Resp> {
    let id = p.get("clientId").and_then(Value::as_str).unwrap_or("");
    let secret = p.get("clientSecret").and_then(Value::as_str).unwrap_or("");
    match s.clients.iter().position(|c| c.id == id && c.secret == secret) {
        Some(i) => Ok(i),
        None => Err(oidc_error(s, "InvalidClientException", "invalid_client", "Invalid client provided")),
    }
}

fn start_device_authorization(s: &mut State, p: &Value, base: &str) -> Resp {
    let client = match authenticate(s, p) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if p.get("startUrl").and_then(Value::as_str).unwrap_or("").is_empty() {
        return oidc_error(s, "InvalidRequestException", "invalid_request", "startUrl is required");
    }
    let n = s.next();
    // Eight letters from an unambiguous alphabet, as the service shows them: ABCD-EFGH.
    const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    let mut x = n.wrapping_mul(2654435761).wrapping_add(97);
    let mut code = String::new();
    for i in 0..8 {
        if i == 4 {
            code.push('-');
        }
        code.push(ALPHABET[(x % 20) as usize] as char);
        x /= 20;
    }
    let device_code = format!("portal-device-code-{n:06}-{}", code.replace('-', ""));
    let (ttl, interval) = (s.opts.device_code_ttl, s.opts.interval);
    s.devices.push(DeviceAuth {
        device_code: device_code.clone(),
        user_code: code.clone(),
        client_id: s.clients[client].id.clone(),
        started: Instant::now(),
        polls: 0,
        last_poll: None,
        grant: Grant::Pending,
    });
    oidc_ok(
        s,
        json!({
            "deviceCode": device_code,
            "userCode": code,
            "verificationUri": format!("{base}/device"),
            "verificationUriComplete": format!("{base}/device?user_code={code}"),
            "expiresIn": ttl.as_secs(),
            "interval": interval,
        }),
    )
}

fn issue_tokens(s: &mut State, client: usize) -> Resp {
    let n = s.next();
    let ttl = s.opts.access_token_ttl;
    let access = format!("aoaAAAAAGportal{n:06}accesstoken");
    s.access.push(AccessToken { token: access.clone(), expires: Instant::now() + ttl, revoked: false });
    let mut body = json!({"accessToken": access, "tokenType": "Bearer", "expiresIn": ttl.as_secs()});
    if !s.clients[client].scopes.is_empty() || s.opts.refresh_without_scopes {
        let refresh = format!("aorAAAAAGportal{n:06}refreshtoken");
        s.refresh.push(RefreshToken {
            token: refresh.clone(),
            client_id: s.clients[client].id.clone(),
            expired: false,
        });
        body["refreshToken"] = json!(refresh);
    }
    oidc_ok(s, body)
}

fn create_token(s: &mut State, p: &Value) -> Resp {
    let client = match authenticate(s, p) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let client_id = s.clients[client].id.clone();
    match p.get("grantType").and_then(Value::as_str).unwrap_or("") {
        DEVICE_GRANT => {
            let code = p.get("deviceCode").and_then(Value::as_str).unwrap_or("");
            let Some(i) = s.devices.iter().position(|d| d.device_code == code && d.client_id == client_id) else {
                return oidc_error(s, "InvalidGrantException", "invalid_grant", "Invalid grant provided");
            };
            let (ttl, interval) = (s.opts.device_code_ttl, Duration::from_secs(s.opts.interval));
            let (slow, approve_after, enforce) =
                (s.opts.slow_down_polls, s.opts.approve_after_polls, s.opts.enforce_interval);
            let now = Instant::now();
            let d = &mut s.devices[i];
            let too_soon = enforce && d.last_poll.is_some_and(|t| now.duration_since(t) < interval);
            d.polls += 1;
            d.last_poll = Some(now);
            if now.duration_since(d.started) >= ttl {
                return oidc_error(s, "ExpiredTokenException", "expired_token", "Device code has expired");
            }
            match d.grant {
                Grant::Redeemed => {
                    return oidc_error(s, "InvalidGrantException", "invalid_grant", "Invalid grant provided");
                }
                Grant::Denied => {
                    return oidc_error(s, "AccessDeniedException", "access_denied", "Access denied by user");
                }
                _ => {}
            }
            if d.polls <= slow || too_soon {
                return oidc_error(s, "SlowDownException", "slow_down", "Client is polling too quickly");
            }
            if d.grant == Grant::Pending && approve_after.is_some_and(|n| d.polls > n) {
                d.grant = Grant::Approved;
            }
            if d.grant == Grant::Pending {
                return oidc_error(
                    s,
                    "AuthorizationPendingException",
                    "authorization_pending",
                    "Authorization is still pending",
                );
            }
            d.grant = Grant::Redeemed;
            issue_tokens(s, client)
        }
        "refresh_token" => {
            let token = p.get("refreshToken").and_then(Value::as_str).unwrap_or("");
            let ok = s.refresh.iter().any(|r| r.token == token && r.client_id == client_id && !r.expired);
            if !ok {
                return oidc_error(s, "InvalidGrantException", "invalid_grant", "Invalid refresh token provided");
            }
            issue_tokens(s, client)
        }
        "" => oidc_error(s, "InvalidRequestException", "invalid_request", "grantType is required"),
        other => {
            let msg = format!("Unsupported grant type: {other}");
            oidc_error(s, "UnsupportedGrantTypeException", "unsupported_grant_type", &msg)
        }
    }
}

fn verify_device(s: &mut State, req: &HttpRequest) -> Resp {
    let code = req.query("user_code").unwrap_or("");
    let found = s.devices.iter_mut().find(|d| d.user_code == code && d.grant == Grant::Pending);
    let status = match found {
        Some(d) => {
            d.grant = Grant::Approved;
            200
        }
        None => 404,
    };
    Resp {
        status,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: if status == 200 { b"Request approved".to_vec() } else { b"Unknown code".to_vec() },
    }
}

// ---------------------------------------------------------------------------------------
// SSO portal (restJson1). The bearer is the `x-amz-sso_bearer_token` header. Errors: the
// body `{"message": ..., "__type": "com.amazonaws.switchboard.portal#<Shape>"}`.

fn portal_error(status: u16, shape: &str, message: &str) -> Resp {
    json_resp(status, &[], json!({"message": message, "__type": format!("{PORTAL_NS}#{shape}")}))
}

fn portal_ok(s: &mut State, body: Value) -> Resp {
    let id = request_id(s);
    json_resp(200, &[("RequestId", id)], body)
}

fn unauthorized() -> Resp {
    portal_error(401, "UnauthorizedException", "Session token not found or invalid")
}

/// Whether the request carries a live access token.
fn bearer_ok(s: &State, req: &HttpRequest) -> bool {
    let token = req.header("x-amz-sso_bearer_token").unwrap_or("");
    let now = Instant::now();
    s.access.iter().any(|t| t.token == token && !t.revoked && t.expires > now)
}

/// One page of `items`: (the page, the next token) or the InvalidRequestException answer.
fn page<T: Clone>(s: &State, req: &HttpRequest, kind: &str, items: &[T]) -> Result<(Vec<T>, Option<String>), Resp> {
    let mut size = s.opts.page_size.max(1);
    if let Some(m) = req.query("max_result") {
        match m.parse::<usize>() {
            Ok(m) if m >= 1 => size = size.min(m),
            _ => return Err(portal_error(400, "InvalidRequestException", "Invalid maxResults")),
        }
    }
    let start = match req.query("next_token") {
        None => 0,
        Some(t) => match t.strip_prefix(&format!("AAEA+{kind}/")).and_then(|r| r.strip_suffix("==")) {
            Some(n) => {
                n.parse::<usize>().map_err(|_| portal_error(400, "InvalidRequestException", "Invalid nextToken"))?
            }
            None => return Err(portal_error(400, "InvalidRequestException", "Invalid nextToken")),
        },
    };
    let start = start.min(items.len());
    let end = (start + size).min(items.len());
    // Opaque to the client, and with characters that must be percent-encoded in a query.
    let next = (end < items.len()).then(|| format!("AAEA+{kind}/{end}=="));
    Ok((items[start..end].to_vec(), next))
}

fn list_accounts(s: &mut State, req: &HttpRequest) -> Resp {
    if !bearer_ok(s, req) {
        return unauthorized();
    }
    let accounts: Vec<Value> = s
        .opts
        .accounts
        .iter()
        .map(|a| json!({"accountId": a.id, "accountName": a.name, "emailAddress": a.email}))
        .collect();
    match page(s, req, "accounts", &accounts) {
        Ok((list, next)) => portal_ok(s, json!({"nextToken": next, "accountList": list})),
        Err(r) => r,
    }
}

fn list_account_roles(s: &mut State, req: &HttpRequest) -> Resp {
    if !bearer_ok(s, req) {
        return unauthorized();
    }
    let Some(id) = req.query("account_id") else {
        return portal_error(400, "InvalidRequestException", "accountId is required");
    };
    let Some(account) = s.opts.accounts.iter().find(|a| a.id == id) else {
        return portal_error(403, "ForbiddenException", "No access");
    };
    let roles: Vec<Value> = account.roles.iter().map(|r| json!({"roleName": r, "accountId": account.id})).collect();
    match page(s, req, &format!("roles-{id}"), &roles) {
        Ok((list, next)) => portal_ok(s, json!({"nextToken": next, "roleList": list})),
        Err(r) => r,
    }
}

fn new_keys(s: &mut State) -> (String, String, String) {
    let n = s.next();
    (
        format!("ASIAPORTAL{n:010}"),
        format!("portalSecretAccessKey/{n:018}+"),
        format!("IQoJb3JpZ2luX2VjEPortalSessionToken{n:010}//////////wEaCXVzLWVhc3QtMSJHMEUCIQ=="),
    )
}

fn get_role_credentials(s: &mut State, req: &HttpRequest) -> Resp {
    if !bearer_ok(s, req) {
        return unauthorized();
    }
    let (Some(account), Some(role)) = (req.query("account_id"), req.query("role_name")) else {
        return portal_error(400, "InvalidRequestException", "accountId and roleName are required");
    };
    if !s.opts.accounts.iter().any(|a| a.id == account && a.roles.iter().any(|r| r == role)) {
        return portal_error(403, "ForbiddenException", "No access");
    }
    let (key, secret, token) = new_keys(s);
    let expiration_ms = (epoch() + s.opts.role_credentials_ttl).as_millis() as u64;
    s.issued.push(Issued {
        op: "GetRoleCredentials".into(),
        account: account.into(),
        role: role.into(),
        access_key_id: key.clone(),
        secret_access_key: secret.clone(),
        session_token: token.clone(),
        expiration_ms,
    });
    portal_ok(
        s,
        json!({"roleCredentials": {
            "accessKeyId": key, "secretAccessKey": secret, "sessionToken": token, "expiration": expiration_ms
        }}),
    )
}

fn logout(s: &mut State, req: &HttpRequest) -> Resp {
    if !bearer_ok(s, req) {
        return unauthorized();
    }
    let token = req.header("x-amz-sso_bearer_token").unwrap_or("").to_string();
    s.access.iter_mut().filter(|t| t.token == token).for_each(|t| t.revoked = true);
    let id = request_id(s);
    Resp { status: 200, headers: vec![("RequestId".into(), id)], body: Vec::new() }
}

// ---------------------------------------------------------------------------------------
// STS (awsQuery): AssumeRoot here, everything else forwarded.

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn sts_error(status: u16, code: &str, message: &str, request_id: &str) -> Resp {
    let body = format!(
        "<ErrorResponse xmlns=\"{STS_NS}\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>{code}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
        xml_escape(message)
    );
    Resp {
        status,
        headers: vec![("Content-Type".into(), "text/xml".into()), ("x-amzn-RequestId".into(), request_id.into())],
        body: body.into_bytes(),
    }
}

fn iso8601(ms: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp((ms / 1000) as i64).unwrap();
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

fn assume_root(s: &mut State, form: &[(String, String)]) -> Resp {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let id = request_id(s);
    let Some(target) = get("TargetPrincipal").filter(|t| !t.is_empty()) else {
        return sts_error(400, "MissingParameter", "The request must contain the parameter TargetPrincipal", &id);
    };
    let Some(policy) = get("TaskPolicyArn.arn").filter(|t| !t.is_empty()) else {
        return sts_error(400, "MissingParameter", "The request must contain the parameter TaskPolicyArn", &id);
    };
    let duration = match get("DurationSeconds").map(str::parse::<u64>) {
        None => 900,
        Some(Ok(d)) if d <= 900 => d,
        Some(Ok(d)) => {
            let msg = format!(
                "1 validation error detected: Value '{d}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 900"
            );
            return sts_error(400, "ValidationError", &msg, &id);
        }
        Some(Err(_)) => return sts_error(400, "MalformedInput", "DurationSeconds is not an integer", &id),
    };
    if !ROOT_TASK_POLICIES.contains(&policy) {
        let msg = format!("The task policy {policy} is not a valid root task policy");
        return sts_error(400, "ValidationError", &msg, &id);
    }
    let (key, secret, token) = new_keys(s);
    let expiration_ms = (epoch() + Duration::from_secs(duration)).as_millis() as u64;
    s.issued.push(Issued {
        op: "AssumeRoot".into(),
        account: target.into(),
        role: policy.into(),
        access_key_id: key.clone(),
        secret_access_key: secret.clone(),
        session_token: token.clone(),
        expiration_ms,
    });
    let source = s
        .opts
        .source_identity
        .as_ref()
        .map(|v| format!("    <SourceIdentity>{}</SourceIdentity>\n", xml_escape(v)))
        .unwrap_or_default();
    let body = format!(
        "<AssumeRootResponse xmlns=\"{STS_NS}\">\n  <AssumeRootResult>\n{source}    <Credentials>\n      <AccessKeyId>{key}</AccessKeyId>\n      <SecretAccessKey>{}</SecretAccessKey>\n      <SessionToken>{}</SessionToken>\n      <Expiration>{}</Expiration>\n    </Credentials>\n  </AssumeRootResult>\n  <ResponseMetadata>\n    <RequestId>{id}</RequestId>\n  </ResponseMetadata>\n</AssumeRootResponse>\n",
        xml_escape(&secret),
        xml_escape(&token),
        iso8601(expiration_ms)
    );
    Resp {
        status: 200,
        headers: vec![("Content-Type".into(), "text/xml".into()), ("x-amzn-RequestId".into(), id)],
        body: body.into_bytes(),
    }
}

/// Sends the request as it came (method, target, headers, body) to `upstream` and returns
/// its answer; hop-by-hop headers are the only ones changed.
fn forward(upstream: &str, req: &HttpRequest) -> Resp {
    let bad = |e: String| Resp {
        status: 502,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: format!("portal: upstream {upstream}: {e}").into_bytes(),
    };
    let host = upstream.trim_start_matches("http://").trim_end_matches('/');
    let mut up = match TcpStream::connect(host) {
        Ok(s) => s,
        Err(e) => return bad(e.to_string()),
    };
    up.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    for (k, v) in &req.headers {
        if k != "connection" && k != "keep-alive" {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    if let Err(e) = up.write_all(head.as_bytes()).and_then(|_| up.write_all(&req.body)) {
        return bad(e.to_string());
    }
    let mut reader = BufReader::new(up);
    let mut status_line = String::new();
    if reader.read_line(&mut status_line).is_err() {
        return bad("no answer".into());
    }
    let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(502);
    let (mut headers, mut len, mut chunked) = (Vec::new(), None, false);
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            break;
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        let Some((k, v)) = h.split_once(':') else { continue };
        let (k, v) = (k.trim().to_string(), v.trim().to_string());
        match k.to_ascii_lowercase().as_str() {
            "content-length" => len = v.parse::<usize>().ok(),
            "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
            "connection" | "keep-alive" => {}
            _ => headers.push((k, v)),
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            if reader.read_line(&mut size).unwrap_or(0) == 0 {
                break;
            }
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            let mut chunk = vec![0; n + 2];
            if reader.read_exact(&mut chunk).is_err() {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = len {
        body.resize(n, 0);
        if let Err(e) = reader.read_exact(&mut body) {
            return bad(e.to_string());
        }
    } else {
        let _ = reader.read_to_end(&mut body);
    }
    Resp { status, headers, body }
}

// ---------------------------------------------------------------------------------------
// Faithfulness: botocore (an independent client, generated from the services' own models)
// against the stand-in.

#[cfg(test)]
mod botocore_checks {
    use super::*;
    use crate::support::{Moto, venv_bin};
    use std::process::Command;

    /// Runs `script` with the venv's python and `args`; returns stdout, failing with stderr.
    fn python(script: &str, args: &[String]) -> String {
        run_python(script, args).unwrap_or_else(|e| panic!("{e}"))
    }

    fn run_python(script: &str, args: &[String]) -> Result<String, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("check.py");
        std::fs::write(&path, format!("{PRELUDE}{script}")).unwrap();
        let out = Command::new(venv_bin("python"))
            .arg(&path)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", dir.path())
            .env("AWS_CONFIG_FILE", dir.path().join("no-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("no-credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("run python");
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            return Err(format!("python failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status));
        }
        Ok(stdout.into_owned())
    }

    const PRELUDE: &str = r#"
import datetime, json, sys, time
import boto3, botocore
from botocore.exceptions import ClientError
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
START_URL = "https://d-1234567890.awsapps.com/start"

def oidc(url):
    return boto3.client("sso-oidc", endpoint_url=url, region_name="us-east-1")

def sso(url):
    return boto3.client("sso", endpoint_url=url, region_name="us-east-1")

def expect(exc, fn, **kw):
    """Calls fn(**kw), which must raise exc (a class or an error code); returns the error."""
    try:
        fn(**kw)
    except ClientError as e:
        if isinstance(exc, str):
            assert e.response["Error"]["Code"] == exc, (exc, e.response)
        else:
            assert isinstance(e, exc), (exc, type(e), e.response)
        return e
    raise AssertionError(f"{fn.__name__} did not raise {exc}")

def login(url, scopes=("sso:account:access",)):
    """RegisterClient + StartDeviceAuthorization + polls until a token (auto-approving portal)."""
    c = oidc(url)
    reg = c.register_client(clientName="botocore-check", clientType="public", scopes=list(scopes))
    dev = c.start_device_authorization(clientId=reg["clientId"], clientSecret=reg["clientSecret"], startUrl=START_URL)
    for _ in range(50):
        try:
            return c.create_token(clientId=reg["clientId"], clientSecret=reg["clientSecret"], grantType=DEVICE, deviceCode=dev["deviceCode"])
        except (c.exceptions.AuthorizationPendingException, c.exceptions.SlowDownException):
            time.sleep(0.05)
    raise AssertionError("never approved")
"#;

    const DEVICE_FLOW: &str = r#"
url = sys.argv[1]
c = oidc(url)
reg = c.register_client(clientName="tfauth", clientType="public", scopes=["sso:account:access"], grantTypes=[DEVICE, "refresh_token"])
for k in ("clientId", "clientSecret"):
    assert isinstance(reg[k], str) and reg[k], reg
assert isinstance(reg["clientIdIssuedAt"], int) and isinstance(reg["clientSecretExpiresAt"], int), reg
assert reg["clientSecretExpiresAt"] > reg["clientIdIssuedAt"] > 1600000000, reg
cid, secret = reg["clientId"], reg["clientSecret"]
dev = c.start_device_authorization(clientId=cid, clientSecret=secret, startUrl=START_URL)
assert isinstance(dev["expiresIn"], int) and isinstance(dev["interval"], int), dev
assert dev["verificationUriComplete"].endswith("user_code=" + dev["userCode"]), dev
assert dev["verificationUri"].startswith(url), dev
seen = []
for _ in range(400):
    try:
        tok = c.create_token(clientId=cid, clientSecret=secret, grantType=DEVICE, deviceCode=dev["deviceCode"])
        break
    except c.exceptions.SlowDownException as e:
        assert e.response["error"] == "slow_down", e.response
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        seen.append("SlowDown")
    except c.exceptions.AuthorizationPendingException as e:
        assert e.response["Error"]["Code"] == "AuthorizationPendingException", e.response
        assert e.response["error"] == "authorization_pending", e.response
        assert e.response["error_description"], e.response
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert e.response["ResponseMetadata"]["RequestId"], e.response
        seen.append("Pending")
    time.sleep(0.05)
else:
    raise AssertionError("never approved: %r" % seen)
assert seen[:2] == ["SlowDown", "Pending"] and set(seen[1:]) == {"Pending"}, seen
assert tok["tokenType"] == "Bearer" and isinstance(tok["expiresIn"], int) and tok["expiresIn"] > 0, tok
assert tok["accessToken"] and tok["refreshToken"], tok
# A device code is good for one token.
e = expect(c.exceptions.InvalidGrantException, c.create_token, clientId=cid, clientSecret=secret, grantType=DEVICE, deviceCode=dev["deviceCode"])
assert e.response["error"] == "invalid_grant"
# The refresh-token grant.
new = c.create_token(clientId=cid, clientSecret=secret, grantType="refresh_token", refreshToken=tok["refreshToken"])
assert new["accessToken"] != tok["accessToken"] and new["tokenType"] == "Bearer", new
# A wrong secret is InvalidClientException, 401.
e = expect(c.exceptions.InvalidClientException, c.create_token, clientId=cid, clientSecret="nope", grantType="refresh_token", refreshToken=tok["refreshToken"])
assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 401 and e.response["error"] == "invalid_client"
print(json.dumps({"clientId": cid, "clientSecret": secret, "refreshToken": new["refreshToken"], "userCode": dev["userCode"], "seen": seen}))
"#;

    const REFRESH_EXPIRED: &str = r#"
url, cid, secret, refresh = sys.argv[1:5]
c = oidc(url)
e = expect(c.exceptions.InvalidGrantException, c.create_token, clientId=cid, clientSecret=secret, grantType="refresh_token", refreshToken=refresh)
assert e.response["error"] == "invalid_grant" and e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response
"#;

    #[test]
    fn aws_portal_device_flow_slow_down_pending_approve_refresh() {
        let portal = Portal::start(PortalOpts::default());
        let done = AtomicBool::new(false);
        let out = std::thread::scope(|scope| {
            // The user approves in the browser once the client has polled twice.
            scope.spawn(|| {
                let start = Instant::now();
                while !done.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(60) {
                    if portal.count("CreateToken") >= 2
                        && let Some(code) = portal.pending_user_codes().first()
                    {
                        assert!(portal.approve(code));
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            });
            let out = run_python(DEVICE_FLOW, &[portal.url()]);
            done.store(true, Ordering::Relaxed);
            out.unwrap_or_else(|e| panic!("{e}"))
        });
        let doc: Value = serde_json::from_str(out.trim()).unwrap();
        assert!(portal.pending_user_codes().is_empty());
        assert_eq!(portal.count("RegisterClient"), 1);
        assert_eq!(portal.count("StartDeviceAuthorization"), 1);
        let polls = doc["seen"].as_array().unwrap().len();
        // polls + the token + the reused device code + refresh + the wrong secret
        assert_eq!(portal.count("CreateToken"), polls + 4);
        let grants: Vec<String> =
            portal.requests_for("CreateToken").iter().map(|r| r.param("grantType").unwrap_or("").to_string()).collect();
        assert!(grants[..polls + 2].iter().all(|g| g == DEVICE_GRANT), "{grants:?}");
        assert_eq!(&grants[polls + 2..], ["refresh_token", "refresh_token"]);
        let register = &portal.requests_for("RegisterClient")[0];
        assert_eq!(register.params["scopes"], json!(["sso:account:access"]));
        assert_eq!(register.header("content-type"), Some("application/json"));
        let times = portal.token_polls();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        // Once the test expires the refresh tokens, the grant fails as the service fails it.
        portal.expire_refresh_tokens();
        let args: Vec<String> =
            ["clientId", "clientSecret", "refreshToken"].iter().map(|k| doc[k].as_str().unwrap().to_string()).collect();
        python(REFRESH_EXPIRED, &[vec![portal.url()], args].concat());
        assert_eq!(portal.count("CreateToken"), polls + 5);
    }

    const DENY_EXPIRE_INTERVAL: &str = r#"
deny_url, short_url, strict_url = sys.argv[1:4]
# Denied in the browser: AccessDeniedException.
c = oidc(deny_url)
reg = c.register_client(clientName="legacy", clientType="public")
dev = c.start_device_authorization(clientId=reg["clientId"], clientSecret=reg["clientSecret"], startUrl=START_URL)
for _ in range(400):
    try:
        c.create_token(clientId=reg["clientId"], clientSecret=reg["clientSecret"], grantType=DEVICE, deviceCode=dev["deviceCode"])
        raise AssertionError("a denied authorization gave a token")
    except c.exceptions.AuthorizationPendingException:
        time.sleep(0.05)
    except c.exceptions.AccessDeniedException as e:
        assert e.response["error"] == "access_denied" and e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response
        break
else:
    raise AssertionError("never denied")
# A client registered without scopes (the legacy configuration) gets no refresh token.
tok = login(short_url, scopes=())
assert "refreshToken" not in tok and tok["accessToken"], tok
# A device code past its lifetime: ExpiredTokenException.
c = oidc(short_url)
reg = c.register_client(clientName="slow", clientType="public", scopes=["sso:account:access"])
dev = c.start_device_authorization(clientId=reg["clientId"], clientSecret=reg["clientSecret"], startUrl=START_URL)
assert dev["expiresIn"] == 1, dev
time.sleep(1.3)
e = expect(c.exceptions.ExpiredTokenException, c.create_token, clientId=reg["clientId"], clientSecret=reg["clientSecret"], grantType=DEVICE, deviceCode=dev["deviceCode"])
assert e.response["error"] == "expired_token", e.response
expect(c.exceptions.UnsupportedGrantTypeException, c.create_token, clientId=reg["clientId"], clientSecret=reg["clientSecret"], grantType="password")
expect(c.exceptions.InvalidClientException, c.start_device_authorization, clientId="nobody", clientSecret="x", startUrl=START_URL)
# Polling faster than the interval: SlowDownException, then success after waiting.
c = oidc(strict_url)
reg = c.register_client(clientName="strict", clientType="public", scopes=["sso:account:access"])
dev = c.start_device_authorization(clientId=reg["clientId"], clientSecret=reg["clientSecret"], startUrl=START_URL)
kw = dict(clientId=reg["clientId"], clientSecret=reg["clientSecret"], grantType=DEVICE, deviceCode=dev["deviceCode"])
expect(c.exceptions.AuthorizationPendingException, c.create_token, **kw)
expect(c.exceptions.SlowDownException, c.create_token, **kw)
time.sleep(dev["interval"] + 0.1)
assert c.create_token(**kw)["tokenType"] == "Bearer"
"#;

    #[test]
    fn aws_portal_device_flow_denied_expired_and_interval() {
        let deny = Portal::start(PortalOpts { slow_down_polls: 0, ..Default::default() });
        let short = Portal::start(PortalOpts {
            device_code_ttl: Duration::from_secs(1),
            approve_after_polls: Some(0),
            slow_down_polls: 0,
            ..Default::default()
        });
        let strict = Portal::start(PortalOpts {
            enforce_interval: true,
            approve_after_polls: Some(2),
            slow_down_polls: 0,
            ..Default::default()
        });
        let done = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let start = Instant::now();
                while !done.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(60) {
                    if deny.count("CreateToken") >= 1 {
                        assert_eq!(deny.deny(), 1);
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            });
            let out = run_python(DENY_EXPIRE_INTERVAL, &[deny.url(), short.url(), strict.url()]);
            done.store(true, Ordering::Relaxed);
            out.unwrap_or_else(|e| panic!("{e}"));
        });
        assert!(deny.pending_user_codes().is_empty());
        assert!(deny.access_tokens().is_empty());
        assert_eq!(short.access_tokens().len(), 1);
        assert_eq!(strict.count("CreateToken"), 3);
        let t = strict.token_polls();
        assert!(t[2].duration_since(t[1]) >= Duration::from_secs(1));
    }

    const PORTAL_API: &str = r#"
url, short_url = sys.argv[1:3]
token = login(url)["accessToken"]
s = sso(url)
pages = list(s.get_paginator("list_accounts").paginate(accessToken=token))
assert [len(p["accountList"]) for p in pages] == [2, 2, 1], pages
accounts = [a for p in pages for a in p["accountList"]]
assert [a["accountId"] for a in accounts] == ["100000000001", "100000000002", "100000000003", "100000000004", "100000000005"], accounts
assert accounts[0] == {"accountId": "100000000001", "accountName": "acme-1", "emailAddress": "aws+1@example.com"}, accounts[0]
# Roles: max_result below the page size is honoured, above it is not.
one = s.list_account_roles(accessToken=token, accountId="100000000001", maxResults=1)
assert len(one["roleList"]) == 1 and one["nextToken"], one
pages = list(s.get_paginator("list_account_roles").paginate(accessToken=token, accountId="100000000001", PaginationConfig={"PageSize": 50}))
roles = [r for p in pages for r in p["roleList"]]
assert len(pages) == 2 and roles == [{"roleName": n, "accountId": "100000000001"} for n in ("Admin", "Deploy", "ReadOnly")], pages
creds = s.get_role_credentials(accessToken=token, accountId="100000000001", roleName="Deploy")["roleCredentials"]
assert isinstance(creds["expiration"], int), creds
assert abs(creds["expiration"] - (time.time() + 3600) * 1000) < 60_000, creds
assert creds["accessKeyId"].startswith("ASIA") and len(creds["accessKeyId"]) == 20, creds
again = s.get_role_credentials(accessToken=token, accountId="100000000001", roleName="Deploy")["roleCredentials"]
assert again["accessKeyId"] != creds["accessKeyId"] and again["sessionToken"] != creds["sessionToken"]
# Not assigned: ForbiddenException "No access" (not in the model: a plain ClientError).
e = expect("ForbiddenException", s.get_role_credentials, accessToken=token, accountId="100000000002", roleName="Deploy")
assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 403 and e.response["Error"]["Message"] == "No access", e.response
expect("ForbiddenException", s.list_account_roles, accessToken=token, accountId="999999999999")
# A token the service does not know: UnauthorizedException, 401.
e = expect(s.exceptions.UnauthorizedException, s.list_accounts, accessToken="not-a-token")
assert e.response["Error"]["Message"] == "Session token not found or invalid", e.response
assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 401
expect(s.exceptions.UnauthorizedException, s.get_role_credentials, accessToken="not-a-token", accountId="100000000001", roleName="Deploy")
# Logout ends the session.
s.logout(accessToken=token)
expect(s.exceptions.UnauthorizedException, s.list_accounts, accessToken=token)
# An access token past its lifetime.
short = login(short_url)
assert short["expiresIn"] == 1, short
sso(short_url).list_accounts(accessToken=short["accessToken"])
time.sleep(1.2)
expect(s.exceptions.UnauthorizedException, sso(short_url).list_accounts, accessToken=short["accessToken"])
print(json.dumps([creds, again]))
"#;

    #[test]
    fn aws_portal_accounts_roles_credentials_and_logout() {
        let accounts: Vec<Account> = (1..=5)
            .map(|i| {
                let roles: &[&str] = if i == 1 { &["Admin", "Deploy", "ReadOnly"] } else { &["ReadOnly"] };
                Account::new(&format!("10000000000{i}"), &format!("acme-{i}"), &format!("aws+{i}@example.com"), roles)
            })
            .collect();
        let auto = PortalOpts { approve_after_polls: Some(0), slow_down_polls: 0, ..Default::default() };
        let portal = Portal::start(PortalOpts { accounts, ..auto.clone() });
        let short = Portal::start(PortalOpts { access_token_ttl: Duration::from_secs(1), ..auto });
        let out = python(PORTAL_API, &[portal.url(), short.url()]);
        // The paginator made exactly three ListAccounts calls, passing the opaque token back intact.
        let ok = portal.requests_for("ListAccounts").iter().filter(|r| r.status == 200).count();
        assert_eq!(ok, 3, "three pages of two");
        assert_eq!(portal.count("ListAccounts"), 5, "3 pages, the unknown token, the logged-out token");
        let tokens: Vec<Option<String>> = portal
            .requests_for("ListAccounts")
            .iter()
            .take(3)
            .map(|r| r.param("next_token").map(String::from))
            .collect();
        assert_eq!(tokens, [None, Some("AAEA+accounts/2==".into()), Some("AAEA+accounts/4==".into())]);
        assert_eq!(portal.count("ListAccountRoles"), 4);
        assert_eq!(portal.count("GetRoleCredentials"), 4);
        assert_eq!(portal.count("Logout"), 1);
        let first = &portal.requests_for("ListAccounts")[0];
        assert_eq!(first.header("x-amz-sso_bearer_token"), Some(portal.access_tokens()[0].as_str()));
        // What botocore got is exactly what the stand-in recorded as issued.
        let got: Vec<Value> = serde_json::from_str(out.trim()).unwrap();
        let issued = portal.issued();
        assert_eq!(issued.len(), 2);
        for (g, i) in got.iter().zip(&issued) {
            assert_eq!(g["accessKeyId"], i.access_key_id.as_str());
            assert_eq!(g["secretAccessKey"], i.secret_access_key.as_str());
            assert_eq!(g["sessionToken"], i.session_token.as_str());
            assert_eq!(g["expiration"], i.expiration_ms);
            assert_eq!((i.account.as_str(), i.role.as_str()), ("100000000001", "Deploy"));
        }
        assert_eq!(portal.issued_key(&issued[1].access_key_id).as_ref(), Some(&issued[1]));
    }

    const STS: &str = r#"
url, bare_url = sys.argv[1:3]
sts = boto3.client("sts", endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIAPORTALCALLER000", aws_secret_access_key="caller-secret")
AUDIT = "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"
r = sts.assume_root(TargetPrincipal="333333333333", TaskPolicyArn={"arn": AUDIT}, DurationSeconds=600)
c = r["Credentials"]
assert c["AccessKeyId"].startswith("ASIA") and c["SecretAccessKey"] and c["SessionToken"], r
assert isinstance(c["Expiration"], datetime.datetime) and c["Expiration"].tzinfo is not None, c
left = (c["Expiration"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
assert 540 < left <= 600, left
assert r["SourceIdentity"] == "admin-alice", r
assert r["ResponseMetadata"]["RequestId"], r
r2 = sts.assume_root(TargetPrincipal="arn:aws:iam::444444444444:root", TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy"})
left = (r2["Credentials"]["Expiration"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
assert r2["Credentials"]["AccessKeyId"] != c["AccessKeyId"] and 840 < left <= 900, r2
e = expect("ValidationError", sts.assume_root, TargetPrincipal="333333333333", TaskPolicyArn={"arn": AUDIT}, DurationSeconds=901)
assert "less than or equal to 900" in e.response["Error"]["Message"] and e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response
assert e.response["Error"]["Type"] == "Sender", e.response
expect("ValidationError", sts.assume_root, TargetPrincipal="333333333333", TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/AdministratorAccess"})
# Everything else goes to moto, signature and all.
who = sts.get_caller_identity()
assert who["Account"] == "123456789012" and who["Arn"].startswith("arn:aws:"), who
# With no upstream, another action is refused as STS refuses an unknown one.
bare = boto3.client("sts", endpoint_url=bare_url, region_name="us-east-1", aws_access_key_id="AKIAPORTALCALLER000", aws_secret_access_key="caller-secret")
expect("InvalidAction", bare.get_caller_identity)
print(json.dumps([{k: str(v) for k, v in x["Credentials"].items()} for x in (r, r2)]))
"#;

    #[test]
    fn aws_portal_assume_root_and_forwarding_to_moto() {
        let moto = Moto::start();
        let portal = Portal::start(PortalOpts {
            sts_upstream: Some(moto.url()),
            source_identity: Some("admin-alice".into()),
            ..Default::default()
        });
        let bare = Portal::start(PortalOpts::default());
        let out = python(STS, &[portal.url(), bare.url()]);
        assert_eq!(portal.count("AssumeRoot"), 4);
        assert_eq!(portal.count("Forwarded"), 1);
        assert_eq!(bare.count("Unknown"), 1);
        assert_eq!(moto.count("GetCallerIdentity"), 1);
        let fwd = &portal.requests_for("Forwarded")[0];
        assert_eq!(fwd.param("Action"), Some("GetCallerIdentity"));
        let auth = fwd.header("authorization").unwrap_or("");
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIAPORTALCALLER000/"), "{auth}");
        let first = &portal.requests_for("AssumeRoot")[0];
        assert_eq!(first.param("Version"), Some("2011-06-15"));
        assert_eq!(first.param("TargetPrincipal"), Some("333333333333"));
        assert_eq!(first.param("TaskPolicyArn.arn"), Some(ROOT_TASK_POLICIES[0]));
        assert_eq!(first.param("DurationSeconds"), Some("600"));
        let got: Vec<Value> = serde_json::from_str(out.trim()).unwrap();
        let issued = portal.issued();
        assert_eq!(issued.len(), 2, "the refused calls issued nothing");
        for (g, i) in got.iter().zip(&issued) {
            assert_eq!(g["AccessKeyId"], i.access_key_id.as_str());
            assert_eq!(g["SecretAccessKey"], i.secret_access_key.as_str());
            assert_eq!(g["SessionToken"], i.session_token.as_str());
            assert_eq!(i.op, "AssumeRoot");
        }
        assert_eq!(issued[1].account, "arn:aws:iam::444444444444:root");
    }

    /// The SDK tfauth itself uses for STS reads AssumeRoot's XML and its errors the same way.
    #[test]
    fn aws_portal_assume_root_with_aws_sdk_sts() {
        use aws_sdk_sts::error::ProvideErrorMetadata;
        use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
        let moto = Moto::start();
        let portal = Portal::start(PortalOpts { sts_upstream: Some(moto.url()), ..Default::default() });
        let http =
            aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
        let conf = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .http_client(http)
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .endpoint_url(portal.url())
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                "AKIAPORTALRUSTSDK00",
                "rust-sdk-secret",
                None,
                None,
                "test",
            ))
            .build();
        let sts = aws_sdk_sts::Client::from_conf(conf);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let policy = aws_sdk_sts::types::PolicyDescriptorType::builder().arn(ROOT_TASK_POLICIES[2]).build();
            let out = sts
                .assume_root()
                .target_principal("555555555555")
                .task_policy_arn(policy.clone())
                .duration_seconds(300)
                .send()
                .await
                .expect("assume_root");
            let c = out.credentials().expect("credentials");
            let issued = portal.issued();
            assert_eq!(issued.len(), 1);
            assert_eq!(c.access_key_id(), issued[0].access_key_id);
            assert_eq!(c.secret_access_key(), issued[0].secret_access_key);
            assert_eq!(c.session_token(), issued[0].session_token);
            assert_eq!(c.expiration().secs() as u64, issued[0].expiration_ms / 1000);
            assert_eq!(out.source_identity(), None);
            let err = sts
                .assume_root()
                .target_principal("555555555555")
                .task_policy_arn(policy)
                .duration_seconds(901)
                .send()
                .await
                .expect_err("901 seconds is too long");
            assert_eq!(err.code(), Some("ValidationError"), "{err:?}");
            assert!(err.message().unwrap_or("").contains("less than or equal to 900"), "{err:?}");
            assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
            let who = sts.get_caller_identity().send().await.expect("forwarded to moto");
            assert_eq!(who.account(), Some("123456789012"));
        });
        assert_eq!(portal.count("AssumeRoot"), 2);
        assert_eq!(portal.count("Forwarded"), 1);
        assert_eq!(moto.count("GetCallerIdentity"), 1);
    }
}
