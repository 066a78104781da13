//! The server share as stored: sealed by the vault, never plaintext at rest.

use zeroize::Zeroizing;

use crate::vault::{SealedShare, Vault, VaultError};

use super::repo::WalletError;

/// The role label bound into the vault's AAD.
pub(crate) const SERVER_ROLE: &str = "server";

pub(crate) fn seal(
    vault: &Vault,
    kek_id: &str,
    wallet_id: &str,
    epoch: u64,
    share: &[u8],
) -> Result<SealedShare, WalletError> {
    vault
        .seal_with(kek_id, wallet_id, epoch, SERVER_ROLE, share)
        .map_err(vault_error)
}

pub(crate) fn open(
    vault: &Vault,
    wallet_id: &str,
    epoch: u64,
    sealed: &SealedShare,
) -> Result<Zeroizing<Vec<u8>>, WalletError> {
    vault
        .open(wallet_id, epoch, SERVER_ROLE, sealed)
        .map_err(vault_error)
}

pub(crate) fn vault_error(e: VaultError) -> WalletError {
    match e {
        VaultError::Unavailable(msg) => WalletError::VaultUnavailable(msg),
        other => WalletError::Vault(other.to_string()),
    }
}
