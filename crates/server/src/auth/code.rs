//! Code generation and hashing.

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

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

/// `SHA-256(attempt_id ‖ code)`. Attempt ids have a fixed length, so the split is unambiguous.
pub(super) fn hash(attempt_id: &str, code: &str) -> Zeroizing<Vec<u8>> {
    let mut h = Sha256::new();
    h.update(attempt_id.as_bytes());
    h.update(code.as_bytes());
    Zeroizing::new(h.finalize().to_vec())
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
