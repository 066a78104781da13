//! Secrets a user proves at login or step-up besides their identities: a password, a PIN and
//! a TOTP key (with one-time recovery codes). Owns `credentials` and `recovery_codes`.
//!
//! Every secret at rest is sealed under the vault's key (a database copy allows no offline
//! guessing); wrong guesses are charged before the comparison against throttles shared by
//! every instance (`auth::GuessPolicy`), and a PIN also has a hard limit after which only
//! another method unlocks it.

mod error;
pub mod secret;
pub mod totp;

use sqlx::{AnyConnection, Row};
use zeroize::Zeroizing;

pub use error::CredentialError;

use crate::auth::GuessPolicy;
use crate::auth::throttle::{self, Bucket};
use crate::clock::SharedClock;
use crate::store::{Step, Store, new_id};
use crate::vault::PiiKeys;

/// The tables of this module.
pub const MIGRATIONS: &[Step] = &[Step {
    version: 7,
    description: "credentials",
    sqlite: include_str!("migrations/sqlite/0007_credentials.sql"),
    postgres: include_str!("migrations/postgres/0007_credentials.sql"),
}];

/// Wrong TOTP codes in a row after which the key takes no more (security bar A3).
pub const TOTP_MAX_FAILURES: i64 = 100;

/// Recovery codes issued with a TOTP enrolment.
pub const RECOVERY_CODES: usize = 10;

/// A kind of credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    Password,
    Pin,
    Totp,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Password => "password",
            CredentialKind::Pin => "pin",
            CredentialKind::Totp => "totp",
        }
    }
}

/// What a user has set up, without any secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub password: bool,
    pub pin: bool,
    /// The PIN reached its hard limit; another method must re-verify to unlock it.
    pub pin_locked: bool,
    pub totp: bool,
    pub recovery_codes_left: u32,
}

/// A TOTP enrolment waiting for its first code.
pub struct TotpEnrolment {
    /// The key in base32, for manual entry.
    pub secret: Zeroizing<String>,
    /// The `otpauth://` URI (what the QR code holds).
    pub uri: Zeroizing<String>,
}

/// Limits of this module (`[accounts]`).
#[derive(Debug, Clone)]
pub struct CredentialSettings {
    /// Wrong PINs in a row after which the PIN is locked.
    pub pin_max_attempts: u32,
    /// The issuer name authenticator apps show.
    pub totp_issuer: String,
}

/// The credentials service. Cheap to clone.
#[derive(Clone)]
pub struct Credentials {
    store: Store,
    clock: SharedClock,
    keys: PiiKeys,
    settings: CredentialSettings,
    password_policy: GuessPolicy,
    pin_policy: GuessPolicy,
    code_policy: GuessPolicy,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    pub fn new(
        store: Store,
        clock: SharedClock,
        keys: PiiKeys,
        settings: CredentialSettings,
    ) -> Self {
        Self {
            store,
            clock,
            keys,
            settings,
            password_policy: GuessPolicy::password(),
            pin_policy: GuessPolicy::pin(),
            code_policy: GuessPolicy::short_code(),
        }
    }

    /// Records the guess policies in the database, for the other instances and operators.
    pub async fn publish_policies(&self) -> Result<(), crate::auth::AuthError> {
        let now = self.clock.now_ms();
        self.password_policy
            .publish(&self.store, "password", now)
            .await?;
        self.pin_policy.publish(&self.store, "pin", now).await?;
        self.code_policy.publish(&self.store, "totp", now).await
    }

