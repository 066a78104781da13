//! Wallet ids become directory names, so they are restricted to a charset that can never
//! name a parent, a hidden file or a path separator.

use super::error::StoreError;

/// Longest wallet id the store accepts, in bytes.
pub const MAX_WALLET_ID_LEN: usize = 64;

/// Whether the store accepts `id`: 1–64 characters of `[A-Za-z0-9_-]`.
pub fn is_valid_wallet_id(id: &str) -> bool {
    (1..=MAX_WALLET_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A wallet id that passed [`is_valid_wallet_id`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WalletName<'a> {
    id: &'a str,
    // Kept alongside so the AAD length prefix needs no fallible cast later.
    len: u8,
}

impl<'a> WalletName<'a> {
    pub(crate) fn parse(id: &'a str) -> Result<Self, StoreError> {
        if !is_valid_wallet_id(id) {
            return Err(StoreError::InvalidWalletId);
        }
        let len = u8::try_from(id.len()).map_err(|_| StoreError::InvalidWalletId)?;
        Ok(WalletName { id, len })
    }

    pub(crate) fn as_str(&self) -> &'a str {
        self.id
    }

    pub(crate) fn len_prefix(&self) -> u8 {
        self.len
    }
}
