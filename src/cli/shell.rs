//! Living in the shell: `tfauth shell-init`, the hidden `tfauth __complete` that the
//! completion scripts call, `tfauth prompt`, and `tfauth auth shell`.
//!
//! The scripts are real files in `shell/` (checked by shellcheck and by the shells
//! themselves in `integration/shell.rs`), embedded here so `eval "$(tfauth shell-init bash)"`
//! always matches the binary it came with.

use super::{Ctx, Target};
use crate::cli::complete::{Candidate, Source};
use crate::config::{self, AtmosConfig, ConfigOptions};
use crate::env_vars::{self, Env};
use crate::error::Error;
use clap::{Args, CommandFactory, ValueEnum};
use std::cell::OnceCell;
use std::io::Write;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  # In ~/.bashrc: completions, the prompt function, and terraform run through tfauth
  eval \"$(tfauth shell-init bash --alias)\"

  # In ~/.config/fish/config.fish
  tfauth shell-init fish | source")]
pub struct ShellInitArgs {
    /// The shell to print the script for.
    #[arg(value_enum)]
    pub shell: Shell,
    /// Also make `terraform` and `tofu` aliases of tfauth (with the same completion).
    #[arg(long)]
    pub alias: bool,
}

#[derive(Args, Debug)]
pub struct CompleteArgs {
    /// The words after the program name; the last is the one being completed.
    #[arg(last = true, allow_hyphen_values = true)]
    pub words: Vec<String>,
}

#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  # The identity of this shell and its minutes left (`acme/admin 42m`), for PS1
  tfauth prompt

  # As JSON
  tfauth prompt -f json")]
pub struct PromptArgs {
    /// text (`acme/admin 42m`) or json.
    #[arg(long, short = 'f', value_enum, default_value = "text")]
    pub format: PromptFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PromptFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  # A shell as plat-dev/terraform; exit returns to this one
  tfauth auth shell -i plat-dev/terraform

  # zsh, with vpc's environment in plat-use2-dev
  tfauth auth shell vpc -s plat-use2-dev --shell zsh")]
pub struct AuthShellArgs {
    #[command(flatten)]
    pub target: Target,
    /// The shell to start (default: $ATMOS_SHELL, then $SHELL, else /bin/sh).
    #[arg(long)]
    pub shell: Option<std::path::PathBuf>,
    /// Arguments for the shell, after `--` (e.g. `-- -c 'terraform plan'`).
    #[arg(last = true)]
    pub args: Vec<std::ffi::OsString>,
}

const BASH: &str = include_str!("../../shell/tfauth.bash");
const ZSH: &str = include_str!("../../shell/tfauth.zsh");
const FISH: &str = include_str!("../../shell/tfauth.fish");
const ALIAS_BASH: &str = include_str!("../../shell/alias.bash");
const ALIAS_ZSH: &str = include_str!("../../shell/alias.zsh");
const ALIAS_FISH: &str = include_str!("../../shell/alias.fish");

/// The script for `shell` (and the alias part).
pub fn script(shell: Shell, alias: bool) -> String {
    let (main, aliases) = match shell {
        Shell::Bash => (BASH, ALIAS_BASH),
        Shell::Zsh => (ZSH, ALIAS_ZSH),
        Shell::Fish => (FISH, ALIAS_FISH),
    };
    let mut out = main.to_string();
    if alias {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(aliases);
    }
    out
}

pub fn shell_init(args: ShellInitArgs) -> Result<i32, Error> {
    print!("{}", script(args.shell, args.alias));
    Ok(0)
}

/// `tfauth __complete -- WORD...`: candidates on stdout, nothing else, exit 0 whatever happens.
pub fn complete(args: CompleteArgs, ctx: &Ctx) -> Result<i32, Error> {
    let words = if args.words.is_empty() { vec![String::new()] } else { args.words };
    // `--profile X` already typed applies to what is offered after it.
    let mut ctx = ctx.clone();
    let before = &words[..words.len() - 1];
    for (i, w) in before.iter().enumerate() {
        let value = match w.strip_prefix("--profile=") {
            Some(v) => Some(v),
            None if w == "--profile" => before.get(i + 1).map(String::as_str),
            None => None,
        };
        ctx.settings
            .profiles
            .extend(value.into_iter().flat_map(|v| v.split(',')).filter(|v| !v.is_empty()).map(str::to_string));
    }
    let ctx = &ctx;
    let source = RepoSource { ctx, config: OnceCell::new() };
    let out = crate::cli::complete::complete(&super::Cli::command(), &words, &source);
    let mut stdout = std::io::stdout().lock();
    for c in out {
        if writeln!(stdout, "{}", Candidate::line(&c)).is_err() {
            break;
        }
    }
    Ok(0)
}

/// The repository as completion sees it: loaded on first use, every failure an empty answer.
struct RepoSource<'a> {
    ctx: &'a Ctx,
    config: OnceCell<Option<AtmosConfig>>,
}

