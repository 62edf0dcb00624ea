//! The `tfauth` command line: one file per command, each with its clap `Args` and `run()`.
//! Terraform subcommands are not clap commands: anything clap does not know goes to
//! [`terraform`], which picks out tfauth's own flags and passes the rest to terraform
//! untouched (terraform's single-dash flags would confuse clap).

pub mod auth;
pub mod auth_list;
pub mod complete;
pub mod configure_profiles;
pub mod console;
pub mod describe;
pub mod doctor;
pub mod ecr_login;
pub mod eks;
pub mod helper;
pub mod kube_token;
pub mod list;
pub mod login;
pub mod logout;
pub mod serve;
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

/// How a terraform run is written and the flags tfauth takes out of it. Shown by
/// `tfauth --help`, `tfauth help` and `tfauth SUBCOMMAND COMPONENT -s STACK --help`.
pub const RUN_HELP: &str = "\
Run terraform for a component in a stack:
  tfauth SUBCOMMAND COMPONENT -s STACK [tfauth flags] [terraform flags]
  tfauth plan vpc -s plat-use2-dev -var x=1

tfauth flags of a run (anywhere before `--`; everything else goes to terraform in order):
  -s, --stack STACK       The stack (by name, or by manifest path without extension)
  -i, --identity [NAME]   The identity; without a value, ask; `false` disables auth
      --dry-run           Print what would be written and run; write and run nothing
      --skip-init         Do not run `terraform init` first
      --static-credentials
                          Write session keys into the credentials file instead of
                          `credential_process` (for tools that cannot run it)
      --force             Overwrite generated files that tfauth did not write
      --from-plan         apply: apply the planfile the plan wrote
      --planfile FILE     plan/apply: this planfile instead of Atmos's name
      --skip-planfile     plan: write no planfile
      --profile NAME      Profiles to apply over atmos.yaml (also ATMOS_PROFILE)
      --no-browser        Show the IAM Identity Center login URL without opening it

Without -s, the words pass straight through to the real terraform (with
`--identity`, atmos.yaml's auth is set first).

  tfauth SUBCOMMAND COMPONENT -s STACK --help   this, then terraform's help for SUBCOMMAND
  tfauth help [COMMAND]                         tfauth's help for a command
  tfauth version                                tfauth's version (stderr), then terraform's";

/// tfauth: authenticate Terraform and OpenTofu runs from your Atmos configuration.
///
/// Run a terraform command for a component in a stack: `tfauth plan vpc -s plat-use2-dev`.
/// Without `-s`, arguments pass straight through to the real terraform.
#[derive(Parser, Debug)]
#[command(
    name = "tfauth",
    version,
    allow_external_subcommands = true,
    disable_help_subcommand = true,
    after_help = RUN_HELP,
)]
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
    /// AWS tools: EKS kubeconfigs and the token plugin they run (`tfauth aws eks token`).
    Aws(eks::AwsArgs),
    /// Azure tools: AKS kubeconfigs and the token plugin they run (`tfauth azure aks token`).
    Azure(kube_token::AzureArgs),
    /// GCP tools: GKE kubeconfigs and the token plugin they run (`tfauth gcp gke token`).
    Gcp(kube_token::GcpArgs),
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
    /// tfauth's help: for tfauth, a command of it (`tfauth help auth login`), or a run (`tfauth help plan`).
    Help {
        /// The command's words.
        command: Vec<String>,
    },
    /// Any other command is a terraform subcommand: `tfauth plan vpc -s plat-use2-dev`.
    #[command(external_subcommand)]
    Terraform(Vec<OsString>),
}

