//! A hostile network between the device and the real server, as a TLS-terminating proxy
//! without the server's channel key sits: it relays the HTTP API and the ceremony socket, and
//! on demand rewrites any HTTP answer, or drops, stalls, duplicates or cuts the n-th ceremony
//! message of a direction (it cannot read them: they are sealed end to end). Rules can be
//! changed while it runs, so a test can lie and then stop lying.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

pub use super::mitm::Dir;

/// One HTTP answer on its way to the device.
#[derive(Clone, Debug)]
pub struct Answer {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub body: Vec<u8>,
}

/// Returns the forged (status, JSON body), or `None` to pass the answer on.
pub type HttpRewrite = Arc<dyn Fn(&Answer) -> Option<(u16, Vec<u8>)> + Send + Sync>;

/// What happens to the n-th binary message (counted per socket and direction from 0; the
/// first device→server one is the channel handshake) of a ceremony socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsFault {
    Drop(Dir, usize),
    Duplicate(Dir, usize),
    /// Held back for good: nothing more crosses in that direction (what follows is read and
    /// discarded, so a close is still noticed).
    Stall(Dir, usize),
    /// Both connections are closed instead of relaying it.
    Cut(Dir, usize),
    /// Relayed after a pause (what follows waits behind it): keeps a ceremony in flight.
    Delay(Dir, usize, Duration),
}

type Counts = Arc<Mutex<Vec<(usize, usize)>>>;

/// Called when the device closes (or drops) a ceremony socket, before anything else happens.
pub type OnDeviceClose = Arc<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct Rules {
    http: Option<HttpRewrite>,
    ws: Option<WsFault>,
    on_device_close: Option<OnDeviceClose>,
}

pub struct Proxy {
    pub url: String,
    rules: Arc<Mutex<Rules>>,
    /// Binary messages relayed per direction, per ceremony socket, in the order they opened.
    counts: Counts,
    /// HTTP answers rewritten so far.
    forged: Arc<Mutex<usize>>,
}

impl Proxy {
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let rules: Arc<Mutex<Rules>> = Arc::default();
        let counts: Counts = Arc::default();
        let forged: Arc<Mutex<usize>> = Arc::default();
        let upstream = upstream.trim_end_matches('/').to_owned();
        let (r, c, f) = (rules.clone(), counts.clone(), forged.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            while let Ok((tcp, _)) = listener.accept().await {
                let (upstream, http) = (upstream.clone(), http.clone());
                let (rules, counts, forged) = (r.clone(), c.clone(), f.clone());
                tokio::spawn(async move {
                    if is_upgrade(&tcp).await {
                        relay_socket(tcp, &upstream, rules, counts).await;
                    } else {
                        relay_http(tcp, &upstream, &http, rules, forged).await;
                    }
                });
            }
        });
        Proxy {
            url,
            rules,
            counts,
            forged,
        }
    }

    pub fn rewrite_http(&self, rewrite: HttpRewrite) {
        self.rules.lock().unwrap().http = Some(rewrite);
    }

    pub fn fault(&self, fault: WsFault) {
        self.rules.lock().unwrap().ws = Some(fault);
    }

    pub fn on_device_close(&self, hook: OnDeviceClose) {
        self.rules.lock().unwrap().on_device_close = Some(hook);
    }

    /// Stops lying: everything is relayed unchanged from now on.
    pub fn honest(&self) {
        *self.rules.lock().unwrap() = Rules::default();
    }

    /// Binary messages (device→server, server→device) of each ceremony socket so far.
    pub fn counts(&self) -> Vec<(usize, usize)> {
        self.counts.lock().unwrap().clone()
    }

    pub fn forged(&self) -> usize {
        *self.forged.lock().unwrap()
    }
}

/// Whether the connection opens with a WebSocket upgrade (looked at without consuming it).
async fn is_upgrade(tcp: &TcpStream) -> bool {
    let mut buf = vec![0u8; 8192];
    for _ in 0..200 {
        let n = tcp.peek(&mut buf).await.unwrap_or(0);
        let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
        if head.contains("\r\n\r\n") || n == buf.len() {
            return head.contains("upgrade: websocket");
        }
        if n == 0 {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

/// A minimal HTTP/1.1 relay (keep-alive, Content-Length bodies: what the SDK sends).
async fn relay_http(
    tcp: TcpStream,
    upstream: &str,
    http: &reqwest::Client,
    rules: Arc<Mutex<Rules>>,
    forged: Arc<Mutex<usize>>,
) {
    let (rd, mut wr) = tcp.into_split();
    let mut rd = BufReader::new(rd);
    loop {
        let mut line = String::new();
        if rd.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
            return;
        };
        let (method, path) = (method.to_owned(), path.to_owned());
        let mut headers = Vec::new();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if rd.read_line(&mut h).await.unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
                if k == "content-length" {
                    len = v.parse().unwrap_or(0);
                }
                if !matches!(
                    k.as_str(),
                    "host" | "content-length" | "connection" | "transfer-encoding"
                ) {
                    headers.push((k, v));
                }
            }
        }
        let mut body = vec![0u8; len];
        if rd.read_exact(&mut body).await.is_err() {
            return;
        }
        let mut req = http.request(method.parse().unwrap(), format!("{upstream}{path}"));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let Ok(resp) = req.body(body).send().await else {
            return;
        };
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_owned();
        let body = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        let answer = Answer {
            method,
            path,
            status,
            body,
        };
        let rewrite = rules.lock().unwrap().http.clone();
        let (status, body, content_type) = match rewrite.and_then(|f| f(&answer)) {
            Some((status, body)) => {
                *forged.lock().unwrap() += 1;
                (status, body, "application/json".to_owned())
            }
            None => (answer.status, answer.body, content_type),
        };
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        if wr.write_all(head.as_bytes()).await.is_err() || wr.write_all(&body).await.is_err() {
            return;
        }
    }
}

