//! Finding, loading and reading `atmos.yaml` (CONTRACT A1).
//!
//! [`discover`] finds the file the way Atmos does; [`load`] reads it, applies the
//! profiles in order, and reads the settings the rest of the pipeline needs into
//! [`AtmosConfig`]. The `auth:` section stays a [`Node`] here: it is merged with stack and
//! component levels before it is typed (see `auth::schema`).

mod discovery;
mod profiles;

pub use discovery::{discover, find_git_root};
pub use profiles::ProfileSource;

use crate::env_vars::{self, Env};
use crate::merge::{self, ListStrategy};
use crate::yaml::{LoadContext, Loader, Node, Span, display_path, load::YamlError};
use std::path::{Path, PathBuf};

/// Problems finding or reading `atmos.yaml` and its profiles.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no atmos.yaml found{}", if *from_env { format!(" at {}", list_paths(searched)) } else { String::new() })]
    NotFound { searched: Vec<PathBuf>, from_env: bool },
    #[error(transparent)]
    Yaml(#[from] YamlError),
    #[error("profile `{name}` does not exist")]
    ProfileNotFound { name: String, available: Vec<String>, searched: Vec<PathBuf> },
    #[error("`{field}` at {span} must be {expected}, not {found}")]
    WrongType { field: String, span: Span, expected: &'static str, found: &'static str },
    #[error("`{field}` at {span}: {message}")]
    Invalid { field: String, span: Span, message: String },
    #[error("environment variable {name}: {message}")]
    BadEnv { name: String, message: String },
}

impl ConfigError {
    pub fn hint(&self) -> Option<String> {
        match self {
            ConfigError::NotFound { from_env: true, .. } => {
                Some("ATMOS_CLI_CONFIG_PATH points to no atmos.yaml; fix or unset it".into())
            }
            ConfigError::NotFound { searched, .. } => Some(format!(
                "run tfauth inside an Atmos repository, or set ATMOS_CLI_CONFIG_PATH to the directory that holds atmos.yaml\nhint: looked in {}",
                list_paths(searched)
            )),
            ConfigError::Yaml(e) => e.hint(),
            ConfigError::ProfileNotFound { available, .. } if available.is_empty() => {
                Some("no profiles exist; create a directory profiles/NAME/ with YAML files in it".into())
            }
            ConfigError::ProfileNotFound { available, .. } => Some(format!(
                "use one of the profiles that exist: {}; check --profile and ATMOS_PROFILE",
                available.join(", ")
            )),
            ConfigError::WrongType { .. } | ConfigError::Invalid { .. } => Some("fix the value in that file".into()),
            ConfigError::BadEnv { name, .. } => Some(format!("set {name} to true or false, or unset it")),
        }
    }
}

/// What the caller says about where to look and which profiles to apply.
#[derive(Clone, Debug, Default)]
pub struct ConfigOptions {
    pub cwd: PathBuf,
    /// `--profile` values (each may be a comma list); empty means use `ATMOS_PROFILE`.
    pub profiles: Vec<String>,
}

/// `atmos.yaml` with its profiles applied, and the settings tfauth reads from it.
#[derive(Debug)]
pub struct AtmosConfig {
    /// The `atmos.yaml` file that was found.
    pub file: PathBuf,
    /// The directory that holds it (the realm is derived from this).
    pub dir: PathBuf,
    /// The whole merged document.
    pub root: Node,
    /// Profiles applied, in order, with where each was found.
    pub profiles: Vec<ProfileSource>,
    /// Absolute root for the stacks and components base paths.
    pub base_path: PathBuf,
    pub stacks: StacksSettings,
    pub terraform: TerraformSettings,
    pub list_strategy: ListStrategy,
    /// Context for loading further YAML (stack manifests) the same way.
    pub load_ctx: LoadContext,
    /// `auth.logs`: for the caller to apply (see `crate::util::logging::apply_config`); loading
    /// configuration never changes how the process logs.
    pub logs: LogSettings,
}

