//! The transaction types we sign, behind one enum.

use alloy_consensus::{
    SignableTransaction as _, Transaction as _, TxEip1559, TxEip2930, TxEnvelope, TxLegacy,
};
use alloy_primitives::{Bytes, Signature, TxKind, U256};

/// An unsigned transaction of a type we accept. EIP-4844 (blobs) and
/// EIP-7702 (code delegation) are left out on purpose: the first cannot be
/// broadcast without its sidecar, the second hands control of the account
/// to other code and needs its own policy before we sign it.
#[derive(Clone, Debug)]
pub(crate) enum UnsignedTx {
    Legacy(TxLegacy),
    Eip2930(TxEip2930),
    Eip1559(TxEip1559),
}

impl UnsignedTx {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Self::Legacy(_) => "legacy",
            Self::Eip2930(_) => "eip2930",
            Self::Eip1559(_) => "eip1559",
        }
    }

    /// `keccak256` of the EIP-155 / EIP-2718 signing encoding.
    pub(crate) fn signature_hash(&self) -> [u8; 32] {
        match self {
            Self::Legacy(tx) => tx.signature_hash().0,
            Self::Eip2930(tx) => tx.signature_hash().0,
            Self::Eip1559(tx) => tx.signature_hash().0,
        }
    }

    /// The chain id; legacy transactions without one never get this far.
    pub(crate) fn chain_id(&self) -> Option<u64> {
        match self {
            Self::Legacy(tx) => tx.chain_id,
            Self::Eip2930(tx) => Some(tx.chain_id),
            Self::Eip1559(tx) => Some(tx.chain_id),
        }
    }

    pub(crate) fn nonce(&self) -> u64 {
        self.with(|tx| tx.nonce(), |tx| tx.nonce(), |tx| tx.nonce())
    }

    pub(crate) fn gas_limit(&self) -> u64 {
        self.with(
            |tx| tx.gas_limit(),
            |tx| tx.gas_limit(),
            |tx| tx.gas_limit(),
        )
    }

    pub(crate) fn max_fee_per_gas(&self) -> u128 {
        self.with(
            |tx| tx.max_fee_per_gas(),
            |tx| tx.max_fee_per_gas(),
            |tx| tx.max_fee_per_gas(),
        )
    }

    pub(crate) fn kind(&self) -> TxKind {
        self.with(|tx| tx.kind(), |tx| tx.kind(), |tx| tx.kind())
    }

    pub(crate) fn value(&self) -> U256 {
        self.with(|tx| tx.value(), |tx| tx.value(), |tx| tx.value())
    }

    pub(crate) fn input(&self) -> &Bytes {
        match self {
            Self::Legacy(tx) => &tx.input,
            Self::Eip2930(tx) => &tx.input,
            Self::Eip1559(tx) => &tx.input,
        }
    }

    /// Attaches the signature. For legacy transactions alloy writes the
    /// EIP-155 `v = chainId * 2 + 35 + y_parity`.
    pub(crate) fn into_envelope(self, signature: Signature) -> TxEnvelope {
        match self {
            Self::Legacy(tx) => TxEnvelope::Legacy(tx.into_signed(signature)),
            Self::Eip2930(tx) => TxEnvelope::Eip2930(tx.into_signed(signature)),
            Self::Eip1559(tx) => TxEnvelope::Eip1559(tx.into_signed(signature)),
        }
    }

    fn with<R>(
        &self,
        legacy: impl FnOnce(&TxLegacy) -> R,
        eip2930: impl FnOnce(&TxEip2930) -> R,
        eip1559: impl FnOnce(&TxEip1559) -> R,
    ) -> R {
        match self {
            Self::Legacy(tx) => legacy(tx),
            Self::Eip2930(tx) => eip2930(tx),
            Self::Eip1559(tx) => eip1559(tx),
        }
    }
}
