//! Tests of [`AuthConfig::parse`] through its public face: the typed providers, identities
//! and integrations it yields, and every problem it collects (message, subject, file and
//! line, hint). Fixtures are YAML text parsed as the file `/repo/atmos.yaml`.

use super::test_support::{line_of, problem, render, with_identities};
use super::*;
use crate::env_vars::Env;
use crate::yaml::{LoadContext, Loader};
use std::path::Path;

const FILE: &str = "/repo/atmos.yaml";

fn node_with(src: &str, env: Env) -> Node {
    let ctx = LoadContext { env, ..LoadContext::default() };
    Loader::new(&ctx).load_str(src, Path::new(FILE)).unwrap_or_else(|e| panic!("fixture does not load: {e}\n{src}"))
}

fn parse(src: &str) -> (AuthConfig, Vec<Problem>) {
    AuthConfig::parse(Some(&node_with(src, Env::default())))
}

/// Parses a fixture that must have no problems.
fn clean(src: &str) -> AuthConfig {
    let (cfg, problems) = parse(src);
    assert!(problems.is_empty(), "unexpected problems in\n{src}\n{}", render(&problems));
    cfg
}

// --- the section itself ----------------------------------------------------------------

#[test]
fn absent_or_null_auth_is_an_empty_config_without_problems() {
    let (cfg, problems) = AuthConfig::parse(None);
    assert!(cfg.providers.is_empty() && cfg.identities.is_empty() && problems.is_empty());
    let null = node_with("~", Env::default());
    let (cfg, problems) = AuthConfig::parse(Some(&null));
    assert!(cfg.identities.is_empty() && problems.is_empty());
}

#[test]
fn sections_of_the_wrong_type_are_each_reported_with_their_line() {
    let cases = [
        ("- a\n- b\n", "`auth` must be a mapping, not a list", 1),
        ("providers: [a]\n", "`auth.providers` must be a mapping, not a list", 1),
        ("identities: 5\n", "`auth.identities` must be a mapping, not an integer", 1),
        ("x: 1\nintegrations: text\n", "`auth.integrations` must be a mapping, not a string", 2),
    ];
    for (src, message, line) in cases {
        let (_, problems) = parse(src);
        let p = problem(&problems, message);
        assert_eq!((p.subject.clone(), line_of(p)), (Subject::General, line), "{src}");
        assert_eq!(p.to_string(), format!("{FILE}:{line}:{}: {message}", p.span.as_ref().unwrap().col), "{src}");
    }
}

#[test]
fn realm_and_keyring_type_are_checked() {
    let cfg = clean("realm: acme-prod_1\nkeyring: {type: file}\n");
    assert_eq!(cfg.realm.as_ref().map(|r| r.0.as_str()), Some("acme-prod_1"));
    assert_eq!(cfg.realm.as_ref().map(|r| r.1.line), Some(1));
    assert_eq!(cfg.keyring_type.as_deref(), Some("file"));
    for bad in ["..", "a/b", "\"x y\""] {
        let (cfg, problems) = parse(&format!("realm: {bad}\n"));
        assert!(cfg.realm.is_none(), "{bad}");
        problem(&problems, "is not a valid realm");
    }
    let (cfg, problems) = parse("keyring:\n  type: vault\n");
    assert!(cfg.keyring_type.is_none());
    let p = problem(&problems, "`auth.keyring.type` must be system, file or memory, not `vault`");
    assert_eq!(line_of(p), 2);
}

/// Issue 16, point 11: Atmos's realm rules (`pkg/auth/realm`), accepted and refused alike.
#[test]
fn realm_names_follow_atmos_s_rules() {
    let long_ok = "a".repeat(64);
    for good in ["acme", "acme-prod", "acme_prod_2", "0", "a-b_c-d", "0123456789abcdef", long_ok.as_str()] {
        let cfg = clean(&format!("realm: \"{good}\"\n"));
        assert_eq!(cfg.realm.as_ref().map(|r| r.0.as_str()), Some(good));
    }
    let long_bad = "a".repeat(65);
    for (bad, why) in [
        (long_bad.as_str(), "more than 64"),
        ("Acme", "`A`"),
        ("acme.prod", "`.`"),
        ("acme prod", "` `"),
        ("-acme", "starts or ends"),
        ("acme_", "starts or ends"),
        ("acme--prod", "in a row"),
        ("acme__prod", "in a row"),
        ("acme-_prod", "in a row"),
        ("acme/prod", "path separator"),
        ("..", "path separator"),
    ] {
        let (cfg, problems) = parse(&format!("realm: \"{bad}\"\n"));
        assert!(cfg.realm.is_none(), "{bad}");
        let p = problem(&problems, "is not a valid realm");
        assert!(p.message.contains(why), "{bad}: {}", p.message);
        assert!(p.hint.as_deref().is_some_and(|h| h.contains("at most 64")), "{bad}");
        assert_eq!(line_of(p), 1);
    }
    // Empty is no realm (Atmos falls back), not an error.
    let cfg = clean("realm: \"\"\n");
    assert!(cfg.realm.is_none());
}

#[test]
fn lookups_ignore_case_but_prefer_the_exact_name() {
    let (cfg, _) = parse(
        "providers: {gh: {kind: github/oidc}}\nidentities:\n  Dev: {kind: aws/ambient}\n  dev: {kind: aws/ambient, default: true}\n",
    );
    // Two names differing in case are a problem elsewhere; lookups still pick the exact one.
    assert!(cfg.identity("dev").unwrap().default);
    assert!(!cfg.identity("Dev").unwrap().default);
    assert_eq!(cfg.identity("DEV").unwrap().name, "Dev", "no exact match: the first in any case");
    assert_eq!(cfg.provider("GH").unwrap().name, "gh");
    assert!(cfg.identity("prod").is_none() && cfg.provider("x").is_none() && cfg.integration("x").is_none());
    assert_eq!(cfg.identity_names(), ["Dev", "dev"]);
}

#[test]
fn names_that_differ_only_in_case_are_reported_for_each_section() {
    let src = "providers:\n  gh: {kind: github/oidc}\n  GH: {kind: github/oidc}\nidentities:\n  a: {kind: aws/ambient}\n  A: {kind: aws/ambient}\n";
    let (_, problems) = parse(src);
    let p = problem(&problems, "provider names `gh` and `GH` differ only in case");
    assert_eq!((p.subject.clone(), line_of(p)), (Subject::Provider("GH".into()), 3));
    assert_eq!(p.hint.as_deref(), Some("rename or merge one of the two providers"));
    let p = problem(&problems, "identity names `a` and `A` differ only in case");
    assert_eq!(p.subject, Subject::Identity("A".into()));
}

// --- providers -------------------------------------------------------------------------

