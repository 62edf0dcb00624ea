//! The Browser driver: a real Chromium, Chrome or Edge, driven over the DevTools protocol
//! (the `headless_chrome` crate), opens the IdP's URL in a visible window; the person signs
//! in however the IdP asks (passwords, passkeys, security keys, any MFA); the form the IdP
//! then posts to AWS's SAML endpoint is paused inside the browser, its `SAMLResponse`
//! taken, and the request answered by tfauth with a "you can close this window" page.
//! Windows the IdP opens later (popups) are watched the same way once the crate reports
//! them (polled every [`POLL`]).
//!
//! Why it exists: IdPs without an API tfauth speaks (and Okta or ADFS set up with factors
//! the API drivers cannot meet) still end in a browser posting a SAMLResponse to AWS.
//!
//! What it must not do: let the assertion reach AWS's endpoint (the request is fulfilled
//! locally, never continued); log it (it travels only in the DevTools messages, and the
//! crate's `log` records are never installed as a logger); run without a terminal (a
//! person must be there); or keep the browser running after the sign-in. The browser's
//! profile (the IdP's cookies, so the next sign-in may need no password) lives in a
//! private directory of tfauth's cache, removed by `auth logout` of the provider or `--all`.
//!
//! Known limit, also in the README: while the window is open, Chromium's DevTools port
//! listens on 127.0.0.1, as with every DevTools-driven browser (the crate speaks over a
//! WebSocket, not a pipe); on a machine shared with untrusted local users, prefer the Okta
//! or ADFS drivers.

use super::{SamlError, SamlUi};
use crate::auth::SamlBrowser as BrowserChoice;
use crate::env_vars::{self as ev, Env};
use crate::secret::Secret;
use headless_chrome::browser::tab::RequestPausedDecision;
use headless_chrome::protocol::cdp::Fetch::{self, RequestPattern, RequestStage};
use headless_chrome::protocol::cdp::Network;
use headless_chrome::{Browser, LaunchOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// AWS's SAML endpoints (global and regional sign-in, GovCloud, China): a request to any
/// of them is paused and answered here.
pub const AWS_SAML_PATTERNS: [&str; 3] = [
    "https://*signin.aws.amazon.com/saml*",
    "https://signin.amazonaws-us-gov.com/saml*",
    "https://signin.amazonaws.cn/saml*",
];

/// How long the person has to sign in.
const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);
const POLL: Duration = Duration::from_millis(250);
/// Failed checks of the sign-in window in a row (one per [`POLL`]) after which it is taken
/// as closed, when the browser still lists it.
const CLOSED_AFTER: u32 = 8;

/// The executables to look for on `PATH` for a `browser_type`, in order; `Err` names a
/// type tfauth cannot drive ([`BrowserChoice::unsupported_type`]).
pub fn candidates(choice: &BrowserChoice) -> Result<&'static [&'static str], String> {
    const CHROMIUM: &[&str] =
        &["chromium", "chromium-browser", "google-chrome-stable", "google-chrome", "microsoft-edge"];
    const CHROME: &[&str] = &["google-chrome-stable", "google-chrome", "chrome"];
    const CHROME_BETA: &[&str] = &["google-chrome-beta"];
    const CHROME_DEV: &[&str] = &["google-chrome-unstable", "google-chrome-dev"];
    const EDGE: &[&str] = &["microsoft-edge-stable", "microsoft-edge", "msedge"];
    const EDGE_BETA: &[&str] = &["microsoft-edge-beta"];
    const EDGE_DEV: &[&str] = &["microsoft-edge-dev"];
    if let Some(t) = choice.unsupported_type() {
        return Err(t.to_string());
    }
    Ok(match choice.browser_type.as_deref().map(|t| t.trim().to_ascii_lowercase()).as_deref() {
        Some("chrome") => CHROME,
        Some("chrome-beta") => CHROME_BETA,
        Some("chrome-dev") | Some("chrome-canary") => CHROME_DEV,
        Some("msedge") => EDGE,
        Some("msedge-beta") => EDGE_BETA,
        Some("msedge-dev") | Some("msedge-canary") => EDGE_DEV,
        _ => CHROMIUM,
    })
}

