//! `ShareStore`: the public face of the store. Every operation validates the wallet id,
//! takes the directory lock, checks this handle's key is still the store's key, then acts.

use core::fmt;
use std::fs;
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use zeroize::Zeroizing;

use super::aead::StoreKey;
use super::envelope;
use super::error::StoreError;
use super::fsio;
use super::kdf::KdfParams;
use super::keystore::Keystore;
use super::layout::{Layout, ShareState, WalletFiles};
use super::lock::DirLock;
use super::passphrase::check_new_passphrase;
use super::wallet_id::{WalletName, is_valid_wallet_id};

/// Largest share accepted, far above any real key share; it also caps how much a read of a
/// hostile file can allocate.
pub const MAX_SHARE_LEN: usize = 4 * 1024 * 1024;

/// A share and the epoch it belongs to.
pub type EpochShare = (u64, Zeroizing<Vec<u8>>);

/// An unlocked share store. Debug output never includes the key.
pub struct ShareStore {
    pub(super) layout: Layout,
    pub(super) key: StoreKey,
    /// The keystore `key` was unlocked from, compared with the file on every operation.
    pub(super) keystore: Keystore,
}

impl fmt::Debug for ShareStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareStore")
            .field("dir", &self.layout.root())
            .field("kdf", &self.keystore.params())
            .field("key", &self.key)
            .finish()
    }
}

impl ShareStore {
    /// Opens the store in `dir`, creating it with [`KdfParams::default`] on first use.
    /// A new store's passphrase must pass [`check_new_passphrase`]; an existing store's
    /// `keystore.json` must record parameters at least [`KdfParams::FLOOR`].
    pub fn open(dir: &Path, passphrase: &str) -> Result<ShareStore, StoreError> {
        Self::open_with(dir, passphrase, KdfParams::default())
    }

    /// Opens the store in `dir`. `params` are used when the store is created; an existing
    /// store uses the parameters recorded in its `keystore.json`, which must be at least
    /// `params` or [`KdfParams::FLOOR`], whichever is weaker (so only a caller that asks for
    /// cheaper parameters, such as a test or a load simulation, accepts a cheaper file).
    ///
    /// A store created with the old default ([`KdfParams::OWASP`], below the floor) still
    /// opens, and is re-encrypted under `params` (same passphrase) before this returns.
    pub fn open_with(
        dir: &Path,
        passphrase: &str,
        params: KdfParams,
    ) -> Result<ShareStore, StoreError> {
        let floor = KdfParams::FLOOR.weakest(&params);
        fsio::create_private_dir(dir)?;
        let layout = Layout::new(dir);
        let lock = DirLock::acquire(&layout.lock())?;
        let (keystore, key) = match Keystore::load(&layout.keystore()) {
            Ok(keystore) => {
                if fsio::is_loosely_permitted(dir)? {
                    tracing::warn!(
                        dir = %dir.display(),
                        "share store directory is accessible to other users"
                    );
                }
                let found = keystore.params();
                if !found.at_least(&floor) && found != KdfParams::OWASP {
                    return Err(StoreError::KdfBelowFloor {
                        m_kib: found.m_kib,
                        t: found.t,
                        floor_m_kib: floor.m_kib,
                        floor_t: floor.t,
                    });
                }
                let key = keystore.unlock(passphrase)?;
                (keystore, key)
            }
            Err(StoreError::NotFound) => {
                check_new_passphrase(passphrase)?;
                create(&layout, passphrase, params)?
            }
            Err(e) => return Err(e),
        };
        let store = ShareStore {
            layout,
            key,
            keystore,
        };
        store.recover()?;
        drop(lock);
        if store.kdf_params().at_least(&floor) {
            return Ok(store);
        }
        tracing::info!("re-keying a share store created with the old Argon2 parameters");
        store.rekey(passphrase, params)
    }

    /// Whether `dir` holds a store (its `keystore.json` exists).
    pub fn exists(dir: &Path) -> bool {
        Layout::new(dir).keystore().is_file()
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        self.layout.root()
    }

    /// The Argon2 parameters recorded in `keystore.json`.
    pub fn kdf_params(&self) -> KdfParams {
        self.keystore.params()
    }

