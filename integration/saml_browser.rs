//! The `aws/saml` Browser driver with a real browser: Debian's Chromium, headless, started
//! by tfauth over the DevTools protocol against the SAML bed's ADFS sign-in page. The test
//! plays the person at the window: it joins the same browser over DevTools (the port
//! tfauth gave Chromium) and types the user name and password into the page. The
//! assertion STS is sent must be the one the IdP issued, and the page at AWS's endpoint
//! must be the one tfauth answered the paused request with (AWS's host is mapped to a
//! loopback trap, so nothing could leave the machine either way).

use crate::saml_standin::*;
use crate::support::*;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Chromium as CI runs it (TESTBED.md's flags), with AWS's sign-in host sent to `trap`.
fn headless_wrapper(dir: &Path, trap: u16) -> PathBuf {
    let path = dir.join("headless-chromium");
    let script = format!(
        "#!/bin/sh\necho \"$@\" > \"$0.args\"\nexec chromium \"$@\" --headless=new --no-sandbox --disable-gpu --no-first-run \
         --disable-background-networking --disable-component-update --disable-sync \
         '--host-resolver-rules=MAP signin.aws.amazon.com 127.0.0.1:{trap}'\n"
    );
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A listener counting every connection made to it.
fn trap() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    (port, hits)
}

fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn saml_browser_driver_signs_in_in_real_chromium_and_never_posts_to_aws() {
    sign_in_in_chromium(false);
}

/// An IdP that signs in in a window of its own (a popup, as some do for a factor or a
/// "sign in with" button): the post to AWS comes from that window, and is paused there too.
#[test]
fn saml_browser_driver_catches_the_post_from_a_popup_the_idp_opens() {
    sign_in_in_chromium(true);
}

/// The person signs in at the bed's ADFS page in the window tfauth opened; with `popup`,
/// the page first opens the sign-in in a popup (a click, so Chromium allows it), and the
/// person signs in there.
fn sign_in_in_chromium(popup: bool) {
    let moto = Moto::start();
    let idp = SamlIdp::start_with_sts(&moto);
    let bed = Bed::new();
    let (trap_port, hits) = trap();
    let wrapper = headless_wrapper(&bed.home(), trap_port);

    // The trap sees a browser that does post to AWS: this one, told to open the endpoint.
    let scratch = tempfile::tempdir().unwrap();
    let o = Command::new(&wrapper)
        .arg(format!("--user-data-dir={}", scratch.path().display()))
        .args(["--dump-dom", "https://signin.aws.amazon.com/saml"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(o.success() || o.code().is_some());
    assert!(hits.load(Ordering::SeqCst) >= 1, "the trap did not see Chromium reach AWS's host");

    for gone in ["profiles", "stacks"] {
        std::fs::remove_dir_all(bed.repo().join(gone)).unwrap();
    }
    std::fs::write(
        bed.repo().join("atmos.yaml"),
        format!(
            r#"base_path: "."
components: {{terraform: {{base_path: components/terraform}}}}
auth:
  providers:
    corp:
      kind: aws/saml
      driver: Browser
      region: us-east-1
      url: "{url}"
      browser_type: chromium
      browser_executable_path: "{wrapper}"
  identities:
    corp/admin:
      kind: aws/assume-role
      via: {{provider: corp}}
      principal: {{assume_role: "{ADMIN_ROLE}"}}
"#,
            url = idp.adfs_url(&idp.url()),
            wrapper = wrapper.display(),
        ),
    )
    .unwrap();
    let env = |c: &mut Command| {
        c.env("AWS_ENDPOINT_URL_STS", idp.sts_url()).env("ATMOS_KEYRING_TYPE", "memory");
    };

    // `auth login` in a terminal: tfauth starts the browser and waits.
    let mut login = bed.cmd("script");
    env(&mut login);
    login
        .env_remove("CI")
        .args(["-qec", &format!("{TFAUTH} auth login --identity corp/admin"), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = login.spawn().unwrap();
    let keep_stdin_open = child.stdin.take();

    // The person at the window, over the same browser's DevTools.
    let profile = bed.home().join(".cache/tfauth/saml-browser/corp");
    let args = PathBuf::from(format!("{}.args", wrapper.display()));
    // Generous limits: the suite runs tests side by side on two cores, and Chromium under
    // that load takes its time.
    let active = wait_for("Chromium's DevTools port", Duration::from_secs(120), || {
        if let Some(done) = child.try_wait().unwrap() {
            let mut screen = String::new();
            child.stdout.take().unwrap().read_to_string(&mut screen).unwrap();
            panic!("the login ended ({done}) before the browser was up:\n{screen}");
        }
        let text = std::fs::read_to_string(&args).ok()?;
        let port = text.split_whitespace().find_map(|a| a.strip_prefix("--remote-debugging-port="))?.to_string();
        let version =
            Command::new("curl").args(["-fsS", &format!("http://127.0.0.1:{port}/json/version")]).output().ok()?;
        let doc: serde_json::Value = serde_json::from_slice(&version.stdout).ok()?;
        Some(doc["webSocketDebuggerUrl"].as_str()?.to_string())
    });
    // headless_chrome drops a connection that sees no event for its idle timeout (30 s by
    // default): under a loaded CI run the IdP's page took longer, and the next call found the
    // connection closed. The waits below allow 120 s each.
    let person = headless_chrome::Browser::connect_with_timeout(active, Duration::from_secs(300)).unwrap();
    let page = wait_for("the IdP's sign-in page", Duration::from_secs(120), || {
        // A tab created before we connected may never reach the tab list by events (a CI
        // run under load timed out so): ask the browser for its targets each time.
        person.register_missing_tabs();
        let tabs = person.get_tabs().lock().unwrap().clone();
        // Asked of the browser each time, not the tab's cached URL.
        tabs.into_iter().find(|t| t.get_target_info().is_ok_and(|i| i.url.contains("IdpInitiatedSignOn")))
    });
    let page = if popup {
        let opener = page;
        opener
            .evaluate(
                "document.body.insertAdjacentHTML('afterbegin', '<button id=\"popup\" onclick=\"window.open(location.href, \\'signin\\', \\'popup,width=600,height=600\\')\">Sign in</button>'); true",
                false,
            )
            .unwrap();
        opener.wait_for_element("#popup").unwrap().click().unwrap();
        wait_for("the IdP's popup", Duration::from_secs(120), || {
            person.register_missing_tabs(); // as above
            let tabs = person.get_tabs().lock().unwrap().clone();
            tabs.into_iter().find(|t| {
                t.get_target_id() != opener.get_target_id()
                    && t.get_target_info().is_ok_and(|i| i.url.contains("IdpInitiatedSignOn"))
            })
        })
    } else {
        page
    };
    page.wait_for_element("#userNameInput").unwrap().click().unwrap();
    page.type_str("plain@acme.example").unwrap();
    page.wait_for_element("#passwordInput").unwrap().click().unwrap();
    page.type_str(PASSWORD).unwrap();
    page.wait_for_element("#submitButton").unwrap().click().unwrap();

    // What the window shows once the IdP's form has gone to AWS's endpoint (read while
    // the browser is still up: tfauth closes it once it has the assertion).
    let mut done_page = false;
    let status = wait_for("the login to finish", Duration::from_secs(120), || {
        if !done_page && page.get_target_info().is_ok_and(|i| i.url.starts_with("https://signin.aws.amazon.com/saml")) {
            done_page = page.get_content().is_ok_and(|c| c.contains("tfauth has the sign-in"));
        }
        child.try_wait().unwrap()
    });
    drop(keep_stdin_open);
    let mut screen = String::new();
    child.stdout.take().unwrap().read_to_string(&mut screen).unwrap();
    assert_eq!(status.code(), Some(0), "{screen}");
    assert!(screen.contains("in the browser window"), "{screen}");
    assert!(screen.contains("Logged in as `corp/admin`"), "{screen}");

    // The assertion STS got is the one the IdP issued; AWS's host saw nothing.
    let issued = idp.issued();
    assert_eq!(issued.len(), 1, "{issued:?}");
    assert_eq!(issued[0]["front"], "adfs");
    assert_eq!(idp.received(), vec![issued[0]["saml_response"].as_str().unwrap().to_string()]);
    // The page at AWS's endpoint is the one tfauth answered the paused request with: the
    // request never went to a server. (Chromium may still preconnect to the form's host, a
    // TCP or TLS hello that carries no request, so the trap's count after the sign-in
    // proves nothing either way and is not asserted: it answers no TLS, so no request
    // could have been carried over one.) Both are what the browser said while it was up:
    // the tab's cached URL (`get_url`) can still read `about:blank` after tfauth closed
    // the browser before the navigation's event arrived (seen in a clean-clone CI run).
    assert!(done_page, "the window did not show tfauth's page at AWS's endpoint");
    assert!(!screen.contains(issued[0]["saml_response"].as_str().unwrap()));

    // The browser is gone; its profile (the IdP's cookie) stays private for the next sign-in.
    wait_for("the browser to exit", Duration::from_secs(10), || {
        let ps = Command::new("pgrep").args(["-f", profile.to_str().unwrap()]).output().unwrap();
        ps.stdout.is_empty().then_some(())
    });
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&profile).unwrap().permissions().mode() & 0o777, 0o700);

    // Helpers use the session the login cached: no new sign-in, no browser.
    let mut h = bed.cmd(HELPER);
    env(&mut h);
    h.args(["--identity", "corp/admin", "--config"]).arg(bed.repo().join("atmos.yaml")).stdin(Stdio::null());
    let out = run(h);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let creds: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(creds["AccessKeyId"].as_str().is_some());
    assert_eq!(idp.issued().len(), 1);
}

#[test]
fn saml_browser_driver_without_a_terminal_is_77_and_starts_no_browser() {
    let idp = SamlIdp::start_default();
    let bed = Bed::new();
    let marker = bed.home().join("browser-started");
    let fake = bed.home().join("fake-browser");
    std::fs::write(&fake, format!("#!/bin/sh\ntouch {}\n", marker.display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        bed.repo().join("atmos.yaml"),
        format!(
            "auth:\n  providers:\n    corp: {{kind: aws/saml, driver: Browser, region: us-east-1, url: \"{}\", browser_executable_path: \"{}\"}}\n  identities:\n    corp/admin: {{kind: aws/assume-role, via: {{provider: corp}}, principal: {{assume_role: \"{ADMIN_ROLE}\"}}}}\n",
            idp.adfs_url(&idp.url()),
            fake.display()
        ),
    )
    .unwrap();
    let mut h = bed.cmd(HELPER);
    h.args(["--identity", "corp/admin", "--config"]).arg(bed.repo().join("atmos.yaml")).stdin(Stdio::null());
    let o = run(h);
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(o.stderr.contains("needs a sign-in in a browser window, and there is no terminal"), "{}", o.stderr);
    assert!(o.stderr.contains("tfauth auth login --identity corp/admin"), "{}", o.stderr);
    assert!(o.stdout.is_empty());
    assert!(!marker.exists(), "a browser was started with no one to sign in");
}