#[test]
fn every_provider_kind_is_typed_with_its_fields() {
    let src = r#"
providers:
  sso: {kind: aws/iam-identity-center, start_url: "https://d-1.awsapps.com/start", region: us-east-1, auto_provision_identities: true, session: {duration: 8h}}
  saml: {kind: aws/saml, url: "https://idp.example.com/saml", region: eu-west-1, driver: Okta}
  gh: {kind: github/oidc, region: us-east-2, spec: {audience: sts.amazonaws.com}}
  az: {kind: azure/cli, spec: {tenant_id: 11111111-2222-3333-4444-555555555555}}
  azo: {kind: azure/oidc, spec: {tenant_id: 11111111-2222-3333-4444-555555555555, client_id: 21111111-2222-3333-4444-555555555555, audience: "api://AzureADTokenExchange"}}
  azd: {kind: azure/device-code, tenant_id: 11111111-2222-3333-4444-555555555555}
  adc: {kind: gcp/adc, spec: {project_id: p1, region: us-central1, scopes: [s1, s2]}}
  wif: {kind: gcp/workload-identity-federation, spec: {project_number: "123", workload_identity_pool_id: pool, workload_identity_provider_id: prov, service_account_email: ci@p.iam.gserviceaccount.com}}
"#;
    let cfg = clean(src);
    let kind = |n: &str| cfg.provider(n).unwrap().kind.clone().unwrap_or_else(|| panic!("{n} has no kind"));
    match kind("sso") {
        ProviderKind::IamIdentityCenter { start_url, region, auto_provision, session_secs, .. } => {
            assert_eq!(
                (start_url.as_str(), region.as_str(), auto_provision, session_secs),
                ("https://d-1.awsapps.com/start", "us-east-1", true, Some(8 * 3600))
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(kind("saml"), ProviderKind::Saml { driver: Some(d), region, .. } if d == "Okta" && region == "eu-west-1")
    );
    assert!(
        matches!(kind("gh"), ProviderKind::GithubOidc { region: Some(r), audience: Some(a) } if r == "us-east-2" && a == "sts.amazonaws.com")
    );
    assert!(matches!(kind("az"), ProviderKind::AzureCli { tenant_id: Some(_), subscription_id: None, .. }));
    assert!(
        matches!(kind("azo"), ProviderKind::AzureOidc { audience: Some(a), .. } if a == "api://AzureADTokenExchange")
    );
    assert!(
        matches!(kind("azd"), ProviderKind::AzureDeviceCode { tenant_id, client_id: None, .. } if tenant_id.starts_with("1111")),
        "a top-level field is read when spec has none"
    );
    match kind("adc") {
        ProviderKind::GcpAdc { project_id, region, scopes } => {
            assert_eq!(
                (project_id.as_deref(), region.as_deref(), scopes),
                (Some("p1"), Some("us-central1"), vec!["s1".to_string(), "s2".into()])
            );
        }
        other => panic!("{other:?}"),
    }
    match kind("wif") {
        ProviderKind::GcpWif { project_number, pool_id, provider_id, service_account_email, token_source, .. } => {
            assert_eq!((project_number.as_str(), pool_id.as_str(), provider_id.as_str()), ("123", "pool", "prov"));
            assert_eq!(service_account_email.as_deref(), Some("ci@p.iam.gserviceaccount.com"));
            assert_eq!(token_source, TokenSource::default(), "no token_source: GitHub Actions");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(cfg.provider("sso").unwrap().region(), Some("us-east-1"));
    assert_eq!(cfg.provider("az").unwrap().region(), None);
    let clouds: Vec<Option<Cloud>> = cfg.providers.iter().map(Provider::cloud).collect();
    use Cloud::*;
    assert_eq!(clouds, [Some(Aws), Some(Aws), Some(Aws), Some(Azure), Some(Azure), Some(Azure), Some(Gcp), Some(Gcp)]);
}

#[test]
fn a_provider_with_bad_fields_stays_defined_without_a_kind_and_says_what_is_wrong() {
    // (fixture, message, hint)
    let cases: &[(&str, &str, Option<&str>)] = &[
        (
            "{kind: aws/iam-identity-center, region: us-east-1}",
            "provider `p` (aws/iam-identity-center) is missing `start_url`",
            Some("add `start_url` to its definition"),
        ),
        (
            "{kind: aws/iam-identity-center, start_url: \"http://d-1.awsapps.com/start\", region: us-east-1}",
            "provider `p` (aws/iam-identity-center): `start_url` is `http://d-1.awsapps.com/start`, which is not an https:// URL",
            None,
        ),
        (
            "{kind: aws/iam-identity-center, start_url: \"https://x\", region: useast1}",
            "`region` is `useast1`, which is not an AWS region such as us-east-1",
            None,
        ),
        ("{kind: azure/oidc, spec: {tenant_id: \"\"}}", "is missing `spec.tenant_id`", None),
        (
            "{kind: azure/oidc, spec: {tenant_id: 11111111-2222-3333-4444-555555555555}}",
            "is missing `spec.client_id`",
            None,
        ),
        (
            "{kind: gcp/workload-identity-federation, spec: {project_number: p1, workload_identity_pool_id: a, workload_identity_provider_id: b}}",
            "`spec.project_number` is `p1`, which is not a project number (digits)",
            None,
        ),
        (
            "{kind: gcp/workload-identity-federation, spec: {project_number: \"1\", workload_identity_pool_id: a, workload_identity_provider_id: b, service_account_email: ci}}",
            "provider `p`: `service_account_email` is `ci`, which is not an email address",
            Some("use the service account's email, like ci@PROJECT.iam.gserviceaccount.com"),
        ),
        (
            "{kind: aws/iam-identity-center, start_url: \"https://x\", region: us-east-1, auto_provision_identities: yes please}",
            "`auto_provision_identities` must be true or false, not `yes please`",
            None,
        ),
        ("{kind: gcp/adc, scopes: [a, [b]]}", "`scopes` must be a list of strings", None),
        ("{kind: github/oidc, spec: {audience: [a]}}", "`spec.audience` must be a string, not a list", None),
    ];
    for (def, message, hint) in cases {
        let (cfg, problems) = parse(&format!("providers:\n  p: {def}\n"));
        let p = problem(&problems, message);
        assert_eq!(p.subject, Subject::Provider("p".into()), "{def}");
        assert_eq!(line_of(p), 2, "{def}: {p}");
        if hint.is_some() {
            assert_eq!(p.hint.as_deref(), *hint, "{def}");
        }
        let prov = cfg.provider("p").unwrap_or_else(|| panic!("{def}: the provider must stay defined"));
        // A bad required field drops the kind; a bad optional one only its own value.
        let optional = ["driver", "session.duration", "auto_provision", "scopes", "audience", "service_account_email"];
        let dropped = !optional.iter().any(|o| message.contains(o));
        assert_eq!(prov.kind.is_none(), dropped, "{def}: {prov:?}");
    }
    // An IAM Identity Center `session.duration` Atmos cannot read, it logs and drops (its
    // validator never reads it): a warning, not a problem.
    let (cfg, problems) = parse(
        "providers:\n  p: {kind: aws/iam-identity-center, start_url: \"https://x\", region: us-east-1, session: {duration: forever}}\n",
    );
    assert!(problems.is_empty(), "{}", render(&problems));
    let w: Vec<String> = cfg.notes.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        w.iter()
            .any(|w| w
                .contains("`session.duration` is `forever`, which is not a duration; ignored, as Atmos ignores it")),
        "{w:?}"
    );
}

#[test]
fn a_provider_that_is_not_a_mapping_or_has_no_kind_is_not_defined() {
    let (cfg, problems) = parse("providers:\n  a: text\n  b: {region: us-east-1}\n");
    assert!(cfg.providers.is_empty());
    assert_eq!(
        problem(&problems, "provider `a` must be a mapping, not a string").subject,
        Subject::Provider("a".into())
    );
    let p = problem(&problems, "provider `b` is missing `kind`");
    assert_eq!(p.hint.as_deref(), Some("add `kind` to its definition"));
}

#[test]
fn unknown_kinds_suggest_the_nearest_and_list_them_all() {
    let (cfg, problems) = parse("providers:\n  sso:\n    kind: aws/iam-identity-centre\n");
    let p = problem(&problems, "provider `sso` has unknown kind `aws/iam-identity-centre`");
    assert_eq!(line_of(p), 3, "the span is the kind's");
    let hint = p.hint.as_deref().unwrap();
    assert!(
        hint.starts_with(
            "did you mean `aws/iam-identity-center`? known provider kinds: aws/iam-identity-center, aws/saml"
        ),
        "{hint}"
    );
    assert!(cfg.provider("sso").unwrap().kind.is_none());

    let (_, problems) = parse("identities:\n  x: {kind: totally/else, via: {provider: p}}\n");
    let hint = problem(&problems, "identity `x` has unknown kind `totally/else`").hint.clone().unwrap();
    assert!(hint.starts_with("known identity kinds: aws/permission-set,"), "no near kind: only the list: {hint}");

    let (_, problems) = parse("integrations:\n  e: {kind: aws/ecs, via: {identity: a}}\n");
    let hint = problem(&problems, "integration `e` has unknown kind `aws/ecs`").hint.clone().unwrap();
    assert_eq!(
        hint,
        "did you mean `aws/ecr`? known integration kinds: aws/ecr, aws/ecr-public, aws/eks, azure/acr, azure/aks, gcp/gke"
    );
}

#[test]
fn tags_are_reported_unless_tfauth_can_resolve_them() {
    let env = Env::from_pairs([("START", "https://d-9.awsapps.com/start")]);
    let src = "providers:\n  sso: {kind: aws/iam-identity-center, start_url: !env START, region: !env REGION}\n  gh: {kind: github/oidc, region: !terraform.output vpc region}\n";
    let (cfg, problems) = AuthConfig::parse(Some(&node_with(src, env)));
    let p =
        problem(&problems, "provider `sso` (aws/iam-identity-center): `region` reads `!env REGION`, which is not set");
    assert_eq!(p.hint.as_deref(), Some("export REGION, or give `!env REGION DEFAULT` a default"));
    assert!(!problems.iter().any(|p| p.message.contains("missing `region`")), "an unset !env is not also `missing`");
    assert!(!problems.iter().any(|p| p.message.contains("start_url")), "a set !env is its value");
    let p = problem(
        &problems,
        "provider `gh` (github/oidc): `region` holds `!terraform.output`, which tfauth cannot resolve",
    );
    assert_eq!(p.hint.as_deref(), Some("write the value directly, or use !env"));
    assert!(matches!(cfg.provider("gh").unwrap().kind, Some(ProviderKind::GithubOidc { region: None, .. })));
}

// --- token_source ----------------------------------------------------------------------

fn token_source(ts: &str) -> (Option<TokenSource>, Vec<Problem>) {
    let src = format!(
        "providers:\n  wif:\n    kind: gcp/workload-identity-federation\n    spec: {{project_number: \"1\", workload_identity_pool_id: a, workload_identity_provider_id: b}}\n    token_source: {ts}\n"
    );
    let (cfg, problems) = parse(&src);
    let ts = match cfg.provider("wif").and_then(|p| p.kind.clone()) {
        Some(ProviderKind::GcpWif { token_source, .. }) => Some(token_source),
        _ => None,
    };
    (ts, problems)
}

#[test]
fn token_sources_are_typed_from_their_fields() {
    let url = |u: &str, headers: Vec<(&str, &str)>| TokenSourceKind::Url {
        url: u.into(),
        headers: headers.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
    };
    let cases: Vec<(&str, TokenSourceKind, Option<&str>)> = vec![
        ("~", TokenSourceKind::GithubActions, None),
        ("{audience: aud}", TokenSourceKind::GithubActions, None),
        ("{type: url}", TokenSourceKind::GithubActions, None),
        ("{url: \"https://t.example.com/tok\"}", url("https://t.example.com/tok", vec![]), None),
        (
            "{type: url, url: \"http://127.0.0.1:8080/t\", headers: {Authorization: Bearer x, X-N: 5}, format: json}",
            url("http://127.0.0.1:8080/t", vec![("Authorization", "Bearer x"), ("X-N", "5")]),
            Some("value"),
        ),
        (
            "{file: /run/token, subject_token_field_name: id_token}",
            TokenSourceKind::File { path: "/run/token".into() },
            Some("id_token"),
        ),
        ("{type: file, path: /run/t, format: text}", TokenSourceKind::File { path: "/run/t".into() }, None),
        ("{environment_variable: OIDC}", TokenSourceKind::Environment { variable: "OIDC".into() }, None),
        (
            "{type: environment, variable: OIDC, format: json, subject_token_field_name: jwt}",
            TokenSourceKind::Environment { variable: "OIDC".into() },
            Some("jwt"),
        ),
    ];
    for (ts, kind, field) in cases {
        let (got, problems) = token_source(ts);
        assert!(problems.is_empty(), "{ts}:\n{}", render(&problems));
        let got = got.unwrap_or_else(|| panic!("{ts}: no kind"));
        assert_eq!((got.kind, got.json_field.as_deref()), (kind, field), "{ts}");
    }
    let (got, _) = token_source("{url: \"https://A.example.com/t\", allowed_hosts: [A.Example.com], audience: x}");
    let got = got.unwrap();
    assert_eq!((got.allowed_hosts, got.audience.as_deref()), (vec!["a.example.com".to_string()], Some("x")));
}

#[test]
fn bad_token_sources_are_refused_with_what_to_write() {
    let cases = [
        (
            "text",
            "`token_source` must be a mapping, not a string",
            Some("write `token_source: {type: url, url: https://...}` (or type file / environment)"),
        ),
        (
            "{url: \"http://example.com/t\"}",
            "`token_source.url` is `http://example.com/t`, which is neither https nor http to a loopback address",
            Some("the token request may carry a bearer token; use https"),
        ),
        (
            "{url: \"https://evil.example.net/t\", allowed_hosts: [good.example.com]}",
            "`token_source.url` goes to `evil.example.net`, which is not in `allowed_hosts` (good.example.com)",
            Some("fix the URL, or add its host to `token_source.allowed_hosts`"),
        ),
        ("{type: file}", "`token_source` of type `file` is missing `file`", Some("add `token_source.file`")),
        (
            "{type: environment}",
            "`token_source` of type `environment` is missing `environment_variable`",
            Some("add `token_source.environment_variable`"),
        ),
        (
            "{type: s3, url: \"https://x\"}",
            "`token_source.type` is `s3`, which is not one of url, file, environment",
            None,
        ),
        ("{file: /t, format: yaml}", "`token_source.format` is `yaml`, which is neither `text` nor `json`", None),
        (
            "{url: \"https://x\", headers: [a]}",
            "`token_source.headers` must be a mapping of header names to values",
            None,
        ),
        ("{url: \"https://x\", headers: {A: [1]}}", "header `A` of `token_source` must be a string", None),
    ];
    for (ts, message, hint) in cases {
        let (got, problems) = token_source(ts);
        let p = problem(&problems, message);
        assert_eq!(p.subject, Subject::Provider("wif".into()), "{ts}");
        assert!(p.message.starts_with("provider `wif`: "), "{}", p.message);
        if hint.is_some() {
            assert_eq!(p.hint.as_deref(), hint, "{ts}");
        }
        assert!(got.is_none(), "{ts}: a bad token_source drops the provider's kind");
    }
}

// --- identities ------------------------------------------------------------------------

#[test]
fn every_identity_kind_is_typed_with_its_fields() {
    let cfg = clean(&with_identities(
        r#"  ps: {kind: aws/permission-set, via: {provider: sso}, principal: {name: Admin, account: {id: "111111111111"}}, default: true}
  psn: {kind: aws/permission-set, via: {provider: sso}, principal: {name: Admin, account: {name: prod}}}
  role: {kind: aws/assume-role, via: {identity: ps}, principal: {assume_role: "arn:aws:iam::222222222222:role/tf", external_id: ext, duration: 1h, session_name: me}, region: eu-west-1}
  root: {kind: aws/assume-root, via: {identity: ps}, principal: {target_principal: "333333333333", task_policy_arn: "arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy", duration: 15m}}
  user: {kind: aws/user, credentials: {access_key_id: AKIA, secret_access_key: s, mfa_arn: "arn:aws:iam::111111111111:mfa/me"}, required: true}
  amb: {kind: aws/ambient}
  sub: {kind: azure/subscription, via: {provider: az}, principal: {subscription_id: 11111111-2222-3333-4444-555555555555, location: westeurope}}
  sa: {kind: gcp/service-account, via: {provider: adc}, principal: {service_account_email: tf@p.iam.gserviceaccount.com, lifetime: 2h, delegates: d@p.iam.gserviceaccount.com, scopes: [s]}}
  proj: {kind: gcp/project, via: {identity: sa}, principal: {project_id: p1, region: us-central1, zone: us-central1-a}}
"#,
    ));
    let id = |n: &str| cfg.identity(n).unwrap();
    let kind = |n: &str| id(n).kind.clone().unwrap_or_else(|| panic!("{n} has no kind"));
    assert!(
        matches!(kind("ps"), IdentityKind::PermissionSet { permission_set, account: AccountRef::Id(a) } if permission_set == "Admin" && a == "111111111111")
    );
    assert!(matches!(kind("psn"), IdentityKind::PermissionSet { account: AccountRef::Name(n), .. } if n == "prod"));
    match kind("role") {
        IdentityKind::AssumeRole { role_arn, external_id, duration_secs, session_name } => {
            assert_eq!(role_arn, "arn:aws:iam::222222222222:role/tf");
            assert_eq!(external_id.as_ref().map(|s| s.expose()), Some("ext"));
            assert_eq!((duration_secs, session_name.as_deref()), (Some(3600), Some("me")));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(kind("root"), IdentityKind::AssumeRoot { duration_secs: Some(900), .. }));
    assert!(matches!(
        kind("user"),
        IdentityKind::User { access_key_id: Some(_), secret_access_key: Some(_), mfa_arn: Some(_), .. }
    ));
    assert!(matches!(kind("amb"), IdentityKind::Ambient));
    assert!(
        matches!(kind("sub"), IdentityKind::AzureSubscription { location: Some(l), resource_group: None, .. } if l == "westeurope")
    );
    match kind("sa") {
        IdentityKind::GcpServiceAccount { email, lifetime_secs, delegates, scopes, project_id } => {
            assert_eq!((email.as_str(), lifetime_secs, project_id), ("tf@p.iam.gserviceaccount.com", Some(7200), None));
            assert_eq!((delegates, scopes), (vec!["d@p.iam.gserviceaccount.com".to_string()], vec!["s".to_string()]));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(kind("proj"), IdentityKind::GcpProject { zone: Some(z), .. } if z == "us-central1-a"));

    assert!(id("ps").default && id("ps").default_span.as_ref().is_some_and(|s| s.line == 7));
    assert!(!id("psn").default && id("psn").default_span.is_none());
    assert!(id("user").required && !id("ps").required);
    assert_eq!(id("role").region.as_deref(), Some("eu-west-1"));
    assert!(matches!(&id("ps").via, Some(Via::Provider(p, s)) if p == "sso" && s.line == 7));
    assert!(matches!(&id("role").via, Some(Via::Identity(i, _)) if i == "ps"));
    assert!(id("user").via.is_none() && id("user").is_standalone() && !id("ps").is_standalone());
    assert_eq!(
        (id("sub").cloud(), id("proj").cloud(), id("amb").cloud()),
        (Some(Cloud::Azure), Some(Cloud::Gcp), Some(Cloud::Aws))
    );
}

#[test]
fn a_region_under_principal_counts_for_aws_identities_only() {
    let cfg = clean(&with_identities(
        "  a: {kind: aws/assume-role, via: {provider: gh}, principal: {assume_role: \"arn:aws:iam::222222222222:role/tf\", region: ap-south-1}}\n  g: {kind: gcp/project, via: {provider: adc}, principal: {project_id: p, region: us-central1}}\n",
    ));
    assert_eq!(cfg.identity("a").unwrap().region.as_deref(), Some("ap-south-1"));
    assert_eq!(cfg.identity("g").unwrap().region, None, "a GCP region stays in its kind");
}

#[test]
fn an_aws_user_s_credentials_region_is_its_region() {
    let cfg = clean(&with_identities(
        "  u: {kind: aws/user, credentials: {access_key_id: AKIA, secret_access_key: s, region: us-west-2}}\n  v: {kind: aws/user, region: eu-west-1, credentials: {region: us-west-2}}\n  r: {kind: aws/assume-role, via: {provider: gh}, principal: {assume_role: \"arn:aws:iam::222222222222:role/tf\"}, credentials: {region: us-west-2}}\n",
    ));
    assert_eq!(cfg.identity("u").unwrap().region.as_deref(), Some("us-west-2"));
    assert_eq!(cfg.identity("v").unwrap().region.as_deref(), Some("eu-west-1"), "`region` comes first");
    assert_eq!(cfg.identity("r").unwrap().region, None, "only an aws/user's credentials carry a region");
}

#[test]
fn identity_env_is_read_and_names_auth_owns_are_dropped_with_a_warning() {
    let src = with_identities(
        "  u:\n    kind: aws/user\n    env:\n      - {key: TF_VAR_team, value: core}\n      - {key: N, value: 3}\n      - {key: AWS_PROFILE, value: mine}\n      - {key: 1BAD, value: x}\n      - {key: ALSO-BAD, value: x}\n      - {value: x}\n      - {key: GOOGLE_CREDENTIALS, value: x}\n",
    );
    let (cfg, problems) = parse(&src);
    assert!(problems.is_empty(), "{}", render(&problems));
    let id = cfg.identity("u").unwrap();
    assert_eq!(id.env, [("TF_VAR_team".to_string(), "core".to_string()), ("N".to_string(), "3".to_string())]);
    let warnings: Vec<Problem> = cfg.notes.all().cloned().collect();
    for (needle, line) in [
        ("`AWS_PROFILE` is one auth sets (AWS_*)", 12),
        ("`1BAD` is not a valid environment variable name", 13),
        ("`ALSO-BAD` is not a valid", 14),
        ("each `env` entry must be", 15),
        ("`GOOGLE_CREDENTIALS` is one auth sets", 16),
    ] {
        let p = problem(&warnings, needle);
        assert_eq!((line_of(p), &p.subject), (line, &Subject::Identity("u".into())), "{needle}");
    }
    let (cfg, _) = noted(&with_identities("  u: {kind: aws/user, env: {A: b}}\n"), "`env` must be a list");
    assert!(cfg.identity("u").unwrap().env.is_empty());
}

#[test]
fn bad_identity_fields_are_reported_with_the_identity_and_kind() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        (
            "{kind: aws/permission-set, via: {provider: sso}, principal: {name: Admin}}",
            "identity `x` (aws/permission-set) is missing `principal.account.id` or `principal.account.name`",
            Some("name the account by id (12 digits) or by its name in IAM Identity Center"),
        ),
        (
            "{kind: aws/permission-set, via: {provider: sso}, principal: {name: Admin, account: {id: 12345}}}",
            "`principal.account.id` is `12345`, which is not a 12-digit AWS account id",
            None,
        ),
        (
            "{kind: aws/assume-role, via: {provider: gh}, principal: {assume_role: \"arn:aws:iam::1:role/x\"}}",
            "`principal.assume_role` is `arn:aws:iam::1:role/x`, which is not an IAM role ARN",
            None,
        ),
        (
            "{kind: aws/assume-root, via: {identity: base}, principal: {target_principal: \"333333333333\", task_policy_arn: \"arn:aws:iam::aws:policy/AdministratorAccess\"}}",
            "`principal.task_policy_arn` is `arn:aws:iam::aws:policy/AdministratorAccess`, which is not a root task policy",
            Some(
                "AWS's root task policies include IAMAuditRootUserCredentials, IAMCreateRootUserPassword, IAMDeleteRootUserCredentials, S3UnlockBucketPolicy, SQSUnlockQueuePolicy",
            ),
        ),
        (
            "{kind: aws/user, credentials: {access_key_id: AKIA}}",
            "identity `x` (aws/user): `credentials` needs both `access_key_id` and `secret_access_key`",
            None,
        ),
        (
            "{kind: aws/user, mfa_arn: \"arn:aws:iam::111111111111:user/me\"}",
            "`mfa_arn` is `arn:aws:iam::111111111111:user/me`, which is not an MFA device ARN",
            None,
        ),
        (
            "{kind: azure/subscription, via: {provider: az}, principal: {subscription_id: prod}}",
            "`principal.subscription_id` is `prod`, which is not a subscription UUID",
            None,
        ),
        (
            "{kind: gcp/service-account, via: {provider: adc}, principal: {service_account_email: tf@p.iam.gserviceaccount.com, lifetime: 24h}}",
            "identity `x` (gcp/service-account): `lifetime` is 86400s; Google allows at most 43200s",
            None,
        ),
        (
            "{kind: gcp/project, via: {provider: adc}, principal: {}}",
            "identity `x` (gcp/project) is missing `principal.project_id`",
            Some("add `principal.project_id` to its definition"),
        ),
        ("{kind: aws/ambient, default: maybe}", "identity `x`: `default` must be true or false, not `maybe`", None),
        ("{kind: aws/ambient, region: \"eu west\"}", "`region` is `eu west`, which is not a region", None),
    ];
    for (def, message, hint) in cases {
        let src = with_identities(&format!(
            "  base: {{kind: aws/permission-set, via: {{provider: sso}}, principal: {{name: A, account: {{id: \"111111111111\"}}}}}}\n  x: {def}\n"
        ));
        let (cfg, problems) = parse(&src);
        let p = problem(&problems, message);
        assert_eq!(p.subject, Subject::Identity("x".into()), "{def}");
        assert_eq!(line_of(p), 8, "{def}: {p}");
        if hint.is_some() {
            assert_eq!(p.hint.as_deref(), *hint, "{def}");
        }
        assert!(cfg.identity("x").is_some(), "{def}: a bad field never drops the identity");
        assert!(problems.iter().all(|p| p.subject == Subject::Identity("x".into())), "{def}:\n{}", render(&problems));
    }
}

#[test]
fn via_must_name_exactly_one_start_and_standalone_kinds_take_none() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "{kind: aws/assume-role, principal: {assume_role: \"arn:aws:iam::222222222222:role/x\"}}",
            "identity `x` (aws/assume-role) has no `via`",
            "add `via: {provider: NAME}` or `via: {identity: NAME}`",
        ),
        (
            "{kind: aws/assume-role, via: {provider: gh, identity: y}, principal: {assume_role: \"arn:aws:iam::222222222222:role/x\"}}",
            "identity `x` has both `via.provider` and `via.identity`",
            "keep exactly one: a chain starts at one provider or continues one identity",
        ),
        (
            "{kind: aws/ambient, via: {identity: y}}",
            "identity `x` (aws/ambient) stands alone and must not define `via` (Atmos refuses it too)",
            "remove `via`",
        ),
    ];
    for (def, message, hint) in cases {
        let (cfg, problems) = parse(&with_identities(&format!("  x: {def}\n")));
        let p = problem(&problems, message);
        assert_eq!(p.hint.as_deref(), Some(*hint), "{def}");
        assert!(cfg.identity("x").unwrap().via.is_none(), "{def}");
    }
    let (_, problems) = parse(&with_identities("  x: {kind: aws/assume-role, via: gh}\n"));
    problem(&problems, "identity `x`: `via` must be a mapping with `provider` or `identity`");
}

