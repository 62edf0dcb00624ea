//! The pieces of `azure/interactive`'s browser sign-in that are not HTTP calls to Entra ID:
//! PKCE (RFC 7636, `S256`), the `state`, and the loopback listener the browser is
//! redirected to (`http://localhost:PORT` on 127.0.0.1, an ephemeral port, as MSAL and
//! `az login` use), which serves one request and is then closed.
//!
//! Must not print, log or put in an error the authorization code or the verifier: they
//! live in [`Secret`]s, and the errors name only what went wrong.

use crate::secret::Secret;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

fn b64url(data: &[u8]) -> String {
    aws_smithy_types::base64::encode(data).replace('+', "-").replace('/', "_").trim_end_matches('=').to_string()
}

/// `n` random bytes, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    OsRng.fill_bytes(&mut bytes);
    b64url(&bytes)
}

/// A PKCE pair: the verifier stays here, the challenge goes in the authorize URL.
pub struct Pkce {
    pub verifier: Secret,
    pub challenge: String,
}

impl Pkce {
    /// A fresh pair: 32 random bytes make a 43-character verifier (RFC 7636 §4.1).
    pub fn fresh() -> Pkce {
        let verifier = random_token(32);
        Pkce { challenge: challenge_of(&verifier), verifier: Secret::new(verifier) }
    }
}

/// The `S256` challenge of `verifier`: base64url(SHA-256(verifier)).
pub fn challenge_of(verifier: &str) -> String {
    b64url(&Sha256::digest(verifier.as_bytes()))
}

/// Why the redirect did not bring a code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CallbackError {
    #[error("no browser came back to the loopback redirect within {0} seconds")]
    Timeout(u64),
    #[error("the sign-in was refused: {0}")]
    Refused(String),
    #[error("the redirect's `state` is not the one this sign-in sent (a stale tab, or a forged redirect)")]
    StateMismatch,
    #[error("the redirect carried neither a code nor an error")]
    NoCode,
    #[error("the loopback redirect received something other than an HTTP request")]
    Malformed,
    #[error("the loopback listener failed: {0}")]
    Io(String),
}

/// The listener the browser is redirected to. Dropped (closed) after one request.
pub struct Loopback {
    listener: TcpListener,
    pub redirect_uri: String,
}

impl Loopback {
    /// Listens on 127.0.0.1 on a port the system picks.
    pub fn bind() -> std::io::Result<Loopback> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let port = listener.local_addr()?.port();
        Ok(Loopback { listener, redirect_uri: format!("http://localhost:{port}") })
    }

    /// Waits up to `timeout` for one request, answers it, and closes the listener:
    /// the code when the request carries it with `state`.
    pub fn wait(self, state: &str, timeout: Duration) -> Result<Secret, CallbackError> {
        let io = |e: std::io::Error| CallbackError::Io(e.to_string());
        self.listener.set_nonblocking(true).map_err(io)?;
        let deadline = Instant::now() + timeout;
        let mut stream = loop {
            match self.listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(CallbackError::Timeout(timeout.as_secs()));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(io(e)),
            }
        };
        drop(self.listener);
        let outcome = read_request(&mut stream).and_then(|target| parse_target(&target, state));
        let (status, text) = match &outcome {
            Ok(_) => ("200 OK", "Signed in. You can close this tab and return to the terminal.".to_string()),
            Err(e) => ("400 Bad Request", format!("Not signed in: {e}. Return to the terminal.")),
        };
        let body = format!("<!doctype html><title>tfauth</title><p>{text}</p>\n");
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.flush();
        outcome
    }
}

/// The request target (`/?code=...`) of one HTTP request, read with a cap and a timeout.
fn read_request(stream: &mut TcpStream) -> Result<String, CallbackError> {
    stream.set_nonblocking(false).map_err(|e| CallbackError::Io(e.to_string()))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && !buf.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut chunk).map_err(|_| CallbackError::Malformed)?;
        if n == 0 || buf.len() > 64 * 1024 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("GET"), Some(target), Some(v)) if v.starts_with("HTTP/") => Ok(target.to_string()),
        _ => Err(CallbackError::Malformed),
    }
}

