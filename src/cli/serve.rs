//! `tfauth auth serve` and `tfauth auth exec --serve`: the identity's AWS credentials on a
//! loopback container-credentials endpoint ([`crate::serve`]), for what reads only
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI` and `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
//!
//! `auth exec --serve` gives the command no AWS profile and AWS files that say nothing
//! (`/dev/null`), so an SDK's chain cannot stop at a default profile of the user's own
//! `~/.aws` before it reaches the endpoint. The session is obtained once up front, with the terminal's prompts if a sign-in is
//! needed; after that every request reads the cache and refreshes through it, single
//! flight, without prompting (a sign-in that would need a person is the client's error,
//! 503, and a warning here). It must not print the token but as one of the two variables.

use super::Ctx;
use super::auth::print_env;
use crate::error::Error;
use crate::output::envfmt::EnvFormat;
use std::net::IpAddr;
use std::sync::Arc;

/// `auth serve`'s flags.
#[derive(clap::Args, Debug)]
#[command(after_long_help = "\
Examples:
  # Serve a component's identity until Ctrl-C; the two variables are printed first, for
  # the shell (or container) in another terminal that should use them
  tfauth auth serve vpc -s plat-use2-dev

  # A container gets the credentials through the endpoint, which stops with it
  tfauth auth exec --serve -i acme/admin -- docker run --network host \\
      -e AWS_CONTAINER_CREDENTIALS_FULL_URI -e AWS_CONTAINER_AUTHORIZATION_TOKEN amazon/aws-cli sts get-caller-identity")]
pub struct ServeArgs {
    #[command(flatten)]
    pub target: super::Target,
    /// The port to listen on (default: a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// The loopback address to listen on; others are refused.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// How the two variables are printed, as `auth env` prints them.
    #[arg(long, short = 'f', value_enum, default_value = "bash")]
    pub format: EnvFormat,
}

/// The source of an AWS identity's credentials: the cache (single flight, refreshed by
/// the margin), after one obtain with the terminal's prompts; and the identity's name.
fn source_of(target: &super::Target, ctx: &Ctx) -> Result<(Arc<crate::serve::Source>, String), Error> {
    let prompt = ctx.prompt();
    let res = crate::resolve::resolve(&ctx.request(target), &ctx.env, prompt.as_ref().map(|p| p as _))?;
    super::warn_problems(&res.warnings);
    let Some(chain) = res.chain.clone() else {
        return Err(Error::usage(
            "nothing to serve: auth is disabled or no identity is configured".to_string(),
            Some("pass --identity NAME, or a component and stack whose auth names one".into()),
        ));
    };
    let name = chain.leaf().name.clone();
    if chain.leaf().cloud() != Some(crate::auth::Cloud::Aws) {
        return Err(Error::usage(
            format!(
                "the credentials endpoint serves AWS credentials, and identity `{name}` is {}",
                chain.leaf().kind_name
            ),
            Some("serve an AWS identity; `tfauth auth exec` gives a command the other clouds' variables".into()),
        ));
    }
    // Signed in now, where a prompt can be answered.
    let login = crate::cli::tty::LoginPrompt::new(&ctx.env, &ctx.settings);
    let ask = crate::session::Interaction {
        mfa: prompt.as_ref().map(|t| t as _),
        login: login.as_ref().map(|l| l as _),
        device: login.as_ref().map(|l| l as _),
        mode: crate::session::portal::Mode::Use,
    };
    crate::session::obtain(&res.scope(&ctx.env), &chain, &ctx.env, ask)?;
    let env = ctx.env.clone();
    let scope_env = env.clone();
    let res = Arc::new(res);
    let source = move || {
        crate::session::obtain(&res.scope(&scope_env), &chain, &env, crate::session::Interaction::NONE)
            .map(|s| s.credentials)
            .map_err(|e| e.to_string())
    };
    Ok((Arc::new(source), name))
}

/// `tfauth auth serve`: prints the two variables and serves until SIGINT or SIGTERM.
pub fn serve(args: ServeArgs, ctx: &Ctx) -> Result<i32, Error> {
    // Before signing in: an address it will not bind is refused first.
    if !args.bind.is_loopback() {
        return Err(crate::serve::ServeError::NotLoopback { addr: args.bind }.into());
    }
    let (source, name) = source_of(&args.target, ctx)?;
    // Blocked once signed in (a prompt stays interruptible) and before the server's threads
    // start, so only the wait below receives them.
    let signals = crate::util::sys::TerminationSignals::block();
    let server = crate::serve::start(args.bind, args.port, source)?;
    let mut plan = crate::output::env::EnvPlan::default();
    for (k, v) in server.variables() {
        plan.set.insert(k, v);
    }
    plan.secret_vars.push(crate::serve::AUTHORIZATION_TOKEN.into());
    let to = match args.format {
        EnvFormat::Github => Some(std::path::PathBuf::from(super::auth::github_env(ctx)?)),
        _ => None,
    };
    print_env(&plan, args.format, to.as_deref(), ctx)?;
    use std::io::Write;
    let _ = std::io::stdout().flush();
    eprintln!("serving `{name}` at {} until interrupted (Ctrl-C)", server.url());
    let signal = signals.wait();
    let (served, refused) = (server.served(), server.refused());
    server.stop();
    eprintln!("stopped on signal {signal}: {served} answered, {refused} refused without the token");
    Ok(0)
}

/// `tfauth auth exec --serve -- CMD`: CMD runs with the two variables (and none of the AWS
/// file variables); the endpoint stops when CMD ends, and its exit code is CMD's.
pub fn exec_served(target: &super::Target, command: &[std::ffi::OsString], ctx: &Ctx) -> Result<i32, Error> {
    let plan = super::auth::authenticated_plan(target, ctx)?;
    let (source, name) = source_of(target, ctx)?;
    let server = crate::serve::start(std::net::Ipv4Addr::LOCALHOST.into(), 0, source)?;
    let mut child = plan.child_env(&ctx.env);
    // No profile, and AWS files that say nothing: the SDKs' chains then reach the container
    // provider, and never a default profile of the user's own ~/.aws.
    use crate::env_vars as ev;
    let replaced = [ev::AWS_PROFILE, ev::AWS_DEFAULT_PROFILE, ev::AWS_CONFIG_FILE, ev::AWS_SHARED_CREDENTIALS_FILE];
    let vars = server.variables();
    child.set.retain(|(k, _)| !replaced.contains(&k.as_str()) && !vars.iter().any(|(s, _)| s == k));
    child.remove.extend([ev::AWS_PROFILE, ev::AWS_DEFAULT_PROFILE].map(String::from));
    child.set.extend(
        [ev::AWS_CONFIG_FILE, ev::AWS_SHARED_CREDENTIALS_FILE].map(|k| (k.to_string(), "/dev/null".to_string())),
    );
    child.set.extend(vars);
    tracing::info!("`{name}` served to the command at {}", server.url());
    let (program, args) = command.split_first().expect("clap requires a command");
    let program = super::auth::resolve_program(program, &ctx.env);
    let code = crate::exec::spawn_wait(program.as_os_str(), args, &ctx.cwd, &child);
    let refused = server.refused();
    server.stop();
    if refused > 0 {
        tracing::warn!("the credentials endpoint refused {refused} request(s) without its token");
    }
    code
}
