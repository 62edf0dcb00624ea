//! Every environment variable tfauth reads or sets, as named constants, and the snapshot
//! of the process environment that the rest of the crate reads from.
//!
//! The environment is captured once, at start-up, into an [`Env`]; nothing else in the
//! crate calls `std::env::var`. That keeps resolution pure and testable, and the child's
//! environment is built as a map from it, never with `set_var`.

use std::collections::BTreeMap;
use std::ffi::OsString;

/// Directory or file holding `atmos.yaml`; overrides discovery.
pub const ATMOS_CLI_CONFIG_PATH: &str = "ATMOS_CLI_CONFIG_PATH";
/// Root that `stacks.base_path` and `components.terraform.base_path` are relative to.
pub const ATMOS_BASE_PATH: &str = "ATMOS_BASE_PATH";
/// Profiles to apply, comma-separated, in order.
pub const ATMOS_PROFILE: &str = "ATMOS_PROFILE";
/// The identity to use; `false`, `0`, `no` or `off` disable auth.
pub const ATMOS_IDENTITY: &str = "ATMOS_IDENTITY";
/// Overrides the realm that isolates one repository's credential files from another's.
pub const ATMOS_AUTH_REALM: &str = "ATMOS_AUTH_REALM";
/// Overrides the base config directory for the files tfauth writes.
pub const ATMOS_XDG_CONFIG_HOME: &str = "ATMOS_XDG_CONFIG_HOME";
/// Wins over `XDG_CACHE_HOME` for tfauth's caches (sessions, tokens, locks, stack index).
pub const ATMOS_XDG_CACHE_HOME: &str = "ATMOS_XDG_CACHE_HOME";
/// Wins over `XDG_DATA_HOME` for tfauth's data (the file keyring's default place).
pub const ATMOS_XDG_DATA_HOME: &str = "ATMOS_XDG_DATA_HOME";
// Atmos's variables for `atmos auth` flags, read where tfauth has the same flag (the
// flag wins; an empty value is no value).
/// `auth env --format` (bash, fish, powershell, dotenv, env, json, github).
pub const ATMOS_AUTH_ENV_FORMAT: &str = "ATMOS_AUTH_ENV_FORMAT";
/// `auth env --output-file`: the file the environment is written to.
pub const ATMOS_AUTH_ENV_OUTPUT_FILE: &str = "ATMOS_AUTH_ENV_OUTPUT_FILE";
/// `auth whoami --output` (table or json).
pub const ATMOS_AUTH_WHOAMI_OUTPUT: &str = "ATMOS_AUTH_WHOAMI_OUTPUT";
/// `auth validate --verbose` (tfauth's global `-v`): each provider and identity checked.
pub const ATMOS_AUTH_VALIDATE_VERBOSE: &str = "ATMOS_AUTH_VALIDATE_VERBOSE";
/// `auth shell --shell`: the shell to start (wins over `SHELL`).
pub const ATMOS_SHELL: &str = "ATMOS_SHELL";
/// The terraform (or tofu) executable to run.
pub const ATMOS_COMPONENTS_TERRAFORM_COMMAND: &str = "ATMOS_COMPONENTS_TERRAFORM_COMMAND";
/// Wins over `components.terraform.auto_generate_backend_file`: write `backend.tf.json` before a run.
pub const ATMOS_COMPONENTS_TERRAFORM_AUTO_GENERATE_BACKEND_FILE: &str =
    "ATMOS_COMPONENTS_TERRAFORM_AUTO_GENERATE_BACKEND_FILE";
