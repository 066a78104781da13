//! The wire contract between Tandem's server and its clients (the device SDK, the CLI, later
//! the browser): HTTP request and response bodies, the messages of a ceremony socket, and the
//! stable error codes. No I/O and no logic beyond (de)serialisation lives here, so both sides
//! compile against exactly the same shapes.

pub mod account;
pub mod auth;
pub mod ceremony;
pub mod channel;
pub mod error;
pub mod prepare;
pub mod scheme;
pub mod sign;
pub mod social;
pub mod wallet;

pub use error::{ApiError, ErrorCode};

/// Version prefix of every HTTP route.
pub const API_PREFIX: &str = "/v1";

/// Path of the ceremony WebSocket (relative to the server root).
pub const CEREMONY_PATH: &str = "/v1/ceremony";
