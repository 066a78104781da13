//! The rules and the hashing of secrets a person chooses: passwords (NIST SP 800-63B §5.1.1)
//! and PINs. Hashing is Argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane, the
//! OWASP minimum), run off the async executor.

use std::collections::HashSet;
use std::sync::OnceLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use zeroize::Zeroizing;

use super::CredentialError;

/// Shortest password accepted when it is a single factor (SP 800-63B-4 §3.1.1.2: 15).
pub const PASSWORD_MIN_CHARS_SINGLE: usize = 15;
/// Shortest password accepted when the account has a second factor (TOTP): 8.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Longest password accepted, in bytes (SP 800-63B asks for at least 64 characters; the cap
/// bounds the hashing work a request can cause).
pub const PASSWORD_MAX_BYTES: usize = 1024;

const COMMON: &str = include_str!("common-passwords.txt");

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// The form a password is hashed and compared in: Unicode NFKC, so the same password typed
/// on two keyboards (composed or decomposed accents, full-width digits) is the same password.
/// Nothing is trimmed or truncated.
pub fn normalize_password(password: &str) -> Zeroizing<String> {
    use unicode_normalization::UnicodeNormalization;
    Zeroizing::new(password.nfkc().collect())
}

/// Checks a new (normalised) password: length only (no composition rules; 15 characters when
/// it is the only factor, 8 with TOTP), and not one of the most common passwords (compared
/// case-insensitively). The reason is for the user; it never echoes the password.
pub fn check_new_password(password: &str, second_factor: bool) -> Result<(), CredentialError> {
    let chars = password.chars().count();
    let min = if second_factor {
        PASSWORD_MIN_CHARS
    } else {
        PASSWORD_MIN_CHARS_SINGLE
    };
    if chars < min {
        return Err(CredentialError::Weak(format!(
            "must be at least {min} characters{}",
            if second_factor {
                ""
            } else {
                " (8 once an authenticator app is set up)"
            }
        )));
    }
    if password.len() > PASSWORD_MAX_BYTES {
        return Err(CredentialError::Weak(format!(
            "must be at most {PASSWORD_MAX_BYTES} bytes"
        )));
    }
    let lower = Zeroizing::new(password.to_lowercase());
    if common().contains(lower.as_str()) {
        return Err(CredentialError::Weak(
            "is one of the most common passwords; choose another".into(),
        ));
    }
    Ok(())
}

/// Checks a new PIN: 4 to 8 digits, not all the same digit, not a run up or down (`1234`,
/// `9876`), the choices tried first.
pub fn check_new_pin(pin: &str) -> Result<(), CredentialError> {
    if !(4..=8).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CredentialError::Weak("must be 4 to 8 digits".into()));
    }
    let d: Vec<i16> = pin.bytes().map(|b| i16::from(b - b'0')).collect();
    let steps: HashSet<i16> = d.windows(2).map(|w| w[1] - w[0]).collect();
    if steps.len() == 1 && steps.iter().all(|s| matches!(s, -1..=1)) {
        return Err(CredentialError::Weak(
            "must not be one repeated digit or a run like 1234".into(),
        ));
    }
    Ok(())
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) of a secret, computed on a blocking
/// thread.
pub async fn hash(secret: Zeroizing<String>) -> Result<Zeroizing<String>, CredentialError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(secret.as_bytes())
            .map(|h| Zeroizing::new(h.to_string()))
            .map_err(|_| CredentialError::Hash)
    })
    .await
    .map_err(|_| CredentialError::Hash)?
}

/// Whether `secret` matches the PHC string, computed on a blocking thread. With no stored
/// hash (no such user, or no such credential) the same work is done against a fixed hash, so
/// the answer takes as long either way.
pub async fn verify(
    secret: Zeroizing<String>,
    phc: Option<Zeroizing<String>>,
) -> Result<bool, CredentialError> {
    tokio::task::spawn_blocking(move || {
        let argon = Argon2::default();
        match phc {
            Some(phc) => Ok(argon
                .verify_password(secret.as_bytes(), phc.as_str())
                .is_ok()),
            None => {
                let _ = argon.verify_password(secret.as_bytes(), dummy_hash());
                Ok(false)
            }
        }
    })
    .await
    .map_err(|_| CredentialError::Hash)?
}

/// A hash of a random value, made once, to spend the same time on unknown accounts.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut random = [0u8; 16];
        let _ = getrandom::fill(&mut random);
        Argon2::default()
            .hash_password(&random)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn password_rules_are_length_and_the_common_list_only() {
        // Security bar A7: 7/8/14/15/64/128 characters, with and without a second factor.
        let of = |n: usize| "q7#Lm".repeat(26).chars().take(n).collect::<String>();
        for (n, single, with_mfa) in [
            (7, false, false),
            (8, false, true),
            (14, false, true),
            (15, true, true),
            (64, true, true),
            (128, true, true),
        ] {
            assert_eq!(
                check_new_password(&of(n), false).is_ok(),
                single,
                "{n} single"
            );
            assert_eq!(
                check_new_password(&of(n), true).is_ok(),
                with_mfa,
                "{n} with TOTP"
            );
        }
        assert!(check_new_password("password", true).is_err());
        assert!(
            check_new_password("PassWord", true).is_err(),
            "case-insensitive"
        );
        assert!(check_new_password("password123", true).is_err());
        // No composition rules: a long lower-case phrase is fine.
        assert!(check_new_password("correct horse battery staple", false).is_ok());
        assert!(check_new_password(&"x".repeat(PASSWORD_MAX_BYTES + 1), false).is_err());
        assert!(common().len() > 8000);
        // NFC and NFD spellings are one password.
        assert_eq!(
            normalize_password("caf\u{e9} au lait, s'il vous pla\u{ee}t"),
            normalize_password("cafe\u{301} au lait, s'il vous plai\u{302}t")
        );
    }

    #[test]
    fn pin_rules() {
        for bad in ["123", "123456789", "12a4", "0000", "1234", "9876", "55555"] {
            assert!(check_new_pin(bad).is_err(), "{bad}");
        }
        for good in ["2580", "1357", "48151623", "1123"] {
            assert!(check_new_pin(good).is_ok(), "{good}");
        }
    }

    /// No truncation: two 65-character passwords that differ only at the last character
    /// are different passwords (security bar A7).
    #[tokio::test]
    async fn long_passwords_are_not_truncated() {
        let a = format!("{}a", "p".repeat(64));
        let b = format!("{}b", "p".repeat(64));
        let phc = hash(Zeroizing::new(a.clone())).await.unwrap();
        assert!(verify(Zeroizing::new(a), Some(phc.clone())).await.unwrap());
        assert!(!verify(Zeroizing::new(b), Some(phc.clone())).await.unwrap());
        // The stored form is Argon2id at the OWASP baseline or above (bar A8).
        assert!(phc.contains("m=19456,t=2,p=1"), "{}", phc.as_str());
    }

    #[tokio::test]
    async fn hashes_verify_and_unknowns_do_not() {
        let phc = hash(Zeroizing::new("correct horse".into())).await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(
            verify(Zeroizing::new("correct horse".into()), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify(Zeroizing::new("wrong horse".into()), Some(phc))
                .await
                .unwrap()
        );
        assert!(
            !verify(Zeroizing::new("anything".into()), None)
                .await
                .unwrap()
        );
    }
}
