//! Logins for other tools: what Atmos calls integrations (`auth.integrations`),
//! credentials for another tool derived from an identity's session after it exists. (The
//! folder is not called `integrations` so that nobody mistakes it for the `integration/`
//! test suite.) The one kind is `aws/ecr`: a Docker login to one ECR registry, made with
//! the `via` identity's session (obtained through [`crate::session`], so it is cached and
//! single flight like any other), written into a Docker `config.json`
//! ([`crate::output::docker`]).
//!
//! By default the login goes to an isolated Docker configuration under the realm,
//! `<config dir>/atmos/<realm>/docker/config.json`, which `auth exec`, `auth env` and runs
//! of an identity with integrations point `DOCKER_CONFIG` at ([`docker_config_dir`]);
//! `--docker-config` writes into the user's own instead. `auth login` runs an identity's
//! integrations (those with `auto_provision`) after its session is obtained; there a
//! failure is a warning, while `auth ecr-login` fails on it.
//!
//! This module never prints: callers report what [`Login`] says.

use crate::auth::{AuthError, Integration, IntegrationKind, Problem, Subject};
use crate::env_vars::Env;
use crate::exit;
use crate::output::docker::{self, DockerError};
use crate::providers::ProviderError;
use crate::resolve::{Resolution, ResolveError};
use crate::session::{Interaction, SessionError};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// What an integration did.
#[derive(Debug)]
pub struct Login {
    pub integration: String,
    pub identity: String,
    /// The registry host the login is for.
    pub host: String,
    pub expires_at: Option<OffsetDateTime>,
    /// The `config.json` written.
    pub file: PathBuf,
    /// Things about the Docker configuration the user should know (a removed credHelpers
    /// entry, a credsStore that shadows the login).
    pub warnings: Vec<String>,
}

/// Why an integration could not be chosen or its result not be written. Failures to get a
/// session or a token are the session's and provider's own errors, carried as they are
/// (the crate's error unwraps them, so their exit codes and hints stay their own).
#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
    #[error("integration `{name}` is not defined")]
    Unknown { name: String, available: Vec<String> },
    #[error("{}", match identity { Some(i) => format!("no integration comes via identity `{i}`"), None => "no integrations are configured".to_string() })]
    None { identity: Option<String>, available: Vec<String> },
    #[error("integration `{name}` comes via identity `{via}`, not `{identity}`")]
    NotVia { name: String, via: String, identity: String },
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("{} of {total} integrations failed: {}", failed.len(), failed.join(", "))]
    Several { failed: Vec<String>, total: usize, code: i32 },
    #[error("cannot tell where to write the Docker configuration: HOME is not set")]
    NoConfigHome,
    #[error(transparent)]
    Auth(Box<AuthError>),
    #[error(transparent)]
    Resolve(Box<ResolveError>),
    #[error(transparent)]
    Session(Box<SessionError>),
    #[error(transparent)]
    Provider(Box<ProviderError>),
}

/// Another domain's error, boxed (they are large, and rare here).
macro_rules! boxed_from {
    ($($variant:ident($t:ty)),*) => {$(
        impl From<$t> for IntegrationError {
            fn from(e: $t) -> IntegrationError {
                IntegrationError::$variant(Box::new(e))
            }
        }
    )*};
}
boxed_from!(Auth(AuthError), Resolve(ResolveError), Session(SessionError), Provider(ProviderError));

impl IntegrationError {
    pub fn exit_code(&self) -> i32 {
        match self {
            IntegrationError::Unknown { .. } | IntegrationError::None { .. } | IntegrationError::NotVia { .. } => {
                exit::USAGE
            }
            IntegrationError::Docker(e) => e.exit_code(),
            IntegrationError::Several { code, .. } => *code,
            IntegrationError::NoConfigHome => exit::USAGE,
            // The crate's error unwraps the other domains' own errors before asking.
            IntegrationError::Auth(_)
            | IntegrationError::Resolve(_)
            | IntegrationError::Session(_)
            | IntegrationError::Provider(_) => exit::SOFTWARE,
        }
    }

    pub fn hint(&self) -> Option<String> {
        Some(match self {
            IntegrationError::Unknown { name, available } => {
                match crate::util::suggest::nearest(name, available.iter().map(String::as_str)).first() {
                    Some(n) => format!("did you mean `{n}`?"),
                    None if available.is_empty() => {
                        "no integrations are defined; add one under `auth.integrations` (kind: aws/ecr)".into()
                    }
                    None => format!("integrations: {}", available.join(", ")),
                }
            }
            IntegrationError::None { available, .. } if available.is_empty() => {
                "add one under `auth.integrations` (kind: aws/ecr, via: {identity: NAME}, spec: {registry: {account_id, region}})".into()
            }
            IntegrationError::None { available, .. } => {
                format!("integrations: {}; `tfauth auth list --integrations` shows whose", available.join(", "))
            }
            IntegrationError::NotVia { name, via, .. } => {
                format!("drop --identity, or pass `--identity {via}` to log in to `{name}`")
            }
            IntegrationError::Docker(e) => return e.hint(),
            IntegrationError::NoConfigHome => "set HOME or XDG_CONFIG_HOME, or pass --docker-config".into(),
            IntegrationError::Auth(e) => return e.hint(),
            IntegrationError::Resolve(_) | IntegrationError::Session(_) => return None,
            IntegrationError::Provider(e) => return e.hint(),
            IntegrationError::Several { .. } => {
                "each failure is shown above; fix it and retry with `tfauth auth ecr-login NAME`".into()
            }
        })
    }
}