    fn buckets(&self, kind: CredentialKind, subject: &str, client: &str) -> [Bucket; 3] {
        let (policy, pair, per_client, shared) = match kind {
            CredentialKind::Password => (
                &self.password_policy,
                "password-wrong-subject-client",
                "password-wrong-client",
                "password-wrong-subject",
            ),
            CredentialKind::Pin => (
                &self.pin_policy,
                "pin-wrong-subject-client",
                "pin-wrong-client",
                "pin-wrong-subject",
            ),
            CredentialKind::Totp => (
                &self.code_policy,
                "totp-wrong-subject-client",
                "totp-wrong-client",
                "totp-wrong-subject",
            ),
        };
        let k = &self.keys;
        [
            Bucket {
                scope: pair,
                key: k.throttle_bucket(pair, &[subject, client]),
                budget: policy.failures_per_subject_client,
                own: true,
            },
            Bucket {
                scope: per_client,
                key: k.throttle_bucket(per_client, &[client]),
                budget: policy.failures_per_client,
                own: true,
            },
            Bucket {
                scope: shared,
                key: k.throttle_bucket(shared, &[subject]),
                budget: policy.failures_per_subject,
                own: false,
            },
        ]
    }

    /// Charges one guess to every bucket; refused (nothing charged) when one is full.
    async fn charge(
        &self,
        conn: &mut AnyConnection,
        buckets: &[Bucket],
        now: i64,
    ) -> Result<(), CredentialError> {
        for bucket in buckets {
            if let Some(retry_after_ms) = throttle::take(conn, bucket, now).await? {
                return Err(CredentialError::RateLimited { retry_after_ms });
            }
        }
        Ok(())
    }

