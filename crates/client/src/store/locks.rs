//! The device's half of the freeze (DESIGN.md §3): when the device catches the server
//! cheating, it locks the wallet's share and runs no ceremony with it but the complete
//! refresh that renews the OT state. The marker is `shares/<wallet_id>/locked`, written
//! durably like a share, so the lock survives a restart.

use super::error::StoreError;
use super::fsio;
use super::share_store::ShareStore;
use super::wallet_id::WalletName;

const MARKER: &str = "locked";
const CONTENT: &[u8] = b"the server cheated in a ceremony: only a complete refresh unlocks\n";

impl ShareStore {
    /// Locks the wallet's share.
    pub fn lock_wallet(&self, wallet_id: &str) -> Result<(), StoreError> {
        let wallet = WalletName::parse(wallet_id)?;
        let _lock = self.guard()?;
        self.ensure_wallet_dir(wallet)?;
        fsio::write_atomic(&self.layout.wallet(wallet).join(MARKER), CONTENT)?;
        tracing::warn!(wallet = wallet_id, "share locked after detected cheating");
        Ok(())
    }

    /// Whether the wallet's share is locked.
    pub fn is_locked(&self, wallet_id: &str) -> Result<bool, StoreError> {
        let wallet = WalletName::parse(wallet_id)?;
        Ok(self.layout.wallet(wallet).join(MARKER).exists())
    }

    /// Lifts the lock (after a complete refresh has been committed and promoted).
    pub fn unlock_wallet(&self, wallet_id: &str) -> Result<(), StoreError> {
        let wallet = WalletName::parse(wallet_id)?;
        let _lock = self.guard()?;
        let dir = self.layout.wallet(wallet);
        if fsio::remove_if_exists(&dir.join(MARKER))? {
            fsio::sync_dir(&dir)?;
        }
        Ok(())
    }
}
