//! Tests of [`obtain`] and its helpers on a repository in a temp directory: a fresh cache
//! entry is served without a call, another process's remembered failure is this one's
//! answer, and the errors when there is nothing to fetch or nowhere to cache. No test here
//! reaches STS: the SDK reads endpoint variables from the process environment, not from
//! the [`Env`] snapshot, so a stand-in cannot be pointed at from a unit test.

use super::*;
use crate::auth::AuthConfig;
use crate::identity::chain::{self, ChainError};
use crate::secret::Secret;
use crate::yaml::{LoadContext, Loader};
use std::path::PathBuf;

const AUTH: &str = r#"auth:
  refresh_margin: 10m
  providers:
    sso: {kind: aws/iam-identity-center, start_url: "https://d-1.awsapps.com/start", region: eu-west-1}
    gh: {kind: github/oidc, region: us-east-2}
  identities:
    ci: {kind: aws/user, credentials: {access_key_id: AKIAEXAMPLE, secret_access_key: s3cr3t}, default: true}
    admin: {kind: aws/permission-set, via: {provider: sso}, principal: {name: Admin, account: {id: "111111111111"}}}
    deploy: {kind: aws/assume-role, via: {provider: gh}, principal: {assume_role: "arn:aws:iam::222222222222:role/deploy"}}
"#;

struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new(atmos_yaml: &str) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("atmos.yaml"), atmos_yaml).unwrap();
        Repo { dir }
    }
    fn env(&self, extra: &[(&str, &str)]) -> Env {
        let mut pairs = vec![
            ("HOME".to_string(), self.dir.path().join("home").display().to_string()),
            ("XDG_CACHE_HOME".to_string(), self.dir.path().join("cache").display().to_string()),
            ("XDG_CONFIG_HOME".to_string(), self.dir.path().join("config").display().to_string()),
        ];
        pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Env::from_pairs(pairs)
    }
    /// The merged auth of `atmos.yaml` and the chain of `identity`, as a resolver hands
    /// them to a session (this module never sees the resolver).
    fn resolve(&self, identity: &str, _env: &Env) -> Resolved {
        let path = self.dir.path().join("atmos.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        let doc = Loader::new(&LoadContext::default()).load_str(&text, &path).unwrap();
        let node = doc.get("auth").cloned().unwrap_or_else(Node::null);
        let (auth, problems) = crate::identity::parse_auth(Some(&node));
        assert!(problems.is_empty(), "{problems:?}");
        let chain = chain::build(&auth, identity).unwrap_or_else(|e| panic!("chain of {identity}: {e:?}"));
        Resolved { node, auth, chain: Some(chain) }
    }
    fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache/tfauth/aws")
    }
}

/// What a session gets of a resolved request: the merged auth node and the chosen chain.
struct Resolved {
    node: Node,
    auth: AuthConfig,
    chain: Option<Chain>,
}

impl Resolved {
    fn scope(&self) -> Scope<'_> {
        Scope { auth_node: &self.node, realm: "test-realm".into(), stack_region: None }
    }
    fn chain_for(&self, identity: &str) -> Result<Chain, ChainError> {
        chain::build(&self.auth, identity)
    }
}

fn creds(access_key_id: &str, expires: Option<OffsetDateTime>) -> Credentials {
    Credentials {
        access_key_id: access_key_id.into(),
        secret_access_key: Secret::new("cached-secret"),
        session_token: Some(Secret::new("cached-token")),
        expiration: expires,
        issued: None,
    }
}

fn in_mins(m: i64) -> OffsetDateTime {
    (OffsetDateTime::now_utc() + time::Duration::minutes(m)).replace_nanosecond(0).unwrap()
}