/// Wins over `components.terraform.deploy_run_init`: run `terraform init` before `deploy`.
pub const ATMOS_COMPONENTS_TERRAFORM_DEPLOY_RUN_INIT: &str = "ATMOS_COMPONENTS_TERRAFORM_DEPLOY_RUN_INIT";
/// Wins over `components.terraform.init_run_reconfigure`: pass `-reconfigure` to `terraform init`.
pub const ATMOS_COMPONENTS_TERRAFORM_INIT_RUN_RECONFIGURE: &str = "ATMOS_COMPONENTS_TERRAFORM_INIT_RUN_RECONFIGURE";
/// Wins over `components.terraform.apply_auto_approve`: pass `-auto-approve` to `apply`.
pub const ATMOS_COMPONENTS_TERRAFORM_APPLY_AUTO_APPROVE: &str = "ATMOS_COMPONENTS_TERRAFORM_APPLY_AUTO_APPROVE";
/// Wins over `components.terraform.workspaces_enabled`: select the stack's workspace before a run.
pub const ATMOS_COMPONENTS_TERRAFORM_WORKSPACES_ENABLED: &str = "ATMOS_COMPONENTS_TERRAFORM_WORKSPACES_ENABLED";
/// Log level for tfauth's own messages (trace, debug, info, warn, error).
pub const ATMOS_LOGS_LEVEL: &str = "ATMOS_LOGS_LEVEL";
/// Where log lines go when atmos.yaml does not say.
pub const ATMOS_LOGS_FILE: &str = "ATMOS_LOGS_FILE";
/// Chooses the keyring (`memory`, `file` or `system`); wins over `auth.keyring.type`.
pub const ATMOS_KEYRING_TYPE: &str = "ATMOS_KEYRING_TYPE";
/// The file keyring's password, unless `auth.keyring.spec.password_env` names another variable.
pub const ATMOS_KEYRING_PASSWORD: &str = "ATMOS_KEYRING_PASSWORD";
/// The file keyring's directory (a path with an extension: its parent); wins over `auth.keyring.spec.path`.
pub const ATMOS_KEYRING_FILE_PATH: &str = "ATMOS_KEYRING_FILE_PATH";
/// Names the variable that holds the file keyring's password; wins over `auth.keyring.spec.password_env`.
pub const ATMOS_KEYRING_PASSWORD_ENV: &str = "ATMOS_KEYRING_PASSWORD_ENV";
/// The refresh margin (a duration like `15m` or seconds); wins over `auth.refresh_margin`.
pub const TFAUTH_REFRESH_MARGIN: &str = "TFAUTH_REFRESH_MARGIN";
/// Overrides the AWS console federation endpoint (private partitions, tests).
pub const TFAUTH_AWS_FEDERATION_URL: &str = "TFAUTH_AWS_FEDERATION_URL";
/// Set on what tfauth runs as terraform: this process's id, then one line per program it
/// ran as terraform from this process (an exec keeps the id).
pub const TFAUTH_TERRAFORM_TRAIL: &str = "TFAUTH_TERRAFORM_TRAIL";
/// Set on what tfauth runs as terraform: how many times tfauth has run terraform above
/// this process.
pub const TFAUTH_TERRAFORM_DEPTH: &str = "TFAUTH_TERRAFORM_DEPTH";
/// Set by tfauth for what it runs: the identity in use (read by `tfauth prompt`).
pub const TFAUTH_IDENTITY: &str = "TFAUTH_IDENTITY";
/// Set by tfauth for what it runs: the file of the AWS session cache entry, whose expiry
/// `tfauth prompt` shows (the helper keeps it fresh in place).
pub const TFAUTH_SESSION: &str = "TFAUTH_SESSION";
/// How many `tfauth auth shell`s deep this shell is.
pub const TFAUTH_SHLVL: &str = "TFAUTH_SHLVL";
/// Atmos's name for the same nesting level, kept in step for prompts written for Atmos.
pub const ATMOS_SHLVL: &str = "ATMOS_SHLVL";
/// The XDG base directory for configuration.
pub const XDG_CONFIG_HOME: &str = "XDG_CONFIG_HOME";
/// The XDG base directory for caches (tfauth's sessions, locks and stack index).
pub const XDG_CACHE_HOME: &str = "XDG_CACHE_HOME";
/// The XDG base directory for data; the file keyring lives below it by default.
pub const XDG_DATA_HOME: &str = "XDG_DATA_HOME";
/// The user's home directory.
pub const HOME: &str = "HOME";
/// Executable search path.
pub const PATH: &str = "PATH";
/// The Terraform workspace: set by tfauth on the exec'd terraform of a stack run.
pub const TF_WORKSPACE: &str = "TF_WORKSPACE";

