//! Typed providers, identities and integrations, parsed from a merged `auth:` node with every
//! problem collected. See CONTRACT A2 for the kinds and their fields.

use crate::secret::Secret;
use crate::yaml::{Node, Span, Value};
use std::fmt;

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

pub const INTEGRATION_KINDS: &[&str] = &["aws/ecr"];

/// The task policies `sts:AssumeRoot` accepts.
pub const ROOT_TASK_POLICIES: &[&str] = &[
    "IAMAuditRootUserCredentials",
    "IAMCreateRootUserPassword",
    "IAMDeleteRootUserCredentials",
    "S3UnlockBucketPolicy",
    "SQSUnlockQueuePolicy",
];

/// STS's limits for role sessions, in seconds.
pub const ASSUME_ROLE_MIN_SECS: u64 = 900;
pub const ASSUME_ROLE_MAX_SECS: u64 = 43_200;
pub const ASSUME_ROOT_MAX_SECS: u64 = 900;

#[derive(Clone, Debug)]
pub enum ProviderKind {
    IamIdentityCenter {
        start_url: String,
        region: String,
        auto_provision: bool,
        session_secs: Option<u64>,
    },
    Saml {
        url: String,
        region: String,
        driver: Option<String>,
    },
    GithubOidc {
        region: Option<String>,
        audience: Option<String>,
    },
    AzureCli {
        tenant_id: Option<String>,
        subscription_id: Option<String>,
    },
    AzureOidc {
        tenant_id: String,
        client_id: String,
        subscription_id: Option<String>,
        /// The audience of the GitHub token exchanged with Entra ID (`api://AzureADTokenExchange`).
        audience: Option<String>,
    },
    AzureDeviceCode {
        tenant_id: String,
        client_id: Option<String>,
        subscription_id: Option<String>,
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
    pub span: Span,
}

impl Identity {
    pub fn cloud(&self) -> Option<Cloud> {
        identity_cloud(&self.kind_name)
    }
    /// aws/user and aws/ambient stand alone: they have no `via`.
    pub fn is_standalone(&self) -> bool {
        matches!(self.kind_name.as_str(), "aws/user" | "aws/ambient")
    }
}

/// What an integration does with its identity's session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntegrationKind {
    /// `aws/ecr`: a Docker login to one ECR registry (`spec.registry`).
    Ecr { account_id: String, region: String },
}

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

pub fn provider_cloud(kind: &str) -> Option<Cloud> {
    match kind {
        "aws/iam-identity-center" | "aws/saml" | "github/oidc" => Some(Cloud::Aws),
        "azure/cli" | "azure/oidc" | "azure/device-code" => Some(Cloud::Azure),
        "gcp/adc" | "gcp/workload-identity-federation" => Some(Cloud::Gcp),
        _ => None,
    }
}

