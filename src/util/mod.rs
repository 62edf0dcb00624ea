//! Small shared pieces that belong to no pipeline stage: where the XDG directories are.
//! Ground floor: uses nothing of the crate but `env_vars`, and does no I/O.

pub mod dirs;
