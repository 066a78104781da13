//! Users and what they can be found by: the `users` and `identities` tables. No other module
//! writes them; login methods hand a verified identity here and get a user back.
//!
//! An identity is `(kind, subject)`: an email address, later a phone number, an OpenID issuer
//! and subject, a passkey. Subjects are personal data: stored sealed and as a keyed blind
//! index (`vault::PiiKeys`), so a copy of the database reveals no address and cannot be
//! searched for one.

use sqlx::{AnyConnection, Row};

use crate::store::{Store, StoreError, new_id};
use crate::vault::{PiiKeys, VaultError};

use crate::store::Step;

/// The tables of this module.
pub const MIGRATIONS: &[Step] = &[Step {
    version: 6,
    description: "identities",
    sqlite: include_str!("migrations/sqlite/0006_identities.sql"),
    postgres: include_str!("migrations/postgres/0006_identities.sql"),
}];

/// What an identity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentityKind {
    /// A normalised email address, proven by a code sent to it.
    Email,
    /// A phone number in E.164, proven by a code sent to it by SMS.
    Phone,
    /// An account at an outside identity provider: `<issuer> <subject>`, proven by the
    /// provider (an ID token, or its user endpoint).
    Social,
}

impl IdentityKind {
    /// The name stored in `identities.kind` and shown to clients.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Email => "email",
            IdentityKind::Phone => "phone",
            IdentityKind::Social => "social",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(IdentityKind::Email),
            "phone" => Some(IdentityKind::Phone),
            "social" => Some(IdentityKind::Social),
            _ => None,
        }
    }
}

/// An identity as its owner may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: String,
    pub kind: IdentityKind,
    /// The subject in clear (opened with the vault's key).
    pub subject: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A user and identity lookup failure.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The identity belongs to another account: never merged silently.
    #[error("this {0} belongs to another account")]
    IdentityInUse(&'static str),
    /// The user has no such identity.
    #[error("no such identity")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored identifier: {0}")]
    Vault(#[from] VaultError),
}

impl From<sqlx::Error> for UserError {
    fn from(e: sqlx::Error) -> Self {
        UserError::Store(StoreError::Database(e))
    }
}

/// The users module's operations. Cheap to clone.
#[derive(Clone)]
pub struct Users {
    store: Store,
    keys: PiiKeys,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users").finish_non_exhaustive()
    }
}

impl Users {
    pub fn new(store: Store, keys: PiiKeys) -> Self {
        Self { store, keys }
    }

    /// The keyed lookup value of a subject.
    fn index(&self, kind: IdentityKind, subject: &str) -> Vec<u8> {
        // The email index is the one users.email_index has always held, so addresses of
        // earlier versions are found without re-keying.
        self.keys.blind_index(kind.as_str(), subject)
    }

    /// The user an identity belongs to, if any (and records its use at `now`).
    pub async fn find_in(
        &self,
        conn: &mut AnyConnection,
        kind: IdentityKind,
        subject: &str,
        now: i64,
    ) -> Result<Option<String>, UserError> {
        let index = self.index(kind, subject);
        let found: Option<String> = sqlx::query_scalar(
            "UPDATE identities SET last_used_at = $3 WHERE kind = $1 AND subject_index = $2 \
             RETURNING user_id",
        )
        .bind(kind.as_str())
        .bind(&index)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
        if found.is_some() || kind != IdentityKind::Email {
            return Ok(found);
        }
        // An address from before identities existed (or written by an older instance during
        // a rolling upgrade): move it over now.
        let legacy: Option<String> =
            sqlx::query_scalar("SELECT id FROM users WHERE email_index = $1")
                .bind(&index)
                .fetch_optional(&mut *conn)
                .await?;
        let Some(user_id) = legacy else {
            return Ok(None);
        };
        self.insert_in(conn, &user_id, kind, subject, now).await?;
        Ok(Some(user_id))
    }

