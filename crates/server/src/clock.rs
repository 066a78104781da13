//! The one source of time for every expiry (OTPs, sessions, challenges, the recovery delay).
//!
//! Services never read the system time themselves: they are handed a [`SharedClock`].
//! Production uses [`SystemClock`]; in-process tests use [`ManualClock`]; end-to-end tests that
//! run the real server binary use [`FileClock`] (configured as `clock = "file:/path"`), whose
//! time is whatever decimal Unix-millisecond value the test last wrote into that file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time, in Unix milliseconds.
pub trait Clock: Send + Sync + 'static {
    /// The current time as milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The clock handle that services hold.
pub type SharedClock = Arc<dyn Clock>;

/// Errors from [`from_spec`].
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    /// The specification is neither `system` nor `file:<path>`.
    #[error("unknown clock `{0}` (expected `system` or `file:<path>`)")]
    InvalidSpec(String),
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        system_now_ms()
    }
}

fn system_now_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        // A system clock set before 1970: report the (negative) offset rather than panic.
        Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// A clock that only moves when told to: for in-process tests.
#[derive(Debug)]
pub struct ManualClock {
    ms: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `ms`.
    pub fn new(ms: i64) -> Self {
        Self {
            ms: AtomicI64::new(ms),
        }
    }

    /// Sets the current time.
    pub fn set(&self, ms: i64) {
        self.ms.store(ms, Ordering::SeqCst);
    }

    /// Moves the clock forward (or back, with a negative value) by `ms`.
    pub fn advance(&self, ms: i64) {
        self.ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.ms.load(Ordering::SeqCst)
    }
}

/// A clock read from a file on every call: for end-to-end tests of the real binary.
///
/// The file holds a decimal Unix-millisecond value (surrounding whitespace allowed). If it
/// cannot be read or parsed, the clock logs one warning and falls back to the system time.
#[derive(Debug)]
pub struct FileClock {
    path: PathBuf,
    warned: AtomicBool,
}

impl FileClock {
    /// A clock that reads `path` on every call.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            warned: AtomicBool::new(false),
        }
    }

    /// The file this clock reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<i64, String> {
        let text = std::fs::read_to_string(&self.path).map_err(|e| e.to_string())?;
        text.trim()
            .parse::<i64>()
            .map_err(|_| "content is not a decimal Unix-millisecond value".to_owned())
    }
}

impl Clock for FileClock {
    fn now_ms(&self) -> i64 {
        match self.read() {
            Ok(ms) => ms,
            Err(reason) => {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        path = %self.path.display(),
                        %reason,
                        "file clock unreadable; falling back to the system time (warned once)"
                    );
                }
                system_now_ms()
            }
        }
    }
}

/// Builds a clock from its configuration value: `system` or `file:<path>`.
pub fn from_spec(spec: &str) -> Result<SharedClock, ClockError> {
    let spec = spec.trim();
    if spec.eq_ignore_ascii_case("system") {
        return Ok(Arc::new(SystemClock));
    }
    if let Some(path) = spec.strip_prefix("file:")
        && !path.trim().is_empty()
    {
        return Ok(Arc::new(FileClock::new(path.trim())));
    }
    Err(ClockError::InvalidSpec(spec.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(1_000);
        assert_eq!(c.now_ms(), 1_000);
        c.advance(500);
        assert_eq!(c.now_ms(), 1_500);
        c.set(42);
        assert_eq!(c.now_ms(), 42);
    }

    #[test]
    fn spec_parsing() {
        assert!(from_spec("system").is_ok());
        assert!(from_spec("file:/tmp/x").is_ok());
        assert!(from_spec("file:").is_err());
        assert!(from_spec("sundial").is_err());
    }
}
