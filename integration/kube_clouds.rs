//! GKE and AKS kubeconfigs with real consumers and an authenticator, in GitHub Actions'
//! keyless setup (the `github` profile's workload identity federation and azure/oidc):
//!
//! - `gcp/gke`: tfauth reads the cluster from the Google stand-in's container API
//!   (clusters.get, with the service account's token), writes a kubeconfig whose user runs
//!   `atmos-auth-helper gcp gke token`, and Debian's kubectl and the Python kubernetes
//!   client list namespaces on the API-server stand-in, which authenticates the token at
//!   Google's tokeninfo (the stand-in's) and authorizes the service account.
//! - `azure/aks`: tfauth reads the cluster from the ARM stand-in (managedClusters Get and
//!   listClusterUserCredential, checked by Azure's own SDK in arm_standin.rs), writes a
//!   kubeconfig whose user runs `atmos-auth-helper azure aks token`, and both consumers
//!   reach the API-server stand-in, which accepts only Entra ID tokens for the cluster's
//!   server application (`aud`), in the tenant.

use crate::arm_standin::{AksCluster, Arm, KubeApiServer};
use crate::google_standin::{self as gs, Google, GoogleOpts, ServiceAccount};
use crate::microsoft_standin::{self as ms, Entra, EntraOpts, FederatedCredential, Tenant};
use crate::support::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const BEARER: &str = "gh-request-token-canary";
const DEPLOYER: &str = "deployer@acme-dev.iam.gserviceaccount.com";
const GKE_ID: &str = "projects/acme-dev/locations/us-central1/clusters/dev";
/// The github profile's `acme-azure` (azure/oidc): tenant and app.
const AZ_TENANT: &str = "0b5e6c1d-2a3f-4e5d-8c7b-9a0f1e2d3c4b";
const AZ_CI_APP: &str = "7c9d8e1f-0a2b-4c3d-9e8f-7a6b5c4d3e2f";
const AZ_SUBSCRIPTION: &str = "6f1c2a4e-3b5d-4c7e-9f80-1a2b3c4d5e6f";

