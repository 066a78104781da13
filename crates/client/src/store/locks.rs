//! The device's half of the freeze (DESIGN.md §3): when the device catches the server
//! cheating, it locks the wallet's share and runs no ceremony with it but the complete
//! refresh that renews the OT state.
//!
//! The lock has two halves. The durable one is the marker `shares/<wallet_id>/locked`,
//! written like a share, so it survives a restart. The live one is a per-process entry keyed
//! by store directory and wallet: it is set first (it cannot fail), every handle on the store
//! in this process sees it, and it wakes every ceremony running on the wallet, which then
//! stops at once ([`crate::ceremony::WalletGuard`]). If the marker cannot be written the live
//! lock still holds for as long as the process runs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use tokio::sync::watch;

use super::error::StoreError;
use super::fsio;
use super::share_store::ShareStore;
use super::wallet_id::WalletName;

const MARKER: &str = "locked";
const CONTENT: &[u8] = b"the server cheated in a ceremony: only a complete refresh unlocks\n";

/// A wallet's live lock state in this process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Live {
    /// How many times the wallet was locked; a ceremony stops when this moves.
    pub(crate) locks: u64,
    pub(crate) locked: bool,
}

type Registry = Mutex<HashMap<(PathBuf, String), Arc<watch::Sender<Live>>>>;

static LIVE: LazyLock<Registry> = LazyLock::new(Registry::default);

impl ShareStore {
    /// Locks the wallet's share: live first, then the durable marker. An error means only the
    /// live lock holds (until this process exits).
    pub fn lock_wallet(&self, wallet_id: &str) -> Result<(), StoreError> {
        let wallet = WalletName::parse(wallet_id)?;
        self.live(wallet_id).send_modify(|l| {
            l.locks += 1;
            l.locked = true;
        });
        let durable = (|| {
            let _lock = self.guard()?;
            self.ensure_wallet_dir(wallet)?;
            fsio::write_atomic(&self.layout.wallet(wallet).join(MARKER), CONTENT)
        })();
        match &durable {
            Ok(()) => tracing::warn!(wallet = wallet_id, "share locked after detected cheating"),
            Err(e) => tracing::error!(
                wallet = wallet_id,
                error = %e,
                "share locked in this process only: the lock marker could not be written"
            ),
        }
        durable
    }

    /// Whether the wallet's share is locked (by the marker, or live in this process).
    pub fn is_locked(&self, wallet_id: &str) -> Result<bool, StoreError> {
        let wallet = WalletName::parse(wallet_id)?;
        if self.live(wallet_id).borrow().locked {
            return Ok(true);
        }
        Ok(self.layout.wallet(wallet).join(MARKER).exists())
    }

    /// Lifts the lock (after a complete refresh has been committed and promoted).
    pub fn unlock_wallet(&self, wallet_id: &str) -> Result<(), StoreError> {
        let wallet = WalletName::parse(wallet_id)?;
        {
            let _lock = self.guard()?;
            let dir = self.layout.wallet(wallet);
            if fsio::remove_if_exists(&dir.join(MARKER))? {
                fsio::sync_dir(&dir)?;
            }
        }
        self.live(wallet_id).send_modify(|l| l.locked = false);
        Ok(())
    }

    /// The wallet's live lock, shared by every handle on this store directory in the process.
    pub(crate) fn live(&self, wallet_id: &str) -> Arc<watch::Sender<Live>> {
        let dir = std::fs::canonicalize(self.dir()).unwrap_or_else(|_| self.dir().to_path_buf());
        let mut registry = LIVE.lock().unwrap_or_else(|p| p.into_inner());
        registry
            .entry((dir, wallet_id.to_owned()))
            .or_insert_with(|| Arc::new(watch::Sender::new(Live::default())))
            .clone()
    }
}
