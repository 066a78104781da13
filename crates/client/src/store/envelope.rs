//! The share file format: `"TDSS" ‖ version ‖ nonce ‖ ciphertext ‖ tag`.
//!
//! The AAD binds the wallet id and epoch, so a file copied or renamed to another wallet or
//! epoch fails to open. The state is left out on purpose: promotion is a rename.

use zeroize::Zeroizing;

use super::aead::{NONCE_LEN, StoreKey, TAG_LEN};
use super::error::StoreError;
use super::wallet_id::WalletName;

const MAGIC: &[u8; 4] = b"TDSS";
const VERSION: u8 = 1;
const HEADER_LEN: usize = MAGIC.len() + 1;

/// Size of a sealed file beyond the share itself.
pub(crate) const OVERHEAD: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;

fn aad(wallet: WalletName<'_>, epoch: u64) -> Vec<u8> {
    let id = wallet.as_str().as_bytes();
    let mut aad = Vec::with_capacity(HEADER_LEN + 1 + id.len() + 8);
    aad.extend_from_slice(MAGIC);
    aad.push(VERSION);
    aad.push(wallet.len_prefix());
    aad.extend_from_slice(id);
    aad.extend_from_slice(&epoch.to_be_bytes());
    aad
}

pub(crate) fn seal(
    key: &StoreKey,
    wallet: WalletName<'_>,
    epoch: u64,
    share: &[u8],
) -> Result<Vec<u8>, StoreError> {
    let sealed = key.seal(&aad(wallet, epoch), share)?;
    let mut file = Vec::with_capacity(HEADER_LEN + sealed.len());
    file.extend_from_slice(MAGIC);
    file.push(VERSION);
    file.extend_from_slice(&sealed);
    Ok(file)
}

pub(crate) fn open(
    key: &StoreKey,
    wallet: WalletName<'_>,
    epoch: u64,
    file: &[u8],
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let corrupt = |what: &str| {
        StoreError::Corrupt(format!(
            "share file of wallet {} epoch {epoch}: {what}",
            wallet.as_str()
        ))
    };
    if file.len() < OVERHEAD {
        return Err(corrupt("truncated"));
    }
    let (header, sealed) = file.split_at(HEADER_LEN);
    if &header[..MAGIC.len()] != MAGIC {
        return Err(corrupt("bad magic"));
    }
    if header[MAGIC.len()] != VERSION {
        return Err(corrupt("unsupported format version"));
    }
    // The store key was already verified against keystore.json, so a failure here means the
    // file was altered or moved, not that the passphrase is wrong.
    key.open(&aad(wallet, epoch), sealed)
        .ok_or_else(|| corrupt("authentication failed"))
}
