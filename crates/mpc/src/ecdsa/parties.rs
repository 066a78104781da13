//! How the two parties map onto `dkls23`'s t-of-n interfaces: indices, parameters, and the
//! one-message-per-peer vectors its phases take and return.

use dkls23::protocols::dkg::ProofCommitment;
use dkls23::protocols::{Parameters, PartyIndex};
use zeroize::Zeroizing;

use super::secret::Curve;
use crate::error::{Error, Result};
use crate::role::Role;

pub(crate) fn parameters() -> Result<Parameters> {
    Parameters::new(2, 2).map_err(|_| Error::aborted("invalid parameters"))
}

pub(crate) fn index(role: Role) -> Result<PartyIndex> {
    PartyIndex::new(role.index()).map_err(|_| Error::aborted("invalid party index"))
}

/// Phase 1 yields one evaluation per party index; we keep ours and send the peer's.
pub(crate) fn split_fragments(
    fragments: &[k256::Scalar],
    me: Role,
) -> Result<(k256::Scalar, k256::Scalar)> {
    let own = fragments.get(usize::from(me.index() - 1));
    let peer = fragments.get(usize::from(me.peer().index() - 1));
    match (own, peer) {
        (Some(own), Some(peer)) => Ok((*own, *peer)),
        _ => Err(Error::aborted("unexpected fragment count")),
    }
}

/// Fragments in party-index order, as phase 2 expects them.
pub(crate) fn ordered(
    me: Role,
    own: k256::Scalar,
    peer: k256::Scalar,
) -> Zeroizing<Vec<k256::Scalar>> {
    Zeroizing::new(match me {
        Role::Device => vec![own, peer],
        Role::Server => vec![peer, own],
    })
}

/// Proof commitments in party-index order.
pub(crate) fn ordered_proofs(
    me: Role,
    own: ProofCommitment<Curve>,
    peer: ProofCommitment<Curve>,
) -> Vec<ProofCommitment<Curve>> {
    match me {
        Role::Device => vec![own, peer],
        Role::Server => vec![peer, own],
    }
}

/// A p2p message from the library must be addressed from our peer to us.
pub(crate) fn routed(sender: PartyIndex, receiver: PartyIndex, me: Role) -> Result<()> {
    if sender.as_u8() != me.peer().index() || receiver.as_u8() != me.index() {
        return Err(Error::Malformed("inner message addressed to another party"));
    }
    Ok(())
}

pub(crate) fn one<T>(mut items: Vec<T>) -> Result<T> {
    match (items.pop(), items.is_empty()) {
        (Some(item), true) => Ok(item),
        _ => Err(Error::aborted("expected exactly one message for the peer")),
    }
}
