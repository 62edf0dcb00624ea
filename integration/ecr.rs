//! ECR integrations against moto: `auth ecr-login` gets a token with the `via` identity's
//! session (GitHub OIDC → AssumeRoleWithWebIdentity in moto) and writes a Docker config
//! whose login is the one boto3 gets from the same server; `auth login` runs the
//! integration and only warns when it fails; `auth exec` points DOCKER_CONFIG at the
//! isolated config.

use super::{BEARER, github_env};
use crate::support::*;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const HOST: &str = "123456789012.dkr.ecr.us-east-2.amazonaws.com";
const REALM: &str = "ecr-test";

/// The github profile of the bed gains `dev/ecr`, via acme/planner.
fn with_integration(bed: &Bed) {
    std::fs::write(
        bed.repo().join("profiles/github/zz-ecr.yaml"),
        "auth:\n  integrations:\n    dev/ecr:\n      kind: aws/ecr\n      via:\n        identity: acme/planner\n      spec:\n        registry:\n          account_id: \"123456789012\"\n          region: us-east-2\n",
    )
    .unwrap();
}

/// tfauth with the GitHub environment, STS and ECR in moto (ECR at `ecr`), a fixed realm.
fn tfauth(bed: &Bed, moto: &Moto, token: &Stub, ecr: &str, args: &[&str]) -> Out {
    let mut c = bed.cmd(TFAUTH);
    github_env(&mut c, moto, token);
    c.env("AWS_ENDPOINT_URL_ECR", ecr).env("ATMOS_AUTH_REALM", REALM).args(args);
    run(c)
}

fn isolated_dir(bed: &Bed) -> PathBuf {
    bed.home().join(".config/atmos").join(REALM).join("docker")
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// `auths[HOST].auth` of a Docker config, decoded.
fn login_in(file: &Path) -> String {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let auth = doc["auths"][HOST]["auth"].as_str().unwrap_or_else(|| panic!("no login for {HOST}: {doc}"));
    decode(auth)
}

fn decode(b64: &str) -> String {
    let py = format!("import base64; print(base64.b64decode('{b64}').decode(), end='')");
    let o = run({
        let mut c = std::process::Command::new(venv_bin("python"));
        c.args(["-c", &py]);
        c
    });
    assert_eq!(o.code, 0, "{}", o.stderr);
    o.stdout
}

/// What boto3 gets from the same moto for the registry: (`user:password`, proxyEndpoint).
fn boto3_login(moto: &Moto) -> (String, String) {
    let py = format!(
        "import base64, boto3\nd = boto3.client('ecr', endpoint_url='{}', region_name='us-east-2', aws_access_key_id='x', aws_secret_access_key='y').get_authorization_token(registryIds=['123456789012'])['authorizationData'][0]\nprint(base64.b64decode(d['authorizationToken']).decode())\nprint(d['proxyEndpoint'])",
        moto.url()
    );
    let o = run({
        let mut c = std::process::Command::new(venv_bin("python"));
        c.args(["-c", &py]);
        c
    });
    assert_eq!(o.code, 0, "{}", o.stderr);
    let mut lines = o.stdout.lines();
    (lines.next().unwrap().to_string(), lines.next().unwrap().to_string())
}

/// The GetAuthorizationToken calls tfauth made (moto's recording without boto3's, which
/// signs with the key `x`): the access key and region of each signature, and the body.
fn ecr_calls(moto: &Moto) -> Vec<Value> {
    let py = format!(
        r#"
import base64, json, urllib.request
out = []
text = urllib.request.urlopen("{}/moto-api/recorder/download-recording").read().decode()
for line in text.splitlines():
    r = json.loads(line)
    h = r.get("headers") or {{}}
    if not h.get("X-Amz-Target", "").endswith(".GetAuthorizationToken"):
        continue
    scope = h["Authorization"].split("Credential=")[1].split(",")[0].split("/")
    if scope[0] == "x":
        continue
    body = base64.b64decode(r["body"]).decode() if r.get("body_encoded") else r.get("body")
    out.append({{"key": scope[0], "region": scope[2], "service": scope[3], "body": json.loads(body)}})
print(json.dumps(out))
"#,
        moto.url()
    );
    let o = std::process::Command::new(venv_bin("python")).arg("-c").arg(py).output().unwrap();
    serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&o.stderr)))
}

