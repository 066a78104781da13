//! The in-process baseline: the same signing ceremony, both parties in memory, on `c` OS
//! threads each looping whole ceremonies for the same duration as the end-to-end point.
//! Each iteration parses the payload once, runs both parties' state machines and assembles
//! the result, so it pays for both parties' MPC CPU exactly as the load generator + server do.

use std::time::{Duration, Instant};

use tandem_client::ClientError;
use tandem_proto::prepare::prepare;
use tandem_proto::scheme::ChainScheme;

use super::pair::{self, PartyTime, SharePair};
use super::payload::payload;

/// What the threads did.
#[derive(Debug, Default)]
pub struct InProcess {
    pub latencies: Vec<Duration>,
    pub elapsed: Duration,
    /// As in `load::Outcome`: signatures completed inside the window.
    pub window: Duration,
    pub in_window: usize,
    /// Summed over all signatures.
    pub time: PartyTime,
}

impl InProcess {
    /// Adds a later slice of the same measurement.
    pub fn absorb(&mut self, other: InProcess) {
        self.latencies.extend(other.latencies);
        self.elapsed += other.elapsed;
        self.window += other.window;
        self.in_window += other.in_window;
        self.time.device += other.time.device;
        self.time.server += other.time.server;
    }
}

/// One signature in memory, as the baseline loop runs it.
pub fn sign_once<S: ChainScheme>(
    pair: &SharePair<S>,
    thread: usize,
    i: u64,
    time: &mut PartyTime,
) -> Result<(), ClientError> {
    let request = payload(S::CHAIN, "in-process", thread, i);
    let prepared = prepare(&request, S::CHAIN, pair.device.public_key())?;
    let message = S::message(prepared.signing_input())?;
    let signature = pair::sign(pair, message, time)?;
    S::finish(&prepared, &signature)?;
    Ok(())
}

/// `threads` threads signing in a loop for `duration`.
pub fn run<S: ChainScheme>(
    pair: &SharePair<S>,
    threads: usize,
    duration: Duration,
) -> Result<InProcess, ClientError>
where
    SharePair<S>: Sync,
{
    let start = Instant::now();
    let deadline = start + duration;
    let per_thread = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || {
                    let mut latencies = Vec::new();
                    let mut time = PartyTime::default();
                    let (mut i, mut in_window) = (0, 0);
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        sign_once(pair, thread, i, &mut time)?;
                        latencies.push(t.elapsed());
                        in_window += usize::from(Instant::now() <= deadline);
                        i += 1;
                    }
                    Ok::<_, ClientError>((latencies, time, in_window))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(ClientError::Local("a baseline thread panicked".into()))
                })
            })
            .collect::<Vec<_>>()
    });
    let mut out = InProcess {
        elapsed: start.elapsed(),
        window: duration,
        ..InProcess::default()
    };
    for r in per_thread {
        let (latencies, time, in_window) = r?;
        out.in_window += in_window;
        out.latencies.extend(latencies);
        out.time.device += time.device;
        out.time.server += time.server;
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use tandem_mpc::ed25519::Ed25519;

    use super::*;

    #[test]
    fn threads_sign_for_the_duration() {
        let pair = pair::keygen::<Ed25519>("bench-baseline").expect("keygen");
        let out = run(&pair, 2, Duration::from_millis(100)).expect("baseline");
        assert!(
            out.latencies.len() >= 2,
            "{} signatures",
            out.latencies.len()
        );
        assert!(out.elapsed >= Duration::from_millis(100));
        assert!(out.time.device > Duration::ZERO && out.time.server > Duration::ZERO);
    }
}
