//! The `aws/saml` provider: signing in at an enterprise IdP (Okta's authentication API,
//! ADFS's forms page, or a real browser the person signs in with) for a `SAMLResponse`, reading its AWS roles, and choosing the one
//! the chain's first identity names (`principal.assume_role`, as Atmos chooses it). The
//! caller ([`super::aws`]) then hands the assertion to STS `AssumeRoleWithSAML` and walks
//! the rest of the chain as any other.
//!
//! Why it exists: many organisations reach AWS only through an IdP's SAML app.
//!
//! What it must not do: log, print or keep the assertion, the password or Okta's session
//! token (they are [`Secret`]s, and errors name users, steps and codes only); send the
//! assertion anywhere but STS (the IdP's form points at AWS's sign-in page, which is never
//! fetched: [`web`]); retry a refused password (one wrong password is one IdP call, so
//! a storm of helpers cannot lock the account); or ask anything without a terminal.

pub mod adfs;
pub mod assertion;
pub mod browser;
pub mod form;
pub mod okta;
pub mod web;

use crate::auth::{Provider, ProviderKind};
use crate::env_vars::Env;
use crate::exit;
use crate::secret::Secret;
pub use assertion::{Assertion, RolePair};

/// What a sign-in may ask on the terminal (`/dev/tty`; see `cli::tty`).
pub trait SamlUi {
    /// A line typed by the user; `echo: false` for a password.
    fn ask(&self, question: &str, echo: bool) -> Option<Secret>;
    /// One of `items` (an index), or `None`.
    fn choose(&self, question: &str, items: &[String]) -> Option<usize>;
    /// A status line rewritten in place (the push countdown); `None` ends it.
    fn status(&self, text: Option<&str>);
}

pub use crate::auth::SamlDriver as Driver;

/// Passwords stored for a provider's users (`tfauth auth user configure` puts them in the
/// keyring; the session layer looks them up). Asked only when the configuration has no
/// `password`, so a keyring is opened only when one is needed.
pub trait SavedPasswords {
    /// The password stored for `username` at provider `provider`, if any.
    fn get(&self, provider: &str, username: &str) -> Option<Secret>;
    /// Where it came from, for a hint ("the system keyring").
    fn describe(&self) -> String;
}

/// Why no assertion (or no role in it) could be had.
#[derive(Debug, thiserror::Error)]
pub enum SamlError {
    #[error("provider `{provider}` (aws/saml): driver `{driver}` is not supported by tfauth yet")]
    UnsupportedDriver { provider: String, driver: String },
    #[error(
        "provider `{provider}` (aws/saml): `browser_type: {browser_type}` is not supported by tfauth: it drives Chromium, Chrome and Edge"
    )]
    UnsupportedBrowser { provider: String, browser_type: String },
    #[error("provider `{provider}` (aws/saml), driver Browser: {message}")]
    Browser { provider: String, message: String, hint: String },
    #[error("provider `{provider}` (aws/saml) needs {what}, and there is no terminal to ask on")]
    NeedTerminal { provider: String, what: &'static str, identity: String },
    #[error("provider `{provider}` (aws/saml): {message}")]
    Rejected { provider: String, message: String, hint: String },
    #[error("provider `{provider}` (aws/saml): the IdP did not answer as expected: {message}")]
    Idp { provider: String, message: String },
    #[error("cannot reach the IdP at {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("the SAMLResponse is unusable: {problem}")]
    Assertion { problem: String },
    #[error(
        "identity `{identity}` asks for role {wanted} (`principal.assume_role`), which the assertion from provider `{provider}` does not offer; it offers: {}",
        offered.join(", ")
    )]
    NoRole { provider: String, identity: String, wanted: String, offered: Vec<String> },
    #[error(
        "identity `{identity}`: `principal.assume_role` ({wanted}) matches {} roles of the assertion from provider `{provider}`, and there is no terminal to choose on: {}",
        matching.len(), matching.join(", ")
    )]
    SeveralRoles { provider: String, identity: String, wanted: String, matching: Vec<String> },
}

impl SamlError {
    pub fn exit_code(&self) -> i32 {
        match self {
            SamlError::UnsupportedDriver { .. }
            | SamlError::UnsupportedBrowser { .. }
            | SamlError::Browser { .. }
            | SamlError::Idp { .. }
            | SamlError::Unreachable { .. }
            | SamlError::Assertion { .. } => exit::UNAVAILABLE,
            SamlError::NeedTerminal { .. }
            | SamlError::Rejected { .. }
            | SamlError::NoRole { .. }
            | SamlError::SeveralRoles { .. } => exit::NOPERM,
        }
    }

