//! Exit and recovery material (DESIGN.md §6), sans-IO.
//!
//! - [`RecoverySecret`]: 256 bits made on the device, written down by the user as 14 groups of
//!   four Crockford base32 characters with a checksum (no words, so it cannot be taken for a
//!   wallet's seed phrase). It derives [`RecoveryKeys`]: an X25519 key the server seals to and a
//!   verifier whose hash the server keeps. The server never sees the secret.
//! - [`BackupKit`]: the server's share of one wallet at one epoch, sealed with HPKE (RFC 9180,
//!   X25519 / HKDF-SHA256 / ChaCha20-Poly1305) to the recovery key, in a versioned text file
//!   that says what it is. With the device's share of the same epoch and the secret it signs
//!   with no server at all.
//! - [`Escrow`]: this device's share sealed the same way, kept by the server for recovery
//!   after losing every device (the server cannot open it).
//! - [`transfer`]: a share sealed to a key one device made for one purpose (online export),
//!   so that what crosses the server and its proxies is unreadable to them.

mod error;
mod escrow;
mod kit;
mod seal;
mod secret;
pub mod transfer;

pub use error::{KitError, SecretError, TransferError};
pub use escrow::Escrow;
pub use kit::{BackupKit, KIT_FORMAT_VERSION, KitLabels};
pub use secret::{RecoveryKeys, RecoverySecret, key_id};
