//! Parses one entry of `auth.providers` by its kind, and a GCP provider's `token_source`.
//!
//! Why it exists: each provider kind has its own fields. It checks one provider on its own;
//! whether identities can chain from it is `identity::chain`'s to check.

use super::*;

pub(super) fn parse_provider(
    name: &str,
    node: &Node,
    problems: &mut Vec<Problem>,
    notes: &mut Notes,
) -> Option<Provider> {
    let subject = Subject::Provider(name.to_string());
    if node.as_map().is_none() {
        problems.push(Problem {
            subject,
            span: Some(node.span.clone()),
            message: format!("provider `{name}` must be a mapping, not {}", node.type_name()),
            hint: None,
        });
        return None;
    }
    let mut f = Fields { node, subject: subject.clone(), what: format!("provider `{name}`"), problems, notes };
    let kind_name = f.req_str(&["kind"])?;
    f.what = format!("provider `{name}` ({kind_name})");
    // A closure, so that a missing field (`?`) drops only the kind: the provider stays
    // defined, and its own problems, not "not defined", reach whoever chains from it.
    let mut typed = || match kind_name.as_str() {
        "aws/iam-identity-center" => {
            let start_url = f.req_matching(&["start_url"], is_https_url, "an https:// URL");
            let region = f.req_matching(&["region"], is_aws_region, "an AWS region such as us-east-1");
            let auto = f.opt_bool(&["auto_provision_identities"]).unwrap_or(false);
            // Atmos uses `session.duration` only as the token's life when CreateToken's
            // answer has no `expiresIn`, which IAM Identity Center always sends (tfauth
            // refuses such an answer): read, never used. One that does not parse is only
            // logged by Atmos, so it is a warning here.
            let session = f.lenient(|f| f.opt_duration(&["session", "duration"]), "ignored, as Atmos ignores it");
            let endpoint_url = f.located_str(&["spec", "endpoint_url"]);
            Some(ProviderKind::IamIdentityCenter {
                start_url: start_url?,
                region: region?,
                auto_provision: auto,
                session_secs: session,
                endpoint_url,
            })
        }
        "aws/saml" => {
            // A password travels to this URL: https, or plain http to a loopback address.
            let url = f.req_matching(&["url"], is_https_or_loopback_url, "an https:// URL");
            let region = f.req_matching(&["region"], is_aws_region, "an AWS region such as us-east-1");
            // Any driver: Atmos hands it to its SAML library as written (new ones included).
            let driver = f.opt_str(&["driver"]).filter(|d| !d.trim().is_empty());
            // An `!env` that is not set is an empty value to Atmos, which then asks for it:
            // unset here too (asked on the terminal), not a problem.
            let unset_env = |path: &str| node.get(path).is_some_and(|n| n.is_null());
            let username =
                if unset_env("username") { None } else { f.opt_str(&["username"]).filter(|u| !u.trim().is_empty()) };
            let password = if unset_env("password") {
                None
            } else {
                f.opt_str(&["password"]).filter(|p| !p.is_empty()).map(crate::secret::Secret::new)
            };
            // Atmos parses it with Go's time.ParseDuration and keeps its default when that
            // fails: a warning here, never a refusal.
            let session = f.lenient(|f| f.opt_duration(&["session", "duration"]), "the default applies, as in Atmos");
            // Accepted as Atmos accepts them; a sign-in through this provider refuses them.
            if let Some(url) = &url
                && let SamlDriver::Other(d) = SamlDriver::of(driver.as_deref(), url)
            {
                let span = node.get("driver").map_or(node.span.clone(), |n| n.span.clone());
                f.unsupported(
                    &span,
                    format!("provider `{name}`: SAML driver `{d}` is {NOT_SUPPORTED_YET}"),
                    Some("tfauth signs in with the Okta, ADFS and Browser drivers; `driver: Browser` signs in at any IdP in a real browser".into()),
                );
            }
            // Checked when the Browser driver runs (a path on another machine is no error).
            let browser = SamlBrowser {
                browser_type: f.opt_str(&["browser_type"]).filter(|t| !t.trim().is_empty()),
                executable: f.opt_str(&["browser_executable_path"]).filter(|p| !p.trim().is_empty()).map(Into::into),
            };
            if let Some(t) = browser.unsupported_type() {
                let span = node.get("browser_type").map_or(node.span.clone(), |n| n.span.clone());
                f.unsupported(
                    &span,
                    format!("provider `{name}`: `browser_type: {t}` is {NOT_SUPPORTED_YET}: tfauth drives Chromium, Chrome and Edge"),
                    Some("set `browser_type` to chromium, chrome or msedge, or remove it".into()),
                );
            }
            Some(ProviderKind::Saml {
                url: url?,
                region: region?,
                driver,
                username,
                password,
                session_secs: session,
                browser,
            })
        }
        "github/oidc" => {
            let region = f.opt_matching(&["region"], is_aws_region, "an AWS region such as us-east-1");
            let audience = f.spec_str("audience");
            Some(ProviderKind::GithubOidc { region, audience })
        }
        "azure/cli" => {
            let tenant_id = f.spec_str("tenant_id");
            let subscription_id = f.spec_str("subscription_id");
            if let Some(v) = &subscription_id
                && !is_uuid(v)
            {
                let span = node.span.clone();
                f.problem(
                    &span,
                    format!("provider `{name}` (azure/cli): `subscription_id` is `{v}`, which is not a UUID"),
                    None,
                );
            }
            if let Some(v) = &tenant_id {
                check_tenant(&mut f, node, v);
            }
            let azure = azure_spec(&mut f);
            Some(ProviderKind::AzureCli { tenant_id, subscription_id, azure: azure? })
        }
        "azure/oidc" | "azure/device-code" | "azure/interactive" => {
            // A tenant is its id or one of its domains (contoso.onmicrosoft.com): Entra ID
            // takes either, and Atmos passes it on as written.
            let tenant_id = f.spec_req("tenant_id", |t| !t.trim().is_empty(), "a tenant");
            if let Some(t) = &tenant_id {
                check_tenant(&mut f, node, t);
            }
            let client_id = if kind_name == "azure/oidc" {
                f.spec_req("client_id", is_uuid, "a UUID")
            } else {
                f.spec_str("client_id")
            };
            let subscription_id = f.spec_str("subscription_id");
            let azure = azure_spec(&mut f);
            if kind_name == "azure/oidc" {
                let audience = f.spec_str("audience");
                // Read when a run uses it: a file that is not there yet is no problem here.
                let token_file_path = f.located_str(&["spec", "token_file_path"]);
                Some(ProviderKind::AzureOidc {
                    tenant_id: tenant_id?,
                    client_id: client_id?,
                    subscription_id,
                    audience,
                    token_file_path,
                    azure: azure?,
                })
            } else {
                Some(ProviderKind::AzureDeviceCode {
                    interactive: kind_name == "azure/interactive",
                    tenant_id: tenant_id?,
                    client_id,
                    subscription_id,
                    azure: azure?,
                })
            }
        }
        "gcp/adc" => {
            let scopes = if node.get_path(&["spec", "scopes"]).is_some() {
                f.opt_str_list(&["spec", "scopes"])
            } else {
                f.opt_str_list(&["scopes"])
            };
            Some(ProviderKind::GcpAdc { project_id: f.spec_str("project_id"), region: f.spec_str("region"), scopes })
        }
        "gcp/workload-identity-federation" => {
            let project_number = f.spec_req(
                "project_number",
                |s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()),
                "a project number (digits)",
            );
            let pool_id = f.spec_req("workload_identity_pool_id", |s| !s.is_empty(), "a pool id");
            let provider_id = f.spec_req("workload_identity_provider_id", |s| !s.is_empty(), "a provider id");
            let email = f.spec_str("service_account_email");
            if let Some(e) = &email
                && !is_email(e)
            {
                let span = node.span.clone();
                f.problem(
                    &span,
                    format!("provider `{name}`: `service_account_email` is `{e}`, which is not an email address"),
                    Some("use the service account's email, like ci@PROJECT.iam.gserviceaccount.com".into()),
                );
            }
            let token_source = parse_token_source(&mut f, node, name);
            Some(ProviderKind::GcpWif {
                project_id: f.spec_str("project_id"),
                project_number: project_number?,
                pool_id: pool_id?,
                provider_id: provider_id?,
                service_account_email: email.filter(|e| is_email(e)),
                token_source: token_source?,
            })
        }
        other => {
            unknown_kind(&mut f, node, "provider", other, PROVIDER_KINDS);
            None
        }
    };
    let kind = typed();
    let default = f.lenient(|f| f.opt_bool(&["default"]), "ignored").unwrap_or(false);
    let tags = f.tags();
    // Atmos's SSO and SAML providers read `spec.files.base_path`; its other kinds do not.
    let files_base_path = if matches!(kind_name.as_str(), "aws/iam-identity-center" | "aws/saml") {
        files_base_path(&mut f)
    } else {
        None
    };
    Some(Provider { name: name.to_string(), kind_name, kind, default, tags, files_base_path, span: node.span.clone() })
}

