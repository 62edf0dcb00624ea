//! Where `atmos.yaml` is: `ATMOS_CLI_CONFIG_PATH`, else the current directory and its
//! parents up to the git root, else `~/.atmos/`, else `$XDG_CONFIG_HOME/atmos/`.
//! Reads only file metadata.

use super::{ConfigError, absolute};
use crate::env_vars::{self, Env};
use std::path::{Path, PathBuf};

/// File names accepted in a directory, in order of preference.
const NAMES: &[&str] = &["atmos.yaml", "atmos.yml", ".atmos.yaml", ".atmos.yml"];

/// Finds the `atmos.yaml` to use, or says everywhere it looked.
pub fn discover(cwd: &Path, env: &Env) -> Result<PathBuf, ConfigError> {
    let mut searched = Vec::new();
    if let Some(p) = env.get(env_vars::ATMOS_CLI_CONFIG_PATH) {
        let p = absolute(cwd, Path::new(p));
        if p.is_file() {
            return Ok(p);
        }
        if let Some(found) = in_dir(&p) {
            return Ok(found);
        }
        searched.push(p);
        return Err(ConfigError::NotFound { searched, from_env: true });
    }
    let stop = find_git_root(cwd);
    for dir in cwd.ancestors() {
        if let Some(found) = in_dir(dir) {
            return Ok(found);
        }
        searched.push(dir.to_path_buf());
        if stop.as_deref() == Some(dir) {
            break;
        }
    }
    if let Some(home) = env.get(env_vars::HOME) {
        let dir = Path::new(home).join(".atmos");
        if let Some(found) = in_dir(&dir) {
            return Ok(found);
        }
        searched.push(dir);
    }
    if let Some(xdg) = xdg_config_home(env) {
        let dir = xdg.join("atmos");
        if let Some(found) = in_dir(&dir) {
            return Ok(found);
        }
        searched.push(dir);
    }
    Err(ConfigError::NotFound { searched, from_env: false })
}

/// `$ATMOS_XDG_CONFIG_HOME`, else `$XDG_CONFIG_HOME`, else `~/.config`: Atmos's XDG config
/// base (`pkg/xdg`), for its `atmos/atmos.yaml` and `atmos/profiles/`.
pub fn xdg_config_home(env: &Env) -> Option<PathBuf> {
    crate::util::dirs::config_home(env)
}

fn in_dir(dir: &Path) -> Option<PathBuf> {
    NAMES.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

/// The nearest ancestor of `dir` (itself included) that holds `.git`.
pub fn find_git_root(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().find(|d| d.join(".git").exists()).map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_in_parent_and_stops_at_git_root() {
        let t = tempfile::tempdir().unwrap();
        let repo = t.path().join("repo");
        let deep = repo.join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        // A config above the git root must not be found from inside the repo.
        std::fs::write(t.path().join("atmos.yaml"), "").unwrap();
        let env = Env::default();
        assert!(matches!(discover(&deep, &env), Err(ConfigError::NotFound { .. })));
        std::fs::write(repo.join("atmos.yaml"), "").unwrap();
        assert_eq!(discover(&deep, &env).unwrap(), repo.join("atmos.yaml"));
    }

    #[test]
    fn env_path_may_be_dir_or_file_and_wins() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("atmos.yaml"), "").unwrap();
        std::fs::write(t.path().join("other.yaml"), "").unwrap();
        let cwd = Path::new("/");
        let env = Env::from_pairs([("ATMOS_CLI_CONFIG_PATH", t.path().to_str().unwrap())]);
        assert_eq!(discover(cwd, &env).unwrap(), t.path().join("atmos.yaml"));
        let f = t.path().join("other.yaml");
        let env = Env::from_pairs([("ATMOS_CLI_CONFIG_PATH", f.to_str().unwrap())]);
        assert_eq!(discover(cwd, &env).unwrap(), f);
        let env = Env::from_pairs([("ATMOS_CLI_CONFIG_PATH", "/nonexistent/x")]);
        assert!(matches!(discover(cwd, &env), Err(ConfigError::NotFound { from_env: true, .. })));
    }

    #[test]
    fn falls_back_to_home_then_xdg() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let xdg = t.path().join("xdg");
        std::fs::create_dir_all(xdg.join("atmos")).unwrap();
        std::fs::create_dir_all(home.join(".atmos")).unwrap();
        std::fs::write(xdg.join("atmos/atmos.yaml"), "").unwrap();
        let cwd = t.path().join("work");
        std::fs::create_dir_all(cwd.join(".git")).unwrap();
        let env = Env::from_pairs([("HOME", home.to_str().unwrap()), ("XDG_CONFIG_HOME", xdg.to_str().unwrap())]);
        assert_eq!(discover(&cwd, &env).unwrap(), xdg.join("atmos/atmos.yaml"));
        // Atmos's own variable wins over XDG's.
        let atmos_xdg = t.path().join("atmos-xdg");
        std::fs::create_dir_all(atmos_xdg.join("atmos")).unwrap();
        std::fs::write(atmos_xdg.join("atmos/atmos.yml"), "").unwrap();
        let mut pairs: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        pairs.push(("ATMOS_XDG_CONFIG_HOME".into(), atmos_xdg.display().to_string()));
        assert_eq!(discover(&cwd, &Env::from_pairs(pairs)).unwrap(), atmos_xdg.join("atmos/atmos.yml"));
        std::fs::write(home.join(".atmos/atmos.yaml"), "").unwrap();
        assert_eq!(discover(&cwd, &env).unwrap(), home.join(".atmos/atmos.yaml"));
    }
}