    pub fn hint(&self) -> String {
        match self {
            SamlError::UnsupportedDriver { .. } => {
                "tfauth signs in with the Okta, ADFS and Browser drivers; set `driver: Browser` to sign in at any IdP in a real browser, or use Atmos for this provider".into()
            }
            SamlError::UnsupportedBrowser { .. } => {
                "set `browser_type` to chromium, chrome or msedge (or remove it), or use Atmos for this provider".into()
            }
            SamlError::Browser { hint, .. } => hint.clone(),
            SamlError::NeedTerminal { identity, .. } => {
                format!("run `tfauth auth login --identity {identity}` in a terminal first")
            }
            SamlError::Rejected { hint, .. } => hint.clone(),
            SamlError::Idp { .. } => {
                "check the provider's `url` (the IdP's AWS app link) and `driver`; `--log-level debug` shows each step".into()
            }
            SamlError::Unreachable { .. } => "check the network and the provider's `url`".into(),
            SamlError::Assertion { .. } => {
                "the IdP's AWS app must send https://aws.amazon.com/SAML/Attributes/Role; ask your IdP's administrator".into()
            }
            SamlError::NoRole { .. } => {
                "set `principal.assume_role` to one of the roles offered (the ARN, or a part of it only one role has)".into()
            }
            SamlError::SeveralRoles { .. } => {
                "give `principal.assume_role` the full role ARN, or run `tfauth auth login` in a terminal to choose".into()
            }
        }
    }
}

/// What a sign-in gave: the assertion, the role chosen from it, and the session length
/// to ask STS for.
pub struct SignedIn {
    pub response: Secret,
    pub role: RolePair,
    pub duration_secs: i32,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("role", &self.role)
            .field("duration_secs", &self.duration_secs)
            .finish_non_exhaustive()
    }
}

/// STS's limits for `DurationSeconds`, as Atmos clamps `session.duration`.
const MIN_SECS: u64 = 900;
const MAX_SECS: u64 = 43_200;
const DEFAULT_SECS: u64 = 3600;

/// Signs in at provider `p` for identity `first` (the chain's first hop, whose
/// `principal.assume_role` is `wanted`); `login` is the identity a login command names.
pub fn sign_in(
    p: &Provider,
    first: &str,
    wanted: &str,
    login: &str,
    ui: Option<&dyn SamlUi>,
    saved: Option<&dyn SavedPasswords>,
    env: &Env,
) -> Result<SignedIn, SamlError> {
    let Some(ProviderKind::Saml { url, driver, username, password, session_secs, browser, .. }) = &p.kind else {
        unreachable!("sign_in is called for aws/saml providers only");
    };
    let driver = Driver::of(driver.as_deref(), url);
    if let Driver::Other(d) = &driver {
        return Err(SamlError::UnsupportedDriver { provider: p.name.clone(), driver: d.clone() });
    }
    let need = |what| SamlError::NeedTerminal { provider: p.name.clone(), what, identity: login.to_string() };
    let response = if driver == Driver::Browser {
        // The person signs in in the window, however the IdP asks: nothing to ask here,
        // but someone must be there.
        let ui = ui.ok_or_else(|| need("a sign-in in a browser window"))?;
        let profile = browser_profile(env, &p.name).map_err(|e| SamlError::Browser {
            provider: p.name.clone(),
            message: format!("cannot prepare the browser's profile directory: {e}"),
            hint: crate::util::fs::TrustError::of(&e)
                .map(|t| t.hint())
                .unwrap_or_else(|| "check that tfauth's cache directory (XDG_CACHE_HOME) is writable".into()),
        })?;
        tracing::debug!(provider = %p.name, "signing in at the IdP in a browser");
        browser::assertion(&p.name, url, browser, profile.path(), env, ui)?
    } else {
        let username = match username {
            Some(u) => u.clone(),
            None => {
                let ui = ui.ok_or_else(|| need("a user name"))?;
                ui.ask(&format!("User name for {} ({url}): ", p.name), true)
                    .ok_or_else(|| need("a user name"))?
                    .expose()
                    .to_string()
            }
        };
        // The configuration's password, else the one stored in the keyring, else asked.
        let mut stored_in = None;
        let password = match password {
            Some(s) => s.clone(),
            None => match saved.and_then(|s| s.get(&p.name, &username).map(|pw| (pw, s.describe()))) {
                Some((pw, from)) => {
                    tracing::debug!(provider = %p.name, user = %username, "using the password stored in the {from}");
                    stored_in = Some(from);
                    pw
                }
                None => {
                    let ui = ui.ok_or_else(|| need("a password"))?;
                    ui.ask(&format!("Password for {username} at {} (not shown): ", p.name), false)
                        .ok_or_else(|| need("a password"))?
                }
            },
        };
        let who = Who { provider: &p.name, url, username: &username, password: &password, stored_in, login, ui };
        tracing::debug!(provider = %p.name, driver = ?driver, user = %username, "signing in at the IdP");
        match driver {
            Driver::Okta => okta::assertion(&who)?,
            Driver::Adfs => adfs::assertion(&who)?,
            Driver::Browser | Driver::Other(_) => unreachable!("handled above"),
        }
    };
    let read = assertion::read(&response)?;
    let role = choose(&read.roles, wanted, &p.name, first, ui)?.clone();
    let asked = session_secs.or(read.session_secs).unwrap_or(DEFAULT_SECS);
    let duration_secs = asked.clamp(MIN_SECS, MAX_SECS) as i32;
    tracing::debug!(provider = %p.name, role = %role.role, roles = read.roles.len(), duration_secs, "the IdP's assertion read");
    Ok(SignedIn { response, role, duration_secs })
}

