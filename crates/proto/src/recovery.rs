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
    /// Hex of the recovery public key (what devices seal escrows to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// The escrows the server holds, one per wallet.
    #[serde(default)]
    pub escrows: Vec<EscrowInfo>,
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

/// `PUT /v1/wallets/{id}/escrow`: this device's share of the wallet at its current epoch,
/// sealed to the recovery key (the server cannot open it).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EscrowRequest {
    /// Base64 of the sealed escrow.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1048576))]
    pub sealed: String,
}

/// Which epoch of a wallet the server holds an escrow of.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EscrowInfo {
    pub wallet_id: String,
    pub epoch: u64,
    /// The version of the recovery key it is sealed to (see [`RecoveryStatus::version`]).
    pub key_version: u32,
}

/// `POST /v1/recovery/requests` and `/complete`: proof of the recovery secret.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RecoveryProof {
    /// Hex of the verifier the recovery secret derives (32 bytes).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-fA-F]{64}$"))]
    pub verifier: String,
}

impl core::fmt::Debug for RecoveryProof {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RecoveryProof([redacted])")
    }
}

/// A recovery request.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryRequestInfo {
    pub id: String,
    /// `pending`, `cancelled` or `completed`.
    pub state: String,
    pub created_at: i64,
    /// When it may complete (Unix ms).
    pub not_before: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<i64>,
}

/// A device share sealed to the recovery key, handed to the recovering device.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SealedEscrow {
    pub wallet_id: String,
    pub epoch: u64,
    /// Base64 of the escrow (opens only with the recovery secret).
    pub sealed: String,
}

/// `POST /v1/recovery/requests/complete`: a new session for this device (every other session
/// of the account has ended), and the escrows to open with the recovery secret. Every wallet
/// is frozen until this session runs its complete refresh.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryCompleted {
    pub request: RecoveryRequestInfo,
    /// The new session (its token is redacted in `Debug`).
    pub login: crate::auth::LoginResponse,
    pub escrows: Vec<SealedEscrow>,
}

impl core::fmt::Debug for RecoveryCompleted {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecoveryCompleted")
            .field("request", &self.request)
            .field("login", &self.login)
            .field("escrows", &self.escrows.len())
            .finish()
    }
}
