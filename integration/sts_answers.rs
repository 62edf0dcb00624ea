//! What STS answers, and what tfauth makes of it: answers that are not usable credentials
//! (a truncated body, an expiration in the past, an empty secret, a session longer than
//! asked for) fail with exit 69 and are neither cached nor printed; cache entries that
//! claim to last forever are refreshed; a failure is remembered under the refresh lock so
//! a storm of helpers makes one call when STS says no (or "slow down"); and a refresh
//! margin at or above the session length still lets the cache work.

use crate::support::*;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const BEARER: &str = "sts-answers-bearer";
const SECRET: &str = "standinSecretAccessKeyCANARY";
const TOKEN: &str = "standinSessionTokenCANARY";

fn github(c: &mut Command, sts: &str, token: &Stub) {
    c.env("ATMOS_PROFILE", "github")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", format!("{}/token?x=1", token.url()))
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER)
        .env("AWS_ENDPOINT_URL_STS", sts);
}

/// `atmos-auth-helper --identity acme/planner` against `sts`.
fn helper(bed: &Bed, sts: &str, token: &Stub) -> Command {
    let mut c = bed.cmd(HELPER);
    github(&mut c, sts, token);
    c.args(["--identity", "acme/planner"]);
    c
}

/// `tfauth auth exec --identity=acme/planner -- echo`: prints only if tfauth let it run.
fn exec(bed: &Bed, sts: &str, token: &Stub) -> Command {
    let mut c = bed.cmd(TFAUTH);
    github(&mut c, sts, token);
    c.args(["auth", "exec", "--identity=acme/planner", "--", "echo", "the command ran"]);
    c
}

fn aws_cache(bed: &Bed) -> PathBuf {
    bed.home().join(".cache/tfauth/aws")
}

/// Session entries (`<key>.json`) in the AWS cache.
fn entries(bed: &Bed) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(aws_cache(bed)) else { return vec![] };
    dir.flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json") && !p.file_name().unwrap().to_string_lossy().starts_with('.')
        })
        .collect()
}

fn utc(t: std::time::SystemTime) -> String {
    let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let dt = time::OffsetDateTime::from_unix_timestamp(secs).unwrap();
    tfauth::session::cache::format_utc(dt)
}

fn in_an_hour() -> String {
    utc(std::time::SystemTime::now() + Duration::from_secs(3600))
}

#[test]
fn unusable_sts_answers_exit_69_and_nothing_is_cached_or_printed() {
    type Answer = fn(&str) -> String;
    let cases: [(&str, Answer, &str); 5] = [
        (
            "a body cut short after <AccessKeyId>ASIA",
            |action| {
                let whole = sts_credentials_xml(action, "ASIASTANDIN123456789", SECRET, TOKEN, &in_an_hour());
                whole[..whole.find("<AccessKeyId>ASIA").unwrap() + "<AccessKeyId>ASIA".len()].to_string()
            },
            "",
        ),
        (
            "an expiration in the past",
            |action| {
                let past = utc(std::time::SystemTime::now() - Duration::from_secs(3600));
                sts_credentials_xml(action, "ASIASTANDIN123456789", SECRET, TOKEN, &past)
            },
            "expired at",
        ),
        (
            "an empty secret",
            |action| sts_credentials_xml(action, "ASIASTANDIN123456789", "", TOKEN, &in_an_hour()),
            "the secret access key is empty",
        ),
        (
            "an empty session token",
            |action| sts_credentials_xml(action, "ASIASTANDIN123456789", SECRET, "", &in_an_hour()),
            "session token",
        ),
        (
            "a session far longer than the hour asked for",
            |action| sts_credentials_xml(action, "ASIASTANDIN123456789", SECRET, TOKEN, "9999-12-31T23:59:59Z"),
            "later than the 3600s asked for",
        ),
    ];
    for (what, answer, problem) in cases {
        let sts = sts_answer_endpoint(answer);
        let token = github_token_endpoint(BEARER);
        for (program, bed) in [("atmos-auth-helper", Bed::new()), ("tfauth", Bed::new())] {
            let cmd =
                if program == "tfauth" { exec(&bed, &sts.url(), &token) } else { helper(&bed, &sts.url(), &token) };
            let o = run(cmd);
            assert_eq!(o.code, 69, "{program}, {what}: exit {}\nstdout: {}\nstderr: {}", o.code, o.stdout, o.stderr);
            assert!(o.stdout.is_empty(), "{program}, {what}: printed {}", o.stdout);
            let named = format!("STS AssumeRoleWithWebIdentity at {}", sts.url());
            assert!(
                o.stderr.contains(&named)
                    && o.stderr.contains("role/acme-gbl-identity-planner")
                    && o.stderr.contains("unusable credentials")
                    && o.stderr.contains(problem)
                    && o.stderr.contains("\nhint: "),
                "{program}, {what}: {}",
                o.stderr
            );
            assert!(!o.stderr.contains(SECRET) && !o.stderr.contains(TOKEN), "{program}, {what}: {}", o.stderr);
            assert!(entries(&bed).is_empty(), "{program}, {what}: cached {:?}", entries(&bed));
        }
    }
}

