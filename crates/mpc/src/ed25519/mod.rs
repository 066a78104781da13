//! Ed25519 on `frost-ed25519` (FROST, RFC 9591, two rounds per signature).
//!
//! FROST keeps no OT state, so Ed25519 has a single refresh protocol (`refresh_dkg_*`) that
//! serves both [`RefreshMode`]s. Signing takes the message itself: Ed25519 hashes
//! `R || A || M` internally, so there is no prehash a caller could hand over.

mod abort;
mod keygen;
mod keys;
mod refresh;
mod secret;
mod sign;
#[cfg(feature = "testing")]
pub(crate) mod sign_messages {
    pub(crate) use super::sign::{Round1, Round2};
}
mod verify;

pub use secret::Ed25519Secret;
pub use sign::Ed25519Signature;
pub use verify::verify_strict;

use crate::ceremony::Run;
use crate::context::{SessionContext, WalletId};
use crate::error::Result;
use crate::keys::{ExportedShare, ImportedPair, SecretKey};
use crate::protocol::RefreshMode;
use crate::role::Role;
use crate::scheme::{Scheme, SchemeId};
use crate::share::KeyShare;

/// The Ed25519 scheme (Solana).
#[derive(Debug)]
pub enum Ed25519 {}

pub type Keygen = Run<keygen::KeygenRounds>;
pub type Sign = Run<sign::SignRounds>;
pub type Refresh = Run<refresh::RefreshRounds>;

impl Scheme for Ed25519 {
    const ID: SchemeId = SchemeId::Ed25519;
    type Secret = Ed25519Secret;
    type Message = [u8];
    type Signature = Ed25519Signature;
    type Keygen = Keygen;
    type Sign = Sign;
    type Refresh = Refresh;

    fn keygen(role: Role, ctx: SessionContext) -> Result<(Keygen, Vec<u8>)> {
        keygen::start(role, ctx)
    }

    fn sign(
        share: &KeyShare<Self>,
        ctx: SessionContext,
        message: &[u8],
    ) -> Result<(Sign, Vec<u8>)> {
        sign::start(share, ctx, message)
    }

    fn refresh(
        share: &KeyShare<Self>,
        ctx: SessionContext,
        _mode: RefreshMode,
    ) -> Result<(Refresh, Vec<u8>)> {
        refresh::start(share, ctx)
    }

    fn verify(public_key: &[u8], message: &[u8], signature: &Ed25519Signature) -> Result<()> {
        verify::verify_strict(public_key, message, &signature.0)
    }

    fn combine(device: &KeyShare<Self>, server: ExportedShare<Self>) -> Result<SecretKey<Self>> {
        keys::combine(device, server)
    }

    fn import(seed: &[u8], wallet: WalletId) -> Result<ImportedPair<Self>> {
        keys::import(seed, wallet)
    }
}
