//! Tests of the GCP plan: which chain becomes which credentials file (`external_account`,
//! `impersonated_service_account`, the user's own ADC), the `credential_source` for each
//! token source, the gcloud configuration and variables, and the values refused.

use super::*;
use crate::auth::AuthConfig;
use crate::identity::chain;
use crate::yaml::{LoadContext, Loader};

const WIF: &str = "kind: gcp/workload-identity-federation, spec: {project_number: \"123456\", workload_identity_pool_id: gh-pool, workload_identity_provider_id: gh-prov";

fn chain_of(src: &str, leaf: &str) -> Chain {
    let node = Loader::new(&LoadContext::default()).load_str(src, Path::new("/repo/atmos.yaml")).unwrap();
    let (auth, problems) = AuthConfig::parse(Some(&node));
    assert!(problems.is_empty(), "{problems:?}");
    chain::build(&auth, leaf).unwrap()
}

/// A WIF provider (`extra` after its spec) and identities `sa` (a service account) and
/// `proj` (a project through `sa`), plus `bare` (a project straight from the provider).
fn wif(extra: &str) -> String {
    format!(
        "providers:\n  wif: {{{WIF}}}{extra}}}\nidentities:\n  sa: {{kind: gcp/service-account, via: {{provider: wif}}, principal: {{service_account_email: tf@p.iam.gserviceaccount.com, lifetime: 2h, delegates: [d@p.iam.gserviceaccount.com], project_id: sa-project}}}}\n  proj: {{kind: gcp/project, via: {{identity: sa}}, principal: {{project_id: p1, region: us-central1, zone: us-central1-b}}}}\n  bare: {{kind: gcp/project, via: {{provider: wif}}, principal: {{project_id: p2}}}}\n"
    )
}

const ADC: &str = "providers:\n  adc: {kind: gcp/adc, spec: {project_id: adc-project, region: europe-west1, scopes: [s1]}}\nidentities:\n  me: {kind: gcp/project, via: {provider: adc}, principal: {project_id: mine}}\n  sa: {kind: gcp/service-account, via: {provider: adc}, principal: {service_account_email: tf@p.iam.gserviceaccount.com, delegates: [d@p.iam.gserviceaccount.com, projects/-/serviceAccounts/e@p.iam.gserviceaccount.com], scopes: [x]}}\n  plain: {kind: gcp/service-account, via: {provider: adc}, principal: {service_account_email: p@p.iam.gserviceaccount.com}}\n";

fn ctx() -> PlanContext {
    PlanContext {
        realm_dir: PathBuf::from("/cfg/atmos/r"),
        aws_realm_dir: None,
        helper: PathBuf::from("/opt/bin/atmos-auth-helper"),
        helper_args: vec![],
        stack_region: None,
        purpose: "component vpc in stack dev".into(),
    }
}

fn github_env() -> Env {
    Env::from_pairs([
        ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://token.actions.githubusercontent.com/x?api-version=2.0"),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "bearer-secret"),
        ("HOME", "/home/u"),
    ])
}

fn file<'a>(plan: &'a EnvPlan, name: &str) -> &'a PlannedFile {
    plan.files
        .iter()
        .find(|f| f.path.file_name().is_some_and(|n| n == name))
        .unwrap_or_else(|| panic!("no {name} in {:?}", plan.files.iter().map(|f| &f.path).collect::<Vec<_>>()))
}

fn json_of(f: &PlannedFile) -> Value {
    serde_json::from_str(&f.contents).unwrap()
}

// --- target ----------------------------------------------------------------------------

