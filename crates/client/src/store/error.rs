//! The store's error type. No variant ever carries secret material: messages name files,
//! wallets and epochs, never shares, keys or passphrases.

use thiserror::Error;

/// Why a share store operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The passphrase does not unlock this store.
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// A store file failed to parse or authenticate. The message names the file, never its content.
    #[error("share store is corrupt: {0}")]
    Corrupt(String),
    /// No such share, staged share or wallet.
    #[error("not found")]
    NotFound,
    /// A different share already occupies that wallet and epoch; shares are never silently replaced.
    #[error("a different share is already stored for this wallet and epoch")]
    AlreadyExists,
    /// The operation would stage or promote an epoch older than the wallet's current one.
    #[error("epoch {epoch} is older than the current epoch {current}")]
    StaleEpoch {
        /// The epoch asked for.
        epoch: u64,
        /// The wallet's highest current epoch.
        current: u64,
    },
    /// The wallet id is not 1–64 characters of `[A-Za-z0-9_-]`.
    #[error("invalid wallet id: expected 1-64 characters of [A-Za-z0-9_-]")]
    InvalidWalletId,
    /// A new passphrase fails the passphrase rule; the reason names the rule, never the
    /// passphrase.
    #[error("passphrase refused: {0}")]
    WeakPassphrase(&'static str),
    /// `keystore.json` records Argon2 parameters below the floor (a tampered or foreign
    /// file): the store is refused rather than unlocked cheaply.
    #[error(
        "keystore.json asks for Argon2 parameters (m_kib={m_kib}, t={t}) below the accepted floor (m_kib={floor_m_kib}, t={floor_t}); refusing the store"
    )]
    KdfBelowFloor {
        /// The file's memory cost (KiB).
        m_kib: u32,
        /// The file's passes.
        t: u32,
        /// The accepted minimum memory cost (KiB).
        floor_m_kib: u32,
        /// The accepted minimum passes.
        floor_t: u32,
    },
    /// Argon2 parameters rejected at creation (out of range or refused by Argon2).
    #[error("invalid KDF parameters: {0}")]
    InvalidKdfParams(String),
    /// The share exceeds [`MAX_SHARE_LEN`](super::MAX_SHARE_LEN).
    #[error("share is too large: {len} bytes, at most {max} allowed")]
    ShareTooLarge {
        /// Size of the refused share.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The store was re-keyed through another handle (or process) after this one was opened;
    /// writing with the old key would produce shares nobody can read, so the handle refuses.
    #[error("the store's passphrase was changed elsewhere; reopen it")]
    KeyChanged,
    /// The OS random number generator failed; nothing was written.
    #[error("the OS random number generator is unavailable")]
    Rng,
    /// A file system operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
