//! Logins for other tools: what Atmos calls integrations (`auth.integrations`),
//! credentials for another tool derived from an identity's session after it exists. (The
//! folder is not called `integrations` so that nobody mistakes it for the `integration/`
//! test suite.) Two sorts, each made with the `via` identity's credentials (obtained
//! through [`crate::session`], so cached and single flight like any other): Docker logins
//! (`aws/ecr`, `aws/ecr-public`, `azure/acr`) written into a Docker `config.json`
//! ([`crate::output::docker`]); and kubeconfig entries for one cluster each (`aws/eks`,
//! `gcp/gke`, `azure/aks`, [`kube`]) whose user runs tfauth's token plugin for that cloud
//! ([`crate::output::kubeconfig`]).
//!
//! A kubeconfig goes where the integration says (Atmos's `<config home>/atmos/kube/config`
//! by default) after `auth login` and `update-kubeconfig`. A run gets its own,
//! content-addressed file holding only its identities' clusters
//! ([`kubeconfig_for_run`]): a shared file's `current-context` would be whichever run
//! wrote last.
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
use crate::output::kubeconfig::{self, KubeconfigWriteError};

mod kube;
use crate::providers::ProviderError;
use crate::resolve::{Resolution, ResolveError};
use crate::session::{Interaction, SessionError};
pub use kube::{RunKubeconfig, gke_token, kubeconfig_for_run, kubeconfig_path, plugin_args};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// What an integration did.
#[derive(Debug)]
pub struct Login {
    pub integration: String,
    pub identity: String,
    pub made: Made,
    /// The file written (`config.json`, a kubeconfig).
    pub file: PathBuf,
    /// Things about the file the user should know (a removed credHelpers entry, a
    /// credsStore that shadows the login, a kubeconfig rewritten whole).
    pub warnings: Vec<String>,
}

/// What a login produced.
#[derive(Debug)]
pub enum Made {
    /// A Docker login to the registry `host`.
    Docker { host: String, expires_at: Option<OffsetDateTime> },
    /// A kubeconfig entry: the context's name, and whether the file changed.
    Kubeconfig { context: String, changed: bool },
}

/// Where the logins write, and the binary that kubeconfigs' exec plugins run.
#[derive(Clone, Copy, Debug)]
pub struct Outputs<'a> {
    /// The user's `--docker-config`; `None`: the isolated one.
    pub docker_config: Option<&'a Path>,
    /// A kubeconfig that wins over the integrations' own (`update-kubeconfig --kubeconfig`).
    pub kubeconfig: Option<&'a Path>,
    /// The absolute path of `atmos-auth-helper`, the exec plugins' command (`aws eks token`
    /// there costs what the credential helper's warm path does).
    pub plugin: &'a Path,
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
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigWriteError),
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
            IntegrationError::Kubeconfig(e) => e.exit_code(),
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
                        "no integrations are defined; add one under `auth.integrations` (kind: aws/ecr, aws/eks, gcp/gke, azure/aks...)".into()
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
            IntegrationError::Kubeconfig(e) => return e.hint(),
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

/// Whether the integration is a Docker login (aws/ecr, aws/ecr-public, azure/acr).
pub fn is_docker_login(i: &Integration) -> bool {
    matches!(i.kind_name.as_str(), "aws/ecr" | "aws/ecr-public" | "azure/acr")
}

/// The integrations `auth login` of `identity` runs: those via it with `auto_provision`.
pub fn auto<'a>(res: &'a Resolution, identity: &str) -> Vec<&'a Integration> {
    res.auth.integrations.iter().filter(|i| i.auto_provision && i.is_via(identity)).collect()
}

