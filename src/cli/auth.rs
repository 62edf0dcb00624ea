//! `tfauth auth validate` (and the typed auth `auth list` reads): the auth configuration as
//! a whole, or as merged for one component (`-s STACK COMPONENT`); and `auth env` / `auth
//! exec`, the environment a run uses. `auth env` signs in only with `--login` (as Atmos's
//! does), and writes its `-o` file whole or not at all.

use super::{Ctx, Target};
use crate::auth::{AuthConfig, AuthError};
use crate::error::Error;
use crate::resolve::{load_component, undefined_default_problems};
use crate::yaml::Node;
use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct AuthArgs {
    #[command(subcommand)]
    pub command: AuthCommand,
}

#[derive(Subcommand, Debug)]
pub enum AuthCommand {
    /// Check the auth configuration and report every problem at once.
    #[command(after_long_help = "\
Examples:
  # Every problem of atmos.yaml's auth section, and every stack manifest that
  # cannot be read or merged, at once
  tfauth auth validate

  # The auth vpc gets in plat-use2-dev (component over stack over global)
  tfauth auth validate vpc -s plat-use2-dev")]
    Validate {
        #[command(flatten)]
        target: Target,
    },
    /// Print the environment a run with the identity uses (signing in only with --login).
    ///
    /// Without --login nothing is signed in, as in Atmos: the variables point at the
    /// identity's profile files, whose credential_process gets the session when a tool
    /// needs it, so `eval "$(tfauth auth env)"` is safe in a shell's rc file. A cached
    /// session is used; if there is none, a warning says so.
    #[command(after_long_help = "\
Examples:
  # Load vpc's credentials into this shell, signing in if needed
  eval \"$(tfauth auth env vpc -s plat-use2-dev --login)\"

  # In GitHub Actions: append to $GITHUB_ENV, secrets masked
  tfauth auth env -i plat-dev/terraform -f github --login

  # A dotenv file for docker compose (0600)
  tfauth auth env -i plat-dev/terraform -f env -o .env

  # As JSON, for scripts
  tfauth auth env -i plat-dev/terraform -f json")]
    Env {
        #[command(flatten)]
        target: Target,
        /// bash (export/unset), fish, powershell, dotenv (quoted where needed), env (NAME=value as is), json, github (appended to $GITHUB_ENV, secrets masked), or terragrunt (the JSON of terragrunt's --auth-provider-cmd, with the session's keys).
        #[arg(long, short = 'f', value_enum, default_value = "bash", env = crate::env_vars::ATMOS_AUTH_ENV_FORMAT)]
        format: EnvFormat,
        /// Write to FILE instead of stdout: appended (json replaces it), mode 0600, the whole new file or the old one. For github, the default is $GITHUB_ENV.
        #[arg(long = "output-file", short = 'o', value_name = "FILE", env = crate::env_vars::ATMOS_AUTH_ENV_OUTPUT_FILE)]
        output_file: Option<std::path::PathBuf>,
        /// Sign in if no valid session is cached (the device flow, an MFA code); without it, cached sessions only.
        #[arg(long)]
        login: bool,
    },
    /// Authenticate and run a command with the identity's environment: `tfauth auth exec -- aws sts get-caller-identity`.
    #[command(after_long_help = "\
Examples:
  # Who the identity is, by the AWS CLI
  tfauth auth exec -i plat-dev/terraform -- aws sts get-caller-identity

