//! The typed `auth:` section's parts: clouds, the known kinds, providers, identities,
//! integrations, and the [`Problem`] every check reports.
//!
//! Why it exists: every later stage (identity chains, providers, output) reads these types,
//! not YAML. Plain data with small lookups; it must not parse or validate.

use super::*;

/// Which cloud a provider or identity yields credentials for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cloud {
    Aws,
    Azure,
    Gcp,
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cloud::Aws => "AWS",
            Cloud::Azure => "Azure",
            Cloud::Gcp => "GCP",
        })
    }
}

pub const PROVIDER_KINDS: &[&str] = &[
    "aws/iam-identity-center",
    "aws/saml",
    "github/oidc",
    "azure/cli",
    "azure/oidc",
    "azure/device-code",
    "azure/interactive",
    "gcp/adc",
    "gcp/workload-identity-federation",
];

pub const IDENTITY_KINDS: &[&str] = &[
    "aws/permission-set",
    "aws/assume-role",
    "aws/assume-root",
    "aws/user",
    "aws/ambient",
    "azure/subscription",
    "gcp/service-account",
    "gcp/project",
];

pub const INTEGRATION_KINDS: &[&str] = &["aws/ecr", "aws/ecr-public", "aws/eks", "azure/acr", "azure/aks", "gcp/gke"];

/// Kinds Atmos knows that tfauth reads but cannot use yet: accepted (listed, described, a
/// warning at validate) and refused only by a run whose chain needs one (exit 69).
pub const UNIMPLEMENTED_PROVIDER_KINDS: &[&str] = &["atmos/pro"];
pub const UNIMPLEMENTED_IDENTITY_KINDS: &[&str] =
    &["ambient", "atmos/pro", "aws/emulator", "azure/emulator", "gcp/emulator", "kubernetes/emulator"];
pub const UNIMPLEMENTED_INTEGRATION_KINDS: &[&str] = &["github/sts"];

/// What every "cannot do this yet" message ends with, so users (and tests) can find them.
pub const NOT_SUPPORTED_YET: &str = "not supported by tfauth yet";

/// The root task policies AWS had published when this was written (for hints: any policy
/// under [`ROOT_TASK_POLICY_PREFIX`] is accepted, as Atmos does, so new ones work).
pub const ROOT_TASK_POLICIES: &[&str] = &[
    "IAMAuditRootUserCredentials",
    "IAMCreateRootUserPassword",
    "IAMDeleteRootUserCredentials",
    "S3UnlockBucketPolicy",
    "SQSUnlockQueuePolicy",
];

/// Where AWS keeps the root task policies (`arn:<partition>:iam::aws:policy/root-task/`).
pub const ROOT_TASK_POLICY_PREFIX: &str = "policy/root-task/";

/// STS's limits for role sessions, in seconds.
pub const ASSUME_ROLE_MIN_SECS: u64 = 900;
pub const ASSUME_ROLE_MAX_SECS: u64 = 43_200;
pub const ASSUME_ROOT_MAX_SECS: u64 = 900;

/// The IdP dialects tfauth speaks, for an `aws/saml` provider's `driver`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SamlDriver {
    Okta,
    Adfs,
    /// A real Chromium-family browser the person signs in with (`providers::saml::browser`).
    Browser,
    /// One Atmos passes on (GoogleApps, KeyCloak, ...) that tfauth does not speak.
    Other(String),
}

impl SamlDriver {
    /// The configured driver, else the one the URL suggests (Atmos's fallbacks when it has
    /// no browser: okta.com, adfs, accounts.google.com; anything else is its Browser).
    pub fn of(configured: Option<&str>, url: &str) -> SamlDriver {
        let name = match configured {
            Some(d) => d.trim().to_string(),
            None if url.contains("okta.com") => "Okta".into(),
            None if url.to_ascii_lowercase().contains("adfs") => "ADFS".into(),
            None if url.contains("accounts.google.com") => "GoogleApps".into(),
            None => "Browser".into(),
        };
        match name.to_ascii_lowercase().as_str() {
            "okta" => SamlDriver::Okta,
            "adfs" => SamlDriver::Adfs,
            "browser" => SamlDriver::Browser,
            _ => SamlDriver::Other(name),
        }
    }
}

/// The browser an `aws/saml` provider's Browser driver starts: `browser_type` (chromium,
/// chrome, msedge and their channels) and `browser_executable_path`, as Atmos names them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SamlBrowser {
    pub browser_type: Option<String>,
    pub executable: Option<std::path::PathBuf>,
}

