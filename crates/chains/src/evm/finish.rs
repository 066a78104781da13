//! Turning `(r, s, recovery_id)` into what the wallet API returns.

use alloy_eips::Encodable2718 as _;
use alloy_primitives::{B256, Signature, U256, uint};

use super::prepared::{Payload, Prepared};
use crate::error::{ChainError, ErrorKind};

const FIELD: &str = "signature";

/// The secp256k1 group order n. Checked here because alloy's signature type
/// does not range-check `r` and `s` itself.
const SECP256K1_ORDER: U256 =
    uint!(0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141_U256);

/// The signed output of an EVM payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvmSigned {
    /// `r ‖ s ‖ v` with `v = 27 + y_parity`: the form `personal_sign` and
    /// `eth_signTypedData` return. `s` is always in the lower half of the
    /// curve order (EIP-2), see [`finish`].
    pub signature: [u8; 65],
    /// Transactions only: the signed EIP-2718 encoding, ready for
    /// `eth_sendRawTransaction`. Legacy transactions carry the EIP-155
    /// `v = chainId * 2 + 35 + y_parity`.
    pub raw_transaction: Option<Vec<u8>>,
    /// Transactions only: the transaction hash (`keccak256(raw_transaction)`).
    pub transaction_hash: Option<[u8; 32]>,
}

/// Assembles the output for a finished ECDSA signature over `prepared.digest`.
///
/// `recovery_id` is the y-parity (0 or 1); anything else is refused with
/// [`ErrorKind::InvalidSignature`], as is a signature that is malformed or
/// from which no public key can be recovered for this digest.
///
/// A high-`s` signature is normalized to `(r, n - s)` with the parity
/// flipped: it recovers the same key, and Ethereum refuses high `s` in
/// transactions (EIP-2) as do most contract verifiers. So the returned `v`
/// may differ from `27 + recovery_id`.
///
/// This does not know which key should have signed; check with
/// [`recover_address`] that the result is from the expected wallet.
pub fn finish(
    prepared: &Prepared,
    r: [u8; 32],
    s: [u8; 32],
    recovery_id: u8,
) -> Result<EvmSigned, ChainError> {
    if recovery_id > 1 {
        return Err(ChainError::new(
            ErrorKind::InvalidSignature,
            FIELD,
            "recovery id must be 0 or 1",
        ));
    }
    let signature = checked_signature(r, s, recovery_id == 1)?;
    // Refuses signatures from which no key can be recovered for this digest.
    signature
        .recover_address_from_prehash(&B256::from(prepared.digest))
        .map_err(|_| {
            ChainError::new(
                ErrorKind::InvalidSignature,
                FIELD,
                "not a valid secp256k1 signature for this payload",
            )
        })?;
    let signature = signature.normalized_s();

    let (raw_transaction, transaction_hash) = match &prepared.payload {
        Payload::Message => (None, None),
        Payload::Transaction(tx) => {
            let envelope = tx.clone().into_envelope(signature);
            (Some(envelope.encoded_2718()), Some(envelope.tx_hash().0))
        }
    };
    Ok(EvmSigned {
        signature: signature.as_bytes(),
        raw_transaction,
        transaction_hash,
    })
}

/// The checksummed address that produced `signature` (`r ‖ s ‖ v`, `v` in
/// {0, 1, 27, 28}) over `prepared.digest`. Lets the server and the SDK check
/// a finished signature against the wallet address before releasing it.
pub fn recover_address(prepared: &Prepared, signature: &[u8; 65]) -> Result<String, ChainError> {
    let y_parity = match signature[64] {
        0 | 27 => false,
        1 | 28 => true,
        _ => {
            return Err(ChainError::new(
                ErrorKind::InvalidSignature,
                FIELD,
                "v must be 0, 1, 27 or 28",
            ));
        }
    };
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    r.copy_from_slice(&signature[..32]);
    s.copy_from_slice(&signature[32..64]);
    checked_signature(r, s, y_parity)?
        .recover_address_from_prehash(&B256::from(prepared.digest))
        .map(|address| address.to_checksum(None))
        .map_err(|_| {
            ChainError::new(
                ErrorKind::InvalidSignature,
                FIELD,
                "no public key can be recovered from this signature",
            )
        })
}

/// Builds the signature after checking `0 < r < n` and `0 < s < n`.
fn checked_signature(r: [u8; 32], s: [u8; 32], y_parity: bool) -> Result<Signature, ChainError> {
    let in_range = |scalar: &[u8; 32]| {
        let value = U256::from_be_bytes(*scalar);
        !value.is_zero() && value < SECP256K1_ORDER
    };
    if !in_range(&r) || !in_range(&s) {
        return Err(ChainError::new(
            ErrorKind::InvalidSignature,
            FIELD,
            "r and s must be between 1 and the curve order",
        ));
    }
    Ok(Signature::from_scalars_and_parity(
        B256::from(r),
        B256::from(s),
        y_parity,
    ))
}
