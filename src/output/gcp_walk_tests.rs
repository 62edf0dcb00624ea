//! Tests of a GCP chain walked ([`crate::providers::gcp::walk`]) and its planned files
//! completed ([`super::complete`]): from the environment and the user's ADC (each refusal
//! with its message and exit code), and, with `check`, the token exchange and
//! impersonation against stand-in Google endpoints on 127.0.0.1.

use super as g;
use super::*;
use crate::auth::AuthConfig;
use crate::identity::chain;
use crate::output::env::PlanContext;
use crate::providers::{Principal, ProviderError};
use crate::util::test_http::serve;
use crate::yaml::{LoadContext, Loader};
use std::path::PathBuf;

/// A JWT whose claims are `{"sub":"repo:acme/infra","email":"me@acme.dev"}` (unsigned).
const JWT: &str = "e30.eyJzdWIiOiJyZXBvOmFjbWUvaW5mcmEiLCJlbWFpbCI6Im1lQGFjbWUuZGV2In0.sig";

fn chain_of(src: &str, leaf: &str) -> Chain {
    let node = Loader::new(&LoadContext::default()).load_str(src, Path::new("/repo/atmos.yaml")).unwrap();
    let (auth, problems) = AuthConfig::parse(Some(&node));
    assert!(problems.is_empty(), "{problems:?}");
    chain::build(&auth, leaf).unwrap()
}

fn wif(token_source: &str) -> String {
    format!(
        "providers:\n  wif: {{kind: gcp/workload-identity-federation, spec: {{project_number: \"42\", workload_identity_pool_id: pool, workload_identity_provider_id: prov}}, token_source: {token_source}}}\nidentities:\n  sa: {{kind: gcp/service-account, via: {{provider: wif}}, principal: {{service_account_email: tf@p.iam.gserviceaccount.com, lifetime: 30m}}}}\n  proj: {{kind: gcp/project, via: {{identity: sa}}, principal: {{project_id: p1}}}}\n  bare: {{kind: gcp/project, via: {{provider: wif}}, principal: {{project_id: p2}}}}\n"
    )
}

const ADC: &str = "providers:\n  adc: {kind: gcp/adc}\nidentities:\n  me: {kind: gcp/project, via: {provider: adc}, principal: {project_id: mine}}\n  sa: {kind: gcp/service-account, via: {provider: adc}, principal: {service_account_email: tf@p.iam.gserviceaccount.com}}\n";

/// Walks the chain and completes the plan with what it handed over, as a run does.
fn materialize(chain: &Chain, plan: &mut EnvPlan, env: &Env, check: bool) -> Result<Option<Principal>, ProviderError> {
    let walked = crate::providers::gcp::walk(chain, env, check)?;
    complete(plan, chain, &walked, env);
    Ok(walked.principal)
}

fn plan_for(chain: &Chain, env: &Env) -> EnvPlan {
    let ctx = PlanContext {
        realm_dir: PathBuf::from("/cfg/atmos/r"),
        aws_realm_dir: None,
        helper: PathBuf::from("/h"),
        helper_args: vec![],
        stack_region: None,
        purpose: "a test".into(),
    };
    crate::output::gcp::plan(chain, &ctx, env).unwrap()
}

fn setup_error(r: Result<Option<Principal>, ProviderError>) -> (String, String, i32) {
    match r {
        Err(ProviderError::Setup { message, hint, code, .. }) => (message, hint, code),
        Err(other) => panic!("expected a setup error, got {other:?}"),
        Ok(p) => panic!("expected a setup error, got {:?}", p.map(|p| p.name)),
    }
}

fn contents<'a>(plan: &'a EnvPlan, name: &str) -> &'a str {
    &plan.files.iter().find(|f| f.path.ends_with(name)).unwrap_or_else(|| panic!("no {name}")).contents
}

// --- without check: completing the plan -------------------------------------------------

#[test]
fn a_token_held_in_a_variable_is_copied_into_the_planned_file() {
    let chain = chain_of(&wif("{environment_variable: OIDC}"), "proj");
    let env = Env::from_pairs([("OIDC", JWT)]);
    let mut plan = plan_for(&chain, &env);
    assert_eq!(contents(&plan, g::SUBJECT_TOKEN_FILE), "<the subject token, copied at run time>");
    assert!(materialize(&chain, &mut plan, &env, false).unwrap().is_none(), "no check: no principal");
    assert_eq!(contents(&plan, g::SUBJECT_TOKEN_FILE), JWT);

    // The same from GitHub Actions' already-fetched ACTIONS_ID_TOKEN.
    let chain = chain_of(&wif("~"), "bare");
    let env = Env::from_pairs([("ACTIONS_ID_TOKEN", "gh-jwt")]);
    let mut plan = plan_for(&chain, &env);
    materialize(&chain, &mut plan, &env, false).unwrap();
    assert_eq!(contents(&plan, g::SUBJECT_TOKEN_FILE), "gh-jwt");
}