/// The component and stack whose merged auth a command uses, and the identity flag.
#[derive(Args, Debug, Clone, Default)]
pub struct Target {
    /// The component whose merged auth to use (needs --stack); also `-c COMPONENT`.
    #[arg(value_name = "COMPONENT")]
    pub component: Option<String>,
    /// The component, as a flag (as `logout` and `ecr-login` take it).
    #[arg(
        short = 'c',
        long = "component",
        value_name = "COMPONENT",
        conflicts_with = "component",
        hide_short_help = true
    )]
    pub component_flag: Option<String>,
    /// The stack (by name, or by manifest path without extension).
    #[arg(short = 's', long)]
    pub stack: Option<String>,
    /// The identity to use; without a value, ask; `false` disables auth (also ATMOS_IDENTITY).
    #[arg(short = 'i', long, num_args = 0..=1, default_missing_value = "", require_equals = false)]
    pub identity: Option<String>,
}

impl Target {
    /// The component, positional or `-c`.
    pub fn component(&self) -> Option<&String> {
        self.component.as_ref().or(self.component_flag.as_ref())
    }
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
            component: t.component().cloned(),
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
        Command::Aws(a) => eks::run(a, &ctx),
        Command::Azure(a) => kube_token::run_azure(a, &ctx),
        Command::Gcp(a) => kube_token::run_gcp(a, &ctx),
        Command::ShellInit(a) => shell::shell_init(a),
        Command::Prompt(a) => shell::prompt(a, &ctx.env),
        Command::Complete(a) => shell::complete(a, &ctx),
        Command::Doctor(a) => doctor::run(a, &ctx),
        Command::Terraform(args) => terraform::run(args, &ctx),
        Command::Help { command } => help(&command),
    }
}

/// `tfauth help [WORDS]`: the long help of the tfauth command the words name; for anything
/// else (a terraform subcommand), how a run is written.
fn help(words: &[String]) -> Result<i32, Error> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut found = true;
    for w in words {
        match cmd.find_subcommand(w).filter(|c| !c.is_hide_set()).cloned() {
            Some(sub) => cmd = sub.bin_name(format!("{} {w}", cmd.get_bin_name().unwrap_or("tfauth"))),
            None => {
                found = false;
                break;
            }
        }
    }
    if found {
        let name = std::iter::once("tfauth").chain(words.iter().map(String::as_str)).collect::<Vec<_>>().join(" ");
        let mut cmd = cmd.bin_name(name);
        return Ok(print_ignoring_closed_pipe(&cmd.render_long_help().to_string()));
    }
    let first = &words[0];
    if !crate::run::SUBCOMMANDS.contains(&first.as_str()) {
        let cmds: Vec<String> =
            Cli::command().get_subcommands().filter(|c| !c.is_hide_set()).map(|c| c.get_name().to_string()).collect();
        let near = crate::util::suggest::nearest(
            first,
            cmds.iter().map(String::as_str).chain(crate::run::SUBCOMMANDS.iter().copied()),
        );
        return Err(Error::usage(
            format!("`{}` is neither a tfauth command nor a terraform subcommand", words.join(" ")),
            Some(match near.first() {
                Some(n) => format!("did you mean `tfauth help {n}`?"),
                None => "`tfauth help` lists tfauth's commands".to_string(),
            }),
        ));
    }
    let text = RUN_HELP.replace("SUBCOMMAND COMPONENT", &format!("{first} COMPONENT"));
    Ok(print_ignoring_closed_pipe(&format!(
        "{}\n\nterraform's own help: `tfauth {first} COMPONENT -s STACK --help`, or `terraform {first} -help`\n",
        text.trim_end()
    )))
}

/// Help text on stdout; a reader that went away (`| head`) is no error. Returns 0.
fn print_ignoring_closed_pipe(text: &str) -> i32 {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    0
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
    plan: crate::output::env::EnvPlan,
    identity: &str,
    static_creds: bool,
    ctx: &Ctx,
) -> Result<crate::output::env::EnvPlan, Error> {
    authenticate_with(res, plan, identity, static_creds, ctx, SignIn::IfNeeded).map(|(plan, _)| plan)
}

