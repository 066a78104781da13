//! Store: connecting, SQLite settings, migrations, and the `Any` conventions on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use common::TestDb;
use sqlx::Row;
use tandem_server::store::{Backend, Store, StoreError};

#[tokio::test]
async fn sqlite_creates_directory_and_file_and_sets_pragmas() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("nested/deeper/tandem.db");
    let url = format!("sqlite://{}", db_path.display());
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(db_path.is_file());

    let mut conn = store.pool().acquire().await.unwrap();
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
    let fk: i64 = sqlx::query("PRAGMA foreign_keys")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(fk, 1);
    let busy: i64 = sqlx::query("PRAGMA busy_timeout")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(busy, 5000);
    let sync: i64 = sqlx::query("PRAGMA synchronous")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(sync, 1, "synchronous = NORMAL");
    drop(conn);
    store.close().await;
}

#[tokio::test]
async fn in_memory_sqlite_works() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    sqlx::query("INSERT INTO users (id, email, created_at) VALUES ($1, $2, $3)")
        .bind("u1")
        .bind("a@example.com")
        .bind(1_i64)
        .execute(store.pool())
        .await
        .unwrap();
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM users")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    for url in ["mysql://localhost/x", "http://x", ""] {
        assert!(matches!(
            Store::connect(url).await,
            Err(StoreError::UnsupportedUrl)
        ));
    }
}

async fn schema_round_trip(db: &TestDb) {
    let pool = db.store.pool();
    // BIGINT times, TEXT ids, binary values, NULLs, RETURNING and upsert through `Any`.
    sqlx::query("INSERT INTO users (id, email, created_at) VALUES ($1, $2, $3)")
        .bind("u1")
        .bind("a@example.com")
        .bind(1_750_000_000_123_i64)
        .execute(pool)
        .await
        .unwrap();
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (email) DO NOTHING",
    )
    .bind("u2")
    .bind("a@example.com")
    .bind(2_i64)
    .execute(pool)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(inserted, 0);

    let blob: Vec<u8> = (0..=255u8).collect();
    let row = sqlx::query(
        "INSERT INTO wallets (id, user_id, chain, public_key, address, epoch, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING status, version, public_key",
    )
    .bind("w1")
    .bind("u1")
    .bind("evm")
    .bind(blob.clone())
    .bind("0xabc")
    .bind(0_i64)
    .bind(5_i64)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(row.try_get::<String, _>(0).unwrap(), "active");
    assert_eq!(row.try_get::<i64, _>(1).unwrap(), 0);
    assert_eq!(row.try_get::<Vec<u8>, _>(2).unwrap(), blob);

    // Foreign keys are enforced on both backends.
    let orphan = sqlx::query(
        "INSERT INTO sessions (id, user_id, token_hash, auth_method, created_at, refreshed_at, \
         expires_at, absolute_expires_at) VALUES ($1, $2, $3, $4, 0, 0, 1, 1)",
    )
    .bind("s1")
    .bind("nobody")
    .bind(vec![1u8; 32])
    .bind("email_otp")
    .execute(pool)
    .await;
    assert!(orphan.is_err(), "foreign key not enforced");

    // server_shares: state is constrained, and one current share per wallet.
    let share = |epoch: i64, state: &'static str| {
        sqlx::query(
            "INSERT INTO server_shares (wallet_id, epoch, state, kek_id, wrapped_dek, ciphertext, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind("w1")
        .bind(epoch)
        .bind(state)
        .bind("local:00000000")
        .bind(vec![1u8; 60])
        .bind(vec![2u8; 40])
        .bind(9_i64)
    };
    share(0, "current").execute(pool).await.unwrap();
    share(1, "staged").execute(pool).await.unwrap();
    assert!(share(2, "current").execute(pool).await.is_err());
    assert!(share(3, "bogus").execute(pool).await.is_err());

    let consumed: Option<i64> = sqlx::query("SELECT revoked_at FROM sessions WHERE id = $1")
        .bind("none")
        .fetch_optional(pool)
        .await
        .unwrap()
        .map(|r| r.try_get(0).unwrap());
    assert_eq!(consumed, None);
}

