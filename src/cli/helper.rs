//! `atmos-auth-helper`: an AWS `credential_process`.
//!
//! Prints exactly one JSON document on stdout (`Version` 1, `Expiration` in UTC) and
//! everything else on stderr. The warm path, a valid cache entry named by `--key`, is a
//! file read and a print: no YAML, no async runtime, no SDK client. Otherwise (the cold
//! path) it resolves the same chain tfauth resolved (`--config`, `--profile`, `--stack`,
//! `--component`), and refreshes through [`crate::session`], single flight across
//! processes. It never waits for input that cannot come: with no terminal, a chain that
//! needs one fails at once with exit 77 and the command to run.

use crate::env_vars::{self as ev, Env};
use crate::error::Error;
use crate::identity::IdentityFlag;
use crate::providers::ProviderError;
use crate::resolve::{Request, resolve};
use crate::session::cache::{self, Cache};
use std::path::PathBuf;
use time::OffsetDateTime;

/// atmos-auth-helper: AWS credentials for an Atmos identity, for `credential_process`.
#[derive(clap::Parser, Debug, Clone, PartialEq, Eq)]
#[command(
    name = "atmos-auth-helper",
    version,
    after_long_help = "\
Examples:
  # In your own ~/.aws/config: the AWS CLI, SDKs and Terraform call it when they need keys
  [profile plat-dev]
  credential_process = atmos-auth-helper --identity plat-dev/terraform

  # The identity as a component in a stack has it (its merged auth)
  atmos-auth-helper --identity plat-dev/terraform --stack plat-use2-dev --component vpc"
)]
pub struct HelperArgs {
    /// The identity whose credentials to print.
    #[arg(long)]
    pub identity: String,
    /// The atmos.yaml to read (default: found from the current directory).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Profiles to apply, comma-separated.
    #[arg(long)]
    pub profile: Option<String>,
    /// Use this stack's (and component's) merged auth.
    #[arg(long)]
    pub stack: Option<String>,
    /// With --stack: the component whose merged auth (component over stack over global) to use.
    #[arg(long)]
    pub component: Option<String>,
    /// The cache key tfauth computed for this chain (lets the warm path skip all YAML).
    #[arg(long)]
    pub key: Option<String>,
    /// The refresh margin configured in atmos.yaml (`auth.refresh_margin`).
    #[arg(long)]
    pub margin: Option<String>,
}

/// The hidden first argument of `tfauth` that runs the helper's cold path
/// ([`cold_main`]): `atmos-auth-helper` execs `tfauth __helper-cold ARGS...` on a cache
/// miss, so the helper binary itself links only the warm path (no SDK, no runtime: the
/// dynamic loader relocates less at every start).
pub const COLD_SUBCOMMAND: &str = "__helper-cold";

/// `tfauth __helper-cold ARGS...`: the helper's cold path, as `atmos-auth-helper` would run
/// it with `ARGS` (one JSON document on stdout; the error, its hint and exit code
/// otherwise). Returns the exit code.
pub fn cold_main(args: impl Iterator<Item = std::ffi::OsString>) -> i32 {
    use clap::Parser;
    use std::io::Write;
    let args = match HelperArgs::try_parse_from(std::iter::once("atmos-auth-helper".into()).chain(args)) {
        Ok(a) => a,
        Err(e) => {
            eprint!("{}", e.render());
            return crate::exit::USAGE;
        }
    };
    let env = Env::capture();
    crate::util::dirs::trust_home(&env);
    crate::util::logging::init(None, &env, true);
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    match cold(&args, &env, cwd) {
        Ok(doc) => {
            let mut out = std::io::stdout().lock();
            match writeln!(out, "{doc}").and_then(|()| out.flush()) {
                Ok(()) => 0,
                Err(_) => crate::exit::SOFTWARE,
            }
        }
        Err(e) => {
            eprint!("{}", crate::error::render(&e, e.hint().as_deref()));
            e.exit_code()
        }
    }
}

/// Every variable [`warm`] reads: where the cache is and whose home it is in, the margin.
pub const WARM_VARS: &[&str] = &[ev::HOME, ev::XDG_CACHE_HOME, ev::ATMOS_XDG_CACHE_HOME, ev::TFAUTH_REFRESH_MARGIN];

