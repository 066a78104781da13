//! Login tickets: what a login whose first factor passed holds while it waits for the second.
//! `tdl_` + base64url of 32 random bytes; only the SHA-256 is stored. A ticket works once,
//! for `accounts.second_factor_minutes`, and for at most [`MAX_TRIES`] second-factor tries.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use sqlx::Row;
use zeroize::Zeroizing;

use super::AccountError;
use crate::store::Store;

const PREFIX: &str = "tdl_";
/// Second-factor tries per ticket (the TOTP throttles bound them across tickets too).
pub const MAX_TRIES: i64 = 5;

fn hash(ticket: &str) -> Option<Vec<u8>> {
    let body = ticket.strip_prefix(PREFIX)?;
    let raw = Zeroizing::new(URL_SAFE_NO_PAD.decode(body).ok()?);
    (raw.len() == 32).then(|| Sha256::digest(raw.as_slice()).to_vec())
}

/// Issues a ticket for `user_id` after `first_method`.
pub(super) async fn issue(
    store: &Store,
    user_id: &str,
    first_method: &str,
    now: i64,
    ttl_ms: i64,
) -> Result<String, AccountError> {
    let mut raw = Zeroizing::new([0u8; 32]);
    getrandom::fill(raw.as_mut_slice())
        .map_err(|_| AccountError::Store(crate::store::StoreError::Random))?;
    let ticket = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw.as_slice()));
    let hash = Sha256::digest(raw.as_slice()).to_vec();
    // Old tickets go with each new one: the table holds minutes of logins.
    sqlx::query("DELETE FROM login_tickets WHERE expires_at <= $1")
        .bind(now)
        .execute(store.pool())
        .await?;
    sqlx::query(
        "INSERT INTO login_tickets (ticket_hash, user_id, first_method, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash)
    .bind(user_id)
    .bind(first_method)
    .bind(now)
    .bind(now.saturating_add(ttl_ms))
    .execute(store.pool())
    .await?;
    Ok(ticket)
}

/// Takes one try of a live ticket: its user and first method.
pub(super) async fn take_try(
    store: &Store,
    ticket: &str,
    now: i64,
) -> Result<(String, String), AccountError> {
    let hash = hash(ticket).ok_or(AccountError::TicketInvalid)?;
    let row = sqlx::query(
        "UPDATE login_tickets SET attempts = attempts + 1 \
         WHERE ticket_hash = $1 AND consumed_at IS NULL AND expires_at > $2 AND attempts < $3 \
         RETURNING user_id, first_method",
    )
    .bind(hash)
    .bind(now)
    .bind(MAX_TRIES)
    .fetch_optional(store.pool())
    .await?
    .ok_or(AccountError::TicketInvalid)?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// Uses the ticket up; fails if another request did first.
pub(super) async fn consume(store: &Store, ticket: &str, now: i64) -> Result<(), AccountError> {
    let hash = hash(ticket).ok_or(AccountError::TicketInvalid)?;
    let done = sqlx::query(
        "UPDATE login_tickets SET consumed_at = $2 WHERE ticket_hash = $1 AND consumed_at IS NULL",
    )
    .bind(hash)
    .bind(now)
    .execute(store.pool())
    .await?
    .rows_affected();
    if done == 1 {
        Ok(())
    } else {
        Err(AccountError::TicketInvalid)
    }
}
