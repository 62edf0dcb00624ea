//! Credentials for what does not read shared config: the loopback container-credentials
//! endpoint (`auth serve`, `auth exec --serve`) used by boto3 and the AWS CLI with only its
//! two variables, and `auth env -f terragrunt` consumed the way terragrunt's
//! `--auth-provider-cmd` consumes it (terragrunt itself is on no registry reachable here).

use super::{BEARER, github_env};
use crate::support::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The role `vpc` in plat-use2-dev runs as (the leaf of its chain).
const VPC_ROLE: &str = "arn:aws:sts::444444444444:assumed-role/acme-plat-dev-network-admin/";

/// A raw GET to the endpoint, with `authorization` if given: (status, body).
fn get(url: &str, authorization: Option<&str>) -> (u16, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = TcpStream::connect(host).unwrap();
    let auth = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    write!(s, "GET /{path} HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    (status, out.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}

#[test]
fn exec_serve_gives_boto3_and_the_aws_cli_the_leaf_role_through_the_endpoint_and_refreshes() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    // One-hour sessions with a margin of 3597s: each is "due" 3 s after it was issued, so a
    // child that keeps asking is handed new keys through the endpoint.
    let child = bed.dir.path().join("child.py");
    std::fs::write(
        &child,
        r#"
import boto3, json, os, subprocess, sys, time, urllib.error, urllib.request
out = {"env": {k: v for k, v in os.environ.items() if k.startswith("AWS_")}}
out["arn"] = boto3.client("sts").get_caller_identity()["Arn"]
cli = subprocess.run([sys.argv[1], "sts", "get-caller-identity", "--output", "json"], capture_output=True, text=True)
out["cli"] = json.loads(cli.stdout)["Arn"] if cli.returncode == 0 else cli.stderr
url = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
try:
    urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": "wrong"}))
    out["wrong"] = 200
except urllib.error.HTTPError as e:
    out["wrong"] = e.code
keys = []
for _ in range(6):
    c = boto3.Session().get_credentials().get_frozen_credentials()
    keys.append(c.access_key)
    time.sleep(1)
out["keys"] = keys
json.dump(out, open(os.environ["RECORD"], "w"))
"#,
    )
    .unwrap();
    let rec = bed.dir.path().join("record.json");
    let mut c = bed.cmd(TFAUTH);
    github_env(&mut c, &moto, &token);
    c.env("TFAUTH_REFRESH_MARGIN", "3597s")
        .env("RECORD", &rec)
        .env("AWS_PROFILE", "someone-elses")
        .args(["auth", "exec", "--serve", "vpc", "-s", "plat-use2-dev", "--"])
        .arg(venv_bin("python"))
        .arg(&child)
        .arg(venv_bin("aws"));
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&rec).unwrap()).unwrap();
    let env = r["env"].as_object().unwrap();
    // Only the two container variables lead to credentials: no profile, empty AWS files.
    assert!(env.get("AWS_PROFILE").is_none(), "{env:?}");
    assert_eq!(env["AWS_CONFIG_FILE"], "/dev/null");
    assert_eq!(env["AWS_SHARED_CREDENTIALS_FILE"], "/dev/null");
    assert!(env.get("AWS_ACCESS_KEY_ID").is_none() && env.get("AWS_SESSION_TOKEN").is_none(), "{env:?}");
    let url = env["AWS_CONTAINER_CREDENTIALS_FULL_URI"].as_str().unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(env["AWS_CONTAINER_AUTHORIZATION_TOKEN"].as_str().unwrap().len(), 64);
    // boto3 and the AWS CLI are the leaf role, through the endpoint.
    assert!(r["arn"].as_str().unwrap().starts_with(VPC_ROLE), "{}", r["arn"]);
    assert!(r["cli"].as_str().unwrap().starts_with(VPC_ROLE), "{}", r["cli"]);
    // A request with the wrong token is refused, and the log says so.
    assert_eq!(r["wrong"], 401);
    assert!(o.stderr.contains("refused 1 request(s) without its token"), "{}", o.stderr);
    // New keys once the margin passed (the endpoint refreshes through the cache).
    let keys: std::collections::BTreeSet<&str> =
        r["keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    assert!(keys.len() >= 2, "the child never got new keys: {keys:?}");
    // The endpoint stopped with the child: its port is closed.
    let host = url.strip_prefix("http://").unwrap().split('/').next().unwrap();
    assert!(TcpStream::connect(host).is_err(), "{host} is still open");
}

