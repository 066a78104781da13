//! The ceremony socket: a WebSocket authenticated by the session, with the end-to-end
//! encrypted channel (`tandem_proto::channel`) inside, adapted to the transport-agnostic
//! [`Channel`] the ceremonies run on.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::SinkExt;
use tandem_proto::ceremony::{ClientMessage, ServerMessage};
use tandem_proto::channel::{self as e2e, Kind, Secure};
use tandem_proto::{ApiError, ErrorCode};
use zeroize::Zeroizing;

use super::authn::{Authed, bearer};
use super::error::HttpError;
use crate::app::AppState;
use crate::ceremony::{Caller, Channel, ChannelError, Incoming};
use crate::sessions::SocketLease;

/// Opens a ceremony socket (keygen, sign or refresh; see `tandem_proto::ceremony`). The first
/// two messages are the Noise handshake of `tandem_proto::channel`; everything after is
/// encrypted.
#[utoipa::path(get, path = "/v1/ceremony", tag = "ceremonies",
    responses((status = 101, description = "WebSocket upgrade; the encrypted channel and the ceremony protocol follow"), (status = 401, body = ApiError), (status = 429, body = ApiError, description = "too many open ceremony sockets for this session or user")),
    security(("bearer" = [])))]
pub async fn ceremony(
    State(state): State<AppState>,
    authed: Authed,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, HttpError> {
    // Most often a proxy in front that dropped the `Upgrade`/`Connection` headers: say so,
    // in JSON, instead of axum's bare text.
    let upgrade = upgrade.map_err(|e| {
        HttpError::new(
            ErrorCode::InvalidRequest,
            format!(
                "not a WebSocket upgrade ({e}); a reverse proxy in front must pass the \
                 `Upgrade` and `Connection` headers on /v1/ceremony (see docs/operations.md)"
            ),
        )
    })?;
    let max = state.limits.max_frame_bytes;
    let token = bearer(&headers).unwrap_or_default().to_owned();
    let session = authed.session;
    // Taken before the upgrade, so a session cannot pile up sockets that never start.
    let lease = state
        .sessions
        .sockets()
        .open(&session.id, &session.user_id)
        .map_err(|e| HttpError::new(ErrorCode::TooManyCeremonies, e.to_string()))?;
    Ok(upgrade
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |mut socket| async move {
            // Counted until the socket closes: shutdown waits for it (bounded).
            let _open = state.lifecycle.socket();
            let deadline = state.ceremonies.round_timeout();
            let handshake = tokio::select! {
                r = tokio::time::timeout(deadline, handshake(&mut socket, &state, &token)) => {
                    r.unwrap_or(Err(e2e::ChannelError::Handshake))
                }
                () = lease.ended() => Err(e2e::ChannelError::Handshake),
            };
            let secure = match handshake {
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
                user_id: session.user_id.clone(),
                created_at: session.created_at,
                ends_at: AtomicI64::new(session.expires_at.min(session.absolute_expires_at)),
                lease,
            };
            state.ceremonies.serve(&mut channel, &caller).await;
            let _ = channel.socket.send(Message::Close(None)).await;
        }))
}

/// The Noise handshake. The caller bounds it with one overall deadline: pings and pongs
/// are skipped here but never extend it.
async fn handshake(
    socket: &mut WebSocket,
    state: &AppState,
    token: &str,
) -> Result<Secure, e2e::ChannelError> {
    let msg1 = loop {
        match socket.recv().await {
            Some(Ok(Message::Binary(b))) => break b,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
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

/// The session the socket was opened with, checked again before each ceremony.
struct SocketSession {
    state: AppState,
    token: String,
    user_id: String,
    created_at: i64,
    /// When the session ends unless refreshed (Unix ms), as last read from the database.
    ends_at: AtomicI64,
    lease: SocketLease,
}

impl SocketSession {
    async fn recheck(&self) -> Result<(), ApiError> {
        if self.state.lifecycle.is_draining() {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                "this instance is shutting down; retry (another instance will answer)",
            ));
        }
        let record = self
            .state
            .sessions
            .authenticate(&self.token)
            .await
            .map_err(|e| HttpError::from(e).0)?;
        self.ends_at.store(
            record.expires_at.min(record.absolute_expires_at),
            Ordering::Relaxed,
        );
        Ok(())
    }
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
        self.recheck().await
    }

    async fn ended(&self) {
        loop {
            let left = self.ends_at.load(Ordering::Relaxed) - self.state.clock.now_ms();
            let nap = Duration::from_millis(u64::try_from(left).unwrap_or(0));
            tokio::select! {
                () = self.lease.ended() => return,
                // A socket idle between ceremonies is closed at once when draining starts.
                () = self.state.lifecycle.draining() => return,
                () = tokio::time::sleep(nap) => {}
            }
            // Expiry is due: it ends the socket unless the session was refreshed meanwhile.
            if self.recheck().await.is_err() {
                return;
            }
            if self.ends_at.load(Ordering::Relaxed) <= self.state.clock.now_ms() {
                return;
            }
        }
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
                Some((Kind::Frame, frame)) => return Ok(Incoming::Frame(Zeroizing::new(frame))),
                Some((Kind::Control, json)) => {
                    let json = Zeroizing::new(json);
                    // As strict as an HTTP body, and the device is told what is wrong.
                    let parsed: ClientMessage = super::json::parse(&json)
                        .map_err(|e| ChannelError::InvalidControl(Box::new(e.0)))?;
                    return Ok(Incoming::Control(parsed));
                }
            }
        }
    }

    async fn send_control(&mut self, msg: &ServerMessage) -> Result<(), ChannelError> {
        let json = serde_json::to_vec(msg).map_err(|e| ChannelError::Transport(e.to_string()))?;
        self.send_sealed(Kind::Control, &Zeroizing::new(json)).await
    }

    async fn send_frame(&mut self, frame: Vec<u8>) -> Result<(), ChannelError> {
        // Wiped once sealed: only the ciphertext leaves this function.
        let frame = Zeroizing::new(frame);
        self.send_sealed(Kind::Frame, &frame).await
    }
}
