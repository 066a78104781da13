//! The SDK's error type: what went wrong, whether retrying can help, and the server's
//! stable [`ErrorCode`] when the server refused.

use std::time::Duration;

use tandem_proto::{ApiError, ErrorCode};

/// Everything that can go wrong on the device side. No variant carries a secret.
///
/// Match on the variant for the kind of failure, or use the helpers: [`code`](Self::code)
/// (the server's stable code), [`is_retryable`](Self::is_retryable),
/// [`retry_after`](Self::retry_after) and [`needs_login`](Self::needs_login). New variants
/// may be added, so a `match` needs a wildcard arm.
///
/// Errors returned through alloy's or Solana's signer traits wrap this type: get it back
/// with [`ClientError::from_alloy`] (or [`ClientError::downcast_alloy_ref`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server refused the request; [`ApiError::code`] says why.
    #[error("{0}")]
    Api(ApiError),
    /// The HTTP request failed before an answer arrived (connection refused, TLS, reset).
    #[error("cannot reach the server: {0}")]
    Http(#[source] TransportError),
    /// The ceremony socket failed (connecting, or the connection broke).
    #[error("ceremony socket: {0}")]
    Socket(String),
    /// A reused ceremony socket turned out closed before the ceremony began (the server
    /// ends idle sockets); nothing happened on the server. `Device` retries on a new socket.
    #[error("the reused ceremony socket was closed before the ceremony began")]
    StaleSocket,
    /// The end-to-end encrypted channel failed: the handshake (not the pinned server) or
    /// a message that failed authentication.
    #[error("encrypted channel: {0}")]
    Channel(String),
    /// The server sent something the protocol does not allow.
    #[error("the server broke the ceremony protocol: {0}")]
    Protocol(String),
    /// The threshold ceremony failed without evidence of cheating.
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
    WalletMismatch {
        /// The wallet's id.
        wallet: String,
        /// What differs (`"public key"`, `"address"`, `"chain"`).
        what: &'static str,
    },
    /// The encrypted share store failed (wrong passphrase, corrupt file, I/O).
    #[error("share store: {0}")]
    Store(#[from] crate::store::StoreError),
    /// This device holds no share of the wallet.
    #[error("no share for wallet {0} on this device")]
    NoShare(String),
    /// No saved or given session: log in first.
    #[error("not logged in")]
    NotLoggedIn,
    /// A step of talking to the server did not finish within its deadline
    /// ([`Timeouts`](crate::api::Timeouts)); the server gives up on a stalled ceremony too.
    #[error("timed out after {}s waiting for {step}", .after.as_secs_f32())]
    Timeout {
        /// Which wait.
        step: TimeoutStep,
        /// The deadline that passed.
        after: Duration,
    },
    /// The server (or something in between) sent more than the device accepts.
    #[error("the server sent {what} larger than the {limit}-byte limit; refusing it")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The limit in bytes.
        limit: usize,
    },
    /// The server presented another channel key than the one pinned for its origin.
    #[error(
        "the server at {origin} presents the channel key {presented}, but this device pinned {pinned} for it; refusing to continue. \
         Someone may be intercepting the connection. Compare both with the key the server's operator publishes \
         (`tandem serve` prints it at start). Only if the operator confirms the change, remove the old pin \
         (`tandem session forget-server --server {origin}`, or delete the entry from {file}) and log in again"
    )]
    ServerKeyChanged {
        /// The server's origin (`scheme://host:port`).
        origin: String,
        /// Hex of the pinned key.
        pinned: String,
        /// Hex of the key the server presented.
        presented: String,
        /// The file holding the pins.
        file: String,
    },
    /// The caller asked for something this wallet or signer cannot do (wrong chain, an
    /// invalid argument); nothing was sent.
    #[error("{0}")]
    Invalid(String),
    /// A local failure (files, configuration).
    #[error("{0}")]
    Local(String),
}

