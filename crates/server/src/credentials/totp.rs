//! TOTP (RFC 6238 over RFC 4226 HOTP): HMAC-SHA-1, 6 digits, 30-second steps, what every
//! authenticator app reads from an `otpauth://` URI.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Seconds per step.
pub const STEP_SECS: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Key length in bytes (RFC 4226 recommends 160 bits).
pub const KEY_BYTES: usize = 20;
/// Steps either side of now that are accepted (clock skew of the phone).
pub const SKEW: i64 = 1;

/// The HMAC of RFC 6238 §1.2. Tandem issues SHA-1 keys (what every app supports); the others
/// are here so the implementation is checked against all of the RFC's vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

fn mac(algorithm: Algorithm, key: &[u8], message: &[u8]) -> Zeroizing<Vec<u8>> {
    fn run<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Zeroizing<Vec<u8>> {
        // HMAC takes keys of any length, so this cannot fail.
        let Ok(mut m) = <M as KeyInit>::new_from_slice(key) else {
            return Zeroizing::new(Vec::new());
        };
        m.update(message);
        Zeroizing::new(m.finalize().into_bytes().to_vec())
    }
    match algorithm {
        Algorithm::Sha1 => run::<Hmac<Sha1>>(key, message),
        Algorithm::Sha256 => run::<Hmac<sha2::Sha256>>(key, message),
        Algorithm::Sha512 => run::<Hmac<sha2::Sha512>>(key, message),
    }
}

/// RFC 4226 HOTP with a choice of HMAC and digits (dynamic truncation, §5.3).
pub fn hotp_with(algorithm: Algorithm, key: &[u8], counter: u64, digits: u32) -> Zeroizing<String> {
    let digest = mac(algorithm, key, &counter.to_be_bytes());
    let Some(&last) = digest.last() else {
        return Zeroizing::new(String::new());
    };
    let offset = usize::from(last & 0x0f);
    let Some(window) = digest.get(offset..offset + 4) else {
        return Zeroizing::new(String::new());
    };
    let binary = u32::from_be_bytes([window[0] & 0x7f, window[1], window[2], window[3]]);
    Zeroizing::new(format!(
        "{:0width$}",
        u64::from(binary) % 10u64.pow(digits),
        width = digits as usize
    ))
}

/// The HOTP value Tandem uses: HMAC-SHA-1, `DIGITS` digits.
pub fn hotp(key: &[u8], counter: u64) -> Zeroizing<String> {
    hotp_with(Algorithm::Sha1, key, counter, DIGITS)
}

/// The step a Unix-millisecond time falls in.
pub fn step_at(now_ms: i64) -> i64 {
    now_ms.div_euclid(1000).div_euclid(STEP_SECS)
}

/// The step among `now ± SKEW` whose code is `code`, latest first, if any. Compares in
/// constant time per candidate.
pub fn matching_step(key: &[u8], code: &str, now_ms: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(now_ms);
    let mut found = None;
    for step in ((now - SKEW)..=(now + SKEW)).rev() {
        let Ok(counter) = u64::try_from(step) else {
            continue;
        };
        let candidate = hotp(key, counter);
        if bool::from(candidate.as_bytes().ct_eq(code.as_bytes())) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// A new random key, in base32 as apps expect it.
pub fn new_key() -> Result<Zeroizing<String>, getrandom::Error> {
    let mut key = Zeroizing::new([0u8; KEY_BYTES]);
    getrandom::fill(key.as_mut())?;
    Ok(Zeroizing::new(BASE32_NOPAD.encode(key.as_ref())))
}

/// The key bytes of a base32 key.
pub fn decode_key(base32: &str) -> Option<Zeroizing<Vec<u8>>> {
    BASE32_NOPAD
        .decode(base32.as_bytes())
        .ok()
        .map(Zeroizing::new)
}

/// The `otpauth://totp/…` URI authenticator apps scan (Google's Key Uri Format).
pub fn otpauth_uri(issuer: &str, account: &str, base32: &str) -> Zeroizing<String> {
    let issuer_enc = utf8_percent_encode(issuer, NON_ALPHANUMERIC).to_string();
    let account_enc = utf8_percent_encode(account, NON_ALPHANUMERIC).to_string();
    Zeroizing::new(format!(
        "otpauth://totp/{issuer_enc}:{account_enc}?secret={base32}&issuer={issuer_enc}\
         &algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}"
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// All 18 rows of RFC 6238 appendix B (8 digits), and the 6-digit truncation Tandem uses
    /// (the value mod 10^6, i.e. the last 6 digits of the SHA-1 rows). Security bar A1.
    #[test]
    fn rfc6238_vectors() {
        let sha1 = b"12345678901234567890".as_slice();
        let sha256 = b"12345678901234567890123456789012".as_slice();
        let sha512 = b"1234567890123456789012345678901234567890123456789012345678901234".as_slice();
        let rows: [(i64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1_111_111_109, "07081804", "68084774", "25091201"),
            (1_111_111_111, "14050471", "67062674", "99943326"),
            (1_234_567_890, "89005924", "91819424", "93441116"),
            (2_000_000_000, "69279037", "90698825", "38618901"),
            (20_000_000_000, "65353130", "77737706", "47863826"),
        ];
        for (t, a, b, c) in rows {
            let step = u64::try_from(step_at(t * 1000)).unwrap();
            assert_eq!(
                hotp_with(Algorithm::Sha1, sha1, step, 8).as_str(),
                a,
                "SHA-1 t = {t}"
            );
            assert_eq!(
                hotp_with(Algorithm::Sha256, sha256, step, 8).as_str(),
                b,
                "SHA-256 t = {t}"
            );
            assert_eq!(
                hotp_with(Algorithm::Sha512, sha512, step, 8).as_str(),
                c,
                "SHA-512 t = {t}"
            );
            assert_eq!(hotp(sha1, step).as_str(), &a[2..], "6 digits t = {t}");
        }
    }

    #[test]
    fn skew_is_one_step_either_side() {
        let key = b"12345678901234567890";
        let now = 1_234_567_890_000;
        let s = step_at(now);
        let code = |step: i64| hotp(key, u64::try_from(step).unwrap());
        assert_eq!(matching_step(key, &code(s), now), Some(s));
        assert_eq!(matching_step(key, &code(s - 1), now), Some(s - 1));
        assert_eq!(matching_step(key, &code(s + 1), now), Some(s + 1));
        assert_eq!(matching_step(key, &code(s - 2), now), None);
        assert_eq!(matching_step(key, &code(s + 2), now), None);
        assert_eq!(matching_step(key, "12345", now), None);
        assert_eq!(matching_step(key, "abcdef", now), None);
    }

    #[test]
    fn keys_round_trip_and_uris_are_escaped() {
        let key = new_key().unwrap();
        assert_eq!(decode_key(&key).unwrap().len(), KEY_BYTES);
        let uri = otpauth_uri("Tandem", "a b@example.com", "ABC");
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/Tandem:a%20b%40example%2Ecom?secret=ABC&issuer=Tandem&algorithm=SHA1&digits=6&period=30"
        );
    }
}
