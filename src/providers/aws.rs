//! AWS chains over STS, with the official SDK: endpoints come from `AWS_ENDPOINT_URL` /
//! `AWS_ENDPOINT_URL_STS` the standard way, throttling is retried with backoff, and every
//! call has a timeout. Used only on the cold path; the runtime lives for one fetch.

use super::credentials::Credentials;
use super::validate::{self, Expect};
use super::{ProviderError, github, sso};
use crate::auth::{IdentityKind, ProviderKind, schema::AccountRef};
use crate::env_vars::{self as ev, Env};
use crate::identity::{Chain, ChainRoot};
use crate::secret::Secret;
use aws_config::Region;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use std::time::Duration;
use time::OffsetDateTime;

/// Session length when an identity names none.
pub const DEFAULT_SESSION_SECS: i32 = 3600;

/// Asks for an MFA code (on `/dev/tty`); `None` when there is no terminal.
pub trait MfaPrompt {
    fn code(&self, identity: &str, mfa_arn: &str) -> Option<Secret>;
    /// The same terminal for an `aws/saml` sign-in's questions (user name, password, MFA
    /// factor, role), when this prompt can ask them.
    fn saml(&self) -> Option<&dyn super::saml::SamlUi> {
        None
    }
}

pub struct FetchContext<'a> {
    pub env: &'a Env,
    pub region: String,
    pub mfa: Option<&'a dyn MfaPrompt>,
    /// The IAM Identity Center access token, when the chain starts at such a provider
    /// (the caller gets it through [`crate::session::portal`]).
    pub sso_token: Option<&'a Secret>,
    /// The `aws/user` keys stored in the keyring, when the chain starts at such an
    /// identity and its configuration holds none.
    pub user_keys: Option<(String, Secret)>,
    /// An `aws/user`'s session from AWS's browser sign-in ([`super::aws_webflow`]), when
    /// the identity has no keys: used as they are, with no GetSessionToken.
    pub user_session: Option<Credentials>,
    /// Passwords stored for an `aws/saml` provider's users, when the chain starts at one.
    pub saml_passwords: Option<&'a dyn super::saml::SavedPasswords>,
}

/// Credentials for the chain's leaf.
pub fn fetch(chain: &Chain, ctx: &FetchContext<'_>) -> Result<Credentials, ProviderError> {
    if let ChainRoot::Provider(p) = &chain.root
        && let Some(ProviderKind::IamIdentityCenter { region, .. }) = &p.kind
    {
        // The portal calls run on the sso client's own runtime (its interface blocks), so
        // they come first, outside this module's runtime; role hops after them get one.
        let creds = permission_set(&p.name, region, &chain.hops[0], ctx)?;
        if chain.hops.len() == 1 {
            return Ok(creds);
        }
        return runtime()?.block_on(assume_hops(creds, &chain.hops[1..], ctx));
    }
    if let ChainRoot::Provider(p) = &chain.root
        && let Some(ProviderKind::Saml { region, .. }) = &p.kind
    {
        return saml_chain(chain, p, region, ctx);
    }
    runtime()?.block_on(walk(chain, ctx))
}

/// An `aws/saml` chain: the IdP sign-in (blocking, before any runtime), the role the first
/// identity's `principal.assume_role` names, AssumeRoleWithSAML into it, then every hop
/// assumed in turn, the first included: Atmos's assume-role identity calls AssumeRole
/// with the SAML session too (so that role's trust policy must let it assume itself).
fn saml_chain(
    chain: &Chain,
    p: &crate::auth::Provider,
    region: &str,
    ctx: &FetchContext<'_>,
) -> Result<Credentials, ProviderError> {
    let first = &chain.hops[0];
    let Some(IdentityKind::AssumeRole { role_arn, .. }) = &first.kind else {
        return Err(unsupported(first, &format!("{} from aws/saml", first.kind_name)));
    };
    let ui = ctx.mfa.and_then(|m| m.saml());
    let got = super::saml::sign_in(p, &first.name, role_arn, &chain.leaf().name, ui, ctx.saml_passwords, ctx.env)?;
    let rt = runtime()?;
    let creds = rt.block_on(async {
        let sts = client(ctx, Some(region), None, None).await?;
        let role = got.role.role.as_str();
        let out = sts
            .assume_role_with_saml()
            .role_arn(role)
            .principal_arn(&got.role.principal)
            .saml_assertion(got.response.expose())
            .duration_seconds(got.duration_secs)
            .send()
            .await
            .map_err(|e| sts_error(e, &first.name, "AssumeRoleWithSAML", Some(role), ctx))?;
        from_sts(out.credentials(), &Call::new(&first.name, "AssumeRoleWithSAML", Some(role), got.duration_secs), ctx)
    })?;
    rt.block_on(assume_hops(creds, &chain.hops, ctx))
}