// What an AWS identity sets in the child's environment (CONTRACT A5).
/// Set for an AWS identity: the realm's isolated AWS config file.
pub const AWS_CONFIG_FILE: &str = "AWS_CONFIG_FILE";
/// Set for an AWS identity: the realm's isolated AWS credentials file.
pub const AWS_SHARED_CREDENTIALS_FILE: &str = "AWS_SHARED_CREDENTIALS_FILE";
/// Set for an AWS identity: the profile in the isolated files that holds its credentials.
pub const AWS_PROFILE: &str = "AWS_PROFILE";
/// Set for an AWS identity: its region (`tfauth doctor` reads it for the STS endpoint).
pub const AWS_REGION: &str = "AWS_REGION";
/// Set for an AWS identity: its region again, for tools that read only this name.
pub const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
/// Set for an AWS identity so older SDKs read the config file.
pub const AWS_SDK_LOAD_CONFIG: &str = "AWS_SDK_LOAD_CONFIG";
/// Set for an AWS identity so the child does not fall back to instance metadata.
pub const AWS_EC2_METADATA_DISABLED: &str = "AWS_EC2_METADATA_DISABLED";

/// Endpoint URL for every AWS service (the SDKs' shared setting), below the per-service ones.
pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
/// Endpoint URL of STS (AssumeRole, AssumeRoleWithWebIdentity, GetCallerIdentity).
pub const AWS_ENDPOINT_URL_STS: &str = "AWS_ENDPOINT_URL_STS";
/// Endpoint URL of the SSO-OIDC service (RegisterClient, StartDeviceAuthorization, CreateToken).
pub const AWS_ENDPOINT_URL_SSO_OIDC: &str = "AWS_ENDPOINT_URL_SSO_OIDC";
/// Endpoint URL of the SSO portal API (ListAccounts, ListAccountRoles, GetRoleCredentials).
pub const AWS_ENDPOINT_URL_SSO: &str = "AWS_ENDPOINT_URL_SSO";
/// Endpoint URL of AWS's sign-in service (the `aws/user` browser login's authorize and token endpoints).
pub const AWS_ENDPOINT_URL_SIGNIN: &str = "AWS_ENDPOINT_URL_SIGNIN";
/// Endpoint URL of ECR (GetAuthorizationToken).
pub const AWS_ENDPOINT_URL_ECR: &str = "AWS_ENDPOINT_URL_ECR";
/// Endpoint URL of ECR Public (GetAuthorizationToken for `public.ecr.aws`).
pub const AWS_ENDPOINT_URL_ECR_PUBLIC: &str = "AWS_ENDPOINT_URL_ECR_PUBLIC";
/// Replaces `https://<registry>.azurecr.io` for ACR's token exchange (a private endpoint, tests).
pub const TFAUTH_ACR_ENDPOINT: &str = "TFAUTH_ACR_ENDPOINT";
/// Replaces Azure Resource Manager's URL (`azure/aks` integrations' cluster lookups), for tests.
pub const TFAUTH_ARM_ENDPOINT: &str = "TFAUTH_ARM_ENDPOINT";
/// Endpoint URL of EKS (DescribeCluster, for `aws/eks` integrations).
pub const AWS_ENDPOINT_URL_EKS: &str = "AWS_ENDPOINT_URL_EKS";

/// A GitHub Actions OIDC token given directly, used instead of requesting one.
pub const ACTIONS_ID_TOKEN: &str = "ACTIONS_ID_TOKEN";
/// GitHub Actions' URL for requesting an OIDC token (set by the runner with `id-token: write`).
pub const ACTIONS_ID_TOKEN_REQUEST_URL: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
/// The bearer token for `ACTIONS_ID_TOKEN_REQUEST_URL` (set by the runner).
pub const ACTIONS_ID_TOKEN_REQUEST_TOKEN: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";