/// `spec.files.base_path`, as Atmos's validator reads it: empty is unset, blank or with a
/// NUL or line break is wrong. Whether the directory can be used is the run's to find.
fn files_base_path(f: &mut Fields<'_>) -> Option<Located> {
    let located = f.located_str(&["spec", "files", "base_path"])?;
    let what = f.what.clone();
    let why = if located.value.trim().is_empty() {
        Some("is blank")
    } else if located.value.contains(['\0', '\r', '\n']) {
        Some("holds a NUL or a line break")
    } else {
        None
    };
    match why {
        None => Some(located),
        Some(why) => {
            f.problem(
                &located.span,
                format!("{what}: `spec.files.base_path` {why} (Atmos refuses it too)"),
                Some("give the directory the run's AWS files go under, like ~/.aws/atmos, or remove it".into()),
            );
            None
        }
    }
}

/// `spec.location` and `spec.cloud_environment` of an Azure provider. An unknown cloud is
/// a problem, as in Atmos (its provider refuses to be made).
fn azure_spec(f: &mut Fields<'_>) -> Option<AzureSpec> {
    let location = f.spec_str("location").filter(|l| !l.trim().is_empty());
    let cloud = match f.spec_str("cloud_environment").filter(|c| !c.is_empty()) {
        None => None,
        Some(name) => match AzureCloud::from_name(&name) {
            Some(c) => Some(c),
            None => {
                let node = f.node;
                let span = node
                    .get_path(&["spec", "cloud_environment"])
                    .or(node.get("cloud_environment"))
                    .map_or(node.span.clone(), |n| n.span.clone());
                let what = f.what.clone();
                f.problem(
                    &span,
                    format!("{what}: `cloud_environment` is `{name}`, which is not an Azure cloud Atmos knows"),
                    Some(format!("use one of {}", AzureCloud::NAMES.join(", "))),
                );
                return None;
            }
        },
    };
    Some(AzureSpec { location, cloud })
}