#[test]
fn without_a_token_source_the_error_says_what_to_set() {
    let chain = chain_of(&wif("~"), "bare");
    let mut plan = plan_for(&chain, &Env::default());
    let (message, hint, code) = setup_error(materialize(&chain, &mut plan, &Env::default(), false));
    assert_eq!(
        message,
        "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set, and `token_source` names no other source"
    );
    assert!(hint.starts_with("run in GitHub Actions with `permissions: id-token: write`"), "{hint}");
    assert_eq!(code, crate::exit::NOPERM);

    // A variable that was set when planning and is gone now.
    let chain = chain_of(&wif("{environment_variable: OIDC}"), "bare");
    let mut plan = plan_for(&chain, &Env::from_pairs([("OIDC", "x")]));
    let (message, hint, _) = setup_error(materialize(&chain, &mut plan, &Env::default(), false));
    assert_eq!(message, "`OIDC` (token_source.environment_variable) is not set");
    assert_eq!(hint, "export OIDC with the OIDC token to exchange");
}

#[test]
fn the_users_adc_is_read_and_wrapped_for_impersonation() {
    let home = tempfile::tempdir().unwrap();
    let adc = home.path().join(".config/gcloud/application_default_credentials.json");
    std::fs::create_dir_all(adc.parent().unwrap()).unwrap();
    let user =
        serde_json::json!({"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"});
    std::fs::write(&adc, user.to_string()).unwrap();
    let env = Env::from_pairs([("HOME", home.path().to_str().unwrap())]);

    let chain = chain_of(ADC, "sa");
    let mut plan = plan_for(&chain, &env);
    materialize(&chain, &mut plan, &env, false).unwrap();
    let doc: Value = serde_json::from_str(contents(&plan, g::ADC_FILE)).unwrap();
    assert_eq!(doc["type"], "impersonated_service_account");
    assert_eq!(doc["source_credentials"], user, "the user's credentials as they are");
    assert!(
        doc["service_account_impersonation_url"]
            .as_str()
            .unwrap()
            .ends_with("tf@p.iam.gserviceaccount.com:generateAccessToken")
    );

    // ADC alone: nothing to write, the file only has to be there.
    let chain = chain_of(ADC, "me");
    let mut plan = plan_for(&chain, &env);
    let before = plan.files.len();
    materialize(&chain, &mut plan, &env, false).unwrap();
    assert_eq!(plan.files.len(), before);
}

