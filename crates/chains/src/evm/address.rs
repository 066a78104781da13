//! secp256k1 public key -> EIP-55 checksummed Ethereum address.

use alloy_primitives::Address;
use k256::elliptic_curve::sec1::ToSec1Point as _;

use crate::error::{ChainError, ErrorKind};

const FIELD: &str = "public_key";

/// The EIP-55 checksummed `0x…` address of a secp256k1 public key given in
/// SEC1 form: compressed (33 bytes, `02`/`03` prefix) or uncompressed
/// (65 bytes, `04` prefix). The point must be on the curve.
pub fn address(sec1_public_key: &[u8]) -> Result<String, ChainError> {
    Ok(address_of(sec1_public_key)?.to_checksum(None))
}

pub(crate) fn address_of(sec1_public_key: &[u8]) -> Result<Address, ChainError> {
    // Check the shape ourselves first so hybrid (06/07) or identity encodings,
    // which some parsers accept, are refused with a clear message.
    match (sec1_public_key.len(), sec1_public_key.first()) {
        (33, Some(0x02 | 0x03)) | (65, Some(0x04)) => {}
        _ => {
            return Err(ChainError::new(
                ErrorKind::InvalidPublicKey,
                FIELD,
                "expected a 33-byte compressed or 65-byte uncompressed SEC1 secp256k1 public key",
            ));
        }
    }
    let key = k256::PublicKey::from_sec1_bytes(sec1_public_key).map_err(|_| {
        ChainError::new(
            ErrorKind::InvalidPublicKey,
            FIELD,
            "not a point on the secp256k1 curve",
        )
    })?;
    // Only bytes cross into alloy (which is on k256 0.13): 0x04 ‖ x ‖ y, minus the tag.
    let uncompressed = key.to_sec1_point(false);
    let xy = uncompressed.as_bytes().get(1..).unwrap_or_default();
    if xy.len() != 64 {
        return Err(ChainError::new(
            ErrorKind::InvalidPublicKey,
            FIELD,
            "could not encode the point uncompressed",
        ));
    }
    Ok(Address::from_raw_public_key(xy))
}
