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
pub mod recovery;
pub mod scheme;
pub mod sign;
pub mod social;
pub mod wallet;

pub use error::{ApiError, ErrorCode};

/// A Unix-millisecond time as RFC 3339 UTC (`2026-01-01T01:30:00Z`).
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a proleptic Gregorian date, in 400-year eras of 146 097 days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Version prefix of every HTTP route.
pub const API_PREFIX: &str = "/v1";

/// Path of the ceremony WebSocket (relative to the server root).
pub const CEREMONY_PATH: &str = "/v1/ceremony";