    /// Stores `share` as `wallet_id`'s share for `epoch`.
    ///
    /// Never replaces a different share: storing the identical bytes again is a no-op (so a
    /// retry after a crash is safe), anything else at that wallet and epoch, in either state,
    /// is `AlreadyExists`. Staging an epoch older than the current one is `StaleEpoch`.
    pub fn put(
        &self,
        wallet_id: &str,
        epoch: u64,
        state: ShareState,
        share: &[u8],
    ) -> Result<(), StoreError> {
        let wallet = WalletName::parse(wallet_id)?;
        if state == ShareState::Kit {
            return Err(StoreError::Corrupt(
                "a kit share is only ever a copy (ShareStore::keep_for_kit)".into(),
            ));
        }
        if share.len() > MAX_SHARE_LEN {
            return Err(StoreError::ShareTooLarge {
                len: share.len(),
                max: MAX_SHARE_LEN,
            });
        }
        let _lock = self.guard()?;
        let files = WalletFiles::list(&self.layout.wallet(wallet))?;
        if files.contains(epoch, state.other()) {
            return Err(StoreError::AlreadyExists);
        }
        if files.contains(epoch, state) {
            let existing = self.read_share(wallet, epoch, state)?;
            return if ct_eq(&existing, share) {
                Ok(())
            } else {
                Err(StoreError::AlreadyExists)
            };
        }
        if state == ShareState::Staged
            && let Some(&current) = files.current.last()
            && current > epoch
        {
            return Err(StoreError::StaleEpoch { epoch, current });
        }
        self.ensure_wallet_dir(wallet)?;
        let sealed = envelope::seal(&self.key, wallet, epoch, share)?;
        fsio::write_atomic(&self.layout.share(wallet, epoch, state), &sealed)?;
        tracing::debug!(wallet = wallet_id, epoch, ?state, "share stored");
        Ok(())
    }

    /// The share at `epoch`, current if there is one, else staged.
    pub fn get(&self, wallet_id: &str, epoch: u64) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let wallet = WalletName::parse(wallet_id)?;
        let _lock = self.guard()?;
        match self.read_share(wallet, epoch, ShareState::Current) {
            Err(StoreError::NotFound) => match self.read_share(wallet, epoch, ShareState::Staged) {
                Err(StoreError::NotFound) => self.read_share(wallet, epoch, ShareState::Kit),
                other => other,
            },
            other => other,
        }
    }

    /// The highest-epoch current share.
    pub fn current(&self, wallet_id: &str) -> Result<Option<EpochShare>, StoreError> {
        self.latest(wallet_id, ShareState::Current)
    }

    /// The highest-epoch staged share.
    pub fn staged(&self, wallet_id: &str) -> Result<Option<EpochShare>, StoreError> {
        self.latest(wallet_id, ShareState::Staged)
    }

    /// Makes the staged share at `epoch` current. The current share it supersedes is kept as
    /// the wallet's previous share until a ceremony at `epoch` succeeds
    /// ([`ShareStore::confirm`]): a server that said it committed but did not still pairs with
    /// it. Any share older than that one goes. `current()` returns the new one from here on.
    pub fn promote(&self, wallet_id: &str, epoch: u64) -> Result<(), StoreError> {
        let wallet = WalletName::parse(wallet_id)?;
        let _lock = self.guard()?;
        let dir = self.layout.wallet(wallet);
        let files = WalletFiles::list(&dir)?;
        if !files.contains(epoch, ShareState::Staged) {
            return Err(StoreError::NotFound);
        }
        if let Some(&current) = files.current.last() {
            if current == epoch {
                return Err(StoreError::AlreadyExists);
            }
            if current > epoch {
                return Err(StoreError::StaleEpoch { epoch, current });
            }
        }
        // Never promote a file that does not open: the shares it replaces are about to go.
        drop(self.read_share(wallet, epoch, ShareState::Staged)?);
        fs::rename(
            self.layout.share(wallet, epoch, ShareState::Staged),
            self.layout.share(wallet, epoch, ShareState::Current),
        )?;
        fsio::sync_dir(&dir)?;
        // Only now that the new share is durably current may the older ones go.
        let older: Vec<u64> = files.current.iter().rev().skip(1).copied().collect();
        for &old in &older {
            fsio::remove_if_exists(&self.layout.share(wallet, old, ShareState::Current))?;
        }
        if !older.is_empty() {
            fsio::sync_dir(&dir)?;
        }
        tracing::debug!(wallet = wallet_id, epoch, "share promoted");
        Ok(())
    }

    /// How long ago the staged share at `epoch` was written, by the file's modification time
    /// (zero if the clock has gone backwards since, which errs on the side of keeping it).
    pub fn staged_age(&self, wallet_id: &str, epoch: u64) -> Result<Duration, StoreError> {
        let wallet = WalletName::parse(wallet_id)?;
        let _lock = self.guard()?;
        let path = self.layout.share(wallet, epoch, ShareState::Staged);
        let modified = match fs::metadata(&path) {
            Ok(meta) => meta.modified()?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound),
            Err(e) => return Err(e.into()),
        };
        Ok(SystemTime::now()
            .duration_since(modified)
            .unwrap_or(Duration::ZERO))
    }

    /// Deletes the staged share at `epoch` (a refresh the server did not commit).
    pub fn discard_staged(&self, wallet_id: &str, epoch: u64) -> Result<(), StoreError> {
        let wallet = WalletName::parse(wallet_id)?;
        let _lock = self.guard()?;
        let path = self.layout.share(wallet, epoch, ShareState::Staged);
        if !fsio::remove_if_exists(&path)? {
            return Err(StoreError::NotFound);
        }
        fsio::sync_dir(&self.layout.wallet(wallet))?;
        tracing::debug!(wallet = wallet_id, epoch, "staged share discarded");
        Ok(())
    }

    /// Deletes every share of the wallet. `NotFound` if the store has nothing for it.
    pub fn remove_wallet(&self, wallet_id: &str) -> Result<(), StoreError> {
        let wallet = WalletName::parse(wallet_id)?;
        let _lock = self.guard()?;
        let dir = self.layout.wallet(wallet);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound),
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            fs::remove_file(entry?.path())?;
        }
        fs::remove_dir(&dir)?;
        fsio::sync_dir(&self.layout.shares())?;
        tracing::debug!(wallet = wallet_id, "wallet removed");
        Ok(())
    }

    /// Ids of the wallets with at least one share, sorted.
    pub fn wallets(&self) -> Result<Vec<String>, StoreError> {
        let _lock = self.guard()?;
        let mut wallets = Vec::new();
        for id in self.wallet_dirs()? {
            let wallet = WalletName::parse(&id)?;
            if !WalletFiles::list(&self.layout.wallet(wallet))?.is_empty() {
                wallets.push(id);
            }
        }
        Ok(wallets)
    }

    fn latest(&self, wallet_id: &str, state: ShareState) -> Result<Option<EpochShare>, StoreError> {
        let wallet = WalletName::parse(wallet_id)?;
        let _lock = self.guard()?;
        let files = WalletFiles::list(&self.layout.wallet(wallet))?;
        match files.get(state).last() {
            Some(&epoch) => Ok(Some((epoch, self.read_share(wallet, epoch, state)?))),
            None => Ok(None),
        }
    }

    /// Takes the directory lock and checks the keystore on disk is still the one this
    /// handle's key came from.
    pub(super) fn guard(&self) -> Result<DirLock, StoreError> {
        let lock = DirLock::acquire(&self.layout.lock())?;
        match Keystore::load(&self.layout.keystore()) {
            Ok(on_disk) if on_disk == self.keystore => Ok(lock),
            Ok(_) => Err(StoreError::KeyChanged),
            Err(StoreError::NotFound) => {
                Err(StoreError::Corrupt("keystore.json has disappeared".into()))
            }
            Err(e) => Err(e),
        }
    }

    pub(super) fn read_share(
        &self,
        wallet: WalletName<'_>,
        epoch: u64,
        state: ShareState,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let file = read_share_file(&self.layout.share(wallet, epoch, state), wallet, epoch)?;
        envelope::open(&self.key, wallet, epoch, &file)
    }

    /// Names of the directories under `shares/` that are valid wallet ids, sorted.
    pub(super) fn wallet_dirs(&self) -> Result<Vec<String>, StoreError> {
        let entries = match fs::read_dir(self.layout.shares()) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut ids = Vec::new();
        for entry in entries {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            if let Some(id) = entry
                .file_name()
                .to_str()
                .filter(|id| is_valid_wallet_id(id))
            {
                ids.push(id.to_owned());
            }
        }
        ids.sort();
        Ok(ids)
    }

    pub(super) fn ensure_wallet_dir(&self, wallet: WalletName<'_>) -> Result<(), StoreError> {
        let dir = self.layout.wallet(wallet);
        if !dir.is_dir() {
            fsio::create_private_dir(&dir)?;
            fsio::sync_dir(&self.layout.shares())?;
        }
        Ok(())
    }
}

