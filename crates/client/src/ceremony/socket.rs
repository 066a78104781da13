use futures_util::{SinkExt, StreamExt};
use tandem_proto::ceremony::{ClientMessage, ServerMessage};
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

/// One ceremony socket.
pub struct Socket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What arrived from the server.
pub(crate) enum Received {
    Control(ServerMessage),
    Frame(Vec<u8>),
}

impl Socket {
    pub async fn connect(api: &ApiClient) -> Result<Socket, ClientError> {
        let token = api.token().ok_or(ClientError::NotLoggedIn)?;
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
        let (ws, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true)
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
        Ok(Socket { ws })
    }

    pub(crate) async fn send_control(&mut self, msg: &ClientMessage) -> Result<(), ClientError> {
        let text = serde_json::to_string(msg).map_err(|e| ClientError::Local(e.to_string()))?;
        self.ws
            .send(Message::Text(text.into()))
            .await
            .map_err(|e| ClientError::Socket(e.to_string()))
    }

    pub(crate) async fn send_frame(&mut self, frame: Vec<u8>) -> Result<(), ClientError> {
        self.ws
            .send(Message::Binary(frame.into()))
            .await
            .map_err(|e| ClientError::Socket(e.to_string()))
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
            match msg {
                Message::Binary(b) => return Ok(Received::Frame(b.to_vec())),
                Message::Text(t) => {
                    let parsed: ServerMessage = serde_json::from_str(t.as_str())
                        .map_err(|e| ClientError::Protocol(format!("bad control message: {e}")))?;
                    if let ServerMessage::Failed { error } = parsed {
                        return Err(ClientError::Api(error));
                    }
                    return Ok(Received::Control(parsed));
                }
                Message::Close(_) => {
                    return Err(ClientError::Socket(
                        "the server closed the connection".into(),
                    ));
                }
                _ => continue,
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

    pub(crate) async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