  # Any command in vpc's environment
  tfauth auth exec vpc -s plat-use2-dev -- terraform state list")]
    Exec {
        #[command(flatten)]
        target: Target,
        /// Give the command the AWS credentials through a loopback container-credentials
        /// endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN)
        /// instead of profile files; the endpoint stops when the command ends.
        #[arg(long)]
        serve: bool,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true)]
        command: Vec<std::ffi::OsString>,
    },
    /// Serve the identity's AWS credentials on a loopback container-credentials endpoint
    /// (what aws-vault's --ecs-server does) until interrupted; prints its two variables.
    Serve(super::serve::ServeArgs),
    /// Start a shell with the identity's environment (TFAUTH_IDENTITY, TFAUTH_SHLVL set); its exit code is passed back.
    Shell(super::shell::AuthShellArgs),
    /// Open the AWS console or the Azure portal as the identity (--print-only prints the URL).
    Console(super::console::ConsoleArgs),
    /// Sign in: to an IAM Identity Center provider (--provider), or get a session for an identity.
    Login(super::login::LoginArgs),
    /// Show who the identity is: principal ARN (STS GetCallerIdentity), account, region, expiry.
    Whoami(super::login::WhoamiArgs),
    /// Remove what tfauth keeps for an identity, a provider (--provider) or everything (--all).
    Logout(super::login::LogoutArgs),
    /// Log in to ECR registries (`auth.integrations` of kind aws/ecr): all, one by NAME, or
    /// those via --identity. Writes tfauth's isolated Docker config, or --docker-config.
    EcrLogin(super::ecr_login::EcrLoginArgs),
    /// Store aws/user access keys, and aws/saml passwords, in the keyring.
    User(super::login::UserArgs),
    /// Write a profile per AWS identity into your AWS config (each runs atmos-auth-helper), for every other AWS tool.
    ConfigureProfiles(super::configure_profiles::ConfigureProfilesArgs),
    /// List providers, identities and integrations, with each identity's cached session.
    #[command(after_long_help = "\
Examples:
  # Providers and their identities' chains, as a tree, with cached sessions
  tfauth auth list

  # Only these providers (a bare --providers: all of them), as a table
  tfauth auth list --providers=acme-sso -f table

  # Identities tagged prod or admin, as JSON
  tfauth auth list --identities --tags prod,admin -f json

  # The auth vpc gets in plat-use2-dev, as Markdown with a Mermaid diagram
  tfauth auth list vpc -s plat-use2-dev -f md")]
    List(super::auth_list::ListArgs),
}

pub fn run(args: AuthArgs, ctx: &Ctx) -> Result<i32, Error> {
    match args.command {
        AuthCommand::Validate { target } => validate(&target, ctx),
        AuthCommand::Env { target, format, output_file, login } => {
            let to = match (format, output_file) {
                (_, Some(path)) => Some(path),
                // Before signing in: a run that cannot deliver its variables does no work.
                (EnvFormat::Github, None) => Some(std::path::PathBuf::from(github_env(ctx)?)),
                _ => None,
            };
            // Before signing in or writing anything: where the variables go, and whether the
            // format can hold them.
            if let Some(path) = &to {
                crate::util::fs::check_output_target(path)
                    .map_err(|source| Error::OutputFile { path: path.clone(), source })?;
            }
            // terragrunt asks for keys per unit, as a credential helper would: sign in if need be.
            let how = if login || format == EnvFormat::Terragrunt {
                super::SignIn::IfNeeded
            } else {
                super::SignIn::CachedOnly
            };
            let (plan, uncached) = plan_signed_in(&target, ctx, how, &|plan| env_fits(plan, format))?;
            for name in &uncached {
                tracing::warn!(
                    "no valid session of `{name}` is cached, and nothing was signed in (auth env signs in only with \
                     --login): a tool that uses these variables asks atmos-auth-helper for one when it needs it\n  \
                     hint: add --login to sign in now, or run `tfauth auth login -i {name}`"
                );
            }
            if format == EnvFormat::Terragrunt {
                return print_terragrunt(&target, &plan, to.as_deref(), ctx);
            }
            print_env(&plan, format, to.as_deref(), ctx)
        }
        AuthCommand::Exec { target, serve: true, command } => super::serve::exec_served(&target, &command, ctx),
        AuthCommand::Serve(a) => super::serve::serve(a, ctx),
        AuthCommand::Exec { target, serve: false, command } => {
            let plan = authenticated_plan(&target, ctx)?;
            let (program, args) = command.split_first().expect("clap requires a command");
            let program = resolve_program(program, &ctx.env);
            crate::exec::exec(program, args, &ctx.cwd, &plan.child_env(&ctx.env))
        }
        AuthCommand::Shell(a) => super::shell::auth_shell(a, ctx),
        AuthCommand::Console(a) => super::console::run(a, ctx),
        AuthCommand::Login(a) => super::login::login(a, ctx),
        AuthCommand::Whoami(a) => super::login::whoami(a, ctx),
        AuthCommand::Logout(a) => super::login::logout(a, ctx),
        AuthCommand::User(a) => super::login::user(a, ctx),
        AuthCommand::ConfigureProfiles(a) => super::configure_profiles::run(a, ctx),
        AuthCommand::EcrLogin(a) => super::ecr_login::ecr_login(a, ctx),
        AuthCommand::List(a) => super::auth_list::run(a, ctx),
    }
}

