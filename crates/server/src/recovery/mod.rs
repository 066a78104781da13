//! The exits from the 2-of-2 (DESIGN.md §6): the recovery key, Backup Kits and online export.
//!
//! The device makes the recovery secret and sends only what it derives publicly (the X25519
//! recovery key and the hash of a verifier), so nothing here can open a kit. A kit is sealed
//! on request from the wallet's current share: the server keeps no sealed copies, so the old
//! share a refresh destroys leaves no copy behind here either (security bar K2). Taking a kit
//! or an export needs a recent sign-in, plus a recent TOTP code when the account has TOTP
//! (K5); each is limited per day, recorded in `exits`, logged, counted and told to every
//! channel of the account. Recovery after losing every device is in `requests.rs`. Owns
//! `recovery_keys`, `exits`, `escrows` and `recovery_requests`.

mod config;
mod error;
mod events;
pub mod http;
mod requests;

use sqlx::Row;
use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::ed25519::Ed25519;
use tandem_mpc::{ExportedShare, KeyShare, Scheme};
use tandem_proto::wallet::Chain;
use tandem_recovery::{BackupKit, KitLabels, key_id, transfer};

pub use config::RecoveryConfig;
pub use error::RecoveryError;
pub use events::RecoveryEvent;
pub use requests::{Completed, RecoveryRequest, StoredEscrow};

use crate::account::Accounts;
use crate::auth::Budget;
use crate::auth::throttle::{Bucket, take};
use crate::clock::SharedClock;
use crate::principal::Principal;
use crate::store::{Step, Store, new_id};
use crate::wallets::{WalletRecord, Wallets};

/// The tables of this module.
pub const MIGRATIONS: &[Step] = &[
    Step {
        version: 10,
        description: "recovery keys and exits",
        sqlite: include_str!("migrations/sqlite/0010_recovery.sql"),
        postgres: include_str!("migrations/postgres/0010_recovery.sql"),
    },
    Step {
        version: 12,
        description: "recovery requests and escrows",
        sqlite: include_str!("migrations/sqlite/0012_recovery_requests.sql"),
        postgres: include_str!("migrations/postgres/0012_recovery_requests.sql"),
    },
];

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// An account's recovery key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryKey {
    pub public_key: [u8; 32],
    pub version: u32,
    pub updated_at: i64,
}

impl RecoveryKey {
    pub fn key_id(&self) -> String {
        key_id(&self.public_key)
    }
}

/// A Backup Kit as handed to the user.
#[derive(Debug, Clone)]
pub struct IssuedKit {
    pub wallet_id: String,
    pub epoch: u64,
    pub recovery_key_id: String,
    pub text: String,
}

/// An export as handed to the device.
#[derive(Debug, Clone)]
pub struct SealedExport {
    pub wallet_id: String,
    pub epoch: u64,
    /// Sealed to the device's one-use key; unreadable to anyone else.
    pub sealed: Vec<u8>,
}

/// What leaves with an exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExitKind {
    BackupKit,
    Export,
}

impl ExitKind {
    fn as_str(self) -> &'static str {
        match self {
            ExitKind::BackupKit => "backup_kit",
            ExitKind::Export => "export",
        }
    }
}

/// The recovery service. Cheap to clone.
#[derive(Clone)]
pub struct Recovery {
    store: Store,
    clock: SharedClock,
    accounts: Accounts,
    wallets: Wallets,
    config: RecoveryConfig,
}

