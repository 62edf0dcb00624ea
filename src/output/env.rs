//! The environment and files for one identity (CONTRACT A5 and B).
//!
//! AWS identities get an isolated config file whose profile runs `atmos-auth-helper` as
//! its `credential_process`, so terraform's providers fetch fresh credentials themselves,
//! and an empty isolated credentials file, so `~/.aws/credentials` never leaks in. The
//! same builder serves `--dry-run`, `describe`, `auth env` and exec, so they never differ.
//! Pure: the caller supplies the environment snapshot and the helper's path.

use crate::auth::Cloud;
use crate::env_vars::{self as ev, Env};
use crate::identity::{Chain, ChainRoot};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A file a run writes: always created 0600 inside 0700 directories.
#[derive(Clone, PartialEq, Eq)]
pub struct PlannedFile {
    pub path: PathBuf,
    pub contents: String,
    /// Holds credentials: never printed, in `Debug` or anywhere else.
    pub secret: bool,
}

impl std::fmt::Debug for PlannedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let contents: &str = if self.secret { crate::secret::REDACTED } else { &self.contents };
        f.debug_struct("PlannedFile").field("path", &self.path).field("contents", &contents).finish()
    }
}

impl EnvPlan {
    /// Writes every planned file: 0600, atomically, in 0700 directories.
    pub fn write_files(&self) -> std::io::Result<()> {
        for f in &self.files {
            crate::fsutil::write_private_atomic(&f.path, f.contents.as_bytes())?;
        }
        Ok(())
    }

    /// The same plan with the session's keys written into the credentials file, for tools
    /// that cannot run `credential_process` (`--static-credentials`).
    pub fn with_static_credentials(mut self, profile: &str, creds: &crate::cache::Credentials) -> EnvPlan {
        let region = self.set.get(ev::AWS_REGION).cloned().unwrap_or_default();
        // Only the AWS files: `<realm>/aws/<root>/{config,credentials}`.
        let is_aws = |p: &Path| p.parent().and_then(Path::parent).is_some_and(|d| d.ends_with("aws"));
        for f in self.files.iter_mut().filter(|f| is_aws(&f.path)) {
            if f.path.file_name().is_some_and(|n| n == "config") {
                f.contents = format!(
                    "# Written by tfauth. Rewritten on every run; do not edit.\n[profile {profile}]\nregion = {region}\n"
                );
            } else if f.path.file_name().is_some_and(|n| n == "credentials") {
                let mut text = format!(
                    "# Written by tfauth: session credentials, valid until {}.\n[{profile}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                    creds.expiration.map(crate::cache::format_utc).unwrap_or_else(|| "revoked".into()),
                    creds.access_key_id,
                    creds.secret_access_key.expose()
                );
                if let Some(t) = &creds.session_token {
                    text.push_str(&format!("aws_session_token = {}\n", t.expose()));
                }
                f.contents = text;
                f.secret = true;
            }
        }
        self
    }
}

/// Environment changes and files for one identity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvPlan {
    pub set: BTreeMap<String, String>,
    /// Variables to remove: fixed names, and every name under the prefixes below.
    pub clear: Vec<String>,
    pub clear_prefixes: Vec<String>,
    pub files: Vec<PlannedFile>,
    /// Honest notes about what this plan does not cover yet.
    pub notes: Vec<String>,
    /// Names in `set` whose values are secrets (a bearer token): shown redacted everywhere
    /// but in `auth env`, whose job is to print them.
    pub secret_vars: Vec<String>,
}

impl EnvPlan {
    /// The value of `set[name]` as describe and `--dry-run` show it.
    pub fn shown(&self, name: &str) -> &str {
        if self.secret_vars.iter().any(|s| s == name) {
            crate::secret::REDACTED
        } else {
            self.set.get(name).map_or("", String::as_str)
        }
    }
    /// `set`, with secret values redacted.
    pub fn shown_set(&self) -> BTreeMap<String, String> {
        self.set.keys().map(|k| (k.clone(), self.shown(k).to_string())).collect()
    }
}

impl PlannedFile {
    /// The contents as describe and `--dry-run` show them.
    pub fn shown(&self) -> &str {
        if self.secret { crate::secret::REDACTED } else { &self.contents }
    }
}

impl EnvPlan {
    /// The names in `env` that this plan removes (fixed names and prefixes), sorted.
    pub fn cleared_in(&self, env: &Env) -> Vec<String> {
        let mut out: Vec<String> = env
            .iter()
            .map(|(k, _)| k)
            .filter(|k| !self.set.contains_key(*k))
            .filter(|k| {
                self.clear.iter().any(|c| c == k) || self.clear_prefixes.iter().any(|p| k.starts_with(p.as_str()))
            })
            .map(str::to_string)
            .collect();
        out.sort();
        out
    }
}

/// What the plan needs to know besides the chain.
#[derive(Clone, Debug)]
pub struct PlanContext {
    /// `<config dir>/atmos/<realm>`.
    pub realm_dir: PathBuf,
    /// Absolute path of `atmos-auth-helper`.
    pub helper: PathBuf,
    /// Arguments after `--identity NAME` that let the helper find the same resolved chain.
    pub helper_args: Vec<String>,
    /// The stack's `vars.region`, used when no identity in the chain names a region.
    pub stack_region: Option<String>,
    /// Who the files are written for, for their header comment.
    pub purpose: String,
}

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

