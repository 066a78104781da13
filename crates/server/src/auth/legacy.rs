//! Start-up migration of identifiers stored in clear by earlier versions: user emails get
//! their sealed form and blind index (and the clear column is overwritten with the user id),
//! session user agents are sealed and cleared. Idempotent and safe to run on several
//! instances at once (every update is guarded by the row still being in its old form).

use sqlx::Row;

use super::AuthError;
use crate::store::{Backend, Store};
use crate::vault::PiiKeys;

/// What the migration converted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LegacyRows {
    pub users: u64,
    pub sessions: u64,
}

/// Seals every identifier still in clear.
pub async fn seal_legacy_rows(store: &Store, keys: &PiiKeys) -> Result<LegacyRows, AuthError> {
    let mut done = LegacyRows::default();
    let users = sqlx::query("SELECT id, email FROM users WHERE email_index IS NULL")
        .fetch_all(store.pool())
        .await?;
    for row in users {
        let id: String = row.try_get(0)?;
        let email: String = row.try_get(1)?;
        done.users += sqlx::query(
            "UPDATE users SET email_index = $1, email_sealed = $2, email = id \
             WHERE id = $3 AND email_index IS NULL",
        )
        .bind(keys.blind_index("email", &email))
        .bind(keys.seal("users", "email", &id, &email)?)
        .bind(&id)
        .execute(store.pool())
        .await?
        .rows_affected();
    }
    let sessions = sqlx::query("SELECT id, user_agent FROM sessions WHERE user_agent IS NOT NULL")
        .fetch_all(store.pool())
        .await?;
    for row in sessions {
        let id: String = row.try_get(0)?;
        let agent: String = row.try_get(1)?;
        done.sessions += sqlx::query(
            "UPDATE sessions SET user_agent_sealed = $1, user_agent = NULL \
             WHERE id = $2 AND user_agent IS NOT NULL",
        )
        .bind(keys.seal("sessions", "user_agent", &id, &agent)?)
        .bind(&id)
        .execute(store.pool())
        .await?
        .rows_affected();
    }
    if done != LegacyRows::default() && store.backend() == Backend::Sqlite {
        // The clear values are still in freed pages and in the WAL: rewrite the file without
        // them. (PostgreSQL keeps dead row versions until its own VACUUM reuses the space.)
        for sql in [
            "PRAGMA wal_checkpoint(TRUNCATE)",
            "VACUUM",
            "PRAGMA wal_checkpoint(TRUNCATE)",
        ] {
            sqlx::query(sql).execute(store.pool()).await?;
        }
    }
    Ok(done)
}
