//! The `atmos-auth-helper` binary: one JSON document on stdout, or a message with a hint
//! on stderr and a documented exit code. See `tfauth::cli::helper`. It holds the warm path
//! only (a cache read and a print); on a miss it execs `tfauth __helper-cold` with the same
//! arguments and environment, so this binary links no SDK and starts as fast as it can.
//! It is also the EKS exec plugin kubeconfigs run (`atmos-auth-helper aws eks token ...`):
//! warm, a cache read and a local presign; otherwise `tfauth aws eks token ...`. The GKE
//! and AKS plugins (`gcp gke token ...`, `azure aks token ...`) likewise: a cached token,
//! else `tfauth` with the same words. And `prompt`, which the shell snippets run on every
//! line, answered here as `tfauth prompt` would.
//!
//! It starts from C's `main` (`#![no_main]`): Rust's runtime set-up costs a fifth of a warm
//! call's instructions (it reads `/proc/self/maps` to place a stack guard), so this binary
//! does only the parts of it that matter here ([`tfauth::util::sys::init_like_rust_runtime`])
//! and takes its arguments from `argv`. Nothing here may use `std::env::args`: on musl (the
//! release archives) std fills it only when its own runtime starts the program.

// The test harness brings its own `main` (`cargo test --all-targets` builds this file as
// a harness with no tests), so the C entry point is left out there.
#![cfg_attr(not(test), no_main)]

use clap::Parser;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::CommandExt;
use tfauth::cli::helper::{COLD_SUBCOMMAND, HelperArgs, WARM_VARS, warm, warm_words};
use tfauth::env_vars::Env;
use tfauth::exit;

/// The C entry point: the runtime's essentials, then [`run`] on `argv`.
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(argc: std::ffi::c_int, argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    tfauth::util::sys::init_like_rust_runtime();
    // SAFETY: these are the `argc` and `argv` the C runtime passed to `main`.
    let args = unsafe { tfauth::util::sys::args_from_c(argc, argv) };
    let code = run(&args);
    // Rust's runtime flushes stdout at exit; without it, this does.
    let _ = std::io::stdout().flush();
    code
}

/// The helper on its arguments (the program name first); returns the exit code.
#[cfg_attr(test, allow(dead_code))]
fn run(args: &[OsString]) -> i32 {
    tfauth::no_core_dumps();
    tfauth::exit_70_on_panic();
    let words = args.get(1..).unwrap_or_default();
    // The EKS exec plugin that kubeconfigs run (`aws eks token ...`): the warm path here, at
    // this binary's start-up cost; anything else is `tfauth aws eks token` with the same words.
    let starts_with = |first: &[&str]| words.len() >= first.len() && words.iter().zip(first).all(|(w, f)| w == f);
    if starts_with(&tfauth::cli::eks::TOKEN_WORDS) {
        if let Some(doc) = tfauth::cli::eks::warm_from_args(words[3..].iter().cloned()) {
            return print(&doc);
        }
        return exec_tfauth(&[], words);
    }
    // The GKE and AKS plugins: a cached token, else `tfauth` with the same words.
    for (first, kind) in [
        (tfauth::cli::kube_token::GKE_WORDS, tfauth::session::bearer::Kind::Gke),
        (tfauth::cli::kube_token::AKS_WORDS, tfauth::session::bearer::Kind::Aks),
    ] {
        if starts_with(&first) {
            if let Some(doc) = tfauth::cli::kube_token::warm_from_args(kind, words[3..].iter().cloned()) {
                return print(&doc);
            }
            return exec_tfauth(&[], words);
        }
    }
    // `prompt`, which the shell snippets run on every line: the same answer as
    // `tfauth prompt`, at this binary's start-up cost; anything it cannot read (help, a
    // bad flag) is `tfauth prompt` with the same words.
    if words.first().is_some_and(|a| a == "prompt") {
        return match tfauth::cli::shell::prompt_main(words[1..].iter().cloned()) {
            Some(code) => code,
            None => exec_tfauth(&[], words),
        };
    }
    // The credential_process words tfauth writes are read without clap (every provider
    // process Terraform starts runs this); any other shape, help and mistakes are clap's.
    let args = match warm_words(words).map(Ok).unwrap_or_else(|| HelperArgs::try_parse_from(args)) {
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
            return code;
        }
    };
    // Only the variables the warm path reads: copying the whole environment costs more.
    let env = Env::capture_only(WARM_VARS);
    tfauth::util::dirs::trust_home(&env);
    if let Some(doc) = warm(&args, &env) {
        return print(&doc);
    }
    // A miss: the cold half lives in `tfauth` beside this binary, so this one links only
    // the warm path (see `tfauth::cli::helper::COLD_SUBCOMMAND`).
    exec_tfauth(&[COLD_SUBCOMMAND], words)
}

/// Execs the `tfauth` beside this binary with `first` and then `words`.
fn exec_tfauth(first: &[&str], words: &[OsString]) -> i32 {
    let tfauth = std::env::current_exe().ok().and_then(|me| Some(me.parent()?.join("tfauth")));
    let Some(tfauth) = tfauth.filter(|p| p.is_file()) else {
        eprint!(
            "error: atmos-auth-helper needs the `tfauth` installed beside it to refresh credentials\n\n\
             hint: install both binaries into one directory (`cargo install` does)\n"
        );
        return exit::UNAVAILABLE;
    };
    let err = std::process::Command::new(&tfauth).args(first).args(words).exec();
    eprintln!("error: cannot run {}: {err}\n\nhint: reinstall tfauth and atmos-auth-helper", tfauth.display());
    exit::UNAVAILABLE
}

fn print(doc: &str) -> i32 {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{doc}").and_then(|()| out.flush()).is_err() {
        return exit::SOFTWARE;
    }
    0
}
