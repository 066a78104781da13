//! Errors of mail delivery. None contains a code.

/// A delivery failure.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The recipient (or configured sender) is not a valid address.
    #[error("invalid email address")]
    InvalidAddress,
    /// The mail configuration cannot be used.
    #[error("invalid mail configuration: {0}")]
    Config(String),
    /// The message could not be built.
    #[error("could not build the message")]
    Build,
    /// The SMTP relay refused or could not be reached.
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
    /// Writing the development outbox failed.
    #[error("development outbox: {0}")]
    Outbox(#[source] std::io::Error),
}
