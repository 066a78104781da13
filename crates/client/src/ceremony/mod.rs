//! Device side of the ceremonies (see `tandem_proto::ceremony` for the message flow).

mod driver;
mod guard;
mod keygen;
mod refresh;
mod sign;
mod socket;
mod status;

pub use guard::WalletGuard;
pub use keygen::keygen;
pub use refresh::refresh;
pub use sign::sign;
pub use socket::Socket;
pub(crate) use status::status;

/// Called as a ceremony advances, e.g. to drive a spinner. Receives a short phase label.
pub type Progress<'a> = Option<&'a (dyn Fn(&str) + Send + Sync)>;

pub(crate) fn report(progress: Progress<'_>, phase: &str) {
    if let Some(p) = progress {
        p(phase);
    }
}
