//! Solana transactions and bare transaction messages.

use solana_message::VersionedMessage;
use solana_transaction::versioned::VersionedTransaction;

use super::address::verifying_key;
use super::intent::describe;
use super::prepared::{Assembly, Prepared};
use super::signer::signer_index;
use crate::error::{ChainError, ErrorKind};

const FIELD: &str = "transaction";
const SIGNER_FIELD: &str = "signer";

/// Largest accepted input: a Solana transaction must fit one network packet
/// (`PACKET_DATA_SIZE`, 1232 bytes), signatures included.
pub const MAX_TRANSACTION_BYTES: usize = 1232;

/// Prepares a serialized `VersionedTransaction` (legacy or v0 message) whose
/// signature slots hold placeholders (usually all zeros), as wallets and
/// `@solana/kit` produce for unsigned transactions. Other parties' slots may
/// already hold their signatures; they are kept.
///
/// Checks, in order: at most [`MAX_TRANSACTION_BYTES`] ([`ErrorKind::TooLarge`]);
/// `signer` is a valid Ed25519 key ([`ErrorKind::InvalidPublicKey`], field
/// `"signer"`); decodes with wincode with no trailing bytes and in canonical encoding;
/// v1 messages are [`ErrorKind::UnsupportedTransactionType`]; the message
/// passes `sanitize()` and the number of signature slots equals
/// `num_required_signatures` ([`ErrorKind::InvalidTransaction`]); `signer`
/// is one of the required signers ([`ErrorKind::NotASigner`]).
///
/// The bytes to sign are the serialized message (`message.serialize()`).
pub fn prepare_transaction(wire: &[u8], signer: &[u8; 32]) -> Result<Prepared, ChainError> {
    check_size(wire)?;
    verifying_key(SIGNER_FIELD, signer)?;
    let transaction: VersionedTransaction = wincode::deserialize_exact(wire)
        .map_err(|e| invalid(format!("not a serialized Solana transaction: {e}")))?;
    check_version(&transaction.message)?;
    transaction
        .sanitize()
        .map_err(|e| invalid(format!("malformed transaction: {e}")))?;
    let required = usize::from(transaction.message.header().num_required_signatures);
    if transaction.signatures.len() != required {
        return Err(invalid(format!(
            "{} signature slots but the message requires {required}",
            transaction.signatures.len()
        )));
    }
    // Re-encoding must give back the input: then the message we sign and show
    // is byte for byte the one the client holds.
    if wincode::serialize(&transaction).ok().as_deref() != Some(wire) {
        return Err(invalid("non-canonical transaction encoding".to_owned()));
    }
    let signer_index = signer_index(FIELD, &transaction.message, signer)?;
    Ok(Prepared {
        message: transaction.message.serialize(),
        intent: describe(&transaction.message, signer_index)?,
        signer: *signer,
        assembly: Assembly::Transaction {
            transaction,
            signer_index,
        },
    })
}

/// Prepares a bare serialized `VersionedMessage` (legacy or v0), with the same
/// checks as [`prepare_transaction`] minus the signature slots.
///
/// [`super::finish`] then returns a wire transaction with one slot per required
/// signer: ours filled in, the others all zeros. With a single required
/// signer (the common case: we are the fee payer) it is ready to broadcast;
/// otherwise the other parties must fill their slots.
pub fn prepare_message(message: &[u8], signer: &[u8; 32]) -> Result<Prepared, ChainError> {
    check_size(message)?;
    verifying_key(SIGNER_FIELD, signer)?;
    let parsed: VersionedMessage = wincode::deserialize_exact(message)
        .map_err(|e| invalid(format!("not a serialized Solana transaction message: {e}")))?;
    check_version(&parsed)?;
    parsed
        .sanitize()
        .map_err(|e| invalid(format!("malformed transaction message: {e}")))?;
    let serialized = parsed.serialize();
    if serialized != message {
        return Err(invalid("non-canonical message encoding".to_owned()));
    }
    let signer_index = signer_index(FIELD, &parsed, signer)?;
    Ok(Prepared {
        message: serialized,
        intent: describe(&parsed, signer_index)?,
        signer: *signer,
        assembly: Assembly::Transaction {
            transaction: VersionedTransaction::new_unsigned(parsed),
            signer_index,
        },
    })
}

fn check_size(bytes: &[u8]) -> Result<(), ChainError> {
    if bytes.len() > MAX_TRANSACTION_BYTES {
        return Err(ChainError::new(
            ErrorKind::TooLarge,
            FIELD,
            format!("larger than the {MAX_TRANSACTION_BYTES}-byte Solana packet"),
        ));
    }
    Ok(())
}

/// v1 messages (SIMD-0385) have their own wire layout and are not yet
/// accepted by the network; refuse until we test them.
fn check_version(message: &VersionedMessage) -> Result<(), ChainError> {
    match message {
        VersionedMessage::Legacy(_) | VersionedMessage::V0(_) => Ok(()),
        VersionedMessage::V1(_) => Err(ChainError::new(
            ErrorKind::UnsupportedTransactionType,
            FIELD,
            "v1 transaction messages are not supported",
        )),
    }
}

fn invalid(detail: String) -> ChainError {
    ChainError::new(ErrorKind::InvalidTransaction, FIELD, detail)
}
