//! `tfauth doctor`: what must hold on this machine, outside the configuration's logic, for
//! a run to work, each checked on its own with a concrete fix.
//!
//! Why it exists: when one of these breaks, a run fails far from the cause. A `terraform`
//! that is a symlink to tfauth, a helper that moved after `cargo install` to another place,
//! a clock five minutes off (STS rejects the signature), a profile directory someone made
//! world-readable, a cache entry cut in half by a full disk: each shows up as some other
//! error in terraform's output. The doctor looks at each precondition directly.
//!
//! Each check is a function returning a [`Check`]; none prints, none stops the others, and
//! a configuration that does not load still lets the checks that do not need it run. The
//! doctor writes, creates and deletes nothing: the keyring is only looked up, and the clock
//! check sends one bare GET with no credentials. No detail or hint carries a secret: cache
//! entries and profiles are named by file and profile, never by content. The pure parts
//! (mode classification, `credential_process` parsing, skew classification, HTTP dates,
//! cache entry states) are plain functions of their inputs, tested below.

use crate::auth::{AuthConfig, Problem};
use crate::config::{self, AtmosConfig, ConfigOptions};
use crate::env_vars::Env;
use crate::keyring::{self, KeyringError, KeyringType};
use crate::output::env::{config_home, path_component, shell_quote};
use crate::yaml::Node;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use time::OffsetDateTime;

/// How a check came out. Only [`Status::Fail`] makes `tfauth doctor` exit 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

/// One check's result: what was found, and what to do when it is not a pass.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    pub hint: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check { name, status: Status::Pass, detail: detail.into(), hint: None }
    }
    fn warn(name: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check { name, status: Status::Warn, detail: detail.into(), hint: Some(hint.into()) }
    }
    fn fail(name: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check { name, status: Status::Fail, detail: detail.into(), hint: Some(hint.into()) }
    }
}

/// An error's hint as a check's: without the `hint: ` prefixes some hints carry on their
/// later lines (the renderer adds its own).
fn hint_of(hint: Option<String>) -> String {
    let hint = hint.unwrap_or_default();
    hint.lines().map(|l| l.strip_prefix("hint: ").unwrap_or(l)).collect::<Vec<_>>().join("\n")
}

/// What the doctor is given: the same as every command.
pub struct Inputs<'a> {
    pub env: &'a Env,
    pub cwd: &'a Path,
    /// This executable, to tell a `terraform` that is tfauth itself.
    pub self_exe: Option<&'a Path>,
    /// `--profile` values.
    pub profiles: &'a [String],
}

/// SigV4 rejects a request signed more than this far from the service's clock.
pub const SKEW_FAIL: Duration = Duration::from_secs(5 * 60);
/// Past this, the clock is drifting: still accepted, but worth fixing before it is not.
pub const SKEW_WARN: Duration = Duration::from_secs(60);
/// How long the clock check waits for STS.
pub const CLOCK_TIMEOUT: Duration = Duration::from_secs(5);
/// The most offenders a check lists one by one.
const LIST_MAX: usize = 20;

/// Runs every check, in the order they are printed.
pub fn run(inputs: &Inputs<'_>) -> Vec<Check> {
    let env = inputs.env;
    let (config_check, loaded) = config(inputs);
    let realms = realm_dirs(&loaded, env);
    let keyring_spec = keyring_spec(&loaded, env);
    let cache_home = crate::cache::cache_home(env);
    let mut roots: Vec<PathBuf> = realms.dirs.clone();
    roots.extend(cache_home.clone());
    if let Some(Ok(Some(spec))) = &keyring_spec
        && spec.kind == KeyringType::File
    {
        roots.extend(keyring_paths(spec, env));
    }
    vec![
        config_check,
        terraform(loaded.config.as_ref().and_then(|c| c.terraform.command.as_deref()), loaded.config.is_some(), inputs),
        helper(&realms, env),
        permissions(&roots, current_uid()),
        clock(env),
        keyring_check(keyring_spec, env),
        cache(cache_home.as_deref(), OffsetDateTime::now_utc()),
    ]
}

// ---------------------------------------------------------------------------------------
// config

/// What the config check found, for the checks after it.
pub struct Loaded {
    pub config: Option<AtmosConfig>,
    /// The merged `auth:` section (null when absent or not loaded).
    pub auth: Node,
}

/// `atmos.yaml` is found the way every command finds it, loads with its profiles, and its
/// auth section has none of the problems `tfauth auth validate` reports.
pub fn config(inputs: &Inputs<'_>) -> (Check, Loaded) {
    const NAME: &str = "config";
    let mut loaded = Loaded { config: None, auth: Node::null() };
    let file = match config::discover(inputs.cwd, inputs.env) {
        Ok(f) => f,
        Err(e) => {
            return (Check::fail(NAME, e.to_string(), hint_of(e.hint())), loaded);
        }
    };
    let opts = ConfigOptions { cwd: inputs.cwd.to_path_buf(), profiles: inputs.profiles.to_vec() };
    let cfg = match config::load_file(&file, &opts, inputs.env) {
        Ok(c) => c,
        Err(e) => {
            return (Check::fail(NAME, e.to_string(), hint_of(e.hint())), loaded);
        }
    };
    let auth_node = cfg.auth().cloned().unwrap_or_else(Node::null);
    let (auth, mut problems) = AuthConfig::parse(Some(&auth_node));
    problems.extend(crate::resolve::undefined_default_problems(&auth_node));
    let profiles: Vec<&str> = cfg.profiles.iter().map(|p| p.name.as_str()).collect();
    let profiles = if profiles.is_empty() { String::new() } else { format!(", profile {}", profiles.join(",")) };
    let check = if problems.is_empty() {
        Check::pass(
            NAME,
            format!(
                "{}{profiles}: {} provider(s), {} identity(ies)",
                file.display(),
                auth.providers.len(),
                auth.identities.len()
            ),
        )
    } else {
        Check::fail(NAME, problems_text(&file, &profiles, &problems), problems_hint(&problems))
    };
    loaded.config = Some(cfg);
    loaded.auth = auth_node;
    (check, loaded)
}

fn problems_text(file: &Path, profiles: &str, problems: &[Problem]) -> String {
    let mut out = format!("{}{profiles}: {} auth problem(s)", file.display(), problems.len());
    for p in problems.iter().take(3) {
        out.push_str(&format!("\n- {p}"));
    }
    if problems.len() > 3 {
        out.push_str(&format!("\n- and {} more", problems.len() - 3));
    }
    out
}