#[test]
fn an_adc_that_is_missing_unreadable_or_of_the_wrong_type_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("adc.json");
    let env = Env::from_pairs([("GOOGLE_APPLICATION_CREDENTIALS", path.to_str().unwrap())]);
    let run = |leaf: &str| {
        let chain = chain_of(ADC, leaf);
        let mut plan = plan_for(&chain, &env);
        setup_error(materialize(&chain, &mut plan, &env, false))
    };
    let (message, hint, code) = run("me");
    assert_eq!(message, format!("no application-default credentials at {}", path.display()));
    assert!(hint.starts_with("run `gcloud auth application-default login`"), "{hint}");
    assert_eq!(code, crate::exit::NOPERM);

    std::fs::write(&path, "{ not json").unwrap();
    let (message, _, code) = run("me");
    assert!(message.starts_with(&format!("{} is not a credentials file: ", path.display())), "{message}");
    assert_eq!(code, crate::exit::DATAERR);

    std::fs::write(&path, r#"{"type": "external_account"}"#).unwrap();
    let chain = chain_of(ADC, "me");
    let mut plan = plan_for(&chain, &env);
    assert!(materialize(&chain, &mut plan, &env, false).is_ok(), "any type will do when nothing impersonates");
    let (message, _, code) = run("sa");
    assert_eq!(
        message,
        format!(
            "{} has credential type `external_account`, which cannot be the source of an impersonation",
            path.display()
        )
    );
    assert_eq!(code, crate::exit::DATAERR);
    std::fs::write(&path, r#"{"no": "type"}"#).unwrap();
    assert!(run("sa").0.ends_with("has credential type (none), which cannot be the source of an impersonation"));

    let chain = chain_of(ADC, "me");
    let mut plan = plan_for(&chain, &Env::default());
    let (message, _, code) = setup_error(materialize(&chain, &mut plan, &Env::default(), false));
    assert_eq!(message, "cannot tell where your application-default credentials are: HOME is not set");
    assert_eq!(code, crate::exit::USAGE);
}

#[test]
fn a_chain_without_a_gcp_root_is_not_for_this_module() {
    let aws = "providers: {gh: {kind: github/oidc}}\nidentities:\n  r: {kind: aws/assume-role, via: {provider: gh}, principal: {assume_role: \"arn:aws:iam::111111111111:role/x\"}}\n";
    let chain = chain_of(aws, "r");
    let mut plan = EnvPlan::default();
    assert!(materialize(&chain, &mut plan, &Env::default(), true).unwrap().is_none());
}

#[test]
fn with_check_the_subject_token_is_exchanged_and_the_service_account_impersonated() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token.json");
    std::fs::write(&token_file, serde_json::json!({"jwt": JWT}).to_string()).unwrap();
    let (sts, sts_seen) = serve(vec![(200, r#"{"access_token": "federated", "expires_in": 3600}"#.into())]);
    let (iam, iam_seen) =
        serve(vec![(200, r#"{"accessToken": "sa-token", "expireTime": "2030-01-02T03:04:05Z"}"#.into())]);
    let env = Env::from_pairs([
        ("TFAUTH_GOOGLE_STS_URL", format!("{sts}/v1/token")),
        ("TFAUTH_GOOGLE_IAM_CREDENTIALS_URL", iam.clone()),
    ]);
    let chain = chain_of(
        &wif(&format!("{{file: {}, format: json, subject_token_field_name: jwt}}", token_file.display())),
        "proj",
    );
    let mut plan = plan_for(&chain, &env);
    let p = materialize(&chain, &mut plan, &env, true).unwrap().unwrap();
    assert_eq!(p.name, "tf@p.iam.gserviceaccount.com");
    assert_eq!(
        p.details,
        [
            ("via", "principal://iam.googleapis.com/projects/42/locations/global/workloadIdentityPools/pool/subject/repo:acme/infra".to_string()),
            ("project", "p1".to_string()),
        ]
    );
    assert_eq!(p.expires.map(crate::session::cache::format_utc).as_deref(), Some("2030-01-02T03:04:05Z"));

    let sts_seen = sts_seen.lock().unwrap();
    assert_eq!(sts_seen[0].0, "POST /v1/token HTTP/1.1");
    let form = &sts_seen[0].1;
    for part in [
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange",
        "audience=%2F%2Fiam.googleapis.com%2Fprojects%2F42%2Flocations%2Fglobal%2FworkloadIdentityPools%2Fpool%2Fproviders%2Fprov",
        &format!("subject_token={}", crate::providers::encode(JWT)),
    ] {
        assert!(form.contains(part), "{part} not in {form}");
    }
    let iam_seen = iam_seen.lock().unwrap();
    assert_eq!(
        iam_seen[0].0,
        "POST /v1/projects/-/serviceAccounts/tf@p.iam.gserviceaccount.com:generateAccessToken HTTP/1.1"
    );
    let body: Value = serde_json::from_str(&iam_seen[0].1).unwrap();
    assert_eq!(body, serde_json::json!({"scope": [g::CLOUD_PLATFORM_SCOPE], "lifetime": "1800s"}));
}

#[test]
fn with_check_a_refused_exchange_names_the_provider_fields_to_check() {
    let (sts, _) =
        serve(vec![(400, r#"{"error": "invalid_grant", "error_description": "The audience does not match"}"#.into())]);
    let env = Env::from_pairs([("TFAUTH_GOOGLE_STS_URL", sts), ("OIDC", JWT.to_string())]);
    let chain = chain_of(&wif("{environment_variable: OIDC}"), "bare");
    let mut plan = plan_for(&chain, &env);
    match materialize(&chain, &mut plan, &env, true) {
        Err(e @ ProviderError::Refused { status: 400, .. }) => {
            assert!(e.to_string().contains("Google STS"), "{e}");
            let hint = e.hint().unwrap();
            assert!(hint.starts_with("check the provider's project_number, workload_identity_pool_id and workload_identity_provider_id (//iam.googleapis.com/projects/42/"), "{hint}");
        }
        other => panic!("{:?}", other.map(|p| p.map(|p| p.name))),
    }

    // An answer without the token is the endpoint's fault.
    let (sts, _) = serve(vec![(200, r#"{"token_type": "Bearer"}"#.into())]);
    let env = Env::from_pairs([("TFAUTH_GOOGLE_STS_URL", sts), ("OIDC", JWT.to_string())]);
    let mut plan = plan_for(&chain, &env);
    let (message, _, code) = setup_error(materialize(&chain, &mut plan, &env, true));
    assert_eq!(message, "Google STS answered the token exchange without `access_token`");
    assert_eq!(code, crate::exit::UNAVAILABLE);
}

#[test]
fn with_check_an_endpoint_that_is_not_https_is_refused_before_a_token_is_sent() {
    let env = Env::from_pairs([("TFAUTH_GOOGLE_STS_URL", "http://sts.example.com/v1/token"), ("OIDC", JWT)]);
    let chain = chain_of(&wif("{environment_variable: OIDC}"), "bare");
    let mut plan = plan_for(&chain, &env);
    let (message, hint, code) = setup_error(materialize(&chain, &mut plan, &env, true));
    assert_eq!(
        message,
        "Google STS endpoint `http://sts.example.com/v1/token` is neither https nor http to a loopback address"
    );
    assert_eq!((hint.as_str(), code), ("tokens travel to this endpoint: use https", crate::exit::DATAERR));
}
