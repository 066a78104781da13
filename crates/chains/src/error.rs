//! The one error type of this crate.
//!
//! Every refusal names the input field it is about and says why in words that
//! are safe to show to the end user: this crate only ever sees public payloads
//! (transactions, messages, public keys, signatures), never secrets.

/// What kind of problem was found. Stable, so callers can map it to API error
/// codes and the policy engine can reason about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Text that should be hex is not.
    InvalidHex,
    /// Text that should be base64 is not.
    InvalidBase64,
    /// Bytes that should be RLP are malformed, non-canonical or have trailing data.
    InvalidRlp,
    /// The bytes decode but do not form a transaction we can sign.
    InvalidTransaction,
    /// A transaction type we deliberately do not sign (EIP-4844, EIP-7702, Solana v1, unknown).
    UnsupportedTransactionType,
    /// The payload already carries a signature: we only sign unsigned payloads.
    AlreadySigned,
    /// No (or a zero) chain id: the signature could be replayed on other chains.
    MissingChainId,
    /// EIP-712 typed data is malformed or ambiguous.
    InvalidTypedData,
    /// A message to sign is empty or violates its format.
    InvalidMessage,
    /// The key asked to sign is not a required signer of the payload.
    NotASigner,
    /// Bytes that should be a public key are not a valid point.
    InvalidPublicKey,
    /// A signature is malformed or does not verify.
    InvalidSignature,
    /// The input exceeds the size limit for its kind.
    TooLarge,
}

/// A refusal: which input field, what kind of problem, and a user-safe detail.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct ChainError {
    /// What kind of problem was found.
    pub kind: ErrorKind,
    /// The input field the problem is about (e.g. `"transaction"`, `"typed_data"`).
    pub field: &'static str,
    /// Human-readable explanation, safe to show to a user.
    pub detail: String,
}

impl ChainError {
    /// Builds an error; `detail` should read as the end of "`<field>`: ...".
    pub fn new(kind: ErrorKind, field: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind,
            field,
            detail: detail.into(),
        }
    }
}
