//! The system keyring against a real Secret Service: a private D-Bus session bus and
//! gnome-keyring-daemon, headless, unlocked with a password on stdin, in a temp HOME.
//!
//! The `keyring` crate reads `DBUS_SESSION_BUS_ADDRESS` from the process environment, so
//! the system keyring is driven in a child: this test executable run again for the one
//! test [`system_keyring_probe`], with `TFAUTH_KEYRING_PROBE` holding the steps as JSON
//! and the bus variables set. The probe prints its results as one JSON line.
//!
//! Needs gnome-keyring, dbus and libsecret-tools (`integration/setup` installs them);
//! without them the tests fail, unless `TFAUTH_SKIP_SECRET_SERVICE=1`.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tfauth::env_vars::Env;
use tfauth::keyring::{self, KeyringSpec, KeyringType};
use tfauth::secret::Secret;

const PROBE: &str = "TFAUTH_KEYRING_PROBE";
const RESULT_MARK: &str = "TFAUTH_KEYRING_PROBE_RESULT ";
const SKIP: &str = "TFAUTH_SKIP_SECRET_SERVICE";
const KEYRING_PASSWORD: &str = "integration-keyring-pw";
/// How long a probe child may run before the test kills it and fails.
const PROBE_DEADLINE: Duration = Duration::from_secs(60);

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// Whether the tools are installed; panics (or, with TFAUTH_SKIP_SECRET_SERVICE=1, says it
/// skipped) when they are not.
fn tools_present(tools: &[&str]) -> bool {
    let Some(missing) = tools.iter().find(|t| !on_path(t)) else { return true };
    if std::env::var(SKIP).is_ok_and(|v| v == "1") {
        eprintln!("skipped: {missing} is not installed and {SKIP}=1");
        return false;
    }
    panic!(
        "{missing} is not installed: run integration/setup (it installs gnome-keyring, dbus and \
         libsecret-tools), or set {SKIP}=1 to skip the Secret Service tests"
    );
}

/// A private session bus with no activatable services (so nothing is started behind the
/// test's back), listening in `dir`. Killed on drop.
struct Bus {
    child: Child,
    address: String,
}

impl Bus {
    fn start(dir: &Path) -> Bus {
        let config = dir.join("session.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                dir.display()
            ),
        )
        .unwrap();
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("dbus-daemon.log")).unwrap())
            .spawn()
            .expect("start dbus-daemon");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let address = line.trim().to_string();
        assert!(address.starts_with("unix:"), "dbus-daemon printed no address: {line:?}");
        Bus { child, address }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// gnome-keyring-daemon's Secret Service on a private bus, its login keyring unlocked,
/// in a temp HOME / XDG_DATA_HOME / XDG_RUNTIME_DIR. Both daemons are killed on drop.
pub(crate) struct SecretService {
    daemon: Child,
    bus: Bus,
    dir: tempfile::TempDir,
}