/// The typed auth for a loaded target, with every problem, and the merged node.
pub(super) fn auth_of(
    cfg: &crate::config::AtmosConfig,
    comp: Option<&crate::stacks::ResolvedComponent>,
    ctx: &Ctx,
) -> (Node, AuthConfig, Vec<crate::auth::Problem>) {
    let node = match comp {
        Some(c) => c.auth.clone(),
        None => cfg.auth().cloned().unwrap_or_else(Node::null),
    };
    let (mut auth, problems) = crate::identity::parse_auth(Some(&node));
    crate::session::portal::add_provisioned(&mut auth, &ctx.env);
    (node, auth, problems)
}

/// Repository-wide (no COMPONENT), the stack manifests are checked too: every one that
/// cannot be read or merged is reported, since the stack-level `auth:` it holds is unread.
/// A repository without stacks (auth only) has nothing to check there.
fn validate(target: &Target, ctx: &Ctx) -> Result<i32, Error> {
    use crate::stacks::{StackError, StackSet};
    let (cfg, comp) = load_component(&ctx.request(target), &ctx.env)?;
    let (node, auth, mut problems) = auth_of(&cfg, comp.as_ref(), ctx);
    problems.extend(undefined_default_problems(&node));
    let truthy = |v: &str| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on");
    let verbose = ctx.settings.log_level.is_some_and(|l| l >= tracing::Level::DEBUG)
        || ctx.env.get(crate::env_vars::ATMOS_AUTH_VALIDATE_VERBOSE).is_some_and(truthy);
    if verbose {
        eprint!("{}", checked_items(&auth));
    }
    let broken = match comp {
        Some(_) => None,
        None => match StackSet::load(&cfg) {
            Ok(set) => set.listing().err(),
            Err(StackError::NoStacksDir(_) | StackError::NoManifests { .. }) => None,
            Err(e) => Some(e),
        },
    };
    if let Some(broken) = broken {
        // Both at once: the auth problems as errors on stderr, then the manifests' error.
        for p in &problems {
            tracing::error!("{p}");
        }
        return Err(broken.into());
    }
    if !problems.is_empty() {
        return Err(AuthError::Invalid { problems }.into());
    }
    // Accepted as Atmos accepts them; a run whose chain needs an unsupported one refuses it.
    for note in auth.notes.all() {
        eprintln!("warning: {note}");
        if let Some(h) = &note.hint {
            eprintln!("  hint: {h}");
        }
    }
    let integrations = match auth.integrations.len() {
        0 => String::new(),
        n => format!(", {n} integration(s)"),
    };
    println!(
        "auth configuration is valid: {} provider(s), {} identity(ies){integrations}",
        auth.providers.len(),
        auth.identities.len()
    );
    Ok(0)
}

