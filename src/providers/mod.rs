//! Turning a chain into credentials: the only part of tfauth that talks to the network.
//! ([`ecr`] turns an AWS session into a Docker login for an integration.)
//!
//! [`aws::fetch`] walks a chain root to leaf (GitHub OIDC → AssumeRoleWithWebIdentity,
//! an `aws/saml` IdP sign-in ([`saml`]) → AssumeRoleWithSAML,
//! aws/user → GetSessionToken, AssumeRole hop by hop, the ambient SDK chain), on a
//! current-thread runtime that exists only for the call. Errors name the identity and role,
//! and map to the contract's exit codes: login required or access denied (77), service
//! unavailable (69), try again (75). Every AWS SDK client (STS, ECR, IAM Identity Center)
//! is built one way, in `sdk`.

pub mod aks;
pub mod aws;
pub mod aws_webflow;
pub mod azure;
pub mod credentials;
pub mod ecr;
pub mod eks;
pub mod gcp;
pub mod github;
pub mod gke;
pub mod http;
pub mod jwt;
pub mod saml;
mod sdk;
pub mod sso;
pub mod validate;

use crate::exit;

/// RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`): every other byte is encoded.
const UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encodes a query or form value (RFC 3986 unreserved characters pass through,
/// every other byte of the UTF-8 is `%XX`, upper case): provider requests and the console
/// sign-in URL alike.
pub(crate) fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string()
}

/// Who a cloud said an identity is, learnt from the checks made before handing
/// credentials over (`auth whoami` shows it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Principal {
    /// What the cloud acts as: a user, an app, a service account, a federated subject.
    pub name: String,
    /// Further facts, labelled (tenant, object id, project, subject...).
    pub details: Vec<(&'static str, String)>,
    /// When the credential that was proven expires (the libraries renew it themselves).
    pub expires: Option<time::OffsetDateTime>,
}

/// An access token's expiry from a token answer: `expireTime` (RFC 3339, Google IAM) or
/// `expires_in` seconds from now (OAuth).
pub(crate) fn expiry_of(v: &serde_json::Value) -> Option<time::OffsetDateTime> {
    if let Some(t) = v.get("expireTime").and_then(serde_json::Value::as_str) {
        return time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok();
    }
    let secs = v.get("expires_in").and_then(|x| x.as_i64().or_else(|| x.as_str()?.parse().ok()))?;
    Some(time::OffsetDateTime::now_utc() + time::Duration::seconds(secs))
}

/// `FILE:LINE:COL: ` for a span from a file, else nothing.
fn located(span: &crate::yaml::Span) -> String {
    if span.is_synthetic() { String::new() } else { format!("{span}: ") }
}

