//! The device-share escrow: this device's share of one wallet at one epoch, sealed with HPKE
//! to the recovery key and kept by the server, which cannot open it. After a recovery's delay
//! the new device receives it, opens it with the recovery secret, and at once runs a complete
//! refresh with the server, so the share it held (and the lost device's copy) die.
//!
//! Sealed data: the Backup Kit's layout (see `kit.rs`) with the magic `"TDME"` and
//! `info = "tandem/escrow/v1"`, holding a device share: a kit never opens as an escrow nor
//! an escrow as a kit.

use tandem_mpc::{KeyShare, Role, Scheme, SchemeId};

use crate::error::KitError;
use crate::kit::{Purpose, Sealed};
use crate::secret::{RecoveryKeys, key_id};

/// A sealed device share. Holds no secret in the clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escrow(Sealed);

impl Escrow {
    /// Device side: seals its own share to the account's recovery public key.
    pub fn seal<S: Scheme>(
        device_share: &KeyShare<S>,
        recovery_key: &[u8; 32],
    ) -> Result<Escrow, KitError> {
        if device_share.role() != Role::Device {
            return Err(KitError::Binding);
        }
        Sealed::seal(Purpose::Escrow, device_share, recovery_key).map(Escrow)
    }

    /// The recovering device: opens it with the recovery secret's keys.
    pub fn open<S: Scheme>(&self, keys: &RecoveryKeys) -> Result<KeyShare<S>, KitError> {
        self.0.open(keys)
    }

    pub fn wallet(&self) -> &str {
        &self.0.wallet
    }

    pub fn scheme(&self) -> SchemeId {
        self.0.scheme
    }

    pub fn epoch(&self) -> u64 {
        self.0.epoch
    }

    pub fn public_key(&self) -> &[u8] {
        &self.0.public_key
    }

    /// The recovery public key it is sealed to.
    pub fn recovery_key(&self) -> &[u8; 32] {
        &self.0.recovery_key
    }

    pub fn recovery_key_id(&self) -> String {
        key_id(&self.0.recovery_key)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Escrow, KitError> {
        Sealed::from_bytes(Purpose::Escrow, bytes).map(Escrow)
    }
}
