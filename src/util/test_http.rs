//! A one-shot HTTP stand-in for unit tests, on 127.0.0.1: each connection gets the next
//! of the given answers (status, JSON body), and each request's first line and body are
//! recorded. For provider and portal tests that need a real socket but no wire format of
//! their own (the integration suite's stand-ins speak those). Test builds only.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};

/// What the stand-in saw: (request line, body) per request, in order.
pub type Requests = Arc<Mutex<Vec<(String, String)>>>;

/// Starts the stand-in; returns its base URL (`http://127.0.0.1:PORT`) and its log.
pub fn serve(answers: Vec<(u16, String)>) -> (String, Requests) {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Requests = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for (status, body) in answers {
            let Ok((stream, _)) = listener.accept() else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut req = vec![0; length];
            let _ = reader.read_exact(&mut req);
            log.lock().unwrap().push((first.trim().to_string(), String::from_utf8_lossy(&req).into_owned()));
            let mut out = stream;
            let _ = write!(
                out,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}
