//! Runs a device ceremony and a server ceremony against each other in memory: offline
//! signing, where the device holds both shares (its own and the server's from a Backup Kit)
//! and still never combines them into the key, and the tests.

use crate::ceremony::{Ceremony, Progress};
use crate::context::SessionContext;
use crate::error::Error;
use crate::protocol::{Operation, Protocol};
use crate::role::Role;
use crate::scheme::Scheme;
use crate::share::KeyShare;

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

/// Signs with both shares in this process, as the device does offline with the server's share
/// from a Backup Kit: the two parties still run the protocol, so the private key is never
/// assembled. Both shares must be of one wallet and epoch; the signature is verified before it
/// is returned (as [`Scheme::verify`] does for the server).
pub fn sign<S: Scheme>(
    device: &KeyShare<S>,
    server: &KeyShare<S>,
    message: &S::Message,
) -> Result<S::Signature, Error> {
    if device.role() != Role::Device || server.role() != Role::Server {
        return Err(Error::InvalidInput(
            "local signing needs the device's and the server's share",
        ));
    }
    if device.wallet() != server.wallet()
        || device.epoch() != server.epoch()
        || device.public_key() != server.public_key()
    {
        return Err(Error::InvalidInput(
            "the shares belong to different wallets or epochs",
        ));
    }
    let ctx = SessionContext::fresh(
        Protocol::for_op(S::ID, Operation::Sign),
        device.wallet().clone(),
        device.epoch(),
    )?;
    let pair = (
        S::sign(device, ctx.clone(), message)?,
        S::sign(server, ctx, message)?,
    );
    let (ours, theirs, _) = run_pair(pair).map_err(|(_, e)| e)?;
    if ours != theirs {
        return Err(Error::aborted(
            "the two parties finished with different signatures",
        ));
    }
    S::verify(device.public_key(), message, &ours)?;
    Ok(ours)
}
