//! Bearer sessions: 256-bit opaque tokens (`tdm_…`), stored only as SHA-256 hashes.
//!
//! A session lives `lifetime` after creation or its last refresh, never beyond its absolute
//! limit, and ends at once when revoked: every check reads the database, so a revocation made
//! through one instance is seen by all.

mod error;
mod service;
mod sockets;
mod token;

pub use error::SessionError;
pub use service::{NewSession, SessionConfig, SessionRecord, Sessions};
pub use sockets::{SocketCapError, SocketCaps, SocketLease, SocketRegistry};
pub use token::SessionToken;