#[allow(clippy::result_large_err)] // the handshake callback's error type is tungstenite's
async fn relay_socket(tcp: TcpStream, upstream: &str, rules: Arc<Mutex<Rules>>, counts: Counts) {
    let auth = Arc::new(Mutex::new(None));
    let auth2 = auth.clone();
    let callback = move |req: &Request, resp: Response| {
        *auth2.lock().unwrap() = req.headers().get("authorization").cloned();
        Ok(resp)
    };
    let Ok(device) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
        return;
    };
    let ws_url = upstream.replace("http://", "ws://") + tandem_proto::CEREMONY_PATH;
    let mut req = ws_url.into_client_request().unwrap();
    if let Some(a) = auth.lock().unwrap().clone() {
        req.headers_mut().insert("authorization", a);
    }
    let Ok((server, _)) = tokio_tungstenite::connect_async(req).await else {
        return;
    };
    let socket = {
        let mut c = counts.lock().unwrap();
        c.push((0, 0));
        c.len() - 1
    };
    let (mut dev_tx, mut dev_rx) = device.split();
    let (mut srv_tx, mut srv_rx) = server.split();
    let pass = |dir: Dir, n: usize| -> Option<WsFault> {
        {
            let mut c = counts.lock().unwrap();
            match dir {
                Dir::ToServer => c[socket].0 += 1,
                Dir::ToDevice => c[socket].1 += 1,
            }
        }
        match rules.lock().unwrap().ws {
            Some(
                f @ (WsFault::Drop(d, i)
                | WsFault::Duplicate(d, i)
                | WsFault::Stall(d, i)
                | WsFault::Cut(d, i)
                | WsFault::Delay(d, i, _)),
            ) if d == dir && i == n => Some(f),
            _ => None,
        }
    };
    let up = async {
        let (mut n, mut stalled) = (0, false);
        while let Some(Ok(msg)) = dev_rx.next().await {
            if !matches!(msg, Message::Binary(_)) {
                if srv_tx.send(msg).await.is_err() {
                    break;
                }
                continue;
            }
            let fault = pass(Dir::ToServer, n);
            n += 1;
            let copies = match fault {
                _ if stalled => 0,
                Some(WsFault::Drop(..)) => 0,
                Some(WsFault::Duplicate(..)) => 2,
                Some(WsFault::Stall(..)) => {
                    stalled = true;
                    0
                }
                Some(WsFault::Cut(..)) => return,
                Some(WsFault::Delay(_, _, pause)) => {
                    tokio::time::sleep(pause).await;
                    1
                }
                None => 1,
            };
            for _ in 0..copies {
                if srv_tx.send(msg.clone()).await.is_err() {
                    return;
                }
            }
        }
        let hook = rules.lock().unwrap().on_device_close.clone();
        if let Some(hook) = hook {
            hook();
        }
    };
    let down = async {
        let (mut n, mut stalled) = (0, false);
        while let Some(Ok(msg)) = srv_rx.next().await {
            if !matches!(msg, Message::Binary(_)) {
                if dev_tx.send(msg).await.is_err() {
                    break;
                }
                continue;
            }
            let fault = pass(Dir::ToDevice, n);
            n += 1;
            let copies = match fault {
                _ if stalled => 0,
                Some(WsFault::Drop(..)) => 0,
                Some(WsFault::Duplicate(..)) => 2,
                Some(WsFault::Stall(..)) => {
                    stalled = true;
                    0
                }
                Some(WsFault::Cut(..)) => break,
                Some(WsFault::Delay(_, _, pause)) => {
                    tokio::time::sleep(pause).await;
                    1
                }
                None => 1,
            };
            for _ in 0..copies {
                if dev_tx.send(msg.clone()).await.is_err() {
                    return;
                }
            }
        }
    };
    // Either side ending (or a cut) ends both: the connections drop here.
    tokio::select! {
        () = up => {}
        () = down => {}
    }
}
