//! Text decoders for payloads as they arrive over JSON APIs.
//!
//! Wallet RPCs carry EVM payloads as `0x`-hex and Solana transactions as
//! base64; these helpers turn them into bytes with errors that name the field.

use base64::Engine as _;

use crate::error::{ChainError, ErrorKind};

/// Decodes hex with or without a `0x`/`0X` prefix (either letter case).
pub fn decode_hex(field: &'static str, text: &str) -> Result<Vec<u8>, ChainError> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    hex::decode(digits).map_err(|e| ChainError::new(ErrorKind::InvalidHex, field, e.to_string()))
}

/// Decodes standard, padded base64 (what Solana RPC and wallets use for transactions).
pub fn decode_base64(field: &'static str, text: &str) -> Result<Vec<u8>, ChainError> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| ChainError::new(ErrorKind::InvalidBase64, field, e.to_string()))
}

/// Encodes bytes as standard, padded base64 (for returning signed Solana transactions).
pub fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Encodes bytes as lowercase `0x`-hex (for returning EVM signatures and raw transactions).
pub fn encode_hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}
