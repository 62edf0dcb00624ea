//! The keyring as tfauth uses it: `aws/user` keys in Atmos's encrypted file keyring (more
//! of it in `keyring_file.rs`) and in a
//! real Secret Service (gnome-keyring on a private bus), the wrong password, a tampered
//! file, no Secret Service on the bus, and logout removing the entries. IAM Identity
//! Center tokens stay in the 0600 cache file whatever the keyring, as Atmos keeps them.

use crate::aws_portal::PortalOpts;
use crate::keyring::SecretService;
use crate::sso_login::SsoBed;
use crate::support::*;
use std::os::unix::fs::PermissionsExt;

const PASSWORD: &str = "correct-horse-battery";
const KEY_ID: &str = "AKIAKEYRINGTEST0001";
const SECRET: &str = "keyring-secret-CANARY-0001";

fn bed(keyring: &str) -> SsoBed {
    let extra = format!("    ci-user:\n      kind: aws/user\n  keyring:\n    type: {keyring}\n");
    SsoBed::new(PortalOpts { approve_after_polls: Some(0), slow_down_polls: 0, ..Default::default() }, &extra)
}

fn tfauth(b: &SsoBed, args: &[&str]) -> Out {
    let mut c = b.cmd(TFAUTH);
    c.args(args);
    run(c)
}

/// `auth user configure -i ci-user` with the keys piped on stdin.
fn configure_user(b: &SsoBed) -> Out {
    let mut c = b.cmd(TFAUTH);
    c.args(["auth", "user", "configure", "-i", "ci-user"]);
    run_with_stdin(c, &format!("{KEY_ID}\n{SECRET}\n"))
}

