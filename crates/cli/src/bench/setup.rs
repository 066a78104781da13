//! Before measuring: log the devices in and give each its wallets.

use std::path::Path;
use std::sync::Arc;

use tandem_client::{ClientError, Device};
use tandem_proto::wallet::Chain;
use tokio::task::JoinSet;

use super::sim::{self, Scratch, SimDevice};

/// Logs in `n` devices, one after the other, each with its own address and store.
pub async fn login_all(
    server: &str,
    outbox: &Path,
    run: &str,
    n: usize,
    scratch: &Scratch,
) -> Result<Vec<Device>, ClientError> {
    let mut devices = Vec::with_capacity(n);
    for i in 0..n {
        let device = sim::login(server, outbox, &sim::email(run, i), &scratch.store_dir(i)).await?;
        devices.push(device);
    }
    Ok(devices)
}

async fn wallet(
    device: &Device,
    chain: Chain,
    known: Option<String>,
) -> Result<String, ClientError> {
    match known {
        Some(id) => Ok(id),
        None => Ok(device.create_wallet(chain, None).await?.id),
    }
}

/// Gives every device an EVM and a Solana wallet, in parallel. Device 0 reuses `first`'s
/// wallets when it already has them (from the timed creations).
pub async fn provision(
    devices: Vec<Device>,
    first: (Option<String>, Option<String>),
) -> Result<Vec<Arc<SimDevice>>, ClientError> {
    let mut first = Some(first);
    let mut tasks = JoinSet::new();
    for (index, device) in devices.into_iter().enumerate() {
        let (evm, solana) = first.take().unwrap_or_default();
        tasks.spawn(async move {
            let evm = wallet(&device, Chain::Evm, evm).await?;
            let solana = wallet(&device, Chain::Solana, solana).await?;
            Ok::<_, ClientError>(SimDevice {
                index,
                device,
                evm,
                solana,
            })
        });
    }
    let mut sims = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let sim = joined.map_err(|e| ClientError::Local(format!("wallet setup failed: {e}")))??;
        sims.push(Arc::new(sim));
    }
    sims.sort_by_key(|s| s.index);
    Ok(sims)
}