fn default_kubeconfig(bed: &Bed) -> PathBuf {
    bed.home().join(".config/atmos/kube/config")
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// `kubectl get namespaces -o name` with `kubeconfig`, in `env`'s environment.
fn kubectl(bed: &Bed, env: &dyn Fn(&mut Command), kubeconfig: &Path) -> Out {
    let mut c = bed.cmd(venv_bin("kubectl"));
    env(&mut c);
    c.arg("--kubeconfig").arg(kubeconfig).args(["get", "namespaces", "-o", "name"]);
    run(c)
}

/// The Python kubernetes client's namespaces (it runs the exec plugin itself).
fn python_client(bed: &Bed, env: &dyn Fn(&mut Command), kubeconfig: &Path) -> Out {
    let py = format!(
        "from kubernetes import client, config\nconfig.load_kube_config(config_file='{}')\nprint(' '.join(n.metadata.name for n in client.CoreV1Api().list_namespace().items))",
        kubeconfig.display()
    );
    let mut c = bed.cmd(venv_bin("python"));
    env(&mut c);
    c.args(["-c", &py]);
    run(c)
}

/// The exec plugin's command and arguments of the kubeconfig's first user.
fn plugin_of(doc: &Value) -> (String, Vec<String>) {
    let exec = &doc["users"][0]["user"]["exec"];
    assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1beta1", "{doc}");
    assert_eq!(exec["interactiveMode"], "Never", "{doc}");
    let args = exec["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
    (exec["command"].as_str().unwrap().to_string(), args)
}

/// Runs the plugin as kubectl would and returns its one ExecCredential's token.
fn plugin_token(bed: &Bed, env: &dyn Fn(&mut Command), program: &str, args: &[String]) -> String {
    let mut c = bed.cmd(program);
    env(&mut c);
    c.args(args);
    let o = run(c);
    assert_eq!((o.code, o.stderr.as_str()), (0, ""), "{program}: {}", o.stderr);
    assert_eq!(o.stdout.lines().count(), 1, "{}", o.stdout);
    let cred: Value = serde_json::from_str(o.stdout.trim_end()).unwrap();
    assert_eq!(cred["kind"], "ExecCredential");
    let expires = cred["status"]["expirationTimestamp"].as_str().unwrap();
    assert!(expires.ends_with('Z') && expires.len() == 20, "{expires}");
    cred["status"]["token"].as_str().unwrap().to_string()
}

#[test]
fn gke_kubeconfig_from_the_container_api_reaches_the_cluster_with_the_service_accounts_token() {
    let bed = Bed::new();
    let token = github_token_endpoint(BEARER);
    let pool = gs::provider_audience("123456789012", "github-pool", "github-provider");
    let principal = gs::federated_principal(&pool, "repo:acme/infra-live:ref:refs/heads/main");
    let google = Google::start(GoogleOpts {
        audiences: vec![pool],
        service_accounts: vec![ServiceAccount::new(DEPLOYER).callers(&[&principal])],
        ..Default::default()
    });
    let api = KubeApiServer::google(&google.tokeninfo_url(), "deployer@");
    google.add_cluster("acme-dev", "us-central1", "dev", &api.endpoint(), &api.ca_pem());
    std::fs::write(
        bed.repo().join("profiles/github/zz-gke.yaml"),
        "auth:\n  identities:\n    gcp/deployer:\n      kind: gcp/service-account\n      via:\n        provider: acme-gcp\n      principal:\n        service_account_email: deployer@acme-dev.iam.gserviceaccount.com\n        project_id: acme-dev\n  integrations:\n    dev/gke:\n      kind: gcp/gke\n      via:\n        identity: gcp/deployer\n      spec:\n        cluster:\n          name: dev\n          project_id: acme-dev\n          location: us-central1\n    ghost/gke:\n      kind: gcp/gke\n      via:\n        identity: gcp/deployer\n      spec:\n        auto_provision: false\n        cluster:\n          name: ghost\n          project_id: acme-dev\n          location: us-central1\n    bad/gke:\n      kind: gcp/gke\n      via:\n        identity: gcp/deployer\n      spec:\n        auto_provision: false\n        cluster:\n          name: dev\n          project_id: acme-dev\n",
    )
    .unwrap();
    let github = |c: &mut Command| {
        c.env("ATMOS_PROFILE", "github")
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", format!("{}/token?api-version=2.0", token.url()))
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER)
            .env("TFAUTH_GOOGLE_STS_URL", google.sts_token_url())
            .env("TFAUTH_GOOGLE_IAM_CREDENTIALS_URL", google.url())
            .env("TFAUTH_GOOGLE_CONTAINER_URL", google.url())
            .env("ATMOS_AUTH_REALM", "gke-test");
    };
    let tfauth = |args: &[&str]| {
        let mut c = bed.cmd(TFAUTH);
        github(&mut c);
        c.args(args);
        run(c)
    };

    // `auth login` runs the identity's auto_provision integrations: the kubeconfig.
    let o = tfauth(&["auth", "login", "-i", "gcp/deployer"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let file = default_kubeconfig(&bed);
    assert!(
        o.stderr.contains(&format!("kubeconfig: {GKE_ID} -> {} via gcp/deployer\n", file.display())),
        "{}",
        o.stderr
    );
    assert_eq!(mode(&file), 0o600);
    // clusters.get with the service account's token (twice: for the login's own run
    // files, and for the integration's kubeconfig).
    let got = google.requests_for("GetCluster");
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|r| google.service_account_of(r.bearer().unwrap()).as_deref() == Some(DEPLOYER)));
    let doc = yaml_json(&file);
    assert_eq!(doc["current-context"], GKE_ID);
    assert_eq!(doc["clusters"][0]["name"], GKE_ID);
    assert_eq!(doc["clusters"][0]["cluster"]["server"], api.url().as_str());
    assert_eq!(doc["users"][0]["name"], "atmos-gke-dev-acme-dev-us-central1");
    let (command, args) = plugin_of(&doc);
    assert_eq!(command, HELPER);
    assert_eq!(args[..5], ["gcp", "gke", "token", "--identity", "gcp/deployer"]);

    // kubectl and the Python client: the plugin's token was cached by the login, so no
    // Google call is made for them.
    let minted = google.count("GenerateAccessToken");
    let o = kubectl(&bed, &github, &file);
    assert_eq!(o.code, 0, "kubectl: {}", o.stderr);
    assert_eq!(o.stdout, format!("namespace/default\nnamespace/kube-system\nnamespace/granted-to-{}\n", dns(DEPLOYER)));
    let o = python_client(&bed, &github, &file);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.trim(), format!("default kube-system granted-to-{}", dns(DEPLOYER)));
    assert_eq!(google.count("GenerateAccessToken"), minted, "the warm path asks Google nothing");
    let seen = api.decisions();
    assert!(!seen.is_empty() && seen.iter().all(|d| d["ok"] == true && d["user"] == DEPLOYER), "{seen:?}");

    // The plugin's own output, warm from both binaries and cold (cache emptied): one
    // ExecCredential whose token is the service account's.
    let cache = bed.home().join(".cache/tfauth/gke");
    for (bin, cold) in [(HELPER, false), (TFAUTH, false), (HELPER, true)] {
        if cold {
            std::fs::remove_dir_all(&cache).unwrap();
        }
        let t = plugin_token(&bed, &github, bin, &args);
        assert_eq!(google.service_account_of(&t).as_deref(), Some(DEPLOYER), "{bin} cold={cold}");
    }
    assert_eq!(google.count("GenerateAccessToken"), minted + 1, "one mint for the emptied cache");
    let entry = std::fs::read_dir(&cache).unwrap().next().unwrap().unwrap().path();
    assert_eq!(mode(&entry), 0o600);
    assert_eq!(mode(&cache), 0o700);

    // A revoked token is refused by the cluster: the authenticator is real.
    google.revoke_access_tokens();
    let o = kubectl(&bed, &github, &file);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("You must be logged in to the server"), "{}", o.stderr);

    // No cached token and no way to get one (no GitHub token variables): 77 at once,
    // stdout empty.
    std::fs::remove_dir_all(&cache).unwrap();
    let mut c = bed.cmd(HELPER);
    c.env("ATMOS_PROFILE", "github").env("ATMOS_AUTH_REALM", "gke-test").args(&args);
    let o = run(c);
    assert_eq!(o.code, 77, "{}", o.stderr);
    assert!(o.stdout.is_empty(), "{}", o.stdout);
    assert!(o.stderr.contains("ACTIONS_ID_TOKEN_REQUEST_URL"), "{}", o.stderr);

    // A cluster GKE does not have: named, with the fields to check (69), nothing written.
    let before = std::fs::read(&file).unwrap();
    let o = tfauth(&["gcp", "gke", "update-kubeconfig", "--integration", "ghost/gke"]);
    assert_eq!(o.code, 69, "{}", o.stderr);
    assert!(
        o.stderr.contains(
            "integration `ghost/gke`: GKE has no cluster projects/acme-dev/locations/us-central1/clusters/ghost"
        ),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("hint: check the integration's spec.cluster.name, project_id and location"),
        "{}",
        o.stderr
    );
    // A spec Atmos would refuse: a warning at validate, an error (65) when it runs.
    let o = tfauth(&["gcp", "gke", "update-kubeconfig", "--integration", "bad/gke"]);
    assert_eq!(o.code, 65, "{}", o.stderr);
    assert!(o.stderr.contains("integration `bad/gke` (gcp/gke) is missing `spec.cluster.location`"), "{}", o.stderr);
    let o = tfauth(&["auth", "validate"]);
    assert!(o.stderr.contains("bad/gke") && o.stderr.contains("warning"), "{}", o.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), before, "nothing was written");

    // A run gets its own kubeconfig with the cluster.
    let o = tfauth(&["auth", "env", "--login", "-i", "gcp/deployer", "-f", "json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let vars: Value = serde_json::from_str(&o.stdout).unwrap();
    let own = PathBuf::from(vars["KUBECONFIG"].as_str().unwrap());
    assert_eq!(vars["KUBE_CONFIG_PATH"], vars["KUBECONFIG"]);
    assert!(own.starts_with(bed.home().join(".config/atmos/gke-test/kube")), "{}", own.display());
    assert_eq!(yaml_json(&own)["clusters"][0]["name"], GKE_ID);
    assert_eq!(kubectl(&bed, &github, &own).code, 0, "a fresh token was minted for the run");

    // Logout removes the entries and the plugin's cached token.
    let o = tfauth(&["auth", "logout", "gcp/deployer"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains(&format!("removed the kubeconfig entries of {GKE_ID}")), "{}", o.stderr);
    assert!(yaml_json(&file)["clusters"].is_null());
    assert_eq!(
        std::fs::read_dir(&cache)
            .map(|d| d.filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json")).count())
            .unwrap_or(0),
        0
    );
}

/// The namespace label the API server derives from a user name.
fn dns(user: &str) -> String {
    user.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

#[test]
fn aks_kubeconfig_from_resource_manager_reaches_the_cluster_with_a_token_for_its_server_app() {
    let bed = Bed::new();
    let token = github_token_endpoint(BEARER);
    let entra = Entra::start(EntraOpts {
        tenants: vec![Tenant::new(AZ_TENANT, &["acme.onmicrosoft.com"])],
        client_ids: vec![],
        interval: 1,
        federated: vec![FederatedCredential {
            client_id: AZ_CI_APP.into(),
            issuer: None,
            subject: Some(ms::GITHUB_SUBJECT.into()),
            audience: None,
        }],
        ..EntraOpts::default()
    });
    // AKS names a service principal by its object id: the one Entra ID gives the app.
    let oid = ms::guid_from(&format!("service-principal-{AZ_CI_APP}-{AZ_TENANT}"));
    let api = KubeApiServer::entra(&entra.introspect_url(), ms::AKS_SERVER_ID, Some(AZ_TENANT), &oid);
    let arm = Arm::start(&entra.url());
    arm.add_cluster(AksCluster {
        tenant_id: AZ_TENANT.into(),
        ..AksCluster::new(AZ_SUBSCRIPTION, "rg-dev", "dev", &api.url(), &api.ca_pem())
    });
    arm.add_cluster(AksCluster {
        server_id: None,
        tenant_id: AZ_TENANT.into(),
        ..AksCluster::new(AZ_SUBSCRIPTION, "rg-dev", "local", "https://127.0.0.1:1", &api.ca_pem())
    });
    std::fs::write(
        bed.repo().join("profiles/github/zz-aks.yaml"),
        format!("auth:\n  identities:\n    azure/ci:\n      kind: azure/subscription\n      via:\n        provider: acme-azure\n      principal:\n        subscription_id: \"{AZ_SUBSCRIPTION}\"\n  integrations:\n    dev/aks:\n      kind: azure/aks\n      via:\n        identity: azure/ci\n      spec:\n        cluster:\n          name: dev\n          resource_group: rg-dev\n          alias: aks-dev\n    ghost/aks:\n      kind: azure/aks\n      via:\n        identity: azure/ci\n      spec:\n        auto_provision: false\n        cluster:\n          name: ghost\n          resource_group: rg-dev\n    local/aks:\n      kind: azure/aks\n      via:\n        identity: azure/ci\n      spec:\n        auto_provision: false\n        cluster:\n          name: local\n          resource_group: rg-dev\n"),
    )
    .unwrap();
    let github = |c: &mut Command| {
        c.env("ATMOS_PROFILE", "github")
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", format!("{}/token?api-version=2.0", token.url()))
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER)
            .env("AZURE_AUTHORITY_HOST", entra.url())
            .env("TFAUTH_ARM_ENDPOINT", arm.url())
            .env("ATMOS_AUTH_REALM", "aks-test");
    };
    let tfauth = |args: &[&str]| {
        let mut c = bed.cmd(TFAUTH);
        github(&mut c);
        c.args(args);
        run(c)
    };

    let o = tfauth(&["azure", "aks", "update-kubeconfig", "--integration", "dev/aks"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let file = default_kubeconfig(&bed);
    assert_eq!(o.stderr, format!("kubeconfig: aks-dev -> {} via azure/ci\n", file.display()));
    assert_eq!(mode(&file), 0o600);
    // ARM was asked with a Resource Manager token of the app, with an api-version.
    for op in ["GetCluster", "ListClusterUserCredential"] {
        let reqs = arm.requests_for(op);
        assert_eq!(reqs.len(), 1, "{op}");
        assert_eq!(reqs[0].status, 200, "{op}: {:?}", reqs[0].error);
        assert!(reqs[0].query("api-version").is_some(), "{op}");
        let claims = reqs[0].claims.as_ref().unwrap();
        assert_eq!(
            (claims["aud"].as_str(), claims["appid"].as_str()),
            (Some("https://management.azure.com"), Some(AZ_CI_APP))
        );
    }
    assert_eq!(arm.requests_for("ListClusterUserCredential")[0].query("format"), Some("exec"));
    let id = format!(
        "/subscriptions/{AZ_SUBSCRIPTION}/resourcegroups/rg-dev/providers/Microsoft.ContainerService/managedClusters/dev"
    );
    let doc = yaml_json(&file);
    assert_eq!(doc["current-context"], "aks-dev");
    assert_eq!(doc["clusters"][0]["name"], id.as_str());
    assert_eq!(doc["clusters"][0]["cluster"]["server"], api.url().as_str());
    assert_eq!(doc["users"][0]["name"], format!("atmos-aks-dev-rg-dev-{AZ_SUBSCRIPTION}"));
    let (command, args) = plugin_of(&doc);
    assert_eq!(command, HELPER);
    assert_eq!(
        args[..13],
        [
            "azure",
            "aks",
            "token",
            "--cluster-name",
            "dev",
            "--resource-group",
            "rg-dev",
            "--server-id",
            ms::AKS_SERVER_ID,
            "--subscription-id",
            AZ_SUBSCRIPTION,
            "--identity",
            "azure/ci"
        ]
    );
    // No kubelogin anywhere: tfauth's plugin replaces it.
    assert!(!std::fs::read_to_string(&file).unwrap().contains("kubelogin"));

    // kubectl: the first call mints the server app's token (one exchange), the rest read it.
    let exchanges = entra.count("ClientCredentials");
    let o = kubectl(&bed, &github, &file);
    assert_eq!(o.code, 0, "kubectl: {}", o.stderr);
    assert!(o.stdout.contains(&format!("namespace/granted-to-{}", dns(&oid))), "{}", o.stdout);
    assert_eq!(entra.count("ClientCredentials"), exchanges + 1);
    let o = python_client(&bed, &github, &file);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains(&format!("granted-to-{}", dns(&oid))), "{}", o.stdout);
    assert_eq!(entra.count("ClientCredentials"), exchanges + 1, "the warm path asks Entra ID nothing");
    let seen = api.decisions();
    assert!(!seen.is_empty() && seen.iter().all(|d| d["ok"] == true), "{seen:?}");
    // The token the plugin hands out is for the server application, in the tenant.
    let t = plugin_token(&bed, &github, HELPER, &args);
    let issued = entra.issued_access_token(&t).expect("Entra ID issued it");
    assert_eq!((issued.grant.as_str(), issued.tenant.as_str()), ("client_credentials", AZ_TENANT));
    assert_eq!(issued.scope, ms::AKS_SCOPE);
    let claims = ms::jwt_claims(&t).unwrap();
    assert_eq!((claims["aud"].as_str(), claims["tid"].as_str()), (Some(ms::AKS_SERVER_ID), Some(AZ_TENANT)));

    // A kubeconfig pointing the plugin at another server application gets a token this
    // cluster refuses.
    let other = bed.dir.path().join("other.kubeconfig");
    let text =
        std::fs::read_to_string(&file).unwrap().replace(ms::AKS_SERVER_ID, "11111111-2222-3333-4444-555555555555");
    std::fs::write(&other, text).unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = kubectl(&bed, &github, &other);
    assert_ne!(o.code, 0, "{}", o.stdout);
    assert!(o.stderr.contains("You must be logged in to the server"), "{}", o.stderr);

    // No cached token and no federated token: the provider's error at once (69, as for
    // azurerm's variables), stdout empty.
    std::fs::remove_dir_all(bed.home().join(".cache/tfauth/aks")).unwrap();
    let mut c = bed.cmd(HELPER);
    c.env("ATMOS_PROFILE", "github")
        .env("ATMOS_AUTH_REALM", "aks-test")
        .env("AZURE_AUTHORITY_HOST", entra.url())
        .args(&args);
    let o = run(c);
    assert_eq!(o.code, 69, "{}", o.stderr);
    assert!(
        o.stderr.contains("ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set"),
        "{}",
        o.stderr
    );
    assert!(o.stdout.is_empty(), "{}", o.stdout);

    // A cluster ARM does not have (69, named, with the fields to check), and one without
    // Entra ID sign-ins (69): nothing written.
    let before = std::fs::read(&file).unwrap();
    let o = tfauth(&["azure", "aks", "update-kubeconfig", "--integration", "ghost/aks"]);
    assert_eq!(o.code, 69, "{}", o.stderr);
    assert!(
        o.stderr.contains(&format!(
            "Azure has no AKS cluster `ghost` in resource group `rg-dev` of subscription {AZ_SUBSCRIPTION}"
        )),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("hint: check spec.cluster.name and resource_group"), "{}", o.stderr);
    let o = tfauth(&["azure", "aks", "update-kubeconfig", "--integration", "local/aks"]);
    assert_eq!(o.code, 69, "{}", o.stderr);
    assert!(o.stderr.contains("does not use Entra ID sign-ins"), "{}", o.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), before);

    // Logout removes the entries and the cached tokens.
    assert_eq!(kubectl(&bed, &github, &file).code, 0);
    let o = tfauth(&["auth", "logout", "azure/ci"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains(&format!("removed the kubeconfig entries of {id}")), "{}", o.stderr);
    assert!(yaml_json(&file)["clusters"].is_null());
}
