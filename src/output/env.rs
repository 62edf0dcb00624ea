//! The environment and files for one identity (CONTRACT A5 and B).
//!
//! AWS identities get an isolated config file whose profile runs `atmos-auth-helper` as
//! its `credential_process`, so terraform's providers fetch fresh credentials themselves,
//! and an empty isolated credentials file, so `~/.aws/credentials` never leaks in. The
//! same builder serves `--dry-run`, `describe`, `auth env` and exec, so they never differ.
//! Pure: the caller supplies the environment snapshot and the helper's path.
//!
//! A root provider's `spec.files.base_path` moves the AWS files from
//! `<config home>/atmos/<realm>/aws/<root>/` to `<base_path>/<realm>/aws/<root>/` (Atmos's
//! layout for it); below `base_path` the same rules hold as below `atmos/`.
//!
//! **A run's files are its own.** The files live in `<realm>/aws/<root>/<h>/`, where `<h>`
//! is [`content_address`] of exactly the bytes of the files in that directory. Two runs
//! whose files differ (another component's `--component`/`--key`, another identity's
//! profile, static keys) never share a path; two whose files are equal write equal bytes,
//! atomically renamed. So a file is never replaced by different content under a running
//! terraform, with no lock and no cleanup to race with. The same scheme serves GCP's
//! credentials and gcloud configuration directories; [`EnvPlan::readdress`] derives the
//! directories again whenever contents change (static keys, files completed at run time).
//! Every value written into an INI file goes through [`super::ini`], and one that cannot be
//! written unchanged is refused while planning, before anything is written.

use super::ini::{self, Ini, UnsafeValue};
use crate::auth::Cloud;
use crate::env_vars::{self as ev, Env};
use crate::identity::{Chain, RegionFrom};
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
    /// Writes every planned file: 0600, atomically, in 0700 directories. The content-
    /// addressed directories are derived again first, from the final contents (GCP and
    /// Azure files are completed at run time), so a file is only ever replaced by the
    /// same bytes.
    /// On failure, the path of the file that could not be written comes with the error.
    pub fn write_files(&mut self) -> Result<(), (PathBuf, std::io::Error)> {
        self.readdress();
        for f in &self.files {
            // A run's files live under `<config home>/atmos/` (or a provider's base_path), a
            // tree that is tfauth's (and Atmos's): no symlink in it is followed, every
            // directory in it is the user's.
            let tree = self.trees.iter().map(PathBuf::as_path).find(|t| f.path.starts_with(t)).or_else(|| {
                f.path.ancestors().find(|a| a.file_name().is_some_and(|n| n == "atmos")).and_then(Path::parent)
            });
            match tree {
                Some(base) => crate::util::fs::write_private_below(base, &f.path, f.contents.as_bytes()),
                None => crate::util::fs::write_private_atomic(&f.path, f.contents.as_bytes()),
            }
            .map_err(|e| (f.path.clone(), e))?;
        }
        for a in &self.addressed {
            let removed = sweep_stale(&a.base, &a.dir, std::time::SystemTime::now());
            if removed > 0 {
                tracing::debug!(
                    "removed {removed} directories in {} that no run had written for long",
                    a.base.display()
                );
            }
        }
        Ok(())
    }

    /// The same plan with the session's keys written into the credentials file, for tools
    /// that cannot run `credential_process` (`--static-credentials`). The files move to the
    /// directory their new contents address. Keys an INI file cannot carry unchanged (no
    /// STS answers such, but nothing from the network is trusted) are not written: the
    /// profile keeps its `credential_process`, and a note says so.
    /// The child environment a process run under this plan gets: the variables it sets, and
    /// those it clears that `env` has.
    pub fn child_env(&self, env: &Env) -> crate::exec::ChildEnv {
        crate::exec::ChildEnv {
            set: self.set.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            remove: self.cleared_in(env),
        }
    }

    pub fn with_static_credentials(mut self, profile: &str, creds: &crate::session::cache::Credentials) -> EnvPlan {
        let Some(aws) = &mut self.aws else {
            return self;
        };
        let Some(p) = aws.profiles.iter_mut().find(|p| p.name == profile) else {
            return self;
        };
        let before = p.keys.replace(creds.clone());
        if aws.render().is_err() {
            // Restore the profile's `credential_process`: the files stay as they were.
            aws.profiles.iter_mut().find(|p| p.name == profile).expect("found above").keys = before;
            self.notes.push(format!(
                "the session of `{}` holds characters an INI file cannot carry unchanged; its profile runs credential_process instead of holding static keys",
                ini::escape_controls(profile)
            ));
            return self;
        }
        self.render_aws();
        self.readdress();
        self
    }

    /// Writes the AWS profiles into the plan's config and credentials files (their
    /// contents; paths and addresses are [`EnvPlan::readdress`]'s). Every value was checked
    /// when its profile was added, so rendering cannot fail here.
    fn render_aws(&mut self) {
        let Some(aws) = &self.aws else { return };
        let Ok((config, credentials)) = aws.render() else { return };
        let secret = aws.profiles.iter().any(|p| p.keys.is_some());
        for f in &mut self.files {
            if f.path == aws.config {
                f.contents = config.clone();
            } else if f.path == aws.credentials {
                f.contents = credentials.clone();
                f.secret = secret;
            }
        }
    }

    /// Moves the files of every content-addressed directory to `<base>/<h>/`, where `<h>`
    /// is [`content_address`] of their contents, and points the variables and the other
    /// files that named the old directory at the new one. Idempotent.
    pub fn readdress(&mut self) {
        for i in 0..self.addressed.len() {
            let Addressed { base, dir: old, .. } = self.addressed[i].clone();
            let old_s = format!("{}/", old.display());
            let members: Vec<usize> = (0..self.files.len()).filter(|&j| self.files[j].path.starts_with(&old)).collect();
            // The hash covers what the files say, with their own directory written the same
            // way whatever its address was (a file may name a sibling: a credentials JSON
            // naming its subject token).
            let mut named: Vec<(String, String)> = members
                .iter()
                .map(|&j| {
                    let f = &self.files[j];
                    let name = f.path.strip_prefix(&old).unwrap_or(&f.path).to_string_lossy().into_owned();
                    (name, f.contents.replace(&old_s, "<dir>/"))
                })
                .collect();
            named.sort();
            let h = content_address(named.iter().map(|(n, c)| (n.as_str(), c.as_bytes())));
            let new = base.join(&h);
            if new == old {
                continue;
            }
            let new_s = format!("{}/", new.display());
            if let Some(aws) = &mut self.aws {
                for path in [&mut aws.config, &mut aws.credentials] {
                    if let Ok(rel) = path.strip_prefix(&old) {
                        *path = new.join(rel);
                    }
                }
            }
            for (j, f) in self.files.iter_mut().enumerate() {
                if members.contains(&j)
                    && let Ok(rel) = f.path.strip_prefix(&old)
                {
                    f.path = new.join(rel);
                }
                if f.contents.contains(&old_s) {
                    f.contents = f.contents.replace(&old_s, &new_s);
                }
            }
            let old_exact = old.display().to_string();
            for v in self.set.values_mut() {
                if *v == old_exact {
                    *v = new.display().to_string();
                } else if v.contains(&old_s) {
                    *v = v.replace(&old_s, &new_s);
                }
            }
            self.addressed[i].dir = new;
        }
    }
}

