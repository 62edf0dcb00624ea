//! A browser's least: one IdP sign-in's HTTP, with cookies kept for the IdP's hosts and
//! redirects followed by hand, so that each hop is checked (https, or http to loopback)
//! and a hop to AWS's sign-in endpoint is never taken. Built on the crate's blocking
//! client (ureq), with its timeout.

use super::SamlError;
use std::time::Duration;

/// AWS's SAML endpoint, which the IdP's form posts to: tfauth reads the form instead and
/// never sends the assertion there.
pub const AWS_SIGNIN: &str = "https://signin.aws.amazon.com/saml";
const MAX_HOPS: usize = 10;

/// A page: the status, where it came from (after redirects), its `Location` (a redirect
/// not followed) and its body.
pub struct Page {
    pub status: u16,
    pub url: String,
    pub body: String,
}

struct Cookie {
    host: String,
    path: String,
    name: String,
    value: String,
    secure: bool,
}

/// One sign-in's client: its cookie jar lives as long as the sign-in.
pub struct Web {
    agent: ureq::Agent,
    cookies: Vec<Cookie>,
    /// The provider, for errors.
    provider: String,
}

impl Web {
    pub fn new(provider: &str) -> Web {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        Web { agent, cookies: Vec::new(), provider: provider.to_string() }
    }

    fn check(&self, url: &str) -> Result<(), SamlError> {
        if is_aws_signin(url) {
            return Err(SamlError::Idp {
                provider: self.provider.clone(),
                message: "the IdP sent tfauth on to AWS's sign-in page instead of answering the SAMLResponse form"
                    .into(),
            });
        }
        if crate::util::url::is_allowed_url(url) {
            Ok(())
        } else {
            Err(SamlError::Idp {
                provider: self.provider.clone(),
                message: format!(
                    "the IdP sent tfauth to `{}`, which is neither https nor http to loopback",
                    strip_query(url)
                ),
            })
        }
    }

    fn cookie_header(&self, url: &str) -> Option<String> {
        let (host, path) = host_and_path(url);
        let https = url.starts_with("https://");
        let v: Vec<String> = self
            .cookies
            .iter()
            .filter(|c| c.host == host && path.starts_with(&c.path) && (https || !c.secure))
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        (!v.is_empty()).then(|| v.join("; "))
    }

    fn keep_cookies(&mut self, url: &str, resp: &ureq::http::Response<ureq::Body>) {
        let (host, _) = host_and_path(url);
        for h in resp.headers().get_all("set-cookie") {
            let Ok(text) = h.to_str() else { continue };
            let mut parts = text.split(';').map(str::trim);
            let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else { continue };
            let mut path = "/".to_string();
            let mut secure = false;
            let mut expired = false;
            for p in parts {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                match k.to_ascii_lowercase().as_str() {
                    "path" if v.starts_with('/') => path = v.to_string(),
                    "secure" => secure = true,
                    "max-age" => expired = v.trim().starts_with('-') || v.trim() == "0",
                    _ => {}
                }
            }
            self.cookies.retain(|c| !(c.host == host && c.name == name && c.path == path));
            if !expired {
                self.cookies.push(Cookie {
                    host: host.clone(),
                    path,
                    name: name.to_string(),
                    value: value.to_string(),
                    secure,
                });
            }
        }
    }

    /// One request, no redirect followed.
    fn send(
        &mut self,
        method: &str,
        url: &str,
        body: Option<(&str, String)>,
    ) -> Result<(Page, Option<String>), SamlError> {
        self.check(url)?;
        let cookie = self.cookie_header(url);
        let unreachable = |e: String| SamlError::Unreachable { url: strip_query(url), message: e };
        let sent = match (method, body) {
            ("GET", _) => {
                let mut r = self.agent.get(url).header("Accept", "text/html,application/json");
                if let Some(c) = &cookie {
                    r = r.header("Cookie", c);
                }
                r.call()
            }
            (_, body) => {
                let (ctype, body) = body.unwrap_or(("application/x-www-form-urlencoded", String::new()));
                let mut r =
                    self.agent.post(url).header("Content-Type", ctype).header("Accept", "application/json, text/html");
                if let Some(c) = &cookie {
                    r = r.header("Cookie", c);
                }
                r.send(body)
            }
        };
        let mut resp = sent.map_err(|e| unreachable(e.to_string()))?;
        self.keep_cookies(url, &resp);
        let status = resp.status().as_u16();
        let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(|l| resolve(url, l));
        let body = resp.body_mut().read_to_string().map_err(|e| unreachable(e.to_string()))?;
        Ok((Page { status, url: url.to_string(), body }, location))
    }

