//! Which URLs tfauth will send a bearer token or a form to: https anywhere, plain http
//! only to loopback (the stand-ins and local endpoints of tests and development). Used by
//! the auth schema's validation and by the providers that call such URLs. Pure.

/// https anywhere; http only to loopback (`localhost`, `127.0.0.0/8`, `[::1]`).
pub fn is_allowed_url(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host =
        host.rsplit_once(':').map_or(host, |(h, port)| if port.bytes().all(|b| b.is_ascii_digit()) { h } else { host });
    host == "localhost" || host == "[::1]" || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_http_only_to_loopback() {
        assert!(is_allowed_url("https://example.com/x"));
        assert!(is_allowed_url("http://127.0.0.2:80/t"));
        assert!(!is_allowed_url("http://localhost.example.com/t"));
        assert!(!is_allowed_url("http://10.0.0.1/t"));
    }
}
