//! One test binary for the CLI suites (one link step on a two-core machine).

mod support;

mod bad_inputs;
mod cli;
mod env_table;
mod fixtures;
mod hostile_fs;
mod profile_fallback;
mod snapshots;
mod structure;
