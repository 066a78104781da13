//! Every ceremony on a wallet's share runs under its [`WalletGuard`] (DESIGN.md §3 on the
//! device): refused while the share is locked (a complete refresh excepted), stopped at once
//! when another ceremony on the wallet catches the server cheating, and when this one does,
//! the lock is in place before the error returns and before the socket can be dropped.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

use crate::error::ClientError;
use crate::store::ShareStore;
use crate::store::locks::Live;

/// The right to run ceremonies with one wallet's share. Get it from
/// [`Device::guard`](crate::Device::guard) (or [`WalletGuard::new`]); the public ceremony
/// functions take it, so none runs around the lock.
pub struct WalletGuard {
    store: Arc<ShareStore>,
    wallet_id: String,
    live: watch::Receiver<Live>,
}

impl WalletGuard {
    /// Takes the wallet's ceremony right in `store`.
    pub fn new(store: Arc<ShareStore>, wallet_id: &str) -> Result<WalletGuard, ClientError> {
        let live = store.live(wallet_id).subscribe();
        Ok(WalletGuard {
            wallet_id: wallet_id.to_owned(),
            store,
            live,
        })
    }

    /// The guarded wallet.
    pub fn wallet_id(&self) -> &str {
        &self.wallet_id
    }

    /// The store holding the wallet's share.
    pub fn store(&self) -> &ShareStore {
        &self.store
    }

    /// Runs `ceremony`: refused if the share is locked (unless `complete_refresh`), abandoned
    /// (dropped where it stands, with its socket) the moment the wallet is locked by another
    /// ceremony, and on detected cheating the wallet is locked before this returns.
    pub(crate) async fn run<T>(
        &self,
        complete_refresh: bool,
        ceremony: impl Future<Output = Result<T, ClientError>>,
    ) -> Result<T, ClientError> {
        let mut live = self.live.clone();
        let seen = live.borrow_and_update().locks;
        if !complete_refresh && self.store.is_locked(&self.wallet_id)? {
            return Err(ClientError::ShareLocked(self.wallet_id.clone()));
        }
        let locked_meanwhile = async {
            loop {
                if live.borrow_and_update().locks != seen {
                    return;
                }
                if live.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        let r = tokio::select! {
            biased;
            () = locked_meanwhile => Err(ClientError::ShareLocked(self.wallet_id.clone())),
            r = ceremony => r,
        };
        match r {
            Err(ClientError::Cheating(reason)) => match self.store.lock_wallet(&self.wallet_id) {
                Ok(()) => Err(ClientError::Cheating(reason)),
                Err(e) => Err(ClientError::Cheating(format!(
                    "{reason}; locked until this process exits, but the lock could not be saved \
                     ({e}): do not use this wallet until a complete refresh"
                ))),
            },
            other => other,
        }
    }
}
