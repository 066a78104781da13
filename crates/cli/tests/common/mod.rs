//! Test harness: the real `tandem` binary as server and as CLI, on loopback.
#![allow(dead_code, unused_imports)]

pub mod cli;
pub mod evil;
pub mod http;
pub mod mitm;
pub mod oidc_peer;
pub mod proxy;
pub mod pyotp;
pub mod raw;
pub mod server;
pub mod smpp_peer;
pub mod smtp_peer;
pub mod softhsm;
pub mod transport;
pub mod vault;
pub mod verify;

pub use cli::Cli;
pub use server::{Backend, Server, ServerOptions};

/// Runs `f` once per database backend the machine offers (PostgreSQL skipped with a printed
/// reason when unreachable, unless `TANDEM_REQUIRE_PEERS=1`).
pub async fn each_backend<F, Fut>(f: F)
where
    F: Fn(Backend) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    f(Backend::Sqlite).await;
    if let Some(db) = tandem_server::store::testing::temp_postgres().await {
        f(Backend::Postgres(db.url.clone())).await;
        let _ = db.drop_db().await;
    }
}

/// The first Python interpreter that can import `module`: the peers' venv named by
/// `TANDEM_PEER_PYTHON` (what `.ci/run` installs), the default venv path, then `python3`.
pub fn peer_python(module: &str) -> Option<String> {
    let candidates = [
        std::env::var("TANDEM_PEER_PYTHON").ok(),
        std::env::var("HOME")
            .ok()
            .map(|h| format!("{h}/.cache/tandem-peers/venv/bin/python")),
        Some("python3".to_owned()),
    ];
    candidates.into_iter().flatten().find(|py| {
        std::process::Command::new(py)
            .args(["-c", &format!("import {module}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn unique_email(tag: &str) -> String {
    let mut b = [0u8; 6];
    let _ = getrandom_fill(&mut b);
    format!("{tag}-{}@example.test", hex::encode(b))
}

/// Fills `b` from the OS (tests only: panics if it cannot).
pub fn getrandom_fill_pub(b: &mut [u8]) {
    getrandom_fill(b).expect("/dev/urandom");
}

fn getrandom_fill(b: &mut [u8]) -> Result<(), ()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(b))
        .map_err(|_| ())
}
