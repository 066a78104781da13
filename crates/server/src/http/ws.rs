//! The ceremony socket: a WebSocket authenticated by the session, with the end-to-end
//! encrypted channel (`tandem_proto::channel`) inside, adapted to the transport-agnostic
//! [`Channel`] the ceremonies run on.

use async_trait::async_trait;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::SinkExt;
use tandem_proto::ceremony::{ClientMessage, ServerMessage};
use tandem_proto::channel::{self as e2e, Kind, Secure};
use tandem_proto::{ApiError, ErrorCode};

use super::authn::{Authed, bearer};
use super::error::HttpError;
use crate::app::AppState;
use crate::ceremony::{Caller, Channel, ChannelError, Incoming};

/// Opens a ceremony socket (keygen, sign or refresh; see `tandem_proto::ceremony`). The first
/// two messages are the Noise handshake of `tandem_proto::channel`; everything after is
/// encrypted.
#[utoipa::path(get, path = "/v1/ceremony", tag = "ceremonies",
    responses((status = 101, description = "WebSocket upgrade; the encrypted channel and the ceremony protocol follow"), (status = 401, body = ApiError)),
    security(("bearer" = [])))]
pub async fn ceremony(
    State(state): State<AppState>,
    authed: Authed,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let max = state.limits.max_frame_bytes;
    let token = bearer(&headers).unwrap_or_default().to_owned();
    upgrade
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |mut socket| async move {
            let secure = match handshake(&mut socket, &state, &token).await {
                Ok(s) => s.with_max_message(max),
                Err(e) => {
                    tracing::info!(error = %e, "ceremony channel handshake failed");
                    let failed = ServerMessage::Failed {
                        error: ApiError::new(ErrorCode::ChannelError, e.to_string()),
                    };
                    if let Ok(text) = serde_json::to_string(&failed) {
                        let _ = socket.send(Message::Text(text.into())).await;
                    }
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
            };
            metrics::counter!("tandem_ceremony_sockets_total").increment(1);
            let mut channel = WsChannel { socket, secure };
            let caller = SocketSession {
                state: state.clone(),
                token,
                user_id: authed.session.user_id.clone(),
                created_at: authed.session.created_at,
            };
            state.ceremonies.serve(&mut channel, &caller).await;
            let _ = channel.socket.send(Message::Close(None)).await;
        })
}

async fn handshake(
    socket: &mut WebSocket,
    state: &AppState,
    token: &str,
) -> Result<Secure, e2e::ChannelError> {
    let timeout = std::time::Duration::from_secs(30);
    let msg1 = loop {
        match tokio::time::timeout(timeout, socket.recv()).await {
            Ok(Some(Ok(Message::Binary(b)))) => break b,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            _ => return Err(e2e::ChannelError::Handshake),
        }
    };
    let (secure, msg2) = e2e::respond(&state.channel_key, token, &msg1)?;
    socket
        .send(Message::Binary(msg2.into()))
        .await
        .map_err(|_| e2e::ChannelError::Handshake)?;
    Ok(secure)
}

/// The session the socket was opened with, checked again before each later ceremony.
struct SocketSession {
    state: AppState,
    token: String,
    user_id: String,
    created_at: i64,
}

#[async_trait]
impl Caller for SocketSession {
    fn user_id(&self) -> &str {
        &self.user_id
    }

    fn session_created_at(&self) -> i64 {
        self.created_at
    }

    async fn check(&self) -> Result<(), ApiError> {
        self.state
            .sessions
            .authenticate(&self.token)
            .await
            .map(|_| ())
            .map_err(|e| HttpError::from(e).0)
    }
}

struct WsChannel {
    socket: WebSocket,
    secure: Secure,
}

impl WsChannel {
    async fn send_sealed(&mut self, kind: Kind, data: &[u8]) -> Result<(), ChannelError> {
        let sealed = self.secure.seal(kind, data).map_err(channel_error)?;
        let transport = |e: axum::Error| ChannelError::Transport(e.to_string());
        // Every record of a message is queued, then written out together.
        for message in sealed {
            self.socket
                .feed(Message::Binary(message.into()))
                .await
                .map_err(transport)?;
        }
        self.socket.flush().await.map_err(transport)
    }
}

fn channel_error(e: e2e::ChannelError) -> ChannelError {
    match e {
        e2e::ChannelError::TooLarge => ChannelError::TooLarge,
        e2e::ChannelError::Malformed => ChannelError::Malformed,
        _ => ChannelError::Decrypt,
    }
}

#[async_trait]
impl Channel for WsChannel {
    async fn recv(&mut self) -> Result<Incoming, ChannelError> {
        loop {
            let msg = match self.socket.recv().await {
                None => return Err(ChannelError::Closed),
                Some(Err(e)) => {
                    let text = e.to_string();
                    if text.to_ascii_lowercase().contains("too long") || text.contains("size") {
                        return Err(ChannelError::TooLarge);
                    }
                    return Err(ChannelError::Transport(text));
                }
                Some(Ok(m)) => m,
            };
            let bytes = match msg {
                Message::Binary(b) => b,
                // Plaintext has no place on an established channel.
                Message::Text(_) => return Err(ChannelError::Malformed),
                Message::Close(_) => return Err(ChannelError::Closed),
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            match self.secure.open(&bytes).map_err(channel_error)? {
                None => continue,
                Some((Kind::Frame, frame)) => return Ok(Incoming::Frame(frame)),
                Some((Kind::Control, json)) => {
                    let parsed: ClientMessage =
                        serde_json::from_slice(&json).map_err(|_| ChannelError::Malformed)?;
                    return Ok(Incoming::Control(parsed));
                }
            }
        }
    }

    async fn send_control(&mut self, msg: &ServerMessage) -> Result<(), ChannelError> {
        let json = serde_json::to_vec(msg).map_err(|e| ChannelError::Transport(e.to_string()))?;
        self.send_sealed(Kind::Control, &json).await
    }

    async fn send_frame(&mut self, frame: Vec<u8>) -> Result<(), ChannelError> {
        self.send_sealed(Kind::Frame, &frame).await
    }
}
