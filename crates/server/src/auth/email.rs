//! Email address normalisation and validation.

use super::AuthError;

/// Longest address accepted (RFC 5321 path limit less the angle brackets).
const MAX_LEN: usize = 254;

/// Trims and lowercases `raw` and checks it: exactly one `@`, non-empty local part and domain,
/// no whitespace or control characters, at most 254 characters, and acceptable to the mailer.
pub fn normalize_email(raw: &str) -> Result<String, AuthError> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() || email.len() > MAX_LEN {
        return Err(AuthError::InvalidEmail);
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AuthError::InvalidEmail);
    }
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(AuthError::InvalidEmail);
    };
    if local.is_empty() || domain.is_empty() {
        return Err(AuthError::InvalidEmail);
    }
    // The mailer must be able to address it, so a valid address never fails at delivery.
    if email.parse::<lettre::Address>().is_err() {
        return Err(AuthError::InvalidEmail);
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(
            normalize_email("  Alice@Example.COM ").ok().as_deref(),
            Some("alice@example.com")
        );
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "a@b@c",
            "al ice@example.com",
            "alice@exa\tmple.com",
            "alice@example.com\u{0}",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(normalize_email(&long).is_err());
    }
}
