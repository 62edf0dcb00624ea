//! Where IAM Identity Center answers: the SSO-OIDC and portal base URLs, chosen from the
//! environment (into which [`with_configured`] folds a `spec.endpoint_url` from the
//! configuration) or the region, and the SDK clients that call them.
//!
//! Why it exists: bearer tokens and client secrets travel to these URLs, so choosing them
//! and refusing the unsafe ones (anything but https, or http to loopback for tests) happens
//! in one place, before any client is built. The SDK is handed the URL chosen here, so
//! tfauth's [`Env`] (not the process's) decides, and the https-or-loopback rule holds.
//!
//! What it must not do: send a request (that is `call`), build a client or a runtime when
//! it is made (only the first call does: making one costs nothing on the warm path), or
//! read the process environment directly (it gets an [`Env`]). Redirects are never
//! followed: the SDK's HTTP client does not.

use super::call::Clients;
use super::error::SsoError;
use crate::auth::schema::Located;
use crate::env_vars::{AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SSO, AWS_ENDPOINT_URL_SSO_OIDC, Env};
use std::fmt;
use std::sync::{Arc, OnceLock};

/// The region the SDK is configured with when only explicit URLs are given (nothing is
/// signed, so it only has to be a valid name).
const ANY_REGION: &str = "us-east-1";

/// Where the SSO-OIDC service and the portal API answer, and (from the first call on) the
/// SDK clients that call them. Clones share the clients. Drop it outside async code (it
/// may own a runtime).
#[derive(Clone)]
pub struct Endpoints {
    pub(super) oidc: String,
    pub(super) portal: String,
    pub(super) region: String,
    clients: Arc<OnceLock<Clients>>,
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
            if !is_region_name(&region) {
                return Err(SsoError::BadRegion { region: region.clone() });
            }
            Ok((default(), "the default endpoint"))
        };
        let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
        let (oidc, oidc_from) = pick(AWS_ENDPOINT_URL_SSO_OIDC, &|| format!("https://oidc.{region}.{suffix}"))?;
        let (portal, portal_from) = pick(AWS_ENDPOINT_URL_SSO, &|| format!("https://portal.sso.{region}.{suffix}"))?;
        // With both URLs given the region was not checked, and names nothing the SDK uses.
        let region = if is_region_name(&region) { region } else { ANY_REGION.to_string() };
        Endpoints::build(&oidc, oidc_from, &portal, portal_from, region)
    }

    /// Explicit base URLs (no trailing path needed), under the same https-or-loopback rule.
    pub fn new(oidc: &str, portal: &str) -> Result<Endpoints, SsoError> {
        Endpoints::build(oidc, "the SSO-OIDC endpoint", portal, "the SSO portal endpoint", ANY_REGION.into())
    }

    fn build(
        oidc: &str,
        oidc_from: &'static str,
        portal: &str,
        portal_from: &'static str,
        region: String,
    ) -> Result<Endpoints, SsoError> {
        for (url, variable) in [(oidc, oidc_from), (portal, portal_from)] {
            if !crate::providers::github::is_allowed_url(url) {
                return Err(SsoError::InsecureEndpoint { variable: variable.to_string(), url: url.to_string() });
            }
        }
        Ok(Endpoints {
            oidc: oidc.trim_end_matches('/').to_string(),
            portal: portal.trim_end_matches('/').to_string(),
            region,
            clients: Arc::default(),
        })
    }

    /// The SDK clients, built on the first call.
    pub(super) fn clients(&self) -> Result<&Clients, SsoError> {
        if let Some(c) = self.clients.get() {
            return Ok(c);
        }
        let built = Clients::build(self)?;
        // Another thread may have won the race; its clients are as good.
        Ok(self.clients.get_or_init(|| built))
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

/// `env` with an endpoint from the configuration (`spec.endpoint_url`) put where the AWS
/// SDK puts a client's configured endpoint: under the service's own variable (`variable`:
/// `AWS_ENDPOINT_URL_SSO_OIDC` or `AWS_ENDPOINT_URL_SSO`), which still wins when set, and over
/// `AWS_ENDPOINT_URL`. The same https-or-loopback rule holds, with the error naming where
/// the endpoint was written.
pub fn with_configured(env: &Env, variable: &'static str, configured: Option<&Located>) -> Result<Env, SsoError> {
    let Some(c) = configured.filter(|_| env.get(variable).is_none()) else { return Ok(env.clone()) };
    if !crate::providers::github::is_allowed_url(&c.value) {
        return Err(SsoError::InsecureEndpoint {
            variable: format!("{}: `spec.endpoint_url`", c.span),
            url: c.value.clone(),
        });
    }
    Ok(env.with(variable, &c.value))
}

/// Letters, digits and dashes: a name that makes a URL of nothing but a host.
fn is_region_name(region: &str) -> bool {
    !region.is_empty() && region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
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
    fn a_configured_endpoint_stands_under_the_service_variable_and_over_the_general_one() {
        let at = crate::yaml::Span::new(std::sync::Arc::from(std::path::Path::new("atmos.yaml")), 7, 9);
        let spec = Located { value: "http://127.0.0.1:4566".into(), span: at };
        let ep = |vars: &[(&'static str, &'static str)]| {
            let env = with_configured(&Env::from_pairs(vars.iter().copied()), AWS_ENDPOINT_URL_SSO_OIDC, Some(&spec))
                .unwrap();
            let ep = Endpoints::from_env(&env, "us-east-2").unwrap();
            (ep.oidc().to_string(), ep.portal().to_string())
        };
        // Alone, it is the SSO-OIDC endpoint; the portal keeps its own.
        assert_eq!(ep(&[]), ("http://127.0.0.1:4566".into(), "https://portal.sso.us-east-2.amazonaws.com".into()));
        // Over AWS_ENDPOINT_URL (which still reaches the portal)...
        assert_eq!(
            ep(&[(AWS_ENDPOINT_URL, "https://all.example")]),
            ("http://127.0.0.1:4566".into(), "https://all.example".into())
        );
        // ...under the service's own variable.
        assert_eq!(ep(&[(AWS_ENDPOINT_URL_SSO_OIDC, "https://oidc.example")]).0, "https://oidc.example");
        // An endpoint tokens must not travel to is refused, naming where it was written.
        let bad = Located { value: "http://sso.example.com".into(), ..spec.clone() };
        let err = with_configured(&Env::default(), AWS_ENDPOINT_URL_SSO_OIDC, Some(&bad)).unwrap_err();
        assert!(err.to_string().contains("atmos.yaml:7:9: `spec.endpoint_url` is `http://sso.example.com`"), "{err}");
        assert_eq!(err.exit_code(), exit::UNAVAILABLE);
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
