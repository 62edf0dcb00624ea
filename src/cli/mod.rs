//! The `tfauth` command line: one file per command, each with its clap `Args` and `run()`.
//! Terraform subcommands are not clap commands: anything clap does not know goes to
//! [`terraform`], which picks out tfauth's own flags and passes the rest to terraform
//! untouched (terraform's single-dash flags would confuse clap).

pub mod auth;
pub mod complete;
pub mod configure_profiles;
pub mod console;
pub mod describe;
pub mod doctor;
pub mod ecr_login;
pub mod helper;
pub mod list;
pub mod login;
pub mod logout;
pub mod settings;
pub mod shell;
pub mod terraform;
#[cfg(test)]
pub(crate) mod test_support;
pub mod tty;
pub mod user;
pub mod whoami;

use crate::env_vars::Env;
use crate::error::Error;
use crate::identity::IdentityFlag;
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

/// tfauth: authenticate Terraform and OpenTofu runs from your Atmos configuration.
///
/// Run a terraform command for a component in a stack: `tfauth plan vpc -s plat-use2-dev`.
/// Without `-s`, arguments pass straight through to the real terraform.
#[derive(Parser, Debug)]
#[command(name = "tfauth", version, allow_external_subcommands = true, disable_help_subcommand = true)]
pub struct Cli {
    /// Profiles to apply over atmos.yaml, in order (also ATMOS_PROFILE).
    #[arg(long, global = true, value_delimiter = ',')]
    pub profile: Vec<String>,
    /// More log output on stderr (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Show the IAM Identity Center login URL without opening a browser (also TFAUTH_NO_BROWSER).
    #[arg(long, global = true)]
    pub no_browser: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show the merged configuration of a component.
    Describe(describe::DescribeArgs),
    /// Authentication: sign in, environments, shells, the console, ECR, validate and list.
    Auth(auth::AuthArgs),
    /// List stacks or components.
    List(list::ListArgs),
    /// Print the shell integration (completions, prompt function, --alias) for your rc file.
    ///
    /// `eval "$(tfauth shell-init bash --alias)"` in ~/.bashrc; zsh alike; `tfauth shell-init fish | source`.
    ShellInit(shell::ShellInitArgs),
    /// The identity of this shell and its time left (`acme/admin 42m`), for prompts.
    Prompt(shell::PromptArgs),
    /// Completion candidates for the words after `--` (used by the shell scripts).
    #[command(name = "__complete", hide = true)]
    Complete(shell::CompleteArgs),
    /// Check this machine's setup: config, terraform, helper, permissions, clock, keyring, cache.
    Doctor(doctor::DoctorArgs),
    /// Any other command is a terraform subcommand: `tfauth plan vpc -s plat-use2-dev`.
    #[command(external_subcommand)]
    Terraform(Vec<OsString>),
}

/// The component and stack whose merged auth a command uses, and the identity flag.
#[derive(Args, Debug, Clone, Default)]
pub struct Target {
    /// The component whose merged auth to use (needs --stack).
    pub component: Option<String>,
    /// The stack (by name, or by manifest path without extension).
    #[arg(short = 's', long)]
    pub stack: Option<String>,
    /// The identity to use; without a value, ask; `false` disables auth (also ATMOS_IDENTITY).
    #[arg(short = 'i', long, num_args = 0..=1, default_missing_value = "", require_equals = false)]
    pub identity: Option<String>,
}

impl Target {
    pub fn identity_flag(&self) -> IdentityFlag {
        identity_flag(self.identity.as_deref())
    }
}

pub fn identity_flag(v: Option<&str>) -> IdentityFlag {
    match v {
        None => IdentityFlag::Absent,
        Some("") => IdentityFlag::Ask,
        Some(v) => IdentityFlag::Named(v.to_string()),
    }
}

/// What every command gets: the environment snapshot, the working directory, and where
/// this executable lives (to find the helper and to never exec itself).
#[derive(Clone)]
pub struct Ctx {
    pub env: Env,
    pub cwd: PathBuf,
    pub self_exe: Option<PathBuf>,
    /// The flags and the variables that stand for them, decided once.
    pub settings: settings::Settings,
}

impl Ctx {
    /// `atmos-auth-helper` next to this executable.
    pub fn helper_path(&self) -> PathBuf {
        let dir =
            self.self_exe.as_ref().and_then(|p| p.parent().map(PathBuf::from)).unwrap_or_else(|| self.cwd.clone());
        dir.join("atmos-auth-helper")
    }
    pub fn request(&self, t: &Target) -> crate::resolve::Request {
        crate::resolve::Request {
            cwd: self.cwd.clone(),
            config_file: None,
            profiles: self.settings.profiles.clone(),
            stack: t.stack.clone(),
            component: t.component.clone(),
            identity: t.identity_flag(),
            describe: false,
        }
    }
    pub fn prompt(&self) -> Option<crate::cli::tty::Tty> {
        crate::cli::tty::Tty::open(&self.env)
    }
}

