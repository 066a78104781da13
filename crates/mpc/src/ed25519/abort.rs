//! Sorting `frost` errors into our classes: anything that names the peer as culprit, or any
//! failed check on the peer's contribution, is cheating.

use frost_ed25519::Error as FrostError;

use crate::error::Error;

pub(crate) fn classify(err: FrostError) -> Error {
    if !err.culprits().is_empty() {
        return Error::cheating(&err);
    }
    match err {
        FrostError::InvalidSignature
        | FrostError::InvalidSignatureShare { .. }
        | FrostError::InvalidProofOfKnowledge { .. }
        | FrostError::InvalidSecretShare { .. }
        | FrostError::IncorrectCommitment
        | FrostError::InvalidCoefficients
        | FrostError::IdentityCommitment => Error::cheating(&err),
        other => Error::aborted(other),
    }
}
