//! EKS kubeconfigs with real consumers and an authenticator: `tfauth aws eks
//! update-kubeconfig` describes the cluster through moto (behind a front that points it at
//! the API-server stand-in, integration/py/kube_apiserver.py), writes a kubeconfig whose
//! user runs `tfauth aws eks token`, and Debian's kubectl and the Python kubernetes client
//! each use it: the stand-in authenticates the token as aws-iam-authenticator does
//! (presigned GetCallerIdentity, cluster id, 15-minute window; the signature recomputed
//! by botocore, the identity from moto's STS). A token for another cluster, or one the
//! server's clock finds too old, is refused. A run hands terraform `KUBE_CONFIG_PATH`.

use super::{BEARER, github_env};
use crate::support::*;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// moto keeps each account's clusters apart: acme/planner's role is in 999999999999,
/// plat-dev/terraform's in 444444444444.
const ARN_DEV: &str = "arn:aws:eks:us-east-2:999999999999:cluster/dev";

/// The API-server stand-in and the EKS front, stopped when dropped.
struct Cluster {
    child: Child,
    api: String,
    eks: String,
    dir: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Cluster {
    /// A stand-in for the cluster `dev`, authorizing ARNs that contain `allow`.
    fn start(moto: &Moto, allow: &str) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("creds.json"), "{}").unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/py/kube_apiserver.py");
        let child = Command::new(venv_bin("python"))
            .arg(script)
            .args(["--moto", &moto.url(), "--cluster", "dev", "--allow", allow])
            .arg("--creds")
            .arg(dir.path().join("creds.json"))
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let ready = dir.path().join("ready.json");
        let start = Instant::now();
        while !ready.exists() {
            assert!(start.elapsed() < Duration::from_secs(30), "the API-server stand-in did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&ready).unwrap()).unwrap();
        Cluster { child, api: r["api"].as_str().unwrap().into(), eks: r["eks"].as_str().unwrap().into(), dir }
    }

    /// Tells the authenticator the session keys it may check signatures with.
    fn trust(&self, creds: &Value) {
        let key = creds["AccessKeyId"].as_str().unwrap();
        let mut known: Value =
            serde_json::from_str(&std::fs::read_to_string(self.dir.path().join("creds.json")).unwrap()).unwrap();
        known[key] = json!({"secret": creds["SecretAccessKey"], "token": creds["SessionToken"]});
        std::fs::write(self.dir.path().join("creds.json"), known.to_string()).unwrap();
    }

    /// The authentication decisions so far.
    fn decisions(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("auth.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Moves the authenticator's clock `secs` ahead.
    fn clock(&self, secs: u64) {
        let py = format!(
            "import urllib.request; urllib.request.urlopen(urllib.request.Request('{}/__clock?offset={secs}', method='POST'))",
            self.eks
        );
        assert_eq!(run(python_c(&py)).code, 0);
    }
}

/// Clusters `dev` and `other` in moto, in the accounts of both identities' roles.
fn create_clusters(moto: &Moto) {
    let py = format!(
        "import boto3\nfor account in ('999999999999', '444444444444'):\n    e = boto3.client('eks', endpoint_url='{}', region_name='us-east-2', aws_access_key_id='x', aws_secret_access_key='y')\n    e.meta.events.register('before-sign.eks.*', lambda request, **kw: request.headers.add_header('x-moto-account-id', account))\n    for n in ('dev', 'other'):\n        e.create_cluster(name=n, roleArn=f'arn:aws:iam::{{account}}:role/eks', resourcesVpcConfig={{}})",
        moto.url()
    );
    let o = run(python_c(&py));
    assert_eq!(o.code, 0, "{}", o.stderr);
}

/// The github profile gains `dev/eks` (via acme/planner), `app/eks` and `ghost/eks` (a
/// cluster EKS does not have; both via plat-dev/terraform, which the app component runs as),
/// and `bad/eks` with a mode Atmos does not know.
fn with_integrations(bed: &Bed) {
    std::fs::write(
        bed.repo().join("profiles/github/zz-eks.yaml"),
        "auth:\n  integrations:\n    dev/eks:\n      kind: aws/eks\n      via:\n        identity: acme/planner\n      spec:\n        auto_provision: false\n        cluster:\n          name: dev\n          region: us-east-2\n    app/eks:\n      kind: aws/eks\n      via:\n        identity: plat-dev/terraform\n      spec:\n        cluster:\n          name: dev\n          region: us-east-2\n          alias: app-dev\n    ghost/eks:\n      kind: aws/eks\n      via:\n        identity: plat-dev/terraform\n      spec:\n        cluster:\n          name: ghost\n          region: us-east-2\n    bad/eks:\n      kind: aws/eks\n      via:\n        identity: acme/planner\n      spec:\n        auto_provision: false\n        cluster:\n          name: dev\n          region: us-east-2\n          kubeconfig:\n            mode: rw-r--r--\n",
    )
    .unwrap();
}

fn cmd(bed: &Bed, moto: &Moto, token: &Stub, cluster: &Cluster, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = bed.cmd(program);
    github_env(&mut c, moto, token);
    c.env("AWS_ENDPOINT_URL_EKS", &cluster.eks).env("ATMOS_AUTH_REALM", "eks-test");
    c
}

fn tfauth(bed: &Bed, moto: &Moto, token: &Stub, cluster: &Cluster, args: &[&str]) -> Out {
    let mut c = cmd(bed, moto, token, cluster, TFAUTH);
    c.args(args);
    run(c)
}

/// The session the helper serves for `identity` (the one the token plugin signs with).
fn session_of(bed: &Bed, moto: &Moto, token: &Stub, cluster: &Cluster, extra: &[&str]) -> Value {
    let mut c = cmd(bed, moto, token, cluster, HELPER);
    c.args(extra);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    serde_json::from_str(&o.stdout).unwrap()
}

fn kubectl(bed: &Bed, moto: &Moto, token: &Stub, cluster: &Cluster, kubeconfig: &Path) -> Out {
    let mut c = cmd(bed, moto, token, cluster, venv_bin("kubectl"));
    c.arg("--kubeconfig").arg(kubeconfig).args(["get", "namespaces", "-o", "name"]);
    run(c)
}

fn default_kubeconfig(bed: &Bed) -> PathBuf {
    bed.home().join(".config/atmos/kube/config")
}

#[test]
fn kubectl_and_the_python_client_reach_the_cluster_with_the_kubeconfig_tfauth_writes() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    create_clusters(&moto);
    let cluster = Cluster::start(&moto, "assumed-role/acme-gbl-identity-planner/");
    with_integrations(&bed);

    let o = tfauth(&bed, &moto, &token, &cluster, &["aws", "eks", "update-kubeconfig", "--integration", "dev/eks"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.is_empty(), "{}", o.stdout);
    let file = default_kubeconfig(&bed);
    assert_eq!(o.stderr, format!("kubeconfig: {ARN_DEV} -> {} via acme/planner\n", file.display()));
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    // The entry: Atmos's names, the stand-in's endpoint and CA, tfauth as the exec plugin.
    let doc = yaml_json(&file);
    assert_eq!(doc["current-context"], ARN_DEV);
    assert_eq!(doc["clusters"][0]["name"], ARN_DEV);
    assert_eq!(doc["clusters"][0]["cluster"]["server"], cluster.api.as_str());
    assert_eq!(doc["users"][0]["name"], "atmos-eks-dev-us-east-2");
    let exec = &doc["users"][0]["user"]["exec"];
    // The small binary (the credential helper's start-up cost), with tfauth's words.
    assert_eq!(exec["command"], HELPER);
    assert_eq!(
        exec["args"].as_array().unwrap()[..9],
        json!(["aws", "eks", "token", "--cluster-name", "dev", "--region", "us-east-2", "--identity", "acme/planner"])
            .as_array()
            .unwrap()[..]
    );
    // Running it again changes nothing.
    let o = tfauth(&bed, &moto, &token, &cluster, &["aws", "eks", "update-kubeconfig", "--integration", "dev/eks"]);
    assert!(o.stderr.ends_with("(already up to date) via acme/planner\n"), "{}", o.stderr);

    cluster.trust(&session_of(&bed, &moto, &token, &cluster, &["--identity", "acme/planner"]));
    let o = kubectl(&bed, &moto, &token, &cluster, &file);
    assert_eq!(o.code, 0, "kubectl: {}", o.stderr);
    assert_eq!(o.stdout, "namespace/default\nnamespace/kube-system\nnamespace/granted-to-acme-gbl-identity-planner\n");
    let seen = cluster.decisions();
    assert!(seen.iter().all(|d| d["ok"] == true), "{seen:?}");
    assert!(seen.iter().any(|d| d["path"].as_str().unwrap().starts_with("/api/v1/namespaces")), "{seen:?}");

    // The Python client runs the exec plugin itself and trusts the CA in the kubeconfig.
    let py = format!(
        "from kubernetes import client, config\nconfig.load_kube_config(config_file='{}')\nprint(' '.join(n.metadata.name for n in client.CoreV1Api().list_namespace().items))",
        file.display()
    );
    let mut c = cmd(&bed, &moto, &token, &cluster, venv_bin("python"));
    c.args(["-c", &py]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.trim(), "default kube-system granted-to-acme-gbl-identity-planner");

    // The plugin's own output: one ExecCredential, 14 minutes, nothing else; the same from
    // `tfauth aws eks token` with the same words, and from both when the cache is empty.
    let args: Vec<String> = exec["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
    let caches = bed.home().join(".cache/tfauth/aws");
    for (bin, cold) in [(HELPER, false), (TFAUTH, false), (HELPER, true), (TFAUTH, true)] {
        if cold {
            std::fs::remove_dir_all(&caches).unwrap();
        }
        let mut c = cmd(&bed, &moto, &token, &cluster, bin);
        c.args(&args);
        let o = run(c);
        assert_eq!((o.code, o.stderr.as_str()), (0, ""), "{bin} cold={cold}: {}", o.stderr);
        let cred: Value = serde_json::from_str(o.stdout.trim_end()).unwrap();
        assert_eq!(o.stdout.lines().count(), 1);
        assert_eq!(cred["kind"], "ExecCredential");
        assert_eq!(cred["apiVersion"], "client.authentication.k8s.io/v1beta1");
        let bearer = cred["status"]["token"].as_str().unwrap();
        assert!(bearer.starts_with("k8s-aws-v1."), "{bearer}");
        let expires = cred["status"]["expirationTimestamp"].as_str().unwrap();
        assert!(expires.ends_with('Z') && expires.len() == 20, "{expires}");
    }
    // A fresh session (the cache was emptied): the authenticator needs its keys too.
    cluster.trust(&session_of(&bed, &moto, &token, &cluster, &["--identity", "acme/planner"]));

    // A token for another cluster is refused by this one.
    let other = bed.dir.path().join("other.kubeconfig");
    let o = tfauth(
        &bed,
        &moto,
        &token,
        &cluster,
        &[
            "aws",
            "eks",
            "update-kubeconfig",
            "--name",
            "other",
            "--region",
            "us-east-2",
            "-i",
            "acme/planner",
            "--kubeconfig",
            other.to_str().unwrap(),
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = kubectl(&bed, &moto, &token, &cluster, &other);
    assert_ne!(o.code, 0, "{}", o.stdout);
    assert!(o.stderr.contains("You must be logged in to the server"), "{}", o.stderr);
    assert!(
        cluster.decisions().last().unwrap()["reason"].as_str().unwrap().contains("another cluster"),
        "{:?}",
        cluster.decisions()
    );

    // Sixteen minutes later (the authenticator's clock), the same kind of token is too old.
    cluster.clock(16 * 60);
    let o = kubectl(&bed, &moto, &token, &cluster, &file);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("You must be logged in to the server"), "{}", o.stderr);
    assert!(
        cluster.decisions().last().unwrap()["reason"].as_str().unwrap().contains("s old"),
        "{}\n{:?}",
        o.stderr,
        cluster.decisions()
    );
    cluster.clock(0);
    assert_eq!(kubectl(&bed, &moto, &token, &cluster, &file).code, 0);

    // Logging the identity out removes its entries (as Atmos's cleanup does); a dry run says so first.
    let o = tfauth(&bed, &moto, &token, &cluster, &["auth", "logout", "acme/planner", "--dry-run"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains(&format!("would remove the kubeconfig entries of {ARN_DEV} in {}", file.display())),
        "{}",
        o.stderr
    );
    assert!(yaml_json(&file)["clusters"].as_array().is_some_and(|c| !c.is_empty()));
    let o = tfauth(&bed, &moto, &token, &cluster, &["auth", "logout", "acme/planner"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains(&format!("removed the kubeconfig entries of {ARN_DEV}")), "{}", o.stderr);
    let left = yaml_json(&file);
    assert!(left["clusters"].is_null() && left["users"].is_null(), "{left}");
    assert_eq!(left["current-context"], "");
}

#[test]
fn a_run_hands_terraform_its_own_kubeconfig_that_kubectl_accepts() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    create_clusters(&moto);
    let cluster = Cluster::start(&moto, "assumed-role/acme-plat-gbl-dev-terraform/");
    with_integrations(&bed);
    let bin = bed.dir.path().join("bin");
    standin_terraform(&bin);
    let rec = bed.dir.path().join("record.json");
    let mut c = cmd(&bed, &moto, &token, &cluster, TFAUTH);
    c.env("PATH", format!("{}:{}:/usr/bin:/bin", bin.display(), venv().join("bin").display()))
        .env("RECORD", &rec)
        .env("KUBECONFIG", "/nonexistent/canary")
        .args(["plan", "app", "-s", "plat-use2-dev"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // A cluster EKS does not know is a warning (as in Atmos): the run goes on without it.
    assert!(
        o.stderr.contains("warning: integration `ghost/eks` failed: EKS DescribeCluster of `ghost` in us-east-2")
            && o.stderr.contains("hint: its cluster is not in this run's kubeconfig"),
        "{}",
        o.stderr
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&rec).unwrap()).unwrap();
    let path = r["env"]["KUBE_CONFIG_PATH"].as_str().expect("KUBE_CONFIG_PATH reached terraform");
    assert_eq!(r["env"]["KUBECONFIG"], path);
    let run_file = PathBuf::from(path);
    assert!(run_file.starts_with(bed.home().join(".config/atmos/eks-test/kube")), "{path}");
    assert!(!default_kubeconfig(&bed).exists(), "a run writes its own kubeconfig, not the shared one");
    let doc = yaml_json(&run_file);
    assert_eq!(doc["current-context"], "app-dev");
    assert_eq!(doc["clusters"].as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(doc["users"][0]["user"]["exec"]["args"][8], "plat-dev/terraform");

    cluster.trust(&session_of(
        &bed,
        &moto,
        &token,
        &cluster,
        &["--identity", "plat-dev/terraform", "--stack", "plat-use2-dev", "--component", "app"],
    ));
    let o = kubectl(&bed, &moto, &token, &cluster, &run_file);
    assert_eq!(o.code, 0, "kubectl: {}", o.stderr);
    assert!(o.stdout.contains("namespace/granted-to-acme-plat-gbl-dev-terraform"), "{}", o.stdout);

    // `auth login` runs the identity's auto_provision integrations: the shared kubeconfig.
    let o = tfauth(&bed, &moto, &token, &cluster, &["auth", "login", "-i", "plat-dev/terraform"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let shared = default_kubeconfig(&bed);
    assert!(
        o.stderr.contains(&format!("kubeconfig: app-dev -> {} via plat-dev/terraform", shared.display())),
        "{}",
        o.stderr
    );
    assert_eq!(yaml_json(&shared)["current-context"], "app-dev");
}

#[test]
fn bad_clusters_and_kubeconfigs_are_named_and_nothing_is_overwritten() {
    let bed = Bed::new();
    let moto = Moto::start();
    let token = github_token_endpoint(BEARER);
    create_clusters(&moto);
    let cluster = Cluster::start(&moto, "nobody");
    with_integrations(&bed);
    let direct = |kubeconfig: &Path, name: &str| {
        tfauth(
            &bed,
            &moto,
            &token,
            &cluster,
            &[
                "aws",
                "eks",
                "update-kubeconfig",
                "--name",
                name,
                "--region",
                "us-east-2",
                "-i",
                "acme/planner",
                "--kubeconfig",
                kubeconfig.to_str().unwrap(),
            ],
        )
    };
    let k = bed.dir.path().join("k");

    let o = direct(&k, "nope");
    assert_eq!(o.code, 69, "{}", o.stderr);
    assert!(o.stderr.contains("EKS DescribeCluster of `nope` in us-east-2"), "{}", o.stderr);
    assert!(o.stderr.contains("ResourceNotFoundException"), "{}", o.stderr);
    assert!(o.stderr.contains("hint: no cluster `nope` in us-east-2 is visible to `acme/planner`"), "{}", o.stderr);
    assert!(!k.exists());

    let o = direct(bed.dir.path(), "dev");
    assert_eq!(o.code, 73, "{}", o.stderr);
    assert!(o.stderr.contains("it is a directory, not a file"), "{}", o.stderr);

    std::fs::write(&k, "apiVersion: v1\nclusters: [\n").unwrap();
    let o = direct(&k, "dev");
    assert_eq!(o.code, 65, "{}", o.stderr);
    assert!(
        o.stderr.contains(&format!(
            "cannot add cluster `{ARN_DEV}` to the kubeconfig {}: it is not valid YAML",
            k.display()
        )),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("(it was left as it was)"), "{}", o.stderr);
    assert_eq!(std::fs::read_to_string(&k).unwrap(), "apiVersion: v1\nclusters: [\n");

    // A cluster the identity may reach, for an authenticator that authorizes someone else.
    let o = direct(&k2(&bed), "dev");
    assert_eq!(o.code, 0, "{}", o.stderr);
    cluster.trust(&session_of(&bed, &moto, &token, &cluster, &["--identity", "acme/planner"]));
    let o = kubectl(&bed, &moto, &token, &cluster, &k2(&bed));
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("acme-gbl-identity-planner") && o.stderr.contains("is not authorized"), "{}", o.stderr);

    let o = tfauth(&bed, &moto, &token, &cluster, &["aws", "eks", "update-kubeconfig", "--integration", "bad/eks"]);
    assert_eq!(o.code, 65, "{}", o.stderr);
    assert!(
        o.stderr.contains(
            "integration `bad/eks` (aws/eks): `spec.cluster.kubeconfig.mode` `rw-r--r--` is not an octal file mode"
        ),
        "{}",
        o.stderr
    );
    assert!(!default_kubeconfig(&bed).exists());
    let o = tfauth(&bed, &moto, &token, &cluster, &["auth", "validate"]);
    assert!(o.stderr.contains("`rw-r--r--` is not an octal file mode"), "validate shows it: {}", o.stderr);
}

#[test]
fn the_token_plugin_fails_at_once_without_a_terminal_or_a_session() {
    let bed = Bed::new();
    // Both ways in: tfauth's words, and the small binary a kubeconfig runs (which hands a
    // miss to tfauth).
    for bin in [TFAUTH, HELPER] {
        let start = Instant::now();
        let mut c = bed.cmd(bin);
        c.args(["aws", "eks", "token", "--cluster-name", "dev", "--region", "us-east-2"])
            .args(["--identity", "plat-dev/terraform"])
            .stdin(Stdio::null());
        let o = run(c);
        assert_eq!(o.code, 77, "{bin}: {}", o.stderr);
        assert!(o.stdout.is_empty(), "stdout is data: {}", o.stdout);
        assert!(
            o.stderr.contains("needs an IAM Identity Center login")
                && o.stderr.contains("hint: run `tfauth auth login --provider acme-sso`"),
            "{}",
            o.stderr
        );
        assert!(start.elapsed() < Duration::from_secs(20), "it waited for input that cannot come");
        // A usage error keeps stdout empty too.
        let mut c = bed.cmd(bin);
        c.args(["aws", "eks", "token", "--region", "us-east-2"]);
        let o = run(c);
        assert_eq!(o.code, 64, "{bin}: {}", o.stderr);
        assert!(o.stdout.is_empty() && o.stderr.contains("--cluster-name"), "{}", o.stderr);
    }
}

fn k2(bed: &Bed) -> PathBuf {
    bed.dir.path().join("k2")
}
