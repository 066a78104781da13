//! A man in the middle on loopback: a WebSocket proxy between the device and the server that
//! records every message and can flip a byte in, or replay, the n-th one of a direction.

use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    ToServer,
    ToDevice,
}

#[derive(Clone, Copy, Debug)]
pub enum Tamper {
    None,
    Flip(Dir, usize),
    Replay(Dir, usize),
}

type Seen = Arc<Mutex<Vec<(Dir, Vec<u8>)>>>;

pub struct Mitm {
    pub url: String,
    pub seen: Seen,
}

impl Mitm {
    #[allow(clippy::result_large_err)] // the handshake callback's error type is tungstenite's
    pub async fn start(upstream: &str, tamper: Tamper) -> Mitm {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let upstream_ws = upstream.replace("http://", "ws://") + "/v1/ceremony";
        let seen2 = seen.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let upstream_ws = upstream_ws.clone();
                let seen = seen2.clone();
                tokio::spawn(async move {
                    let auth = Arc::new(Mutex::new(None));
                    let auth2 = auth.clone();
                    let callback = move |req: &Request, resp: Response| {
                        *auth2.lock().unwrap() = req.headers().get("authorization").cloned();
                        Ok(resp)
                    };
                    let Ok(device) = tokio_tungstenite::accept_hdr_async(tcp, callback).await
                    else {
                        return;
                    };
                    let mut req = upstream_ws.into_client_request().unwrap();
                    if let Some(a) = auth.lock().unwrap().clone() {
                        req.headers_mut().insert("authorization", a);
                    }
                    let Ok((server, _)) = tokio_tungstenite::connect_async(req).await else {
                        return;
                    };
                    let (mut dev_tx, mut dev_rx) = device.split();
                    let (mut srv_tx, mut srv_rx) = server.split();
                    let seen_a = seen.clone();
                    let up = async move {
                        let mut n = 0;
                        while let Some(Ok(msg)) = dev_rx.next().await {
                            for m in relay(Dir::ToServer, msg, &mut n, tamper, &seen_a) {
                                if srv_tx.send(m).await.is_err() {
                                    return;
                                }
                            }
                        }
                        let _ = srv_tx.close().await;
                    };
                    let down = async move {
                        let mut n = 0;
                        while let Some(Ok(msg)) = srv_rx.next().await {
                            for m in relay(Dir::ToDevice, msg, &mut n, tamper, &seen) {
                                if dev_tx.send(m).await.is_err() {
                                    return;
                                }
                            }
                        }
                        let _ = dev_tx.close().await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
        Mitm { url, seen }
    }

    /// Everything that crossed, concatenated per message.
    pub fn captured(&self) -> Vec<(Dir, Vec<u8>)> {
        self.seen.lock().unwrap().clone()
    }
}

fn relay(dir: Dir, msg: Message, n: &mut usize, tamper: Tamper, seen: &Seen) -> Vec<Message> {
    let bytes = match &msg {
        Message::Binary(b) => b.to_vec(),
        Message::Text(t) => t.as_bytes().to_vec(),
        _ => return vec![msg],
    };
    seen.lock().unwrap().push((dir, bytes.clone()));
    let index = *n;
    *n += 1;
    match tamper {
        Tamper::Flip(d, i) if d == dir && i == index => {
            let mut b = bytes;
            let at = b.len() / 2;
            b[at] ^= 0x01;
            vec![Message::Binary(b.into())]
        }
        Tamper::Replay(d, i) if d == dir && i == index => vec![msg.clone(), msg],
        _ => vec![msg],
    }
}