async fn migrations_are_idempotent(db: &TestDb) {
    // A second instance connecting to a migrated database runs no migration and fails not.
    let second = db.second_instance().await;
    let applied: i64 = sqlx::query("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(second.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    // Every step of every module, each applied once.
    assert_eq!(applied, 13);
    second.close().await;
}

on_both_backends!(schema_round_trip, migrations_are_idempotent);

/// Columns as (table, column) -> (type class, nullable), named the same on both backends.
type Schema = std::collections::BTreeMap<(String, String), (String, bool)>;

async fn sqlite_schema(store: &Store) -> Schema {
    let rows = sqlx::query(
        "SELECT m.name, p.name, p.type, p.\"notnull\" FROM sqlite_master m \
         JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    rows.iter()
        .map(|r| {
            let ty: String = r.try_get(2).unwrap();
            // SQLite integers are 64-bit whatever the declared name.
            let class = match ty.to_ascii_uppercase().as_str() {
                "TEXT" => "text",
                "BLOB" => "bytes",
                "BIGINT" | "INTEGER" => "int64",
                "BOOLEAN" => "bool",
                other => panic!("unexpected SQLite column type {other}"),
            };
            let not_null: i64 = r.try_get(3).unwrap();
            (
                (r.try_get(0).unwrap(), r.try_get(1).unwrap()),
                (class.to_owned(), not_null == 0),
            )
        })
        .collect()
}

async fn postgres_schema(store: &Store) -> Schema {
    let rows = sqlx::query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text \
         FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    rows.iter()
        .map(|r| {
            let ty: String = r.try_get(2).unwrap();
            // A 32-bit PostgreSQL integer would not decode into the i64 the code reads
            // through `Any`: it gets its own class, so it shows up as a difference.
            let class = match ty.as_str() {
                "text" => "text",
                "bytea" => "bytes",
                "bigint" => "int64",
                "boolean" => "bool",
                other => other,
            };
            let nullable: String = r.try_get(3).unwrap();
            (
                (r.try_get(0).unwrap(), r.try_get(1).unwrap()),
                (class.to_owned(), nullable == "YES"),
            )
        })
        .collect()
}

/// The migration list is written once for both backends; this proves the two dialects of
/// every step produce the same tables, columns, type classes and nullability.
#[tokio::test]
async fn sqlite_and_postgres_schemas_match_column_by_column() {
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    let lite = TestDb::sqlite().await;
    let a = sqlite_schema(&lite.store).await;
    let b = postgres_schema(&pg.store).await;
    assert!(a.len() > 40, "only {} columns read from SQLite", a.len());
    let mut differences = Vec::new();
    for key in a
        .keys()
        .chain(b.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        if a.get(key) != b.get(key) {
            differences.push(format!(
                "{}.{}: sqlite {:?}, postgres {:?}",
                key.0,
                key.1,
                a.get(key),
                b.get(key)
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "schemas differ:\n{}",
        differences.join("\n")
    );
    lite.finish().await;
    pg.finish().await;
}

#[tokio::test]
async fn temp_databases_are_dropped_even_without_drop_db() {
    let Some(db) = common::pg::temp_postgres().await else {
        return;
    };
    let name = db.name().to_owned();
    // A pool still open does not block the drop (WITH (FORCE)).
    let _store = Store::connect(&db.url).await.unwrap();
    drop(db);
    use sqlx::Connection;
    let admin_url = std::env::var("TANDEM_TEST_PG_URL")
        .unwrap_or_else(|_| common::pg::DEFAULT_TEST_PG_URL.to_owned());
    let mut conn = sqlx::AnyConnection::connect(&admin_url).await.unwrap();
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(n, 0);
}