/// Docker's configuration directory: set to the realm's isolated one for an identity with
/// aws/ecr integrations once a login has been written there.
pub const DOCKER_CONFIG: &str = "DOCKER_CONFIG";
/// The kubeconfig kubectl and helm read: set for a run whose identity has aws/eks, gcp/gke
/// or azure/aks integrations (the run's own file).
pub const KUBECONFIG: &str = "KUBECONFIG";
/// The kubeconfig Terraform's kubernetes and helm providers read (`config_path`).
pub const KUBE_CONFIG_PATH: &str = "KUBE_CONFIG_PATH";

// Ambient AWS credentials: read by SDKs, and removed from the child for an AWS identity.
/// An ambient AWS access key id (removed from the child for an AWS identity).
pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// An ambient AWS secret access key (a secret; removed from the child for an AWS identity).
pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// An ambient AWS session token (a secret; removed from the child for an AWS identity).
pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
/// The old name of `AWS_SESSION_TOKEN` (a secret; removed from the child for an AWS identity).
pub const AWS_SECURITY_TOKEN: &str = "AWS_SECURITY_TOKEN";
/// An ambient web identity token file (removed from the child for an AWS identity).
pub const AWS_WEB_IDENTITY_TOKEN_FILE: &str = "AWS_WEB_IDENTITY_TOKEN_FILE";
/// An ambient role to assume with the web identity token (removed from the child for an AWS identity).
pub const AWS_ROLE_ARN: &str = "AWS_ROLE_ARN";
/// An ambient role session name (removed from the child for an AWS identity).
pub const AWS_ROLE_SESSION_NAME: &str = "AWS_ROLE_SESSION_NAME";
/// The old name of `AWS_PROFILE` (removed from the child for an AWS identity).
pub const AWS_DEFAULT_PROFILE: &str = "AWS_DEFAULT_PROFILE";
/// A container credentials endpoint (removed from the child, as all `AWS_CONTAINER_*` are).
pub const AWS_CONTAINER_CREDENTIALS_FULL_URI: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
/// A container credentials endpoint path (removed from the child, as all `AWS_CONTAINER_*` are).
pub const AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: &str = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";
/// The token a container credentials endpoint requires (set by `auth exec --serve` for its
/// child, with `AWS_CONTAINER_CREDENTIALS_FULL_URI`; removed from other children).
pub const AWS_CONTAINER_AUTHORIZATION_TOKEN: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN";

/// Variables that would compete with the isolated AWS profile, removed from the child.
pub const AWS_COMPETING: &[&str] = &[
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN,
    AWS_SECURITY_TOKEN,
    AWS_WEB_IDENTITY_TOKEN_FILE,
    AWS_ROLE_ARN,
    AWS_ROLE_SESSION_NAME,
    AWS_DEFAULT_PROFILE,
];
/// Prefixes of AWS variables removed from the child (container credential endpoints).
pub const AWS_COMPETING_PREFIXES: &[&str] = &["AWS_CONTAINER_"];

