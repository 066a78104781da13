//! Finding our key among a message's required signers.

use solana_message::VersionedMessage;

use crate::error::{ChainError, ErrorKind};

/// The signature slot of `signer`: its position among the first
/// `num_required_signatures` static account keys.
pub(crate) fn signer_index(
    field: &'static str,
    message: &VersionedMessage,
    signer: &[u8; 32],
) -> Result<usize, ChainError> {
    let keys = message.static_account_keys();
    // Duplicate keys make "the" slot ambiguous; the runtime refuses such
    // transactions anyway (AccountLoadedTwice).
    for (i, key) in keys.iter().enumerate() {
        if keys.iter().skip(i + 1).any(|other| other == key) {
            return Err(ChainError::new(
                ErrorKind::InvalidTransaction,
                field,
                "an account key appears twice",
            ));
        }
    }
    let required = usize::from(message.header().num_required_signatures);
    keys.iter()
        .take(required)
        .position(|key| key.as_array() == signer)
        .ok_or_else(|| {
            ChainError::new(
                ErrorKind::NotASigner,
                field,
                format!(
                    "{} is not a required signer of this transaction",
                    bs58::encode(signer).into_string()
                ),
            )
        })
}
