//! The recovery secret and what it derives.
//!
//! Written form: the 32 secret bytes as 52 Crockford base32 characters, then four check
//! characters, in 14 groups of four: `7K2M-Q0XD-…`. Reading is forgiving the way Crockford
//! meant (case, dashes and spaces ignored; `O` read as `0`, `I` and `L` as `1`) and strict
//! where it matters: a miscopied secret is refused instead of deriving a wrong key.
//!
//! The check characters: two symbols of a linear code over GF(32) (the plain sum of the data
//! symbols and their sum weighted by successive powers of a primitive element), which catches
//! *every* single wrong character and *every* swap of two different neighbours, and two
//! symbols of SHA-256 over a versioned label and the bytes, which catches nearly everything
//! else and carries the derivation's version (a later version's secret cannot be read as this
//! one's).

use core::fmt;

use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::error::SecretError;
use crate::seal::{self, PrivateKey};

const SECRET_LEN: usize = 32;
/// 256 bits in 5-bit characters, the last one padded with zeros.
const DATA_CHARS: usize = 52;
const CHECK_CHARS: usize = 4;
const TOTAL_CHARS: usize = DATA_CHARS + CHECK_CHARS;
const GROUP: usize = 4;
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

const CHECKSUM_LABEL: &[u8] = b"tandem/recovery-secret/v1/checksum";
const HKDF_SALT: &[u8] = b"tandem/recovery-secret/v1";
const INFO_KEM: &[u8] = b"recovery key (X25519)";
const INFO_VERIFIER: &[u8] = b"verifier";
const KEY_ID_LABEL: &[u8] = b"tandem/recovery-key-id/v1";

/// 256 random bits the user writes down. Zeroized on drop; `Debug` prints nothing of it; the
/// only way out is [`RecoverySecret::reveal`].
pub struct RecoverySecret(Zeroizing<[u8; SECRET_LEN]>);

impl RecoverySecret {
    /// A new secret from the operating system's random source.
    pub fn generate() -> Result<Self, SecretError> {
        let mut bytes = Zeroizing::new([0u8; SECRET_LEN]);
        getrandom::fill(bytes.as_mut()).map_err(|_| SecretError::Random)?;
        Ok(RecoverySecret(bytes))
    }

    /// The written form: 14 groups of four characters joined by dashes.
    pub fn reveal(&self) -> Zeroizing<String> {
        let chars = encode(&self.0);
        let mut out = Zeroizing::new(String::with_capacity(TOTAL_CHARS + TOTAL_CHARS / GROUP));
        for (i, c) in chars.iter().enumerate() {
            if i > 0 && i % GROUP == 0 {
                out.push('-');
            }
            out.push(char::from(*c));
        }
        out
    }

    /// Reads a secret as a person typed it.
    pub fn parse(written: &str) -> Result<Self, SecretError> {
        let mut values = Zeroizing::new(Vec::with_capacity(TOTAL_CHARS));
        for (position, c) in written
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .enumerate()
        {
            let v = value_of(c).ok_or(SecretError::Character {
                position: position + 1,
            })?;
            values.push(v);
        }
        if values.len() != TOTAL_CHARS {
            return Err(SecretError::Length {
                expected: TOTAL_CHARS,
                found: values.len(),
            });
        }
        let mut bytes = Zeroizing::new([0u8; SECRET_LEN]);
        let mut acc: u32 = 0;
        let mut bits = 0;
        let mut n = 0;
        for &v in &values[..DATA_CHARS] {
            acc = (acc << 5) | u32::from(v);
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                if n < SECRET_LEN {
                    bytes[n] = (acc >> bits) as u8;
                    n += 1;
                }
                acc &= (1 << bits) - 1;
            }
        }
        acc.zeroize();
        // The 4 padding bits must be zero, or two spellings would mean one secret.
        let padded_ok = values[DATA_CHARS - 1] & 0x0f == 0;
        let check = checksum(&bytes);
        if !padded_ok || values[DATA_CHARS..] != check[..] {
            return Err(SecretError::Checksum);
        }
        Ok(RecoverySecret(bytes))
    }

    /// The keys this secret derives (HKDF-SHA256, one label per key).
    pub fn keys(&self) -> RecoveryKeys {
        let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), self.0.as_ref());
        let mut ikm = Zeroizing::new([0u8; 32]);
        let mut verifier = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's limit of 8160: these cannot fail.
        let _ = hk.expand(INFO_KEM, ikm.as_mut());
        let _ = hk.expand(INFO_VERIFIER, verifier.as_mut());
        let (kem_secret, kem_public) = seal::derive_keypair(ikm.as_ref());
        RecoveryKeys {
            kem_secret,
            kem_public,
            verifier,
        }
    }
}

