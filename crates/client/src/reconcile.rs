//! Settling a staged share against the server after an interrupted keygen or refresh
//! (DESIGN.md §5, docs/crash-safety.md).
//!
//! The server commits only after the device has durably staged its share, so the device's
//! one dangerous move is dropping a staged share the server has committed or may still
//! commit. The rules therefore only ever drop a share the server has provably moved past:
//!
//! | staged epoch `s`, server epoch `e` | action |
//! |---|---|
//! | `s == e` (same public key) | promote: the server committed it |
//! | `s < e` | discard: the server is past it and epochs only grow |
//! | `s > e` | keep: the ceremony that staged it might still commit; the next refresh fences it off on the server and then drops it |
//! | server does not know the wallet, `s == 0`, no current share | an unconfirmed keygen: keep, or discard once older than the configured grace |
//!
//! A kept staged share is never used: signing and refresh use the current share.

use std::time::Duration;

use tandem_mpc::KeyShare;
use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::ed25519::Ed25519;
use tandem_proto::ErrorCode;
use tandem_proto::wallet::WalletInfo;

use crate::api::ApiClient;
use crate::error::ClientError;
use crate::store::ShareStore;

/// What reconciling one wallet did with its staged share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reconciled {
    /// No staged share.
    Nothing,
    /// The server had committed it: now current.
    Promoted { epoch: u64 },
    /// The server can never commit it: deleted.
    Discarded { epoch: u64 },
    /// Still undecided (a refresh the server may commit, or a keygen the server has not
    /// confirmed, within its grace): kept staged and unused.
    Kept { epoch: u64 },
}

/// Settles `wallet_id`'s staged share, asking the server for its epoch. `keygen_grace` is how
/// old an unconfirmed keygen share must be before it is dropped (`None`: never).
pub(crate) async fn reconcile(
    api: &ApiClient,
    store: &ShareStore,
    wallet_id: &str,
    keygen_grace: Option<Duration>,
) -> Result<Reconciled, ClientError> {
    let Some((staged, _)) = store.staged(wallet_id)? else {
        return Ok(Reconciled::Nothing);
    };
    match api.wallet(wallet_id).await {
        Ok(wallet) => settle(store, &wallet),
        Err(e) if e.code() == Some(ErrorCode::WalletNotFound) => {
            unconfirmed(store, wallet_id, staged, keygen_grace)
        }
        Err(e) => Err(e),
    }
}

/// Settles the staged share of `wallet` against the server's view of it.
pub(crate) fn settle(store: &ShareStore, wallet: &WalletInfo) -> Result<Reconciled, ClientError> {
    let Some((staged, bytes)) = store.staged(&wallet.id)? else {
        return Ok(Reconciled::Nothing);
    };
    if staged < wallet.epoch {
        store.discard_staged(&wallet.id, staged)?;
        return Ok(Reconciled::Discarded { epoch: staged });
    }
    if staged > wallet.epoch {
        return Ok(Reconciled::Kept { epoch: staged });
    }
    // Never promote on the server's word alone a share that is not of this wallet's key; nor
    // delete it (the server's report is what is wrong). Signing will surface the mismatch.
    if public_key_hex(&bytes).as_deref() != Some(wallet.public_key.as_str()) {
        tracing::warn!(wallet = %wallet.id, epoch = staged, "staged share is not of the server's public key; kept");
        return Ok(Reconciled::Kept { epoch: staged });
    }
    store.promote(&wallet.id, staged)?;
    tracing::info!(wallet = %wallet.id, epoch = staged, "staged share promoted on reconcile");
    Ok(Reconciled::Promoted { epoch: staged })
}

/// The server does not know the wallet (to this session).
fn unconfirmed(
    store: &ShareStore,
    wallet_id: &str,
    staged: u64,
    keygen_grace: Option<Duration>,
) -> Result<Reconciled, ClientError> {
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

fn public_key_hex(share: &[u8]) -> Option<String> {
    if let Ok(s) = KeyShare::<Secp256k1>::from_bytes(share) {
        return Some(hex::encode(s.public_key()));
    }
    KeyShare::<Ed25519>::from_bytes(share)
        .ok()
        .map(|s| hex::encode(s.public_key()))
}
