//! The resolution pipeline up to (not including) talking to a cloud: config → stacks →
//! component → merged auth → typed auth → identity → chain → environment plan. Everything
//! `describe`, `--dry-run`, `auth list` and (later) exec need comes from [`resolve`], so
//! they all agree. Reads configuration files (and whether an isolated Docker login exists);
//! writes nothing.

use crate::auth::{AuthConfig, AuthError, Problem, Subject};
use crate::config::{self, AtmosConfig, ConfigOptions};
use crate::env_vars::{self, Env};
use crate::identity::{Chain, IdentityFlag, Prompt, Selection, chain, select};
use crate::stacks::{ResolvedComponent, StackSet, component};
use crate::yaml::{Node, Span};
use std::path::PathBuf;

/// What to resolve.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub cwd: PathBuf,
    /// A known atmos.yaml (the helper is told which); otherwise discovered from `cwd`.
    pub config_file: Option<PathBuf>,
    pub profiles: Vec<String>,
    pub stack: Option<String>,
    pub component: Option<String>,
    pub identity: IdentityFlag,
    /// `describe`: without `--identity`, an identity that does not resolve (no default,
    /// several, a broken chain) is [`Selection::Unresolved`] rather than an error, as
    /// Atmos's describe builds no auth unless `--identity` is given.
    pub describe: bool,
}

/// The outcome: configuration, component (when asked for), auth and the chosen chain.
#[derive(Debug)]
pub struct Resolution {
    pub config: AtmosConfig,
    pub component: Option<ResolvedComponent>,
    /// The merged `auth:` node the typed config came from.
    pub auth_node: Node,
    pub auth: AuthConfig,
    /// Problems outside the chosen chain: reported as warnings, not errors.
    pub warnings: Vec<Problem>,
    pub selection: Selection,
    pub chain: Option<Chain>,
    /// Chains of the `required: true` identities other than the selected one that this run
    /// authenticates too: every AWS one (a profile each in the same AWS config: hub and
    /// spoke) and the first of each other cloud; those left out are in `warnings`.
    pub required: Vec<Chain>,
}

/// Why a request could not be resolved: the config's, the stacks' or the auth section's
/// own error, or a request that does not make sense (a component without a stack).
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Stack(#[from] crate::stacks::StackError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{message}")]
    Usage { message: String, hint: Option<String> },
}

impl ResolveError {
    fn usage(message: impl Into<String>, hint: Option<String>) -> ResolveError {
        ResolveError::Usage { message: message.into(), hint }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            ResolveError::Config(e) => e.hint(),
            ResolveError::Stack(e) => e.hint(),
            ResolveError::Auth(e) => e.hint(),
            ResolveError::Usage { hint, .. } => hint.clone(),
        }
    }
}

/// Loads configuration and, when the request names a stack and component, resolves it.
pub fn load_component(req: &Request, env: &Env) -> Result<(AtmosConfig, Option<ResolvedComponent>), ResolveError> {
    let opts = ConfigOptions { cwd: req.cwd.clone(), profiles: req.profiles.clone() };
    let cfg = match &req.config_file {
        Some(file) => config::load_file(file, &opts, env)?,
        None => config::load(&opts, env)?,
    };
    // Before the stacks load, so their warnings already go where atmos.yaml says.
    crate::util::logging::apply_config(cfg.logs.level.as_deref(), cfg.logs.file.as_deref());
    let comp = match (&req.stack, &req.component) {
        (Some(stack), Some(name)) => {
            let set = StackSet::load(&cfg)?;
            let stack = set.find(stack)?;
            let resolved = component::resolve(&cfg, &stack, name)?;
            // Thousands of parsed manifests would take longer to free than the rest of the
            // run; a CLI process is about to exit, so let the OS reclaim them.
            std::mem::forget(set);
            Some(resolved)
        }
        (None, Some(name)) => {
            // `--stack`, which tfauth and the helper both take (the helper has no `-s`).
            let stacks = StackSet::load(&cfg).map(|set| set.names_with_component(name)).unwrap_or_default();
            let hint = match stacks.as_slice() {
                [] => format!(
                    "add `--stack STACK` to resolve `{name}` (`tfauth list stacks -c {name}` lists the stacks that define it)"
                ),
                [one] => format!("add `--stack {one}`, the stack that defines `{name}`"),
                [first, ..] => format!(
                    "add `--stack STACK`, e.g. `--stack {first}`; {} stacks define `{name}` (`tfauth list stacks -c {name}`)",
                    stacks.len()
                ),
            };
            return Err(ResolveError::usage(format!("component `{name}` needs a stack"), Some(hint)));
        }
        _ => None,
    };
    Ok((cfg, comp))
}

