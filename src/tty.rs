//! Asking the user on the terminal. Prompts go to `/dev/tty`, never stdout, so stdout stays
//! data. Without a terminal (CI, pipes, the credential helper), there is no prompt and
//! callers fail with the candidates instead of waiting for input that cannot come.

use crate::identity::Prompt;
use std::io::{BufRead, BufReader, Write};

/// A prompt on `/dev/tty`, if one can be opened and this is not CI.
pub struct Tty;

impl Tty {
    pub fn open(env: &crate::env_vars::Env) -> Option<Tty> {
        if env.get("CI").is_some_and(|v| v != "false") {
            return None;
        }
        std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").ok().map(|_| Tty)
    }
}

impl Prompt for Tty {
    fn choose(&self, question: &str, items: &[String]) -> Option<usize> {
        let tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").ok()?;
        let mut out = tty.try_clone().ok()?;
        writeln!(out, "{question}").ok()?;
        for (i, item) in items.iter().enumerate() {
            writeln!(out, "  {:>2}) {item}", i + 1).ok()?;
        }
        write!(out, "Enter a number (1-{}): ", items.len()).ok()?;
        out.flush().ok()?;
        let mut line = String::new();
        BufReader::new(tty).read_line(&mut line).ok()?;
        let n: usize = line.trim().parse().ok()?;
        (1..=items.len()).contains(&n).then(|| n - 1)
    }
}

impl crate::providers::aws::MfaPrompt for Tty {
    fn code(&self, identity: &str, mfa_arn: &str) -> Option<crate::secret::Secret> {
        let tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").ok()?;
        let mut out = tty.try_clone().ok()?;
        write!(out, "MFA code for {identity} ({mfa_arn}): ").ok()?;
        out.flush().ok()?;
        let mut line = String::new();
        BufReader::new(tty).read_line(&mut line).ok()?;
        let code = line.trim();
        (!code.is_empty()).then(|| crate::secret::Secret::new(code))
    }
}
