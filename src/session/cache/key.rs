//! The cache key of a resolved chain: a hash of every field of every provider and identity
//! in it, as merged for this component. Two components that define `acme/admin`
//! differently get different keys, and flipping `default` alone changes nothing. Secret
//! values are left out of the material (rotating a key does not invalidate a session
//! derived from the old one). Pure.

use crate::identity::{Chain, ChainRoot};
use crate::secret::is_secret_key;
use crate::yaml::{Node, emit::to_json};
use serde_json::Value as J;
use sha2::{Digest, Sha256};

/// Hex key (32 characters) for `chain` as defined in the merged `auth` node.
pub fn chain_key(auth: &Node, chain: &Chain) -> String {
    let mut parts: Vec<J> = Vec::new();
    if let ChainRoot::Provider(p) = &chain.root {
        let def = auth.get("providers").and_then(|ps| ps.get_ci(&p.name)).map(|(_, n)| canonical(n));
        parts.push(J::Array(vec![
            J::String("provider".into()),
            J::String(p.name.to_lowercase()),
            def.unwrap_or(J::Null),
        ]));
    }
    for h in &chain.hops {
        let def = auth.get("identities").and_then(|ids| ids.get_ci(&h.name)).map(|(_, n)| canonical(n));
        parts.push(J::Array(vec![
            J::String("identity".into()),
            J::String(h.name.to_lowercase()),
            def.unwrap_or(J::Null),
        ]));
    }
    let text = J::Array(parts).to_string();
    Sha256::digest(text.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The node as JSON with sorted keys, without `default` and without secret values.
fn canonical(n: &Node) -> J {
    fn walk(v: J, top: bool) -> J {
        match v {
            J::Object(m) => {
                let mut entries: Vec<(String, J)> = m
                    .into_iter()
                    .filter(|(k, _)| !(top && k == "default"))
                    .map(|(k, v)| {
                        let v =
                            if is_secret_key(&k) && !v.is_object() && !v.is_array() { J::Null } else { walk(v, false) };
                        (k, v)
                    })
                    .collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                J::Object(entries.into_iter().collect())
            }
            J::Array(a) => J::Array(a.into_iter().map(|v| walk(v, false)).collect()),
            other => other,
        }
    }
    walk(to_json(n), true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthConfig;
    use crate::identity::chain::build;
    use crate::yaml::{LoadContext, Loader};
    use std::path::Path;

    fn key(src: &str, leaf: &str) -> String {
        let node = Loader::new(&LoadContext::default()).load_str(src, Path::new("/a.yaml")).unwrap();
        let (auth, problems) = AuthConfig::parse(Some(&node));
        assert!(problems.is_empty(), "{problems:?}");
        chain_key(&node, &build(&auth, leaf).unwrap())
    }

    const BASE: &str = "providers: {gh: {kind: github/oidc, region: us-east-2}}\nidentities:\n  a: {kind: aws/assume-role, via: {provider: gh}, principal: {assume_role: \"arn:aws:iam::111111111111:role/a\"}}\n";

    #[test]
    fn same_definition_same_key_whatever_the_order_or_default() {
        let reordered = "identities:\n  a: {principal: {assume_role: \"arn:aws:iam::111111111111:role/a\"}, default: true, via: {provider: gh}, kind: aws/assume-role}\nproviders: {gh: {region: us-east-2, kind: github/oidc}}\n";
        assert_eq!(key(BASE, "a"), key(reordered, "a"));
        assert_eq!(key(BASE, "a").len(), 32);
    }

    #[test]
    fn any_field_in_the_chain_changes_the_key() {
        let base = key(BASE, "a");
        assert_ne!(base, key(&BASE.replace("role/a", "role/b"), "a"), "role");
        assert_ne!(base, key(&BASE.replace("us-east-2", "us-west-2"), "a"), "provider region");
        assert_ne!(base, key(&BASE.replace("region: us-east-2}", "region: us-east-2, spec: {audience: x}}"), "a"));
    }

    #[test]
    fn secrets_do_not_enter_the_key_material() {
        let one = "identities:\n  u: {kind: aws/user, credentials: {access_key_id: AKIA1, secret_access_key: one}}\n";
        let two = one.replace("secret_access_key: one", "secret_access_key: two");
        assert_eq!(key(one, "u"), key(&two, "u"));
    }
}
