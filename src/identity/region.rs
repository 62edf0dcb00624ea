//! Which AWS region a chain's calls go to, and why: the leaf's `region`, else the nearest
//! hop's, else the stack's `vars.region` (where the component deploys), else the root
//! provider's (for IAM Identity Center that is only the portal's region), else us-east-1.
//!
//! Pure, and decided once: the session walks the chain in this region and `output` writes
//! it into the profiles, naming [`RegionFrom`] when a value cannot be written.

use super::{Chain, ChainRoot};

/// The region tfauth uses when nothing names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Where a chain's region came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionFrom<'a> {
    /// The `region` of this identity (the leaf or the nearest hop that has one).
    Identity(&'a str),
    /// The stack's `vars.region`.
    Stack,
    /// The `region` of this root provider.
    Provider(&'a str),
    /// Nothing named one: [`DEFAULT_REGION`].
    Default,
}

impl Chain {
    /// The region for the chain's AWS calls and profiles, and where it came from.
    pub fn aws_region<'a>(&'a self, stack_region: Option<&'a str>) -> (&'a str, RegionFrom<'a>) {
        if let Some(h) = self.hops.iter().rev().find(|h| h.region.is_some()) {
            return (h.region.as_deref().unwrap_or_default(), RegionFrom::Identity(&h.name));
        }
        if let Some(r) = stack_region {
            return (r, RegionFrom::Stack);
        }
        if let ChainRoot::Provider(p) = &self.root
            && let Some(r) = p.region()
        {
            return (r, RegionFrom::Provider(&p.name));
        }
        (DEFAULT_REGION, RegionFrom::Default)
    }
}