#[test]
fn an_entry_without_kind_only_overrides_unless_it_defines_a_chain() {
    let (cfg, problems) = parse(&with_identities("  over: {default: true}\n"));
    assert!(problems.is_empty(), "{}", render(&problems));
    assert!(cfg.identity("over").is_none(), "an override is not an identity of its own");
    let (cfg, problems) = parse(&with_identities("  half: {via: {provider: gh}}\n"));
    assert!(cfg.identity("half").is_none());
    let p = problem(&problems, "identity `half` is missing `kind`");
    assert_eq!(p.subject, Subject::Identity("half".into()));
}

// --- references across sections ----------------------------------------------------------

fn with_integration(def: &str) -> String {
    with_identities(&format!(
        "  ci: {{kind: aws/assume-role, via: {{provider: gh}}, principal: {{assume_role: \"arn:aws:iam::222222222222:role/x\"}}}}\n  gs: {{kind: gcp/project, via: {{provider: adc}}, principal: {{project_id: p}}}}\nintegrations:\n  ecr: {def}\n"
    ))
}

#[test]
fn an_ecr_integration_is_typed_and_auto_provisions_by_default() {
    let cfg = clean(&with_integration(
        "{kind: aws/ecr, via: {identity: CI}, spec: {registry: {account_id: \"012345678901\", region: us-east-2}}}",
    ));
    let int = cfg.integration("ECR").unwrap();
    assert_eq!(int.kind, Some(IntegrationKind::Ecr { account_id: "012345678901".into(), region: "us-east-2".into() }));
    assert!(int.auto_provision && int.is_via("ci") && !int.is_via("gs"));
    let cfg = clean(&with_integration(
        "{kind: aws/ecr, via: {identity: ci}, spec: {auto_provision: false, registry: {account_id: \"012345678901\", region: us-east-2}}}",
    ));
    assert!(!cfg.integration("ecr").unwrap().auto_provision);
}

