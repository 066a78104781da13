//! Email one-time codes: the first login method.
//!
//! `start` sends a 6-digit code for a login attempt; `verify` checks it and yields the user
//! (created on first successful login). Counters and throttles live in the database
//! (`otp_codes`), so they hold across instances and restarts. Only `SHA-256(attempt_id ‖ code)`
//! is stored.

mod code;
mod email;
mod error;
mod otp;

pub use email::normalize_email;
pub use error::AuthError;
pub use otp::{EmailOtp, OtpStarted, VerifiedEmail};