/// A current-thread runtime that lives for one fetch (never in the warm path).
fn runtime() -> Result<tokio::runtime::Runtime, ProviderError> {
    super::sdk::runtime().map_err(ProviderError::Runtime)
}

/// GetRoleCredentials for an aws/permission-set identity, its account found by id, or by
/// name through every page of ListAccounts.
fn permission_set(
    provider: &str,
    portal_region: &str,
    id: &crate::auth::Identity,
    ctx: &FetchContext<'_>,
) -> Result<Credentials, ProviderError> {
    let Some(IdentityKind::PermissionSet { permission_set, account }) = &id.kind else {
        return Err(unsupported(id, &format!("{} from aws/iam-identity-center", id.kind_name)));
    };
    let token = ctx.sso_token.ok_or_else(|| ProviderError::NeedTerminal {
        identity: id.name.clone(),
        what: "an IAM Identity Center login",
    })?;
    // The permission set's own `spec.endpoint_url` is where Atmos sends its portal calls.
    let env = sso::with_configured(ctx.env, ev::AWS_ENDPOINT_URL_SSO, id.extra.endpoint_url.as_ref())?;
    let ep = sso::Endpoints::from_env(&env, portal_region)?;
    let account_id = match account {
        AccountRef::Id(a) => a.clone(),
        AccountRef::Name(name) => {
            let accounts = sso::list_accounts(&ep, token)?;
            match accounts.iter().find(|a| &a.name == name).or_else(|| {
                let folded: Vec<_> = accounts.iter().filter(|a| a.name.eq_ignore_ascii_case(name)).collect();
                (folded.len() == 1).then(|| folded[0])
            }) {
                Some(a) => a.id.clone(),
                None => {
                    return Err(ProviderError::AccountNotFound {
                        identity: id.name.clone(),
                        provider: provider.to_string(),
                        name: name.clone(),
                        available: accounts.into_iter().map(|a| a.name).collect(),
                    });
                }
            }
        }
    };
    tracing::debug!(identity = %id.name, account = %account_id, permission_set = %permission_set, "GetRoleCredentials");
    let creds = sso::get_role_credentials(&ep, token, &account_id, permission_set)?;
    // No duration is asked for: the permission set's session length decides, at most 12 h.
    let expect = Expect::session(None, validate::LONGEST_ROLE_SESSION);
    validate::check(&creds, expect, OffsetDateTime::now_utc()).map_err(|problem| ProviderError::BadCredentials {
        identity: id.name.clone(),
        service: "IAM Identity Center GetRoleCredentials".into(),
        endpoint: Some(portal_endpoint(&env, portal_region)),
        role: Some(format!("permission set {permission_set} in account {account_id}")),
        problem: Box::new(problem),
    })?;
    Ok(creds)
}

/// The portal endpoint [`sso::Endpoints::from_env`] picks, for errors.
fn portal_endpoint(env: &Env, region: &str) -> String {
    env.get(ev::AWS_ENDPOINT_URL_SSO).or(env.get(ev::AWS_ENDPOINT_URL)).map(str::to_string).unwrap_or_else(|| {
        let region = region.trim().to_ascii_lowercase();
        let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
        format!("https://portal.sso.{region}.{suffix}")
    })
}

