//! Finding, loading and reading `atmos.yaml` (CONTRACT A1).
//!
//! [`discover`] finds the file the way Atmos does; [`load`] reads it, applies the
//! profiles in order, and reads the settings the rest of the pipeline needs into
//! [`AtmosConfig`]. The `auth:` section stays a [`Node`] here: it is merged with stack and
//! component levels before it is typed (see `auth::schema`).

mod discovery;
mod layers;
mod profiles;

pub use discovery::{discover, find_git_root};
pub use layers::{MAX_IMPORT_DEPTH, MAX_IMPORTED_FILES};
pub use profiles::ProfileSource;

use crate::env_vars::{self, Env};
use crate::merge::{self, ListStrategy};
use crate::yaml::{Functions, LoadContext, Node, Span, display_path, load::YamlError};
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
    /// The files merged before profiles, lowest first: `atmos.d/` and `.atmos.d/`, the
    /// imports, then `atmos.yaml` itself.
    pub sources: Vec<PathBuf>,
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
    /// What was read leniently (an import that matched nothing, a remote one, a cycle),
    /// each with its file and line; already logged at warn level.
    pub warnings: Vec<String>,
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
    /// `templates.settings.enabled`: how many times (`templates.settings.evaluations`, at
    /// least 1) Go templates in component sections are rendered; `None` when disabled.
    pub template_evaluations: Option<u32>,
    /// `templates.settings.ignore_missing_template_values`: a value an import template reads
    /// that its `context` does not set prints `<no value>` instead of failing (Go's
    /// `missingkey=default`), for every import; an import can also set it for itself.
    pub ignore_missing_template_values: bool,
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
    let mut load_ctx = LoadContext {
        env: env.clone(),
        base_path: Some(dir.clone()),
        repo_root: repo_root.clone(),
        cwd: Some(opts.cwd.clone()),
        functions: Functions::Config,
    };
    let mut importer = layers::Importer::new(load_ctx.clone(), repo_root.clone(), apply_layer);
    let main =
        importer.load(&file, "atmos.yaml")?.unwrap_or_else(|| Node::empty_map(Span::file_start(file.as_path().into())));

    // `.atmos.d/` and `atmos.d/` first, then `import:`, then the file itself on top.
    let mut root = Node::empty_map(Span::file_start(file.as_path().into()));
    let mut sources = Vec::new();
    // The git root here is the working directory's, as Atmos's `!repo-root .` is: with
    // ATMOS_CLI_CONFIG_PATH elsewhere, the repository one works in still adds its own.
    for d in layers::default_dirs(&dir, find_git_root(&opts.cwd).as_deref()) {
        for f in layers::yaml_files(&d) {
            if let Some(layer) = importer.load(&f, &display_path(&f))? {
                apply_layer(&mut root, &layer);
                sources.push(f);
            }
        }
    }
    // Atmos merges the default directories and the file, then reads `import:` from the
    // result: the file's list, else one set in `.atmos.d/` (lists replace).
    let defaults = root.clone();
    let import_holder = if main.get("import").is_some() { &main } else { &defaults };
    let mut with_main = root.clone();
    apply_layer(&mut with_main, &main);
    let import_base = match env.get(env_vars::ATMOS_BASE_PATH) {
        Some(p) => absolute(&opts.cwd, Path::new(p)),
        None => match opt_str(&with_main, &["base_path"])? {
            Some((p, _)) if !p.trim().is_empty() => absolute(&dir, Path::new(&p)),
            _ => dir.clone(),
        },
    };
    importer.apply_imports(&mut root, &file, import_holder, &[import_base], &mut Vec::new())?;
    sources.append(&mut importer.files);
    apply_layer(&mut root, &main);
    sources.push(file.clone());

    let base_path = match env.get(env_vars::ATMOS_BASE_PATH) {
        Some(p) => absolute(&opts.cwd, Path::new(p)),
        None => match opt_str(&root, &["base_path"])? {
            Some((p, _)) => absolute(&dir, Path::new(&p)),
            None => dir.clone(),
        },
    };
    load_ctx.base_path = Some(base_path.clone());
    importer.set_context(load_ctx.clone());

    let names = profiles::requested(opts, env, &root)?;
    let mut applied = Vec::new();
    for name in names {
        let mut source = profiles::find(&name, &root, &dir, &base_path, env)?;
        apply_profile(&mut importer, &mut root, &mut source)?;
        applied.push(source);
    }
    let warnings = std::mem::take(&mut importer.warnings);

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
        template_evaluations: template_evaluations(&root)?,
        ignore_missing_template_values: {
            let path = ["templates", "settings", "ignore_missing_template_values"];
            match root.get_path(&path) {
                None => false,
                Some(n) if n.is_null() => false,
                Some(n) => n.as_bool().ok_or_else(|| wrong_type(&path, n, "true or false"))?,
            }
        },
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
    Ok(AtmosConfig {
        file,
        dir,
        root,
        sources,
        profiles: applied,
        base_path,
        stacks,
        terraform,
        list_strategy,
        load_ctx,
        logs,
        warnings,
    })
}

