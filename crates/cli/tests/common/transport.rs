//! Hostile transport on loopback: a TCP relay in front of a real server that can switch its
//! upstream (another server behind the same URL) or stall ceremony sockets at a chosen
//! point, and a fake HTTP server that answers with whatever a test wants (or never).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the relay does with a ceremony socket (a request with `Upgrade: websocket`);
/// plain HTTP requests are always relayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsMode {
    Relay,
    /// Passes the upgrade request on but never relays the answer.
    StallUpgrade,
    /// Relays the upgrade answer and this many server→device WebSocket frames, then holds
    /// everything else back (the socket stays open): 0 stalls the channel handshake, 1 the
    /// first ceremony round.
    StallAfterFrames(usize),
}

#[derive(Clone)]
pub struct Relay {
    pub url: String,
    upstream: Arc<Mutex<String>>,
    ws_mode: Arc<Mutex<WsMode>>,
}

impl Relay {
    /// Relays to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Relay {
            url: format!("http://{}", listener.local_addr().unwrap()),
            upstream: Arc::new(Mutex::new(addr_of(upstream))),
            ws_mode: Arc::new(Mutex::new(WsMode::Relay)),
        };
        let r = relay.clone();
        tokio::spawn(async move {
            while let Ok((device, _)) = listener.accept().await {
                let upstream = r.upstream.lock().unwrap().clone();
                let mode = *r.ws_mode.lock().unwrap();
                tokio::spawn(relay_one(device, upstream, mode));
            }
        });
        relay
    }

    /// From now on, new connections go to `upstream`.
    pub fn switch_to(&self, upstream: &str) {
        *self.upstream.lock().unwrap() = addr_of(upstream);
    }

    pub fn set_ws_mode(&self, mode: WsMode) {
        *self.ws_mode.lock().unwrap() = mode;
    }
}

fn addr_of(url: &str) -> String {
    url.split_once("://")
        .map_or(url, |(_, a)| a)
        .trim_end_matches('/')
        .to_owned()
}

async fn relay_one(mut device: TcpStream, upstream: String, mode: WsMode) {
    let Ok(mut server) = TcpStream::connect(&upstream).await else {
        return;
    };
    // The first read holds the request head (loopback, small requests).
    let mut head = vec![0u8; 16 * 1024];
    let Ok(n) = device.read(&mut head).await else {
        return;
    };
    head.truncate(n);
    let is_ws = String::from_utf8_lossy(&head)
        .to_ascii_lowercase()
        .contains("upgrade: websocket");
    if server.write_all(&head).await.is_err() {
        return;
    }
    let frames = match mode {
        WsMode::StallUpgrade if is_ws => {
            let _ = device.read(&mut head).await;
            return;
        }
        WsMode::StallAfterFrames(k) if is_ws => k,
        _ => {
            let _ = tokio::io::copy_bidirectional(&mut device, &mut server).await;
            return;
        }
    };
    let (mut dev_rx, mut dev_tx) = device.into_split();
    let (mut srv_rx, mut srv_tx) = server.into_split();
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut dev_rx, &mut srv_tx).await;
    });
    // Server → device: the HTTP answer head, then `frames` whole WebSocket frames.
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut sent = 0;
    loop {
        let (limit, done) = match find(&buf, b"\r\n\r\n") {
            None => (0, false),
            Some(end) => {
                let (mut at, mut got) = (end + 4, 0);
                while got < frames {
                    match frame_len(&buf[at..]) {
                        Some(len) => {
                            at += len;
                            got += 1;
                        }
                        None => break,
                    }
                }
                (at, got == frames)
            }
        };
        if sent < limit {
            if dev_tx.write_all(&buf[sent..limit]).await.is_err() {
                break;
            }
            sent = limit;
        }
        if done {
            // Hold the socket open, sending nothing more, until the device gives up.
            let _ = up.await;
            return;
        }
        match srv_rx.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    up.abort();
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Length of the whole (unmasked, server-sent) WebSocket frame at the start of `b`, if
/// all of it is there.
fn frame_len(b: &[u8]) -> Option<usize> {
    let len7 = usize::from(*b.get(1)? & 0x7f);
    let (header, payload) = match len7 {
        126 => (4, usize::from(u16::from_be_bytes([*b.get(2)?, *b.get(3)?]))),
        127 => {
            let bytes: [u8; 8] = b.get(2..10)?.try_into().ok()?;
            (10, usize::try_from(u64::from_be_bytes(bytes)).ok()?)
        }
        n => (2, n),
    };
    (b.len() >= header + payload).then_some(header + payload)
}

/// How the fake server answers a request (given its request line).
#[derive(Clone)]
pub enum Answer {
    /// Status and JSON body.
    Json(u16, String),
    /// Reads the request, then never answers.
    Stall,
    /// 200 with a declared `Content-Length` of 1 GiB, then zeros until the client leaves.
    HugeDeclared,
    /// 200, chunked, zeros until the client leaves (no length announced).
    HugeChunked,
}

pub type Route = Arc<dyn Fn(&str) -> Answer + Send + Sync>;

pub struct FakeHttp {
    pub url: String,
    /// Body bytes written to clients so far.
    pub sent: Arc<AtomicU64>,
}

impl FakeHttp {
    pub async fn start(route: Route) -> FakeHttp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let sent = Arc::new(AtomicU64::new(0));
        let counter = sent.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(answer(tcp, route.clone(), counter.clone()));
            }
        });
        FakeHttp { url, sent }
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

async fn answer(mut tcp: TcpStream, route: Route, sent: Arc<AtomicU64>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while find(&buf, b"\r\n\r\n").is_none() {
        match tcp.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let request_line = String::from_utf8_lossy(&buf)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let zeros = vec![0u8; 64 * 1024];
    match route(&request_line) {
        Answer::Json(status, body) => {
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = tcp.write_all(head.as_bytes()).await;
            let _ = tcp.write_all(body.as_bytes()).await;
            let _ = tcp.shutdown().await;
        }
        Answer::Stall => {
            // Keep the connection open and silent for far longer than any test runs.
            let _ = tcp.read(&mut chunk).await;
            tokio::time::sleep(Duration::from_secs(600)).await;
        }
        Answer::HugeDeclared => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1073741824\r\n\r\n";
            if tcp.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            while tcp.write_all(&zeros).await.is_ok() {
                sent.fetch_add(zeros.len() as u64, Ordering::SeqCst);
            }
        }
        Answer::HugeChunked => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
            if tcp.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let mut framed = format!("{:x}\r\n", zeros.len()).into_bytes();
            framed.extend_from_slice(&zeros);
            framed.extend_from_slice(b"\r\n");
            while tcp.write_all(&framed).await.is_ok() {
                sent.fetch_add(zeros.len() as u64, Ordering::SeqCst);
            }
        }
    }
}
