//! The environment plan of a resolved request: the helper's command line with where each
//! of its values came from, one plan per chain (the chosen one and each `required` one),
//! merged. Pure: reads and writes nothing (the Docker login directory, which exists only
//! once a login was written, is added by the command that runs the plan).

use super::env::{EnvPlan, PlanContext, config_home, path_component};
use super::ini::UnsafeValue;
use crate::env_vars::Env;
use crate::identity::Chain;
use crate::resolve::Resolution;
use crate::yaml::Node;
use std::path::Path;

/// Why a resolution has no environment plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("ATMOS_AUTH_REALM `{realm}` is not a valid realm: {why}")]
    Realm { realm: String, why: String },
    #[error("cannot tell where to write credential files: HOME is not set")]
    NoHome,
    /// A value a run would write into one of its files, refused before anything is written.
    #[error(transparent)]
    Unsafe(#[from] Box<UnsafeValue>),
    /// A root provider's `spec.files.base_path` that this run cannot use.
    #[error("{at}: provider `{provider}`: `spec.files.base_path` `{value}` cannot be used: {why}")]
    BasePath {
        provider: String,
        value: String,
        at: crate::yaml::Span,
        why: String,
        #[source]
        source: Option<std::io::Error>,
    },
}

impl PlanError {
    pub fn hint(&self) -> String {
        match self {
            PlanError::Realm { .. } => crate::auth::schema::REALM_RULE.into(),
            PlanError::NoHome => "set HOME or XDG_CONFIG_HOME".into(),
            PlanError::Unsafe(e) => e.hint.clone(),
            PlanError::BasePath { source, .. } => {
                let trust =
                    source.as_ref().and_then(crate::util::fs::TrustError::of).map(|t| format!("{}; or ", t.hint()));
                format!(
                    "{}point `spec.files.base_path` at a directory of yours that only you can write (it is created if missing), or remove it to use the default",
                    trust.unwrap_or_default()
                )
            }
        }
    }
}

/// Where a root provider's `spec.files.base_path` puts the run's AWS files, as Atmos reads
/// it: `~` and `~/...` are the home directory (`~user` is refused, as Atmos refuses it), and
/// a relative path is taken from the current directory, made absolute because terraform
/// runs elsewhere (in the component's directory).
pub fn files_base_path(p: &crate::auth::Provider, env: &Env) -> Result<Option<std::path::PathBuf>, PlanError> {
    let Some(loc) = &p.files_base_path else { return Ok(None) };
    let fail = |why: &str| PlanError::BasePath {
        provider: p.name.clone(),
        value: loc.value.clone(),
        at: loc.span.clone(),
        why: why.into(),
        source: None,
    };
    let raw = loc.value.as_str();
    let path = match raw.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            let home = env.get(crate::env_vars::HOME).ok_or_else(|| fail("`~` needs HOME, which is not set"))?;
            Path::new(home).join(rest.trim_start_matches('/'))
        }
        Some(_) => return Err(fail("only `~` and `~/...` expand (`~user` does not, in Atmos either)")),
        None => Path::new(raw).to_path_buf(),
    };
    let path = std::path::absolute(&path).map_err(|e| PlanError::BasePath {
        provider: p.name.clone(),
        value: loc.value.clone(),
        at: loc.span.clone(),
        why: "it is relative and the current directory cannot be read".into(),
        source: Some(e),
    })?;
    Ok(Some(path))
}