/// A tenant that is neither a UUID nor a domain name: accepted (Atmos takes any), with a
/// warning, since Entra ID will refuse it when a run signs in.
fn check_tenant(f: &mut Fields<'_>, node: &Node, tenant: &str) {
    if is_uuid(tenant) || is_domain(tenant) {
        return;
    }
    let span =
        node.get_path(&["spec", "tenant_id"]).or(node.get("tenant_id")).map_or(node.span.clone(), |n| n.span.clone());
    let what = f.what.clone();
    f.warn(
        &span,
        format!(
            "{what}: `tenant_id` is `{tenant}`, which is neither a UUID nor a domain; Entra ID will likely refuse it"
        ),
        Some("use the tenant's id (a UUID) or one of its domains, like contoso.onmicrosoft.com".into()),
    );
}

/// `token_source` of a `gcp/workload-identity-federation` provider (top level or under `spec`).
pub(super) fn parse_token_source(f: &mut Fields, node: &Node, name: &str) -> Option<TokenSource> {
    let base: &[&str] =
        if node.get_path(&["spec", "token_source"]).is_some() { &["spec", "token_source"] } else { &["token_source"] };
    let at = |k: &'static str| -> Vec<&str> { base.iter().copied().chain([k]).collect() };
    let Some(ts) = node.get_path(base).filter(|n| !n.is_null()) else {
        return Some(TokenSource::default());
    };
    if ts.as_map().is_none() {
        let span = ts.span.clone();
        f.problem(
            &span,
            format!("provider `{name}`: `token_source` must be a mapping, not {}", ts.type_name()),
            Some("write `token_source: {type: url, url: https://...}` (or type file / environment)".into()),
        );
        return None;
    }
    let mut ok = true;
    let kind_name = f.opt_str(&at("type"));
    let url = f.opt_str(&at("url"));
    let file = f.opt_str(&at("file")).or_else(|| f.opt_str(&at("path")));
    let variable = f.opt_str(&at("environment_variable")).or_else(|| f.opt_str(&at("variable")));
    let audience = f.opt_str(&at("audience"));
    let allowed_hosts: Vec<String> =
        f.opt_str_list(&at("allowed_hosts")).into_iter().map(|h| h.to_ascii_lowercase()).collect();
    let format = f.opt_str(&at("format"));
    let field = f.opt_str(&at("subject_token_field_name"));
    let span_of = |k: &'static str| node.get_path(&at(k)).map_or_else(|| ts.span.clone(), |n| n.span.clone());
    let mut headers = Vec::new();
    if let Some(h) = node.get_path(&at("headers")).filter(|n| !n.is_null()) {
        match h.as_map() {
            Some(map) => {
                for (k, v) in map {
                    match v.scalar_string() {
                        Some(v) => headers.push((k.clone(), v)),
                        None => {
                            let span = v.span.clone();
                            f.problem(
                                &span,
                                format!("provider `{name}`: header `{k}` of `token_source` must be a string"),
                                None,
                            );
                            ok = false;
                        }
                    }
                }
            }
            None => {
                let span = h.span.clone();
                f.problem(
                    &span,
                    format!("provider `{name}`: `token_source.headers` must be a mapping of header names to values"),
                    None,
                );
                ok = false;
            }
        }
    }
    let json_field = match format.as_deref() {
        None if field.is_some() => field.clone(),
        None | Some("text") => None,
        Some("json") => Some(field.clone().unwrap_or_else(|| "value".to_string())),
        Some(other) => {
            let span = span_of("format");
            f.problem(
                &span,
                format!("provider `{name}`: `token_source.format` is `{other}`, which is neither `text` nor `json`"),
                None,
            );
            ok = false;
            None
        }
    };
    let kind = match kind_name.as_deref() {
        None | Some("url") if url.is_none() && file.is_none() && variable.is_none() => TokenSourceKind::GithubActions,
        None | Some("url") if url.is_some() => {
            let url = url.clone().unwrap_or_default();
            if !crate::util::url::is_allowed_url(&url) {
                let span = span_of("url");
                f.problem(&span, format!("provider `{name}`: `token_source.url` is `{url}`, which is neither https nor http to a loopback address"), Some("the token request may carry a bearer token; use https".into()));
                ok = false;
            } else if !allowed_hosts.is_empty() && !allowed_hosts.iter().any(|h| *h == url_host(&url)) {
                let span = span_of("url");
                f.problem(
                    &span,
                    format!(
                        "provider `{name}`: `token_source.url` goes to `{}`, which is not in `allowed_hosts` ({})",
                        url_host(&url),
                        allowed_hosts.join(", ")
                    ),
                    Some("fix the URL, or add its host to `token_source.allowed_hosts`".into()),
                );
                ok = false;
            }
            TokenSourceKind::Url { url, headers }
        }
        None | Some("file") if file.is_some() => TokenSourceKind::File { path: file.clone().unwrap_or_default() },
        None | Some("environment") if variable.is_some() => {
            TokenSourceKind::Environment { variable: variable.clone().unwrap_or_default() }
        }
        Some(t @ ("url" | "file" | "environment")) => {
            let key = match t {
                "url" => "url",
                "file" => "file",
                _ => "environment_variable",
            };
            let span = ts.span.clone();
            f.problem(
                &span,
                format!("provider `{name}`: `token_source` of type `{t}` is missing `{key}`"),
                Some(format!("add `token_source.{key}`")),
            );
            return None;
        }
        Some(other) => {
            let span = span_of("type");
            f.problem(
                &span,
                format!(
                    "provider `{name}`: `token_source.type` is `{other}`, which is not one of url, file, environment"
                ),
                Some(
                    "use `type: url` (GitHub Actions when no url is given), `type: file` or `type: environment`".into(),
                ),
            );
            return None;
        }
        None => {
            let span = ts.span.clone();
            f.problem(
                &span,
                format!("provider `{name}`: `token_source` names more than one source"),
                Some("give exactly one of `url`, `file`, `environment_variable`".into()),
            );
            return None;
        }
    };
    ok.then_some(TokenSource { kind, audience, allowed_hosts, json_field })
}
