//! The one API both signature schemes implement. Higher layers (server, SDK) and the generic
//! test suite are written against [`Scheme`], never against `dkls23` or `frost` directly.

use core::fmt::Debug;

use crate::ceremony::Ceremony;
use crate::context::{SessionContext, WalletId};
use crate::error::Result;
use crate::keys::{ExportedShare, ImportedPair, SecretKey};
use crate::protocol::RefreshMode;
use crate::role::Role;
use crate::share::KeyShare;

/// Stable numeric id of a scheme; part of the share format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SchemeId {
    /// ECDSA over secp256k1 (EVM, Bitcoin, Cosmos), DKLs23.
    Secp256k1 = 1,
    /// Ed25519 (Solana), FROST (RFC 9591).
    Ed25519 = 2,
}

impl SchemeId {
    pub fn from_u8(v: u8) -> Option<SchemeId> {
        match v {
            1 => Some(SchemeId::Secp256k1),
            2 => Some(SchemeId::Ed25519),
            _ => None,
        }
    }
}

/// A two-party threshold signature scheme.
pub trait Scheme: Sized + 'static {
    const ID: SchemeId;

    /// The library's secret share state. Never leaves this crate except through the codec.
    type Secret: ShareSecret;
    /// What `sign` takes: a 32-byte prehash for ECDSA, the message bytes for Ed25519
    /// (Ed25519 hashes the message itself, so there is no digest to hand over).
    type Message: ?Sized;
    type Signature: Clone + Debug + PartialEq + Eq;
    type Keygen: Ceremony<Output = KeyShare<Self>>;
    type Sign: Ceremony<Output = Self::Signature>;
    type Refresh: Ceremony<Output = KeyShare<Self>>;

    /// Starts distributed key generation. Returns the ceremony and the first frame to send.
    fn keygen(role: Role, ctx: SessionContext) -> Result<(Self::Keygen, Vec<u8>)>;

    /// Starts a joint signature over `message` with this party's share.
    fn sign(
        share: &KeyShare<Self>,
        ctx: SessionContext,
        message: &Self::Message,
    ) -> Result<(Self::Sign, Vec<u8>)>;

    /// Starts a refresh; the output share has `epoch + 1` and the same public key.
    fn refresh(
        share: &KeyShare<Self>,
        ctx: SessionContext,
        mode: RefreshMode,
    ) -> Result<(Self::Refresh, Vec<u8>)>;

    /// The verification every released signature passes (strict: low-s for ECDSA,
    /// `verify_strict` for Ed25519).
    fn verify(
        public_key: &[u8],
        message: &Self::Message,
        signature: &Self::Signature,
    ) -> Result<()>;

    /// Device side of export: combines both shares into the private key.
    fn combine(device: &KeyShare<Self>, server: ExportedShare<Self>) -> Result<SecretKey<Self>>;

    /// Device side of import: deals a device/server pair for an existing private key
    /// (secp256k1: 32-byte big-endian scalar; Ed25519: 32-byte RFC 8032 seed).
    fn import(secret_key: &[u8], wallet: WalletId) -> Result<ImportedPair<Self>>;
}

/// What the generic share code needs from a scheme's secret state.
pub trait ShareSecret: Sized {
    /// The group public key: 33-byte compressed SEC1 (secp256k1) or 32 bytes (Ed25519).
    fn public_key(&self) -> Vec<u8>;
    /// Which party this secret belongs to, as the library recorded it.
    fn role(&self) -> Option<Role>;
    /// The share format version [`encode`](Self::encode) writes: the oldest one whose encoding
    /// of this scheme's secret is current, so that an older release still opens what a newer
    /// one wrote whenever the encoding did not change.
    const FORMAT: u8;
    /// The encoding of share format [`FORMAT`](Self::FORMAT).
    fn encode(&self) -> Result<Vec<u8>>;
    /// Decodes what `encode` wrote under share format `format`.
    fn decode(bytes: &[u8], format: u8) -> Result<Self>;
    /// Test-only: this party's secret key-share scalar (big-endian for secp256k1, as the
    /// library serialises it for Ed25519), for canary searches.
    #[cfg(feature = "testing")]
    fn hazmat_secret_scalar(&self) -> zeroize::Zeroizing<Vec<u8>>;
}
