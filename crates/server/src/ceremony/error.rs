use tandem_proto::{ApiError, ErrorCode};

use super::channel::ChannelError;
use crate::wallets::WalletError;

#[derive(Debug, thiserror::Error)]
pub enum CeremonyError {
    /// A request the device should fix (bad payload, wrong chain, ...).
    #[error("{0}")]
    Rejected(ApiError),
    #[error("no message from the device within the round timeout")]
    Timeout,
    #[error("unexpected message: {0}")]
    Protocol(&'static str),
    #[error("the peer cheated; the wallet is frozen")]
    Cheating,
    #[error("ceremony aborted: {0}")]
    Aborted(String),
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error(transparent)]
    Wallet(#[from] WalletError),
}

impl CeremonyError {
    pub fn to_api(&self) -> ApiError {
        match self {
            CeremonyError::Rejected(e) => e.clone(),
            CeremonyError::Timeout => ApiError::new(ErrorCode::CeremonyTimeout, self.to_string()),
            CeremonyError::Protocol(_) => ApiError::new(ErrorCode::ProtocolError, self.to_string()),
            CeremonyError::Cheating => ApiError::new(ErrorCode::WalletFrozen, self.to_string()),
            CeremonyError::Aborted(_) => ApiError::new(ErrorCode::CeremonyFailed, self.to_string()),
            CeremonyError::Channel(ChannelError::TooLarge) => {
                ApiError::new(ErrorCode::PayloadTooLarge, self.to_string())
            }
            CeremonyError::Channel(ChannelError::InvalidControl(e)) => (**e).clone(),
            CeremonyError::Channel(ChannelError::Frozen) => wallet_error(&WalletError::Frozen),
            CeremonyError::Channel(ChannelError::Decrypt) => {
                ApiError::new(ErrorCode::ChannelError, self.to_string())
            }
            CeremonyError::Channel(_) => ApiError::new(ErrorCode::ProtocolError, self.to_string()),
            CeremonyError::Wallet(w) => wallet_error(w),
        }
    }

    /// Short label for metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            CeremonyError::Rejected(_) => "rejected",
            CeremonyError::Timeout => "timeout",
            CeremonyError::Protocol(_) | CeremonyError::Channel(_) => "protocol",
            CeremonyError::Cheating => "cheating",
            CeremonyError::Aborted(_) => "aborted",
            CeremonyError::Wallet(_) => "wallet",
        }
    }
}

pub fn wallet_error(w: &WalletError) -> ApiError {
    let code = match w {
        WalletError::NotFound => ErrorCode::WalletNotFound,
        WalletError::Frozen => ErrorCode::WalletFrozen,
        WalletError::EpochMismatch { .. } => ErrorCode::EpochMismatch,
        WalletError::Conflict => ErrorCode::Conflict,
        WalletError::VaultUnavailable(_) => {
            tracing::error!(error = %w, "key store unavailable");
            return ApiError::new(
                ErrorCode::VaultUnavailable,
                "the server's key store is unavailable; retry later",
            );
        }
        WalletError::MissingShare
        | WalletError::Vault(_)
        | WalletError::Db(_)
        | WalletError::Store(_) => {
            // Internal details stay in the log.
            tracing::error!(error = %w, "wallet storage failure");
            return ApiError::new(ErrorCode::Internal, "internal error");
        }
    };
    ApiError::new(code, w.to_string())
}
