//! What binds a ceremony to one wallet, one epoch and one run: the session context.
//!
//! The session id is derived from fresh nonces of *both* parties, so neither side alone can
//! force a session id that was used before (no replay of a recorded ceremony into a new one).

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::protocol::Protocol;

/// Longest wallet id accepted (ids are opaque text chosen by the server).
pub const MAX_WALLET_ID_LEN: usize = 64;

/// Opaque wallet identifier, as the server names the wallet.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WalletId(String);

impl WalletId {
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        if id.is_empty() || id.len() > MAX_WALLET_ID_LEN {
            return Err(Error::InvalidInput("wallet id must be 1..=64 bytes"));
        }
        Ok(WalletId(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A party's fresh contribution to the session id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nonce(pub [u8; 32]);

impl Nonce {
    /// 32 bytes from the OS CSPRNG.
    pub fn generate() -> Result<Self> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| Error::aborted("OS randomness unavailable"))?;
        Ok(Nonce(bytes))
    }
}

/// The 32-byte id that every frame of one ceremony carries.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(pub [u8; 32]);

impl core::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SessionId(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

/// Everything a ceremony is bound to. Both parties must build the same context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionContext {
    pub protocol: Protocol,
    pub wallet: WalletId,
    /// The epoch of the shares the ceremony uses (keygen: 0; refresh produces `epoch + 1`).
    pub epoch: u64,
    pub session_id: SessionId,
}

impl SessionContext {
    /// Derives the context from both parties' nonces. Order-independent inputs are not used:
    /// the device nonce always comes first, so both sides compute the same id.
    pub fn derive(
        protocol: Protocol,
        wallet: WalletId,
        epoch: u64,
        device_nonce: &Nonce,
        server_nonce: &Nonce,
    ) -> Self {
        let mut h = Sha256::new();
        h.update(b"tandem/session-id/v1");
        h.update([protocol as u8]);
        h.update((wallet.0.len() as u64).to_be_bytes());
        h.update(wallet.0.as_bytes());
        h.update(epoch.to_be_bytes());
        h.update(device_nonce.0);
        h.update(server_nonce.0);
        let mut id = [0u8; 32];
        id.copy_from_slice(&h.finalize());
        SessionContext {
            protocol,
            wallet,
            epoch,
            session_id: SessionId(id),
        }
    }

    /// Convenience for tests and local runs: both nonces fresh from the OS.
    pub fn fresh(protocol: Protocol, wallet: WalletId, epoch: u64) -> Result<Self> {
        Ok(Self::derive(
            protocol,
            wallet,
            epoch,
            &Nonce::generate()?,
            &Nonce::generate()?,
        ))
    }
}
