//! Moving a whole key in or out of the 2-of-2: export (device combines both shares) and
//! import (device deals a pair, which must then go through a complete refresh).

use core::fmt;

use zeroize::Zeroizing;

use crate::context::SessionContext;
use crate::error::{Error, Result};
use crate::protocol::RefreshMode;
use crate::role::Role;
use crate::scheme::Scheme;
use crate::share::{KeyShare, ShareKind};

/// A whole private key, only ever on the user's device after an explicit export.
///
/// secp256k1: the 32-byte big-endian scalar, importable by any EVM wallet.
/// Ed25519: the 32-byte little-endian *scalar* (see [`SecretKey::ed25519_expanded`]); a
/// DKG-born Ed25519 key never had an RFC 8032 seed, so there is none to export.
pub struct SecretKey<S: Scheme> {
    pub(crate) bytes: Zeroizing<[u8; 32]>,
    pub(crate) public_key: Vec<u8>,
    pub(crate) _scheme: core::marker::PhantomData<S>,
}

impl<S: Scheme> SecretKey<S> {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// The public key this secret key belongs to (checked at export).
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }
}

impl<S: Scheme> fmt::Debug for SecretKey<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The server's share, released to the device for an export (over the encrypted channel).
pub struct ExportedShare<S: Scheme>(pub(crate) KeyShare<S>);

impl<S: Scheme> ExportedShare<S> {
    /// Server side: wraps its share for the device. The caller has already checked step-up
    /// authentication; after this the key must be treated as single-party.
    pub fn from_server_share(share: KeyShare<S>) -> Result<Self> {
        if share.role != Role::Server {
            return Err(Error::InvalidInput("only the server's share is exported"));
        }
        Ok(ExportedShare(share))
    }

    pub fn to_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        self.0.encode_kind(ShareKind::Export)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        KeyShare::decode_kind(bytes, ShareKind::Export).map(ExportedShare)
    }
}

impl<S: Scheme> fmt::Debug for ExportedShare<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExportedShare([redacted])")
    }
}

/// Device-side export: the whole private key from both shares of one epoch.
pub fn export<S: Scheme>(device: &KeyShare<S>, server: ExportedShare<S>) -> Result<SecretKey<S>> {
    if device.role != Role::Device || server.0.role != Role::Server {
        return Err(Error::InvalidInput(
            "export needs the device and the server share",
        ));
    }
    if device.wallet != server.0.wallet || device.epoch != server.0.epoch {
        return Err(Error::InvalidInput(
            "shares belong to different wallets or epochs",
        ));
    }
    if device.public_key != server.0.public_key {
        return Err(Error::InvalidInput("shares have different public keys"));
    }
    S::combine(device, server)
}

/// A share dealt by an import. It cannot sign: the only thing it can do is start the
/// complete refresh that makes the dealer's knowledge of the server's share worthless.
pub struct ImportedShare<S: Scheme>(pub(crate) KeyShare<S>);

/// Both halves of an import, as dealt on the device.
pub struct ImportedPair<S: Scheme> {
    pub device: ImportedShare<S>,
    /// To be sent to the server over the encrypted channel, then dropped on the device.
    pub server: ImportedShare<S>,
}

impl<S: Scheme> ImportedShare<S> {
    pub fn role(&self) -> Role {
        self.0.role
    }

    pub fn public_key(&self) -> &[u8] {
        &self.0.public_key
    }

    pub fn epoch(&self) -> u64 {
        self.0.epoch
    }

    pub fn to_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        self.0.encode_kind(ShareKind::Imported)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        KeyShare::decode_kind(bytes, ShareKind::Imported).map(ImportedShare)
    }

    /// Starts the complete refresh that turns the dealt pair into a normal one.
    pub fn refresh_complete(&self, ctx: SessionContext) -> Result<(S::Refresh, Vec<u8>)> {
        S::refresh(&self.0, ctx, RefreshMode::Complete)
    }
}

impl<S: Scheme> fmt::Debug for ImportedShare<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ImportedShare([redacted])")
    }
}