#[test]
fn bad_integrations_say_what_to_write() {
    let registry = "registry: {account_id: \"012345678901\", region: us-east-2}";
    let cases = [
        (
            "{kind: aws/ecr, via: {identity: ci}, spec: {registry: {account_id: 12345678901, region: us-east-2}}}"
                .to_string(),
            "integration `ecr` (aws/ecr): `spec.registry.account_id` is `12345678901`, which is not a 12-digit AWS account id",
            Some("quote the account id (`account_id: \"012345678901\"`): as a number YAML drops its leading zeros"),
        ),
        (
            "{kind: aws/ecr, via: {identity: ci}, spec: {registry: {account_id: \"abc\", region: us-east-2}}}".into(),
            "`spec.registry.account_id` is `abc`",
            Some("use the registry's 12-digit account id, as in 123456789012.dkr.ecr.us-east-2.amazonaws.com"),
        ),
        (
            format!("{{kind: aws/ecr, spec: {{{registry}}}}}"),
            "integration `ecr` has no `via.identity`",
            Some("add `via: {identity: NAME}` with the AWS identity whose session it uses"),
        ),
        (
            format!("{{kind: aws/ecr, via: {{identity: cj}}, spec: {{{registry}}}}}"),
            "integration `ecr`: `via.identity` names `cj`, which is not defined",
            Some("did you mean `ci`?"),
        ),
        (
            format!("{{kind: aws/ecr, via: {{identity: gs}}, spec: {{{registry}}}}}"),
            "integration `ecr` (aws/ecr) needs an AWS identity, but `gs` is gcp/project",
            Some("point `via.identity` at an AWS identity that may call ecr:GetAuthorizationToken"),
        ),
        (
            "{kind: aws/ecr, via: {identity: ci}, spec: {registry: {account_id: \"012345678901\"}}}".into(),
            "is missing `spec.registry.region`",
            None,
        ),
    ];
    for (def, message, hint) in &cases {
        let (cfg, problems) = parse(&with_integration(def));
        let p = problem(&problems, message);
        assert_eq!(p.subject, Subject::Integration("ecr".into()), "{def}");
        if hint.is_some() {
            assert_eq!(p.hint.as_deref(), *hint, "{def}");
        }
        assert!(cfg.integration("ecr").is_some(), "{def}: the integration stays defined");
    }
    let (cfg, problems) = parse("integrations:\n  e: [1]\n");
    assert!(cfg.integrations.is_empty());
    problem(&problems, "integration `e` must be a mapping, not a list");
}