pub fn identity_cloud(kind: &str) -> Option<Cloud> {
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

/// The typed `auth:` section.
#[derive(Clone, Debug, Default)]
pub struct AuthConfig {
    pub providers: Vec<Provider>,
    pub identities: Vec<Identity>,
    pub integrations: Vec<Integration>,
    pub realm: Option<(String, Span)>,
    pub keyring_type: Option<String>,
}

impl AuthConfig {
    /// The provider called `name` (any case).
    pub fn provider(&self, name: &str) -> Option<&Provider> {
        self.providers
            .iter()
            .find(|p| p.name == name)
            .or_else(|| self.providers.iter().find(|p| p.name.eq_ignore_ascii_case(name)))
    }
    /// The identity called `name` (any case).
    pub fn identity(&self, name: &str) -> Option<&Identity> {
        self.identities
            .iter()
            .find(|i| i.name == name)
            .or_else(|| self.identities.iter().find(|i| i.name.eq_ignore_ascii_case(name)))
    }
    pub fn identity_names(&self) -> Vec<String> {
        self.identities.iter().map(|i| i.name.clone()).collect()
    }
    /// The integration called `name` (any case).
    pub fn integration(&self, name: &str) -> Option<&Integration> {
        self.integrations
            .iter()
            .find(|i| i.name == name)
            .or_else(|| self.integrations.iter().find(|i| i.name.eq_ignore_ascii_case(name)))
    }

    /// Parses `auth` (null means no auth), collecting every problem.
    pub fn parse(auth: Option<&Node>) -> (AuthConfig, Vec<Problem>) {
        let mut out = AuthConfig::default();
        let mut problems = Vec::new();
        let Some(auth) = auth.filter(|a| !a.is_null()) else {
            return (out, problems);
        };
        let Some(map) = auth.as_map() else {
            problems.push(general(auth, format!("`auth` must be a mapping, not {}", auth.type_name())));
            return (out, problems);
        };
        if let Some(realm) = map.get("realm").filter(|n| !n.is_null()) {
            match realm.as_str() {
                Some(r) if is_valid_realm(r) => out.realm = Some((r.to_string(), realm.span.clone())),
                _ => problems.push(Problem {
                    subject: Subject::General,
                    span: Some(realm.span.clone()),
                    message: "`auth.realm` must be letters, digits, `-`, `_` or `.` (it names a directory)".into(),
                    hint: None,
                }),
            }
        }
        if let Some(k) = auth.get_path(&["keyring", "type"]).filter(|n| !n.is_null()) {
            match k.as_str() {
                Some(t @ ("system" | "file" | "memory")) => out.keyring_type = Some(t.to_string()),
                _ => problems.push(Problem {
                    subject: Subject::General,
                    span: Some(k.span.clone()),
                    message: format!("`auth.keyring.type` must be system, file or memory, not {}", describe_value(k)),
                    hint: None,
                }),
            }
        }
        if let Some(p) = map.get("providers").filter(|n| !n.is_null()) {
            match p.as_map() {
                None => problems.push(general(p, format!("`auth.providers` must be a mapping, not {}", p.type_name()))),
                Some(providers) => {
                    check_duplicate_names("provider", providers, &mut problems);
                    for (name, node) in providers {
                        if let Some(provider) = parse_provider(name, node, &mut problems) {
                            out.providers.push(provider);
                        }
                    }
                }
            }
        }
        if let Some(i) = map.get("identities").filter(|n| !n.is_null()) {
            match i.as_map() {
                None => {
                    problems.push(general(i, format!("`auth.identities` must be a mapping, not {}", i.type_name())))
                }
                Some(identities) => {
                    check_duplicate_names("identity", identities, &mut problems);
                    for (name, node) in identities {
                        if let Some(identity) = parse_identity(name, node, &mut problems) {
                            out.identities.push(identity);
                        }
                    }
                }
            }
        }
        if let Some(i) = map.get("integrations").filter(|n| !n.is_null()) {
            match i.as_map() {
                None => {
                    problems.push(general(i, format!("`auth.integrations` must be a mapping, not {}", i.type_name())))
                }
                Some(integrations) => {
                    check_duplicate_names("integration", integrations, &mut problems);
                    for (name, node) in integrations {
                        if let Some(integration) = parse_integration(name, node, &mut problems) {
                            out.integrations.push(integration);
                        }
                    }
                }
            }
        }
        check_references(&out, &mut problems);
        check_integrations(&out, &mut problems);
        (out, problems)
    }
}

pub fn is_valid_realm(r: &str) -> bool {
    !r.is_empty()
        && r != "."
        && r != ".."
        && r.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn general(n: &Node, message: String) -> Problem {
    Problem { subject: Subject::General, span: Some(n.span.clone()), message, hint: None }
}

fn describe_value(n: &Node) -> String {
    match n.scalar_string() {
        Some(s) => format!("`{s}`"),
        None => n.type_name().to_string(),
    }
}

fn check_duplicate_names(what: &str, map: &crate::yaml::Map, problems: &mut Vec<Problem>) {
    let names: Vec<&String> = map.keys().collect();
    for (i, a) in names.iter().enumerate() {
        if a.trim().is_empty() {
            problems.push(Problem {
                subject: Subject::General,
                span: map.get(*a).map(|n| n.span.clone()),
                message: format!("an {what} has an empty name"),
                hint: None,
            });
        }
        for b in &names[i + 1..] {
            if a.eq_ignore_ascii_case(b) {
                problems.push(Problem {
                    subject: match what {
                        "provider" => Subject::Provider(b.to_string()),
                        "integration" => Subject::Integration(b.to_string()),
                        _ => Subject::Identity(b.to_string()),
                    },
                    span: map.get(*b).map(|n| n.span.clone()),
                    message: format!(
                        "{what} names `{a}` and `{b}` differ only in case; names match case-insensitively"
                    ),
                    hint: Some(format!("rename or merge one of the two {what}s")),
                });
            }
        }
    }
}

/// Reads typed fields of one provider or identity, recording a problem for each bad one.
struct Fields<'a> {
    node: &'a Node,
    subject: Subject,
    what: String,
    problems: &'a mut Vec<Problem>,
}

impl<'a> Fields<'a> {
    fn problem(&mut self, span: &Span, message: String, hint: Option<String>) {
        self.problems.push(Problem { subject: self.subject.clone(), span: Some(span.clone()), message, hint });
    }

    /// The node at `path`, treating null as absent; an unset `!env` is reported.
    fn get(&mut self, path: &[&str]) -> Option<&'a Node> {
        let node: &'a Node = self.node;
        let n = node.get_path(path)?;
        if n.is_null() {
            if let Some(tag) = n.tag.as_deref().and_then(|t| t.strip_prefix("!env ")) {
                let (span, what) = (n.span.clone(), self.what.clone());
                self.problem(
                    &span,
                    format!("{what}: `{}` reads `!env {tag}`, which is not set", path.join(".")),
                    Some(format!("export {tag}, or give `!env {tag} DEFAULT` a default")),
                );
            }
            return None;
        }
        if let Some(tag) = n.tag.as_deref().filter(|t| *t != "!append") {
            let (span, what, tag) = (n.span.clone(), self.what.clone(), tag.to_string());
            self.problem(
                &span,
                format!("{what}: `{}` holds `{tag}`, which tfauth cannot resolve", path.join(".")),
                Some("write the value directly, or use !env".into()),
            );
            return None;
        }
        Some(n)
    }

    fn opt_str(&mut self, path: &[&str]) -> Option<String> {
        let n = self.get(path)?;
        match &n.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(_) | Value::Float(_) => n.scalar_string(),
            _ => {
                let (span, found, what) = (n.span.clone(), n.type_name(), self.what.clone());
                self.problem(&span, format!("{what}: `{}` must be a string, not {found}", path.join(".")), None);
                None
            }
        }
    }

    fn req_str(&mut self, path: &[&str]) -> Option<String> {
        let had_env = self.node.get_path(path).is_some_and(|n| n.is_null() && n.tag.is_some());
        let v = self.opt_str(path).filter(|s| !s.trim().is_empty());
        if v.is_none() && !had_env && self.node.get_path(path).is_none_or(|n| n.is_null() || n.as_str().is_some()) {
            let (span, what) = (self.node.span.clone(), self.what.clone());
            self.problem(
                &span,
                format!("{what} is missing `{}`", path.join(".")),
                Some(format!("add `{}` to its definition", path.join("."))),
            );
        }
        v
    }

    fn opt_bool(&mut self, path: &[&str]) -> Option<bool> {
        let n = self.get(path)?;
        match n.as_bool() {
            Some(b) => Some(b),
            None => {
                let (span, what, v) = (n.span.clone(), self.what.clone(), describe_value(n));
                self.problem(&span, format!("{what}: `{}` must be true or false, not {v}", path.join(".")), None);
                None
            }
        }
    }

    fn opt_duration(&mut self, path: &[&str]) -> Option<u64> {
        let n = self.get(path)?;
        let parsed = match &n.value {
            Value::Int(i) if *i >= 0 => Some(*i as u64),
            Value::Str(s) => parse_duration(s),
            _ => None,
        };
        if parsed.is_none() {
            let (span, what, v) = (n.span.clone(), self.what.clone(), describe_value(n));
            self.problem(
                &span,
                format!("{what}: `{}` is {v}, which is not a duration", path.join(".")),
                Some("write durations like 900s, 15m, 1h or 1h30m (or a number of seconds)".into()),
            );
        }
        parsed
    }

    fn opt_str_list(&mut self, path: &[&str]) -> Vec<String> {
        let Some(n) = self.get(path) else {
            return vec![];
        };
        if let Some(s) = n.as_str() {
            return vec![s.to_string()];
        }
        match n.as_seq() {
            Some(items) if items.iter().all(|i| i.as_str().is_some()) => {
                items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect()
            }
            _ => {
                let (span, what) = (n.span.clone(), self.what.clone());
                self.problem(&span, format!("{what}: `{}` must be a list of strings", path.join(".")), None);
                vec![]
            }
        }
    }

    /// A required field that must pass `check`, with a message saying what it should be.
    fn req_matching(&mut self, path: &[&str], check: fn(&str) -> bool, should_be: &str) -> Option<String> {
        let v = self.req_str(path)?;
        self.check_value(path, v, check, should_be)
    }

    fn opt_matching(&mut self, path: &[&str], check: fn(&str) -> bool, should_be: &str) -> Option<String> {
        let v = self.opt_str(path)?;
        self.check_value(path, v, check, should_be)
    }

    fn check_value(&mut self, path: &[&str], v: String, check: fn(&str) -> bool, should_be: &str) -> Option<String> {
        if check(&v) {
            return Some(v);
        }
        let span = self.node.get_path(path).map_or_else(|| self.node.span.clone(), |n| n.span.clone());
        let what = self.what.clone();
        self.problem(&span, format!("{what}: `{}` is `{v}`, which is not {should_be}", path.join(".")), None);
        None
    }

    /// A field that may sit under `spec:` or at the top level.
    fn spec_str(&mut self, key: &str) -> Option<String> {
        if self.node.get_path(&["spec", key]).is_some() { self.opt_str(&["spec", key]) } else { self.opt_str(&[key]) }
    }

    fn spec_req(&mut self, key: &str, check: fn(&str) -> bool, should_be: &str) -> Option<String> {
        if self.node.get(key).is_some() && self.node.get_path(&["spec", key]).is_none() {
            self.req_matching(&[key], check, should_be)
        } else {
            self.req_matching(&["spec", key], check, should_be)
        }
    }
}

