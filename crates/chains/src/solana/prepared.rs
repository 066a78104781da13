//! A parsed Solana payload waiting for its signature, and its intent.

use serde::Serialize;
use solana_transaction::versioned::VersionedTransaction;

/// The result of a `prepare_*` call: the bytes to sign, what they mean, and
/// what [`super::finish`] needs. Only this crate's `prepare_*` functions can
/// build it, so `message` always comes from a parsed payload.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The exact bytes the Ed25519 signature covers: the serialized
    /// transaction message, or the serialized off-chain message.
    pub message: Vec<u8>,
    /// What the payload does.
    pub intent: Intent,
    pub(crate) signer: [u8; 32],
    pub(crate) assembly: Assembly,
}

/// What [`super::finish`] builds around the signature.
#[derive(Clone, Debug)]
pub(crate) enum Assembly {
    /// Put the signature into slot `signer_index` of `transaction`.
    Transaction {
        transaction: VersionedTransaction,
        signer_index: usize,
    },
    /// Off-chain and raw messages: the signature alone is the output.
    Offchain,
}

/// A description of a Solana payload, computed from the payload itself.
/// Serialized with a `kind` tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Intent {
    /// A transaction message.
    Transaction {
        /// `"legacy"` or `"v0"`.
        version: String,
        /// The fee payer (first account), base58.
        fee_payer: String,
        /// How many signatures the transaction needs in total.
        required_signers: usize,
        /// Which signature slot (and account) is ours.
        signer_index: usize,
        /// Recent blockhash (or durable nonce value), base58.
        recent_blockhash: String,
        /// The instructions, in execution order.
        instructions: Vec<InstructionIntent>,
        /// Whether accounts are loaded from address lookup tables (v0). Those
        /// accounts are unknown here: resolving them needs chain state.
        uses_lookup_tables: bool,
    },
    /// An off-chain message.
    Offchain {
        /// Message body length in bytes.
        length: usize,
        /// The message as text if it is valid UTF-8, cut to 200 characters.
        utf8: Option<String>,
        /// `"restricted_ascii"`, `"limited_utf8"` or `"extended_utf8"`.
        format: String,
        /// The application domain, base58 (all zeros unless one was given).
        application_domain: String,
    },
    /// Raw bytes signed as they are (`solana:signMessage`); never a transaction message.
    RawMessage {
        /// Message length in bytes.
        length: usize,
        /// The message as text if it is valid UTF-8, cut to 200 characters.
        utf8: Option<String>,
    },
}

/// One instruction of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InstructionIntent {
    /// The program called, base58.
    pub program_id: String,
    /// Number of accounts passed to the program.
    pub accounts: usize,
    /// Instruction data length in bytes.
    pub data_len: usize,
    /// Set when this is a System program `Transfer`.
    pub system_transfer: Option<SystemTransfer>,
}

/// A decoded System program `Transfer` (instruction index 2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SystemTransfer {
    /// Source account, base58; `None` when it is loaded from an address
    /// lookup table (unknown without chain state) or missing.
    pub from: Option<String>,
    /// Destination account, base58; `None` when it is loaded from an address
    /// lookup table (unknown without chain state) or missing. A policy must
    /// treat `None` as "any destination", never as "not this destination".
    pub to: Option<String>,
    /// Amount in lamports.
    pub lamports: u64,
}
