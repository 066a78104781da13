//! The ECDSA verification Tandem applies to every signature it releases.

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};

use super::sign::EcdsaSignature;
use crate::error::{Error, Result};

/// Whether a high-s signature (r, n - s) counts as valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LowS {
    /// Only s <= n/2 is valid (Bitcoin BIP-62/146, Ethereum EIP-2). Tandem's own signatures.
    Required,
    /// Plain ECDSA: both s and n - s are valid.
    Allowed,
}

/// Verifies a 64-byte `r || s` signature over a 32-byte prehash under a SEC1 public key.
///
/// Rejects r or s equal to zero or not below the group order, public keys not on the curve
/// or at infinity, and (with [`LowS::Required`]) high s.
pub fn verify_prehash(
    public_key: &[u8],
    digest: &[u8],
    signature: &[u8],
    low_s: LowS,
) -> Result<()> {
    let key = VerifyingKey::from_sec1_bytes(public_key)
        .map_err(|_| Error::InvalidInput("public key is not a valid secp256k1 point"))?;
    let sig =
        Signature::from_slice(signature).map_err(|_| Error::InvalidInput("signature encoding"))?;
    let normalized = sig.normalize_s();
    if low_s == LowS::Required && normalized != sig {
        return Err(Error::InvalidInput("signature has a high s"));
    }
    // k256 itself only accepts low s, so plain ECDSA verifies the normalized twin.
    key.verify_prehash(digest, &normalized)
        .map_err(|_| Error::InvalidInput("signature does not verify"))
}

/// The full release check: low-s, valid under the key, and the recovery id recovers the key.
pub(crate) fn verify_signature(
    public_key: &[u8],
    digest: &[u8; 32],
    sig: &EcdsaSignature,
) -> Result<()> {
    let key = VerifyingKey::from_sec1_bytes(public_key)
        .map_err(|_| Error::InvalidInput("public key is not a valid secp256k1 point"))?;
    let parsed = Signature::from_slice(&sig.to_bytes())
        .map_err(|_| Error::InvalidInput("signature encoding"))?;
    if parsed.normalize_s() != parsed {
        return Err(Error::InvalidInput("signature has a high s"));
    }
    key.verify_prehash(digest, &parsed)
        .map_err(|_| Error::InvalidInput("signature does not verify"))?;
    let recovery =
        RecoveryId::from_byte(sig.recovery_id).ok_or(Error::InvalidInput("recovery id"))?;
    let recovered = VerifyingKey::recover_from_prehash(digest, &parsed, recovery)
        .map_err(|_| Error::InvalidInput("recovery id does not recover a key"))?;
    if recovered != key {
        return Err(Error::InvalidInput("recovery id recovers another key"));
    }
    Ok(())
}