fn problems_hint(problems: &[Problem]) -> String {
    let mut hint = "fix each problem at the file and line shown; `tfauth auth validate` lists them all".to_string();
    if let Some(h) = problems.iter().find_map(|p| p.hint.as_deref()) {
        hint.push('\n');
        hint.push_str(h);
    }
    hint
}

// ---------------------------------------------------------------------------------------
// terraform

/// How a candidate terraform relates to this executable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sameness {
    /// The same file: the same path, or a symlink (or hard link's path) resolving to it.
    Same,
    /// Another file with the same bytes: a copy of tfauth.
    Copy,
}

/// Whether `candidate` is tfauth (`me`): the same canonical path, or a byte-identical copy
/// (size first, then SHA-256, so most files are told apart without reading them).
pub fn same_program(candidate: &Path, me: &Path) -> std::io::Result<Option<Sameness>> {
    let (a, b) = (candidate.canonicalize()?, me.canonicalize()?);
    if a == b {
        return Ok(Some(Sameness::Same));
    }
    if std::fs::metadata(&a)?.len() != std::fs::metadata(&b)?.len() {
        return Ok(None);
    }
    Ok((sha256_file(&a)? == sha256_file(&b)?).then_some(Sameness::Copy))
}

fn sha256_file(path: &Path) -> std::io::Result<[u8; 32]> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut h)?;
    Ok(h.finalize().into())
}

/// The terraform (or tofu) a run would exec is found by the run's own lookup
/// ([`crate::exec::find_terraform`]) and is not tfauth itself. Nothing is executed.
pub fn terraform(configured: Option<&str>, config_loaded: bool, inputs: &Inputs<'_>) -> Check {
    const NAME: &str = "terraform";
    let env = inputs.env;
    let source = if env.get(crate::env_vars::ATMOS_COMPONENTS_TERRAFORM_COMMAND).is_some() {
        "ATMOS_COMPONENTS_TERRAFORM_COMMAND"
    } else if configured.is_some() {
        "components.terraform.command"
    } else {
        "PATH"
    };
    let unread =
        if config_loaded { "" } else { " (components.terraform.command not read: the configuration did not load)" };
    let set_command =
        "point ATMOS_COMPONENTS_TERRAFORM_COMMAND (or components.terraform.command) at the real terraform";
    match crate::exec::find_terraform(configured, env, inputs.self_exe) {
        Ok(path) => {
            if let Some(me) = inputs.self_exe
                && let Ok(Some(same)) = same_program(&path, me)
            {
                let what = match same {
                    Sameness::Same => "tfauth itself",
                    Sameness::Copy => "a copy of tfauth",
                };
                return Check::fail(
                    NAME,
                    format!("{} (from {source}) is {what}, not terraform{unread}", path.display()),
                    format!(
                        "replace {} with the real terraform (or tofu), or {set_command}",
                        shell_quote(&path.to_string_lossy())
                    ),
                );
            }
            Check::pass(NAME, format!("{} (from {source}){unread}", path.display()))
        }
        Err(crate::exec::ExecError::NotFound { wanted, skipped_self }) if !skipped_self.is_empty() => {
            let me = inputs.self_exe.map(|p| p.display().to_string()).unwrap_or_else(|| "tfauth".into());
            let shown: Vec<String> = skipped_self.iter().map(|p| p.display().to_string()).collect();
            Check::fail(
                NAME,
                format!(
                    "{} is tfauth itself (-> {me}), and no real `{}` comes after it{unread}",
                    shown.join(", "),
                    wanted.join("` or `")
                ),
                format!(
                    "remove the symlink {} (or put the real terraform's directory first on PATH), or {set_command}",
                    shell_quote(&skipped_self[0].to_string_lossy())
                ),
            )
        }
        Err(crate::exec::ExecError::NotFound { wanted, .. }) => Check::fail(
            NAME,
            format!("no `{}` found (from {source}){unread}", wanted.join("` or `")),
            "install terraform (or tofu) on PATH, or set ATMOS_COMPONENTS_TERRAFORM_COMMAND to its path",
        ),
        Err(e) => Check::fail(NAME, e.to_string(), hint_of(e.hint())),
    }
}

// ---------------------------------------------------------------------------------------
// the realm's files

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

/// One `credential_process` line of an AWS config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessLine {
    pub profile: String,
    pub command: String,
    /// 1-based.
    pub line: usize,
}

/// Every `credential_process` in an AWS config file, with its profile (`[profile NAME]`,
/// `[NAME]` or `[default]`).
pub fn credential_processes(text: &str) -> Vec<ProcessLine> {
    let mut profile = String::new();
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let section = section.trim();
            profile = section.strip_prefix("profile ").map_or(section, str::trim).to_string();
            continue;
        }
        if let Some((key, value)) = line.split_once('=')
            && key.trim().eq_ignore_ascii_case("credential_process")
        {
            out.push(ProcessLine { profile: profile.clone(), command: value.trim().to_string(), line: i + 1 });
        }
    }
    out
}

