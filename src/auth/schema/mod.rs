//! Typed providers, identities and integrations, parsed from a merged `auth:` node with every
//! problem collected. See CONTRACT A2 for the kinds and their fields.
//!
//! Split by what is parsed: the types ([`types`]), the field reader every parser uses
//! (`fields`), one parser per section (`provider`, `identity`, `integration`), and the
//! value formats (`values`). This file holds [`AuthConfig`] and its `parse`; nothing here
//! does I/O. Whether `via` links form chains (dangling, cycles, across clouds) is
//! `identity::chain`'s to decide, never this module's: `identity::parse_auth` adds those
//! problems to these.

use crate::secret::Secret;
use crate::yaml::{Node, Span, Value};
use std::fmt;

mod fields;
mod identity;
mod integration;
mod provider;
pub mod types;
mod values;

use self::fields::*;
use self::identity::*;
use self::integration::*;
use self::provider::*;
pub use self::types::*;
use self::values::*;
pub use self::values::{
    REALM_RULE, is_account_id, is_aws_region, is_email, is_role_arn, is_uuid, is_valid_realm, parse_duration,
    realm_error, url_host,
};

/// The typed `auth:` section.
#[derive(Clone, Debug, Default)]
pub struct AuthConfig {
    pub providers: Vec<Provider>,
    pub identities: Vec<Identity>,
    pub integrations: Vec<Integration>,
    pub realm: Option<(String, Span)>,
    pub keyring_type: Option<String>,
    /// Accepted as Atmos accepts it, but worth saying (see [`Notes`]).
    pub notes: Notes,
}

impl AuthConfig {
    /// The provider called `name` (any case).
    pub fn provider(&self, name: &str) -> Option<&Provider> {
        self.providers
            .iter()
            .find(|p| p.name == name)
            .or_else(|| self.providers.iter().find(|p| p.name.eq_ignore_ascii_case(name)))
    }
    /// The identity called `name` (any case).
    pub fn identity(&self, name: &str) -> Option<&Identity> {
        self.identities
            .iter()
            .find(|i| i.name == name)
            .or_else(|| self.identities.iter().find(|i| i.name.eq_ignore_ascii_case(name)))
    }
    pub fn identity_names(&self) -> Vec<String> {
        self.identities.iter().map(|i| i.name.clone()).collect()
    }
    /// The integration called `name` (any case).
    pub fn integration(&self, name: &str) -> Option<&Integration> {
        self.integrations
            .iter()
            .find(|i| i.name == name)
            .or_else(|| self.integrations.iter().find(|i| i.name.eq_ignore_ascii_case(name)))
    }

    /// Parses `auth` (null means no auth), collecting every problem but the chains' (a
    /// `via` that names nothing, cycles, links across clouds): `identity::parse_auth` has
    /// those too, in the order `tfauth auth validate` prints them.
    pub fn parse(auth: Option<&Node>) -> (AuthConfig, Vec<Problem>) {
        let (cfg, mut problems) = Self::parse_entries(auth);
        problems.extend(cfg.integration_problems());
        (cfg, problems)
    }

    /// Parses every entry on its own, collecting the problems that need no other entry.
    pub fn parse_entries(auth: Option<&Node>) -> (AuthConfig, Vec<Problem>) {
        let mut out = AuthConfig::default();
        let mut problems = Vec::new();
        let Some(auth) = auth.filter(|a| !a.is_null()) else {
            return (out, problems);
        };
        let Some(map) = auth.as_map() else {
            problems.push(general(auth, format!("`auth` must be a mapping, not {}", auth.type_name())));
            return (out, problems);
        };
        // An empty realm is no realm, as in Atmos (`configRealm != ""`).
        if let Some(realm) = map.get("realm").filter(|n| !n.is_null() && n.as_str() != Some("")) {
            let why = match realm.as_str() {
                Some(r) => realm_error(r)
                    .map(|why| format!("`auth.realm` `{}` is not a valid realm: {why}", r.escape_default())),
                None => Some(format!("`auth.realm` must be a string, not {}", realm.type_name())),
            };
            match why {
                None => out.realm = realm.as_str().map(|r| (r.to_string(), realm.span.clone())),
                Some(message) => problems.push(Problem {
                    subject: Subject::General,
                    span: Some(realm.span.clone()),
                    message,
                    hint: Some(REALM_RULE.into()),
                }),
            }
        }
        if let Some(k) = auth.get_path(&["keyring", "type"]).filter(|n| !n.is_null()) {
            match k.as_str() {
                Some(t @ ("system" | "file" | "memory")) => out.keyring_type = Some(t.to_string()),
                _ => problems.push(Problem {
                    subject: Subject::General,
                    span: Some(k.span.clone()),
                    message: format!("`auth.keyring.type` must be system, file or memory, not {}", describe_value(k)),
                    hint: None,
                }),
            }
        }
        if let Some(p) = map.get("providers").filter(|n| !n.is_null()) {
            match p.as_map() {
                None => problems.push(general(p, format!("`auth.providers` must be a mapping, not {}", p.type_name()))),
                Some(providers) => {
                    check_duplicate_names("provider", providers, &mut problems);
                    for (name, node) in providers {
                        if let Some(provider) = parse_provider(name, node, &mut problems, &mut out.notes) {
                            out.providers.push(provider);
                        }
                    }
                }
            }
        }
        if let Some(i) = map.get("identities").filter(|n| !n.is_null()) {
            match i.as_map() {
                None => {
                    problems.push(general(i, format!("`auth.identities` must be a mapping, not {}", i.type_name())))
                }
                Some(identities) => {
                    check_duplicate_names("identity", identities, &mut problems);
                    for (name, node) in identities {
                        if let Some(identity) = parse_identity(name, node, &mut problems, &mut out.notes) {
                            out.identities.push(identity);
                        }
                    }
                }
            }
        }
        if let Some(i) = map.get("integrations").filter(|n| !n.is_null()) {
            match i.as_map() {
                None => {
                    problems.push(general(i, format!("`auth.integrations` must be a mapping, not {}", i.type_name())))
                }
                Some(integrations) => {
                    check_duplicate_names("integration", integrations, &mut problems);
                    for (name, node) in integrations {
                        if let Some(integration) = parse_integration(name, node, &mut problems, &mut out.notes) {
                            out.integrations.push(integration);
                        }
                    }
                }
            }
        }
        (out, problems)
    }

    /// What is wrong with the integrations' `via.identity` (nothing defines it, or it is not
    /// of the integration's cloud).
    pub fn integration_problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        check_integrations(self, &mut problems);
        problems
    }
}

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;