impl fmt::Debug for RecoverySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoverySecret([redacted])")
    }
}

/// What a recovery secret derives: the recovery key pair and the verifier.
pub struct RecoveryKeys {
    pub(crate) kem_secret: PrivateKey,
    kem_public: [u8; 32],
    verifier: Zeroizing<[u8; 32]>,
}

impl RecoveryKeys {
    /// The X25519 public key the server seals Backup Kits (and escrows) to.
    pub fn public_key(&self) -> [u8; 32] {
        self.kem_public
    }

    /// A short name for the public key, printed on kits so a user can tell secrets apart.
    pub fn key_id(&self) -> String {
        key_id(&self.kem_public)
    }

    /// What the device proves knowledge of the secret with. The server keeps only
    /// [`RecoveryKeys::verifier_hash`].
    pub fn verifier(&self) -> &[u8; 32] {
        &self.verifier
    }

    /// SHA-256 of the verifier: what the server stores (ASVS 6.5.2: enough for a 256-bit
    /// value, which no one can guess).
    pub fn verifier_hash(&self) -> [u8; 32] {
        Sha256::digest(self.verifier.as_ref()).into()
    }
}

impl fmt::Debug for RecoveryKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryKeys")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

/// The short name of a recovery public key: 16 hex digits of a labelled SHA-256.
pub fn key_id(public_key: &[u8; 32]) -> String {
    let mut h = Sha256::new();
    h.update(KEY_ID_LABEL);
    h.update(public_key);
    hex::encode(&h.finalize()[..8])
}

fn encode(bytes: &[u8; SECRET_LEN]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(TOTAL_CHARS));
    for v in data_symbols(bytes).iter().chain(checksum(bytes).iter()) {
        out.push(ALPHABET[usize::from(*v)]);
    }
    out
}

/// Four 5-bit values: the two GF(32) check symbols of the data symbols, then 10 bits of the
/// labelled hash.
fn checksum(bytes: &[u8; SECRET_LEN]) -> [u8; CHECK_CHARS] {
    let mut h = Sha256::new();
    h.update(CHECKSUM_LABEL);
    h.update(bytes);
    let d = h.finalize();
    let v = (u32::from(d[0]) << 2) | (u32::from(d[1]) >> 6);
    let (plain, weighted) = gf32_checks(&data_symbols(bytes));
    [plain, weighted, ((v >> 5) & 0x1f) as u8, (v & 0x1f) as u8]
}

/// The 52 data symbols of the written form.
fn data_symbols(bytes: &[u8; SECRET_LEN]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(DATA_CHARS));
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in bytes.iter() {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(((acc >> bits) & 0x1f) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(((acc << (5 - bits)) & 0x1f) as u8);
    }
    acc.zeroize();
    out
}

/// `(Σ vᵢ, Σ αⁱ·vᵢ)` over GF(32) = GF(2)[x]/(x⁵ + x² + 1), α = x. A wrong symbol e at i
/// changes the first by e ≠ 0; two different neighbours swapped leave the first alone and
/// change the second by αⁱ(1 + α)(a + b) ≠ 0.
fn gf32_checks(symbols: &[u8]) -> (u8, u8) {
    let mut plain = 0u8;
    let mut weighted = 0u8;
    let mut power = 1u8;
    for &v in symbols {
        plain ^= v;
        weighted ^= gf32_mul(power, v);
        power = gf32_mul(power, 2);
    }
    (plain, weighted)
}

fn gf32_mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            product ^= a;
        }
        b >>= 1;
        a <<= 1;
        if a & 0x20 != 0 {
            a ^= 0b10_0101;
        }
    }
    product
}

