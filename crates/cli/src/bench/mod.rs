//! `tandem bench`: a load generator for a running server. Simulated devices log in by email
//! code (read from the server's development outbox), create wallets and sign; every
//! operation is timed end to end. Next to each signing point it measures the same ceremony
//! in process (both parties in memory, on as many OS threads as the point has devices), so
//! that the ratio of the two throughputs shows what the server adds. The load generator
//! computes the device side on this machine, so both figures pay for both parties' MPC.

mod baseline;
mod breakdown;
mod cpu;
mod delay;
mod load;
mod machine;
mod outbox;
mod pair;
mod payload;
mod points;
mod report;
mod setup;
mod sim;
mod stats;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tandem_client::ClientError;
use tandem_mpc::Nonce;
use tandem_proto::wallet::Chain;

use crate::cli::BenchArgs;
use crate::output;

pub use self::delay::parse_rtt;
use self::machine::Machine;
use self::report::{Creation, Errors, Report};
use self::sim::Scratch;
use self::stats::Latency;

const MAX_CONCURRENCY: usize = 1024;

fn check(args: &BenchArgs) -> Result<(), ClientError> {
    let bad = |m: &str| Err(ClientError::Local(m.to_owned()));
    if args.concurrency.is_empty()
        || args
            .concurrency
            .iter()
            .any(|&c| c == 0 || c > MAX_CONCURRENCY)
    {
        return bad("--concurrency takes levels between 1 and 1024");
    }
    if !(args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 3600.0) {
        return bad("--seconds must be between 0 and 3600");
    }
    Ok(())
}

/// A short random id: addresses, payloads and the scratch directory are unique per run.
fn run_id() -> Result<String, ClientError> {
    Ok(hex::encode(&Nonce::generate()?.0[..4]))
}

pub async fn run(server: String, json: bool, args: BenchArgs) -> Result<(), ClientError> {
    check(&args)?;
    let say = |m: &str| {
        if !json {
            eprintln!("{m}");
        }
    };
    let run = run_id()?;
    let scratch = Scratch::new(&run)?;
    let mut machine = Machine::probe();
    let duration = Duration::from_secs_f64(args.seconds);
    let n = args.concurrency.iter().copied().max().unwrap_or(1);
    let mut errors = Errors::default();

    let rtt = args.rtt.unwrap_or_default();
    let (relay, via) = if rtt.is_zero() {
        (None, server.clone())
    } else {
        let (relay, via) = delay::front(&server, rtt).await?;
        say(&format!(
            "every connection goes through a relay adding {} ms of round-trip time",
            rtt.as_secs_f64() * 1e3
        ));
        (Some(relay), via)
    };
    say(&format!("logging in {n} devices at {server}"));
    let devices = setup::login_all(&via, &args.outbox, &run, n, &scratch).await?;

    say(&format!(
        "creating {} EVM and {0} Solana wallets, one after the other",
        args.keygens
    ));
    let mut creation = Vec::new();
    let mut first = (None, None);
    for chain in [Chain::Evm, Chain::Solana] {
        let (out, ids) = load::create_wallets(&devices[0], chain, args.keygens).await;
        errors.add(&out.errors);
        creation.push(Creation {
            chain,
            latency: Latency::of(&out.latencies),
            errors: out.errors.len(),
        });
        match chain {
            Chain::Evm => first.0 = ids.into_iter().next(),
            Chain::Solana => first.1 = ids.into_iter().next(),
        }
    }

    say("creating the other devices' wallets, then one warm-up signature per device and chain");
    let sims = setup::provision(devices, first).await?;
    let counter = Arc::new(AtomicU64::new(0));
    load::warm_up(&sims, &run, &counter).await?;

    let pairs = if args.baseline {
        say("in-memory keygen for the in-process baseline");
        Some(tokio::task::block_in_place(points::Pairs::generate)?)
    } else {
        None
    };
    let mut signing = Vec::new();
    for chain in [Chain::Evm, Chain::Solana] {
        for &c in &args.concurrency {
            say(&format!(
                "{chain} signing at concurrency {c}: in process and end to end, alternating"
            ));
            let plan = points::Plan {
                chain,
                concurrency: c,
                pairs: pairs.as_ref(),
                duration,
                slices: args.slices,
                relay: relay.as_ref(),
            };
            let (point, errs) = points::measure(&plan, &sims, &run, &counter).await?;
            errors.add(&errs);
            signing.push(point);
        }
    }

    let mut breakdown = Vec::new();
    if args.breakdown > 0 {
        say(&format!(
            "step-by-step timing of {} signatures per chain",
            args.breakdown
        ));
        for chain in [Chain::Evm, Chain::Solana] {
            let mut b = breakdown::measure(&sims[0], chain, &run, args.breakdown, &counter).await;
            errors.add(&b.errors);
            points::attach_mpc_time(&mut b, &signing);
            breakdown.push(b);
        }
    }

    machine.load_after = machine::load_average();
    let bounds = report::bounds(&creation, &signing, rtt.as_secs_f64() * 1e3);
    let report = Report {
        server,
        rtt_ms: rtt.as_secs_f64() * 1e3,
        run,
        machine,
        seconds_per_point: args.seconds,
        slices_per_point: args.slices,
        wallet_creation: creation,
        signing,
        breakdown,
        bounds,
        errors,
    };
    output::print(json, &report, || report::human(&report));
    if report.errors.total > 0 {
        return Err(ClientError::Local(format!(
            "{} operations failed during the benchmark",
            report.errors.total
        )));
    }
    Ok(())
}
