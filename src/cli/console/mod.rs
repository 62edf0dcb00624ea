//! `tfauth auth console`: the cloud's web console as the identity, as `atmos auth console`
//! opens it. AWS identities get the federation sign-in ([`signin`]) on a destination
//! ([`destination`]: Atmos's aliases, or a console URL of the identity's partition); Azure
//! identities the portal in their tenant ([`azure`]); any other kind a clear refusal
//! ([`errors`]). This file picks the identity, checks every flag before any call, and
//! decides where the URL goes:
//!
//! - `--print-only`: the URL alone on stdout (for a pipe);
//! - `--no-open`: what was made on stderr, the URL on stdout, no browser;
//! - neither: the browser. The AWS sign-in URL is a bearer credential for about 15
//!   minutes, so it never goes on a command line, into a log or into an error: the browser
//!   gets it through [`signin::hand_to_browser`]'s one-time loopback redirect, and where no
//!   browser can open, the hint points to `--no-open` instead of printing it.

pub mod azure;
pub mod destination;
pub mod errors;
pub mod signin;

use super::{Ctx, Target};
use crate::auth::Cloud;
use crate::env_vars::TFAUTH_AWS_FEDERATION_URL;
use crate::error::Error;
use crate::session::{self, Interaction};
use clap::Args;
pub use errors::ConsoleError;
use signin::{MAX_DURATION, MIN_DURATION, Partition};

/// The issuer of the AWS federation login URL when `--issuer` names none (Atmos's is `atmos`).
pub const DEFAULT_ISSUER: &str = "tfauth";

#[derive(Args, Debug)]
#[command(after_long_help = long_help())]
pub struct ConsoleArgs {
    #[command(flatten)]
    pub target: Target,
    /// Where the console opens: an alias (AWS: s3, ec2, iam, lambda, ...; Azure: rg, vm, kv,
    /// sub, ...; listed below) or a URL on the identity's console (AWS) or portal (Azure).
    /// Default: the console home of the identity's region; Azure: the tenant's portal home.
    #[arg(long)]
    pub destination: Option<String>,
    /// How long the AWS console session lasts, 15m to 12h (default: the provider's
    /// `console.session_duration`, else AWS's default).
    #[arg(long)]
    pub duration: Option<String>,
    /// Print the console URL alone on stdout instead of opening a browser (an AWS sign-in
    /// URL signs in whoever opens it, for about 15 minutes).
    #[arg(long)]
    pub print_only: bool,
    /// Do not open a browser: say what was made on stderr and print the URL on stdout.
    #[arg(long)]
    pub no_open: bool,
    /// The Issuer of the AWS federation login URL: where the console sends the user when
    /// the session ends, usually your sign-in page's URL (default: tfauth).
    #[arg(long)]
    pub issuer: Option<String>,
}

