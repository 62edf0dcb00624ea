//! Settings resolved once, as ripgrep turns low arguments into high ones: the global
//! flags, wherever they were written (before the command, or among terraform's own
//! arguments for `tfauth plan ... --no-browser`), and the environment variables that stand
//! for them, decided here and carried down in [`super::Ctx`]. Nothing below reads these
//! flags or variables again.
//!
//! Precedence, low to high, for each: the default, then the environment, then a flag.
//! - profiles: `profiles.default` in atmos.yaml < `ATMOS_PROFILE` < `--profile` (the first
//!   two are atmos.yaml's business, so [`crate::config`] applies them when the command
//!   line names none; flags written in two places add up, in order);
//! - browser: opened < `CI` or `TFAUTH_NO_BROWSER` (not opened) < `--no-browser`;
//!   the opener: `$BROWSER`'s first entry, else the platform's;
//! - log level: `atmos.yaml`'s `logs.level` < `ATMOS_LOGS_LEVEL` < `-q` / `-v` / `-vv`
//!   (the first two are read by [`crate::util::logging`] when no flag decides).
//!
//! It does no I/O and never prints.

use crate::env_vars::{self as ev, Env};

/// The global flags as parsed, before anything is decided.
#[derive(Clone, Debug, Default)]
pub struct Flags {
    pub profiles: Vec<String>,
    pub no_browser: bool,
    pub verbose: u8,
    pub quiet: bool,
}

/// What the flags and the environment decide, once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `--profile`, in order (empty: atmos.yaml's `ATMOS_PROFILE` or `profiles.default`).
    pub profiles: Vec<String>,
    /// Whether a login may open a browser.
    pub open_browser: bool,
    /// The program that opens one, split into words (`%s` marks where the URL goes).
    pub browser_opener: Vec<String>,
    /// The log level the flags ask for; `None` leaves it to the environment and atmos.yaml.
    pub log_level: Option<tracing::Level>,
}

impl Settings {
    pub fn resolve(flags: &Flags, env: &Env) -> Settings {
        let off = |name: &str| env.get(name).is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
        let in_ci = env.get(ev::CI).is_some_and(|v| v != "false");
        let log_level = match (flags.quiet, flags.verbose) {
            (true, _) => Some(tracing::Level::ERROR),
            (false, 0) => None,
            (false, 1) => Some(tracing::Level::DEBUG),
            (false, _) => Some(tracing::Level::TRACE),
        };
        Settings {
            profiles: flags.profiles.clone(),
            open_browser: !(flags.no_browser || in_ci || off(ev::TFAUTH_NO_BROWSER)),
            browser_opener: browser_opener(env),
            log_level,
        }
    }

    /// These settings with the flags found among terraform's arguments added (profiles
    /// after the global ones; `--no-browser` wins).
    pub fn with(&self, more: &Flags) -> Settings {
        let mut out = self.clone();
        out.profiles.extend(more.profiles.iter().cloned());
        out.open_browser &= !more.no_browser;
        out
    }
}

/// `$BROWSER`'s first entry (split into words), else the platform's opener.
fn browser_opener(env: &Env) -> Vec<String> {
    match env.get(ev::BROWSER).and_then(|b| b.split(':').find(|s| !s.trim().is_empty())) {
        Some(b) => b.split_whitespace().map(str::to_string).collect(),
        None if cfg!(target_os = "macos") => vec!["open".to_string()],
        None => vec!["xdg-open".to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    /// (case, `--no-browser`, variables, opens).
    type BrowserCase = (&'static str, bool, &'static [(&'static str, &'static str)], bool);

    #[test]
    fn the_browser_opens_unless_a_flag_ci_or_the_variable_says_not() {
        let cases: &[BrowserCase] = &[
            ("nothing set", false, &[], true),
            ("--no-browser", true, &[], false),
            ("CI=true", false, &[("CI", "true")], false),
            ("CI=false is no CI", false, &[("CI", "false")], true),
            ("TFAUTH_NO_BROWSER=1", false, &[("TFAUTH_NO_BROWSER", "1")], false),
            ("TFAUTH_NO_BROWSER=0", false, &[("TFAUTH_NO_BROWSER", "0")], true),
            ("TFAUTH_NO_BROWSER empty", false, &[("TFAUTH_NO_BROWSER", "")], true),
        ];
        for (name, flag, vars, open) in cases {
            let s = Settings::resolve(&Flags { no_browser: *flag, ..Flags::default() }, &env(vars));
            assert_eq!(s.open_browser, *open, "{name}");
        }
    }

    #[test]
    fn flags_decide_the_log_level_and_later_flags_add_up() {
        let level =
            |quiet, verbose| Settings::resolve(&Flags { quiet, verbose, ..Flags::default() }, &env(&[])).log_level;
        assert_eq!(level(false, 0), None);
        assert_eq!(level(false, 1), Some(tracing::Level::DEBUG));
        assert_eq!(level(false, 3), Some(tracing::Level::TRACE));
        assert_eq!(level(true, 2), Some(tracing::Level::ERROR), "-q wins over -v");

        let s = Settings::resolve(&Flags { profiles: vec!["a".into()], ..Flags::default() }, &env(&[]));
        let more = s.with(&Flags { profiles: vec!["b".into()], no_browser: true, ..Flags::default() });
        assert_eq!(more.profiles, ["a", "b"]);
        assert!(s.open_browser && !more.open_browser);
    }

    #[test]
    fn the_opener_is_browsers_first_entry() {
        let s = Settings::resolve(&Flags::default(), &env(&[("BROWSER", ":firefox --new-tab %s:chromium")]));
        assert_eq!(s.browser_opener, ["firefox", "--new-tab", "%s"]);
    }
}
