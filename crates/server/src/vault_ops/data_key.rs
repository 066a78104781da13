//! The vault's data-at-rest root key (`vault_data_keys`): 32 random bytes, created once per
//! deployment, stored only wrapped under a KEK like share data keys, unwrapped at start and
//! held in memory ([`PiiKeys`]). A rotation re-wraps it; its value never changes, so code MACs
//! and blind indexes made before a rotation still match after it.

use sqlx::{AnyPool, Row};
use zeroize::Zeroizing;

use crate::vault::{Keyring, PiiKeys, VaultError};

use super::VaultOpsError;

/// The row holding the root of [`PiiKeys`].
const PII_ROOT: &str = "pii-v1";

/// Binds a wrapped root key to its name (and keeps it apart from share data keys, whose
/// associated data starts with another domain).
fn aad(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for part in [b"tandem-data-key".as_slice(), name.as_bytes()] {
        out.extend_from_slice(&(part.len() as u64).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

async fn stored(pool: &AnyPool, name: &str) -> Result<Option<(String, Vec<u8>)>, sqlx::Error> {
    let row = sqlx::query("SELECT kek_id, wrapped_key FROM vault_data_keys WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
}

/// Unwraps the root key, creating it under `active_kek` on a database that has none yet.
pub async fn load_or_create(
    pool: &AnyPool,
    keyring: &Keyring,
    active_kek: &str,
    now: i64,
) -> Result<PiiKeys, VaultOpsError> {
    if stored(pool, PII_ROOT).await?.is_none() {
        // A fresh key would silently orphan every sealed row (no user found by email any
        // more, each login a new empty account): refuse instead, someone deleted the key.
        let sealed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email_index IS NOT NULL")
                .fetch_one(pool)
                .await?;
        if sealed > 0 {
            return Err(VaultOpsError::Setup(format!(
                "the data-at-rest key (vault_data_keys `{PII_ROOT}`) is missing but {sealed} \
                 users are sealed under it: restore the row from a backup"
            )));
        }
        let mut root = Zeroizing::new([0u8; 32]);
        getrandom::fill(root.as_mut_slice()).map_err(|_| VaultError::Random)?;
        let wrapped = keyring.get(active_kek)?.wrap(&root, &aad(PII_ROOT))?;
        // Instances starting together race here: the first insert wins and every instance
        // then uses the stored key.
        sqlx::query(
            "INSERT INTO vault_data_keys (name, kek_id, wrapped_key, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
        )
        .bind(PII_ROOT)
        .bind(active_kek)
        .bind(wrapped)
        .bind(now)
        .execute(pool)
        .await?;
    }
    let (kek_id, wrapped) = stored(pool, PII_ROOT)
        .await?
        .ok_or_else(|| VaultOpsError::Setup("the data-at-rest key vanished".to_owned()))?;
    let root = keyring
        .get(&kek_id)
        .and_then(|kek| kek.unwrap(&wrapped, &aad(PII_ROOT)))
        .map_err(|e| {
            VaultOpsError::Setup(format!(
                "the data-at-rest key (wrapped under KEK `{kek_id}`) does not open here: {e}"
            ))
        })?;
    Ok(PiiKeys::derive(&root))
}

/// Re-wraps every data-at-rest key not under `to`. Returns how many moved.
pub async fn rewrap_all(pool: &AnyPool, keyring: &Keyring, to: &str) -> Result<u64, VaultOpsError> {
    let rows =
        sqlx::query("SELECT name, kek_id, wrapped_key FROM vault_data_keys WHERE kek_id <> $1")
            .bind(to)
            .fetch_all(pool)
            .await?;
    let mut moved = 0;
    for row in rows {
        let name: String = row.try_get(0)?;
        let from: String = row.try_get(1)?;
        let wrapped: Vec<u8> = row.try_get(2)?;
        let root = keyring.get(&from)?.unwrap(&wrapped, &aad(&name))?;
        let rewrapped = keyring.get(to)?.wrap(&root, &aad(&name))?;
        // Guarded by the old KEK: a concurrent rotation that got there first wins.
        moved += sqlx::query(
            "UPDATE vault_data_keys SET kek_id = $1, wrapped_key = $2 WHERE name = $3 AND kek_id = $4",
        )
        .bind(to)
        .bind(rewrapped)
        .bind(&name)
        .bind(&from)
        .execute(pool)
        .await?
        .rows_affected();
    }
    Ok(moved)
}