fn parse_provider(name: &str, node: &Node, problems: &mut Vec<Problem>) -> Option<Provider> {
    let subject = Subject::Provider(name.to_string());
    if node.as_map().is_none() {
        problems.push(Problem {
            subject,
            span: Some(node.span.clone()),
            message: format!("provider `{name}` must be a mapping, not {}", node.type_name()),
            hint: None,
        });
        return None;
    }
    let mut f = Fields { node, subject: subject.clone(), what: format!("provider `{name}`"), problems };
    let kind_name = f.req_str(&["kind"])?;
    f.what = format!("provider `{name}` ({kind_name})");
    // A closure, so that a missing field (`?`) drops only the kind: the provider stays
    // defined, and its own problems, not "not defined", reach whoever chains from it.
    let mut typed = || match kind_name.as_str() {
        "aws/iam-identity-center" => {
            let start_url = f.req_matching(&["start_url"], is_https_url, "an https:// URL");
            let region = f.req_matching(&["region"], is_aws_region, "an AWS region such as us-east-1");
            let auto = f.opt_bool(&["auto_provision_identities"]).unwrap_or(false);
            let session = f.opt_duration(&["session", "duration"]);
            Some(ProviderKind::IamIdentityCenter {
                start_url: start_url?,
                region: region?,
                auto_provision: auto,
                session_secs: session,
            })
        }
        "aws/saml" => {
            let url = f.req_matching(&["url"], is_https_url, "an https:// URL");
            let region = f.req_matching(&["region"], is_aws_region, "an AWS region such as us-east-1");
            let driver = f.opt_matching(
                &["driver"],
                |d| matches!(d, "Browser" | "GoogleApps" | "Okta" | "ADFS"),
                "one of Browser, GoogleApps, Okta, ADFS",
            );
            Some(ProviderKind::Saml { url: url?, region: region?, driver })
        }
        "github/oidc" => {
            let region = f.opt_matching(&["region"], is_aws_region, "an AWS region such as us-east-1");
            let audience = f.spec_str("audience");
            Some(ProviderKind::GithubOidc { region, audience })
        }
        "azure/cli" => {
            let tenant_id = f.spec_str("tenant_id");
            let subscription_id = f.spec_str("subscription_id");
            for (k, v) in [("tenant_id", &tenant_id), ("subscription_id", &subscription_id)] {
                if let Some(v) = v
                    && !is_uuid(v)
                {
                    let span = node.span.clone();
                    f.problem(
                        &span,
                        format!("provider `{name}` (azure/cli): `{k}` is `{v}`, which is not a UUID"),
                        None,
                    );
                }
            }
            Some(ProviderKind::AzureCli { tenant_id, subscription_id })
        }
        "azure/oidc" | "azure/device-code" => {
            let tenant_id = f.spec_req("tenant_id", is_uuid, "a UUID");
            let client_id = if kind_name == "azure/oidc" {
                f.spec_req("client_id", is_uuid, "a UUID")
            } else {
                f.spec_str("client_id")
            };
            let subscription_id = f.spec_str("subscription_id");
            if kind_name == "azure/oidc" {
                let audience = f.spec_str("audience");
                Some(ProviderKind::AzureOidc {
                    tenant_id: tenant_id?,
                    client_id: client_id?,
                    subscription_id,
                    audience,
                })
            } else {
                Some(ProviderKind::AzureDeviceCode { tenant_id: tenant_id?, client_id, subscription_id })
            }
        }
        "gcp/adc" => {
            let scopes = if node.get_path(&["spec", "scopes"]).is_some() {
                f.opt_str_list(&["spec", "scopes"])
            } else {
                f.opt_str_list(&["scopes"])
            };
            Some(ProviderKind::GcpAdc { project_id: f.spec_str("project_id"), region: f.spec_str("region"), scopes })
        }
        "gcp/workload-identity-federation" => {
            let project_number = f.spec_req(
                "project_number",
                |s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()),
                "a project number (digits)",
            );
            let pool_id = f.spec_req("workload_identity_pool_id", |s| !s.is_empty(), "a pool id");
            let provider_id = f.spec_req("workload_identity_provider_id", |s| !s.is_empty(), "a provider id");
            let email = f.spec_str("service_account_email");
            if let Some(e) = &email
                && !is_email(e)
            {
                let span = node.span.clone();
                f.problem(
                    &span,
                    format!("provider `{name}`: `service_account_email` is `{e}`, which is not an email address"),
                    Some("use the service account's email, like ci@PROJECT.iam.gserviceaccount.com".into()),
                );
            }
            let token_source = parse_token_source(&mut f, node, name);
            Some(ProviderKind::GcpWif {
                project_id: f.spec_str("project_id"),
                project_number: project_number?,
                pool_id: pool_id?,
                provider_id: provider_id?,
                service_account_email: email.filter(|e| is_email(e)),
                token_source: token_source?,
            })
        }
        other => {
            unknown_kind(&mut f, node, "provider", other, PROVIDER_KINDS);
            None
        }
    };
    let kind = typed();
    Some(Provider { name: name.to_string(), kind_name, kind, span: node.span.clone() })
}