    /// The user an identity belongs to, without recording a use (for logins that still have
    /// a secret to check).
    pub async fn lookup(
        &self,
        kind: IdentityKind,
        subject: &str,
    ) -> Result<Option<String>, UserError> {
        let index = self.index(kind, subject);
        let found: Option<String> = sqlx::query_scalar(
            "SELECT user_id FROM identities WHERE kind = $1 AND subject_index = $2",
        )
        .bind(kind.as_str())
        .bind(&index)
        .fetch_optional(self.store.pool())
        .await?;
        if found.is_some() || kind != IdentityKind::Email {
            return Ok(found);
        }
        Ok(
            sqlx::query_scalar("SELECT id FROM users WHERE email_index = $1")
                .bind(&index)
                .fetch_optional(self.store.pool())
                .await?,
        )
    }

    /// The user of a verified identity, created now if there is none. Returns the user id and
    /// whether it was created.
    pub async fn resolve_or_create_in(
        &self,
        conn: &mut AnyConnection,
        kind: IdentityKind,
        subject: &str,
        now: i64,
    ) -> Result<(String, bool), UserError> {
        if let Some(user_id) = self.find_in(conn, kind, subject, now).await? {
            return Ok((user_id, false));
        }
        let user_id = new_id()?;
        // Older instances find users by users.email_index during a rolling upgrade: keep it
        // filled for users created by email (the `email` column holds the id, as since v4).
        let (email_index, email_sealed) = match kind {
            IdentityKind::Email => (
                Some(self.index(kind, subject)),
                Some(self.keys.seal("users", "email", &user_id, subject)?),
            ),
            IdentityKind::Phone | IdentityKind::Social => (None, None),
        };
        let inserted = sqlx::query(
            "INSERT INTO users (id, email, email_index, email_sealed, created_at) \
             VALUES ($1, $1, $2, $3, $4) ON CONFLICT (email_index) DO NOTHING",
        )
        .bind(&user_id)
        .bind(email_index)
        .bind(email_sealed)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if inserted == 0 {
            // A concurrent first login of the same address (another instance, on PostgreSQL)
            // created the user first: this login joins it.
            return match self.find_in(conn, kind, subject, now).await? {
                Some(user_id) => Ok((user_id, false)),
                None => Err(UserError::NotFound),
            };
        }
        match self.insert_in(conn, &user_id, kind, subject, now).await {
            Ok(_) => Ok((user_id, true)),
            // Only the email index of `users` is unique, so for other kinds a concurrent
            // first login shows up here: drop the user just made and join the other one.
            Err(UserError::IdentityInUse(_)) if kind != IdentityKind::Email => {
                sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(&user_id)
                    .execute(&mut *conn)
                    .await?;
                match self.find_in(conn, kind, subject, now).await? {
                    Some(owner) => Ok((owner, false)),
                    None => Err(UserError::NotFound),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn insert_in(
        &self,
        conn: &mut AnyConnection,
        user_id: &str,
        kind: IdentityKind,
        subject: &str,
        now: i64,
    ) -> Result<String, UserError> {
        let id = new_id()?;
        let sealed = self.keys.seal("identities", kind.as_str(), &id, subject)?;
        let inserted = sqlx::query(
            "INSERT INTO identities (id, user_id, kind, subject_index, subject_sealed, created_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (kind, subject_index) DO NOTHING",
        )
        .bind(&id)
        .bind(user_id)
        .bind(kind.as_str())
        .bind(self.index(kind, subject))
        .bind(sealed)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(id);
        }
        // Someone holds it: this user (a concurrent login moved it first) or another one.
        let owner: Option<(String, String)> = sqlx::query(
            "SELECT id, user_id FROM identities WHERE kind = $1 AND subject_index = $2",
        )
        .bind(kind.as_str())
        .bind(self.index(kind, subject))
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?)))
        .transpose()?;
        match owner {
            Some((id, owner)) if owner == user_id => Ok(id),
            _ => Err(UserError::IdentityInUse(kind.as_str())),
        }
    }

