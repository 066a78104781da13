//! Passphrase → store key, with Argon2id.

use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use super::aead::{KEY_LEN, StoreKey};
use super::error::StoreError;

/// Argon2id cost parameters. Chosen at store creation and recorded in `keystore.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes over memory.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl KdfParams {
    /// OWASP's Argon2id recommendation: 19 MiB, 2 passes, 1 lane.
    pub const OWASP: KdfParams = KdfParams {
        m_kib: 19_456,
        t: 2,
        p: 1,
    };

    // Upper bounds, so a tampered keystore.json cannot make `open` allocate or spin forever
    // before the passphrase check even runs.
    const MAX_M_KIB: u32 = 2 * 1024 * 1024;
    const MAX_T: u32 = 64;
    const MAX_P: u32 = 16;

    fn argon2_params(&self) -> Result<Params, StoreError> {
        if self.m_kib > Self::MAX_M_KIB || self.t > Self::MAX_T || self.p > Self::MAX_P {
            return Err(StoreError::InvalidKdfParams(format!(
                "at most m_kib={}, t={}, p={}",
                Self::MAX_M_KIB,
                Self::MAX_T,
                Self::MAX_P
            )));
        }
        Params::new(self.m_kib, self.t, self.p, Some(KEY_LEN))
            .map_err(|e| StoreError::InvalidKdfParams(e.to_string()))
    }

    /// Checks the parameters without running the KDF.
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        self.argon2_params().map(|_| ())
    }

    /// The passphrase is used byte for byte: no Unicode normalisation is applied.
    pub(crate) fn derive(&self, passphrase: &str, salt: &[u8]) -> Result<StoreKey, StoreError> {
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.argon2_params()?);
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        argon
            .hash_password_into(passphrase.as_bytes(), salt, key.as_mut_slice())
            .map_err(|e| StoreError::InvalidKdfParams(e.to_string()))?;
        Ok(StoreKey::new(key))
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::OWASP
    }
}
