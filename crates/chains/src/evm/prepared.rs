//! A parsed, hashed EVM payload waiting for its signature.

use super::intent::Intent;
use super::unsigned_tx::UnsignedTx;

/// The result of a `prepare_*` call: the digest to sign, what it means, and
/// what [`super::finish`] needs. It can only be built by this crate's
/// `prepare_*` functions, so its digest always comes from a parsed payload.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The 32-byte digest the secp256k1 ECDSA signature must cover.
    pub digest: [u8; 32],
    /// What the payload does.
    pub intent: Intent,
    pub(crate) payload: Payload,
}

/// What kind of output [`super::finish`] must assemble.
#[derive(Clone, Debug)]
pub(crate) enum Payload {
    /// `personal_sign` or typed data: the output is the 65-byte signature only.
    Message,
    /// A transaction: the output also includes the signed raw transaction.
    Transaction(UnsignedTx),
}
