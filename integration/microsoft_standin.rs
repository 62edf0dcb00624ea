//! A loopback stand-in for the Microsoft identity platform (Entra ID, the AAD v2 endpoints of
//! `login.microsoftonline.com`), so tfauth's Azure logins can be tested end to end without a
//! tenant. One plain-HTTP/1.1 port on 127.0.0.1 serves, in the wire formats the real service
//! uses:
//!
//! - `POST /{tenant}/oauth2/v2.0/devicecode`: the device authorization endpoint;
//! - `POST /{tenant}/oauth2/v2.0/token`: the device code grant, the refresh token grant and
//!   client credentials with a federated client assertion (a GitHub OIDC JWT, a Kubernetes
//!   service account token), with AAD's JSON error body (`error`, `error_description` with its
//!   `AADSTSnnnn:` prefix and Trace ID / Correlation ID / Timestamp tail, `error_codes`,
//!   `timestamp`, `trace_id`, `correlation_id`, `error_uri`);
//! - `GET /{tenant}/v2.0/.well-known/openid-configuration` and
//!   `GET /common/discovery/instance`: the discovery documents MSAL reads;
//! - `GET /devicelogin?otc=CODE`: "the user signs in in a browser" (approves that code);
//! - `GET /__introspect?token=T` (the stand-in's own, for other stand-ins and tests; Entra has
//!   no such endpoint): 200 with the claims of an access token this stand-in issued while it is
//!   neither expired nor revoked ([`Entra::revoke_access_tokens`]), else 401
//!   `{"error": "invalid_token"}`. The ARM and AKS API-server stand-ins authenticate bearer
//!   tokens with it;
//! - `GET /{tenant}/oauth2/v2.0/authorize`: the authorization endpoint of the browser
//!   sign-in (`azure/interactive`): it checks the client, a loopback `redirect_uri`, an
//!   `S256` `code_challenge` and a `state`, and answers, as the signed-in user's browser
//!   would see it, a 302 to the redirect URI with `code` and `state` (with
//!   `response_mode=form_post`, as MSAL asks, a page whose form posts them); the token endpoint's
//!   `authorization_code` grant then checks `code_verifier` against the challenge and the
//!   `redirect_uri` against the one the code was issued for (AADSTS501481, AADSTS50148).
//!
//! Tokens are JWT-shaped (header.claims.signature) with a dummy signature: MSAL decodes the ID
//! token's claims and never checks its signature. An access token's `aud` is the resource of
//! the first resource scope asked for, whatever it is: `https://management.azure.com` for
//! `https://management.azure.com/.default`, the app id GUID for `GUID/.default` (as Entra puts
//! it for AKS's server app `6dae42f8-...`), for every grant (a refresh token serves any
//! resource, as Entra's multi-resource refresh tokens do). Tests steer the stand-in (approve, deny,
//! expire device codes; expire or revoke refresh tokens; make every token call fail) and
//! inspect it (counters, a log of every request with its form, the tokens it issued).
//!
//! # Plain HTTP for tfauth, TLS for MSAL
//!
//! tfauth's own client talks plain HTTP to [`Entra::url`]. MSAL Python and azure-identity
//! refuse authorities that are not `https://`, so [`Entra::tls`] starts a TLS front
//! (`integration/py/ms_tls_front.py`, the venv's Python): it makes a throwaway CA and a
//! certificate for IP 127.0.0.1 and DNS localhost, listens on its own loopback port and relays
//! each request byte for byte to the plain port. The stand-in knows the front's port, so a
//! request whose `Host` names it is answered with `https://` URLs pointing back at the front
//! (discovery documents, `verification_uri`, ID token `iss`); plain requests get `http://` URLs.
//! Python clients trust the front through [`TlsFront::ca_bundle`]: MSAL's `verify=`,
//! azure-core's `connection_verify=`, or `REQUESTS_CA_BUNDLE` (the tests below set all three).
//!
//! # What MSAL Python 1.39 does with an authority like `https://127.0.0.1:PORT/TENANT`
//!
//! Read from its source and checked by the tests at the bottom:
//! - the cache `environment` is the authority's *hostname only*, lower case, no port
//!   (`authority.canonicalize` keeps `urlparse(...).hostname`): "127.0.0.1";
//! - the cache `realm` is the first path segment of the `token_endpoint` that discovery
//!   returned (not of the authority string): a domain-name authority caches under the GUID,
//!   "organizations" under "organizations";
//! - the cache `target` is the answer's `scope` (not the scopes asked for), split and sorted;
//! - instance discovery (on unless `instance_discovery=False`) asks the URL it is given with
//!   `authorization_endpoint=https://127.0.0.1/TENANT/oauth2/v2.0/authorize` (port dropped), and
//!   then fetches whatever `tenant_discovery_endpoint` says; after a cache miss or a failed
//!   silent refresh it looks up authority aliases at `https://login.microsoftonline.com`
//!   whatever URL it was given, so tests that can miss pass `instance_discovery=False`;
//! - constructing the application always fetches the OpenID configuration (one GET); a silent
//!   call served from the cache makes no other request; an access token with less than five
//!   minutes left counts as expired and is refreshed with the refresh token.
//!
//! The `#[test]`s at the bottom drive the stand-in with msal 1.39.0 and azure-identity 1.27.0,
//! independent clients, and with a plain-HTTP client in Rust.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::wire::{Resp, parse_pairs, write_response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::venv_bin;

/// The device code grant (RFC 8628), as the token endpoint takes it.
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// `client_assertion_type` of a JWT client assertion (RFC 7523).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Azure CLI's public client id, which many tools use for device code logins.
pub const AZURE_CLI_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
/// A (made-up) app registration with a federated identity credential for GitHub Actions.
pub const WORKLOAD_CLIENT_ID: &str = "5f1c7f0e-6b7a-4c1e-9d2b-3a4e5f60718a";
/// The default home tenant (made up) and its verified domain.
pub const TENANT_ID: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
pub const TENANT_DOMAIN: &str = "acme.onmicrosoft.com";
/// Azure Resource Manager, what Terraform's azurerm provider asks for.
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";
/// The "Azure Kubernetes Service AAD Server" app: the `--server-id` of every AKS cluster with
/// AKS-managed Entra integration, the audience of the tokens its API server accepts.
pub const AKS_SERVER_ID: &str = "6dae42f8-4368-4678-94ff-3960e28e3630";
/// The `.default` scope of [`AKS_SERVER_ID`].
pub const AKS_SCOPE: &str = "6dae42f8-4368-4678-94ff-3960e28e3630/.default";
/// The "Azure Kubernetes Service Client" app (kubelogin's default `--client-id` in AKS's
/// kubeconfigs), a public client.
pub const AKS_CLIENT_ID: &str = "80faf920-1908-4b52-b5ef-a8e7bedfc67a";
/// What GitHub Actions' OIDC tokens say, and what Entra expects of them by default.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
pub const EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";
pub const GITHUB_SUBJECT: &str = "repo:acme/infra-live:ref:refs/heads/main";
/// The OpenID Connect scopes: they shape the answer (refresh token, ID token) but are not
/// part of the scope granted for the resource.
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];
/// Path segments that name no tenant in particular; they resolve to the user's home tenant.
const MULTI_TENANT: [&str; 3] = ["common", "organizations", "consumers"];

// ---------------------------------------------------------------------------------------
// Configuration

/// A directory (tenant): its id (a GUID) and the domain names that also name it in paths.
#[derive(Clone, Debug)]
pub struct Tenant {
    pub id: String,
    pub domains: Vec<String>,
}

impl Tenant {
    pub fn new(id: &str, domains: &[&str]) -> Tenant {
        Tenant { id: id.into(), domains: domains.iter().map(|d| d.to_string()).collect() }
    }
}

/// The user who signs in on the device code page.
#[derive(Clone, Debug)]
pub struct EntraUser {
    pub name: String,
    /// Object id, a GUID; with the home tenant id it makes MSAL's `home_account_id`.
    pub oid: String,
    /// `preferred_username` / `upn`: what MSAL shows as the account's `username`.
    pub upn: String,
}

impl Default for EntraUser {
    fn default() -> Self {
        EntraUser {
            name: "Jane Doe".into(),
            oid: "6c1d8d5c-9f3e-4b8a-a2d4-1e5f7a9b3c20".into(),
            upn: "jane@acme.onmicrosoft.com".into(),
        }
    }
}

/// A federated identity credential of an app registration: a client assertion is accepted for
/// `client_id` when its `iss`, `sub` and `aud` claims equal these (case-sensitively, as Entra
/// compares them). `None` skips that claim (a looser check than Entra's, for assertions such
/// as `support::github_token_endpoint`'s, which carry only `sub`).
#[derive(Clone, Debug)]
pub struct FederatedCredential {
    pub client_id: String,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub audience: Option<String>,
}

impl FederatedCredential {
    /// GitHub Actions' issuer and Entra's token exchange audience, for `subject`.
    pub fn github(client_id: &str, subject: &str) -> FederatedCredential {
        FederatedCredential {
            client_id: client_id.into(),
            issuer: Some(GITHUB_ISSUER.into()),
            subject: Some(subject.into()),
            audience: Some(EXCHANGE_AUDIENCE.into()),
        }
    }
}

/// An AAD error every token call answers with (see [`Entra::set_fault`]).
#[derive(Clone, Debug)]
pub struct Fault {
    pub status: u16,
    /// The OAuth `error`, e.g. "invalid_request".
    pub error: String,
    /// The AADSTS number, e.g. 50059.
    pub code: u32,
    /// The description after `AADSTSnnnn: `.
    pub message: String,
}

impl Fault {
    pub fn new(status: u16, error: &str, code: u32, message: &str) -> Fault {
        Fault { status, error: error.into(), code, message: message.into() }
    }

    /// 400 `invalid_request` AADSTS50059: a plain "the token endpoint said no".
    pub fn bad_request() -> Fault {
        Fault::new(
            400,
            "invalid_request",
            50059,
            "No tenant-identifying information found in either the request or implied by any provided credentials.",
        )
    }
}

/// How the stand-in behaves. `EntraOpts::default()` is one tenant, Azure CLI's client id and
/// the workload app, a user who approves only when [`Entra::approve`] says so, and the real
/// service's timings (`interval` 5, device codes for 900 s, access tokens for 3599 s).
#[derive(Clone, Debug)]
pub struct EntraOpts {
    /// The directories; the first is the user's home tenant (`utid`). "common",
    /// "organizations" and "consumers" name it too. Any other path segment gets AADSTS90002.
    pub tenants: Vec<Tenant>,
    /// The app registrations (client ids) the directory knows; others get AADSTS700016.
    /// Empty: any client id is accepted.
    pub client_ids: Vec<String>,
    pub user: EntraUser,
    /// Approve a device code by itself once it has been polled this many times (`Some(0)`:
    /// the first poll succeeds, unless `slow_down_polls` says otherwise). `None`: only
    /// [`Entra::approve`] / [`Entra::approve_all`] or a GET of `/devicelogin?otc=CODE` do.
    pub approve_after_polls: Option<usize>,
    /// The first this-many polls of each device code answer `slow_down`. MSAL then adds 5 s to
    /// its interval (RFC 8628), so keep this 0 in tests that drive MSAL.
    pub slow_down_polls: usize,
    /// `interval` of the device code answer, in seconds. MSAL sleeps this long between polls
    /// (0: it does not sleep at all).
    pub interval: u64,
    /// Device codes expire after this (`expires_in` is its whole seconds).
    pub device_code_ttl: Duration,
    /// Access tokens' `expires_in` and `ext_expires_in`.
    pub access_token_ttl: Duration,
    /// Refresh tokens stop working this long after they were issued (AADSTS700082, "expired
    /// due to inactivity"). `None`: they work until expired or revoked by the test.
    pub refresh_token_ttl: Option<Duration>,
    /// The `scope` of user token answers. `None`: the resource scopes asked for, with
    /// `<resource>/user_impersonation` before each `<resource>/.default` (what AAD answers a
    /// public client asking for ARM's `.default`), the OpenID scopes left out.
    pub granted_scope: Option<String>,
    /// The federated identity credentials client assertions are checked against.
    pub federated: Vec<FederatedCredential>,
    /// Every token call answers with this error (devicecode and discovery are unaffected).
    pub fault: Option<Fault>,
    /// `/authorize` redirects back with this `state` instead of the one it was given (a
    /// forged or stale redirect).
    pub redirect_state: Option<String>,
    /// `/authorize` keeps this challenge instead of the one it was given, so the client's
    /// `code_verifier` cannot match it.
    pub swap_challenge: Option<String>,
}