/// `auth validate --verbose` (`-v`, `ATMOS_AUTH_VALIDATE_VERBOSE`): what was checked, each
/// provider and identity with its kind and line, and each identity's chain as a run walks it.
fn checked_items(auth: &AuthConfig) -> String {
    let mut out = String::from("Validating the authentication configuration:\n");
    for p in &auth.providers {
        out.push_str(&format!("  provider `{}` ({}) at {}\n", p.name, p.kind_name, p.span));
    }
    for i in &auth.identities {
        let chain = match crate::identity::chain::build(auth, &i.name) {
            Ok(c) => c.describe(),
            Err(e) => format!("no chain: {e}"),
        };
        out.push_str(&format!("  identity `{}` ({}) at {}: {chain}\n", i.name, i.kind_name, i.span));
    }
    for i in &auth.integrations {
        out.push_str(&format!("  integration `{}` ({}) at {}\n", i.name, i.kind_name, i.span));
    }
    out
}

pub use crate::output::envfmt::EnvFormat;

/// Resolves the target, authenticates (writing the isolated files) and returns the plan;
/// an empty plan when auth is disabled or nothing is configured.
pub(crate) fn authenticated_plan(target: &Target, ctx: &Ctx) -> Result<crate::output::env::EnvPlan, Error> {
    plan_signed_in(target, ctx, super::SignIn::IfNeeded, &|_| Ok(())).map(|(plan, _)| plan)
}

/// [`authenticated_plan`], signing in as far as `how` lets it, after `first` accepted the
/// plan; beside the plan, the identities whose AWS session is not cached (with
/// [`super::SignIn::CachedOnly`]).
fn plan_signed_in(
    target: &Target,
    ctx: &Ctx,
    how: super::SignIn,
    first: &dyn Fn(&crate::output::env::EnvPlan) -> Result<(), Error>,
) -> Result<(crate::output::env::EnvPlan, Vec<String>), Error> {
    let prompt = ctx.prompt();
    let res = crate::resolve::resolve(&ctx.request(target), &ctx.env, prompt.as_ref().map(|p| p as _))?;
    super::warn_problems(&res.warnings);
    match &res.selection {
        crate::identity::Selection::Identity { name, .. } => {
            let plan = super::env_plan(&res, ctx, &ctx.settings.profiles)?;
            first(&plan)?;
            super::authenticate_with(&res, plan, name, false, ctx, how)
        }
        _ => Ok((crate::output::env::EnvPlan::default(), Vec::new())),
    }
}

/// Prints the plan in `format`, or writes it to `to` (`-o FILE`, or `$GITHUB_ENV` for
/// github): appended, as Atmos does, but json replaces the file (one document). The file is
/// written whole before anything is printed; github's masks go to stdout.
pub(super) fn print_env(
    plan: &crate::output::env::EnvPlan,
    format: EnvFormat,
    to: Option<&std::path::Path>,
    ctx: &Ctx,
) -> Result<i32, Error> {
    use crate::output::envfmt::{SECRET_NAMES, render};
    let secret = |k: &str| plan.secret_vars.iter().any(|s| s == k) || SECRET_NAMES.contains(&k);
    env_fits(plan, format)?;
    let out = render(&plan.set, &plan.cleared_in(&ctx.env), format, &secret);
    let (file_text, stdout) = match (format, to) {
        (EnvFormat::Github, _) => (out.github_env.unwrap_or_default(), out.stdout),
        (_, Some(_)) => (out.stdout, String::new()),
        (_, None) => (String::new(), out.stdout),
    };
    if let Some(path) = to {
        write_env_file(path, &file_text, format, ctx)?;
    }
    // For github, the masks: a later step must not print a value unmasked.
    print!("{stdout}");
    Ok(0)
}

