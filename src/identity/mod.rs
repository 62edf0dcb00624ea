//! Choosing the identity for a run (CONTRACT A4) and turning it into a chain from its
//! root provider to the leaf identity. Both are pure functions of the typed auth config;
//! the only outside input, a terminal to ask on, is passed in as a [`Prompt`].

pub mod chain;
pub mod region;
pub mod select;

pub use chain::{Chain, ChainError, ChainRoot};
pub use region::{DEFAULT_REGION, RegionFrom};
pub use select::{IdentityFlag, Prompt, Selection, SelectionSource, select};

use crate::auth::{AuthConfig, Problem};
use crate::yaml::Node;

/// The typed `auth:` section with every problem `tfauth auth validate` reports, in the
/// order it prints them: each entry's own, then the chains' ([`chain::check`]), then the
/// integrations'. Here and not in `auth`, because `auth` comes before `identity` and must
/// not decide what a chain is.
pub fn parse_auth(auth: Option<&Node>) -> (AuthConfig, Vec<Problem>) {
    let (mut cfg, mut problems) = AuthConfig::parse_entries(auth);
    let (broken, not_yet) = chain::check_links(&cfg);
    problems.extend(broken);
    cfg.notes.unsupported.extend(not_yet);
    problems.extend(cfg.integration_problems());
    (cfg, problems)
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod check_tests;
