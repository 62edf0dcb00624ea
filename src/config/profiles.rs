//! Profiles: named directories of YAML merged over `atmos.yaml` (CONTRACT A1).
//!
//! Which: `--profile` (repeatable, comma lists) else `ATMOS_PROFILE` else
//! `profiles.default`. Where: the first of `profiles.base_path`, `.atmos/profiles/`,
//! `$XDG_CONFIG_HOME/atmos/profiles/`, `profiles/` that has a directory of that name.
//! Every YAML file below it applies, in path order.

use super::{ConfigError, ConfigOptions, absolute, discovery::xdg_config_home, opt_str, opt_str_list};
use crate::env_vars::{self, Env};
use crate::yaml::Node;
use std::path::{Path, PathBuf};

/// One applied profile: its name, directory and files.
#[derive(Clone, Debug)]
pub struct ProfileSource {
    pub name: String,
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
}

/// The profile names to apply, in order.
pub fn requested(opts: &ConfigOptions, env: &Env, root: &Node) -> Result<Vec<String>, ConfigError> {
    let raw: Vec<String> = if !opts.profiles.is_empty() {
        opts.profiles.clone()
    } else if let Some(v) = env.get(env_vars::ATMOS_PROFILE) {
        vec![v.to_string()]
    } else {
        opt_str_list(root, &["profiles", "default"])?.unwrap_or_default()
    };
    Ok(raw.iter().flat_map(|s| s.split(',')).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
}

/// The directories searched for profiles, in order.
pub fn search_dirs(root: &Node, config_dir: &Path, base_path: &Path, env: &Env) -> Result<Vec<PathBuf>, ConfigError> {
    let mut dirs = Vec::new();
    if let Some((p, _)) = opt_str(root, &["profiles", "base_path"])? {
        dirs.push(absolute(base_path, Path::new(&p)));
    }
    dirs.push(config_dir.join(".atmos/profiles"));
    if let Some(x) = xdg_config_home(env) {
        dirs.push(x.join("atmos/profiles"));
    }
    dirs.push(config_dir.join("profiles"));
    dirs.dedup();
    Ok(dirs)
}

/// Finds profile `name`, or lists the ones that exist.
pub fn find(
    name: &str,
    root: &Node,
    config_dir: &Path,
    base_path: &Path,
    env: &Env,
) -> Result<ProfileSource, ConfigError> {
    let dirs = search_dirs(root, config_dir, base_path, env)?;
    if is_safe_name(name) {
        for d in &dirs {
            let dir = d.join(name);
            if dir.is_dir() {
                let mut files = Vec::new();
                collect_yaml(&dir, &mut files);
                files.sort();
                return Ok(ProfileSource { name: name.to_string(), dir, files });
            }
        }
    }
    Err(ConfigError::ProfileNotFound { name: name.to_string(), available: available(&dirs), searched: dirs })
}

/// Every profile name found in the search directories, sorted.
pub fn available(dirs: &[PathBuf]) -> Vec<String> {
    let mut names: Vec<String> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names.dedup();
    names
}

fn is_safe_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != ".."
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => collect_yaml(&path, out),
            Ok(t) if t.is_file() && matches!(path.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")) => {
                out.push(path)
            }
            _ => {}
        }
    }
}