fn value_of(c: char) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        c => c,
    };
    ALPHABET
        .iter()
        .position(|&a| char::from(a) == c)
        .and_then(|p| u8::try_from(p).ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn written_form_round_trips_and_is_forgiving() {
        let s = RecoverySecret::generate().unwrap();
        let w = s.reveal();
        assert_eq!(w.len(), 56 + 13);
        assert_eq!(w.split('-').count(), 14);
        let back = RecoverySecret::parse(&w).unwrap();
        assert_eq!(*back.0, *s.0);
        let sloppy = w
            .to_lowercase()
            .replace('-', " ")
            .replace('0', "o")
            .replace('1', "l");
        assert_eq!(*RecoverySecret::parse(&sloppy).unwrap().0, *s.0);
    }

    #[test]
    fn every_single_character_change_is_caught() {
        let s = RecoverySecret::generate().unwrap();
        let w: Vec<u8> = s.reveal().bytes().filter(|b| *b != b'-').collect();
        let mut caught = 0;
        for i in 0..w.len() {
            for &a in ALPHABET {
                if a == w[i] {
                    continue;
                }
                let mut t = w.clone();
                t[i] = a;
                let t = String::from_utf8(t).unwrap();
                assert!(RecoverySecret::parse(&t).is_err(), "change at {i} accepted");
                caught += 1;
            }
        }
        assert_eq!(caught, 56 * 31);
        // And every swap of two different neighbours.
        for i in 0..w.len() - 1 {
            if w[i] == w[i + 1] {
                continue;
            }
            let mut t = w.clone();
            t.swap(i, i + 1);
            let t = String::from_utf8(t).unwrap();
            assert!(RecoverySecret::parse(&t).is_err(), "swap at {i} accepted");
        }
    }

    #[test]
    fn the_code_catches_every_single_error_for_many_secrets() {
        // The guarantee is the code's, not luck: check it over many random secrets.
        for _ in 0..200 {
            let s = RecoverySecret::generate().unwrap();
            let w: Vec<u8> = s.reveal().bytes().filter(|b| *b != b'-').collect();
            for i in 0..w.len() {
                for &a in ALPHABET {
                    if a != w[i] {
                        let mut t = w.clone();
                        t[i] = a;
                        assert!(RecoverySecret::parse(core::str::from_utf8(&t).unwrap()).is_err());
                    }
                }
            }
        }
    }

    #[test]
    fn bad_input_says_what_is_wrong() {
        assert_eq!(
            RecoverySecret::parse("ABCD").unwrap_err(),
            SecretError::Length {
                expected: 56,
                found: 4
            }
        );
        let s = RecoverySecret::generate().unwrap();
        let mut w = s.reveal().to_string();
        w.replace_range(5..6, "U");
        assert_eq!(
            RecoverySecret::parse(&w).unwrap_err(),
            SecretError::Character { position: 5 }
        );
    }

    #[test]
    fn keys_are_deterministic_and_distinct() {
        let s = RecoverySecret::generate().unwrap();
        let (a, b) = (s.keys(), RecoverySecret::parse(&s.reveal()).unwrap().keys());
        assert_eq!(a.public_key(), b.public_key());
        assert_eq!(a.verifier(), b.verifier());
        assert_ne!(a.public_key(), *a.verifier());
        let other = RecoverySecret::generate().unwrap().keys();
        assert_ne!(a.public_key(), other.public_key());
        assert_eq!(a.key_id().len(), 16);
        assert!(!format!("{s:?}{a:?}").contains(&s.reveal()[..9]));
    }

    /// A fixed secret's derivations, so that a change to them (which would orphan every kit
    /// users hold) cannot pass unnoticed.
    #[test]
    fn derivation_is_stable() {
        let s = RecoverySecret(Zeroizing::new([7u8; 32]));
        let w = s.reveal();
        let k = s.keys();
        assert_eq!(
            (
                w.as_str(),
                hex::encode(k.public_key()),
                hex::encode(k.verifier_hash())
            ),
            (
                GOLDEN_WRITTEN,
                GOLDEN_PUBLIC.to_owned(),
                GOLDEN_VERIFIER_HASH.to_owned()
            )
        );
    }

    const GOLDEN_WRITTEN: &str =
        "0W3G-E1R7-0W3G-E1R7-0W3G-E1R7-0W3G-E1R7-0W3G-E1R7-0W3G-E1R7-0W3G-FYRE";
    const GOLDEN_PUBLIC: &str = "f17d8379c3b4552481a3a1f0c73cbceb6b7558fc659c6d5f9a15cdf5ce9f831f";
    const GOLDEN_VERIFIER_HASH: &str =
        "5cc2f2fb70735cf47d966da9d361b6fc4ea93f4271242d99ea2d553f50f9431f";
}