/// The code in a redirect target, once its `state` matches and it carries no `error`.
pub fn parse_target(target: &str, state: &str) -> Result<Secret, CallbackError> {
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let mut code = None;
    let mut got_state = None;
    let mut error = None;
    let mut description = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_encoding::percent_decode_str(&v.replace('+', " ")).decode_utf8_lossy().into_owned();
        match k {
            "code" => code = Some(Secret::new(v)),
            "state" => got_state = Some(v),
            "error" => error = Some(v),
            "error_description" => description = Some(v),
            _ => {}
        }
    }
    if let Some(e) = error {
        // The description is Entra ID's own text for the user; keep its first line.
        let d = description.map(|d| d.lines().next().unwrap_or_default().chars().take(300).collect::<String>());
        return Err(CallbackError::Refused(match d {
            Some(d) if !d.is_empty() => format!("{e}: {d}"),
            _ => e,
        }));
    }
    if got_state.as_deref() != Some(state) {
        return Err(CallbackError::StateMismatch);
    }
    code.filter(|c| !c.expose().is_empty()).ok_or(CallbackError::NoCode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_s256_challenge_is_rfc_7636_appendix_b() {
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let p = Pkce::fresh();
        assert_eq!(p.verifier.expose().len(), 43);
        assert_eq!(p.challenge, challenge_of(p.verifier.expose()));
        assert_ne!(Pkce::fresh().verifier.expose(), p.verifier.expose());
    }

    #[test]
    fn a_redirect_gives_its_code_only_with_the_right_state_and_no_error() {
        assert_eq!(parse_target("/?code=a%2Bb&state=s1", "s1").unwrap().expose(), "a+b");
        assert_eq!(parse_target("/?code=c&state=other", "s1").unwrap_err(), CallbackError::StateMismatch);
        assert_eq!(parse_target("/?code=c", "s1").unwrap_err(), CallbackError::StateMismatch);
        assert_eq!(parse_target("/?state=s1", "s1").unwrap_err(), CallbackError::NoCode);
        let denied =
            parse_target("/?error=access_denied&error_description=The+user+said+no.%0D%0ATrace&state=s1", "s1");
        assert_eq!(denied.unwrap_err(), CallbackError::Refused("access_denied: The user said no.".into()));
        // No code in the message that says what went wrong.
        let e = parse_target("/?code=SECRETCODE&state=x", "s1").unwrap_err();
        assert!(!e.to_string().contains("SECRETCODE"));
    }

    fn get(port: u16, target: &str) -> std::io::Result<String> {
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        write!(s, "GET {target} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n")?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    }

    #[test]
    fn the_listener_serves_one_request_then_is_closed() {
        let lb = Loopback::bind().unwrap();
        let port: u16 = lb.redirect_uri.rsplit(':').next().unwrap().parse().unwrap();
        assert_eq!(lb.redirect_uri, format!("http://localhost:{port}"));
        let waiter = std::thread::spawn(move || lb.wait("st", Duration::from_secs(10)));
        let page = get(port, "/?code=abc&state=st").unwrap();
        assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
        assert_eq!(waiter.join().unwrap().unwrap().expose(), "abc");
        // A second request finds nothing listening.
        assert!(get(port, "/?code=abc&state=st").is_err());
    }

    #[test]
    fn the_listener_refuses_a_wrong_state_and_a_denial_and_times_out() {
        for (target, want) in [
            ("/?code=abc&state=forged", CallbackError::StateMismatch),
            ("/?error=access_denied&state=st", CallbackError::Refused("access_denied".into())),
        ] {
            let lb = Loopback::bind().unwrap();
            let port: u16 = lb.redirect_uri.rsplit(':').next().unwrap().parse().unwrap();
            let waiter = std::thread::spawn(move || lb.wait("st", Duration::from_secs(10)));
            let page = get(port, target).unwrap();
            assert!(page.starts_with("HTTP/1.1 400"), "{page}");
            assert_eq!(waiter.join().unwrap().unwrap_err(), want);
        }
        let lb = Loopback::bind().unwrap();
        assert_eq!(lb.wait("st", Duration::from_millis(200)).unwrap_err(), CallbackError::Timeout(0));
    }
}
