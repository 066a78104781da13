//! What a client asks to sign: always a payload the server parses itself, never a digest.

use serde::{Deserialize, Serialize};

use crate::wallet::Chain;

/// How a text field is to be read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    #[default]
    Utf8,
    /// `0x`-prefixed or bare hex.
    Hex,
}

/// A signing request. The server computes the digest from it; `digest` exists only so that
/// such a request gets a precise refusal instead of a generic parse error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SignPayload {
    /// EIP-191 `personal_sign`.
    EvmMessage {
        message: String,
        #[serde(default)]
        encoding: Encoding,
    },
    /// EIP-712 typed data, as `eth_signTypedData_v4` takes it.
    EvmTypedData {
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        typed_data: serde_json::Value,
    },
    /// An unsigned transaction in its signing encoding, hex: legacy (EIP-155) RLP,
    /// `0x01 ‖ rlp` (EIP-2930) or `0x02 ‖ rlp` (EIP-1559).
    EvmTransaction {
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, pattern = "^(0[xX])?([0-9a-fA-F]{2})+$")
        )]
        transaction: String,
    },
    /// A serialized Solana transaction (signature slots may be empty), base64.
    SolanaTransaction {
        #[cfg_attr(
            feature = "openapi",
            schema(
                min_length = 1,
                pattern = "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
            )
        )]
        transaction: String,
    },
    /// A Solana off-chain message (not empty).
    SolanaMessage {
        #[cfg_attr(feature = "openapi", schema(min_length = 1))]
        message: String,
        #[serde(default)]
        encoding: Encoding,
    },
    /// Raw bytes signed as they are, as wallet-standard `solana:signMessage` does (what
    /// Sign-In-With-Solana and wallet-adapter `signMessage` verifiers check). Refused when
    /// the bytes parse as a transaction message or start with the off-chain message
    /// domain, so this can never sign a transaction blindly.
    SolanaRawMessage {
        message: String,
        #[serde(default)]
        encoding: Encoding,
    },
    /// Always refused with `digest_signing_refused`.
    Digest { digest: String },
}

impl SignPayload {
    /// The chain this payload belongs to (`None` for a bare digest).
    pub fn chain(&self) -> Option<Chain> {
        match self {
            SignPayload::EvmMessage { .. }
            | SignPayload::EvmTypedData { .. }
            | SignPayload::EvmTransaction { .. } => Some(Chain::Evm),
            SignPayload::SolanaTransaction { .. }
            | SignPayload::SolanaMessage { .. }
            | SignPayload::SolanaRawMessage { .. } => Some(Chain::Solana),
            SignPayload::Digest { .. } => None,
        }
    }
}

/// `POST /v1/wallets/{id}/preview`: what signing this payload would mean, without signing.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewResponse {
    /// Hex of what the scheme signs: the 32-byte digest (EVM) or the message bytes (Solana).
    pub signing_input: String,
    /// The parsed intent (kind-tagged), as the policy engine sees it.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub intent: serde_json::Value,
}

/// A released signature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignResult {
    /// EVM: `0x` hex of r ‖ s ‖ v (v = 27/28). Solana: base58 of the 64-byte signature.
    pub signature: String,
    /// EVM transactions: `0x` hex of the signed EIP-2718 transaction. Solana transactions:
    /// base64 of the signed wire transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_transaction: Option<String>,
    /// EVM transactions: `0x` hex of the transaction hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_hash: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub intent: serde_json::Value,
}