    /// GET `url`, following redirects.
    pub fn get(&mut self, url: &str) -> Result<Page, SamlError> {
        self.follow("GET", url, None)
    }

    /// POST a form, following the redirects that answer it (with GETs, as browsers do).
    pub fn post_form(&mut self, url: &str, fields: &[(&str, &str)]) -> Result<Page, SamlError> {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", crate::providers::encode(k), crate::providers::encode(v)))
            .collect();
        self.follow("POST", url, Some(("application/x-www-form-urlencoded", body.join("&"))))
    }

    /// POST JSON (Okta's API); redirects are not expected and not followed.
    pub fn post_json(&mut self, url: &str, doc: &serde_json::Value) -> Result<Page, SamlError> {
        Ok(self.send("POST", url, Some(("application/json", doc.to_string())))?.0)
    }

    fn follow(&mut self, method: &str, url: &str, body: Option<(&str, String)>) -> Result<Page, SamlError> {
        let (mut page, mut next) = self.send(method, url, body)?;
        for _ in 0..MAX_HOPS {
            match next.take() {
                Some(loc) if (300..400).contains(&page.status) => {
                    tracing::debug!(provider = %self.provider, to = %strip_query(&loc), "following the IdP's redirect");
                    (page, next) = self.send("GET", &loc, None)?;
                }
                _ => return Ok(page),
            }
        }
        Err(SamlError::Idp { provider: self.provider.clone(), message: format!("more than {MAX_HOPS} redirects") })
    }
}

pub fn is_aws_signin(url: &str) -> bool {
    let (host, _) = host_and_path(url);
    host.eq_ignore_ascii_case("signin.aws.amazon.com")
        || host.ends_with(".signin.aws.amazon.com")
        || host == "signin.amazonaws-us-gov.com"
}

/// `(host[:port], path)` of an absolute URL.
fn host_and_path(url: &str) -> (String, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (host, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = path.split('?').next().filter(|p| !p.is_empty()).unwrap_or("/");
    (host.to_ascii_lowercase(), path.to_string())
}

/// `link` (absolute, scheme-relative, host-relative, query-only or relative) against `base`.
pub fn resolve(base: &str, link: &str) -> String {
    let link = link.trim();
    if link.starts_with("https://") || link.starts_with("http://") {
        return link.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    if let Some(l) = link.strip_prefix("//") {
        return format!("{scheme}://{l}");
    }
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let origin = format!("{scheme}://{}", &rest[..host_end]);
    let path_q = &rest[host_end..];
    let path = path_q.split('?').next().unwrap_or("");
    if link.starts_with('/') {
        format!("{origin}{link}")
    } else if link.starts_with('?') {
        format!("{origin}{path}{link}")
    } else if link.is_empty() {
        base.to_string()
    } else {
        let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
        format!("{origin}{dir}{link}")
    }
}

pub fn strip_query(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

/// The origin (`scheme://host[:port]`) of an absolute URL.
pub fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    format!("{scheme}://{}", &rest[..host_end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_as_browsers_resolve_them() {
        let base = "http://127.0.0.1:8080/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=x";
        assert_eq!(resolve(base, "/adfs/ls/a?b=1"), "http://127.0.0.1:8080/adfs/ls/a?b=1");
        assert_eq!(
            resolve(base, "?client-request-id=1"),
            "http://127.0.0.1:8080/adfs/ls/IdpInitiatedSignOn.aspx?client-request-id=1"
        );
        assert_eq!(resolve(base, "other.aspx"), "http://127.0.0.1:8080/adfs/ls/other.aspx");
        assert_eq!(resolve(base, "//idp.example/x"), "http://idp.example/x");
        assert_eq!(resolve(base, "https://idp.example/x"), "https://idp.example/x");
        assert_eq!(resolve(base, ""), base);
        assert_eq!(origin("https://acme.okta.com/home/amazon_aws/0oa/272?x=1"), "https://acme.okta.com");
    }

    #[test]
    fn aws_sign_in_is_recognised_and_never_fetched() {
        assert!(is_aws_signin("https://signin.aws.amazon.com/saml"));
        assert!(is_aws_signin("https://us-east-1.signin.aws.amazon.com/saml?x"));
        assert!(!is_aws_signin("https://acme.okta.com/saml"));
        let mut web = Web::new("p");
        let e = web.get(AWS_SIGNIN).err().unwrap().to_string();
        assert!(e.contains("AWS's sign-in page"), "{e}");
        let e = web.get("http://idp.example.com/x").err().unwrap().to_string();
        assert!(e.contains("neither https nor http to loopback"), "{e}");
    }
}
