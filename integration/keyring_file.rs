//! Atmos's file keyring, end to end: entries that an independent JOSE implementation
//! (Python's jwcrypto, `py/atmos_file_keyring.py`) writes in 99designs/keyring's shape and
//! Atmos's layout serve an `aws/user` chain against moto; what tfauth stores, jwcrypto
//! decrypts to the Item and envelope Atmos reads; the password asked on a terminal; an
//! earlier tfauth keyring file moved into Atmos's directory; links and open directories
//! refused.

use crate::aws_portal::PortalOpts;
use crate::sso_login::SsoBed;
use crate::support::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const PASSWORD: &str = "correct-horse-battery";
const REALM: &str = "acme-test";
const ENTRY: &str = "atmos_acme-test_ci-user";
const KEY_ID: &str = "AKIAFILEKEYRING00001";
const SECRET: &str = "file-keyring-secret-CANARY-0001";

fn bed() -> SsoBed {
    let extra = "    ci-user:\n      kind: aws/user\n  keyring:\n    type: file\n";
    let mut b =
        SsoBed::new(PortalOpts { approve_after_polls: Some(0), slow_down_polls: 0, ..Default::default() }, extra);
    b.env.push(("ATMOS_AUTH_REALM".into(), REALM.into()));
    b
}

fn keyring_dir(b: &SsoBed) -> PathBuf {
    b.bed.home().join(".local/share/atmos/keyring")
}

fn tfauth(b: &SsoBed, args: &[&str]) -> Out {
    let mut c = b.cmd(TFAUTH);
    c.env("ATMOS_KEYRING_PASSWORD", PASSWORD).args(args);
    run(c)
}

/// `py/atmos_file_keyring.py`, with the password in the environment; its stdout.
fn jwcrypto(args: &[&str], stdin: Option<&str>) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/py/atmos_file_keyring.py");
    let mut c = std::process::Command::new(venv_bin("python"));
    c.arg(script).args(args).env("ATMOS_KEYRING_PASSWORD", PASSWORD);
    let o = match stdin {
        Some(s) => run_with_stdin(c, s),
        None => run(c),
    };
    assert_eq!(o.code, 0, "jwcrypto {args:?}: {}", o.stderr);
    o.stdout
}

fn atmos_envelope(key_id: &str, secret: &str) -> String {
    format!(
        r#"{{"type":"aws","data":{{"access_key_id":"{key_id}","secret_access_key":"{secret}","region":"us-east-1"}}}}"#
    )
}