// Azure (CONTRACT A5): set for an Azure identity; every other ARM_*/AZURE_* is removed.
/// Set for an Azure identity with a subscription (the azurerm provider's name).
pub const ARM_SUBSCRIPTION_ID: &str = "ARM_SUBSCRIPTION_ID";
/// Set for an Azure identity: its tenant (the azurerm provider's name).
pub const ARM_TENANT_ID: &str = "ARM_TENANT_ID";
/// Set for an Azure OIDC identity: the application's client id (the azurerm provider's name).
pub const ARM_CLIENT_ID: &str = "ARM_CLIENT_ID";
/// Set for an Azure OIDC identity: `true`, so the azurerm provider uses OIDC.
pub const ARM_USE_OIDC: &str = "ARM_USE_OIDC";
/// Set for an Azure identity: whether the azurerm provider uses the `az` CLI's login.
pub const ARM_USE_CLI: &str = "ARM_USE_CLI";
/// Set for an Azure identity with a location (the azurerm provider's name).
pub const ARM_LOCATION: &str = "ARM_LOCATION";
/// Set for an Azure identity with a subscription (the Azure SDKs' name).
pub const AZURE_SUBSCRIPTION_ID: &str = "AZURE_SUBSCRIPTION_ID";
/// Set for an Azure identity: its tenant (the Azure SDKs' name).
pub const AZURE_TENANT_ID: &str = "AZURE_TENANT_ID";
/// Set for an Azure OIDC identity: the application's client id (the Azure SDKs' name).
pub const AZURE_CLIENT_ID: &str = "AZURE_CLIENT_ID";
/// Set for an Azure identity with a location (the Azure SDKs' name).
pub const AZURE_LOCATION: &str = "AZURE_LOCATION";
/// Set for an Azure identity with a resource group (the Azure SDKs' name).
pub const AZURE_RESOURCE_GROUP: &str = "AZURE_RESOURCE_GROUP";
/// Set for an Azure identity with a resource group (the azurerm provider's name).
pub const ARM_RESOURCE_GROUP: &str = "ARM_RESOURCE_GROUP";
/// Set for an Azure OIDC identity in GitHub Actions: the token request URL, for the azurerm provider.
pub const ARM_OIDC_REQUEST_URL: &str = "ARM_OIDC_REQUEST_URL";
/// Set for an Azure OIDC identity in GitHub Actions: the token request's bearer (a secret).
pub const ARM_OIDC_REQUEST_TOKEN: &str = "ARM_OIDC_REQUEST_TOKEN";
/// Set for an Azure OIDC identity: the file holding the federated token (the azurerm provider's name).
pub const ARM_OIDC_TOKEN_FILE_PATH: &str = "ARM_OIDC_TOKEN_FILE_PATH";
/// The file holding the federated token (the Azure SDKs' name): read, and set for an Azure OIDC identity.
pub const AZURE_FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";
/// An Azure client secret (a secret wherever it appears; removed from the child for an Azure identity).
pub const ARM_CLIENT_SECRET: &str = "ARM_CLIENT_SECRET";
/// An Azure OIDC token given directly (a secret; removed from the child for an Azure identity).
pub const ARM_OIDC_TOKEN: &str = "ARM_OIDC_TOKEN";
/// An Azure client secret, the SDKs' name (a secret; removed from the child for an Azure identity).
pub const AZURE_CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
/// Which Azure cloud the azurerm provider uses: kept for the child, and set from a provider's `cloud_environment`.
pub const ARM_ENVIRONMENT: &str = "ARM_ENVIRONMENT";
/// The Azure SDKs' twin of `ARM_ENVIRONMENT`, set from a provider's `cloud_environment` (as Atmos does).
pub const AZURE_ENVIRONMENT: &str = "AZURE_ENVIRONMENT";
/// The metadata host the azurerm provider reads its cloud from: kept for the child.
pub const ARM_METADATA_HOSTNAME: &str = "ARM_METADATA_HOSTNAME";
/// The `az` CLI's configuration directory (profile, MSAL token cache).
pub const AZURE_CONFIG_DIR: &str = "AZURE_CONFIG_DIR";
/// The Microsoft identity platform's host (sovereign clouds; loopback in tests).
pub const AZURE_AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";
/// Which Azure cloud: kept for the child, as they choose the cloud, not the identity.
pub const AZURE_CLOUD_SELECTORS: &[&str] = &[ARM_ENVIRONMENT, ARM_METADATA_HOSTNAME, AZURE_AUTHORITY_HOST];
/// Prefixes of Azure variables removed from the child (but the ones set or kept).
pub const AZURE_COMPETING_PREFIXES: &[&str] = &["ARM_", "AZURE_"];

