//! The resolution pipeline up to (not including) talking to a cloud: config → stacks →
//! component → merged auth → typed auth → identity → chain → environment plan. Everything
//! `describe`, `--dry-run`, `auth list` and (later) exec need comes from [`resolve`], so
//! they all agree. Reads configuration files (and whether an isolated Docker login exists);
//! writes nothing.

use crate::auth::{AuthConfig, AuthError, Problem, Subject};
use crate::config::{self, AtmosConfig, ConfigOptions};
use crate::env_vars::{self, Env};
use crate::error::Error;
use crate::identity::{Chain, IdentityFlag, Prompt, Selection, chain, select};
use crate::output::env::{self as envplan, EnvPlan, PlanContext};
use crate::stacks::{ResolvedComponent, StackSet, component};
use crate::yaml::{Node, Span};
use std::path::{Path, PathBuf};

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
    /// Chains of the `required: true` identities other than the selected one, each of a
    /// cloud of its own (a component with an AWS backend and a GCP or Azure identity).
    pub required: Vec<Chain>,
}

/// Loads configuration and, when the request names a stack and component, resolves it.
pub fn load_component(req: &Request, env: &Env) -> Result<(AtmosConfig, Option<ResolvedComponent>), Error> {
    let opts = ConfigOptions { cwd: req.cwd.clone(), profiles: req.profiles.clone() };
    let cfg = match &req.config_file {
        Some(file) => config::load_file(file, &opts, env)?,
        None => config::load(&opts, env)?,
    };
    // Before the stacks load, so their warnings already go where atmos.yaml says.
    crate::logging::apply_config(cfg.logs.level.as_deref(), cfg.logs.file.as_deref());
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
            return Err(Error::usage(
                format!("component `{name}` needs a stack"),
                Some(format!("add `-s STACK`, e.g. `-s plat-use2-dev`, to resolve `{name}`")),
            ));
        }
        _ => None,
    };
    Ok((cfg, comp))
}