#[test]
fn every_problem_of_a_file_is_collected_not_just_the_first() {
    let (_, problems) = parse(
        "realm: a/b\nproviders:\n  p: {kind: aws/saml}\nidentities:\n  i: {kind: aws/assume-role}\nintegrations:\n  e: {kind: aws/ecr}\n",
    );
    let subjects: Vec<&Subject> = problems.iter().map(|p| &p.subject).collect();
    for s in [
        Subject::General,
        Subject::Provider("p".into()),
        Subject::Identity("i".into()),
        Subject::Integration("e".into()),
    ] {
        assert!(subjects.contains(&&s), "no problem about {s:?}:\n{}", render(&problems));
    }
    assert!(problems.len() >= 7, "{}", render(&problems));
}

#[test]
fn a_problem_without_a_real_span_prints_only_its_message() {
    let p = Problem { subject: Subject::General, span: Some(Span::synthetic()), message: "m".into(), hint: None };
    assert_eq!(p.to_string(), "m");
    assert_eq!(Problem { span: None, ..p }.to_string(), "m");
}

// --- issue 16: what Atmos accepts, tfauth accepts (warnings and "not supported yet") --------

/// The one note (warning or unsupported) whose message contains `needle`, and no problems.
fn noted(src: &str, needle: &str) -> (AuthConfig, Problem) {
    let (cfg, problems) = parse(src);
    assert!(problems.is_empty(), "unexpected problems in\n{src}\n{}", render(&problems));
    let all: Vec<Problem> = cfg.notes.all().cloned().collect();
    let p = problem(&all, needle).clone();
    assert!(p.span.is_some(), "{needle}");
    (cfg, p)
}