async fn walk(chain: &Chain, ctx: &FetchContext<'_>) -> Result<Credentials, ProviderError> {
    let mut hops = chain.hops.iter().peekable();
    let creds = match &chain.root {
        ChainRoot::Provider(p) => match &p.kind {
            Some(ProviderKind::GithubOidc { region, audience }) => {
                let first = hops.next().expect("a chain has a leaf");
                let Some(IdentityKind::AssumeRole { role_arn, duration_secs, session_name, .. }) = &first.kind else {
                    return Err(unsupported(first, &format!("{} from github/oidc", first.kind_name)));
                };
                let token = github::token(ctx.env, audience.as_deref(), &first.name)?;
                let sts = client(ctx, region.as_deref().or(first.region.as_deref()), None, Some(first)).await?;
                let out = sts
                    .assume_role_with_web_identity()
                    .role_arn(role_arn)
                    .role_session_name(session_name_for(session_name.as_deref(), ctx.env))
                    .web_identity_token(token.expose())
                    .duration_seconds(secs(*duration_secs))
                    .send()
                    .await
                    .map_err(|e| sts_error(e, &first.name, "AssumeRoleWithWebIdentity", Some(role_arn), ctx))?;
                let call = Call::new(&first.name, "AssumeRoleWithWebIdentity", Some(role_arn), secs(*duration_secs));
                from_sts(out.credentials(), &call, ctx)?
            }
            _ => return Err(unsupported(&chain.hops[0], &format!("a chain from {}", p.kind_name))),
        },
        ChainRoot::Standalone => {
            let first = hops.next().expect("a chain has a leaf");
            match &first.kind {
                Some(IdentityKind::User { access_key_id, secret_access_key, mfa_arn, .. }) => {
                    // Keys from the configuration (literal or !env), else the keyring; never the
                    // ambient AWS_ACCESS_KEY_ID, as in Atmos: an `aws/user` is the keys it names,
                    // not whatever the shell happens to hold (`aws/ambient` is that).
                    let (key, secret) = match (access_key_id, secret_access_key, &ctx.user_keys, &ctx.user_session) {
                        (Some(k), Some(s), _, _) => (k.expose().to_string(), s.clone()),
                        (_, _, Some((k, s)), _) => (k.clone(), s.clone()),
                        (_, _, None, Some(session)) => {
                            return assume_hops(session.clone(), &hops.cloned().collect::<Vec<_>>(), ctx).await;
                        }
                        _ => return Err(ProviderError::NoUserKeys { identity: first.name.clone() }),
                    };
                    let long_lived = Credentials {
                        access_key_id: key,
                        secret_access_key: secret,
                        session_token: None,
                        expiration: None,
                        issued: None,
                    };
                    if mfa_arn.is_none() && hops.peek().is_some() {
                        long_lived
                    } else {
                        session_token(&long_lived, first, mfa_arn.as_deref(), ctx).await?
                    }
                }
                Some(IdentityKind::Ambient) => ambient(&first.name, ctx).await?,
                _ => return Err(unsupported(first, &first.kind_name)),
            }
        }
    };
    assume_hops(creds, &hops.cloned().collect::<Vec<_>>(), ctx).await
}