/// Runs the whole pipeline.
pub fn resolve(req: &Request, env: &Env, prompt: Option<&dyn Prompt>) -> Result<Resolution, Error> {
    let (config, component) = load_component(req, env)?;
    let auth_node = match &component {
        Some(c) => c.auth.clone(),
        None => config.auth().cloned().unwrap_or_else(Node::null),
    };
    let (mut auth, problems) = AuthConfig::parse(Some(&auth_node));
    crate::portal::add_provisioned(&mut auth, env);
    let context = component.as_ref().map(|c| format!("component `{}` in stack `{}`", c.component, c.stack));

    let uses_defaults = req.identity == IdentityFlag::Absent && env.get(env_vars::ATMOS_IDENTITY).is_none();
    if uses_defaults && let Some((name, span)) = undefined_defaults(&auth_node).into_iter().next() {
        return Err(AuthError::DefaultUndefined {
            name,
            span,
            profiles: config.profiles.iter().map(|p| p.name.clone()).collect(),
        }
        .into());
    }
    let selection = select(&auth, &req.identity, env, prompt, context.as_deref())?;
    let chain = match &selection {
        Selection::Identity { name, .. } => {
            let chain = chain::build(&auth, name).map_err(|p| AuthError::Invalid { problems: vec![p] })?;
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
    let required = match &chain {
        Some(primary) => required_chains(&auth, primary, &problems)?,
        None => vec![],
    };
    let mut subjects = chain.as_ref().map(Chain::subjects).unwrap_or_default();
    subjects.extend(required.iter().flat_map(Chain::subjects));
    let warnings = problems.into_iter().filter(|p| !subjects.contains(&p.subject)).collect();
    Ok(Resolution { config, component, auth_node, auth, warnings, selection, chain, required })
}

/// The chains of `required: true` identities besides `primary`. Each must be valid, and no
/// two chains may serve the same cloud: one run has one set of AWS, Azure or GCP variables.
fn required_chains(auth: &AuthConfig, primary: &Chain, problems: &[Problem]) -> Result<Vec<Chain>, Error> {
    let mut out: Vec<Chain> = Vec::new();
    for id in auth.identities.iter().filter(|i| i.required && !i.name.eq_ignore_ascii_case(&primary.leaf().name)) {
        let chain = chain::build(auth, &id.name).map_err(|p| AuthError::Invalid { problems: vec![p] })?;
        let subjects = chain.subjects();
        let blocking: Vec<Problem> = problems.iter().filter(|p| subjects.contains(&p.subject)).cloned().collect();
        if !blocking.is_empty() {
            return Err(AuthError::Invalid { problems: blocking }.into());
        }
        let cloud = chain.leaf().cloud();
        if let Some(other) = std::iter::once(primary).chain(&out).find(|c| c.leaf().cloud() == cloud) {
            let cloud_name = cloud.map_or("the same".to_string(), |c| c.to_string());
            return Err(AuthError::Invalid {
                problems: vec![Problem {
                    subject: Subject::Identity(id.name.clone()),
                    span: Some(id.span.clone()),
                    message: format!(
                        "identity `{}` is `required: true`, but `{}` already provides this run's {cloud_name} credentials",
                        id.name,
                        other.leaf().name
                    ),
                    hint: Some("a run carries one identity per cloud: drop `required` from one of them, or select the other with --identity".into()),
                }],
            }
            .into());
        }
        out.push(chain);
    }
    Ok(out)
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
    pub fn chain_for(&self, identity: &str) -> Result<Chain, Error> {
        let chain = chain::build(&self.auth, identity).map_err(|p| AuthError::Invalid { problems: vec![p] })?;
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

    /// The realm: `ATMOS_AUTH_REALM`, `auth.realm`, else a hash of the config directory.
    pub fn realm(&self, env: &Env) -> String {
        envplan::realm(env, self.auth.realm.as_ref().map(|r| r.0.as_str()), Some(&self.config.dir))
    }

    /// The environment plan for the chosen chain (empty when auth is off or absent).
    pub fn env_plan(&self, env: &Env, helper: &Path, profiles_arg: &[String]) -> Result<EnvPlan, Error> {
        let Some(chain) = &self.chain else {
            return Ok(EnvPlan::default());
        };
        let realm = self.realm(env);
        if !crate::auth::schema::is_valid_realm(&realm) {
            return Err(Error::usage(
                format!("ATMOS_AUTH_REALM `{realm}` cannot name a directory"),
                Some("use letters, digits, `-`, `_` and `.` only".to_string()),
            ));
        }
        let home = envplan::config_home(env).ok_or_else(|| {
            Error::usage(
                "cannot tell where to write credential files: HOME is not set",
                Some("set HOME or XDG_CONFIG_HOME".to_string()),
            )
        })?;
        // Every value the helper's command line carries, with where it came from, so a value
        // that cannot be written into the AWS config is refused by name.
        use envplan::{Arg, Origin};
        let esc = crate::output::ini::escape_controls;
        let origin = |value: String, what: &str, from: String, hint: &str| {
            Arg::Value(Origin { value, what: what.into(), from, hint: hint.into() })
        };
        let mut helper_args = vec![
            Arg::Flag("--config"),
            origin(
                self.config.file.display().to_string(),
                "the path of atmos.yaml",
                "the repository's location".into(),
                "move the repository to a directory whose path has no control characters (newline, tab...), `#` or `;`",
            ),
        ];
        if !profiles_arg.is_empty() || !self.config.profiles.is_empty() {
            let names: Vec<&str> = self.config.profiles.iter().map(|p| p.name.as_str()).collect();
            helper_args.push(Arg::Flag("--profile"));
            helper_args.push(origin(
                if names.is_empty() { profiles_arg.join(",") } else { names.join(",") },
                "the profile names",
                "--profile, ATMOS_PROFILE or profiles.default".into(),
                "name the profile directories with letters, digits, `-`, `_` and `.`",
            ));
        }
        if let Some(c) = &self.component {
            let file = crate::yaml::display_path(&c.stack_file);
            helper_args.extend([
                Arg::Flag("--stack"),
                origin(
                    c.stack.clone(),
                    "the stack name",
                    format!("the name of the stack in {file}, from its `name:`, stacks.name_template or name_pattern"),
                    "give the stack a name without control characters (newline, tab...), `#` or `;`",
                ),
                Arg::Flag("--component"),
                origin(
                    c.component.clone(),
                    "the component name",
                    format!("in {file}"),
                    "name the component without control characters (newline, tab...), `#` or `;`",
                ),
            ]);
        }
        let purpose = match &self.component {
            Some(c) => format!("component {} in stack {}", c.component, c.stack),
            None => format!("identity {}", chain.leaf().name),
        };
        let stack_region = self.component.as_ref().and_then(|c| {
            let node = c.vars.get("region")?;
            let value = node.as_str()?.to_string();
            let at = if node.span.is_synthetic() { String::new() } else { format!(" at {}", node.span) };
            Some(Origin {
                value,
                what: "the region".into(),
                from: format!(
                    "the stack's vars.region{at}, for component `{}` in stack `{}`",
                    esc(&c.component),
                    esc(&c.stack)
                ),
                hint: "set vars.region to a region name such as us-east-2 (or give the identity a `region`)".into(),
            })
        });
        let ctx = PlanContext {
            realm_dir: home.join("atmos").join(envplan::path_component(&realm)),
            helper: helper.to_path_buf(),
            helper_args,
            stack_region,
            purpose,
        };
        // Each AWS profile names its cache entry (`--key`), so the helper's warm path reads
        // one file and parses no YAML; a changed definition gets a new key on the next run.
        let cache = crate::cache::Cache::new(env, "aws");
        let plan_for = |c: &Chain| {
            let mut ctx = ctx.clone();
            let mut session = None;
            if c.leaf().cloud() == Some(crate::auth::Cloud::Aws) {
                let key = crate::cache::key::chain_key(&self.auth_node, c);
                session = cache.as_ref().map(|cache| cache.entry_path(&key));
                ctx.helper_args.extend([
                    Arg::Flag("--key"),
                    origin(key, "the cache key", "tfauth".into(), "report this as a bug"),
                ]);
                if let Some(m) = self.auth_node.get("refresh_margin").and_then(Node::as_str) {
                    ctx.helper_args.extend([
                        Arg::Flag("--margin"),
                        origin(
                            m.to_string(),
                            "the refresh margin",
                            "auth.refresh_margin".into(),
                            "write auth.refresh_margin as a duration such as 10m",
                        ),
                    ]);
                }
            }
            let mut plan = envplan::plan(c, &ctx, env)?;
            if let Some(path) = session {
                plan.set.insert(crate::env_vars::TFAUTH_SESSION.to_string(), path.display().to_string());
            }
            Ok::<_, Error>(plan)
        };
        let mut plan = plan_for(chain)?;
        for extra in &self.required {
            plan.merge(plan_for(extra)?);
        }
        plan.set.insert(crate::env_vars::TFAUTH_IDENTITY.to_string(), chain.leaf().name.clone());
        let docker = std::iter::once(chain)
            .chain(&self.required)
            .find_map(|c| crate::integrations::docker_config_dir(self, &c.leaf().name, &ctx.realm_dir));
        if let Some(dir) = docker {
            plan.set.insert(env_vars::DOCKER_CONFIG.into(), dir.display().to_string());
        }
        Ok(plan)
    }
}
