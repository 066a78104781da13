//! The share vault: envelope encryption of server key shares.
//!
//! Each seal draws a fresh random 256-bit data key (DEK), encrypts the share under it with
//! AES-256-GCM, and has the KEK provider wrap the DEK. Both steps use the same associated data,
//! a fixed length-prefixed encoding of (`tandem-vault`, format version, wallet id, epoch,
//! role), so a sealed share opens only for the exact (wallet, epoch, role) it was sealed for,
//! and only under the KEK that wrapped it. Every failure to open is
//! [`VaultError::Authentication`], with no detail.
//!
//! Providers are synchronous (a PKCS#11 provider will block on the token); call the vault from
//! `tokio::task::spawn_blocking` if the provider may be slow.

mod aad;
mod aead;
mod error;
mod local;
mod pkcs11;
mod provider;

pub use aad::{FORMAT_VERSION, associated_data};
pub use error::VaultError;
pub use local::{LocalKeyProvider, secret_key_file};
pub use pkcs11::{Pkcs11Config, Pkcs11KeyProvider};
pub use provider::KeyProvider;

use std::sync::Arc;

use zeroize::Zeroizing;

/// A sealed share as stored (`server_shares.kek_id`, `wrapped_dek`, `ciphertext`).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedShare {
    /// The KEK that wrapped the data key.
    pub kek_id: String,
    /// The data key, wrapped by the KEK provider.
    pub wrapped_dek: Vec<u8>,
    /// nonce ‖ AES-256-GCM(DEK, share) ‖ tag.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for SealedShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedShare")
            .field("kek_id", &self.kek_id)
            .field("wrapped_dek_len", &self.wrapped_dek.len())
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

/// Seals and opens server shares under one KEK provider. Cheap to clone.
#[derive(Clone)]
pub struct Vault {
    provider: Arc<dyn KeyProvider>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("kek_id", &self.provider.kek_id())
            .finish()
    }
}

impl Vault {
    /// A vault over `provider`.
    pub fn new(provider: Arc<dyn KeyProvider>) -> Self {
        Self { provider }
    }

    /// The identifier of the KEK new seals use.
    pub fn kek_id(&self) -> &str {
        self.provider.kek_id()
    }

    /// Encrypts `plaintext` for (wallet, epoch, role) under a fresh data key.
    pub fn seal(
        &self,
        wallet_id: &str,
        epoch: u64,
        role: &str,
        plaintext: &[u8],
    ) -> Result<SealedShare, VaultError> {
        let aad = associated_data(wallet_id, epoch, role);
        let mut dek = Zeroizing::new([0u8; 32]);
        getrandom::fill(dek.as_mut_slice()).map_err(|_| VaultError::Random)?;
        let wrapped_dek = self.provider.wrap(&dek, &aad)?;
        let ciphertext = aead::seal(&dek, &aad, plaintext)?;
        Ok(SealedShare {
            kek_id: self.provider.kek_id().to_owned(),
            wrapped_dek,
            ciphertext,
        })
    }

    /// Decrypts a share sealed for exactly (wallet, epoch, role). Any mismatch, tampering or
    /// a different KEK gives [`VaultError::Authentication`].
    pub fn open(
        &self,
        wallet_id: &str,
        epoch: u64,
        role: &str,
        sealed: &SealedShare,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        if sealed.kek_id != self.provider.kek_id() {
            return Err(VaultError::Authentication);
        }
        let aad = associated_data(wallet_id, epoch, role);
        let dek = self.provider.unwrap(&sealed.wrapped_dek, &aad)?;
        aead::open(&dek, &aad, &sealed.ciphertext)
    }
}
