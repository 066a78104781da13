//! The session service.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::SessionError;
use super::sockets::{SocketCaps, SocketRegistry};
use super::token::{self, SessionToken};
use crate::clock::SharedClock;
use crate::config::SessionsConfig;
use crate::store::{Store, new_id};
use crate::vault::PiiKeys;

/// Session lifetimes in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// Idle lifetime: a session expires this long after creation or its last refresh.
    pub lifetime_ms: i64,
    /// Absolute limit from creation, whatever the refreshes.
    pub absolute_ms: i64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self::from_settings(&SessionsConfig::default())
    }
}

impl SessionConfig {
    /// From the `[sessions]` configuration (minutes and hours).
    pub fn from_settings(settings: &SessionsConfig) -> Self {
        let ms = |v: u64, unit: i64| {
            i64::try_from(v)
                .unwrap_or(i64::MAX / unit)
                .saturating_mul(unit)
        };
        Self {
            lifetime_ms: ms(settings.lifetime_minutes, 60_000),
            absolute_ms: ms(settings.absolute_hours, 3_600_000),
        }
    }
}

/// A session as stored (never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Session id (not secret; used to list and revoke).
    pub id: String,
    /// Its user.
    pub user_id: String,
    /// How the user authenticated (e.g. `email_otp`), for step-up decisions.
    pub auth_method: String,
    /// The client's User-Agent when the session was created, if given.
    pub user_agent: Option<String>,
    /// Creation time (Unix ms).
    pub created_at: i64,
    /// Last refresh (creation time until refreshed).
    pub refreshed_at: i64,
    /// Expiry (Unix ms): valid while now < expires_at.
    pub expires_at: i64,
    /// The absolute limit `expires_at` can never pass.
    pub absolute_expires_at: i64,
}

/// A newly created session: the token (shown once) and its record.
#[derive(Debug)]
pub struct NewSession {
    /// The bearer token; only its hash is stored.
    pub token: SessionToken,
    /// The stored session.
    pub record: SessionRecord,
}

/// Sessions over the store and the clock. Cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    store: Store,
    clock: SharedClock,
    config: SessionConfig,
    /// The ceremony sockets this instance holds, told when their session ends here.
    sockets: SocketRegistry,
    /// Seals the user agent at rest; without it the user agent is not stored at all.
    pii: Option<PiiKeys>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "id, user_id, auth_method, user_agent, created_at, refreshed_at, \
                       expires_at, absolute_expires_at, revoked_at, user_agent_sealed";

impl Sessions {
    /// The service.
    pub fn new(store: Store, clock: SharedClock, config: SessionConfig) -> Self {
        Self {
            store,
            clock,
            config,
            sockets: SocketRegistry::default(),
            pii: None,
        }
    }

    /// Caps the ceremony sockets one session and one user may hold open on this instance.
    pub fn with_socket_caps(mut self, caps: SocketCaps) -> Self {
        self.sockets = SocketRegistry::new(caps);
        self
    }

    /// The ceremony sockets this instance holds.
    pub fn sockets(&self) -> &SocketRegistry {
        &self.sockets
    }

    /// Stores user agents sealed under the vault's keys (bound to the session id).
    pub fn with_pii(mut self, keys: PiiKeys) -> Self {
        self.pii = Some(keys);
        self
    }

    fn record(&self, row: &AnyRow) -> Result<(SessionRecord, Option<i64>), sqlx::Error> {
        let id: String = row.try_get(0)?;
        let sealed: Option<Vec<u8>> = row.try_get(9)?;
        // Sealed for rows written with the vault's keys; the clear column only for rows an
        // earlier version wrote and the start-up migration has not reached.
        let user_agent = match (sealed, &self.pii) {
            (Some(sealed), Some(keys)) => keys.open("sessions", "user_agent", &id, &sealed).ok(),
            _ => row.try_get(3)?,
        };
        Ok((
            SessionRecord {
                id,
                user_id: row.try_get(1)?,
                auth_method: row.try_get(2)?,
                user_agent,
                created_at: row.try_get(4)?,
                refreshed_at: row.try_get(5)?,
                expires_at: row.try_get(6)?,
                absolute_expires_at: row.try_get(7)?,
            },
            row.try_get(8)?,
        ))
    }

