//! A container-credentials endpoint on loopback (`tfauth auth serve`, `auth exec --serve`):
//! the HTTP server the AWS SDKs' container provider reads when
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI` and `AWS_CONTAINER_AUTHORIZATION_TOKEN` are set, as
//! aws-vault's `--ecs-server` serves it. For what does not read shared config: containers,
//! older SDKs, tools that know only the container variables.
//!
//! - Binds 127.0.0.1 (or another loopback address) only: [`start`] refuses anything else.
//! - Every request must carry the token in `Authorization` (compared in constant time);
//!   without it, 401, a warning in the log, and a count ([`Server::refused`]).
//! - `GET` answers `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}` from the
//!   caller's [`Source`], which is the session cache (single flight, refreshed by the
//!   margin): the server keeps no credentials of its own.
//! - Blocking: an accept thread and a few workers, one request per connection
//!   (`Connection: close`), requests capped in size and time. No TLS (loopback only).
//!
//! It must not: bind a non-loopback address, answer without the token, log a secret, or
//! outlive [`Server::stop`] (the port is closed when it returns).

use crate::providers::credentials::{Credentials, format_utc};
use crate::secret::Secret;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

/// Where the credentials come from, per request (the cache, refreshed when due); the error
/// is the message the client is sent (no secret in it).
pub type Source = dyn Fn() -> Result<Credentials, String> + Send + Sync;

/// The variables a child needs to use the endpoint.
pub const FULL_URI: &str = crate::env_vars::AWS_CONTAINER_CREDENTIALS_FULL_URI;
pub const AUTHORIZATION_TOKEN: &str = crate::env_vars::AWS_CONTAINER_AUTHORIZATION_TOKEN;

/// The path the endpoint answers on (any path is served; this one is advertised).
const PATH: &str = "/tfauth/credentials";
/// The largest request head read (the SDKs send a few hundred bytes).
const REQUEST_CAP: usize = 16 * 1024;
/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Worker threads: requests are short (a cache read), a refresh holds one while others wait
/// on the cache's lock.
const WORKERS: usize = 8;
/// What long-lived keys are said to expire in: clients ask again, and are handed the same.
const STATIC_KEYS_TTL: time::Duration = time::Duration::minutes(15);

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("the credentials endpoint binds only loopback addresses, not {addr}")]
    NotLoopback { addr: IpAddr },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

impl ServeError {
    pub fn exit_code(&self) -> i32 {
        match self {
            ServeError::NotLoopback { .. } => crate::exit::USAGE,
            ServeError::Bind { .. } => crate::exit::UNAVAILABLE,
        }
    }
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ServeError::NotLoopback { .. } => {
                "use --bind 127.0.0.1 (the default): the credentials must not leave this machine".into()
            }
            ServeError::Bind { .. } => "choose another --port, or leave it out for a free one".into(),
        })
    }
}

/// A running endpoint; [`Server::stop`] (or dropping it) closes the port.
pub struct Server {
    addr: SocketAddr,
    token: Secret,
    stopping: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
    served: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<()>>,
}

/// Listens on `bind:port` (`port` 0: a free one) and serves `source`'s credentials.
pub fn start(bind: IpAddr, port: u16, source: Arc<Source>) -> Result<Server, ServeError> {
    if !bind.is_loopback() {
        return Err(ServeError::NotLoopback { addr: bind });
    }
    let wanted = SocketAddr::new(bind, port);
    let listener = TcpListener::bind(wanted).map_err(|source| ServeError::Bind { addr: wanted, source })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind { addr: wanted, source })?;
    let token = Secret::new(crate::util::random_hex(32));
    let stopping = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<TcpStream>();
    let rx = Arc::new(Mutex::new(rx));
    let mut threads = Vec::new();
    for _ in 0..WORKERS {
        let (rx, source, token, refused, served) =
            (rx.clone(), source.clone(), token.clone(), refused.clone(), served.clone());
        threads.push(std::thread::spawn(move || {
            loop {
                let next = rx.lock().map(|r| r.recv());
                let Ok(Ok(stream)) = next else { return };
                handle(stream, &token, source.as_ref(), &refused, &served);
            }
        }));
    }
    let stop = stopping.clone();
    threads.push(std::thread::spawn(move || {
        for stream in listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            if let Ok(s) = stream
                && tx.send(s).is_err()
            {
                break;
            }
        }
        // Dropping the listener closes the port; dropping `tx` ends the workers.
    }));
    tracing::info!("credentials endpoint listening on http://{addr}{PATH}");
    Ok(Server { addr, token, stopping, refused, served, threads })
}

impl Server {
    /// `http://127.0.0.1:PORT/tfauth/credentials`: `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
    pub fn url(&self) -> String {
        format!("http://{}{PATH}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
    pub fn token(&self) -> &Secret {
        &self.token
    }

    /// The two variables, for a child's environment.
    pub fn variables(&self) -> [(String, String); 2] {
        [(FULL_URI.into(), self.url()), (AUTHORIZATION_TOKEN.into(), self.token.expose().to_string())]
    }

    /// Requests refused for a missing or wrong token so far.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }

    /// Credentials handed out so far.
    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }

    /// Stops accepting, waits for the requests in flight, and closes the port.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// One request: the token, then the credentials.
fn handle(mut stream: TcpStream, token: &Secret, source: &Source, refused: &AtomicUsize, served: &AtomicUsize) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let peer = stream.peer_addr().map_or_else(|_| "?".to_string(), |a| a.to_string());
    let Some(head) = read_head(&mut stream) else { return };
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let method = request_line.split(' ').next().unwrap_or("");
    let authorization = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.trim().to_string());
    if !authorization.as_deref().is_some_and(|a| equal(a.as_bytes(), token.expose().as_bytes())) {
        let n = refused.fetch_add(1, Ordering::SeqCst) + 1;
        tracing::warn!("credentials endpoint: refused a request from {peer} without the right token ({n} so far)");
        let body = r#"{"code":"Unauthorized","message":"the request lacks the AWS_CONTAINER_AUTHORIZATION_TOKEN this endpoint was started with"}"#;
        return reply(&mut stream, 401, body);
    }
    if method != "GET" {
        return reply(&mut stream, 405, r#"{"code":"MethodNotAllowed","message":"only GET is served"}"#);
    }
    match source() {
        Ok(creds) => {
            served.fetch_add(1, Ordering::SeqCst);
            reply(&mut stream, 200, &document(&creds, time::OffsetDateTime::now_utc()));
        }
        Err(message) => {
            tracing::warn!("credentials endpoint: no credentials to hand out: {message}");
            let body = serde_json::json!({"code": "CredentialsUnavailable", "message": message}).to_string();
            reply(&mut stream, 503, &body);
        }
    }
}

