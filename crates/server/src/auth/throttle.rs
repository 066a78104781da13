//! Fixed-window counters in `auth_throttles`, taken atomically on both backends.
//!
//! One guarded UPSERT per bucket: it starts a new window, or adds a hit only while the window
//! has room, and returns a row only if the hit was taken. PostgreSQL re-checks the guard
//! against the row it locked (so concurrent requests queue instead of overshooting); SQLite
//! serialises writers. Callers take several buckets in one transaction, always in the same
//! order, and roll back if any is full, so a refused request costs nothing anywhere.

use sqlx::{AnyConnection, Row};

use super::policy::Budget;

/// One counter: a scope, the keyed hash of what it counts, and its budget.
pub(crate) struct Bucket {
    pub scope: &'static str,
    pub key: Vec<u8>,
    pub budget: Budget,
    /// Whether only the caller can fill it (its own client key is part of it). Only then may
    /// a refusal tell when the window ends: for a shared bucket that would reveal when
    /// someone else made a request.
    pub own: bool,
}

/// Takes one hit. `Ok(None)` if taken; `Ok(Some(retry_after_ms))` if the bucket is full.
pub(crate) async fn take(
    conn: &mut AnyConnection,
    bucket: &Bucket,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let window = bucket.budget.window_ms;
    let taken = sqlx::query(
        "INSERT INTO auth_throttles (scope, bucket, window_start, hits) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (scope, bucket) DO UPDATE SET \
           window_start = CASE WHEN auth_throttles.window_start <= $4 THEN $3 \
                               ELSE auth_throttles.window_start END, \
           hits = CASE WHEN auth_throttles.window_start <= $4 THEN 1 \
                       ELSE auth_throttles.hits + 1 END \
         WHERE auth_throttles.window_start <= $4 OR auth_throttles.hits < $5 \
         RETURNING hits",
    )
    .bind(bucket.scope)
    .bind(&bucket.key)
    .bind(now)
    .bind(now.saturating_sub(window))
    .bind(i64::from(bucket.budget.max))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = taken {
        let hits: i64 = row.try_get(0)?;
        // A budget of 0 still lets the insert of a new row through: refuse it here.
        if hits <= i64::from(bucket.budget.max) {
            return Ok(None);
        }
    }
    if !bucket.own {
        return Ok(Some(window.max(1)));
    }
    let start: Option<i64> = sqlx::query_scalar(
        "SELECT window_start FROM auth_throttles WHERE scope = $1 AND bucket = $2",
    )
    .bind(bucket.scope)
    .bind(&bucket.key)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(Some(
        start
            .map_or(window, |s| s.saturating_add(window) - now)
            .max(1),
    ))
}

/// Gives back a hit taken in the same transaction (e.g. a guess that turned out right).
pub(crate) async fn give_back(
    conn: &mut AnyConnection,
    bucket: &Bucket,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE auth_throttles SET hits = hits - 1 WHERE scope = $1 AND bucket = $2 AND hits > 0",
    )
    .bind(bucket.scope)
    .bind(&bucket.key)
    .execute(conn)
    .await?;
    Ok(())
}
