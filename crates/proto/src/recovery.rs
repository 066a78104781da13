//! The recovery key, Backup Kits and online export.

use serde::{Deserialize, Serialize};

/// `PUT /v1/recovery`: the public halves of what the device derived from a new recovery
/// secret. The secret itself never leaves the device.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RecoveryKeyRequest {
    /// Hex of the X25519 recovery public key (32 bytes).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-fA-F]{64}$"))]
    pub public_key: String,
    /// Hex of SHA-256 of the recovery verifier (32 bytes).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-fA-F]{64}$"))]
    pub verifier_hash: String,
}

/// `GET /v1/recovery`, and the answer to `PUT`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryStatus {
    /// Whether a recovery secret is set up.
    pub configured: bool,
    /// The short name of the recovery public key (printed on every Backup Kit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// 1 for the first secret, one more per rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// When the secret was last set (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
}

/// `POST /v1/wallets/{id}/backup-kit`: the wallet's current server share sealed to the
/// recovery key, as the file the user saves.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BackupKitResponse {
    pub wallet_id: String,
    /// The epoch of the sealed share: the kit signs with the device's share of this epoch.
    pub epoch: u64,
    pub recovery_key_id: String,
    /// A suggested file name.
    pub file_name: String,
    /// The kit file (text).
    pub kit: String,
}

/// `POST /v1/wallets/{id}/export`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// Hex of a one-use X25519 key the device made for this export (32 bytes).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-fA-F]{64}$"))]
    pub public_key: String,
}

/// The answer to an export: the server's share, sealed to the device's one-use key.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportResponse {
    pub wallet_id: String,
    pub epoch: u64,
    /// Base64 of the sealed share (readable only with the device's one-use key).
    pub sealed_share: String,
}