impl SamlBrowser {
    /// A `browser_type` tfauth cannot drive (Firefox and WebKit do not speak the
    /// DevTools protocol): Chromium, Chrome and Edge, with their channels, are driven.
    pub fn unsupported_type(&self) -> Option<&str> {
        let t = self.browser_type.as_deref()?;
        let l = t.trim().to_ascii_lowercase();
        let driven = [
            "chromium",
            "chrome",
            "chrome-beta",
            "chrome-dev",
            "chrome-canary",
            "msedge",
            "msedge-beta",
            "msedge-dev",
            "msedge-canary",
        ];
        (!driven.contains(&l.as_str())).then_some(t)
    }
}

#[derive(Clone, Debug)]
pub enum ProviderKind {
    IamIdentityCenter {
        start_url: String,
        region: String,
        auto_provision: bool,
        /// `session.duration`: read, and not used (see the provider's parser for why).
        session_secs: Option<u64>,
        /// `spec.endpoint_url`: where the SSO-OIDC calls (sign-in, refresh) go.
        endpoint_url: Option<Located>,
    },
    Saml {
        /// The IdP's sign-in URL: the Okta app's embed link, or the ADFS
        /// `IdpInitiatedSignOn.aspx` page (https, or http to loopback).
        url: String,
        region: String,
        /// As written (Okta, ADFS, Browser, GoogleApps, ...); unset: guessed from the URL
        /// at run time ([`crate::providers::saml::Driver::of`]).
        driver: Option<String>,
        /// The IdP user name; unset: asked on the terminal.
        username: Option<String>,
        /// The IdP password (a literal or `!env`); unset: asked on the terminal, echo off.
        password: Option<Secret>,
        /// `session.duration`, as Atmos reads it; unset: the assertion's `SessionDuration`,
        /// else an hour.
        session_secs: Option<u64>,
        /// `browser_type` and `browser_executable_path`: the Browser driver's browser.
        browser: SamlBrowser,
    },
    GithubOidc {
        region: Option<String>,
        audience: Option<String>,
    },
    AzureCli {
        tenant_id: Option<String>,
        subscription_id: Option<String>,
        azure: AzureSpec,
    },
    AzureOidc {
        tenant_id: String,
        client_id: String,
        subscription_id: Option<String>,
        /// The audience of the GitHub token exchanged with Entra ID (`api://AzureADTokenExchange`).
        audience: Option<String>,
        /// `spec.token_file_path`: the federated token is read from this file (which some
        /// other tool keeps fresh) instead of being requested from GitHub.
        token_file_path: Option<Located>,
        azure: AzureSpec,
    },
    /// `azure/device-code` and `azure/interactive` (Atmos reads both with one spec): a
    /// user signed in to Entra ID, whose tokens go to the isolated `AZURE_CONFIG_DIR`.
    AzureDeviceCode {
        /// `azure/interactive`: the browser's authorization code flow with PKCE and a
        /// loopback redirect, in place of the device code.
        interactive: bool,
        tenant_id: String,
        client_id: Option<String>,
        subscription_id: Option<String>,
        azure: AzureSpec,
    },
    GcpAdc {
        project_id: Option<String>,
        region: Option<String>,
        scopes: Vec<String>,
    },
    GcpWif {
        project_id: Option<String>,
        project_number: String,
        pool_id: String,
        provider_id: String,
        service_account_email: Option<String>,
        token_source: TokenSource,
    },
}

/// A string value and where it was written, for errors found only when a run uses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    pub value: String,
    pub span: Span,
}

/// What every Azure provider kind may say besides its ids: `spec.location` and
/// `spec.cloud_environment`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AzureSpec {
    /// `ARM_LOCATION` unless the identity names its own.
    pub location: Option<String>,
    /// `None`: the public cloud.
    pub cloud: Option<AzureCloud>,
}

impl AzureSpec {
    pub fn cloud(&self) -> AzureCloud {
        self.cloud.unwrap_or(AzureCloud::Public)
    }
}

/// The Azure clouds Atmos knows (`cloud_environment`): where Entra ID signs in and which
/// Resource Manager the tokens are for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AzureCloud {
    #[default]
    Public,
    UsGovernment,
    China,
}

