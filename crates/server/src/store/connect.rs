//! Building the pool.

use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

use super::url::sqlite_target;
use super::{Backend, StoreError};

/// Per-connection SQLite settings. Through `Any` there are no `SqliteConnectOptions`, so they
/// run on every new connection (WAL for concurrent readers, a busy timeout instead of instant
/// `SQLITE_BUSY`, foreign keys enforced, fsync at checkpoints only, deleted content zeroed so
/// that a destroyed server share does not linger in free pages).
const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA busy_timeout = 5000",
    "PRAGMA secure_delete = ON",
    "PRAGMA journal_mode = WAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",
];

pub(super) async fn pool(url: &str, backend: Backend) -> Result<AnyPool, StoreError> {
    sqlx::any::install_default_drivers();
    match backend {
        Backend::Sqlite => sqlite_pool(url).await,
        Backend::Postgres => Ok(AnyPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?),
    }
}

async fn sqlite_pool(url: &str) -> Result<AnyPool, StoreError> {
    let target = sqlite_target(url);
    if let Some(file) = target.file.as_deref() {
        if let Some(parent) = file.parent()
            && !parent.as_os_str().is_empty()
            && !parent.exists()
        {
            super::files::private_dir(parent)?;
        }
        super::files::private_sqlite_files(file)?;
    }
    let mut options = AnyPoolOptions::new()
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                for pragma in SQLITE_PRAGMAS {
                    sqlx::query(*pragma).execute(&mut *conn).await?;
                }
                Ok(())
            })
        });
    options = if target.in_memory {
        // Every connection to `:memory:` would be its own database: keep exactly one, forever.
        options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        options.max_connections(8)
    };
    Ok(options.connect(&target.url).await?)
}
