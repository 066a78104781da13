//! Signing: the server parses the payload and computes what is signed itself; the device's
//! word on it is never taken.

use tandem_mpc::{KeyShare, Nonce, Operation, SessionContext, WalletId};
use tandem_proto::ceremony::ServerMessage;
use tandem_proto::prepare::prepare;
use tandem_proto::scheme::ChainScheme;
use tandem_proto::sign::{SignPayload, SignResult};

use super::channel::Channel;
use super::driver::drive;
use super::error::CeremonyError;
use super::keygen::mpc;
use super::service::Ceremonies;
use crate::wallets::WalletRecord;

pub(crate) async fn sign<S: ChainScheme>(
    svc: &Ceremonies,
    wallet: &WalletRecord,
    epoch: u64,
    payload: &SignPayload,
    channel: &mut dyn Channel,
    device_nonce: Nonce,
) -> Result<SignResult, CeremonyError> {
    let prepared =
        prepare(payload, wallet.chain, &wallet.public_key).map_err(CeremonyError::Rejected)?;
    let share_bytes = svc.wallets().open_share(wallet, epoch).await?;
    let share = KeyShare::<S>::from_bytes(&share_bytes).map_err(mpc)?;
    drop(share_bytes);
    let server_nonce = Nonce::generate().map_err(mpc)?;
    channel
        .send_control(&ServerMessage::Accepted {
            wallet_id: wallet.id.clone(),
            epoch,
            server_nonce: hex::encode(server_nonce.0),
        })
        .await?;
    let ctx = SessionContext::derive(
        S::protocol(Operation::Sign),
        WalletId::new(wallet.id.clone()).map_err(mpc)?,
        epoch,
        &device_nonce,
        &server_nonce,
    );
    let message = S::message(prepared.signing_input()).map_err(CeremonyError::Rejected)?;
    let (ceremony, first) = S::sign(&share, ctx, message).map_err(mpc)?;
    drop(share);
    let signature = drive(channel, ceremony, first, svc.round_timeout()).await?;
    // The state machine has verified the signature (low-s and recovery id for ECDSA,
    // strict for Ed25519) before returning it; this is the release.
    let result = S::finish(&prepared, &signature).map_err(CeremonyError::Rejected)?;
    channel
        .send_control(&ServerMessage::Signed {
            result: result.clone(),
        })
        .await?;
    Ok(result)
}