/// How long an addressed directory that no run writes any more is kept when it holds
/// session keys (`--static-credentials`): longer than any session STS issues, so the keys
/// in it have expired and no running terraform can still be using them.
pub const KEEP_KEYS: std::time::Duration = std::time::Duration::from_secs(36 * 3600);
/// ... and when it holds only a `credential_process` profile: far longer than any run.
pub const KEEP_PROFILES: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// Removes the addressed directories in `base` other than `keep` that no run has written
/// for [`KEEP_KEYS`] (they hold keys) or [`KEEP_PROFILES`] (they do not). Every run
/// rewrites its own directory's files, so their age is the time since the last run that
/// used them. Best effort, in a directory already checked to be the user's; links and
/// anything but tfauth's addressed directories are left alone. Returns how many went.
pub fn sweep_stale(base: &Path, keep: &Path, now: std::time::SystemTime) -> usize {
    let Ok(Some(dir)) = crate::util::fs::PrivateDir::open(base) else { return 0 };
    let is_address = |n: &str| n.len() == ADDRESS_LEN && n.bytes().all(|b| b.is_ascii_hexdigit());
    let mut removed = 0;
    for name in dir.names().unwrap_or_default().into_iter().filter(|n| is_address(n)) {
        let sub = base.join(&name);
        if sub == keep || !std::fs::symlink_metadata(&sub).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let Ok(files) = std::fs::read_dir(&sub) else { continue };
        let files: Vec<(PathBuf, std::fs::Metadata)> =
            files.flatten().filter_map(|e| Some((e.path(), std::fs::symlink_metadata(e.path()).ok()?))).collect();
        if files.iter().any(|(_, m)| !m.is_file()) {
            continue;
        }
        let newest = files.iter().filter_map(|(_, m)| m.modified().ok()).max();
        let holds_keys = crate::util::fs::read_private(&sub.join("credentials"), crate::session::cache::ENTRY_CAP)
            .ok()
            .flatten()
            .is_some_and(|t| String::from_utf8_lossy(&t).contains("aws_access_key_id"));
        let keep_for = if holds_keys { KEEP_KEYS } else { KEEP_PROFILES };
        let stale = newest.is_none_or(|t| now.duration_since(t).is_ok_and(|age| age > keep_for));
        if stale && files.iter().all(|(p, _)| std::fs::remove_file(p).is_ok()) && std::fs::remove_dir(&sub).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The `--static-credentials` config and credentials texts, or why they cannot be written.
/// The number of hex characters of a content address.
pub const ADDRESS_LEN: usize = 16;

/// The first [`ADDRESS_LEN`] hex characters of SHA-256 over the files of a directory, in
/// the order given: each file's name, a NUL, its length (8 bytes, big-endian), then its
/// exact bytes. Different contents never share a directory; equal contents always do.
pub fn content_address<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut h = Sha256::new();
    for (name, bytes) in files {
        h.update(name.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    }
    h.finalize().iter().take(ADDRESS_LEN / 2).map(|b| format!("{b:02x}")).collect()
}

/// Which cloud's files a content-addressed directory holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressKind {
    Aws,
    Gcp,
    /// A run's kubeconfig (`<realm>/kube/<h>/config`).
    Kube,
}

/// A directory whose files live in `<base>/<h>/` ([`EnvPlan::readdress`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addressed {
    pub kind: AddressKind,
    /// Atmos's directory (`<realm>/aws/<root>`): the addressed ones are inside it.
    pub base: PathBuf,
    /// Where its files are now: `base` until addressed, then `base/<h>`.
    pub dir: PathBuf,
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
    /// Directories whose files are content-addressed, in the order they are derived (a
    /// later one's files may name an earlier one's).
    pub addressed: Vec<Addressed>,
    /// The AWS profiles the config and credentials files hold, when the run has any.
    pub aws: Option<AwsFiles>,
    /// Directories below which every directory is tfauth's own (a provider's
    /// `spec.files.base_path`), besides `<config home>/atmos/`.
    pub trees: Vec<PathBuf>,
}

