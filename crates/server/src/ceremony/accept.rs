//! The steps every ceremony starts with: open the server's share, answer `start` with a
//! fresh nonce, and derive the session both parties will bind their frames to.

use tandem_mpc::{KeyShare, Nonce, Protocol, SessionContext, WalletId};
use tandem_proto::ceremony::ServerMessage;
use tandem_proto::scheme::ChainScheme;

use super::channel::Channel;
use super::error::CeremonyError;
use super::service::{Ceremonies, Nonces};
use crate::wallets::{Access, CurrentShare, WalletRecord};

/// The wallet's current server share at `epoch` (refused if another epoch, or frozen unless
/// `access` is the unfreezing refresh).
pub(crate) fn load_share<S: ChainScheme>(
    svc: &Ceremonies,
    wallet: &WalletRecord,
    share: CurrentShare,
    epoch: u64,
    access: Access,
) -> Result<KeyShare<S>, CeremonyError> {
    let bytes = svc.wallets().open_share(wallet, share, epoch, access)?;
    let share = KeyShare::<S>::from_bytes(&bytes).map_err(mpc)?;
    // The row's public key is what devices are shown and what payloads are checked against
    // (Solana signers); the sealed share is the truth. A rewritten row signs nothing.
    if share.public_key() != wallet.public_key.as_slice() {
        tracing::error!(wallet = %wallet.id, "stored public key differs from the wallet's share");
        return Err(CeremonyError::Aborted(
            "the wallet's stored public key does not match its share".into(),
        ));
    }
    Ok(share)
}

/// Sends `accepted` and derives the session context. The server nonce is the one this socket
/// issued for the ceremony ahead of time (pipelined signing: the device's first frame is
/// already bound to it), else a fresh one.
pub(crate) async fn accept(
    channel: &mut dyn Channel,
    protocol: Protocol,
    wallet_id: &str,
    epoch: u64,
    nonces: &Nonces,
) -> Result<SessionContext, CeremonyError> {
    let wallet = WalletId::new(wallet_id.to_owned()).map_err(mpc)?;
    let server_nonce = match nonces.issued {
        Some(n) => n,
        None => Nonce::generate().map_err(mpc)?,
    };
    channel
        .send_control(&ServerMessage::Accepted {
            wallet_id: wallet_id.to_owned(),
            epoch,
            server_nonce: hex::encode(server_nonce.0),
            next_nonce: nonces.next_hex(),
        })
        .await?;
    Ok(SessionContext::derive(
        protocol,
        wallet,
        epoch,
        &nonces.device,
        &server_nonce,
    ))
}

pub(crate) fn mpc(e: tandem_mpc::Error) -> CeremonyError {
    CeremonyError::Aborted(e.to_string())
}
