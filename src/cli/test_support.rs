//! What the unit tests of `auth login`, `whoami`, `logout` and `user` share: a repository
//! in a temp directory, a `Ctx` whose HOME, XDG directories and CI are set there, and the
//! fixture every test uses. Nothing here reaches a real service: endpoints point at
//! 127.0.0.1.

/// Providers and identities of every kind the commands treat differently; realm fixed.
pub(crate) const AUTH: &str = r#"auth:
  realm: test-realm
  providers:
    sso: {kind: aws/iam-identity-center, start_url: "https://d-1.awsapps.com/start", region: eu-west-1}
    gh: {kind: github/oidc, region: us-east-2}
    wif: {kind: gcp/workload-identity-federation, spec: {project_number: "42", workload_identity_pool_id: pool, workload_identity_provider_id: prov}, token_source: {environment_variable: OIDC}}
  identities:
    admin: {kind: aws/permission-set, via: {provider: sso}, principal: {name: Admin, account: {id: "111111111111"}}}
    deploy: {kind: aws/assume-role, via: {provider: gh}, principal: {assume_role: "arn:aws:iam::222222222222:role/deploy"}}
    ci: {kind: aws/user, credentials: {access_key_id: AKIAEXAMPLE, secret_access_key: s3cr3t}}
    gproj: {kind: gcp/project, via: {provider: wif}, principal: {project_id: p1}}
"#;

/// A JWT whose claims are `{"sub":"repo:acme/infra","email":"me@acme.dev"}` (unsigned).
pub(crate) const JWT: &str = "e30.eyJzdWIiOiJyZXBvOmFjbWUvaW5mcmEiLCJlbWFpbCI6Im1lQGFjbWUuZGV2In0.sig";

pub(crate) struct Repo {
    pub(crate) dir: tempfile::TempDir,
}

impl Repo {
    pub(crate) fn new(atmos_yaml: &str) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("atmos.yaml"), atmos_yaml).unwrap();
        Repo { dir }
    }
    pub(crate) fn path(&self, rel: &str) -> std::path::PathBuf {
        self.dir.path().join(rel)
    }
    pub(crate) fn env(&self, extra: &[(&str, &str)]) -> crate::env_vars::Env {
        let mut pairs = vec![
            ("HOME".to_string(), self.path("home").display().to_string()),
            ("XDG_CACHE_HOME".to_string(), self.path("cache").display().to_string()),
            ("XDG_CONFIG_HOME".to_string(), self.path("config").display().to_string()),
            // No terminal prompts, no browser: what a unit test may not do.
            ("CI".to_string(), "true".to_string()),
            // Anything that would reach AWS goes nowhere, at once.
            ("AWS_ENDPOINT_URL".to_string(), "http://127.0.0.1:1".to_string()),
        ];
        pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        crate::env_vars::Env::from_pairs(pairs)
    }
    pub(crate) fn ctx(&self, extra: &[(&str, &str)]) -> crate::cli::Ctx {
        crate::cli::Ctx {
            env: self.env(extra),
            cwd: self.dir.path().to_path_buf(),
            self_exe: Some(self.path("bin/tfauth")),
            settings: crate::cli::settings::Settings::resolve(
                &crate::cli::settings::Flags { no_browser: true, ..Default::default() },
                &self.env(extra),
            ),
        }
    }
    /// `<config>/atmos/test-realm`.
    pub(crate) fn realm_dir(&self) -> std::path::PathBuf {
        self.path("config/atmos/test-realm")
    }
    pub(crate) fn portal(&self) -> crate::session::portal::PortalRef {
        crate::session::portal::PortalRef {
            provider: "sso".into(),
            start_url: "https://d-1.awsapps.com/start".into(),
            region: "eu-west-1".into(),
        }
    }
    /// The portal's token store (the cache file), as the commands open it.
    pub(crate) fn token_store(&self) -> crate::session::portal::TokenStore {
        crate::session::portal::TokenStore::new(&self.env(&[]), &self.portal(), None).unwrap()
    }
    /// Saves an access token for the portal with `life` seconds left.
    pub(crate) fn sign_in(&self, life: i64) {
        let token = crate::providers::sso::Token {
            access_token: crate::secret::Secret::new("portal-access"),
            expires_at: time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() + time::Duration::seconds(life),
            refresh_token: None,
        };
        let file = crate::providers::sso::TokenFile::new("https://d-1.awsapps.com/start", "eu-west-1", &token, None);
        self.token_store().save(&file).unwrap();
    }
    /// Writes a cached AWS session owned by `identity` (root `root`) in `realm`.
    pub(crate) fn session(&self, key: &str, identity: &str, root: &str, realm: &str) {
        let cache = crate::session::cache::Cache::new(&self.env(&[]), "aws").unwrap();
        let creds = crate::session::cache::Credentials {
            access_key_id: "ASIAX".into(),
            secret_access_key: crate::secret::Secret::new("s"),
            session_token: Some(crate::secret::Secret::new("t")),
            expiration: Some(time::OffsetDateTime::now_utc() + time::Duration::hours(1)),
            issued: None,
        };
        let owner = crate::session::cache::Owner { identity: identity.into(), root: root.into(), realm: realm.into() };
        cache.write_owned(key, &creds, &owner).unwrap();
    }
    pub(crate) fn session_keys(&self) -> Vec<String> {
        let cache = crate::session::cache::Cache::new(&self.env(&[]), "aws").unwrap();
        let mut keys: Vec<String> = cache.entries().into_iter().map(|(k, _)| k).collect();
        keys.sort();
        keys
    }
}

pub(crate) fn target(identity: Option<&str>) -> crate::cli::Target {
    crate::cli::Target { identity: identity.map(str::to_string), ..Default::default() }
}

/// The message and hint of a usage error (any other error fails the test).
pub(crate) fn usage(r: Result<i32, crate::error::Error>) -> (String, Option<String>) {
    match r {
        Err(e @ crate::error::Error::Usage { .. }) => (e.to_string(), e.hint()),
        Err(other) => panic!("expected a usage error, got {other:?}"),
        Ok(code) => panic!("expected a usage error, got exit {code}"),
    }
}

/// A stand-in Google STS on 127.0.0.1 answering each connection with the next (status,
/// JSON); returns its token URL and what it was asked.
pub(crate) fn google_sts(answers: Vec<(u16, &'static str)>) -> (String, crate::util::test_http::Requests) {
    let (url, seen) = crate::util::test_http::serve(answers.into_iter().map(|(s, b)| (s, b.to_string())).collect());
    (format!("{url}/v1/token"), seen)
}
