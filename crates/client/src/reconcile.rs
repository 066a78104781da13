//! Settling a wallet's shares against the server after an interrupted keygen or refresh, or
//! after a server that said it committed a refresh it did not (DESIGN.md §5,
//! docs/crash-safety.md).
//!
//! Only the server's answer to `status`, inside the encrypted channel to the pinned key, is
//! acted on: the HTTP wallet endpoints pass through any TLS-terminating proxy and are only
//! hints. And even on that answer the device never deletes a share here; it only promotes a
//! staged share, or demotes an unconfirmed current one back to staged. Shares are deleted
//! only where a ceremony proved they are dead (the previous share once a ceremony at the newer
//! epoch succeeded; staged shares once a refresh was accepted, which fences them off on the
//! server), plus the opt-in keygen grace below.
//!
//! | device holds, server (in channel) at `e` | action |
//! |---|---|
//! | staged `s == e`, same public key | promote; the current share it supersedes stays as the previous share |
//! | staged `s != e` | keep (unused); the next accepted refresh drops it |
//! | current `c > e` and a previous share at `e` of the wallet's key | demote `c` to staged: `e` is in use again |
//! | server has no such wallet (in channel), staged `0`, no current share | unconfirmed keygen: keep, or discard once older than the configured grace |
//!
//! A kept staged share is never used: signing and refresh use the newest current share.

use std::time::Duration;

use tandem_mpc::KeyShare;
use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::ed25519::Ed25519;
use tandem_proto::wallet::WalletInfo;

use crate::ceremony::{self, Socket};
use crate::error::ClientError;
use crate::store::ShareStore;

/// What reconciling one wallet did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reconciled {
    /// Nothing to settle.
    Nothing,
    /// The server had committed the staged share: now current.
    Promoted {
        /// The share's epoch.
        epoch: u64,
    },
    /// An unconfirmed keygen share past its grace: deleted.
    Discarded {
        /// The share's epoch.
        epoch: u64,
    },
    /// Still undecided: kept staged and unused.
    Kept {
        /// The share's epoch.
        epoch: u64,
    },
    /// The server is still at the previous share's epoch: the newer current share went back to
    /// staged and the previous one is in use again.
    RolledBack {
        /// The epoch put back to staged.
        from: u64,
        /// The epoch in use again.
        to: u64,
    },
}

/// Whether the wallet has anything for [`reconcile`] to settle: a staged share, or a current
/// share no ceremony has confirmed yet (a previous one is still kept).
pub(crate) fn unsettled(store: &ShareStore, wallet_id: &str) -> Result<bool, ClientError> {
    Ok(store.staged(wallet_id)?.is_some() || store.current_epochs(wallet_id)?.len() > 1)
}

/// Settles `wallet_id`'s shares on the server's in-channel status, asked on `socket`.
/// `keygen_grace` is how old an unconfirmed keygen share must be before it is dropped
/// (`None`: never).
pub(crate) async fn reconcile(
    socket: &mut Socket,
    store: &ShareStore,
    wallet_id: &str,
    keygen_grace: Option<Duration>,
) -> Result<Reconciled, ClientError> {
    match ceremony::status(socket, wallet_id).await? {
        Some(wallet) => settle(store, &wallet),
        None => unconfirmed(store, wallet_id, keygen_grace),
    }
}

/// Settles the shares of `wallet` against the server's in-channel view of it.
fn settle(store: &ShareStore, wallet: &WalletInfo) -> Result<Reconciled, ClientError> {
    let currents = store.current_epochs(&wallet.id)?;
    if let Some(&newest) = currents.last()
        && newest > wallet.epoch
        && currents.contains(&wallet.epoch)
        && of_wallet(&store.get(&wallet.id, wallet.epoch)?, wallet)
    {
        store.demote(&wallet.id, newest)?;
        return Ok(Reconciled::RolledBack {
            from: newest,
            to: wallet.epoch,
        });
    }
    let Some((staged, bytes)) = store.staged(&wallet.id)? else {
        return Ok(Reconciled::Nothing);
    };
    // Never promote on the server's word a share that is not of this wallet's key.
    if staged != wallet.epoch || !of_wallet(&bytes, wallet) {
        return Ok(Reconciled::Kept { epoch: staged });
    }
    store.promote(&wallet.id, staged)?;
    tracing::info!(wallet = %wallet.id, epoch = staged, "staged share promoted on reconcile");
    Ok(Reconciled::Promoted { epoch: staged })
}

/// The server says, in the channel, that this user has no such wallet.
fn unconfirmed(
    store: &ShareStore,
    wallet_id: &str,
    keygen_grace: Option<Duration>,
) -> Result<Reconciled, ClientError> {
    let Some((staged, _)) = store.staged(wallet_id)? else {
        return Ok(Reconciled::Nothing);
    };
    // Only a keygen that never completed here qualifies; a wallet with a current share is one
    // this device did have, and whatever the server says now is no reason to delete it.
    let keygen = staged == 0 && store.current(wallet_id)?.is_none();
    let expired = match keygen_grace {
        Some(grace) if keygen => store.staged_age(wallet_id, staged)? >= grace,
        _ => false,
    };
    if !expired {
        return Ok(Reconciled::Kept { epoch: staged });
    }
    store.discard_staged(wallet_id, staged)?;
    tracing::info!(wallet = %wallet_id, "unconfirmed keygen share discarded");
    Ok(Reconciled::Discarded { epoch: staged })
}

fn of_wallet(share: &[u8], wallet: &WalletInfo) -> bool {
    public_key_hex(share).as_deref() == Some(wallet.public_key.as_str())
}

fn public_key_hex(share: &[u8]) -> Option<String> {
    if let Ok(s) = KeyShare::<Secp256k1>::from_bytes(share) {
        return Some(hex::encode(s.public_key()));
    }
    KeyShare::<Ed25519>::from_bytes(share)
        .ok()
        .map(|s| hex::encode(s.public_key()))
}
