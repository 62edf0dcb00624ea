//! Where IAM Identity Center answers: the SSO-OIDC and portal base URLs, chosen from the
//! environment or the region, and the one HTTP agent that calls them.
//!
//! Why it exists: bearer tokens and client secrets travel to these URLs, so choosing them
//! and refusing the unsafe ones (anything but https, or http to loopback for tests) happens
//! in one place, before any request is built.
//!
//! What it must not do: send a request (that is `http`), follow a redirect (the agent is
//! built with none), or read the process environment directly (it gets an [`Env`]).

use super::error::SsoError;
use crate::env_vars::{AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SSO, AWS_ENDPOINT_URL_SSO_OIDC, Env};
use std::fmt;
use std::time::Duration;

/// Per-request limit, connection and answer together.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the SSO-OIDC service and the portal API answer, and the HTTP agent that calls them.
#[derive(Clone)]
pub struct Endpoints {
    pub(super) oidc: String,
    pub(super) portal: String,
    pub(super) agent: ureq::Agent,
}

impl fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoints").field("oidc", &self.oidc).field("portal", &self.portal).finish()
    }
}

impl Endpoints {
    /// SSO-OIDC: `AWS_ENDPOINT_URL_SSO_OIDC`, else `AWS_ENDPOINT_URL`, else
    /// `https://oidc.{region}.amazonaws.com`. Portal: `AWS_ENDPOINT_URL_SSO`, else
    /// `AWS_ENDPOINT_URL`, else `https://portal.sso.{region}.amazonaws.com`. China regions
    /// (`cn-*`) use `amazonaws.com.cn`. Only https, or http to loopback, is accepted.
    pub fn from_env(env: &Env, region: &str) -> Result<Endpoints, SsoError> {
        let region = region.trim().to_ascii_lowercase();
        let pick = |specific: &'static str, default: &dyn Fn() -> String| -> Result<(String, &'static str), SsoError> {
            if let Some(u) = env.get(specific) {
                return Ok((u.to_string(), specific));
            }
            if let Some(u) = env.get(AWS_ENDPOINT_URL) {
                return Ok((u.to_string(), AWS_ENDPOINT_URL));
            }
            if region.is_empty() || !region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(SsoError::BadRegion { region: region.clone() });
            }
            Ok((default(), "the default endpoint"))
        };
        let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
        let (oidc, oidc_from) = pick(AWS_ENDPOINT_URL_SSO_OIDC, &|| format!("https://oidc.{region}.{suffix}"))?;
        let (portal, portal_from) = pick(AWS_ENDPOINT_URL_SSO, &|| format!("https://portal.sso.{region}.{suffix}"))?;
        Endpoints::build(&oidc, oidc_from, &portal, portal_from)
    }

    /// Explicit base URLs (no trailing path needed), under the same https-or-loopback rule.
    pub fn new(oidc: &str, portal: &str) -> Result<Endpoints, SsoError> {
        Endpoints::build(oidc, "the SSO-OIDC endpoint", portal, "the SSO portal endpoint")
    }

    fn build(
        oidc: &str,
        oidc_from: &'static str,
        portal: &str,
        portal_from: &'static str,
    ) -> Result<Endpoints, SsoError> {
        for (url, variable) in [(oidc, oidc_from), (portal, portal_from)] {
            if !crate::providers::github::is_allowed_url(url) {
                return Err(SsoError::InsecureEndpoint { variable, url: url.to_string() });
            }
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            // A redirect would carry the bearer token or the client secret somewhere else.
            .max_redirects(0)
            .user_agent(concat!("tfauth/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Endpoints {
            oidc: oidc.trim_end_matches('/').to_string(),
            portal: portal.trim_end_matches('/').to_string(),
            agent,
        })
    }

    /// The SSO-OIDC base URL.
    pub fn oidc(&self) -> &str {
        &self.oidc
    }

    /// The portal API base URL.
    pub fn portal(&self) -> &str {
        &self.portal
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit;

    #[test]
    fn endpoint_selection() {
        // (variables, SSO-OIDC URL, portal URL)
        type Case = (&'static [(&'static str, &'static str)], &'static str, &'static str);
        let cases: &[Case] = &[
            (&[], "https://oidc.us-east-2.amazonaws.com", "https://portal.sso.us-east-2.amazonaws.com"),
            (&[(AWS_ENDPOINT_URL, "http://127.0.0.1:9/")], "http://127.0.0.1:9", "http://127.0.0.1:9"),
            (
                &[(AWS_ENDPOINT_URL, "http://127.0.0.1:9"), (AWS_ENDPOINT_URL_SSO_OIDC, "https://oidc.example")],
                "https://oidc.example",
                "http://127.0.0.1:9",
            ),
            (
                &[(AWS_ENDPOINT_URL, "http://127.0.0.1:9"), (AWS_ENDPOINT_URL_SSO, "https://portal.example")],
                "http://127.0.0.1:9",
                "https://portal.example",
            ),
            (
                &[(AWS_ENDPOINT_URL_SSO, "https://portal.example")],
                "https://oidc.us-east-2.amazonaws.com",
                "https://portal.example",
            ),
            // Empty values read as unset.
            (
                &[(AWS_ENDPOINT_URL_SSO_OIDC, "")],
                "https://oidc.us-east-2.amazonaws.com",
                "https://portal.sso.us-east-2.amazonaws.com",
            ),
        ];
        for (vars, oidc, portal) in cases {
            let ep = Endpoints::from_env(&Env::from_pairs(vars.iter().copied()), "us-east-2").unwrap();
            assert_eq!((ep.oidc(), ep.portal()), (*oidc, *portal), "{vars:?}");
        }
        let cn = Endpoints::from_env(&Env::default(), "cn-north-1").unwrap();
        assert_eq!(cn.oidc(), "https://oidc.cn-north-1.amazonaws.com.cn");
        assert_eq!(cn.portal(), "https://portal.sso.cn-north-1.amazonaws.com.cn");
    }

    #[test]
    fn only_https_or_loopback_endpoints() {
        for (name, url) in [
            (AWS_ENDPOINT_URL_SSO_OIDC, "http://oidc.example.com"),
            (AWS_ENDPOINT_URL_SSO, "http://127.0.0.1.evil.com"),
            (AWS_ENDPOINT_URL, "ftp://127.0.0.1/"),
        ] {
            let err = Endpoints::from_env(&Env::from_pairs([(name, url)]), "us-east-1").unwrap_err();
            assert!(matches!(&err, SsoError::InsecureEndpoint { variable, .. } if *variable == name), "{err}");
            assert!(err.to_string().contains(name) && err.to_string().contains(url), "{err}");
            assert_eq!(err.exit_code(), exit::UNAVAILABLE);
        }
        for url in ["http://localhost:8080", "http://[::1]:9", "https://sso.example"] {
            assert!(Endpoints::new(url, url).is_ok(), "{url}");
        }
        assert!(Endpoints::new("https://ok", "http://example.com").is_err());
        for region in ["", "us-east-1.evil.com/x", "us east"] {
            let err = Endpoints::from_env(&Env::default(), region).unwrap_err();
            assert!(matches!(err, SsoError::BadRegion { .. }), "{region}: {err}");
        }
        // With both endpoints given, the region does not make a URL and is not checked.
        assert!(Endpoints::from_env(&Env::from_pairs([(AWS_ENDPOINT_URL, "https://x")]), "").is_ok());
    }
}
