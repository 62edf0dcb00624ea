//! Choosing the identity for a run (CONTRACT A4) and turning it into a chain from its
//! root provider to the leaf identity. Both are pure functions of the typed auth config;
//! the only outside input, a terminal to ask on, is passed in as a [`Prompt`].

pub mod chain;
pub mod region;
pub mod select;

pub use chain::{Chain, ChainRoot};
pub use region::{DEFAULT_REGION, RegionFrom};
pub use select::{IdentityFlag, Prompt, Selection, SelectionSource, select};