impl AzureCloud {
    pub const NAMES: &'static [&'static str] = &["public", "usgovernment", "china"];

    pub fn from_name(name: &str) -> Option<AzureCloud> {
        match name {
            "public" => Some(AzureCloud::Public),
            "usgovernment" => Some(AzureCloud::UsGovernment),
            "china" => Some(AzureCloud::China),
            _ => None,
        }
    }
    /// The name Atmos and azurerm's `ARM_ENVIRONMENT` use.
    pub fn name(self) -> &'static str {
        match self {
            AzureCloud::Public => "public",
            AzureCloud::UsGovernment => "usgovernment",
            AzureCloud::China => "china",
        }
    }
    /// The Microsoft identity platform's host in this cloud.
    pub fn authority_host(self) -> &'static str {
        match self {
            AzureCloud::Public => "https://login.microsoftonline.com",
            AzureCloud::UsGovernment => "https://login.microsoftonline.us",
            AzureCloud::China => "https://login.chinacloudapi.cn",
        }
    }
    /// The Resource Manager scope Terraform's azurerm needs tokens for.
    pub fn management_scope(self) -> &'static str {
        match self {
            AzureCloud::Public => "https://management.azure.com/.default",
            AzureCloud::UsGovernment => "https://management.usgovcloudapi.net/.default",
            AzureCloud::China => "https://management.chinacloudapi.cn/.default",
        }
    }
}

/// Where a `gcp/workload-identity-federation` provider gets the token it exchanges with
/// Google STS (`token_source`). Without `url`, `file` or `environment_variable`, the token
/// comes from GitHub Actions (`ACTIONS_ID_TOKEN_REQUEST_URL`/`TOKEN`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenSource {
    pub kind: TokenSourceKind,
    /// The audience asked of GitHub; default `https://iam.googleapis.com/<provider resource>`.
    pub audience: Option<String>,
    /// Hosts the token may be fetched from (empty: any https host).
    pub allowed_hosts: Vec<String>,
    /// The JSON field holding the token (`format: json`); `None`: the body is the token.
    pub json_field: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TokenSourceKind {
    /// GitHub Actions' OIDC token endpoint, from the runner's environment.
    #[default]
    GithubActions,
    /// Any URL, with headers (`type: url`).
    Url { url: String, headers: Vec<(String, String)> },
    /// A file another tool keeps fresh (`type: file`).
    File { path: String },
    /// A variable holding the token (`type: environment`).
    Environment { variable: String },
}

#[derive(Clone, Debug)]
pub struct Provider {
    pub name: String,
    pub kind_name: String,
    pub kind: Option<ProviderKind>,
    /// `default: true`: Atmos marks it in `auth list`, and selects nothing by it.
    pub default: bool,
    /// `tags`: labels for filtering lists (`auth list --tags`).
    pub tags: Vec<String>,
    /// `spec.files.base_path` of an AWS provider: the run's AWS files go under
    /// `<base_path>/<realm>/aws/<provider>/` instead of `<config home>/atmos/<realm>/...`.
    pub files_base_path: Option<Located>,
    pub span: Span,
}