#[test]
fn the_target_takes_the_nearest_service_account_and_the_leafs_project() {
    let t = target(&chain_of(&wif(""), "proj")).unwrap();
    assert_eq!((t.provider.as_str(), t.identity.as_str()), ("wif", "proj"));
    assert_eq!(
        t.impersonate,
        Some(Impersonation {
            email: "tf@p.iam.gserviceaccount.com".into(),
            delegates: vec!["d@p.iam.gserviceaccount.com".into()],
            scopes: vec![],
            lifetime_secs: Some(7200),
        })
    );
    assert_eq!(
        (t.project.as_deref(), t.region.as_deref(), t.zone.as_deref()),
        (Some("p1"), Some("us-central1"), Some("us-central1-b"))
    );
    assert!(
        matches!(&t.source, Source::Wif { project_number, pool_id, provider_id, .. } if project_number == "123456" && pool_id == "gh-pool" && provider_id == "gh-prov")
    );

    let sa = target(&chain_of(&wif(""), "sa")).unwrap();
    assert_eq!(sa.project.as_deref(), Some("sa-project"), "the service account's project_id when no gcp/project");

    let bare = target(&chain_of(
        &wif(", service_account_email: ci@p.iam.gserviceaccount.com, project_id: wif-project"),
        "bare",
    ))
    .unwrap();
    assert_eq!(
        bare.impersonate.map(|i| i.email),
        Some("ci@p.iam.gserviceaccount.com".into()),
        "else the provider's service account"
    );
    assert_eq!(bare.project.as_deref(), Some("p2"));
    let none = target(&chain_of(&wif(""), "bare")).unwrap();
    assert!(none.impersonate.is_none());

    let me = target(&chain_of(ADC, "me")).unwrap();
    assert_eq!(me.source, Source::Adc { scopes: vec!["s1".into()] });
    assert_eq!(
        (me.project.as_deref(), me.region.as_deref()),
        (Some("mine"), Some("europe-west1")),
        "the provider's region when the chain names none"
    );
    let sa = target(&chain_of(ADC, "plain")).unwrap();
    assert_eq!(sa.project.as_deref(), Some("adc-project"), "else the provider's project");

    let aws = "providers: {gh: {kind: github/oidc}}\nidentities:\n  r: {kind: aws/assume-role, via: {provider: gh}, principal: {assume_role: \"arn:aws:iam::111111111111:role/x\"}}\n";
    assert!(target(&chain_of(aws, "r")).is_none());
}

#[test]
fn urls_audiences_and_the_users_adc_follow_the_environment() {
    assert_eq!(
        sts_audience("1", "p", "q"),
        "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q"
    );
    assert_eq!(
        github_audience("1", "p", "q"),
        "https://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q"
    );
    assert_eq!(sts_url(&Env::default()), STS_TOKEN_URL);
    assert_eq!(sts_url(&Env::from_pairs([("TFAUTH_GOOGLE_STS_URL", "http://127.0.0.1:9/t")])), "http://127.0.0.1:9/t");
    assert_eq!(
        impersonation_url(&Env::default(), "a@b.c"),
        "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/a@b.c:generateAccessToken"
    );
    assert_eq!(
        impersonation_url(&Env::from_pairs([("TFAUTH_GOOGLE_IAM_CREDENTIALS_URL", "http://127.0.0.1:9/")]), "a@b.c"),
        "http://127.0.0.1:9/v1/projects/-/serviceAccounts/a@b.c:generateAccessToken"
    );
    type Vars<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(Vars, Option<&str>)] = &[
        (&[("GOOGLE_APPLICATION_CREDENTIALS", "/k.json"), ("CLOUDSDK_CONFIG", "/g"), ("HOME", "/h")], Some("/k.json")),
        (&[("CLOUDSDK_CONFIG", "/g"), ("HOME", "/h")], Some("/g/application_default_credentials.json")),
        (&[("HOME", "/h")], Some("/h/.config/gcloud/application_default_credentials.json")),
        (&[], None),
    ];
    for (vars, want) in cases {
        assert_eq!(user_adc_path(&Env::from_pairs(vars.iter().copied())), want.map(PathBuf::from), "{vars:?}");
    }
}

// --- credential_source -------------------------------------------------------------------

