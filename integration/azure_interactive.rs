//! `azure/interactive` end to end: the examples' `acme-azure` provider turned into a browser
//! sign-in, against the Microsoft stand-in's `/authorize` and `authorization_code` grant.
//! The browser is a stand-in opener (`xdg-open` on PATH) that records the URL and follows
//! the stand-in's redirect back to tfauth's loopback listener with curl; az's own `Profile`
//! (azure-cli-core) then reads what the sign-in wrote.

use crate::microsoft_standin::{self as ms, Entra, EntraOpts, Tenant};
use crate::support::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const AZ_TENANT: &str = "0b5e6c1d-2a3f-4e5d-8c7b-9a0f1e2d3c4b";
const AZ_SUBSCRIPTION: &str = "6f1c2a4e-3b5d-4c7e-9f80-1a2b3c4d5e6f";
const TARGET: [&str; 5] = ["blobstore", "-s", "plat-use2-dev", "-i", "azure/plat-dev"];

struct IaBed {
    bed: Bed,
    entra: Entra,
    bin: PathBuf,
}

impl IaBed {
    fn new(opts: EntraOpts) -> IaBed {
        let bed = Bed::new();
        let entra = Entra::start(EntraOpts {
            tenants: vec![Tenant::new(AZ_TENANT, &["acme.onmicrosoft.com"])],
            client_ids: vec![],
            ..opts
        });
        let profile = bed.repo().join("profiles/developers/atmos.yaml");
        let text = std::fs::read_to_string(&profile).unwrap();
        assert!(text.contains("kind: azure/device-code"));
        std::fs::write(&profile, text.replace("kind: azure/device-code", "kind: azure/interactive")).unwrap();
        let bin = bed.dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let opener = bin.join("xdg-open");
        let opened = bed.dir.path().join("opened");
        let followed = bed.dir.path().join("followed");
        std::fs::write(
            &opener,
            format!(
                "#!/bin/sh\necho \"$1\" >> {}\ncurl -sS -L --max-redirs 3 \"$1\" >> {} 2>&1\n",
                opened.display(),
                followed.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
        IaBed { bed, entra, bin }
    }

    fn opened(&self) -> Vec<String> {
        std::fs::read_to_string(self.bed.dir.path().join("opened"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn path(&self) -> String {
        format!("{}:{}:/usr/bin:/bin", self.bin.display(), venv().join("bin").display())
    }

    /// `tfauth ARGS` on a terminal (`script`), with the browser opener on PATH; logs at
    /// trace level, so that secrets in them would be seen.
    fn on_terminal(&self, args: &[&str]) -> Out {
        let line = format!(
            "AZURE_AUTHORITY_HOST={} PATH={} ATMOS_LOGS_LEVEL=Trace {TFAUTH} {}",
            self.entra.url(),
            self.path(),
            args.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" ")
        );
        let mut c = self.bed.cmd("script");
        c.env_remove("CI").env_remove("TFAUTH_NO_BROWSER").args(["-qfec", &line, "/dev/null"]);
        run(c)
    }

    /// `tfauth ARGS` without a terminal.
    fn plain(&self, args: &[&str]) -> Out {
        let mut c = self.bed.cmd(TFAUTH);
        c.env("AZURE_AUTHORITY_HOST", self.entra.url())
            .env("PATH", self.path())
            .env("ATMOS_LOGS_LEVEL", "Trace")
            .args(args);
        run(c)
    }
}

fn login_args() -> Vec<&'static str> {
    ["auth", "login"].into_iter().chain(TARGET).collect()
}

fn env_json_args() -> Vec<&'static str> {
    ["auth", "env", "--login", "-f", "json"].into_iter().chain(TARGET).collect()
}

fn no_secret_in(o: &Out, entra: &Entra) {
    let mut secrets: Vec<String> = entra.access_tokens();
    secrets.extend(entra.refresh_tokens());
    for r in entra.requests_for("AuthCodeToken") {
        for k in ["code", "code_verifier"] {
            if let Some((_, v)) = r.form.iter().find(|(n, _)| n == k) {
                secrets.push(v.clone());
            }
        }
    }
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(!o.stdout.contains(s.as_str()) && !o.stderr.contains(s.as_str()), "a secret reached the output");
    }
}

#[test]
fn azure_interactive_signs_in_through_the_browser_and_az_reads_it() {
    let b = IaBed::new(EntraOpts::default());

    // No terminal: exit 77 at once with the login command, no /authorize, no browser.
    let o = b.plain(&env_json_args());
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(o.stderr.contains("(azure/interactive) needs a sign-in, and there is no terminal"), "{}", o.stderr);
    assert!(o.stderr.contains("tfauth auth login -i azure/plat-dev"), "{}", o.stderr);
    assert_eq!(b.entra.count("Authorize"), 0);
    assert!(b.opened().is_empty());

    // On a terminal: the opener gets the authorize URL and follows the redirect back.
    let o = b.on_terminal(&login_args());
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("Sign in to Microsoft Entra ID for `acme-azure`"), "{}", o.stdout);
    assert!(o.stdout.contains("Signed in."), "{}", o.stdout);
    no_secret_in(&o, &b.entra);
    let opened = b.opened();
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert!(opened[0].starts_with(&format!("{}/{AZ_TENANT}/oauth2/v2.0/authorize?", b.entra.url())), "{opened:?}");
    assert_eq!(b.entra.count("Authorize"), 1);
    let auth = &b.entra.requests_for("Authorize")[0];
    let q = |k: &str| auth.query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    assert_eq!(q("client_id"), ms::AZURE_CLI_CLIENT_ID);
    assert_eq!(q("code_challenge_method"), "S256");
    assert!(q("redirect_uri").starts_with("http://localhost:"), "{auth:?}");
    assert_eq!(auth.status, 302);
    let redeem = b.entra.requests_for("AuthCodeToken");
    assert_eq!(redeem.len(), 1);
    assert_eq!(redeem[0].status, 200, "{redeem:?}");
    // The listener is closed: the redirect URI answers no more.
    let port = q("redirect_uri").rsplit(':').next().unwrap().parse::<u16>().unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the listener is still open");

