//! Raw message signing, as wallet-standard `solana:signMessage` does: the Ed25519
//! signature covers the bytes exactly as given, which is what Sign-In-With-Solana and
//! wallet-adapter `signMessage` verifiers check.
//!
//! Signing arbitrary bytes with a key that also signs transactions is only safe if the
//! bytes can never be a transaction: a signature over a serialized transaction message is
//! a valid signature of that transaction. So bytes that decode as a transaction message
//! (legacy or versioned, even with bytes after it) are refused, as wallets do, and so are
//! bytes starting with the off-chain message domain (they would double as a signed
//! off-chain message, whose format and signer list the server would not have checked).

use solana_message::VersionedMessage;

use super::address::verifying_key;
use super::offchain::OFFCHAIN_SIGNING_DOMAIN;
use super::prepared::{Assembly, Intent, Prepared};
use crate::error::{ChainError, ErrorKind};
use crate::text::utf8_preview;

const FIELD: &str = "message";

/// Largest raw message accepted (the off-chain format's own bound).
pub const MAX_RAW_MESSAGE_BYTES: usize = u16::MAX as usize;

/// Prepares `message` to be signed as it is. Refused ([`ErrorKind::InvalidMessage`]):
/// empty; starting with the off-chain signing domain; decoding as a transaction message.
/// Over [`MAX_RAW_MESSAGE_BYTES`] is [`ErrorKind::TooLarge`].
pub fn prepare_raw_message(message: &[u8], signer: &[u8; 32]) -> Result<Prepared, ChainError> {
    verifying_key("signer", signer)?;
    if message.is_empty() {
        return Err(refused("a message to sign must not be empty"));
    }
    if message.len() > MAX_RAW_MESSAGE_BYTES {
        return Err(ChainError::new(
            ErrorKind::TooLarge,
            FIELD,
            format!("a raw message may hold at most {MAX_RAW_MESSAGE_BYTES} bytes"),
        ));
    }
    if message.starts_with(OFFCHAIN_SIGNING_DOMAIN) {
        return Err(refused(
            "these bytes are an off-chain message; sign the text as an off-chain message instead",
        ));
    }
    if is_transaction_message(message) {
        return Err(refused(
            "these bytes are a Solana transaction message; raw message signing never signs a transaction (sign it as a transaction to see what it does)",
        ));
    }
    Ok(Prepared {
        message: message.to_vec(),
        intent: Intent::RawMessage {
            length: message.len(),
            utf8: utf8_preview(message),
        },
        signer: *signer,
        assembly: Assembly::Offchain,
    })
}

/// Whether a prefix of `bytes` decodes as a legacy or versioned transaction message. The
/// runtime verifies signatures over the exact message bytes, but refusing any decodable
/// prefix costs honest messages nothing (text never decodes) and leaves no parsing corner.
fn is_transaction_message(bytes: &[u8]) -> bool {
    wincode::deserialize::<VersionedMessage>(bytes).is_ok()
}

fn refused(why: &str) -> ChainError {
    ChainError::new(ErrorKind::InvalidMessage, FIELD, why)
}
