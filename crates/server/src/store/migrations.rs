//! The embedded migrations, one folder per backend with the same version numbers.
//!
//! Built by hand rather than with `sqlx::migrate!`, which would need sqlx's `macros` feature
//! (and a second, host-side compile of both database drivers). The checksums are computed
//! the same way `migrate!` computes them (SHA-384 of the SQL text), so either way of embedding
//! yields the same `_sqlx_migrations` rows.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use super::Backend;

/// (version, description, SQL) per backend. Add new versions to both lists in one change.
const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "vault keks",
        include_str!("../../migrations/sqlite/0002_vault_keks.sql"),
    ),
    (
        3,
        "frozen_at",
        include_str!("../../migrations/sqlite/0003_frozen_at.sql"),
    ),
    (
        4,
        "auth data at rest",
        include_str!("../../migrations/sqlite/0004_auth_data_at_rest.sql"),
    ),
    (
        5,
        "server identity",
        include_str!("../../migrations/sqlite/0005_server_identity.sql"),
    ),
];

const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "vault keks",
        include_str!("../../migrations/postgres/0002_vault_keks.sql"),
    ),
    (
        3,
        "frozen_at",
        include_str!("../../migrations/postgres/0003_frozen_at.sql"),
    ),
    (
        4,
        "auth data at rest",
        include_str!("../../migrations/postgres/0004_auth_data_at_rest.sql"),
    ),
    (
        5,
        "server identity",
        include_str!("../../migrations/postgres/0005_server_identity.sql"),
    ),
];

/// The migrator for a backend.
pub(super) fn migrator(backend: Backend) -> Migrator {
    let set = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    let mut migrator = Migrator::with_migrations(
        set.iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    );
    // During a rolling upgrade, or after a rollback, this version may start on a database a
    // newer version has already migrated. Migrations are additive (docs/operations.md,
    // "Upgrades"), so the newer ones it does not know are left alone instead of refused.
    migrator.set_ignore_missing(true);
    migrator
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_have_the_same_versions() {
        let versions = |set: &[(i64, &str, &str)]| set.iter().map(|m| m.0).collect::<Vec<_>>();
        assert_eq!(versions(SQLITE), versions(POSTGRES));
    }

    /// A database migrated by a newer release (a version this one does not know) still
    /// starts: the rollback and mixed-version case of a rolling upgrade.
    #[tokio::test]
    async fn a_newer_release_s_migration_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let url = crate::config::sqlite_url_for(&dir.path().join("t.db"));
        let store = crate::store::Store::connect(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from a newer release', TRUE, X'00', 0)",
        )
        .execute(store.pool())
        .await
        .unwrap();
        store.close().await;
        let again = crate::store::Store::connect(&url).await;
        assert!(again.is_ok(), "{:?}", again.err());
    }
}