#[test]
fn accepted_as_atmos_accepts_with_a_warning() {
    let ids = |d: &str| with_identities(&format!("  base: {{kind: aws/user}}\n  x: {d}\n"));
    let role = "principal: {assume_role: \"arn:aws:iam::222222222222:role/x\"";
    // assume-role durations go to STS as written.
    for (d, secs) in [("5m", 300), ("13h", 46800)] {
        let (cfg, p) = noted(
            &ids(&format!("{{kind: aws/assume-role, via: {{identity: base}}, {role}, duration: {d}}}}}")),
            "STS allows 900s (15m) to 43200s (12h)",
        );
        assert!(p.message.contains(&format!("is {secs}s")), "{}", p.message);
        assert!(
            matches!(cfg.identity("x").unwrap().kind, Some(IdentityKind::AssumeRole { duration_secs: Some(s), .. }) if s == secs)
        );
    }
    // assume-root: over 15 minutes is capped; any root task policy is taken.
    let (cfg, _) = noted(
        &ids(
            "{kind: aws/assume-root, via: {identity: base}, principal: {target_principal: \"333333333333\", task_policy_arn: \"arn:aws:iam::aws:policy/root-task/SomeNewRootTask\", duration: 1h}}",
        ),
        "AssumeRoot sessions last at most 15m, so 900s is used",
    );
    assert!(
        matches!(&cfg.identity("x").unwrap().kind, Some(IdentityKind::AssumeRoot { duration_secs: Some(900), task_policy_arn, .. }) if task_policy_arn.ends_with("SomeNewRootTask"))
    );
    // aws/user: `via` ignored.
    let (cfg, p) = noted(
        &ids("{kind: aws/user, via: {provider: gh}}"),
        "identity `x` (aws/user) stands alone: its `via` is ignored",
    );
    assert_eq!(p.subject, Subject::Identity("x".into()));
    assert!(cfg.identity("x").unwrap().via.is_none());
}

#[test]
fn azure_tenants_may_be_domains_and_saml_drivers_anything() {
    let src = "providers:\n  a: {kind: azure/oidc, spec: {tenant_id: contoso.onmicrosoft.com, client_id: 21111111-2222-3333-4444-555555555555}}\n  b: {kind: azure/device-code, spec: {tenant_id: contoso.com}}\n  c: {kind: azure/cli, spec: {tenant_id: contoso.onmicrosoft.com}}\n  s: {kind: aws/saml, url: \"https://idp.example.com\", region: us-east-1, driver: KeycloakNew}\n";
    let cfg = clean(src);
    // A driver tfauth does not speak is taken, with the one note validate shows as a warning.
    let notes: Vec<String> = cfg.notes.all().map(|n| n.message.clone()).collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("SAML driver `KeycloakNew` is not supported by tfauth yet"), "{notes:?}");
    noted(
        "providers:\n  s: {kind: aws/saml, url: \"https://idp.example.com\", region: us-east-1, driver: Browser, browser_type: firefox}\n",
        "`browser_type: firefox` is not supported by tfauth yet",
    );
    assert!(
        matches!(&cfg.provider("a").unwrap().kind, Some(ProviderKind::AzureOidc { tenant_id, .. }) if tenant_id == "contoso.onmicrosoft.com")
    );
    assert!(
        matches!(&cfg.provider("s").unwrap().kind, Some(ProviderKind::Saml { driver: Some(d), .. }) if d == "KeycloakNew")
    );
    // Neither a UUID nor a domain: still taken, with a warning.
    noted("providers:\n  a: {kind: azure/device-code, spec: {tenant_id: contoso}}\n", "neither a UUID nor a domain");
}