impl SecretService {
    /// None when the tools are missing and the test is told to skip.
    pub(crate) fn start() -> Option<SecretService> {
        if !tools_present(&["dbus-daemon", "gnome-keyring-daemon", "secret-tool", "dbus-send"]) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        for d in ["home", "data", "runtime"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path().join("runtime"), std::fs::Permissions::from_mode(0o700)).unwrap();
        let bus = Bus::start(dir.path());
        let log = std::fs::File::create(dir.path().join("gnome-keyring.log")).unwrap();
        let mut daemon = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env_clear()
            .envs(env_of(dir.path(), &bus.address))
            .stdin(Stdio::piped())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start gnome-keyring-daemon");
        {
            let mut stdin = daemon.stdin.take().unwrap();
            stdin.write_all(KEYRING_PASSWORD.as_bytes()).unwrap();
        } // EOF: the daemon unlocks (creating) the login keyring with it
        let ss = SecretService { daemon, bus, dir };
        let started = Instant::now();
        while !ss.secrets_owned() {
            if started.elapsed() > Duration::from_secs(15) {
                panic!(
                    "gnome-keyring-daemon never took org.freedesktop.secrets; its log:\n{}",
                    std::fs::read_to_string(ss.dir.path().join("gnome-keyring.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(ss)
    }

    pub(crate) fn env(&self) -> Vec<(String, String)> {
        env_of(self.dir.path(), &self.bus.address)
    }

    fn secrets_owned(&self) -> bool {
        let out = Command::new("dbus-send")
            .args(["--session", "--dest=org.freedesktop.DBus", "--print-reply", "/org/freedesktop/DBus"])
            .args(["org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets"])
            .env_clear()
            .envs(self.env())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("boolean true")
    }

    /// Runs `secret-tool` against this Secret Service: (exit code, stdout).
    pub(crate) fn secret_tool(&self, args: &[&str], stdin: Option<&str>) -> (i32, String) {
        let mut child = Command::new("secret-tool")
            .args(args)
            .env_clear()
            .envs(self.env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        {
            let mut input = child.stdin.take().unwrap();
            input.write_all(stdin.unwrap_or_default().as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

fn env_of(dir: &Path, bus: &str) -> Vec<(String, String)> {
    vec![
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ("HOME".into(), dir.join("home").display().to_string()),
        ("XDG_DATA_HOME".into(), dir.join("data").display().to_string()),
        ("XDG_RUNTIME_DIR".into(), dir.join("runtime").display().to_string()),
        ("DBUS_SESSION_BUS_ADDRESS".into(), bus.to_string()),
    ]
}

/// Runs [`system_keyring_probe`] in a child with `env` and `steps`; returns its results
/// (the first is `open()`'s). Fails the test if the child runs past [`PROBE_DEADLINE`].
fn probe(env: &[(String, String)], steps: Value) -> Vec<Value> {
    let out_dir = tempfile::tempdir().unwrap();
    let (out, err) = (out_dir.path().join("stdout"), out_dir.path().join("stderr"));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "keyring::system_keyring_probe", "--ignored", "--nocapture", "--test-threads=1"])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env(PROBE, steps.to_string())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > PROBE_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the keyring probe hung for {}s", PROBE_DEADLINE.as_secs());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(&out).unwrap();
    let stderr = std::fs::read_to_string(&err).unwrap();
    assert!(status.success(), "the probe failed:\n{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find_map(|l| l.split_once(RESULT_MARK).map(|(_, json)| json))
        .unwrap_or_else(|| panic!("the probe printed no result:\n{stdout}\n{stderr}"));
    serde_json::from_str::<Vec<Value>>(line).unwrap()
}

fn error_json(e: &keyring::KeyringError, ms: Option<u128>) -> Value {
    let debug = format!("{e:?}");
    let variant = debug.split([' ', '{', '(']).next().unwrap_or_default().to_string();
    json!({"err": e.to_string(), "variant": variant, "exit": e.exit_code(), "hint": e.hint(), "ms": ms})
}

/// The child side of [`probe`]: does nothing unless `TFAUTH_KEYRING_PROBE` is set. Ignored,
/// so a plain `cargo test` does not count it as a test that passed; [`probe`] runs it with
/// `--ignored`.
#[test]
#[ignore = "child side of probe(); run by probe() with --ignored"]
fn system_keyring_probe() {
    let Ok(steps) = std::env::var(PROBE) else { return };
    let steps: Vec<Value> = serde_json::from_str(&steps).unwrap();
    let spec = KeyringSpec { kind: KeyringType::System, path: None, password_env: None, span: None };
    let started = Instant::now();
    let opened = keyring::open(&spec, &Env::capture());
    let ms = started.elapsed().as_millis();
    let mut results = vec![match &opened {
        Ok(k) => json!({"ok": k.describe(), "ms": ms}),
        Err(e) => error_json(e, Some(ms)),
    }];
    if let Ok(k) = opened {
        for step in steps {
            let key = step["key"].as_str().unwrap_or_default();
            let result = match step["op"].as_str().unwrap() {
                "get" => k.get(key).map(|v| json!(v.map(|s| s.expose().to_string()))),
                "set" => k.set(key, &Secret::new(step["value"].as_str().unwrap())).map(|()| Value::Null),
                "delete" => k.delete(key).map(|removed| json!(removed)),
                "keys" => k.keys().map(|keys| json!(keys)),
                other => panic!("unknown probe step {other}"),
            };
            results.push(match result {
                Ok(v) => json!({"ok": v}),
                Err(e) => error_json(&e, None),
            });
        }
    }
    println!("{RESULT_MARK}{}", Value::Array(results));
}

#[test]
fn system_keyring_round_trips_through_a_real_secret_service() {
    let Some(ss) = SecretService::start() else { return };
    let key = "acme/sso/3f2a9c";
    let value = r#"{"accessToken":"CANARY-SSO-TOKEN","expiresAt":"2030-01-01T00:00:00Z"}"#;
    let r = probe(
        &ss.env(),
        json!([
            {"op": "get", "key": key},
            {"op": "set", "key": key, "value": "first"},
            {"op": "set", "key": key, "value": value},
            {"op": "get", "key": key},
            {"op": "keys"},
        ]),
    );
    assert_eq!(r[0]["ok"], "Secret Service (org.freedesktop.secrets)", "{r:?}");
    assert_eq!(r[1], json!({"ok": null}), "nothing stored yet");
    assert_eq!(r[2], json!({"ok": null}));
    assert_eq!(r[3], json!({"ok": null}));
    assert_eq!(r[4], json!({"ok": value}), "{r:?}");
    assert_eq!(r[5]["variant"], "Unsupported", "{r:?}");

    // Another Secret Service client sees what tfauth stored, under service/username,
    // replaced rather than duplicated.
    let (code, out) = ss.secret_tool(&["lookup", "service", "tfauth", "username", key], None);
    assert_eq!((code, out.as_str()), (0, value));
    let (_, search) = ss.secret_tool(&["search", "--all", "service", "tfauth", "username", key], None);
    assert_eq!(search.lines().filter(|l| l.starts_with("[/")).count(), 1, "one item: {search}");

    // What another client stored under the same attributes, tfauth reads.
    let other = "acme/aws-user/ci-user";
    let (code, _) = ss.secret_tool(
        &["store", "--label", "ci-user", "service", "tfauth", "username", other, "target", "default"],
        Some("from-secret-tool"),
    );
    assert_eq!(code, 0);
    let r = probe(
        &ss.env(),
        json!([
            {"op": "get", "key": other},
            {"op": "delete", "key": key},
            {"op": "delete", "key": key},
            {"op": "get", "key": key},
        ]),
    );
    assert_eq!(r[1], json!({"ok": "from-secret-tool"}), "{r:?}");
    assert_eq!(r[2], json!({"ok": true}), "{r:?}");
    assert_eq!(r[3], json!({"ok": false}), "a second delete removes nothing");
    assert_eq!(r[4], json!({"ok": null}));
    let (code, out) = ss.secret_tool(&["lookup", "service", "tfauth", "username", key], None);
    assert!(code != 0 && out.is_empty(), "deleted, yet secret-tool found {out:?}");
}

#[test]
fn system_keyring_without_a_bus_is_unavailable_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = env_of(dir.path(), "unix:path=/nonexistent");
    env.retain(|(k, _)| k != "XDG_RUNTIME_DIR");
    let started = Instant::now();
    let r = probe(&env, json!([{"op": "get", "key": "acme/sso/x"}]));
    eprintln!("open() gave up after {} ms ({} ms with the child)", r[0]["ms"], started.elapsed().as_millis());
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["variant"], "SystemUnavailable", "{r:?}");
    assert_eq!(r[0]["exit"], 69);
    let msg = r[0]["err"].as_str().unwrap();
    assert!(msg.starts_with("the system keyring is not available") && msg.contains("/nonexistent"), "{msg}");
    let hint = r[0]["hint"].as_str().unwrap();
    assert!(hint.contains("gnome-keyring") && hint.contains("ATMOS_KEYRING_PASSWORD"), "{hint}");
}

#[test]
fn system_keyring_on_a_bus_without_a_secret_service_is_unavailable() {
    if !tools_present(&["dbus-daemon"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bus = Bus::start(dir.path());
    let r = probe(&env_of(dir.path(), &bus.address), json!([]));
    assert_eq!(r[0]["variant"], "SystemUnavailable", "{r:?}");
    assert!(r[0]["err"].as_str().unwrap().contains(&bus.address), "{r:?}");
}

#[test]
fn system_keyring_behind_a_bus_that_never_answers_gives_up_within_the_probe_timeout() {
    let dir = tempfile::tempdir().unwrap();
    // Accepts connections (the kernel queues them) and never says a word.
    let socket = dir.path().join("silent");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let r = probe(&env_of(dir.path(), &format!("unix:path={}", socket.display())), json!([]));
    assert_eq!(r[0]["variant"], "SystemUnavailable", "{r:?}");
    assert!(r[0]["err"].as_str().unwrap().contains("did not answer within 5s"), "{r:?}");
    let ms = r[0]["ms"].as_u64().unwrap();
    assert!((4_000..20_000).contains(&ms), "open() took {ms} ms");
}