/// Runs one integration: its identity's session, then the registry's token and the Docker
/// login, or the cluster's description and the kubeconfig entry.
pub fn run(
    res: &Resolution,
    integration: &Integration,
    out: Outputs<'_>,
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
        // A spec Atmos reads but cannot run (a cluster's): its warnings are why.
        let why = spec_warnings(res, integration);
        if !why.is_empty() {
            return Err(AuthError::Invalid { problems: why }.into());
        }
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
    let aws_session = || crate::session::obtain(&res.scope(env), &chain, env, ask);
    match kind {
        IntegrationKind::Acr { login_server } => {
            let (arm, tenant) =
                crate::session::azure::arm_token(&chain, env, ask.device, crate::providers::azure::Mode::Use)?;
            let (password, expires_at) =
                crate::providers::azure::acr_refresh_token(&identity, login_server, &tenant, &arm, env)?;
            let target = match out.docker_config {
                Some(path) => docker::Target::user(path),
                None => docker::Target::isolated(&realm_dir(res, env)?),
            };
            let username = crate::providers::azure::ACR_USERNAME;
            let warnings = docker::write_login(&target, login_server, username, &password, env)?;
            Ok(Login {
                integration: integration.name.clone(),
                identity,
                made: Made::Docker { host: login_server.clone(), expires_at },
                file: target.file,
                warnings,
            })
        }
        IntegrationKind::Ecr { .. } | IntegrationKind::EcrPublic => {
            let session = aws_session()?;
            let login = match kind {
                IntegrationKind::Ecr { account_id, region } => {
                    crate::providers::ecr::authorization_token(&crate::providers::ecr::Request {
                        integration: &integration.name,
                        identity: &identity,
                        credentials: &session.credentials,
                        account_id,
                        region,
                        env,
                    })?
                }
                _ => crate::providers::ecr::public_authorization_token(&crate::providers::ecr::Request {
                    integration: &integration.name,
                    identity: &identity,
                    credentials: &session.credentials,
                    account_id: "",
                    region: crate::providers::ecr::PUBLIC_AUTH_REGION,
                    env,
                })?,
            };
            let target = match out.docker_config {
                Some(path) => docker::Target::user(path),
                None => docker::Target::isolated(&realm_dir(res, env)?),
            };
            let warnings = docker::write_login(&target, &login.host, &login.username, &login.password, env)?;
            Ok(Login {
                integration: integration.name.clone(),
                identity,
                made: Made::Docker { host: login.host, expires_at: login.expires_at },
                file: target.file,
                warnings,
            })
        }
        IntegrationKind::Eks(_) | IntegrationKind::Gke(_) | IntegrationKind::Aks(_) => {
            let (entry, spec) = kube::entry(res, &chain, integration, kind, env, ask, out.plugin)?;
            let path = match out.kubeconfig {
                Some(p) => p.to_path_buf(),
                None => kube::kubeconfig_path(spec, env)?,
            };
            let written = kubeconfig::write(&path, &entry, spec.update, spec.mode, env)?;
            let (changed, warnings) = match written {
                kubeconfig::Written::Unchanged => (false, vec![]),
                kubeconfig::Written::Changed { reformatted: false } => (true, vec![]),
                kubeconfig::Written::Changed { reformatted: true } => (
                    true,
                    vec!["its layout could not be edited in place (flow-style YAML), so it was rewritten from its contents: comments and formatting were not kept".into()],
                ),
            };
            Ok(Login {
                integration: integration.name.clone(),
                identity,
                made: Made::Kubeconfig { context: entry.context, changed },
                file: path,
                warnings,
            })
        }
    }
}

/// What `auth logout` of `identity` removes of its integrations' work, as Atmos's cleanup
/// does: the Docker logins in the isolated config, the kubeconfig entries where the
/// integration writes them. One line per removal (or, with `dry_run`, per removal it would
/// make); a failure is a warning, never an end to the logout.
pub fn forget(res: &Resolution, identity: &str, env: &Env, dry_run: bool) -> Vec<String> {
    let mut lines = Vec::new();
    for int in res.auth.integrations.iter().filter(|i| i.is_via(identity)) {
        let done = match &int.kind {
            Some(IntegrationKind::Ecr { account_id, region }) => {
                forget_docker(res, &crate::providers::ecr::default_host(account_id, region), env, dry_run)
            }
            Some(IntegrationKind::EcrPublic) => forget_docker(res, crate::providers::ecr::PUBLIC_HOST, env, dry_run),
            Some(IntegrationKind::Acr { login_server }) => forget_docker(res, login_server, env, dry_run),
            Some(k @ (IntegrationKind::Eks(_) | IntegrationKind::Gke(_) | IntegrationKind::Aks(_))) => {
                kube::forget(int, k, env, dry_run)
            }
            None => Ok(vec![]),
        };
        match done {
            Ok(found) => lines.extend(found),
            Err(e) => tracing::warn!("integration `{}`: its cleanup failed: {e}", int.name),
        }
    }
    lines
}

fn forget_docker(res: &Resolution, host: &str, env: &Env, dry_run: bool) -> Result<Vec<String>, IntegrationError> {
    let target = docker::Target::isolated(&realm_dir(res, env)?);
    let what = vec![format!("the Docker login for {host} in {}", target.file.display())];
    if dry_run {
        let text = crate::util::fs::read_private(&target.file, crate::util::fs::READ_CAP).ok().flatten();
        let there = text.is_some_and(|t| docker::without_login(&String::from_utf8_lossy(&t), host).is_some());
        return Ok(if there { what } else { vec![] });
    }
    Ok(if docker::remove_login(&target, host, env)? { what } else { vec![] })
}

/// The validation warnings about an integration's `spec` (those that leave its kind unset).
pub(super) fn spec_warnings(res: &Resolution, integration: &Integration) -> Vec<Problem> {
    let subject = Subject::Integration(integration.name.clone());
    res.auth.notes.warnings.iter().filter(|p| p.subject == subject).cloned().collect()
}

/// `<config dir>/atmos/<realm>`.
pub(super) fn realm_dir(res: &Resolution, env: &Env) -> Result<PathBuf, IntegrationError> {
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
/// aws/ecr or aws/ecr-public integration comes via it and a login has been written there.
pub fn docker_config_dir(res: &Resolution, identity: &str, realm_dir: &Path) -> Option<PathBuf> {
    let has_ecr = res.auth.integrations.iter().any(|i| is_docker_login(i) && i.is_via(identity));
    let target = docker::Target::isolated(realm_dir);
    (has_ecr && target.file.is_file()).then(|| target.dir().to_path_buf())
}