/// The Browser driver's profile for provider `name` (the IdP's cookies): a private
/// directory below tfauth's cache, `saml-browser/<name>`.
pub fn browser_profile_dir(env: &Env, name: &str) -> Option<std::path::PathBuf> {
    crate::util::dirs::cache_home(env).map(|c| c.join("saml-browser").join(crate::util::dirs::path_component(name)))
}

fn browser_profile(env: &Env, name: &str) -> std::io::Result<crate::util::fs::PrivateDir> {
    let dir = browser_profile_dir(env, name).ok_or_else(|| std::io::Error::other("no HOME or XDG_CACHE_HOME"))?;
    let base = crate::util::dirs::cache_home(env).expect("a profile directory has a cache home");
    crate::util::fs::PrivateDir::create_below(&base, &dir)
}

/// The one sign-in's particulars, for the drivers.
pub struct Who<'a> {
    pub provider: &'a str,
    pub url: &'a str,
    pub username: &'a str,
    pub password: &'a Secret,
    /// Where the password was stored, when it came from a keyring (for the hint when the
    /// IdP refuses it).
    pub stored_in: Option<String>,
    pub login: &'a str,
    pub ui: Option<&'a dyn SamlUi>,
}

impl Who<'_> {
    pub fn need(&self, what: &'static str) -> SamlError {
        SamlError::NeedTerminal { provider: self.provider.to_string(), what, identity: self.login.to_string() }
    }
    pub fn idp(&self, message: impl Into<String>) -> SamlError {
        SamlError::Idp { provider: self.provider.to_string(), message: message.into() }
    }
    pub fn rejected(&self, message: impl Into<String>, hint: impl Into<String>) -> SamlError {
        SamlError::Rejected { provider: self.provider.to_string(), message: message.into(), hint: hint.into() }
    }
    /// The hint for a refused user name or password.
    pub fn password_hint(&self) -> String {
        if let Some(from) = &self.stored_in {
            return format!(
                "the password stored in the {from} for `{}` was refused: store the current one with `tfauth auth user configure --identity {}` (tfauth tried once and did not retry, so the account is not locked out by it)",
                self.username, self.login
            );
        }
        format!(
            "check `username` and `password` of provider `{}` (tfauth tried once and did not retry, so the account is not locked out by it)",
            self.provider
        )
    }
}

