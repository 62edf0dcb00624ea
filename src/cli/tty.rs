//! Asking the user on the terminal. Prompts go to `/dev/tty`, never stdout, so stdout stays
//! data. Without a terminal (CI, pipes, the credential helper), there is no prompt and
//! callers fail with the candidates instead of waiting for input that cannot come.

use crate::identity::Prompt;
use std::io::{BufRead, BufReader, Write};

/// A prompt on `/dev/tty`, if one can be opened and this is not CI.
pub struct Tty;

impl Tty {
    pub fn open(env: &crate::env_vars::Env) -> Option<Tty> {
        if env.get(crate::env_vars::CI).is_some_and(|v| v != "false") {
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

    fn saml(&self) -> Option<&dyn crate::providers::saml::SamlUi> {
        Some(self)
    }
}

/// An `aws/saml` sign-in's questions: the password with echo off, the MFA factor and the
/// role as numbered choices, the push countdown rewritten in place.
impl crate::providers::saml::SamlUi for Tty {
    fn ask(&self, question: &str, echo: bool) -> Option<crate::secret::Secret> {
        ask_line(question, echo).map(crate::secret::Secret::new)
    }

    fn choose(&self, question: &str, items: &[String]) -> Option<usize> {
        Prompt::choose(self, question, items)
    }

    fn status(&self, text: Option<&str>) {
        if let Ok(mut tty) = std::fs::OpenOptions::new().write(true).open("/dev/tty") {
            let _ = match text {
                Some(t) => write!(tty, "\r\x1b[K{t}"),
                None => write!(tty, "\r\x1b[K"),
            };
            let _ = tty.flush();
        }
    }
}

/// The IAM Identity Center device flow on `/dev/tty`: the code and the URL, the browser
/// opened on the URL (unless `--no-browser`, CI, or `TFAUTH_NO_BROWSER`), and a countdown
/// rewritten in place while the service waits for the user.
pub struct LoginPrompt {
    open_browser: bool,
    /// `$BROWSER`'s first entry, else the platform's opener.
    opener: Vec<String>,
}

impl LoginPrompt {
    /// A prompt, if there is a terminal to show it on.
    pub fn new(env: &crate::env_vars::Env, settings: &super::settings::Settings) -> Option<LoginPrompt> {
        Tty::open(env)?;
        Some(LoginPrompt { open_browser: settings.open_browser, opener: settings.browser_opener.clone() })
    }

    fn write(&self, text: &str) {
        if let Ok(mut tty) = std::fs::OpenOptions::new().write(true).open("/dev/tty") {
            let _ = tty.write_all(text.as_bytes());
            let _ = tty.flush();
        }
    }

    /// Starts the opener on `url` (see [`launch_opener`]); false when it could not start.
    fn launch(&self, url: &str) -> bool {
        match launch_opener(&self.opener, url) {
            Ok(()) => true,
            Err(why) => {
                tracing::debug!(reason = %why, "cannot start the browser opener");
                false
            }
        }
    }
}

/// Starts `opener` on `url` and forgets it: its output is discarded (browsers are chatty,
/// and the terminal belongs to the prompt), and a thread reaps it, since a browser run as
/// the opener may stay for hours. Err says why it could not start.
pub fn launch_opener(opener: &[String], url: &str) -> Result<(), String> {
    let argv = opener_argv(opener, url);
    let Some((program, args)) = argv.split_first() else { return Err("no browser opener is set".into()) };
    let child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match child {
        Ok(mut c) => {
            std::thread::spawn(move || c.wait());
            Ok(())
        }
        Err(e) => Err(format!("cannot start {program}: {e}")),
    }
}

/// The opener's command line for `url`: in place of `%s`, else appended.
pub fn opener_argv(opener: &[String], url: &str) -> Vec<String> {
    let mut argv = opener.to_vec();
    match argv.iter_mut().find(|a| a.contains("%s")) {
        Some(a) => *a = a.replace("%s", url),
        None => argv.push(url.to_string()),
    }
    argv
}

impl crate::session::portal::LoginUi for LoginPrompt {
    fn begin(&self, portal: &crate::session::portal::PortalRef, auth: &crate::providers::sso::DeviceAuthorization) {
        let mut text = format!(
            "\nSign in to IAM Identity Center for `{}` ({}).\n\n  Code: {}\n  URL:  {}\n\n",
            portal.provider, portal.start_url, auth.user_code, auth.verification_uri_complete
        );
        if self.open_browser && self.launch(&auth.verification_uri_complete) {
            text.push_str("The browser is opening on that URL; check that it shows the same code, then approve.\n");
        } else {
            text.push_str("Open the URL in a browser, check that it shows the same code, then approve.\n");
        }
        self.write(&text);
    }

    fn progress(&self, event: crate::providers::sso::PollEvent) {
        if let crate::providers::sso::PollEvent::Waiting { remaining } = event {
            let s = remaining.as_secs();
            self.write(&format!("\r\x1b[KWaiting for approval... {}:{:02} left", s / 60, s % 60));
        }
    }

    fn end(&self, failure: Option<&crate::providers::sso::SsoError>) {
        match failure {
            None => self.write("\r\x1b[KSigned in.\n"),
            Some(e) => self.write(&format!("\r\x1b[KNot signed in: {e}\n")),
        }
    }

    fn webflow(&self) -> Option<&dyn crate::providers::aws_webflow::WebflowUi> {
        Some(self)
    }
}

impl crate::providers::aws_webflow::WebflowUi for LoginPrompt {
    fn open(&self, identity: &str, url: &str) {
        let mut text = format!("\nSign in to AWS in the browser for `{identity}`.\n\n  URL:  {url}\n\n");
        if self.open_browser && self.launch(url) {
            text.push_str("The browser is opening on that URL; sign in there, then come back here.\n");
        } else {
            text.push_str("Open the URL in a browser on this machine and sign in.\n");
        }
        self.write(&text);
    }

    fn end(&self, signed_in: bool) {
        self.write(if signed_in { "Signed in.\n" } else { "Not signed in.\n" });
    }
}

impl crate::providers::azure::DeviceCodeUi for LoginPrompt {
    fn begin(&self, provider: &str, tenant: &str, user_code: &str, url: &str) {
        let mut text = format!(
            "\nSign in to Microsoft Entra ID for `{provider}` (tenant {tenant}).\n\n  Code: {user_code}\n  URL:  {url}\n\n"
        );
        if self.open_browser && self.launch(url) {
            text.push_str("The browser is opening on that URL; enter the code there, then approve.\n");
        } else {
            text.push_str("Open the URL in a browser, enter the code, then approve.\n");
        }
        self.write(&text);
    }

    fn waiting(&self, remaining: std::time::Duration) {
        let s = remaining.as_secs();
        self.write(&format!("\r\x1b[KWaiting for approval... {}:{:02} left", s / 60, s % 60));
    }

    fn end(&self, failure: Option<&str>) {
        match failure {
            None => self.write("\r\x1b[KSigned in.\n"),
            Some(e) => self.write(&format!("\r\x1b[KNot signed in: {e}\n")),
        }
    }

    fn browse(&self, provider: &str, tenant: &str, url: &str) {
        let mut text =
            format!("\nSign in to Microsoft Entra ID for `{provider}` (tenant {tenant}) in the browser.\n\n");
        if self.open_browser && self.launch(url) {
            text.push_str("The browser is opening; finish the sign-in there.\n");
        } else {
            text.push_str(&format!("Open this URL in a browser on this machine and sign in:\n\n  {url}\n\n"));
        }
        text.push_str("Waiting for the browser to come back...");
        self.write(&text);
    }
}

/// An access key id and secret for `auth user configure`: asked on `/dev/tty` (the secret
/// without echo), or, when stdin is not a terminal, read as two lines from stdin. Never
/// from arguments, where other users could read them in the process list.
pub fn read_access_key(env: &crate::env_vars::Env) -> Result<(String, crate::secret::Secret), String> {
    use std::io::IsTerminal;
    let (id, secret) = if std::io::stdin().is_terminal() {
        if Tty::open(env).is_none() {
            return Err("there is no terminal to ask for the access key on".into());
        }
        let id = ask_line("AWS access key id: ", true).ok_or("no access key id was given")?;
        let secret = ask_line("AWS secret access key (not shown): ", false).ok_or("no secret access key was given")?;
        (id, secret)
    } else {
        let mut lines = std::io::stdin().lock().lines();
        let id = lines.next().and_then(Result::ok).unwrap_or_default();
        let secret = lines.next().and_then(Result::ok).unwrap_or_default();
        (id, secret)
    };
    let id = id.trim().to_string();
    let secret = crate::secret::Secret::new(secret.trim());
    if !(16..=128).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
        return Err(format!(
            "`{}` is not an AWS access key id (16 to 128 capital letters and digits, like AKIA...)",
            id.chars().take(32).collect::<String>()
        ));
    }
    if secret.expose().is_empty() || secret.expose().contains(char::is_whitespace) {
        return Err("the secret access key is empty or holds blanks".into());
    }
    Ok((id, secret))
}

/// A SAML user name (unless `username` is known) and password for `auth user configure`:
/// asked on `/dev/tty` (the password without echo), or, when stdin is not a terminal, read
/// from stdin (the user name's line first when it is not known). Never from arguments.
pub fn read_saml_password(
    env: &crate::env_vars::Env,
    provider: &str,
    username: Option<&str>,
) -> Result<(String, crate::secret::Secret), String> {
    use std::io::IsTerminal;
    let (user, password) = if std::io::stdin().is_terminal() {
        if Tty::open(env).is_none() {
            return Err("there is no terminal to ask for the password on".into());
        }
        let user = match username {
            Some(u) => u.to_string(),
            None => ask_line(&format!("User name at {provider}: "), true).ok_or("no user name was given")?,
        };
        let password = ask_line(&format!("Password for {} at {provider} (not shown): ", user.trim()), false)
            .ok_or("no password was given")?;
        (user, password)
    } else {
        let mut lines = std::io::stdin().lock().lines();
        let user = match username {
            Some(u) => u.to_string(),
            None => lines.next().and_then(Result::ok).unwrap_or_default(),
        };
        (user, lines.next().and_then(Result::ok).unwrap_or_default())
    };
    let user = user.trim().to_string();
    if user.is_empty() {
        return Err("the user name is empty".into());
    }
    // Only the line end goes: a password may begin or end with a blank.
    let password = crate::secret::Secret::new(password.trim_end_matches(['\r', '\n']));
    if password.expose().is_empty() {
        return Err("the password is empty".into());
    }
    Ok((user, password))
}

/// The file keyring's password, asked on `/dev/tty` with echo off when it is not in the
/// environment (installed by [`super::run`] with [`crate::keyring::set_password_prompt`]).
pub struct KeyringPassword {
    pub env: crate::env_vars::Env,
}

impl crate::keyring::PasswordPrompt for KeyringPassword {
    fn ask(&self, dir: &std::path::Path) -> Option<crate::keyring::file::Password> {
        Tty::open(&self.env)?;
        let question = format!("Password of the file keyring {} (not shown): ", dir.display());
        let min = crate::keyring::MIN_PASSWORD_CHARS;
        // Asked again when too short, as Atmos's prompt does; the third answer stands.
        for _ in 0..2 {
            let answer = ask_line(&question, false)?;
            if answer.len() >= min {
                return Some(crate::keyring::file::Password::new(answer));
            }
            if let Ok(mut tty) = std::fs::OpenOptions::new().write(true).open("/dev/tty") {
                let _ = writeln!(tty, "The password needs at least {min} characters.");
            }
        }
        ask_line(&question, false).map(crate::keyring::file::Password::new)
    }
}

/// One line from `/dev/tty` after `question`; with `echo` off, typed characters are not
/// shown (the terminal's mode is restored afterwards, also on error).
fn ask_line(question: &str, echo: bool) -> Option<String> {
    let tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").ok()?;
    let mut out = tty.try_clone().ok()?;
    write!(out, "{question}").ok()?;
    out.flush().ok()?;
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let saved = tcgetattr(&tty).ok();
    if !echo && let Some(mut t) = saved.clone() {
        t.local_modes.remove(LocalModes::ECHO);
        let _ = tcsetattr(&tty, OptionalActions::Now, &t);
    }
    let mut line = String::new();
    let read = BufReader::new(&tty).read_line(&mut line);
    if !echo {
        if let Some(t) = &saved {
            let _ = tcsetattr(&tty, OptionalActions::Now, t);
        }
        let _ = writeln!(out);
    }
    read.ok()?;
    let line = line.trim().to_string();
    (!line.is_empty()).then_some(line)
}
