//! Reading, never trusting, the claims of tokens the clouds hand back: only to name who a
//! session belongs to (the signed-in user for the MSAL cache, `whoami`'s principal). No
//! signature is checked, so nothing here may decide access.

use serde_json::Value;

/// A base64url-encoded JSON document (a JWT part, MSAL's `client_info`).
pub fn b64url_json(s: &str) -> Option<Value> {
    serde_json::from_slice(&b64url_decode(s)?).ok()
}

/// Base64url without padding (RFC 4648 §5), as JWTs and `client_info` use it; standard
/// base64 and padding are accepted too.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The claims of a JWT, unverified.
pub fn claims(jwt: &str) -> Option<Value> {
    b64url_json(jwt.split('.').nth(1)?)
}

/// One string claim of a JWT, unverified.
pub fn claim(jwt: &str, name: &str) -> Option<String> {
    claims(jwt)?.get(name)?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url() {
        assert_eq!(b64url_decode("eyJ1aWQiOiJhIn0").unwrap(), br#"{"uid":"a"}"#);
        assert_eq!(b64url_decode("_-8").unwrap(), vec![0xff, 0xef]);
        assert!(b64url_decode("a b").is_none());
    }

    #[test]
    fn claims_of_a_jwt_are_read_from_its_middle_part() {
        // {"alg":"none"} . {"sub":"repo:acme/infra:ref:refs/heads/main","n":1} . (no signature)
        let jwt = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJyZXBvOmFjbWUvaW5mcmE6cmVmOnJlZnMvaGVhZHMvbWFpbiIsIm4iOjF9.";
        assert_eq!(claim(jwt, "sub").as_deref(), Some("repo:acme/infra:ref:refs/heads/main"));
        assert_eq!(claim(jwt, "n"), None, "only string claims");
        assert_eq!(claim("not-a-jwt", "sub"), None);
    }
}
