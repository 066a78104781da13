//! The rule every new store passphrase must pass, on every path that chooses one (store
//! creation through [`ShareStore::open`](super::ShareStore::open) or `open_with`, a passphrase
//! change, and the CLI's prompt and `TANDEM_PASSPHRASE`).
//!
//! The passphrase is all that protects a stolen share file, and Argon2id only multiplies the
//! cost of each guess: it cannot save one that is on every cracking list. So: at least
//! [`MIN_PASSPHRASE_CHARS`] characters, a few different ones, not a shorter string repeated,
//! and not a common password, even with case, separators or leading and trailing digits
//! changed. The list (`common-passwords.txt`, 19 640 entries) is the one Django ships
//! (BSD-3-Clause; compiled by Royce Williams from breach corpora); see `common-passwords.md`.

use std::collections::HashSet;
use std::sync::LazyLock;

use super::error::StoreError;

/// Twelve characters: with the common-password check this leaves guessing random-looking
/// strings, which at ~0.5 s or more per guess (the default Argon2id cost) is out of reach
/// for anything but a short or patterned choice. NIST SP 800-63B asks for at least 8 from
/// users; a key that guards money, offline-attackable, warrants more.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// Fewer distinct characters than this is a pattern, not a passphrase ("aaaaaaaaaaaa",
/// "abababababab").
const MIN_DISTINCT_CHARS: usize = 5;

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// Checks a passphrase chosen for a store. The error says which rule failed, never the
/// passphrase.
pub fn check_new_passphrase(passphrase: &str) -> Result<(), StoreError> {
    let weak = |why: &'static str| Err(StoreError::WeakPassphrase(why));
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return weak("it needs at least 12 characters");
    }
    if passphrase.chars().collect::<HashSet<_>>().len() < MIN_DISTINCT_CHARS {
        return weak("it uses too few different characters");
    }
    // Case, spaces and punctuation do not make a common password uncommon.
    let folded: String = passphrase
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    if is_repetition(&folded) {
        return weak("it repeats a shorter string");
    }
    let digit = |c: char| c.is_ascii_digit();
    let candidates = [
        folded.as_str(),
        folded.trim_end_matches(digit),
        folded.trim_start_matches(digit),
        folded.trim_matches(digit),
    ];
    if candidates
        .iter()
        .any(|c| c.is_empty() || COMMON.contains(c))
    {
        return weak("it is a common password (or one with digits or symbols added)");
    }
    Ok(())
}

/// Whether `s` is some shorter string repeated (at least twice).
fn is_repetition(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    (1..=n / 2).any(|p| n.is_multiple_of(p) && chars.chunks(p).all(|c| c == &chars[..p]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_loaded() {
        assert!(COMMON.len() > 19_000);
        assert!(COMMON.contains("password"));
    }

    #[test]
    fn weak_ones_are_refused_and_good_ones_pass() {
        for weak in [
            "x",
            "short pass",
            "aaaaaaaaaaaaaaaa",
            "abababababababab",
            "PassWord1234",
            "password12345678",
            "!!Qwertyuiop!!",
            "1234567890123",
            "iloveyouiloveyou",
            "123456789qwerty",
        ] {
            assert!(check_new_passphrase(weak).is_err(), "{weak} accepted");
        }
        for good in [
            "correct horse battery staple",
            "canary-passphrase-5f1d0c7a9e",
            "tandem-bench-passphrase",
            "vivid otter 93 lantern",
        ] {
            assert!(check_new_passphrase(good).is_ok(), "{good} refused");
        }
    }
}
