//! The two moves reconcile makes besides promoting (docs/crash-safety.md): dropping a
//! previous share once a ceremony at the newer epoch has proven the pair, and rolling back to
//! the previous share when the server, inside the channel, is still at its epoch.

use super::error::StoreError;
use super::fsio;
use super::layout::{ShareState, WalletFiles};
use super::share_store::ShareStore;
use super::wallet_id::WalletName;

impl ShareStore {
    /// The epochs of the wallet's current shares, oldest first: the one in use is the last;
    /// an earlier one is a previous share kept until the last is confirmed.
    pub fn current_epochs(&self, wallet_id: &str) -> Result<Vec<u64>, StoreError> {
        let wallet = WalletName::parse(wallet_id)?;
        let _lock = self.guard()?;
        let files = WalletFiles::list(&self.layout.wallet(wallet))?;
        Ok(files.current.iter().copied().collect())
    }

    /// A ceremony with the share at `epoch` has succeeded, so the server holds its pair: every
    /// older current share is dead and goes. Returns how many went.
    pub fn confirm(&self, wallet_id: &str, epoch: u64) -> Result<usize, StoreError> {
        let wallet = WalletName::parse(wallet_id)?;
        let _lock = self.guard()?;
        let dir = self.layout.wallet(wallet);
        let files = WalletFiles::list(&dir)?;
        if !files.contains(epoch, ShareState::Current) {
            return Err(StoreError::NotFound);
        }
        let older: Vec<u64> = files.current.range(..epoch).copied().collect();
        for &old in &older {
            fsio::remove_if_exists(&self.layout.share(wallet, old, ShareState::Current))?;
        }
        if !older.is_empty() {
            fsio::sync_dir(&dir)?;
            tracing::debug!(wallet = wallet_id, epoch, "previous share dropped");
        }
        Ok(older.len())
    }

    /// Turns the current share at `epoch` back into a staged one, so that the previous share
    /// is in use again. Nothing is deleted. Refused unless an older current share exists.
    pub fn demote(&self, wallet_id: &str, epoch: u64) -> Result<(), StoreError> {
        let wallet = WalletName::parse(wallet_id)?;
        let _lock = self.guard()?;
        let dir = self.layout.wallet(wallet);
        let files = WalletFiles::list(&dir)?;
        if files.current.last() != Some(&epoch) {
            return Err(StoreError::NotFound);
        }
        if files.current.range(..epoch).next().is_none() {
            return Err(StoreError::StaleEpoch {
                epoch,
                current: epoch,
            });
        }
        if files.contains(epoch, ShareState::Staged) {
            return Err(StoreError::AlreadyExists);
        }
        std::fs::rename(
            self.layout.share(wallet, epoch, ShareState::Current),
            self.layout.share(wallet, epoch, ShareState::Staged),
        )?;
        fsio::sync_dir(&dir)?;
        tracing::info!(
            wallet = wallet_id,
            epoch,
            "share demoted: the server is still at the previous epoch"
        );
        Ok(())
    }

    /// Every staged epoch of the wallet, oldest first.
    pub fn staged_epochs(&self, wallet_id: &str) -> Result<Vec<u64>, StoreError> {
        let wallet = WalletName::parse(wallet_id)?;
        let _lock = self.guard()?;
        let files = WalletFiles::list(&self.layout.wallet(wallet))?;
        Ok(files.staged.iter().copied().collect())
    }
}