/// The role `wanted` names: the pair whose role ARN it is (any case); else, as Atmos
/// matches, the pairs whose role or provider ARN contains it (any case): one is chosen,
/// several are asked about on the terminal, none is an error naming those offered.
pub fn choose<'a>(
    roles: &'a [RolePair],
    wanted: &str,
    provider: &str,
    identity: &str,
    ui: Option<&dyn SamlUi>,
) -> Result<&'a RolePair, SamlError> {
    if let Some(r) = roles.iter().find(|r| r.role.eq_ignore_ascii_case(wanted)) {
        return Ok(r);
    }
    let hint = wanted.to_ascii_lowercase();
    let matching: Vec<&RolePair> = roles
        .iter()
        .filter(|r| {
            !hint.is_empty()
                && (r.role.to_ascii_lowercase().contains(&hint) || r.principal.to_ascii_lowercase().contains(&hint))
        })
        .collect();
    match matching.as_slice() {
        [one] => Ok(one),
        [] => Err(SamlError::NoRole {
            provider: provider.to_string(),
            identity: identity.to_string(),
            wanted: wanted.to_string(),
            offered: roles.iter().map(|r| r.role.clone()).collect(),
        }),
        several => {
            let items: Vec<String> = several.iter().map(|r| r.role.clone()).collect();
            let question =
                format!("Several roles of the assertion match `{wanted}` (identity `{identity}`); which one?");
            match ui.and_then(|u| u.choose(&question, &items)) {
                Some(i) if i < several.len() => Ok(several[i]),
                _ => Err(SamlError::SeveralRoles {
                    provider: provider.to_string(),
                    identity: identity.to_string(),
                    wanted: wanted.to_string(),
                    matching: items,
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(role: &str, principal: &str) -> RolePair {
        RolePair { role: role.into(), principal: principal.into() }
    }

    struct Picks(usize);
    impl SamlUi for Picks {
        fn ask(&self, _: &str, _: bool) -> Option<Secret> {
            None
        }
        fn choose(&self, _: &str, items: &[String]) -> Option<usize> {
            assert!(items.len() > 1);
            Some(self.0)
        }
        fn status(&self, _: Option<&str>) {}
    }

    #[test]
    fn the_role_named_is_chosen_exactly_then_by_atmoss_contains_match() {
        let roles = vec![
            pair("arn:aws:iam::111111111111:role/saml-admin", "arn:aws:iam::111111111111:saml-provider/acme"),
            pair("arn:aws:iam::111111111111:role/saml-admin-ro", "arn:aws:iam::111111111111:saml-provider/acme"),
            pair("arn:aws:iam::222222222222:role/saml-dev", "arn:aws:iam::222222222222:saml-provider/acme"),
        ];
        let pick = |w: &str, ui: Option<&dyn SamlUi>| choose(&roles, w, "idp", "dev", ui).map(|r| r.role.clone());
        // Exact (any case) wins even where another role contains it.
        assert_eq!(pick("ARN:aws:iam::111111111111:role/saml-admin", None).unwrap(), roles[0].role);
        assert_eq!(pick("saml-dev", None).unwrap(), roles[2].role);
        assert_eq!(pick("222222222222", None).unwrap(), roles[2].role, "the provider ARN counts, as in Atmos");
        // Several: asked on the terminal; without one, an error naming them.
        assert_eq!(pick("saml-admin", Some(&Picks(1))).unwrap(), roles[1].role);
        let e = pick("saml-admin", None).unwrap_err();
        assert_eq!(e.exit_code(), exit::NOPERM);
        assert!(e.to_string().contains("matches 2 roles"), "{e}");
        // None: an error naming the roles offered (Atmos would take the first: tfauth refuses).
        let e = pick("arn:aws:iam::333333333333:role/other", None).unwrap_err();
        assert!(
            e.to_string().ends_with(&format!("it offers: {}, {}, {}", roles[0].role, roles[1].role, roles[2].role)),
            "{e}"
        );
        assert!(matches!(e, SamlError::NoRole { .. }));
        assert!(pick("", None).is_err(), "an empty role names nothing");
    }

    #[test]
    fn the_driver_is_the_configured_one_else_guessed_from_the_url_as_atmos_does() {
        assert_eq!(Driver::of(Some("okta"), "https://idp.example"), Driver::Okta);
        assert_eq!(Driver::of(Some("ADFS"), "https://idp.example"), Driver::Adfs);
        assert_eq!(Driver::of(Some("ADFS2"), "https://idp.example"), Driver::Other("ADFS2".into()));
        assert_eq!(Driver::of(None, "https://acme.okta.com/home/amazon_aws/x/272"), Driver::Okta);
        assert_eq!(Driver::of(None, "https://sts.acme.com/adfs/ls/IdpInitiatedSignOn.aspx"), Driver::Adfs);
        assert_eq!(Driver::of(None, "https://accounts.google.com/o/saml2/initsso"), Driver::Other("GoogleApps".into()));
        assert_eq!(Driver::of(None, "https://idp.example/sso"), Driver::Browser);
        assert_eq!(Driver::of(Some("browser"), "https://acme.okta.com/x"), Driver::Browser);
    }
}
