//! Test support: throw-away PostgreSQL databases. Compiled only for tests or with the
//! `testing` feature, so other crates' tests can use it too.
//!
//! `TANDEM_TEST_PG_URL` names the server (default `postgres://postgres@127.0.0.1:5432/postgres`,
//! trust authentication). When it is unreachable the helper returns `None` and the test skips
//! itself, unless `TANDEM_REQUIRE_PEERS=1`, in which case it panics so the test fails.

use std::time::Duration;

use sqlx::AnyConnection;
use sqlx::{AssertSqlSafe, Connection};

use super::StoreError;

/// The server used when `TANDEM_TEST_PG_URL` is not set.
pub const DEFAULT_TEST_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A uniquely named database, dropped by [`TempDb::drop_db`] or, best effort, on drop.
pub struct TempDb {
    /// URL of the new database, for `Store::connect`.
    pub url: String,
    admin_url: String,
    name: String,
    dropped: bool,
}

impl std::fmt::Debug for TempDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TempDb").field("name", &self.name).finish()
    }
}

impl TempDb {
    /// The database name (`tandem_test_<hex>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database (`DROP DATABASE … WITH (FORCE)`, so open pools do not block it).
    pub async fn drop_db(mut self) -> Result<(), StoreError> {
        self.dropped = true;
        drop_database(&self.admin_url, &self.name).await
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        self.dropped = true;
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // We may be inside a runtime (a failing async test): use a thread with its own.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            if let Err(e) = rt.block_on(drop_database(&admin_url, &name)) {
                eprintln!("warning: could not drop test database {name}: {e}");
            }
        });
        let _ = handle.join();
    }
}

fn admin_url() -> String {
    std::env::var("TANDEM_TEST_PG_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_PG_URL.to_owned())
}

fn peers_required() -> bool {
    std::env::var("TANDEM_REQUIRE_PEERS").is_ok_and(|v| v.trim() == "1")
}

/// Replaces the database name (the URL path) of a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

async fn admin_connection(admin_url: &str) -> Result<AnyConnection, StoreError> {
    sqlx::any::install_default_drivers();
    match tokio::time::timeout(Duration::from_secs(5), AnyConnection::connect(admin_url)).await {
        Ok(conn) => Ok(conn?),
        Err(_) => Err(StoreError::Database(sqlx::Error::PoolTimedOut)),
    }
}

async fn drop_database(admin_url: &str, name: &str) -> Result<(), StoreError> {
    let mut conn = admin_connection(admin_url).await?;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    conn.close().await?;
    Ok(())
}

/// Creates a fresh database on the test PostgreSQL server, or returns `None` (after printing
/// why) when the server is unreachable and `TANDEM_REQUIRE_PEERS` is not `1`.
///
/// # Panics
/// When the server is unreachable and `TANDEM_REQUIRE_PEERS=1`, or when it is reachable but
/// the database cannot be created.
#[allow(clippy::panic)]
pub async fn temp_postgres() -> Option<TempDb> {
    let admin_url = admin_url();
    let shown = super::redact_url(&admin_url);
    let mut conn = match admin_connection(&admin_url).await {
        Ok(conn) => conn,
        Err(e) => {
            if peers_required() {
                panic!(
                    "PostgreSQL not reachable at {shown} ({e}) and TANDEM_REQUIRE_PEERS=1: \
                     start PostgreSQL or point TANDEM_TEST_PG_URL at one"
                );
            }
            eprintln!(
                "skipping: PostgreSQL not reachable at {shown} (set TANDEM_REQUIRE_PEERS=1 to fail instead)"
            );
            return None;
        }
    };
    let mut suffix = [0u8; 8];
    if getrandom::fill(&mut suffix).is_err() {
        panic!("operating system randomness unavailable");
    }
    let name = format!("tandem_test_{}", hex::encode(suffix));
    if let Err(e) = sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
    {
        panic!("cannot create test database {name} on {shown}: {e}");
    }
    let _ = conn.close().await;
    Some(TempDb {
        url: with_database(&admin_url, &name),
        admin_url,
        name,
        dropped: false,
    })
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/postgres?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}