/// AssumeRole and AssumeRoot, hop by hop, each signed with the previous hop's credentials.
async fn assume_hops(
    mut creds: Credentials,
    hops: &[crate::auth::Identity],
    ctx: &FetchContext<'_>,
) -> Result<Credentials, ProviderError> {
    for hop in hops {
        match &hop.kind {
            Some(IdentityKind::AssumeRole { role_arn, external_id, duration_secs, session_name }) => {
                let sts = client(ctx, hop.region.as_deref(), Some(&creds), Some(hop)).await?;
                let out = sts
                    .assume_role()
                    .role_arn(role_arn)
                    .role_session_name(session_name_for(session_name.as_deref(), ctx.env))
                    .set_external_id(external_id.as_ref().map(|e| e.expose().to_string()))
                    .duration_seconds(secs(*duration_secs))
                    .send()
                    .await
                    .map_err(|e| sts_error(e, &hop.name, "AssumeRole", Some(role_arn), ctx))?;
                let call = Call::new(&hop.name, "AssumeRole", Some(role_arn), secs(*duration_secs));
                creds = from_sts(out.credentials(), &call, ctx)?;
            }
            Some(IdentityKind::AssumeRoot { target_principal, task_policy_arn, duration_secs }) => {
                let sts = client(ctx, hop.region.as_deref(), Some(&creds), Some(hop)).await?;
                let policy = aws_sdk_sts::types::PolicyDescriptorType::builder().arn(task_policy_arn).build();
                let secs = duration_secs.unwrap_or(crate::auth::schema::ASSUME_ROOT_MAX_SECS).min(900) as i32;
                let out = sts
                    .assume_root()
                    .target_principal(target_principal)
                    .task_policy_arn(policy)
                    .duration_seconds(secs)
                    .send()
                    .await
                    .map_err(|e| {
                        sts_error(e, &hop.name, "AssumeRoot", Some(&format!("root of {target_principal}")), ctx)
                    })?;
                let role = format!("root of {target_principal}");
                creds = from_sts(out.credentials(), &Call::new(&hop.name, "AssumeRoot", Some(&role), secs), ctx)?;
            }
            _ => return Err(unsupported(hop, &hop.kind_name)),
        }
    }
    Ok(creds)
}

async fn session_token(
    base: &Credentials,
    id: &crate::auth::Identity,
    mfa_arn: Option<&str>,
    ctx: &FetchContext<'_>,
) -> Result<Credentials, ProviderError> {
    let code = match mfa_arn {
        None => None,
        Some(arn) => match ctx.mfa.and_then(|p| p.code(&id.name, arn)) {
            Some(c) => Some(c),
            None => return Err(ProviderError::NeedTerminal { identity: id.name.clone(), what: "an MFA code" }),
        },
    };
    let duration = user_session_secs(id, mfa_arn.is_some());
    let sts = client(ctx, id.region.as_deref(), Some(base), Some(id)).await?;
    let out = sts
        .get_session_token()
        .set_serial_number(mfa_arn.map(str::to_string))
        .set_token_code(code.map(|c| c.expose().to_string()))
        .duration_seconds(duration)
        .send()
        .await
        .map_err(|e| sts_error(e, &id.name, "GetSessionToken", None, ctx))?;
    from_sts(out.credentials(), &Call::new(&id.name, "GetSessionToken", None, duration), ctx)
}

/// GetSessionToken's limits for an IAM user: 15 minutes to 12 hours, 36 with MFA.
const USER_SESSION_MIN_SECS: u64 = 900;
const USER_SESSION_MAX_SECS: u64 = 43_200;
const USER_SESSION_MAX_MFA_SECS: u64 = 129_600;

/// How long an aws/user's session is asked for: its `session.duration`, brought within
/// GetSessionToken's limits with a warning (as Atmos clamps it), else tfauth's default.
pub fn user_session_secs(id: &crate::auth::Identity, mfa: bool) -> i32 {
    let Some(asked) = id.extra.session_secs else { return DEFAULT_SESSION_SECS };
    let max = if mfa { USER_SESSION_MAX_MFA_SECS } else { USER_SESSION_MAX_SECS };
    let used = asked.clamp(USER_SESSION_MIN_SECS, max);
    if used != asked {
        tracing::warn!(
            "{}: identity `{}`: `session.duration` is {asked}s; GetSessionToken allows {USER_SESSION_MIN_SECS}s to {max}s{}, so {used}s is used",
            id.span,
            id.name,
            if mfa { " with MFA" } else { " without MFA" }
        );
    }
    used as i32
}