/// A run's isolated AWS config and credentials files, as the profiles they hold: the one
/// `AWS_PROFILE` names first, then each `required` identity's, which terraform reaches
/// with `provider "aws" { profile = "NAME" }` (hub and spoke). Rendered by [`Ini`] only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsFiles {
    pub config: PathBuf,
    pub credentials: PathBuf,
    /// The comment both files start with.
    pub header: String,
    pub profiles: Vec<AwsProfile>,
}

/// One profile of a run's AWS config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsProfile {
    /// The identity's name, checked as a section name.
    pub name: String,
    /// A checked region.
    pub region: String,
    /// The checked `credential_process` command line that runs the helper.
    pub command: String,
    /// Session keys written into the credentials file instead (`--static-credentials`).
    pub keys: Option<crate::session::cache::Credentials>,
}

impl AwsFiles {
    /// The config and credentials texts. A profile with keys gets them in the credentials
    /// file and no `credential_process`; the others run the helper.
    pub fn render(&self) -> Result<(String, String), ini::Unsafe> {
        let mut config = Ini::new();
        config.comment(&self.header);
        let mut credentials = Ini::new();
        credentials.comment(&self.header);
        for p in &self.profiles {
            config.section(Some("profile"), &p.name)?;
            if p.keys.is_none() {
                config.pair("credential_process", &p.command)?;
            }
            config.pair("region", &p.region)?;
        }
        let with_keys: Vec<&AwsProfile> = self.profiles.iter().filter(|p| p.keys.is_some()).collect();
        if with_keys.is_empty() {
            credentials.comment("Intentionally empty: credentials come from credential_process in the config file.");
        }
        for p in &with_keys {
            let expires = p.keys.as_ref().and_then(|c| c.expiration);
            let expires = expires.map(crate::session::cache::format_utc).unwrap_or_else(|| "revoked".into());
            credentials.comment(&format!("Session credentials of `{}`, valid until {expires}.", p.name));
        }
        for p in with_keys {
            let creds = p.keys.as_ref().expect("filtered");
            credentials
                .section(None, &p.name)?
                .pair("aws_access_key_id", &creds.access_key_id)?
                .pair("aws_secret_access_key", creds.secret_access_key.expose())?;
            if let Some(t) = &creds.session_token {
                credentials.pair("aws_session_token", t.expose())?;
            }
        }
        Ok((config.render(), credentials.render()))
    }
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
    /// `<base_path>/<realm>` when the AWS files' root provider sets `spec.files.base_path`
    /// (expanded and absolute): where its `aws/<provider>/` goes instead of `realm_dir`.
    pub aws_realm_dir: Option<PathBuf>,
    /// Absolute path of `atmos-auth-helper`.
    pub helper: PathBuf,
    /// Arguments after `--identity NAME` that let the helper find the same resolved chain.
    pub helper_args: Vec<Arg>,
    /// The stack's `vars.region`, used when no identity in the chain names a region.
    pub stack_region: Option<Origin>,
    /// Who the files are written for, for their header comment.
    pub purpose: String,
}