/// A component and a stack that defines it, for hints: the first stack (by name) with a
/// component. None when the stacks cannot be read.
fn example_target(cfg: &AtmosConfig) -> Option<(String, String)> {
    let set = StackSet::load(cfg).ok()?;
    let mut listing = set.listing().ok()?;
    listing.sort();
    listing.into_iter().find_map(|(stack, mut comps)| {
        comps.sort();
        comps.into_iter().next().map(|c| (c, stack))
    })
}

/// Runs the whole pipeline.
pub fn resolve(req: &Request, env: &Env, prompt: Option<&dyn Prompt>) -> Result<Resolution, ResolveError> {
    let (config, component) = load_component(req, env)?;
    // Every command that resolves uses the realm (files, cache, keyring entries): one that
    // Atmos would refuse is refused here, before any of them (`auth.realm` is a schema problem).
    if let Some(r) = env.get(env_vars::ATMOS_AUTH_REALM).filter(|r| !r.is_empty())
        && let Some(why) = crate::auth::schema::realm_error(r)
    {
        return Err(ResolveError::usage(
            format!("{} `{}` is not a valid realm: {why}", env_vars::ATMOS_AUTH_REALM, r.escape_default()),
            Some(crate::auth::schema::REALM_RULE.into()),
        ));
    }
    let auth_node = match &component {
        Some(c) => c.auth.clone(),
        None => config.auth().cloned().unwrap_or_else(Node::null),
    };
    let (mut auth, problems) = crate::identity::parse_auth(Some(&auth_node));
    crate::session::portal::add_provisioned(&mut auth, env);
    let context = component.as_ref().map(|c| format!("component `{}` in stack `{}`", c.component, c.stack));

    // Atmos's describe never asks: without `--identity` it builds no auth at all.
    let lenient = req.describe && req.identity == IdentityFlag::Absent;
    let prompt = if lenient { None } else { prompt };
    let chosen = choose(req, env, prompt, &config, &auth_node, &auth, &problems, context.as_deref());
    let Chosen { selection, chain, required, skipped } = match chosen {
        Ok(chosen) => chosen,
        Err(e) if lenient => Chosen {
            selection: Selection::Unresolved { reason: e.to_string(), hint: e.hint() },
            chain: None,
            required: vec![],
            skipped: vec![],
        },
        Err(e) => return Err(e),
    };
    let mut subjects = chain.as_ref().map(Chain::subjects).unwrap_or_default();
    subjects.extend(required.iter().flat_map(Chain::subjects));
    let mut warnings: Vec<Problem> = problems.into_iter().filter(|p| !subjects.contains(&p.subject)).collect();
    warnings.extend(auth.notes.warnings.iter().filter(|p| subjects.contains(&p.subject)).cloned());
    warnings.extend(auth.notes.unsupported.iter().filter(|p| !subjects.contains(&p.subject)).cloned());
    warnings.extend(skipped);
    Ok(Resolution { config, component, auth_node, auth, warnings, selection, chain, required })
}

/// What [`choose`] chose: the selection, its chain, the `required` chains the run carries
/// too, and a warning for each required identity left out.
struct Chosen {
    selection: Selection,
    chain: Option<Chain>,
    required: Vec<Chain>,
    skipped: Vec<Problem>,
}

/// The identity, its chain and the `required` chains, or why they cannot be had.
#[allow(clippy::too_many_arguments)]
fn choose(
    req: &Request,
    env: &Env,
    prompt: Option<&dyn Prompt>,
    config: &AtmosConfig,
    auth_node: &Node,
    auth: &AuthConfig,
    problems: &[Problem],
    context: Option<&str>,
) -> Result<Chosen, ResolveError> {
    let uses_defaults = req.identity == IdentityFlag::Absent && env.get(env_vars::ATMOS_IDENTITY).is_none();
    if uses_defaults && let Some((name, span)) = undefined_defaults(auth_node).into_iter().next() {
        return Err(AuthError::DefaultUndefined {
            name,
            span,
            profiles: config.profiles.iter().map(|p| p.name.clone()).collect(),
        }
        .into());
    }
    let selection = select(auth, &req.identity, env, prompt, context).map_err(|e| profile_fallback(e, config, env))?;
    let chain = match &selection {
        Selection::Identity { name, .. } => {
            let chain = chain::build(auth, name).map_err(|e| AuthError::Invalid { problems: vec![e.into()] })?;
            let subjects = chain.subjects();
            let blocking: Vec<Problem> = problems
                .iter()
                .filter(|p| p.subject == Subject::General || subjects.contains(&p.subject))
                .cloned()
                .collect();
            if !blocking.is_empty() {
                return Err(AuthError::Invalid { problems: blocking }.into());
            }
            Some(chain)
        }
        _ => None,
    };
    let (required, skipped) = match &chain {
        Some(primary) => required_chains(auth, primary, problems),
        None => (vec![], vec![]),
    };
    // What tfauth cannot do yet refuses only the run whose chain needs it (before anything
    // is written); elsewhere it is a warning like any other.
    let subjects = chain.as_ref().map(Chain::subjects).unwrap_or_default();
    let needed: Vec<Problem> =
        auth.notes.unsupported.iter().filter(|p| subjects.contains(&p.subject)).cloned().collect();
    if !needed.is_empty() {
        return Err(AuthError::Unsupported { problems: needed }.into());
    }
    Ok(Chosen { selection, chain, required, skipped })
}