    /// Adds a verified identity to a user. Refused with [`UserError::IdentityInUse`] when
    /// another account holds it (also when that account is the legacy owner of an address).
    pub async fn link(
        &self,
        user_id: &str,
        kind: IdentityKind,
        subject: &str,
        now: i64,
    ) -> Result<String, UserError> {
        let mut tx = self.store.begin_write().await?;
        if let Some(owner) = self.find_in(&mut tx, kind, subject, now).await?
            && owner != user_id
        {
            tx.rollback().await?;
            return Err(UserError::IdentityInUse(kind.as_str()));
        }
        let id = self.insert_in(&mut tx, user_id, kind, subject, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Every identity of a user (an address from before identities existed is moved over
    /// first).
    pub async fn identities(&self, user_id: &str, now: i64) -> Result<Vec<Identity>, UserError> {
        self.adopt_legacy_email(user_id, now).await?;
        let rows = sqlx::query(
            "SELECT id, kind, subject_sealed, created_at, last_used_at FROM identities \
             WHERE user_id = $1 ORDER BY created_at, id",
        )
        .bind(user_id)
        .fetch_all(self.store.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get(0)?;
            let kind: String = row.try_get(1)?;
            // A kind this version does not know (written by a newer one) is not shown.
            let Some(kind) = IdentityKind::parse(&kind) else {
                continue;
            };
            let sealed: Vec<u8> = row.try_get(2)?;
            out.push(Identity {
                subject: self.keys.open("identities", kind.as_str(), &id, &sealed)?,
                id,
                kind,
                created_at: row.try_get(3)?,
                last_used_at: row.try_get(4)?,
            });
        }
        Ok(out)
    }

    /// How many identities the user holds (of any kind, known to this version or not).
    pub async fn count_in(
        &self,
        conn: &mut AnyConnection,
        user_id: &str,
    ) -> Result<i64, UserError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM identities WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&mut *conn)
                .await?,
        )
    }

    /// Removes one identity of a user, in the caller's transaction (which checks first that
    /// it is not the last way in). Clears the legacy address column when it held this one.
    pub async fn unlink_in(
        &self,
        conn: &mut AnyConnection,
        user_id: &str,
        identity_id: &str,
    ) -> Result<IdentityKind, UserError> {
        let row = sqlx::query(
            "DELETE FROM identities WHERE id = $1 AND user_id = $2 RETURNING kind, subject_index",
        )
        .bind(identity_id)
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(UserError::NotFound)?;
        let kind: String = row.try_get(0)?;
        let index: Vec<u8> = row.try_get(1)?;
        let kind = IdentityKind::parse(&kind).ok_or(UserError::NotFound)?;
        if kind == IdentityKind::Email {
            sqlx::query(
                "UPDATE users SET email_index = NULL, email_sealed = NULL \
                 WHERE id = $1 AND email_index = $2",
            )
            .bind(user_id)
            .bind(index)
            .execute(&mut *conn)
            .await?;
        }
        Ok(kind)
    }

    /// The addresses notices go to.
    pub async fn emails(&self, user_id: &str, now: i64) -> Result<Vec<String>, UserError> {
        Ok(self
            .identities(user_id, now)
            .await?
            .into_iter()
            .filter(|i| i.kind == IdentityKind::Email)
            .map(|i| i.subject)
            .collect())
    }

    /// The phone numbers of a user (E.164).
    pub async fn phones(&self, user_id: &str, now: i64) -> Result<Vec<String>, UserError> {
        Ok(self
            .identities(user_id, now)
            .await?
            .into_iter()
            .filter(|i| i.kind == IdentityKind::Phone)
            .map(|i| i.subject)
            .collect())
    }

    async fn adopt_legacy_email(&self, user_id: &str, now: i64) -> Result<(), UserError> {
        let row = sqlx::query(
            "SELECT email_index, email_sealed FROM users WHERE id = $1 \
             AND email_index IS NOT NULL AND email_sealed IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.kind = 'email' \
                             AND i.subject_index = users.email_index)",
        )
        .bind(user_id)
        .fetch_optional(self.store.pool())
        .await?;
        let Some(row) = row else { return Ok(()) };
        let sealed: Vec<u8> = row.try_get(1)?;
        let email = self.keys.open("users", "email", user_id, &sealed)?;
        let mut tx = self.store.begin_write().await?;
        self.insert_in(&mut tx, user_id, IdentityKind::Email, &email, now)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
