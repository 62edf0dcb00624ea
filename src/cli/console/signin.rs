//! `tfauth auth console`: the AWS web console, signed in as the identity.
//!
//! The AWS federation endpoint turns a role session into a console session in two steps:
//! `getSigninToken` takes the session's keys (as a JSON document) and returns a sign-in
//! token, and a `login` URL carrying that token, an issuer and the destination signs the
//! browser in. Each partition has its own sign-in and console hosts.
//!
//! The login URL is a bearer credential for about 15 minutes, so it never goes on a
//! command line (where any local user can read it in `/proc`): the browser is sent to a
//! one-time loopback address that redirects it, once, to the real URL. `--print-only`
//! prints the URL on stdout, because the user asked for it there.
//!
//! Pure helpers build the URLs; [`signin_token`] is the one network call (blocking, no
//! runtime), and [`hand_to_browser`] the one-shot redirect.

use crate::env_vars::TFAUTH_AWS_FEDERATION_URL;
use crate::providers::http::{self, Call};
use crate::providers::{ProviderError, encode};
use crate::session::cache::Credentials;
use std::io::{Read, Write};
use std::time::Duration;

/// The longest console session AWS allows.
pub const MAX_DURATION: u64 = 12 * 3600;
/// The shortest.
pub const MIN_DURATION: u64 = 900;

/// AWS partitions with a console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    Aws,
    UsGov,
    China,
}

impl Partition {
    /// Every partition with a console, for telling which one a console host is of.
    pub const ALL: [Partition; 3] = [Partition::Aws, Partition::UsGov, Partition::China];

    /// The partition a region belongs to.
    pub fn of_region(region: &str) -> Partition {
        if region.starts_with("us-gov-") {
            Partition::UsGov
        } else if region.starts_with("cn-") {
            Partition::China
        } else {
            Partition::Aws
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::UsGov => "aws-us-gov",
            Partition::China => "aws-cn",
        }
    }
    /// The federation endpoint.
    pub fn federation_url(self) -> &'static str {
        match self {
            Partition::Aws => "https://signin.aws.amazon.com/federation",
            Partition::UsGov => "https://signin.amazonaws-us-gov.com/federation",
            Partition::China => "https://signin.amazonaws.cn/federation",
        }
    }
    /// The console's host; regions and services have consoles on names under it
    /// (`us-east-1.console.aws.amazon.com`).
    pub fn console_host(self) -> &'static str {
        match self {
            Partition::Aws => "console.aws.amazon.com",
            Partition::UsGov => "console.amazonaws-us-gov.com",
            Partition::China => "console.amazonaws.cn",
        }
    }
    /// The console's home page for `region`, the default destination.
    pub fn console_home(self, region: &str) -> String {
        format!("https://{}/console/home?region={}", self.console_host(), encode(region))
    }
}

/// The `Session` parameter of `getSigninToken`: the session's keys as JSON.
fn session_json(creds: &Credentials) -> Option<String> {
    let token = creds.session_token.as_ref()?;
    Some(
        serde_json::json!({
            "sessionId": creds.access_key_id,
            "sessionKey": creds.secret_access_key.expose(),
            "sessionToken": token.expose(),
        })
        .to_string(),
    )
}

/// The `getSigninToken` request URL (secret: it carries the session's keys).
pub fn token_request_url(federation: &str, creds: &Credentials, duration: Option<u64>) -> Option<String> {
    let session = session_json(creds)?;
    let mut url = format!("{federation}?Action=getSigninToken");
    if let Some(d) = duration {
        url.push_str(&format!("&SessionDuration={d}"));
    }
    url.push_str(&format!("&Session={}", encode(&session)));
    Some(url)
}

/// The login URL that signs a browser in (secret: it carries the sign-in token).
pub fn login_url(federation: &str, issuer: &str, destination: &str, signin_token: &str) -> String {
    format!(
        "{federation}?Action=login&Issuer={}&Destination={}&SigninToken={}",
        encode(issuer),
        encode(destination),
        encode(signin_token)
    )
}

/// Asks the federation endpoint for a sign-in token for `creds`.
pub fn signin_token(
    identity: &str,
    federation: &str,
    creds: &Credentials,
    duration: Option<u64>,
) -> Result<crate::secret::Secret, ProviderError> {
    let call = Call { identity, service: "AWS federation endpoint", step: "getSigninToken" };
    let url = token_request_url(federation, creds, duration).ok_or_else(|| ProviderError::Setup {
        identity: identity.to_string(),
        message: "the console needs temporary role credentials, and this identity has long-lived keys".into(),
        hint: "sign in through an identity that assumes a role (aws/assume-role or aws/permission-set), e.g. one with `via: {identity: <this one>}`".into(),
        code: crate::exit::USAGE,
    })?;
    let reply = http::get(&call, &url, &[]).map_err(|e| scrub(e, creds))?;
    if !reply.ok() {
        let hint = match reply.status {
            400 | 401 | 403 => "AWS refused the session: console sign-in needs role credentials (not GetSessionToken's), and role-chained sessions cannot ask for more than 1 h (--duration 1h)".to_string(),
            _ => "try again; if it persists, check https://health.aws.amazon.com".to_string(),
        };
        return Err(call.refused(&reply, hint));
    }
    let token = reply
        .json()
        .and_then(|v| v.get("SigninToken").and_then(|t| t.as_str()).map(str::to_string))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ProviderError::Setup {
            identity: identity.to_string(),
            message: "the federation endpoint answered without a SigninToken".into(),
            hint: format!("check {TFAUTH_AWS_FEDERATION_URL} if it is set"),
            code: crate::exit::UNAVAILABLE,
        })?;
    Ok(crate::secret::Secret::new(token))
}

