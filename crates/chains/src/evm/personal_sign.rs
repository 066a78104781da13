//! EIP-191 `personal_sign` (version `0x45`, "Ethereum Signed Message").

use alloy_primitives::eip191_hash_message;

use super::intent::Intent;
use super::prepared::{Payload, Prepared};
use crate::text::utf8_preview;

/// Prepares an EIP-191 `personal_sign` message: the digest is
/// `keccak256("\x19Ethereum Signed Message:\n" ‖ len ‖ message)`.
///
/// `message` is the raw message bytes (decode the `0x`-hex that wallet RPCs
/// carry first, e.g. with [`crate::encoding::decode_hex`]). The prefix makes
/// the digest unusable as a transaction hash, so any bytes are acceptable,
/// including 32 bytes that look like a hash.
pub fn prepare_personal_sign(message: &[u8]) -> Prepared {
    Prepared {
        digest: eip191_hash_message(message).0,
        intent: Intent::PersonalSign {
            length: message.len(),
            utf8: utf8_preview(message),
        },
        payload: Payload::Message,
    }
}