#[test]
fn file_keyring_entries_jwcrypto_writes_serve_an_aws_user_chain_and_tfauth_s_decrypt_with_it() {
    let b = bed();
    let dir = keyring_dir(&b);
    let o = tfauth(&b, &["auth", "whoami", "-i", "ci-user"]);
    assert_eq!(o.code, 77, "no keys yet: {}", o.stderr);
    assert!(!dir.exists(), "a lookup creates nothing");

    // As `atmos auth user configure` leaves them with `keyring: {type: file}`.
    jwcrypto(&["write", dir.to_str().unwrap(), ENTRY], Some(&atmos_envelope("AKIAATMOSSTORED00001", SECRET)));
    let o = tfauth(&b, &["auth", "whoami", "-i", "ci-user", "-o", "json"]);
    assert_eq!(o.code, 0, "the keys Atmos stored: {}", o.stderr);
    assert_eq!(b.moto.count("GetSessionToken"), 1);
    assert!(!o.stdout.contains(SECRET) && !o.stderr.contains(SECRET));
    // As in Atmos, a plain logout keeps stored keys; `--keychain` removes them (`--force`:
    // there is no terminal to confirm on).
    let o = tfauth(&b, &["auth", "logout", "ci-user"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(dir.join(ENTRY).exists(), "a plain logout keeps the stored keys");
    let o = tfauth(&b, &["auth", "logout", "ci-user", "--keychain", "--force"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!dir.join(ENTRY).exists(), "logout --keychain removed Atmos's entry");

    // Stored by tfauth: Atmos's name, 99designs's Item, Atmos's envelope; jwcrypto opens it.
    let mut c = b.cmd(TFAUTH);
    c.env("ATMOS_KEYRING_PASSWORD", PASSWORD).args(["auth", "user", "configure", "-i", "ci-user"]);
    let o = run_with_stdin(c, &format!("{KEY_ID}\n{SECRET}\n"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains(&format!("file keyring {}", dir.display())), "{}", o.stderr);
    let read: Value = serde_json::from_str(&jwcrypto(&["read", dir.to_str().unwrap(), ENTRY], None)).unwrap();
    let item = &read["item"];
    assert_eq!(item["Key"], ENTRY);
    assert_eq!((item["Label"].as_str(), item["Description"].as_str()), (Some(""), Some("")));
    assert_eq!(item["KeychainNotTrustApplication"], false);
    let data = aws_smithy_types::base64::decode(item["Data"].as_str().unwrap()).unwrap();
    let envelope: Value = serde_json::from_slice(&data).unwrap();
    assert_eq!(
        envelope,
        serde_json::json!({"type": "aws", "data": {"access_key_id": KEY_ID, "secret_access_key": SECRET}})
    );
    let header = &read["header"];
    assert_eq!((header["alg"].as_str(), header["enc"].as_str()), (Some("PBES2-HS256+A128KW"), Some("A256GCM")));
    assert_eq!(header["p2c"], 8192);
    assert!(header["created"].as_str().unwrap().ends_with("+0000 UTC"), "{header}");
    let text = std::fs::read_to_string(dir.join(ENTRY)).unwrap();
    assert!(!text.contains(SECRET) && !text.contains(KEY_ID));
    assert_eq!(std::fs::metadata(dir.join(ENTRY)).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names, [ENTRY], "one file per entry, no temporaries, no lock");
    let o = tfauth(&b, &["auth", "whoami", "-i", "ci-user", "-o", "json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(b.moto.count("GetSessionToken"), 2);

    // doctor: the directory, its one entry, the password checked against it.
    let o = tfauth(&b, &["doctor"]);
    assert!(o.stdout.contains(&format!("Atmos's file keyring {} (1 entry)", dir.display())), "{}", o.stdout);
    assert!(!o.stdout.contains(PASSWORD));
}

#[test]
fn file_keyring_password_env_names_the_variable_and_a_wrong_one_is_77() {
    let b = bed();
    let dir = keyring_dir(&b);
    jwcrypto(&["write", dir.to_str().unwrap(), ENTRY], Some(&atmos_envelope(KEY_ID, SECRET)));
    let mut c = b.cmd(TFAUTH);
    c.env("ATMOS_KEYRING_PASSWORD", "not-the-password").args(["auth", "whoami", "-i", "ci-user"]);
    let o = run(c);
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(o.stderr.contains("wrong password") && o.stderr.contains("ATMOS_KEYRING_PASSWORD"), "{}", o.stderr);
    assert!(o.stderr.contains("\nhint: ") && !o.stderr.contains("not-the-password"), "{}", o.stderr);
    // No password and no terminal (the helper's case too): 77, the variable to set.
    let mut c = b.cmd(TFAUTH);
    c.args(["auth", "whoami", "-i", "ci-user"]);
    let o = run(c);
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(o.stderr.contains("ATMOS_KEYRING_PASSWORD is not set"), "{}", o.stderr);

    // The variable ATMOS_KEYRING_PASSWORD_ENV names wins over ATMOS_KEYRING_PASSWORD.
    let mut c = b.cmd(TFAUTH);
    c.env("ATMOS_KEYRING_PASSWORD_ENV", "TEAM_PW")
        .env("TEAM_PW", PASSWORD)
        .env("ATMOS_KEYRING_PASSWORD", "not-the-password")
        .args(["auth", "whoami", "-i", "ci-user", "-o", "json"]);
    let o = run(c);
    assert_eq!(o.code, 0, "TEAM_PW wins: {}", o.stderr);
    let o = tfauth(&b, &["auth", "logout", "ci-user"]);
    assert_eq!(o.code, 0, "{}", o.stderr);

    // ATMOS_KEYRING_FILE_PATH with an extension: its parent directory, as Atmos reads it.
    let elsewhere = b.bed.dir.path().join("team-ring");
    jwcrypto(&["write", elsewhere.to_str().unwrap(), ENTRY], Some(&atmos_envelope("AKIAELSEWHERE0000001", SECRET)));
    let mut c = b.cmd(TFAUTH);
    c.env("ATMOS_KEYRING_PASSWORD", PASSWORD)
        .env("ATMOS_KEYRING_FILE_PATH", elsewhere.join("keyring.json"))
        .args(["auth", "whoami", "-i", "ci-user", "-o", "json"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(b.moto.count("GetSessionToken"), 2);
}

/// On a terminal without a password in the environment, tfauth asks on /dev/tty, echo off.
#[test]
fn file_keyring_password_is_asked_on_the_terminal() {
    let b = bed();
    let dir = keyring_dir(&b);
    jwcrypto(&["write", dir.to_str().unwrap(), ENTRY], Some(&atmos_envelope(KEY_ID, SECRET)));
    // The answer is typed a moment after the command starts, as a person would.
    let script = format!(
        "(sleep 2; printf '%s\\n' {PASSWORD}) | script -qfec '{TFAUTH} auth whoami -i ci-user -o json' /dev/null"
    );
    let mut c = b.cmd("sh");
    c.env_remove("CI").args(["-c", &script]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stdout.contains(&format!("Password of the file keyring {}", dir.display())), "{}", o.stdout);
    assert!(!o.stdout.contains(PASSWORD), "the password is not echoed: {}", o.stdout);
    assert_eq!(b.moto.count("GetSessionToken"), 1);
}

/// Keys in an earlier tfauth's one-file keyring move into Atmos's directory on first use,
/// keep working, and reach Atmos's name with the next `auth user configure`.
#[test]
fn an_earlier_tfauth_keyring_file_moves_into_atmos_s_directory() {
    use tfauth::keyring::Keyring;
    let b = bed();
    let old = b.bed.home().join(".local/share/tfauth/keyring");
    let legacy = tfauth::keyring::file::FileKeyring::open(
        old.clone(),
        tfauth::keyring::file::Password::new(PASSWORD),
        "ATMOS_KEYRING_PASSWORD".into(),
        tfauth::keyring::file::KdfParams::DEFAULT,
    )
    .unwrap();
    let doc = format!(r#"{{"access_key_id":"{KEY_ID}","secret_access_key":"{SECRET}"}}"#);
    legacy.set(&format!("{REALM}/aws-user/ci-user"), &tfauth::secret::Secret::new(doc)).unwrap();
    let o = tfauth(&b, &["auth", "whoami", "-i", "ci-user", "-o", "json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(b.moto.count("GetSessionToken"), 1);
    assert!(!old.exists(), "the earlier file is gone");
    let dir = keyring_dir(&b);
    let earlier_name = format!("{REALM}/aws-user/ci-user");
    let read: Value = serde_json::from_str(&jwcrypto(&["read", dir.to_str().unwrap(), &earlier_name], None)).unwrap();
    assert_eq!(read["item"]["Key"], earlier_name.as_str(), "moved under its name, readable by jwcrypto");
    let o = tfauth(&b, &["auth", "whoami", "-i", "ci-user", "-o", "json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);

    let mut c = b.cmd(TFAUTH);
    c.env("ATMOS_KEYRING_PASSWORD", PASSWORD).args(["auth", "user", "configure", "-i", "ci-user"]);
    let o = run_with_stdin(c, &format!("{KEY_ID}\n{SECRET}\n"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names, [ENTRY], "now under Atmos's name only");
}

#[test]
fn file_keyring_refuses_a_symlinked_entry_and_a_directory_others_can_write() {
    let b = bed();
    let dir = keyring_dir(&b);
    jwcrypto(&["write", dir.to_str().unwrap(), "atmos_acme-test_other"], Some(&atmos_envelope(KEY_ID, SECRET)));
    // Another entry linked in place of ci-user's: never followed.
    std::os::unix::fs::symlink(dir.join("atmos_acme-test_other"), dir.join(ENTRY)).unwrap();
    let o = tfauth(&b, &["auth", "whoami", "-i", "ci-user"]);
    assert_eq!(o.code, 74, "{}", o.stderr);
    assert!(o.stderr.contains("symbolic link") && o.stderr.contains(ENTRY), "{}", o.stderr);
    assert!(o.stderr.contains("hint: remove the link"), "{}", o.stderr);
    assert_eq!(b.moto.count("GetSessionToken"), 0);

    // The keyring in a directory that other users can write: refused before anything is written.
    let open = b.bed.dir.path().join("shared");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut c = b.cmd(TFAUTH);
    c.env("ATMOS_KEYRING_PASSWORD", PASSWORD).env("ATMOS_KEYRING_FILE_PATH", open.join("ring")).args([
        "auth",
        "user",
        "configure",
        "-i",
        "ci-user",
    ]);
    let o = run_with_stdin(c, &format!("{KEY_ID}\n{SECRET}\n"));
    assert_eq!(o.code, 74, "{}", o.stderr);
    assert!(o.stderr.contains("writable by other users") && o.stderr.contains("chmod go-w"), "{}", o.stderr);
    assert!(!open.join("ring").exists());
}
