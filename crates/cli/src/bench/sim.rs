//! Simulated devices: each logs in with its own address (code read from the outbox), keeps
//! its shares in its own store under a scratch directory, and owns one wallet per chain.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tandem_client::store::KdfParams;
use tandem_client::{ApiClient, ClientError, Device, ShareStore};
use tandem_proto::wallet::Chain;

/// The store's passphrase KDF is not what is measured (it runs once, when a store opens):
/// the cheapest Argon2id parameters keep device setup fast.
const CHEAP_KDF: KdfParams = KdfParams {
    m_kib: 8,
    t: 1,
    p: 1,
};
const PASSPHRASE: &str = "tandem-bench-passphrase";
const CODE_TIMEOUT: Duration = Duration::from_secs(10);

/// A logged-in simulated device and its wallets.
pub struct SimDevice {
    pub index: usize,
    pub device: Device,
    pub evm: String,
    pub solana: String,
}

impl SimDevice {
    pub fn wallet(&self, chain: Chain) -> &str {
        match chain {
            Chain::Evm => &self.evm,
            Chain::Solana => &self.solana,
        }
    }
}

/// The address of device `index` in run `run` (already in the server's normal form).
pub fn email(run: &str, index: usize) -> String {
    format!("bench-{run}-{index}@bench.tandem.localhost")
}

/// Logs a new device in by email OTP and opens its share store in `store_dir`.
pub async fn login(
    server: &str,
    outbox: &Path,
    email: &str,
    store_dir: &Path,
) -> Result<Device, ClientError> {
    let api = ApiClient::new(server)?;
    let started = api.email_start(email).await?;
    let code = super::outbox::wait_for_code(outbox, email, CODE_TIMEOUT).await?;
    let login = api.email_verify(&started.attempt_id, &code).await?;
    let store = ShareStore::open_with(store_dir, PASSPHRASE, CHEAP_KDF)?;
    let api = api.with_token(login.token).pin_server_key().await?;
    Ok(Device::new(api, store))
}

/// The scratch directory holding every simulated device's share store; removed on drop.
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    pub fn new(run: &str) -> Result<Scratch, ClientError> {
        let dir = std::env::temp_dir().join(format!("tandem-bench-{run}"));
        std::fs::create_dir_all(&dir)
            .map_err(|e| ClientError::Local(format!("cannot create {}: {e}", dir.display())))?;
        Ok(Scratch { dir })
    }

    pub fn store_dir(&self, index: usize) -> PathBuf {
        self.dir.join(format!("device-{index}"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