/// Why credentials could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// A chain tfauth has no way to walk (a kind Atmos accepts whose sign-in tfauth does
    /// not speak): refused when a run needs it, never at load.
    #[error("{}{kind} (identity `{identity}`) is not supported by tfauth yet", located(span))]
    CannotWalk { identity: String, kind: String, span: crate::yaml::Span },
    #[error("STS {operation} for identity `{identity}`{} failed: {code}: {message}", role.as_deref().map(|r| format!(" (role {r})")).unwrap_or_default())]
    Sts { identity: String, operation: &'static str, role: Option<String>, code: String, message: String },
    #[error("cannot reach STS at {endpoint} for identity `{identity}`: {message}")]
    Unreachable { identity: String, endpoint: String, message: String },
    #[error("cannot get a GitHub OIDC token for identity `{identity}`: {message}")]
    OidcToken { identity: String, message: String, hint: String },
    #[error("identity `{identity}` needs {what}, and there is no terminal to ask on")]
    NeedTerminal { identity: String, what: &'static str },
    #[error("identity `{identity}` (aws/user) has no access key")]
    NoUserKeys { identity: String },
    /// No keys, no cached browser sign-in, and no terminal to start one on.
    #[error(
        "identity `{identity}` (aws/user) has no access key, and AWS's browser sign-in needs a terminal to start from"
    )]
    UserNeedsSignIn { identity: String },
    #[error("no ambient AWS credentials for identity `{identity}`: {message}")]
    Ambient { identity: String, message: String },
    #[error("the credential helper for identity `{identity}` ended up calling itself")]
    Recursion { identity: String },
    #[error("cannot start the network runtime")]
    Runtime(#[source] std::io::Error),
    #[error(transparent)]
    Sso(#[from] sso::SsoError),
    #[error(transparent)]
    Saml(#[from] saml::SamlError),
    #[error("cannot reach {service} at {endpoint} for identity `{identity}`: {message}")]
    CloudUnreachable { identity: String, service: &'static str, endpoint: String, message: String },
    #[error("{service} refused {step} for identity `{identity}`: HTTP {status}: {message}")]
    Refused { identity: String, service: &'static str, step: &'static str, status: u16, message: String, hint: String },
    #[error("identity `{identity}`: {message}")]
    Setup { identity: String, message: String, hint: String, code: i32 },
    #[error(
        "ECR GetAuthorizationToken for integration `{integration}` (registry {registry}, as identity `{identity}`) failed: {code}: {message}"
    )]
    Ecr { integration: String, identity: String, registry: String, code: String, message: String },
    #[error("cannot reach ECR at {endpoint} for integration `{integration}`: {message}")]
    EcrUnreachable { integration: String, endpoint: String, message: String },
    #[error("integration `{integration}`: {message}")]
    EcrAnswer { integration: String, message: String },
    #[error("{0}")]
    Eks(Box<EksFailure>),
    #[error("cannot reach EKS at {endpoint} for integration `{integration}`: {message}")]
    EksUnreachable { integration: String, endpoint: String, message: String },
    #[error("integration `{integration}`: {message}")]
    EksAnswer { integration: String, message: String },
    #[error("identity `{identity}`: account `{name}` is not among the {} account(s) provider `{provider}` offers", available.len())]
    AccountNotFound { identity: String, provider: String, name: String, available: Vec<String> },
    /// The service answered, but not with credentials anyone can use (a truncated body, an
    /// empty secret, an expiration in the past): never cached, never printed.
    #[error(
        "{service}{} for identity `{identity}`{} answered unusable credentials: {problem}",
        endpoint.as_deref().map(|e| format!(" at {e}")).unwrap_or_default(),
        role.as_deref().map(|r| format!(" (role {r})")).unwrap_or_default()
    )]
    BadCredentials {
        identity: String,
        /// `STS AssumeRole`, `IAM Identity Center GetRoleCredentials`, ...
        service: String,
        endpoint: Option<String>,
        role: Option<String>,
        problem: Box<crate::providers::validate::Problem>,
    },
    /// What another tfauth process got for the same chain moments ago (see
    /// [`crate::session::cache::failure`]): the same message, hint and exit code, without asking
    /// the service again.
    #[error("{message}")]
    Remembered { message: String, hint: Option<String>, code: i32, age_secs: u64, for_secs: u64 },
}

