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
    #[error("{0}")]
    Local(String),
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