impl std::fmt::Debug for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recovery")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Recovery {
    pub fn new(
        store: Store,
        clock: SharedClock,
        accounts: Accounts,
        wallets: Wallets,
        config: RecoveryConfig,
    ) -> Self {
        Self {
            store,
            clock,
            accounts,
            wallets,
            config,
        }
    }

    /// The account's recovery key, if one is set up.
    pub async fn key(&self, user_id: &str) -> Result<Option<RecoveryKey>, RecoveryError> {
        let row = sqlx::query(
            "SELECT public_key, version, updated_at FROM recovery_keys WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.store.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let public_key: Vec<u8> = row.try_get("public_key")?;
        let version: i64 = row.try_get("version")?;
        Ok(Some(RecoveryKey {
            public_key: public_key
                .try_into()
                .map_err(|_| RecoveryError::Seal("stored recovery key is damaged".into()))?,
            version: u32::try_from(version).unwrap_or(u32::MAX),
            updated_at: row.try_get("updated_at")?,
        }))
    }

    /// Sets the recovery key, or replaces it (rotation). Needs a step-up. Kits sealed from now
    /// on use the new key; kits saved before keep opening with the old secret.
    pub async fn set_key(
        &self,
        principal: &Principal,
        public_key: [u8; 32],
        verifier_hash: [u8; 32],
    ) -> Result<RecoveryKey, RecoveryError> {
        self.accounts.require_recent(principal).await?;
        if public_key == [0u8; 32] {
            return Err(RecoveryError::Invalid {
                field: "public_key",
                reason: "is not a usable X25519 public key",
            });
        }
        let now = self.clock.now_ms();
        let mut tx = self.store.begin_write().await?;
        let previous: Option<i64> =
            sqlx::query_scalar("SELECT version FROM recovery_keys WHERE user_id = $1")
                .bind(&principal.user_id)
                .fetch_optional(&mut *tx)
                .await?;
        let version = previous.map_or(1, |v| v.saturating_add(1));
        sqlx::query(
            "INSERT INTO recovery_keys (user_id, public_key, verifier_hash, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (user_id) DO UPDATE SET public_key = $2, verifier_hash = $3, \
               version = $4, updated_at = $5",
        )
        .bind(&principal.user_id)
        .bind(public_key.as_slice())
        .bind(verifier_hash.as_slice())
        .bind(version)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let event = if previous.is_some() {
            RecoveryEvent::KeyRotated
        } else {
            RecoveryEvent::KeySet
        };
        self.emit(principal, &event).await;
        Ok(RecoveryKey {
            public_key,
            version: u32::try_from(version).unwrap_or(u32::MAX),
            updated_at: now,
        })
    }

    /// Seals the wallet's current server share to the account's recovery key.
    pub async fn backup_kit(
        &self,
        principal: &Principal,
        wallet_id: &str,
    ) -> Result<IssuedKit, RecoveryError> {
        self.accounts.require_strong(principal).await?;
        let key = self
            .key(&principal.user_id)
            .await?
            .ok_or(RecoveryError::NotSetUp)?;
        let (wallet, kit) = self
            .exit(
                principal,
                wallet_id,
                ExitKind::BackupKit,
                |wallet, share| {
                    let kit = match wallet.chain {
                        Chain::Evm => seal_kit::<Secp256k1>(share, &key.public_key),
                        Chain::Solana => seal_kit::<Ed25519>(share, &key.public_key),
                    }?;
                    Ok(kit.to_text(&KitLabels {
                        chain: wallet.chain.as_str().to_owned(),
                        address: wallet.address.clone(),
                        issued_at: tandem_proto::rfc3339(self.clock.now_ms()),
                    }))
                },
            )
            .await?;
        self.emit(
            principal,
            &RecoveryEvent::KitIssued {
                wallet: wallet.id.clone(),
                epoch: wallet.epoch,
            },
        )
        .await;
        Ok(IssuedKit {
            wallet_id: wallet.id,
            epoch: wallet.epoch,
            recovery_key_id: key.key_id(),
            text: kit,
        })
    }

    /// Seals the wallet's current server share to a one-use key of the requesting device,
    /// for it to combine the whole private key, and marks the wallet exported.
    pub async fn export(
        &self,
        principal: &Principal,
        wallet_id: &str,
        device_key: [u8; 32],
    ) -> Result<SealedExport, RecoveryError> {
        self.accounts.require_strong(principal).await?;
        let (wallet, sealed) = self
            .exit(principal, wallet_id, ExitKind::Export, |wallet, share| {
                let plain = match wallet.chain {
                    Chain::Evm => export_bytes::<Secp256k1>(share),
                    Chain::Solana => export_bytes::<Ed25519>(share),
                }?;
                transfer::seal(
                    &device_key,
                    transfer::Purpose::Export,
                    &transfer::context(&wallet.id, wallet.epoch),
                    &plain,
                )
                .map_err(|e| RecoveryError::Invalid {
                    field: "public_key",
                    reason: match e {
                        tandem_recovery::TransferError::Seal(r) => r,
                        _ => "is not usable",
                    },
                })
            })
            .await?;
        self.wallets.mark_exported(&wallet.id).await?;
        self.emit(
            principal,
            &RecoveryEvent::Exported {
                wallet: wallet.id.clone(),
            },
        )
        .await;
        Ok(SealedExport {
            wallet_id: wallet.id,
            epoch: wallet.epoch,
            sealed,
        })
    }

    /// The one path a server share leaves by: the daily limit taken, the share opened and
    /// sealed by `seal`, the exit recorded, all in one transaction (a failure anywhere costs
    /// the user nothing from the limit).
    async fn exit<T>(
        &self,
        principal: &Principal,
        wallet_id: &str,
        kind: ExitKind,
        seal: impl FnOnce(&WalletRecord, &[u8]) -> Result<T, RecoveryError>,
    ) -> Result<(WalletRecord, T), RecoveryError> {
        let (wallet, share) = self
            .wallets
            .open_current(&principal.user_id, wallet_id)
            .await?;
        let sealed = seal(&wallet, &share)?;
        drop(share);
        let now = self.clock.now_ms();
        let max = match kind {
            ExitKind::BackupKit => self.config.kits_per_day,
            ExitKind::Export => self.config.exports_per_day,
        };
        let mut tx = self.store.begin_write().await?;
        let bucket = Bucket {
            scope: kind.as_str(),
            key: principal.user_id.as_bytes().to_vec(),
            budget: Budget {
                max,
                window_ms: DAY_MS,
            },
            own: true,
        };
        if let Some(retry_after_ms) = take(&mut tx, &bucket, now).await? {
            tx.rollback().await?;
            return Err(RecoveryError::RateLimited {
                what: match kind {
                    ExitKind::BackupKit => "Backup Kits",
                    ExitKind::Export => "exports",
                },
                retry_after_ms,
            });
        }
        sqlx::query(
            "INSERT INTO exits (id, user_id, wallet_id, kind, epoch, session_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(new_id()?)
        .bind(&principal.user_id)
        .bind(&wallet.id)
        .bind(kind.as_str())
        .bind(i64::try_from(wallet.epoch).unwrap_or(i64::MAX))
        .bind(&principal.session_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((wallet, sealed))
    }

    async fn emit(&self, principal: &Principal, event: &RecoveryEvent) {
        event.record(&principal.user_id, &principal.session_id);
        self.accounts
            .tell(&principal.user_id, &event.notice())
            .await;
    }
}

fn seal_kit<S: Scheme>(share: &[u8], recovery_key: &[u8; 32]) -> Result<BackupKit, RecoveryError> {
    let share = KeyShare::<S>::from_bytes(share).map_err(|e| RecoveryError::Seal(e.to_string()))?;
    BackupKit::seal(&share, recovery_key).map_err(|e| RecoveryError::Seal(e.to_string()))
}

fn export_bytes<S: Scheme>(share: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>, RecoveryError> {
    let share = KeyShare::<S>::from_bytes(share).map_err(|e| RecoveryError::Seal(e.to_string()))?;
    ExportedShare::from_server_share(share)
        .and_then(|s| s.to_bytes())
        .map_err(|e| RecoveryError::Seal(e.to_string()))
}
