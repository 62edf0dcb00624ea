//! A string that never prints. Secrets (access keys, tokens, passwords) live in [`Secret`],
//! whose `Debug` and `Display` show `** redacted **`, so a stray `{:?}` in a log line or
//! an error message cannot leak one. Read the value only with [`Secret::expose`].

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

pub const REDACTED: &str = "** redacted **";

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The secret itself: pass it straight to where it is needed, never to a formatter.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Whether a configuration key names a secret value (for redacting `describe` output).
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["secret", "password", "passwd", "token", "private_key", "access_key_id", "credential"]
        .iter()
        .any(|s| k.contains(s))
        && !matches!(k.as_str(), "token_source" | "token_url" | "token_file_path")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints() {
        let s = Secret::new("AKIACANARY");
        assert_eq!(format!("{s} {s:?} {:?}", Some(&s)), format!("{REDACTED} {REDACTED} Some({REDACTED})"));
        assert_eq!(s.expose(), "AKIACANARY");
    }

    #[test]
    fn secret_keys() {
        for k in ["secret_access_key", "SESSION_TOKEN", "password", "client_secret", "access_key_id"] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in ["region", "token_source", "assume_role", "kind"] {
            assert!(!is_secret_key(k), "{k}");
        }
    }
}
