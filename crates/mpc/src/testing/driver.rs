//! Runs a device ceremony and a server ceremony against each other in memory.

use crate::ceremony::{Ceremony, Progress};
use crate::error::Error;
use crate::role::Role;

/// A started pair: each ceremony with its round-1 frame.
pub type Pair<D, S> = ((D, Vec<u8>), (S, Vec<u8>));

/// What crossed the wire in one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Transcript {
    /// Rounds in which frames flowed.
    pub rounds: u8,
    pub device_to_server_bytes: usize,
    pub server_to_device_bytes: usize,
}

/// Both outputs and what it took to get them.
pub type Finished<DO, SO> = (DO, SO, Transcript);

/// Delivers frames in lockstep until both sides finish. The first error stops the run and
/// names the party that raised it.
pub fn run_pair<D: Ceremony, S: Ceremony>(
    pair: Pair<D, S>,
) -> Result<Finished<D::Output, S::Output>, (Role, Error)> {
    let ((mut device, d0), (mut server, s0)) = pair;
    let mut transcript = Transcript::default();
    let (mut to_server, mut to_device) = (Some(d0), Some(s0));
    let (mut device_out, mut server_out) = (None, None);
    while device_out.is_none() || server_out.is_none() {
        let (df, sf) = (to_server.take(), to_device.take());
        if df.is_none() && sf.is_none() {
            return Err((Role::Device, Error::aborted("ceremony stalled")));
        }
        transcript.rounds += 1;
        if let Some(frame) = df {
            transcript.device_to_server_bytes += frame.len();
            match server.receive(&frame).map_err(|e| (Role::Server, e))? {
                Progress::Send(next) => to_device = Some(next),
                Progress::Done(out) => server_out = Some(out),
            }
        }
        if let Some(frame) = sf {
            transcript.server_to_device_bytes += frame.len();
            match device.receive(&frame).map_err(|e| (Role::Device, e))? {
                Progress::Send(next) => to_server = Some(next),
                Progress::Done(out) => device_out = Some(out),
            }
        }
    }
    match (device_out, server_out) {
        (Some(d), Some(s)) => Ok((d, s, transcript)),
        _ => Err((
            Role::Device,
            Error::aborted("ceremony ended without output"),
        )),
    }
}
