//! Strict decoder for the unsigned legacy signing payload.
//!
//! alloy's `Decodable for TxLegacy` is deliberately permissive (it accepts a
//! signed transaction and reads `v` as the chain id, does not require the
//! EIP-155 zeros, and reads past the list header). Signing is the wrong place
//! for leniency, so this module decodes the two allowed shapes exactly:
//!
//! * `rlp([nonce, gasPrice, gasLimit, to, value, data])` -> refused, no chain id;
//! * `rlp([nonce, gasPrice, gasLimit, to, value, data, chainId, 0, 0])` (EIP-155).

use alloy_consensus::TxLegacy;
use alloy_primitives::U256;
use alloy_rlp::{Decodable, Header};

use super::transaction::{FIELD, rlp_error};
use crate::error::{ChainError, ErrorKind};

/// Decodes an unsigned EIP-155 legacy signing payload; `input` starts with the list header.
pub(crate) fn decode_unsigned(input: &[u8]) -> Result<TxLegacy, ChainError> {
    let mut buf = input;
    let header = Header::decode(&mut buf).map_err(rlp_error)?;
    if !header.list {
        return Err(invalid_rlp("a legacy transaction must be an RLP list"));
    }
    if header.payload_length > buf.len() {
        return Err(invalid_rlp("the RLP list is truncated"));
    }
    let (mut fields, rest) = buf.split_at(header.payload_length);
    if !rest.is_empty() {
        return Err(invalid_rlp("trailing bytes after the transaction"));
    }

    let mut tx = TxLegacy {
        nonce: field(&mut fields)?,
        gas_price: field(&mut fields)?,
        gas_limit: field(&mut fields)?,
        to: field(&mut fields)?,
        value: field(&mut fields)?,
        input: field(&mut fields)?,
        chain_id: None,
    };

    if fields.is_empty() {
        return Err(ChainError::new(
            ErrorKind::MissingChainId,
            FIELD,
            "legacy transaction without an EIP-155 chain id: its signature would be valid on \
             every chain, so it is refused",
        ));
    }

    // Decode all three as U256 first: in a *signed* transaction these slots hold
    // v, r, s, and we want to report "already signed", not a number overflow.
    let chain_id: U256 = field(&mut fields)?;
    let r: U256 = field(&mut fields)?;
    let s: U256 = field(&mut fields)?;
    if !fields.is_empty() {
        return Err(invalid_rlp(
            "a legacy transaction has 6 or 9 fields, this one has more",
        ));
    }
    if !r.is_zero() || !s.is_zero() {
        return Err(ChainError::new(
            ErrorKind::AlreadySigned,
            FIELD,
            "this legacy transaction is already signed (the last two EIP-155 fields must be 0)",
        ));
    }
    let chain_id = u64::try_from(chain_id).map_err(|_| {
        ChainError::new(
            ErrorKind::InvalidTransaction,
            FIELD,
            "chain id does not fit in 64 bits",
        )
    })?;
    tx.chain_id = Some(chain_id);
    Ok(tx)
}

fn field<T: Decodable>(fields: &mut &[u8]) -> Result<T, ChainError> {
    if fields.is_empty() {
        return Err(invalid_rlp(
            "a legacy transaction has 6 or 9 fields, this one has fewer",
        ));
    }
    T::decode(fields).map_err(rlp_error)
}

fn invalid_rlp(detail: &str) -> ChainError {
    ChainError::new(ErrorKind::InvalidRlp, FIELD, detail)
}
