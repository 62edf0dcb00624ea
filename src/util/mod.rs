//! Small shared pieces that belong to no pipeline stage: where the XDG directories are
//! ([`dirs`]), owner-checked private files ([`fs`]), "did you mean" ([`suggest`]), where
//! log lines go ([`logging`]), which URLs may carry a token ([`url`]), and the one module
//! with `unsafe` ([`sys`]). The ground floor: these use only `env_vars`, `secret` and
//! each other.

pub mod dirs;
pub mod fs;
pub mod logging;
pub mod suggest;
pub mod sys;
#[cfg(test)]
pub mod test_http;
pub mod url;

/// `n` random bytes from the kernel (`/dev/urandom`), hex: tokens for loopback endpoints.
pub fn random_hex(n: usize) -> String {
    use std::io::Read;
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("the kernel's random source (/dev/urandom) must be readable");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
