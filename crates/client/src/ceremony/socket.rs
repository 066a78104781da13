use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tandem_mpc::Nonce;
use tandem_proto::ceremony::{ClientMessage, Operation, ServerMessage};
use tandem_proto::channel::{Initiator, Kind, Secure};

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::api::{ApiClient, Timeouts};
use crate::error::{ClientError, TimeoutStep};

/// The largest message either side sends (an ECDSA keygen frame is ~150 KB); a larger one
/// from the server is refused, both per WebSocket message and per reassembled channel message.
pub const MAX_MESSAGE: usize = 1 << 20;

/// One ceremony socket, with the end-to-end encrypted channel inside. It carries ceremonies
/// one after the other (the server keeps it open between them until it idles out).
pub struct Socket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    secure: Secure,
    /// Whether a ceremony already ran on this socket.
    used: bool,
    idle_since: Instant,
    timeouts: Timeouts,
    /// The single-use server nonce the server issued for the next ceremony on this socket
    /// (pipelined signing, docs/server.md).
    next_nonce: Option<Nonce>,
    /// Whether signatures ask for the next ceremony's nonce (off for servers that predate
    /// pipelined signing, which refuse the field).
    pipelining: bool,
}

/// What arrived from the server.
pub(crate) enum Received {
    Control(ServerMessage),
    Frame(Vec<u8>),
}

