//! The `tfauth` binary: parse arguments, set up logging to stderr, run, and turn errors
//! into a message with hints and a documented exit code.

use clap::Parser;
use std::process::ExitCode;
use tfauth::cli::settings::{Flags, Settings};
use tfauth::cli::{Cli, Ctx, run};
use tfauth::env_vars::Env;
use tfauth::{error, exit};

fn main() -> ExitCode {
    tfauth::no_core_dumps();
    tfauth::exit_70_on_panic();
    // The helper's cold half (see tfauth::cli::helper::COLD_SUBCOMMAND).
    let mut argv = std::env::args_os().skip(1);
    if argv.next().is_some_and(|a| a == tfauth::cli::helper::COLD_SUBCOMMAND) {
        return ExitCode::from(tfauth::cli::helper::cold_main(argv).clamp(0, 255) as u8);
    }
    // `tfauth prompt` runs on every shell line: it skips the full parser too.
    if std::env::args_os().nth(1).is_some_and(|a| a == "prompt")
        && let Some(code) = tfauth::cli::shell::prompt_main(std::env::args_os().skip(2))
    {
        return ExitCode::from(code.clamp(0, 255) as u8);
    }
    // The EKS token plugin: kubectl runs it on every command, so it skips the full parser.
    let words = tfauth::cli::eks::TOKEN_WORDS;
    if std::env::args_os().skip(1).take(3).eq(words.iter().map(std::ffi::OsString::from)) {
        let code = tfauth::cli::eks::token_main(std::env::args_os().skip(4));
        return ExitCode::from(code.clamp(0, 255) as u8);
    }
    // The GKE and AKS token plugins, likewise.
    for (words, kind) in [
        (tfauth::cli::kube_token::GKE_WORDS, tfauth::session::bearer::Kind::Gke),
        (tfauth::cli::kube_token::AKS_WORDS, tfauth::session::bearer::Kind::Aks),
    ] {
        if std::env::args_os().skip(1).take(3).eq(words.iter().map(std::ffi::OsString::from)) {
            let code = tfauth::cli::kube_token::token_main(kind, std::env::args_os().skip(4));
            return ExitCode::from(code.clamp(0, 255) as u8);
        }
    }
    let env = Env::capture();
    tfauth::util::dirs::trust_home(&env);
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                _ => exit::USAGE,
            };
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
    let flags =
        Flags { profiles: cli.profile.clone(), no_browser: cli.no_browser, verbose: cli.verbose, quiet: cli.quiet };
    let settings = Settings::resolve(&flags, &env);
    tfauth::util::logging::init(settings.log_level, &env, false);
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => {
            eprint!("{}", error::render(&e, Some("run tfauth from a directory that exists")));
            return ExitCode::from(exit::NOINPUT as u8);
        }
    };
    let ctx = Ctx { env, cwd, self_exe: std::env::current_exe().ok(), settings };
    match run(cli, ctx) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprint!("{}", error::render(&e, e.hint().as_deref()));
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
