//! The HTTP/1.1 pieces every loopback stand-in shares (one request per connection,
//! `Connection: close`): the response type and its writer, and form/percent decoding.
//! Each stand-in reads requests into a struct of its own, shaped for its routes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// A response: status, headers, body.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub fn write_response(mut stream: &TcpStream, r: &Resp) {
    let mut head = format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status));
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", r.body.len()));
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&r.body);
    let _ = stream.flush();
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        _ => "Status",
    }
}

/// Percent-decoding; `+` is a space in forms (`plus_is_space`), itself in paths. A `%`
/// not followed by two hex digits stays as it is.
pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first header called `name` (any case) of `headers`.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// `k=v&k=v` pairs: a query string, or `application/x-www-form-urlencoded` (`plus_is_space`).
pub fn parse_pairs(s: &str, plus_is_space: bool) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, plus_is_space), percent_decode(v, plus_is_space))
        })
        .collect()
}

/// One HTTP/1.1 request as it came: the request line's method and target, the headers
/// (names lower-cased) and the body (`Content-Length` bytes). Each stand-in builds its own
/// view (path, query, form) from it.
pub struct RawRequest {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Reads one request from `stream`; `None` when it is cut short or malformed.
pub fn read_raw(stream: &TcpStream) -> Option<RawRequest> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            break;
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(RawRequest { method, target, headers, body })
}

/// A loopback listener (127.0.0.1, a free port) served on its own thread until dropped:
/// the accept loop every stand-in shares. [`Server::bind`] first, so a stand-in that must
/// know its own URL has the port, then [`Bound::serve`] with what handles each accepted
/// connection. Dropping the server stops the loop within a few milliseconds and waits for
/// its thread.
pub struct Server {
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A bound listener, not yet served.
pub struct Bound {
    listener: std::net::TcpListener,
    pub port: u16,
}

impl Server {
    pub fn bind() -> Bound {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        Bound { listener, port }
    }
}

impl Bound {
    pub fn serve(self, mut handle: impl FnMut(TcpStream) + Send + 'static) -> Server {
        use std::sync::atomic::Ordering;
        let Bound { listener, port } = self;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sp = stop.clone();
        let thread = std::thread::spawn(move || {
            while !sp.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => handle(stream),
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        });
        Server { port, stop, thread: Some(thread) }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
