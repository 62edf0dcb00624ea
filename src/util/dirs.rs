//! Where tfauth keeps what it writes, decided from the environment snapshot in one place:
//! the XDG base directories as Atmos reads them. Pure: reads no file, creates nothing.

use crate::env_vars::{self as ev, Env};
use std::path::{Path, PathBuf};

/// The base directory for files tfauth writes: `ATMOS_XDG_CONFIG_HOME`, else
/// `XDG_CONFIG_HOME`, else `~/.config` (relative values are ignored, as XDG says).
pub fn config_home(env: &Env) -> Option<PathBuf> {
    [ev::ATMOS_XDG_CONFIG_HOME, ev::XDG_CONFIG_HOME]
        .iter()
        .filter_map(|k| env.get(k))
        .map(PathBuf::from)
        .find(|p| p.is_absolute())
        .or_else(|| env.get(ev::HOME).map(|h| Path::new(h).join(".config")))
}

/// tfauth's cache root: `$XDG_CACHE_HOME/tfauth`, else `~/.cache/tfauth` (a relative
/// `XDG_CACHE_HOME` is ignored, as XDG says). Everything tfauth caches lives below it.
pub fn cache_home(env: &Env) -> Option<PathBuf> {
    env.get(ev::XDG_CACHE_HOME)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| env.get(ev::HOME).map(|h| PathBuf::from(h).join(".cache")))
        .map(|base| base.join("tfauth"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_home_precedence() {
        let env = Env::from_pairs([("HOME", "/h"), ("XDG_CONFIG_HOME", "/x"), ("ATMOS_XDG_CONFIG_HOME", "/a")]);
        assert_eq!(config_home(&env), Some(PathBuf::from("/a")));
        let env = Env::from_pairs([("HOME", "/h"), ("XDG_CONFIG_HOME", "relative")]);
        assert_eq!(config_home(&env), Some(PathBuf::from("/h/.config")));
    }

    #[test]
    fn cache_home_ignores_a_relative_xdg_cache_home() {
        let env = Env::from_pairs([("HOME", "/h"), ("XDG_CACHE_HOME", "/c")]);
        assert_eq!(cache_home(&env), Some(PathBuf::from("/c/tfauth")));
        let env = Env::from_pairs([("HOME", "/h"), ("XDG_CACHE_HOME", "c")]);
        assert_eq!(cache_home(&env), Some(PathBuf::from("/h/.cache/tfauth")));
        assert_eq!(cache_home(&Env::default()), None);
    }
}