/// `auth env -f terragrunt`: the plan's variables, and the chosen AWS identity's session
/// keys in `awsCredentials` (from the cache, which `plan_signed_in` just filled or read).
fn print_terragrunt(
    target: &Target,
    plan: &crate::output::env::EnvPlan,
    to: Option<&std::path::Path>,
    ctx: &Ctx,
) -> Result<i32, Error> {
    let res = crate::resolve::resolve(&ctx.request(target), &ctx.env, None)?;
    let creds = res
        .chain
        .as_ref()
        .filter(|c| c.leaf().cloud() == Some(crate::auth::Cloud::Aws))
        .and_then(|c| crate::session::cached(&res.scope(&ctx.env), c, &ctx.env))
        .map(|s| s.credentials);
    if creds.is_none() && plan.set.contains_key(crate::env_vars::AWS_PROFILE) {
        return Err(Error::LoginNeeded {
            identity: res.chain.as_ref().map_or_else(String::new, |c| c.leaf().name.clone()),
            why: "terragrunt is handed the session's keys (awsCredentials)".into(),
        });
    }
    let text = crate::output::envfmt::terragrunt(&plan.set, creds.as_ref());
    match to {
        Some(path) => write_env_file(path, &text, EnvFormat::Terragrunt, ctx)?,
        None => print!("{text}"),
    }
    Ok(0)
}

/// Whether `format` can hold every value of the plan: `env` writes values as they are, so
/// one with a line break would end its line and start another variable.
fn env_fits(plan: &crate::output::env::EnvPlan, format: EnvFormat) -> Result<(), Error> {
    match crate::output::envfmt::unquotable(&plan.set) {
        Some(name) if format == EnvFormat::Env => Err(Error::usage(
            format!("--format env writes values as they are, and the value of {name} holds a line break"),
            Some("use --format dotenv, bash or json, which quote it".to_string()),
        )),
        _ => Ok(()),
    }
}

/// Writes `text` to `path`: `$GITHUB_ENV` (the runner's file) appended in place, as the
/// runner expects; any other file of the user's whole (see [`crate::util::fs::write_user_file`]).
fn write_env_file(path: &std::path::Path, text: &str, format: EnvFormat, ctx: &Ctx) -> Result<(), Error> {
    let is_github_env = ctx.env.get(crate::env_vars::GITHUB_ENV).is_some_and(|g| std::path::Path::new(g) == path);
    if format == EnvFormat::Github && is_github_env {
        use std::io::Write;
        let shown = path.display();
        let mut f = std::fs::OpenOptions::new().append(true).create(true).open(path).map_err(|e| {
            Error::usage(
                format!("cannot append to $GITHUB_ENV ({shown}): {e}"),
                Some("check the GITHUB_ENV variable".to_string()),
            )
        })?;
        return f
            .write_all(text.as_bytes())
            .map_err(|e| Error::usage(format!("cannot write $GITHUB_ENV ({shown}): {e}"), None));
    }
    let append = !matches!(format, EnvFormat::Json | EnvFormat::Terragrunt);
    crate::util::fs::write_user_file(path, text.as_bytes(), append, crate::util::fs::READ_CAP)
        .map_err(|source| Error::OutputFile { path: path.to_path_buf(), source })
}

/// `$GITHUB_ENV`, which `--format github` appends to.
pub(super) fn github_env(ctx: &Ctx) -> Result<&str, Error> {
    ctx.env.get(crate::env_vars::GITHUB_ENV).ok_or_else(|| {
        Error::usage(
            "--format github appends to $GITHUB_ENV, which is not set: this is not a GitHub Actions step",
            Some("name the file with --output-file FILE, or outside Actions use --format bash, fish, powershell, dotenv, env or json".to_string()),
        )
    })
}

/// A command name found on PATH (as the shell would), or the path as given.
pub(super) fn resolve_program(program: &std::ffi::OsStr, env: &crate::env_vars::Env) -> std::path::PathBuf {
    let p = std::path::Path::new(program);
    if p.components().count() > 1 {
        return p.to_path_buf();
    }
    std::env::split_paths(env.get(crate::env_vars::PATH).unwrap_or(""))
        .map(|d| d.join(p))
        .find(|c| c.is_file())
        .unwrap_or_else(|| p.to_path_buf())
}
