//! `auth list`'s session column on what real runs leave: a device-flow login against the
//! portal stand-in, and a session the helper fetched through it (GetRoleCredentials, then
//! moto's STS). The list shows both with their real expiry, judges an aged token as a run
//! would (expired, but refreshable), and makes no request of any service: it only reads.

use crate::aws_portal::PortalOpts;
use crate::sso_login::SsoBed;
use crate::support::{TFAUTH, run};

fn list(b: &SsoBed, args: &[&str]) -> serde_json::Value {
    let mut c = b.cmd(TFAUTH);
    c.args(["auth", "list", "-f", "json"]).args(args);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    serde_json::from_str(&o.stdout).unwrap()
}

fn session<'v>(doc: &'v serde_json::Value, what: &str, name: &str) -> &'v serde_json::Value {
    let all = doc[what].as_array().unwrap_or_else(|| panic!("no {what}: {doc}"));
    &all.iter().find(|i| i["name"] == name).unwrap_or_else(|| panic!("{name} not listed: {doc}"))["session"]
}

#[test]
fn auth_list_shows_what_a_real_login_and_fetch_left_and_calls_nothing() {
    let b = SsoBed::new(PortalOpts { approve_after_polls: Some(0), slow_down_polls: 0, ..Default::default() }, "");
    let doc = list(&b, &[]);
    assert_eq!(session(&doc, "providers", "acme-sso")["status"], "none", "{doc}");
    assert_eq!(session(&doc, "identities", "dev/admin")["status"], "none", "{doc}");
    assert!(b.portal.requests().is_empty(), "listing asked the portal: {:?}", b.portal.requests().len());

    b.login();
    let o = run(b.helper("dev/admin"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let issued: serde_json::Value = serde_json::from_str(o.stdout.trim()).unwrap();
    let token: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.token_file().unwrap()).unwrap()).unwrap();
    let calls = b.portal.requests().len();

    let doc = list(&b, &[]);
    let s = session(&doc, "identities", "dev/admin");
    assert_eq!(s["status"], "valid", "{doc}");
    assert_eq!(s["expiration"], issued["Expiration"], "the entry the helper wrote, as it wrote it");
    // Chained from it but never fetched: nothing cached for it.
    assert_eq!(session(&doc, "identities", "dev/deployer")["status"], "none", "{doc}");
    assert_eq!(session(&doc, "identities", "prod/readonly")["status"], "none", "{doc}");
    let t = session(&doc, "providers", "acme-sso");
    assert_eq!(t["status"], "valid", "{doc}");
    let expires = time::OffsetDateTime::parse(
        token["expiresAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(t["expiration"], tfauth::session::cache::format_utc(expires), "the login's token");

    // Hours later (the token aged in place): expired, and its refresh token renews it.
    b.age_token();
    let doc = list(&b, &["--providers=acme-sso"]);
    assert_eq!(
        *session(&doc, "providers", "acme-sso"),
        serde_json::json!({"status": "expired", "expiration": "2020-01-01T00:00:00Z", "refreshable": true})
    );
    let mut c = b.cmd(TFAUTH);
    c.args(["auth", "list"]);
    let o = run(c);
    assert!(
        o.stdout.contains("acme-sso [aws/iam-identity-center]  token: expired (2020-01-01 00:00 UTC), refreshable\n"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("dev/admin [aws/permission-set] (default)  session: "), "{}", o.stdout);
    assert_eq!(b.portal.requests().len(), calls, "auth list called a service");
}
