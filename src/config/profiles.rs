//! Profiles: named directories of YAML merged over `atmos.yaml` (CONTRACT A1).
//!
//! Which: `--profile` (repeatable, comma lists) else `ATMOS_PROFILE` else
//! `profiles.default`. Where: the first of `profiles.base_path`, `.atmos/profiles/`,
//! `$XDG_CONFIG_HOME/atmos/profiles/`, `profiles/` that has a directory of that name.
//! Every YAML file below it applies, in Atmos's order (shallower first, then by path; see
//! `layers`), each after what it imports (`import:`, resolved as in `layers`).

use super::{ConfigError, ConfigOptions, absolute, discovery::xdg_config_home, opt_str, opt_str_list};
use crate::env_vars::{self, Env};
use crate::yaml::Node;
use std::path::{Path, PathBuf};

/// One applied profile: its name, directory and files.
#[derive(Clone, Debug)]
pub struct ProfileSource {
    pub name: String,
    pub dir: PathBuf,
    /// Its YAML files; once applied, the files applied in order, imports included.
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
                let files = super::layers::yaml_files(&dir);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{LoadContext, Loader};

    fn root(src: &str) -> Node {
        Loader::new(&LoadContext::default()).load_str(src, Path::new("/r/atmos.yaml")).unwrap()
    }

    #[test]
    fn search_places_in_order_first_match_wins() {
        let t = tempfile::tempdir().unwrap();
        let repo = t.path().join("repo");
        let xdg = t.path().join("xdg");
        let env = Env::from_pairs([("XDG_CONFIG_HOME", xdg.to_str().unwrap())]);
        let cfg = root("profiles: {base_path: custom}");
        let places = [
            repo.join("custom/p"),
            repo.join(".atmos/profiles/p"),
            xdg.join("atmos/profiles/p"),
            repo.join("profiles/p"),
        ];
        for p in &places {
            std::fs::create_dir_all(p).unwrap();
            std::fs::write(p.join("auth.yaml"), "").unwrap();
        }
        // Each place wins while the ones before it are absent.
        for (i, want) in places.iter().enumerate() {
            let found = find("p", &cfg, &repo, &repo, &env).unwrap();
            assert_eq!(found.dir, *want, "place {i}");
            std::fs::remove_dir_all(want).unwrap();
        }
        match find("p", &cfg, &repo, &repo, &env) {
            Err(ConfigError::ProfileNotFound { searched, .. }) => assert_eq!(searched.len(), 4),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_yaml_file_below_shallower_first_and_names_listed() {
        let t = tempfile::tempdir().unwrap();
        let repo = t.path();
        for f in ["profiles/dev/b.yaml", "profiles/dev/a/z.yml", "profiles/dev/notes.txt", "profiles/ci/x.yaml"] {
            let p = repo.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        let found = find("dev", &root("{}"), repo, repo, &Env::default()).unwrap();
        let names: Vec<String> =
            found.files.iter().map(|f| f.strip_prefix(repo).unwrap().display().to_string()).collect();
        assert_eq!(names, ["profiles/dev/b.yaml", "profiles/dev/a/z.yml"]);
        match find("../dev", &root("{}"), repo, repo, &Env::default()) {
            Err(ConfigError::ProfileNotFound { available, .. }) => assert_eq!(available, ["ci", "dev"]),
            other => panic!("a path is not a profile name: {other:?}"),
        }
    }

    #[test]
    fn flag_beats_env_beats_default_and_commas_split() {
        let cfg = root("profiles: {default: base}");
        let env = Env::from_pairs([("ATMOS_PROFILE", "e1, e2")]);
        let opts = ConfigOptions { profiles: vec!["a,b".into(), "c".into()], ..Default::default() };
        assert_eq!(requested(&opts, &env, &cfg).unwrap(), ["a", "b", "c"]);
        assert_eq!(requested(&ConfigOptions::default(), &env, &cfg).unwrap(), ["e1", "e2"]);
        assert_eq!(requested(&ConfigOptions::default(), &Env::default(), &cfg).unwrap(), ["base"]);
    }
}
