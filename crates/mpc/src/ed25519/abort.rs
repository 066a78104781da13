//! Sorting `frost` errors into our classes (the full table is in docs/mpc.md).
//!
//! FROST keeps no state across ceremonies that a failure could reveal: nonces are used once,
//! DKG and refresh polynomials are fresh, and every check `frost` makes is on the peer's
//! contribution against the peer's own commitments and public shares. A refusal therefore
//! tells the peer nothing it did not know: [`Error::Invalid`], never a freeze. A session
//! holding no share can send a bad signature share, and must not be able to freeze a wallet
//! with it.

use frost_ed25519::Error as FrostError;

use crate::error::Error;

pub(crate) fn classify(err: FrostError) -> Error {
    match err {
        // Our own parameters or state.
        FrostError::InvalidMinSigners
        | FrostError::InvalidMaxSigners
        | FrostError::MalformedSigningKey
        | FrostError::DKGNotSupported
        | FrostError::IdentifierDerivationNotSupported
        | FrostError::SerializationError => Error::aborted(&err),
        other => Error::invalid(&other),
    }
}
