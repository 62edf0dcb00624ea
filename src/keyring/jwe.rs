//! The envelope of one entry in Atmos's file keyring: a JWE in compact serialization, as
//! 99designs/keyring's file backend writes it through dvsekhvalnov/jose2go.
//!
//! Why it exists: so `atmos auth user configure` and tfauth read each other's files. The
//! shape, checked against those libraries' source (keyring v1.2.2 `file.go`, jose2go
//! v1.8.0, which Atmos links):
//! - five base64url parts without padding: protected header, wrapped key, IV, ciphertext,
//!   tag;
//! - header `{"alg":"PBES2-HS256+A128KW","created":"<time>","enc":"A256GCM","p2c":8192,
//!   "p2s":"<12 random bytes>"}` (Go's encoding/json sorts map keys; `created` is
//!   informational and read by nobody);
//! - key encryption key: PBKDF2-HMAC-SHA256 of the password over `alg ‖ 0x00 ‖ salt`
//!   (RFC 7518 4.8), `p2c` rounds (jose2go's default 8192 when writing; at most 1,300,000
//!   accepted when reading, as jose2go caps it), 16 bytes; the random 32-byte content key
//!   wrapped with AES key wrap (RFC 3394);
//! - content: AES-256-GCM, 12-byte IV, the header's base64url text as associated data.
//!
//! What it must not do: print, log or keep a password or a plaintext (the plaintext is
//! returned in a buffer wiped on drop), or tell more about a failure than which step
//! failed. A wrong password and a damaged file fail at different steps: the key unwrap
//! (its integrity check) and the content tag ([`JweError::KeyUnwrap`] vs the others).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

/// The key management algorithm 99designs/keyring asks for.
pub const ALG: &str = "PBES2-HS256+A128KW";
/// The content encryption it asks for.
pub const ENC: &str = "A256GCM";
/// The PBKDF2 rounds jose2go uses when the caller sets none (99designs sets none).
pub const P2C: u32 = 8192;
/// The most rounds a file may ask for (jose2go's own cap for this algorithm), so a hostile
/// header cannot make a read take minutes.
pub const MAX_P2C: u64 = 1_300_000;
const SALT_LEN: usize = 12;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
const CEK_LEN: usize = 32;
const KEK_LEN: usize = 16;

/// Why a token did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JweError {
    /// Not a JWE of the expected shape (parts, base64, header fields).
    #[error("{0}")]
    Malformed(String),
    /// A JWE, but with algorithms 99designs/keyring never writes.
    #[error("it uses {0}, which Atmos's file keyring does not write")]
    Unsupported(String),
    /// The content key did not unwrap: the password is not the one it was written with
    /// (or the wrapped key was changed, which cannot be told apart from that).
    #[error("the content key does not unwrap with this password")]
    KeyUnwrap,
    /// The key unwrapped but the content does not match its tag: the file was changed.
    #[error("the content does not match its authentication tag")]
    Content,
}

fn b64url(data: &[u8]) -> String {
    aws_smithy_types::base64::encode(data).replace('+', "-").replace('/', "_").trim_end_matches('=').to_string()
}

fn unb64url(part: &str, what: &str) -> Result<Vec<u8>, JweError> {
    let bad = || JweError::Malformed(format!("its {what} is not base64url"));
    if part.contains(['+', '/', '=']) {
        return Err(bad());
    }
    let mut s = part.replace('-', "+").replace('_', "/");
    match s.len() % 4 {
        0 => {}
        2 => s.push_str("=="),
        3 => s.push('='),
        _ => return Err(bad()),
    }
    aws_smithy_types::base64::decode(&s).map_err(|_| bad())
}

fn kek(password: &[u8], alg: &str, salt: &[u8], rounds: u32) -> Zeroizing<[u8; KEK_LEN]> {
    let mut input = Vec::with_capacity(alg.len() + 1 + salt.len());
    input.extend_from_slice(alg.as_bytes());
    input.push(0);
    input.extend_from_slice(salt);
    let mut out = Zeroizing::new([0u8; KEK_LEN]);
    pbkdf2::pbkdf2_hmac::<Sha256>(password, &input, rounds, out.as_mut_slice());
    out
}

/// Seals `plain` under `password` as 99designs/keyring does; `created` goes in the header.
pub fn seal(plain: &[u8], password: &[u8], created: &str) -> String {
    seal_with(plain, password, created, P2C)
}