/// A value and where it came from, for the error that refuses it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub value: String,
    /// What it is: "the region", "the stack name".
    pub what: String,
    /// Where it came from: "the stack's vars.region at stacks/dev.yaml:4".
    pub from: String,
    /// What to do about it.
    pub hint: String,
}

/// One argument of the helper's command line: a flag of ours, or a value with its origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    Flag(&'static str),
    Value(Origin),
}

impl Arg {
    pub fn text(&self) -> &str {
        match self {
            Arg::Flag(f) => f,
            Arg::Value(o) => &o.value,
        }
    }
}

pub use crate::util::dirs::{config_home, path_component, realm, realm_hash};

/// Builds the plan for `chain`; `env` is the caller's environment (GitHub Actions'
/// token variables, the user's own gcloud and az locations).
/// A value that cannot be written safely is refused here, before anything is written.
pub fn plan(chain: &Chain, ctx: &PlanContext, env: &Env) -> Result<EnvPlan, Box<UnsafeValue>> {
    match chain.leaf().cloud() {
        Some(Cloud::Aws) => aws_plan(&[(chain, ctx)]),
        Some(Cloud::Azure) => super::azure::plan(chain, ctx, env),
        Some(Cloud::Gcp) => super::gcp::plan(chain, ctx, env),
        None => Ok(EnvPlan::default()),
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
        self.addressed.extend(other.addressed);
        self.trees.extend(other.trees);
        if self.aws.is_none() {
            self.aws = other.aws;
        }
    }
}

/// [`Chain::aws_region`], with where the region came from in the words an error about it
/// uses: `stack_region` is the stack's `vars.region` and where it was read.
pub fn aws_region_from(chain: &Chain, stack_region: Option<&Origin>) -> Origin {
    let fix = |what: &str| format!("set {what} to a region name such as us-east-2");
    let (value, from) = chain.aws_region(stack_region.map(|o| o.value.as_str()));
    let (from, hint) = match from {
        RegionFrom::Identity(name) => {
            (format!("the `region` of identity `{}`", ini::escape_controls(name)), fix("the identity's `region`"))
        }
        RegionFrom::Stack => return stack_region.cloned().unwrap_or_default(),
        RegionFrom::Provider(name) => {
            (format!("the `region` of provider `{}`", ini::escape_controls(name)), fix("the provider's `region`"))
        }
        RegionFrom::Default => ("tfauth's default".into(), String::new()),
    };
    Origin { value: value.to_string(), what: "the region".into(), from, hint }
}

/// `Err` of `check` on `o`, as the located error of `identity`'s `file`.
fn refuse(identity: &str, file: &str, o: &Origin, why: ini::Unsafe) -> Box<UnsafeValue> {
    Box::new(UnsafeValue {
        identity: identity.to_string(),
        file: file.to_string(),
        what: o.what.clone(),
        value: o.value.clone(),
        from: o.from.clone(),
        why,
        hint: format!("{}; tfauth never writes a value that could add a line to a config file", o.hint),
    })
}

/// The identity's name as its profile name, checked.
pub fn profile_name(identity: &str, file: &str) -> Result<(), Box<UnsafeValue>> {
    ini::check_name(identity).map_err(|why| {
        let o = Origin {
            value: identity.to_string(),
            what: "the profile name (the identity's name)".into(),
            from: "its key under auth.identities".into(),
            hint: "rename the identity using ASCII letters, digits and `-_./@+`: its name is the AWS profile name"
                .into(),
        };
        refuse(identity, file, &o, why)
    })
}

