//! Where tfauth keeps what it writes, decided from the environment snapshot in one place:
//! the XDG base directories and the realm, as Atmos reads them. Pure: reads no file,
//! creates nothing.

use crate::env_vars::{self as ev, Env};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The base directory for files tfauth writes: `ATMOS_XDG_CONFIG_HOME`, else
/// `XDG_CONFIG_HOME`, else `~/.config` (relative values are ignored, as XDG says).
pub fn config_home(env: &Env) -> Option<PathBuf> {
    base(env, [ev::ATMOS_XDG_CONFIG_HOME, ev::XDG_CONFIG_HOME], ".config")
}

/// Trusts the owner of the environment's `HOME` for the directories on the way to
/// tfauth's (see [`crate::util::fs::trust_home_owner`]); every binary's start calls it once.
pub fn trust_home(env: &Env) {
    if let Some(home) = env.get(ev::HOME) {
        crate::util::fs::trust_home_owner(std::path::Path::new(home));
    }
}

/// tfauth's cache root: `$ATMOS_XDG_CACHE_HOME/tfauth`, else `$XDG_CACHE_HOME/tfauth`,
/// else `~/.cache/tfauth` (relative values are ignored, as XDG says). Everything tfauth
/// caches lives below it. Atmos's order (`pkg/xdg`): its own variable, then XDG's.
pub fn cache_home(env: &Env) -> Option<PathBuf> {
    base(env, [ev::ATMOS_XDG_CACHE_HOME, ev::XDG_CACHE_HOME], ".cache").map(|base| base.join("tfauth"))
}

/// Atmos's cache root: `$ATMOS_XDG_CACHE_HOME/atmos`, else `$XDG_CACHE_HOME/atmos`, else
/// `~/.cache/atmos` (Atmos's `pkg/xdg`). What tfauth shares with Atmos lives below it: the
/// IAM Identity Center sessions (`aws-sso/sessions/`).
pub fn atmos_cache_home(env: &Env) -> Option<PathBuf> {
    base(env, [ev::ATMOS_XDG_CACHE_HOME, ev::XDG_CACHE_HOME], ".cache").map(|base| base.join("atmos"))
}

/// The base directory for data: `ATMOS_XDG_DATA_HOME`, else `XDG_DATA_HOME`, else
/// `~/.local/share` (relative values are ignored). The file keyring lives below it.
pub fn data_home(env: &Env) -> Option<PathBuf> {
    base(env, [ev::ATMOS_XDG_DATA_HOME, ev::XDG_DATA_HOME], ".local/share")
}

/// The first of `vars` that holds an absolute path, else `$HOME/<fallback>`.
fn base(env: &Env, vars: [&str; 2], fallback: &str) -> Option<PathBuf> {
    vars.iter()
        .filter_map(|k| env.get(k))
        .map(PathBuf::from)
        .find(|p| p.is_absolute())
        .or_else(|| env.get(ev::HOME).map(|h| Path::new(h).join(fallback)))
}

/// The realm: `ATMOS_AUTH_REALM`, else `auth.realm`, else a hash of the directory that
/// holds `atmos.yaml` (so tfauth and Atmos agree), else `default`.
pub fn realm(env: &Env, configured: Option<&str>, config_dir: Option<&Path>) -> String {
    // Empty values are unset, as in Atmos.
    if let Some(r) = env.get(ev::ATMOS_AUTH_REALM).filter(|r| !r.is_empty()) {
        return r.to_string();
    }
    if let Some(r) = configured.filter(|r| !r.is_empty()) {
        return r.to_string();
    }
    match config_dir {
        Some(dir) => realm_hash(dir),
        None => "default".to_string(),
    }
}

/// First 16 hex characters of SHA-256 of the cleaned, lower-cased, `/`-separated path.
pub fn realm_hash(dir: &Path) -> String {
    let cleaned = clean_path(dir);
    let text = cleaned.to_string_lossy().replace('\\', "/").to_lowercase();
    let text = if text.len() > 1 { text.trim_end_matches('/').to_string() } else { text };
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A name made safe for one path component.
pub fn path_component(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' }).collect();
    if s.is_empty() || s == "." || s == ".." { "_".to_string() } else { s }
}

/// Folds `.` and `..` components without touching the file system.
pub fn clean_path(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realm_is_stable_and_case_folded() {
        let a = realm_hash(Path::new("/Work/Repo/"));
        let b = realm_hash(Path::new("/work/repo/./"));
        assert_eq!(a, b);
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, realm_hash(Path::new("/work/other")));
    }

    #[test]
    fn realm_precedence() {
        let env = Env::from_pairs([("ATMOS_AUTH_REALM", "fromenv")]);
        assert_eq!(realm(&env, Some("cfg"), Some(Path::new("/x"))), "fromenv");
        assert_eq!(realm(&Env::default(), Some("cfg"), Some(Path::new("/x"))), "cfg");
        assert_eq!(realm(&Env::default(), None, None), "default");
    }

    #[test]
    fn config_home_precedence() {
        let env = Env::from_pairs([("HOME", "/h"), ("XDG_CONFIG_HOME", "/x"), ("ATMOS_XDG_CONFIG_HOME", "/a")]);
        assert_eq!(config_home(&env), Some(PathBuf::from("/a")));
        let env = Env::from_pairs([("HOME", "/h"), ("XDG_CONFIG_HOME", "relative")]);
        assert_eq!(config_home(&env), Some(PathBuf::from("/h/.config")));
    }

    #[test]
    fn atmos_xdg_cache_and_data_homes_win_over_xdg_s() {
        let env = Env::from_pairs([
            ("HOME", "/h"),
            ("XDG_CACHE_HOME", "/c"),
            ("ATMOS_XDG_CACHE_HOME", "/ac"),
            ("XDG_DATA_HOME", "/d"),
            ("ATMOS_XDG_DATA_HOME", "/ad"),
        ]);
        assert_eq!(cache_home(&env), Some(PathBuf::from("/ac/tfauth")));
        assert_eq!(data_home(&env), Some(PathBuf::from("/ad")));
        let env = Env::from_pairs([("HOME", "/h"), ("XDG_DATA_HOME", "/d"), ("ATMOS_XDG_DATA_HOME", "rel")]);
        assert_eq!(data_home(&env), Some(PathBuf::from("/d")), "a relative value is skipped");
        let env = Env::from_pairs([("HOME", "/h")]);
        assert_eq!(data_home(&env), Some(PathBuf::from("/h/.local/share")));
        assert_eq!(cache_home(&env), Some(PathBuf::from("/h/.cache/tfauth")));
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