// GCP (CONTRACT A5): set for a GCP identity; every other GOOGLE_*/CLOUDSDK_* is removed.
/// Set for a GCP identity with a project (the client libraries' name).
pub const GOOGLE_CLOUD_PROJECT: &str = "GOOGLE_CLOUD_PROJECT";
/// Set for a GCP identity with a project (gcloud's name).
pub const CLOUDSDK_CORE_PROJECT: &str = "CLOUDSDK_CORE_PROJECT";
/// Set for a GCP identity with a region (the client libraries' name).
pub const GOOGLE_CLOUD_REGION: &str = "GOOGLE_CLOUD_REGION";
/// Set for a GCP identity with a region (gcloud's name).
pub const CLOUDSDK_COMPUTE_REGION: &str = "CLOUDSDK_COMPUTE_REGION";
/// Set for a GCP identity with a zone (gcloud's name).
pub const CLOUDSDK_COMPUTE_ZONE: &str = "CLOUDSDK_COMPUTE_ZONE";
/// Set for a GCP identity with a project (the google provider's name).
pub const GOOGLE_PROJECT: &str = "GOOGLE_PROJECT";
/// Set for a GCP identity with a project (an older name); removed otherwise.
pub const GCLOUD_PROJECT: &str = "GCLOUD_PROJECT";
/// Set for a GCP identity with a region (the google provider's name).
pub const GOOGLE_REGION: &str = "GOOGLE_REGION";
/// Set for a GCP identity with a zone (the client libraries' name).
pub const GOOGLE_CLOUD_ZONE: &str = "GOOGLE_CLOUD_ZONE";
/// Set for a GCP identity with a zone (the google provider's name).
pub const GOOGLE_ZONE: &str = "GOOGLE_ZONE";
/// Application default credentials: read, and set for a GCP identity to its isolated file.
pub const GOOGLE_APPLICATION_CREDENTIALS: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// A GCP access token given directly (a secret; removed from the child for a GCP identity).
pub const GOOGLE_OAUTH_ACCESS_TOKEN: &str = "GOOGLE_OAUTH_ACCESS_TOKEN";
/// gcloud's configuration directory: an isolated one per identity.
pub const CLOUDSDK_CONFIG: &str = "CLOUDSDK_CONFIG";
/// Set for a GCP identity: the gcloud configuration in its isolated directory.
pub const CLOUDSDK_ACTIVE_CONFIG_NAME: &str = "CLOUDSDK_ACTIVE_CONFIG_NAME";
/// GCP variables outside the removed prefixes that are removed from the child.
pub const GCP_COMPETING: &[&str] = &[GCLOUD_PROJECT];
/// Prefixes of GCP variables removed from the child (but the ones set).
pub const GCP_COMPETING_PREFIXES: &[&str] = &["GOOGLE_", "CLOUDSDK_"];
/// Google STS's token URL, for private endpoints and tests (https, or http to loopback).
pub const TFAUTH_GOOGLE_STS_URL: &str = "TFAUTH_GOOGLE_STS_URL";
/// The IAM Credentials base URL, for private endpoints and tests.
pub const TFAUTH_GOOGLE_IAM_CREDENTIALS_URL: &str = "TFAUTH_GOOGLE_IAM_CREDENTIALS_URL";
/// The GKE container API's base URL (`gcp/gke` integrations), for private endpoints and tests.
pub const TFAUTH_GOOGLE_CONTAINER_URL: &str = "TFAUTH_GOOGLE_CONTAINER_URL";

