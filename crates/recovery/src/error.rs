//! One error enum per operation. Messages never contain secret material.

/// Reading a recovery secret a person typed in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error(
        "a recovery secret has {expected} characters (not counting dashes and spaces); this has {found}"
    )]
    Length { expected: usize, found: usize },
    #[error("character {position} is not one a recovery secret uses (0-9 and A-Z without U)")]
    Character { position: usize },
    #[error("the recovery secret does not check out: a character was probably miscopied")]
    Checksum,
    #[error("the system's random source failed")]
    Random,
}

/// Sealing, reading or opening a Backup Kit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KitError {
    #[error("this is not a Tandem Backup Kit: {0}")]
    Malformed(&'static str),
    #[error("Backup Kit format {0} is newer than this program understands; update tandem")]
    UnsupportedVersion(u8),
    #[error(
        "the kit's readable header says {field} differs from what is sealed; the file was edited"
    )]
    HeaderMismatch { field: &'static str },
    #[error(
        "this kit was sealed to another recovery secret (recovery key {kit}, yours is {yours})"
    )]
    WrongSecret { kit: String, yours: String },
    #[error("the kit does not open: it is damaged or was altered")]
    Open,
    #[error("the kit holds a share of another scheme than expected")]
    Scheme,
    #[error("the sealed share does not match the kit's header")]
    Binding,
    #[error("only the server's share goes into a Backup Kit")]
    NotServerShare,
    #[error("sealing failed: {0}")]
    Seal(&'static str),
    #[error("share: {0}")]
    Share(#[from] tandem_mpc::Error),
}

/// Sealing or opening a share sent to one device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    #[error("not a sealed transfer: {0}")]
    Malformed(&'static str),
    #[error("the transfer does not open: it was sealed to another key, damaged or altered")]
    Open,
    #[error("sealing failed: {0}")]
    Seal(&'static str),
}