#[test]
fn atmos_kinds_tfauth_cannot_run_yet_are_read_and_noted() {
    let src = "providers:\n  pro: {kind: atmos/pro}\nidentities:\n  amb: {kind: ambient}\n  emu: {kind: aws/emulator}\n  u: {kind: aws/user}\nintegrations:\n  sts: {kind: github/sts, via: {identity: u}}\n  ecr: {kind: aws/ecr, via: {provider: pro}, spec: {registry: {account_id: \"123456789012\", region: us-east-1}}}\n";
    let (cfg, problems) = parse(src);
    assert!(problems.is_empty(), "{}", render(&problems));
    for (subject, needle) in [
        (
            Subject::Provider("pro".into()),
            "provider `pro`: kind `atmos/pro` (an Atmos kind) is not supported by tfauth yet",
        ),
        (Subject::Identity("amb".into()), "identity `amb`: kind `ambient`"),
        (Subject::Identity("emu".into()), "kind `aws/emulator`"),
        (Subject::Integration("sts".into()), "kind `github/sts`"),
        (
            Subject::Integration("ecr".into()),
            "integration `ecr`: `via.provider` (`pro`) is not supported by tfauth yet",
        ),
    ] {
        assert_eq!(problem(&cfg.notes.unsupported, needle).subject, subject);
    }
    assert!(cfg.identity("amb").unwrap().is_standalone() && cfg.identity("emu").unwrap().is_standalone());
    assert!(cfg.provider("pro").unwrap().kind.is_none());
}

// --- issue 18: aws/saml ----------------------------------------------------------------

#[test]
fn saml_reads_username_password_and_session_as_atmos_and_asks_for_an_unset_env() {
    let env = Env::from_pairs([("OKTA_PW", "s3cret canary")]);
    let src = r#"providers:
  okta: {kind: aws/saml, region: us-east-1, url: "http://127.0.0.1:8080/home/amazon_aws/x/272", driver: Okta, username: jane@acme.example, password: !env OKTA_PW, session: {duration: 2h}}
  adfs: {kind: aws/saml, region: us-east-1, url: "https://sts.acme.com/adfs/ls/IdpInitiatedSignOn.aspx", username: !env ADFS_USER, password: !env ADFS_PW}
"#;
    let (cfg, problems) = AuthConfig::parse(Some(&node_with(src, env)));
    assert!(problems.is_empty(), "{}", render(&problems));
    let kind = |n: &str| cfg.provider(n).unwrap().kind.clone().unwrap();
    match kind("okta") {
        ProviderKind::Saml { url, username, password, session_secs, .. } => {
            assert!(url.starts_with("http://127.0.0.1:8080/"), "http to loopback is allowed");
            assert_eq!(username.as_deref(), Some("jane@acme.example"));
            assert_eq!(password.as_ref().map(|p| p.expose()), Some("s3cret canary"));
            assert_eq!(session_secs, Some(7200));
        }
        other => panic!("{other:?}"),
    }
    // Unset `!env`s are Atmos's empty values: asked at run time, not problems.
    assert!(matches!(kind("adfs"), ProviderKind::Saml { username: None, password: None, session_secs: None, .. }));
    // The password never shows in Debug.
    assert!(!format!("{:?}", cfg.provider("okta").unwrap()).contains("canary"));
}

#[test]
fn aws_user_webflow_is_on_unless_it_is_the_boolean_false() {
    // Atmos reads `credentials.webflow_enabled` as a bool and treats anything else as on.
    let cfg = clean(&with_identities(
        r#"  bare: {kind: aws/user}
  off: {kind: aws/user, credentials: {webflow_enabled: false}}
  on: {kind: aws/user, credentials: {webflow_enabled: true}}
  odd: {kind: aws/user, credentials: {webflow_enabled: "no"}}
"#,
    ));
    let enabled = |n: &str| match cfg.identity(n).unwrap().kind.clone() {
        Some(IdentityKind::User { webflow_enabled, .. }) => webflow_enabled,
        other => panic!("{other:?}"),
    };
    assert_eq!((enabled("bare"), enabled("off"), enabled("on"), enabled("odd")), (true, false, true, true));
}

#[test]
fn an_eks_integration_reads_atmos_fields_and_defaults() {
    let cfg = clean(&with_integration(
        "{kind: aws/eks, via: {identity: ci}, spec: {cluster: {name: dev, region: us-east-2}}}",
    ));
    let int = cfg.integration("ecr").unwrap();
    assert_eq!(
        int.kind,
        Some(IntegrationKind::Eks(EksCluster {
            name: "dev".into(),
            region: "us-east-2".into(),
            alias: None,
            kubeconfig: KubeconfigSpec { path: None, mode: 0o600, update: KubeconfigUpdate::Merge },
        }))
    );
    // An unquoted mode is the same octal digits to Atmos (Go reads the literal text).
    for (mode, want) in [("\"0644\"", 0o644), ("0640", 0o640), ("\"400\"", 0o400)] {
        let cfg = clean(&with_integration(&format!(
            "{{kind: aws/eks, via: {{identity: ci}}, spec: {{cluster: {{name: dev, region: us-east-2, alias: dev-ctx, kubeconfig: {{path: ~/k, mode: {mode}, update: replace}}}}}}}}"
        )));
        let Some(IntegrationKind::Eks(c)) = &cfg.integration("ecr").unwrap().kind else { panic!("{mode}") };
        assert_eq!(
            (c.kubeconfig.mode, c.kubeconfig.update, c.alias.as_deref(), c.kubeconfig.path.as_deref()),
            (want, KubeconfigUpdate::Replace, Some("dev-ctx"), Some("~/k")),
            "{mode}"
        );
    }
}

#[test]
fn bad_eks_integrations_say_what_to_write() {
    let cases = [
        (
            "{name: dev, region: us-east-2, kubeconfig: {mode: rw-------}}",
            "`spec.cluster.kubeconfig.mode` `rw-------` is not an octal file mode",
            "write it as an octal string, as Atmos reads it: `mode: \"0600\"`",
        ),
        (
            "{name: dev, region: us-east-2, kubeconfig: {mode: \"0666\"}}",
            "`0666` lets other users write the kubeconfig, and with it the command kubectl runs",
            "use \"0600\" (the default) or \"0644\"",
        ),
        (
            "{name: dev, region: us-east-2, kubeconfig: {update: overwrite}}",
            "`spec.cluster.kubeconfig.update` is `overwrite`",
            "use merge (the default), replace or error",
        ),
        (
            "{name: \"arn:aws:eks:us-east-2:1:cluster/dev\", region: us-east-2}",
            "is not an EKS cluster name",
            "not its ARN",
        ),
        ("{region: us-east-2}", "is missing `spec.cluster.name`", "add `spec.cluster.name`"),
        ("{name: dev}", "is missing `spec.cluster.region`", "add `spec.cluster.region`"),
    ];
    for (cluster, message, hint) in cases {
        let (cfg, problems) = parse(&with_integration(&format!(
            "{{kind: aws/eks, via: {{identity: ci}}, spec: {{cluster: {cluster}}}}}"
        )));
        // Atmos reads it; validate warns, and the integration cannot run.
        assert!(problems.is_empty(), "{}", render(&problems));
        let p = problem(&cfg.notes.warnings, message);
        assert_eq!(p.subject, Subject::Integration("ecr".into()), "{cluster}");
        assert!(p.hint.as_deref().is_some_and(|h| h.contains(hint)), "{cluster}: {:?}", p.hint);
        let int = cfg.integration("ecr").expect("the integration stays defined");
        assert_eq!(int.kind, None, "{cluster}");
    }
    let (_, problems) = parse(&with_integration(
        "{kind: aws/eks, via: {identity: gs}, spec: {cluster: {name: dev, region: us-east-2}}}",
    ));
    let p = problem(&problems, "needs an AWS identity, but `gs` is gcp/project");
    assert_eq!(p.hint.as_deref(), Some("point `via.identity` at an AWS identity that may call eks:DescribeCluster"));
}

