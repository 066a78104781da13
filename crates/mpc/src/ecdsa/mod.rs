//! secp256k1 ECDSA on `dkls23` (DKLs23, three rounds per signature).
//!
//! Duties `dkls23` leaves to us, and where they are met:
//! - keygen and refresh frames carry raw polynomial evaluations and zero-share seeds: they
//!   must travel in the end-to-end encrypted channel ([`crate::Protocol::carries_confidential_frames`]);
//! - `BanCounterparty` is terminal: it maps to [`crate::ErrorClass::Cheating`] (see `abort.rs`);
//! - every signature is re-verified with `k256`, low-s and with a checked recovery id,
//!   before it leaves [`Sign`].

mod abort;
mod keygen;
mod keys;
mod parties;
mod refresh;
mod secret;
mod sign;
#[cfg(feature = "testing")]
pub(crate) mod sign_messages {
    pub(crate) use super::sign::{Round1, Round2, Round3};
}
mod verify;

pub use secret::EcdsaSecret;
pub use sign::EcdsaSignature;
pub use verify::{LowS, verify_prehash};

use crate::ceremony::Run;
use crate::context::{SessionContext, WalletId};
use crate::error::Result;
use crate::keys::{ExportedShare, ImportedPair, SecretKey};
use crate::protocol::RefreshMode;
use crate::role::Role;
use crate::scheme::{Scheme, SchemeId};
use crate::share::KeyShare;

/// The secp256k1 ECDSA scheme (EVM, Bitcoin, Cosmos).
#[derive(Debug)]
pub enum Secp256k1 {}

pub type Keygen = Run<keygen::KeygenRounds>;
pub type Sign = Run<sign::SignRounds>;
pub type Refresh = Run<refresh::RefreshRounds>;

impl Scheme for Secp256k1 {
    const ID: SchemeId = SchemeId::Secp256k1;
    type Secret = EcdsaSecret;
    type Message = [u8; 32];
    type Signature = EcdsaSignature;
    type Keygen = Keygen;
    type Sign = Sign;
    type Refresh = Refresh;

    fn keygen(role: Role, ctx: SessionContext) -> Result<(Keygen, Vec<u8>)> {
        keygen::start(role, ctx)
    }

    fn sign(
        share: &KeyShare<Self>,
        ctx: SessionContext,
        digest: &[u8; 32],
    ) -> Result<(Sign, Vec<u8>)> {
        sign::start(share, ctx, digest)
    }

    fn refresh(
        share: &KeyShare<Self>,
        ctx: SessionContext,
        mode: RefreshMode,
    ) -> Result<(Refresh, Vec<u8>)> {
        refresh::start(share, ctx, mode)
    }

    fn verify(public_key: &[u8], digest: &[u8; 32], signature: &EcdsaSignature) -> Result<()> {
        verify::verify_signature(public_key, digest, signature)
    }

    fn combine(device: &KeyShare<Self>, server: ExportedShare<Self>) -> Result<SecretKey<Self>> {
        keys::combine(device, server)
    }

    fn import(secret_key: &[u8], wallet: WalletId) -> Result<ImportedPair<Self>> {
        keys::import(secret_key, wallet)
    }
}
