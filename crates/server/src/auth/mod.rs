//! Email one-time codes: the first login method.
//!
//! `start` sends a 6-digit code for a login attempt; `verify` checks it and yields the user
//! (created on first successful login). Counters and throttles live in the database
//! (`otp_codes`, `auth_throttles`), so they hold across instances and restarts. Only a keyed
//! MAC of (attempt id, code) is stored, and the address only sealed and as a keyed blind
//! index, under keys the database does not hold (`vault::PiiKeys`).

mod code;
pub(crate) mod codes;
mod email;
mod error;
mod legacy;
mod otp;
mod policy;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub(crate) mod throttle;

pub use email::normalize_email;
pub use error::AuthError;
pub use legacy::{LegacyRows, seal_legacy_rows};
pub use otp::{EMAIL_OTP, EmailOtp, OtpStarted, VerifiedEmail};
pub use policy::{Budget, GuessPolicy, LockoutPolicy};
