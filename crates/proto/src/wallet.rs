//! Wallet bodies.

use serde::{Deserialize, Serialize};

/// The chains a wallet can be created for; each maps to one signature scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Chain {
    /// secp256k1 ECDSA (DKLs23); EIP-55 address.
    Evm,
    /// Ed25519 (FROST); base58 address.
    Solana,
}

impl Chain {
    pub fn as_str(self) -> &'static str {
        match self {
            Chain::Evm => "evm",
            Chain::Solana => "solana",
        }
    }

    pub fn parse(s: &str) -> Option<Chain> {
        match s {
            "evm" => Some(Chain::Evm),
            "solana" => Some(Chain::Solana),
            _ => None,
        }
    }
}

impl core::fmt::Display for Chain {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WalletStatus {
    Active,
    /// Cheating was detected in a ceremony; nothing signs until a complete refresh.
    Frozen,
    /// A status this client does not know (sent by a newer server): treat the wallet as
    /// not usable for signing.
    #[serde(other)]
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WalletInfo {
    pub id: String,
    pub chain: Chain,
    /// EIP-55 checksummed (EVM) or base58 (Solana).
    pub address: String,
    /// Hex: 33-byte compressed SEC1 (EVM) or 32 bytes (Solana).
    pub public_key: String,
    /// Increases by one with every refresh.
    pub epoch: u64,
    pub status: WalletStatus,
    /// Unix milliseconds.
    pub created_at: i64,
    /// When the whole private key was last exported (Unix ms): from then on the key has
    /// existed in one place, on the device that exported it. Absent if never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exported_at: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WalletList {
    pub wallets: Vec<WalletInfo>,
}