/// Runs the helper against moto and returns the document it printed.
fn helper_ok(bed: &Bed, moto: &Moto, token: &Stub, key: Option<&str>) -> serde_json::Value {
    let mut c = helper(bed, &moto.url(), token);
    if let Some(k) = key {
        c.args(["--key", k]);
    }
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    serde_json::from_str(&o.stdout).unwrap()
}

/// A change to a cache entry's JSON object.
type Edit = dyn Fn(&mut serde_json::Map<String, serde_json::Value>);

#[test]
fn entries_that_never_expire_or_have_no_expiry_are_refreshed() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let first = helper_ok(&bed, &moto, &token, None);
    let entry = match &entries(&bed)[..] {
        [e] => e.clone(),
        other => panic!("one entry: {other:?}"),
    };
    let key = entry.file_stem().unwrap().to_string_lossy().into_owned();
    let calls = || moto.count("AssumeRoleWithWebIdentity");
    assert_eq!(calls(), 1);
    let plant = |edit: &Edit| {
        let mut doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&entry).unwrap()).unwrap();
        let m = doc.as_object_mut().unwrap();
        m.insert("AccessKeyId".into(), "ASIAPLANTEDFOREVER00".into());
        edit(m);
        std::fs::write(&entry, doc.to_string()).unwrap();
    };
    let cases: [(&str, &Edit); 3] = [
        ("Expiration 9999", &|m| {
            m.insert("Expiration".into(), "9999-12-31T23:59:59Z".into());
        }),
        ("Expiration 9999, no Issued", &|m| {
            m.insert("Expiration".into(), "9999-12-31T23:59:59Z".into());
            m.remove("Issued");
        }),
        ("a session token and no Expiration", &|m| {
            m.remove("Expiration");
        }),
    ];
    let mut n = 1;
    for (what, edit) in cases {
        // The warm path (--key), then the cold path (resolving the chain, as tfauth does).
        for with_key in [true, false] {
            plant(edit);
            let doc = helper_ok(&bed, &moto, &token, with_key.then_some(key.as_str()));
            n += 1;
            assert_ne!(doc["AccessKeyId"], "ASIAPLANTEDFOREVER00", "{what} (--key: {with_key}) was served");
            assert_eq!(calls(), n, "{what} (--key: {with_key}): refreshed from STS");
        }
    }
    // Long-lived keys (no session token) may have no expiration, as before.
    plant(&|m| {
        m.remove("Expiration");
        m.remove("SessionToken");
    });
    let doc = helper_ok(&bed, &moto, &token, Some(&key));
    assert_eq!(doc["AccessKeyId"], "ASIAPLANTEDFOREVER00");
    assert_eq!(calls(), n);
    assert_ne!(first["AccessKeyId"], doc["AccessKeyId"]);
}

