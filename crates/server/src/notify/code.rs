//! The login code as a secret value.

use zeroize::Zeroizing;

/// A one-time login code: zeroized on drop, `[redacted]` in Debug, no Display.
pub struct LoginCode(Zeroizing<String>);

impl LoginCode {
    /// Wraps a code.
    pub fn new(code: String) -> Self {
        Self(Zeroizing::new(code))
    }

    /// The code itself, for the one place that must show it (the message body).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for LoginCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginCode([redacted])")
    }
}
