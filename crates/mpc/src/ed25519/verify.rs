//! The Ed25519 verification Tandem applies to every signature it releases.

use ed25519_dalek::{Signature, VerifyingKey};

use crate::error::{Error, Result};

/// RFC 8032 verification with `ed25519-dalek`'s strict rules: rejects small-order public
/// keys and R, and non-canonical s.
pub fn verify_strict(public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<()> {
    let key: [u8; 32] = public_key
        .try_into()
        .map_err(|_| Error::InvalidInput("an Ed25519 public key is 32 bytes"))?;
    let key = VerifyingKey::from_bytes(&key)
        .map_err(|_| Error::InvalidInput("public key is not a valid Ed25519 point"))?;
    let sig = Signature::from_slice(signature)
        .map_err(|_| Error::InvalidInput("an Ed25519 signature is 64 bytes"))?;
    key.verify_strict(message, &sig)
        .map_err(|_| Error::InvalidInput("signature does not verify"))
}
