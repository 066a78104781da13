//! Errors of the vault. None carries key material or plaintext.

use std::path::PathBuf;

/// A vault failure.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The sealed value does not open here: wrong wallet, epoch or role, tampered bytes, or a
    /// different KEK. Deliberately without detail.
    #[error("sealed value failed authentication")]
    Authentication,
    /// The operating system's random number generator failed.
    #[error("operating system randomness unavailable")]
    Random,
    /// The key file grants permissions to group or others.
    #[error("key file `{}` has mode {mode:o}; it must not be accessible to group or others (chmod 600)", path.display())]
    KeyFilePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file is not a regular file of exactly 32 bytes.
    #[error("key file `{}` is not a regular file of exactly 32 bytes", path.display())]
    KeyFileInvalid {
        /// The key file.
        path: PathBuf,
    },
    /// Reading or creating the key file failed.
    #[error("key file `{}`: {source}", path.display())]
    KeyFileIo {
        /// The key file (or its directory).
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A share names a KEK this server has no way to load (no such key file or token key, or
    /// no configuration for its provider). The identifier is not secret.
    #[error(
        "no key for KEK `{0}` is available to this server (check [vault]: the key file or the PKCS#11 token must hold it)"
    )]
    UnknownKek(String),
    /// A KEK provider failed for another reason (e.g. the HSM is unavailable).
    #[error("key provider failure: {0}")]
    Provider(String),
}