/// The program of a command line as `sh` (and botocore's shlex) splits it: quotes and
/// backslashes resolved. `None` for an empty or unterminated command.
pub fn program_of(command: &str) -> Option<String> {
    let mut out = String::new();
    let mut started = false;
    let mut chars = command.trim_start().chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                started = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => out.push(c),
                    }
                }
            }
            '"' => {
                started = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\' | '$' | '`') => out.push(c),
                            c => {
                                out.push('\\');
                                out.push(c);
                            }
                        },
                        c => out.push(c),
                    }
                }
            }
            '\\' => {
                started = true;
                out.push(chars.next()?);
            }
            c if c.is_whitespace() => break,
            c => {
                started = true;
                out.push(c);
            }
        }
    }
    started.then_some(out)
}

/// Why a program cannot run, if it cannot.
fn not_runnable(program: &str, env: &Env) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let path = if program.contains('/') {
        PathBuf::from(program)
    } else {
        match std::env::split_paths(env.get(crate::env_vars::PATH).unwrap_or(""))
            .map(|d| d.join(program))
            .find(|p| p.is_file())
        {
            Some(p) => p,
            None => return Some(format!("`{program}` is not on PATH")),
        }
    };
    match std::fs::metadata(&path) {
        Err(_) => Some(format!("{} does not exist", path.display())),
        Ok(m) if !m.is_file() => Some(format!("{} is not a file", path.display())),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => Some(format!("{} is not executable", path.display())),
        Ok(_) => None,
    }
}

/// The AWS config files tfauth wrote in the realm directories: `<realm>/aws/<root>/<h>/config`
/// (one content-addressed directory per distinct profile file), and `<realm>/aws/<root>/config`
/// where an older tfauth (or Atmos) wrote one.
fn aws_config_files(realms: &Realms) -> Vec<PathBuf> {
    // Only real directories and files: never a symlink out of the tree.
    let is_dir = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    let is_file = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file());
    let mut out = Vec::new();
    for realm in &realms.dirs {
        let Ok(roots) = std::fs::read_dir(realm.join("aws")) else { continue };
        for root in roots.flatten().map(|e| e.path()).filter(|p| is_dir(p)) {
            if is_file(&root.join("config")) {
                out.push(root.join("config"));
            }
            let Ok(addressed) = std::fs::read_dir(&root) else { continue };
            for dir in addressed.flatten().map(|e| e.path()).filter(|p| is_dir(p)) {
                if is_file(&dir.join("config")) {
                    out.push(dir.join("config"));
                }
            }
        }
    }
    out.sort();
    out
}

/// Every `credential_process` in the AWS profiles tfauth wrote names a program that exists
/// and is executable (a moved or deleted helper breaks every terraform run that uses them).
pub fn helper(realms: &Realms, env: &Env) -> Check {
    const NAME: &str = "helper";
    let files = aws_config_files(realms);
    let mut broken = Vec::new();
    let mut profiles = 0;
    let mut programs: Vec<String> = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            broken.push((String::new(), file.clone(), format!("{} cannot be read", file.display())));
            continue;
        };
        for p in credential_processes(&text) {
            profiles += 1;
            let why = match program_of(&p.command) {
                None => Some("the command is empty or its quotes are not closed".to_string()),
                Some(program) => {
                    let why = not_runnable(&program, env);
                    if why.is_none() && !programs.contains(&program) {
                        programs.push(program);
                    }
                    why
                }
            };
            if let Some(why) = why {
                broken.push((p.profile, file.clone(), why));
            }
        }
    }
    if broken.is_empty() {
        return match profiles {
            0 => Check::pass(NAME, format!("no profiles written yet ({})", realms.how)),
            n => Check::pass(NAME, format!("{n} profile(s) in {} file(s) run {}", files.len(), programs.join(", "))),
        };
    }
    let mut detail = format!("{} profile(s) cannot run their credential_process:", broken.len());
    for (profile, file, why) in broken.iter().take(LIST_MAX) {
        detail.push_str(&format!("\n- profile `{profile}` in {}: {why}", file.display()));
    }
    if broken.len() > LIST_MAX {
        detail.push_str(&format!("\n- and {} more", broken.len() - LIST_MAX));
    }
    let example = broken.iter().map(|b| b.0.as_str()).find(|p| !p.is_empty()).unwrap_or("NAME");
    Check::fail(
        NAME,
        detail,
        format!(
            "rewrite the profiles with the tfauth you use now: `tfauth auth env -i {}` (or the run that wrote them) \
             writes them again; or reinstall atmos-auth-helper next to tfauth",
            shell_quote(example)
        ),
    )
}

// ---------------------------------------------------------------------------------------
// permissions

/// What is wrong with one file or directory tfauth owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offense {
    /// Permission bits other than 0700 (directories) or 0600 (files).
    Mode { have: u32, want: u32 },
    /// Owned by another user.
    Owner { uid: u32 },
}

/// What a file or directory tfauth owns must look like: directories 0700, files 0600,
/// owned by `me`.
pub fn classify(is_dir: bool, mode: u32, owner: u32, me: u32) -> Vec<Offense> {
    let want = if is_dir { 0o700 } else { 0o600 };
    let have = mode & 0o7777;
    let mut out = Vec::new();
    if have != want {
        out.push(Offense::Mode { have, want });
    }
    if owner != me {
        out.push(Offense::Owner { uid: owner });
    }
    out
}

#[derive(Default)]
struct Walk {
    dirs: usize,
    files: usize,
    offenders: Vec<(PathBuf, Offense)>,
    symlinks: Vec<PathBuf>,
}

impl Walk {
    /// Looks at `path` without following a symlink, and below it if it is a directory.
    fn visit(&mut self, path: &Path, me: u32) {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::symlink_metadata(path) else { return };
        if meta.file_type().is_symlink() {
            self.symlinks.push(path.to_path_buf());
            return;
        }
        let is_dir = meta.is_dir();
        if is_dir {
            self.dirs += 1;
        } else {
            self.files += 1;
        }
        for o in classify(is_dir, meta.mode(), meta.uid(), me) {
            self.offenders.push((path.to_path_buf(), o));
        }
        // A directory that cannot be listed is already an offender (mode or owner).
        if is_dir && let Ok(entries) = std::fs::read_dir(path) {
            let mut children: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            children.sort();
            for c in children {
                self.visit(&c, me);
            }
        }
    }
}

/// The fix for one offense.
fn fix(path: &Path, offense: &Offense) -> String {
    let quoted = shell_quote(&path.to_string_lossy());
    match offense {
        Offense::Mode { want, .. } => format!("chmod {want:o} {quoted}"),
        Offense::Owner { .. } => format!("sudo chown \"$(id -u):$(id -g)\" {quoted}"),
    }
}

/// Every directory (0700) and file (0600) under `roots` is private and owned by `me`.
/// Symlinks are reported, never followed.
pub fn permissions(roots: &[PathBuf], me: u32) -> Check {
    const NAME: &str = "permissions";
    let mut walk = Walk::default();
    let existing: Vec<&PathBuf> = roots.iter().filter(|r| std::fs::symlink_metadata(r).is_ok()).collect();
    for root in &existing {
        walk.visit(root, me);
    }
    let shown: Vec<String> = existing.iter().map(|r| r.display().to_string()).collect();
    if !walk.offenders.is_empty() {
        let mut detail = format!("{} path(s) are not private to you:", walk.offenders.len());
        let mut hints = Vec::new();
        for (path, o) in walk.offenders.iter().take(LIST_MAX) {
            let what = match o {
                Offense::Mode { have, want } => format!("mode {have:04o}, should be {want:04o}"),
                Offense::Owner { uid } => format!("owned by uid {uid}, not by you (uid {me})"),
            };
            detail.push_str(&format!("\n- {}: {what}", path.display()));
            hints.push(fix(path, o));
        }
        if walk.offenders.len() > LIST_MAX {
            detail.push_str(&format!("\n- and {} more", walk.offenders.len() - LIST_MAX));
        }
        return Check::fail(NAME, detail, hints.join("\n"));
    }
    if !walk.symlinks.is_empty() {
        let list: Vec<String> = walk.symlinks.iter().map(|p| p.display().to_string()).collect();
        return Check::warn(
            NAME,
            format!("symlink(s) where tfauth writes none, not followed: {}", list.join(", ")),
            "tfauth never writes symlinks there: remove them unless you made them on purpose",
        );
    }
    if existing.is_empty() {
        return Check::pass(NAME, "nothing written yet");
    }
    Check::pass(NAME, format!("{} dir(s) (0700) and {} file(s) (0600) in {}", walk.dirs, walk.files, shown.join(", ")))
}

/// The real user id of this process.
pub fn current_uid() -> u32 {
    // SAFETY: getuid(2) takes no arguments, always succeeds and touches no memory of ours.
    unsafe { libc::getuid() }
}

// ---------------------------------------------------------------------------------------
// clock

/// The STS endpoint a run would call: `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, else the
/// regional endpoint of `AWS_REGION` / `AWS_DEFAULT_REGION`, else the global one.
pub fn sts_endpoint(env: &Env) -> String {
    if let Some(url) = env.get("AWS_ENDPOINT_URL_STS").or(env.get("AWS_ENDPOINT_URL")) {
        return url.to_string();
    }
    let region = env
        .get(crate::env_vars::AWS_REGION)
        .or(env.get(crate::env_vars::AWS_DEFAULT_REGION))
        .filter(|r| r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
    match region {
        Some(r) => format!("https://sts.{r}.amazonaws.com"),
        None => "https://sts.amazonaws.com".into(),
    }
}

/// An HTTP `Date` (RFC 9110's IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    let format = time::format_description::parse_borrowed::<2>(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT",
    )
    .ok()?;
    Some(time::PrimitiveDateTime::parse(s.trim(), &format).ok()?.assume_utc())
}

