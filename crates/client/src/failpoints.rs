//! Named failpoints at the durable steps of the device's keygen and refresh
//! (docs/crash-safety.md). They exist only with the `failpoints` feature, which only tests
//! enable; without it [`failpoint!`] expands to nothing.
//!
//! Armed with the `fail` crate's `return` action, a failpoint makes the ceremony function
//! return [`injected`] at that point: the future ends there and its socket is dropped, which
//! is what the server and the share store see when the device dies at that step.

/// The device's failpoints, in ceremony order.
pub const CLIENT_FAILPOINTS: &[&str] = &[
    // Keygen: the share is computed, not yet stored.
    "client.keygen.before_store",
    // Stored (as staged); `stored` not yet sent.
    "client.keygen.after_store",
    // `stored` sent; `keygen_done` not yet received.
    "client.keygen.after_send_stored",
    // `keygen_done` received; the share not yet promoted.
    "client.keygen.before_promote",
    // Promoted; the wallet is usable on both sides.
    "client.keygen.after_promote",
    // Refresh: the new share is staged; `staged` not yet sent.
    "client.refresh.after_stage",
    // `committed` received; the staged share not yet promoted.
    "client.refresh.before_promote",
    // Promoted: the old device share is gone.
    "client.refresh.after_promote",
];

/// Marks a durable step in a function returning `Result<_, ClientError>`. Expands to nothing
/// without the `failpoints` feature.
macro_rules! failpoint {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        fail::fail_point!($name, |_| Err($crate::failpoints::injected($name)));
    };
}
pub(crate) use failpoint;

/// The error an armed failpoint returns.
#[cfg(feature = "failpoints")]
pub(crate) fn injected(name: &str) -> crate::error::ClientError {
    crate::error::ClientError::Local(format!("failpoint {name}"))
}
