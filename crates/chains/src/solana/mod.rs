//! Solana (Ed25519 over message bytes; Ed25519 signs the message itself, so
//! "the digest" is the exact byte string to sign).
//!
//! Payload kinds:
//!
//! * [`prepare_transaction`]: a wire `VersionedTransaction` (legacy or v0
//!   message) with placeholder signatures, as wallets and `@solana/kit` send
//!   unsigned transactions,
//! * [`prepare_message`]: a bare serialized `VersionedMessage`,
//! * [`prepare_offchain`]: text signed in the off-chain message format,
//! * [`prepare_raw_message`]: raw bytes (`solana:signMessage`), never a transaction.
//!
//! Then [`finish`] checks the signature and assembles the signed transaction.

mod address;
mod finish;
mod intent;
mod offchain;
mod prepared;
mod raw;
mod signer;
mod transaction;

pub use address::address;
pub use finish::{SolanaSigned, finish};
pub use offchain::{
    MAX_OFFCHAIN_MESSAGE_BYTES, OFFCHAIN_SIGNING_DOMAIN, prepare_offchain,
    prepare_offchain_with_domain,
};
pub use prepared::{InstructionIntent, Intent, Prepared, SystemTransfer};
pub use raw::{MAX_RAW_MESSAGE_BYTES, prepare_raw_message};
pub use transaction::{MAX_TRANSACTION_BYTES, prepare_message, prepare_transaction};