/// Pass within [`SKEW_WARN`], warn up to [`SKEW_FAIL`], fail beyond.
pub fn classify_skew(skew_secs: i64) -> Status {
    let off = skew_secs.unsigned_abs();
    if off > SKEW_FAIL.as_secs() {
        Status::Fail
    } else if off > SKEW_WARN.as_secs() {
        Status::Warn
    } else {
        Status::Pass
    }
}

/// `about 10 min (600 s)`, or `12 s` under a minute.
pub fn skew_text(skew_secs: i64) -> String {
    let off = skew_secs.unsigned_abs();
    if off < 60 { format!("{off} s") } else { format!("about {} min ({off} s)", (off + 30) / 60) }
}

/// The local clock agrees with STS's `Date` header (SigV4 signatures are only accepted
/// within five minutes of the service's time). One bare GET, no credentials; an endpoint
/// that cannot be reached is a warning, so the doctor stays useful offline.
pub fn clock(env: &Env) -> Check {
    const NAME: &str = "clock";
    let url = sts_endpoint(env);
    let shown = url.split('?').next().unwrap_or(&url);
    let before = OffsetDateTime::now_utc();
    let answer = crate::providers::http::server_date(&url, CLOCK_TIMEOUT);
    let after = OffsetDateTime::now_utc();
    let date = match answer {
        Ok(Some(d)) => d,
        Ok(None) => {
            return Check::warn(
                NAME,
                format!("STS at {shown} answered without a Date header; the clock was not checked"),
                "check AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL",
            );
        }
        Err(e) => {
            return Check::warn(
                NAME,
                format!("could not reach STS at {shown} ({e}); the clock was not checked"),
                "check the network, or AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL if you point tfauth at another endpoint",
            );
        }
    };
    let Some(server) = parse_http_date(&date) else {
        return Check::warn(
            NAME,
            format!("STS at {shown} sent a Date header that is not an HTTP date; the clock was not checked"),
            "check AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL",
        );
    };
    let half: time::Duration = (after - before) / 2;
    let skew: time::Duration = server - (before + half);
    let skew = skew.whole_seconds();
    let direction = if skew > 0 { "behind" } else { "ahead of" };
    let detail = format!("the local clock is {} {direction} STS at {shown}", skew_text(skew));
    let sync = "synchronize the clock with NTP (e.g. `sudo timedatectl set-ntp true`, or `sudo chronyc makestep`)";
    match classify_skew(skew) {
        Status::Pass => Check::pass(NAME, format!("within {} of STS at {shown}", skew_text(skew))),
        Status::Warn => Check::warn(NAME, detail, format!("{sync}: STS rejects signatures more than 5 minutes off")),
        Status::Fail => {
            Check::fail(NAME, format!("{detail}: STS rejects requests signed more than 5 minutes off"), sync)
        }
    }
}

// ---------------------------------------------------------------------------------------
// keyring

type SpecResult = Option<Result<Option<keyring::KeyringSpec>, KeyringError>>;

/// The keyring configuration; `None` when the configuration did not load and
/// `ATMOS_KEYRING_TYPE` does not say either.
fn keyring_spec(loaded: &Loaded, env: &Env) -> SpecResult {
    if loaded.config.is_none() && env.get(keyring::ATMOS_KEYRING_TYPE).is_none() {
        return None;
    }
    Some(keyring::spec(&loaded.auth, env))
}

/// The file keyring's file, its lock, and its directory when it is tfauth's own.
fn keyring_paths(spec: &keyring::KeyringSpec, env: &Env) -> Vec<PathBuf> {
    let Some(path) = spec.path.clone().or_else(|| keyring::default_file_path(env)) else { return vec![] };
    if spec.path.is_none()
        && let Some(dir) = path.parent()
    {
        // `$XDG_DATA_HOME/tfauth/`: holds nothing but the keyring and its lock.
        return vec![dir.to_path_buf()];
    }
    let mut lock = path.clone().into_os_string();
    lock.push(".lock");
    vec![path, PathBuf::from(lock)]
}