fn parse_identity(name: &str, node: &Node, problems: &mut Vec<Problem>) -> Option<Identity> {
    let subject = Subject::Identity(name.to_string());
    if node.as_map().is_none() {
        problems.push(Problem {
            subject,
            span: Some(node.span.clone()),
            message: format!("identity `{name}` must be a mapping, not {}", node.type_name()),
            hint: None,
        });
        return None;
    }
    let mut f = Fields { node, subject: subject.clone(), what: format!("identity `{name}`"), problems };
    let default = f.opt_bool(&["default"]).unwrap_or(false);
    let default_span = node.get("default").filter(|_| default).map(|n| n.span.clone());
    let required = f.opt_bool(&["required"]).unwrap_or(false);
    if node.get("kind").is_none_or(Node::is_null) {
        // An entry without `kind` only overrides fields of an identity defined elsewhere.
        // Those are dropped by `undefined_defaults`/the caller; nothing to type here.
        let defines = ["via", "principal", "credentials"].iter().any(|k| node.get(k).is_some());
        if defines {
            f.req_str(&["kind"]);
        }
        return None;
    }
    let kind_name = f.req_str(&["kind"])?;
    f.what = format!("identity `{name}` ({kind_name})");
    let region = f
        .opt_matching(&["region"], is_aws_or_any_region, "a region")
        .or_else(|| if kind_name.starts_with("aws/") { f.opt_str(&["principal", "region"]) } else { None });

    let via = parse_via(&mut f, node, &kind_name);
    // As for providers: a bad field drops the kind, never the identity.
    let mut typed = || match kind_name.as_str() {
        "aws/permission-set" => {
            let ps = f.req_str(&["principal", "name"]);
            let id = f.opt_matching(&["principal", "account", "id"], is_account_id, "a 12-digit AWS account id");
            let acct_name = f.opt_str(&["principal", "account", "name"]);
            let account = match (id, acct_name) {
                (Some(id), _) => Some(AccountRef::Id(id)),
                (None, Some(n)) => Some(AccountRef::Name(n)),
                (None, None) => {
                    if node.get_path(&["principal", "account", "id"]).is_none() {
                        let span = node.span.clone();
                        f.problem(&span, format!("identity `{name}` (aws/permission-set) is missing `principal.account.id` or `principal.account.name`"), Some("name the account by id (12 digits) or by its name in IAM Identity Center".into()));
                    }
                    None
                }
            };
            Some(IdentityKind::PermissionSet { permission_set: ps?, account: account? })
        }
        "aws/assume-role" => {
            let role = f.req_matching(
                &["principal", "assume_role"],
                is_role_arn,
                "an IAM role ARN (arn:aws:iam::123456789012:role/NAME)",
            );
            let external_id =
                f.opt_str(&["principal", "external_id"]).or_else(|| f.opt_str(&["external_id"])).map(Secret::new);
            let duration = duration_in(&mut f, &["principal", "duration"], &["duration"]);
            if let Some(d) = duration
                && !(ASSUME_ROLE_MIN_SECS..=ASSUME_ROLE_MAX_SECS).contains(&d)
            {
                let span = duration_span(node);
                f.problem(
                    &span,
                    format!(
                        "identity `{name}` (aws/assume-role): `duration` is {d}s; STS allows 900s (15m) to 43200s (12h)"
                    ),
                    None,
                );
            }
            let session_name = f.opt_str(&["principal", "session_name"]).or_else(|| f.opt_str(&["session_name"]));
            Some(IdentityKind::AssumeRole { role_arn: role?, external_id, duration_secs: duration, session_name })
        }
        "aws/assume-root" => {
            let target =
                f.req_matching(&["principal", "target_principal"], is_account_id, "a 12-digit member account id");
            let policy = f.req_str(&["principal", "task_policy_arn"]);
            let policy = policy.and_then(|p| {
                if is_root_task_policy(&p) {
                    Some(p)
                } else {
                    let span = node.get_path(&["principal", "task_policy_arn"]).map_or(node.span.clone(), |n| n.span.clone());
                    f.problem(
                        &span,
                        format!("identity `{name}` (aws/assume-root): `principal.task_policy_arn` is `{p}`, which is not a root task policy"),
                        Some(format!("use arn:aws:iam::aws:policy/root-task/ followed by one of {}", ROOT_TASK_POLICIES.join(", "))),
                    );
                    None
                }
            });
            let duration = duration_in(&mut f, &["principal", "duration"], &["duration"]);
            if let Some(d) = duration
                && d > ASSUME_ROOT_MAX_SECS
            {
                let span = duration_span(node);
                f.problem(
                    &span,
                    format!(
                        "identity `{name}` (aws/assume-root): `duration` is {d}s; AssumeRoot sessions last at most 15m"
                    ),
                    Some("use `duration: 15m` or less".into()),
                );
            }
            Some(IdentityKind::AssumeRoot {
                target_principal: target?,
                task_policy_arn: policy?,
                duration_secs: duration,
            })
        }
        "aws/user" => {
            let key = f.opt_str(&["credentials", "access_key_id"]).map(Secret::new);
            let secret = f.opt_str(&["credentials", "secret_access_key"]).map(Secret::new);
            if key.is_some() != secret.is_some()
                && node
                    .get("credentials")
                    .is_some_and(|c| c.get("access_key_id").is_some() != c.get("secret_access_key").is_some())
            {
                let span = node.get("credentials").map_or(node.span.clone(), |n| n.span.clone());
                f.problem(
                    &span,
                    format!(
                        "identity `{name}` (aws/user): `credentials` needs both `access_key_id` and `secret_access_key`"
                    ),
                    None,
                );
            }
            let mfa = f
                .opt_matching(
                    &["credentials", "mfa_arn"],
                    is_mfa_arn,
                    "an MFA device ARN (arn:aws:iam::123456789012:mfa/NAME)",
                )
                .or_else(|| {
                    f.opt_matching(&["mfa_arn"], is_mfa_arn, "an MFA device ARN (arn:aws:iam::123456789012:mfa/NAME)")
                });
            Some(IdentityKind::User { access_key_id: key, secret_access_key: secret, mfa_arn: mfa })
        }
        "aws/ambient" => Some(IdentityKind::Ambient),
        "azure/subscription" => {
            let sub = f.req_matching(&["principal", "subscription_id"], is_uuid, "a subscription UUID");
            Some(IdentityKind::AzureSubscription {
                subscription_id: sub?,
                location: f.opt_str(&["principal", "location"]),
                resource_group: f.opt_str(&["principal", "resource_group"]),
            })
        }
        "gcp/service-account" => {
            let email = f.req_matching(&["principal", "service_account_email"], is_email, "an email address");
            let lifetime = f.opt_duration(&["principal", "lifetime"]);
            if let Some(l) = lifetime
                && l > 43_200
            {
                let span = node.span.clone();
                f.problem(
                    &span,
                    format!(
                        "identity `{name}` (gcp/service-account): `lifetime` is {l}s; Google allows at most 43200s"
                    ),
                    None,
                );
            }
            Some(IdentityKind::GcpServiceAccount {
                email: email?,
                lifetime_secs: lifetime,
                delegates: f.opt_str_list(&["principal", "delegates"]),
                scopes: f.opt_str_list(&["principal", "scopes"]),
                project_id: f.opt_str(&["principal", "project_id"]),
            })
        }
        "gcp/project" => {
            let project = f.req_str(&["principal", "project_id"]);
            Some(IdentityKind::GcpProject {
                project_id: project?,
                region: f.opt_str(&["principal", "region"]),
                zone: f.opt_str(&["principal", "zone"]),
            })
        }
        other => {
            unknown_kind(&mut f, node, "identity", other, IDENTITY_KINDS);
            None
        }
    };
    let kind = typed();
    Some(Identity {
        name: name.to_string(),
        kind_name,
        kind,
        via,
        default,
        default_span,
        required,
        region,
        span: node.span.clone(),
    })
}