#[test]
fn serve_answers_200_concurrent_requests_with_one_assume_role_and_stops_on_sigint() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let mut c = bed.cmd(TFAUTH);
    github_env(&mut c, &moto, &token);
    c.args(["auth", "serve", "vpc", "-s", "plat-use2-dev", "-f", "env"]).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut server = c.spawn().unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let mut vars = std::collections::BTreeMap::new();
    for _ in 0..2 {
        let line = lines.next().expect("the two variables").unwrap();
        let (k, v) = line.split_once('=').unwrap();
        vars.insert(k.to_string(), v.to_string());
    }
    let url = vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"].clone();
    let secret = vars["AWS_CONTAINER_AUTHORIZATION_TOKEN"].clone();
    // The chain's AssumeRole calls, made once to sign in before serving.
    let per_walk = moto.count("AssumeRole");
    assert!(per_walk >= 1, "signed in before serving");

    // A cold cache: 200 requests at once walk the chain once (single flight), and all get
    // the same keys.
    std::fs::remove_dir_all(bed.home().join(".cache/tfauth/aws")).unwrap();
    let answers: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..200).map(|_| s.spawn(|| get(&url, Some(&secret)))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(answers.iter().all(|(status, _)| *status == 200), "{:?}", answers.iter().find(|a| a.0 != 200));
    let docs: Vec<Value> = answers.iter().map(|(_, b)| serde_json::from_str(b).unwrap()).collect();
    let ids: std::collections::BTreeSet<&str> = docs.iter().map(|d| d["AccessKeyId"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(moto.count("AssumeRole"), 2 * per_walk, "one walk for 200 requests");
    let d = &docs[0];
    assert!(d["SecretAccessKey"].is_string() && d["Token"].is_string());
    assert!(d["Expiration"].as_str().unwrap().ends_with('Z'));
    // Without the token: 401, and nothing of the credentials.
    let (status, body) = get(&url, None);
    assert_eq!(status, 401);
    assert!(!body.contains(d["SecretAccessKey"].as_str().unwrap()));

    // SIGINT stops it: exit 0, a summary, the port closed.
    assert_eq!(unsafe_free_kill(server.id(), "INT"), 0);
    let started = Instant::now();
    let status = loop {
        if let Some(s) = server.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the server did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    server.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopped on signal 2: 200 answered, 1 refused without the token"), "{stderr}");
    assert!(!stderr.contains(&secret), "the token is printed only as the variable");
    let host = url.strip_prefix("http://").unwrap().split('/').next().unwrap();
    assert!(TcpStream::connect(host).is_err(), "{host} is still open");
}

/// `kill -SIG pid` (the coreutils command: no unsafe code in the tests).
fn unsafe_free_kill(pid: u32, signal: &str) -> i32 {
    std::process::Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status().unwrap().code().unwrap()
}

#[test]
fn serve_refuses_a_non_loopback_address_and_a_non_aws_identity() {
    let bed = Bed::new();
    let mut c = bed.cmd(TFAUTH);
    c.args(["auth", "serve", "-i", "core-dev/terraform", "--bind", "0.0.0.0"]);
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    github_env(&mut c, &moto, &token);
    let o = run(c);
    assert_eq!(o.code, 64, "{}", o.stderr);
    assert!(o.stderr.contains("binds only loopback addresses, not 0.0.0.0"), "{}", o.stderr);
    assert!(o.stderr.contains("hint: use --bind 127.0.0.1"), "{}", o.stderr);
    assert!(o.stdout.is_empty());
    assert_eq!(moto.count("AssumeRoleWithWebIdentity"), 0, "refused before signing in");
    // A GCP identity has no AWS credentials to serve.
    let mut c = bed.cmd(TFAUTH);
    github_env(&mut c, &moto, &token);
    c.args(["auth", "serve", "analytics", "-s", "plat-use2-dev", "-i", "gcp/analytics"]);
    let o = run(c);
    assert_eq!(o.code, 64, "{}", o.stderr);
    assert!(
        o.stderr.contains("serves AWS credentials, and identity `gcp/analytics` is gcp/service-account"),
        "{}",
        o.stderr
    );
    assert!(o.stdout.is_empty());
}

/// What terragrunt does with `--auth-provider-cmd` (internal externalcmd provider): split
/// the command on whitespace, run it, parse stdout as `{awsCredentials, awsRole, envs}`
/// (string values only: Go's decoder refuses others), set `envs` and the keys as
/// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_SECURITY_TOKEN,
/// then run the unit (here: boto3's GetCallerIdentity).
const TERRAGRUNT: &str = r#"
import json, os, subprocess, sys
cmd = sys.argv[1].split()
out = subprocess.run(cmd, capture_output=True, text=True)
if out.returncode != 0:
    print(json.dumps({"error": out.stderr})); sys.exit(0)
doc = json.loads(out.stdout)
assert set(doc) <= {"awsCredentials", "awsRole", "envs"}, sorted(doc)
envs = doc.get("envs") or {}
assert all(isinstance(k, str) and isinstance(v, str) for k, v in envs.items()), envs
env = dict(os.environ)
env.update(envs)
creds = doc.get("awsCredentials")
if creds is not None:
    assert set(creds) <= {"ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN"}, sorted(creds)
    assert all(isinstance(v, str) for v in creds.values())
    assert creds.get("ACCESS_KEY_ID") and creds.get("SECRET_ACCESS_KEY")
    env.update({"AWS_ACCESS_KEY_ID": creds["ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY": creds["SECRET_ACCESS_KEY"],
                "AWS_SESSION_TOKEN": creds.get("SESSION_TOKEN", ""), "AWS_SECURITY_TOKEN": creds.get("SESSION_TOKEN", "")})
unit = subprocess.run([sys.executable, "-c", "import boto3, json; print(boto3.client('sts').get_caller_identity()['Arn'])"],
                      env=env, capture_output=True, text=True)
print(json.dumps({"doc_keys": sorted(doc), "envs": sorted(envs), "arn": unit.stdout.strip(), "unit_error": unit.stderr}))
"#;

#[test]
fn terragrunt_auth_provider_cmd_json_authenticates_the_unit() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let terragrunt = |auth_cmd: &str| -> Value {
        let mut c = bed.cmd(venv_bin("python"));
        github_env(&mut c, &moto, &token);
        c.args(["-c", TERRAGRUNT, auth_cmd]);
        let o = run(c);
        assert_eq!(o.code, 0, "{}", o.stderr);
        serde_json::from_str(o.stdout.trim()).unwrap_or_else(|_| panic!("{}", o.stdout))
    };
    // An identity (the README's example), signed in on the first call, cached after.
    let r = terragrunt(&format!("{} auth env -f terragrunt -i acme/admin", TFAUTH));
    assert!(r["error"].is_null(), "{}", r["error"]);
    assert_eq!(r["doc_keys"], serde_json::json!(["awsCredentials", "envs"]));
    assert!(
        r["arn"].as_str().unwrap().starts_with("arn:aws:sts::999999999999:assumed-role/acme-gbl-identity-terraform/"),
        "{r}"
    );
    let envs: Vec<&str> = r["envs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(envs.contains(&"AWS_REGION"), "{envs:?}");
    assert!(!envs.contains(&"AWS_PROFILE") && !envs.contains(&"AWS_CONFIG_FILE"), "{envs:?}");
    let calls = moto.count("AssumeRoleWithWebIdentity");
    let again = terragrunt(&format!("{} auth env -f terragrunt -i acme/admin", TFAUTH));
    assert_eq!(again["arn"], r["arn"]);
    assert_eq!(moto.count("AssumeRoleWithWebIdentity"), calls, "the second unit is served from the cache");
    // A component and stack: the component's role.
    let r = terragrunt(&format!("{} auth env -f terragrunt vpc -s plat-use2-dev", TFAUTH));
    assert!(r["arn"].as_str().unwrap().starts_with(VPC_ROLE), "{r}");
}
