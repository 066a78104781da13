//! The share vault: envelope encryption of server key shares.
//!
//! Each seal draws a fresh random 256-bit data key (DEK), encrypts the share under it with
//! AES-256-GCM, and has the KEK provider wrap the DEK. Both steps use the same associated data,
//! a fixed length-prefixed encoding of (`tandem-vault`, format version, wallet id, epoch,
//! role), so a sealed share opens only for the exact (wallet, epoch, role) it was sealed for,
//! and only under the KEK that wrapped it. Every failure to open is
//! [`VaultError::Authentication`], with no detail.
//!
//! A server may hold several KEKs at once (a [`Keyring`]): shares name the KEK that wrapped
//! their data key, so during and after a KEK rotation shares under the old and the new KEK
//! both open. Rotation re-wraps only the 32-byte data keys ([`Vault::rewrap`]); the share
//! ciphertexts never change. Which KEK new seals use is recorded in the database
//! ([`registry`]), so every instance follows a rotation without a restart.
//!
//! Providers are synchronous. When a keyring may block (a PKCS#11 token), every vault call
//! runs through [`tokio::task::block_in_place`]: the calling worker hands its queued tasks to
//! another worker first, so a slow or hung HSM delays only the requests that need it, never
//! the rest of the server (health checks, logins, other ceremonies).

mod aad;
mod aead;
mod error;
mod keyring;
mod local;
mod local_source;
mod pii;
mod pkcs11;
mod pkcs11_pool;
mod pkcs11_source;
mod provider;
pub mod registry;
mod source;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use aad::{FORMAT_VERSION, associated_data};
pub use error::VaultError;
pub use keyring::Keyring;
pub use local::{LocalKeyProvider, kek_id_for, rotated_file_name, secret_key_file};
pub use local_source::LocalSource;
pub use pii::PiiKeys;
pub use pkcs11::{Pkcs11Config, Pkcs11KeyProvider};
pub use pkcs11_source::{Pkcs11Source, next_label};
pub use provider::KeyProvider;
pub use source::{KekSource, NewKek};

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

/// Seals and opens server shares under the KEKs of a [`Keyring`]. Cheap to clone.
#[derive(Clone)]
pub struct Vault {
    keyring: Arc<Keyring>,
    default_kek: String,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("default_kek", &self.default_kek)
            .field("keyring", &self.keyring)
            .finish()
    }
}

impl Vault {
    /// A vault over exactly one KEK provider.
    pub fn new(provider: Arc<dyn KeyProvider>) -> Self {
        let default_kek = provider.kek_id().to_owned();
        Self {
            keyring: Arc::new(Keyring::fixed(provider)),
            default_kek,
        }
    }

    /// A vault over `keyring`; [`seal`](Self::seal) uses `default_kek`, which must be in it
    /// (or loadable by it).
    pub fn with_keyring(keyring: Arc<Keyring>, default_kek: String) -> Self {
        Self {
            keyring,
            default_kek,
        }
    }

    /// The identifier of the KEK [`seal`](Self::seal) uses.
    pub fn kek_id(&self) -> &str {
        &self.default_kek
    }

    /// The KEKs this vault can use.
    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    /// Encrypts `plaintext` for (wallet, epoch, role) under a fresh data key, wrapped by the
    /// default KEK.
    pub fn seal(
        &self,
        wallet_id: &str,
        epoch: u64,
        role: &str,
        plaintext: &[u8],
    ) -> Result<SealedShare, VaultError> {
        self.seal_with(&self.default_kek, wallet_id, epoch, role, plaintext)
    }

    /// Like [`seal`](Self::seal), with the data key wrapped by the KEK `kek_id`.
    pub fn seal_with(
        &self,
        kek_id: &str,
        wallet_id: &str,
        epoch: u64,
        role: &str,
        plaintext: &[u8],
    ) -> Result<SealedShare, VaultError> {
        self.off_workers(|| {
            crate::telemetry::vault_call("seal", || {
                let provider = self.keyring.get(kek_id)?;
                let aad = associated_data(wallet_id, epoch, role);
                let mut dek = Zeroizing::new([0u8; 32]);
                getrandom::fill(dek.as_mut_slice()).map_err(|_| VaultError::Random)?;
                let wrapped_dek = provider.wrap(&dek, &aad)?;
                let ciphertext = aead::seal(&dek, &aad, plaintext)?;
                Ok(SealedShare {
                    kek_id: provider.kek_id().to_owned(),
                    wrapped_dek,
                    ciphertext,
                })
            })
        })
    }

    /// Decrypts a share sealed for exactly (wallet, epoch, role), under whichever KEK it
    /// names. Any mismatch or tampering gives [`VaultError::Authentication`]; a KEK this
    /// server cannot load gives [`VaultError::UnknownKek`].
    pub fn open(
        &self,
        wallet_id: &str,
        epoch: u64,
        role: &str,
        sealed: &SealedShare,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        self.off_workers(|| {
            crate::telemetry::vault_call("open", || {
                let provider = self.keyring.get(&sealed.kek_id)?;
                let aad = associated_data(wallet_id, epoch, role);
                let dek = provider.unwrap(&sealed.wrapped_dek, &aad)?;
                aead::open(&dek, &aad, &sealed.ciphertext)
            })
        })
    }

    /// Moves one wrapped data key from KEK `from` to KEK `to`: unwrap, wrap again with the
    /// same associated data. The share ciphertext is untouched; the data key exists in
    /// plaintext only inside this call (zeroized on return).
    pub fn rewrap(
        &self,
        wallet_id: &str,
        epoch: u64,
        role: &str,
        from: &str,
        wrapped_dek: &[u8],
        to: &str,
    ) -> Result<Vec<u8>, VaultError> {
        self.off_workers(|| {
            crate::telemetry::vault_call("rewrap", || {
                let aad = associated_data(wallet_id, epoch, role);
                let dek = self.keyring.get(from)?.unwrap(wrapped_dek, &aad)?;
                self.keyring.get(to)?.wrap(&dek, &aad)
            })
        })
    }

    /// Checks that the KEK `kek_id` (the active one, for readiness) can be reached and used
    /// now.
    pub fn probe(&self, kek_id: &str) -> Result<(), VaultError> {
        self.off_workers(|| {
            crate::telemetry::vault_call("probe", || self.keyring.get(kek_id)?.probe())
        })
    }

    fn off_workers<T>(&self, f: impl FnOnce() -> T) -> T {
        if self.keyring.blocks() {
            off_workers(f)
        } else {
            f()
        }
    }
}

/// Runs a call that may block on I/O without stalling the async runtime: on a multi-threaded
/// runtime the worker's other tasks move to another worker first. Elsewhere (a
/// current-thread runtime, a plain thread) it just runs.
pub fn off_workers<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