/// The integrations `name` and `identity` select: the one called `name` (which must come
/// via `identity` when both are given), else every integration, or every one via `identity`.
pub fn select<'a>(
    res: &'a Resolution,
    name: Option<&str>,
    identity: Option<&str>,
) -> Result<Vec<&'a Integration>, IntegrationError> {
    let available = || res.auth.integrations.iter().map(|i| i.name.clone()).collect::<Vec<_>>();
    if let Some(name) = name {
        let int = res
            .auth
            .integration(name)
            .ok_or_else(|| IntegrationError::Unknown { name: name.to_string(), available: available() })?;
        if let Some(identity) = identity
            && !int.is_via(identity)
        {
            return Err(IntegrationError::NotVia {
                name: int.name.clone(),
                via: int.via.as_ref().map_or_else(|| "(none)".to_string(), |v| v.0.clone()),
                identity: identity.to_string(),
            });
        }
        return Ok(vec![int]);
    }
    let chosen: Vec<&Integration> =
        res.auth.integrations.iter().filter(|i| identity.is_none_or(|id| i.is_via(id))).collect();
    if chosen.is_empty() {
        return Err(IntegrationError::None { identity: identity.map(str::to_string), available: available() });
    }
    Ok(chosen)
}

/// The integrations `auth login` of `identity` runs: those via it with `auto_provision`.
pub fn auto<'a>(res: &'a Resolution, identity: &str) -> Vec<&'a Integration> {
    res.auth.integrations.iter().filter(|i| i.auto_provision && i.is_via(identity)).collect()
}

/// Runs one integration: its identity's session, the registry's token, the Docker login.
/// `docker_config` is the user's `--docker-config`; `None` writes the isolated one.
pub fn run(
    res: &Resolution,
    integration: &Integration,
    docker_config: Option<&Path>,
    env: &Env,
    ask: Interaction<'_>,
) -> Result<Login, IntegrationError> {
    let subject = Subject::Integration(integration.name.clone());
    let not_yet: Vec<Problem> = res.auth.notes.unsupported.iter().filter(|p| p.subject == subject).cloned().collect();
    if !not_yet.is_empty() {
        return Err(AuthError::Unsupported { problems: not_yet }.into());
    }
    let own: Vec<Problem> = res.warnings.iter().filter(|p| p.subject == subject).cloned().collect();
    if !own.is_empty() {
        return Err(AuthError::Invalid { problems: own }.into());
    }
    let (Some(kind), Some((via, _))) = (&integration.kind, &integration.via) else {
        // Parsing records a problem whenever either is missing; never panic on a config.
        let problem = Problem {
            subject: Subject::Integration(integration.name.clone()),
            span: Some(integration.span.clone()),
            message: format!("integration `{}` is incomplete", integration.name),
            hint: Some("`tfauth auth validate` shows what is missing".into()),
        };
        return Err(AuthError::Invalid { problems: vec![problem] }.into());
    };
    let chain = match &res.chain {
        Some(c) if c.leaf().name.eq_ignore_ascii_case(via) => c.clone(),
        _ => res.chain_for(via)?,
    };
    let identity = chain.leaf().name.clone();
    let session = crate::session::obtain(&res.scope(env), &chain, env, ask)?;
    match kind {
        IntegrationKind::Ecr { account_id, region } => {
            let login = crate::providers::ecr::authorization_token(&crate::providers::ecr::Request {
                integration: &integration.name,
                identity: &identity,
                credentials: &session.credentials,
                account_id,
                region,
                env,
            })?;
            let target = match docker_config {
                Some(path) => docker::Target::user(path),
                None => docker::Target::isolated(&realm_dir(res, env)?),
            };
            let warnings = docker::write_login(&target, &login.host, &login.username, &login.password, env)?;
            Ok(Login {
                integration: integration.name.clone(),
                identity,
                host: login.host,
                expires_at: login.expires_at,
                file: target.file,
                warnings,
            })
        }
    }
}

/// `<config dir>/atmos/<realm>`.
fn realm_dir(res: &Resolution, env: &Env) -> Result<PathBuf, IntegrationError> {
    let home = crate::output::env::config_home(env).ok_or(IntegrationError::NoConfigHome)?;
    Ok(home.join("atmos").join(crate::output::env::path_component(&res.realm(env))))
}

/// The isolated Docker configuration directory a run of the resolution should use: the
/// first of its identities (the chosen one, then the `required` ones) that has one.
pub fn docker_config_for_run(res: &Resolution, env: &Env) -> Option<PathBuf> {
    let chain = res.chain.as_ref()?;
    let realm_dir = realm_dir(res, env).ok()?;
    std::iter::once(chain).chain(&res.required).find_map(|c| docker_config_dir(res, &c.leaf().name, &realm_dir))
}

/// The isolated Docker configuration directory a run of `identity` should use: when an
/// aws/ecr integration comes via it and a login has been written there.
pub fn docker_config_dir(res: &Resolution, identity: &str, realm_dir: &Path) -> Option<PathBuf> {
    let has_ecr = res.auth.integrations.iter().any(|i| i.kind_name == "aws/ecr" && i.is_via(identity));
    let target = docker::Target::isolated(realm_dir);
    (has_ecr && target.file.is_file()).then(|| target.dir().to_path_buf())
}