/// The profile of `chain` in a run's AWS config: its name, region and the helper's
/// command line, every value checked.
fn aws_profile(chain: &Chain, ctx: &PlanContext) -> Result<AwsProfile, Box<UnsafeValue>> {
    let leaf = &chain.leaf().name;
    const FILE: &str = "its AWS config";
    profile_name(leaf, FILE)?;
    let region = aws_region_from(chain, ctx.stack_region.as_ref());
    ini::check_region(&region.value).map_err(|why| refuse(leaf, FILE, &region, why))?;
    let helper = Origin {
        value: ctx.helper.to_string_lossy().into_owned(),
        what: "the path of atmos-auth-helper".into(),
        from: "where tfauth is installed".into(),
        hint: "install tfauth and atmos-auth-helper in a directory whose path has no control characters, `#` or `;`"
            .into(),
    };
    let mut command = Vec::new();
    for arg in
        std::iter::once(Arg::Value(helper)).chain([Arg::Flag("--identity")]).chain(ctx.helper_args.iter().cloned())
    {
        if let Arg::Value(o) = &arg {
            ini::check_value(&o.value).map_err(|why| refuse(leaf, FILE, o, why))?;
        }
        command.push(shell_quote(arg.text()));
        if arg == Arg::Flag("--identity") {
            command.push(shell_quote(leaf));
        }
    }
    let command = command.join(" ");
    if let Err(why) = ini::check_value(&command) {
        // Every part was checked above; the line as a whole must pass too.
        let o = Origin {
            value: command,
            what: "the credential_process line".into(),
            from: "the helper's arguments".into(),
            hint: "report this as a bug".into(),
        };
        return Err(refuse(leaf, FILE, &o, why));
    }
    Ok(AwsProfile { name: leaf.clone(), region: region.value, command, keys: None })
}

/// The plan of a run's AWS identities: one isolated config with a profile per chain, each
/// with the context its helper runs with (its own cache `--key`). The first is the one
/// `AWS_PROFILE` and `AWS_REGION` name; the files live under its root provider.
pub fn aws_plan(chains: &[(&Chain, &PlanContext)]) -> Result<EnvPlan, Box<UnsafeValue>> {
    let Some(&(first, ctx)) = chains.first() else {
        return Ok(EnvPlan::default());
    };
    let profiles = chains.iter().map(|(c, ctx)| aws_profile(c, ctx)).collect::<Result<Vec<_>, _>>()?;
    let base = ctx.aws_realm_dir.as_ref().unwrap_or(&ctx.realm_dir).join("aws").join(path_component(first.root_name()));
    let (config, credentials) = (base.join("config"), base.join("credentials"));
    let header = format!(
        "Written by tfauth for {}. Do not edit: tfauth writes a new directory when anything changes.",
        ctx.purpose
    );
    let region = profiles[0].region.clone();
    let aws = AwsFiles { config: config.clone(), credentials: credentials.clone(), header, profiles };
    let (config_text, credentials_text) = aws.render().map_err(|why| {
        let o = Origin {
            value: ctx.purpose.clone(),
            what: "the files' header".into(),
            from: "the component and stack names".into(),
            hint: "report this as a bug".into(),
        };
        refuse(&first.leaf().name, "its AWS config", &o, why)
    })?;

    let mut set = BTreeMap::new();
    set.insert(ev::AWS_CONFIG_FILE.into(), config.display().to_string());
    set.insert(ev::AWS_SHARED_CREDENTIALS_FILE.into(), credentials.display().to_string());
    set.insert(ev::AWS_PROFILE.into(), first.leaf().name.clone());
    set.insert(ev::AWS_REGION.into(), region.clone());
    set.insert(ev::AWS_DEFAULT_REGION.into(), region);
    set.insert(ev::AWS_SDK_LOAD_CONFIG.into(), "1".into());
    set.insert(ev::AWS_EC2_METADATA_DISABLED.into(), "true".into());
    let mut plan = EnvPlan {
        set,
        clear: ev::AWS_COMPETING.iter().map(|s| s.to_string()).collect(),
        clear_prefixes: ev::AWS_COMPETING_PREFIXES.iter().map(|s| s.to_string()).collect(),
        files: vec![
            PlannedFile { path: config, contents: config_text, secret: false },
            PlannedFile { path: credentials, contents: credentials_text, secret: false },
        ],
        notes: vec![],
        secret_vars: vec![],
        addressed: vec![Addressed { kind: AddressKind::Aws, dir: base.clone(), base }],
        aws: Some(aws),
        trees: ctx.aws_realm_dir.iter().filter_map(|d| d.parent().map(Path::to_path_buf)).collect(),
    };
    plan.readdress();
    Ok(plan)
}