/// A failed HTTP exchange (the underlying transport error is its
/// [`source`](std::error::Error::source)). URLs are left out of the message.
#[derive(Debug)]
pub struct TransportError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl TransportError {
    pub(crate) fn new(
        message: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        TransportError {
            message: message.into(),
            source,
        }
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Which wait timed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
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
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api(e) => Some(e.code),
            _ => None,
        }
    }

    /// The server's error body, if the server refused.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            ClientError::Api(e) => Some(e),
            _ => None,
        }
    }

    /// Whether sending the same request again, unchanged, may succeed (after
    /// [`retry_after`](Self::retry_after) when given): a refusal the server marks
    /// retryable (rate limits, an instance draining, the key store unreachable), a
    /// transport failure or a timeout. Creating a wallet again after a transport failure
    /// may create a second wallet; signing again is always safe.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Api(e) => e.retryable || e.code.is_retryable(),
            ClientError::Http(_)
            | ClientError::Socket(_)
            | ClientError::StaleSocket
            | ClientError::Timeout { .. } => true,
            _ => false,
        }
    }

    /// How long the server asked to wait before retrying, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::Api(e) => e.retry_after_ms.map(Duration::from_millis),
            _ => None,
        }
    }

    /// Whether the session is missing, expired or revoked: log in again (a
    /// [`Session`](crate::session::Session) refreshes before expiry, so this means the
    /// session ended).
    pub fn needs_login(&self) -> bool {
        matches!(self, ClientError::NotLoggedIn)
            || matches!(
                self.code(),
                Some(
                    ErrorCode::SessionExpired | ErrorCode::SessionRevoked | ErrorCode::Unauthorized
                )
            )
    }

    /// Whether the device caught the server cheating or refuses to use a share locked
    /// after that: the wallet needs a complete refresh, and the operator should know.
    pub fn is_cheating_detected(&self) -> bool {
        matches!(self, ClientError::Cheating(_) | ClientError::ShareLocked(_))
    }

    /// Recovers the Tandem error from an error returned through alloy's signer traits
    /// ([`TandemSigner`](crate::TandemSigner) puts it in `alloy_signer::Error::Other`).
    /// Errors alloy produced itself are given back unchanged.
    ///
    /// ```
    /// # use tandem_client::ClientError;
    /// fn explain(e: alloy_signer::Error) -> String {
    ///     match ClientError::from_alloy(e) {
    ///         Ok(tandem) if tandem.is_retryable() => format!("try again: {tandem}"),
    ///         Ok(tandem) => format!("Tandem refused: {tandem}"),
    ///         Err(alloy) => format!("alloy: {alloy}"),
    ///     }
    /// }
    /// # let _ = explain;
    /// ```
    #[cfg(feature = "evm")]
    pub fn from_alloy(e: alloy_signer::Error) -> Result<ClientError, alloy_signer::Error> {
        match e {
            alloy_signer::Error::Other(boxed) => match boxed.downcast::<ClientError>() {
                Ok(tandem) => Ok(*tandem),
                Err(other) => Err(alloy_signer::Error::Other(other)),
            },
            other => Err(other),
        }
    }

    /// Like [`from_alloy`](Self::from_alloy), by reference.
    #[cfg(feature = "evm")]
    pub fn downcast_alloy_ref(e: &alloy_signer::Error) -> Option<&ClientError> {
        match e {
            alloy_signer::Error::Other(boxed) => boxed.downcast_ref::<ClientError>(),
            _ => None,
        }
    }

    pub(crate) fn http(e: reqwest::Error) -> ClientError {
        let e = e.without_url();
        ClientError::Http(TransportError::new(e.to_string(), Some(Box::new(e))))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_classify_server_refusals() {
        let mut limited = ApiError::new(ErrorCode::RateLimited, "slow down");
        limited.retry_after_ms = Some(1500);
        let e = ClientError::from(limited);
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_millis(1500)));
        assert!(!e.needs_login());

        let expired = ClientError::from(ApiError::new(ErrorCode::SessionExpired, "expired"));
        assert!(expired.needs_login());
        assert!(!expired.is_retryable());

        // A code this version does not know still honours the server's `retryable` flag.
        let mut unknown = ApiError::new(ErrorCode::Unknown, "new");
        unknown.retryable = true;
        assert!(ClientError::from(unknown).is_retryable());
    }

    #[test]
    fn transport_errors_keep_their_source() {
        let io = std::io::Error::other("reset");
        let e = ClientError::Http(TransportError::new("connection reset", Some(Box::new(io))));
        let source = std::error::Error::source(&e).and_then(std::error::Error::source);
        assert_eq!(source.map(ToString::to_string).as_deref(), Some("reset"));
    }

    #[cfg(feature = "evm")]
    #[test]
    fn the_tandem_error_comes_back_out_of_alloys() {
        let wrapped = alloy_signer::Error::other(ClientError::NoShare("w1".into()));
        assert!(matches!(
            ClientError::downcast_alloy_ref(&wrapped),
            Some(ClientError::NoShare(_))
        ));
        assert!(matches!(
            ClientError::from_alloy(wrapped),
            Ok(ClientError::NoShare(id)) if id == "w1"
        ));
        let alloys = alloy_signer::Error::message("not ours");
        assert!(ClientError::from_alloy(alloys).is_err());
    }
}
