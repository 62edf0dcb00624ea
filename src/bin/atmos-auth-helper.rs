//! The `atmos-auth-helper` binary: one JSON document on stdout, or a message with a hint
//! on stderr and a documented exit code. See `tfauth::cli::helper`.

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;
use tfauth::cli::helper::{HelperArgs, cold, warm};
use tfauth::env_vars::Env;
use tfauth::{error, exit};

fn main() -> ExitCode {
    tfauth::no_core_dumps();
    tfauth::exit_70_on_panic();
    let args = match HelperArgs::try_parse() {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => exit::USAGE,
            };
            // Help and version are asked for; anything else must keep stdout empty.
            if code == 0 {
                let _ = e.print();
            } else {
                eprint!("{}\nhint: credential_process = atmos-auth-helper --identity acme/planner\n", e.render());
            }
            return ExitCode::from(code as u8);
        }
    };
    let env = Env::capture();
    if let Some(home) = env.get(tfauth::env_vars::HOME) {
        tfauth::util::fs::trust_home_owner(std::path::Path::new(home));
    }
    if let Some(doc) = warm(&args, &env) {
        return print(&doc);
    }
    tfauth::util::logging::init(None, &env, true);
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    match cold(&args, &env, cwd) {
        Ok(doc) => print(&doc),
        Err(e) => {
            eprint!("{}", error::render(&e, e.hint().as_deref()));
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn print(doc: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{doc}").and_then(|()| out.flush()).is_err() {
        return ExitCode::from(exit::SOFTWARE as u8);
    }
    ExitCode::SUCCESS
}
