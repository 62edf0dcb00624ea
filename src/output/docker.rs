//! Docker's `config.json`: adding one registry login to it without disturbing anything else.
//!
//! The merge is pure ([`merge`]): every other key and every other registry stays as it was;
//! `auths[<host>]` becomes `{"auth": base64("AWS:<password>")}` (what `docker login` writes
//! when no credential store is configured). Two settings would make Docker ignore that
//! entry, and each gets a warning:
//!
//! - `credHelpers[<host>]`: Docker asks that helper for the host and never reads `auths`,
//!   so tfauth removes the entry (it would shadow the fresh login).
//! - `credsStore`: with no `credHelpers` entry for the host, Docker asks this store
//!   (`docker-credential-<store>`) and takes the username and password from it alone,
//!   even when the store has nothing (docker/cli `nativeStore.Get`); the `auths` entry is
//!   then ignored. `credsStore` is the user's choice for every registry, so tfauth leaves it
//!   and says so; the isolated config (the default) has no store and always works.
//!
//! [`write_login`] does the file work: one writer at a time (a lock in tfauth's cache
//! directory), read, merge, then write a temporary file and rename it over the old one,
//! never wider than 0600 from its first byte (a stricter existing mode is kept). The
//! contents hold a secret and are never printed.

use crate::env_vars::Env;
use crate::secret::Secret;
use crate::session::cache::CacheError;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// Why a login could not be added to a Docker configuration.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot add the login to {}: {reason}", path.display())]
    Config { path: PathBuf, reason: String },
    #[error("cannot write {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Lock(#[from] CacheError),
}

impl DockerError {
    pub fn exit_code(&self) -> i32 {
        use crate::exit;
        match self {
            DockerError::Config { .. } => exit::DATAERR,
            DockerError::Io { .. } => exit::CANTCREAT,
            // As for the credential cache's locks.
            DockerError::Lock(CacheError::LockTimeout { .. }) => exit::TEMPFAIL,
            DockerError::Lock(_) => exit::SOFTWARE,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            DockerError::Config { .. } => Some(
                "fix the file (Docker needs a JSON object too), or write somewhere else with --docker-config".into(),
            ),
            DockerError::Io { .. } => Some("check the directory's permissions, or pass --docker-config".into()),
            DockerError::Lock(e) => e.hint(),
        }
    }
}

/// The Docker configuration a login goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The `config.json` itself.
    pub file: PathBuf,
    /// tfauth's own, under the realm (`DOCKER_CONFIG` points runs at it), or the user's.
    pub isolated: bool,
}

impl Target {
    /// `<config dir>/atmos/<realm>/docker/config.json`.
    pub fn isolated(realm_dir: &Path) -> Target {
        Target { file: isolated_dir(realm_dir).join("config.json"), isolated: true }
    }

    /// `--docker-config PATH`: a directory holding `config.json` (as `DOCKER_CONFIG` is), or
    /// the file itself when PATH ends with `.json`.
    pub fn user(path: &Path) -> Target {
        let is_file = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let file = if is_file { path.to_path_buf() } else { path.join("config.json") };
        Target { file, isolated: false }
    }

    /// The directory `DOCKER_CONFIG` would name.
    pub fn dir(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("."))
    }
}

/// The isolated Docker configuration directory of a realm.
pub fn isolated_dir(realm_dir: &Path) -> PathBuf {
    realm_dir.join("docker")
}

/// A merged `config.json` and what the user should know about it.
pub struct Merged {
    /// The whole file (it holds the login): never printed.
    pub contents: Secret,
    pub warnings: Vec<String>,
}

/// Adds the login for `host` to `existing` (the current file's text, if any). Fails only
/// when the text is not a JSON object (or its `auths` is not one): then nothing may be
/// written over it.
pub fn merge(existing: Option<&str>, host: &str, username: &str, password: &Secret) -> Result<Merged, String> {
    let mut doc = match existing.filter(|t| !t.trim().is_empty()) {
        None => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => m,
            Ok(other) => return Err(format!("it holds a JSON {}, not an object", json_type(&other))),
            Err(e) => return Err(format!("it is not valid JSON ({e})")),
        },
    };
    let mut warnings = Vec::new();
    if let Some(Value::Object(helpers)) = doc.get_mut("credHelpers")
        && let Some(helper) = helpers.remove(host)
    {
        warnings.push(format!(
            "removed `credHelpers.\"{host}\"` ({}): Docker would have asked that helper instead of using this login",
            helper.as_str().map_or_else(|| helper.to_string(), |h| format!("docker-credential-{h}"))
        ));
    }
    if let Some(store) = doc.get("credsStore").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        warnings.push(format!(
            "`credsStore: {store}` is set: Docker asks docker-credential-{store} for {host} and ignores the login written to `auths`; tfauth leaves credsStore alone (use the isolated config: omit --docker-config)"
        ));
    }
    let auths = doc.entry("auths").or_insert_with(|| Value::Object(Map::new()));
    if auths.is_null() {
        *auths = Value::Object(Map::new());
    }
    let Value::Object(auths) = auths else {
        return Err(format!("its `auths` is a JSON {}, not an object", json_type(auths)));
    };
    let auth = aws_smithy_types::base64::encode(format!("{username}:{}", password.expose()));
    auths.insert(host.to_string(), json!({ "auth": auth }));
    Ok(Merged { contents: Secret::new(to_docker_json(&Value::Object(doc))), warnings })
}

