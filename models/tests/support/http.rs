//! A tiny HTTP/1.1 server on 127.0.0.1 for download tests: each test starts its own, with
//! a handler deciding the answer (status, body, a cut mid-body, a stall). Shared with the
//! end-to-end tests of `img23d models` (tests/models_cmd.rs includes this file).

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A request as the handler sees it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The path (with query).
    pub path: String,
    /// The `Range: bytes=N-` start, if any.
    pub range_start: Option<u64>,
}

/// What to answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: Vec<u8>,
    /// Content-Length to announce (defaults to the body length).
    pub content_length: Option<u64>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Close the connection after this many body bytes.
    pub cut_after: Option<usize>,
    /// Sleep this long after the headers, before the body.
    pub stall: Option<Duration>,
}

impl Reply {
    /// A plain answer.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            body: body.into(),
            content_length: None,
            headers: Vec::new(),
            cut_after: None,
            stall: None,
        }
    }

    /// A file, honouring a `Range: bytes=N-` request with 206.
    pub fn file(req: &Request, data: &[u8]) -> Self {
        match req.range_start {
            Some(s) if (s as usize) < data.len() => {
                let mut r = Self::new(206, data[s as usize..].to_vec());
                r.headers.push((
                    "Content-Range".into(),
                    format!("bytes {s}-{}/{}", data.len() - 1, data.len()),
                ));
                r
            }
            Some(_) => Self::new(416, Vec::new()),
            None => Self::new(200, data.to_vec()),
        }
    }

    /// Cuts the body after `n` bytes (the announced length stays the full one).
    pub fn cut(mut self, n: usize) -> Self {
        self.content_length = Some(self.body.len() as u64);
        self.cut_after = Some(n);
        self
    }

    /// Stalls before the body.
    pub fn stall(mut self, d: Duration) -> Self {
        self.stall = Some(d);
        self
    }
}

type Handler = dyn Fn(&Request, usize) -> Reply + Send + Sync;

/// A running server; stops accepting when dropped (the thread ends with the process).
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Requests seen so far.
    pub log: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    /// Starts a server; `handler(request, n)` answers the n-th request (0-based).
    pub fn start(handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handler: Arc<Handler> = Arc::new(handler);
        let log = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        let log2 = Arc::clone(&log);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (h, l, c) = (Arc::clone(&handler), Arc::clone(&log2), Arc::clone(&count));
                thread::spawn(move || serve(stream, &*h, &l, &c));
            }
        });
        Self { url, log }
    }

    /// Paths requested so far, with their range starts.
    pub fn requests(&self) -> Vec<(String, Option<u64>)> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|r| (r.path.clone(), r.range_start))
            .collect()
    }
}

fn serve(stream: TcpStream, handler: &Handler, log: &Mutex<Vec<Request>>, count: &AtomicUsize) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range_start = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("range")
        {
            range_start = v
                .trim()
                .strip_prefix("bytes=")
                .and_then(|r| r.trim_end_matches('-').parse().ok());
        }
    }
    let req = Request { path, range_start };
    log.lock().unwrap().push(req.clone());
    let n = count.fetch_add(1, Ordering::SeqCst);
    let reply = handler(&req, n);
    let mut s = stream;
    let reason = match reply.status {
        200 => "OK",
        206 => "Partial Content",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        500 => "Internal Server Error",
        _ => "Status",
    };
    let len = reply.content_length.unwrap_or(reply.body.len() as u64);
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Length: {len}\r\nConnection: close\r\n",
        reply.status
    );
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    if s.write_all(head.as_bytes()).is_err() {
        return;
    }
    let _ = s.flush();
    if let Some(d) = reply.stall {
        thread::sleep(d);
    }
    let body = match reply.cut_after {
        Some(n) => &reply.body[..n.min(reply.body.len())],
        None => &reply.body[..],
    };
    let _ = s.write_all(body);
    let _ = s.flush();
    let _ = s.shutdown(std::net::Shutdown::Both);
}

/// The hub tree API's JSON for files `(path, bytes)` (what huggingface.co answers for
/// `/api/models/{repo}/tree/{revision}/{dir}`).
pub fn hub_tree_json(files: &[(&str, &[u8])], sha256: impl Fn(&[u8]) -> String) -> String {
    let items: Vec<String> = files
        .iter()
        .map(|(p, d)| {
            format!(
                r#"{{"type":"file","oid":"0000","size":{n},"path":"{p}","lfs":{{"oid":"{}","size":{n},"pointerSize":132}}}}"#,
                sha256(d),
                n = d.len()
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}
