//! Errors of the store.

/// A store failure. Messages never contain the database URL's credentials or bound values.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is neither `sqlite:` nor `postgres://` / `postgresql://`.
    #[error("unsupported database URL (expected `sqlite:`, `postgres://` or `postgresql://`)")]
    UnsupportedUrl,
    /// The directory for the SQLite file could not be created.
    #[error("cannot create database directory `{}`: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A query or connection failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The operating system's random number generator failed.
    #[error("operating system randomness unavailable")]
    Random,
}