impl Socket {
    /// Connects, upgrades and runs the channel handshake, each step within its deadline
    /// ([`ApiClient::timeouts`]).
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
        let timeouts = api.timeouts();
        let tcp = deadline(
            TimeoutStep::Connect,
            timeouts.connect,
            connect_tcp(request.uri()),
        )
        .await??;
        let _ = tcp.set_nodelay(true);
        let connector = tokio_tungstenite::Connector::Rustls(api.tls());
        let (mut ws, _) = deadline(
            TimeoutStep::Upgrade,
            timeouts.upgrade,
            tokio_tungstenite::client_async_tls_with_config(
                request,
                tcp,
                Some(config),
                Some(connector),
            ),
        )
        .await?
        .map_err(|e| match e {
            tokio_tungstenite::tungstenite::Error::Http(resp) => {
                let api = resp
                    .body()
                    .as_ref()
                    .and_then(|b| serde_json::from_slice::<tandem_proto::ApiError>(b).ok());
                match api {
                    Some(api) => ClientError::Api(api),
                    None => ClientError::Socket(upgrade_refused(
                        resp.status(),
                        resp.body().as_deref().unwrap_or_default(),
                    )),
                }
            }
            other => socket_error(other),
        })?;
        let secure = deadline(
            TimeoutStep::Handshake,
            timeouts.handshake,
            handshake(&mut ws, &server_key, token),
        )
        .await??;
        Ok(Socket {
            ws,
            secure: secure.with_max_message(MAX_MESSAGE),
            used: false,
            idle_since: Instant::now(),
            timeouts,
            next_nonce: None,
            pipelining: true,
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

    /// A `start` for `operation`. Takes the nonce the server issued for this ceremony (every
    /// `start` consumes it on the server too) and, for a signature (`sign`), uses it: the
    /// first frame is then bound to it before `accepted` (pipelined signing, docs/server.md),
    /// and the start asks for the next one. Other ceremonies send the fields of older servers
    /// only.
    pub(crate) fn start(
        &mut self,
        operation: Operation,
        device_nonce: &Nonce,
        sign: bool,
    ) -> (ClientMessage, Option<Nonce>) {
        let pipeline = sign && self.pipelining;
        let issued = self.next_nonce.take().filter(|_| pipeline);
        let start = ClientMessage::Start {
            operation,
            device_nonce: hex::encode(device_nonce.0),
            server_nonce: issued.map(|n| hex::encode(n.0)),
            pipeline,
        };
        (start, issued)
    }

    /// Turns pipelined signing off on this socket (for a server that predates it).
    pub(crate) fn without_pipelining(mut self) -> Socket {
        self.pipelining = false;
        self
    }

    /// Whether this socket's signatures ask for pipelining.
    pub(crate) fn pipelining(&self) -> bool {
        self.pipelining
    }

    /// Keeps the nonce the server issued for the next ceremony.
    pub(crate) fn issued(&mut self, next: Option<&str>) -> Result<(), ClientError> {
        self.next_nonce = match next {
            Some(n) => Some(super::driver::parse_nonce(n)?),
            None => None,
        };
        Ok(())
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
        let messages = self.secure.seal(kind, data).map_err(channel)?;
        let ws = &mut self.ws;
        // Every record of a message is queued, then written out together.
        let write = async move {
            for message in messages {
                ws.feed(Message::Binary(message.into()))
                    .await
                    .map_err(socket_error)?;
            }
            ws.flush().await.map_err(socket_error)
        };
        deadline(TimeoutStep::Round, self.timeouts.round, write).await?
    }

    /// The server's next whole message, within the round deadline.
    pub(crate) async fn recv(&mut self) -> Result<Received, ClientError> {
        let round = self.timeouts.round;
        deadline(TimeoutStep::Round, round, self.recv_unbounded()).await?
    }

    async fn recv_unbounded(&mut self) -> Result<Received, ClientError> {
        loop {
            let msg = match self.ws.next().await {
                None => {
                    return Err(ClientError::Socket(
                        "the server closed the connection".into(),
                    ));
                }
                Some(Err(e)) => return Err(socket_error(e)),
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

    /// Closes the socket politely.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// Noise handshake: our first message, the server's answer (a `failed` text instead means
/// it refused us).
async fn handshake(
    ws: &mut WebSocketStream<MaybeTlsStream<TcpStream>>,
    server_key: &[u8; 32],
    token: &str,
) -> Result<Secure, ClientError> {
    let (initiator, msg1) = Initiator::start(server_key, token).map_err(channel)?;
    ws.send(Message::Binary(msg1.into()))
        .await
        .map_err(socket_error)?;
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
            Some(Err(e @ tokio_tungstenite::tungstenite::Error::Capacity(_))) => {
                return Err(socket_error(e));
            }
            _ => return Err(ClientError::Channel("the server closed the connection during the handshake (is it the server whose key you pinned?)".into())),
        }
    };
    initiator.finish(&msg2).map_err(channel)
}

/// Where the guide for running behind a reverse proxy is.
const PROXY_GUIDE: &str = "docs/operations.md, section \"Behind a load balancer\"";

/// The error for an upgrade answered with something other than a Tandem error: the status, the
/// start of the body (whoever sent it: often a proxy), and the likely cause.
fn upgrade_refused(
    status: tokio_tungstenite::tungstenite::http::StatusCode,
    body: &[u8],
) -> String {
    const SHOWN: usize = 200;
    let text = String::from_utf8_lossy(body);
    // Someone else's text on the user's terminal: no control characters, one line.
    let mut shown: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if shown.chars().count() > SHOWN {
        shown = shown.chars().take(SHOWN).collect::<String>() + "…";
    }
    let reply = if shown.is_empty() {
        String::new()
    } else {
        format!("; reply: {shown}")
    };
    let hint = match status.as_u16() {
        400 | 404 | 405 | 426 => format!(
            "the WebSocket upgrade was refused, probably by a reverse proxy or load balancer \
             that does not forward the `Upgrade` and `Connection` headers; see {PROXY_GUIDE}"
        ),
        502..=504 => {
            format!("a proxy in front could not reach the server, or timed out; see {PROXY_GUIDE}")
        }
        _ => format!("not a Tandem answer: is something in front of the server? See {PROXY_GUIDE}"),
    };
    format!("HTTP {status} to the upgrade{reply}. Likely cause: {hint}")
}

/// The TCP connection to the ceremony URL's host (TLS and the upgrade follow on it).
async fn connect_tcp(
    uri: &tokio_tungstenite::tungstenite::http::Uri,
) -> Result<TcpStream, ClientError> {
    let host = uri
        .host()
        .ok_or_else(|| ClientError::Local("the server URL has no host".into()))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("wss") => 443,
        _ => 80,
    });
    TcpStream::connect((host, port))
        .await
        .map_err(|e| ClientError::Socket(format!("cannot connect: {e}")))
}

/// Runs `work`, or fails with the step's timeout once `after` has passed.
async fn deadline<T>(
    step: TimeoutStep,
    after: Duration,
    work: impl std::future::Future<Output = T>,
) -> Result<T, ClientError> {
    tokio::time::timeout(after, work)
        .await
        .map_err(|_| ClientError::Timeout { step, after })
}

fn socket_error(e: tokio_tungstenite::tungstenite::Error) -> ClientError {
    match e {
        tokio_tungstenite::tungstenite::Error::Capacity(_) => ClientError::TooLarge {
            what: "a ceremony message",
            limit: MAX_MESSAGE,
        },
        other => ClientError::Socket(other.to_string()),
    }
}

fn channel(e: tandem_proto::channel::ChannelError) -> ClientError {
    match e {
        tandem_proto::channel::ChannelError::TooLarge => ClientError::TooLarge {
            what: "a ceremony message",
            limit: MAX_MESSAGE,
        },
        other => ClientError::Channel(other.to_string()),
    }
}
