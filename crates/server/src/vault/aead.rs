//! AES-256-GCM with a random 96-bit nonce, output `nonce ‖ ciphertext ‖ tag`.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInOut, KeyInit, Nonce};
use zeroize::Zeroizing;

use super::VaultError;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Encrypts `plaintext` under `key` with associated data `aad`.
pub(super) fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, VaultError> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| VaultError::Authentication)?;
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| VaultError::Random)?;
    // Room for the tag up front, so the buffer never reallocates and leaves a plaintext copy.
    let mut buf = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
    buf.extend_from_slice(plaintext);
    cipher
        .encrypt_in_place(&Nonce::<Aes256Gcm>::from(nonce), aad, &mut *buf)
        .map_err(|_| VaultError::Authentication)?;
    let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&buf);
    Ok(out)
}

/// Decrypts `nonce ‖ ciphertext ‖ tag`; any failure is [`VaultError::Authentication`].
pub(super) fn open(
    key: &[u8; 32],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(VaultError::Authentication);
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::<Aes256Gcm>::try_from(nonce).map_err(|_| VaultError::Authentication)?;
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| VaultError::Authentication)?;
    let mut buf = Zeroizing::new(body.to_vec());
    cipher
        .decrypt_in_place(&nonce, aad, &mut *buf)
        .map_err(|_| VaultError::Authentication)?;
    Ok(buf)
}
