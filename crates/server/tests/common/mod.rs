//! Shared helpers for the foundation tests: a fresh database per test, on either backend.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod pg;

use std::sync::Arc;

use tandem_server::clock::{ManualClock, SharedClock};
use tandem_server::store::Store;
use tandem_server::store::testing::TempDb;
use tempfile::TempDir;

/// A migrated database of its own: an SQLite file in a temp dir, or a temp PostgreSQL database.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    dir: Option<TempDir>,
    pg: Option<TempDb>,
}

impl TestDb {
    /// A fresh SQLite database file.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/tandem.db", dir.path().display());
        let store = Store::connect(&url).await.expect("connect sqlite");
        TestDb {
            store,
            url,
            dir: Some(dir),
            pg: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` (test skipped) when PostgreSQL is unreachable
    /// and `TANDEM_REQUIRE_PEERS` is not `1`.
    pub async fn postgres() -> Option<TestDb> {
        let pg = pg::temp_postgres().await?;
        let url = pg.url.clone();
        let store = Store::connect(&url).await.expect("connect postgres");
        Some(TestDb {
            store,
            url,
            dir: None,
            pg: Some(pg),
        })
    }

    /// Another, independent pool on the same database (a second server instance).
    pub async fn second_instance(&self) -> Store {
        Store::connect(&self.url)
            .await
            .expect("connect second instance")
    }

    /// Closes the pool and removes the database.
    pub async fn finish(mut self) {
        self.store.close().await;
        if let Some(pg) = self.pg.take() {
            pg.drop_db().await.expect("drop temp database");
        }
    }
}

/// A manual clock at a fixed, realistic time, and the same clock as a `SharedClock`.
pub fn manual_clock() -> (Arc<ManualClock>, SharedClock) {
    let clock = Arc::new(ManualClock::new(1_750_000_000_000));
    let shared: SharedClock = clock.clone();
    (clock, shared)
}

/// Runs `async fn name(db: &TestDb)` from the including file on SQLite and on PostgreSQL,
/// as `name::sqlite` and `name::postgres`. Needs `#[macro_use] mod common;`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    let db = $crate::common::TestDb::sqlite().await;
                    super::$name(&db).await;
                    db.finish().await;
                }

                #[tokio::test]
                async fn postgres() {
                    let Some(db) = $crate::common::TestDb::postgres().await else {
                        return;
                    };
                    super::$name(&db).await;
                    db.finish().await;
                }
            }
        )*
    };
}