impl ProviderError {
    pub fn exit_code(&self) -> i32 {
        match self {
            ProviderError::Sts { code, .. } => match code.as_str() {
                "Throttling" | "ThrottlingException" | "RequestLimitExceeded" | "TooManyRequestsException" => {
                    exit::TEMPFAIL
                }
                "AccessDenied"
                | "AccessDeniedException"
                | "ExpiredToken"
                | "ExpiredTokenException"
                | "InvalidIdentityToken"
                | "IDPRejectedClaim"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
                | "UnrecognizedClientException"
                | "HTTP401"
                | "HTTP403" => exit::NOPERM,
                _ => exit::UNAVAILABLE,
            },
            ProviderError::Unreachable { .. } | ProviderError::CannotWalk { .. } => exit::UNAVAILABLE,
            ProviderError::OidcToken { .. } => exit::UNAVAILABLE,
            ProviderError::NeedTerminal { .. }
            | ProviderError::NoUserKeys { .. }
            | ProviderError::UserNeedsSignIn { .. }
            | ProviderError::Ambient { .. } => exit::NOPERM,
            ProviderError::Recursion { .. } | ProviderError::Runtime(_) => exit::SOFTWARE,
            ProviderError::Sso(e) => e.exit_code(),
            ProviderError::Saml(e) => e.exit_code(),
            ProviderError::AccountNotFound { .. } => exit::NOPERM,
            ProviderError::CloudUnreachable { .. } => exit::UNAVAILABLE,
            ProviderError::Refused { status, .. } => match status {
                400 | 401 | 403 | 404 => exit::NOPERM,
                429 => exit::TEMPFAIL,
                _ => exit::UNAVAILABLE,
            },
            ProviderError::Setup { code, .. } => *code,
            ProviderError::Ecr { code, .. } => service_exit(code),
            ProviderError::EcrUnreachable { .. } | ProviderError::EcrAnswer { .. } => exit::UNAVAILABLE,
            ProviderError::Eks(f) => service_exit(&f.code),
            ProviderError::EksUnreachable { .. } | ProviderError::EksAnswer { .. } => exit::UNAVAILABLE,
            ProviderError::BadCredentials { .. } => exit::UNAVAILABLE,
            ProviderError::Remembered { code, .. } => *code,
        }
    }

    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ProviderError::CannotWalk { .. } => {
                "choose an identity whose chain starts at aws/iam-identity-center, aws/saml, github/oidc, aws/user or aws/ambient; `tfauth auth list` shows each chain".into()
            }
            ProviderError::Sts { code, role, identity, .. } => match code.as_str() {
                "AccessDenied" | "AccessDeniedException" => format!(
                    "the caller may not assume {}; check the role's trust policy and that `{identity}`'s chain is the one you meant (`tfauth describe component ...`)",
                    role.as_deref().unwrap_or("this role")
                ),
                "ExpiredToken" | "ExpiredTokenException" => {
                    format!("the session behind `{identity}` has expired; run `tfauth auth login --identity {identity}`")
                }
                "InvalidIdentityToken" | "IDPRejectedClaim" => {
                    "the OIDC token was rejected; check the role's trust policy (audience, sub claim) and the provider's spec.audience".into()
                }
                "InvalidClientTokenId" | "SignatureDoesNotMatch" | "UnrecognizedClientException" | "HTTP401" | "HTTP403" => {
                    format!("the access key behind `{identity}` is wrong or revoked; check its credentials")
                }
                "Throttling" | "ThrottlingException" | "RequestLimitExceeded" | "TooManyRequestsException" => {
                    "STS is throttling requests (tfauth already retried with backoff); try again in a minute".into()
                }
                _ => "see the message from STS above".into(),
            },
            ProviderError::Unreachable { .. } => {
                "check the network, or AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_STS if you point tfauth at another endpoint".into()
            }
            ProviderError::OidcToken { hint, .. } => hint.clone(),
            ProviderError::NeedTerminal { identity, .. } => {
                format!("run `tfauth auth login --identity {identity}` in a terminal first")
            }
            ProviderError::NoUserKeys { identity } => {
                format!("store its keys with `tfauth auth user configure --identity {identity}`, or set `credentials.access_key_id` and `secret_access_key` (e.g. `!env AWS_ACCESS_KEY_ID`); an aws/user never takes the shell's AWS_ACCESS_KEY_ID by itself")
            }
            ProviderError::UserNeedsSignIn { identity } => format!(
                "store its keys with `tfauth auth user configure --identity {identity}`, or sign in through AWS's browser login in a terminal: `tfauth auth login --identity {identity}`"
            ),
            ProviderError::Ambient { .. } => "give the process AWS credentials (environment, profile, or instance role)".into(),
            ProviderError::Recursion { .. } => {
                "a profile that runs atmos-auth-helper is the source of this identity's own credentials; point aws/ambient at other credentials".into()
            }
            ProviderError::Runtime(_) => "this is a bug in tfauth; please report it".into(),
            ProviderError::Sso(e) => return e.hint(),
            ProviderError::Saml(e) => e.hint(),
            ProviderError::CloudUnreachable { service, .. } => {
                format!("check the network; {service} did not answer (tfauth did not retry)")
            }
            ProviderError::Refused { hint, .. } | ProviderError::Setup { hint, .. } => hint.clone(),
            ProviderError::Ecr { code, identity, integration, .. } => match code.as_str() {
                "AccessDeniedException" | "AccessDenied" | "HTTP403" => format!(
                    "`{identity}` may not call ecr:GetAuthorizationToken; allow it in the role's policy, or point `via.identity` of `{integration}` at an identity that may"
                ),
                "ExpiredTokenException" => format!("the session of `{identity}` has expired; run `tfauth auth login --identity {identity}`"),
                "UnrecognizedClientException" | "InvalidSignatureException" | "HTTP401" => {
                    format!("ECR did not accept the session of `{identity}`; run `tfauth auth login --identity {identity} --force`")
                }
                "ThrottlingException" | "Throttling" | "TooManyRequestsException" => {
                    "ECR is throttling requests (tfauth already retried with backoff); try again in a minute".into()
                }
                "InvalidParameterException" => format!("check `spec.registry` of integration `{integration}` (account id and region)"),
                _ => format!("see the message from ECR above; retry with `tfauth auth ecr-login {integration}`"),
            },
            ProviderError::EcrUnreachable { .. } => {
                "check the network, or AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_ECR if you point tfauth at another endpoint".into()
            }
            ProviderError::EcrAnswer { integration, .. } => {
                format!("the endpoint did not answer as ECR does; check AWS_ENDPOINT_URL_ECR, then `tfauth auth ecr-login {integration}`")
            }
            ProviderError::Eks(f) => {
                let EksFailure { integration, identity, cluster, region, code, .. } = &**f;
                match code.as_str() {
                // `update-kubeconfig --name` names its own "integration" `--name CLUSTER`.
                "ResourceNotFoundException" if integration.starts_with("--") => format!(
                    "no cluster `{cluster}` in {region} is visible to `{identity}`: check --name and --region (`aws eks list-clusters --region {region}` lists them)"
                ),
                "ResourceNotFoundException" => format!(
                    "no cluster `{cluster}` in {region} is visible to `{identity}`: check `spec.cluster.name` and `spec.cluster.region` of `{integration}` (`aws eks list-clusters --region {region}` lists them)"
                ),
                _ if integration.starts_with("--") => "see the message from EKS above, then run the command again".into(),
                "AccessDeniedException" | "AccessDenied" | "HTTP403" => format!(
                    "`{identity}` may not call eks:DescribeCluster; allow it in the role's policy, or point `via.identity` of `{integration}` at an identity that may"
                ),
                "ExpiredTokenException" => format!("the session of `{identity}` has expired; run `tfauth auth login --identity {identity}`"),
                "UnrecognizedClientException" | "InvalidSignatureException" | "HTTP401" => {
                    format!("EKS did not accept the session of `{identity}`; run `tfauth auth login --identity {identity} --force`")
                }
                "ThrottlingException" | "Throttling" | "TooManyRequestsException" => {
                    "EKS is throttling requests (tfauth already retried with backoff); try again in a minute".into()
                }
                _ => format!("see the message from EKS above; retry with `tfauth aws eks update-kubeconfig --integration {integration}`"),
                }
            }
            ProviderError::EksUnreachable { .. } => {
                "check the network, or AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_EKS if you point tfauth at another endpoint".into()
            }
            ProviderError::EksAnswer { integration, .. } => {
                format!("the endpoint did not answer as EKS does; check AWS_ENDPOINT_URL_EKS, then `tfauth aws eks update-kubeconfig --integration {integration}`")
            }
            ProviderError::AccountNotFound { name, available, .. } => {
                match crate::util::suggest::nearest(name, available.iter().map(String::as_str)).first() {
                    Some(n) => format!("did you mean `{n}`? Fix `principal.account.name`, or use `principal.account.id`"),
                    None if available.is_empty() => "you are assigned no accounts in IAM Identity Center; ask your administrator".into(),
                    None => format!(
                        "fix `principal.account.name`; the accounts you may use: {}",
                        available.iter().take(12).cloned().collect::<Vec<_>>().join(", ")
                    ),
                }
            }
            ProviderError::BadCredentials { service, endpoint, problem, .. } => {
                use crate::providers::validate::Problem;
                let clock = matches!(**problem, Problem::Expired { .. } | Problem::TooLong { .. });
                match (endpoint, clock) {
                    (None, _) => "the ambient credentials (environment, AWS profile, instance or container role) are incomplete or expired; renew them, or give the identity a provider".into(),
                    (Some(_), true) => format!(
                        "check this machine's clock (it must be within 5 minutes of {service}'s); if it is right, the endpoint did not answer as AWS does: check AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL"
                    ),
                    (Some(_), false) => "the answer was cut short or is not what AWS sends (a proxy, or AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL pointing elsewhere); check the endpoint and try again".into(),
                }
            }
            ProviderError::Remembered { hint, age_secs, for_secs, .. } => {
                let note = format!(
                    "another tfauth process got this answer {age_secs}s ago; tfauth asks the service again once it is {for_secs}s old"
                );
                match hint {
                    Some(h) => format!("{h}\n{note}"),
                    None => note,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn encode_keeps_exactly_the_unreserved_characters() {
        let every: String = (1u8..=0x7f).map(char::from).chain("é€".chars()).collect();
        let want: String = every
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        assert_eq!(super::encode(&every), want);
    }
}

/// A DescribeCluster that EKS refused (boxed in [`ProviderError::Eks`]: errors stay small).
#[derive(Debug)]
pub struct EksFailure {
    pub integration: String,
    pub identity: String,
    pub cluster: String,
    pub region: String,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for EksFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "EKS DescribeCluster of `{}` in {} for integration `{}` (as identity `{}`) failed: {}: {}",
            self.cluster, self.region, self.integration, self.identity, self.code, self.message
        )
    }
}

/// The exit code of an error code an AWS service (ECR, EKS) answered a call with:
/// throttling 75, refused credentials 77, a bad parameter 65, anything else 69.
fn service_exit(code: &str) -> i32 {
    match code {
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" => exit::TEMPFAIL,
        "AccessDeniedException"
        | "AccessDenied"
        | "ExpiredTokenException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "HTTP401"
        | "HTTP403" => exit::NOPERM,
        "InvalidParameterException" => exit::DATAERR,
        _ => exit::UNAVAILABLE,
    }
}