#[test]
fn an_ecr_public_integration_needs_no_spec_and_warns_on_a_region_without_ecr_public() {
    let cfg = clean(&with_integration("{kind: aws/ecr-public, via: {identity: ci}}"));
    assert_eq!(cfg.integration("ecr").unwrap().kind, Some(IntegrationKind::EcrPublic));
    let cfg =
        clean(&with_integration("{kind: aws/ecr-public, via: {identity: ci}, spec: {registry: {region: us-west-2}}}"));
    assert_eq!(cfg.integration("ecr").unwrap().kind, Some(IntegrationKind::EcrPublic));
    let (cfg, problems) =
        parse(&with_integration("{kind: aws/ecr-public, via: {identity: ci}, spec: {registry: {region: eu-west-1}}}"));
    assert!(problems.is_empty(), "{}", render(&problems));
    let w = problem(&cfg.notes.warnings, "`spec.registry.region` is `eu-west-1`, where ECR Public is not");
    assert_eq!(
        w.hint.as_deref(),
        Some("use us-east-1 or us-west-2, or leave it out (the login always asks us-east-1)")
    );
    assert_eq!(cfg.integration("ecr").unwrap().kind, None, "refused when it runs");
}

#[test]
fn an_acr_integration_names_its_login_server_and_warns_on_a_name_acr_cannot_have() {
    let acr = |name: &str| format!("{{kind: azure/acr, via: {{identity: ci}}, spec: {{registry: {{name: {name}}}}}}}");
    for (name, server) in [("AcmeImages", "acmeimages.azurecr.io"), ("acme.azurecr.io", "acme.azurecr.io")] {
        let (cfg, _) = parse(&with_integration(&acr(name)));
        assert_eq!(
            cfg.integration("ecr").unwrap().kind,
            Some(IntegrationKind::Acr { login_server: server.into() }),
            "{name}"
        );
    }
    let (cfg, _) = parse(&with_integration(&acr("acme-images")));
    problem(&cfg.notes.warnings, "`spec.registry.name` `acme-images` is not an ACR registry name");
    assert_eq!(cfg.integration("ecr").unwrap().kind, None);
    let (cfg, _) = parse(&with_integration("{kind: azure/acr, via: {identity: ci}}"));
    problem(&cfg.notes.warnings, "integration `ecr` (azure/acr) is missing `spec.registry.name`");
    // An AWS identity cannot feed it (this one is a problem: Atmos refuses the reference too).
    let (_, problems) = parse(&with_integration(&acr("acme")));
    let p = problem(&problems, "integration `ecr` (azure/acr) needs an Azure identity, but `ci` is aws/assume-role");
    assert!(p.hint.as_deref().unwrap().contains("azure/subscription"));
}

#[test]
fn gke_and_aks_integrations_read_atmos_fields() {
    let cfg = clean(&with_integration(
        "{kind: gcp/gke, via: {identity: gs}, spec: {cluster: {name: dev, project_id: acme-dev, location: us-central1, kubeconfig: {mode: \"0640\"}}}}",
    ));
    assert_eq!(
        cfg.integration("ecr").unwrap().kind,
        Some(IntegrationKind::Gke(GkeCluster {
            name: "dev".into(),
            project_id: "acme-dev".into(),
            location: "us-central1".into(),
            alias: None,
            kubeconfig: KubeconfigSpec { path: None, mode: 0o640, update: KubeconfigUpdate::Merge },
        }))
    );
    // The identity's cloud is checked only against AWS and GCP here (no Azure identity in
    // this fixture): an AKS spec is read whatever its identity's cloud, then refused.
    let (cfg, _) = parse(&with_integration(
        "{kind: azure/aks, via: {identity: ci}, spec: {cluster: {name: dev, resource_group: rg-dev, subscription_id: 00000000-0000-0000-0000-000000000001, alias: dev}}}",
    ));
    assert_eq!(
        cfg.integration("ecr").unwrap().kind,
        Some(IntegrationKind::Aks(AksCluster {
            name: "dev".into(),
            resource_group: "rg-dev".into(),
            subscription_id: Some("00000000-0000-0000-0000-000000000001".into()),
            alias: Some("dev".into()),
            kubeconfig: KubeconfigSpec::default(),
        }))
    );
}

#[test]
fn bad_gke_and_aks_integrations_are_warnings_that_say_what_to_write() {
    let cases = [
        ("gcp/gke", "gs", "{name: dev, location: us-central1}", "is missing `spec.cluster.project_id`"),
        ("gcp/gke", "gs", "{name: dev, project_id: p}", "is missing `spec.cluster.location`"),
        (
            "gcp/gke",
            "gs",
            "{name: projects/p/locations/l/clusters/dev, project_id: p, location: l}",
            "is not a GKE cluster name",
        ),
        (
            "gcp/gke",
            "gs",
            "{name: d, project_id: p, location: l, kubeconfig: {update: x}}",
            "`spec.cluster.kubeconfig.update` is `x`",
        ),
        ("azure/aks", "ci", "{name: dev}", "is missing `spec.cluster.resource_group`"),
        ("azure/aks", "ci", "{resource_group: rg}", "is missing `spec.cluster.name`"),
        ("azure/aks", "ci", "{name: dev, resource_group: rg, subscription_id: \"a/b\"}", "is not a subscription id"),
        ("azure/aks", "ci", "{name: dev, resource_group: rg, kubeconfig: {mode: \"0666\"}}", "lets other users write"),
    ];
    for (kind, via, cluster, message) in cases {
        let (cfg, problems) = parse(&with_integration(&format!(
            "{{kind: {kind}, via: {{identity: {via}}}, spec: {{cluster: {cluster}}}}}"
        )));
        let problems: Vec<_> =
            problems.into_iter().filter(|p| !p.message.contains("needs an Azure identity")).collect();
        assert!(problems.is_empty(), "{kind} {cluster}: {}", render(&problems));
        let p = problem(&cfg.notes.warnings, message);
        assert_eq!(p.subject, Subject::Integration("ecr".into()), "{cluster}");
        assert!(p.hint.is_some(), "{cluster}");
        assert_eq!(cfg.integration("ecr").unwrap().kind, None, "{kind} {cluster}: refused when it runs");
    }
    let (_, problems) = parse(&with_integration(
        "{kind: gcp/gke, via: {identity: ci}, spec: {cluster: {name: d, project_id: p, location: l}}}",
    ));
    let p = problem(&problems, "integration `ecr` (gcp/gke) needs a GCP identity, but `ci` is aws/assume-role");
    assert!(p.hint.as_deref().is_some_and(|h| h.contains("gcp/service-account")));
}