fn parse_integration(name: &str, node: &Node, problems: &mut Vec<Problem>) -> Option<Integration> {
    let subject = Subject::Integration(name.to_string());
    if node.as_map().is_none() {
        problems.push(Problem {
            subject,
            span: Some(node.span.clone()),
            message: format!("integration `{name}` must be a mapping, not {}", node.type_name()),
            hint: None,
        });
        return None;
    }
    let mut f = Fields { node, subject, what: format!("integration `{name}`"), problems };
    let kind_name = f.req_str(&["kind"])?;
    f.what = format!("integration `{name}` ({kind_name})");
    let via = match (f.opt_str(&["via", "identity"]).filter(|s| !s.is_empty()), node.get_path(&["via", "provider"])) {
        (Some(i), _) => Some((i, node.get_path(&["via", "identity"]).map_or(node.span.clone(), |n| n.span.clone()))),
        (None, Some(p)) => {
            let span = p.span.clone();
            f.problem(
                &span,
                format!("integration `{name}` names `via.provider`; an integration comes from an identity"),
                Some("write `via: {identity: NAME}` with the AWS identity whose session it uses".into()),
            );
            None
        }
        (None, None) => {
            let span = node.get("via").map_or(node.span.clone(), |v| v.span.clone());
            f.problem(
                &span,
                format!("integration `{name}` has no `via.identity`"),
                Some("add `via: {identity: NAME}` with the AWS identity whose session it uses".into()),
            );
            None
        }
    };
    let auto_provision = f.opt_bool(&["spec", "auto_provision"]).unwrap_or(true);
    let kind = match kind_name.as_str() {
        "aws/ecr" => {
            let account = f.req_str(&["spec", "registry", "account_id"]);
            let account = account.and_then(|a| {
                if is_account_id(&a) {
                    return Some(a);
                }
                let span = node.get_path(&["spec", "registry", "account_id"]).map_or(node.span.clone(), |n| n.span.clone());
                let unquoted = matches!(
                    node.get_path(&["spec", "registry", "account_id"]).map(|n| &n.value),
                    Some(Value::Int(_))
                );
                f.problem(
                    &span,
                    format!("integration `{name}` (aws/ecr): `spec.registry.account_id` is `{a}`, which is not a 12-digit AWS account id"),
                    Some(if unquoted {
                        "quote the account id (`account_id: \"012345678901\"`): as a number YAML drops its leading zeros".into()
                    } else {
                        "use the registry's 12-digit account id, as in 123456789012.dkr.ecr.us-east-2.amazonaws.com".into()
                    }),
                );
                None
            });
            let region =
                f.req_matching(&["spec", "registry", "region"], is_aws_region, "an AWS region such as us-east-2");
            match (account, region) {
                (Some(account_id), Some(region)) => Some(IntegrationKind::Ecr { account_id, region }),
                _ => None,
            }
        }
        other => {
            unknown_kind(&mut f, node, "integration", other, INTEGRATION_KINDS);
            None
        }
    };
    Some(Integration { name: name.to_string(), kind_name, kind, via, auto_provision, span: node.span.clone() })
}

