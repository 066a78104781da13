//! The `social_flows` table: one row per sign-in or linking, used once at each of its two
//! steps (the provider's callback, then the client's finish). Each step is one guarded UPDATE
//! that only one request can win, so a replayed state or code finds nothing.

use sqlx::Row;

use super::SocialError;
use crate::store::Store;

/// What a flow is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Login,
    Link,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Login => "login",
            Purpose::Link => "link",
        }
    }
}

/// A new flow's row.
pub struct NewFlow<'a> {
    pub id: &'a str,
    pub state_hash: &'a [u8],
    pub provider: &'a str,
    pub purpose: Purpose,
    pub user_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub redirect_uri: &'a str,
    pub code_challenge: &'a str,
    pub secrets_sealed: &'a [u8],
    pub now: i64,
    pub expires_at: i64,
}

pub async fn insert(store: &Store, f: &NewFlow<'_>) -> Result<(), SocialError> {
    sqlx::query(
        "INSERT INTO social_flows (id, state_hash, provider, purpose, user_id, session_id, \
         redirect_uri, code_challenge, secrets_sealed, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(f.id)
    .bind(f.state_hash.to_vec())
    .bind(f.provider)
    .bind(f.purpose.as_str())
    .bind(f.user_id)
    .bind(f.session_id)
    .bind(f.redirect_uri)
    .bind(f.code_challenge)
    .bind(f.secrets_sealed.to_vec())
    .bind(f.now)
    .bind(f.expires_at)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// A flow as the callback finds it.
pub struct CalledBack {
    pub id: String,
    pub provider: String,
    pub redirect_uri: String,
    pub secrets_sealed: Vec<u8>,
}

/// Claims the flow of a state for its callback: `None` if unknown, already called back or
/// expired.
pub async fn take_callback(
    store: &Store,
    state_hash: &[u8],
    now: i64,
) -> Result<Option<CalledBack>, SocialError> {
    let row = sqlx::query(
        "UPDATE social_flows SET called_back_at = $2 \
         WHERE state_hash = $1 AND called_back_at IS NULL AND expires_at > $2 \
         RETURNING id, provider, redirect_uri, secrets_sealed",
    )
    .bind(state_hash.to_vec())
    .bind(now)
    .fetch_optional(store.pool())
    .await?;
    row.map(|r| {
        Ok(CalledBack {
            id: r.try_get(0)?,
            provider: r.try_get(1)?,
            redirect_uri: r.try_get(2)?,
            secrets_sealed: r.try_get(3)?,
        })
    })
    .transpose()
}

/// Records the verified identity and the one-time code the client finishes with.
pub async fn complete_callback(
    store: &Store,
    id: &str,
    code_hash: &[u8],
    code_expires_at: i64,
    subject_sealed: &[u8],
) -> Result<(), SocialError> {
    sqlx::query(
        "UPDATE social_flows SET code_hash = $2, code_expires_at = $3, subject_sealed = $4 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(code_hash.to_vec())
    .bind(code_expires_at)
    .bind(subject_sealed.to_vec())
    .execute(store.pool())
    .await?;
    Ok(())
}

/// A flow as the finish finds it.
pub struct Finished {
    pub id: String,
    pub purpose: String,
    pub session_id: Option<String>,
    pub code_challenge: String,
    pub subject_sealed: Vec<u8>,
}

/// Claims the flow of a one-time code: `None` if unknown, used or expired. The code is spent
/// whatever follows (a wrong verifier included), so a verifier cannot be guessed at.
pub async fn take_finish(
    store: &Store,
    code_hash: &[u8],
    now: i64,
) -> Result<Option<Finished>, SocialError> {
    let row = sqlx::query(
        "UPDATE social_flows SET finished_at = $2 \
         WHERE code_hash = $1 AND finished_at IS NULL AND code_expires_at > $2 \
         AND subject_sealed IS NOT NULL \
         RETURNING id, purpose, session_id, code_challenge, subject_sealed",
    )
    .bind(code_hash.to_vec())
    .bind(now)
    .fetch_optional(store.pool())
    .await?;
    row.map(|r| {
        Ok(Finished {
            id: r.try_get(0)?,
            purpose: r.try_get(1)?,
            session_id: r.try_get(2)?,
            code_challenge: r.try_get(3)?,
            subject_sealed: r.try_get(4)?,
        })
    })
    .transpose()
}

/// Deletes flows that can matter no more.
pub async fn prune(store: &Store, now: i64) -> Result<u64, SocialError> {
    Ok(
        sqlx::query("DELETE FROM social_flows WHERE expires_at < $1")
            .bind(now.saturating_sub(3_600_000))
            .execute(store.pool())
            .await?
            .rows_affected(),
    )
}
