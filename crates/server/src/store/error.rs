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
    /// The data directory or a database file is open to group or others.
    #[error(
        "`{}` has mode {mode:o}; it must not be accessible to group or others (chmod {fix} `{}`)",
        path.display(), path.display()
    )]
    Permissions {
        /// The directory or file.
        path: std::path::PathBuf,
        /// Its permission bits.
        mode: u32,
        /// The mode to set.
        fix: &'static str,
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