/// `auth.logs.level` and `auth.logs.file` (made absolute), as written.
#[derive(Debug, Clone, Default)]
pub struct LogSettings {
    pub level: Option<String>,
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct StacksSettings {
    pub base_path: PathBuf,
    pub included_paths: Vec<String>,
    pub excluded_paths: Vec<String>,
    pub name_template: Option<(String, Span)>,
    pub name_pattern: Option<(String, Span)>,
}

#[derive(Debug, Clone)]
pub struct TerraformSettings {
    pub base_path: PathBuf,
    /// `components.terraform.command`, if set.
    pub command: Option<String>,
    /// `auto_generate_backend_file`: write `backend.tf.json` from the stack's backend.
    pub auto_generate_backend_file: bool,
    /// `deploy_run_init`: `deploy` runs `terraform init` first (other commands always do).
    pub deploy_run_init: bool,
    /// `init_run_reconfigure`: `terraform init` gets `-reconfigure`.
    pub init_run_reconfigure: bool,
    /// `apply_auto_approve`: `apply` gets `-auto-approve`.
    pub apply_auto_approve: bool,
    /// `workspaces_enabled` (default true): select the stack's workspace before a command.
    pub workspaces_enabled: bool,
}

impl AtmosConfig {
    /// The `auth:` section after profiles (null when absent).
    pub fn auth(&self) -> Option<&Node> {
        self.root.get("auth")
    }
}

/// Finds and loads the configuration, then applies profiles.
pub fn load(opts: &ConfigOptions, env: &Env) -> Result<AtmosConfig, ConfigError> {
    let file = discover(&opts.cwd, env)?;
    load_file(&file, opts, env)
}

/// Loads a known `atmos.yaml` and applies profiles.
pub fn load_file(file: &Path, opts: &ConfigOptions, env: &Env) -> Result<AtmosConfig, ConfigError> {
    let file = absolute(&opts.cwd, file);
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_else(|| opts.cwd.clone());
    let repo_root = find_git_root(&dir);
    let mut load_ctx = LoadContext { env: env.clone(), base_path: Some(dir.clone()), repo_root };
    let mut root = Loader::new(&load_ctx).load_file(&file)?;
    if root.is_null() {
        root = Node::empty_map(Span::file_start(file.as_path().into()));
    }
    if root.as_map().is_none() {
        return Err(ConfigError::WrongType {
            field: "atmos.yaml".into(),
            span: root.span.clone(),
            expected: "a mapping",
            found: root.type_name(),
        });
    }

    let base_path = match env.get(env_vars::ATMOS_BASE_PATH) {
        Some(p) => absolute(&opts.cwd, Path::new(p)),
        None => match opt_str(&root, &["base_path"])? {
            Some((p, _)) => absolute(&dir, Path::new(&p)),
            None => dir.clone(),
        },
    };
    load_ctx.base_path = Some(base_path.clone());

    let names = profiles::requested(opts, env, &root)?;
    let mut applied = Vec::new();
    for name in names {
        let source = profiles::find(&name, &root, &dir, &base_path, env)?;
        for layer_file in &source.files {
            let layer = Loader::new(&load_ctx).load_file(layer_file)?;
            if layer.is_null() {
                continue;
            }
            if layer.as_map().is_none() {
                return Err(ConfigError::WrongType {
                    field: format!("profile `{}`", source.name),
                    span: layer.span.clone(),
                    expected: "a mapping",
                    found: layer.type_name(),
                });
            }
            apply_profile_layer(&mut root, &layer);
        }
        applied.push(source);
    }

    let list_strategy = match opt_str(&root, &["settings", "list_merge_strategy"])? {
        None => ListStrategy::Replace,
        Some((s, span)) => ListStrategy::parse(&s).ok_or_else(|| ConfigError::Invalid {
            field: "settings.list_merge_strategy".into(),
            span,
            message: format!("`{s}` is not one of replace, append, merge"),
        })?,
    };
    let stacks = StacksSettings {
        base_path: absolute(
            &base_path,
            Path::new(&opt_str(&root, &["stacks", "base_path"])?.map_or("stacks".into(), |s| s.0)),
        ),
        included_paths: opt_str_list(&root, &["stacks", "included_paths"])?.unwrap_or_else(|| vec!["**/*".into()]),
        excluded_paths: opt_str_list(&root, &["stacks", "excluded_paths"])?
            .unwrap_or_else(|| vec!["**/_defaults.yaml".into()]),
        name_template: opt_str(&root, &["stacks", "name_template"])?.filter(|(s, _)| !s.trim().is_empty()),
        name_pattern: opt_str(&root, &["stacks", "name_pattern"])?.filter(|(s, _)| !s.trim().is_empty()),
    };
    let terraform = TerraformSettings {
        base_path: absolute(
            &base_path,
            Path::new(
                &opt_str(&root, &["components", "terraform", "base_path"])?
                    .map_or("components/terraform".into(), |s| s.0),
            ),
        ),
        command: opt_str(&root, &["components", "terraform", "command"])?.map(|s| s.0),
        auto_generate_backend_file: opt_bool(
            &root,
            env,
            "auto_generate_backend_file",
            env_vars::ATMOS_COMPONENTS_TERRAFORM_AUTO_GENERATE_BACKEND_FILE,
            false,
        )?,
        deploy_run_init: opt_bool(
            &root,
            env,
            "deploy_run_init",
            env_vars::ATMOS_COMPONENTS_TERRAFORM_DEPLOY_RUN_INIT,
            false,
        )?,
        init_run_reconfigure: opt_bool(
            &root,
            env,
            "init_run_reconfigure",
            env_vars::ATMOS_COMPONENTS_TERRAFORM_INIT_RUN_RECONFIGURE,
            false,
        )?,
        apply_auto_approve: opt_bool(
            &root,
            env,
            "apply_auto_approve",
            env_vars::ATMOS_COMPONENTS_TERRAFORM_APPLY_AUTO_APPROVE,
            false,
        )?,
        workspaces_enabled: opt_bool(
            &root,
            env,
            "workspaces_enabled",
            env_vars::ATMOS_COMPONENTS_TERRAFORM_WORKSPACES_ENABLED,
            true,
        )?,
    };
    let logs = LogSettings {
        level: opt_str(&root, &["auth", "logs", "level"]).ok().flatten().map(|s| s.0),
        file: opt_str(&root, &["auth", "logs", "file"]).ok().flatten().map(|s| absolute(&dir, Path::new(&s.0))),
    };
    Ok(AtmosConfig { file, dir, root, profiles: applied, base_path, stacks, terraform, list_strategy, load_ctx, logs })
}

/// The names of the profiles that exist for this configuration, sorted.
pub fn available_profiles(cfg: &AtmosConfig, env: &Env) -> Vec<String> {
    profiles::search_dirs(&cfg.root, &cfg.dir, &cfg.base_path, env)
        .map(|dirs| profiles::available(&dirs))
        .unwrap_or_default()
}

/// Profiles merge like any config (maps recursive, lists replaced); their `auth:` names
/// match case-insensitively, as everywhere in auth.
fn apply_profile_layer(root: &mut Node, layer: &Node) {
    let Some(layer_map) = layer.as_map() else {
        return;
    };
    let Some(root_map) = root.as_map_mut() else {
        return;
    };
    for (key, value) in layer_map {
        match root_map.get_mut(key) {
            Some(existing) if key == "auth" => merge::merge_auth_profile(existing, value),
            Some(existing) => merge::merge_into(existing, value, ListStrategy::Replace),
            None => {
                root_map.insert(key.clone(), value.clone());
            }
        }
    }
}

/// `path` made absolute against `base`, with `.` and `..` folded.
pub fn absolute(base: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
    clean_path(&joined)
}

pub use crate::util::dirs::clean_path;

/// A string setting at `path`, or `None`; another type is a located error.
pub fn opt_str(root: &Node, path: &[&str]) -> Result<Option<(String, Span)>, ConfigError> {
    match root.get_path(path) {
        None => Ok(None),
        Some(n) if n.is_null() => Ok(None),
        Some(n) => match &n.value {
            crate::yaml::Value::Str(_) | crate::yaml::Value::Int(_) | crate::yaml::Value::Float(_) => {
                Ok(n.scalar_string().map(|s| (s, n.span.clone())))
            }
            _ => Err(wrong_type(path, n, "a string")),
        },
    }
}

/// A `components.terraform.<key>` switch: `ATMOS_COMPONENTS_TERRAFORM_<KEY>` wins, as in
/// Atmos; then the file; then `default`. Anything but a boolean is a located error.
fn opt_bool(root: &Node, env: &Env, key: &str, var: &str, default: bool) -> Result<bool, ConfigError> {
    if let Some(v) = env.get(var) {
        return match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" | "" => Ok(false),
            _ => Err(ConfigError::BadEnv { name: var.to_string(), message: format!("`{v}` is not true or false") }),
        };
    }
    let path = ["components", "terraform", key];
    match root.get_path(&path) {
        None => Ok(default),
        Some(n) if n.is_null() => Ok(default),
        Some(n) => n.as_bool().ok_or_else(|| wrong_type(&path, n, "true or false")),
    }
}

/// A list of strings at `path` (a single string counts as a list of one).
pub fn opt_str_list(root: &Node, path: &[&str]) -> Result<Option<Vec<String>>, ConfigError> {
    match root.get_path(path) {
        None => Ok(None),
        Some(n) if n.is_null() => Ok(None),
        Some(n) => {
            if let Some(s) = n.as_str() {
                return Ok(Some(vec![s.to_string()]));
            }
            let items = n.as_seq().ok_or_else(|| wrong_type(path, n, "a list of strings"))?;
            items
                .iter()
                .map(|i| i.as_str().map(str::to_string).ok_or_else(|| wrong_type(path, i, "a string")))
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        }
    }
}

fn wrong_type(path: &[&str], n: &Node, expected: &'static str) -> ConfigError {
    ConfigError::WrongType { field: path.join("."), span: n.span.clone(), expected, found: n.type_name() }
}

/// For messages: a list of paths, relative where possible.
pub fn list_paths(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| display_path(p)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_folds_dots() {
        assert_eq!(clean_path(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(absolute(Path::new("/r"), Path::new("x/../y")), PathBuf::from("/r/y"));
        assert_eq!(absolute(Path::new("/r"), Path::new("/abs")), PathBuf::from("/abs"));
    }
}
