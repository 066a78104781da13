//! The results, the bound checks from the issue, and their human rendering.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use tandem_proto::wallet::Chain;

use super::breakdown::Breakdown;
use super::cpu::Usage;
use super::machine::Machine;
use super::stats::Latency;

#[derive(Debug, Serialize)]
pub struct Report {
    pub server: String,
    /// Round-trip time the `--rtt` relay added to every connection (0: direct).
    pub rtt_ms: f64,
    pub run: String,
    pub machine: Machine,
    pub seconds_per_point: f64,
    /// Alternating slices per point (in process / end to end).
    pub slices_per_point: u32,
    pub wallet_creation: Vec<Creation>,
    pub signing: Vec<Point>,
    pub breakdown: Vec<Breakdown>,
    pub bounds: Vec<Bound>,
    pub errors: Errors,
}

/// Sequential wallet creations by one device.
#[derive(Debug, Serialize)]
pub struct Creation {
    pub chain: Chain,
    pub latency: Option<Latency>,
    pub errors: usize,
}

/// One (chain, concurrency) point.
#[derive(Debug, Serialize)]
pub struct Point {
    pub chain: Chain,
    pub concurrency: usize,
    pub ops: usize,
    pub errors: usize,
    pub seconds: f64,
    pub throughput_ops_s: f64,
    pub latency: Option<Latency>,
    /// Who used the machine's CPU during the end-to-end run.
    pub cpu: Usage,
    /// CPU per signature of the whole load-generator process and of the server process.
    pub load_generator_cpu_ms_per_op: f64,
    pub server_cpu_ms_per_op: f64,
    pub in_process: Option<InProcessPoint>,
    /// End-to-end throughput / in-process throughput.
    pub ratio: Option<f64>,
    /// With `--rtt`: bursts the devices sent per signature, each after waiting for the
    /// server (on warm sockets, the round trips a signature costs).
    pub device_flights_per_op: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct InProcessPoint {
    pub ops: usize,
    pub seconds: f64,
    pub throughput_ops_s: f64,
    pub latency: Option<Latency>,
    /// Mean time per signature inside each party's state machine (wall time of its calls:
    /// its CPU at concurrency 1, inflated by preemption above the core count).
    pub device_ms_per_op: f64,
    pub server_ms_per_op: f64,
    /// Who used the machine's CPU during the in-process run.
    pub cpu: Usage,
    /// CPU of this process per signature.
    pub cpu_ms_per_op: f64,
}

/// A bound from the issue: `value ≤ limit` (or `≥` when `at_least`).
#[derive(Debug, Serialize)]
pub struct Bound {
    pub what: &'static str,
    pub limit: f64,
    pub unit: &'static str,
    pub at_least: bool,
    /// `None` when the point was not measured.
    pub value: Option<f64>,
    pub met: Option<bool>,
}

/// Every error of the run, grouped by message.
#[derive(Debug, Default, Serialize)]
pub struct Errors {
    pub total: usize,
    pub by_message: BTreeMap<String, usize>,
}

impl Errors {
    pub fn add(&mut self, messages: &[String]) {
        for m in messages {
            self.total += 1;
            *self.by_message.entry(m.clone()).or_default() += 1;
        }
    }
}

fn bound(
    what: &'static str,
    limit: f64,
    unit: &'static str,
    at_least: bool,
    value: Option<f64>,
) -> Bound {
    let met = value.map(|v| if at_least { v >= limit } else { v <= limit });
    Bound {
        what,
        limit,
        unit,
        at_least,
        value,
        met,
    }
}

/// The bounds, evaluated on what was measured.
/// The bounds; with an added round-trip time `rtt_ms`, the latency bounds are the
/// network ones (2 round trips plus the loopback budget) and the round trips are counted.
pub fn bounds(creation: &[Creation], signing: &[Point], rtt_ms: f64) -> Vec<Bound> {
    let point = |chain: Chain, c: usize| {
        signing
            .iter()
            .find(|p| p.chain == chain && p.concurrency == c)
    };
    let lat = |chain, c, f: fn(&Latency) -> f64| point(chain, c)?.latency.as_ref().map(f);
    let evm_keygen = creation
        .iter()
        .find(|c| c.chain == Chain::Evm)
        .and_then(|c| c.latency.as_ref())
        .map(|l| l.p50_ms);
    let network = 2.0 * rtt_ms;
    let mut bounds = vec![
        bound(
            "EVM sign p50, concurrency 1 (+ 2 × RTT)",
            network + 15.0,
            "ms",
            false,
            lat(Chain::Evm, 1, |l| l.p50_ms),
        ),
        bound(
            "EVM sign p99, concurrency 1 (+ 2 × RTT)",
            network + 30.0,
            "ms",
            false,
            lat(Chain::Evm, 1, |l| l.p99_ms),
        ),
    ];
    // The loopback-only bounds (the issue sets none for these over a network).
    if rtt_ms == 0.0 {
        bounds.push(bound(
            "Solana sign p50, concurrency 1",
            3.0,
            "ms",
            false,
            lat(Chain::Solana, 1, |l| l.p50_ms),
        ));
        bounds.push(bound(
            "EVM wallet creation p50",
            1000.0,
            "ms",
            false,
            evm_keygen,
        ));
    }
    bounds.extend([
        bound(
            "EVM sign throughput ratio (e2e / in-process), concurrency 16",
            0.85,
            "",
            true,
            point(Chain::Evm, 16).and_then(|p| p.ratio),
        ),
        bound(
            "Solana sign throughput ratio (e2e / in-process), concurrency 16",
            0.75,
            "",
            true,
            point(Chain::Solana, 16).and_then(|p| p.ratio),
        ),
    ]);
    if rtt_ms > 0.0 {
        for (what, chain) in [
            ("EVM round trips per signature, concurrency 1", Chain::Evm),
            (
                "Solana round trips per signature, concurrency 1",
                Chain::Solana,
            ),
        ] {
            let flights = point(chain, 1).and_then(|p| p.device_flights_per_op);
            bounds.push(bound(what, 2.0, "", false, flights));
        }
    }
    bounds
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.prec$}"))
}