/// An identity asked for that is not defined: the profiles not applied that define it go
/// into the error, for its hint (Atmos's profile fallback). Only then are other profiles
/// read, and never merged into the run.
fn profile_fallback(e: AuthError, config: &AtmosConfig, env: &Env) -> AuthError {
    match e {
        AuthError::UnknownIdentity { name, source_name, suggestions, available, scoped, .. } => {
            AuthError::UnknownIdentity {
                fallback: Some(Box::new(crate::auth::ProfileFallback {
                    defined_in: config::profiles_defining(config, env, &name),
                    applied: config.profiles.iter().map(|p| p.name.clone()).collect(),
                })),
                name,
                source_name,
                suggestions,
                available,
                scoped,
            }
        }
        // Without a component, the stacks' defaults did not apply: show a target that has them.
        AuthError::NoDefault { candidates, context: None, .. } => {
            AuthError::NoDefault { candidates, context: None, example: example_target(config) }
        }
        other => other,
    }
}

/// The chains of `required: true` identities besides `primary`, and a warning for each
/// one left out. Atmos authenticates them as secondaries, and one that fails is a warning,
/// not a failed run; so is one tfauth cannot use here: a broken chain, a kind tfauth does
/// not implement yet, or a second GCP or Azure identity (their tools have no named
/// profiles, so the first one of a cloud wins). Every AWS one becomes a profile of the run's
/// AWS config (hub and spoke).
fn required_chains(auth: &AuthConfig, primary: &Chain, problems: &[Problem]) -> (Vec<Chain>, Vec<Problem>) {
    let mut out: Vec<Chain> = Vec::new();
    let mut skipped = Vec::new();
    let primary_subjects = primary.subjects();
    for id in auth.identities.iter().filter(|i| i.required && !i.name.eq_ignore_ascii_case(&primary.leaf().name)) {
        let skip = |why: String, hint: &str| Problem {
            subject: Subject::Identity(id.name.clone()),
            span: Some(id.span.clone()),
            message: format!("required identity `{}` is left out of this run: {why}", id.name),
            hint: Some(hint.to_string()),
        };
        // Its problems are warnings of their own, where they are; this one says what they cost.
        const ABOVE: &str = "its chain has a problem (reported above)";
        const FIX: &str = "fix the problem above, or drop `required: true`";
        let chain = match chain::build(auth, &id.name) {
            Ok(chain) => chain,
            Err(e) => {
                let reported = problems.iter().any(|p| p.subject == Subject::Identity(id.name.clone()));
                skipped.push(skip(if reported { ABOVE.into() } else { Problem::from(e).message }, FIX));
                continue;
            }
        };
        // Problems it shares with the chosen chain would have refused the run already.
        let subjects = chain.subjects();
        if problems.iter().any(|p| subjects.contains(&p.subject) && !primary_subjects.contains(&p.subject)) {
            skipped.push(skip(ABOVE.into(), FIX));
            continue;
        }
        if let Some(p) = auth.notes.unsupported.iter().find(|p| subjects.contains(&p.subject)) {
            skipped.push(skip(p.message.clone(), "tfauth cannot authenticate it yet; the run goes on without it"));
            continue;
        }
        let cloud = chain.leaf().cloud();
        if cloud != Some(crate::auth::Cloud::Aws)
            && let Some(other) = std::iter::once(primary).chain(&out).find(|c| c.leaf().cloud() == cloud)
        {
            let cloud_name = cloud.map_or("the same".to_string(), |c| c.to_string());
            skipped.push(skip(
                format!("`{}` already provides this run's {cloud_name} credentials, and {cloud_name} tools have no named profiles", other.leaf().name),
                "select it with --identity, or drop `required: true` from one of them",
            ));
            continue;
        }
        out.push(chain);
    }
    (out, skipped)
}