/// macOS keeps browsers in application bundles rather than on `PATH`.
const MAC_APPS: &[&str] = &[
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
];

/// The executable to start: the configured path (which must be an executable file), else
/// the first candidate on `PATH`, else (macOS) an application bundle.
pub fn find(choice: &BrowserChoice, env: &Env, provider: &str) -> Result<PathBuf, SamlError> {
    let unusable = |message: String, hint: String| SamlError::Browser { provider: provider.to_string(), message, hint };
    if let Some(path) = &choice.executable {
        return if is_executable(path) {
            Ok(path.clone())
        } else {
            Err(unusable(
                format!("`browser_executable_path` {} is not an executable file", path.display()),
                "point `browser_executable_path` at the browser's binary, or remove it to use the one on PATH".into(),
            ))
        };
    }
    let names = candidates(choice)
        .map_err(|t| SamlError::UnsupportedBrowser { provider: provider.to_string(), browser_type: t })?;
    let dirs: Vec<PathBuf> = env.get(ev::PATH).map(|p| std::env::split_paths(p).collect()).unwrap_or_default();
    for name in names {
        if let Some(hit) = dirs.iter().map(|d| d.join(name)).find(|p| is_executable(p)) {
            return Ok(hit);
        }
    }
    if cfg!(target_os = "macos")
        && let Some(app) = MAC_APPS.iter().map(PathBuf::from).find(|p| is_executable(p))
    {
        return Ok(app);
    }
    Err(unusable(
        format!("no browser to sign in with: none of {} is on PATH", names.join(", ")),
        "install Chromium (Debian: `apt install chromium`), or set `browser_executable_path` to a Chromium, Chrome or Edge binary".into(),
    ))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The `SAMLResponse` field of a form-encoded body.
pub fn saml_response_of(body: &[u8]) -> Option<Secret> {
    body.split(|b| *b == b'&').find_map(|pair| {
        let (name, value) = pair.split_at(pair.iter().position(|b| *b == b'=')?);
        (name == b"SAMLResponse").then(|| {
            let plus: Vec<u8> = value[1..].iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
            Secret::new(percent_encoding::percent_decode(&plus).decode_utf8_lossy().into_owned())
        })
    })
}

/// The page the paused request is answered with, in place of AWS's console.
const DONE_PAGE: &str = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>tfauth: signed in</title></head>\
<body style=\"font-family: sans-serif; margin: 3em\"><h1>Signed in</h1>\
<p>tfauth has the sign-in and carries on in the terminal. You can close this window.</p></body></html>";

/// The `SAMLResponse` the IdP at `url` posts to AWS once the person has signed in.
pub fn assertion(
    provider: &str,
    url: &str,
    choice: &BrowserChoice,
    profile: &Path,
    env: &Env,
    ui: &dyn SamlUi,
) -> Result<Secret, SamlError> {
    let executable = find(choice, env, provider)?;
    let failed = |what: &str, e: &dyn std::fmt::Display| SamlError::Browser {
        provider: provider.to_string(),
        message: format!("{what}: {e}"),
        hint: format!(
            "check that {} starts (it needs a desktop session: DISPLAY or WAYLAND_DISPLAY), or sign in with the Okta or ADFS driver",
            executable.display()
        ),
    };
    tracing::debug!(provider, browser = %executable.display(), profile = %profile.display(), "starting the browser for the IdP sign-in");
    let options = LaunchOptions {
        headless: false,
        path: Some(executable.clone()),
        user_data_dir: Some(profile.to_path_buf()),
        window_size: Some((1000, 800)),
        // The person may take minutes between two events of the page.
        idle_browser_timeout: SIGN_IN_TIMEOUT + Duration::from_secs(30),
        // The crate's default accepts any certificate: the IdP's page takes a password.
        ignore_certificate_errors: false,
        args: vec!["--disable-component-update".as_ref()],
        ..LaunchOptions::default()
    };
    let browser = Browser::new(options).map_err(|e| failed("the browser did not start", &e))?;
    let tab = browser.new_tab().map_err(|e| failed("the browser opened no window", &e))?;
    // One tab in the window: the sign-in's (Chromium starts with a blank one).
    let others: Vec<_> = browser.get_tabs().lock().map(|t| t.clone()).unwrap_or_default();
    for other in others.iter().filter(|t| t.get_target_id() != tab.get_target_id()) {
        let _ = other.close(false);
    }

    let (tx, rx) = mpsc::channel::<Option<Secret>>();
    intercept(&tab, tx.clone()).map_err(|e| failed("the browser refused request interception", &e))?;
    // Windows the IdP opens (a popup for a factor, a new tab) are watched too, once seen.
    let mut watched = std::collections::HashSet::from([tab.get_target_id().clone()]);
    tab.navigate_to(url).map_err(|e| SamlError::Browser {
        provider: provider.to_string(),
        message: format!("the browser could not open {}: {e}", super::web::strip_query(url)),
        hint: "check the provider's `url` (the IdP's AWS app link) and the network".into(),
    })?;

    let started = Instant::now();
    let mut shown = String::new();
    let mut misses = 0;
    let outcome = loop {
        let left = SIGN_IN_TIMEOUT.saturating_sub(started.elapsed());
        let line = format!(
            "Sign in at {} in the browser window ({}:{:02} left)",
            super::web::strip_query(url),
            left.as_secs() / 60,
            left.as_secs() % 60
        );
        if line != shown {
            ui.status(Some(&line));
            shown = line;
        }
        match rx.recv_timeout(POLL) {
            Ok(Some(response)) => break Ok(response),
            Ok(None) => {
                break Err(SamlError::Idp {
                    provider: provider.to_string(),
                    message: "the IdP sent the browser to AWS's SAML endpoint without a SAMLResponse".into(),
                });
            }
            Err(mpsc::RecvTimeoutError::Timeout) if left.is_zero() => {
                break Err(SamlError::Rejected {
                    provider: provider.to_string(),
                    message: format!("no sign-in in the browser within {} minutes", SIGN_IN_TIMEOUT.as_secs() / 60),
                    hint: "run the login again and finish the IdP's sign-in in the window it opens".into(),
                });
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let tabs: Vec<_> = browser.get_tabs().lock().map(|t| t.clone()).unwrap_or_default();
                for new in &tabs {
                    if !watched.insert(new.get_target_id().clone()) {
                        continue;
                    }
                    tracing::debug!(provider, "the IdP opened another window; watching it for the post to AWS too");
                    if let Err(e) = intercept(new, tx.clone()) {
                        tracing::debug!(provider, "cannot watch the IdP's other window: {e}");
                    }
                }
                // Closed only when the browser no longer lists the window, or several checks in
                // a row fail: one slow DevTools answer on a loaded machine is not a closed window.
                let listed = tabs.iter().any(|t| t.get_target_id() == tab.get_target_id());
                misses = if tab.get_target_info().is_err() { misses + 1 } else { 0 };
                if !listed || misses >= CLOSED_AFTER {
                    break Err(SamlError::Rejected {
                        provider: provider.to_string(),
                        message: "the browser window was closed before the sign-in finished".into(),
                        hint: "run the login again and finish the IdP's sign-in in the window it opens".into(),
                    });
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break Err(failed("the browser went away", &"its DevTools connection closed"));
            }
        }
    };
    ui.status(None);
    // Show the window the "signed in" page for a moment, then close the browser (dropping it ends the
    // process; the profile directory stays for the next sign-in).
    if outcome.is_ok() {
        std::thread::sleep(Duration::from_secs(2));
    }
    drop(tab);
    drop(browser);
    outcome
}

/// Pauses `tab`'s requests to AWS's SAML endpoints: a form with a `SAMLResponse` is sent on
/// `tx` and answered with [`DONE_PAGE`]; any other request there fails in the browser (and
/// `None` on `tx` says so). No request to those endpoints is ever continued.
fn intercept(tab: &Arc<headless_chrome::Tab>, tx: mpsc::Sender<Option<Secret>>) -> Result<(), String> {
    let tx = Mutex::new(tx);
    let patterns: Vec<RequestPattern> = AWS_SAML_PATTERNS
        .iter()
        .map(|p| RequestPattern {
            url_pattern: Some((*p).to_string()),
            resource_Type: None,
            request_stage: Some(RequestStage::Request),
        })
        .collect();
    tab.enable_request_interception(Arc::new(move |_transport, _session, event: Fetch::events::RequestPausedEvent| {
        let request = &event.params.request;
        let body = post_body(request);
        let got = body.as_deref().and_then(saml_response_of).filter(|s| !s.expose().is_empty());
        let captured = got.is_some();
        let _ = tx.lock().map(|t| t.send(got));
        if captured {
            RequestPausedDecision::Fulfill(Fetch::FulfillRequest {
                request_id: event.params.request_id.clone(),
                response_code: 200,
                response_headers: Some(vec![Fetch::HeaderEntry {
                    name: "Content-Type".into(),
                    value: "text/html; charset=utf-8".into(),
                }]),
                binary_response_headers: None,
                body: Some(aws_smithy_types::base64::encode(DONE_PAGE)),
                response_phrase: None,
            })
        } else {
            RequestPausedDecision::Fail(Fetch::FailRequest {
                request_id: event.params.request_id.clone(),
                error_reason: Network::ErrorReason::BlockedByClient,
            })
        }
    }))
    .map_err(|e| e.to_string())?;
    tab.enable_fetch(Some(&patterns), None).map_err(|e| e.to_string())?;
    Ok(())
}

/// The request's form body: inline, else from its data entries (base64).
fn post_body(request: &Network::Request) -> Option<Vec<u8>> {
    if let Some(inline) = &request.post_data {
        return Some(inline.clone().into_bytes());
    }
    let entries = request.post_data_entries.as_ref()?;
    let mut out = Vec::new();
    for bytes in entries.iter().filter_map(|e| e.bytes.as_deref()) {
        out.extend(aws_smithy_types::base64::decode(bytes).ok()?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_saml_response_is_taken_from_a_form_body_decoded() {
        let body = b"RelayState=x&SAMLResponse=PHNhbWw%2BYQ%3D%3D+b&other=1";
        assert_eq!(saml_response_of(body).unwrap().expose(), "PHNhbWw+YQ== b");
        assert!(saml_response_of(b"RelayState=x").is_none());
        assert!(saml_response_of(b"SAMLResponsex=1").is_none());
    }

    #[test]
    fn browser_types_map_to_executables_and_firefox_is_refused() {
        let of = |t: Option<&str>| candidates(&BrowserChoice { browser_type: t.map(Into::into), executable: None });
        assert_eq!(of(None).unwrap()[0], "chromium");
        assert_eq!(of(Some("MSEdge")).unwrap()[0], "microsoft-edge-stable");
        assert_eq!(of(Some("chrome")).unwrap()[0], "google-chrome-stable");
        assert_eq!(of(Some("firefox")).unwrap_err(), "firefox");
        assert_eq!(of(Some("webkit")).unwrap_err(), "webkit");
    }

    #[test]
    fn the_browser_is_the_configured_path_else_found_on_path() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("google-chrome");
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let env = Env::from_pairs([(ev::PATH, dir.path().to_str().unwrap())]);
        assert_eq!(find(&BrowserChoice::default(), &env, "p").unwrap(), bin);
        let plain = dir.path().join("not-executable");
        std::fs::write(&plain, "").unwrap();
        let choice = BrowserChoice { browser_type: None, executable: Some(plain.clone()) };
        let e = find(&choice, &env, "p").unwrap_err();
        assert!(e.to_string().contains("is not an executable file"), "{e}");
        let none = Env::from_pairs([(ev::PATH, "/nonexistent")]);
        let e = find(&BrowserChoice::default(), &none, "p").unwrap_err();
        assert!(e.to_string().contains("no browser to sign in with"), "{e}");
        let ff = BrowserChoice { browser_type: Some("firefox".into()), executable: None };
        assert!(matches!(find(&ff, &env, "p"), Err(SamlError::UnsupportedBrowser { .. })));
    }
}