/// Merges profile `source`'s files over `root`, each after what it imports, and records in
/// `source.files` the files applied, in order. A file a profile file imported is not
/// applied again when the walk reaches it: the importing file stays on top (Atmos applies
/// the imports, then the file).
fn apply_profile(
    importer: &mut layers::Importer,
    root: &mut Node,
    source: &mut ProfileSource,
) -> Result<(), ConfigError> {
    let mut done: Vec<PathBuf> = Vec::new();
    let mut files = Vec::new();
    for layer_file in &source.files {
        if done.contains(layer_file) {
            continue;
        }
        let Some(layer) = importer.load(layer_file, &format!("profile `{}`", source.name))? else {
            continue;
        };
        let bases = layers::nested_bases(layer_file, &layer, &[]);
        importer.apply_imports(root, layer_file, &layer, &bases, &mut Vec::new())?;
        for f in importer.files.drain(..) {
            if !files.contains(&f) {
                files.push(f.clone());
            }
            done.push(f);
        }
        apply_layer(root, &layer);
        if !files.contains(layer_file) {
            files.push(layer_file.clone());
        }
        done.push(layer_file.clone());
    }
    source.files = files;
    Ok(())
}

/// The names of the profiles that exist for this configuration, sorted.
pub fn available_profiles(cfg: &AtmosConfig, env: &Env) -> Vec<String> {
    profiles::search_dirs(&cfg.root, &cfg.dir, &cfg.base_path, env)
        .map(|dirs| profiles::available(&dirs))
        .unwrap_or_default()
}

/// The profiles, other than those applied, that define identity `identity` (matched
/// case-insensitively, with a `kind`) in their `auth.identities`, sorted: for the hint
/// when an identity asked for is not defined. Atmos's profile fallback does the same
/// (`pkg/config/profiles.go`, `ProfilesWithIdentity`; `pkg/auth/profile_fallback.go`).
///
/// Each profile is read exactly as [`load_file`] reads an applied one (the same places,
/// files, imports and reading checks), into a tree of its own: nothing of it reaches
/// `cfg` or the run. A profile that does not load is skipped (at debug level), as in
/// Atmos: one broken profile must not hide the others.
pub fn profiles_defining(cfg: &AtmosConfig, env: &Env, identity: &str) -> Vec<String> {
    let identity = identity.trim();
    if identity.is_empty() {
        return vec![];
    }
    let Ok(dirs) = profiles::search_dirs(&cfg.root, &cfg.dir, &cfg.base_path, env) else {
        return vec![];
    };
    let git_root = find_git_root(&cfg.dir);
    let mut out = Vec::new();
    for name in profiles::available(&dirs) {
        if cfg.profiles.iter().any(|p| p.name == name) {
            continue;
        }
        // One importer per profile: each has the import caps a loaded profile has.
        // Read, not chosen: an `!exec` in it stays as written (it runs only in files a run uses).
        let ctx = crate::yaml::LoadContext { functions: crate::yaml::Functions::Manifest, ..cfg.load_ctx.clone() };
        let mut importer = layers::Importer::new(ctx, git_root.clone(), apply_layer).quiet();
        let mut tree = Node::empty_map(Span::file_start(cfg.file.as_path().into()));
        let loaded = profiles::find(&name, &cfg.root, &cfg.dir, &cfg.base_path, env)
            .and_then(|mut source| apply_profile(&mut importer, &mut tree, &mut source));
        if let Err(e) = loaded {
            tracing::debug!(profile = %name, "skipping the profile while looking for identity `{identity}`: {e}");
            continue;
        }
        let defines = tree.get_path(&["auth", "identities"]).and_then(Node::as_map).is_some_and(|ids| {
            ids.iter().any(|(k, v)| k.eq_ignore_ascii_case(identity) && v.get("kind").is_some_and(|k| !k.is_null()))
        });
        if defines {
            out.push(name);
        }
    }
    out
}