async fn ambient(identity: &str, ctx: &FetchContext<'_>) -> Result<Credentials, ProviderError> {
    use aws_credential_types::provider::ProvideCredentials;
    let config = aws_config::provider_config::ProviderConfig::default()
        .with_http_client(super::sdk::https_client())
        .with_region(Some(Region::new(ctx.region.clone())));
    let chain = aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
        .configure(config)
        .region(Region::new(ctx.region.clone()))
        .build()
        .await;
    let c = chain
        .provide_credentials()
        .await
        .map_err(|e| ProviderError::Ambient { identity: identity.to_string(), message: e.to_string() })?;
    let creds = Credentials {
        access_key_id: c.access_key_id().to_string(),
        secret_access_key: Secret::new(c.secret_access_key()),
        session_token: c.session_token().map(Secret::new),
        expiration: c.expiry().map(OffsetDateTime::from),
        issued: Some(OffsetDateTime::now_utc()),
    };
    validate::check(&creds, Expect::ambient(), OffsetDateTime::now_utc()).map_err(|problem| {
        ProviderError::BadCredentials {
            identity: identity.to_string(),
            service: "the ambient AWS credential chain".into(),
            endpoint: None,
            role: None,
            problem: Box::new(problem),
        }
    })?;
    Ok(creds)
}

/// Who STS says `creds` belong to (`whoami`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerIdentity {
    pub arn: String,
    pub account: String,
    pub user_id: String,
}

/// GetCallerIdentity with `creds`, at the STS endpoint the environment names.
pub fn caller_identity(
    identity: &str,
    creds: &Credentials,
    env: &Env,
    region: String,
) -> Result<CallerIdentity, ProviderError> {
    let ctx = FetchContext {
        env,
        region,
        mfa: None,
        sso_token: None,
        user_keys: None,
        user_session: None,
        saml_passwords: None,
    };
    runtime()?.block_on(async {
        let sts = client(&ctx, None, Some(creds), None).await?;
        let out = sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| sts_error(e, identity, "GetCallerIdentity", None, &ctx))?;
        Ok(CallerIdentity {
            arn: out.arn().unwrap_or_default().to_string(),
            account: out.account().unwrap_or_default().to_string(),
            user_id: out.user_id().unwrap_or_default().to_string(),
        })
    })
}

/// An STS client for `region` (else the context's), signing with `creds` or unsigned, for
/// identity `who`'s call. Its `spec.endpoint_url` is the endpoint, as Atmos's
/// identities use theirs, under `AWS_ENDPOINT_URL_STS` (the SDK's order) and over
/// `AWS_ENDPOINT_URL`; https, or http to loopback only, since a web identity token travels.
async fn client(
    ctx: &FetchContext<'_>,
    region: Option<&str>,
    creds: Option<&Credentials>,
    who: Option<&crate::auth::Identity>,
) -> Result<aws_sdk_sts::Client, ProviderError> {
    let config = super::sdk::sdk_config(region.unwrap_or(&ctx.region), creds).await;
    let mut builder = aws_sdk_sts::config::Builder::from(&config);
    let configured = who.and_then(|w| Some((w, w.extra.endpoint_url.as_ref()?)));
    if let Some((who, ep)) = configured.filter(|_| ctx.env.get(ev::AWS_ENDPOINT_URL_STS).is_none()) {
        if !github::is_allowed_url(&ep.value) {
            return Err(ProviderError::Setup {
                identity: who.name.clone(),
                message: format!(
                    "`spec.endpoint_url` ({}) is `{}`, which is neither https nor http to a loopback address",
                    ep.span, ep.value
                ),
                hint: "credentials travel to this endpoint: use https (http only to 127.0.0.1, [::1] or localhost)"
                    .into(),
                code: crate::exit::DATAERR,
            });
        }
        builder = builder.endpoint_url(&ep.value).use_fips(false).use_dual_stack(false);
    }
    Ok(aws_sdk_sts::Client::from_conf(builder.build()))
}

/// One STS call whose answer is being turned into credentials: what it asked for.
struct Call<'a> {
    identity: &'a str,
    operation: &'static str,
    role: Option<&'a str>,
    /// `DurationSeconds` as sent (every call tfauth makes sends one).
    asked_secs: i32,
}

