//! Ed25519 public key -> Solana address (base58).

use crate::error::{ChainError, ErrorKind};

const FIELD: &str = "public_key";

/// The base58 Solana address of a 32-byte Ed25519 public key.
///
/// The key must be a valid, non-small-order curve point: wallet keys always
/// are, while off-curve addresses (program-derived) cannot sign at all.
pub fn address(public_key: &[u8]) -> Result<String, ChainError> {
    let key: &[u8; 32] = public_key.try_into().map_err(|_| {
        ChainError::new(
            ErrorKind::InvalidPublicKey,
            FIELD,
            "a Solana public key is 32 bytes",
        )
    })?;
    verifying_key(FIELD, key)?;
    Ok(bs58::encode(key).into_string())
}

/// Parses a public key we are asked to sign with, refusing points that are
/// not on the curve or have small order (no secret key stands behind those).
pub(crate) fn verifying_key(
    field: &'static str,
    key: &[u8; 32],
) -> Result<ed25519_dalek::VerifyingKey, ChainError> {
    let key = ed25519_dalek::VerifyingKey::from_bytes(key).map_err(|_| {
        ChainError::new(
            ErrorKind::InvalidPublicKey,
            field,
            "not a valid Ed25519 public key",
        )
    })?;
    if key.is_weak() {
        return Err(ChainError::new(
            ErrorKind::InvalidPublicKey,
            field,
            "not a valid Ed25519 public key (small order)",
        ));
    }
    Ok(key)
}
