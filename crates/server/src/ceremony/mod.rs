//! Server side of the ceremonies (DESIGN.md §4–5). One socket carries ceremonies one after
//! the other; a ceremony's state lives only in its task, so instances share nothing but the
//! database.
//!
//! The transport is abstract ([`Channel`]); `http::ws` adapts a WebSocket to it, and an
//! end-to-end encrypted channel can wrap it without touching the ceremony logic.

mod accept;
mod channel;
mod driver;
mod error;
mod freeze;
mod keygen;
mod limiter;
mod refresh;
mod service;
mod sign;

pub use channel::{Channel, ChannelError, Incoming};
pub use error::{CeremonyError, wallet_error as wallet_api_error};
pub use limiter::CeremonyLimiter;
pub use service::{Caller, Ceremonies, CeremonyConfig};
