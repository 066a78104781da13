//! The KEK provider interface.

use zeroize::Zeroizing;

use super::VaultError;

/// Wraps and unwraps 256-bit data keys under a key-encryption key (KEK) it never reveals.
///
/// Synchronous on purpose: a PKCS#11 provider blocks on the token, so async callers run the
/// vault inside `spawn_blocking`.
pub trait KeyProvider: Send + Sync {
    /// A stable identifier of the KEK (stored next to each sealed share; reveals nothing).
    fn kek_id(&self) -> &str;

    /// Encrypts `dek` under the KEK, bound to `aad`.
    fn wrap(&self, dek: &[u8; 32], aad: &[u8]) -> Result<Vec<u8>, VaultError>;

    /// Decrypts a wrapped data key; any mismatch is [`VaultError::Authentication`].
    fn unwrap(&self, wrapped: &[u8], aad: &[u8]) -> Result<Zeroizing<[u8; 32]>, VaultError>;
}