/// The examples, then every alias, from the tables themselves.
fn long_help() -> String {
    let mut out = String::from(
        "\
Examples:
  # The AWS console as plat-dev/admin, in the browser
  tfauth auth console -i plat-dev/admin

  # The sign-in URL on stdout, for another browser
  tfauth auth console -i plat-dev/admin --print-only

  # S3, for one hour
  tfauth auth console -i plat-dev/admin --destination s3 --duration 1h

  # A console page by its URL; the URL on stdout and what it is on stderr
  tfauth auth console -i plat-dev/admin --no-open \\
      --destination https://us-east-1.console.aws.amazon.com/ec2/home

  # The Azure portal's resource groups, in the tenant of the identity's provider
  tfauth auth console blobstore -s plat-use2-dev -i azure/plat-dev --destination rg
",
    );
    let aws: Vec<&str> = destination::ALIASES.iter().map(|(a, _)| *a).collect();
    let az: Vec<&str> = azure::ALIASES.iter().map(|(a, _)| *a).collect();
    for (title, names) in [("AWS destination aliases", aws), ("Azure destination aliases", az)] {
        out.push_str(&format!("\n{title}:\n"));
        let mut line = String::from(" ");
        for n in names {
            if line.len() + 1 + n.len() > 90 {
                out.push_str(&line);
                out.push('\n');
                line = String::from(" ");
            }
            line.push(' ');
            line.push_str(n);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Where the URL goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Show {
    /// stdout, alone.
    PrintOnly,
    /// stdout, with what it is on stderr.
    NoOpen,
    Browser,
}

pub fn run(args: ConsoleArgs, ctx: &Ctx) -> Result<i32, Error> {
    let prompt = ctx.prompt();
    let res = crate::resolve::resolve(&ctx.request(&args.target), &ctx.env, prompt.as_ref().map(|p| p as _))?;
    super::warn_problems(&res.warnings);
    let (name, chain) = res.chosen()?;
    let show = match (args.print_only, args.no_open) {
        (true, _) => Show::PrintOnly,
        (false, true) => Show::NoOpen,
        (false, false) => Show::Browser,
    };
    match chain.leaf().cloud() {
        Some(Cloud::Aws) => aws(&args, show, ctx, &res, name, chain),
        Some(Cloud::Azure) => azure(&args, show, ctx, name, chain),
        cloud => {
            Err(ConsoleError::NoConsole { identity: name.clone(), kind: chain.leaf().kind_name.clone(), cloud }.into())
        }
    }
}

/// The refusal where a browser is wanted and none may open (CI, `--no-browser`,
/// `TFAUTH_NO_BROWSER`, or the opener failed): the URL is not printed, the hint says how.
fn no_browser(name: &str, why: &str) -> Error {
    Error::usage(
        format!("no browser to open the console for `{name}` in: {why}"),
        Some(
            "run the same command with `--no-open` (or `--print-only`) and open the URL it prints on stdout yourself"
                .to_string(),
        ),
    )
}

fn aws(
    args: &ConsoleArgs,
    show: Show,
    ctx: &Ctx,
    res: &crate::resolve::Resolution,
    name: &str,
    chain: &crate::identity::Chain,
) -> Result<i32, Error> {
    // Every flag is checked before a session is fetched or a token minted.
    let duration = duration(args.duration.as_deref(), res, chain)?;
    let region = chain.aws_region(res.stack_region()).0.to_string();
    let partition = Partition::of_region(&region);
    let destination = destination::resolve(args.destination.as_deref(), partition, &region)?;
    if show == Show::Browser && !ctx.settings.open_browser {
        return Err(no_browser(name, "--no-browser, CI or TFAUTH_NO_BROWSER says not to open one"));
    }
    let federation = ctx.env.get(TFAUTH_AWS_FEDERATION_URL).unwrap_or(partition.federation_url()).to_string();
    let issuer = args.issuer.as_deref().unwrap_or(DEFAULT_ISSUER);

    let login = crate::cli::tty::LoginPrompt::new(&ctx.env, &ctx.settings);
    let tty = ctx.prompt();
    let ask = Interaction {
        mfa: tty.as_ref().map(|t| t as _),
        login: login.as_ref().map(|l| l as _),
        device: login.as_ref().map(|l| l as _),
        mode: crate::session::portal::Mode::Use,
    };
    let s = session::obtain(&res.scope(&ctx.env), chain, &ctx.env, ask)?;
    let token = signin::signin_token(name, &federation, &s.credentials, duration)?;
    let url = signin::login_url(&federation, issuer, &destination, token.expose());
    tracing::info!(identity = %name, partition = partition.name(), %destination, "console sign-in token issued");
    let session = match duration {
        Some(d) => {
            let until = time::OffsetDateTime::now_utc() + time::Duration::seconds(d as i64);
            format!("{} (until {:02}:{:02} UTC)", human(d), until.hour(), until.minute())
        }
        None => "AWS's default".to_string(),
    };
    match show {
        Show::PrintOnly => println!("{url}"),
        Show::NoOpen => {
            eprintln!("Console sign-in URL for `{name}` ({} partition{}):", partition.name(), via(chain));
            eprintln!("  destination  {destination}");
            eprintln!("  session      {session}");
            eprintln!("  issuer       {issuer}");
            eprintln!("It is on stdout; it signs in whoever opens it, for about 15 minutes.");
            println!("{url}");
        }
        Show::Browser => {
            eprintln!("Opening the {} console as `{name}` ({destination}, session {session})...", partition.name());
            let opener = &ctx.settings.browser_opener;
            match signin::hand_to_browser(opener, &url, std::time::Duration::from_secs(120)) {
                Ok(true) => {}
                Ok(false) => return Err(no_browser(name, "the browser did not come for the page within 2 minutes")),
                Err(e) => return Err(no_browser(name, &format!("cannot start {}: {e}", opener.join(" ")))),
            }
        }
    }
    Ok(0)
}

fn azure(args: &ConsoleArgs, show: Show, ctx: &Ctx, name: &str, chain: &crate::identity::Chain) -> Result<i32, Error> {
    let portal = azure::portal(name, chain, args.destination.as_deref())?;
    if args.duration.is_some() || args.issuer.is_some() {
        tracing::warn!("--duration and --issuer apply to the AWS console; the Azure portal keeps its own session");
    }
    if show == Show::Browser && !ctx.settings.open_browser {
        return Err(no_browser(name, "--no-browser, CI or TFAUTH_NO_BROWSER says not to open one"));
    }
    let url = &portal.url;
    tracing::info!(identity = %name, tenant = %portal.tenant, "Azure portal URL made");
    match show {
        Show::PrintOnly => println!("{url}"),
        Show::NoOpen => {
            eprintln!(
                "Azure portal for `{name}` (tenant {}, {} cloud{}).",
                portal.tenant,
                portal.cloud.name(),
                via(chain)
            );
            eprintln!("The portal asks the browser to sign in to that tenant; the URL is on stdout.");
            println!("{url}");
        }
        Show::Browser => {
            eprintln!("Opening the Azure portal for `{name}` (tenant {})...", portal.tenant);
            // No secret in this URL: the opener may have it on its command line.
            crate::cli::tty::launch_opener(&ctx.settings.browser_opener, url).map_err(|why| no_browser(name, &why))?;
        }
    }
    Ok(0)
}

/// `, via `provider`` for a chain from a provider; nothing for a standalone identity.
fn via(chain: &crate::identity::Chain) -> String {
    match &chain.root {
        crate::identity::ChainRoot::Provider(p) => format!(", via `{}`", p.name),
        crate::identity::ChainRoot::Standalone => String::new(),
    }
}

/// `7200` as `2h`, `5400` as `1h30m`, `900` as `15m`.
fn human(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// `--duration`, else the provider's `console.session_duration`, checked against AWS's
/// limits; `None` leaves the choice to AWS.
fn duration(
    flag: Option<&str>,
    res: &crate::resolve::Resolution,
    chain: &crate::identity::Chain,
) -> Result<Option<u64>, Error> {
    let configured = || {
        let providers = res.auth_node.get("providers")?.as_map()?;
        let (_, p) = providers.iter().find(|(k, _)| k.eq_ignore_ascii_case(chain.root_name()))?;
        p.get_path(&["console", "session_duration"]).and_then(crate::yaml::Node::as_str).map(str::to_string)
    };
    let (text, source) = match flag {
        Some(f) => (f.to_string(), "--duration".to_string()),
        None => match configured() {
            Some(c) => (c, format!("providers.{}.console.session_duration", chain.root_name())),
            None => return Ok(None),
        },
    };
    let secs = crate::auth::schema::parse_duration(&text).ok_or_else(|| {
        Error::usage(format!("{source} `{text}` is not a duration"), Some("write it like `1h`, `90m` or `12h`".into()))
    })?;
    if !(MIN_DURATION..=MAX_DURATION).contains(&secs) {
        return Err(Error::usage(
            format!("{source} `{text}` is outside what AWS allows for a console session"),
            Some("use 15m to 12h".into()),
        ));
    }
    Ok(Some(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(human(7200), "2h");
        assert_eq!(human(5400), "1h30m");
        assert_eq!(human(900), "15m");
        assert_eq!(human(3601), "1h1s");
        assert_eq!(human(0), "0s");
    }

    #[test]
    fn the_long_help_lists_every_alias_within_the_width() {
        let help = long_help();
        for (a, _) in destination::ALIASES {
            assert!(help.split_whitespace().any(|w| w == *a), "{a}");
        }
        for (a, _) in azure::ALIASES {
            assert!(help.split_whitespace().any(|w| w == *a), "{a}");
        }
        let aliases = help.split("AWS destination aliases:").nth(1).unwrap();
        assert!(aliases.lines().all(|l| l.len() <= 90), "{aliases}");
    }
}
