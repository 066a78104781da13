//! The end-to-end load: simulated devices creating wallets and signing against the server,
//! each operation timed from the call to the returned result.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tandem_client::{ClientError, Device};
use tandem_proto::wallet::Chain;
use tokio::task::JoinSet;

use super::payload::payload;
use super::sim::SimDevice;

/// A device that keeps failing stops early instead of spinning (its errors are all counted).
const MAX_ERRORS_PER_DEVICE: usize = 20;

/// Every latency and every error of one measurement.
#[derive(Debug, Default)]
pub struct Outcome {
    pub latencies: Vec<Duration>,
    pub errors: Vec<String>,
    /// From the start until the last operation returned.
    pub elapsed: Duration,
    /// The measurement window (signing: the time devices started operations in) and how many
    /// operations completed inside it: throughput is `in_window / window`, so the tail of
    /// operations finishing after the window counts for no run.
    pub window: Duration,
    pub in_window: usize,
}

impl Outcome {
    /// Adds a later slice of the same measurement.
    pub fn absorb(&mut self, other: Outcome) {
        self.latencies.extend(other.latencies);
        self.errors.extend(other.errors);
        self.elapsed += other.elapsed;
        self.window += other.window;
        self.in_window += other.in_window;
    }
}

/// Creates `n` wallets on `chain` one after the other, timing each.
pub async fn create_wallets(device: &Device, chain: Chain, n: usize) -> (Outcome, Vec<String>) {
    let mut out = Outcome::default();
    let mut ids = Vec::new();
    let start = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        match device.create_wallet(chain, None).await {
            Ok(w) => {
                out.latencies.push(t.elapsed());
                ids.push(w.id);
            }
            Err(e) => out.errors.push(format!("create {chain} wallet: {e}")),
        }
    }
    out.elapsed = start.elapsed();
    (out, ids)
}

/// Runs `devices` in parallel, each signing in a loop on `chain` until `duration` is over.
/// `counter` numbers the requests across the whole run so that every payload differs.
pub async fn signing(
    devices: &[Arc<SimDevice>],
    chain: Chain,
    run: &str,
    duration: Duration,
    counter: &Arc<AtomicU64>,
) -> Outcome {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = JoinSet::new();
    for sim in devices {
        let (sim, run, counter) = (sim.clone(), run.to_owned(), counter.clone());
        tasks.spawn(async move { device_loop(&sim, chain, &run, deadline, &counter).await });
    }
    let mut out = Outcome {
        window: duration,
        ..Outcome::default()
    };
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((latencies, errors, in_window)) => {
                out.latencies.extend(latencies);
                out.errors.extend(errors);
                out.in_window += in_window;
            }
            Err(e) => out.errors.push(format!("device task failed: {e}")),
        }
    }
    out.elapsed = start.elapsed();
    out
}

async fn device_loop(
    sim: &SimDevice,
    chain: Chain,
    run: &str,
    deadline: Instant,
    counter: &AtomicU64,
) -> (Vec<Duration>, Vec<String>, usize) {
    let (mut latencies, mut errors, mut in_window) = (Vec::new(), Vec::new(), 0);
    while Instant::now() < deadline {
        let request = payload(
            chain,
            run,
            sim.index,
            counter.fetch_add(1, Ordering::Relaxed),
        );
        let t = Instant::now();
        match sim.device.sign(sim.wallet(chain), &request, None).await {
            Ok(_) => {
                latencies.push(t.elapsed());
                in_window += usize::from(Instant::now() <= deadline);
            }
            Err(e) => {
                errors.push(format!("device {} {chain} sign: {e}", sim.index));
                if errors.len() >= MAX_ERRORS_PER_DEVICE {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    (latencies, errors, in_window)
}

/// One untimed signature per device and chain, so that no measured operation pays for a
/// first use; any failure here stops the run.
pub async fn warm_up(
    devices: &[Arc<SimDevice>],
    run: &str,
    counter: &AtomicU64,
) -> Result<(), ClientError> {
    for sim in devices {
        for chain in [Chain::Evm, Chain::Solana] {
            let request = payload(
                chain,
                run,
                sim.index,
                counter.fetch_add(1, Ordering::Relaxed),
            );
            sim.device.sign(sim.wallet(chain), &request, None).await?;
        }
    }
    Ok(())
}
