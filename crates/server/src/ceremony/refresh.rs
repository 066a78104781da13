//! Refresh (fast, or complete with new OT state) with the two-phase epoch commit of DESIGN.md §5: both sides stage the new
//! share, a joint test signature under the new epoch proves the pair, then the server
//! commits (new epoch current, old server share destroyed) and the device promotes.

use tandem_mpc::{KeyShare, Nonce, Operation, RefreshMode, Role, SessionContext, WalletId};
use tandem_proto::ceremony::{ClientMessage, ServerMessage};
use tandem_proto::scheme::{ChainScheme, refresh_test_input};

use super::accept::{accept, load_share, mpc};
use super::channel::Channel;
use super::driver::{Work, control, drive};
use super::error::CeremonyError;
use super::service::{Ceremonies, Nonces};
use crate::failpoints::failpoint;
use crate::wallets::{Access, CurrentShare, RefreshFence, WalletRecord};

/// What the commit is guarded by: this refresh was the last begun, the staged row is its,
/// and the wallet is in the state the refresh began from (`access`).
struct Staged {
    fence: RefreshFence,
    token: Vec<u8>,
    access: Access,
}

pub(crate) async fn refresh<S: ChainScheme>(
    svc: &Ceremonies,
    wallet: &WalletRecord,
    current: CurrentShare,
    epoch: u64,
    (mode, access): (RefreshMode, Access),
    channel: &mut dyn Channel,
    nonces: &Nonces,
) -> Result<WalletRecord, CeremonyError> {
    let share = load_share::<S>(svc, wallet, current, epoch, access)?;
    // Before `accepted`: from here no earlier refresh can commit, so the device drops its
    // leftover staged share on seeing `accepted`.
    let fence = match () {
        #[cfg(feature = "failpoints")]
        () if crate::failpoints::lie("server.lie.accepted_unfenced") => {
            svc.wallets().unfenced(wallet).await?
        }
        () => svc.wallets().begin_refresh(wallet, access).await?,
    };
    let protocol = S::protocol(mode.operation());
    let ctx = accept(channel, protocol, &wallet.id, epoch, nonces).await?;
    let wallet_id = ctx.wallet.clone();
    let refresh_session = ctx.session_id.0;
    let (ceremony, first) = S::refresh(&share, ctx, mode).map_err(mpc)?;
    drop(share);
    let new_share = drive(channel, ceremony, first, svc.round_timeout(), Work::Heavy).await?;
    let new_epoch = new_share.epoch();
    if new_epoch != epoch + 1 || new_share.public_key() != wallet.public_key.as_slice() {
        return Err(CeremonyError::Aborted(
            "refresh produced an inconsistent share".into(),
        ));
    }
    let token = svc
        .wallets()
        .stage_refresh(wallet, new_epoch, &new_share.to_bytes().map_err(mpc)?)
        .await?;
    let staged = Staged {
        fence,
        token,
        access,
    };
    let outcome = prove_and_commit::<S>(
        svc,
        wallet,
        &new_share,
        &staged,
        refresh_session,
        wallet_id,
        channel,
    )
    .await;
    if outcome.is_err() {
        // Only a staged row is removed; after a commit this matches nothing.
        if let Err(e) = svc
            .wallets()
            .abandon_refresh(&wallet.id, new_epoch, &staged.token)
            .await
        {
            tracing::warn!(error = %e, "could not drop an abandoned staged share");
        }
    }
    outcome
}

async fn prove_and_commit<S: ChainScheme>(
    svc: &Ceremonies,
    wallet: &WalletRecord,
    new_share: &KeyShare<S>,
    staged: &Staged,
    refresh_session: [u8; 32],
    wallet_id: WalletId,
    channel: &mut dyn Channel,
) -> Result<WalletRecord, CeremonyError> {
    let new_epoch = new_share.epoch();
    let device_nonce = match control(channel, svc.round_timeout()).await? {
        ClientMessage::Staged { device_nonce } => super::service::parse_nonce(&device_nonce)?,
        _ => return Err(CeremonyError::Protocol("expected `staged`")),
    };
    let server_nonce = Nonce::generate().map_err(mpc)?;
    let mut announced = server_nonce;
    if crate::failpoints::lie("server.lie.test_sign_nonce") {
        // The test signature's nonce announced is not the one the server binds to.
        announced.0[0] ^= 1;
    }
    channel
        .send_control(&ServerMessage::TestSign {
            server_nonce: hex::encode(announced.0),
        })
        .await?;
    let ctx = SessionContext::derive(
        S::protocol(Operation::Sign),
        wallet_id,
        new_epoch,
        &device_nonce,
        &server_nonce,
    );
    let input = refresh_test_input(S::CHAIN, &wallet.id, new_epoch, &refresh_session);
    let message = S::message(&input).map_err(CeremonyError::Rejected)?;
    let (ceremony, first) = S::sign(new_share, ctx, message).map_err(mpc)?;
    let signature = drive(channel, ceremony, first, svc.round_timeout(), Work::Light).await?;
    S::verify(new_share.public_key(), message, &signature)
        .map_err(|_| CeremonyError::Aborted("test signature does not verify".into()))?;
    debug_assert_eq!(new_share.role(), Role::Server);
    failpoint!("server.refresh.before_commit");
    if crate::failpoints::lie("server.lie.committed_without_commit") {
        let mut claimed = wallet.info();
        claimed.epoch = new_epoch;
        channel
            .send_control(&ServerMessage::Committed { wallet: claimed })
            .await?;
        return Ok(wallet.clone());
    }
    let committed = svc
        .wallets()
        .commit_refresh(
            wallet,
            staged.fence,
            new_epoch,
            &staged.token,
            staged.access,
        )
        .await?;
    failpoint!("server.refresh.before_reply");
    let mut info = committed.info();
    if crate::failpoints::lie("server.lie.committed_epoch") {
        info.epoch += 1;
    }
    channel
        .send_control(&ServerMessage::Committed { wallet: info })
        .await?;
    Ok(committed)
}