#[test]
fn the_margin_comes_from_the_variable_then_the_config_then_the_default() {
    let repo = Repo::new(&format!("{AUTH}\n"));
    let res = repo.resolve("ci", &repo.env(&[]));
    let m = margin(&res.scope(), &repo.env(&[]));
    assert_eq!((m.duration.as_secs(), m.explicit), (600, true), "auth.refresh_margin: 10m");
    let m = margin(&res.scope(), &repo.env(&[("TFAUTH_REFRESH_MARGIN", "90s")]));
    assert_eq!(m.duration.as_secs(), 90);
    let plain = Repo::new(&AUTH.replace("  refresh_margin: 10m\n", ""));
    let m = margin(&plain.resolve("ci", &plain.env(&[])).scope(), &plain.env(&[]));
    assert_eq!(m, cache::Margin { duration: cache::DEFAULT_MARGIN, explicit: false });
}

#[test]
fn each_chain_has_its_own_key_and_only_iam_identity_center_chains_a_portal() {
    let repo = Repo::new(AUTH);
    let env = repo.env(&[]);
    let res = repo.resolve("admin", &env);
    let admin = res.chain.as_ref().unwrap();
    let deploy = res.chain_for("deploy").unwrap();
    assert_eq!(key(&res.scope(), admin).len(), 32);
    assert_ne!(key(&res.scope(), admin), key(&res.scope(), &deploy));
    assert_eq!(key(&res.scope(), admin), key(&repo.resolve("admin", &env).scope(), admin), "the key is stable");
    let p = portal_of(admin).unwrap();
    assert_eq!(
        (p.provider.as_str(), p.start_url.as_str(), p.region.as_str()),
        ("sso", "https://d-1.awsapps.com/start", "eu-west-1")
    );
    assert!(portal_of(&deploy).is_none());
    assert!(portal_of(&res.chain_for("ci").unwrap()).is_none(), "a standalone chain has no portal");
}

#[test]
fn the_token_store_is_the_cache_file_whatever_the_keyring() {
    let repo = Repo::new(AUTH);
    let env = repo.env(&[]);
    let res = repo.resolve("admin", &env);
    let p = portal_of(res.chain.as_ref().unwrap()).unwrap();
    let store = token_store(&p, &res.scope(), &env).unwrap();
    assert!(store.path().starts_with(repo.dir.path().join("cache/atmos/aws-sso/sessions")));
    let token = crate::providers::sso::TokenFile::from_json(
        r#"{"accessToken": "a", "expiresAt": "2030-01-01T00:00:00Z", "region": "eu-west-1", "startUrl": "https://d-1.awsapps.com/start"}"#,
    )
    .unwrap();
    store.save(&token).unwrap();
    assert!(store.path().exists());

    // Issue 16, point 10: the memory keyring ends with the process, so the token goes to
    // the cache file, where the next process (a credential_process call) finds it.
    for memory in ["  keyring: {type: memory}\n", ""] {
        let with_memory = Repo::new(&AUTH.replace("  refresh_margin: 10m\n", memory));
        let extra: &[(&str, &str)] = if memory.is_empty() { &[("ATMOS_KEYRING_TYPE", "memory")] } else { &[] };
        let env = with_memory.env(extra);
        let res = with_memory.resolve("admin", &env);
        let store = token_store(&p, &res.scope(), &env).unwrap();
        store.save(&token).unwrap();
        assert!(store.path().exists(), "with the memory keyring the token is in the cache file");
        let next_process = token_store(&p, &res.scope(), &env).unwrap();
        assert_eq!(next_process.load().unwrap(), Some(token.clone()));
    }

    let with_ring = Repo::new(
        &AUTH.replace("  refresh_margin: 10m\n", "  keyring: {type: file, spec: {path: /nonexistent-never-used}}\n"),
    );
    let ring_path = with_ring.dir.path().join("data/keyring");
    let yaml = std::fs::read_to_string(with_ring.dir.path().join("atmos.yaml")).unwrap();
    std::fs::write(
        with_ring.dir.path().join("atmos.yaml"),
        yaml.replace("/nonexistent-never-used", &ring_path.display().to_string()),
    )
    .unwrap();
    let env = with_ring.env(&[("ATMOS_KEYRING_PASSWORD", "correct horse battery")]);
    let res = with_ring.resolve("admin", &env);
    let store = token_store(&p, &res.scope(), &env).unwrap();
    store.save(&token).unwrap();
    assert!(store.path().exists(), "with a file keyring too, the token is in the cache file (as Atmos keeps it)");
    assert!(!ring_path.exists(), "and nothing was written to the keyring");
    assert_eq!(store.load().unwrap(), Some(token.clone()));
    assert!(store.remove().unwrap());
    // A token an earlier tfauth kept in the file keyring moves to the cache file.
    let ring = crate::session::vault::token_keyring(res.scope().auth_node, &env).unwrap()().unwrap();
    ring.set(&store.keyring_key(), &crate::secret::Secret::new(token.to_json())).unwrap();
    assert_eq!(store.load().unwrap(), Some(token));
    assert!(store.path().exists());
    assert_eq!(ring.get(&store.keyring_key()).unwrap(), None);
    // Without the password, the store still works: the keyring is simply not looked in.
    let no_password = with_ring.env(&[]);
    let store = token_store(&p, &res.scope(), &no_password).unwrap();
    assert!(store.load().unwrap().is_some());

    let plain = repo.resolve("admin", &repo.env(&[]));
    let err = token_store(&p, &plain.scope(), &Env::default()).err().unwrap();
    assert_eq!(err.to_string(), "cannot tell where to cache the IAM Identity Center token: HOME is not set");
}