/// Where a directory that does not exist yet would be created: its nearest existing
/// ancestor, which must be a directory this user can write to.
fn creatable(dir: &Path) -> Result<(), String> {
    let mut p = dir;
    loop {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => {
                return if writable(p) { Ok(()) } else { Err(format!("{} is not writable", p.display())) };
            }
            Ok(_) => return Err(format!("{} is not a directory", p.display())),
            Err(_) => p = p.parent().ok_or_else(|| format!("no directory above {} exists", dir.display()))?,
        }
    }
}

fn writable(p: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) else { return false };
    // SAFETY: `c` is a NUL-terminated path that lives across the call; access(2) only reads it.
    unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

/// The configured keyring can be used: the system keyring answers a lookup of an entry
/// that does not exist; the file keyring's directory exists or can be made, and its
/// password is in the environment (and opens the file, when there is one).
pub fn keyring_check(spec: SpecResult, env: &Env) -> Check {
    const NAME: &str = "keyring";
    let spec = match spec {
        None => {
            return Check::warn(
                NAME,
                "not checked: the configuration did not load, so auth.keyring is unknown",
                "fix the config check first",
            );
        }
        Some(Err(e)) => return Check::fail(NAME, e.to_string(), hint_of(e.hint())),
        Some(Ok(None)) => {
            return Check::pass(NAME, "none configured: IAM Identity Center tokens stay in 0600 files in the cache");
        }
        Some(Ok(Some(s))) => s,
    };
    match spec.kind {
        KeyringType::Memory => Check::pass(NAME, "memory: secrets last for one process, so each command signs in anew"),
        KeyringType::System => match keyring::system::SystemKeyring::open(env) {
            Ok(_) => Check::pass(NAME, "system: the Secret Service answered"),
            Err(e) => Check::fail(
                NAME,
                format!(
                    "system: {e}; IAM Identity Center tokens fall back to 0600 cache files, and stored aws/user keys cannot be read"
                ),
                hint_of(e.hint()),
            ),
        },
        KeyringType::File => file_keyring(&spec, env),
    }
}

fn file_keyring(spec: &keyring::KeyringSpec, env: &Env) -> Check {
    const NAME: &str = "keyring";
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = spec.path.clone().or_else(|| keyring::default_file_path(env)) else {
        let e = KeyringError::NoDataDir;
        return Check::fail(NAME, e.to_string(), hint_of(e.hint()));
    };
    let dir = path.parent().unwrap_or(Path::new("/"));
    if let Err(why) = creatable(dir) {
        return Check::fail(
            NAME,
            format!("file {}: its directory cannot be created ({why})", path.display()),
            "set auth.keyring.spec.path to a path under a directory you own, or fix that directory's permissions",
        );
    }
    let state = match std::fs::metadata(&path) {
        Ok(m) => format!("exists, mode {:04o}", m.permissions().mode() & 0o7777),
        Err(_) => "not created yet".to_string(),
    };
    let mut vars: Vec<&str> = spec.password_env.iter().map(String::as_str).collect();
    if !vars.contains(&keyring::ATMOS_KEYRING_PASSWORD) {
        vars.push(keyring::ATMOS_KEYRING_PASSWORD);
    }
    let Some(var) = vars.iter().find(|v| env.get(v).is_some()) else {
        return Check::warn(
            NAME,
            format!(
                "file {} ({state}): no password in {}; tfauth does not prompt for it, so commands that need the \
                 keyring (IAM Identity Center tokens, aws/user keys) stop with exit 77",
                path.display(),
                vars.join(" or ")
            ),
            format!(
                "export {}=<a password of at least {} characters> where tfauth runs",
                vars[0],
                keyring::MIN_PASSWORD_CHARS
            ),
        );
    };
    // Opening reads the file (if any) and checks the password; nothing is written.
    match keyring::open(spec, env) {
        Ok(_) => Check::pass(NAME, format!("file {} ({state}), password from {var}", path.display())),
        Err(e) => Check::fail(NAME, e.to_string(), hint_of(e.hint())),
    }
}

// ---------------------------------------------------------------------------------------
// cache

/// The kinds of entries under `$XDG_CACHE_HOME/tfauth/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// `aws/<key>.json`: a session.
    AwsSession,
    /// `sso/<hash>.json`: an IAM Identity Center token.
    SsoToken,
    /// `sso/<hash>.identities.json`: auto-provisioned identities.
    SsoIdentities,
    /// `azure/<key>.json`: a device-code user's tokens.
    AzureTokens,
    /// `stack-index/<key>.json`: stack names (rebuilt when damaged).
    StackIndex,
}

impl EntryKind {
    fn label(self) -> &'static str {
        match self {
            EntryKind::AwsSession => "AWS session",
            EntryKind::SsoToken => "IAM Identity Center token",
            EntryKind::SsoIdentities => "provisioned identities",
            EntryKind::AzureTokens => "Azure tokens",
            EntryKind::StackIndex => "stack index",
        }
    }

    /// The kind of `dir/name`, `None` for lock files, failure markers, temp files.
    pub fn of(dir: &str, name: &str) -> Option<EntryKind> {
        if name.starts_with('.') || !name.ends_with(".json") {
            return None;
        }
        Some(match dir {
            "aws" => EntryKind::AwsSession,
            "sso" if name.ends_with(".identities.json") => EntryKind::SsoIdentities,
            "sso" => EntryKind::SsoToken,
            "azure" => EntryKind::AzureTokens,
            "stack-index" => EntryKind::StackIndex,
            _ => return None,
        })
    }
}

/// What a cache entry is worth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryState {
    Usable,
    /// Past its expiry with nothing to renew it from: replaced on next use.
    Expired,
    Corrupt,
}