pub(crate) fn seal_with(plain: &[u8], password: &[u8], created: &str, rounds: u32) -> String {
    let mut salt = [0u8; SALT_LEN];
    OsRng.fill_bytes(&mut salt);
    let mut header = serde_json::Map::new();
    // Go's encoding/json writes a map's keys sorted; so do we (the map keeps insertion order).
    header.insert("alg".into(), ALG.into());
    header.insert("created".into(), created.into());
    header.insert("enc".into(), ENC.into());
    header.insert("p2c".into(), rounds.into());
    header.insert("p2s".into(), b64url(&salt).into());
    let header = b64url(serde_json::Value::Object(header).to_string().as_bytes());

    let mut cek = Zeroizing::new([0u8; CEK_LEN]);
    OsRng.fill_bytes(cek.as_mut_slice());
    let kek = kek(password, ALG, &salt, rounds);
    let mut wrapped = [0u8; CEK_LEN + 8];
    aes_kw::KekAes128::from(*kek).wrap(cek.as_slice(), &mut wrapped).expect("a 32-byte key wraps into 40 bytes");
    let mut iv = [0u8; IV_LEN];
    OsRng.fill_bytes(&mut iv);
    let sealed = Aes256Gcm::new_from_slice(cek.as_slice())
        .expect("a 32-byte key")
        .encrypt(Nonce::from_slice(&iv), Payload { msg: plain, aad: header.as_bytes() })
        .expect("AES-GCM encrypts any entry-sized message");
    let (ciphertext, tag) = sealed.split_at(sealed.len() - TAG_LEN);
    [header, b64url(&wrapped), b64url(&iv), b64url(ciphertext), b64url(tag)].join(".")
}

/// Opens a token `seal` (or 99designs/keyring) wrote; the plaintext is wiped on drop.
pub fn open(token: &str, password: &[u8]) -> Result<Zeroizing<Vec<u8>>, JweError> {
    let token = token.trim_end_matches(['\n', '\r']);
    let parts: Vec<&str> = token.split('.').collect();
    let [header_b64, wrapped, iv, ciphertext, tag] = parts[..] else {
        return Err(JweError::Malformed(format!("it has {} dot-separated parts, not the 5 of a JWE", parts.len())));
    };
    let header_json = unb64url(header_b64, "header")?;
    let header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&header_json)
        .map_err(|_| JweError::Malformed("its header is not a JSON object".into()))?;
    let field = |name: &str| header.get(name);
    let alg = field("alg").and_then(|v| v.as_str()).ok_or(JweError::Malformed("its header has no `alg`".into()))?;
    let enc = field("enc").and_then(|v| v.as_str()).ok_or(JweError::Malformed("its header has no `enc`".into()))?;
    if alg != ALG || enc != ENC {
        return Err(JweError::Unsupported(format!("alg {alg}, enc {enc}")));
    }
    if field("zip").is_some() {
        return Err(JweError::Unsupported("compression (`zip`)".into()));
    }
    // jose2go reads p2c as a JSON number (float64) and truncates it.
    let rounds =
        field("p2c").and_then(|v| v.as_f64()).filter(|n| *n >= 1.0 && *n <= MAX_P2C as f64).ok_or_else(|| {
            JweError::Malformed(format!("its header's `p2c` is not a round count from 1 to {MAX_P2C}"))
        })? as u32;
    let salt = field("p2s")
        .and_then(|v| v.as_str())
        .ok_or(JweError::Malformed("its header has no `p2s`".into()))
        .and_then(|s| unb64url(s, "salt"))?;
    let wrapped = unb64url(wrapped, "wrapped key")?;
    let iv = unb64url(iv, "IV")?;
    let mut sealed = unb64url(ciphertext, "ciphertext")?;
    let tag = unb64url(tag, "tag")?;
    if wrapped.len() != CEK_LEN + 8 {
        return Err(JweError::Malformed(format!("its wrapped key is {} bytes, not {}", wrapped.len(), CEK_LEN + 8)));
    }
    if iv.len() != IV_LEN || tag.len() != TAG_LEN {
        return Err(JweError::Malformed("its IV or tag has the wrong length".into()));
    }
    let kek = kek(password, alg, &salt, rounds);
    let mut cek = Zeroizing::new([0u8; CEK_LEN]);
    aes_kw::KekAes128::from(*kek).unwrap(&wrapped, cek.as_mut_slice()).map_err(|_| JweError::KeyUnwrap)?;
    sealed.extend_from_slice(&tag);
    Aes256Gcm::new_from_slice(cek.as_slice())
        .expect("a 32-byte key")
        .decrypt(Nonce::from_slice(&iv), Payload { msg: &sealed, aad: header_b64.as_bytes() })
        .map(Zeroizing::new)
        .map_err(|_| JweError::Content)
}