#[test]
fn nowhere_to_cache_is_an_error_with_a_hint() {
    let repo = Repo::new(AUTH);
    let env = repo.env(&[]);
    let res = repo.resolve("ci", &env);
    let err = obtain(&res.scope(), res.chain.as_ref().unwrap(), &Env::default(), Interaction::NONE).err().unwrap();
    assert_eq!(err.to_string(), "cannot tell where to cache credentials: HOME is not set");
    assert_eq!(err.hint().as_deref(), Some("set HOME or XDG_CACHE_HOME"));
}

#[test]
fn a_fresh_entry_is_served_without_a_call() {
    let repo = Repo::new(AUTH);
    let env = repo.env(&[]);
    let res = repo.resolve("ci", &env);
    let chain = res.chain.as_ref().unwrap();
    let k = key(&res.scope(), chain);
    let cache = Cache::new(&env, "aws").unwrap();
    cache.write(&k, &creds("ASIACACHED", Some(in_mins(30)))).unwrap();
    let s = obtain(&res.scope(), res.chain.as_ref().unwrap(), &env, Interaction::NONE).unwrap();
    assert_eq!((s.key.as_str(), s.credentials.access_key_id.as_str(), s.fetched), (k.as_str(), "ASIACACHED", false));
    assert_eq!(s.credentials, creds("ASIACACHED", Some(in_mins(30))));
    // The same entry under another identity's key is not this identity's.
    let deploy = res.chain_for("deploy").unwrap();
    assert_ne!(key(&res.scope(), &deploy), k);
}

#[test]
fn another_processs_failure_moments_ago_is_this_ones_answer() {
    let repo = Repo::new(AUTH);
    let env = repo.env(&[]);
    let res = repo.resolve("ci", &env);
    let chain = res.chain.as_ref().unwrap();
    let k = key(&res.scope(), chain);
    let cache = Cache::new(&env, "aws").unwrap();
    // A stale entry: without the record this would be a call to STS.
    cache.write(&k, &creds("ASIASTALE", Some(in_mins(5)))).unwrap();
    let region = chain.aws_region(None).0.to_string();
    let context = failure::context(&env, &region, &base_secrets(chain, &env));
    let denied = ProviderError::Sts {
        identity: "ci".into(),
        operation: "GetSessionToken",
        role: None,
        code: "AccessDenied".into(),
        message: "not for you".into(),
    };
    failure::remember(&cache, &k, &context, &denied);
    let err = obtain(&res.scope(), res.chain.as_ref().unwrap(), &env, Interaction::NONE).err().unwrap();
    assert!(err.to_string().contains("not for you"), "{err}");
    assert!(matches!(&err, SessionError::Provider(e) if e.exit_code() == denied.exit_code()), "{err:?}");
}