/// Every layer of the configuration (`.atmos.d/`, imports, the file, profiles) merges
/// like any config (maps recursive, lists replaced); `auth:` names match
/// case-insensitively, as everywhere in auth.
fn apply_layer(root: &mut Node, layer: &Node) {
    let Some(layer_map) = layer.as_map() else {
        return;
    };
    let Some(root_map) = root.as_map_mut() else {
        return;
    };
    for (key, value) in layer_map {
        if value.is_unset() {
            root_map.shift_remove(key);
            continue;
        }
        match root_map.get_mut(key) {
            Some(existing) if key == "auth" => merge::merge_auth_profile(existing, value),
            Some(existing) => merge::merge_into(existing, value, ListStrategy::Replace),
            None => {
                root_map.insert(key.clone(), value.without_unset());
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
/// `templates.settings`: `Some(evaluations)` when `enabled: true` (Atmos's default is off).
fn template_evaluations(root: &Node) -> Result<Option<u32>, ConfigError> {
    let enabled = match root.get_path(&["templates", "settings", "enabled"]) {
        None => false,
        Some(n) if n.is_null() => false,
        Some(n) => n.as_bool().ok_or_else(|| wrong_type(&["templates", "settings", "enabled"], n, "true or false"))?,
    };
    if !enabled {
        return Ok(None);
    }
    let path = ["templates", "settings", "evaluations"];
    Ok(Some(match root.get_path(&path) {
        None => 1,
        Some(n) if n.is_null() => 1,
        Some(n) => match n.value {
            crate::yaml::Value::Int(i) if (0..=10).contains(&i) => (i as u32).max(1),
            _ => return Err(wrong_type(&path, n, "an integer from 0 to 10")),
        },
    }))
}

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

    /// A repository in a temp dir (with `.git`), files written relative to it.
    fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join(".git")).unwrap();
        for (rel, text) in files {
            let p = t.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        t
    }

    fn load_in(t: &tempfile::TempDir, profiles: &[&str]) -> Result<AtmosConfig, ConfigError> {
        let opts =
            ConfigOptions { cwd: t.path().to_path_buf(), profiles: profiles.iter().map(|s| s.to_string()).collect() };
        load_file(&t.path().join("atmos.yaml"), &opts, &Env::default())
    }

    fn val(cfg: &AtmosConfig, path: &[&str]) -> String {
        cfg.root.get_path(path).and_then(Node::scalar_string).unwrap_or_else(|| "<none>".into())
    }

    #[test]
    fn atmos_d_then_imports_then_the_file_itself() {
        let t = repo(&[
            ("atmos.yaml", "import: [conf/imported]\nsettings: {a: file}\n"),
            (".atmos.d/auth.yaml", "settings: {a: dot, b: dot, c: dot, d: dot}\nauth: {realm: from-dot}\n"),
            ("atmos.d/x.yaml", "settings: {a: plain, b: plain, c: plain, d: plain, e: plain}\n"),
            ("conf/imported.yaml", "settings: {a: import, b: import}\n"),
        ]);
        let cfg = load_in(&t, &[]).unwrap();
        assert_eq!(val(&cfg, &["settings", "a"]), "file");
        assert_eq!(val(&cfg, &["settings", "b"]), "import");
        assert_eq!(val(&cfg, &["settings", "c"]), "dot", ".atmos.d/ wins over atmos.d/");
        assert_eq!(val(&cfg, &["settings", "e"]), "plain");
        assert_eq!(val(&cfg, &["auth", "realm"]), "from-dot");
        // Each value keeps the file and line it came from.
        let span = &cfg.root.get_path(&["settings", "b"]).unwrap().span;
        assert!(span.file.ends_with("conf/imported.yaml"), "{span}");
        let names: Vec<String> =
            cfg.sources.iter().map(|f| f.strip_prefix(t.path()).unwrap().display().to_string()).collect();
        assert_eq!(names, ["atmos.d/x.yaml", ".atmos.d/auth.yaml", "conf/imported.yaml", "atmos.yaml"]);
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    }

    #[test]
    fn git_root_atmos_d_is_below_the_one_beside_atmos_yaml() {
        let t = repo(&[
            ("infra/atmos.yaml", "{}\n"),
            ("infra/.atmos.d/a.yaml", "settings: {a: beside}\n"),
            (".atmos.d/a.yaml", "settings: {a: root, b: root}\n"),
        ]);
        let opts = ConfigOptions { cwd: t.path().join("infra"), profiles: vec![] };
        let cfg = load_file(&t.path().join("infra/atmos.yaml"), &opts, &Env::default()).unwrap();
        assert_eq!(val(&cfg, &["settings", "a"]), "beside");
        assert_eq!(val(&cfg, &["settings", "b"]), "root");
    }

    #[test]
    fn the_working_directorys_git_root_adds_its_atmos_d_to_a_config_elsewhere() {
        let t = repo(&[
            ("work/.atmos.d/a.yaml", "settings: {a: work-repo, b: work-repo}\n"),
            ("elsewhere/atmos.yaml", "settings: {a: file}\n"),
        ]);
        std::fs::remove_dir(t.path().join(".git")).unwrap();
        std::fs::create_dir_all(t.path().join("work/.git")).unwrap();
        let opts = ConfigOptions { cwd: t.path().join("work/sub"), profiles: vec![] };
        let cfg = load_file(&t.path().join("elsewhere/atmos.yaml"), &opts, &Env::default()).unwrap();
        assert_eq!((val(&cfg, &["settings", "a"]), val(&cfg, &["settings", "b"])), ("file".into(), "work-repo".into()));
    }

    #[test]
    fn imports_relative_globbed_nested_and_the_root_file_wins() {
        let t = repo(&[
            ("atmos.yaml", "base_path: .\nimport:\n  - ./logs.yaml\n  - configs.d/**/*\n"),
            ("logs.yaml", "settings: {a: logs, b: logs}\n"),
            ("configs.d/one.yaml", "import: [nested/deep]\nsettings: {b: one, n: one}\n"),
            ("configs.d/sub/two.yml", "settings: {c: two}\n"),
            ("nested/deep.yaml", "settings: {n: deep, d: deep}\n"),
        ]);
        let cfg = load_in(&t, &[]).unwrap();
        assert_eq!(val(&cfg, &["settings", "a"]), "logs");
        assert_eq!(val(&cfg, &["settings", "b"]), "one", "later imports win");
        assert_eq!(val(&cfg, &["settings", "c"]), "two", "`**` reaches subdirectories, .yml too");
        assert_eq!(val(&cfg, &["settings", "n"]), "deep", "below the root, a nested import follows its importer");
        assert_eq!(val(&cfg, &["settings", "d"]), "deep");
    }

    #[test]
    fn import_in_atmos_d_is_read_when_the_file_has_none() {
        let t = repo(&[
            ("atmos.yaml", "settings: {a: file}\n"),
            (".atmos.d/imports.yaml", "import: [extra.yaml]\n"),
            ("extra.yaml", "settings: {a: extra, b: extra}\n"),
        ]);
        let cfg = load_in(&t, &[]).unwrap();
        assert_eq!((val(&cfg, &["settings", "a"]), val(&cfg, &["settings", "b"])), ("file".into(), "extra".into()));
    }

    #[test]
    fn missing_remote_and_cyclic_imports_are_located_warnings() {
        let t = repo(&[
            ("atmos.yaml", "import:\n  - missing.yaml\n  - https://tok@example.com/a.yaml?x=1\n  - a.yaml\n"),
            ("a.yaml", "import: [b.yaml]\nsettings: {a: a}\n"),
            ("b.yaml", "import: [a.yaml]\nsettings: {a: b, b: b}\n"),
        ]);
        let cfg = load_in(&t, &[]).unwrap();
        // a, then b (which a imports); b's import of a closes the cycle and is skipped.
        assert_eq!(val(&cfg, &["settings", "a"]), "b");
        assert_eq!(val(&cfg, &["settings", "b"]), "b");
        let w = cfg.warnings.join("\n");
        assert_eq!(cfg.warnings.len(), 3, "{w}");
        assert!(w.contains("atmos.yaml:2") && w.contains("`missing.yaml` matched no file"), "{w}");
        assert!(w.contains("atmos.yaml:3") && w.contains("remote") && !w.contains("tok"), "{w}");
        assert!(w.contains("b.yaml:1") && w.contains("cycle") && w.contains("a.yaml -> "), "{w}");
    }

    #[test]
    fn imports_deeper_than_ten_levels_stop_with_a_warning() {
        let mut files: Vec<(String, String)> = vec![("atmos.yaml".into(), "import: [f1]\n".into())];
        for i in 1..=12 {
            files.push((format!("f{i}.yaml"), format!("import: [f{}]\nsettings: {{last: f{i}}}\n", i + 1)));
        }
        let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let t = repo(&refs);
        let cfg = load_in(&t, &[]).unwrap();
        assert_eq!(val(&cfg, &["settings", "last"]), format!("f{MAX_IMPORT_DEPTH}"));
        let w = cfg.warnings.join("\n");
        assert!(w.contains(&format!("f{MAX_IMPORT_DEPTH}.yaml:1")) && w.contains("deep"), "{w}");
    }

    #[test]
    fn broken_file_in_atmos_d_or_an_import_is_a_located_error() {
        let t = repo(&[("atmos.yaml", "{}\n"), (".atmos.d/bad.yaml", "auth:\n  bad: \"unclosed\n")]);
        let e = load_in(&t, &[]).unwrap_err().to_string();
        assert!(e.contains(".atmos.d/bad.yaml:"), "{e}");
        let t = repo(&[("atmos.yaml", "import: [bad]\n"), ("bad.yaml", "- a list\n")]);
        let e = load_in(&t, &[]).unwrap_err().to_string();
        assert!(e.contains("bad.yaml:1"), "{e}");
    }

    #[test]
    fn profile_imports_apply_before_the_importing_file() {
        let t = repo(&[
            ("atmos.yaml", "settings: {a: base}\n"),
            ("profiles/dev/atmos.yaml", "import: [imports/auth.yaml]\nsettings: {a: profile}\n"),
            ("profiles/dev/imports/auth.yaml", "settings: {a: imported, b: imported}\n"),
        ]);
        let cfg = load_in(&t, &["dev"]).unwrap();
        assert_eq!(val(&cfg, &["settings", "a"]), "profile");
        assert_eq!(val(&cfg, &["settings", "b"]), "imported");
        let files: Vec<String> =
            cfg.profiles[0].files.iter().map(|f| f.strip_prefix(t.path()).unwrap().display().to_string()).collect();
        assert_eq!(files, ["profiles/dev/imports/auth.yaml", "profiles/dev/atmos.yaml"]);
    }

    #[test]
    fn profiles_defining_an_identity_are_read_apart_from_the_run() {
        let id = |name: &str| format!("auth:\n  identities:\n    {name}: {{kind: aws/user}}\n");
        let t = repo(&[
            ("atmos.yaml", "auth:\n  identities:\n    base: {kind: aws/user}\n"),
            ("profiles/dev/auth.yaml", &id("dev-only")),
            ("profiles/ci/auth.yaml", &id("Deploy")),
            // Defined through the profile file's own import.
            ("profiles/ops/atmos.yaml", "import: [more/auth.yaml]\n"),
            ("profiles/ops/more/auth.yaml", &id("deploy")),
            // Only marks it default: choosing this profile would not define it.
            ("profiles/marks/auth.yaml", "auth:\n  identities:\n    deploy: {default: true}\n"),
            // A broken profile is skipped; it does not hide the others.
            ("profiles/broken/auth.yaml", "auth: {identities: \"unclosed\n"),
            (".atmos/profiles/hidden/auth.yaml", &id("deploy")),
        ]);
        let cfg = load_in(&t, &[]).unwrap();
        assert_eq!(profiles_defining(&cfg, &Env::default(), "deploy"), ["ci", "hidden", "ops"]);
        assert_eq!(profiles_defining(&cfg, &Env::default(), " DEPLOY "), ["ci", "hidden", "ops"]);
        assert!(profiles_defining(&cfg, &Env::default(), "nowhere").is_empty());
        assert!(profiles_defining(&cfg, &Env::default(), "").is_empty());
        assert!(cfg.root.get_path(&["auth", "identities", "deploy"]).is_none(), "nothing merged into the run");
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);

        // A profile applied is not suggested again.
        let cfg = load_in(&t, &["ci"]).unwrap();
        assert_eq!(profiles_defining(&cfg, &Env::default(), "dev-only"), ["dev"]);
        assert_eq!(profiles_defining(&cfg, &Env::default(), "deploy"), ["hidden", "ops"]);
    }

    /// The fallback reads profiles the user did not choose: an `!exec` in one never runs.
    #[test]
    fn looking_through_other_profiles_runs_no_exec() {
        let t = repo(&[
            ("atmos.yaml", "auth:\n  identities:\n    base: {kind: aws/user}\n"),
            (
                "profiles/ci/auth.yaml",
                "auth:\n  realm: !exec touch ran-the-profile\n  identities:\n    deploy: {kind: aws/user}\n",
            ),
        ]);
        let cfg = load_in(&t, &[]).unwrap();
        assert_eq!(profiles_defining(&cfg, &Env::default(), "deploy"), ["ci"]);
        let ran = ["ran-the-profile"].iter().any(|f| t.path().join(f).exists() || Path::new(f).exists());
        assert!(!ran, "the profile's !exec ran");
    }

    #[test]
    fn clean_path_folds_dots() {
        assert_eq!(clean_path(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(absolute(Path::new("/r"), Path::new("x/../y")), PathBuf::from("/r/y"));
        assert_eq!(absolute(Path::new("/r"), Path::new("/abs")), PathBuf::from("/abs"));
    }
}