/// Identities marked `default: true` that nothing defines (no `kind`), with where.
pub fn undefined_defaults(auth: &Node) -> Vec<(String, Span)> {
    let Some(ids) = auth.get("identities").and_then(Node::as_map) else {
        return vec![];
    };
    ids.iter()
        .filter(|(_, v)| v.get("kind").is_none_or(Node::is_null))
        .filter_map(|(k, v)| {
            let d = v.get("default")?;
            (d.as_bool() == Some(true)).then(|| (k.clone(), d.span.clone()))
        })
        .collect()
}

/// [`undefined_defaults`] as problems, the way `tfauth auth validate` and `tfauth doctor`
/// report them beside the schema's.
pub fn undefined_default_problems(auth: &Node) -> Vec<Problem> {
    undefined_defaults(auth)
        .into_iter()
        .map(|(name, span)| Problem {
            subject: Subject::Identity(name.clone()),
            span: Some(span),
            message: format!("identity `{name}` is marked `default: true` but nothing defines it"),
            hint: Some("define it in atmos.yaml or the active profile, or select a profile that does".into()),
        })
        .collect()
}

impl Resolution {
    /// The chain of `identity` (not the chosen one: an integration's `via`), refused when a
    /// problem of the configuration touches it.
    pub fn chain_for(&self, identity: &str) -> Result<Chain, ResolveError> {
        let chain = chain::build(&self.auth, identity).map_err(|e| AuthError::Invalid { problems: vec![e.into()] })?;
        let subjects = chain.subjects();
        let blocking: Vec<Problem> = self
            .warnings
            .iter()
            .filter(|p| p.subject == Subject::General || subjects.contains(&p.subject))
            .cloned()
            .collect();
        if !blocking.is_empty() {
            return Err(AuthError::Invalid { problems: blocking }.into());
        }
        Ok(chain)
    }

    /// The stack's `vars.region` (where the component deploys), if it names one.
    pub fn stack_region(&self) -> Option<&str> {
        self.component.as_ref().and_then(|c| c.vars.get("region")).and_then(Node::as_str)
    }

    /// The chosen identity's name and chain, or a usage error when auth is off or absent.
    pub fn chosen(&self) -> Result<(&String, &Chain), ResolveError> {
        match (&self.selection, &self.chain) {
            (Selection::Identity { name, .. }, Some(chain)) => Ok((name, chain)),
            (Selection::Disabled { by }, _) => Err(ResolveError::usage(
                format!(
                    "no identity: auth is disabled ({})",
                    match by {
                        crate::identity::SelectionSource::Env => "ATMOS_IDENTITY is false",
                        _ => "--identity false",
                    }
                ),
                Some("pass --identity NAME".to_string()),
            )),
            _ if self.auth.identities.is_empty() => Err(ResolveError::usage(
                "no identity: none is configured",
                Some(
                    "define identities under `auth.identities` in atmos.yaml (`tfauth auth validate` checks them)"
                        .into(),
                ),
            )),
            _ => {
                let first = self.auth.identities.first().map(|i| i.name.as_str()).unwrap_or("NAME");
                let here = match &self.component {
                    Some(c) => format!("component `{}` in stack `{}` has no default identity", c.component, c.stack),
                    None => format!(
                        "{} identit{} defined, none of them a default without a component and stack (a default a stack manifest sets applies only to its components)",
                        self.auth.identities.len(),
                        if self.auth.identities.len() == 1 { "y is" } else { "ies are" }
                    ),
                };
                let example = match (&self.component, example_target(&self.config)) {
                    (None, Some((component, stack))) => format!(", or a component and stack: `{component} -s {stack}`"),
                    _ => String::new(),
                };
                Err(ResolveError::usage(
                    format!("no identity: {here}"),
                    Some(format!("name one with `-i {first}`{example}")),
                ))
            }
        }
    }

    /// What a session of this resolution needs: its merged auth settings, realm and region.
    pub fn scope(&self, env: &Env) -> crate::session::Scope<'_> {
        crate::session::Scope { auth_node: &self.auth_node, realm: self.realm(env), stack_region: self.stack_region() }
    }

    /// The realm: `ATMOS_AUTH_REALM`, `auth.realm`, else a hash of the config directory.
    pub fn realm(&self, env: &Env) -> String {
        crate::util::dirs::realm(env, self.auth.realm.as_ref().map(|r| r.0.as_str()), Some(&self.config.dir))
    }
}
