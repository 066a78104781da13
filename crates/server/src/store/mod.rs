//! The database: one `sqlx` `Any` code path for SQLite (default, zero configuration) and
//! PostgreSQL (production, several instances).
//!
//! Conventions every module follows (the `Any` driver maps only bool, integers, floats, text
//! and blobs): ids are `TEXT`, times are `BIGINT` Unix milliseconds from the injected clock,
//! binary values are `BLOB`/`BYTEA`, placeholders are written by hand as `$1 … $n` (they work
//! on both backends; `QueryBuilder<Any>` would emit `?`, which PostgreSQL rejects).
//! Write transactions should start with a write, or use [`Store::begin_write`], so that SQLite
//! takes its write lock up front instead of failing to upgrade a read lock.

mod connect;
mod error;
mod files;
mod ids;
mod migrations;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod url;

pub use error::StoreError;
pub use files::private_dir;
pub use ids::new_id;
pub use migrations::Step;
pub use url::redact_url;

/// The database file of an `sqlite:` URL (none for other URLs or an in-memory database).
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let url = url.trim();
    if !url.starts_with("sqlite:") {
        return None;
    }
    url::sqlite_target(url).file
}

use sqlx::AnyPool;
use sqlx::any::Any;

/// Which database the URL selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file (`sqlite:` URLs).
    Sqlite,
    /// PostgreSQL (`postgres://` or `postgresql://` URLs).
    Postgres,
}

impl Backend {
    /// The backend a URL selects, if any.
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        let url = url.trim_start();
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }
}

/// A migrated connection pool. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects (creating the SQLite file and its directory if needed), applies the
    /// per-connection SQLite pragmas and runs the migrations for the backend.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let backend = Backend::from_url(url)?;
        let pool = connect::pool(url.trim(), backend).await?;
        migrations::migrator(backend).run(&pool).await?;
        Ok(Store { pool, backend })
    }

    /// The connection pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a transaction that will write: `BEGIN IMMEDIATE` on SQLite (takes the write lock
    /// now, waiting up to the busy timeout), a plain `BEGIN` on PostgreSQL.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Any>, StoreError> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(tx)
    }

    /// Makes rows deleted so far unrecoverable from the database files, as far as the backend
    /// allows: on SQLite, deleted content is already zeroed in its pages (`secure_delete`), and
    /// this checkpoint copies those pages into the main file and truncates the write-ahead log,
    /// which still holds older images of them. Best effort: a checkpoint that readers keep
    /// from finishing is logged and retried by the next call. PostgreSQL keeps dead row
    /// versions until vacuum and in its WAL; nothing here can scrub them (see
    /// docs/threat-model.md).
    pub async fn scrub_deleted(&self) {
        if self.backend != Backend::Sqlite {
            return;
        }
        match sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.pool)
            .await
        {
            Ok(row) => {
                use sqlx::Row;
                if row.try_get::<i64, _>(0).unwrap_or(1) != 0 {
                    tracing::debug!("write-ahead log checkpoint blocked by readers; retried later");
                }
            }
            Err(e) => tracing::warn!(error = %e, "write-ahead log checkpoint failed"),
        }
    }

    /// Closes every connection of the pool (waits for checked-out ones to come back).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