/// Quotes `s` for `sh -c` (how SDKs run `credential_process`), only when needed.
///
/// Not `shlex::try_quote`, on purpose: shlex also quotes `=`, `,` and `%`, so a dry run's
/// `-var-file=x.json` and `-var x=1` would print as `'-var-file=x.json'` and `'x=1'`, and it
/// writes a word with a `'` in double quotes (`"it's"`), where the `credential_process` line
/// and `auth env` have always written POSIX single quotes (`'it'\''s'`). Both forms read
/// back the same through `sh -c`; the output users and the tests pin is this one.
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
    fn stale_addressed_directories_go_keys_first_and_links_stay() {
        use std::time::{Duration, SystemTime};
        let t = tempfile::tempdir().unwrap();
        let base = t.path().join("aws/acme-sso");
        let dir = |h: &str, creds: &str, age: Duration| {
            let d = base.join(h);
            std::fs::create_dir_all(&d).unwrap();
            for (name, text) in [("config", "[profile a]\n"), ("credentials", creds)] {
                let f = std::fs::File::create(d.join(name)).unwrap();
                std::io::Write::write_all(&mut &f, text.as_bytes()).unwrap();
                f.set_modified(SystemTime::now() - age).unwrap();
            }
            d
        };
        let keys = "[a]\naws_access_key_id = ASIA\n";
        let day = Duration::from_secs(24 * 3600);
        let current = dir("00000000000000aa", keys, 100 * day);
        let old_keys = dir("00000000000000bb", keys, 2 * day);
        let young_keys = dir("00000000000000cc", keys, Duration::from_secs(3600));
        let old_profile = dir("00000000000000dd", "# empty\n", 31 * day);
        let week_profile = dir("00000000000000ee", "# empty\n", 7 * day);
        std::os::unix::fs::symlink(t.path(), base.join("00000000000000ff")).unwrap();
        std::fs::create_dir_all(base.join("not-an-address")).unwrap();
        assert_eq!(sweep_stale(&base, &current, SystemTime::now()), 2);
        assert!(current.exists(), "the run's own directory is never removed");
        assert!(!old_keys.exists() && !old_profile.exists());
        assert!(young_keys.exists() && week_profile.exists());
        assert!(base.join("00000000000000ff").exists() && base.join("not-an-address").exists());
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
    fn quoted_words_read_back_unchanged_through_sh() {
        let words = ["a b", "it's", "", "-var-file=x.json", "$HOME `id` \\ \"q\"", "a]b*?~{x}", "héllo;|&"];
        for w in words {
            let out = std::process::Command::new("sh").arg("-c").arg(format!("printf %s {}", shell_quote(w))).output();
            assert_eq!(String::from_utf8(out.unwrap().stdout).unwrap(), w, "{}", shell_quote(w));
        }
    }

    fn chain_of(src: &str, leaf: &str) -> Chain {
        use crate::yaml::{LoadContext, Loader};
        let node = Loader::new(&LoadContext::default()).load_str(src, Path::new("/a.yaml")).unwrap();
        let (auth, problems) = crate::auth::AuthConfig::parse(Some(&node));
        assert!(problems.is_empty(), "{problems:?}");
        crate::identity::chain::build(&auth, leaf).unwrap()
    }

    const AUTH: &str = "providers: {gh: {kind: github/oidc, region: us-east-2}}\nidentities:\n  acme/net: {kind: aws/assume-role, via: {provider: gh}, principal: {assume_role: \"arn:aws:iam::111111111111:role/a\"}}\n  \"a]b\": {kind: aws/assume-role, via: {provider: gh}, principal: {assume_role: \"arn:aws:iam::111111111111:role/b\"}}\n";

    fn value(v: &str, what: &str) -> Arg {
        Arg::Value(Origin {
            value: v.into(),
            what: what.into(),
            from: format!("the test's {what}"),
            hint: "fix it".into(),
        })
    }

    fn ctx(component: &str) -> PlanContext {
        PlanContext {
            realm_dir: PathBuf::from("/cfg/atmos/r"),
            aws_realm_dir: None,
            helper: PathBuf::from("/opt/bin/atmos-auth-helper"),
            helper_args: vec![
                Arg::Flag("--config"),
                value("/repo/atmos.yaml", "path"),
                Arg::Flag("--component"),
                value(component, "component name"),
            ],
            stack_region: None,
            purpose: format!("component {component}"),
        }
    }

    #[test]
    fn a_base_path_moves_the_aws_files_and_keeps_them_private_and_addressed() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("base");
        let chain = chain_of(AUTH, "acme/net");
        let ctx = PlanContext { aws_realm_dir: Some(base.join("r")), ..ctx("vpc") };
        let mut plan = plan(&chain, &ctx, &Env::default()).unwrap();
        let dir = plan.files[0].path.parent().unwrap().to_path_buf();
        assert_eq!(dir.parent().unwrap(), base.join("r/aws/gh"), "<base_path>/<realm>/aws/<provider>/<h>");
        assert_eq!(plan.set[ev::AWS_CONFIG_FILE], dir.join("config").display().to_string());
        assert_eq!(plan.trees, vec![base.clone()]);
        plan.write_files().unwrap();
        for (p, mode) in [(dir.join("config"), 0o600), (dir.clone(), 0o700), (base.join("r"), 0o700)] {
            assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, mode, "{}", p.display());
        }
        // Below base_path no link is followed: a realm directory that is one is refused.
        let other = tmp.path().join("other");
        std::fs::create_dir(&other).unwrap();
        std::fs::remove_dir_all(base.join("r")).unwrap();
        std::os::unix::fs::symlink(&other, base.join("r")).unwrap();
        let mut plan = super::plan(&chain, &ctx, &Env::default()).unwrap();
        let (path, e) = plan.write_files().unwrap_err();
        assert!(path.starts_with(&base), "{}", path.display());
        assert!(crate::util::fs::TrustError::of(&e).is_some(), "{e}");
        assert_eq!(std::fs::read_dir(&other).unwrap().count(), 0, "nothing written through the link");
    }

    #[test]
    fn aws_files_live_in_a_directory_named_by_their_contents() {
        let chain = chain_of(AUTH, "acme/net");
        let plan = plan(&chain, &ctx("vpc"), &Env::default()).unwrap();
        let config = &plan.files[0];
        let dir = config.path.parent().unwrap();
        assert_eq!(dir.parent().unwrap(), Path::new("/cfg/atmos/r/aws/gh"));
        let h = dir.file_name().unwrap().to_str().unwrap();
        assert_eq!(h.len(), ADDRESS_LEN);
        assert!(h.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{h}");
        assert_eq!(plan.files[1].path, dir.join("credentials"));
        let mut files: Vec<(&str, &[u8])> =
            plan.files.iter().map(|f| (f.path.file_name().unwrap().to_str().unwrap(), f.contents.as_bytes())).collect();
        files.sort();
        assert_eq!(h, content_address(files), "the hash of exactly the bytes written there");
        assert_eq!(plan.set[ev::AWS_CONFIG_FILE], config.path.display().to_string());
        assert_eq!(plan.set[ev::AWS_SHARED_CREDENTIALS_FILE], dir.join("credentials").display().to_string());
        assert!(config.contents.contains("credential_process = /opt/bin/atmos-auth-helper --identity acme/net --config /repo/atmos.yaml --component vpc\n"), "{}", config.contents);

        // Same run, same bytes, same directory; another component, another directory.
        let again = super::plan(&chain, &ctx("vpc"), &Env::default()).unwrap();
        assert_eq!(again, plan);
        let other = super::plan(&chain, &ctx("dns"), &Env::default()).unwrap();
        assert_ne!(other.files[0].path.parent(), Some(dir));
        assert_eq!(other.files[0].path.parent().unwrap().parent(), dir.parent());

        // Static keys: the files move to the directory their new contents address, the
        // variables follow, and the secret is in the credentials file only.
        let creds = crate::session::cache::Credentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: crate::secret::Secret::new("s3cr3t"),
            session_token: Some(crate::secret::Secret::new("tok")),
            expiration: None,
            issued: None,
        };
        let mut st = plan.clone().with_static_credentials("acme/net", &creds);
        let sdir = st.files[0].path.parent().unwrap().to_path_buf();
        assert_ne!(sdir, dir);
        assert_eq!(sdir.parent(), dir.parent());
        assert_eq!(st.set[ev::AWS_SHARED_CREDENTIALS_FILE], sdir.join("credentials").display().to_string());
        assert_eq!(st.set[ev::AWS_CONFIG_FILE], sdir.join("config").display().to_string());
        assert!(st.files[1].secret && st.files[1].contents.contains("aws_secret_access_key = s3cr3t\n"));
        assert!(!st.files[0].contents.contains("s3cr3t") && !sdir.display().to_string().contains("s3cr3t"));
        let before = st.clone();
        st.readdress();
        assert_eq!(st, before, "readdressing is idempotent");
    }

    #[test]
    fn hub_and_spoke_share_one_config_and_static_keys_go_only_where_asked() {
        let (hub, spoke) = (chain_of(AUTH, "acme/net"), chain_of(AUTH, "acme/net"));
        let mut spoke = spoke;
        spoke.hops.last_mut().unwrap().name = "spoke".into();
        let (c1, mut c2) = (ctx("vpc"), ctx("vpc"));
        c2.helper_args.extend([Arg::Flag("--key"), value("k2", "key")]);
        let plan = aws_plan(&[(&hub, &c1), (&spoke, &c2)]).unwrap();
        assert_eq!(plan.files.len(), 2, "one config and one credentials file");
        assert_eq!(plan.set[ev::AWS_PROFILE], "acme/net");
        let config = &plan.files[0].contents;
        let hub_at = config.find("[profile acme/net]\ncredential_process = ").unwrap();
        let spoke_at = config.find("[profile spoke]\ncredential_process = /opt/bin/atmos-auth-helper --identity spoke --config /repo/atmos.yaml --component vpc --key k2\n").unwrap();
        assert!(hub_at < spoke_at, "{config}");

        let creds = crate::session::cache::Credentials {
            access_key_id: "ASIASPOKE".into(),
            secret_access_key: crate::secret::Secret::new("sp0ke"),
            session_token: None,
            expiration: None,
            issued: None,
        };
        let st = plan.clone().with_static_credentials("spoke", &creds);
        let (config, credentials) = (&st.files[0].contents, &st.files[1].contents);
        assert!(config.contains("[profile acme/net]\ncredential_process = "), "{config}");
        assert!(config.contains("[profile spoke]\nregion = us-east-2\n"), "{config}");
        assert!(credentials.contains("[spoke]\naws_access_key_id = ASIASPOKE\naws_secret_access_key = sp0ke\n"));
        assert!(!credentials.contains("[acme/net]") && st.files[1].secret);
        assert_ne!(st.files[0].path.parent(), plan.files[0].path.parent(), "new contents, new directory");
        assert_eq!(st.aws.as_ref().unwrap().config, st.files[0].path, "the model follows the files");
        // A profile the plan does not hold is left alone.
        assert_eq!(plan.clone().with_static_credentials("nobody", &creds), plan);
    }

    #[test]
    fn a_value_that_could_add_a_line_is_refused_with_its_origin() {
        let chain = chain_of(AUTH, "acme/net");
        let mut c = ctx("vpc");
        c.stack_region = Some(Origin {
            value: "us-east-2\ncredential_process = touch /tmp/x".into(),
            what: "the region".into(),
            from: "the stack's vars.region".into(),
            hint: "set vars.region".into(),
        });
        let e = plan(&chain, &c, &Env::default()).unwrap_err();
        assert_eq!(e.what, "the region");
        assert_eq!(e.why, ini::Unsafe::Control('\n'));
        assert!(
            e.to_string().contains("\"us-east-2\\ncredential_process = touch /tmp/x\" (the stack's vars.region)"),
            "{e}"
        );
        c.stack_region.as_mut().unwrap().value = "us-east-2a".into();
        assert_eq!(plan(&chain, &c, &Env::default()).unwrap_err().why, ini::Unsafe::NotARegion);
        c.stack_region.as_mut().unwrap().value = "eu-central-2".into();
        assert_eq!(plan(&chain, &c, &Env::default()).unwrap().set[ev::AWS_REGION], "eu-central-2");

        // A helper argument (here the component name) and the profile name.
        let e = plan(&chain, &ctx("vpc\ncredential_process = x"), &Env::default()).unwrap_err();
        assert_eq!((e.what.as_str(), e.why.clone()), ("component name", ini::Unsafe::Control('\n')));
        let e = plan(&chain, &ctx("vpc # x"), &Env::default()).unwrap_err();
        assert_eq!(e.why, ini::Unsafe::CommentChar('#'));
        let e = plan(&chain_of(AUTH, "a]b"), &ctx("vpc"), &Env::default()).unwrap_err();
        assert_eq!((e.identity.as_str(), e.why.clone()), ("a]b", ini::Unsafe::NameChar(']')));
        // Quotes and spaces are quoted for the shell, and read back as they are.
        let p = plan(&chain, &ctx("it's a b"), &Env::default()).unwrap();
        assert!(p.files[0].contents.contains(r"--component 'it'\''s a b'"), "{}", p.files[0].contents);
    }
}