#[test]
fn ecr_login_writes_the_isolated_docker_config_with_the_login_ecr_gives() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    with_integration(&bed);
    let o = tfauth(&bed, &moto, &token, &moto.url(), &["auth", "ecr-login", "DEV/ECR"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.is_empty(), "stdout: {}", o.stdout);
    assert!(
        o.stderr.starts_with(&format!("logged in to {HOST} (expires "))
            && o.stderr.ends_with(" UTC) via acme/planner\n"),
        "{}",
        o.stderr
    );

    let dir = isolated_dir(&bed);
    let file = dir.join("config.json");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&file), 0o600);
    let (want, proxy) = boto3_login(&moto);
    assert_eq!(proxy, format!("https://{HOST}"));
    let got = login_in(&file);
    assert!(got.starts_with("AWS:") && got.len() > 4, "{got}");
    assert_eq!(got, want, "the same login boto3 gets for the registry");
    let password = got.strip_prefix("AWS:").unwrap();
    let auth = std::fs::read_to_string(&file).unwrap();
    for secret in [password, auth.split("\"auth\": \"").nth(1).unwrap().split('"').next().unwrap()] {
        assert!(!o.stderr.contains(secret), "a secret reached stderr: {}", o.stderr);
    }

    // Signed with the identity's session (from AssumeRoleWithWebIdentity), in the registry's region.
    let calls = ecr_calls(&moto);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["body"], json!({"registryIds": ["123456789012"]}));
    assert_eq!((calls[0]["region"].as_str(), calls[0]["service"].as_str()), (Some("us-east-2"), Some("ecr")));
    assert!(calls[0]["key"].as_str().unwrap().starts_with("ASIA"), "{calls:?}");

    // Again: the session comes from the cache, and the file is replaced whole.
    let o = tfauth(&bed, &moto, &token, &moto.url(), &["auth", "ecr-login", "--identity", "acme/planner"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(moto.count("AssumeRoleWithWebIdentity"), 1, "the second login reused the cached session");
    assert_eq!(ecr_calls(&moto).len(), 2);
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers, ["config.json"], "no temp files left");

    // Logging the identity out removes the registry password from the isolated config.
    let o = tfauth(&bed, &moto, &token, &moto.url(), &["auth", "logout", "acme/planner"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains(&format!("removed the Docker login for {HOST} in {}", file.display())), "{}", o.stderr);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(doc["auths"].get(HOST).is_none(), "{doc}");
    assert_eq!(mode(&file), 0o600);
}

#[test]
fn docker_config_flag_merges_into_an_existing_config() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    with_integration(&bed);
    let mine = bed.home().join(".docker");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::set_permissions(&mine, std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = json!({
        "auths": {"ghcr.io": {"auth": "b2N0b2NhdDp0b2s="}, "https://index.docker.io/v1/": {}},
        "credHelpers": {"gcr.io": "gcloud", HOST: "ecr-login"},
        "psFormat": "table {{.ID}}",
        "currentContext": "colima",
        "plugins": {"buildx": {"default": "true"}}
    });
    std::fs::write(mine.join("config.json"), serde_json::to_string_pretty(&before).unwrap()).unwrap();
    std::fs::set_permissions(mine.join("config.json"), std::fs::Permissions::from_mode(0o644)).unwrap();

    let o = tfauth(&bed, &moto, &token, &moto.url(), &["auth", "ecr-login", "--docker-config", "../home/.docker"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.is_empty());
    assert!(
        o.stderr.contains(&format!("removed `credHelpers.\"{HOST}\"` (docker-credential-ecr-login)")),
        "{}",
        o.stderr
    );
    let file = mine.join("config.json");
    assert_eq!(mode(&file), 0o600, "a 0644 file holding a login is narrowed");
    assert_eq!(mode(&mine), 0o755, "the user's directory is left as it is");
    let after: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let mut expected = before.clone();
    expected["auths"][HOST] = after["auths"][HOST].clone();
    expected["credHelpers"].as_object_mut().unwrap().remove(HOST);
    assert_eq!(after, expected, "everything else kept");
    assert_eq!(login_in(&file), boto3_login(&moto).0);
    assert!(!isolated_dir(&bed).exists(), "nothing written to the isolated config");

    // A path ending in .json is the file itself.
    let ci = bed.dir.path().join("ci-docker.json");
    let ci_path = ci.display().to_string();
    let o = tfauth(&bed, &moto, &token, &moto.url(), &["auth", "ecr-login", "dev/ecr", "--docker-config", &ci_path]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(mode(&ci), 0o600);
    assert_eq!(login_in(&ci), boto3_login(&moto).0);
}

#[test]
fn login_runs_the_integration_and_a_broken_one_only_warns() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    with_integration(&bed);
    let o = tfauth(&bed, &moto, &token, &moto.url(), &["auth", "login", "-i", "acme/planner"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("Logged in as `acme/planner`"), "{}", o.stderr);
    assert!(o.stderr.contains(&format!("logged in to {HOST} (expires ")), "{}", o.stderr);
    assert_eq!(login_in(&isolated_dir(&bed).join("config.json")), boto3_login(&moto).0);
    // Another identity's login does not run it.
    let o = tfauth(&bed, &moto, &token, &moto.url(), &["auth", "login", "-i", "acme/admin"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stderr.contains("logged in to"), "{}", o.stderr);
    assert_eq!(ecr_calls(&moto).len(), 1);

    // ECR unreachable: the login still succeeds, with a warning and the retry command.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let o = tfauth(&bed, &moto, &token, &closed, &["auth", "login", "-i", "acme/planner"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.is_empty());
    assert!(o.stderr.contains("Logged in as `acme/planner`"), "{}", o.stderr);
    assert!(
        o.stderr.contains("warning: integration `dev/ecr` failed: cannot reach ECR at http://127.0.0.1:")
            && o.stderr.contains("hint: retry with `tfauth auth ecr-login dev/ecr`"),
        "{}",
        o.stderr
    );
    // ecr-login itself fails, with its exit code and a hint.
    let o = tfauth(&bed, &moto, &token, &closed, &["auth", "ecr-login", "dev/ecr"]);
    assert_eq!(o.code, 69, "{}", o.stderr);
    assert!(o.stdout.is_empty());
    assert!(o.stderr.starts_with("error: cannot reach ECR at http://127.0.0.1:"), "{}", o.stderr);
    assert!(o.stderr.contains("hint: check the network, or AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_ECR"), "{}", o.stderr);

    // ECR refusing the identity is "access denied", with what to change.
    let denied = Stub::start(Box::new(|_, _| {
        (400, "{\"__type\":\"AccessDeniedException\",\"message\":\"not authorized to perform ecr:GetAuthorizationToken\"}".into())
    }));
    let o = tfauth(&bed, &moto, &token, &denied.url(), &["auth", "ecr-login"]);
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(
        o.stderr.contains("integration `dev/ecr`")
            && o.stderr.contains("AccessDeniedException")
            && o.stderr.contains("hint: `acme/planner` may not call ecr:GetAuthorizationToken"),
        "{}",
        o.stderr
    );
    // Both failures left the earlier login in place.
    assert_eq!(login_in(&isolated_dir(&bed).join("config.json")), boto3_login(&moto).0);
}

#[test]
fn exec_and_env_point_docker_config_at_the_isolated_config() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    with_integration(&bed);
    let dir = isolated_dir(&bed);
    // No login written yet: DOCKER_CONFIG is left alone.
    let o = tfauth(&bed, &moto, &token, &moto.url(), &["auth", "exec", "-i", "acme/planner", "--", "env"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stdout.contains("DOCKER_CONFIG="), "{}", o.stdout);

    let o = tfauth(&bed, &moto, &token, &moto.url(), &["auth", "ecr-login"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = tfauth(&bed, &moto, &token, &moto.url(), &["auth", "exec", "-i", "acme/planner", "--", "env"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.lines().any(|l| l == format!("DOCKER_CONFIG={}", dir.display())), "{}", o.stdout);
    let o = tfauth(&bed, &moto, &token, &moto.url(), &["auth", "env", "--login", "-i", "acme/planner", "-f", "json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let doc: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(doc["DOCKER_CONFIG"], dir.display().to_string());
    // An identity without integrations keeps the user's Docker.
    let o = tfauth(&bed, &moto, &token, &moto.url(), &["auth", "exec", "-i", "acme/admin", "--", "env"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stdout.contains("DOCKER_CONFIG="), "{}", o.stdout);
}

/// The ECR Public stand-in (integration/py/ecr_public.py), stopped when dropped.
struct EcrPublic {
    child: std::process::Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Drop for EcrPublic {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl EcrPublic {
    fn start(password: &str) -> EcrPublic {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/py/ecr_public.py");
        let child = std::process::Command::new(venv_bin("python"))
            .arg(script)
            .args(["--password", password, "--dir"])
            .arg(dir.path())
            .spawn()
            .unwrap();
        let port = dir.path().join("port");
        let start = std::time::Instant::now();
        while !port.exists() {
            assert!(start.elapsed() < std::time::Duration::from_secs(20), "the ECR Public stand-in did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let url = format!("http://127.0.0.1:{}", std::fs::read_to_string(&port).unwrap());
        EcrPublic { child, url, dir }
    }

    fn calls(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

#[test]
fn ecr_public_login_writes_public_ecr_aws_with_the_token_from_us_east_1() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    let public = EcrPublic::start("public-pw-123");
    // The stand-in speaks ECR Public's wire format: boto3's own client reads its answer.
    let py = format!(
        "import base64, boto3\nd = boto3.client('ecr-public', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='y').get_authorization_token()['authorizationData']\nprint(base64.b64decode(d['authorizationToken']).decode(), d['expiresAt'].year > 2000)",
        public.url
    );
    let o = run(python_c(&py));
    assert_eq!((o.code, o.stdout.trim()), (0, "AWS:public-pw-123 True"), "{}", o.stderr);

    std::fs::write(
        bed.repo().join("profiles/github/zz-ecr.yaml"),
        "auth:\n  integrations:\n    pub/ecr:\n      kind: aws/ecr-public\n      via:\n        identity: acme/planner\n      spec:\n        registry:\n          region: us-west-2\n    far/ecr:\n      kind: aws/ecr-public\n      via:\n        identity: acme/planner\n      spec:\n        auto_provision: false\n        registry:\n          region: eu-west-1\n",
    )
    .unwrap();
    let mut c = bed.cmd(TFAUTH);
    github_env(&mut c, &moto, &token);
    c.env("AWS_ENDPOINT_URL_ECR_PUBLIC", &public.url).env("ATMOS_AUTH_REALM", REALM).args([
        "auth",
        "ecr-login",
        "pub/ecr",
    ]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.starts_with("logged in to public.ecr.aws (expires "), "{}", o.stderr);
    let file = isolated_dir(&bed).join("config.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(decode(doc["auths"]["public.ecr.aws"]["auth"].as_str().unwrap()), "AWS:public-pw-123");
    // Asked in us-east-1 (the only region that issues tokens), signed for ecr-public with the session.
    let calls: Vec<Value> = public.calls().into_iter().filter(|c| c["key"] != "x").collect();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["target"], "SpencerFrontendService.GetAuthorizationToken");
    assert_eq!(calls[0]["content_type"], "application/x-amz-json-1.1");
    assert_eq!((calls[0]["region"].as_str(), calls[0]["service"].as_str()), (Some("us-east-1"), Some("ecr-public")));
    assert!(calls[0]["key"].as_str().unwrap().starts_with("ASIA"), "{calls:?}");
    assert!(!o.stderr.contains("public-pw-123"));

    // A region where ECR Public is not: a warning at validate, refused when it runs.
    let mut c = bed.cmd(TFAUTH);
    github_env(&mut c, &moto, &token);
    c.env("AWS_ENDPOINT_URL_ECR_PUBLIC", &public.url).args(["auth", "ecr-login", "far/ecr"]);
    let o = run(c);
    assert_eq!(o.code, 65, "{}", o.stderr);
    assert!(
        o.stderr.contains("integration `far/ecr` (aws/ecr-public): `spec.registry.region` is `eu-west-1`"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("hint: use us-east-1 or us-west-2"), "{}", o.stderr);
}