#[test]
fn the_failure_context_holds_the_root_users_keys_and_the_variables_sts_reads() {
    let repo = Repo::new(AUTH);
    let env = repo.env(&[("AWS_SESSION_TOKEN", "tok"), ("AWS_SECRET_ACCESS_KEY", "env-secret")]);
    let res = repo.resolve("ci", &env);
    let ci = res.chain.as_ref().unwrap();
    let mut got = base_secrets(ci, &env);
    got.sort();
    assert_eq!(got, ["AKIAEXAMPLE", "env-secret", "s3cr3t", "tok"]);
    let deploy = res.chain_for("deploy").unwrap();
    assert_eq!(base_secrets(&deploy, &repo.env(&[])), Vec::<&str>::new(), "a provider chain has no keys of its own");
}

#[test]
fn a_session_fetched_under_a_margin_longer_than_it_is_reused_in_this_process() {
    let k = "key-for-fetched-here-test";
    let margin = cache::Margin { duration: std::time::Duration::from_secs(2 * 3600), explicit: true };
    let mut c = creds("ASIAONEHOUR", Some(in_mins(60)));
    c.issued = Some(in_mins(-1));
    assert!(fetched_here(k, margin).is_none());
    FETCHED.lock().unwrap().push((k.to_string(), c.clone()));
    assert_eq!(
        fetched_here(k, margin),
        Some(c.clone()),
        "a margin over the session's length: reused while half its life is left"
    );
    let short = cache::Margin { duration: std::time::Duration::from_secs(60), explicit: true };
    assert_eq!(fetched_here(k, short), None, "under a normal margin the cache answers, not this list");
    let mut old = c;
    old.issued = Some(in_mins(-100));
    old.expiration = Some(in_mins(10));
    FETCHED.lock().unwrap().push((k.to_string(), old));
    assert_eq!(fetched_here(k, margin), None, "past half its life: fetched again");
}

#[test]
fn a_chain_through_a_portal_without_a_login_or_terminal_asks_for_one() {
    let repo = Repo::new(AUTH);
    let env = repo.env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:1")]);
    let res = repo.resolve("admin", &env);
    let err = obtain(&res.scope(), res.chain.as_ref().unwrap(), &env, Interaction::NONE).err().unwrap();
    assert_eq!(
        err.to_string(),
        "provider `sso` needs an IAM Identity Center login (https://d-1.awsapps.com/start), and there is no terminal to show the code on"
    );
    assert_eq!(err.hint().as_deref(), Some("run `tfauth auth login --provider sso` in a terminal, then try again"));
    // A login is something a person fixes: it is never remembered as a failure.
    let failed = std::fs::read_dir(repo.cache_dir())
        .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().ends_with(".failed")))
        .unwrap_or(false);
    assert!(!failed);
}

#[test]
fn the_sso_oidc_calls_go_to_the_providers_endpoint_url_and_the_portal_calls_do_not() {
    let src = "providers:\n  sso: {kind: aws/iam-identity-center, start_url: \"https://d-1.awsapps.com/start\", region: eu-west-1, spec: {endpoint_url: \"http://127.0.0.1:4566\"}}\n  plain: {kind: aws/iam-identity-center, start_url: \"https://d-2.awsapps.com/start\", region: eu-west-1}\n";
    let node = Loader::new(&LoadContext::default()).load_str(src, std::path::Path::new("/a.yaml")).unwrap();
    let (auth, problems) = AuthConfig::parse(Some(&node));
    assert!(problems.is_empty(), "{problems:?}");
    let ep = |p: &str, env: &Env| {
        let env = oidc_env(auth.provider(p).unwrap(), env).unwrap();
        let ep = crate::providers::sso::Endpoints::from_env(&env, "eu-west-1").unwrap();
        (ep.oidc().to_string(), ep.portal().to_string())
    };
    let none = Env::default();
    assert_eq!(ep("sso", &none), ("http://127.0.0.1:4566".into(), "https://portal.sso.eu-west-1.amazonaws.com".into()));
    assert_eq!(ep("plain", &none).0, "https://oidc.eu-west-1.amazonaws.com");
    // The variable for the service itself still wins.
    let env = Env::from_pairs([(crate::env_vars::AWS_ENDPOINT_URL_SSO_OIDC, "https://oidc.example")]);
    assert_eq!(ep("sso", &env).0, "https://oidc.example");
}
