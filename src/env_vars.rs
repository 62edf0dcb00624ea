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
/// The terraform (or tofu) executable to run.
pub const ATMOS_COMPONENTS_TERRAFORM_COMMAND: &str = "ATMOS_COMPONENTS_TERRAFORM_COMMAND";
/// Log level for tfauth's own messages (trace, debug, info, warn, error).
pub const ATMOS_LOGS_LEVEL: &str = "ATMOS_LOGS_LEVEL";
/// Where log lines go when atmos.yaml does not say.
pub const ATMOS_LOGS_FILE: &str = "ATMOS_LOGS_FILE";
/// Chooses the keyring (`memory`, `file` or `system`); wins over `auth.keyring.type`.
pub const ATMOS_KEYRING_TYPE: &str = "ATMOS_KEYRING_TYPE";
/// The file keyring's password, unless `auth.keyring.spec.password_env` names another variable.
pub const ATMOS_KEYRING_PASSWORD: &str = "ATMOS_KEYRING_PASSWORD";
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
/// Endpoint URL of ECR (GetAuthorizationToken).
pub const AWS_ENDPOINT_URL_ECR: &str = "AWS_ENDPOINT_URL_ECR";

/// A GitHub Actions OIDC token given directly, used instead of requesting one.
pub const ACTIONS_ID_TOKEN: &str = "ACTIONS_ID_TOKEN";
/// GitHub Actions' URL for requesting an OIDC token (set by the runner with `id-token: write`).
pub const ACTIONS_ID_TOKEN_REQUEST_URL: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
/// The bearer token for `ACTIONS_ID_TOKEN_REQUEST_URL` (set by the runner).
pub const ACTIONS_ID_TOKEN_REQUEST_TOKEN: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";

/// Docker's configuration directory: set to the realm's isolated one for an identity with
/// aws/ecr integrations once a login has been written there.
pub const DOCKER_CONFIG: &str = "DOCKER_CONFIG";

/// Variables that would compete with the isolated AWS profile, removed from the child.
pub const AWS_COMPETING: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_DEFAULT_PROFILE",
];
/// Prefixes of AWS variables removed from the child (container credential endpoints).
pub const AWS_COMPETING_PREFIXES: &[&str] = &["AWS_CONTAINER_"];

// Azure (CONTRACT A5): set for an Azure identity; every other ARM_*/AZURE_* is removed.
pub const ARM_SUBSCRIPTION_ID: &str = "ARM_SUBSCRIPTION_ID";
pub const ARM_TENANT_ID: &str = "ARM_TENANT_ID";
pub const ARM_CLIENT_ID: &str = "ARM_CLIENT_ID";
pub const ARM_USE_OIDC: &str = "ARM_USE_OIDC";
pub const ARM_USE_CLI: &str = "ARM_USE_CLI";
pub const ARM_LOCATION: &str = "ARM_LOCATION";
pub const AZURE_SUBSCRIPTION_ID: &str = "AZURE_SUBSCRIPTION_ID";
pub const AZURE_TENANT_ID: &str = "AZURE_TENANT_ID";
pub const AZURE_CLIENT_ID: &str = "AZURE_CLIENT_ID";
pub const AZURE_LOCATION: &str = "AZURE_LOCATION";
pub const AZURE_RESOURCE_GROUP: &str = "AZURE_RESOURCE_GROUP";
pub const ARM_RESOURCE_GROUP: &str = "ARM_RESOURCE_GROUP";
pub const ARM_OIDC_REQUEST_URL: &str = "ARM_OIDC_REQUEST_URL";
pub const ARM_OIDC_REQUEST_TOKEN: &str = "ARM_OIDC_REQUEST_TOKEN";
pub const ARM_OIDC_TOKEN_FILE_PATH: &str = "ARM_OIDC_TOKEN_FILE_PATH";
pub const AZURE_FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";
/// The `az` CLI's configuration directory (profile, MSAL token cache).
pub const AZURE_CONFIG_DIR: &str = "AZURE_CONFIG_DIR";
/// The Microsoft identity platform's host (sovereign clouds; loopback in tests).
pub const AZURE_AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";
/// Which Azure cloud: kept for the child, as they choose the cloud, not the identity.
pub const AZURE_CLOUD_SELECTORS: &[&str] = &["ARM_ENVIRONMENT", "ARM_METADATA_HOSTNAME", AZURE_AUTHORITY_HOST];
pub const AZURE_COMPETING_PREFIXES: &[&str] = &["ARM_", "AZURE_"];

// GCP (CONTRACT A5): set for a GCP identity; every other GOOGLE_*/CLOUDSDK_* is removed.
pub const GOOGLE_CLOUD_PROJECT: &str = "GOOGLE_CLOUD_PROJECT";
pub const CLOUDSDK_CORE_PROJECT: &str = "CLOUDSDK_CORE_PROJECT";
pub const GOOGLE_CLOUD_REGION: &str = "GOOGLE_CLOUD_REGION";
pub const CLOUDSDK_COMPUTE_REGION: &str = "CLOUDSDK_COMPUTE_REGION";
pub const CLOUDSDK_COMPUTE_ZONE: &str = "CLOUDSDK_COMPUTE_ZONE";
pub const GOOGLE_PROJECT: &str = "GOOGLE_PROJECT";
pub const GCLOUD_PROJECT: &str = "GCLOUD_PROJECT";
pub const GOOGLE_REGION: &str = "GOOGLE_REGION";
pub const GOOGLE_CLOUD_ZONE: &str = "GOOGLE_CLOUD_ZONE";
pub const GOOGLE_ZONE: &str = "GOOGLE_ZONE";
pub const GOOGLE_APPLICATION_CREDENTIALS: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// gcloud's configuration directory: an isolated one per identity.
pub const CLOUDSDK_CONFIG: &str = "CLOUDSDK_CONFIG";
pub const CLOUDSDK_ACTIVE_CONFIG_NAME: &str = "CLOUDSDK_ACTIVE_CONFIG_NAME";
pub const GCP_COMPETING: &[&str] = &[GCLOUD_PROJECT];
pub const GCP_COMPETING_PREFIXES: &[&str] = &["GOOGLE_", "CLOUDSDK_"];
/// Google STS's token URL, for private endpoints and tests (https, or http to loopback).
pub const TFAUTH_GOOGLE_STS_URL: &str = "TFAUTH_GOOGLE_STS_URL";
/// The IAM Credentials base URL, for private endpoints and tests.
pub const TFAUTH_GOOGLE_IAM_CREDENTIALS_URL: &str = "TFAUTH_GOOGLE_IAM_CREDENTIALS_URL";

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
