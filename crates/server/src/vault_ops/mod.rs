//! Operating the vault: what `tandem serve` checks and sets up at start ([`prepare`]), and
//! what the `tandem vault` commands do ([`init`], [`rotate`], [`migrate`], [`retire`],
//! [`status`]).
//!
//! These combine three modules that stay independent of each other otherwise: the vault's
//! keys and registry, the stored shares (`wallets`), and the configuration.

mod data_key;
mod init;
mod retire;
mod rotate;
mod setup;
mod status;

pub use init::{InitReport, init};
pub use retire::{KeptKek, RetireReport, retire};
pub use rotate::{RotateReport, migrate, rotate};
pub use setup::{Purpose, VaultSession, keyring_from_config, prepare};
pub use status::{KekStatus, StatusReport, status};

use crate::store::StoreError;
use crate::vault::VaultError;
use crate::wallets::WalletError;

/// A vault operation failed. Messages name keys and settings, never a PIN or key.
#[derive(Debug, thiserror::Error)]
pub enum VaultOpsError {
    /// The deployment is not in a state this operation can run in; the message says what
    /// to do.
    #[error("{0}")]
    Setup(String),
    #[error("key provider: {0}")]
    Vault(#[from] VaultError),
    #[error("{0}")]
    Wallet(#[from] WalletError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database: {0}")]
    Store(#[from] StoreError),
}