impl Default for EntraOpts {
    fn default() -> Self {
        EntraOpts {
            tenants: vec![Tenant::new(TENANT_ID, &[TENANT_DOMAIN])],
            client_ids: vec![AZURE_CLI_CLIENT_ID.into(), WORKLOAD_CLIENT_ID.into(), AKS_CLIENT_ID.into()],
            user: EntraUser::default(),
            approve_after_polls: None,
            slow_down_polls: 0,
            interval: 5,
            device_code_ttl: Duration::from_secs(900),
            access_token_ttl: Duration::from_secs(3599),
            refresh_token_ttl: None,
            granted_scope: None,
            federated: vec![FederatedCredential::github(WORKLOAD_CLIENT_ID, GITHUB_SUBJECT)],
            fault: None,
            redirect_state: None,
            swap_challenge: None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// What tests inspect

/// One request the stand-in answered.
#[derive(Clone, Debug)]
pub struct EntraRequest {
    /// The operation it was routed to: "DeviceCode", "DeviceCodeToken", "RefreshToken",
    /// "ClientCredentials", "AuthCodeToken", "Token" (no or another grant type), "OpenIdConfiguration",
    /// "InstanceDiscovery", "Keys", "DeviceLogin", "Authorize", "Introspect" or "Unknown".
    pub op: String,
    /// The path without the query.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Header names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The form fields of a POST, decoded, in the order sent.
    pub form: Vec<(String, String)>,
    pub status: u16,
    /// The `error` of an error answer.
    pub error: Option<String>,
    /// Whether it came through the TLS front.
    pub tls: bool,
}

impl EntraRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::wire::header(&self.headers, name)
    }
    /// A form field, or failing that a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form.iter().chain(&self.query).find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A token answer the stand-in gave.
#[derive(Clone, Debug, PartialEq)]
pub struct IssuedToken {
    /// "device_code", "refresh_token" or "client_credentials".
    pub grant: String,
    pub client_id: String,
    /// The tenant id the tokens are for (`tid`).
    pub tenant: String,
    /// The scope answered (user tokens) or asked for (client credentials, whose answer has none).
    pub scope: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub client_info: Option<String>,
    pub expires_in: u64,
    /// `expires_in` from when it was issued, in seconds since the epoch.
    pub expires_on: u64,
}

// ---------------------------------------------------------------------------------------
// State

#[derive(Clone, Copy, Debug, PartialEq)]
enum Grant {
    Pending,
    Approved,
    Denied,
    Redeemed,
}

struct Device {
    device_code: String,
    user_code: String,
    client_id: String,
    scope: String,
    started: Instant,
    polls: usize,
    grant: Grant,
    expired: bool,
}

impl Device {
    /// Waiting for the user: neither approved, declined, redeemed nor expired.
    fn pending(&self, ttl: Duration) -> bool {
        self.grant == Grant::Pending && !self.expired && self.started.elapsed() < ttl
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum RefreshState {
    Live,
    Expired,
    Revoked,
}

struct Refresh {
    token: String,
    client_id: String,
    scope: String,
    issued_at: u64,
    issued: Instant,
    state: RefreshState,
}

/// An authorization code `/authorize` issued, and what its redemption must match.
struct AuthCode {
    code: String,
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
    nonce: Option<String>,
    redeemed: bool,
}

struct State {
    opts: EntraOpts,
    codes: Vec<AuthCode>,
    /// The `nonce` of the code being redeemed, for [`issue_user_tokens`].
    nonce: Option<String>,
    serial: u64,
    /// Ports of the TLS fronts relaying to this stand-in.
    tls_ports: Vec<u16>,
    devices: Vec<Device>,
    refresh: Vec<Refresh>,
    issued: Vec<IssuedToken>,
    /// Access tokens [`Entra::revoke_access_tokens`] revoked.
    revoked_access: HashSet<String>,
    counts: HashMap<String, usize>,
    log: Vec<EntraRequest>,
}

impl State {
    fn next(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    /// A fresh GUID-shaped id.
    fn guid(&mut self, salt: &str) -> String {
        let n = self.next();
        guid_from(&format!("{}-{n}-{salt}-{:?}", std::process::id(), SystemTime::now()))
    }

    fn home(&self) -> &Tenant {
        &self.opts.tenants[0]
    }
}

/// The stand-in server; stopped when dropped.
pub struct Entra {
    port: u16,
    state: Arc<Mutex<State>>,
    _server: crate::wire::Server,
}

impl Entra {
    pub fn start(opts: EntraOpts) -> Entra {
        assert!(!opts.tenants.is_empty(), "the stand-in needs a home tenant");
        let server = crate::wire::Server::bind();
        let port = server.port;
        let state = Arc::new(Mutex::new(State {
            opts,
            serial: 0,
            tls_ports: Vec::new(),
            devices: Vec::new(),
            codes: Vec::new(),
            nonce: None,
            refresh: Vec::new(),
            issued: Vec::new(),
            revoked_access: HashSet::new(),
            counts: HashMap::new(),
            log: Vec::new(),
        }));
        let st = state.clone();
        let server = server.serve(move |stream| {
            let st = st.clone();
            std::thread::spawn(move || serve(stream, &st, port));
        });
        Entra { port, state, _server: server }
    }

    /// The plain-HTTP base URL, e.g. `http://127.0.0.1:PORT` (the "login.microsoftonline.com").
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The home tenant's id.
    pub fn tenant_id(&self) -> String {
        self.lock().home().id.clone()
    }

    /// The plain-HTTP authority of the home tenant: `http://127.0.0.1:PORT/TENANT_ID`.
    pub fn authority(&self) -> String {
        format!("{}/{}", self.url(), self.tenant_id())
    }

    /// Starts a TLS front for this stand-in (see the module docs); stopped when dropped.
    pub fn tls(&self) -> TlsFront {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(venv_bin("python"))
            .arg(py_script("ms_tls_front.py"))
            .arg(self.port.to_string())
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the TLS front");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let doc: Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("the TLS front did not start: {line:?}"));
        let port = doc["port"].as_u64().expect("port") as u16;
        self.lock().tls_ports.push(port);
        TlsFront { port, ca: PathBuf::from(doc["ca"].as_str().expect("ca")), child, _dir: dir }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The user declines every pending device code: their next poll gets
    /// `authorization_declined`. Returns how many were declined.
    pub fn deny(&self) -> usize {
        self.set_pending(Grant::Denied)
    }

    fn set_pending(&self, grant: Grant) -> usize {
        let mut s = self.lock();
        let ttl = s.opts.device_code_ttl;
        let mut n = 0;
        for d in s.devices.iter_mut().filter(|d| d.pending(ttl)) {
            d.grant = grant;
            n += 1;
        }
        n
    }

    /// Every device code issued so far expires now (`expired_token`). Returns how many.
    pub fn expire_device_codes(&self) -> usize {
        let mut s = self.lock();
        s.devices.iter_mut().for_each(|d| d.expired = true);
        s.devices.len()
    }

    /// User codes of the device codes neither approved, declined, redeemed nor expired,
    /// oldest first.
    pub fn pending_user_codes(&self) -> Vec<String> {
        let s = self.lock();
        let ttl = s.opts.device_code_ttl;
        s.devices.iter().filter(|d| d.pending(ttl)).map(|d| d.user_code.clone()).collect()
    }

    /// Every refresh token issued so far stops working: AADSTS700082, expired for inactivity.
    pub fn expire_refresh_tokens(&self) {
        self.lock().refresh.iter_mut().for_each(|r| r.state = RefreshState::Expired);
    }

    /// Every refresh token issued so far stops working: AADSTS50173, revoked.
    pub fn revoke_refresh_tokens(&self) {
        self.lock().refresh.iter_mut().for_each(|r| r.state = RefreshState::Revoked);
    }

    /// Every access token issued so far stops working: `/__introspect` answers 401 for it (so
    /// the ARM and API-server stand-ins refuse it).
    pub fn revoke_access_tokens(&self) {
        let mut s = self.lock();
        let all: Vec<String> = s.issued.iter().map(|t| t.access_token.clone()).collect();
        s.revoked_access.extend(all);
    }

    /// `GET URL?token=T` answers the claims of a live access token (see the module docs).
    pub fn introspect_url(&self) -> String {
        format!("{}/__introspect", self.url())
    }

    /// From now on every token call answers `fault` (`None`: back to normal).
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.lock().opts.fault = fault;
    }

    /// How many requests were routed to `op` (names as in [`EntraRequest::op`]), errors included.
    pub fn count(&self, op: &str) -> usize {
        self.lock().counts.get(op).copied().unwrap_or(0)
    }

    /// How many requests reached the token endpoint, whatever their grant.
    pub fn token_calls(&self) -> usize {
        ["DeviceCodeToken", "RefreshToken", "ClientCredentials", "Token"].iter().map(|op| self.count(op)).sum()
    }

    /// Every request so far, in the order answered.
    pub fn requests(&self) -> Vec<EntraRequest> {
        self.lock().log.clone()
    }

    pub fn requests_for(&self, op: &str) -> Vec<EntraRequest> {
        self.lock().log.iter().filter(|r| r.op == op).cloned().collect()
    }

    /// Every token answer given, oldest first.
    pub fn issued(&self) -> Vec<IssuedToken> {
        self.lock().issued.clone()
    }

    pub fn access_tokens(&self) -> Vec<String> {
        self.lock().issued.iter().map(|t| t.access_token.clone()).collect()
    }

    pub fn refresh_tokens(&self) -> Vec<String> {
        self.lock().issued.iter().filter_map(|t| t.refresh_token.clone()).collect()
    }

    /// A user sign-in over plain HTTP, as tfauth's own client makes it: the device code flow for
    /// `client_id` and `scope` (add `offline_access` for a refresh token), the code approved by
    /// the "user" at once. Returns the token answer (panics on an error answer).
    pub fn sign_in(&self, client_id: &str, scope: &str) -> Value {
        let form = [("client_id", client_id), ("scope", scope)];
        let (status, dc) = http_post_form(&format!("{}/oauth2/v2.0/devicecode", self.authority()), &form, &[]);
        assert_eq!(status, 200, "devicecode: {dc}");
        let (code, user_code) = (dc["device_code"].as_str().unwrap(), dc["user_code"].as_str().unwrap());
        let (status, _) = http_get(&format!("{}/devicelogin?otc={user_code}", self.url()));
        assert_eq!(status, 200, "the user approves {user_code}");
        let form = [("grant_type", DEVICE_GRANT), ("client_id", client_id), ("device_code", code)];
        let (status, tok) = http_post_form(&format!("{}/oauth2/v2.0/token", self.authority()), &form, &[]);
        assert_eq!(status, 200, "token: {tok}");
        tok
    }

    /// The refresh token grant over plain HTTP for `client_id` and `scope`: the status and answer.
    pub fn refresh(&self, client_id: &str, refresh_token: &str, scope: &str) -> (u16, Value) {
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", refresh_token),
            ("scope", scope),
        ];
        http_post_form(&format!("{}/oauth2/v2.0/token", self.authority()), &form, &[])
    }

    /// A workload token over plain HTTP: client credentials for [`WORKLOAD_CLIENT_ID`] with a
    /// GitHub Actions assertion the default federated credential accepts, for `scope` (one
    /// `RESOURCE/.default`). The status and answer.
    pub fn workload_token(&self, scope: &str) -> (u16, Value) {
        let assertion = federated_assertion(GITHUB_ISSUER, GITHUB_SUBJECT, EXCHANGE_AUDIENCE, Duration::from_secs(600));
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", WORKLOAD_CLIENT_ID),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion.as_str()),
            ("scope", scope),
        ];
        http_post_form(&format!("{}/oauth2/v2.0/token", self.authority()), &form, &[])
    }

    /// The answer that carried this access token.
    pub fn issued_access_token(&self, access_token: &str) -> Option<IssuedToken> {
        self.lock().issued.iter().find(|t| t.access_token == access_token).cloned()
    }
}

/// A TLS front relaying to a stand-in (see the module docs); stopped when dropped.
pub struct TlsFront {
    pub port: u16,
    ca: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl TlsFront {
    /// `https://127.0.0.1:PORT`: what MSAL and azure-identity take as the authority host.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// `https://127.0.0.1:PORT/TENANT`: an MSAL authority.
    pub fn authority(&self, tenant: &str) -> String {
        format!("{}/{tenant}", self.url())
    }

    /// The PEM CA certificate clients must trust (MSAL `verify=`, `REQUESTS_CA_BUNDLE`).
    pub fn ca_bundle(&self) -> &Path {
        &self.ca
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Python helper of the suite (`integration/py/NAME`).
pub fn py_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/py").join(name)
}

/// What MSAL Python makes of the token cache file `cache`: runs `integration/py/ms_read_cache.py`
/// (instance discovery off) and returns its JSON (`accounts`, `account`, `served_from_cache`,
/// `result`, `cache_state_changed`). `authority` must be https (a [`TlsFront::authority`]).
pub fn msal_read_cache(cache: &Path, authority: &str, client_id: &str, scopes: &[&str], ca: &Path) -> Value {
    let out = Command::new(venv_bin("python"))
        .arg(py_script("ms_read_cache.py"))
        .arg(cache)
        .arg(authority)
        .arg(client_id)
        .arg(scopes.join(" "))
        .arg(ca)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("run ms_read_cache.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "ms_read_cache.py failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// What azure-cli-core's own `Profile` (the code behind `az account show` and
/// `az account get-access-token`) reads from `config_dir` (see py/az_profile.py), with
/// Entra ID at `authority_host` (the TLS front) trusted through `ca`.
pub fn az_profile(config_dir: &Path, authority_host: &str, ca: &Path) -> Value {
    let home = tempfile::tempdir().expect("a HOME for az");
    let out = Command::new(venv_bin("python"))
        .arg(py_script("az_profile.py"))
        .arg(authority_host)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .env("AZURE_CONFIG_DIR", config_dir)
        .env("REQUESTS_CA_BUNDLE", ca)
        .output()
        .expect("run az_profile.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "az_profile.py failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Writes `dir/az`: `az account show [--subscription S]` as the Azure CLI runs it
/// (azure-cli-core's `Profile.get_subscription`), over `$AZURE_CONFIG_DIR` or `~/.azure`.
/// The full CLI is a gigabyte of SDKs; this is the part of it `account show` runs.
pub fn az_account_show_cli(dir: &Path) {
    let script = format!(
        r#"#!{python}
import json, sys
args = sys.argv[1:]
if args[:2] != ["account", "show"]:
    print("ERROR: this az knows only `account show`", file=sys.stderr)
    sys.exit(2)
sub = args[args.index("--subscription") + 1] if "--subscription" in args else None
from azure.cli.core import get_default_cli
from azure.cli.core._profile import Profile
try:
    print(json.dumps(Profile(cli_ctx=get_default_cli()).get_subscription(sub), indent=2))
except Exception as e:
    print("ERROR: " + str(e), file=sys.stderr)
    sys.exit(1)
"#,
        python = venv_bin("python").display()
    );
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("az");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

// ---------------------------------------------------------------------------------------
// JWTs and encodings

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding (JWT parts, `client_info`).
pub fn b64url(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() * 4 / 3 + 3);
    for chunk in data.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..=chunk.len() {
            out.push(B64URL[(n >> (18 - 6 * i)) as usize & 63] as char);
        }
    }
    out
}

/// Decodes base64url (or standard base64), padded or not.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        } as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A JWT with these claims, RS256 in its header and a signature that signs nothing.
pub fn jwt(claims: &Value) -> String {
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": "entra-standin"});
    let sig = Sha256::digest(claims.to_string().as_bytes());
    format!("{}.{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()), b64url(&sig))
}

/// The claims of a JWT, unverified.
pub fn jwt_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&b64url_decode(payload)?).ok()
}

/// A federated token such as GitHub Actions hands out (`iss`, `sub`, `aud`, valid for `ttl`).
pub fn federated_assertion(issuer: &str, subject: &str, audience: &str, ttl: Duration) -> String {
    let now = epoch();
    jwt(&json!({
        "jti": guid_from(&format!("{issuer}{subject}{now}{:?}", Instant::now())),
        "sub": subject,
        "aud": audience,
        "iss": issuer,
        "nbf": now - 5,
        "iat": now - 5,
        "exp": now + ttl.as_secs(),
    }))
}

pub fn guid_from(seed: &str) -> String {
    let h: String = Sha256::digest(seed.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-4{}-8{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

fn epoch() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// AAD's timestamps: "2025-11-10 13:37:38Z".
fn aad_timestamp(secs: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(secs as i64).unwrap();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

// ---------------------------------------------------------------------------------------
// HTTP

struct HttpRequest {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    form: Vec<(String, String)>,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        crate::wire::header(&self.headers, name)
    }
    fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// A non-empty form field.
    fn form(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }
}

impl Resp {
    fn error_code(&self) -> Option<String> {
        if self.status < 400 {
            return None;
        }
        let v: Value = serde_json::from_slice(&self.body).ok()?;
        v.get("error").and_then(Value::as_str).map(String::from)
    }
}

fn read_request(stream: &TcpStream) -> Option<HttpRequest> {
    let crate::wire::RawRequest { method, target, headers, body } = crate::wire::read_raw(stream)?;
    let (path, q) = target.split_once('?').unwrap_or((&target, ""));
    let form = if method == "POST" { parse_pairs(&String::from_utf8_lossy(&body), true) } else { Vec::new() };
    Some(HttpRequest { method, path: path.to_string(), query: parse_pairs(q, true), headers, form })
}

/// Percent-encodes everything but the unreserved characters.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|c| match c {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (c as char).to_string(),
                _ => format!("%{c:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// The base URL a request should be answered with: https (the TLS front's port) when `Host`
/// names a TLS front of this stand-in, else http; the host as the client wrote it.
fn base_of(req: &HttpRequest, s: &State, port: u16) -> (String, bool) {
    let host = req.header("host").map(String::from).unwrap_or_else(|| format!("127.0.0.1:{port}"));
    let host_port = host.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok());
    let tls = host_port.is_some_and(|p| s.tls_ports.contains(&p));
    (format!("{}://{host}", if tls { "https" } else { "http" }), tls)
}

fn serve(stream: TcpStream, state: &Mutex<State>, port: u16) {
    stream.set_nonblocking(false).ok();
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let Some(req) = read_request(&stream) else { return };
    let resp = {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        let (base, tls) = base_of(&req, &s, port);
        let (op, resp) = route(&req, &mut s, &base);
        *s.counts.entry(op.to_string()).or_insert(0) += 1;
        s.log.push(EntraRequest {
            op: op.to_string(),
            path: req.path.clone(),
            query: req.query.clone(),
            headers: req.headers.clone(),
            form: req.form.clone(),
            status: resp.status,
            error: resp.error_code(),
            tls,
        });
        resp
    };
    write_response(&stream, &resp);
}

fn route(req: &HttpRequest, s: &mut State, base: &str) -> (&'static str, Resp) {
    let segs: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    match (req.method.as_str(), segs.as_slice()) {
        ("POST", [tenant, "oauth2", "v2.0", "devicecode"]) => ("DeviceCode", device_code(s, req, base, tenant)),
        ("POST", [tenant, "oauth2", "v2.0", "token"]) => token(s, req, base, tenant),
        ("GET", [tenant, "v2.0", ".well-known", "openid-configuration"]) => {
            ("OpenIdConfiguration", openid_configuration(s, req, base, tenant))
        }
        ("GET", ["common", "discovery", "instance"]) => ("InstanceDiscovery", instance_discovery(s, req, base)),
        ("GET", [_, "discovery", "v2.0", "keys"]) => ("Keys", json_resp(200, &[], json!({"keys": []}))),
        (_, ["devicelogin"]) => ("DeviceLogin", device_login(s, req)),
        ("GET", ["__introspect"]) => ("Introspect", introspect(s, req)),
        ("GET", [tenant, "oauth2", "v2.0", "authorize"]) => ("Authorize", authorize(s, req, base, tenant)),
        _ => ("Unknown", json_resp(404, &[], json!({"error": "not_found", "error_description": "no such endpoint"}))),
    }
}

fn json_resp(status: u16, headers: &[(String, String)], body: Value) -> Resp {
    let mut h = vec![
        ("Cache-Control".to_string(), "no-store, no-cache".to_string()),
        ("Pragma".to_string(), "no-cache".to_string()),
        ("Content-Type".to_string(), "application/json; charset=utf-8".to_string()),
    ];
    h.extend(headers.iter().cloned());
    Resp { status, headers: h, body: body.to_string().into_bytes() }
}

/// `x-ms-request-id` (the trace id) and, when the client sent one, `client-request-id` echoed.
fn aad_headers(req: &HttpRequest, trace: &str) -> Vec<(String, String)> {
    let mut h = vec![("x-ms-request-id".to_string(), trace.to_string())];
    if let Some(c) = req.header("client-request-id") {
        h.push(("client-request-id".to_string(), c.to_string()));
    }
    h
}

fn ok(s: &mut State, req: &HttpRequest, body: Value) -> Resp {
    let trace = s.guid("trace");
    json_resp(200, &aad_headers(req, &trace), body)
}

/// AAD's error answer. The correlation id is the client's `client-request-id` when it sent one.
fn aad_error(s: &mut State, req: &HttpRequest, base: &str, status: u16, error: &str, code: u32, message: &str) -> Resp {
    let trace = s.guid("trace");
    let correlation = req.header("client-request-id").map(String::from).unwrap_or_else(|| s.guid("correlation"));
    let ts = aad_timestamp(epoch());
    json_resp(
        status,
        &aad_headers(req, &trace),
        json!({
            "error": error,
            "error_description": format!(
                "AADSTS{code}: {message} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {ts}"
            ),
            "error_codes": [code],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("{base}/error?code={code}"),
        }),
    )
}

fn missing(s: &mut State, req: &HttpRequest, base: &str, name: &str) -> Resp {
    let msg = format!("The request body must contain the following parameter: '{name}'.");
    aad_error(s, req, base, 400, "invalid_request", 900144, &msg)
}

// ---------------------------------------------------------------------------------------
// Tenants, clients, discovery

/// The tenant a path segment names: (its id, the segment discovery documents use: the id,
/// or the multi-tenant word as given).
fn resolve_tenant(s: &State, seg: &str) -> Option<(String, String)> {
    if MULTI_TENANT.iter().any(|m| m.eq_ignore_ascii_case(seg)) {
        return Some((s.home().id.clone(), seg.to_string()));
    }
    s.opts
        .tenants
        .iter()
        .find(|t| t.id.eq_ignore_ascii_case(seg) || t.domains.iter().any(|d| d.eq_ignore_ascii_case(seg)))
        .map(|t| (t.id.clone(), t.id.clone()))
}

fn tenant_not_found(s: &mut State, req: &HttpRequest, base: &str, seg: &str, error: &str) -> Resp {
    let msg = format!(
        "Tenant '{seg}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
    );
    aad_error(s, req, base, 400, error, 90002, &msg)
}

fn client_known(s: &State, client_id: &str) -> bool {
    s.opts.client_ids.is_empty() || s.opts.client_ids.iter().any(|c| c.eq_ignore_ascii_case(client_id))
}

fn unknown_client(s: &mut State, req: &HttpRequest, base: &str, client_id: &str, tenant: &str) -> Resp {
    let msg = format!(
        "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
    );
    aad_error(s, req, base, 400, "unauthorized_client", 700016, &msg)
}

fn openid_configuration(s: &mut State, req: &HttpRequest, base: &str, seg: &str) -> Resp {
    let Some((tid, realm)) = resolve_tenant(s, seg) else {
        return tenant_not_found(s, req, base, seg, "invalid_tenant");
    };
    let issuer_tenant = if realm == tid { tid.as_str() } else { "{tenantid}" };
    let body = json!({
        "token_endpoint": format!("{base}/{realm}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{realm}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base}/{issuer_tenant}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": format!("{base}/{realm}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{realm}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{realm}/oauth2/v2.0/logout"),
        "claims_supported": [
            "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
            "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username",
            "name", "tid", "ver", "at_hash", "c_hash", "email"
        ],
        "kerberos_endpoint": format!("{base}/{realm}/kerberos"),
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    });
    ok(s, req, body)
}

/// Instance discovery (`api-version=1.1`): which tenant discovery document to read for the
/// `authorization_endpoint` asked about, and the host's aliases. Only this stand-in's own
/// host names (127.0.0.1, localhost) are known instances; MSAL drops the port from the
/// `authorization_endpoint` it sends, so the port is not compared.
fn instance_discovery(s: &mut State, req: &HttpRequest, base: &str) -> Resp {
    let endpoint = req.query("authorization_endpoint").unwrap_or("");
    let rest = endpoint.split_once("://").map(|(_, r)| r).unwrap_or("");
    let (authority_host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let asked_host = authority_host.rsplit_once(':').map(|(h, _)| h).unwrap_or(authority_host);
    let own_host = base.split_once("://").map(|(_, r)| r).unwrap_or(base);
    let own_host = own_host.rsplit_once(':').map(|(h, _)| h).unwrap_or(own_host).to_ascii_lowercase();
    if !["127.0.0.1", "localhost", own_host.as_str()].contains(&asked_host.to_ascii_lowercase().as_str()) {
        return aad_error(s, req, base, 400, "invalid_instance", 50049, "Unknown or invalid instance.");
    }
    let tenant = path.split('/').next().filter(|t| !t.is_empty()).unwrap_or("common");
    let body = json!({
        "tenant_discovery_endpoint": format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{"preferred_network": own_host, "preferred_cache": own_host, "aliases": [own_host]}],
    });
    ok(s, req, body)
}

/// The claims of a live access token this stand-in issued (not expired, not revoked).
fn introspect(s: &State, req: &HttpRequest) -> Resp {
    let token = req.query("token").unwrap_or("");
    let now = epoch();
    let live = s
        .issued
        .iter()
        .find(|t| !token.is_empty() && t.access_token == token)
        .filter(|t| t.expires_on > now && !s.revoked_access.contains(token));
    match live.and_then(|t| jwt_claims(&t.access_token)) {
        Some(claims) => json_resp(200, &[], claims),
        None => json_resp(401, &[], json!({"error": "invalid_token"})),
    }
}

/// The browser page: `?otc=CODE` (or a posted `otc`) approves that code.
fn device_login(s: &mut State, req: &HttpRequest) -> Resp {
    let code = req.query("otc").or_else(|| req.form("otc")).unwrap_or("").to_ascii_uppercase();
    let text = |status: u16, t: &str| Resp {
        status,
        headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
        body: format!("<html><body><p>{t}</p></body></html>").into_bytes(),
    };
    if code.is_empty() {
        return text(200, "Enter code to allow access");
    }
    let ttl = s.opts.device_code_ttl;
    match s.devices.iter_mut().find(|d| d.user_code == code && d.pending(ttl)) {
        Some(d) => {
            d.grant = Grant::Approved;
            text(200, "You have signed in on your device. You may now close this window.")
        }
        None => text(400, "That code didn't work. Check the code and try again."),
    }
}

// ---------------------------------------------------------------------------------------
// Device code, token

fn device_code(s: &mut State, req: &HttpRequest, base: &str, seg: &str) -> Resp {
    let Some((tid, _)) = resolve_tenant(s, seg) else {
        return tenant_not_found(s, req, base, seg, "invalid_request");
    };
    let Some(client_id) = req.form("client_id").map(String::from) else {
        return missing(s, req, base, "client_id");
    };
    if !client_known(s, &client_id) {
        return unknown_client(s, req, base, &client_id, &tid);
    }
    let Some(scope) = req.form("scope").map(String::from) else {
        return missing(s, req, base, "scope");
    };
    let n = s.next();
    let h = Sha256::digest(format!("{}-{n}-{:?}", std::process::id(), SystemTime::now()).as_bytes());
    // Nine characters, as AAD shows them: letters and digits without the ambiguous ones.
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let user_code: String = h[..9].iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect();
    let device_code = format!("DAQABIQEAAAD-standin-device-{n:06}-{}", b64url(&h[9..27]));
    let (ttl, interval) = (s.opts.device_code_ttl, s.opts.interval);
    s.devices.push(Device {
        device_code: device_code.clone(),
        user_code: user_code.clone(),
        client_id,
        scope,
        started: Instant::now(),
        polls: 0,
        grant: Grant::Pending,
        expired: false,
    });
    let uri = format!("{base}/devicelogin");
    let body = json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": uri,
        "expires_in": ttl.as_secs(),
        "interval": interval,
        "message": format!(
            "To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."
        ),
    });
    ok(s, req, body)
}

fn token(s: &mut State, req: &HttpRequest, base: &str, seg: &str) -> (&'static str, Resp) {
    let grant = req.form("grant_type").unwrap_or("").to_string();
    let op = match grant.as_str() {
        DEVICE_GRANT => "DeviceCodeToken",
        "refresh_token" => "RefreshToken",
        "client_credentials" => "ClientCredentials",
        "authorization_code" => "AuthCodeToken",
        _ => "Token",
    };
    if let Some(f) = s.opts.fault.clone() {
        return (op, aad_error(s, req, base, f.status, &f.error, f.code, &f.message));
    }
    let Some((tid, _)) = resolve_tenant(s, seg) else {
        return (op, tenant_not_found(s, req, base, seg, "invalid_request"));
    };
    if grant.is_empty() {
        return (op, missing(s, req, base, "grant_type"));
    }
    let Some(client_id) = req.form("client_id").map(String::from) else {
        return (op, missing(s, req, base, "client_id"));
    };
    if !client_known(s, &client_id) {
        return (op, unknown_client(s, req, base, &client_id, &tid));
    }
    let resp = match op {
        "DeviceCodeToken" => device_code_token(s, req, base, &client_id, &tid),
        "RefreshToken" => refresh_token(s, req, base, &client_id, &tid),
        "ClientCredentials" => client_credentials(s, req, base, &client_id, &tid),
        "AuthCodeToken" => auth_code_token(s, req, base, &client_id, &tid),
        _ => {
            let msg = format!("The app requested an unsupported grant type '{grant}'.");
            aad_error(s, req, base, 400, "unsupported_grant_type", 70003, &msg)
        }
    };
    (op, resp)
}

fn device_code_token(s: &mut State, req: &HttpRequest, base: &str, client_id: &str, tid: &str) -> Resp {
    // MSAL sends the device code twice, as `device_code` and as `code`.
    let Some(code) = req.form("device_code").or_else(|| req.form("code")).map(String::from) else {
        return missing(s, req, base, "device_code");
    };
    let Some(i) = s.devices.iter().position(|d| d.device_code == code && d.client_id.eq_ignore_ascii_case(client_id))
    else {
        let msg = "The provided value for the input parameter 'device_code' is not valid.";
        return aad_error(s, req, base, 400, "bad_verification_code", 70018, msg);
    };
    let (ttl, slow, approve_after) = (s.opts.device_code_ttl, s.opts.slow_down_polls, s.opts.approve_after_polls);
    let d = &mut s.devices[i];
    d.polls += 1;
    let (polls, grant) = (d.polls, d.grant);
    if d.expired || d.started.elapsed() >= ttl {
        return aad_error(s, req, base, 400, "expired_token", 70019, "Verification code expired.");
    }
    match grant {
        Grant::Redeemed => {
            let msg = "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.";
            return aad_error(s, req, base, 400, "invalid_grant", 54005, msg);
        }
        Grant::Denied => {
            let msg = "User declined to consent to access the app.";
            return aad_error(s, req, base, 400, "authorization_declined", 65004, msg);
        }
        _ => {}
    }
    if polls <= slow {
        // AAD has no AADSTS number of its own for this RFC 8628 answer; 70016's family is used.
        let msg = "OAuth 2.0 device flow error. Polling too frequently; slow down.";
        return aad_error(s, req, base, 400, "slow_down", 70016, msg);
    }
    if grant == Grant::Pending && approve_after.is_some_and(|n| polls > n) {
        s.devices[i].grant = Grant::Approved;
    }
    if s.devices[i].grant == Grant::Pending {
        let msg = "OAuth 2.0 device flow error. Authorization is pending. Continue polling.";
        return aad_error(s, req, base, 400, "authorization_pending", 70016, msg);
    }
    s.devices[i].grant = Grant::Redeemed;
    let scope = s.devices[i].scope.clone();
    issue_user_tokens(s, req, base, "device_code", client_id, tid, &scope)
}

/// A loopback redirect URI, as Entra ID allows public clients: `http://localhost[:port][/path]`
/// or `http://127.0.0.1[:port][/path]`.
fn loopback_redirect(uri: &str) -> bool {
    let rest = uri.strip_prefix("http://localhost").or_else(|| uri.strip_prefix("http://127.0.0.1"));
    rest.is_some_and(|r| r.is_empty() || r.starts_with(':') || r.starts_with('/'))
}

/// The S256 challenge of a verifier.
pub fn s256(verifier: &str) -> String {
    b64url(&Sha256::digest(verifier.as_bytes()))
}

fn authorize(s: &mut State, req: &HttpRequest, base: &str, seg: &str) -> Resp {
    let q = |k: &str| req.query(k).filter(|v| !v.is_empty()).map(String::from);
    let Some((_tid, _)) = resolve_tenant(s, seg) else {
        return tenant_not_found(s, req, base, seg, "invalid_request");
    };
    let Some(client_id) = q("client_id") else { return missing(s, req, base, "client_id") };
    if !client_known(s, &client_id) {
        let tid = s.home().id.clone();
        return unknown_client(s, req, base, &client_id, &tid);
    }
    // A bad redirect URI is shown on Entra ID's own page, never redirected to.
    let Some(redirect_uri) = q("redirect_uri").filter(|r| loopback_redirect(r)) else {
        let msg = "The redirect URI specified in the request does not match the redirect URIs configured for the application.";
        return aad_error(s, req, base, 400, "invalid_request", 50011, msg);
    };
    let back = |pairs: &[(&str, &str)]| {
        let sep = if redirect_uri.contains('?') { '&' } else { '?' };
        let location = format!("{redirect_uri}{sep}{}", form_encode(pairs));
        json_resp(302, &[("Location".to_string(), location)], json!({}))
    };
    let state = q("state");
    let fail = |error: &str, description: &str| {
        let mut pairs = vec![("error", error), ("error_description", description)];
        if let Some(st) = state.as_deref() {
            pairs.push(("state", st));
        }
        back(&pairs)
    };
    if q("response_type").as_deref() != Some("code") {
        return fail("unsupported_response_type", "AADSTS70005: response_type must be code.");
    }
    if q("code_challenge_method").as_deref() != Some("S256") {
        return fail("invalid_request", "AADSTS50125: code_challenge_method must be S256.");
    }
    let Some(challenge) = q("code_challenge").filter(|c| c.len() == 43) else {
        return fail("invalid_request", "AADSTS501491: Invalid size of Code_Challenge parameter.");
    };
    let Some(state) = state.clone() else {
        return fail(
            "invalid_request",
            "AADSTS900144: The request body must contain the following parameter: 'state'.",
        );
    };
    let n = s.next();
    let code = format!("1.Ac-code-{}", b64url(&Sha256::digest(format!("code-{n}-{}", epoch()).as_bytes())));
    let challenge = s.opts.swap_challenge.clone().unwrap_or(challenge);
    let scope = q("scope").unwrap_or_default();
    s.codes.push(AuthCode {
        code: code.clone(),
        client_id,
        redirect_uri: redirect_uri.clone(),
        challenge,
        scope,
        nonce: q("nonce"),
        redeemed: false,
    });
    let state = s.opts.redirect_state.clone().unwrap_or(state);
    let answer = [("code", code.as_str()), ("state", state.as_str()), ("session_state", "standin-session")];
    if q("response_mode").as_deref() == Some("form_post") {
        // What MSAL asks for: a page whose form the browser posts to the redirect URI.
        let inputs: String =
            answer.iter().map(|(k, v)| format!("<input type=\"hidden\" name=\"{k}\" value=\"{v}\"/>")).collect();
        let page = format!(
            "<html><body onload=\"document.forms[0].submit()\"><form method=\"POST\" action=\"{redirect_uri}\">{inputs}</form></body></html>"
        );
        return Resp {
            status: 200,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: page.into_bytes(),
        };
    }
    back(&answer)
}

fn auth_code_token(s: &mut State, req: &HttpRequest, base: &str, client_id: &str, tid: &str) -> Resp {
    let Some(code) = req.form("code").map(String::from) else { return missing(s, req, base, "code") };
    let Some(i) = s.codes.iter().position(|c| c.code == code && c.client_id.eq_ignore_ascii_case(client_id)) else {
        return aad_error(s, req, base, 400, "invalid_grant", 70000, "The provided authorization code is invalid.");
    };
    if s.codes[i].redeemed {
        let msg = "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.";
        return aad_error(s, req, base, 400, "invalid_grant", 54005, msg);
    }
    if req.form("redirect_uri") != Some(s.codes[i].redirect_uri.as_str()) {
        let msg = "The redirect_uri is not the one used in the authorization request.";
        return aad_error(s, req, base, 400, "invalid_grant", 50148, msg);
    }
    let Some(verifier) = req.form("code_verifier").map(String::from) else {
        return missing(s, req, base, "code_verifier");
    };
    if s256(&verifier) != s.codes[i].challenge {
        let msg = "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.";
        return aad_error(s, req, base, 400, "invalid_grant", 501481, msg);
    }
    s.codes[i].redeemed = true;
    s.nonce = s.codes[i].nonce.clone();
    let scope = req.form("scope").map(String::from).unwrap_or_else(|| s.codes[i].scope.clone());
    issue_user_tokens(s, req, base, "authorization_code", client_id, tid, &scope)
}

fn refresh_token(s: &mut State, req: &HttpRequest, base: &str, client_id: &str, tid: &str) -> Resp {
    let Some(token) = req.form("refresh_token").map(String::from) else {
        return missing(s, req, base, "refresh_token");
    };
    let ttl = s.opts.refresh_token_ttl;
    let Some(rt) = s.refresh.iter_mut().find(|r| r.token == token) else {
        return aad_error(s, req, base, 400, "invalid_grant", 70000, "The provided grant is invalid or malformed.");
    };
    if rt.state == RefreshState::Live && ttl.is_some_and(|t| rt.issued.elapsed() >= t) {
        rt.state = RefreshState::Expired;
    }
    let (state, issued_at, rt_client, rt_scope) = (rt.state, rt.issued_at, rt.client_id.clone(), rt.scope.clone());
    match state {
        RefreshState::Expired => {
            let msg = format!(
                "The refresh token has expired due to inactivity. The token was issued on {} and was inactive for 90.00:00:00.",
                aad_timestamp(issued_at)
            );
            return aad_error(s, req, base, 400, "invalid_grant", 700082, &msg);
        }
        RefreshState::Revoked => {
            let msg = format!(
                "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '{}' and the TokensValidFrom date (before which tokens are not valid) for this user is '{}'.",
                aad_timestamp(issued_at),
                aad_timestamp(epoch())
            );
            return aad_error(s, req, base, 400, "invalid_grant", 50173, &msg);
        }
        RefreshState::Live => {}
    }
    if !rt_client.eq_ignore_ascii_case(client_id) {
        let msg = format!("The refresh token was issued to a different client ('{rt_client}').");
        return aad_error(s, req, base, 400, "invalid_grant", 70000, &msg);
    }
    let scope = req.form("scope").map(String::from).unwrap_or(rt_scope);
    issue_user_tokens(s, req, base, "refresh_token", client_id, tid, &scope)
}

/// The audience of a token for `scope`: the resource part of its first resource scope
/// ("https://management.azure.com/.default" → "https://management.azure.com"); Microsoft
/// Graph for bare scopes such as "User.Read".
fn resource_of(scope: &str) -> String {
    let first = scope.split_whitespace().find(|s| !OIDC_SCOPES.contains(s)).unwrap_or("");
    match first.rsplit_once('/') {
        Some((resource, _)) if !resource.is_empty() => resource.to_string(),
        _ => "00000003-0000-0000-c000-000000000000".to_string(),
    }
}

/// The `scope` of a user token answer (see [`EntraOpts::granted_scope`]).
fn granted_scope(requested: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for sc in requested.split_whitespace().filter(|s| !OIDC_SCOPES.contains(s)) {
        if let Some(resource) = sc.strip_suffix("/.default") {
            let imp = format!("{resource}/user_impersonation");
            if !out.contains(&imp) {
                out.push(imp);
            }
        }
        if !out.iter().any(|o| o == sc) {
            out.push(sc.to_string());
        }
    }
    out.join(" ")
}

/// A pairwise `sub`, as AAD makes one per user and app.
fn pairwise_sub(oid: &str, client_id: &str) -> String {
    b64url(&Sha256::digest(format!("{oid}:{client_id}").as_bytes()))
}

fn issue_user_tokens(
    s: &mut State,
    req: &HttpRequest,
    base: &str,
    grant: &str,
    client_id: &str,
    tid: &str,
    requested: &str,
) -> Resp {
    let n = s.next();
    let now = epoch();
    let ttl = s.opts.access_token_ttl.as_secs();
    let user = s.opts.user.clone();
    let home = s.home().id.clone();
    let scopes: Vec<&str> = requested.split_whitespace().collect();
    let granted = s.opts.granted_scope.clone().unwrap_or_else(|| granted_scope(requested));
    let uti = b64url(&Sha256::digest(format!("uti-{n}-{now}").as_bytes())[..16]);
    let access = jwt(&json!({
        "aud": resource_of(requested),
        "iss": format!("https://sts.windows.net/{tid}/"),
        "iat": now, "nbf": now, "exp": now + ttl,
        "acr": "1", "amr": ["pwd", "mfa"],
        "appid": client_id, "appidacr": "0",
        "idtyp": "user",
        "name": user.name,
        "oid": user.oid,
        "scp": "user_impersonation",
        "sub": pairwise_sub(&user.oid, &format!("{client_id}-at")),
        "tid": tid,
        "unique_name": user.upn, "upn": user.upn,
        "uti": uti,
        "ver": "1.0",
    }));
    let mut body = json!({
        "token_type": "Bearer",
        "scope": granted,
        "expires_in": ttl,
        "ext_expires_in": ttl,
        "access_token": access,
    });
    let refresh = scopes.contains(&"offline_access").then(|| {
        let h = Sha256::digest(format!("rt-{n}-{now}-{client_id}").as_bytes());
        format!("1.AXEA-standin-refresh-{n:06}-{}", b64url(&h))
    });
    if let Some(rt) = &refresh {
        body["refresh_token"] = json!(rt);
        s.refresh.push(Refresh {
            token: rt.clone(),
            client_id: client_id.into(),
            scope: requested.into(),
            issued_at: now,
            issued: Instant::now(),
            state: RefreshState::Live,
        });
    }
    // The authorization request's `nonce`, for the ID token of its code (OpenID Connect).
    let nonce = s.nonce.take();
    let id_token = scopes.contains(&"openid").then(|| {
        let mut c = json!({
            "aud": client_id,
            "iss": format!("{base}/{tid}/v2.0"),
            "iat": now, "nbf": now, "exp": now + 3600,
            "oid": user.oid,
            "rh": "0.AXEA-standin.",
            "sub": pairwise_sub(&user.oid, client_id),
            "tid": tid,
            "uti": uti,
            "ver": "2.0",
        });
        if scopes.contains(&"profile") {
            c["name"] = json!(user.name);
            c["preferred_username"] = json!(user.upn);
        }
        if let Some(n) = &nonce {
            c["nonce"] = json!(n);
        }
        jwt(&c)
    });
    if let Some(t) = &id_token {
        body["id_token"] = json!(t);
    }
    // AAD adds client_info (the home account: object id and home tenant) when asked for it.
    let client_info = (req.form("client_info") == Some("1"))
        .then(|| b64url(json!({"uid": user.oid, "utid": home}).to_string().as_bytes()));
    if let Some(ci) = &client_info {
        body["client_info"] = json!(ci);
    }
    s.issued.push(IssuedToken {
        grant: grant.into(),
        client_id: client_id.into(),
        tenant: tid.into(),
        scope: granted,
        access_token: access,
        refresh_token: refresh,
        id_token,
        client_info,
        expires_in: ttl,
        expires_on: now + ttl,
    });
    ok(s, req, body)
}

/// A claim that may be a string or a list of strings (`aud`).
fn claim_has(claims: &Value, name: &str, want: &str) -> bool {
    match claims.get(name) {
        Some(Value::String(v)) => v == want,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(want)),
        _ => false,
    }
}

fn claim_text(claims: &Value, name: &str) -> String {
    match claims.get(name) {
        Some(Value::String(v)) => v.clone(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
        _ => String::new(),
    }
}

fn client_credentials(s: &mut State, req: &HttpRequest, base: &str, client_id: &str, tid: &str) -> Resp {
    if req.form("client_secret").is_some() {
        let msg = format!(
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
        );
        return aad_error(s, req, base, 401, "invalid_client", 7000215, &msg);
    }
    let Some(assertion) = req.form("client_assertion").map(String::from) else {
        let msg = "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.";
        return aad_error(s, req, base, 401, "invalid_client", 7000218, msg);
    };
    if req.form("client_assertion_type") != Some(JWT_BEARER) {
        return missing(s, req, base, "client_assertion_type");
    }
    let Some(claims) = jwt_claims(&assertion) else {
        return aad_error(s, req, base, 401, "invalid_client", 50027, "JWT token is invalid or malformed.");
    };
    let now = epoch();
    if let Some(exp) = claims.get("exp").and_then(Value::as_u64)
        && exp <= now
    {
        let msg = format!(
            "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
            aad_timestamp(now),
            aad_timestamp(claims.get("nbf").and_then(Value::as_u64).unwrap_or(0)),
            aad_timestamp(exp)
        );
        return aad_error(s, req, base, 401, "invalid_client", 700024, &msg);
    }
    // Entra's order: a credential with the issuer, then the audience, then the subject.
    let creds: Vec<FederatedCredential> =
        s.opts.federated.iter().filter(|f| f.client_id.eq_ignore_ascii_case(client_id)).cloned().collect();
    let by_issuer: Vec<&FederatedCredential> =
        creds.iter().filter(|f| f.issuer.as_ref().is_none_or(|i| claim_has(&claims, "iss", i))).collect();
    let by_audience: Vec<&&FederatedCredential> =
        by_issuer.iter().filter(|f| f.audience.as_ref().is_none_or(|a| claim_has(&claims, "aud", a))).collect();
    let matched = by_audience.iter().any(|f| f.subject.as_ref().is_none_or(|x| claim_has(&claims, "sub", x)));
    let tail = "Check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation";
    let failure = if creds.is_empty() {
        Some((70021, "No matching federated identity record found for presented assertion.".to_string()))
    } else if by_issuer.is_empty() {
        let msg = format!(
            "No matching federated identity record found for presented assertion issuer '{}'. {tail}",
            claim_text(&claims, "iss")
        );
        Some((700211, msg))
    } else if by_audience.is_empty() {
        let msg = format!(
            "No matching federated identity record found for presented assertion audience '{}'. {tail}",
            claim_text(&claims, "aud")
        );
        Some((700212, msg))
    } else if !matched {
        let msg = format!(
            "No matching federated identity record found for presented assertion subject '{}'. {tail}",
            claim_text(&claims, "sub")
        );
        Some((700213, msg))
    } else {
        None
    };
    if let Some((code, msg)) = failure {
        return aad_error(s, req, base, 401, "invalid_client", code, &msg);
    }
    let Some(scope) = req.form("scope").map(String::from) else {
        return missing(s, req, base, "scope");
    };
    if scope.split_whitespace().count() != 1 || !scope.ends_with("/.default") {
        let msg = format!(
            "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
        );
        return aad_error(s, req, base, 400, "invalid_scope", 1002012, &msg);
    }
    let n = s.next();
    let ttl = s.opts.access_token_ttl.as_secs();
    let sp_oid = guid_from(&format!("service-principal-{client_id}-{tid}"));
    let access = jwt(&json!({
        "aud": resource_of(&scope),
        "iss": format!("https://sts.windows.net/{tid}/"),
        "iat": now, "nbf": now, "exp": now + ttl,
        "appid": client_id, "appidacr": "2",
        "idp": format!("https://sts.windows.net/{tid}/"),
        "idtyp": "app",
        "oid": sp_oid,
        "sub": sp_oid,
        "tid": tid,
        "uti": b64url(&Sha256::digest(format!("uti-app-{n}-{now}").as_bytes())[..16]),
        "ver": "1.0",
    }));
    s.issued.push(IssuedToken {
        grant: "client_credentials".into(),
        client_id: client_id.into(),
        tenant: tid.into(),
        scope,
        access_token: access.clone(),
        refresh_token: None,
        id_token: None,
        client_info: None,
        expires_in: ttl,
        expires_on: now + ttl,
    });
    ok(s, req, json!({"token_type": "Bearer", "expires_in": ttl, "ext_expires_in": ttl, "access_token": access}))
}

// ---------------------------------------------------------------------------------------
// A plain-HTTP client for tests (what tfauth's own client does on loopback)

/// `POST url` with a form body and extra headers; returns the status and the JSON answer
/// (`Value::Null` when the body is not JSON).
pub fn http_post_form(url: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> (u16, Value) {
    http_call("POST", url, Some(&form_encode(form)), headers)
}

/// `GET url`; returns the status and the JSON answer (`Value::Null` when not JSON).
pub fn http_get(url: &str) -> (u16, Value) {
    http_call("GET", url, None, &[])
}

/// `GET url` with extra headers (`Authorization`, ...); the status and the JSON answer.
pub fn http_get_with(url: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    http_call("GET", url, None, headers)
}

fn http_call(method: &str, url: &str, body: Option<&str>, headers: &[(&str, &str)]) -> (u16, Value) {
    let body = body.map(|b| ("application/x-www-form-urlencoded", b.as_bytes()));
    let a = http_request(method, url, body, headers);
    (a.status, serde_json::from_slice(&a.body).unwrap_or(Value::Null))
}

/// A whole HTTP answer, for tests that look at headers too.
#[derive(Clone, Debug)]
pub struct HttpAnswer {
    pub status: u16,
    /// Header names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::wire::header(&self.headers, name)
    }
    /// The body as JSON (`Value::Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One plain-HTTP/1.1 request (`Connection: close`): `method url`, a body with its content
/// type, extra headers. The answer whole: status, headers, body.
pub fn http_request(method: &str, url: &str, body: Option<(&str, &[u8])>, headers: &[(&str, &str)]) -> HttpAnswer {
    let rest = url.strip_prefix("http://").expect("plain http only");
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut stream = TcpStream::connect(host).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    match body {
        Some((ctype, b)) => head.push_str(&format!("Content-Type: {ctype}\r\nContent-Length: {}\r\n", b.len())),
        None if method == "POST" => head.push_str("Content-Length: 0\r\n"),
        None => {}
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    if let Some((_, b)) = body {
        stream.write_all(b).unwrap();
    }
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(answer.len());
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let body = answer.get(split + 4..).unwrap_or_default().to_vec();
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    HttpAnswer { status, headers, body }
}

// ---------------------------------------------------------------------------------------
// Faithfulness: msal 1.39.0 and azure-identity 1.27.0 (independent clients) against the
// stand-in, and the wire format seen by a plain-HTTP client.

#[cfg(test)]
mod checks {
    use super::*;

    /// Runs `script` (after PRELUDE) with the venv's python, `args`, and `ca` trusted through
    /// REQUESTS_CA_BUNDLE; returns stdout, or the failure with stderr.
    fn run_python(script: &str, args: &[String], ca: Option<&Path>) -> Result<String, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("check.py");
        std::fs::write(&path, format!("{PRELUDE}{script}")).unwrap();
        let mut cmd = Command::new(venv_bin("python"));
        cmd.arg(&path).args(args).env_clear().env("PATH", "/usr/bin:/bin").env("HOME", dir.path());
        if let Some(ca) = ca {
            cmd.env("REQUESTS_CA_BUNDLE", ca);
        }
        let out = cmd.output().expect("run python");
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            return Err(format!("python failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status));
        }
        Ok(stdout.into_owned())
    }

    fn python(script: &str, args: &[String], ca: Option<&Path>) -> String {
        run_python(script, args, ca).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs `body` while a helper thread plays the user: once `cond` holds it does `act`
    /// (giving up after 60 s or when `body` is done).
    fn with_user<T>(cond: impl Fn() -> bool + Send, act: impl FnOnce() + Send, body: impl FnOnce() -> T) -> T {
        let done = AtomicBool::new(false);
        let done = &done;
        std::thread::scope(|scope| {
            scope.spawn(move || {
                let start = Instant::now();
                while !done.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(60) {
                    if cond() {
                        act();
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            });
            let out = body();
            done.store(true, Ordering::Relaxed);
            out
        })
    }

    const PRELUDE: &str = r#"
import base64, json, os, sys, time, warnings
warnings.simplefilter("ignore")
import msal
ARM = "https://management.azure.com/.default"
CA = os.environ.get("REQUESTS_CA_BUNDLE")

def claims(jwt):
    p = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))

def app(authority, client_id, **kw):
    kw.setdefault("instance_discovery", False)
    return msal.PublicClientApplication(client_id, authority=authority, verify=CA, **kw)
"#;

    const MSAL_DEVICE_FLOW: &str = r#"
base, tenant, client_id, oid, upn, out = sys.argv[1:7]
cache = msal.SerializableTokenCache()
a = app(f"{base}/{tenant}", client_id, token_cache=cache, instance_discovery=f"{base}/common/discovery/instance")
assert a.authority.instance == "127.0.0.1", a.authority.instance
assert a.authority.tenant == tenant, a.authority.tenant
assert a.authority.token_endpoint == f"{base}/{tenant}/oauth2/v2.0/token", a.authority.token_endpoint
assert a.authority.device_authorization_endpoint == f"{base}/{tenant}/oauth2/v2.0/devicecode"
flow = a.initiate_device_flow(scopes=[ARM])
assert "user_code" in flow, flow
assert flow["verification_uri"] == f"{base}/devicelogin", flow
expected = "To sign in, use a web browser to open the page %s/devicelogin and enter the code %s to authenticate." % (base, flow["user_code"])
assert flow["message"] == expected, flow
assert flow["expires_in"] == 900 and flow["interval"] == 1, flow
result = a.acquire_token_by_device_flow(flow)
assert "access_token" in result, result
assert result["token_source"] == "identity_provider", result
assert result["token_type"] == "Bearer" and result["expires_in"] == 3599 and result["ext_expires_in"] == 3599, result
assert result["scope"].split() == ["https://management.azure.com/user_impersonation", ARM], result
idc = result["id_token_claims"]
assert idc["preferred_username"] == upn and idc["oid"] == oid and idc["tid"] == tenant and idc["ver"] == "2.0", idc
assert idc["iss"] == f"{base}/{tenant}/v2.0" and idc["aud"] == client_id, idc
at = claims(result["access_token"])
assert at["aud"] == "https://management.azure.com" and at["tid"] == tenant and at["oid"] == oid, at
accounts = a.get_accounts()
assert len(accounts) == 1, accounts
acct = accounts[0]
assert acct["username"] == upn and acct["home_account_id"] == f"{oid}.{tenant}", acct
assert acct["environment"] == "127.0.0.1" and acct["realm"] == tenant and acct["local_account_id"] == oid, acct
assert acct["authority_type"] == "MSSTS" and acct["account_source"] == "urn:ietf:params:oauth:grant-type:device_code", acct
after_login = json.loads(cache.serialize())
silent = a.acquire_token_silent([ARM], account=acct)
assert silent and silent["token_source"] == "cache" and silent["access_token"] == result["access_token"], silent
forced = a.acquire_token_silent([ARM], account=acct, force_refresh=True)
assert forced and forced["token_source"] == "identity_provider", forced
assert forced["access_token"] != result["access_token"], forced
after_refresh = json.loads(cache.serialize())
# A second application on the same cache (a new process would do this) finds the account.
b = app(f"{base}/{tenant}", client_id, token_cache=cache)
assert b.get_accounts() == accounts, b.get_accounts()
again = b.acquire_token_silent([ARM], account=b.get_accounts()[0])
assert again["token_source"] == "cache" and again["access_token"] == forced["access_token"], again
json.dump({
    "login": {k: result[k] for k in ("access_token", "refresh_token", "id_token", "client_info")},
    "refreshed": forced["access_token"],
    "account": acct,
    "after_login": after_login,
    "after_refresh": after_refresh,
}, open(out, "w"), indent=2)
"#;

    const MSAL_INTERACTIVE: &str = r#"
base, tenant, client_id, upn, browser = sys.argv[1:6]
# The "browser": a script that follows the stand-in's redirect to MSAL's listener.
os.environ["BROWSER"] = browser + " %s"
a = app(f"{base}/{tenant}", client_id)
r = a.acquire_token_interactive([ARM], timeout=15, prompt="select_account", port=0)
assert "access_token" in r, r
assert r["id_token_claims"]["preferred_username"] == upn, r["id_token_claims"]
print(json.dumps({"account": a.get_accounts()[0]["username"], "refresh": "refresh_token" in r}))
"#;

    const BROWSER_FORM_POST: &str = r#"
import html, re, ssl, sys, urllib.parse, urllib.request
ca, url = sys.argv[1:3]
page = urllib.request.urlopen(url, context=ssl.create_default_context(cafile=ca)).read().decode()
action = html.unescape(re.search(r'action="([^"]*)"', page).group(1))
fields = {k: html.unescape(v) for k, v in re.findall(r'name="([^"]*)" value="([^"]*)"', page)}
print(urllib.request.urlopen(action, data=urllib.parse.urlencode(fields).encode()).read().decode())
"#;

    /// The authorization code grant over plain HTTP: a code is redeemed once, only with the
    /// verifier of its challenge and the redirect URI it was issued for.
    #[test]
    fn microsoft_standin_authorization_code_needs_its_verifier_and_redirect_uri() {
        let entra = Entra::start(EntraOpts::default());
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let redirect = "http://localhost:4711";
        let query = form_encode(&[
            ("client_id", AZURE_CLI_CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", redirect),
            ("scope", "https://management.azure.com/.default openid profile offline_access"),
            ("state", "st-1"),
            ("code_challenge", &s256(verifier)),
            ("code_challenge_method", "S256"),
        ]);
        let (status, _) = http_get(&format!("{}/oauth2/v2.0/authorize?{query}", entra.authority()));
        assert_eq!(status, 302);
        let code = entra.lock().codes[0].code.clone();
        let token = |extra: &[(&str, &str)]| {
            let mut form =
                vec![("grant_type", "authorization_code"), ("client_id", AZURE_CLI_CLIENT_ID), ("code", &code)];
            form.extend_from_slice(extra);
            http_post_form(&format!("{}/oauth2/v2.0/token", entra.authority()), &form, &[])
        };
        let (st, body) = token(&[("redirect_uri", redirect)]);
        assert_eq!(st, 400, "{body}");
        assert!(body["error_description"].as_str().unwrap().contains("code_verifier"), "{body}");
        let (st, body) = token(&[("redirect_uri", "http://localhost:1"), ("code_verifier", verifier)]);
        assert_eq!((st, body["error_codes"][0].as_u64()), (400, Some(50148)), "{body}");
        let (st, body) = token(&[("redirect_uri", redirect), ("code_verifier", "not-the-verifier")]);
        assert_eq!((st, body["error_codes"][0].as_u64()), (400, Some(501481)), "{body}");
        let (st, body) = token(&[("redirect_uri", redirect), ("code_verifier", verifier)]);
        assert_eq!(st, 200, "{body}");
        assert!(body["refresh_token"].is_string(), "{body}");
        let (st, body) = token(&[("redirect_uri", redirect), ("code_verifier", verifier)]);
        assert_eq!((st, body["error_codes"][0].as_u64()), (400, Some(54005)), "redeemed once: {body}");
        // A redirect URI that is not loopback is refused on Entra ID's page, not redirected to.
        let evil = query.replace("localhost%3A4711", "evil.example");
        let (status, _) = http_get(&format!("{}/oauth2/v2.0/authorize?{evil}", entra.authority()));
        assert_eq!(status, 400);
    }

    /// MSAL's own browser sign-in (`acquire_token_interactive`: PKCE, state, its loopback
    /// listener) against `/authorize` and the `authorization_code` grant.
    #[test]
    fn microsoft_standin_msal_interactive_sign_in() {
        use std::os::unix::fs::PermissionsExt;
        let entra = Entra::start(EntraOpts::default());
        let tls = entra.tls();
        let dir = tempfile::tempdir().unwrap();
        let browser = dir.path().join("browser");
        // The "browser": fetches the sign-in page and submits its form to MSAL's listener,
        // in the background (MSAL's `webbrowser.open` waits for it before it listens).
        let follow = dir.path().join("follow.py");
        std::fs::write(&follow, BROWSER_FORM_POST).unwrap();
        std::fs::write(
            &browser,
            format!(
                "#!/bin/sh\n({} {} {} \"$1\" > {}/followed 2>&1 &)\n",
                venv_bin("python").display(),
                follow.display(),
                tls.ca_bundle().display(),
                dir.path().display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
        let user = EntraUser::default();
        let args: Vec<String> = vec![
            tls.url(),
            TENANT_ID.into(),
            AZURE_CLI_CLIENT_ID.into(),
            user.upn.clone(),
            browser.display().to_string(),
        ];
        let text = run_python(MSAL_INTERACTIVE, &args, Some(tls.ca_bundle())).unwrap_or_else(|e| {
            let followed = std::fs::read_to_string(dir.path().join("followed")).unwrap_or_default();
            panic!("{e}\nthe browser saw: {followed}\n{:?}", entra.requests())
        });
        let out: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(out["account"], user.upn.as_str(), "{out}");
        assert_eq!(out["refresh"], true, "{out}");
        let auth = entra.requests_for("Authorize");
        assert_eq!(auth.len(), 1, "{auth:?}");
        // MSAL asks for form_post: the page with the form, not a redirect.
        assert!(auth[0].query.iter().any(|(k, v)| k == "response_mode" && v == "form_post"), "{auth:?}");
        assert_eq!(auth[0].status, 200);
        let redeemed = entra.requests_for("AuthCodeToken");
        assert_eq!((redeemed.len(), redeemed[0].status), (1, 200), "{redeemed:?}");
        assert!(redeemed[0].form.iter().any(|(k, _)| k == "code_verifier"));
    }

    #[test]
    fn microsoft_standin_msal_device_flow_accounts_and_refresh() {
        let entra = Entra::start(EntraOpts { interval: 1, ..Default::default() });
        let tls = entra.tls();
        let user = EntraUser::default();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.json");
        let args: Vec<String> = vec![
            tls.url(),
            TENANT_ID.into(),
            AZURE_CLI_CLIENT_ID.into(),
            user.oid.clone(),
            user.upn.clone(),
            out.display().to_string(),
        ];
        // The user approves in the browser once MSAL has polled twice.
        with_user(
            || entra.count("DeviceCodeToken") >= 2,
            || {
                let code = entra.pending_user_codes().pop().expect("a pending code");
                let (status, _) = http_get(&format!("{}/devicelogin?otc={code}", entra.url()));
                assert_eq!(status, 200);
            },
            || python(MSAL_DEVICE_FLOW, &args, Some(tls.ca_bundle())),
        );
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        println!(
            "msal cache after the device code login:\n{}",
            serde_json::to_string_pretty(&doc["after_login"]).unwrap()
        );
        println!(
            "msal cache after the forced refresh:\n{}",
            serde_json::to_string_pretty(&doc["after_refresh"]).unwrap()
        );

        // What reached the stand-in: discovery once per application, then the flow.
        assert_eq!(entra.count("InstanceDiscovery"), 1);
        assert_eq!(entra.count("OpenIdConfiguration"), 2);
        assert_eq!(entra.count("DeviceCode"), 1);
        assert_eq!(entra.count("DeviceCodeToken"), 3, "two pending polls, then the tokens");
        assert_eq!(entra.count("RefreshToken"), 1);
        let msal_requests = entra.requests().into_iter().filter(|r| r.op != "DeviceLogin");
        assert!(msal_requests.clone().all(|r| r.tls), "MSAL came through the TLS front only");
        assert!(entra.requests_for("DeviceLogin").iter().all(|r| !r.tls));
        let disc = &entra.requests_for("InstanceDiscovery")[0];
        assert_eq!(disc.param("api-version"), Some("1.0"));
        assert_eq!(
            disc.param("authorization_endpoint"),
            Some(format!("https://127.0.0.1/{TENANT_ID}/oauth2/v2.0/authorize").as_str()),
            "MSAL drops the port"
        );
        let dc = &entra.requests_for("DeviceCode")[0];
        let mut asked: Vec<&str> = dc.param("scope").unwrap().split(' ').collect();
        asked.sort();
        assert_eq!(asked, [ARM_SCOPE, "offline_access", "openid", "profile"]);
        assert_eq!(dc.header("x-client-sku"), Some("MSAL.Python"));
        assert_eq!(dc.header("x-client-ver"), Some("1.39.0"));
        let polls = entra.requests_for("DeviceCodeToken");
        let errors: Vec<Option<&str>> = polls.iter().map(|r| r.error.as_deref()).collect();
        assert_eq!(errors, [Some("authorization_pending"), Some("authorization_pending"), None]);
        assert_eq!(polls[2].param("client_info"), Some("1"));
        assert_eq!(polls[2].param("device_code"), polls[2].param("code"), "MSAL sends the device code twice");
        let refresh = &entra.requests_for("RefreshToken")[0];
        let issued = entra.issued();
        assert_eq!(issued.len(), 2);
        assert_eq!(refresh.param("refresh_token"), issued[0].refresh_token.as_deref());
        assert_eq!(refresh.param("client_info"), Some("1"));
        assert_eq!(refresh.header("x-anchormailbox"), Some(format!("Oid:{}@{TENANT_ID}", user.oid).as_str()));
        assert_eq!(doc["login"]["access_token"], issued[0].access_token.as_str());
        assert_eq!(doc["login"]["refresh_token"].as_str(), issued[0].refresh_token.as_deref());
        assert_eq!(doc["refreshed"], issued[1].access_token.as_str());
        assert_eq!(issued[1].grant, "refresh_token");

        // (a) The cache layout msal wrote, key by key and field by field.
        let cache = &doc["after_login"];
        let home = format!("{}.{TENANT_ID}", user.oid);
        let target = "https://management.azure.com/.default https://management.azure.com/user_impersonation";
        let at_key = format!("{home}-127.0.0.1-accesstoken-{AZURE_CLI_CLIENT_ID}-{TENANT_ID}-{target}");
        let rt_key = format!("{home}-127.0.0.1-refreshtoken-{AZURE_CLI_CLIENT_ID}--{target}");
        let id_key = format!("{home}-127.0.0.1-idtoken-{AZURE_CLI_CLIENT_ID}-{TENANT_ID}-");
        let account_key = format!("{home}-127.0.0.1-{TENANT_ID}");
        let app_key = format!("appmetadata-127.0.0.1-{AZURE_CLI_CLIENT_ID}");
        let sections: Vec<&str> = cache.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(sections, ["AccessToken", "Account", "IdToken", "RefreshToken", "AppMetadata"]);
        let keys = |section: &str| -> Vec<String> { cache[section].as_object().unwrap().keys().cloned().collect() };
        assert_eq!(keys("AccessToken"), [at_key.to_lowercase()]);
        assert_eq!(keys("RefreshToken"), [rt_key.to_lowercase()]);
        assert_eq!(keys("IdToken"), [id_key.to_lowercase()]);
        assert_eq!(keys("Account"), [account_key.to_lowercase()]);
        assert_eq!(keys("AppMetadata"), std::slice::from_ref(&app_key));
        let at = &cache["AccessToken"][at_key.to_lowercase()];
        let fields: Vec<&str> = at.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            [
                "credential_type",
                "secret",
                "home_account_id",
                "environment",
                "client_id",
                "target",
                "realm",
                "token_type",
                "cached_at",
                "expires_on",
                "extended_expires_on"
            ]
        );
        assert!(at.as_object().unwrap().values().all(Value::is_string), "every field is a string: {at}");
        let cached_at: u64 = at["cached_at"].as_str().unwrap().parse().unwrap();
        let expires_on: u64 = at["expires_on"].as_str().unwrap().parse().unwrap();
        assert_eq!(expires_on - cached_at, 3599);
        assert_eq!(at["target"], target);
        assert_eq!(at["environment"], "127.0.0.1");
        assert_eq!(at["realm"], TENANT_ID);
        let account = &cache["Account"][account_key.to_lowercase()];
        assert_eq!(
            account,
            &json!({
                "home_account_id": home,
                "environment": "127.0.0.1",
                "realm": TENANT_ID,
                "local_account_id": user.oid,
                "username": user.upn,
                "authority_type": "MSSTS",
                "account_source": DEVICE_GRANT,
            })
        );
        let rt = &cache["RefreshToken"][rt_key.to_lowercase()];
        let fields: Vec<&str> = rt.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            [
                "credential_type",
                "secret",
                "home_account_id",
                "environment",
                "client_id",
                "target",
                "last_modification_time"
            ]
        );
        assert_eq!(rt["secret"].as_str(), issued[0].refresh_token.as_deref());
        assert_eq!(
            cache["IdToken"][id_key.to_lowercase()],
            json!({
                "credential_type": "IdToken",
                "secret": issued[0].id_token.as_deref().unwrap(),
                "home_account_id": home,
                "environment": "127.0.0.1",
                "realm": TENANT_ID,
                "client_id": AZURE_CLI_CLIENT_ID,
            })
        );
        assert_eq!(
            cache["AppMetadata"][&app_key],
            json!({"client_id": AZURE_CLI_CLIENT_ID, "environment": "127.0.0.1"})
        );
        // After the refresh: the same keys, the new access token, the refresh token rewritten.
        let after = &doc["after_refresh"];
        assert_eq!(after["AccessToken"][at_key.to_lowercase()]["secret"], issued[1].access_token.as_str());
        assert_eq!(after["RefreshToken"][rt_key.to_lowercase()]["secret"].as_str(), issued[1].refresh_token.as_deref());
        assert_eq!(after["AccessToken"].as_object().unwrap().len(), 1);
    }

    /// One cached login in the layout MSAL Python 1.39 writes (every value a string).
    struct CachedLogin<'a> {
        environment: &'a str,
        target: &'a str,
        access_token: &'a str,
        expires_on: Value,
        refresh_token: &'a str,
        id_token: &'a str,
    }

    fn msal_layout(c: &CachedLogin) -> Value {
        let user = EntraUser::default();
        let now = epoch().to_string();
        let home = format!("{}.{TENANT_ID}", user.oid);
        let (env, client) = (c.environment, AZURE_CLI_CLIENT_ID);
        let at_key = format!("{home}-{env}-accesstoken-{client}-{TENANT_ID}-{}", c.target).to_lowercase();
        let rt_key = format!("{home}-{env}-refreshtoken-{client}--{}", c.target).to_lowercase();
        let id_key = format!("{home}-{env}-idtoken-{client}-{TENANT_ID}-").to_lowercase();
        let account_key = format!("{home}-{env}-{TENANT_ID}").to_lowercase();
        json!({
            "AccessToken": {at_key: {
                "credential_type": "AccessToken", "secret": c.access_token, "home_account_id": home,
                "environment": env, "client_id": client, "target": c.target, "realm": TENANT_ID,
                "token_type": "Bearer", "cached_at": now, "expires_on": c.expires_on,
                "extended_expires_on": c.expires_on,
            }},
            "Account": {account_key: {
                "home_account_id": home, "environment": env, "realm": TENANT_ID,
                "local_account_id": user.oid, "username": user.upn, "authority_type": "MSSTS",
                "account_source": DEVICE_GRANT,
            }},
            "IdToken": {id_key: {
                "credential_type": "IdToken", "secret": c.id_token, "home_account_id": home,
                "environment": env, "realm": TENANT_ID, "client_id": client,
            }},
            "RefreshToken": {rt_key: {
                "credential_type": "RefreshToken", "secret": c.refresh_token, "home_account_id": home,
                "environment": env, "client_id": client, "target": c.target, "last_modification_time": now,
            }},
            "AppMetadata": {format!("appmetadata-{env}-{client}"): {"client_id": client, "environment": env}},
        })
    }

    const DESERIALIZE_RETURNS_NONE: &str = r#"
# deserialize() fills the cache in place and returns None: passing its result as token_cache
# hands MSAL no cache at all (it then makes an empty in-memory one).
text = open(sys.argv[1]).read()
assert msal.SerializableTokenCache().deserialize(text) is None
a = app(sys.argv[2], sys.argv[3], token_cache=msal.SerializableTokenCache().deserialize(text))
assert a.get_accounts() == [], a.get_accounts()
cache = msal.SerializableTokenCache()
cache.deserialize(text)
a = app(sys.argv[2], sys.argv[3], token_cache=cache)
assert [x["username"] for x in a.get_accounts()] == [sys.argv[4]], a.get_accounts()
"#;

    #[test]
    fn microsoft_standin_msal_reads_a_cache_written_by_another_program() {
        let entra = Entra::start(EntraOpts { approve_after_polls: Some(0), interval: 0, ..Default::default() });
        let tls = entra.tls();
        let user = EntraUser::default();
        // A login over plain HTTP, as tfauth's own client makes it.
        let scope = format!("{ARM_SCOPE} offline_access openid profile");
        let form = [("client_id", AZURE_CLI_CLIENT_ID), ("scope", scope.as_str())];
        let (status, dc) = http_post_form(&format!("{}/oauth2/v2.0/devicecode", entra.authority()), &form, &[]);
        assert_eq!(status, 200, "{dc}");
        let device_code = dc["device_code"].as_str().unwrap();
        let form = [
            ("grant_type", DEVICE_GRANT),
            ("client_id", AZURE_CLI_CLIENT_ID),
            ("device_code", device_code),
            ("client_info", "1"),
        ];
        let (status, tok) = http_post_form(&format!("{}/oauth2/v2.0/token", entra.authority()), &form, &[]);
        assert_eq!(status, 200, "{tok}");
        let (rt, id_token) = (tok["refresh_token"].as_str().unwrap(), tok["id_token"].as_str().unwrap());
        let target = "https://management.azure.com/.default https://management.azure.com/user_impersonation";
        let now = epoch();
        let dir = tempfile::tempdir().unwrap();
        let authority = tls.authority(TENANT_ID);
        let read = |name: &str, login: CachedLogin| -> Value {
            let path = dir.path().join(name);
            std::fs::write(&path, serde_json::to_string_pretty(&msal_layout(&login)).unwrap()).unwrap();
            msal_read_cache(&path, &authority, AZURE_CLI_CLIENT_ID, &[ARM_SCOPE], tls.ca_bundle())
        };
        let login = |environment, target, access_token, expires_on| CachedLogin {
            environment,
            target,
            access_token,
            expires_on,
            refresh_token: rt,
            id_token,
        };
        let discovery = entra.count("OpenIdConfiguration");
        let calls = entra.token_calls();

        // A fresh access token: the account is found and the token served from the cache; the
        // only request is the discovery GET every new application makes.
        let r = read(
            "fresh.json",
            login("127.0.0.1", target, "hand-written-access-token", json!((now + 3000).to_string())),
        );
        println!("ms_read_cache.py on a hand-written cache:\n{}", serde_json::to_string_pretty(&r).unwrap());
        let accounts = r["accounts"].as_array().unwrap();
        assert_eq!(accounts.len(), 1, "{r}");
        assert_eq!(accounts[0]["username"], user.upn.as_str());
        assert_eq!(accounts[0]["home_account_id"], format!("{}.{TENANT_ID}", user.oid));
        assert_eq!(r["served_from_cache"], true, "{r}");
        assert_eq!(r["result"]["access_token"], "hand-written-access-token");
        assert_eq!(r["cache_state_changed"], false);
        assert_eq!(entra.token_calls(), calls, "no token call");
        assert_eq!(entra.count("OpenIdConfiguration"), discovery + 1);

        // Numbers instead of strings for the times are read too (MSAL applies int()), and a
        // target of ".default" alone serves a request for ".default".
        let r = read("numbers.json", login("127.0.0.1", ARM_SCOPE, "numeric-expiry", json!(now + 3000)));
        assert_eq!(
            (r["served_from_cache"].as_bool(), r["result"]["access_token"].as_str()),
            (Some(true), Some("numeric-expiry"))
        );

        // Less than five minutes left counts as expired: MSAL refreshes with the refresh token
        // and caches what the stand-in issued.
        for (name, expires_on) in [("aging.json", now + 200), ("expired.json", now - 60)] {
            let before = entra.count("RefreshToken");
            let r = read(name, login("127.0.0.1", target, "old-access-token", json!(expires_on.to_string())));
            assert_eq!(r["served_from_cache"], false, "{name}: {r}");
            assert_eq!(r["result"]["token_source"], "identity_provider", "{name}: {r}");
            let at = r["result"]["access_token"].as_str().unwrap();
            assert_eq!(entra.issued_access_token(at).map(|t| t.grant), Some("refresh_token".into()));
            assert_eq!(entra.count("RefreshToken"), before + 1);
            assert_eq!(entra.requests_for("RefreshToken").last().unwrap().param("refresh_token"), Some(rt));
            assert_eq!(r["cache_state_changed"], true);
        }

        // The realm MSAL looks up is the tenant segment of the token endpoint discovery gave:
        // the verified domain resolves to the GUID (served from the cache), while
        // "organizations" stays "organizations" (no access token there: refreshed).
        let fresh = dir.path().join("fresh.json");
        let r =
            msal_read_cache(&fresh, &tls.authority(TENANT_DOMAIN), AZURE_CLI_CLIENT_ID, &[ARM_SCOPE], tls.ca_bundle());
        assert_eq!(r["served_from_cache"], true, "{r}");
        let before = entra.count("RefreshToken");
        let r = msal_read_cache(
            &fresh,
            &tls.authority("organizations"),
            AZURE_CLI_CLIENT_ID,
            &[ARM_SCOPE],
            tls.ca_bundle(),
        );
        assert_eq!(
            (r["served_from_cache"].as_bool(), r["accounts"].as_array().map(Vec::len)),
            (Some(false), Some(1)),
            "{r}"
        );
        assert_eq!(r["result"]["token_source"], "identity_provider", "{r}");
        assert_eq!(entra.count("RefreshToken"), before + 1);
        let refreshed = entra.requests_for("RefreshToken").pop().unwrap();
        assert_eq!(refreshed.path, "/organizations/oauth2/v2.0/token");

        // The environment is the host name alone: "127.0.0.1:PORT" is another environment.
        let hostport = format!("127.0.0.1:{}", tls.port);
        let r = read("hostport.json", login(&hostport, target, "never-served", json!((now + 3000).to_string())));
        assert_eq!(r["accounts"], json!([]), "{r}");
        assert_eq!(r["result"], Value::Null);

        // token_cache=SerializableTokenCache().deserialize(text) is a trap.
        let path = dir.path().join("fresh.json");
        let args = [path.display().to_string(), authority.clone(), AZURE_CLI_CLIENT_ID.into(), user.upn.clone()];
        python(DESERIALIZE_RETURNS_NONE, &args, Some(tls.ca_bundle()));
    }

    const AZURE_IDENTITY: &str = r#"
from azure.identity import ClientAssertionCredential, WorkloadIdentityCredential
from azure.core.exceptions import ClientAuthenticationError
base, tenant, client_id, token_file, bad_subject, bad_audience = sys.argv[1:7]
good = open(token_file).read()

def failure(cred, scope, *parts):
    try:
        cred.get_token(scope)
    except ClientAuthenticationError as e:
        for p in parts:
            assert p in e.message, (p, e.message)
        assert e.response is not None
        return {"status": e.response.status_code, "message": e.message}
    raise AssertionError("no error for " + scope)

cred = WorkloadIdentityCredential(tenant_id=tenant, client_id=client_id, token_file_path=token_file, authority=base, connection_verify=CA)
t = cred.get_token(ARM)
assert abs(t.expires_on - (time.time() + 3599)) < 60, t
c = claims(t.token)
assert c["aud"] == "https://management.azure.com" and c["tid"] == tenant and c["appid"] == client_id and c["idtyp"] == "app", c
assert cred.get_token(ARM).token == t.token  # from azure-identity's own cache: no second request
assertion = lambda text: (lambda: text)
errors = {
    "subject": failure(ClientAssertionCredential(tenant, client_id, assertion(bad_subject), authority=base), ARM,
                       "(invalid_client) AADSTS700213: No matching federated identity record found for presented assertion subject 'repo:acme/other:ref:refs/heads/main'"),
    "audience": failure(ClientAssertionCredential(tenant, client_id, assertion(bad_audience), authority=base), ARM,
                        "(invalid_client) AADSTS700212", "audience 'api://SomethingElse'"),
    "scope": failure(ClientAssertionCredential(tenant, client_id, assertion(good), authority=base),
                     "https://management.azure.com/user_impersonation", "(invalid_scope) AADSTS1002012"),
    "tenant": failure(ClientAssertionCredential("no-such-tenant", client_id, assertion(good), authority=base), ARM,
                      "(invalid_request) AADSTS90002: Tenant 'no-such-tenant' not found"),
    "client": failure(ClientAssertionCredential(tenant, "11111111-2222-3333-4444-555555555555", assertion(good), authority=base), ARM,
                      "(unauthorized_client) AADSTS700016"),
}
print(json.dumps({"token": t.token, "expires_on": t.expires_on, "errors": errors}))
"#;

    #[test]
    fn microsoft_standin_azure_identity_workload_identity_credential() {
        let entra = Entra::start(EntraOpts::default());
        let tls = entra.tls();
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        let hour = Duration::from_secs(3600);
        let good = federated_assertion(GITHUB_ISSUER, GITHUB_SUBJECT, EXCHANGE_AUDIENCE, hour);
        std::fs::write(&token_file, &good).unwrap();
        let args = [
            tls.url(),
            TENANT_ID.into(),
            WORKLOAD_CLIENT_ID.into(),
            token_file.display().to_string(),
            federated_assertion(GITHUB_ISSUER, "repo:acme/other:ref:refs/heads/main", EXCHANGE_AUDIENCE, hour),
            federated_assertion(GITHUB_ISSUER, GITHUB_SUBJECT, "api://SomethingElse", hour),
        ];
        let out = python(AZURE_IDENTITY, &args, Some(tls.ca_bundle()));
        let doc: Value = serde_json::from_str(out.trim()).unwrap();
        let issued = entra.issued();
        assert_eq!(issued.len(), 1);
        assert_eq!(doc["token"], issued[0].access_token.as_str());
        assert_eq!(doc["expires_on"].as_u64().unwrap().abs_diff(issued[0].expires_on), 0);
        assert_eq!((issued[0].grant.as_str(), issued[0].refresh_token.as_ref()), ("client_credentials", None));
        assert_eq!(entra.count("ClientCredentials"), 6, "one token and five refusals; the second get_token was cached");
        assert_eq!(
            entra.count("OpenIdConfiguration"),
            0,
            "azure-identity posts straight to {{authority}}/{{tenant}}/oauth2/v2.0/token"
        );
        let first = &entra.requests_for("ClientCredentials")[0];
        assert!(first.tls);
        assert_eq!(first.path, format!("/{TENANT_ID}/oauth2/v2.0/token"));
        assert_eq!(first.param("client_assertion"), Some(good.as_str()));
        assert_eq!(first.param("client_assertion_type"), Some(JWT_BEARER));
        assert_eq!(first.param("client_id"), Some(WORKLOAD_CLIENT_ID));
        assert_eq!(first.param("scope"), Some(ARM_SCOPE));
        let errors = &doc["errors"];
        for (k, status) in [("subject", 401), ("audience", 401), ("scope", 400), ("tenant", 400), ("client", 400)] {
            assert_eq!(errors[k]["status"], status, "{k}: {}", errors[k]);
        }
        let errs: Vec<Option<String>> =
            entra.requests_for("ClientCredentials").iter().map(|r| r.error.clone()).collect();
        assert_eq!(
            errs,
            [
                None,
                Some("invalid_client".into()),
                Some("invalid_client".into()),
                Some("invalid_scope".into()),
                Some("invalid_request".into()),
                Some("unauthorized_client".into())
            ]
        );
    }

    const MSAL_ERRORS: &str = r#"
import requests
base, tenant, client_id = sys.argv[1:4]
a = app(f"{base}/{tenant}", client_id)
# Declined in the browser (the test denies once the first poll arrived).
flow = a.initiate_device_flow(scopes=[ARM])
r = a.acquire_token_by_device_flow(flow)
assert r["error"] == "authorization_declined" and r["error_codes"] == [65004], r
assert r["error_description"].startswith("AADSTS65004: User declined to consent to access the app. Trace ID: "), r
assert r["correlation_id"] == flow["_correlation_id"], (r, flow)  # MSAL's client-request-id, echoed
assert r["error_uri"] == f"{base}/error?code=65004" and r["trace_id"] in r["error_description"], r
# An unknown tenant: discovery fails, and MSAL's ValueError chains AAD's answer.
try:
    app(f"{base}/no-such-tenant", client_id)
    raise AssertionError("an unknown tenant was accepted")
except ValueError as e:
    assert "Unable to get authority configuration" in str(e), e
    assert "AADSTS90002: Tenant 'no-such-tenant' not found" in str(e.__context__), e.__context__
# An app the directory does not know: the device code answer is AAD's error.
flow = app(f"{base}/{tenant}", "11111111-2222-3333-4444-555555555555").initiate_device_flow(scopes=[ARM])
assert flow["error"] == "unauthorized_client" and flow["error_codes"] == [700016], flow
# Approved in the browser, then the refresh token outlives its inactivity limit.
flow = a.initiate_device_flow(scopes=[ARM])
page = requests.get(flow["verification_uri"], params={"otc": flow["user_code"]}, verify=CA)
assert page.status_code == 200, page.text
r = a.acquire_token_by_device_flow(flow)
assert "access_token" in r, r
acct = a.get_accounts()[0]
time.sleep(1.2)
r = a.acquire_token_silent_with_error([ARM], account=acct, force_refresh=True)
assert r["error"] == "invalid_grant" and r["error_codes"] == [700082], r
assert "AADSTS700082: The refresh token has expired due to inactivity." in r["error_description"], r
assert a.acquire_token_silent([ARM], account=acct, force_refresh=True) is None
"#;

    const FAULTY_TOKEN_ENDPOINT: &str = r#"
from azure.identity import ClientAssertionCredential
from azure.core.exceptions import ClientAuthenticationError
base, tenant, client_id, assertion = sys.argv[1:5]
a = app(f"{base}/{tenant}", client_id)
flow = a.initiate_device_flow(scopes=[ARM])
assert "user_code" in flow, flow
r = a.acquire_token_by_device_flow(flow)
assert r["error"] == "invalid_request" and r["error_codes"] == [50059], r
assert r["error_description"].startswith("AADSTS50059: No tenant-identifying information found"), r
cred = ClientAssertionCredential(tenant, client_id, lambda: assertion, authority=base)
try:
    cred.get_token(ARM)
    raise AssertionError("no error")
except ClientAuthenticationError as e:
    assert "Microsoft Entra ID error '(invalid_request) AADSTS50059: No tenant-identifying information" in e.message, e.message
    assert e.response.status_code == 400, e.response.status_code
"#;

    #[test]
    fn microsoft_standin_errors_reach_msal_and_azure_identity() {
        let entra = Entra::start(EntraOpts {
            interval: 0,
            refresh_token_ttl: Some(Duration::from_secs(1)),
            ..Default::default()
        });
        let tls = entra.tls();
        let args = [tls.url(), TENANT_ID.to_string(), AZURE_CLI_CLIENT_ID.to_string()];
        with_user(
            || entra.count("DeviceCodeToken") >= 1,
            || assert_eq!(entra.deny(), 1),
            || python(MSAL_ERRORS, &args, Some(tls.ca_bundle())),
        );
        let polls: Vec<Option<String>> =
            entra.requests_for("DeviceCodeToken").iter().map(|r| r.error.clone()).collect();
        let declined = polls.iter().position(|e| e.as_deref() == Some("authorization_declined")).expect("declined");
        assert!(polls[..declined].iter().all(|e| e.as_deref() == Some("authorization_pending")), "{polls:?}");
        assert_eq!(polls.last(), Some(&None), "the approved login got its tokens");
        assert_eq!(entra.count("DeviceCode"), 3);
        assert_eq!(entra.requests_for("DeviceCode")[1].error.as_deref(), Some("unauthorized_client"));
        assert_eq!(entra.requests_for("OpenIdConfiguration").iter().filter(|r| r.status == 400).count(), 1);
        // The failed silent refresh was not retried (acquire_token_silent's 400 came from MSAL's
        // own throttling cache).
        let refreshes: Vec<Option<String>> =
            entra.requests_for("RefreshToken").iter().map(|r| r.error.clone()).collect();
        assert_eq!(refreshes, [Some("invalid_grant".to_string())]);

        // Now every token call fails.
        entra.set_fault(Some(Fault::bad_request()));
        let calls = entra.token_calls();
        let assertion = federated_assertion(GITHUB_ISSUER, GITHUB_SUBJECT, EXCHANGE_AUDIENCE, Duration::from_secs(600));
        let args = [tls.url(), TENANT_ID.to_string(), WORKLOAD_CLIENT_ID.to_string(), assertion];
        python(FAULTY_TOKEN_ENDPOINT, &args, Some(tls.ca_bundle()));
        assert_eq!(entra.token_calls(), calls + 2, "one device code poll, one client credentials call");
        assert!(
            entra
                .requests()
                .iter()
                .rev()
                .take(2)
                .all(|r| r.status == 400 && r.error.as_deref() == Some("invalid_request"))
        );
        assert_eq!(entra.issued().len(), 1, "only the approved login issued tokens");
    }

    /// The wire format as a plain-HTTP client (tfauth's) sees it.
    #[test]
    fn microsoft_standin_wire_format_over_plain_http() {
        let entra = Entra::start(EntraOpts { slow_down_polls: 1, ..Default::default() });
        let (base, tid, user) = (entra.url(), entra.tenant_id(), EntraUser::default());

        // Discovery: endpoints back at the plain base; a domain name resolves to the GUID;
        // "organizations" keeps its name and a templated issuer; an unknown tenant is AADSTS90002.
        let (status, conf) = http_get(&format!("{base}/{TENANT_DOMAIN}/v2.0/.well-known/openid-configuration"));
        assert_eq!(status, 200);
        assert_eq!(conf["token_endpoint"], format!("{base}/{tid}/oauth2/v2.0/token"));
        assert_eq!(conf["device_authorization_endpoint"], format!("{base}/{tid}/oauth2/v2.0/devicecode"));
        assert_eq!(conf["issuer"], format!("{base}/{tid}/v2.0"));
        let (_, conf) = http_get(&format!("{base}/organizations/v2.0/.well-known/openid-configuration"));
        assert_eq!(conf["token_endpoint"], format!("{base}/organizations/oauth2/v2.0/token"));
        assert_eq!(conf["issuer"], format!("{base}/{{tenantid}}/v2.0"));
        let (status, err) = http_get(&format!("{base}/contoso.example/v2.0/.well-known/openid-configuration"));
        assert_eq!(
            (status, err["error"].as_str(), err["error_codes"].clone()),
            (400, Some("invalid_tenant"), json!([90002]))
        );
        let q = form_encode(&[
            ("api-version", "1.1"),
            ("authorization_endpoint", &format!("https://127.0.0.1/{tid}/oauth2/v2.0/authorize")),
        ]);
        let (status, inst) = http_get(&format!("{base}/common/discovery/instance?{q}"));
        assert_eq!(status, 200);
        assert_eq!(
            inst,
            json!({
                "tenant_discovery_endpoint": format!("{base}/{tid}/v2.0/.well-known/openid-configuration"),
                "api-version": "1.1",
                "metadata": [
                    {"preferred_network": "127.0.0.1", "preferred_cache": "127.0.0.1", "aliases": ["127.0.0.1"]}
                ],
            })
        );
        let q = form_encode(&[("authorization_endpoint", "https://login.example.com/x/oauth2/v2.0/authorize")]);
        let (status, inst) = http_get(&format!("{base}/common/discovery/instance?{q}"));
        assert_eq!((status, inst["error"].as_str()), (400, Some("invalid_instance")));

        // The device code answer.
        let scope = format!("{ARM_SCOPE} offline_access openid profile");
        let devicecode = format!("{base}/{tid}/oauth2/v2.0/devicecode");
        let (status, dc) = http_post_form(&devicecode, &[("client_id", AZURE_CLI_CLIENT_ID), ("scope", &scope)], &[]);
        assert_eq!(status, 200, "{dc}");
        let code = dc["user_code"].as_str().unwrap();
        assert!(code.len() == 9 && code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()), "{code}");
        assert_eq!(dc["verification_uri"], format!("{base}/devicelogin"));
        assert_eq!((dc["expires_in"].as_u64(), dc["interval"].as_u64()), (Some(900), Some(5)));
        assert_eq!(
            dc["message"],
            format!(
                "To sign in, use a web browser to open the page {base}/devicelogin and enter the code {code} to authenticate."
            )
        );
        let keys: Vec<&str> = dc.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["user_code", "device_code", "verification_uri", "expires_in", "interval", "message"]);

        // Polling: slow_down, then pending (AAD's error body, correlation id echoed), approve
        // in the "browser", then the tokens; the device code is good once.
        let token_url = format!("{base}/{tid}/oauth2/v2.0/token");
        let device_code = dc["device_code"].as_str().unwrap();
        let poll = |corr: &str| {
            let form = [
                ("grant_type", DEVICE_GRANT),
                ("client_id", AZURE_CLI_CLIENT_ID),
                ("device_code", device_code),
                ("client_info", "1"),
            ];
            http_post_form(&token_url, &form, &[("client-request-id", corr)])
        };
        let (status, e) = poll("c0ffee00-0000-4000-8000-000000000001");
        assert_eq!((status, e["error"].as_str()), (400, Some("slow_down")));
        let (status, e) = poll("c0ffee00-0000-4000-8000-000000000002");
        assert_eq!(status, 400);
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id", "error_uri"]
        );
        assert_eq!(e["error"], "authorization_pending");
        assert_eq!(e["error_codes"], json!([70016]));
        assert_eq!(e["correlation_id"], "c0ffee00-0000-4000-8000-000000000002");
        let ts = e["timestamp"].as_str().unwrap();
        assert!(ts.len() == 20 && ts.as_bytes()[10] == b' ' && ts.ends_with('Z'), "{ts}");
        assert_eq!(
            e["error_description"],
            format!(
                "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling. Trace ID: {} Correlation ID: c0ffee00-0000-4000-8000-000000000002 Timestamp: {ts}",
                e["trace_id"].as_str().unwrap()
            )
        );
        assert_eq!(e["error_uri"], format!("{base}/error?code=70016"));
        let pending = entra.requests_for("DeviceCodeToken").pop().unwrap();
        assert_eq!(pending.header("client-request-id"), Some("c0ffee00-0000-4000-8000-000000000002"));
        let (status, _) = http_get(&format!("{base}/devicelogin?otc={}", code.to_lowercase()));
        assert_eq!(status, 200);
        assert!(entra.pending_user_codes().is_empty());
        let (status, tok) = poll("c0ffee00-0000-4000-8000-000000000003");
        assert_eq!(status, 200, "{tok}");
        let keys: Vec<&str> = tok.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "token_type",
                "scope",
                "expires_in",
                "ext_expires_in",
                "access_token",
                "refresh_token",
                "id_token",
                "client_info"
            ]
        );
        assert_eq!(
            tok["scope"],
            "https://management.azure.com/user_impersonation https://management.azure.com/.default"
        );
        assert_eq!((tok["expires_in"].as_u64(), tok["ext_expires_in"].as_u64()), (Some(3599), Some(3599)));
        let info: Value =
            serde_json::from_slice(&b64url_decode(tok["client_info"].as_str().unwrap()).unwrap()).unwrap();
        assert_eq!(info, json!({"uid": user.oid, "utid": tid}));
        let id = jwt_claims(tok["id_token"].as_str().unwrap()).unwrap();
        let mut names: Vec<&str> = id.as_object().unwrap().keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(
            names,
            ["aud", "exp", "iat", "iss", "name", "nbf", "oid", "preferred_username", "rh", "sub", "tid", "uti", "ver"]
        );
        assert_eq!(
            (id["aud"].as_str(), id["iss"].clone()),
            (Some(AZURE_CLI_CLIENT_ID), json!(format!("{base}/{tid}/v2.0")))
        );
        assert_eq!(
            (id["name"].as_str(), id["preferred_username"].as_str()),
            (Some("Jane Doe"), Some(user.upn.as_str()))
        );
        let at = jwt_claims(tok["access_token"].as_str().unwrap()).unwrap();
        assert_eq!(at["aud"], "https://management.azure.com");
        assert_eq!(at["exp"].as_u64().unwrap() - at["iat"].as_u64().unwrap(), 3599);
        let (status, e) = poll("c0ffee00-0000-4000-8000-000000000004");
        assert_eq!(
            (status, e["error"].as_str(), e["error_codes"].clone()),
            (400, Some("invalid_grant"), json!([54005]))
        );

        // Unknown and expired device codes; a declined one.
        let bad = [("grant_type", DEVICE_GRANT), ("client_id", AZURE_CLI_CLIENT_ID), ("device_code", "nope")];
        let (status, e) = http_post_form(&token_url, &bad, &[]);
        assert_eq!(
            (status, e["error"].as_str(), e["error_codes"].clone()),
            (400, Some("bad_verification_code"), json!([70018]))
        );
        let new_code =
            || http_post_form(&devicecode, &[("client_id", AZURE_CLI_CLIENT_ID), ("scope", ARM_SCOPE)], &[]).1;
        let dc2 = new_code();
        entra.expire_device_codes();
        let form = [
            ("grant_type", DEVICE_GRANT),
            ("client_id", AZURE_CLI_CLIENT_ID),
            ("device_code", dc2["device_code"].as_str().unwrap()),
        ];
        let (status, e) = http_post_form(&token_url, &form, &[]);
        assert_eq!(
            (status, e["error"].as_str(), e["error_codes"].clone()),
            (400, Some("expired_token"), json!([70019]))
        );
        let dc3 = new_code();
        assert_eq!(entra.deny(), 1);
        let form = [
            ("grant_type", DEVICE_GRANT),
            ("client_id", AZURE_CLI_CLIENT_ID),
            ("device_code", dc3["device_code"].as_str().unwrap()),
        ];
        let (status, e) = http_post_form(&token_url, &form, &[]);
        assert_eq!((status, e["error"].as_str()), (400, Some("authorization_declined")));

        // Refresh: without a scope, the original one; no refresh token without offline_access.
        let rt = tok["refresh_token"].as_str().unwrap();
        let form = [("grant_type", "refresh_token"), ("client_id", AZURE_CLI_CLIENT_ID), ("refresh_token", rt)];
        let (status, new) = http_post_form(&token_url, &form, &[]);
        assert_eq!(status, 200, "{new}");
        assert_eq!(new["scope"], tok["scope"]);
        assert!(new["refresh_token"].is_string() && new.get("client_info").is_none(), "{new}");
        let with_scope = [form.as_slice(), &[("scope", ARM_SCOPE)]].concat();
        let (_, narrow) = http_post_form(&token_url, &with_scope, &[]);
        assert!(narrow.get("refresh_token").is_none() && narrow.get("id_token").is_none(), "{narrow}");
        let other_client = [("grant_type", "refresh_token"), ("client_id", WORKLOAD_CLIENT_ID), ("refresh_token", rt)];
        let (status, e) = http_post_form(&token_url, &other_client, &[]);
        assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
        let unknown =
            [("grant_type", "refresh_token"), ("client_id", AZURE_CLI_CLIENT_ID), ("refresh_token", "1.AXEA-forged")];
        let (_, e) = http_post_form(&token_url, &unknown, &[]);
        assert_eq!((e["error"].as_str(), e["error_codes"].clone()), (Some("invalid_grant"), json!([70000])));
        entra.revoke_refresh_tokens();
        let (_, e) = http_post_form(&token_url, &form, &[]);
        assert_eq!((e["error"].as_str(), e["error_codes"].clone()), (Some("invalid_grant"), json!([50173])));
        entra.expire_refresh_tokens();
        let (_, e) = http_post_form(&token_url, &form, &[]);
        assert_eq!((e["error"].as_str(), e["error_codes"].clone()), (Some("invalid_grant"), json!([700082])));

        // Client credentials with GitHub's stub token, which has only `sub`: a credential that
        // checks only the subject accepts it.
        let stub = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmFjbWUvaW5mcmEtbGl2ZTpyZWY6cmVmcy9oZWFkcy9tYWluIn0.c2ln";
        let loose = Entra::start(EntraOpts {
            federated: vec![FederatedCredential {
                client_id: WORKLOAD_CLIENT_ID.into(),
                issuer: None,
                subject: Some(GITHUB_SUBJECT.into()),
                audience: None,
            }],
            ..Default::default()
        });
        let cc = |e: &Entra, assertion: &str| {
            let form = [
                ("grant_type", "client_credentials"),
                ("client_id", WORKLOAD_CLIENT_ID),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", assertion),
                ("scope", ARM_SCOPE),
            ];
            http_post_form(&format!("{}/oauth2/v2.0/token", e.authority()), &form, &[])
        };
        let (status, tok) = cc(&loose, stub);
        assert_eq!(status, 200, "{tok}");
        let keys: Vec<&str> = tok.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["token_type", "expires_in", "ext_expires_in", "access_token"]);
        // The default (strict) credential wants GitHub's issuer: AADSTS700211.
        let (status, e) = cc(&entra, stub);
        assert_eq!(
            (status, e["error"].as_str(), e["error_codes"].clone()),
            (401, Some("invalid_client"), json!([700211]))
        );
        let expired = federated_assertion(GITHUB_ISSUER, GITHUB_SUBJECT, EXCHANGE_AUDIENCE, Duration::ZERO);
        let (_, e) = cc(&entra, &expired);
        assert_eq!(e["error_codes"], json!([700024]), "{e}");
        let (_, e) = cc(&entra, "not a jwt");
        assert_eq!(e["error_codes"], json!([50027]), "{e}");

        // Unknown client, unsupported grant, missing parameters, unknown tenant.
        let form = [("client_id", "11111111-2222-3333-4444-555555555555"), ("scope", ARM_SCOPE)];
        let (status, e) = http_post_form(&devicecode, &form, &[]);
        assert_eq!(
            (status, e["error"].as_str(), e["error_codes"].clone()),
            (400, Some("unauthorized_client"), json!([700016]))
        );
        let (_, e) = http_post_form(&token_url, &[("grant_type", "password"), ("client_id", AZURE_CLI_CLIENT_ID)], &[]);
        assert_eq!((e["error"].as_str(), e["error_codes"].clone()), (Some("unsupported_grant_type"), json!([70003])));
        let (_, e) = http_post_form(&token_url, &[("grant_type", DEVICE_GRANT)], &[]);
        assert!(
            e["error_description"]
                .as_str()
                .unwrap()
                .starts_with("AADSTS900144: The request body must contain the following parameter: 'client_id'."),
            "{e}"
        );
        let (status, e) = http_post_form(&format!("{base}/nosuch/oauth2/v2.0/token"), &form, &[]);
        assert_eq!(
            (status, e["error"].as_str(), e["error_codes"].clone()),
            (400, Some("invalid_request"), json!([90002]))
        );
        assert!(entra.requests().iter().all(|r| !r.tls));
    }

    /// Tokens for any resource: the AKS server app's GUID (client credentials, and a refresh
    /// token of an ARM sign-in used for it, as kubelogin does) gets `aud` = the GUID, ARM's
    /// scope `aud` = `https://management.azure.com`; `/__introspect` answers their claims while
    /// they are live and 401 for made-up, revoked and expired ones.
    #[test]
    fn microsoft_standin_tokens_for_any_resource_and_introspection() {
        let entra = Entra::start(EntraOpts::default());
        let introspect = |t: &str| http_get(&format!("{}?{}", entra.introspect_url(), form_encode(&[("token", t)])));

        let (status, app) = entra.workload_token(AKS_SCOPE);
        assert_eq!(status, 200, "{app}");
        let app_token = app["access_token"].as_str().unwrap();
        let claims = jwt_claims(app_token).unwrap();
        assert_eq!(claims["aud"], AKS_SERVER_ID);
        assert_eq!((claims["idtyp"].as_str(), claims["appid"].as_str()), (Some("app"), Some(WORKLOAD_CLIENT_ID)));
        let (status, arm) = entra.workload_token(ARM_SCOPE);
        assert_eq!(status, 200, "{arm}");
        let arm_app_token = arm["access_token"].as_str().unwrap();
        assert_eq!(jwt_claims(arm_app_token).unwrap()["aud"], "https://management.azure.com");
        let (status, legacy) = entra.workload_token("https://management.core.windows.net//.default");
        assert_eq!(status, 200, "{legacy}");
        assert_eq!(
            jwt_claims(legacy["access_token"].as_str().unwrap()).unwrap()["aud"],
            "https://management.core.windows.net/"
        );

        // A user's ARM sign-in, its refresh token then used for AKS (multi-resource), by Azure
        // CLI's client id and by kubelogin's.
        for client in [AZURE_CLI_CLIENT_ID, AKS_CLIENT_ID] {
            let login = entra.sign_in(client, &format!("{ARM_SCOPE} offline_access openid profile"));
            let user_arm = login["access_token"].as_str().unwrap();
            assert_eq!(jwt_claims(user_arm).unwrap()["aud"], "https://management.azure.com");
            let rt = login["refresh_token"].as_str().unwrap();
            let (status, aks) = entra.refresh(client, rt, &format!("{AKS_SCOPE} offline_access openid profile"));
            assert_eq!(status, 200, "{aks}");
            let user_aks = aks["access_token"].as_str().unwrap();
            let c = jwt_claims(user_aks).unwrap();
            assert_eq!(c["aud"], AKS_SERVER_ID, "{c}");
            assert_eq!((c["tid"].as_str(), c["appid"].as_str()), (Some(TENANT_ID), Some(client)));
            assert_eq!(c["upn"], EntraUser::default().upn);
            assert!(aks["refresh_token"].as_str().is_some_and(|r| r != rt), "a new refresh token");
            assert!(aks["id_token"].is_string());
            // Introspection: the claims, exactly.
            let (status, got) = introspect(user_aks);
            assert_eq!((status, &got), (200, &c));
            let (status, got) = introspect(user_arm);
            assert_eq!((status, got["aud"].as_str()), (200, Some("https://management.azure.com")));
        }
        let (status, got) = introspect(app_token);
        assert_eq!((status, got), (200, claims));
        let refused = json!({"error": "invalid_token"});
        for made_up in ["", "eyJhbGciOiJub25lIn0.e30.", &jwt(&json!({"aud": AKS_SERVER_ID, "exp": epoch() + 600}))] {
            assert_eq!(introspect(made_up), (401, refused.clone()), "{made_up}");
        }
        assert_eq!(http_get(&entra.introspect_url()), (401, refused.clone()), "no token");
        // Revoked.
        entra.revoke_access_tokens();
        assert_eq!(introspect(app_token), (401, refused.clone()));
        assert_eq!(introspect(arm_app_token), (401, refused.clone()));
        let (status, fresh) = entra.workload_token(AKS_SCOPE);
        assert_eq!(status, 200);
        assert_eq!(introspect(fresh["access_token"].as_str().unwrap()).0, 200, "new tokens work");
        assert_eq!(entra.count("Introspect"), 12);

        // Expired: a stand-in whose access tokens live 0 s.
        let short = Entra::start(EntraOpts { access_token_ttl: Duration::ZERO, ..Default::default() });
        let (status, t) = short.workload_token(AKS_SCOPE);
        assert_eq!(status, 200);
        let (status, got) =
            http_get(&format!("{}?token={}", short.introspect_url(), t["access_token"].as_str().unwrap()));
        assert_eq!((status, got), (401, refused));
    }
}
