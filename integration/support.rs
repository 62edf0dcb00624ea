//! Real servers and clients for the integration suite: moto (STS and S3) started by the
//! tests on free loopback ports, the virtualenv's boto3 / AWS CLI / Terraform 1.0.3, and
//! small loopback stand-ins where no real server exists (GitHub's token endpoint, an STS
//! that answers with chosen errors). Everything listens on 127.0.0.1 only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const TFAUTH: &str = env!("CARGO_BIN_EXE_tfauth");
pub const HELPER: &str = env!("CARGO_BIN_EXE_atmos-auth-helper");

/// The virtualenv made by `integration/setup` (or `$TFAUTH_VENV`).
pub fn venv() -> PathBuf {
    let v = std::env::var_os("TFAUTH_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/.venv"));
    assert!(v.join("bin/moto_server").exists(), "no virtualenv at {}: run integration/setup first", v.display());
    v
}

pub fn venv_bin(name: &str) -> PathBuf {
    venv().join("bin").join(name)
}

/// The venv's Python running `code` (`python -c CODE`), for checks with PyPI's clients.
pub fn python_c(code: &str) -> Command {
    let mut c = Command::new(venv_bin("python"));
    c.args(["-c", code]);
    c
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A moto server on a free port, stopped on drop.
pub struct Moto {
    child: Child,
    pub port: u16,
    /// Its working directory: moto's recorder writes its file there, one per server.
    _dir: tempfile::TempDir,
}

impl Moto {
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    pub fn start_with(env: &[(&str, &str)]) -> Moto {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(venv_bin("moto_server"));
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(dir.path())
            .env("MOTO_ENABLE_RECORDING", "True")
            .env("MOTO_RECORDER_FILEPATH", dir.path().join("recording"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start moto_server");
        assert!(wait_for_port(port, Duration::from_secs(30)), "moto did not start on port {port}");
        Moto { child, port, _dir: dir }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many requests with exactly `Action=<action>` moto has recorded.
    pub fn count(&self, action: &str) -> usize {
        self.requests(action).len()
    }

    /// The form parameters (first value of each) of every request with exactly
    /// `Action=<action>` that moto recorded (its recorder keeps one JSON line per request,
    /// the body base64-encoded).
    pub fn requests(&self, action: &str) -> Vec<serde_json::Value> {
        let script = format!(
            r#"
import base64, json, urllib.error, urllib.parse, urllib.request
out = []
try:
    text = urllib.request.urlopen("{}/moto-api/recorder/download-recording").read().decode()
except urllib.error.HTTPError:
    text = ""  # nothing recorded yet: the recording file does not exist
for line in text.splitlines():
    body = json.loads(line).get("body") or ""
    try:
        body = base64.b64decode(body).decode()
    except Exception:
        pass
    form = urllib.parse.parse_qs(body)
    if form.get("Action") == ["{action}"]:
        out.append({{k: v[0] for k, v in form.items()}})
print(json.dumps(out))
"#,
            self.url()
        );
        let out = Command::new(venv_bin("python")).arg("-c").arg(script).output().unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A one-route HTTP server on loopback, answering each request with `respond`, counting
/// requests, stopped when dropped (it serves until then).
pub struct Stub {
    pub port: u16,
    pub hits: Arc<AtomicUsize>,
    pub requests: Arc<Mutex<Vec<String>>>,
    _server: crate::wire::Server,
}

pub type Respond = dyn Fn(&str, usize) -> (u16, String) + Send + Sync;

impl Stub {
    /// `respond(request_text, hit_number)` returns the status and body.
    pub fn start(respond: Box<Respond>) -> Stub {
        let hits = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (h, r) = (hits.clone(), requests.clone());
        let server = crate::wire::Server::bind().serve(move |mut stream: TcpStream| {
            stream.set_nonblocking(false).ok();
            stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let text = read_request(&mut stream);
            let n = h.fetch_add(1, Ordering::SeqCst) + 1;
            r.lock().unwrap().push(text.clone());
            let (status, body) = respond(&text, n);
            let ctype = if body.starts_with('{') { "application/json" } else { "text/xml" };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        });
        Stub { port: server.port, hits, requests, _server: server }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn read_request(stream: &mut TcpStream) -> String {
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    head + &String::from_utf8_lossy(&body)
}

/// GitHub's OIDC token endpoint: `GET ?audience=` with `Authorization: bearer <token>`
/// answers `{"value": "<JWT>"}`; a wrong bearer gets 401.
pub fn github_token_endpoint(bearer: &'static str) -> Stub {
    Stub::start(Box::new(move |req: &str, _| {
        let authorized = req.lines().any(|l| l.eq_ignore_ascii_case(&format!("authorization: bearer {bearer}")));
        if !req.starts_with("GET ") || !req.lines().next().unwrap_or("").contains("audience=") {
            return (400, "{\"message\":\"bad request\"}".into());
        }
        if !authorized {
            return (401, "{\"message\":\"bad credentials\"}".into());
        }
        // header.payload.signature; moto does not check the signature.
        (200, "{\"value\":\"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmFjbWUvaW5mcmEtbGl2ZTpyZWY6cmVmcy9oZWFkcy9tYWluIn0.c2ln\"}".into())
    }))
}

/// An STS that answers every call with a Query-API error of `code` (status 400/403).
pub fn sts_error_endpoint(code: &'static str, status: u16) -> Stub {
    Stub::start(Box::new(move |_, _| {
        (
            status,
            format!(
                "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>stub says {code}</Message></Error><RequestId>1</RequestId></ErrorResponse>"
            ),
        )
    }))
}

/// A temp dir with HOME, XDG dirs and a copy of `examples/`.
pub struct Bed {
    pub dir: tempfile::TempDir,
}

impl Bed {
    pub fn new() -> Bed {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"), &dir.path().join("repo"));
        std::fs::create_dir_all(dir.path().join("repo/.git")).unwrap();
        Bed { dir }
    }
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    pub fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }
    /// A command with a clean environment: HOME/XDG in the bed, PATH with the venv first.
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", venv().join("bin").display()))
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join(".config"))
            .env("XDG_CACHE_HOME", self.home().join(".cache"))
            .env("CI", "true")
            // Terraform would otherwise ask checkpoint-api.hashicorp.com for a newer version.
            .env("CHECKPOINT_DISABLE", "1")
            .current_dir(self.repo());
        c
    }
    /// Every file and directory under HOME.
    pub fn written(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        walk(&self.home(), &mut out);
        out
    }
}

pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        out.push(p.clone());
        if p.is_dir() {
            walk(&p, out);
        }
    }
}

/// A stand-in terraform: records argv, cwd and env, and the caller identity boto3 gets
/// with that env (and, under `profiles`, with each profile `$STANDIN_PROFILES` names),
/// into `$RECORD` (the last call) and `$RECORD.log` (every call, one JSON
/// per line); the final command exits with `$STANDIN_EXIT` (init and workspace steps 0).
pub fn standin_terraform(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let script = dir.join("terraform");
    let py = venv_bin("python");
    std::fs::write(
        &script,
        format!(
            r#"#!{py}
import json, os, sys
out = {{"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}}
try:
    import boto3
    sts = boto3.client("sts", endpoint_url=os.environ.get("STANDIN_STS"))
    out["arn"] = sts.get_caller_identity()["Arn"]
except Exception as e:
    out["error"] = repr(e)
# Named profiles, as `provider "aws" {{ alias = "spoke", profile = "NAME" }}` would use them.
out["profiles"] = {{}}
for name in filter(None, os.environ.get("STANDIN_PROFILES", "").split(",")):
    try:
        s = boto3.Session(profile_name=name).client("sts", endpoint_url=os.environ.get("STANDIN_STS"))
        out["profiles"][name] = {{"arn": s.get_caller_identity()["Arn"], "region": s.meta.region_name}}
    except Exception as e:
        out["profiles"][name] = {{"error": repr(e)}}
json.dump(out, open(os.environ["RECORD"], "w"))
with open(os.environ["RECORD"] + ".log", "a") as log:
    log.write(json.dumps(out) + "\n")
preliminary = sys.argv[1:2] in (["init"], ["workspace"])
sys.exit(0 if preliminary else int(os.environ.get("STANDIN_EXIT", "0")))
"#,
            py = py.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Like [`run`], with `input` written to the command's stdin.
pub fn run_with_stdin(mut c: Command, input: &str) -> Out {
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("run");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

pub fn run(mut c: Command) -> Out {
    let o = c.output().expect("run");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// The `Action` of a Query-API request (`Action=AssumeRole&...` in the form body).
pub fn query_action(req: &str) -> String {
    let body = req.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    body.split('&').find_map(|kv| kv.strip_prefix("Action=")).unwrap_or("").to_string()
}

/// An STS answer with credentials for `action` (`<{action}Response>`), each field as given.
pub fn sts_credentials_xml(action: &str, key: &str, secret: &str, token: &str, expiration: &str) -> String {
    format!(
        "<{action}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <{action}Result>\n    <Credentials>\n      <AccessKeyId>{key}</AccessKeyId>\n      <SecretAccessKey>{secret}</SecretAccessKey>\n      <SessionToken>{token}</SessionToken>\n      <Expiration>{expiration}</Expiration>\n    </Credentials>\n  </{action}Result>\n  <ResponseMetadata>\n    <RequestId>1</RequestId>\n  </ResponseMetadata>\n</{action}Response>\n"
    )
}

/// An STS that answers every call 200 with `body(action)`: a chosen answer, whole, cut
/// short or wrong (see [`sts_credentials_xml`]).
pub fn sts_answer_endpoint(body: impl Fn(&str) -> String + Send + Sync + 'static) -> Stub {
    Stub::start(Box::new(move |req: &str, _| (200, body(&query_action(req)))))
}

/// Points the examples' S3 backend (`stacks/orgs/acme/_defaults.yaml` under `repo`) at moto
/// on loopback, with what Terraform 1.0.3's backend needs for it; with `role`, the backend
/// also assumes that role from the identity's credentials (which come from the helper
/// through `credential_process`).
pub fn s3_backend_on_moto(repo: &Path, moto: &Moto, role: Option<&str>) {
    let path = repo.join("stacks/orgs/acme/_defaults.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let role = role.map(|r| format!("      role_arn: {r}\n")).unwrap_or_default();
    let extra = format!(
        "      encrypt: true\n{role}      endpoint: {m}\n      sts_endpoint: {m}\n      iam_endpoint: {m}\n      force_path_style: true\n      skip_region_validation: true\n      skip_metadata_api_check: true\n",
        m = moto.url()
    );
    assert!(text.contains("      encrypt: true\n"));
    std::fs::write(&path, text.replace("      encrypt: true\n", &extra)).unwrap();
}

/// The role the examples' backend assumes in the tests that give it one.
pub const STATE_ROLE: &str = "arn:aws:iam::123456789012:role/acme-tfstate";

/// The state bucket `acme-tfstate` in us-east-2 (moto accepts any static keys by default).
pub fn create_state_bucket(moto: &Moto) {
    let py = format!(
        "import boto3; boto3.client('s3', endpoint_url='{}', region_name='us-east-2', aws_access_key_id='x', aws_secret_access_key='y').create_bucket(Bucket='acme-tfstate', CreateBucketConfiguration={{'LocationConstraint': 'us-east-2'}})",
        moto.url()
    );
    let mut c = Command::new(venv_bin("python"));
    c.env_clear().env("PATH", "/usr/bin:/bin").args(["-c", &py]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
}

/// A YAML file (a kubeconfig) as JSON, read by PyYAML, an independent reader.
pub fn yaml_json(path: &Path) -> serde_json::Value {
    let py = format!("import json, yaml; print(json.dumps(yaml.safe_load(open('{}'))))", path.display());
    let o = run(python_c(&py));
    assert_eq!(o.code, 0, "{}", o.stderr);
    serde_json::from_str(&o.stdout).unwrap()
}
