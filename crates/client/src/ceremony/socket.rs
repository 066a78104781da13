use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tandem_proto::ceremony::{ClientMessage, ServerMessage};
use tandem_proto::channel::{Initiator, Kind, Secure};

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::api::ApiClient;
use crate::error::ClientError;

/// The largest message either side sends (an ECDSA keygen frame is ~150 KB).
const MAX_MESSAGE: usize = 1 << 20;

/// One ceremony socket, with the end-to-end encrypted channel inside. It carries ceremonies
/// one after the other (the server keeps it open between them until it idles out).
pub struct Socket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    secure: Secure,
    /// Whether a ceremony already ran on this socket.
    used: bool,
    idle_since: Instant,
}

/// What arrived from the server.
pub(crate) enum Received {
    Control(ServerMessage),
    Frame(Vec<u8>),
}

impl Socket {
    pub async fn connect(api: &ApiClient) -> Result<Socket, ClientError> {
        let token = api.token().ok_or(ClientError::NotLoggedIn)?;
        let server_key = *api.server_key().ok_or_else(|| {
            ClientError::Local(
                "no pinned server key: log in again (or ApiClient::pin_server_key)".into(),
            )
        })?;
        let mut request = api
            .ceremony_url()
            .into_client_request()
            .map_err(|e| ClientError::Socket(e.to_string()))?;
        let bearer = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| ClientError::Local("session token is not a valid header".into()))?;
        request.headers_mut().insert("authorization", bearer);
        let mut config = WebSocketConfig::default();
        config.max_message_size = Some(MAX_MESSAGE);
        config.max_frame_size = Some(MAX_MESSAGE);
        let connector = tokio_tungstenite::Connector::Rustls(api.tls());
        let (ws, _) = tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(config),
            true,
            Some(connector),
        )
        .await
        .map_err(|e| match e {
            tokio_tungstenite::tungstenite::Error::Http(resp) => {
                let api = resp
                    .body()
                    .as_ref()
                    .and_then(|b| serde_json::from_slice::<tandem_proto::ApiError>(b).ok());
                match api {
                    Some(api) => ClientError::Api(api),
                    None => ClientError::Socket(format!("HTTP {}", resp.status())),
                }
            }
            other => ClientError::Socket(other.to_string()),
        })?;
        let mut ws = ws;
        let (initiator, msg1) = Initiator::start(&server_key, token).map_err(channel)?;
        ws.send(Message::Binary(msg1.into()))
            .await
            .map_err(|e| ClientError::Socket(e.to_string()))?;
        let msg2 = loop {
            match ws.next().await {
                Some(Ok(Message::Binary(b))) => break b,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Text(t))) => {
                    return Err(match serde_json::from_str::<ServerMessage>(t.as_str()) {
                        Ok(ServerMessage::Failed { error }) => ClientError::Api(error),
                        _ => ClientError::Protocol("unexpected message during the handshake".into()),
                    });
                }
                _ => return Err(ClientError::Channel("the server closed the connection during the handshake (is it the server whose key you pinned?)".into())),
            }
        };
        let secure = initiator.finish(&msg2).map_err(channel)?;
        Ok(Socket {
            ws,
            secure,
            used: false,
            idle_since: Instant::now(),
        })
    }

    /// Whether a ceremony already ran on this socket (so the server may have closed it).
    pub fn is_used(&self) -> bool {
        self.used
    }

    /// How long the socket has been waiting since its last ceremony.
    pub fn idle_for(&self) -> Duration {
        self.idle_since.elapsed()
    }

    /// Records that a ceremony finished on the socket.
    pub(crate) fn finished_ceremony(&mut self) {
        self.used = true;
        self.idle_since = Instant::now();
    }

    pub(crate) async fn send_control(&mut self, msg: &ClientMessage) -> Result<(), ClientError> {
        let json = serde_json::to_vec(msg).map_err(|e| ClientError::Local(e.to_string()))?;
        self.send_sealed(Kind::Control, &json).await
    }

    pub(crate) async fn send_frame(&mut self, frame: Vec<u8>) -> Result<(), ClientError> {
        self.send_sealed(Kind::Frame, &frame).await
    }

    async fn send_sealed(&mut self, kind: Kind, data: &[u8]) -> Result<(), ClientError> {
        let socket = |e: tokio_tungstenite::tungstenite::Error| ClientError::Socket(e.to_string());
        // Every record of a message is queued, then written out together.
        for message in self.secure.seal(kind, data).map_err(channel)? {
            self.ws
                .feed(Message::Binary(message.into()))
                .await
                .map_err(socket)?;
        }
        self.ws.flush().await.map_err(socket)
    }

    pub(crate) async fn recv(&mut self) -> Result<Received, ClientError> {
        loop {
            let msg = match self.ws.next().await {
                None => {
                    return Err(ClientError::Socket(
                        "the server closed the connection".into(),
                    ));
                }
                Some(Err(e)) => return Err(ClientError::Socket(e.to_string())),
                Some(Ok(m)) => m,
            };
            let bytes = match msg {
                Message::Binary(b) => b,
                Message::Close(_) => {
                    return Err(ClientError::Socket(
                        "the server closed the connection".into(),
                    ));
                }
                Message::Text(_) => {
                    return Err(ClientError::Channel(
                        "plaintext on the encrypted channel".into(),
                    ));
                }
                _ => continue,
            };
            match self.secure.open(&bytes).map_err(channel)? {
                None => continue,
                Some((Kind::Frame, frame)) => return Ok(Received::Frame(frame)),
                Some((Kind::Control, json)) => {
                    let parsed: ServerMessage = serde_json::from_slice(&json)
                        .map_err(|e| ClientError::Protocol(format!("bad control message: {e}")))?;
                    if let ServerMessage::Failed { error } = parsed {
                        return Err(ClientError::Api(error));
                    }
                    return Ok(Received::Control(parsed));
                }
            }
        }
    }

    /// The next control message; a frame here is a protocol error.
    pub(crate) async fn control(&mut self) -> Result<ServerMessage, ClientError> {
        match self.recv().await? {
            Received::Control(m) => Ok(m),
            Received::Frame(_) => Err(ClientError::Protocol("expected a control message".into())),
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

fn channel(e: tandem_proto::channel::ChannelError) -> ClientError {
    ClientError::Channel(e.to_string())
}
