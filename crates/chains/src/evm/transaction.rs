//! Unsigned EVM transactions: parse, refuse what we must not sign, hash.

use alloy_consensus::{TxEip1559, TxEip2930, TxEnvelope};
use alloy_eips::Decodable2718 as _;
use alloy_primitives::TxKind;
use alloy_rlp::Decodable;

use super::intent::Intent;
use super::legacy;
use super::prepared::{Payload, Prepared};
use super::unsigned_tx::UnsignedTx;
use crate::error::{ChainError, ErrorKind};

pub(crate) const FIELD: &str = "transaction";

/// Largest accepted encoding. Geth's transaction pool refuses non-blob
/// transactions above 128 KiB, so anything larger could not be broadcast anyway.
pub const MAX_TRANSACTION_BYTES: usize = 128 * 1024;

/// Prepares an unsigned transaction, given as the bytes a wallet hashes to sign:
///
/// * legacy: `rlp([nonce, gasPrice, gasLimit, to, value, data, chainId, 0, 0])`
///   (EIP-155). The 6-field pre-EIP-155 form is refused with
///   [`ErrorKind::MissingChainId`]: its signature would be valid on every chain.
/// * EIP-2930: `0x01 ‖ rlp([chainId, nonce, gasPrice, gasLimit, to, value, data, accessList])`
/// * EIP-1559: `0x02 ‖ rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas,
///   gasLimit, to, value, data, accessList])`
///
/// Refused: other types (`0x03` blob, `0x04` EIP-7702, unknown) with
/// [`ErrorKind::UnsupportedTransactionType`]; signed transactions with
/// [`ErrorKind::AlreadySigned`]; malformed or non-canonical RLP and trailing
/// bytes with [`ErrorKind::InvalidRlp`]; chain id 0 with
/// [`ErrorKind::MissingChainId`]; more than [`MAX_TRANSACTION_BYTES`] with
/// [`ErrorKind::TooLarge`].
///
/// The digest is the transaction's signature hash (`keccak256` of exactly
/// these bytes, re-encoded by alloy from the parsed fields).
pub fn prepare_transaction(unsigned: &[u8]) -> Result<Prepared, ChainError> {
    if unsigned.len() > MAX_TRANSACTION_BYTES {
        return Err(ChainError::new(
            ErrorKind::TooLarge,
            FIELD,
            format!("transaction is larger than {MAX_TRANSACTION_BYTES} bytes"),
        ));
    }
    let Some(&first) = unsigned.first() else {
        return Err(ChainError::new(
            ErrorKind::InvalidTransaction,
            FIELD,
            "transaction is empty",
        ));
    };
    let tx = match first {
        // An RLP list header: the legacy (untyped) form.
        0xc0..=0xff => UnsignedTx::Legacy(legacy::decode_unsigned(unsigned)?),
        0x01 => UnsignedTx::Eip2930(decode_typed::<TxEip2930>(unsigned)?),
        0x02 => UnsignedTx::Eip1559(decode_typed::<TxEip1559>(unsigned)?),
        0x03 => return Err(unsupported("EIP-4844 blob transactions are not supported")),
        0x04 => {
            return Err(unsupported(
                "EIP-7702 (set code) transactions are not supported",
            ));
        }
        0x00..=0x7f => {
            return Err(unsupported(&format!(
                "unknown transaction type 0x{first:02x}"
            )));
        }
        // An RLP string header: neither a list nor an EIP-2718 type byte. This
        // is what a network-encoded (RLP-wrapped) typed transaction looks like.
        0x80..=0xbf => {
            return Err(ChainError::new(
                ErrorKind::InvalidRlp,
                FIELD,
                "expected an RLP list (legacy) or an EIP-2718 type byte (0x01, 0x02)",
            ));
        }
    };

    let chain_id = match tx.chain_id() {
        Some(id) if id != 0 => id,
        _ => {
            return Err(ChainError::new(
                ErrorKind::MissingChainId,
                FIELD,
                "chain id 0 does not bind the signature to a chain",
            ));
        }
    };

    Ok(Prepared {
        digest: tx.signature_hash(),
        intent: describe(&tx, chain_id),
        payload: Payload::Transaction(tx),
    })
}

/// Decodes `type ‖ rlp(fields)` strictly: one list, exactly the unsigned
/// fields, nothing after it.
fn decode_typed<T: Decodable>(input: &[u8]) -> Result<T, ChainError> {
    let mut buf = input.get(1..).unwrap_or_default();
    match T::decode(&mut buf) {
        Ok(tx) if buf.is_empty() => Ok(tx),
        Ok(_) => Err(ChainError::new(
            ErrorKind::InvalidRlp,
            FIELD,
            "trailing bytes after the transaction",
        )),
        // A signed envelope has three more list items (yParity, r, s), so the
        // unsigned decode fails on the list length; say why instead.
        Err(_) if TxEnvelope::decode_2718(&mut &input[..]).is_ok() => Err(ChainError::new(
            ErrorKind::AlreadySigned,
            FIELD,
            "this transaction is already signed; send the unsigned transaction",
        )),
        Err(e) => Err(rlp_error(e)),
    }
}

fn describe(tx: &UnsignedTx, chain_id: u64) -> Intent {
    let input = tx.input();
    Intent::Transaction {
        tx_type: tx.type_name().to_owned(),
        chain_id,
        nonce: tx.nonce(),
        to: match tx.kind() {
            TxKind::Call(to) => Some(to.to_checksum(None)),
            TxKind::Create => None,
        },
        value_wei: tx.value().to_string(),
        gas_limit: tx.gas_limit(),
        max_fee_per_gas_wei: tx.max_fee_per_gas().to_string(),
        data_len: input.len(),
        selector: input.get(..4).map(crate::encoding::encode_hex),
    }
}

pub(crate) fn rlp_error(error: alloy_rlp::Error) -> ChainError {
    ChainError::new(
        ErrorKind::InvalidRlp,
        FIELD,
        format!("malformed RLP: {error}"),
    )
}

fn unsupported(detail: &str) -> ChainError {
    ChainError::new(ErrorKind::UnsupportedTransactionType, FIELD, detail)
}