/// The container provider's document. Long-lived keys get an expiry [`STATIC_KEYS_TTL`]
/// ahead (the SDKs require one), so clients come back for the same keys.
pub fn document(creds: &Credentials, now: time::OffsetDateTime) -> String {
    let expiration = creds.expiration.unwrap_or(now + STATIC_KEYS_TTL);
    serde_json::json!({
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key.expose(),
        "Token": creds.session_token.as_ref().map(Secret::expose),
        "Expiration": format_utc(expiration),
    })
    .to_string()
}

/// The request line and headers (up to the blank line), at most [`REQUEST_CAP`] bytes.
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 || buf.len() + n > REQUEST_CAP {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(buf).ok()
}

fn reply(stream: &mut TcpStream, status: u16, body: &str) {
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes()));
    let _ = stream.flush();
}

/// Constant-time equality (the time taken depends only on the lengths).
fn equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(expiration: Option<time::OffsetDateTime>) -> Credentials {
        Credentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: Secret::new("s3cret"),
            session_token: Some(Secret::new("tok")),
            expiration,
            issued: None,
        }
    }

    fn get(addr: SocketAddr, authorization: Option<&str>) -> (u16, String) {
        let mut s = TcpStream::connect(addr).unwrap();
        let auth = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
        write!(s, "GET {PATH} HTTP/1.1\r\nHost: {addr}\r\n{auth}\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let status = out.split(' ').nth(1).unwrap().parse().unwrap();
        (status, out.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
    }

    #[test]
    fn it_answers_only_with_the_token_and_closes_its_port_when_stopped() {
        let at = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        let server = start("127.0.0.1".parse().unwrap(), 0, Arc::new(move || Ok(creds(Some(at))))).unwrap();
        let addr = server.addr();
        let token = server.token().expose().to_string();
        assert_eq!(token.len(), 64);
        let (status, body) = get(addr, Some(&token));
        assert_eq!(status, 200, "{body}");
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["AccessKeyId"], "ASIAEXAMPLE");
        assert_eq!(doc["Token"], "tok");
        assert_eq!(doc["Expiration"], format_utc(at));
        for wrong in [None, Some("Bearer ".to_string() + &token), Some(token[..63].to_string()), Some("x".into())] {
            let (status, body) = get(addr, wrong.as_deref());
            assert_eq!(status, 401, "{wrong:?}");
            assert!(!body.contains("s3cret"));
        }
        assert_eq!((server.refused(), server.served()), (4, 1));
        server.stop();
        assert!(TcpStream::connect(addr).is_err(), "the port is closed");
    }

    #[test]
    fn it_refuses_other_addresses_and_reports_the_sources_failure() {
        let e = start("0.0.0.0".parse().unwrap(), 0, Arc::new(|| Err("x".into()))).err().unwrap();
        assert_eq!(e.exit_code(), crate::exit::USAGE);
        let server = start("127.0.0.1".parse().unwrap(), 0, Arc::new(|| Err("sign in first".into()))).unwrap();
        let token = server.token().expose().to_string();
        let (status, body) = get(server.addr(), Some(&token));
        assert_eq!(status, 503);
        assert!(body.contains("sign in first"), "{body}");
        // Long-lived keys get an expiry, which the SDKs require.
        let now = time::OffsetDateTime::now_utc();
        let doc: serde_json::Value = serde_json::from_str(&document(&creds(None), now)).unwrap();
        assert_eq!(doc["Expiration"], format_utc(now + STATIC_KEYS_TTL));
        assert!(equal(b"abc", b"abc") && !equal(b"abc", b"abd") && !equal(b"abc", b"ab"));
    }
}