    // The isolated AZURE_CONFIG_DIR, read by azure-cli-core's Profile.
    let o = b.plain(&env_json_args());
    assert_eq!(o.code, 0, "{}", o.stderr);
    let vars: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(vars["ARM_USE_CLI"], "true");
    let dir = Path::new(vars["AZURE_CONFIG_DIR"].as_str().unwrap()).to_path_buf();
    for f in ["azureProfile.json", "msal_token_cache.json", "config"] {
        assert_eq!(std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777, 0o600, "{f}");
    }
    let tls = b.entra.tls();
    let copy = tempfile::tempdir().unwrap();
    let az_dir = copy.path().join("azure");
    std::fs::create_dir(&az_dir).unwrap();
    for f in ["azureProfile.json", "msal_token_cache.json", "config"] {
        std::fs::copy(dir.join(f), az_dir.join(f)).unwrap();
    }
    let az = ms::az_profile(&az_dir, &tls.url(), tls.ca_bundle());
    assert_eq!(az["subscription"]["id"], AZ_SUBSCRIPTION, "{az}");
    assert_eq!(az["subscription"]["tenantId"], AZ_TENANT, "{az}");
    assert_eq!(az["subscription"]["user"]["name"], "jane@acme.onmicrosoft.com", "{az}");
    let t = &az["tokens"]["default"];
    let issued = b.entra.issued_access_token(t["access_token"].as_str().unwrap()).expect("a token Entra issued");
    assert_eq!(issued.client_id, ms::AZURE_CLI_CLIENT_ID);

