//! The `atmos-auth-helper` binary: one JSON document on stdout, or a message with a hint
//! on stderr and a documented exit code. See `tfauth::cli::helper`. It holds the warm path
//! only (a cache read and a print); on a miss it execs `tfauth __helper-cold` with the same
//! arguments and environment, so this binary links no SDK and starts as fast as it can.
//! It is also the EKS exec plugin kubeconfigs run (`atmos-auth-helper aws eks token ...`):
//! warm, a cache read and a local presign; otherwise `tfauth aws eks token ...`. The GKE
//! and AKS plugins (`gcp gke token ...`, `azure aks token ...`) likewise: a cached token,
//! else `tfauth` with the same words. And `prompt`, which the shell snippets run on every
//! line, answered here as `tfauth prompt` would.

use clap::Parser;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::ExitCode;
use tfauth::cli::helper::{COLD_SUBCOMMAND, HelperArgs, warm};
use tfauth::env_vars::Env;
use tfauth::exit;

fn main() -> ExitCode {
    tfauth::no_core_dumps();
    tfauth::exit_70_on_panic();
    // The EKS exec plugin that kubeconfigs run (`aws eks token ...`): the warm path here, at
    // this binary's start-up cost; anything else is `tfauth aws eks token` with the same words.
    let words = tfauth::cli::eks::TOKEN_WORDS;
    if std::env::args_os().skip(1).take(3).eq(words.iter().map(std::ffi::OsString::from)) {
        if let Some(doc) = tfauth::cli::eks::warm_from_args(std::env::args_os().skip(4)) {
            return print(&doc);
        }
        return exec_tfauth(&[]);
    }
    // The GKE and AKS plugins: a cached token, else `tfauth` with the same words.
    for (words, kind) in [
        (tfauth::cli::kube_token::GKE_WORDS, tfauth::session::bearer::Kind::Gke),
        (tfauth::cli::kube_token::AKS_WORDS, tfauth::session::bearer::Kind::Aks),
    ] {
        if std::env::args_os().skip(1).take(3).eq(words.iter().map(std::ffi::OsString::from)) {
            if let Some(doc) = tfauth::cli::kube_token::warm_from_args(kind, std::env::args_os().skip(4)) {
                return print(&doc);
            }
            return exec_tfauth(&[]);
        }
    }
    // `prompt`, which the shell snippets run on every line: the same answer as
    // `tfauth prompt`, at this binary's start-up cost; anything it cannot read (help, a
    // bad flag) is `tfauth prompt` with the same words.
    if std::env::args_os().nth(1).is_some_and(|a| a == "prompt") {
        return match tfauth::cli::shell::prompt_main(std::env::args_os().skip(2)) {
            Some(code) => ExitCode::from(code.clamp(0, 255) as u8),
            None => exec_tfauth(&[]),
        };
    }
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
                eprint!(
                    "{}\nhint: credential_process = atmos-auth-helper --identity NAME (`tfauth auth list` shows the identities)\n",
                    e.render()
                );
            }
            return ExitCode::from(code as u8);
        }
    };
    let env = Env::capture();
    tfauth::util::dirs::trust_home(&env);
    if let Some(doc) = warm(&args, &env) {
        return print(&doc);
    }
    // A miss: the cold half lives in `tfauth` beside this binary, so this one links only
    // the warm path (see `tfauth::cli::helper::COLD_SUBCOMMAND`).
    exec_tfauth(&[COLD_SUBCOMMAND])
}

/// Execs the `tfauth` beside this binary with `first` and this process's arguments.
fn exec_tfauth(first: &[&str]) -> ExitCode {
    let tfauth = std::env::current_exe().ok().and_then(|me| Some(me.parent()?.join("tfauth")));
    let Some(tfauth) = tfauth.filter(|p| p.is_file()) else {
        eprint!(
            "error: atmos-auth-helper needs the `tfauth` installed beside it to refresh credentials\n\n\
             hint: install both binaries into one directory (`cargo install` does)\n"
        );
        return ExitCode::from(exit::UNAVAILABLE as u8);
    };
    let err = std::process::Command::new(&tfauth).args(first).args(std::env::args_os().skip(1)).exec();
    eprintln!("error: cannot run {}: {err}\n\nhint: reinstall tfauth and atmos-auth-helper", tfauth.display());
    ExitCode::from(exit::UNAVAILABLE as u8)
}

fn print(doc: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{doc}").and_then(|()| out.flush()).is_err() {
        return ExitCode::from(exit::SOFTWARE as u8);
    }
    ExitCode::SUCCESS
}
