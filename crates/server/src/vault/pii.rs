//! Keys for login secrets and personal data at rest, derived from the vault's data-at-rest
//! key ([`super::data_key`]): a MAC for login codes, a blind index for lookups (email → user),
//! a MAC for throttle buckets, and an AEAD key for identifiers (emails, user agents).
//!
//! None of them is in the database: the database holds only the wrapped root key, which
//! opens only under a KEK (in the HSM in pkcs11 mode). Each use has its own derived key, so a
//! blind index can never be confused with a code MAC or a throttle bucket.

use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{VaultError, aead};

type HmacSha256 = Hmac<Sha256>;

/// Version byte in front of every sealed identifier (room for a future key or format).
const SEALED_V1: u8 = 1;
const AAD_DOMAIN: &[u8] = b"tandem-pii";

struct Keys {
    code: Zeroizing<[u8; 32]>,
    index: Zeroizing<[u8; 32]>,
    throttle: Zeroizing<[u8; 32]>,
    seal: Zeroizing<[u8; 32]>,
}

/// The derived keys, held in memory only (zeroized on drop). Cheap to clone.
#[derive(Clone)]
pub struct PiiKeys(Arc<Keys>);

impl std::fmt::Debug for PiiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PiiKeys([redacted])")
    }
}

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail; the fallback is unreachable.
    let Ok(mut m) = <HmacSha256 as KeyInit>::new_from_slice(key) else {
        return [0u8; 32];
    };
    for part in parts {
        // Length-prefixed, so no two sequences of parts feed the MAC the same bytes.
        m.update(&(part.len() as u64).to_be_bytes());
        m.update(part);
    }
    m.finalize().into_bytes().into()
}

fn derive(root: &[u8; 32], label: &str) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(mac(root, &[b"tandem-data-key-derive", label.as_bytes()]))
}

fn aad(table: &str, column: &str, row_id: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for part in [
        AAD_DOMAIN,
        &[SEALED_V1],
        table.as_bytes(),
        column.as_bytes(),
        row_id.as_bytes(),
    ] {
        out.extend_from_slice(&(part.len() as u64).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

impl PiiKeys {
    /// Derives every key from the root data-at-rest key.
    pub fn derive(root: &[u8; 32]) -> Self {
        Self(Arc::new(Keys {
            code: derive(root, "login-code-mac-v1"),
            index: derive(root, "blind-index-v1"),
            throttle: derive(root, "throttle-bucket-v1"),
            seal: derive(root, "identifier-aead-v1"),
        }))
    }

    /// Fresh random keys, for tests that need no database.
    pub fn random() -> Result<Self, VaultError> {
        let mut root = Zeroizing::new([0u8; 32]);
        getrandom::fill(root.as_mut_slice()).map_err(|_| VaultError::Random)?;
        Ok(Self::derive(&root))
    }

    /// `HMAC(code key, attempt_id ‖ code)`: what is stored for a login code. Without the key,
    /// a stored value cannot be tested against the 10^6 possible codes.
    pub fn code_mac(&self, attempt_id: &str, code: &str) -> [u8; 32] {
        mac(
            self.0.code.as_slice(),
            &[attempt_id.as_bytes(), code.as_bytes()],
        )
    }

    /// The keyed blind index of an identifier of `kind` (e.g. `email`), for equality lookups.
    pub fn blind_index(&self, kind: &str, value: &str) -> Vec<u8> {
        mac(
            self.0.index.as_slice(),
            &[kind.as_bytes(), value.as_bytes()],
        )
        .to_vec()
    }

    /// The keyed name of a throttle bucket: the scope and what it counts (addresses, client
    /// keys) never appear in the database.
    pub fn throttle_bucket(&self, scope: &str, parts: &[&str]) -> Vec<u8> {
        let mut all: Vec<&[u8]> = vec![scope.as_bytes()];
        all.extend(parts.iter().map(|p| p.as_bytes()));
        mac(self.0.throttle.as_slice(), &all).to_vec()
    }

    /// Encrypts an identifier for `table`.`column` of row `row_id` (AES-256-GCM, random
    /// nonce; the associated data binds table, column and row, so a value copied to another
    /// row or column does not open).
    pub fn seal(
        &self,
        table: &str,
        column: &str,
        row_id: &str,
        plaintext: &str,
    ) -> Result<Vec<u8>, VaultError> {
        let body = aead::seal(
            &self.0.seal,
            &aad(table, column, row_id),
            plaintext.as_bytes(),
        )?;
        let mut out = Vec::with_capacity(1 + body.len());
        out.push(SEALED_V1);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens what [`seal`](Self::seal) produced for exactly this table, column and row.
    pub fn open(
        &self,
        table: &str,
        column: &str,
        row_id: &str,
        sealed: &[u8],
    ) -> Result<String, VaultError> {
        let Some((&SEALED_V1, body)) = sealed.split_first() else {
            return Err(VaultError::Authentication);
        };
        let plain = aead::open(&self.0.seal, &aad(table, column, row_id), body)?;
        String::from_utf8(plain.to_vec()).map_err(|_| VaultError::Authentication)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_are_bound_to_their_row_and_column() {
        let keys = PiiKeys::random().unwrap_or_else(|_| PiiKeys::derive(&[7; 32]));
        let sealed = keys
            .seal("users", "email", "u1", "a@b.c")
            .unwrap_or_default();
        assert_eq!(
            keys.open("users", "email", "u1", &sealed).ok().as_deref(),
            Some("a@b.c")
        );
        assert!(keys.open("users", "email", "u2", &sealed).is_err());
        assert!(keys.open("otp_codes", "email", "u1", &sealed).is_err());
        assert!(keys.open("users", "user_agent", "u1", &sealed).is_err());
    }

    #[test]
    fn derived_keys_are_separate() {
        let keys = PiiKeys::derive(&[1; 32]);
        let other = PiiKeys::derive(&[2; 32]);
        assert_ne!(
            keys.blind_index("email", "a"),
            other.blind_index("email", "a")
        );
        assert_ne!(
            keys.blind_index("email", "a"),
            keys.throttle_bucket("email", &["a"])
        );
        assert_ne!(keys.code_mac("ab", "c"), keys.code_mac("a", "bc"));
    }
}
