//! One (chain, concurrency) point: the in-process baseline and the end-to-end load, in
//! alternating slices (A B A B …) so that a drift in the machine's speed during the point
//! weighs on both figures alike instead of on whichever ran during it.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tandem_client::ClientError;
use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::ed25519::Ed25519;
use tandem_proto::wallet::Chain;

use super::baseline::{self, InProcess};
use super::breakdown::Breakdown;
use super::cpu::{Snapshot, Usage};
use super::load;
use super::pair::{self, SharePair};
use super::report::{InProcessPoint, Point};
use super::sim::SimDevice;
use super::stats::{Latency, ms, throughput};

/// In-memory share pairs for the baseline, one wallet per chain.
pub struct Pairs {
    evm: SharePair<Secp256k1>,
    solana: SharePair<Ed25519>,
}

impl Pairs {
    pub fn generate() -> Result<Pairs, ClientError> {
        Ok(Pairs {
            evm: pair::keygen("bench-in-process-evm")?,
            solana: pair::keygen("bench-in-process-solana")?,
        })
    }

    fn run(
        &self,
        chain: Chain,
        threads: usize,
        duration: Duration,
    ) -> Result<InProcess, ClientError> {
        match chain {
            Chain::Evm => baseline::run(&self.evm, threads, duration),
            Chain::Solana => baseline::run(&self.solana, threads, duration),
        }
    }
}

fn in_process_point(r: &InProcess, cpu: Usage) -> InProcessPoint {
    let n = r.latencies.len().max(1) as f64;
    InProcessPoint {
        ops: r.latencies.len(),
        seconds: r.window.as_secs_f64(),
        throughput_ops_s: throughput(r.in_window, r.window),
        latency: Latency::of(&r.latencies),
        device_ms_per_op: ms(r.time.device) / n,
        server_ms_per_op: ms(r.time.server) / n,
        cpu,
        cpu_ms_per_op: cpu.load_generator_s * 1e3 / n,
    }
}

fn per_op(seconds: f64, ops: usize) -> f64 {
    seconds * 1e3 / ops.max(1) as f64
}

/// How one point is measured.
pub struct Plan<'a> {
    pub chain: Chain,
    pub concurrency: usize,
    pub pairs: Option<&'a Pairs>,
    /// Total time of each side (in process, end to end).
    pub duration: Duration,
    /// Into how many alternating slices each side's time is cut.
    pub slices: u32,
    /// The `--rtt` relay, whose flights are counted during the end-to-end slices.
    pub relay: Option<&'a super::delay::Delay>,
}

/// Measures one point; returns it with the error messages of the end-to-end run.
pub async fn measure(
    plan: &Plan<'_>,
    sims: &[Arc<SimDevice>],
    run: &str,
    counter: &Arc<AtomicU64>,
) -> Result<(Point, Vec<String>), ClientError> {
    let (chain, concurrency) = (plan.chain, plan.concurrency);
    let slice = plan.duration / plan.slices.max(1);
    let devices = sims.get(..concurrency).unwrap_or(sims);
    let mut baseline: Option<(InProcess, Usage)> = None;
    let (mut e2e, mut cpu) = (load::Outcome::default(), Usage::default());
    let mut flights = 0;
    for _ in 0..plan.slices.max(1) {
        if let Some(p) = plan.pairs {
            let before = Snapshot::take();
            let r = tokio::task::block_in_place(|| p.run(chain, concurrency, slice))?;
            let used = before.usage_until(&Snapshot::take());
            match baseline.as_mut() {
                Some((acc, acc_cpu)) => {
                    acc.absorb(r);
                    *acc_cpu = *acc_cpu + used;
                }
                None => baseline = Some((r, used)),
            }
        }
        let before = Snapshot::take();
        let flights_before = plan.relay.map(|r| r.flights());
        e2e.absorb(load::signing(devices, chain, run, slice, counter).await);
        cpu = cpu + before.usage_until(&Snapshot::take());
        if let (Some(relay), Some(b)) = (plan.relay, flights_before) {
            flights += relay.flights() - b;
        }
    }
    let in_process = baseline.map(|(r, used)| in_process_point(&r, used));
    let throughput_ops_s = throughput(e2e.in_window, e2e.window);
    let ratio = in_process
        .as_ref()
        .filter(|ip| ip.throughput_ops_s > 0.0)
        .map(|ip| throughput_ops_s / ip.throughput_ops_s);
    let point = Point {
        chain,
        concurrency,
        ops: e2e.latencies.len(),
        errors: e2e.errors.len(),
        seconds: e2e.window.as_secs_f64(),
        throughput_ops_s,
        latency: Latency::of(&e2e.latencies),
        cpu,
        load_generator_cpu_ms_per_op: per_op(cpu.load_generator_s, e2e.latencies.len()),
        server_cpu_ms_per_op: per_op(cpu.server_s, e2e.latencies.len()),
        in_process,
        ratio,
        device_flights_per_op: plan
            .relay
            .map(|_| flights as f64 / e2e.latencies.len().max(1) as f64),
    };
    Ok((point, e2e.errors))
}

/// Adds each party's in-memory MPC CPU per signature (lowest measured concurrency) to a
/// breakdown.
pub fn attach_mpc_time(b: &mut Breakdown, signing: &[Point]) {
    let lowest = signing
        .iter()
        .filter(|p| p.chain == b.chain && p.in_process.is_some())
        .min_by_key(|p| p.concurrency);
    if let Some(ip) = lowest.and_then(|p| p.in_process.as_ref()) {
        b.mpc_device_ms = Some(ip.device_ms_per_op);
        b.mpc_server_ms = Some(ip.server_ms_per_op);
    }
}
