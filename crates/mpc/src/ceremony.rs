//! The sans-IO state machine shape shared by every operation.
//!
//! Every protocol here is round-synchronous: in round `r` each party sends one frame, and a
//! party's frame for round `r + 1` depends only on frames up to `r`. A ceremony is started by
//! its constructor (which returns the round-1 frame) and then fed the peer's frames one by one.

use crate::context::SessionContext;
use crate::envelope;
use crate::error::{Error, Result};
use crate::role::Role;

/// What to do after a frame was accepted.
#[derive(Debug)]
pub enum Progress<O> {
    /// Send this frame to the peer, then wait for its next frame.
    Send(Vec<u8>),
    /// The ceremony is complete.
    Done(O),
}

/// A running two-party ceremony.
pub trait Ceremony {
    type Output;

    /// Feeds one frame from the peer.
    ///
    /// A [`Malformed`](crate::ErrorClass::Malformed) or
    /// [`WrongContext`](crate::ErrorClass::WrongContext) error leaves the ceremony untouched
    /// (drop the frame). Any other error is terminal for this ceremony.
    fn receive(&mut self, frame: &[u8]) -> Result<Progress<Self::Output>>;

    /// The round whose frame is expected next (1-based); `None` once finished or failed.
    fn expected_round(&self) -> Option<u8>;

    fn context(&self) -> &SessionContext;
    fn role(&self) -> Role;
}

/// One protocol's per-round logic. `advance` must decode the body completely before touching
/// any state, so that a body that fails to decode leaves the ceremony as it was.
pub trait Rounds {
    type Output;
    fn advance(
        &mut self,
        ctx: &SessionContext,
        me: Role,
        round: u8,
        body: &[u8],
    ) -> Result<Progress<Self::Output>>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Running(u8),
    Finished,
    Failed,
}

/// Drives a [`Rounds`] implementation: envelope checks, round counting, poisoning on failure.
pub struct Run<R> {
    ctx: SessionContext,
    me: Role,
    status: Status,
    inner: R,
}

impl<R> Run<R> {
    pub(crate) fn new(ctx: SessionContext, me: Role, inner: R) -> Self {
        Run {
            ctx,
            me,
            status: Status::Running(1),
            inner,
        }
    }
}

impl<R> core::fmt::Debug for Run<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ceremony")
            .field("protocol", &self.ctx.protocol)
            .field("role", &self.me)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl<R: Rounds> Ceremony for Run<R> {
    type Output = R::Output;

    fn receive(&mut self, frame: &[u8]) -> Result<Progress<R::Output>> {
        let round = match self.status {
            Status::Running(r) => r,
            Status::Failed => return Err(Error::aborted("ceremony already failed")),
            Status::Finished => self.ctx.protocol.rounds() + 1,
        };
        let env = envelope::decode(frame)?;
        env.check(&self.ctx, self.me, round)?;
        if self.status == Status::Finished {
            return Err(Error::aborted("ceremony already finished"));
        }
        match self.inner.advance(&self.ctx, self.me, round, env.body) {
            Ok(Progress::Send(out)) => {
                self.status = Status::Running(round + 1);
                Ok(Progress::Send(out))
            }
            Ok(Progress::Done(output)) => {
                self.status = Status::Finished;
                Ok(Progress::Done(output))
            }
            Err(e) if e.is_droppable() => Err(e),
            Err(e) => {
                self.status = Status::Failed;
                Err(e)
            }
        }
    }

    fn expected_round(&self) -> Option<u8> {
        match self.status {
            Status::Running(r) => Some(r),
            _ => None,
        }
    }

    fn context(&self) -> &SessionContext {
        &self.ctx
    }

    fn role(&self) -> Role {
        self.me
    }
}
