//! The share a saved Backup Kit pairs with.
//!
//! A kit holds the server's share of one epoch; refreshes move both sides on, and the kit in
//! the user's drawer must keep working (it pairs only with the device share of its own epoch).
//! So when the user saves a kit, the device keeps a copy of its share of that epoch as
//! `<epoch>.kit`, whatever refreshes come after, until the user saves a newer kit of the
//! wallet. The copy is sealed like every share (same key, same binding to wallet and epoch)
//! and re-encrypted by a passphrase change like the others.

use super::error::StoreError;
use super::fsio;
use super::layout::{ShareState, WalletFiles};
use super::share_store::{EpochShare, ShareStore, read_share_file};
use super::wallet_id::WalletName;

impl ShareStore {
    /// Remembers the recovery public key this device set up (or recovered with): escrows are
    /// sealed to it and to nothing an HTTP answer names, since whoever can rewrite answers (a
    /// TLS-terminating proxy) would otherwise receive this device's share sealed to their key.
    pub fn set_recovery_key(&self, key: &[u8; 32]) -> Result<(), StoreError> {
        let _lock = self.guard()?;
        fsio::write_atomic(&self.layout.recovery_key(), hex::encode(key).as_bytes())?;
        Ok(())
    }

    /// The recovery public key set up on this device, if any.
    pub fn recovery_key(&self) -> Result<Option<[u8; 32]>, StoreError> {
        let _lock = self.guard()?;
        let text = match fsio::read_capped(&self.layout.recovery_key(), 128) {
            Ok(bytes) => bytes,
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut key = [0u8; 32];
        hex::decode_to_slice(text.trim_ascii(), &mut key)
            .map_err(|_| StoreError::Corrupt("recovery-key is not 32 bytes of hex".into()))?;
        Ok(Some(key))
    }

    /// Keeps the share of `epoch` (current or staged) as the one the newest saved kit pairs
    /// with, and drops the copy an older kit paired with. Idempotent.
    pub fn keep_for_kit(&self, wallet_id: &str, epoch: u64) -> Result<(), StoreError> {
        let wallet = WalletName::parse(wallet_id)?;
        let _lock = self.guard()?;
        let dir = self.layout.wallet(wallet);
        let files = WalletFiles::list(&dir)?;
        if !files.contains(epoch, ShareState::Kit) {
            let source = if files.contains(epoch, ShareState::Current) {
                ShareState::Current
            } else if files.contains(epoch, ShareState::Staged) {
                ShareState::Staged
            } else {
                return Err(StoreError::NotFound);
            };
            // Opening it first proves the copy is a share, not just bytes that are there.
            drop(self.read_share(wallet, epoch, source)?);
            let sealed = read_share_file(&self.layout.share(wallet, epoch, source), wallet, epoch)?;
            fsio::write_atomic(&self.layout.share(wallet, epoch, ShareState::Kit), &sealed)?;
            fsio::sync_dir(&dir)?;
        }
        let older: Vec<u64> = files.kit.iter().copied().filter(|&e| e != epoch).collect();
        for old in &older {
            fsio::remove_if_exists(&self.layout.share(wallet, *old, ShareState::Kit))?;
        }
        if !older.is_empty() {
            fsio::sync_dir(&dir)?;
        }
        tracing::debug!(
            wallet = wallet_id,
            epoch,
            "share kept for the saved Backup Kit"
        );
        Ok(())
    }

    /// The share the newest saved kit pairs with, if a kit was saved on this device.
    pub fn kit_share(&self, wallet_id: &str) -> Result<Option<EpochShare>, StoreError> {
        let wallet = WalletName::parse(wallet_id)?;
        let _lock = self.guard()?;
        let files = WalletFiles::list(&self.layout.wallet(wallet))?;
        match files.kit.last() {
            Some(&epoch) => Ok(Some((
                epoch,
                self.read_share(wallet, epoch, ShareState::Kit)?,
            ))),
            None => Ok(None),
        }
    }
}