/// The helper's words (after the program name) as clap reads them, without clap, for the
/// shape tfauth writes into AWS config files (every provider process Terraform starts runs
/// the helper, and clap's parser is a tenth of a warm call):
/// known long flags, each at most once, as `--flag VALUE` or `--flag=VALUE`, `--identity`
/// among them. `None` for anything else clap might read differently or refuse: an unknown
/// flag or a positional word, a repeated flag, a missing or empty value, a value starting
/// with `-`, a word that is not UTF-8.
pub fn warm_words(words: &[std::ffi::OsString]) -> Option<HelperArgs> {
    let mut identity = None;
    let mut a = HelperArgs {
        identity: String::new(),
        config: None,
        profile: None,
        stack: None,
        component: None,
        key: None,
        margin: None,
    };
    for (flag, value) in flag_pairs(words.iter().cloned())? {
        if value.is_empty() || value.starts_with('-') {
            return None;
        }
        let slot = match flag.as_str() {
            "--identity" => &mut identity,
            "--profile" => &mut a.profile,
            "--stack" => &mut a.stack,
            "--component" => &mut a.component,
            "--key" => &mut a.key,
            "--margin" => &mut a.margin,
            "--config" if a.config.is_none() => {
                a.config = Some(value.into());
                continue;
            }
            _ => return None,
        };
        if slot.replace(value).is_some() {
            return None;
        }
    }
    a.identity = identity?;
    Some(a)
}

/// The warm path: the cached document for `--key`, if it has the refresh margin left.
pub fn warm(args: &HelperArgs, env: &Env) -> Option<String> {
    let key = args.key.as_deref().filter(|k| is_key(k))?;
    let cache = Cache::new(env, "aws")?;
    let creds = cache.read(key)?;
    creds
        .fresh_for(cache::margin(env, args.margin.as_deref()), OffsetDateTime::now_utc())
        .then(|| creds.to_process_json())
}

/// The cold path: resolve, then refresh single-flight.
pub fn cold(args: &HelperArgs, env: &Env, cwd: PathBuf) -> Result<String, Error> {
    let session = cold_session(
        &args.identity,
        Request {
            cwd,
            config_file: args.config.clone(),
            profiles: args.profile.iter().cloned().collect(),
            stack: args.stack.clone(),
            component: args.component.clone(),
            identity: IdentityFlag::Named(args.identity.clone()),
            describe: false,
        },
        env,
    )?;
    Ok(session.credentials.to_process_json())
}

/// The session of `identity` for a plugin that has no fresh cached one (the helper's cold
/// path, the EKS token plugin's): resolve the request, then obtain it single-flight, with
/// a prompt only when a terminal is there. Refuses a helper that would call itself.
pub fn cold_session(identity: &str, req: Request, env: &Env) -> Result<crate::session::Session, Error> {
    let (res, chain) = cold_resolution(identity, req, env)?;
    with_prompts(env, |ask| Ok(crate::session::obtain(&res.scope(env), &chain, env, ask)?))
}

/// The resolution and chain of `identity` for a plugin with nothing fresh cached: resolved
/// (its warnings shown), refusing a plugin that would call itself or names no identity.
pub fn cold_resolution(
    identity: &str,
    req: Request,
    env: &Env,
) -> Result<(crate::resolve::Resolution, crate::identity::Chain), Error> {
    if let Some(ancestor) = calling_itself(identity) {
        tracing::debug!(pid = ancestor, "an ancestor process is a helper for the same identity");
        return Err(ProviderError::Recursion { identity: identity.to_string() }.into());
    }
    let res = resolve(&req, env, None)?;
    crate::auth::warn_problems(&res.warnings);
    let Some(chain) = res.chain.clone() else {
        return Err(Error::usage(
            format!("`--identity {identity}` disables auth; a credential plugin must name an identity"),
            Some("credential_process = atmos-auth-helper --identity NAME".to_string()),
        ));
    };
    Ok((res, chain))
}