/// The state of an entry of `kind` holding `text`, at `now`. Reads no secret out.
pub fn entry_state(kind: EntryKind, text: &str, now: OffsetDateTime) -> EntryState {
    let expired = |yes: bool| if yes { EntryState::Expired } else { EntryState::Usable };
    match kind {
        EntryKind::AwsSession => match crate::cache::Credentials::from_process_json(text) {
            None => EntryState::Corrupt,
            Some(c) => expired(c.expiration.is_some_and(|e| e <= now)),
        },
        EntryKind::SsoToken => match crate::providers::sso::TokenFile::from_json(text) {
            Err(_) => EntryState::Corrupt,
            Ok(f) => expired(f.expires_at <= now && !(f.refresh_token.is_some() && f.registration_valid(now))),
        },
        EntryKind::AzureTokens => {
            match serde_json::from_str(text).ok().as_ref().and_then(crate::providers::azure::from_json) {
                None => EntryState::Corrupt,
                Some(t) => expired(t.expires_on <= now.unix_timestamp() && t.refresh_token.is_none()),
            }
        }
        EntryKind::SsoIdentities => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) if v.get("identities").is_some_and(serde_json::Value::is_array) => EntryState::Usable,
            _ => EntryState::Corrupt,
        },
        EntryKind::StackIndex => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(_) => EntryState::Usable,
            Err(_) => EntryState::Corrupt,
        },
    }
}