impl RepoSource<'_> {
    fn config(&self) -> Option<&AtmosConfig> {
        self.config
            .get_or_init(|| {
                config::load(
                    &ConfigOptions { cwd: self.ctx.cwd.clone(), profiles: self.ctx.settings.profiles.clone() },
                    &self.ctx.env,
                )
                .map_err(|e| tracing::debug!("completion: {e}"))
                .ok()
            })
            .as_ref()
    }

    fn auth(&self, component: Option<&str>, stack: Option<&str>) -> Option<crate::auth::AuthConfig> {
        let node = match (component, stack) {
            (Some(c), Some(s)) => {
                let req = crate::resolve::Request {
                    cwd: self.ctx.cwd.clone(),
                    config_file: None,
                    profiles: self.ctx.settings.profiles.clone(),
                    stack: Some(s.to_string()),
                    component: Some(c.to_string()),
                    identity: crate::identity::IdentityFlag::Absent,
                    describe: false,
                };
                let (_, resolved) = crate::resolve::load_component(&req, &self.ctx.env).ok()?;
                resolved.map(|r| r.auth)
            }
            _ => self.config()?.auth().cloned(),
        };
        Some(crate::auth::AuthConfig::parse(node.as_ref()).0)
    }
}

impl Source for RepoSource<'_> {
    fn components(&self, stack: Option<&str>) -> Vec<String> {
        let Some(cfg) = self.config() else { return vec![] };
        let Ok(set) = crate::stacks::StackSet::load(cfg) else { return vec![] };
        set.components(stack)
    }
    fn stacks(&self, component: Option<&str>) -> Vec<String> {
        let Some(cfg) = self.config() else { return vec![] };
        let Ok(set) = crate::stacks::StackSet::load(cfg) else { return vec![] };
        match component {
            Some(c) => set.names_with_component(c),
            None => super::list::stack_names(&set),
        }
    }
    fn identities(&self, component: Option<&str>, stack: Option<&str>) -> Vec<(String, String)> {
        self.auth(component, stack)
            .map(|a| a.identities.into_iter().map(|i| (i.name, i.kind_name)).collect())
            .unwrap_or_default()
    }
    fn providers(&self) -> Vec<(String, String)> {
        self.auth(None, None)
            .map(|a| a.providers.into_iter().map(|p| (p.name, p.kind_name)).collect())
            .unwrap_or_default()
    }
    fn profiles(&self) -> Vec<String> {
        // Listed from the base file alone: a bad ATMOS_PROFILE must not hide the good ones.
        let env = self.ctx.env.without(env_vars::ATMOS_PROFILE);
        let opts = ConfigOptions { cwd: self.ctx.cwd.clone(), profiles: vec![] };
        config::load(&opts, &env).map(|cfg| config::available_profiles(&cfg, &env)).unwrap_or_default()
    }
}

