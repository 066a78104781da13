//! A party's key share and its one storage/transport codec.
//!
//! ```text
//! magic "TDMS" | format u8 | kind u8 | scheme u8 | role u8 | epoch u64 BE
//! | wallet id length u8 | wallet id | public key length u8 | public key
//! | secret length u32 BE | secret (the library's own encoding)
//! ```
//!
//! `format` is the scheme's `ShareSecret::FORMAT` (at most [`SHARE_FORMAT_VERSION`], the newest known); a decoder refuses versions it does not know, and
//! every version ever written stays decodable (golden fixtures under `tests/fixtures`).
//!
//! Versions: 1, the libraries' own encodings; 2, for Ed25519 the signing share and the public
//! package instead of FROST's key package, so that opening a share (on every signature, on
//! both sides) does not re-validate five curve points (see `ed25519::secret`). Each scheme
//! writes the oldest version whose encoding of its secret is current (secp256k1: 1, Ed25519:
//! 2), so an older release still opens every secp256k1 share; it cannot open an Ed25519 share
//! written in version 2.

use core::fmt;

use zeroize::Zeroizing;

use crate::context::{MAX_WALLET_ID_LEN, WalletId};
use crate::error::{Error, Result};
use crate::role::Role;
use crate::scheme::{Scheme, SchemeId, ShareSecret};

pub const SHARE_MAGIC: &[u8; 4] = b"TDMS";
pub const SHARE_FORMAT_VERSION: u8 = 2;
/// The oldest format still decoded.
const OLDEST_FORMAT_VERSION: u8 = 1;
/// Largest encoded secret accepted (a DKLs23 share is ~52 KB).
const MAX_SECRET_LEN: usize = 1 << 20;

/// What an encoded share may be used for. Each wrapper type accepts exactly one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum ShareKind {
    /// A normal share: signs and refreshes.
    Active = 0,
    /// Dealt by an import; may only start a complete refresh.
    Imported = 1,
    /// The server's share sent to the device for an export; may only be combined.
    Export = 2,
}

/// One party's share of a wallet key at one epoch.
///
/// Zeroized on drop, `Debug` prints no secret, no `Serialize`, no `==`: the only way out is
/// [`KeyShare::to_bytes`], whose output is itself zeroized on drop.
pub struct KeyShare<S: Scheme> {
    pub(crate) role: Role,
    pub(crate) wallet: WalletId,
    pub(crate) epoch: u64,
    pub(crate) public_key: Vec<u8>,
    pub(crate) secret: S::Secret,
}

impl<S: Scheme> KeyShare<S> {
    pub(crate) fn new(role: Role, wallet: WalletId, epoch: u64, secret: S::Secret) -> Self {
        KeyShare {
            role,
            wallet,
            epoch,
            public_key: secret.public_key(),
            secret,
        }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn wallet(&self) -> &WalletId {
        &self.wallet
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The wallet's group public key (compressed SEC1 for secp256k1, 32 bytes for Ed25519).
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    pub fn scheme(&self) -> SchemeId {
        S::ID
    }

    /// Encodes the share for encrypted storage.
    pub fn to_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        self.encode_kind(ShareKind::Active)
    }

    /// Decodes a share written by [`KeyShare::to_bytes`] (any supported format version).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::decode_kind(bytes, ShareKind::Active)
    }

    pub(crate) fn encode_kind(&self, kind: ShareKind) -> Result<Zeroizing<Vec<u8>>> {
        let secret = Zeroizing::new(self.secret.encode()?);
        let wallet = self.wallet.as_str().as_bytes();
        let mut out = Zeroizing::new(Vec::with_capacity(64 + wallet.len() + secret.len()));
        out.extend_from_slice(SHARE_MAGIC);
        out.extend_from_slice(&[
            S::Secret::FORMAT,
            kind as u8,
            S::ID as u8,
            self.role.index(),
        ]);
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.push(wallet.len() as u8);
        out.extend_from_slice(wallet);
        out.push(self.public_key.len() as u8);
        out.extend_from_slice(&self.public_key);
        let len = u32::try_from(secret.len()).map_err(|_| Error::aborted("share too large"))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&secret);
        Ok(out)
    }

    pub(crate) fn decode_kind(bytes: &[u8], want: ShareKind) -> Result<Self> {
        let mut r = bytes;
        let mut take = |n: usize| -> Result<&[u8]> {
            if r.len() < n {
                return Err(Error::Malformed("truncated share"));
            }
            let (head, tail) = r.split_at(n);
            r = tail;
            Ok(head)
        };
        if take(4)? != SHARE_MAGIC {
            return Err(Error::Malformed("not a Tandem share"));
        }
        let head = take(4)?;
        let (version, kind, scheme, role) = (head[0], head[1], head[2], head[3]);
        if !(OLDEST_FORMAT_VERSION..=SHARE_FORMAT_VERSION).contains(&version) {
            return Err(Error::UnsupportedVersion(version));
        }
        if kind != want as u8 {
            return Err(Error::InvalidInput("share is of another kind"));
        }
        if scheme != S::ID as u8 {
            return Err(Error::InvalidInput("share is for another scheme"));
        }
        let role = Role::from_index(role).ok_or(Error::Malformed("share role"))?;
        let mut epoch = [0u8; 8];
        epoch.copy_from_slice(take(8)?);
        let epoch = u64::from_be_bytes(epoch);
        let wallet_len = usize::from(take(1)?[0]);
        if wallet_len > MAX_WALLET_ID_LEN {
            return Err(Error::Malformed("wallet id length"));
        }
        let wallet = core::str::from_utf8(take(wallet_len)?)
            .map_err(|_| Error::Malformed("wallet id is not UTF-8"))?;
        let wallet = WalletId::new(wallet).map_err(|_| Error::Malformed("wallet id"))?;
        let pk_len = usize::from(take(1)?[0]);
        let public_key = take(pk_len)?.to_vec();
        let mut len = [0u8; 4];
        len.copy_from_slice(take(4)?);
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_SECRET_LEN {
            return Err(Error::Malformed("share secret too large"));
        }
        let secret = S::Secret::decode(take(len)?, version)?;
        if !r.is_empty() {
            return Err(Error::Malformed("trailing bytes after share"));
        }
        if secret.role() != Some(role) {
            return Err(Error::Malformed("share role does not match its secret"));
        }
        if secret.public_key() != public_key {
            return Err(Error::Malformed(
                "share public key does not match its secret",
            ));
        }
        Ok(KeyShare {
            role,
            wallet,
            epoch,
            public_key,
            secret,
        })
    }

    /// Test-only: pretend this share belongs to another epoch, to prove that mixing epochs
    /// fails cryptographically and not only at the envelope check.
    #[cfg(feature = "testing")]
    pub fn hazmat_set_epoch(&mut self, epoch: u64) {
        self.epoch = epoch;
    }

    /// Test-only: the secret scalar this share holds, so tests can search logs and storage
    /// for it (it must never appear anywhere in the clear).
    #[cfg(feature = "testing")]
    pub fn hazmat_secret_scalar(&self) -> zeroize::Zeroizing<Vec<u8>> {
        use crate::scheme::ShareSecret;
        self.secret.hazmat_secret_scalar()
    }
}

impl<S: Scheme> fmt::Debug for KeyShare<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyShare")
            .field("scheme", &S::ID)
            .field("role", &self.role)
            .field("wallet", &self.wallet.as_str())
            .field("epoch", &self.epoch)
            .field("secret", &"[redacted]")
            .finish()
    }
}
