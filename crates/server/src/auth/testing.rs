//! Test support: read and rewrite the auth tables as a database reader or an older version
//! would. Never compiled into a product build.

use crate::store::Store;

use super::AuthError;

/// What is stored for a login attempt's code.
pub async fn stored_code_mac(store: &Store, attempt_id: &str) -> Result<Vec<u8>, AuthError> {
    Ok(
        sqlx::query_scalar("SELECT code_mac FROM otp_codes WHERE id = $1")
            .bind(attempt_id)
            .fetch_one(store.pool())
            .await?,
    )
}

/// Every user id, sorted.
pub async fn user_ids(store: &Store) -> Result<Vec<String>, AuthError> {
    Ok(sqlx::query_scalar("SELECT id FROM users ORDER BY id")
        .fetch_all(store.pool())
        .await?)
}

/// How many sessions have a sealed user agent.
pub async fn sealed_user_agents(store: &Store) -> Result<i64, AuthError> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_agent_sealed IS NOT NULL")
            .fetch_one(store.pool())
            .await?,
    )
}

/// Puts every user and session back in the clear form versions before the vault's
/// data-at-rest key wrote: `email` in clear for every user, `user_agent` in clear.
pub async fn make_legacy(store: &Store, email: &str, user_agent: &str) -> Result<(), AuthError> {
    sqlx::query("UPDATE users SET email = $1, email_index = NULL, email_sealed = NULL")
        .bind(email)
        .execute(store.pool())
        .await?;
    sqlx::query("UPDATE sessions SET user_agent = $1, user_agent_sealed = NULL")
        .bind(user_agent)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Deletes the vault's wrapped data-at-rest key, as a database writer could.
pub async fn delete_data_key(store: &Store) -> Result<(), AuthError> {
    sqlx::query("DELETE FROM vault_data_keys")
        .execute(store.pool())
        .await?;
    Ok(())
}
