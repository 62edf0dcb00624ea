//! What a run hands to the outside world, computed without touching it: the environment
//! to set and clear, the files to write with their contents ([`env`]), and the shapes in
//! which commands print things ([`list`], [`describe`]). Writing files and exec'ing live
//! elsewhere; nothing here does I/O.

pub mod azure;
pub mod describe;
pub mod docker;
pub mod env;
pub mod envfmt;
pub mod gcp;
pub mod ini;
pub mod kubeconfig;
pub mod list;
pub mod plan;
pub mod profiles;
