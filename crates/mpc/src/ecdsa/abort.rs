//! Sorting `dkls23` aborts into our error classes (the full table is in docs/mpc.md).
//!
//! The question for every abort is whether its occurrence can depend on our secret state.
//! Only then does a retry give the peer an oracle (DKLs23 reuses its OT correlations across
//! signatures), so only then is it [`Error::Cheating`] and the wallet frozen. A check on data
//! the peer already knows (routing, the session binding, its own commitments and proofs)
//! tells it nothing: [`Error::Invalid`], the ceremony ends, nothing is frozen. Otherwise a
//! session holding no share could freeze a wallet by reflecting the server's own frame.

use dkls23::protocols::{Abort, AbortKind, AbortReason};

use crate::error::Error;

/// Which protocol raised the abort: the same reason can be raised before the secret-dependent
/// step in one and after it in another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Signing: the multiplication (OT extension over the long-lived correlations) is the
    /// secret-dependent step; phases 2 and 3 check routing and binding before it.
    Sign,
    /// DKG and refresh: every check is on the peer's commitments, proofs and decommitments.
    /// Complete refresh and DKG build fresh OT state, discarded on failure; fast refresh only
    /// re-randomises the old state with seeds checked against their commitments first.
    KeyMaterial,
}

pub(crate) fn classify(stage: Stage) -> impl Fn(Abort) -> Error {
    move |abort| classify_abort(stage, abort)
}

fn classify_abort(stage: Stage, abort: Abort) -> Error {
    if let AbortKind::BanCounterparty(_) = abort.kind {
        return Error::cheating(&abort.reason);
    }
    match abort.reason {
        // Our own inputs or state: no evidence against the peer.
        AbortReason::InvalidPartyIndex { .. }
        | AbortReason::WrongCounterpartyCount { .. }
        | AbortReason::DuplicateCounterparty { .. }
        | AbortReason::SelfInCounterparties
        | AbortReason::MissingMulState { .. }
        | AbortReason::InvalidLocalState { .. }
        | AbortReason::LagrangeCoefficientFailed
        | AbortReason::PhaseCalledOutOfOrder { .. }
        | AbortReason::InvalidHex { .. }
        | AbortReason::InvalidXCoordinateHex => Error::aborted(&abort.reason),
        // Checked on the peer's message alone, before anything secret is used on it.
        AbortReason::MisroutedMessage { .. }
        | AbortReason::UnexpectedSender { .. }
        | AbortReason::DuplicateSender { .. }
        | AbortReason::WrongMessageCount { .. }
        | AbortReason::MissingMessageFromParty { .. }
        | AbortReason::SessionBindingMismatch { .. }
        | AbortReason::CommitmentMismatch { .. }
        | AbortReason::TrivialInstancePoint { .. } => Error::invalid(&abort.reason),
        // Signing raises these after the multiplication: a selective failure there shows up
        // only as an inconsistent sum or a signature that does not verify.
        AbortReason::PolynomialInconsistency
        | AbortReason::ZeroDenominator
        | AbortReason::SignatureVerificationFailed
            if stage == Stage::Sign =>
        {
            Error::cheating(&abort.reason)
        }
        AbortReason::ProofVerificationFailed { .. }
        | AbortReason::PolynomialInconsistency
        | AbortReason::TrivialPublicKey
        | AbortReason::TrivialKeyShare
        | AbortReason::MissingCommittedPoint { .. }
        | AbortReason::ZeroShareDecommitFailed { .. }
        | AbortReason::ChainCodeCommitmentFailed { .. }
        | AbortReason::MultiplicationVerificationFailed { .. }
            if stage == Stage::KeyMaterial =>
        {
            Error::invalid(&abort.reason)
        }
        // Anything else (a reason raised where we did not expect it, or one a later
        // version adds) fails closed.
        other => Error::cheating(other),
    }
}

#[cfg(test)]
mod tests {
    use dkls23::protocols::PartyIndex;

    use super::*;
    use crate::error::ErrorClass;

    fn abort(kind: AbortKind, reason: AbortReason) -> Abort {
        let me = PartyIndex::new(2).unwrap_or_else(|_| unreachable!());
        match kind {
            AbortKind::BanCounterparty(peer) => Abort::ban(me, peer, reason),
            AbortKind::Recoverable => Abort::recoverable(me, reason),
        }
    }

    #[test]
    fn a_session_binding_mismatch_is_invalid_not_cheating() {
        let peer = PartyIndex::new(1).unwrap_or_else(|_| unreachable!());
        let e = classify_abort(
            Stage::Sign,
            abort(
                AbortKind::Recoverable,
                AbortReason::SessionBindingMismatch { counterparty: peer },
            ),
        );
        assert_eq!(e.class(), ErrorClass::Invalid);
        let e = classify_abort(
            Stage::Sign,
            abort(
                AbortKind::BanCounterparty(peer),
                AbortReason::OtConsistencyCheckFailed { counterparty: peer },
            ),
        );
        assert_eq!(e.class(), ErrorClass::Cheating);
        for stage in [Stage::Sign, Stage::KeyMaterial] {
            let e = classify_abort(
                stage,
                abort(AbortKind::Recoverable, AbortReason::PolynomialInconsistency),
            );
            let expected = match stage {
                Stage::Sign => ErrorClass::Cheating,
                Stage::KeyMaterial => ErrorClass::Invalid,
            };
            assert_eq!(e.class(), expected, "{stage:?}");
        }
    }
}