/// An integration's `via.identity` must name an AWS identity.
fn check_integrations(cfg: &AuthConfig, problems: &mut Vec<Problem>) {
    for int in &cfg.integrations {
        let Some((via, span)) = &int.via else { continue };
        let problem = |message: String, hint: String| Problem {
            subject: Subject::Integration(int.name.clone()),
            span: Some(span.clone()),
            message,
            hint: Some(hint),
        };
        match cfg.identity(via) {
            None => problems.push(problem(
                format!("integration `{}`: `via.identity` names `{via}`, which is not defined", int.name),
                suggest_hint(via, cfg.identities.iter().map(|i| i.name.as_str()), "identities"),
            )),
            Some(id) if int.kind_name.starts_with("aws/") && id.cloud() != Some(Cloud::Aws) => problems.push(problem(
                format!(
                    "integration `{}` ({}) needs an AWS identity, but `{}` is {}",
                    int.name, int.kind_name, id.name, id.kind_name
                ),
                "point `via.identity` at an AWS identity that may call ecr:GetAuthorizationToken".into(),
            )),
            Some(_) => {}
        }
    }
}

/// Reports an unknown `kind`, suggesting the nearest known one and listing them all.
fn unknown_kind(f: &mut Fields<'_>, node: &Node, what: &str, kind: &str, known: &[&str]) {
    let span = node.get("kind").map_or(node.span.clone(), |k| k.span.clone());
    let near = crate::suggest::nearest(kind, known.iter().copied());
    let list = format!("known {what} kinds: {}", known.join(", "));
    let name = match &f.subject {
        Subject::Provider(n) | Subject::Identity(n) | Subject::Integration(n) => n.clone(),
        Subject::General => String::new(),
    };
    let hint = match near.first() {
        Some(n) => format!("did you mean `{n}`? {list}"),
        None => list,
    };
    f.problem(&span, format!("{what} `{name}` has unknown kind `{kind}`"), Some(hint));
}

/// Where an identity's `duration` is written (under `principal` or at the top).
fn duration_span(node: &Node) -> Span {
    node.get_path(&["principal", "duration"]).or(node.get("duration")).map_or(node.span.clone(), |n| n.span.clone())
}

fn duration_in(f: &mut Fields<'_>, first: &[&str], second: &[&str]) -> Option<u64> {
    if f.node.get_path(first).is_some() { f.opt_duration(first) } else { f.opt_duration(second) }
}

fn parse_via(f: &mut Fields<'_>, node: &Node, kind: &str) -> Option<Via> {
    let name = match &f.subject {
        Subject::Identity(n) => n.clone(),
        _ => String::new(),
    };
    let standalone = matches!(kind, "aws/user" | "aws/ambient");
    let via = node.get("via").filter(|v| !v.is_null());
    if let Some(v) = via
        && v.as_map().is_none()
    {
        f.problem(&v.span, format!("identity `{name}`: `via` must be a mapping with `provider` or `identity`"), None);
        return None;
    }
    let provider = f.opt_str(&["via", "provider"]).filter(|s| !s.is_empty());
    let identity = f.opt_str(&["via", "identity"]).filter(|s| !s.is_empty());
    if standalone {
        if let Some(v) = via {
            f.problem(
                &v.span,
                format!("identity `{name}` ({kind}) stands alone and takes no `via`"),
                Some("remove `via`".into()),
            );
        }
        return None;
    }
    let span_of = |k: &str| node.get_path(&["via", k]).map_or(node.span.clone(), |n| n.span.clone());
    match (provider, identity) {
        (Some(p), None) => Some(Via::Provider(p, span_of("provider"))),
        (None, Some(i)) => Some(Via::Identity(i, span_of("identity"))),
        (Some(_), Some(_)) => {
            let span = via.map_or(node.span.clone(), |v| v.span.clone());
            f.problem(
                &span,
                format!("identity `{name}` has both `via.provider` and `via.identity`"),
                Some("keep exactly one: a chain starts at one provider or continues one identity".into()),
            );
            None
        }
        (None, None) => {
            f.problem(
                &node.span,
                format!("identity `{name}` ({kind}) has no `via`"),
                Some("add `via: {provider: NAME}` or `via: {identity: NAME}`".into()),
            );
            None
        }
    }
}

/// Dangling references, cycles, and links that cannot work (wrong cloud, wrong kind).
fn check_references(cfg: &AuthConfig, problems: &mut Vec<Problem>) {
    let mut reported_cycles: Vec<Vec<String>> = Vec::new();
    for id in &cfg.identities {
        match &id.via {
            Some(Via::Provider(p, span)) => match cfg.provider(p) {
                None => problems.push(Problem {
                    subject: Subject::Identity(id.name.clone()),
                    span: Some(span.clone()),
                    message: format!("identity `{}`: `via.provider` names `{p}`, which is not defined", id.name),
                    hint: Some(suggest_hint(p, cfg.providers.iter().map(|p| p.name.as_str()), "providers")),
                }),
                Some(prov) => check_link(id, &prov.kind_name, true, span, problems),
            },
            Some(Via::Identity(target, span)) => match cfg.identity(target) {
                None => problems.push(Problem {
                    subject: Subject::Identity(id.name.clone()),
                    span: Some(span.clone()),
                    message: format!("identity `{}`: `via.identity` names `{target}`, which is not defined", id.name),
                    hint: Some(suggest_hint(target, cfg.identities.iter().map(|i| i.name.as_str()), "identities")),
                }),
                Some(t) => {
                    check_link(id, &t.kind_name, false, span, problems);
                    if let Some(cycle) = find_cycle(cfg, id) {
                        let mut key = cycle[..cycle.len() - 1].to_vec();
                        key.sort();
                        if !reported_cycles.contains(&key) {
                            reported_cycles.push(key);
                            problems.push(Problem {
                                subject: Subject::Identity(id.name.clone()),
                                span: Some(span.clone()),
                                message: format!("identity chain cycle: {}", cycle.join(" -> ")),
                                hint: Some(
                                    "a chain must end at a provider or a standalone identity; break the cycle".into(),
                                ),
                            });
                        }
                    }
                }
            },
            None => {}
        }
    }
}