/// Runs `f` with what a plugin may ask of the user: the terminal's prompts when there is
/// one (`/dev/tty`), none otherwise (a sign-in then fails at once, exit 77).
pub fn with_prompts<T>(env: &Env, f: impl FnOnce(crate::session::Interaction<'_>) -> T) -> T {
    let tty = crate::cli::tty::Tty::open(env);
    let login =
        crate::cli::tty::LoginPrompt::new(env, &crate::cli::settings::Settings::resolve(&Default::default(), env));
    f(crate::session::Interaction {
        mfa: tty.as_ref().map(|t| t as _),
        login: login.as_ref().map(|l| l as _),
        device: login.as_ref().map(|l| l as _),
        mode: crate::session::portal::Mode::Use,
    })
}

/// A plugin's words as `(flag, value)` pairs: `--flag VALUE`, `--flag=VALUE` or `-i VALUE`.
/// `None` for a missing value or a word that is not UTF-8; which flags are known is the
/// caller's (the kubeconfig plugins' warm parsers, which hand anything else to clap).
pub fn flag_pairs(args: impl Iterator<Item = std::ffi::OsString>) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut words = args.map(std::ffi::OsString::into_string);
    while let Some(word) = words.next() {
        let word = word.ok()?;
        pairs.push(match word.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), v.to_string()),
            _ => (word, words.next()?.ok()?),
        });
    }
    Some(pairs)
}

/// Whether `k` looks like a cache key tfauth computed (32 hex digits).
pub fn is_key(k: &str) -> bool {
    k.len() == 32 && k.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The pid of an ancestor that is an atmos-auth-helper for the same identity: a
/// credential_process that, through the ambient SDK chain, runs itself again. Identity
/// names match case-insensitively, as everywhere else. (A loop through `tfauth` itself, or
/// through a case-changed name, is also caught by the refresh lock: its holder is an
/// ancestor, see [`crate::session::cache::Cache::lock_for`].)
fn calling_itself(identity: &str) -> Option<u32> {
    let same_name = |a: &[u8]| a.eq_ignore_ascii_case(identity.as_bytes());
    let mut pid = std::os::unix::process::parent_id();
    for _ in 0..32 {
        if pid <= 1 {
            return None;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let argv: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        // The helper itself, or the cold half it execs (`tfauth __helper-cold ...`).
        let is_helper = argv.first().is_some_and(|a0| a0.ends_with(b"atmos-auth-helper"))
            || argv.get(1).is_some_and(|a1| *a1 == COLD_SUBCOMMAND.as_bytes());
        if is_helper {
            let same = argv.windows(2).any(|w| w[0] == b"--identity" && same_name(w[1]))
                || argv.iter().any(|a| a.strip_prefix(b"--identity=").is_some_and(same_name));
            if same {
                return Some(pid);
            }
        }
        pid = cache::parent_of(pid)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The warm parser never reads words differently from clap: for every sequence of up to
    /// four words drawn from flags, values and oddities, whatever it accepts clap accepts
    /// too, with the same meaning (anything it declines goes to clap anyway).
    #[test]
    fn the_warm_parser_reads_only_what_clap_reads_the_same_way() {
        let alphabet = [
            "--identity",
            "--key",
            "--margin",
            "--config",
            "--stack",
            "--identity=acme/dev",
            "--key=",
            "k1",
            "-x",
            "",
            "--help",
            "--",
            "--component=vpc",
            "a b",
        ];
        let (mut accepted, mut declined) = (0, 0);
        let mut level: Vec<Vec<&str>> = vec![vec![]];
        let mut words = level.clone();
        for _ in 0..4 {
            level = level.iter().flat_map(|w| alphabet.iter().map(|a| [&w[..], &[*a]].concat())).collect();
            words.extend(level.iter().cloned());
        }
        for w in &words {
            let os: Vec<std::ffi::OsString> = w.iter().map(Into::into).collect();
            match warm_words(&os) {
                Some(warm) => {
                    accepted += 1;
                    let clap =
                        HelperArgs::try_parse_from(std::iter::once("atmos-auth-helper").chain(w.iter().copied()));
                    assert_eq!(clap.ok().as_ref(), Some(&warm), "{w:?}");
                }
                None => declined += 1,
            }
        }
        // Both sides are exercised: the plain shapes are taken, the rest left to clap.
        assert!(accepted > 100 && declined > 10_000, "{accepted} accepted, {declined} declined");
        let plain = ["--identity", "acme/dev", "--key", "0123456789abcdef0123456789abcdef", "--margin=5m"];
        let plain: Vec<std::ffi::OsString> = plain.iter().map(Into::into).collect();
        let a = warm_words(&plain).expect("the shape tfauth writes");
        assert_eq!((a.identity.as_str(), a.margin.as_deref()), ("acme/dev", Some("5m")));
    }
}
