use tandem_proto::ApiError;

/// Everything that can go wrong on the device side. No variant carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server refused the request.
    #[error("{0}")]
    Api(ApiError),
    #[error("cannot reach the server: {0}")]
    Http(String),
    #[error("ceremony socket: {0}")]
    Socket(String),
    /// A reused ceremony socket turned out closed before the ceremony began (the server
    /// ends idle sockets); nothing happened on the server. `Device` retries on a new socket.
    #[error("the reused ceremony socket was closed before the ceremony began")]
    StaleSocket,
    #[error("encrypted channel: {0}")]
    Channel(String),
    #[error("the server broke the ceremony protocol: {0}")]
    Protocol(String),
    #[error("ceremony failed: {0}")]
    Mpc(String),
    /// The device caught the server cheating; the share is now locked (DESIGN.md §3).
    #[error(
        "the server cheated in the ceremony ({0}); this wallet's share is locked until a complete refresh"
    )]
    Cheating(String),
    /// The share was locked after detected cheating: only a complete refresh may run.
    #[error("wallet {0} is locked on this device after the server cheated: run a complete refresh")]
    ShareLocked(String),
    /// The server reports, for this wallet, something other than what the device derives
    /// from the key of its own share (or, holding no share, an address that is not that of
    /// the reported key). The wallet is not shown or used.
    #[error(
        "wallet {wallet}: the server reports {what} that does not match this device's key; refusing to use it"
    )]
    WalletMismatch { wallet: String, what: &'static str },
    #[error("share store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("no share for wallet {0} on this device")]
    NoShare(String),
    #[error("not logged in")]
    NotLoggedIn,
    /// A step of talking to the server did not finish within its deadline
    /// ([`Timeouts`](crate::api::Timeouts)); the server gives up on a stalled ceremony too.
    #[error("timed out after {}s waiting for {step}", .after.as_secs_f32())]
    Timeout {
        step: TimeoutStep,
        after: std::time::Duration,
    },
    /// The server (or something in between) sent more than the device accepts.
    #[error("the server sent {what} larger than the {limit}-byte limit; refusing it")]
    TooLarge { what: &'static str, limit: usize },
    /// The server presented another channel key than the one pinned for its origin.
    #[error(
        "the server at {origin} presents the channel key {presented}, but this device pinned {pinned} for it; refusing to continue. \
         Someone may be intercepting the connection. Compare both with the key the server's operator publishes \
         (`tandem serve` prints it at start). Only if the operator confirms the change, remove the old pin \
         (`tandem session forget-server --server {origin}`, or delete the entry from {file}) and log in again"
    )]
    ServerKeyChanged {
        origin: String,
        pinned: String,
        presented: String,
        file: String,
    },
    #[error("{0}")]
    Local(String),
}

/// Which wait timed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutStep {
    /// The TCP connection to the server.
    Connect,
    /// An HTTP request (sending it and reading the whole answer).
    Http,
    /// The WebSocket upgrade of the ceremony socket (including TLS).
    Upgrade,
    /// The encrypted channel's handshake.
    Handshake,
    /// The server's next message in a ceremony (or sending ours).
    Round,
}

impl std::fmt::Display for TimeoutStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutStep::Connect => "the connection to the server",
            TimeoutStep::Http => "the server's HTTP answer",
            TimeoutStep::Upgrade => "the ceremony socket upgrade",
            TimeoutStep::Handshake => "the encrypted channel handshake",
            TimeoutStep::Round => "the server in a ceremony round",
        })
    }
}

impl ClientError {
    /// The server's error code, if the server refused.
    pub fn code(&self) -> Option<tandem_proto::ErrorCode> {
        match self {
            ClientError::Api(e) => Some(e.code),
            _ => None,
        }
    }
}

impl From<ApiError> for ClientError {
    fn from(e: ApiError) -> Self {
        ClientError::Api(e)
    }
}

impl From<tandem_mpc::Error> for ClientError {
    fn from(e: tandem_mpc::Error) -> Self {
        if e.class() == tandem_mpc::ErrorClass::Cheating {
            ClientError::Cheating(e.to_string())
        } else {
            ClientError::Mpc(e.to_string())
        }
    }
}