/// The time as Go's `time.Time.String()` prints it (without the monotonic reading), for the
/// header's informational `created`.
pub fn created_now() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:09} +0000 UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Few rounds: these tests are about the format, not the cost.
    fn cheap(plain: &[u8], password: &str) -> String {
        seal_with(plain, password.as_bytes(), "2026-01-02 03:04:05.000000006 +0000 UTC", 16)
    }

    #[test]
    fn round_trip_in_99designs_shape() {
        let token = seal(b"{\"Key\":\"k\",\"Data\":\"Q0FOQVJZ\"}", b"correct horse", &created_now());
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 5);
        assert!(!token.contains(['=', '+', '/', '\n']), "{token}");
        let header: serde_json::Value = serde_json::from_slice(&unb64url(parts[0], "h").unwrap()).unwrap();
        let keys: Vec<&str> = header.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["alg", "created", "enc", "p2c", "p2s"], "sorted, as Go writes a map");
        assert_eq!(header["alg"], ALG);
        assert_eq!(header["enc"], ENC);
        assert_eq!(header["p2c"], 8192);
        assert_eq!(unb64url(header["p2s"].as_str().unwrap(), "s").unwrap().len(), 12);
        assert_eq!(unb64url(parts[1], "k").unwrap().len(), 40);
        assert_eq!(unb64url(parts[2], "iv").unwrap().len(), 12);
        assert_eq!(unb64url(parts[4], "t").unwrap().len(), 16);
        assert!(!token.contains("CANARY") && !token.contains("Q0FOQVJZ"));
        let plain = open(&token, b"correct horse").unwrap();
        assert_eq!(&plain[..], b"{\"Key\":\"k\",\"Data\":\"Q0FOQVJZ\"}");
        assert!(created_now().ends_with(" +0000 UTC"), "{}", created_now());
    }

    #[test]
    fn every_seal_is_fresh() {
        let (a, b) = (cheap(b"same", "password1"), cheap(b"same", "password1"));
        assert_ne!(a, b, "salt, key and IV are new each time");
        assert_eq!(&open(&a, b"password1").unwrap()[..], b"same");
        assert_eq!(&open(&b, b"password1").unwrap()[..], b"same");
    }

    #[test]
    fn wrong_password_and_damage_are_told_apart() {
        let token = cheap(b"secret value", "password1");
        assert_eq!(open(&token, b"password2"), Err(JweError::KeyUnwrap));
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        // A flipped ciphertext bit, a flipped tag bit, a changed header: the tag fails.
        for (i, what) in [(3, "ciphertext"), (4, "tag")] {
            let mut p = parts.clone();
            let mut bytes = unb64url(&p[i], what).unwrap();
            bytes[0] ^= 1;
            p[i] = b64url(&bytes);
            assert_eq!(open(&p.join("."), b"password1"), Err(JweError::Content), "{what}");
        }
        let mut header: serde_json::Value = serde_json::from_slice(&unb64url(&parts[0], "h").unwrap()).unwrap();
        header["created"] = "later".into();
        let mut p = parts.clone();
        p[0] = b64url(header.to_string().as_bytes());
        assert_eq!(open(&p.join("."), b"password1"), Err(JweError::Content), "the header is authenticated");
        // Shapes that are not a JWE at all.
        for bad in ["", "a.b.c", "not base64!.a.b.c.d", "e30.a.b.c.d"] {
            assert!(matches!(open(bad, b"password1"), Err(JweError::Malformed(_))), "{bad}");
        }
        parts[2] = b64url(&[0u8; 8]);
        assert!(matches!(open(&parts.join("."), b"password1"), Err(JweError::Malformed(_))));
    }

    #[test]
    fn hostile_headers_are_refused_before_any_work() {
        let token = cheap(b"x", "password1");
        let parts: Vec<&str> = token.split('.').collect();
        let header: serde_json::Value = serde_json::from_slice(&unb64url(parts[0], "h").unwrap()).unwrap();
        let with = |k: &str, v: serde_json::Value| {
            let mut h = header.clone();
            h[k] = v;
            let mut p: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
            p[0] = b64url(h.to_string().as_bytes());
            open(&p.join("."), b"password1")
        };
        assert!(matches!(with("p2c", 1_000_000_000u64.into()), Err(JweError::Malformed(m)) if m.contains("p2c")));
        assert!(matches!(with("p2c", 0.into()), Err(JweError::Malformed(_))));
        assert!(matches!(with("p2c", "8192".into()), Err(JweError::Malformed(_))));
        assert!(matches!(with("alg", "dir".into()), Err(JweError::Unsupported(_))));
        assert!(matches!(with("enc", "A128GCM".into()), Err(JweError::Unsupported(_))));
        assert!(matches!(with("zip", "DEF".into()), Err(JweError::Unsupported(_))));
    }

    /// RFC 7517 Appendix C's password-based JWE, decrypted: this code agrees with the
    /// standard's worked example of PBES2-HS256+A128KW, not only with itself.
    #[test]
    fn rfc7517_appendix_c_key_derivation_and_unwrap() {
        let salt = unb64url("2WCTcJZ1Rvd_CJuJripQ1w", "s").unwrap();
        let kek = kek(b"Thus from my lips, by yours, my sin is purged.", ALG, &salt, 4096);
        assert_eq!(kek.as_slice(), [110, 171, 169, 92, 129, 92, 109, 117, 233, 242, 116, 233, 170, 14, 24, 75]);
        let wrapped = unb64url("TrqXOwuNUfDV9VPTNbyGvEJ9JMjefAVn-TR1uIxR9p6hsRQh9Tk7BA", "k").unwrap();
        let mut cek = [0u8; 32];
        aes_kw::KekAes128::from(*kek).unwrap(&wrapped, &mut cek).unwrap();
        assert_eq!(
            cek,
            [
                111, 27, 25, 52, 66, 29, 20, 78, 92, 176, 56, 240, 65, 208, 82, 112, 161, 131, 36, 55, 202, 236, 185,
                172, 129, 23, 153, 194, 195, 48, 253, 182
            ]
        );
    }
}
