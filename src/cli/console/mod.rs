//! `tfauth auth console`: opens (or prints) an AWS console sign-in URL for the identity.
//! The federation work is in [`crate::cli::console::signin`]; this file picks the session, the duration,
//! the destination and where the URL goes.

pub mod signin;

use super::{Ctx, Target};
use crate::env_vars::TFAUTH_AWS_FEDERATION_URL;
use crate::error::Error;
use crate::session::{self, Interaction};
use clap::Args;
use signin::{MAX_DURATION, MIN_DURATION, Partition};

#[derive(Args, Debug)]
#[command(after_long_help = "\
Examples:
  # The AWS console as plat-dev/admin, in the browser
  tfauth auth console -i plat-dev/admin

  # The sign-in URL on stdout, for another browser
  tfauth auth console -i plat-dev/admin --print-only

  # S3, for one hour
  tfauth auth console -i plat-dev/admin --destination https://console.aws.amazon.com/s3/ --duration 1h")]
pub struct ConsoleArgs {
    #[command(flatten)]
    pub target: Target,
    /// Where the console opens (default: the console home of the identity's region).
    #[arg(long)]
    pub destination: Option<String>,
    /// How long the console session lasts, 15m to 12h (default: the provider's
    /// `console.session_duration`, else AWS's default).
    #[arg(long)]
    pub duration: Option<String>,
    /// Print the sign-in URL on stdout instead of opening a browser (it signs in whoever
    /// opens it, for about 15 minutes).
    #[arg(long)]
    pub print_only: bool,
    /// The issuer the console shows as where the user signed in.
    #[arg(long, default_value = "tfauth")]
    pub issuer: String,
}

pub fn run(args: ConsoleArgs, ctx: &Ctx) -> Result<i32, Error> {
    let prompt = ctx.prompt();
    let res = crate::resolve::resolve(&ctx.request(&args.target), &ctx.env, prompt.as_ref().map(|p| p as _))?;
    super::warn_problems(&res.warnings);
    let (name, chain) = res.chosen()?;
    if chain.leaf().cloud() != Some(crate::auth::Cloud::Aws) {
        return Err(Error::usage(
            format!("`auth console` signs in to the AWS console; `{name}` is a {} identity", chain.leaf().kind_name),
            Some("pass an AWS identity with --identity".to_string()),
        ));
    }
    let duration = duration(args.duration.as_deref(), &res, chain)?;
    let region = chain.aws_region(res.stack_region()).0.to_string();
    let partition = Partition::of_region(&region);
    let federation = ctx.env.get(TFAUTH_AWS_FEDERATION_URL).unwrap_or(partition.federation_url()).to_string();
    let destination = args.destination.clone().unwrap_or_else(|| partition.console_home(&region));

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
    let url = signin::login_url(&federation, &args.issuer, &destination, token.expose());
    tracing::info!(identity = %name, partition = partition.name(), "console sign-in token issued");
    if args.print_only {
        println!("{url}");
        return Ok(0);
    }
    let opener = &ctx.settings.browser_opener;
    if ctx.settings.open_browser {
        eprintln!("Opening the {} console as `{name}`...", partition.name());
        match signin::hand_to_browser(opener, &url, std::time::Duration::from_secs(120)) {
            Ok(true) => return Ok(0),
            Ok(false) => eprintln!("The browser did not come for the sign-in page within 2 minutes."),
            Err(e) => eprintln!("Could not start the browser ({}): {e}", opener.join(" ")),
        }
    }
    Err(Error::usage(
        "no browser to open the console in",
        Some(format!(
            "run `tfauth auth console -i {name} --print-only` and open the URL yourself (it signs in whoever opens it)"
        )),
    ))
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
