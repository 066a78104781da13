//! A hand-driven ceremony socket speaking the encrypted channel, for sending what a real
//! device never would.

use futures_util::{SinkExt, StreamExt};
use tandem_proto::channel::{Initiator, Kind, Secure};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Raw {
    pub ws: Ws,
    pub secure: Secure,
}

pub async fn server_key(url: &str) -> [u8; 32] {
    let v: serde_json::Value = reqwest::get(format!("{url}/v1/server-key"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    hex::decode(v["public_key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

pub async fn connect_ws(url: &str, token: &str) -> Ws {
    let url = url.replace("http://", "ws://") + "/v1/ceremony";
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

impl Raw {
    pub async fn connect(url: &str, token: &str) -> Raw {
        let key = server_key(url).await;
        let mut ws = connect_ws(url, token).await;
        let (init, msg1) = Initiator::start(&key, token).unwrap();
        ws.send(Message::Binary(msg1.into())).await.unwrap();
        let msg2 = match ws.next().await {
            Some(Ok(Message::Binary(b))) => b,
            other => panic!("no handshake answer: {other:?}"),
        };
        let secure = init.finish(&msg2).unwrap();
        Raw { ws, secure }
    }

    pub async fn send(&mut self, kind: Kind, data: &[u8]) {
        for m in self.secure.seal(kind, data).unwrap() {
            let _ = self.ws.send(Message::Binary(m.into())).await;
        }
    }

    pub async fn control(&mut self, json: serde_json::Value) {
        self.send(Kind::Control, json.to_string().as_bytes()).await;
    }

    /// The next decrypted message, `None` once the socket closes.
    pub async fn next(&mut self) -> Option<(Kind, Vec<u8>)> {
        while let Some(Ok(msg)) = self.ws.next().await {
            let Message::Binary(b) = msg else { continue };
            if let Some(m) = self.secure.open(&b).expect("channel") {
                return Some(m);
            }
        }
        None
    }

    /// The next control message as JSON (frames before it are skipped).
    pub async fn next_control(&mut self) -> Option<serde_json::Value> {
        while let Some((kind, data)) = self.next().await {
            if kind == Kind::Control {
                return serde_json::from_slice(&data).ok();
            }
        }
        None
    }

    /// The code of the `failed` message the server sends, if any, before it closes.
    pub async fn failure_code(&mut self) -> Option<String> {
        while let Some(Ok(msg)) = self.ws.next().await {
            let Message::Binary(b) = msg else { continue };
            let Ok(Some((Kind::Control, json))) = self.secure.open(&b) else {
                continue;
            };
            let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
            if v["type"] == "failed" {
                return v["error"]["code"].as_str().map(str::to_owned);
            }
        }
        None
    }
}
