//! Solana off-chain message signing, header version 0.
//!
//! Follows the specification in the Agave repository,
//! `docs/src/proposals/off-chain-message-signing.md`
//! (<https://docs.anza.xyz/proposals/off-chain-message-signing>), which is
//! also what `@solana/kit`'s offchain-messages package and
//! `solana:signOffchainMessage` wallets produce. The bytes signed are the
//! preamble followed by the body:
//!
//! | field              | bytes    | value here                                   |
//! |--------------------|----------|----------------------------------------------|
//! | signing domain     | 16       | `b"\xffsolana offchain"`                     |
//! | header version     | 1        | `0`                                          |
//! | application domain | 32       | caller's, or 32 zero bytes                   |
//! | message format     | 1        | 0, 1 or 2, chosen from the body (see below)  |
//! | signer count       | 1        | `1`                                          |
//! | signers            | 32 each  | our public key                               |
//! | message length     | 2        | body length, u16 little-endian, non-zero     |
//! | message body       | length   | the message                                  |
//!
//! Formats (the maximum length is preamble plus body): `0` restricted ASCII
//! (bytes `0x20..=0x7e`; newline only from header version 1), at most 1232
//! bytes; `1` UTF-8, at most 1232 bytes; `2` UTF-8, at most 65535 bytes. The
//! spec requires signers to enforce both encoding and length; the smallest
//! format that fits is chosen.
//!
//! The published `solana-offchain-message` crate (4.0.0) still implements an
//! earlier draft without the application domain and signer fields, so this
//! is written out here.

use super::address::verifying_key;
use super::prepared::{Assembly, Intent, Prepared};
use crate::error::{ChainError, ErrorKind};
use crate::text::utf8_preview;

const FIELD: &str = "message";

/// Prefix of every off-chain message. `0xff` can never start a transaction
/// message (it would be message version 127, which the runtime refuses).
pub const OFFCHAIN_SIGNING_DOMAIN: &[u8; 16] = b"\xffsolana offchain";

const HEADER_VERSION: u8 = 0;

/// Preamble length with one signer: domain 16, version 1, application domain
/// 32, format 1, signer count 1, one signer 32, length 2.
const PREAMBLE_LEN: usize = 16 + 1 + 32 + 1 + 1 + 32 + 2;

/// Formats 0 and 1: preamble plus body fit one packet (hardware wallets).
const LEDGER_MAX_TOTAL: usize = 1232;

/// Format 2: preamble plus body fit a u16.
const EXTENDED_MAX_TOTAL: usize = u16::MAX as usize;

/// Largest accepted message body (one signer): 65535 - 85 = 65450 bytes.
pub const MAX_OFFCHAIN_MESSAGE_BYTES: usize = EXTENDED_MAX_TOTAL - PREAMBLE_LEN;

#[derive(Clone, Copy)]
enum Format {
    RestrictedAscii = 0,
    LimitedUtf8 = 1,
    ExtendedUtf8 = 2,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Self::RestrictedAscii => "restricted_ascii",
            Self::LimitedUtf8 => "limited_utf8",
            Self::ExtendedUtf8 => "extended_utf8",
        }
    }
}

/// Prepares an off-chain message signed by `signer`, with the all-zero
/// application domain. See [`prepare_offchain_with_domain`].
pub fn prepare_offchain(message: &[u8], signer: &[u8; 32]) -> Result<Prepared, ChainError> {
    prepare_offchain_with_domain(message, signer, &[0; 32])
}

/// Prepares an off-chain message (header version 0, one signer) with an
/// application domain, e.g. the dapp's program address.
///
/// Refused: an empty body or one that is not UTF-8 ([`ErrorKind::InvalidMessage`]),
/// a body over [`MAX_OFFCHAIN_MESSAGE_BYTES`] ([`ErrorKind::TooLarge`]).
/// `Prepared::message` is the full serialized off-chain message.
pub fn prepare_offchain_with_domain(
    message: &[u8],
    signer: &[u8; 32],
    application_domain: &[u8; 32],
) -> Result<Prepared, ChainError> {
    verifying_key("signer", signer)?;
    if message.is_empty() {
        return Err(ChainError::new(
            ErrorKind::InvalidMessage,
            FIELD,
            "an off-chain message must not be empty",
        ));
    }
    let format = choose_format(message)?;
    let length = u16::try_from(message.len()).map_err(|_| too_large())?;

    let mut bytes = Vec::with_capacity(PREAMBLE_LEN + message.len());
    bytes.extend_from_slice(OFFCHAIN_SIGNING_DOMAIN);
    bytes.push(HEADER_VERSION);
    bytes.extend_from_slice(application_domain);
    bytes.push(format as u8);
    bytes.push(1);
    bytes.extend_from_slice(signer);
    bytes.extend_from_slice(&length.to_le_bytes());
    bytes.extend_from_slice(message);

    Ok(Prepared {
        message: bytes,
        intent: Intent::Offchain {
            length: message.len(),
            utf8: utf8_preview(message),
            format: format.name().to_owned(),
            application_domain: bs58::encode(application_domain).into_string(),
        },
        signer: *signer,
        assembly: Assembly::Offchain,
    })
}

fn choose_format(message: &[u8]) -> Result<Format, ChainError> {
    let total = PREAMBLE_LEN + message.len();
    if total > EXTENDED_MAX_TOTAL {
        return Err(too_large());
    }
    if total <= LEDGER_MAX_TOTAL && message.iter().all(|b| (0x20..=0x7e).contains(b)) {
        return Ok(Format::RestrictedAscii);
    }
    if std::str::from_utf8(message).is_err() {
        return Err(ChainError::new(
            ErrorKind::InvalidMessage,
            FIELD,
            "an off-chain message must be valid UTF-8",
        ));
    }
    Ok(if total <= LEDGER_MAX_TOTAL {
        Format::LimitedUtf8
    } else {
        Format::ExtendedUtf8
    })
}

fn too_large() -> ChainError {
    ChainError::new(
        ErrorKind::TooLarge,
        FIELD,
        format!("an off-chain message body is at most {MAX_OFFCHAIN_MESSAGE_BYTES} bytes"),
    )
}