/// How far [`authenticate_with`] may go for a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignIn {
    /// Cached, refreshed, or signed in on the terminal (a run, `auth env --login`).
    IfNeeded,
    /// What is cached, and no network for AWS (`auth env` without `--login`, as Atmos's):
    /// an AWS chain without a fresh cached session is left to the helper and named beside
    /// the plan; one whose keys go into the environment (static credentials) is an error.
    /// GCP and Azure chains are completed offline, from cached tokens only.
    CachedOnly,
}

/// [`authenticate`], with how far it may go; beside the plan, the identities whose AWS
/// session is not cached ([`SignIn::CachedOnly`] only).
pub fn authenticate_with(
    res: &crate::resolve::Resolution,
    mut plan: crate::output::env::EnvPlan,
    identity: &str,
    static_creds: bool,
    ctx: &Ctx,
    how: SignIn,
) -> Result<(crate::output::env::EnvPlan, Vec<String>), Error> {
    let mut uncached = Vec::new();
    let tty = ctx.prompt();
    let login = crate::cli::tty::LoginPrompt::new(&ctx.env, &ctx.settings);
    let ask = match how {
        SignIn::IfNeeded => crate::session::Interaction {
            mfa: tty.as_ref().map(|t| t as _),
            login: login.as_ref().map(|l| l as _),
            device: login.as_ref().map(|l| l as _),
            mode: crate::session::portal::Mode::Use,
        },
        SignIn::CachedOnly => crate::session::Interaction {
            mode: crate::session::portal::Mode::NoLogin,
            ..crate::session::Interaction::NONE
        },
    };
    let static_creds =
        static_creds || res.auth_node.get("static_credentials").and_then(crate::yaml::Node::as_bool) == Some(true);
    let scope = res.scope(&ctx.env);
    for chain in res.chain.iter().chain(&res.required) {
        let secondary = chain.leaf().name != identity;
        let cached_only_aws = how == SignIn::CachedOnly && chain.leaf().cloud() == Some(crate::auth::Cloud::Aws);
        let walked = if cached_only_aws {
            match crate::session::cached(&scope, chain, &ctx.env) {
                Some(s) => Ok(Some(crate::session::Walked::Aws(s))),
                None if static_creds && !secondary => {
                    return Err(Error::LoginNeeded {
                        identity: chain.leaf().name.clone(),
                        why: "static credentials (auth.static_credentials) put the session's keys in the environment"
                            .into(),
                    });
                }
                None => {
                    uncached.push(chain.leaf().name.clone());
                    continue;
                }
            }
        } else {
            crate::session::walk(&scope, chain, &ctx.env, ask, how == SignIn::IfNeeded)
        };
        let walked = match walked {
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
    // The run's own kubeconfig, for its identities' aws/eks, gcp/gke and azure/aks
    // integrations (describing a cluster needs the network, so only when signing in is allowed).
    if how == SignIn::IfNeeded
        && let Some(crate::logins::RunKubeconfig { base, text, failed }) =
            crate::logins::kubeconfig_for_run(res, &ctx.env, ask, &ctx.helper_path())?
    {
        for (name, e) in failed {
            let retry = format!(
                "its cluster is not in this run's kubeconfig; `tfauth auth login -i {}` shows the failure again",
                res.chain.as_ref().map_or("IDENTITY", |c| c.leaf().name.as_str())
            );
            eprint!("{}", ecr_login::render("warning", &name, &e.into(), Some(retry)));
        }
        let file = base.join("config");
        for var in [crate::env_vars::KUBECONFIG, crate::env_vars::KUBE_CONFIG_PATH] {
            plan.set.insert(var.into(), file.display().to_string());
        }
        plan.files.push(crate::output::env::PlannedFile { path: file, contents: text, secret: false });
        plan.addressed.push(crate::output::env::Addressed {
            kind: crate::output::env::AddressKind::Kube,
            base: base.clone(),
            dir: base,
        });
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
    Ok((plan, uncached))
}
