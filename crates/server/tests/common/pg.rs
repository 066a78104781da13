//! The temporary-PostgreSQL helper for tests: `tandem_server::store::testing` (feature
//! `testing`), re-exported so test files and other crates share one implementation.
//!
//! `temp_postgres()` connects to `TANDEM_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), creates `tandem_test_<random hex>` and
//! returns its URL; `drop_db().await` drops it (`WITH (FORCE)`), as does dropping the value
//! (best effort). Unreachable server: `None` and a `skipping: …` line, or a panic when
//! `TANDEM_REQUIRE_PEERS=1`.

#[allow(unused_imports)]
pub use tandem_server::store::testing::{DEFAULT_TEST_PG_URL, TempDb, temp_postgres};
