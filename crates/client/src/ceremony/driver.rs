//! Runs a device-side state machine over the socket. Mirrors the server's driver: droppable
//! frames are dropped, anything else ends the ceremony.

use tandem_mpc::{Ceremony, Nonce, Progress as Step};

use super::socket::{Received, Socket};
use crate::error::ClientError;

const MAX_DROPPED: usize = 16;

/// How expensive one step is: signing steps (about 1 ms) run inline, since moving them to
/// another thread costs more than the step; keygen and refresh rounds (up to ~100 ms) leave
/// the runtime's worker threads free for other tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Work {
    Light,
    Heavy,
}

impl Work {
    pub(crate) fn run<T>(self, f: impl FnOnce() -> T) -> T {
        match self {
            Work::Light => f(),
            Work::Heavy => compute(f),
        }
    }
}

pub(crate) async fn drive<C: Ceremony>(
    socket: &mut Socket,
    ceremony: C,
    first: Vec<u8>,
    work: Work,
) -> Result<C::Output, ClientError> {
    socket.send_frame(first).await?;
    drive_sent(socket, ceremony, work).await
}

/// [`drive`] once the ceremony's first frame is already on its way (pipelined signing).
pub(crate) async fn drive_sent<C: Ceremony>(
    socket: &mut Socket,
    mut ceremony: C,
    work: Work,
) -> Result<C::Output, ClientError> {
    let mut dropped = 0;
    loop {
        let frame = match socket.recv().await? {
            Received::Frame(f) => f,
            Received::Control(_) => {
                return Err(ClientError::Protocol(
                    "control message inside a ceremony".into(),
                ));
            }
        };
        match work.run(|| ceremony.receive(&frame)) {
            Ok(Step::Send(next)) => socket.send_frame(next).await?,
            Ok(Step::Done(out)) => return Ok(out),
            Err(e) if e.is_droppable() => {
                dropped += 1;
                if dropped > MAX_DROPPED {
                    return Err(ClientError::Protocol("too many invalid frames".into()));
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Runs CPU-heavy MPC math without stalling other tasks on a multi-threaded runtime.
pub(crate) fn compute<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

pub(crate) fn nonce_hex(n: &Nonce) -> String {
    hex::encode(n.0)
}

pub(crate) fn parse_nonce(s: &str) -> Result<Nonce, ClientError> {
    let bytes = hex::decode(s).map_err(|_| ClientError::Protocol("bad server nonce".into()))?;
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| ClientError::Protocol("bad server nonce".into()))?;
    Ok(Nonce(arr))
}