// The machine and the tools around tfauth.
/// The login shell `tfauth auth shell` starts when `--shell` is not given.
pub const SHELL: &str = "SHELL";
/// In CI (set, and not `false`): no terminal prompts, no browser.
pub const CI: &str = "CI";
/// Disables opening a browser for device-code and `azure/interactive` logins (any value but `0` or `false`).
pub const TFAUTH_NO_BROWSER: &str = "TFAUTH_NO_BROWSER";
/// The browser to open for device-code and `azure/interactive` logins (`:`-separated; `%s` marks the URL).
pub const BROWSER: &str = "BROWSER";
/// The D-Bus session bus the system keyring is reached on (named in messages).
pub const DBUS_SESSION_BUS_ADDRESS: &str = "DBUS_SESSION_BUS_ADDRESS";
/// The file `tfauth auth env --format github` appends to (set by GitHub Actions).
pub const GITHUB_ENV: &str = "GITHUB_ENV";
/// The GitHub user running a workflow: part of the default AWS role session name.
pub const GITHUB_ACTOR: &str = "GITHUB_ACTOR";
/// The user name: part of the default AWS role session name outside GitHub Actions.
pub const USER: &str = "USER";
/// The login name, when `USER` is not set: part of the default AWS role session name.
pub const LOGNAME: &str = "LOGNAME";
/// An HTTPS proxy: part of what decides a remembered failure's context.
pub const HTTPS_PROXY: &str = "HTTPS_PROXY";
/// The lowercase spelling of `HTTPS_PROXY`.
pub const HTTPS_PROXY_LOWERCASE: &str = "https_proxy";
/// An HTTP proxy: part of what decides a remembered failure's context.
pub const HTTP_PROXY: &str = "HTTP_PROXY";
/// The lowercase spelling of `HTTP_PROXY`.
pub const HTTP_PROXY_LOWERCASE: &str = "http_proxy";
/// Hosts not to proxy: part of what decides a remembered failure's context.
pub const NO_PROXY: &str = "NO_PROXY";
/// The lowercase spelling of `NO_PROXY`.
pub const NO_PROXY_LOWERCASE: &str = "no_proxy";

/// The values that disable auth when given as an identity (any case).
pub const IDENTITY_DISABLED_VALUES: &[&str] = &["false", "0", "no", "off"];

/// A snapshot of the process environment. Values that are not UTF-8 are kept only for
/// passing through to children; lookups see them as unset.
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// Captures the current process environment.
    pub fn capture() -> Env {
        let vars = std::env::vars_os()
            .filter_map(|(k, v): (OsString, OsString)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Env { vars }
    }
    /// Only the named variables of the process's environment (a warm path that must not
    /// pay for copying all of them).
    pub fn capture_only(names: &[&str]) -> Env {
        let vars =
            names.iter().filter_map(|k| Some((k.to_string(), std::env::var_os(k)?.into_string().ok()?))).collect();
        Env { vars }
    }
    /// An environment built from pairs, for tests.
    pub fn from_pairs<I, K, V>(pairs: I) -> Env
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Env { vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }
    /// The value of `name`, if set and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }
    /// The value of `name` even when empty.
    pub fn get_raw(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
    /// The same environment with `name` set to `value`.
    pub fn with(&self, name: &str, value: &str) -> Env {
        let mut vars = self.vars.clone();
        vars.insert(name.to_string(), value.to_string());
        Env { vars }
    }
    /// The same environment without `name`.
    pub fn without(&self, name: &str) -> Env {
        let mut vars = self.vars.clone();
        vars.remove(name);
        Env { vars }
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Whether an identity value (from `--identity` or `ATMOS_IDENTITY`) means "no auth".
pub fn is_identity_disabled(value: &str) -> bool {
    IDENTITY_DISABLED_VALUES.iter().any(|v| v.eq_ignore_ascii_case(value.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disable_values_any_case() {
        for v in ["false", "FALSE", "0", "No", "oFF", " off "] {
            assert!(is_identity_disabled(v), "{v}");
        }
        for v in ["", "true", "acme/admin", "nope", "offline"] {
            assert!(!is_identity_disabled(v), "{v}");
        }
    }

    #[test]
    fn empty_values_read_as_unset() {
        let env = Env::from_pairs([("A", ""), ("B", "x")]);
        assert_eq!(env.get("A"), None);
        assert_eq!(env.get_raw("A"), Some(""));
        assert_eq!(env.get("B"), Some("x"));
    }
}
