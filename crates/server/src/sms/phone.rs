//! Phone numbers: parsed, validated and normalised to E.164 with `phonenumber` (Google's
//! libphonenumber metadata).

use phonenumber::{Mode, Type};

use crate::auth::AuthError;

/// Longest input looked at (formatting characters included); E.164 itself is at most 16.
const MAX_INPUT: usize = 64;

/// Parses `raw` in international form (`+44 7400 123456`, `+1 (650) 253-0000`) and answers
/// it in E.164 (`+447400123456`). Refused: anything the metadata does not call a valid
/// number, and numbers that cannot take an SMS or that someone else is paid for (fixed line,
/// premium rate, shared cost, toll free, pager, UAN, voicemail: the usual SMS-pumping
/// targets).
pub fn normalize_phone(raw: &str) -> Result<String, AuthError> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > MAX_INPUT || !raw.starts_with('+') {
        return Err(AuthError::InvalidPhone);
    }
    if raw.chars().any(|c| c.is_control() || c.is_alphabetic()) {
        // Letters would be read as a keypad word or an extension ("ext. 12").
        return Err(AuthError::InvalidPhone);
    }
    let number = phonenumber::parse(None, raw).map_err(|_| AuthError::InvalidPhone)?;
    if !phonenumber::is_valid(&number) || number.extension().is_some() {
        return Err(AuthError::InvalidPhone);
    }
    match number.number_type(&phonenumber::metadata::DATABASE) {
        Type::Mobile | Type::FixedLineOrMobile | Type::PersonalNumber | Type::Voip => {}
        _ => return Err(AuthError::InvalidPhone),
    }
    Ok(number.format().mode(Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_to_e164() {
        for (raw, want) in [
            ("+44 7400 123456", "+447400123456"),
            (" +447400123456 ", "+447400123456"),
            ("+1 (650) 253-0000", "+16502530000"),
            ("+33 6 12 34 56 78", "+33612345678"),
            ("+49 1512 3456789", "+4915123456789"),
        ] {
            assert_eq!(normalize_phone(raw).ok().as_deref(), Some(want), "{raw}");
        }
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "+",
            "07400 123456",       // national form: no country
            "+44 7400 1234",      // too short
            "+44 7400 123456 78", // too long
            "+999 123456",        // no such country code
            "+44 909 879 0000",   // premium rate
            "+44 800 123 4567",   // toll free
            "+44 20 7946 0000",   // fixed line
            "+1 800 FLOWERS",
            "+44 7400 123456 ext. 12",
            "+44 7400\u{0} 123456",
        ] {
            assert!(normalize_phone(bad).is_err(), "{bad:?} accepted");
        }
        assert!(normalize_phone(&format!("+44{}", "7".repeat(70))).is_err());
    }
}