fn suggest_hint<'a>(name: &str, candidates: impl Iterator<Item = &'a str> + Clone, what: &str) -> String {
    let near = crate::suggest::nearest(name, candidates.clone());
    if let Some(n) = near.first() {
        format!("did you mean `{n}`?")
    } else {
        let all: Vec<&str> = candidates.collect();
        if all.is_empty() {
            format!("no {what} are defined; check the active profile")
        } else {
            format!("defined {what}: {}", all.join(", "))
        }
    }
}

/// Follows `via.identity` from `start`; returns the cycle's path if it comes back.
fn find_cycle(cfg: &AuthConfig, start: &Identity) -> Option<Vec<String>> {
    let mut path = vec![start.name.clone()];
    let mut cur = start;
    loop {
        let Some(Via::Identity(next, _)) = &cur.via else {
            return None;
        };
        let next = cfg.identity(next)?;
        if let Some(pos) = path.iter().position(|p| p.eq_ignore_ascii_case(&next.name)) {
            path.push(next.name.clone());
            return Some(path[pos..].to_vec());
        }
        path.push(next.name.clone());
        cur = next;
    }
}

/// Whether `id` can come from a provider (or identity) of kind `from`.
fn check_link(id: &Identity, from: &str, from_provider: bool, span: &Span, problems: &mut Vec<Problem>) {
    let from_cloud = if from_provider { provider_cloud(from) } else { identity_cloud(from) };
    let (Some(to_cloud), Some(from_cloud)) = (id.cloud(), from_cloud) else {
        return;
    };
    let mut fail = |message: String, hint: &str| {
        problems.push(Problem {
            subject: Subject::Identity(id.name.clone()),
            span: Some(span.clone()),
            message,
            hint: Some(hint.to_string()),
        })
    };
    let what = if from_provider { "provider" } else { "identity" };
    if to_cloud != from_cloud {
        fail(
            format!(
                "identity `{}` ({}) is {to_cloud} but comes from a {from_cloud} {what} ({from})",
                id.name, id.kind_name
            ),
            "an identity's chain must stay in one cloud",
        );
        return;
    }
    match (id.kind_name.as_str(), from_provider, from) {
        ("aws/permission-set", true, "aws/iam-identity-center") => {}
        ("aws/permission-set", _, _) => fail(
            format!(
                "identity `{}` (aws/permission-set) must come from an aws/iam-identity-center provider, not a {from} {what}",
                id.name
            ),
            "point `via.provider` at your IAM Identity Center provider",
        ),
        ("aws/assume-role" | "aws/assume-root", true, "aws/iam-identity-center") => fail(
            format!(
                "identity `{}` ({}) cannot come straight from an IAM Identity Center provider",
                id.name, id.kind_name
            ),
            "chain it from an aws/permission-set identity with `via.identity`",
        ),
        ("aws/assume-root", true, _) => fail(
            format!("identity `{}` (aws/assume-root) must come from an AWS identity with `via.identity`", id.name),
            "AssumeRoot is called with the credentials of an identity in the management account",
        ),
        _ => {}
    }
}

/// Go-style durations (`900s`, `15m`, `1h30m`, `1.5h`) or a whole number of seconds.
pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<u64>() {
        return Some(n);
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[unit_len..];
    }
    Some(total.round() as u64)
}

fn is_https_url(s: &str) -> bool {
    s.strip_prefix("https://").is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace))
}

fn is_aws_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

