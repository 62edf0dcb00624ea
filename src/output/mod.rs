//! What a run hands to the outside world, computed without touching it: the environment
//! to set and clear, the files to write with their contents ([`env`]), and the shapes in
//! which commands print things ([`list`], [`describe`]). Writing files and exec'ing live
//! elsewhere; nothing here does I/O.

pub mod azure;
pub mod describe;
pub mod docker;
pub mod env;
pub mod envfmt;
pub mod gcp;
pub mod ini;
pub mod kubeconfig;
pub mod list;
pub mod plan;
pub mod profiles;

/// One writer at a time for a file of the user's that tfauth edits (a Docker config, a
/// kubeconfig): a lock in tfauth's cache directory `kind`, named `<prefix>-<hash of the
/// path>`; none when there is no cache directory.
pub(crate) fn file_lock(
    env: &crate::env_vars::Env,
    kind: &str,
    prefix: &str,
    file: &std::path::Path,
) -> Result<Option<crate::session::cache::LockGuard>, crate::session::cache::CacheError> {
    use sha2::{Digest, Sha256};
    let Some(locks) = crate::session::cache::Cache::new(env, kind) else { return Ok(None) };
    let digest = Sha256::digest(file.to_string_lossy().as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    locks.lock(&format!("{prefix}-{hex}"), crate::session::cache::LOCK_WAIT).map(Some)
}