/// Every entry under the cache root parses; expired ones are counted. A damaged stack
/// index is only a warning: it is rebuilt on the next run.
pub fn cache(root: Option<&Path>, now: OffsetDateTime) -> Check {
    const NAME: &str = "cache";
    let Some(root) = root else {
        return Check::warn(NAME, "no cache directory: neither XDG_CACHE_HOME nor HOME is set", "set HOME");
    };
    let mut counts: Vec<(EntryKind, usize)> = Vec::new();
    let mut expired = 0;
    let mut corrupt: Vec<(PathBuf, EntryKind)> = Vec::new();
    for dir in ["aws", "sso", "azure", "stack-index"] {
        let d = root.join(dir);
        if !std::fs::symlink_metadata(&d).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let Some(kind) = EntryKind::of(dir, &name) else { continue };
            if !std::fs::symlink_metadata(&f).is_ok_and(|m| m.is_file()) {
                continue;
            }
            match counts.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, n)) => *n += 1,
                None => counts.push((kind, 1)),
            }
            let state = match std::fs::read_to_string(&f) {
                Ok(text) => entry_state(kind, &text, now),
                Err(_) => EntryState::Corrupt,
            };
            match state {
                EntryState::Usable => {}
                EntryState::Expired => expired += 1,
                EntryState::Corrupt => corrupt.push((f, kind)),
            }
        }
    }
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    let summary = if total == 0 {
        format!("nothing cached yet in {}", root.display())
    } else {
        let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {}", k.label())).collect();
        format!("{total} entries in {} ({})", root.display(), parts.join(", "))
    };
    let harmful: Vec<&(PathBuf, EntryKind)> = corrupt.iter().filter(|(_, k)| *k != EntryKind::StackIndex).collect();
    if !corrupt.is_empty() {
        let mut detail = format!("{summary}; {} cannot be read:", corrupt.len());
        for (f, k) in corrupt.iter().take(LIST_MAX) {
            detail.push_str(&format!("\n- {} ({})", f.display(), k.label()));
        }
        let rm: Vec<String> = corrupt.iter().map(|(f, _)| shell_quote(&f.to_string_lossy())).collect();
        let hint = format!(
            "remove them: `rm {}` (tfauth writes new ones when it next needs them); `tfauth auth logout --all` \
             clears this repository's sessions",
            rm.join(" ")
        );
        return if harmful.is_empty() { Check::warn(NAME, detail, hint) } else { Check::fail(NAME, detail, hint) };
    }
    if expired > 0 {
        return Check::warn(
            NAME,
            format!("{summary}; {expired} expired"),
            "harmless: expired entries are replaced on next use; `tfauth auth logout --all` clears this repository's",
        );
    }
    Check::pass(NAME, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn error_hints_lose_their_prefixes() {
        assert_eq!(hint_of(Some("run it here\nhint: looked in /a, /b".into())), "run it here\nlooked in /a, /b");
        assert_eq!(hint_of(None), "");
    }

    #[test]
    fn modes_are_classified_against_0700_and_0600() {
        assert_eq!(classify(true, 0o40700, 1000, 1000), []);
        assert_eq!(classify(false, 0o100600, 1000, 1000), []);
        assert_eq!(classify(true, 0o40755, 1000, 1000), [Offense::Mode { have: 0o755, want: 0o700 }]);
        assert_eq!(classify(false, 0o100644, 1000, 1000), [Offense::Mode { have: 0o644, want: 0o600 }]);
        assert_eq!(classify(false, 0o100400, 1000, 1000), [Offense::Mode { have: 0o400, want: 0o600 }]);
        assert_eq!(classify(true, 0o40700, 0, 1000), [Offense::Owner { uid: 0 }]);
        assert_eq!(
            classify(false, 0o104600, 0, 1000),
            [Offense::Mode { have: 0o4600, want: 0o600 }, Offense::Owner { uid: 0 }],
            "setuid counts"
        );
        assert_eq!(fix(Path::new("/a b/c"), &Offense::Mode { have: 0o644, want: 0o600 }), "chmod 600 '/a b/c'");
        assert_eq!(fix(Path::new("/d"), &Offense::Mode { have: 0o755, want: 0o700 }), "chmod 700 /d");
    }

    #[test]
    fn permissions_list_offenders_and_never_follow_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("realm");
        let me = current_uid();
        let set = |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
        std::fs::create_dir_all(root.join("aws/p")).unwrap();
        for d in [&root, &root.join("aws"), &root.join("aws/p")] {
            set(d, 0o700);
        }
        std::fs::write(root.join("aws/p/config"), "x").unwrap();
        set(&root.join("aws/p/config"), 0o600);
        let ok = permissions(std::slice::from_ref(&root), me);
        assert_eq!(ok.status, Status::Pass, "{ok:?}");
        assert!(ok.detail.contains("3 dir(s) (0700) and 1 file(s) (0600)"), "{}", ok.detail);

        // A wide tree outside, reachable only through a symlink: not followed.
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        set(&outside, 0o777);
        std::os::unix::fs::symlink(&outside, root.join("aws/link")).unwrap();
        let c = permissions(std::slice::from_ref(&root), me);
        assert_eq!(c.status, Status::Warn, "{c:?}");
        assert!(c.detail.contains("aws/link") && !c.detail.contains("outside"), "{}", c.detail);

        set(&root.join("aws/p/config"), 0o644);
        set(&root.join("aws"), 0o755);
        let c = permissions(&[root.clone(), t.path().join("missing")], me);
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(c.detail.contains("mode 0644, should be 0600"), "{}", c.detail);
        let hint = c.hint.unwrap();
        assert!(hint.contains(&format!("chmod 600 {}", root.join("aws/p/config").display())), "{hint}");
        assert!(hint.contains(&format!("chmod 700 {}", root.join("aws").display())), "{hint}");
        assert_eq!(permissions(&[t.path().join("missing")], me).detail, "nothing written yet");
    }

    #[test]
    fn credential_process_lines_and_their_program() {
        let text = "# Written by tfauth\n[profile acme/network]\ncredential_process = /opt/bin/atmos-auth-helper --identity acme/network --config '/a b/atmos.yaml'\nregion = us-east-2\n\n[default]\n; credential_process = /commented\n  Credential_Process=\"/x y/helper\" -v\n[profile static]\nregion = us-east-1\n";
        let lines = credential_processes(text);
        assert_eq!(
            lines,
            [
                ProcessLine {
                    profile: "acme/network".into(),
                    command: "/opt/bin/atmos-auth-helper --identity acme/network --config '/a b/atmos.yaml'".into(),
                    line: 3
                },
                ProcessLine { profile: "default".into(), command: "\"/x y/helper\" -v".into(), line: 8 },
            ]
        );
        assert_eq!(program_of(&lines[0].command).as_deref(), Some("/opt/bin/atmos-auth-helper"));
        assert_eq!(program_of(&lines[1].command).as_deref(), Some("/x y/helper"));
        assert_eq!(program_of("'/it'\\''s/helper' --identity x").as_deref(), Some("/it's/helper"));
        assert_eq!(program_of("/a\\ b/c d").as_deref(), Some("/a b/c"));
        assert_eq!(program_of("\"/q\\\"/h\"").as_deref(), Some("/q\"/h"));
        assert_eq!(program_of("   "), None);
        assert_eq!(program_of("'/unterminated"), None);
        // What tfauth writes, read back.
        let written = shell_quote("/it's here/atmos-auth-helper");
        assert_eq!(program_of(&format!("{written} --identity a")).as_deref(), Some("/it's here/atmos-auth-helper"));
    }

    #[test]
    fn helper_reads_the_content_addressed_profile_directories() {
        let t = tempfile::tempdir().unwrap();
        let realm = t.path().join("realm");
        let (old, new) = (realm.join("aws/acme-sso"), realm.join("aws/acme-sso/0123456789abcdef"));
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(old.join("config"), "[profile a]\ncredential_process = /gone/a --identity a\n").unwrap();
        std::fs::write(new.join("config"), "[profile b]\ncredential_process = /gone/b --identity b\n").unwrap();
        let realms = Realms { dirs: vec![realm.clone()], how: "realm r".into() };
        assert_eq!(aws_config_files(&realms), [new.join("config"), old.join("config")]);
        let c = helper(&realms, &Env::from_pairs([("PATH", "/nowhere")]));
        assert!(c.detail.contains("profile `a`") && c.detail.contains("profile `b`"), "{}", c.detail);
        assert!(c.detail.contains(&new.join("config").display().to_string()), "{}", c.detail);
    }

    #[test]
    fn helper_names_profile_file_and_missing_program() {
        let t = tempfile::tempdir().unwrap();
        let realm = t.path().join("realm");
        let dir = realm.join("aws/acme-sso");
        std::fs::create_dir_all(&dir).unwrap();
        let realms = Realms { dirs: vec![realm.clone()], how: "realm r".into() };
        let env = Env::from_pairs([("PATH", "/nowhere")]);
        assert_eq!(helper(&realms, &env).detail, "no profiles written yet (realm r)");
        let good = t.path().join("atmos-auth-helper");
        std::fs::write(&good, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            dir.join("config"),
            format!(
                "[profile ok]\ncredential_process = {} --identity ok\n[profile gone]\ncredential_process = /moved/atmos-auth-helper --identity gone\n",
                good.display()
            ),
        )
        .unwrap();
        let c = helper(&realms, &env);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("profile `gone`"), "{}", c.detail);
        assert!(c.detail.contains(&dir.join("config").display().to_string()), "{}", c.detail);
        assert!(c.detail.contains("/moved/atmos-auth-helper does not exist"), "{}", c.detail);
        assert!(!c.detail.contains("profile `ok`"), "{}", c.detail);
        assert!(c.hint.unwrap().contains("tfauth auth env -i gone"));
        std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(dir.join("config"), format!("[profile ok]\ncredential_process = {}\n", good.display())).unwrap();
        assert!(helper(&realms, &env).detail.contains("is not executable"));
    }

    #[test]
    fn skew_is_classified_by_sigv4s_limits() {
        assert_eq!(classify_skew(0), Status::Pass);
        assert_eq!(classify_skew(-60), Status::Pass);
        assert_eq!(classify_skew(61), Status::Warn);
        assert_eq!(classify_skew(-120), Status::Warn);
        assert_eq!(classify_skew(300), Status::Warn);
        assert_eq!(classify_skew(301), Status::Fail);
        assert_eq!(classify_skew(-600), Status::Fail);
        assert_eq!(skew_text(-12), "12 s");
        assert_eq!(skew_text(599), "about 10 min (599 s)");
        assert_eq!(skew_text(-120), "about 2 min (120 s)");
    }

    #[test]
    fn http_dates() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.unix_timestamp(), 784111777);
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn sts_endpoint_precedence() {
        let e = |pairs: &[(&str, &str)]| sts_endpoint(&Env::from_pairs(pairs.iter().copied()));
        assert_eq!(e(&[("AWS_ENDPOINT_URL", "http://a"), ("AWS_ENDPOINT_URL_STS", "http://b")]), "http://b");
        assert_eq!(e(&[("AWS_ENDPOINT_URL", "http://a"), ("AWS_REGION", "eu-west-1")]), "http://a");
        assert_eq!(e(&[("AWS_DEFAULT_REGION", "eu-west-1")]), "https://sts.eu-west-1.amazonaws.com");
        assert_eq!(e(&[("AWS_REGION", "x/evil")]), "https://sts.amazonaws.com");
        assert_eq!(e(&[]), "https://sts.amazonaws.com");
    }

    #[test]
    fn same_program_by_path_link_or_bytes() {
        let t = tempfile::tempdir().unwrap();
        let me = t.path().join("tfauth");
        std::fs::write(&me, b"tfauth bytes").unwrap();
        let link = t.path().join("terraform");
        std::os::unix::fs::symlink(&me, &link).unwrap();
        assert_eq!(same_program(&link, &me).unwrap(), Some(Sameness::Same));
        let copy = t.path().join("copy");
        std::fs::copy(&me, &copy).unwrap();
        assert_eq!(same_program(&copy, &me).unwrap(), Some(Sameness::Copy));
        let other = t.path().join("other");
        std::fs::write(&other, b"tfauth bytez").unwrap();
        assert_eq!(same_program(&other, &me).unwrap(), None, "same size, other bytes");
        std::fs::write(&other, b"real terraform").unwrap();
        assert_eq!(same_program(&other, &me).unwrap(), None);
    }

    #[test]
    fn a_terraform_that_is_a_copy_of_tfauth_fails() {
        let t = tempfile::tempdir().unwrap();
        let me = t.path().join("tfauth");
        std::fs::write(&me, "#!/bin/sh\n# tfauth\n").unwrap();
        let bin = t.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::copy(&me, bin.join("terraform")).unwrap();
        std::fs::set_permissions(bin.join("terraform"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let env = Env::from_pairs([("PATH", bin.to_str().unwrap())]);
        let inputs = Inputs { env: &env, cwd: t.path(), self_exe: Some(&me), profiles: &[] };
        let c = terraform(None, true, &inputs);
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(c.detail.ends_with("terraform (from PATH) is a copy of tfauth, not terraform"), "{}", c.detail);
        std::fs::write(bin.join("terraform"), "#!/bin/sh\n# the real one\n").unwrap();
        assert_eq!(terraform(None, true, &inputs).status, Status::Pass);
    }

    #[test]
    fn cache_entries_states() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let aws = |exp: &str| {
            format!(
                r#"{{"Version":1,"AccessKeyId":"ASIA","SecretAccessKey":"CANARY","SessionToken":"t","Expiration":"{exp}"}}"#
            )
        };
        assert_eq!(entry_state(EntryKind::AwsSession, &aws("2027-01-15T09:00:00Z"), now), EntryState::Usable);
        assert_eq!(entry_state(EntryKind::AwsSession, &aws("2027-01-15T07:00:00Z"), now), EntryState::Expired);
        assert_eq!(entry_state(EntryKind::AwsSession, "garbage", now), EntryState::Corrupt);
        let sso =
            r#"{"accessToken":"a","expiresAt":"2027-01-15T07:00:00Z","region":"us-east-1","startUrl":"https://x"}"#;
        assert_eq!(entry_state(EntryKind::SsoToken, sso, now), EntryState::Expired, "no refresh token");
        assert_eq!(entry_state(EntryKind::SsoToken, "{}", now), EntryState::Corrupt);
        let az = r#"{"authority":"a","tenant_id":"t","client_id":"c","access_token":"x","refresh_token":"r","expires_on":1,"home_account_id":"u.t"}"#;
        assert_eq!(entry_state(EntryKind::AzureTokens, az, now), EntryState::Usable, "refreshable");
        assert_eq!(entry_state(EntryKind::SsoIdentities, r#"{"identities":[]}"#, now), EntryState::Usable);
        assert_eq!(entry_state(EntryKind::StackIndex, "{not json", now), EntryState::Corrupt);
        assert_eq!(EntryKind::of("aws", "k.lock"), None);
        assert_eq!(EntryKind::of("aws", ".k.json.1.2.tmp"), None);
        assert_eq!(EntryKind::of("sso", "h.identities.json"), Some(EntryKind::SsoIdentities));
    }

    #[test]
    fn cache_check_names_corrupt_files_and_counts_expired_without_secrets() {
        let t = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        assert_eq!(cache(Some(t.path()), now).status, Status::Pass);
        std::fs::create_dir_all(t.path().join("aws")).unwrap();
        std::fs::create_dir_all(t.path().join("stack-index")).unwrap();
        let old =
            r#"{"Version":1,"AccessKeyId":"ASIA","SecretAccessKey":"CANARY","Expiration":"2020-01-01T00:00:00Z"}"#;
        std::fs::write(t.path().join("aws/old.json"), old).unwrap();
        std::fs::write(t.path().join("aws/old.lock"), "").unwrap();
        let c = cache(Some(t.path()), now);
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.contains("1 expired"), "{}", c.detail);
        std::fs::write(t.path().join("stack-index/i.json"), "{cut").unwrap();
        assert_eq!(cache(Some(t.path()), now).status, Status::Warn, "a damaged index is rebuilt");
        std::fs::write(t.path().join("aws/bad.json"), "{\"SecretAccessKey\":\"CANARY2\"").unwrap();
        let c = cache(Some(t.path()), now);
        assert_eq!(c.status, Status::Fail);
        let bad = t.path().join("aws/bad.json").display().to_string();
        assert!(c.detail.contains(&bad) && c.hint.as_deref().unwrap().contains(&format!("rm {bad}")), "{c:?}");
        assert!(!format!("{c:?}").contains("CANARY"), "{c:?}");
    }

    #[test]
    fn file_keyring_without_password_warns_and_never_creates() {
        let t = tempfile::tempdir().unwrap();
        let data = t.path().join("data");
        let env = Env::from_pairs([("XDG_DATA_HOME", data.to_str().unwrap())]);
        let spec = keyring::KeyringSpec { kind: KeyringType::File, path: None, password_env: None, span: None };
        let c = keyring_check(Some(Ok(Some(spec.clone()))), &env);
        assert_eq!(c.status, Status::Warn, "{c:?}");
        assert!(c.detail.contains("not created yet") && c.detail.contains("ATMOS_KEYRING_PASSWORD"), "{}", c.detail);
        let env = Env::from_pairs([
            ("XDG_DATA_HOME", data.to_str().unwrap()),
            ("ATMOS_KEYRING_PASSWORD", "a long enough canary"),
        ]);
        let c = keyring_check(Some(Ok(Some(spec))), &env);
        assert_eq!(c.status, Status::Pass, "{c:?}");
        assert!(!format!("{c:?}").contains("canary"));
        assert!(!data.exists(), "the doctor creates nothing");
        let memory = keyring::KeyringSpec { kind: KeyringType::Memory, path: None, password_env: None, span: None };
        assert_eq!(keyring_check(Some(Ok(Some(memory))), &env).status, Status::Pass);
        assert_eq!(keyring_check(None, &env).status, Status::Warn);
    }
}