    async fn refund(&self, buckets: &[Bucket]) -> Result<(), CredentialError> {
        let mut tx = self.store.begin_write().await?;
        for bucket in buckets {
            throttle::give_back(&mut tx, bucket).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    fn seal(
        &self,
        kind: CredentialKind,
        id: &str,
        secret: &str,
    ) -> Result<Vec<u8>, CredentialError> {
        Ok(self.keys.seal("credentials", kind.as_str(), id, secret)?)
    }

    fn open(
        &self,
        kind: CredentialKind,
        id: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<String>, CredentialError> {
        Ok(Zeroizing::new(self.keys.open(
            "credentials",
            kind.as_str(),
            id,
            sealed,
        )?))
    }

    /// The in-use (active or locked) credential of a kind: id, state, sealed secret.
    async fn in_use(
        &self,
        user_id: &str,
        kind: CredentialKind,
    ) -> Result<Option<(String, String, Vec<u8>)>, CredentialError> {
        let row = sqlx::query(
            "SELECT id, state, secret_sealed FROM credentials \
             WHERE user_id = $1 AND kind = $2 AND state <> 'pending'",
        )
        .bind(user_id)
        .bind(kind.as_str())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .transpose()
    }

    /// Sets (or replaces) the password or PIN of a user. The rules are checked first.
    pub async fn set_secret(
        &self,
        user_id: &str,
        kind: CredentialKind,
        value: Zeroizing<String>,
    ) -> Result<(), CredentialError> {
        let value = match kind {
            CredentialKind::Password => {
                let value = secret::normalize_password(&value);
                let second_factor = self.summary(user_id).await?.totp;
                secret::check_new_password(&value, second_factor)?;
                value
            }
            CredentialKind::Pin => {
                secret::check_new_pin(&value)?;
                value
            }
            CredentialKind::Totp => return Err(CredentialError::NotSet),
        };
        let phc = secret::hash(value).await?;
        let now = self.clock.now_ms();
        let id = new_id()?;
        let sealed = self.seal(kind, &id, &phc)?;
        let mut tx = self.store.begin_write().await?;
        sqlx::query("DELETE FROM credentials WHERE user_id = $1 AND kind = $2")
            .bind(user_id)
            .bind(kind.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO credentials (id, user_id, kind, state, secret_sealed, created_at, updated_at) \
             VALUES ($1, $2, $3, 'active', $4, $5, $5)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(kind.as_str())
        .bind(sealed)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks a password or PIN. `user_id` is `None` when the login named no account: the same
    /// work is done and the same error returned. `subject` keys the throttles (the address
    /// the login named, or the user id). A wrong PIN counts toward its hard limit.
    pub async fn verify_secret(
        &self,
        user_id: Option<&str>,
        kind: CredentialKind,
        value: Zeroizing<String>,
        subject: &str,
        client: &str,
    ) -> Result<(), CredentialError> {
        let now = self.clock.now_ms();
        let buckets = self.buckets(kind, subject, client);
        let mut tx = self.store.begin_write().await?;
        let current = match user_id {
            Some(user_id) => self.in_use_in(&mut tx, user_id, kind).await?,
            None => None,
        };
        // A locked PIN takes no guess, so none is charged (the hashing work is still done, so
        // the answer's timing does not tell that the account exists).
        if let Some((_, state, ..)) = &current
            && state == "locked"
        {
            tx.rollback().await?;
            let _ = secret::verify(value, None).await;
            return Err(CredentialError::Locked);
        }
        if let Err(e) = self.charge(&mut tx, &buckets, now).await {
            tx.rollback().await?;
            return Err(e);
        }
        if let Some((id, _, _, failures)) = &current
            && kind == CredentialKind::Pin
        {
            // Counted before the comparison (and cleared if right), so parallel guesses
            // cannot pass the hard limit.
            let max = i64::from(self.settings.pin_max_attempts);
            let next = failures + 1;
            sqlx::query(
                "UPDATE credentials SET failures = $2, \
                 state = CASE WHEN $2 >= $3 THEN 'locked' ELSE state END, updated_at = $4 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(next)
            .bind(max)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;

        let phc = match &current {
            Some((id, _, sealed, _)) => Some(self.open(kind, id, sealed)?),
            None => None,
        };
        let value = match kind {
            CredentialKind::Password => secret::normalize_password(&value),
            _ => value,
        };
        if !secret::verify(value, phc).await? {
            if let Some((_, _, _, failures)) = current
                && kind == CredentialKind::Pin
                && failures + 1 >= i64::from(self.settings.pin_max_attempts)
            {
                return Err(CredentialError::Locked);
            }
            return Err(CredentialError::Invalid);
        }
        if let Some((id, ..)) = &current
            && kind == CredentialKind::Pin
        {
            sqlx::query("UPDATE credentials SET failures = 0 WHERE id = $1 AND state = 'active'")
                .bind(id)
                .execute(self.store.pool())
                .await?;
        }
        self.refund(&buckets).await
    }

    async fn in_use_in(
        &self,
        conn: &mut AnyConnection,
        user_id: &str,
        kind: CredentialKind,
    ) -> Result<Option<(String, String, Vec<u8>, i64)>, CredentialError> {
        let row = sqlx::query(
            "SELECT id, state, secret_sealed, failures FROM credentials \
             WHERE user_id = $1 AND kind = $2 AND state <> 'pending'",
        )
        .bind(user_id)
        .bind(kind.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .transpose()
    }

    /// Unlocks a locked PIN: called when the user proved another method.
    pub async fn unlock_pin(&self, user_id: &str) -> Result<(), CredentialError> {
        sqlx::query(
            "UPDATE credentials SET state = 'active', failures = 0, updated_at = $2 \
             WHERE user_id = $1 AND kind = 'pin' AND (state = 'locked' OR failures > 0)",
        )
        .bind(user_id)
        .bind(self.clock.now_ms())
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Removes a credential (and a TOTP key's recovery codes). `NotSet` if there was none.
    pub async fn remove(&self, user_id: &str, kind: CredentialKind) -> Result<(), CredentialError> {
        let mut tx = self.store.begin_write().await?;
        sqlx::query(
            "DELETE FROM recovery_codes WHERE credential_id IN \
             (SELECT id FROM credentials WHERE user_id = $1 AND kind = $2)",
        )
        .bind(user_id)
        .bind(kind.as_str())
        .execute(&mut *tx)
        .await?;
        let gone = sqlx::query("DELETE FROM credentials WHERE user_id = $1 AND kind = $2")
            .bind(user_id)
            .bind(kind.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if gone == 0 {
            tx.rollback().await?;
            return Err(CredentialError::NotSet);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Starts a TOTP enrolment (replacing an unfinished one); the key in use, if any, keeps
    /// working until the new one is confirmed.
    pub async fn totp_begin(
        &self,
        user_id: &str,
        account: &str,
    ) -> Result<TotpEnrolment, CredentialError> {
        let key = totp::new_key().map_err(|_| CredentialError::Random)?;
        let now = self.clock.now_ms();
        let id = new_id()?;
        let sealed = self.seal(CredentialKind::Totp, &id, &key)?;
        let mut tx = self.store.begin_write().await?;
        sqlx::query(
            "DELETE FROM credentials WHERE user_id = $1 AND kind = 'totp' AND state = 'pending'",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO credentials (id, user_id, kind, state, secret_sealed, created_at, updated_at) \
             VALUES ($1, $2, 'totp', 'pending', $3, $4, $4)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(sealed)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let uri = totp::otpauth_uri(&self.settings.totp_issuer, account, &key);
        Ok(TotpEnrolment { secret: key, uri })
    }

    /// Confirms the pending enrolment with a first code: it replaces the key in use (and its
    /// recovery codes). Returns the new recovery codes, shown once.
    pub async fn totp_confirm(
        &self,
        user_id: &str,
        code: &str,
        client: &str,
    ) -> Result<Vec<Zeroizing<String>>, CredentialError> {
        let now = self.clock.now_ms();
        let row = sqlx::query(
            "SELECT id, secret_sealed FROM credentials WHERE user_id = $1 AND kind = 'totp' AND state = 'pending'",
        )
        .bind(user_id)
        .fetch_optional(self.store.pool())
        .await?
        .ok_or(CredentialError::NotSet)?;
        let id: String = row.try_get(0)?;
        let sealed: Vec<u8> = row.try_get(1)?;
        let buckets = self.buckets(CredentialKind::Totp, user_id, client);
        let mut tx = self.store.begin_write().await?;
        self.charge(&mut tx, &buckets, now).await?;
        tx.commit().await?;
        let key = self.open(CredentialKind::Totp, &id, &sealed)?;
        let key = totp::decode_key(&key).ok_or(CredentialError::Invalid)?;
        let step = totp::matching_step(&key, code, now).ok_or(CredentialError::Invalid)?;

        let mut codes = Vec::with_capacity(RECOVERY_CODES);
        let mut tx = self.store.begin_write().await?;
        sqlx::query(
            "DELETE FROM recovery_codes WHERE credential_id IN \
             (SELECT id FROM credentials WHERE user_id = $1 AND kind = 'totp' AND state <> 'pending')",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM credentials WHERE user_id = $1 AND kind = 'totp' AND state <> 'pending'",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        let promoted = sqlx::query(
            "UPDATE credentials SET state = 'active', last_step = $2, updated_at = $3 \
             WHERE id = $1 AND state = 'pending'",
        )
        .bind(&id)
        .bind(step)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if promoted != 1 {
            tx.rollback().await?;
            return Err(CredentialError::NotSet);
        }
        for _ in 0..RECOVERY_CODES {
            let code = recovery_code()?;
            sqlx::query("INSERT INTO recovery_codes (credential_id, code_mac) VALUES ($1, $2)")
                .bind(&id)
                .bind(self.keys.code_mac(&id, &normalize_recovery(&code)).to_vec())
                .execute(&mut *tx)
                .await?;
            codes.push(code);
        }
        tx.commit().await?;
        self.refund(&buckets).await?;
        Ok(codes)
    }

    /// Checks a TOTP code: each step's code works once, and only for an active key. After
    /// [`TOTP_MAX_FAILURES`] wrong codes in a row the key takes no more codes (a recovery code
    /// still works, and resets the count).
    pub async fn verify_totp(
        &self,
        user_id: &str,
        code: &str,
        client: &str,
    ) -> Result<(), CredentialError> {
        let now = self.clock.now_ms();
        let mut tx = self.store.begin_write().await?;
        let (id, _, sealed, failures) = self
            .in_use_in(&mut tx, user_id, CredentialKind::Totp)
            .await?
            .ok_or(CredentialError::NotSet)?;
        if failures >= TOTP_MAX_FAILURES {
            tx.rollback().await?;
            return Err(CredentialError::Locked);
        }
        let buckets = self.buckets(CredentialKind::Totp, user_id, client);
        if let Err(e) = self.charge(&mut tx, &buckets, now).await {
            tx.rollback().await?;
            return Err(e);
        }
        // Counted first and cleared on success, like a PIN's tries.
        sqlx::query("UPDATE credentials SET failures = failures + 1 WHERE id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let key = self.open(CredentialKind::Totp, &id, &sealed)?;
        let key = totp::decode_key(&key).ok_or(CredentialError::Invalid)?;
        let step = totp::matching_step(&key, code, now).ok_or(CredentialError::Invalid)?;
        // Once per step: only a later step than the last accepted one moves it.
        let taken = sqlx::query(
            "UPDATE credentials SET last_step = $2, failures = 0, updated_at = $3 \
             WHERE id = $1 AND (last_step IS NULL OR last_step < $2)",
        )
        .bind(&id)
        .bind(step)
        .bind(now)
        .execute(self.store.pool())
        .await?
        .rows_affected();
        if taken != 1 {
            return Err(CredentialError::Replayed);
        }
        self.refund(&buckets).await
    }

    /// Uses up one recovery code of the user's TOTP key.
    pub async fn use_recovery_code(
        &self,
        user_id: &str,
        code: &str,
        client: &str,
    ) -> Result<(), CredentialError> {
        let now = self.clock.now_ms();
        let (id, ..) = self
            .in_use(user_id, CredentialKind::Totp)
            .await?
            .ok_or(CredentialError::NotSet)?;
        let buckets = self.buckets(CredentialKind::Totp, user_id, client);
        let mut tx = self.store.begin_write().await?;
        self.charge(&mut tx, &buckets, now).await?;
        let used = sqlx::query(
            "UPDATE recovery_codes SET used_at = $3 \
             WHERE credential_id = $1 AND code_mac = $2 AND used_at IS NULL",
        )
        .bind(&id)
        .bind(self.keys.code_mac(&id, &normalize_recovery(code)).to_vec())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if used == 1 {
            sqlx::query("UPDATE credentials SET failures = 0 WHERE id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        if used != 1 {
            return Err(CredentialError::Invalid);
        }
        self.refund(&buckets).await
    }

    /// What the user has set up.
    pub async fn summary(&self, user_id: &str) -> Result<Summary, CredentialError> {
        let rows = sqlx::query(
            "SELECT kind, state, id FROM credentials WHERE user_id = $1 AND state <> 'pending'",
        )
        .bind(user_id)
        .fetch_all(self.store.pool())
        .await?;
        let mut s = Summary::default();
        for row in rows {
            let kind: String = row.try_get(0)?;
            let state: String = row.try_get(1)?;
            match kind.as_str() {
                "password" => s.password = true,
                "pin" => {
                    s.pin = true;
                    s.pin_locked = state == "locked";
                }
                "totp" => {
                    s.totp = true;
                    let id: String = row.try_get(2)?;
                    let left: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM recovery_codes WHERE credential_id = $1 AND used_at IS NULL",
                    )
                    .bind(id)
                    .fetch_one(self.store.pool())
                    .await?;
                    s.recovery_codes_left = u32::try_from(left).unwrap_or(0);
                }
                _ => {}
            }
        }
        Ok(s)
    }
}

/// `xxxx-xxxx-xxxx` in lower-case base32 without look-alikes' ambiguity (60 random bits).
fn recovery_code() -> Result<Zeroizing<String>, CredentialError> {
    let mut raw = Zeroizing::new([0u8; 8]);
    getrandom::fill(raw.as_mut()).map_err(|_| CredentialError::Random)?;
    let text = Zeroizing::new(
        data_encoding::BASE32_NOPAD
            .encode(raw.as_ref())
            .to_lowercase(),
    );
    let body = text.get(..12).unwrap_or_default();
    Ok(Zeroizing::new(format!(
        "{}-{}-{}",
        &body[..4],
        &body[4..8],
        &body[8..12]
    )))
}

/// What is compared of a recovery code: lower case, no dashes or spaces.
fn normalize_recovery(code: &str) -> Zeroizing<String> {
    Zeroizing::new(
        code.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect(),
    )
}
