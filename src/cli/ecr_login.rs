//! `tfauth auth ecr-login [NAME] [--identity ID] [--docker-config PATH]`, and the
//! integrations `auth login` runs after it has a session. One line per registry on stderr;
//! stdout stays empty. Here a failure is an error; after `auth login` it is a warning that
//! names the retry command.

use super::Ctx;
use crate::error::Error;
use crate::logins::{self, IntegrationError, Login};
use crate::resolve::Resolution;
use crate::session::Interaction;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  # Every ECR integration, into tfauth's isolated Docker config
  tfauth auth ecr-login

  # One integration, into your own Docker config
  tfauth auth ecr-login core-ecr --docker-config ~/.docker")]
pub struct EcrLoginArgs {
    /// The integration (a name under `auth.integrations`); default: all of them.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// Only the integrations that come via this identity.
    #[arg(short = 'i', long, value_name = "ID")]
    pub identity: Option<String>,
    /// Write into this Docker configuration (a directory holding config.json, as
    /// DOCKER_CONFIG is, or a `.json` file) instead of tfauth's isolated one.
    #[arg(long, value_name = "PATH")]
    pub docker_config: Option<PathBuf>,
    /// The component whose merged auth to use (needs --stack).
    #[arg(long = "component", short = 'c')]
    pub component: Option<String>,
    /// The stack whose merged auth to use.
    #[arg(short = 's', long)]
    pub stack: Option<String>,
}

pub fn ecr_login(args: EcrLoginArgs, ctx: &Ctx) -> Result<i32, Error> {
    // The integrations choose their identities: resolve none.
    let target = super::Target {
        component: args.component,
        stack: args.stack,
        identity: Some("false".into()),
        ..Default::default()
    };
    let res = crate::resolve::resolve(&ctx.request(&target), &ctx.env, None)?;
    let mut chosen = logins::select(&res, args.name.as_deref(), args.identity.as_deref())?;
    // Docker logins only: the kubeconfigs have `aws eks update-kubeconfig`.
    match &args.name {
        Some(_) if !logins::is_docker_login(chosen[0]) => {
            let int = chosen[0];
            return Err(Error::usage(
                format!("integration `{}` is {}, not a Docker login", int.name, int.kind_name),
                Some(format!("`tfauth aws eks update-kubeconfig --integration {}` runs it", int.name)),
            ));
        }
        Some(_) => {}
        None => {
            chosen.retain(|i| logins::is_docker_login(i));
            if chosen.is_empty() {
                return Err(IntegrationError::None {
                    identity: args.identity.clone(),
                    available: res
                        .auth
                        .integrations
                        .iter()
                        .filter(|i| logins::is_docker_login(i))
                        .map(|i| i.name.clone())
                        .collect(),
                }
                .into());
            }
        }
    }
    let docker_config = args.docker_config.map(|p| crate::config::clean_path(&ctx.cwd.join(p)));
    let tty = ctx.prompt();
    let prompt = crate::cli::tty::LoginPrompt::new(&ctx.env, &ctx.settings);
    let ask = Interaction {
        mfa: tty.as_ref().map(|t| t as _),
        login: prompt.as_ref().map(|p| p as _),
        device: prompt.as_ref().map(|p| p as _),
        mode: crate::session::portal::Mode::Use,
    };
    let total = chosen.len();
    let mut failed: Vec<(String, Error)> = Vec::new();
    for int in chosen {
        let out =
            logins::Outputs { docker_config: docker_config.as_deref(), kubeconfig: None, plugin: &ctx.helper_path() };
        match logins::run(&res, int, out, &ctx.env, ask) {
            Ok(login) => report(&login),
            Err(e) => failed.push((int.name.clone(), e.into())),
        }
    }
    match failed.len() {
        0 => Ok(0),
        // One integration asked for (or the only one): its own error, hint and exit code.
        1 if total == 1 => Err(failed.pop().expect("one failure").1),
        _ => {
            for (name, e) in &failed {
                eprint!("{}", render("error", name, e, None));
            }
            let code = failed[0].1.exit_code();
            Err(IntegrationError::Several { failed: failed.into_iter().map(|f| f.0).collect(), total, code }.into())
        }
    }
}

/// After `auth login` of `identity`: its integrations with `auto_provision`. A failure is
/// a warning that names the integration and the command to retry it; the login stands.
pub fn after_login(res: &Resolution, identity: &str, ctx: &Ctx, ask: Interaction<'_>) {
    for int in logins::auto(res, identity) {
        let out = logins::Outputs { docker_config: None, kubeconfig: None, plugin: &ctx.helper_path() };
        match logins::run(res, int, out, &ctx.env, ask) {
            Ok(login) => report(&login),
            Err(e) => eprint!(
                "{}",
                render(
                    "warning",
                    &int.name,
                    &e.into(),
                    Some(match int.kind_name.as_str() {
                        "aws/eks" =>
                            format!("retry with `tfauth aws eks update-kubeconfig --integration {}`", int.name),
                        "azure/aks" =>
                            format!("retry with `tfauth azure aks update-kubeconfig --integration {}`", int.name),
                        "gcp/gke" =>
                            format!("retry with `tfauth gcp gke update-kubeconfig --integration {}`", int.name),
                        _ => format!("retry with `tfauth auth ecr-login {}`", int.name),
                    })
                )
            ),
        }
    }
}

/// `logged in to HOST (expires HH:MM UTC) via IDENTITY` or `kubeconfig: CONTEXT -> FILE via
/// IDENTITY`, after any warnings about the file.
pub(super) fn report(login: &Login) {
    for w in &login.warnings {
        eprintln!("warning: {}: {w}", login.file.display());
    }
    match &login.made {
        logins::Made::Docker { host, expires_at } => {
            let expires = expires_at.map_or_else(
                || "expiry unknown".to_string(),
                |t| {
                    let t = t.to_offset(time::UtcOffset::UTC);
                    format!("expires {:02}:{:02} UTC", t.hour(), t.minute())
                },
            );
            eprintln!("logged in to {host} ({expires}) via {}", login.identity);
        }
        logins::Made::Kubeconfig { context, changed } => {
            let how = if *changed { "" } else { " (already up to date)" };
            eprintln!("kubeconfig: {context} -> {}{how} via {}", login.file.display(), login.identity);
        }
    }
}

/// `LEVEL: integration `NAME` failed: ERROR`, its causes, its hint, and `extra` hints.
pub(super) fn render(level: &str, name: &str, e: &Error, extra: Option<String>) -> String {
    let mut text = format!("{level}: integration `{name}` failed: {e}\n");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!("  caused by: {s}\n"));
        source = s.source();
    }
    for h in e.hint().into_iter().chain(extra) {
        for line in h.lines() {
            text.push_str(&format!("hint: {}\n", line.strip_prefix("hint: ").unwrap_or(line)));
        }
    }
    text
}