/// `tfauth prompt`: the identity of this shell and how long its session has left, from
/// `TFAUTH_IDENTITY` and the cache entry `TFAUTH_SESSION` names. No YAML, no network.
pub fn prompt(args: PromptArgs, env: &Env) -> Result<i32, Error> {
    let Some(identity) = env.get(env_vars::TFAUTH_IDENTITY).filter(|s| !s.is_empty()) else {
        return Ok(0);
    };
    let expires = env.get(env_vars::TFAUTH_SESSION).and_then(session_expiry);
    let now = time::OffsetDateTime::now_utc();
    let left = expires.map(|e| (e - now).whole_minutes());
    match args.format {
        PromptFormat::Text => println!("{}", prompt_text(identity, left)),
        PromptFormat::Json => {
            let doc = serde_json::json!({
                "identity": identity,
                "expiration": expires.map(crate::session::cache::format_utc),
                "minutes_left": left.map(|m| m.max(0)),
            });
            println!("{doc}");
        }
    }
    Ok(0)
}

/// `prompt` without the full parser, for both binaries' fast paths: `None` when the words
/// need it (help, a bad flag).
pub fn prompt_main(words: impl Iterator<Item = std::ffi::OsString>) -> Option<i32> {
    let args = fast_prompt_args(words)?;
    let env = Env::capture_only(&[env_vars::HOME, env_vars::TFAUTH_IDENTITY, env_vars::TFAUTH_SESSION]);
    crate::util::dirs::trust_home(&env);
    Some(prompt(args, &env).unwrap_or(crate::exit::SOFTWARE))
}

/// The words after `prompt`, read without clap, for the shell snippets that run it on
/// every line: nothing, or `-f`/`--format` with `text` or `json` (`--format=json` and
/// `-fjson` too). Anything else is `None`, for the full parser to answer (help, errors).
pub fn fast_prompt_args(mut words: impl Iterator<Item = std::ffi::OsString>) -> Option<PromptArgs> {
    let format = |v: &str| match v {
        "text" => Some(PromptFormat::Text),
        "json" => Some(PromptFormat::Json),
        _ => None,
    };
    let mut out = PromptArgs { format: PromptFormat::Text };
    while let Some(word) = words.next() {
        let word = word.into_string().ok()?;
        let value = match word.as_str() {
            "-f" | "--format" => words.next()?.into_string().ok()?,
            w => w.strip_prefix("--format=").or_else(|| w.strip_prefix("-f").filter(|v| !v.is_empty()))?.to_string(),
        };
        out.format = format(&value)?;
    }
    Some(out)
}

/// `acme/admin 42m`, `acme/admin 1h05m`, `acme/admin expired`, or just the name.
pub fn prompt_text(identity: &str, minutes_left: Option<i64>) -> String {
    match minutes_left {
        None => identity.to_string(),
        Some(m) if m <= 0 => format!("{identity} expired"),
        Some(m) if m < 60 => format!("{identity} {m}m"),
        Some(m) => format!("{identity} {}h{:02}m", m / 60, m % 60),
    }
}

/// The `Expiration` of a cache entry, read without touching its secrets beyond the parse.
fn session_expiry(path: &str) -> Option<time::OffsetDateTime> {
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(rename = "Expiration")]
        expiration: Option<String>,
    }
    // Only a regular file of the user's, never blocking: the prompt runs on every line.
    let text = crate::util::fs::read_private(std::path::Path::new(path), crate::session::cache::ENTRY_CAP).ok()??;
    let e: Entry = serde_json::from_slice(&text).ok()?;
    time::OffsetDateTime::parse(&e.expiration?, &time::format_description::well_known::Rfc3339).ok()
}