/// An error message never carries the session's keys, whatever the HTTP library put in it.
fn scrub(e: ProviderError, creds: &Credentials) -> ProviderError {
    let secrets: Vec<String> =
        [Some(creds.secret_access_key.expose()), creds.session_token.as_ref().map(|t| t.expose())]
            .into_iter()
            .flatten()
            .flat_map(|s| [s.to_string(), encode(s)])
            .collect();
    match e {
        ProviderError::CloudUnreachable { identity, service, endpoint, mut message } => {
            for s in &secrets {
                message = message.replace(s, "<redacted>");
            }
            ProviderError::CloudUnreachable { identity, service, endpoint, message }
        }
        other => other,
    }
}

/// Sends the browser to `url` without putting `url` on any command line: starts `opener`
/// on a one-time loopback address that answers one request with a redirect to `url`, then
/// stops listening. Returns whether the browser came within `wait`.
pub fn hand_to_browser(opener: &[String], url: &str, wait: Duration) -> std::io::Result<bool> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let port = listener.local_addr()?.port();
    let nonce = nonce();
    let local = format!("http://127.0.0.1:{port}/{nonce}");
    let argv = crate::cli::tty::opener_argv(opener, &local);
    let Some((program, args)) = argv.split_first() else { return Ok(false) };
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    std::thread::spawn(move || child.wait());
    listener.set_nonblocking(true)?;
    let deadline = std::time::Instant::now() + wait;
    while std::time::Instant::now() < deadline {
        match listener.accept() {
            Ok((mut stream, _)) => {
                stream.set_nonblocking(false)?;
                stream.set_read_timeout(Some(Duration::from_secs(5)))?;
                let mut buf = [0u8; 4096];
                let n = stream.read(&mut buf).unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]);
                let path = request.split_whitespace().nth(1).unwrap_or("");
                if path != format!("/{nonce}") {
                    let _ =
                        stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    continue;
                }
                let head = format!(
                    "HTTP/1.1 302 Found\r\nLocation: {url}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                stream.write_all(head.as_bytes())?;
                return Ok(true);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// 128 random bits, hex.
fn nonce() -> String {
    let mut b = [0u8; 16];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    if random.is_err() {
        // Unique enough for a one-shot loopback path that also needs the port.
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        b[..16].copy_from_slice(&t.as_nanos().to_le_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn creds(token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: Secret::new("s3cr/et+key".to_string()),
            session_token: token.map(|t| Secret::new(t.to_string())),
            expiration: None,
            issued: None,
        }
    }

    #[test]
    fn partitions_and_their_hosts() {
        assert_eq!(Partition::of_region("us-east-2"), Partition::Aws);
        assert_eq!(Partition::of_region("us-gov-west-1"), Partition::UsGov);
        assert_eq!(Partition::of_region("cn-north-1"), Partition::China);
        assert_eq!(Partition::UsGov.federation_url(), "https://signin.amazonaws-us-gov.com/federation");
        assert_eq!(Partition::China.federation_url(), "https://signin.amazonaws.cn/federation");
        assert_eq!(Partition::Aws.federation_url(), "https://signin.aws.amazon.com/federation");
        assert_eq!(
            Partition::China.console_home("cn-north-1"),
            "https://console.amazonaws.cn/console/home?region=cn-north-1"
        );
        assert_eq!(Partition::UsGov.name(), "aws-us-gov");
    }

    #[test]
    fn token_request_carries_the_session_json() {
        let url = token_request_url("https://f/federation", &creds(Some("tok=1")), Some(3600)).unwrap();
        let q = url.split_once('?').unwrap().1;
        assert!(q.starts_with("Action=getSigninToken&SessionDuration=3600&Session="));
        let session = q.split("Session=").nth(1).unwrap();
        assert!(session.starts_with("%7B%22sessionId%22%3A%22ASIAEXAMPLE%22"), "{session}");
        assert!(session.contains("s3cr%2Fet%2Bkey") && session.contains("tok%3D1"));
        assert!(token_request_url("https://f/federation", &creds(None), None).is_none(), "long-lived keys");
    }

    #[test]
    fn login_url_encodes_every_part() {
        let u = login_url("https://f/federation", "tfauth", "https://console.aws.amazon.com/s3/home?region=x", "a+b/c");
        assert_eq!(
            u,
            "https://f/federation?Action=login&Issuer=tfauth&Destination=https%3A%2F%2Fconsole.aws.amazon.com%2Fs3%2Fhome%3Fregion%3Dx&SigninToken=a%2Bb%2Fc"
        );
    }

    #[test]
    fn the_browser_gets_a_redirect_once_and_nothing_on_its_command_line() {
        let t = tempfile::tempdir().unwrap();
        let seen = t.path().join("argv");
        let script = t.path().join("open.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$@\" > {}\nexec python3 -c 'import sys,urllib.request as u\nclass N(u.HTTPRedirectHandler):\n  def redirect_request(s,*a): return None\ntry: u.build_opener(N).open(sys.argv[1])\nexcept Exception as e: open(sys.argv[2],\"w\").write(e.headers[\"Location\"])' \"$1\" {}\n",
                seen.display(),
                t.path().join("location").display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let secret_url = "https://signin.example/federation?Action=login&SigninToken=SECRET";
        let came = hand_to_browser(&[script.display().to_string()], secret_url, Duration::from_secs(20)).unwrap();
        assert!(came);
        let argv = std::fs::read_to_string(&seen).unwrap();
        assert!(argv.starts_with("http://127.0.0.1:") && !argv.contains("SECRET"), "{argv}");
        for _ in 0..100 {
            if t.path().join("location").exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(std::fs::read_to_string(t.path().join("location")).unwrap(), secret_url);
    }
}