#[test]
fn each_token_source_becomes_a_credential_source_google_can_refetch() {
    let wif = ("1", "p", "q");
    let subject = Path::new("/d/subject_token");
    let ts = |kind, json_field: Option<&str>| TokenSource {
        kind,
        audience: None,
        allowed_hosts: vec![],
        json_field: json_field.map(str::to_string),
    };
    let (v, secret) =
        credential_source(&ts(TokenSourceKind::GithubActions, None), wif, &github_env(), subject).unwrap();
    assert!(secret, "the GitHub request carries a bearer token");
    assert_eq!(
        v,
        json!({
            "url": format!("https://token.actions.githubusercontent.com/x?api-version=2.0&audience={}", crate::providers::encode(&github_audience("1", "p", "q"))),
            "headers": {"Authorization": "bearer bearer-secret"},
            "format": {"type": "json", "subject_token_field_name": "value"},
        })
    );
    let url = TokenSourceKind::Url { url: "https://t.example/tok".into(), headers: vec![("X-K".into(), "v".into())] };
    let (v, secret) = credential_source(&ts(url, Some("id_token")), wif, &Env::default(), subject).unwrap();
    assert!(secret, "headers may carry a secret");
    assert_eq!(
        v,
        json!({"url": "https://t.example/tok", "headers": {"X-K": "v"}, "format": {"type": "json", "subject_token_field_name": "id_token"}})
    );
    let plain = TokenSourceKind::Url { url: "https://t.example/tok".into(), headers: vec![] };
    assert_eq!(
        credential_source(&ts(plain, None), wif, &Env::default(), subject).unwrap(),
        (json!({"url": "https://t.example/tok"}), false)
    );
    let f = TokenSourceKind::File { path: "/run/tok".into() };
    assert_eq!(
        credential_source(&ts(f, None), wif, &Env::default(), subject).unwrap(),
        (json!({"file": "/run/tok"}), false)
    );
    let var = TokenSourceKind::Environment { variable: "OIDC".into() };
    let set = Env::from_pairs([("OIDC", "jwt")]);
    assert_eq!(
        credential_source(&ts(var.clone(), None), wif, &set, subject).unwrap(),
        (json!({"file": "/d/subject_token"}), false)
    );
    assert_eq!(
        credential_source(&ts(var, None), wif, &Env::default(), subject).unwrap_err(),
        "`OIDC` (token_source.environment_variable) is not set"
    );
    // GitHub Actions with only a token already fetched: copied like a variable's.
    let only_token = Env::from_pairs([("ACTIONS_ID_TOKEN", "jwt")]);
    assert_eq!(
        credential_source(&ts(TokenSourceKind::GithubActions, None), wif, &only_token, subject).unwrap(),
        (json!({"file": "/d/subject_token"}), false)
    );
}

#[test]
fn the_github_token_url_is_checked_before_a_bearer_goes_to_it() {
    let subject = Path::new("/d/s");
    let gh = |hosts: Vec<&str>| TokenSource {
        kind: TokenSourceKind::GithubActions,
        audience: Some("my-aud".into()),
        allowed_hosts: hosts.into_iter().map(str::to_string).collect(),
        json_field: None,
    };
    let env =
        |url: &str| Env::from_pairs([("ACTIONS_ID_TOKEN_REQUEST_URL", url), ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "b")]);
    let cases = [
        (Env::default(), vec![], "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set"),
        (
            env("http://evil.example/t"),
            vec![],
            "ACTIONS_ID_TOKEN_REQUEST_URL is neither https nor http to a loopback address",
        ),
        (
            env("https://evil.example/t"),
            vec!["token.actions.githubusercontent.com"],
            "ACTIONS_ID_TOKEN_REQUEST_URL goes to `evil.example`, which is not in `allowed_hosts`",
        ),
    ];
    for (e, hosts, message) in cases {
        assert_eq!(credential_source(&gh(hosts), ("1", "p", "q"), &e, subject).unwrap_err(), message);
    }
    let (v, _) = credential_source(&gh(vec![]), ("1", "p", "q"), &env("https://h.example/t"), subject).unwrap();
    assert_eq!(
        v["url"], "https://h.example/t?audience=my-aud",
        "the configured audience, with `?` when the URL has none"
    );
}

// --- plan --------------------------------------------------------------------------------

