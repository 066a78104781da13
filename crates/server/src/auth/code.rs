//! Code generation. What is stored is a keyed MAC (`PiiKeys::code_mac`), never the code.

use super::AuthError;
use crate::notify::LoginCode;

/// Number of digits in a code.
pub(super) const CODE_DIGITS: usize = 6;
const CODE_SPACE: u32 = 1_000_000;
/// Largest multiple of `CODE_SPACE` that fits in a u32: draws at or above it are rejected,
/// so every code is equally likely.
const ACCEPT_BELOW: u32 = (u32::MAX / CODE_SPACE) * CODE_SPACE;

/// A uniformly random 6-digit code from the OS CSPRNG (rejection sampling, no modulo bias).
pub(super) fn generate() -> Result<LoginCode, AuthError> {
    loop {
        let n = getrandom::u32().map_err(|_| AuthError::Random)?;
        if n < ACCEPT_BELOW {
            return Ok(LoginCode::new(format!(
                "{:0width$}",
                n % CODE_SPACE,
                width = CODE_DIGITS
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..200 {
            let c = generate().unwrap_or_else(|_| LoginCode::new(String::new()));
            assert_eq!(c.expose().len(), 6);
            assert!(c.expose().bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn acceptance_bound_is_a_multiple() {
        assert_eq!(ACCEPT_BELOW % CODE_SPACE, 0);
        assert!(u64::from(ACCEPT_BELOW) + u64::from(CODE_SPACE) > u64::from(u32::MAX));
    }
}
