//! The realm directories the helper and permission checks look at.
//!
//! Why it exists: both checks need the same answer to "where did tfauth write its files",
//! including when the configuration did not load. It is not a check and must not judge what
//! it finds; it only lists directories.

use super::Loaded;
use crate::env_vars::Env;
use crate::output::env::{config_home, path_component};
use crate::yaml::Node;
use std::path::PathBuf;

/// The realm directories whose files the helper and permission checks look at.
pub struct Realms {
    pub dirs: Vec<PathBuf>,
    /// How they were chosen, for the detail.
    pub how: String,
}

/// `<config dir>/atmos/<realm>` for the realm a run would use; when the configuration did
/// not load (so `auth.realm` is unknown), every realm directory that holds tfauth's files.
pub fn realm_dirs(loaded: &Loaded, env: &Env) -> Realms {
    let Some(home) = config_home(env) else {
        return Realms { dirs: vec![], how: "HOME is not set".into() };
    };
    let atmos = home.join("atmos");
    let configured = loaded.config.as_ref().and_then(|_| loaded.auth.get("realm")).and_then(Node::as_str);
    if env.get(crate::env_vars::ATMOS_AUTH_REALM).is_some() || loaded.config.is_some() {
        let realm = crate::output::env::realm(env, configured, loaded.config.as_ref().map(|c| c.dir.as_path()));
        return Realms { dirs: vec![atmos.join(path_component(&realm))], how: format!("realm {realm}") };
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&atmos)
        .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<PathBuf>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|p| {
            std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
                && ["aws", "gcp", "azure"].iter().any(|k| p.join(k).is_dir())
        })
        .collect();
    dirs.sort();
    Realms { dirs, how: "all realms, as the configuration did not load".into() }
}
