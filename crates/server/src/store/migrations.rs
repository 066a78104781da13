//! The embedded migrations: one list of steps, each written for both backends, gathered
//! from the modules that own the tables.
//!
//! Built by hand rather than with `sqlx::migrate!`, which would need sqlx's `macros` feature
//! (and a second, host-side compile of both database drivers). The checksums are computed
//! the same way `migrate!` computes them (SHA-384 of the SQL text), so either way of embedding
//! yields the same `_sqlx_migrations` rows.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use super::Backend;

/// One schema step, written once for both backends: the same version and description, with
/// the DDL in each dialect (same tables, columns and meaning; only the dialect differs).
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub version: i64,
    pub description: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// The steps from before modules owned their tables (users, sessions, wallets, shares,
/// vault keys, throttles, server identity).
const CORE: &[Step] = &[
    Step {
        version: 1,
        description: "init",
        sqlite: include_str!("../../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../../migrations/postgres/0001_init.sql"),
    },
    Step {
        version: 2,
        description: "vault keks",
        sqlite: include_str!("../../migrations/sqlite/0002_vault_keks.sql"),
        postgres: include_str!("../../migrations/postgres/0002_vault_keks.sql"),
    },
    Step {
        version: 3,
        description: "frozen_at",
        sqlite: include_str!("../../migrations/sqlite/0003_frozen_at.sql"),
        postgres: include_str!("../../migrations/postgres/0003_frozen_at.sql"),
    },
    Step {
        version: 4,
        description: "auth data at rest",
        sqlite: include_str!("../../migrations/sqlite/0004_auth_data_at_rest.sql"),
        postgres: include_str!("../../migrations/postgres/0004_auth_data_at_rest.sql"),
    },
    Step {
        version: 5,
        description: "server identity",
        sqlite: include_str!("../../migrations/sqlite/0005_server_identity.sql"),
        postgres: include_str!("../../migrations/postgres/0005_server_identity.sql"),
    },
];

/// Every module's steps. A module with tables adds one line here; versions are global
/// (a new step takes the next free number, whichever module it belongs to).
const MODULES: &[&[Step]] = &[
    CORE,
    crate::users::MIGRATIONS,
    crate::credentials::MIGRATIONS,
    crate::account::MIGRATIONS,
    crate::sms::MIGRATIONS,
    crate::recovery::MIGRATIONS,
    crate::wallets::MIGRATIONS,
    crate::social::MIGRATIONS,
];

/// Every step, in version order.
pub fn steps() -> Vec<Step> {
    let mut all: Vec<Step> = MODULES.iter().flat_map(|m| m.iter().copied()).collect();
    all.sort_by_key(|s| s.version);
    all
}

/// The migrator for a backend.
pub(super) fn migrator(backend: Backend) -> Migrator {
    let mut migrator = Migrator::with_migrations(
        steps()
            .into_iter()
            .map(|step| {
                let sql = match backend {
                    Backend::Sqlite => step.sqlite,
                    Backend::Postgres => step.postgres,
                };
                Migration::new(
                    step.version,
                    Cow::Borrowed(step.description),
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

    /// Versions run 1, 2, 3, … with no gap or duplicate, whichever module adds them.
    #[test]
    fn versions_are_contiguous_across_modules() {
        let versions: Vec<i64> = steps().iter().map(|s| s.version).collect();
        let expected: Vec<i64> = (1..=i64::try_from(versions.len()).unwrap()).collect();
        assert_eq!(versions, expected);
        for step in steps() {
            assert!(!step.sqlite.trim().is_empty() && !step.postgres.trim().is_empty());
        }
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