/// The realm: `ATMOS_AUTH_REALM`, else `auth.realm`, else a hash of the directory that
/// holds `atmos.yaml` (so tfauth and Atmos agree), else `default`.
pub fn realm(env: &Env, configured: Option<&str>, config_dir: Option<&Path>) -> String {
    if let Some(r) = env.get(ev::ATMOS_AUTH_REALM) {
        return r.to_string();
    }
    if let Some(r) = configured {
        return r.to_string();
    }
    match config_dir {
        Some(dir) => realm_hash(dir),
        None => "default".to_string(),
    }
}

/// First 16 hex characters of SHA-256 of the cleaned, lower-cased, `/`-separated path.
pub fn realm_hash(dir: &Path) -> String {
    let cleaned = crate::config::clean_path(dir);
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

/// Builds the plan for `chain`; `env` is the caller's environment (GitHub Actions'
/// token variables, the user's own gcloud and az locations).
pub fn plan(chain: &Chain, ctx: &PlanContext, env: &Env) -> EnvPlan {
    match chain.leaf().cloud() {
        Some(Cloud::Aws) => aws_plan(chain, ctx),
        Some(Cloud::Azure) => super::azure::plan(chain, ctx, env),
        Some(Cloud::Gcp) => super::gcp::plan(chain, ctx, env),
        None => EnvPlan::default(),
    }
}

impl EnvPlan {
    /// Adds `other` (a `required` identity of another cloud): its variables, files, notes
    /// and the names it clears. A name one plan sets is never cleared by the other.
    pub fn merge(&mut self, other: EnvPlan) {
        self.set.extend(other.set);
        self.clear.extend(other.clear);
        self.clear_prefixes.extend(other.clear_prefixes);
        self.files.extend(other.files);
        self.notes.extend(other.notes);
        self.secret_vars.extend(other.secret_vars);
    }
}

/// The region for an AWS chain: the leaf's, else the nearest hop's, else the stack's
/// `vars.region` (where the component deploys), else the provider's (for IAM Identity
/// Center that is only the portal's region), else us-east-1.
pub fn aws_region(chain: &Chain, stack_region: Option<&str>) -> String {
    chain
        .hops
        .iter()
        .rev()
        .find_map(|h| h.region.clone())
        .or_else(|| stack_region.map(str::to_string))
        .or_else(|| match &chain.root {
            ChainRoot::Provider(p) => p.region().map(str::to_string),
            ChainRoot::Standalone => None,
        })
        .unwrap_or_else(|| "us-east-1".to_string())
}

fn aws_plan(chain: &Chain, ctx: &PlanContext) -> EnvPlan {
    let leaf = chain.leaf();
    let dir = ctx.realm_dir.join("aws").join(path_component(chain.root_name()));
    let config = dir.join("config");
    let credentials = dir.join("credentials");
    let region = aws_region(chain, ctx.stack_region.as_deref());

    let mut command = vec![shell_quote(&ctx.helper.to_string_lossy()), "--identity".into(), shell_quote(&leaf.name)];
    command.extend(ctx.helper_args.iter().map(|a| shell_quote(a)));
    let header = format!("# Written by tfauth for {}. Rewritten on every run; do not edit.\n", ctx.purpose);
    let config_text =
        format!("{header}[profile {}]\ncredential_process = {}\nregion = {region}\n", leaf.name, command.join(" "));
    let credentials_text =
        format!("{header}# Intentionally empty: credentials come from credential_process in the config file.\n");

    let mut set = BTreeMap::new();
    set.insert(ev::AWS_CONFIG_FILE.into(), config.display().to_string());
    set.insert(ev::AWS_SHARED_CREDENTIALS_FILE.into(), credentials.display().to_string());
    set.insert(ev::AWS_PROFILE.into(), leaf.name.clone());
    set.insert(ev::AWS_REGION.into(), region.clone());
    set.insert(ev::AWS_DEFAULT_REGION.into(), region);
    set.insert(ev::AWS_SDK_LOAD_CONFIG.into(), "1".into());
    set.insert(ev::AWS_EC2_METADATA_DISABLED.into(), "true".into());
    EnvPlan {
        set,
        clear: ev::AWS_COMPETING.iter().map(|s| s.to_string()).collect(),
        clear_prefixes: ev::AWS_COMPETING_PREFIXES.iter().map(|s| s.to_string()).collect(),
        files: vec![
            PlannedFile { path: config, contents: config_text, secret: false },
            PlannedFile { path: credentials, contents: credentials_text, secret: false },
        ],
        notes: vec![],
        secret_vars: vec![],
    }
}

/// Quotes `s` for `sh -c` (how SDKs run `credential_process`), only when needed.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-_.,:=@%+".contains(&b)) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
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
    fn quoting() {
        assert_eq!(shell_quote("/usr/bin/x"), "/usr/bin/x");
        assert_eq!(shell_quote("acme/admin"), "acme/admin");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn config_home_precedence() {
        let env = Env::from_pairs([("HOME", "/h"), ("XDG_CONFIG_HOME", "/x"), ("ATMOS_XDG_CONFIG_HOME", "/a")]);
        assert_eq!(config_home(&env), Some(PathBuf::from("/a")));
        let env = Env::from_pairs([("HOME", "/h"), ("XDG_CONFIG_HOME", "relative")]);
        assert_eq!(config_home(&env), Some(PathBuf::from("/h/.config")));
    }
}
