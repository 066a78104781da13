//! Checking an Ed25519 signature and assembling the signed transaction.

use ed25519_dalek::Signature;

use super::address::verifying_key;
use super::prepared::{Assembly, Prepared};
use crate::error::{ChainError, ErrorKind};

const FIELD: &str = "signature";

/// The signed output of a Solana payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SolanaSigned {
    /// The Ed25519 signature over `Prepared::message`.
    pub signature: [u8; 64],
    /// Transactions (and bare messages): the wire transaction with our
    /// signature in our slot and the other slots as they were (zeros for a
    /// bare message). `None` for off-chain messages.
    pub signed_transaction: Option<Vec<u8>>,
}

/// Verifies `signature` over `prepared.message` under the signer key
/// (`verify_strict`: canonical encodings only) and assembles the output.
/// A signature that does not verify is refused with
/// [`ErrorKind::InvalidSignature`], so a faulty signing round never reaches
/// the network.
pub fn finish(prepared: &Prepared, signature: [u8; 64]) -> Result<SolanaSigned, ChainError> {
    let key = verifying_key("signer", &prepared.signer)?;
    key.verify_strict(&prepared.message, &Signature::from_bytes(&signature))
        .map_err(|_| {
            ChainError::new(
                ErrorKind::InvalidSignature,
                FIELD,
                "the signature does not verify under the signer's key",
            )
        })?;

    let signed_transaction = match &prepared.assembly {
        Assembly::Offchain => None,
        Assembly::Transaction {
            transaction,
            signer_index,
        } => {
            let mut transaction = transaction.clone();
            let slot = transaction
                .signatures
                .get_mut(*signer_index)
                .ok_or_else(|| {
                    ChainError::new(
                        ErrorKind::InvalidTransaction,
                        "transaction",
                        "signer slot out of range",
                    )
                })?;
            *slot = solana_signature::Signature::from(signature);
            let wire = wincode::serialize(&transaction).map_err(|e| {
                ChainError::new(
                    ErrorKind::InvalidTransaction,
                    "transaction",
                    format!("cannot serialize the signed transaction: {e}"),
                )
            })?;
            Some(wire)
        }
    };
    Ok(SolanaSigned {
        signature,
        signed_transaction,
    })
}
