//! Runs one `tandem-mpc` state machine over a [`Channel`]: every round has a deadline,
//! frames the state machine calls droppable (stale, misaddressed, malformed) are dropped,
//! and cheating is reported as such so the caller can freeze the wallet.

use std::time::Duration;

use tandem_mpc::{Ceremony, ErrorClass, Progress};

use super::channel::{Channel, Incoming};
use super::error::CeremonyError;

/// More dropped frames than this in one ceremony is not noise but an attack or a bug.
const MAX_DROPPED: usize = 16;

/// How expensive one step of a state machine is, which decides where it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Work {
    /// Signing steps (about 1 ms each): run inline. Handing them to another thread with
    /// `block_in_place` costs more (runtime hand-off, context switches) than the step itself;
    /// measured in docs/benchmarks.md.
    Light,
    /// Keygen and refresh rounds (up to ~100 ms): moved off the threads serving other sockets.
    Heavy,
}

impl Work {
    pub(crate) fn run<T>(self, f: impl FnOnce() -> T) -> T {
        match self {
            Work::Light => f(),
            Work::Heavy => tokio::task::block_in_place(f),
        }
    }
}

pub(crate) async fn drive<C: Ceremony>(
    channel: &mut dyn Channel,
    mut ceremony: C,
    first: Vec<u8>,
    round_timeout: Duration,
    work: Work,
) -> Result<C::Output, CeremonyError> {
    channel.send_frame(first).await?;
    let mut dropped = 0;
    loop {
        let frame = match tokio::time::timeout(round_timeout, channel.recv()).await {
            Err(_) => return Err(CeremonyError::Timeout),
            Ok(Err(e)) => return Err(e.into()),
            Ok(Ok(Incoming::Frame(frame))) => frame,
            Ok(Ok(Incoming::Control(_))) => {
                return Err(CeremonyError::Protocol("control message inside a ceremony"));
            }
        };
        let step = work.run(|| ceremony.receive(&frame));
        match step {
            Ok(Progress::Send(next)) => channel.send_frame(next).await?,
            Ok(Progress::Done(output)) => return Ok(output),
            Err(e) if e.is_droppable() => {
                dropped += 1;
                tracing::debug!(class = ?e.class(), "dropped a ceremony frame");
                if dropped > MAX_DROPPED {
                    return Err(CeremonyError::Protocol("too many invalid frames"));
                }
            }
            Err(e) if e.class() == ErrorClass::Invalid => {
                // Refused on data the device already knows: it learns nothing, so this ends
                // the ceremony without freezing (docs/mpc.md, "Error classes").
                tracing::info!(error = %e, "invalid ceremony frame from the device");
                return Err(CeremonyError::Aborted(e.to_string()));
            }
            Err(e) if e.class() == ErrorClass::Cheating => {
                tracing::warn!(error = %e, "cheating detected in a ceremony");
                return Err(CeremonyError::Cheating);
            }
            Err(e) => return Err(CeremonyError::Aborted(e.to_string())),
        }
    }
}

/// Waits for the next control message, within the round timeout.
pub(crate) async fn control(
    channel: &mut dyn Channel,
    round_timeout: Duration,
) -> Result<tandem_proto::ceremony::ClientMessage, CeremonyError> {
    match tokio::time::timeout(round_timeout, channel.recv()).await {
        Err(_) => Err(CeremonyError::Timeout),
        Ok(Err(e)) => Err(e.into()),
        Ok(Ok(Incoming::Control(msg))) => Ok(msg),
        Ok(Ok(Incoming::Frame(_))) => Err(CeremonyError::Protocol("expected a control message")),
    }
}
