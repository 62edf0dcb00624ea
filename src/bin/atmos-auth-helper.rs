//! `atmos-auth-helper --identity NAME`: the `credential_process` that serves an identity's
//! AWS credentials as one JSON document on stdout. Obtaining credentials is not built yet,
//! so for now it fails at once, on stderr, with exit 69 and no output on stdout: an SDK
//! that calls it sees a clean failure, never a hang or malformed JSON.

use std::process::ExitCode;
use tfauth::exit;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: atmos-auth-helper --identity NAME [--config PATH] [--profile P] [--stack S --component C]");
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--version" || a == "-V") {
        println!("atmos-auth-helper {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let identity = args
        .iter()
        .position(|a| a == "--identity")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .or_else(|| args.iter().find_map(|a| a.strip_prefix("--identity=").map(str::to_string)));
    let Some(identity) = identity else {
        eprintln!(
            "error: --identity NAME is required\n\nhint: credential_process = atmos-auth-helper --identity acme/planner"
        );
        return ExitCode::from(exit::USAGE as u8);
    };
    eprintln!(
        "error: atmos-auth-helper cannot obtain credentials for identity `{identity}` yet\n\nhint: this build of tfauth resolves configuration only; credential fetching is not available"
    );
    ExitCode::from(exit::UNAVAILABLE as u8)
}