    // Expired access token: the next runs refresh silently, no browser, no /authorize; five
    // at once refresh once (the same lock as device-code).
    let cache = walk_json(&b.bed.home().join(".cache/tfauth/azure"));
    assert_eq!(cache.len(), 1, "{cache:?}");
    let mut entry: Value = serde_json::from_str(&std::fs::read_to_string(&cache[0]).unwrap()).unwrap();
    entry["expires_on"] = 0.into();
    std::fs::write(&cache[0], serde_json::to_string(&entry).unwrap()).unwrap();
    let refreshes = b.entra.count("RefreshToken");
    let outs: Vec<Out> = std::thread::scope(|sc| {
        let runs: Vec<_> = (0..5).map(|_| sc.spawn(|| b.plain(&env_json_args()))).collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for o in &outs {
        assert_eq!(o.code, 0, "{}", o.stderr);
        no_secret_in(o, &b.entra);
    }
    assert_eq!(b.entra.count("RefreshToken"), refreshes + 1, "one refresh for five runs");
    let o = b.plain(&env_json_args());
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(b.entra.count("RefreshToken"), refreshes + 1, "then served from the cache");
    assert_eq!(b.entra.count("Authorize"), 1, "no second browser sign-in");
    assert_eq!(b.opened().len(), 1);
    no_secret_in(&o, &b.entra);
}

fn walk_json(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect()
}

#[test]
fn azure_interactive_refuses_a_forged_state_and_a_verifier_that_does_not_match() {
    // The redirect comes back with another state: tfauth refuses it and redeems nothing.
    let b = IaBed::new(EntraOpts { redirect_state: Some("forged-state".into()), ..Default::default() });
    let o = b.on_terminal(&login_args());
    assert_eq!(o.code, 77, "{}\n{}", o.stdout, o.stderr);
    let all = format!("{}{}", o.stdout, o.stderr);
    assert!(all.contains("`state` is not the one this sign-in sent"), "{all}");
    assert!(all.contains("hint: run `tfauth auth login -i azure/plat-dev` to try again"), "{all}");
    assert_eq!(b.entra.count("Authorize"), 1);
    assert_eq!(b.entra.count("AuthCodeToken"), 0, "a forged redirect's code is never redeemed");
    assert!(walk_json(&b.bed.home().join(".cache/tfauth/azure")).is_empty(), "nothing cached");

    // The stand-in keeps a challenge tfauth's verifier cannot match: Entra ID refuses.
    let b = IaBed::new(EntraOpts { swap_challenge: Some("A".repeat(43)), ..Default::default() });
    let o = b.on_terminal(&login_args());
    assert_eq!(o.code, 77, "{}\n{}", o.stdout, o.stderr);
    let all = format!("{}{}", o.stdout, o.stderr);
    assert!(all.contains("AADSTS501481"), "{all}");
    let redeem = b.entra.requests_for("AuthCodeToken");
    assert_eq!(redeem.len(), 1);
    assert_eq!((redeem[0].status, redeem[0].error.as_deref()), (400, Some("invalid_grant")));
    no_secret_in(&o, &b.entra);
    assert!(walk_json(&b.bed.home().join(".cache/tfauth/azure")).is_empty(), "nothing cached");
}

#[test]
fn azure_interactive_with_no_browser_shows_the_url_and_the_user_opens_it() {
    let b = IaBed::new(EntraOpts::default());
    let typescript = b.bed.dir.path().join("typescript");
    let line = format!(
        "AZURE_AUTHORITY_HOST={} PATH={} TFAUTH_NO_BROWSER=1 {TFAUTH} {}",
        b.entra.url(),
        b.path(),
        login_args().iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" ")
    );
    let mut c = b.bed.cmd("script");
    c.env_remove("CI").args(["-qfec", &line]).arg(&typescript);
    c.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    // The user: reads the URL off the terminal and opens it in "a browser" (curl).
    let prefix = format!("{}/{AZ_TENANT}/oauth2/v2.0/authorize?", b.entra.url());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let url = loop {
        let seen = std::fs::read_to_string(&typescript).unwrap_or_default();
        if let Some(l) = seen.lines().map(str::trim).find(|l| l.starts_with(&prefix)) {
            break l.to_string();
        }
        assert!(std::time::Instant::now() < deadline, "no URL on the terminal: {seen}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let page = std::process::Command::new("curl").args(["-sS", "-L", "--max-redirs", "3", &url]).output().unwrap();
    assert!(String::from_utf8_lossy(&page.stdout).contains("Signed in."), "{page:?}");
    let status = child.wait().unwrap();
    let shown = std::fs::read_to_string(&typescript).unwrap_or_default();
    assert!(status.success(), "{shown}");
    assert!(shown.contains("Open this URL in a browser on this machine and sign in:"), "{shown}");
    assert!(b.opened().is_empty(), "--no-browser: the opener never ran");
    assert_eq!(b.entra.count("AuthCodeToken"), 1);
}
