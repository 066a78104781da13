//! The unlocked store key and the one AEAD construction every store file uses
//! (XChaCha20-Poly1305 with a fresh random 24-byte nonce: random nonces of that size
//! never collide in practice, so no counter state has to survive crashes).

use core::fmt;

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{Key, KeyInit, Tag, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use super::error::StoreError;

pub(crate) const KEY_LEN: usize = 32;
pub(crate) const NONCE_LEN: usize = 24;
pub(crate) const TAG_LEN: usize = 16;

/// The 256-bit key derived from the passphrase. Wiped on drop, never printed.
pub(crate) struct StoreKey(Zeroizing<[u8; KEY_LEN]>);

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl StoreKey {
    pub(crate) fn new(bytes: Zeroizing<[u8; KEY_LEN]>) -> Self {
        StoreKey(bytes)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        // Borrow the key as an `Array` instead of copying it into a temporary nobody wipes.
        let key: &Key = (&*self.0).into();
        XChaCha20Poly1305::new(key)
    }

    /// Returns `nonce ‖ ciphertext ‖ tag`.
    pub(crate) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| StoreError::Rng)?;
        // Build the output around the plaintext and encrypt it in place, so no second
        // plaintext copy is left behind in freed memory.
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .cipher()
            .encrypt_inout_detached(
                <&XNonce>::from(&nonce),
                aad,
                out[NONCE_LEN..].as_mut().into(),
            )
            .map_err(|_| StoreError::Corrupt("plaintext too long to encrypt".into()))?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Opens `nonce ‖ ciphertext ‖ tag`; `None` if it does not authenticate under this key and AAD.
    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let body_len = sealed.len().checked_sub(NONCE_LEN + TAG_LEN)?;
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(body_len);
        let nonce = <&XNonce>::try_from(nonce).ok()?;
        let tag = <&Tag>::try_from(tag).ok()?;
        // The tag is checked before anything is decrypted, and the buffer is wiped on drop
        // whatever happens.
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        self.cipher()
            .decrypt_inout_detached(nonce, aad, buf.as_mut_slice().into(), tag)
            .ok()?;
        Some(buf)
    }
}