#[test]
fn a_wif_chain_writes_an_external_account_file_and_an_isolated_gcloud_config() {
    let plan = plan(&chain_of(&wif(""), "proj"), &ctx(), &github_env()).unwrap();
    let creds = file(&plan, ADC_FILE);
    assert!(creds.secret, "it holds the GitHub bearer token");
    let doc = json_of(creds);
    assert_eq!(doc["type"], "external_account");
    assert_eq!(doc["audience"], sts_audience("123456", "gh-pool", "gh-prov"));
    assert_eq!(doc["subject_token_type"], JWT_TOKEN_TYPE);
    assert_eq!(doc["token_url"], STS_TOKEN_URL);
    assert_eq!(
        doc["service_account_impersonation_url"],
        impersonation_url(&Env::default(), "tf@p.iam.gserviceaccount.com")
    );
    assert_eq!(doc["service_account_impersonation"], json!({"token_lifetime_seconds": 7200}));
    assert!(
        doc["credential_source"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://token.actions.githubusercontent.com/x?api-version=2.0&audience=")
    );

    // Both directories are content-addressed under <realm>/gcp/<provider>/.
    let adc_dir = creds.path.parent().unwrap();
    assert_eq!(adc_dir.parent().unwrap(), Path::new("/cfg/atmos/r/gcp/wif/adc/proj"));
    let props = file(&plan, "config_tfauth");
    let config_dir = props.path.parent().unwrap().parent().unwrap();
    assert_eq!(config_dir.parent().unwrap(), Path::new("/cfg/atmos/r/gcp/wif/config/proj"));
    assert_eq!(file(&plan, "active_config").contents, GCLOUD_CONFIGURATION);
    assert_eq!(plan.addressed.len(), 2);
    assert_eq!(
        props.contents,
        format!(
            "# Written by tfauth for component vpc in stack dev. Do not edit: tfauth writes a new directory when anything changes.\n[core]\nproject = p1\ndisable_usage_reporting = true\n\n[compute]\nregion = us-central1\nzone = us-central1-b\n\n[auth]\ncredential_file_override = {}\n",
            creds.path.display()
        )
    );

    let set = &plan.set;
    assert_eq!(set["GOOGLE_APPLICATION_CREDENTIALS"], creds.path.display().to_string());
    assert_eq!(set["CLOUDSDK_CONFIG"], config_dir.display().to_string());
    assert_eq!(set["CLOUDSDK_ACTIVE_CONFIG_NAME"], "tfauth");
    for k in ["GOOGLE_CLOUD_PROJECT", "GOOGLE_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"] {
        assert_eq!(set[k], "p1", "{k}");
    }
    for k in ["GOOGLE_CLOUD_REGION", "GOOGLE_REGION", "CLOUDSDK_COMPUTE_REGION"] {
        assert_eq!(set[k], "us-central1", "{k}");
    }
    assert_eq!(set["CLOUDSDK_COMPUTE_ZONE"], "us-central1-b");
    assert_eq!(plan.clear_prefixes, ["GOOGLE_", "CLOUDSDK_"]);
    assert!(plan.notes.iter().any(|n| n.contains("`delegates` of `proj` are not used")), "{:?}", plan.notes);
}

#[test]
fn the_same_chain_plans_the_same_directories_and_a_change_moves_them() {
    let a = plan(&chain_of(&wif(""), "proj"), &ctx(), &github_env()).unwrap();
    let b = plan(&chain_of(&wif(""), "proj"), &ctx(), &github_env()).unwrap();
    assert_eq!(a.set, b.set);
    let other = wif("").replace("project_id: p1", "project_id: p9");
    let c = plan(&chain_of(&other, "proj"), &ctx(), &github_env()).unwrap();
    assert_ne!(a.set["CLOUDSDK_CONFIG"], c.set["CLOUDSDK_CONFIG"], "another project: another gcloud directory");
}

#[test]
fn a_token_held_in_a_variable_is_copied_once_and_said_so() {
    let plan = plan(
        &chain_of(&wif(", token_source: {environment_variable: OIDC}"), "bare"),
        &ctx(),
        &Env::from_pairs([("OIDC", "jwt")]),
    )
    .unwrap();
    let subject = file(&plan, SUBJECT_TOKEN_FILE);
    assert!(subject.secret);
    let creds = file(&plan, ADC_FILE);
    assert_eq!(subject.path.parent(), creds.path.parent(), "side by side");
    assert_eq!(
        json_of(creds)["credential_source"],
        json!({"file": subject.path.display().to_string()}),
        "the file names its sibling at its final address"
    );
    assert!(!creds.secret);
    assert!(plan.notes.iter().any(|n| n.contains("copied once")), "{:?}", plan.notes);
    assert!(json_of(creds).get("service_account_impersonation_url").is_none());
}

#[test]
fn without_what_the_token_source_needs_the_plan_says_why_and_writes_no_credentials() {
    let plan = plan(&chain_of(&wif(""), "bare"), &ctx(), &Env::default()).unwrap();
    assert!(plan.files.iter().all(|f| !f.path.ends_with(ADC_FILE)));
    assert!(
        plan.notes.iter().any(|n| n == "cannot write the external_account file yet: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set"),
        "{:?}",
        plan.notes
    );
    assert_eq!(plan.addressed.len(), 1, "only the gcloud configuration");
}

#[test]
fn adc_alone_points_at_the_users_own_file_and_impersonation_is_written_at_run_time() {
    let env = Env::from_pairs([("HOME", "/home/u")]);
    let me = plan(&chain_of(ADC, "me"), &ctx(), &env).unwrap();
    assert_eq!(me.set["GOOGLE_APPLICATION_CREDENTIALS"], "/home/u/.config/gcloud/application_default_credentials.json");
    assert!(me.files.iter().all(|f| !f.path.ends_with(ADC_FILE)), "no copy of the user's refresh token");
    assert!(
        file(&me, "config_tfauth")
            .contents
            .contains("credential_file_override = /home/u/.config/gcloud/application_default_credentials.json\n")
    );

    let sa = plan(&chain_of(ADC, "sa"), &ctx(), &env).unwrap();
    let creds = file(&sa, ADC_FILE);
    assert!(creds.secret && creds.contents.contains("written at run time"));
    assert_eq!(sa.set["GOOGLE_APPLICATION_CREDENTIALS"], creds.path.display().to_string());
    assert!(sa.notes.iter().all(|n| !n.contains("delegates")), "ADC impersonation uses delegates: {:?}", sa.notes);
}

#[test]
fn an_impersonated_file_names_delegates_as_google_wants_them() {
    let imp = Impersonation {
        email: "tf@p.iam.gserviceaccount.com".into(),
        delegates: vec![
            "d@p.iam.gserviceaccount.com".into(),
            "projects/x/serviceAccounts/e@p.iam.gserviceaccount.com".into(),
        ],
        scopes: vec!["s".into()],
        lifetime_secs: None,
    };
    let doc = impersonated(&imp, json!({"type": "authorized_user"}), &Env::default());
    assert_eq!(
        doc,
        json!({
            "type": "impersonated_service_account",
            "service_account_impersonation_url": impersonation_url(&Env::default(), "tf@p.iam.gserviceaccount.com"),
            "delegates": ["projects/-/serviceAccounts/d@p.iam.gserviceaccount.com", "projects/x/serviceAccounts/e@p.iam.gserviceaccount.com"],
            "source_credentials": {"type": "authorized_user"},
            "scopes": ["s"],
        })
    );
    let no_scopes = Impersonation { scopes: vec![], ..imp };
    assert!(impersonated(&no_scopes, json!({}), &Env::default()).get("scopes").is_none());
}

#[test]
fn a_value_that_could_add_a_line_to_the_gcloud_config_is_refused() {
    let src = ADC.replace("project_id: mine", "project_id: \"mine\\n[auth]\"");
    let err = plan(&chain_of(&src, "me"), &ctx(), &Env::from_pairs([("HOME", "/h")])).unwrap_err();
    assert_eq!(
        (err.identity.as_str(), err.file.as_str(), err.what.as_str()),
        ("me", "its gcloud configuration", "the project")
    );
    assert_eq!(err.from, "the chain of identity `me`");
    assert!(err.hint.starts_with("set `project_id` to a GCP project id; tfauth never writes a value"), "{}", err.hint);
    assert!(err.to_string().contains("\"mine\\n[auth]\""), "shown escaped: {err}");

    let src = ADC.replace("project_id: mine}", "project_id: mine, zone: \"a;b\"}");
    let err = plan(&chain_of(&src, "me"), &ctx(), &Env::from_pairs([("HOME", "/h")])).unwrap_err();
    assert_eq!(err.what, "the zone");
}

#[test]
fn a_chain_without_a_gcp_provider_is_a_note_not_files() {
    let aws = "providers: {gh: {kind: github/oidc}}\nidentities:\n  r: {kind: aws/assume-role, via: {provider: gh}, principal: {assume_role: \"arn:aws:iam::111111111111:role/x\"}}\n";
    let plan = plan(&chain_of(aws, "r"), &ctx(), &Env::default()).unwrap();
    assert!(plan.files.is_empty() && plan.set.is_empty());
    assert_eq!(plan.notes, ["identity `r` has no GCP provider at the root of its chain"]);
    assert_eq!(plan.clear, ["GCLOUD_PROJECT"], "competing variables are cleared all the same");
}
