use tandem_mpc::{KeyShare, Nonce, Operation as MpcOp, Role, SessionContext, WalletId};
use tandem_proto::ceremony::{ClientMessage, Operation, ServerMessage};
use tandem_proto::scheme::ChainScheme;
use tandem_proto::wallet::WalletInfo;

use super::driver::{Work, compute, drive, parse_nonce};
use super::socket::Socket;
use super::{Progress, report};
use crate::error::ClientError;
use crate::failpoints::failpoint;
use crate::store::{ShareState, ShareStore};

/// Creates a wallet: runs DKG, stores the device share durably (staged), lets the server
/// commit, then promotes the share. After a failure the staged share is settled by
/// [`Device::reconcile`](crate::Device::reconcile).
pub async fn keygen<S: ChainScheme>(
    mut socket: Socket,
    store: &ShareStore,
    progress: Progress<'_>,
) -> Result<(WalletInfo, KeyShare<S>), ClientError> {
    let device_nonce = Nonce::generate()?;
    let (start, _) = socket.start(Operation::Keygen { chain: S::CHAIN }, &device_nonce, false);
    socket.send_control(&start).await?;
    let (wallet_id, server_nonce) = match socket.control().await? {
        ServerMessage::Accepted {
            wallet_id,
            epoch: 0,
            server_nonce,
            ..
        } => (wallet_id, parse_nonce(&server_nonce)?),
        _ => return Err(ClientError::Protocol("expected `accepted`".into())),
    };
    report(progress, "generating key shares");
    let ctx = SessionContext::derive(
        S::protocol(MpcOp::Keygen),
        WalletId::new(wallet_id.clone())?,
        0,
        &device_nonce,
        &server_nonce,
    );
    let (ceremony, first) = compute(|| S::keygen(Role::Device, ctx))?;
    let share = drive(&mut socket, ceremony, first, Work::Heavy).await?;
    report(progress, "storing the device share");
    let bytes = share.to_bytes()?;
    failpoint!("client.keygen.before_store");
    // Staged, not current: until the server confirms, this may be a wallet that never comes
    // to exist. `Device` reconciles a staged keygen share against the server.
    store.put(&wallet_id, 0, ShareState::Staged, &bytes)?;
    failpoint!("client.keygen.after_store");
    socket
        .send_control(&ClientMessage::Stored {
            public_key: Some(hex::encode(share.public_key())),
        })
        .await?;
    failpoint!("client.keygen.after_send_stored");
    let wallet = match socket.control().await? {
        ServerMessage::KeygenDone { wallet } => wallet,
        _ => return Err(ClientError::Protocol("expected `keygen_done`".into())),
    };
    socket.close().await;
    if wallet.id != wallet_id || wallet.public_key != hex::encode(share.public_key()) {
        return Err(ClientError::Protocol(
            "the server reports a different wallet than the one generated".into(),
        ));
    }
    crate::binding::check(&wallet, Some((S::CHAIN, share.public_key())))?;
    failpoint!("client.keygen.before_promote");
    store.promote(&wallet_id, 0)?;
    failpoint!("client.keygen.after_promote");
    Ok((wallet, share))
}
