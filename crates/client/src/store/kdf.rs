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
    /// OWASP's Argon2id minimum: 19 MiB, 2 passes, 1 lane. The default of stores created
    /// before the floor existed; such a store still opens, and is re-keyed to the new default
    /// at once (see [`ShareStore::open_with`](super::ShareStore::open_with)).
    pub const OWASP: KdfParams = KdfParams {
        m_kib: 19_456,
        t: 2,
        p: 1,
    };

    /// The default for new stores: 256 MiB, 3 passes, 1 lane: 0.75 s of CPU per guess on one
    /// core of a 2-core 2026 server (measured: docs/server.md, "Device side"), so a stolen
    /// share file costs an attacker that much memory-hard work per passphrase tried.
    pub const RECOMMENDED: KdfParams = KdfParams {
        m_kib: 256 * 1024,
        t: 3,
        p: 1,
    };

    /// The weakest parameters a store may have: 64 MiB and 2 passes. `keystore.json` is
    /// plain data anyone with write access to the directory can edit, so the parameters read
    /// from it are held to this floor and a weaker file is refused.
    pub const FLOOR: KdfParams = KdfParams {
        m_kib: 64 * 1024,
        t: 2,
        p: 1,
    };

    /// Whether these cost at least as much per guess as `other` (memory and passes; lanes
    /// only let the defender run in parallel, they do not add work).
    pub fn at_least(&self, other: &KdfParams) -> bool {
        self.m_kib >= other.m_kib && self.t >= other.t
    }

    /// The cheaper of the two in each dimension.
    pub(crate) fn weakest(&self, other: &KdfParams) -> KdfParams {
        KdfParams {
            m_kib: self.m_kib.min(other.m_kib),
            t: self.t.min(other.t),
            p: self.p.min(other.p),
        }
    }

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
        Self::RECOMMENDED
    }
}