#[test]
fn keyring_file_holds_user_keys_encrypted_and_the_sso_token_stays_in_its_cache_file() {
    let mut b = bed("file");
    b.env.push(("ATMOS_KEYRING_PASSWORD".into(), PASSWORD.into()));
    b.env.push(("ATMOS_AUTH_REALM".into(), "acme-test".into()));
    b.login();
    let token_file = b.token_file().expect("the token is in the cache file, as Atmos keeps it");
    assert_eq!(std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777, 0o600);
    let dir = b.bed.home().join(".local/share/atmos/keyring");
    let file = dir.join("atmos_acme-test_ci-user");
    assert!(!dir.exists(), "a login writes nothing to the keyring");

    // Credentials through the token, without a new login, and without the keyring's
    // password: a helper for an SSO identity never opens the keyring.
    let mut c = b.helper("dev/admin");
    c.env_remove("ATMOS_KEYRING_PASSWORD");
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(b.portal.count("StartDeviceAuthorization"), 1);

    // aws/user keys stored from stdin, used for GetSessionToken, never shown.
    let o = configure_user(&b);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("AKIA...0001") && !o.stderr.contains(SECRET), "{}", o.stderr);
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(std::fs::metadata(&file).map(|m| m.permissions().mode() & 0o777).ok(), Some(0o600), "{names:?}");
    // A wrong password: exit 77 naming the variable and the keyring, nothing printed on stdout.
    let mut c = b.cmd(TFAUTH);
    c.env("ATMOS_KEYRING_PASSWORD", "wrong-password-here").args(["auth", "whoami", "-i", "ci-user"]);
    let o = run(c);
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(o.stdout.is_empty());
    assert!(
        o.stderr.contains("ATMOS_KEYRING_PASSWORD") && o.stderr.contains(&dir.display().to_string()),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("wrong-password-here"));
    // One flipped byte: exit 65, the entry's file named, never a panic.
    let saved = std::fs::read(&file).unwrap();
    let mut bytes = saved.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    let o = tfauth(&b, &["auth", "whoami", "-i", "ci-user"]);
    assert_eq!(o.code, 65, "{}", o.stderr);
    assert!(o.stderr.contains(&file.display().to_string()), "{}", o.stderr);
    assert!(!o.stderr.contains("panicked"));
    std::fs::write(&file, &saved).unwrap();

    let o = tfauth(&b, &["auth", "whoami", "-i", "ci-user", "-o", "json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(b.moto.count("GetSessionToken"), 1);
    let bytes = std::fs::read(&file).unwrap();
    assert!(!bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));

    // A logout keeps the stored key, as Atmos's does; with --keychain (--force: no terminal
    // to say yes on) it goes, and the identity has no keys any more.
    let o = tfauth(&b, &["auth", "logout", "ci-user"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stderr.contains("removed the stored access key"), "{}", o.stderr);
    assert!(o.stderr.contains("--keychain deletes them too"), "{}", o.stderr);
    let o = tfauth(&b, &["auth", "whoami", "-i", "ci-user", "-o", "json"]);
    assert_eq!(o.code, 0, "the key is still there: {}", o.stderr);
    let o = tfauth(&b, &["auth", "logout", "ci-user", "--keychain", "--force"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("stored access key of `ci-user`"), "{}", o.stderr);
    let o = tfauth(&b, &["auth", "whoami", "-i", "ci-user"]);
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(o.stderr.contains("has no access key"), "{}", o.stderr);
    assert!(!file.exists());
}

#[test]
fn keyring_system_against_a_real_secret_service_and_its_fallback() {
    let Some(ss) = SecretService::start() else { return };
    let mut b = bed("system");
    let bus = ss.env().into_iter().find(|(k, _)| k == "DBUS_SESSION_BUS_ADDRESS").unwrap();
    b.env.push(bus.clone());

    b.env.push(("ATMOS_AUTH_REALM".into(), "acme-test".into()));

    // Keys `atmos auth user configure` stored (go-keyring: service = Atmos's key, account
    // atmos-auth, Atmos's credential envelope) serve an aws/user chain against moto.
    let atmos_doc = format!(
        r#"{{"type":"aws","data":{{"access_key_id":"AKIAATMOSSTORED0001","secret_access_key":"{SECRET}","region":"us-east-1"}}}}"#
    );
    let o = tfauth(&b, &["auth", "whoami", "-i", "ci-user"]);
    assert_eq!(o.code, 77, "no keys anywhere yet: {}", o.stderr);
    let (code, _) = ss.secret_tool(
        &[
            "store",
            "--label=Password for 'atmos-auth' on 'atmos_acme-test_ci-user'",
            "service",
            "atmos_acme-test_ci-user",
            "username",
            "atmos-auth",
        ],
        Some(&atmos_doc),
    );
    assert_eq!(code, 0);
    let o = tfauth(&b, &["auth", "whoami", "-i", "ci-user", "-o", "json"]);
    assert_eq!(o.code, 0, "the keys Atmos stored: {}", o.stderr);
    assert_eq!(b.moto.count("GetSessionToken"), 1);
    let o = tfauth(&b, &["auth", "logout", "ci-user", "--keychain", "--force"]);
    assert_eq!(o.code, 0, "{}", o.stderr);

    // Stored by tfauth: under Atmos's name and in its shape, for Atmos to find.
    let o = configure_user(&b);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("Secret Service"), "{}", o.stderr);
    let (_, stored) = ss.secret_tool(&["lookup", "service", "atmos_acme-test_ci-user", "username", "atmos-auth"], None);
    let stored: serde_json::Value = serde_json::from_str(stored.trim()).expect("Atmos's envelope");
    assert_eq!(stored["type"], "aws");
    assert_eq!(stored["data"]["access_key_id"], KEY_ID);
    let o = tfauth(&b, &["auth", "whoami", "-i", "ci-user", "-o", "json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);

    b.login();
    assert!(b.token_file().is_some(), "the SSO token is in the cache file, as Atmos keeps it");
    let (_, found) = ss.secret_tool(&["search", "--all", "service", "tfauth"], None);
    assert!(!found.contains("sso/"), "{found}");
    assert_eq!(run(b.helper("dev/admin")).code, 0);

    let o = tfauth(&b, &["auth", "logout", "--all", "--keychain", "--force"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let (_, found) = ss.secret_tool(&["search", "--all", "service", "tfauth"], None);
    assert!(
        !found.contains("aws-user/") && !found.contains("sso/"),
        "logout --all --keychain emptied the keyring: {found}"
    );
    let (_, found) = ss.secret_tool(&["search", "--all", "username", "atmos-auth"], None);
    assert!(!found.contains("atmos_acme-test_ci-user"), "and Atmos's entry: {found}");

    // No Secret Service on the bus: a login does not need one.
    b.env.retain(|(k, _)| k != "DBUS_SESSION_BUS_ADDRESS");
    b.env.push(("DBUS_SESSION_BUS_ADDRESS".into(), "unix:path=/nonexistent/bus".into()));
    let o = b.login();
    assert!(!o.stdout.contains("system keyring"), "{}", o.stdout);
    assert!(b.token_file().is_some());
    // Storing long-lived keys never falls back to a plain file.
    let o = configure_user(&b);
    assert_eq!(o.code, 69, "{}", o.stderr);
}
