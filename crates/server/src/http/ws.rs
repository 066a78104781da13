//! The ceremony socket: a WebSocket authenticated by the session, adapted to the
//! transport-agnostic [`Channel`] the ceremonies run on.

use async_trait::async_trait;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use tandem_proto::ApiError;
use tandem_proto::ceremony::{ClientMessage, ServerMessage};

use super::authn::Authed;
use crate::app::AppState;
use crate::ceremony::{Channel, ChannelError, Incoming};

/// Opens a ceremony socket (keygen, sign or refresh; see `tandem_proto::ceremony`).
#[utoipa::path(get, path = "/v1/ceremony", tag = "ceremonies",
    responses((status = 101, description = "WebSocket upgrade; the ceremony protocol follows"), (status = 401, body = ApiError)),
    security(("bearer" = [])))]
pub async fn ceremony(
    State(state): State<AppState>,
    authed: Authed,
    upgrade: WebSocketUpgrade,
) -> Response {
    let max = state.limits.max_frame_bytes;
    upgrade
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| async move {
            let mut channel = WsChannel { socket, max };
            state
                .ceremonies
                .serve(&authed.session.user_id, &mut channel)
                .await;
            let _ = channel.socket.send(Message::Close(None)).await;
        })
}

struct WsChannel {
    socket: WebSocket,
    max: usize,
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
            match msg {
                Message::Binary(b) => {
                    if b.len() > self.max {
                        return Err(ChannelError::TooLarge);
                    }
                    return Ok(Incoming::Frame(b.to_vec()));
                }
                Message::Text(t) => {
                    let parsed: ClientMessage =
                        serde_json::from_str(t.as_str()).map_err(|_| ChannelError::Malformed)?;
                    return Ok(Incoming::Control(parsed));
                }
                Message::Close(_) => return Err(ChannelError::Closed),
                Message::Ping(_) | Message::Pong(_) => continue,
            }
        }
    }

    async fn send_control(&mut self, msg: &ServerMessage) -> Result<(), ChannelError> {
        let text =
            serde_json::to_string(msg).map_err(|e| ChannelError::Transport(e.to_string()))?;
        self.socket
            .send(Message::Text(text.into()))
            .await
            .map_err(|e| ChannelError::Transport(e.to_string()))
    }

    async fn send_frame(&mut self, frame: Vec<u8>) -> Result<(), ChannelError> {
        self.socket
            .send(Message::Binary(frame.into()))
            .await
            .map_err(|e| ChannelError::Transport(e.to_string()))
    }
}