impl<'a> Call<'a> {
    fn new(identity: &'a str, operation: &'static str, role: Option<&'a str>, asked_secs: i32) -> Call<'a> {
        Call { identity, operation, role, asked_secs }
    }

    fn bad(&self, ctx: &FetchContext<'_>, problem: validate::Problem) -> ProviderError {
        ProviderError::BadCredentials {
            identity: self.identity.to_string(),
            service: format!("STS {}", self.operation),
            endpoint: Some(endpoint(ctx)),
            role: self.role.map(str::to_string),
            problem: Box::new(problem),
        }
    }
}

/// The credentials in an STS answer, checked ([`validate::check`]) before anyone can cache
/// or print them: a truncated or garbled body is an error (exit 69), never a session.
fn from_sts(
    c: Option<&aws_sdk_sts::types::Credentials>,
    call: &Call<'_>,
    ctx: &FetchContext<'_>,
) -> Result<Credentials, ProviderError> {
    let c = c.ok_or_else(|| call.bad(ctx, validate::Problem::NoCredentials))?;
    let now = OffsetDateTime::now_utc();
    let creds = Credentials {
        access_key_id: c.access_key_id().to_string(),
        secret_access_key: Secret::new(c.secret_access_key()),
        session_token: Some(Secret::new(c.session_token())),
        expiration: OffsetDateTime::from_unix_timestamp(c.expiration().secs()).ok(),
        issued: Some(now),
    };
    let asked = (call.asked_secs > 0).then(|| Duration::from_secs(call.asked_secs as u64));
    let api_max =
        if call.operation == "GetSessionToken" { validate::LONGEST_SESSION } else { validate::LONGEST_ROLE_SESSION };
    validate::check(&creds, Expect::session(asked, api_max), now).map_err(|p| call.bad(ctx, p))?;
    Ok(creds)
}

fn sts_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    e: SdkError<E, aws_sdk_sts::config::http::HttpResponse>,
    identity: &str,
    operation: &'static str,
    role: Option<&str>,
    ctx: &FetchContext<'_>,
) -> ProviderError {
    if matches!(e, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)) {
        return ProviderError::Unreachable {
            identity: identity.to_string(),
            endpoint: endpoint(ctx),
            message: std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| s.to_string()),
        };
    }
    let (code, message) = match e.code() {
        Some(code) => (code.to_string(), e.message().map(str::to_string).unwrap_or_else(|| e.to_string())),
        None => raw_error(e.raw_response()),
    };
    ProviderError::Sts { identity: identity.to_string(), operation, role: role.map(str::to_string), code, message }
}

