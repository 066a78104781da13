//! Where one signature's time goes, at concurrency 1: `Device::sign`'s steps replayed one by
//! one through the SDK's public API, each timed (store reads, the ceremony). Like `Device`,
//! the signatures share one socket; its connect is timed once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tandem_client::{ClientError, Device, ceremony};
use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::ed25519::Ed25519;
use tandem_proto::scheme::ChainScheme;
use tandem_proto::sign::SignPayload;
use tandem_proto::wallet::Chain;

use super::payload::payload;
use super::sim::SimDevice;
use super::stats::{median, ms};

#[derive(Default)]
struct Samples {
    staged: Vec<Duration>,
    share: Vec<Duration>,
    connect: Vec<Duration>,
    ceremony: Vec<Duration>,
    total: Vec<Duration>,
}

/// Medians over the measured signatures, in milliseconds.
#[derive(Clone, Debug, Serialize)]
pub struct Breakdown {
    pub chain: Chain,
    pub ops: usize,
    pub errors: Vec<String>,
    /// `ShareStore::staged` (lock, keystore check, directory listing).
    pub store_staged_ms: f64,
    /// `Device::share` (reads, decrypts and decodes the current share).
    pub share_load_ms: f64,
    /// `Socket::connect` (TCP, HTTP upgrade, session check, channel handshake), paid once:
    /// later signatures reuse the socket, as `Device` does.
    pub connect_ms: f64,
    /// `ceremony::sign`: start → accepted (server: session re-check, wallet lookup, share
    /// open and decode, first round), the MPC rounds on both sides, the release.
    pub ceremony_ms: f64,
    pub total_ms: f64,
    /// Each party's MPC CPU per signature, from the in-memory baseline at concurrency 1.
    pub mpc_device_ms: Option<f64>,
    pub mpc_server_ms: Option<f64>,
}

fn lap(samples: &mut Vec<Duration>, since: &mut Instant) {
    let now = Instant::now();
    samples.push(now - *since);
    *since = now;
}

/// Exactly what `Device::sign` does, step by step.
async fn one<S: ChainScheme>(
    device: &Device,
    wallet: &str,
    request: &SignPayload,
    socket: &mut Option<ceremony::Socket>,
    s: &mut Samples,
) -> Result<(), ClientError> {
    let start = Instant::now();
    let mut t = start;
    device.store().staged(wallet)?;
    lap(&mut s.staged, &mut t);
    let share = device.share::<S>(wallet)?;
    lap(&mut s.share, &mut t);
    let socket = match socket {
        Some(socket) => socket,
        None => {
            let fresh = ceremony::Socket::connect(device.api()).await?;
            lap(&mut s.connect, &mut t);
            socket.insert(fresh)
        }
    };
    let guard = device.guard(wallet)?;
    ceremony::sign::<S>(socket, &guard, &share, request, None).await?;
    lap(&mut s.ceremony, &mut t);
    s.total.push(start.elapsed());
    Ok(())
}

/// `ops` signatures by one device on `chain`, one after the other.
pub async fn measure(
    sim: &SimDevice,
    chain: Chain,
    run: &str,
    ops: usize,
    counter: &AtomicU64,
) -> Breakdown {
    let mut s = Samples::default();
    let mut errors = Vec::new();
    let mut socket = None;
    for _ in 0..ops {
        let request = payload(
            chain,
            run,
            sim.index,
            counter.fetch_add(1, Ordering::Relaxed),
        );
        let wallet = sim.wallet(chain);
        let r = match chain {
            Chain::Evm => {
                one::<Secp256k1>(&sim.device, wallet, &request, &mut socket, &mut s).await
            }
            Chain::Solana => {
                one::<Ed25519>(&sim.device, wallet, &request, &mut socket, &mut s).await
            }
        };
        if let Err(e) = r {
            socket = None;
            errors.push(format!("breakdown {chain} sign: {e}"));
        }
    }
    let m = |v: &[Duration]| ms(median(v));
    Breakdown {
        chain,
        ops: s.total.len(),
        errors,
        store_staged_ms: m(&s.staged),
        share_load_ms: m(&s.share),
        connect_ms: m(&s.connect),
        ceremony_ms: m(&s.ceremony),
        total_ms: m(&s.total),
        mpc_device_ms: None,
        mpc_server_ms: None,
    }
}