    /// The user agent a session was created with, if it was recorded and opens.
    pub async fn user_agent_of(&self, session_id: &str) -> Result<Option<String>, SessionError> {
        let Some(keys) = &self.pii else {
            return Ok(None);
        };
        let sealed: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT user_agent_sealed FROM sessions WHERE id = $1")
                .bind(session_id)
                .fetch_optional(self.store.pool())
                .await?;
        Ok(sealed
            .flatten()
            .and_then(|s| keys.open("sessions", "user_agent", session_id, &s).ok()))
    }

    /// Creates a session for `user_id`, recording how the user authenticated.
    pub async fn create(
        &self,
        user_id: &str,
        auth_method: &str,
        user_agent: Option<&str>,
    ) -> Result<NewSession, SessionError> {
        let now = self.clock.now_ms();
        let absolute_expires_at = now.saturating_add(self.config.absolute_ms);
        let expires_at = now
            .saturating_add(self.config.lifetime_ms)
            .min(absolute_expires_at);
        let token = SessionToken::generate()?;
        let token_hash = token::hash(token.expose()).ok_or(SessionError::Invalid)?;
        let id = new_id()?;
        let sealed_agent = match (&self.pii, user_agent) {
            (Some(keys), Some(agent)) => Some(
                keys.seal("sessions", "user_agent", &id, agent)
                    .map_err(|_| SessionError::Random)?,
            ),
            _ => None,
        };
        sqlx::query(
            "INSERT INTO sessions (id, user_id, token_hash, auth_method, user_agent_sealed, \
             created_at, refreshed_at, expires_at, absolute_expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(token_hash)
        .bind(auth_method)
        .bind(sealed_agent)
        .bind(now)
        .bind(expires_at)
        .bind(absolute_expires_at)
        .execute(self.store.pool())
        .await?;
        Ok(NewSession {
            token,
            record: SessionRecord {
                id,
                user_id: user_id.to_owned(),
                auth_method: auth_method.to_owned(),
                user_agent: user_agent.map(str::to_owned),
                created_at: now,
                refreshed_at: now,
                expires_at,
                absolute_expires_at,
            },
        })
    }

    async fn lookup(
        &self,
        token_hash: &[u8],
    ) -> Result<(SessionRecord, Option<i64>), SessionError> {
        let sql = format!("SELECT {COLUMNS} FROM sessions WHERE token_hash = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .fetch_optional(self.store.pool())
            .await?
            .ok_or(SessionError::Invalid)?;
        Ok(self.record(&row)?)
    }

    fn check(
        record: SessionRecord,
        revoked_at: Option<i64>,
        now: i64,
    ) -> Result<SessionRecord, SessionError> {
        if revoked_at.is_some() {
            Err(SessionError::Revoked)
        } else if now >= record.expires_at.min(record.absolute_expires_at) {
            Err(SessionError::Expired)
        } else {
            Ok(record)
        }
    }

    /// The live session for `token`: `Invalid` if malformed or unknown, `Revoked`, or
    /// `Expired` once now ≥ `expires_at`.
    pub async fn authenticate(&self, token: &str) -> Result<SessionRecord, SessionError> {
        let hash = token::hash(token).ok_or(SessionError::Invalid)?;
        let (record, revoked_at) = self.lookup(&hash).await?;
        Self::check(record, revoked_at, self.clock.now_ms())
    }

    /// Extends a live session: `expires_at = min(now + lifetime, absolute_expires_at)`.
    /// Guarded, so an expired or revoked session cannot be revived.
    pub async fn refresh(&self, token: &str) -> Result<SessionRecord, SessionError> {
        let hash = token::hash(token).ok_or(SessionError::Invalid)?;
        let now = self.clock.now_ms();
        let candidate = now.saturating_add(self.config.lifetime_ms);
        let sql = format!(
            "UPDATE sessions SET refreshed_at = $2, \
             expires_at = CASE WHEN absolute_expires_at < $3 THEN absolute_expires_at ELSE $3 END \
             WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2 \
               AND absolute_expires_at > $2 \
             RETURNING {COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&hash)
            .bind(now)
            .bind(candidate)
            .fetch_optional(self.store.pool())
            .await?;
        match row {
            Some(row) => Ok(self.record(&row)?.0),
            None => {
                // Say why: unknown, revoked or expired.
                let (record, revoked_at) = self.lookup(&hash).await?;
                Self::check(record, revoked_at, now)?;
                // Live by now but not when updated (a concurrent revoke or refresh): retry-safe.
                Err(SessionError::Invalid)
            }
        }
    }

    /// Ends the session of `token` (idempotent for a known token), closing its sockets here.
    pub async fn logout(&self, token: &str) -> Result<(), SessionError> {
        let hash = token::hash(token).ok_or(SessionError::Invalid)?;
        let now = self.clock.now_ms();
        let ended: Option<String> = sqlx::query_scalar(
            "UPDATE sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL \
             RETURNING id",
        )
        .bind(&hash)
        .bind(now)
        .fetch_optional(self.store.pool())
        .await?;
        match ended {
            Some(id) => self.sockets.end([id.as_str()]),
            None => {
                // Unknown → Invalid; already revoked → fine (and its sockets told again).
                let (record, _) = self.lookup(&hash).await?;
                self.sockets.end([record.id.as_str()]);
            }
        }
        Ok(())
    }

    /// Revokes one of `user_id`'s sessions by id; `NotFound` if it is not theirs.
    pub async fn revoke(&self, user_id: &str, session_id: &str) -> Result<(), SessionError> {
        let now = self.clock.now_ms();
        let updated = sqlx::query(
            "UPDATE sessions SET revoked_at = $3 \
             WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(session_id)
        .bind(user_id)
        .bind(now)
        .execute(self.store.pool())
        .await?
        .rows_affected();
        if updated == 0 {
            let exists = sqlx::query("SELECT id FROM sessions WHERE id = $1 AND user_id = $2")
                .bind(session_id)
                .bind(user_id)
                .fetch_optional(self.store.pool())
                .await?;
            if exists.is_none() {
                return Err(SessionError::NotFound);
            }
        }
        self.sockets.end([session_id]);
        Ok(())
    }

    /// Revokes every live session of `user_id` except `keep` (e.g. the current one).
    /// Already-ended sessions are left as they are.
    /// Returns how many were revoked.
    pub async fn revoke_all(&self, user_id: &str, keep: Option<&str>) -> Result<u64, SessionError> {
        let now = self.clock.now_ms();
        let ended: Vec<String> = sqlx::query_scalar(
            "UPDATE sessions SET revoked_at = $2 \
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 AND id <> $3 \
             RETURNING id",
        )
        .bind(user_id)
        .bind(now)
        .bind(keep.unwrap_or(""))
        .fetch_all(self.store.pool())
        .await?;
        self.sockets.end(ended.iter().map(String::as_str));
        Ok(ended.len() as u64)
    }

    /// `user_id`'s live sessions, newest first.
    pub async fn list(&self, user_id: &str) -> Result<Vec<SessionRecord>, SessionError> {
        let now = self.clock.now_ms();
        let sql = format!(
            "SELECT {COLUMNS} FROM sessions \
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
             ORDER BY created_at DESC, id DESC"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(now)
            .fetch_all(self.store.pool())
            .await?;
        rows.iter().map(|row| Ok(self.record(row)?.0)).collect()
    }

    /// Deletes sessions that ended more than `grace_ms` ago. Returns how many.
    pub async fn prune(&self, grace_ms: i64) -> Result<u64, SessionError> {
        let cutoff = self.clock.now_ms().saturating_sub(grace_ms);
        Ok(sqlx::query(
            "DELETE FROM sessions WHERE expires_at <= $1 OR (revoked_at IS NOT NULL AND revoked_at <= $1)",
        )
        .bind(cutoff)
        .execute(self.store.pool())
        .await?
        .rows_affected())
    }
}
