//! One error type for every operation, sorted into the classes a caller acts on.

use core::fmt;

/// What the caller must do with a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The bytes are not a frame we can read: drop the frame, the ceremony may continue.
    Malformed,
    /// A readable frame for another session, wallet, epoch, round or sender: drop the frame,
    /// the ceremony may continue.
    WrongContext,
    /// The counterparty's message failed a check made on data the sender already knows
    /// (public values, its own commitments, the session binding), before any step whose
    /// outcome depends on our secrets. Terminal for this ceremony, but the refusal tells the
    /// sender nothing it did not know, so it is no reason to freeze: a session holding no
    /// share can produce it (docs/mpc.md, "Error classes").
    Invalid,
    /// The counterparty deviated in a way whose detection can depend on our secret state
    /// (DKLs23's reusable OT correlations): retrying would hand it an abort oracle.
    /// Terminal: the caller must freeze the wallet and must not retry.
    Cheating,
    /// The ceremony cannot finish (local state, out-of-order use, unusable input). Terminal
    /// for this ceremony only; no evidence against the counterparty.
    Aborted,
}

/// Why a frame or a ceremony was refused. Messages never contain secret material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("malformed frame: {0}")]
    Malformed(&'static str),
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u8),
    #[error("frame belongs to protocol {got:?}, expected {expected:?}")]
    WrongProtocol { expected: u8, got: u8 },
    #[error("frame belongs to another session")]
    WrongSession,
    #[error("frame belongs to another wallet")]
    WrongWallet,
    #[error("frame belongs to epoch {got}, expected {expected}")]
    WrongEpoch { expected: u64, got: u64 },
    #[error("frame claims sender {got}, expected {expected}")]
    WrongSender { expected: u8, got: u8 },
    #[error("frame is for round {got}, expected round {expected}")]
    WrongRound { expected: u8, got: u8 },
    #[error("invalid message from the counterparty: {0}")]
    Invalid(String),
    #[error("counterparty cheated: {0}")]
    Cheating(String),
    #[error("ceremony aborted: {0}")]
    Aborted(String),
    #[error("share is locked after detected cheating; a complete refresh is required")]
    ShareLocked,
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
}

impl Error {
    /// The class that decides the caller's reaction.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Malformed(_) | Error::UnsupportedVersion(_) => ErrorClass::Malformed,
            Error::WrongProtocol { .. }
            | Error::WrongSession
            | Error::WrongWallet
            | Error::WrongEpoch { .. }
            | Error::WrongSender { .. }
            | Error::WrongRound { .. } => ErrorClass::WrongContext,
            Error::Invalid(_) => ErrorClass::Invalid,
            Error::Cheating(_) => ErrorClass::Cheating,
            Error::Aborted(_) | Error::ShareLocked | Error::InvalidInput(_) => ErrorClass::Aborted,
        }
    }

    /// True when the frame should simply be dropped and the ceremony may go on.
    pub fn is_droppable(&self) -> bool {
        matches!(
            self.class(),
            ErrorClass::Malformed | ErrorClass::WrongContext
        )
    }

    pub(crate) fn cheating(what: impl fmt::Display) -> Self {
        Error::Cheating(what.to_string())
    }

    pub(crate) fn invalid(what: impl fmt::Display) -> Self {
        Error::Invalid(what.to_string())
    }

    pub(crate) fn aborted(what: impl fmt::Display) -> Self {
        Error::Aborted(what.to_string())
    }
}

pub type Result<T> = core::result::Result<T, Error>;