impl Provider {
    pub fn cloud(&self) -> Option<Cloud> {
        provider_cloud(&self.kind_name)
    }
    pub fn region(&self) -> Option<&str> {
        match self.kind.as_ref()? {
            ProviderKind::IamIdentityCenter { region, .. } | ProviderKind::Saml { region, .. } => Some(region),
            ProviderKind::GithubOidc { region, .. } | ProviderKind::GcpAdc { region, .. } => region.as_deref(),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub enum AccountRef {
    Id(String),
    Name(String),
}

#[derive(Clone, Debug)]
pub enum IdentityKind {
    PermissionSet {
        permission_set: String,
        account: AccountRef,
    },
    AssumeRole {
        role_arn: String,
        external_id: Option<Secret>,
        duration_secs: Option<u64>,
        session_name: Option<String>,
    },
    AssumeRoot {
        target_principal: String,
        task_policy_arn: String,
        duration_secs: Option<u64>,
    },
    User {
        access_key_id: Option<Secret>,
        secret_access_key: Option<Secret>,
        mfa_arn: Option<String>,
        /// AWS's browser sign-in when the identity has no keys (Atmos's webflow).
        webflow_enabled: bool,
    },
    Ambient,
    AzureSubscription {
        subscription_id: String,
        location: Option<String>,
        resource_group: Option<String>,
    },
    GcpServiceAccount {
        email: String,
        lifetime_secs: Option<u64>,
        delegates: Vec<String>,
        scopes: Vec<String>,
        project_id: Option<String>,
    },
    GcpProject {
        project_id: String,
        region: Option<String>,
        zone: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    Provider(String, Span),
    Identity(String, Span),
}

#[derive(Clone, Debug)]
pub struct Identity {
    pub name: String,
    pub kind_name: String,
    pub kind: Option<IdentityKind>,
    pub via: Option<Via>,
    pub default: bool,
    /// `required: true`: authenticated for every run alongside the selected identity (for
    /// components that use more than one cloud), with its own variables.
    pub required: bool,
    /// Where `default: true` was set (the innermost level that set it).
    pub default_span: Option<Span>,
    /// `region` on the identity (or its principal): a component may override it.
    pub region: Option<String>,
    /// `env:`, the variables Atmos adds to the run's environment for this identity, in
    /// order (a later one of the same name wins). Names auth owns were dropped with a warning.
    pub env: Vec<(String, String)>,
    /// `tags`, `alias`, `session` and `spec.endpoint_url`.
    pub extra: IdentityExtra,
    pub span: Span,
}

/// What any identity may carry besides its kind's fields (Atmos's `Identity` struct).
#[derive(Clone, Debug, Default)]
pub struct IdentityExtra {
    /// `tags`: labels for filtering lists (`auth list --tags`).
    pub tags: Vec<String>,
    /// `alias`: another name Atmos shows beside it in `auth list` (it selects nothing).
    pub alias: Option<String>,
    /// `session.duration`, in seconds: an aws/user's GetSessionToken asks for it.
    pub session_secs: Option<u64>,
    /// `spec.endpoint_url` of an AWS identity: where its own calls go (for a permission
    /// set, the portal's GetRoleCredentials and ListAccounts; else its STS call).
    pub endpoint_url: Option<Located>,
}

impl Identity {
    pub fn cloud(&self) -> Option<Cloud> {
        identity_cloud(&self.kind_name)
    }
    /// aws/user, aws/ambient, ambient and the emulators stand alone: they have no `via`.
    pub fn is_standalone(&self) -> bool {
        is_standalone_kind(&self.kind_name)
    }
}

/// What an integration does with its identity's session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntegrationKind {
    /// `aws/ecr`: a Docker login to one ECR registry (`spec.registry`).
    Ecr { account_id: String, region: String },
    /// `aws/ecr-public`: a Docker login to `public.ecr.aws` (the token always comes from
    /// us-east-1; `spec.registry.region`, when given, must be one where ECR Public is).
    EcrPublic,
    /// `azure/acr`: a Docker login to `<name>.azurecr.io`, an ACR refresh token exchanged
    /// for the identity's Entra ID access token (what `az acr login` does).
    Acr { login_server: String },
    /// `aws/eks`: a kubeconfig entry for one EKS cluster (`spec.cluster`) whose user runs
    /// `tfauth aws eks token`.
    Eks(EksCluster),
    /// `gcp/gke`: a kubeconfig entry for one GKE cluster whose user runs `tfauth gcp gke
    /// token` (the GCP identity's access token).
    Gke(GkeCluster),
    /// `azure/aks`: a kubeconfig entry for one AKS cluster whose user runs `tfauth azure aks
    /// token` (an Entra ID token for the cluster's server application).
    Aks(AksCluster),
}

impl IntegrationKind {
    /// The kubeconfig settings and context alias of a Kubernetes integration.
    pub fn kube(&self) -> Option<(&KubeconfigSpec, Option<&str>)> {
        match self {
            IntegrationKind::Eks(c) => Some((&c.kubeconfig, c.alias.as_deref())),
            IntegrationKind::Gke(c) => Some((&c.kubeconfig, c.alias.as_deref())),
            IntegrationKind::Aks(c) => Some((&c.kubeconfig, c.alias.as_deref())),
            _ => None,
        }
    }
}

/// `spec.cluster.kubeconfig` of a Kubernetes integration, as Atmos reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeconfigSpec {
    /// `kubeconfig.path` as written (`~/` expands); `None`: Atmos's isolated file.
    pub path: Option<String>,
    /// `kubeconfig.mode`, an octal string in Atmos (default 0600).
    pub mode: u32,
    pub update: KubeconfigUpdate,
}

impl Default for KubeconfigSpec {
    fn default() -> Self {
        KubeconfigSpec { path: None, mode: DEFAULT_KUBECONFIG_MODE, update: KubeconfigUpdate::Merge }
    }
}

/// `spec.cluster` of an `aws/eks` integration, as Atmos reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EksCluster {
    pub name: String,
    pub region: String,
    /// The kubeconfig context's name (default: the cluster's ARN).
    pub alias: Option<String>,
    pub kubeconfig: KubeconfigSpec,
}

/// `spec.cluster` of a `gcp/gke` integration: Atmos requires all three of name, project
/// and location (a region or a zone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GkeCluster {
    pub name: String,
    pub project_id: String,
    pub location: String,
    /// The context's name (default: `projects/P/locations/L/clusters/N`).
    pub alias: Option<String>,
    pub kubeconfig: KubeconfigSpec,
}

