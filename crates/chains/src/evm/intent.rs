//! What an EVM payload does, in a form a person or a policy engine can check.

use serde::Serialize;

/// A description of an EVM payload, computed from the payload itself (never
/// supplied by the client). Serialized with a `kind` tag, e.g.
/// `{"kind":"transaction","tx_type":"eip1559",...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Intent {
    /// An EIP-191 `personal_sign` message.
    PersonalSign {
        /// Message length in bytes.
        length: usize,
        /// The message as text if it is valid UTF-8, cut to 200 characters.
        utf8: Option<String>,
    },
    /// EIP-712 typed data.
    TypedData {
        /// `primaryType` of the typed data.
        primary_type: String,
        /// `domain.name`, if present.
        domain_name: Option<String>,
        /// `domain.chainId`, if present.
        chain_id: Option<u64>,
        /// `domain.verifyingContract` (EIP-55 checksummed), if present.
        verifying_contract: Option<String>,
    },
    /// An unsigned transaction.
    Transaction {
        /// `"legacy"`, `"eip2930"` or `"eip1559"`.
        tx_type: String,
        /// Chain id the signature will be bound to (never 0).
        chain_id: u64,
        /// Sender nonce.
        nonce: u64,
        /// Recipient (EIP-55 checksummed); `None` means contract creation.
        to: Option<String>,
        /// Value sent, in wei, as a decimal string (it can exceed u64/u128).
        value_wei: String,
        /// Gas limit.
        gas_limit: u64,
        /// Highest price per gas the sender can pay, in wei, decimal: the gas
        /// price (legacy, EIP-2930) or `maxFeePerGas` (EIP-1559). With
        /// `gas_limit` it bounds the fee: `gas_limit * max_fee_per_gas_wei`.
        max_fee_per_gas_wei: String,
        /// Length of the calldata in bytes.
        data_len: usize,
        /// First four calldata bytes as `0x`-hex (the ABI function selector),
        /// when there are at least four.
        selector: Option<String>,
    },
}