/// An error body the SDK could not parse (some servers answer STS in another XML shape):
/// its `<Code>` and `<Message>`, else `HTTP<status>`.
pub(super) fn raw_error(raw: Option<&aws_sdk_sts::config::http::HttpResponse>) -> (String, String) {
    let Some(raw) = raw else { return ("Unknown".into(), "no response".into()) };
    let status = raw.status().as_u16();
    let body = raw.body().bytes().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
    let tag = |t: &str| {
        let open = format!("<{t}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find(&format!("</{t}>"))? + start;
        Some(body[start..end].trim().to_string())
    };
    let code = tag("Code").unwrap_or_else(|| format!("HTTP{status}"));
    let message = tag("Message").unwrap_or_else(|| format!("HTTP status {status}"));
    (code, message)
}

fn endpoint(ctx: &FetchContext<'_>) -> String {
    ctx.env
        .get(ev::AWS_ENDPOINT_URL_STS)
        .or(ctx.env.get(ev::AWS_ENDPOINT_URL))
        .map(str::to_string)
        .unwrap_or_else(|| format!("https://sts.{}.amazonaws.com", ctx.region))
}

/// A hop tfauth cannot walk, located at the identity's `via` (else its definition).
fn unsupported(id: &crate::auth::Identity, kind: &str) -> ProviderError {
    let span = match &id.via {
        Some(crate::auth::Via::Provider(_, s) | crate::auth::Via::Identity(_, s)) => s.clone(),
        None => id.span.clone(),
    };
    ProviderError::CannotWalk { identity: id.name.clone(), kind: kind.to_string(), span }
}

fn secs(d: Option<u64>) -> i32 {
    d.map_or(DEFAULT_SESSION_SECS, |d| d.min(i32::MAX as u64) as i32)
}

/// The configured name, else `tfauth-<user>`, cleaned to STS's alphabet
/// (`[\w+=,.@-]`) and 2–64 characters.
pub fn session_name_for(configured: Option<&str>, env: &Env) -> String {
    let raw = match configured {
        Some(c) if !c.trim().is_empty() => c.to_string(),
        _ => format!(
            "tfauth-{}",
            env.get(ev::GITHUB_ACTOR).or(env.get(ev::USER)).or(env.get(ev::LOGNAME)).unwrap_or("user")
        ),
    };
    let mut clean: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) { c } else { '-' })
        .take(64)
        .collect();
    while clean.len() < 2 {
        clean.push('-');
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_fit_sts() {
        let env = Env::from_pairs([("USER", "jane doe/é")]);
        assert_eq!(session_name_for(None, &env), "tfauth-jane-doe--");
        assert_eq!(session_name_for(Some("ci run #5"), &env), "ci-run--5");
        assert_eq!(session_name_for(Some(&"x".repeat(100)), &env).len(), 64);
        assert_eq!(session_name_for(Some("a"), &env), "a-");
        let gh = Env::from_pairs([("GITHUB_ACTOR", "octocat"), ("USER", "runner")]);
        assert_eq!(session_name_for(None, &gh), "tfauth-octocat");
    }

    fn user(session: &str) -> crate::auth::Identity {
        use crate::yaml::{LoadContext, Loader};
        let src = format!("identities:\n  me: {{kind: aws/user{session}}}\n");
        let node = Loader::new(&LoadContext::default()).load_str(&src, std::path::Path::new("/a.yaml")).unwrap();
        let (auth, problems) = crate::auth::AuthConfig::parse(Some(&node));
        assert!(problems.is_empty(), "{problems:?}");
        auth.identities.into_iter().next().unwrap()
    }

    #[test]
    fn an_identity_endpoint_url_must_be_https_or_loopback_unless_aws_endpoint_url_sts_overrides_it() {
        let with = |url: &str| user(&format!(", spec: {{endpoint_url: \"{url}\"}}"));
        let run = |id: &crate::auth::Identity, env: &Env| {
            let ctx = FetchContext {
                env,
                region: "us-east-1".into(),
                mfa: None,
                sso_token: None,
                user_keys: None,
                user_session: None,
                saml_passwords: None,
            };
            runtime().unwrap().block_on(client(&ctx, None, None, Some(id))).map(|_| ())
        };
        let none = Env::default();
        assert!(run(&with("http://127.0.0.1:4566"), &none).is_ok());
        assert!(run(&with("https://sts.example"), &none).is_ok());
        let e = run(&with("http://sts.example.com"), &none).unwrap_err();
        assert!(e.to_string().contains("`spec.endpoint_url` (/a.yaml:2:"), "{e}");
        assert!(
            e.to_string().contains("is `http://sts.example.com`, which is neither https nor http to a loopback"),
            "{e}"
        );
        assert_eq!(e.exit_code(), crate::exit::DATAERR);
        // The service's own variable wins, as in the SDKs: the configured one is not used.
        let sts = Env::from_pairs([(ev::AWS_ENDPOINT_URL_STS, "https://sts.example")]);
        assert!(run(&with("http://sts.example.com"), &sts).is_ok());
    }

    #[test]
    fn an_aws_user_asks_get_session_token_for_its_session_duration_within_the_limits() {
        // (session, with MFA, seconds asked): Atmos's reading (seconds, Go durations,
        // days) and its clamping to 15m..12h, or 36h with MFA.
        let cases: &[(&str, bool, i32)] = &[
            ("", false, DEFAULT_SESSION_SECS),
            (", session: {duration: 2h}", false, 7200),
            (", session: {duration: 5400}", false, 5400),
            (", session: {duration: 1d}", true, 86_400),
            (", session: {duration: 1d}", false, 43_200),
            (", session: {duration: 48h}", true, 129_600),
            (", session: {duration: 5m}", false, 900),
            // One Atmos cannot read is dropped (a warning at parse): the default applies.
            (", session: {duration: soon}", false, DEFAULT_SESSION_SECS),
        ];
        for (session, mfa, want) in cases {
            assert_eq!(user_session_secs(&user(session), *mfa), *want, "{session} mfa={mfa}");
        }
    }
}
