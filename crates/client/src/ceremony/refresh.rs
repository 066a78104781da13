use tandem_mpc::{KeyShare, Nonce, Operation as MpcOp, RefreshMode, SessionContext, WalletId};
use tandem_proto::ceremony::{ClientMessage, Operation, RefreshKind, ServerMessage};
use tandem_proto::scheme::{ChainScheme, refresh_test_input};
use tandem_proto::wallet::WalletInfo;

use super::driver::{Work, compute, drive, nonce_hex, parse_nonce};
use super::guard::WalletGuard;
use super::socket::Socket;
use super::{Progress, report};
use crate::error::ClientError;
use crate::failpoints::failpoint;
use crate::store::{ShareState, ShareStore, StoreError};

/// Refresh (fast, or complete with new OT state) with the two-phase commit: the new share is
/// stored as staged, proven by a joint test signature, and promoted only once the server
/// confirms its commit. The share it replaces stays (as the previous share) until a ceremony
/// at the new epoch succeeds. Runs under `guard`: a locked share runs only a complete refresh,
/// and detected cheating locks the share before the socket is dropped.
pub async fn refresh<S: ChainScheme>(
    mut socket: Socket,
    guard: &WalletGuard,
    share: &KeyShare<S>,
    mode: RefreshMode,
    progress: Progress<'_>,
) -> Result<(WalletInfo, KeyShare<S>), ClientError> {
    let complete = mode == RefreshMode::Complete;
    let (wallet_id, store) = (guard.wallet_id(), guard.store());
    let r = guard
        .run(
            complete,
            refresh_unguarded(&mut socket, wallet_id, share, store, mode, progress),
        )
        .await;
    if r.is_ok() {
        socket.close().await;
    }
    r
}

async fn refresh_unguarded<S: ChainScheme>(
    socket: &mut Socket,
    wallet_id: &str,
    share: &KeyShare<S>,
    store: &ShareStore,
    mode: RefreshMode,
    progress: Progress<'_>,
) -> Result<(WalletInfo, KeyShare<S>), ClientError> {
    let epoch = share.epoch();
    let wid = WalletId::new(wallet_id.to_owned())?;
    let device_nonce = Nonce::generate()?;
    let operation = Operation::Refresh {
        wallet_id: wallet_id.to_owned(),
        epoch,
        mode: match mode {
            RefreshMode::Fast => RefreshKind::Fast,
            RefreshMode::Complete => RefreshKind::Complete,
        },
    };
    let (start, _) = socket.start(operation, &device_nonce, false);
    socket.send_control(&start).await?;
    let server_nonce = match socket.control().await? {
        ServerMessage::Accepted {
            wallet_id: id,
            epoch: e,
            server_nonce,
            next_nonce,
        } if id == wallet_id && e == epoch => {
            socket.issued(next_nonce.as_deref())?;
            parse_nonce(&server_nonce)?
        }
        _ => return Err(ClientError::Protocol("expected `accepted`".into())),
    };
    // The server fenced off every earlier refresh before accepting this one (none of them can
    // commit any more): a staged share left by one of them is dead and goes.
    for staged in store.staged_epochs(wallet_id)? {
        if staged > epoch {
            store.discard_staged(wallet_id, staged)?;
        }
    }
    report(progress, "refreshing shares");
    let ctx = SessionContext::derive(
        S::protocol(mode.operation()),
        wid.clone(),
        epoch,
        &device_nonce,
        &server_nonce,
    );
    let refresh_session = ctx.session_id.0;
    let (ceremony, first) = compute(|| S::refresh(share, ctx, mode))?;
    let new_share = drive(socket, ceremony, first, Work::Heavy).await?;
    // The server has just run a ceremony with its share at `epoch`: an older share of ours
    // can never pair again.
    match store.confirm(wallet_id, epoch) {
        Ok(_) | Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    let new_epoch = new_share.epoch();
    store.put(
        wallet_id,
        new_epoch,
        ShareState::Staged,
        &new_share.to_bytes()?,
    )?;
    failpoint!("client.refresh.after_stage");
    report(progress, "proving the new shares");
    let test_nonce = Nonce::generate()?;
    socket
        .send_control(&ClientMessage::Staged {
            device_nonce: nonce_hex(&test_nonce),
        })
        .await?;
    let server_nonce = match socket.control().await? {
        ServerMessage::TestSign { server_nonce } => parse_nonce(&server_nonce)?,
        _ => return Err(ClientError::Protocol("expected `test_sign`".into())),
    };
    let ctx = SessionContext::derive(
        S::protocol(MpcOp::Sign),
        wid,
        new_epoch,
        &test_nonce,
        &server_nonce,
    );
    let input = refresh_test_input(S::CHAIN, wallet_id, new_epoch, &refresh_session);
    let message = S::message(&input)?;
    let (ceremony, first) = S::sign(&new_share, ctx, message)?;
    drive(socket, ceremony, first, Work::Light).await?;
    let wallet = match socket.control().await? {
        ServerMessage::Committed { wallet } => wallet,
        _ => return Err(ClientError::Protocol("expected `committed`".into())),
    };
    // Checked, not trusted: a wrong `committed` leaves the new share staged (and the current
    // one in use) for reconcile to settle on the server's in-channel status.
    if wallet.id != wallet_id
        || wallet.epoch != new_epoch
        || wallet.public_key != hex::encode(new_share.public_key())
    {
        return Err(ClientError::Protocol(
            "the server reports another commit than the one made".into(),
        ));
    }
    failpoint!("client.refresh.before_promote");
    store.promote(wallet_id, new_epoch)?;
    failpoint!("client.refresh.after_promote");
    Ok((wallet, new_share))
}
