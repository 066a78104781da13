//! Describing a Solana transaction message for people and policies.

use solana_message::{VersionedMessage, compiled_instruction::CompiledInstruction};

use super::prepared::{InstructionIntent, Intent, SystemTransfer};
use crate::error::{ChainError, ErrorKind};

/// The System program id, `11111111111111111111111111111111` (32 zero bytes).
const SYSTEM_PROGRAM_ID: [u8; 32] = [0; 32];

/// Index of `Transfer` in the System program's instruction enum.
const SYSTEM_TRANSFER: u32 = 2;

pub(crate) fn describe(
    message: &VersionedMessage,
    signer_index: usize,
) -> Result<Intent, ChainError> {
    let keys = message.static_account_keys();
    let fee_payer = keys.first().ok_or_else(|| {
        ChainError::new(
            ErrorKind::InvalidTransaction,
            "transaction",
            "message has no accounts",
        )
    })?;
    let instructions = message
        .instructions()
        .iter()
        .map(|instruction| describe_instruction(instruction, message))
        .collect::<Result<_, _>>()?;
    Ok(Intent::Transaction {
        version: match message {
            VersionedMessage::Legacy(_) => "legacy",
            VersionedMessage::V0(_) => "v0",
            VersionedMessage::V1(_) => "v1",
        }
        .to_owned(),
        fee_payer: base58(fee_payer.as_array()),
        required_signers: usize::from(message.header().num_required_signatures),
        signer_index,
        recent_blockhash: base58(message.recent_blockhash().as_bytes()),
        instructions,
        uses_lookup_tables: message
            .address_table_lookups()
            .is_some_and(|lookups| !lookups.is_empty()),
    })
}

fn describe_instruction(
    instruction: &CompiledInstruction,
    message: &VersionedMessage,
) -> Result<InstructionIntent, ChainError> {
    // sanitize() guarantees program ids are static keys (v0 refuses program ids
    // from lookup tables), but do not index blindly.
    let program = static_key(message, instruction.program_id_index).ok_or_else(|| {
        ChainError::new(
            ErrorKind::InvalidTransaction,
            "transaction",
            "instruction calls a program that is not a static account",
        )
    })?;
    let system_transfer = if *program == SYSTEM_PROGRAM_ID {
        decode_transfer(instruction, message)
    } else {
        None
    };
    Ok(InstructionIntent {
        program_id: base58(program),
        accounts: instruction.accounts.len(),
        data_len: instruction.data.len(),
        system_transfer,
    })
}

/// Decodes System `Transfer`: `u32 LE 2 ‖ u64 LE lamports`, accounts `[from, to]`.
///
/// The System program reads its instruction with bincode allowing trailing
/// bytes, so data longer than 12 bytes still executes as a transfer. We
/// decode it as one too, or a policy could be dodged by appending junk.
fn decode_transfer(
    instruction: &CompiledInstruction,
    message: &VersionedMessage,
) -> Option<SystemTransfer> {
    let data = &instruction.data;
    let index = u32::from_le_bytes(data.get(..4)?.try_into().ok()?);
    if index != SYSTEM_TRANSFER {
        return None;
    }
    let lamports = u64::from_le_bytes(data.get(4..12)?.try_into().ok()?);
    // Accounts beyond the static keys come from lookup tables: unknown, never guessed.
    let account = |position: usize| {
        let index = *instruction.accounts.get(position)?;
        static_key(message, index).map(|key| base58(key))
    };
    Some(SystemTransfer {
        from: account(0),
        to: account(1),
        lamports,
    })
}

fn static_key(message: &VersionedMessage, index: u8) -> Option<&[u8; 32]> {
    message
        .static_account_keys()
        .get(usize::from(index))
        .map(|key| key.as_array())
}

fn base58(bytes: &[u8]) -> String {
    bs58::encode(bytes).into_string()
}
