//! The registry of KEKs in the database (`vault_keks`): which one new seals use (`active`),
//! which still open older shares (`previous`), and which are destroyed (`retired`).
//!
//! It lives in the database rather than in each server's configuration so that every
//! instance follows a rotation at once: a seal reads the active KEK in the same transaction
//! that stores the share (see `Wallets`), and a rotation switches it in one transaction.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use crate::config::VaultProviderKind;

use super::Keyring;

/// The lifecycle state of a registered KEK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KekState {
    /// New seals use it.
    Active,
    /// Replaced; still opens the shares not yet re-wrapped.
    Previous,
    /// Destroyed after no share named it any more.
    Retired,
}

impl KekState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Previous => "previous",
            Self::Retired => "retired",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "active" => Self::Active,
            "previous" => Self::Previous,
            // Anything unknown is treated as unusable.
            _ => Self::Retired,
        }
    }
}

/// One row of `vault_keks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KekRecord {
    pub kek_id: String,
    pub provider: String,
    pub state: KekState,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

const COLUMNS: &str = "kek_id, provider, state, created_at, retired_at";

fn decode(row: &AnyRow) -> Result<KekRecord, sqlx::Error> {
    let state: String = row.try_get("state")?;
    Ok(KekRecord {
        kek_id: row.try_get("kek_id")?,
        provider: row.try_get("provider")?,
        state: KekState::parse(&state),
        created_at: row.try_get("created_at")?,
        retired_at: row.try_get("retired_at")?,
    })
}

fn provider_of(kek_id: &str) -> &'static str {
    Keyring::kind_of(kek_id)
        .unwrap_or(VaultProviderKind::Local)
        .as_str()
}

/// The active KEK, if any is registered yet.
pub async fn active(pool: &AnyPool) -> Result<Option<KekRecord>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM vault_keks WHERE state = 'active'");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

/// The active KEK's id as seen inside a transaction (the seal guard).
pub async fn active_id_in(conn: &mut AnyConnection) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT kek_id FROM vault_keks WHERE state = 'active'")
        .fetch_optional(conn)
        .await?;
    row.map(|r| r.try_get("kek_id")).transpose()
}

/// Every registered KEK, oldest first.
pub async fn list(pool: &AnyPool) -> Result<Vec<KekRecord>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM vault_keks ORDER BY created_at, kek_id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await?;
    rows.iter().map(decode).collect()
}

/// Makes `kek_id` the active KEK inside `tx`: the current active one becomes `previous`,
/// and `kek_id` is inserted (or, if already registered, set) as `active`.
pub async fn activate_in(
    conn: &mut AnyConnection,
    kek_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE vault_keks SET state = 'previous' WHERE state = 'active' AND kek_id <> $1")
        .bind(kek_id)
        .execute(&mut *conn)
        .await?;
    let updated =
        sqlx::query("UPDATE vault_keks SET state = 'active', retired_at = NULL WHERE kek_id = $1")
            .bind(kek_id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    if updated == 0 {
        insert(conn, kek_id, "active", now).await?;
    }
    Ok(())
}

/// Registers `kek_id` as `previous` if it is not registered (a KEK found only in old rows).
pub async fn note_previous_in(
    conn: &mut AnyConnection,
    kek_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let known = sqlx::query("SELECT 1 AS one FROM vault_keks WHERE kek_id = $1")
        .bind(kek_id)
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
    if !known {
        insert(conn, kek_id, "previous", now).await?;
    }
    Ok(())
}

/// Registers a KEK not registered yet, in `state`.
async fn insert(
    conn: &mut AnyConnection,
    kek_id: &str,
    state: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO vault_keks (kek_id, provider, state, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(kek_id)
    .bind(provider_of(kek_id))
    .bind(state)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a `previous` KEK `retired`, only if no stored share or data-at-rest key names it. Returns whether it
/// did; the caller destroys the key only after this committed.
pub async fn retire_in(
    conn: &mut AnyConnection,
    kek_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "UPDATE vault_keks SET state = 'retired', retired_at = $1 \
         WHERE kek_id = $2 AND state = 'previous' \
         AND NOT EXISTS (SELECT 1 FROM server_shares WHERE kek_id = $2) \
         AND NOT EXISTS (SELECT 1 FROM vault_data_keys WHERE kek_id = $2)",
    )
    .bind(now)
    .bind(kek_id)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(changed == 1)
}