/// The human rendering.
pub fn human(r: &Report) -> String {
    let mut s = String::new();
    let m = &r.machine;
    let _ = writeln!(s, "Tandem load test against {} (run {})", r.server, r.run);
    if r.rtt_ms > 0.0 {
        let _ = writeln!(
            s,
            "added round-trip time: {} ms (relay); flights = device bursts per signature",
            r.rtt_ms
        );
    }
    let _ = writeln!(
        s,
        "machine: {} × {}; load average before {}, after {}\n",
        m.nproc,
        m.cpu,
        m.load_before.as_deref().unwrap_or("?"),
        m.load_after.as_deref().unwrap_or("?")
    );
    let _ = writeln!(s, "Wallet creation (one device, sequential), ms");
    let _ = writeln!(
        s,
        "  chain       n  errors      p50      p90      p99      max"
    );
    for c in &r.wallet_creation {
        let l = c.latency.as_ref();
        let _ = writeln!(
            s,
            "  {:<7} {:>5} {:>7} {:>8} {:>8} {:>8} {:>8}",
            c.chain.as_str(),
            l.map_or(0, |l| l.count),
            c.errors,
            opt(l.map(|l| l.p50_ms), 1),
            opt(l.map(|l| l.p90_ms), 1),
            opt(l.map(|l| l.p99_ms), 1),
            opt(l.map(|l| l.max_ms), 1),
        );
    }
    let _ = writeln!(
        s,
        "\nSigning, {} s per point in {} alternating slice(s) (latencies in ms; ops/s counts signatures completed inside the slices)",
        r.seconds_per_point, r.slices_per_point
    );
    let _ = writeln!(
        s,
        "  chain    c    ops  errors    ops/s     p50     p90     p99 | in-process ops/s     p50 | ratio"
    );
    for p in &r.signing {
        let l = p.latency.as_ref();
        let ip = p.in_process.as_ref();
        let _ = writeln!(
            s,
            "  {:<6} {:>3} {:>6} {:>7} {:>8.1} {:>7} {:>7} {:>7} | {:>16} {:>7} | {:>5}",
            p.chain.as_str(),
            p.concurrency,
            p.ops,
            p.errors,
            p.throughput_ops_s,
            opt(l.map(|l| l.p50_ms), 2),
            opt(l.map(|l| l.p90_ms), 2),
            opt(l.map(|l| l.p99_ms), 2),
            opt(ip.map(|i| i.throughput_ops_s), 1),
            opt(ip.and_then(|i| i.latency.as_ref()).map(|l| l.p50_ms), 2),
            opt(p.ratio, 3),
        );
        if let Some(f) = p.device_flights_per_op {
            let _ = writeln!(s, "  {:<6} {:>3} flights per signature: {f:.2}", "", "");
        }
    }
    let _ = writeln!(
        s,
        "\nCPU per signature, ms (whole processes, from /proc); others% = CPU share of other processes"
    );
    let _ = writeln!(
        s,
        "  chain    c | e2e: load generator  server    sum  others% | in process    others%"
    );
    for p in &r.signing {
        let ip = p.in_process.as_ref();
        let _ = writeln!(
            s,
            "  {:<6} {:>3} | {:>19.3} {:>7.3} {:>6.3} {:>8.1} | {:>10} {:>10}",
            p.chain.as_str(),
            p.concurrency,
            p.load_generator_cpu_ms_per_op,
            p.server_cpu_ms_per_op,
            p.load_generator_cpu_ms_per_op + p.server_cpu_ms_per_op,
            p.cpu.others_pct,
            opt(ip.map(|i| i.cpu_ms_per_op), 3),
            opt(ip.map(|i| i.cpu.others_pct), 1),
        );
    }
    if !r.breakdown.is_empty() {
        let _ = writeln!(
            s,
            "\nOne signature at concurrency 1, step by step (medians, ms)"
        );
        let _ = writeln!(
            s,
            "  chain    n  staged   share  connect (once)  ceremony   total | MPC device  server"
        );
        for b in &r.breakdown {
            let _ = writeln!(
                s,
                "  {:<6} {:>3} {:>7.3} {:>7.3} {:>14.3} {:>9.3} {:>7.3} | {:>10} {:>7}",
                b.chain.as_str(),
                b.ops,
                b.store_staged_ms,
                b.share_load_ms,
                b.connect_ms,
                b.ceremony_ms,
                b.total_ms,
                opt(b.mpc_device_ms, 3),
                opt(b.mpc_server_ms, 3),
            );
        }
    }
    let _ = writeln!(s, "\nBounds");
    for b in &r.bounds {
        let op = if b.at_least { "≥" } else { "≤" };
        let verdict = match b.met {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "not measured",
        };
        let _ = writeln!(
            s,
            "  {:<62} {op} {}{}: {}{}  {verdict}",
            b.what,
            b.limit,
            b.unit,
            opt(b.value, 3),
            b.unit,
        );
    }
    let _ = write!(s, "\nErrors: {}", r.errors.total);
    for (msg, n) in r.errors.by_message.iter().take(10) {
        let _ = write!(s, "\n  {n} × {msg}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(chain: Chain, c: usize, p50: f64, ratio: Option<f64>) -> Point {
        Point {
            chain,
            concurrency: c,
            ops: 10,
            errors: 0,
            seconds: 1.0,
            throughput_ops_s: 10.0,
            latency: Some(Latency {
                count: 10,
                p50_ms: p50,
                p90_ms: p50,
                p99_ms: p50 * 3.0,
                min_ms: p50,
                max_ms: p50 * 3.0,
                mean_ms: p50,
            }),
            cpu: Usage::default(),
            load_generator_cpu_ms_per_op: 0.0,
            server_cpu_ms_per_op: 0.0,
            in_process: None,
            ratio,
            device_flights_per_op: None,
        }
    }

    #[test]
    fn bounds_are_checked_on_the_right_points() {
        let signing = vec![
            point(Chain::Evm, 1, 12.0, Some(1.2)),
            point(Chain::Solana, 1, 4.0, None),
            point(Chain::Evm, 16, 90.0, Some(0.8)),
        ];
        let b = bounds(&[], &signing, 0.0);
        let verdicts: Vec<_> = b.iter().map(|b| (b.value, b.met)).collect();
        assert_eq!(
            verdicts,
            vec![
                (Some(12.0), Some(true)),
                (Some(36.0), Some(false)),
                (Some(4.0), Some(false)),
                (None, None),
                (Some(0.8), Some(false)),
                (None, None),
            ]
        );
        let mut errors = Errors::default();
        errors.add(&["a".into(), "b".into(), "a".into()]);
        assert_eq!(errors.total, 3);
        assert_eq!(errors.by_message.get("a"), Some(&2));
    }
}