/// `tfauth auth shell`: a shell with the identity's environment; its exit code is ours.
pub fn auth_shell(args: AuthShellArgs, ctx: &Ctx) -> Result<i32, Error> {
    let plan = super::auth::authenticated_plan(&args.target, ctx)?;
    let shell = args
        .shell
        .or_else(|| {
            [env_vars::ATMOS_SHELL, env_vars::SHELL]
                .iter()
                .find_map(|v| ctx.env.get(v).filter(|s| !s.is_empty()))
                .map(std::path::PathBuf::from)
        })
        .unwrap_or_else(|| "/bin/sh".into());
    let level = nesting_level(&ctx.env) + 1;
    let mut child = plan.child_env(&ctx.env);
    child.set(env_vars::TFAUTH_SHLVL, &level.to_string());
    child.set(env_vars::ATMOS_SHLVL, &level.to_string());
    // Atmos's name too, so `atmos` (and tfauth) run inside it use the same identity.
    if let Some(name) = plan.set.get(env_vars::TFAUTH_IDENTITY) {
        child.set(env_vars::ATMOS_IDENTITY, name);
    }
    let who = plan.set.get(env_vars::TFAUTH_IDENTITY).cloned().unwrap_or_else(|| "no identity".into());
    if level > 1 {
        tracing::warn!("this shell is already inside {} tfauth shell(s); `exit` returns to the one before", level - 1);
    }
    eprintln!("tfauth: starting {} as {who} (level {level}); `exit` to leave", shell.display());
    let program = std::ffi::OsString::from(shell.as_os_str());
    crate::exec::spawn_wait(&program, &args.args, &ctx.cwd, &child)
}

/// `TFAUTH_SHLVL` (or Atmos's `ATMOS_SHLVL`) as a number, 0 outside any tfauth shell.
pub fn nesting_level(env: &Env) -> u32 {
    [env_vars::TFAUTH_SHLVL, env_vars::ATMOS_SHLVL]
        .iter()
        .find_map(|k| env.get(k).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_words_are_read_without_clap_or_left_to_it() {
        let read = |words: &[&str]| fast_prompt_args(words.iter().map(std::ffi::OsString::from)).map(|a| a.format);
        assert_eq!(read(&[]), Some(PromptFormat::Text));
        for json in
            [&["-f", "json"][..], &["--format", "json"], &["--format=json"], &["-fjson"], &["-f", "text", "-f", "json"]]
        {
            assert_eq!(read(json), Some(PromptFormat::Json), "{json:?}");
        }
        for other in [&["--help"][..], &["-h"], &["-f"], &["-f", "yaml"], &["--format="], &["json"], &["-x"], &["-f="]]
        {
            assert_eq!(read(other), None, "{other:?} goes to the full parser");
        }
    }

    #[test]
    fn prompt_text_shapes() {
        assert_eq!(prompt_text("acme/admin", Some(42)), "acme/admin 42m");
        assert_eq!(prompt_text("acme/admin", Some(65)), "acme/admin 1h05m");
        assert_eq!(prompt_text("acme/admin", Some(0)), "acme/admin expired");
        assert_eq!(prompt_text("acme/admin", None), "acme/admin");
    }

    #[test]
    fn expiry_is_read_from_the_cache_entry() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("k.json");
        std::fs::write(
            &p,
            r#"{"Version":1,"AccessKeyId":"AKIA","SecretAccessKey":"s","Expiration":"2030-01-02T03:04:05Z"}"#,
        )
        .unwrap();
        let e = session_expiry(p.to_str().unwrap()).unwrap();
        assert_eq!(e.unix_timestamp(), 1_893_553_445);
        std::fs::write(&p, "not json").unwrap();
        assert!(session_expiry(p.to_str().unwrap()).is_none());
        assert!(session_expiry("/nonexistent/x.json").is_none());
    }

    #[test]
    fn nesting_level_reads_either_name() {
        let env = Env::from_pairs([("TFAUTH_SHLVL", "2")]);
        assert_eq!(nesting_level(&env), 2);
        let env = Env::from_pairs([("ATMOS_SHLVL", "1")]);
        assert_eq!(nesting_level(&env), 1);
        assert_eq!(nesting_level(&Env::from_pairs([("TFAUTH_SHLVL", "x")])), 0);
    }

    #[test]
    fn alias_part_only_with_alias() {
        assert!(!script(Shell::Bash, false).contains(ALIAS_BASH.trim()) || ALIAS_BASH.trim().is_empty());
        assert!(script(Shell::Fish, true).ends_with(ALIAS_FISH));
    }
}