/// The environment plan for the resolution's chain and its `required` ones (empty when
/// auth is off or absent). A value that cannot be written safely is refused here, before
/// anything is written.
pub fn env_plan(res: &Resolution, env: &Env, helper: &Path, profiles_arg: &[String]) -> Result<EnvPlan, PlanError> {
    let Some(chain) = &res.chain else {
        return Ok(EnvPlan::default());
    };
    let realm = res.realm(env);
    if let Some(why) = crate::auth::schema::realm_error(&realm) {
        return Err(PlanError::Realm { realm: realm.escape_default().to_string(), why });
    }
    let home = config_home(env).ok_or(PlanError::NoHome)?;
    // Every value the helper's command line carries, with where it came from, so a value
    // that cannot be written into the AWS config is refused by name.
    use super::env::{Arg, Origin};
    let esc = crate::output::ini::escape_controls;
    let origin = |value: String, what: &str, from: String, hint: &str| {
        Arg::Value(Origin { value, what: what.into(), from, hint: hint.into() })
    };
    let mut helper_args = vec![
        Arg::Flag("--config"),
        origin(
            res.config.file.display().to_string(),
            "the path of atmos.yaml",
            "the repository's location".into(),
            "move the repository to a directory whose path has no control characters (newline, tab...), `#` or `;`",
        ),
    ];
    if !profiles_arg.is_empty() || !res.config.profiles.is_empty() {
        let names: Vec<&str> = res.config.profiles.iter().map(|p| p.name.as_str()).collect();
        helper_args.push(Arg::Flag("--profile"));
        helper_args.push(origin(
            if names.is_empty() { profiles_arg.join(",") } else { names.join(",") },
            "the profile names",
            "--profile, ATMOS_PROFILE or profiles.default".into(),
            "name the profile directories with letters, digits, `-`, `_` and `.`",
        ));
    }
    if let Some(c) = &res.component {
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
    let purpose = match &res.component {
        Some(c) => format!("component {} in stack {}", c.component, c.stack),
        None => format!("identity {}", chain.leaf().name),
    };
    let stack_region = res.component.as_ref().and_then(|c| {
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
        realm_dir: home.join("atmos").join(path_component(&realm)),
        aws_realm_dir: None,
        helper: helper.to_path_buf(),
        helper_args,
        stack_region,
        purpose,
    };
    // Each AWS profile names its cache entry (`--key`), so the helper's warm path reads
    // one file and parses no YAML; a changed definition gets a new key on the next run.
    let cache = crate::session::cache::Cache::new(env, "aws");
    // The AWS files live under the first AWS chain's root provider (its base_path, if any).
    let is_aws = |c: &&Chain| c.leaf().cloud() == Some(crate::auth::Cloud::Aws);
    let chains: Vec<&Chain> = std::iter::once(chain).chain(&res.required).collect();
    let aws_realm_dir = match chains.iter().copied().find(is_aws).map(|c| &c.root) {
        Some(crate::identity::ChainRoot::Provider(p)) => {
            files_base_path(p, env)?.map(|base| base.join(path_component(&realm)))
        }
        _ => None,
    };
    let aws_ctx = |c: &Chain| {
        let mut ctx = ctx.clone();
        ctx.aws_realm_dir = aws_realm_dir.clone();
        let key = crate::session::cache::key::chain_key(&res.auth_node, c);
        let session = cache.as_ref().map(|cache| cache.entry_path(&key));
        ctx.helper_args
            .extend([Arg::Flag("--key"), origin(key, "the cache key", "tfauth".into(), "report this as a bug")]);
        if let Some(m) = res.auth_node.get("refresh_margin").and_then(Node::as_str) {
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
        (ctx, session)
    };
    // Every AWS chain (the chosen one first, then each `required` one) is a profile of one
    // config file, so terraform's aliased providers reach the spoke by its name; each other
    // cloud has one chain (resolution keeps the first).
    let aws: Vec<(&Chain, (PlanContext, Option<std::path::PathBuf>))> =
        chains.iter().copied().filter(is_aws).map(|c| (c, aws_ctx(c))).collect();
    let mut plan = EnvPlan::default();
    for c in chains.iter().copied().filter(|c| !is_aws(c)) {
        plan.merge(super::env::plan(c, &ctx, env)?);
    }
    if !aws.is_empty() {
        let profiles: Vec<(&Chain, &PlanContext)> = aws.iter().map(|(c, (ctx, _))| (*c, ctx)).collect();
        let mut aws_plan = super::env::aws_plan(&profiles)?;
        // `tfauth prompt` reads the session of the profile AWS_PROFILE names.
        if let Some(path) = &aws[0].1.1 {
            aws_plan.set.insert(crate::env_vars::TFAUTH_SESSION.to_string(), path.display().to_string());
        }
        plan.merge(aws_plan);
    }
    plan.set.insert(crate::env_vars::TFAUTH_IDENTITY.to_string(), chain.leaf().name.clone());
    with_identity_env(&mut plan, &chain.leaf().env);
    Ok(plan)
}

/// Adds the chosen identity's `env:` (Atmos adds it to the run's environment) underneath
/// what auth sets or removes: as for a component's `env:`, auth wins. Only into `set`,
/// the child's environment: never into a file.
fn with_identity_env(plan: &mut EnvPlan, env: &[(String, String)]) {
    let owned = |k: &str| {
        plan.set.contains_key(k)
            || plan.clear.iter().any(|c| c == k)
            || plan.clear_prefixes.iter().any(|p| k.starts_with(p.as_str()))
    };
    let added: Vec<(String, String)> = env.iter().filter(|(k, _)| !owned(k)).cloned().collect();
    // A value under a secret-looking name (TF_VAR_db_password) is shown redacted, as a
    // component's `env:` is; the child gets it as it is.
    for (k, _) in &added {
        if crate::secret::is_secret_key(k) && !plan.secret_vars.contains(k) {
            plan.secret_vars.push(k.clone());
        }
    }
    plan.set.extend(added);
}

/// Fills into `plan` what walking `chain` handed over: the session's keys written into
/// the profile `static_profile` names (`--static-credentials`), GCP's and Azure's files.
/// The one place that decides which files a walk's secrets become; pure.
pub fn complete(
    plan: EnvPlan,
    chain: &Chain,
    walked: &crate::session::Walked,
    static_profile: Option<&str>,
    env: &Env,
) -> EnvPlan {
    use crate::session::Walked;
    match walked {
        Walked::Aws(session) => match static_profile {
            Some(profile) => plan.with_static_credentials(profile, &session.credentials),
            None => plan,
        },
        Walked::Gcp(w) => {
            let mut plan = plan;
            super::gcp::complete(&mut plan, chain, w, env);
            plan
        }
        Walked::Azure(w) => {
            let mut plan = plan;
            super::azure::complete(&mut plan, chain, w);
            plan
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_env_goes_under_what_auth_sets() {
        let mut plan = EnvPlan::default();
        plan.set.insert("AWS_PROFILE".into(), "admin".into());
        plan.clear.push("KUBECONFIG".into());
        plan.clear_prefixes.push("GOOGLE_".into());
        let env = [
            ("AWS_PROFILE".to_string(), "mine".to_string()),
            ("KUBECONFIG".to_string(), "/k".to_string()),
            ("GOOGLE_X".to_string(), "x".to_string()),
            ("TF_VAR_team".to_string(), "core".to_string()),
            ("TF_VAR_team".to_string(), "platform".to_string()),
            ("TF_VAR_db_password".to_string(), "hunter2-canary".to_string()),
        ];
        with_identity_env(&mut plan, &env);
        assert_eq!(plan.set["TF_VAR_db_password"], "hunter2-canary", "the child gets the value");
        assert_eq!(plan.shown("TF_VAR_db_password"), crate::secret::REDACTED, "describe and --dry-run do not");
        assert_eq!(plan.shown("TF_VAR_team"), "platform");
        assert_eq!(plan.set["AWS_PROFILE"], "admin");
        assert!(!plan.set.contains_key("KUBECONFIG") && !plan.set.contains_key("GOOGLE_X"));
        // A later entry of the same name wins, as in Atmos's map.
        assert_eq!(plan.set["TF_VAR_team"], "platform");
    }
}