/// Starts `n` helpers at once; returns each one's exit code and stderr, and the time the
/// last one took.
fn storm(n: usize, bed: &Bed, sts: &str, token: &Stub) -> (Vec<(i32, String, String)>, Duration) {
    let started = Instant::now();
    let children: Vec<_> = (0..n)
        .map(|_| {
            let mut c = helper(bed, sts, token);
            c.stdout(Stdio::piped()).stderr(Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    let outs = children
        .into_iter()
        .map(|c| {
            let o = c.wait_with_output().unwrap();
            (
                o.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .collect();
    (outs, started.elapsed())
}

#[test]
fn two_hundred_helpers_on_access_denied_make_at_most_two_calls() {
    let bed = Bed::new();
    let token = github_token_endpoint(BEARER);
    let sts = sts_error_endpoint("AccessDenied", 403);
    let (outs, took) = storm(200, &bed, &sts.url(), &token);
    let calls = sts.hits.load(Ordering::SeqCst);
    eprintln!("200 helpers on AccessDenied: {calls} STS calls, {took:?}");
    for (code, stdout, stderr) in &outs {
        assert_eq!(*code, 77, "{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(
            stderr.contains("AccessDenied")
                && stderr.contains("role/acme-gbl-identity-planner")
                && stderr.contains("hint: the caller may not assume"),
            "every helper reports the same error: {stderr}"
        );
    }
    assert!(calls <= 2, "{calls} STS calls for 200 helpers");
    assert!(entries(&bed).is_empty(), "{:?}", entries(&bed));
    // Pointed at a working STS (another context), the next helper asks at once, succeeds,
    // and the record of the failure is gone.
    let moto = Moto::start();
    helper_ok(&bed, &moto, &token, None);
    let failed: Vec<_> = std::fs::read_dir(aws_cache(&bed))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".failed"))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
}

#[test]
fn fifty_helpers_under_throttling_make_few_calls_and_finish_soon() {
    let bed = Bed::new();
    let token = github_token_endpoint(BEARER);
    let sts = sts_error_endpoint("Throttling", 400);
    let (outs, took) = storm(50, &bed, &sts.url(), &token);
    let calls = sts.hits.load(Ordering::SeqCst);
    eprintln!("50 helpers under throttling: {calls} STS calls, {took:?}");
    for (code, stdout, stderr) in &outs {
        assert_eq!(*code, 75, "{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(stderr.contains("Throttling") && stderr.contains("hint: STS is throttling"), "{stderr}");
    }
    assert!(calls <= 5, "{calls} STS calls for 50 helpers (one helper's retries)");
    assert!(took < Duration::from_secs(30), "50 helpers took {took:?}");
}

#[test]
fn a_margin_at_or_above_the_session_length_is_never_silent() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    // One-hour sessions, a one-hour margin: every entry is stale when written, so every
    // helper asks STS (the margin is taken as given), and each says why, once.
    for i in 1..=3 {
        let mut c = helper(&bed, &moto.url(), &token);
        c.env("TFAUTH_REFRESH_MARGIN", "1h");
        let o = run(c);
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_eq!(o.stderr.matches("refresh margin").count(), 1, "run {i} warns once: {}", o.stderr);
        assert!(o.stderr.contains("`acme/planner`") && o.stderr.contains("below the session's length"), "{}", o.stderr);
        assert_eq!(moto.count("AssumeRoleWithWebIdentity"), i);
    }
    // tfauth warns once per run too.
    let mut c = bed.cmd(TFAUTH);
    github(&mut c, &moto.url(), &token);
    c.env("TFAUTH_REFRESH_MARGIN", "2h").args(["auth", "exec", "--identity=acme/planner", "--", "true"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stderr.matches("refresh margin").count(), 1, "{}", o.stderr);
    // Under the session's length: no warning.
    let mut c = helper(&bed, &moto.url(), &token);
    c.env("TFAUTH_REFRESH_MARGIN", "50m");
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.is_empty(), "{}", o.stderr);
}
