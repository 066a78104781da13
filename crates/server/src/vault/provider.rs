//! The KEK provider interface.

use zeroize::Zeroizing;

use super::VaultError;

/// Wraps and unwraps 256-bit data keys under a key-encryption key (KEK) it never reveals.
///
/// Synchronous on purpose: a PKCS#11 provider blocks on the token. Providers that do say so
/// ([`blocks`](Self::blocks)), and the [`Vault`](super::Vault) then runs their calls off the
/// async workers.
pub trait KeyProvider: Send + Sync {
    /// A stable identifier of the KEK (stored next to each sealed share; reveals nothing).
    fn kek_id(&self) -> &str;

    /// Encrypts `dek` under the KEK, bound to `aad`.
    fn wrap(&self, dek: &[u8; 32], aad: &[u8]) -> Result<Vec<u8>, VaultError>;

    /// Decrypts a wrapped data key; any mismatch is [`VaultError::Authentication`], an
    /// unreachable key store [`VaultError::Unavailable`].
    fn unwrap(&self, wrapped: &[u8], aad: &[u8]) -> Result<Zeroizing<[u8; 32]>, VaultError>;

    /// Whether calls may block on I/O (a token, a network HSM) rather than only compute.
    fn blocks(&self) -> bool {
        false
    }

    /// Checks the key is usable now (readiness): one wrap of a throw-away value.
    fn probe(&self) -> Result<(), VaultError> {
        self.wrap(&[0u8; 32], b"tandem-vault-probe").map(|_| ())
    }
}