/// Reads a share file, bounded by the largest file a valid share could produce.
pub(super) fn read_share_file(
    path: &Path,
    wallet: WalletName<'_>,
    epoch: u64,
) -> Result<Vec<u8>, StoreError> {
    const MAX_FILE_LEN: u64 = (MAX_SHARE_LEN + envelope::OVERHEAD) as u64;
    fsio::read_capped(path, MAX_FILE_LEN).map_err(|e| match e {
        StoreError::Corrupt(_) => StoreError::Corrupt(format!(
            "share file of wallet {} epoch {epoch}: too large",
            wallet.as_str()
        )),
        other => other,
    })
}

/// Creates a store in an empty (or new) directory.
fn create(
    layout: &Layout,
    passphrase: &str,
    params: KdfParams,
) -> Result<(Keystore, StoreKey), StoreError> {
    // Shares without their keystore were sealed under a salt nobody has any more; minting a
    // fresh keystore would bury them, so refuse loudly instead.
    let has_shares = match fs::read_dir(layout.shares()) {
        Ok(mut entries) => entries.next().is_some(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(e.into()),
    };
    if has_shares {
        return Err(StoreError::Corrupt(
            "keystore.json is missing but shares exist".into(),
        ));
    }
    let (keystore, key) = Keystore::create(passphrase, params)?;
    // The directory may have existed before (created by the caller); it is ours now.
    fsio::restrict_dir(layout.root())?;
    if let Some(parent) = layout.root().parent()
        && !parent.as_os_str().is_empty()
    {
        fsio::sync_dir(parent)?;
    }
    fsio::create_private_dir(&layout.shares())?;
    // Written last: until keystore.json exists the directory is not a store.
    fsio::write_atomic(&layout.keystore(), &keystore.to_json()?)?;
    tracing::info!(dir = %layout.root().display(), "share store created");
    Ok((keystore, key))
}

/// Equality that does not stop at the first differing byte.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