/// `existing` without the login for `host` (`auths[host]`), or `None` when it has none (or
/// is not a Docker config: logout never rewrites what it cannot read).
pub fn without_login(existing: &str, host: &str) -> Option<String> {
    let mut doc = match serde_json::from_str::<Value>(existing).ok()? {
        Value::Object(m) => m,
        _ => return None,
    };
    doc.get_mut("auths")?.as_object_mut()?.remove(host)?;
    Some(to_docker_json(&Value::Object(doc)))
}

/// Removes the login for `host` from the isolated Docker configuration `target` (`auth
/// logout`); whether there was one. The lock and the atomic replace are [`write_login`]'s.
pub fn remove_login(target: &Target, host: &str, env: &Env) -> Result<bool, DockerError> {
    let file = &target.file;
    let _lock = super::file_lock(env, "docker", "config", file)?;
    let existing = match crate::util::fs::read_private(file, crate::util::fs::READ_CAP) {
        Ok(Some(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        Ok(None) => return Ok(false),
        Err(source) => return Err(DockerError::Io { path: file.clone(), source }),
    };
    let Some(text) = without_login(&existing, host) else { return Ok(false) };
    crate::util::fs::write_private_atomic(file, text.as_bytes())
        .map_err(|source| DockerError::Io { path: file.clone(), source })?;
    Ok(true)
}

/// JSON as Docker writes `config.json`: indented with tabs, ending in a newline.
fn to_docker_json(v: &Value) -> String {
    use serde::Serialize;
    let mut out = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut out, serde_json::ser::PrettyFormatter::with_indent(b"\t"));
    v.serialize(&mut ser).expect("a JSON value serializes");
    let mut s = String::from_utf8(out).expect("serde_json writes UTF-8");
    s.push('\n');
    s
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Writes the login for `host` into `target`'s `config.json`; returns the warnings of the
/// merge. The file is replaced whole, or not at all.
pub fn write_login(
    target: &Target,
    host: &str,
    username: &str,
    password: &Secret,
    env: &Env,
) -> Result<Vec<String>, DockerError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DockerError::Io { path, source }
    };
    // A symlinked config.json (dotfiles) is updated where it points, as Docker does.
    let file = std::fs::canonicalize(&target.file).unwrap_or_else(|_| target.file.clone());
    // Two logins at once must not lose one another's registry.
    let _lock = super::file_lock(env, "docker", "config", &file)?;
    let (existing, mode) = match std::fs::read_to_string(&file) {
        Ok(text) => {
            let mode = std::fs::metadata(&file).map_err(io(&file))?.permissions().mode();
            (Some(text), mode & 0o600)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, 0o600),
        Err(e) => return Err(io(&file)(e)),
    };
    let merged = merge(existing.as_deref(), host, username, password)
        .map_err(|reason| DockerError::Config { path: file.clone(), reason })?;
    let bytes = merged.contents.expose().as_bytes();
    if target.isolated {
        crate::util::fs::write_private_atomic(&file, bytes).map_err(io(&file))?;
    } else {
        crate::util::fs::replace_file_with_mode(&file, bytes, mode).map_err(io(&file))?;
    }
    Ok(merged.warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "123456789012.dkr.ecr.us-east-2.amazonaws.com";

    fn merged(existing: Option<&str>) -> (Value, Vec<String>) {
        let m = merge(existing, HOST, "AWS", &Secret::new("pw")).unwrap();
        assert!(m.contents.expose().ends_with("}\n"));
        (serde_json::from_str(m.contents.expose()).unwrap(), m.warnings)
    }

    #[test]
    fn removing_a_login_keeps_everything_else_and_nothing_is_rewritten_without_one() {
        let with = merge(
            Some("{\"auths\": {\"ghcr.io\": {\"auth\": \"eA==\"}}, \"psFormat\": \"x\"}"),
            HOST,
            "AWS",
            &Secret::new("pw"),
        )
        .unwrap();
        let without = without_login(with.contents.expose(), HOST).expect("it had one");
        let doc: Value = serde_json::from_str(&without).unwrap();
        assert_eq!(doc, json!({"auths": {"ghcr.io": {"auth": "eA=="}}, "psFormat": "x"}));
        assert_eq!(without_login(&without, HOST), None);
        assert_eq!(without_login("not json", HOST), None);
    }

    #[test]
    fn a_new_file_has_just_the_login() {
        let (doc, warnings) = merged(None);
        assert_eq!(doc, json!({"auths": {HOST: {"auth": "QVdTOnB3"}}}));
        assert!(warnings.is_empty());
        assert_eq!(merged(Some("  \n")).0, doc, "an empty file is a new file");
    }

    #[test]
    fn everything_else_is_kept_in_order_and_the_host_entry_replaced() {
        let existing = r#"{
            "psFormat": "table {{.ID}}",
            "auths": {
                "ghcr.io": {"auth": "Z2g6dG9r"},
                "123456789012.dkr.ecr.us-east-2.amazonaws.com": {"auth": "b2xkOm9sZA==", "identitytoken": "stale"}
            },
            "proxies": {"default": {"httpProxy": "http://proxy:3128"}},
            "credHelpers": {"gcr.io": "gcloud"}
        }"#;
        let m = merge(Some(existing), HOST, "AWS", &Secret::new("pw")).unwrap();
        let doc: Value = serde_json::from_str(m.contents.expose()).unwrap();
        let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["psFormat", "auths", "proxies", "credHelpers"]);
        assert_eq!(doc["auths"]["ghcr.io"], json!({"auth": "Z2g6dG9r"}));
        assert_eq!(doc["auths"][HOST], json!({"auth": "QVdTOnB3"}), "a stale identitytoken would win over auth");
        assert_eq!(doc["proxies"]["default"]["httpProxy"], "http://proxy:3128");
        assert_eq!(doc["credHelpers"], json!({"gcr.io": "gcloud"}));
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        assert!(m.contents.expose().contains("\n\t\"auths\": {\n\t\t\"ghcr.io\""), "tabs, as Docker writes");
        assert_eq!(format!("{:?}", m.contents), crate::secret::REDACTED);
    }

    #[test]
    fn a_cred_helper_for_the_host_is_removed_and_a_creds_store_is_warned_about() {
        let (doc, warnings) = merged(Some(&format!(
            r#"{{"credsStore": "desktop", "credHelpers": {{"{HOST}": "ecr-login", "gcr.io": "gcloud"}}}}"#
        )));
        assert_eq!(doc["credHelpers"], json!({"gcr.io": "gcloud"}));
        assert_eq!(doc["credsStore"], "desktop", "the user's store stays");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("docker-credential-ecr-login") && warnings[0].contains(HOST), "{}", warnings[0]);
        assert!(
            warnings[1].contains("docker-credential-desktop") && warnings[1].contains("omit --docker-config"),
            "{}",
            warnings[1]
        );
        assert!(!warnings.iter().any(|w| w.contains("QVdTOnB3") || w.contains("pw")));
    }

    #[test]
    fn files_that_are_not_a_json_object_are_refused() {
        for (text, why) in
            [("[1]", "a JSON array"), ("{\"auths\": []}", "`auths` is a JSON array"), ("{oops", "not valid JSON")]
        {
            let err = merge(Some(text), HOST, "AWS", &Secret::new("pw")).err().unwrap();
            assert!(err.contains(why), "{text}: {err}");
        }
        assert_eq!(merged(Some("{\"auths\": null}")).0["auths"][HOST]["auth"], "QVdTOnB3");
    }

    #[test]
    fn targets() {
        let t = Target::user(Path::new("/home/me/.docker"));
        assert_eq!(
            (t.file.as_path(), t.dir(), t.isolated),
            (Path::new("/home/me/.docker/config.json"), Path::new("/home/me/.docker"), false)
        );
        assert_eq!(Target::user(Path::new("/tmp/ci.json")).file, Path::new("/tmp/ci.json"));
        let t = Target::isolated(Path::new("/c/atmos/realm"));
        assert_eq!((t.file.as_path(), t.isolated), (Path::new("/c/atmos/realm/docker/config.json"), true));
    }

    #[test]
    fn writes_keep_a_stricter_mode_and_never_widen() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let env = Env::from_pairs([("XDG_CACHE_HOME", t.path().join("cache").to_str().unwrap())]);
        let dir = t.path().join("dot-docker");
        std::fs::create_dir(&dir).unwrap();
        let file = dir.join("config.json");
        std::fs::write(&file, "{\"auths\": {\"ghcr.io\": {\"auth\": \"eA==\"}}}").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let target = Target::user(&dir);
        write_login(&target, HOST, "AWS", &Secret::new("pw"), &env).unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o400)).unwrap();
        write_login(&target, "ghcr.io", "u", &Secret::new("p"), &env).unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o400);
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(doc["auths"][HOST]["auth"], "QVdTOnB3");
        assert_eq!(doc["auths"]["ghcr.io"]["auth"], "dTpw");
        // A symlink is followed, as Docker does, and stays a symlink.
        let real = t.path().join("real.json");
        std::fs::write(&real, "{}").unwrap();
        let link_dir = t.path().join("linked");
        std::fs::create_dir(&link_dir).unwrap();
        std::os::unix::fs::symlink(&real, link_dir.join("config.json")).unwrap();
        write_login(&Target::user(&link_dir), HOST, "AWS", &Secret::new("pw"), &env).unwrap();
        assert!(std::fs::symlink_metadata(link_dir.join("config.json")).unwrap().file_type().is_symlink());
        assert!(std::fs::read_to_string(&real).unwrap().contains("QVdTOnB3"));
        // What cannot be merged is left alone.
        std::fs::write(&file, "not json").unwrap();
        let err = write_login(&target, HOST, "AWS", &Secret::new("pw"), &env).unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "not json");
    }
}
