//! Sorting `dkls23` aborts into our error classes.
//!
//! Frames reach the library only after the envelope matched our session, so any failed
//! check on their content is the counterparty's deviation: [`Error::Cheating`]. Only failures
//! that are no evidence against the peer (our own state, a negligible-probability event)
//! become [`Error::Aborted`].

use dkls23::protocols::{Abort, AbortKind, AbortReason};

use crate::error::Error;

pub(crate) fn classify(abort: Abort) -> Error {
    if let AbortKind::BanCounterparty(_) = abort.kind {
        return Error::cheating(&abort.reason);
    }
    match abort.reason {
        AbortReason::ProofVerificationFailed { .. }
        | AbortReason::CommitmentMismatch { .. }
        | AbortReason::PolynomialInconsistency
        | AbortReason::TrivialInstancePoint { .. }
        | AbortReason::TrivialPublicKey
        | AbortReason::TrivialKeyShare
        | AbortReason::MissingCommittedPoint { .. }
        | AbortReason::OtConsistencyCheckFailed { .. }
        | AbortReason::MultiplicationVerificationFailed { .. }
        | AbortReason::GammaUInconsistency { .. }
        | AbortReason::SignatureVerificationFailed
        | AbortReason::ZeroShareDecommitFailed { .. }
        | AbortReason::ChainCodeCommitmentFailed { .. }
        | AbortReason::SessionBindingMismatch { .. } => Error::cheating(&abort.reason),
        other => Error::aborted(other),
    }
}
