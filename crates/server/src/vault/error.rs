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
    /// The key store cannot be reached or logged into right now (an HSM down, unplugged, its
    /// sessions lost and not reopenable, or every session busy). Retryable; says nothing about
    /// the sealed value.
    #[error("key provider unavailable: {0}")]
    Unavailable(String),
    /// A KEK of a provider family this server is not configured for (e.g. a local key file
    /// while `vault.provider = "pkcs11"`): refused so that whoever can write the database
    /// cannot move seals to a weaker key.
    #[error(
        "KEK `{kek_id}` belongs to the `{family}` provider family, which this server does not use (vault.provider)"
    )]
    ForeignKek {
        /// The refused KEK.
        kek_id: String,
        /// Its family.
        family: &'static str,
    },
    /// A KEK provider failed for another reason.
    #[error("key provider failure: {0}")]
    Provider(String),
}