/// `spec.cluster` of an `azure/aks` integration: name and resource group; the subscription
/// defaults to the identity's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AksCluster {
    pub name: String,
    pub resource_group: String,
    pub subscription_id: Option<String>,
    /// The context's name (default: the cluster's ARM resource id).
    pub alias: Option<String>,
    pub kubeconfig: KubeconfigSpec,
}

/// `kubeconfig.update`: how an existing kubeconfig takes the cluster's entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KubeconfigUpdate {
    /// Replace the entries of the same names, keep every other one (the default).
    #[default]
    Merge,
    /// Write a file that holds only this cluster.
    Replace,
    /// Like merge, but refuse when the cluster or context is already there.
    Error,
}

/// The kubeconfig mode tfauth writes when `kubeconfig.mode` is not set (Atmos's).
pub const DEFAULT_KUBECONFIG_MODE: u32 = 0o600;

/// An entry of `auth.integrations`: credentials derived from an identity's session for
/// another tool (a Docker login to ECR), made after the identity logs in.
#[derive(Clone, Debug)]
pub struct Integration {
    pub name: String,
    pub kind_name: String,
    /// `None` when a field is wrong (its problem says which).
    pub kind: Option<IntegrationKind>,
    /// `via.identity`: whose session it uses.
    pub via: Option<(String, Span)>,
    /// `via.provider` (Atmos binds such an integration to every identity rooted there):
    /// read, listed, and refused by a run, since tfauth does not do it yet.
    pub via_provider: Option<(String, Span)>,
    /// `spec.auto_provision` (default true): run after `auth login` of its identity.
    pub auto_provision: bool,
    pub span: Span,
}

impl Integration {
    /// Whether it comes via `identity` (any case).
    pub fn is_via(&self, identity: &str) -> bool {
        self.via.as_ref().is_some_and(|(v, _)| v.eq_ignore_ascii_case(identity))
    }
}

/// Identity kinds that hold or find their own credentials (Atmos's standalone kinds).
pub fn is_standalone_kind(kind: &str) -> bool {
    matches!(kind, "aws/user" | "aws/ambient" | "ambient") || kind.ends_with("/emulator")
}

pub fn provider_cloud(kind: &str) -> Option<Cloud> {
    match kind {
        "aws/iam-identity-center" | "aws/saml" | "github/oidc" => Some(Cloud::Aws),
        "azure/cli" | "azure/oidc" | "azure/device-code" | "azure/interactive" => Some(Cloud::Azure),
        "gcp/adc" | "gcp/workload-identity-federation" => Some(Cloud::Gcp),
        _ => None,
    }
}

pub fn identity_cloud(kind: &str) -> Option<Cloud> {
    if kind.ends_with("/emulator") {
        // An emulator's credentials are local stand-ins: no chain links to or from them.
        return None;
    }
    match kind.split('/').next() {
        Some("aws") => Some(Cloud::Aws),
        Some("azure") => Some(Cloud::Azure),
        Some("gcp") => Some(Cloud::Gcp),
        _ => None,
    }
}

/// What a problem is about, so a run can ignore problems outside its chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    Provider(String),
    Identity(String),
    Integration(String),
    General,
}

/// What the parser (and `identity::chain`) noticed that is not wrong, as Atmos reads it.
/// `warnings`: accepted as Atmos accepts them, with a note (a `via` ignored, a duration
/// capped); shown by `tfauth auth validate`, and by a run whose chain they touch.
/// `unsupported`: what Atmos can do and tfauth cannot yet (a kind, a link): a warning at
/// validate, and a refusal (exit 69) of a run whose chain needs it, at its file and line.
#[derive(Clone, Debug, Default)]
pub struct Notes {
    pub warnings: Vec<Problem>,
    pub unsupported: Vec<Problem>,
}

impl Notes {
    /// Everything to show as a warning when the whole configuration is checked.
    pub fn all(&self) -> impl Iterator<Item = &Problem> {
        self.warnings.iter().chain(&self.unsupported)
    }
}

/// One thing wrong with the auth configuration.
#[derive(Clone, Debug)]
pub struct Problem {
    pub subject: Subject,
    pub span: Option<Span>,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.span {
            Some(s) if !s.is_synthetic() => write!(f, "{s}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}