fn is_aws_or_any_region(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn arn_parts(s: &str) -> Option<(&str, &str, &str, &str, &str)> {
    let mut it = s.splitn(6, ':');
    let (arn, partition, service, region, account, resource) =
        (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
    (arn == "arn" && partition.starts_with("aws")).then_some((partition, service, region, account, resource))
}

pub fn is_role_arn(s: &str) -> bool {
    arn_parts(s).is_some_and(|(_, svc, region, acct, res)| {
        svc == "iam"
            && region.is_empty()
            && is_account_id(acct)
            && res.strip_prefix("role/").is_some_and(|n| !n.is_empty())
    })
}

fn is_mfa_arn(s: &str) -> bool {
    arn_parts(s).is_some_and(|(_, svc, _, acct, res)| svc == "iam" && is_account_id(acct) && res.starts_with("mfa/"))
}

fn is_root_task_policy(s: &str) -> bool {
    arn_parts(s).is_some_and(|(_, svc, region, acct, res)| {
        svc == "iam"
            && region.is_empty()
            && acct == "aws"
            && res.strip_prefix("policy/root-task/").is_some_and(|p| ROOT_TASK_POLICIES.contains(&p))
    })
}

/// `token_source` of a `gcp/workload-identity-federation` provider (top level or under `spec`).
fn parse_token_source(f: &mut Fields, node: &Node, name: &str) -> Option<TokenSource> {
    let base: &[&str] =
        if node.get_path(&["spec", "token_source"]).is_some() { &["spec", "token_source"] } else { &["token_source"] };
    let at = |k: &'static str| -> Vec<&str> { base.iter().copied().chain([k]).collect() };
    let Some(ts) = node.get_path(base).filter(|n| !n.is_null()) else {
        return Some(TokenSource::default());
    };
    if ts.as_map().is_none() {
        let span = ts.span.clone();
        f.problem(
            &span,
            format!("provider `{name}`: `token_source` must be a mapping, not {}", ts.type_name()),
            Some("write `token_source: {type: url, url: https://...}` (or type file / environment)".into()),
        );
        return None;
    }
    let mut ok = true;
    let kind_name = f.opt_str(&at("type"));
    let url = f.opt_str(&at("url"));
    let file = f.opt_str(&at("file")).or_else(|| f.opt_str(&at("path")));
    let variable = f.opt_str(&at("environment_variable")).or_else(|| f.opt_str(&at("variable")));
    let audience = f.opt_str(&at("audience"));
    let allowed_hosts: Vec<String> =
        f.opt_str_list(&at("allowed_hosts")).into_iter().map(|h| h.to_ascii_lowercase()).collect();
    let format = f.opt_str(&at("format"));
    let field = f.opt_str(&at("subject_token_field_name"));
    let span_of = |k: &'static str| node.get_path(&at(k)).map_or_else(|| ts.span.clone(), |n| n.span.clone());
    let mut headers = Vec::new();
    if let Some(h) = node.get_path(&at("headers")).filter(|n| !n.is_null()) {
        match h.as_map() {
            Some(map) => {
                for (k, v) in map {
                    match v.scalar_string() {
                        Some(v) => headers.push((k.clone(), v)),
                        None => {
                            let span = v.span.clone();
                            f.problem(
                                &span,
                                format!("provider `{name}`: header `{k}` of `token_source` must be a string"),
                                None,
                            );
                            ok = false;
                        }
                    }
                }
            }
            None => {
                let span = h.span.clone();
                f.problem(
                    &span,
                    format!("provider `{name}`: `token_source.headers` must be a mapping of header names to values"),
                    None,
                );
                ok = false;
            }
        }
    }
    let json_field = match format.as_deref() {
        None if field.is_some() => field.clone(),
        None | Some("text") => None,
        Some("json") => Some(field.clone().unwrap_or_else(|| "value".to_string())),
        Some(other) => {
            let span = span_of("format");
            f.problem(
                &span,
                format!("provider `{name}`: `token_source.format` is `{other}`, which is neither `text` nor `json`"),
                None,
            );
            ok = false;
            None
        }
    };
    let kind = match kind_name.as_deref() {
        None | Some("url") if url.is_none() && file.is_none() && variable.is_none() => TokenSourceKind::GithubActions,
        None | Some("url") if url.is_some() => {
            let url = url.clone().unwrap_or_default();
            if !crate::providers::github::is_allowed_url(&url) {
                let span = span_of("url");
                f.problem(&span, format!("provider `{name}`: `token_source.url` is `{url}`, which is neither https nor http to a loopback address"), Some("the token request may carry a bearer token; use https".into()));
                ok = false;
            } else if !allowed_hosts.is_empty() && !allowed_hosts.iter().any(|h| *h == url_host(&url)) {
                let span = span_of("url");
                f.problem(
                    &span,
                    format!(
                        "provider `{name}`: `token_source.url` goes to `{}`, which is not in `allowed_hosts` ({})",
                        url_host(&url),
                        allowed_hosts.join(", ")
                    ),
                    Some("fix the URL, or add its host to `token_source.allowed_hosts`".into()),
                );
                ok = false;
            }
            TokenSourceKind::Url { url, headers }
        }
        None | Some("file") if file.is_some() => TokenSourceKind::File { path: file.clone().unwrap_or_default() },
        None | Some("environment") if variable.is_some() => {
            TokenSourceKind::Environment { variable: variable.clone().unwrap_or_default() }
        }
        Some(t @ ("url" | "file" | "environment")) => {
            let key = match t {
                "url" => "url",
                "file" => "file",
                _ => "environment_variable",
            };
            let span = ts.span.clone();
            f.problem(
                &span,
                format!("provider `{name}`: `token_source` of type `{t}` is missing `{key}`"),
                Some(format!("add `token_source.{key}`")),
            );
            return None;
        }
        Some(other) => {
            let span = span_of("type");
            f.problem(
                &span,
                format!(
                    "provider `{name}`: `token_source.type` is `{other}`, which is not one of url, file, environment"
                ),
                Some(
                    "use `type: url` (GitHub Actions when no url is given), `type: file` or `type: environment`".into(),
                ),
            );
            return None;
        }
        None => {
            let span = ts.span.clone();
            f.problem(
                &span,
                format!("provider `{name}`: `token_source` names more than one source"),
                Some("give exactly one of `url`, `file`, `environment_variable`".into()),
            );
            return None;
        }
    };
    ok.then_some(TokenSource { kind, audience, allowed_hosts, json_field })
}

/// The lower-cased host of an http(s) URL, without port or credentials.
pub fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or(host)
    } else {
        host.split(':').next().unwrap_or(host)
    };
    host.to_ascii_lowercase()
}

pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((user, domain)) => {
            !user.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("900"), Some(900));
        assert_eq!(parse_duration("15m"), Some(900));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("1.5h"), Some(5400));
        assert_eq!(parse_duration("3600s"), Some(3600));
        for bad in ["", "h", "10x", "1h m", "-5m", "fifteen"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats() {
        assert!(is_role_arn("arn:aws:iam::123456789012:role/x"));
        assert!(is_role_arn("arn:aws-us-gov:iam::123456789012:role/path/x"));
        assert!(!is_role_arn("arn:aws:iam::12345:role/x"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:user/x"));
        assert!(is_root_task_policy("arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy"));
        assert!(!is_root_task_policy("arn:aws:iam::aws:policy/root-task/AdministratorAccess"));
        assert!(is_uuid("12345678-1234-1234-1234-123456789012"));
        assert!(!is_uuid("12345678-1234-1234-1234-12345678901"));
        assert!(is_email("terraform@p.iam.gserviceaccount.com"));
        assert!(!is_email("terraform"));
        assert!(is_aws_region("us-east-1") && is_aws_region("us-gov-west-1") && !is_aws_region("useast1"));
    }
}