/// Runs a parsed command; returns the exit code.
pub fn run(cli: Cli, ctx: Ctx) -> Result<i32, Error> {
    // The file keyring asks for its password here when none is in the environment.
    crate::keyring::set_password_prompt(Box::new(tty::KeyringPassword { env: ctx.env.clone() }));
    match cli.command {
        Command::Describe(a) => describe::run(a, &ctx),
        Command::Auth(a) => auth::run(a, &ctx),
        Command::List(a) => list::run(a, &ctx),
        Command::ShellInit(a) => shell::shell_init(a),
        Command::Prompt(a) => shell::prompt(a, &ctx.env),
        Command::Complete(a) => shell::complete(a, &ctx),
        Command::Doctor(a) => doctor::run(a, &ctx),
        Command::Terraform(args) => terraform::run(args, &ctx),
    }
}

pub use crate::auth::warn_problems;

/// The run's environment plan: output's, plus the isolated Docker configuration when an
/// ECR login for one of its identities was written (which takes a look at the disk).
pub fn env_plan(
    res: &crate::resolve::Resolution,
    ctx: &Ctx,
    profiles: &[String],
) -> Result<crate::output::env::EnvPlan, Error> {
    let mut plan = crate::output::plan::env_plan(res, &ctx.env, &ctx.helper_path(), profiles)?;
    if let Some(dir) = crate::logins::docker_config_for_run(res, &ctx.env) {
        plan.set.insert(crate::env_vars::DOCKER_CONFIG.into(), dir.display().to_string());
    }
    Ok(plan)
}

/// Gets a fresh session now for the chosen identity and every `required` one (so a login
/// or permission problem shows before terraform starts, and the helper's cache is warm),
/// completes the files that need the network (GCP and Azure), then writes them all. A
/// failure anywhere writes nothing.
pub fn authenticate(
    res: &crate::resolve::Resolution,
    mut plan: crate::output::env::EnvPlan,
    identity: &str,
    static_creds: bool,
    ctx: &Ctx,
) -> Result<crate::output::env::EnvPlan, Error> {
    let tty = ctx.prompt();
    let login = crate::cli::tty::LoginPrompt::new(&ctx.env, &ctx.settings);
    let ask = crate::session::Interaction {
        mfa: tty.as_ref().map(|t| t as _),
        login: login.as_ref().map(|l| l as _),
        device: login.as_ref().map(|l| l as _),
        mode: crate::session::portal::Mode::Use,
    };
    let static_creds =
        static_creds || res.auth_node.get("static_credentials").and_then(crate::yaml::Node::as_bool) == Some(true);
    let scope = res.scope(&ctx.env);
    for chain in res.chain.iter().chain(&res.required) {
        let secondary = chain.leaf().name != identity;
        let walked = match crate::session::walk(&scope, chain, &ctx.env, ask, true) {
            Ok(Some(walked)) => walked,
            Ok(None) => continue,
            // A `required` identity that fails is a warning, as in Atmos: the run goes on with
            // the chosen one. Its AWS profile stays, so terraform's provider that uses it
            // gets the same error from the helper, where it is used.
            Err(e) if secondary => {
                let e = Error::from(e);
                let hint = e.hint().map(|h| format!("\n  hint: {h}")).unwrap_or_default();
                let leaf = chain.leaf();
                tracing::warn!(
                    "{}: required identity `{}` could not be authenticated; the run goes on without it: {e}{hint}",
                    leaf.span,
                    leaf.name
                );
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let profile = if chain.leaf().name == identity { identity } else { &chain.leaf().name };
        plan = crate::output::plan::complete(plan, chain, &walked, static_creds.then_some(profile), &ctx.env);
    }
    plan.write_files().map_err(|(path, source)| {
        // Below a provider's `spec.files.base_path`, the error names where it was set.
        let base = res.chain.iter().chain(&res.required).find_map(|c| match &c.root {
            crate::identity::ChainRoot::Provider(p) => p
                .files_base_path
                .as_ref()
                .zip(crate::output::plan::files_base_path(p, &ctx.env).ok().flatten())
                .filter(|(_, dir)| path.starts_with(dir))
                .map(|(loc, _)| (p.name.clone(), loc.clone())),
            _ => None,
        });
        match base {
            Some((provider, loc)) => Error::from(crate::output::plan::PlanError::BasePath {
                provider,
                value: loc.value,
                at: loc.span,
                why: format!("cannot write {}", path.display()),
                source: Some(source),
            }),
            None => Error::from(crate::session::cache::CacheError::Io {
                dir: path.parent().map(PathBuf::from).unwrap_or_default(),
                source,
            }),
        }
    })?;
    Ok(plan)
}
