//! Passphrase change, and the recovery that makes it crash-safe.
//!
//! 1. Every share is re-encrypted under the new key into `<epoch>.<state>.rekey` beside it.
//! 2. The new `keystore.json` replaces the old one: the commit point.
//! 3. Each `.rekey` file is renamed over its original.
//!
//! A crash before 2 leaves `.rekey` files the (old) store key cannot open; a crash after 2
//! leaves `.rekey` files the (new) store key can open. So on open, recovery keeps exactly
//! the `.rekey` files that authenticate under the key that just unlocked the store, and
//! deletes the rest, along with any temp file an interrupted write left behind.

use std::fs;

use super::aead::StoreKey;
use super::envelope;
use super::error::StoreError;
use super::fsio::{self, TEMP_PREFIX};
use super::kdf::KdfParams;
use super::keystore::Keystore;
use super::layout::{REKEY_SUFFIX, ShareState, WalletFiles, parse_share_file_name};
use super::passphrase::check_new_passphrase;
use super::share_store::{ShareStore, read_share_file};
use super::wallet_id::WalletName;

/// One share rewritten under the new key, waiting to be renamed into place.
struct Rekeyed {
    wallet: String,
    epoch: u64,
    state: ShareState,
}

impl ShareStore {
    /// Re-encrypts every share under `new` and returns a store unlocked with it. This handle
    /// (and any other opened with the old passphrase) then fails with `KeyChanged`.
    pub fn change_passphrase(&self, new: &str) -> Result<ShareStore, StoreError> {
        self.change_passphrase_with(new, self.keystore.params())
    }

    /// Like [`change_passphrase`](Self::change_passphrase), also switching to new KDF
    /// parameters (e.g. to raise the cost as devices get faster).
    ///
    /// If this fails after the commit point, the new passphrase already applies; reopening
    /// with it completes the change.
    ///
    /// `new` must pass [`check_new_passphrase`]; `params` may not be weaker than both
    /// [`KdfParams::FLOOR`] and the store's current parameters.
    pub fn change_passphrase_with(
        &self,
        new: &str,
        params: KdfParams,
    ) -> Result<ShareStore, StoreError> {
        check_new_passphrase(new)?;
        let floor = KdfParams::FLOOR.weakest(&self.keystore.params());
        if !params.at_least(&floor) {
            return Err(StoreError::InvalidKdfParams(format!(
                "at least m_kib={}, t={}",
                floor.m_kib, floor.t
            )));
        }
        self.rekey(new, params)
    }

    /// Re-encrypts every share under a key derived from `new` with `params` (no rule
    /// checks: also used to carry a legacy store over to new parameters with its own
    /// passphrase).
    pub(super) fn rekey(&self, new: &str, params: KdfParams) -> Result<ShareStore, StoreError> {
        // Argon2 is the slow part, and needs nothing from disk: run it before locking.
        let (keystore, key) = Keystore::create(new, params)?;
        let _lock = self.guard()?;
        let rekeyed = self.write_rekeyed(&key)?;
        fsio::write_atomic(&self.layout.keystore(), &keystore.to_json()?)?;
        let next = ShareStore {
            layout: self.layout.clone(),
            key,
            keystore,
        };
        next.install_rekeyed(&rekeyed)?;
        tracing::info!(shares = rekeyed.len(), "share store passphrase changed");
        Ok(next)
    }

    /// Step 1. On failure removes what it wrote, leaving the store as it was.
    fn write_rekeyed(&self, new_key: &StoreKey) -> Result<Vec<Rekeyed>, StoreError> {
        let mut done = Vec::new();
        let result = self.write_rekeyed_into(new_key, &mut done);
        if result.is_err() {
            for r in &done {
                if let Ok(wallet) = WalletName::parse(&r.wallet) {
                    let _ = fsio::remove_if_exists(&self.layout.rekey(wallet, r.epoch, r.state));
                }
            }
        }
        result.map(|()| done)
    }

    fn write_rekeyed_into(
        &self,
        new_key: &StoreKey,
        done: &mut Vec<Rekeyed>,
    ) -> Result<(), StoreError> {
        for id in self.wallet_dirs()? {
            let wallet = WalletName::parse(&id)?;
            for (epoch, state) in WalletFiles::list(&self.layout.wallet(wallet))?.all() {
                let share = self.read_share(wallet, epoch, state)?;
                let sealed = envelope::seal(new_key, wallet, epoch, &share)?;
                fsio::write_atomic(&self.layout.rekey(wallet, epoch, state), &sealed)?;
                done.push(Rekeyed {
                    wallet: id.clone(),
                    epoch,
                    state,
                });
            }
        }
        Ok(())
    }

    /// Step 3.
    fn install_rekeyed(&self, rekeyed: &[Rekeyed]) -> Result<(), StoreError> {
        for r in rekeyed {
            let wallet = WalletName::parse(&r.wallet)?;
            fs::rename(
                self.layout.rekey(wallet, r.epoch, r.state),
                self.layout.share(wallet, r.epoch, r.state),
            )?;
        }
        for id in self.wallet_dirs()? {
            fsio::sync_dir(&self.layout.wallet(WalletName::parse(&id)?))?;
        }
        Ok(())
    }

    /// Runs at open, under the lock, once the key is verified: finishes or rolls back an
    /// interrupted passphrase change and deletes leftover temp files.
    pub(super) fn recover(&self) -> Result<(), StoreError> {
        remove_temp_files(self.layout.root())?;
        for id in self.wallet_dirs()? {
            let wallet = WalletName::parse(&id)?;
            let dir = self.layout.wallet(wallet);
            let mut changed = remove_temp_files(&dir)?;
            for entry in fs::read_dir(&dir)? {
                let entry = entry?;
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                let Some((epoch, state)) = name
                    .strip_suffix(REKEY_SUFFIX)
                    .and_then(parse_share_file_name)
                else {
                    continue;
                };
                let path = entry.path();
                let committed = match read_share_file(&path, wallet, epoch) {
                    Ok(file) => envelope::open(&self.key, wallet, epoch, &file).is_ok(),
                    Err(StoreError::Corrupt(_)) => false,
                    // An I/O error proves nothing either way: keep the file for next time.
                    Err(e) => return Err(e),
                };
                if committed {
                    fs::rename(&path, self.layout.share(wallet, epoch, state))?;
                    tracing::info!(wallet = %id, epoch, "finished an interrupted passphrase change");
                } else {
                    fs::remove_file(&path)?;
                    tracing::info!(wallet = %id, epoch, "rolled back an interrupted passphrase change");
                }
                changed = true;
            }
            if changed {
                fsio::sync_dir(&dir)?;
            }
        }
        Ok(())
    }
}

/// Deletes `.tmp-*` files in `dir`; reports whether there were any.
fn remove_temp_files(dir: &std::path::Path) -> Result<bool, StoreError> {
    let mut removed = false;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let is_temp = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(TEMP_PREFIX));
        if is_temp && entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
            removed = true;
        }
    }
    if removed {
        fsio::sync_dir(dir)?;
    }
    Ok(removed)
}
