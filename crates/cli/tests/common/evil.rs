//! A malicious server, as an attacker holding the server's channel key would run it: a proxy
//! on loopback that terminates the device's encrypted channel with the real server's static
//! key, opens its own channel to the real server, and relays every message in clear, letting
//! a test rewrite what the "server" sends.

use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tandem_proto::channel::{Initiator, Kind, StaticKeypair, respond};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

/// Rewrites a server→device message (an MPC frame, or a control message's JSON); `None`
/// leaves it alone.
pub type Rewrite = Arc<dyn Fn(&[u8]) -> Option<Vec<u8>> + Send + Sync>;

pub struct EvilServer {
    pub url: String,
    /// How many frames were rewritten.
    pub rewritten: Arc<Mutex<usize>>,
}

impl EvilServer {
    #[allow(clippy::result_large_err)] // the handshake callback's error type is tungstenite's
    pub async fn start(upstream: &str, channel_key: &[u8], rewrite: Rewrite) -> EvilServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream_ws = upstream.replace("http://", "ws://") + "/v1/ceremony";
        let server_pub = super::raw::server_key(upstream).await;
        let key = Arc::new(StaticKeypair::from_private(channel_key).unwrap());
        assert_eq!(key.public(), server_pub, "not the server's channel key");
        let rewritten = Arc::new(Mutex::new(0));
        let count = rewritten.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (upstream_ws, key, rewrite, count) = (
                    upstream_ws.clone(),
                    key.clone(),
                    rewrite.clone(),
                    count.clone(),
                );
                tokio::spawn(async move {
                    let auth = Arc::new(Mutex::new(None));
                    let auth2 = auth.clone();
                    let callback = move |req: &Request, resp: Response| {
                        *auth2.lock().unwrap() = req.headers().get("authorization").cloned();
                        Ok(resp)
                    };
                    let Ok(mut device) = tokio_tungstenite::accept_hdr_async(tcp, callback).await
                    else {
                        return;
                    };
                    let header = auth.lock().unwrap().clone().unwrap();
                    let token = header
                        .to_str()
                        .unwrap()
                        .strip_prefix("Bearer ")
                        .unwrap()
                        .to_owned();
                    // The device's handshake, answered with the stolen key.
                    let Some(Ok(Message::Binary(msg1))) = device.next().await else {
                        return;
                    };
                    let (mut to_device, msg2) = respond(&key, &token, &msg1).unwrap();
                    device.send(Message::Binary(msg2.into())).await.unwrap();
                    // Our own channel to the real server.
                    let mut req = upstream_ws.into_client_request().unwrap();
                    req.headers_mut().insert("authorization", header);
                    let (mut server, _) = tokio_tungstenite::connect_async(req).await.unwrap();
                    let (init, m1) = Initiator::start(&server_pub, &token).unwrap();
                    server.send(Message::Binary(m1.into())).await.unwrap();
                    let Some(Ok(Message::Binary(m2))) = server.next().await else {
                        return;
                    };
                    let mut to_server = init.finish(&m2).unwrap();
                    // The device side and the server side each have a pair of directions;
                    // `to_device` and `to_server` each seal one way and open the other.
                    loop {
                        tokio::select! {
                            m = device.next() => {
                                let Some(Ok(Message::Binary(b))) = m else { break };
                                let Ok(Some((kind, data))) = to_device.open(&b) else { continue };
                                for out in to_server.seal(kind, &data).unwrap() {
                                    if server.send(Message::Binary(out.into())).await.is_err() {
                                        return;
                                    }
                                }
                            }
                            m = server.next() => {
                                let Some(Ok(Message::Binary(b))) = m else { break };
                                let Ok(Some((kind, mut data))) = to_server.open(&b) else { continue };
                                if let Some(evil) = rewrite(&data) {
                                    data = evil;
                                    *count.lock().unwrap() += 1;
                                }
                                for out in to_device.seal(kind, &data).unwrap() {
                                    if device.send(Message::Binary(out.into())).await.is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                    }
                    let _ = device.close(None).await;
                    let _ = server.close(None).await;
                });
            }
        });
        EvilServer { url, rewritten }
    }

    pub fn rewritten(&self) -> usize {
        *self.rewritten.lock().unwrap()
    }
}
