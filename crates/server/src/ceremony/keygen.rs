//! Keygen: the wallet exists on the server only once the device has confirmed it stored its
//! share, so a crash on either side never leaves a server half without a device half.
//!
//! The device stores its share as staged and promotes it on `keygen_done`; one the server
//! never confirms it drops after a grace period (docs/crash-safety.md). What makes that safe
//! is [`COMMIT_WINDOW`]: this side commits only within it, and the device's grace is longer.

use std::time::{Duration, Instant};

use tandem_mpc::{Operation, Role};
use tandem_proto::ceremony::{ClientMessage, ServerMessage};
use tandem_proto::scheme::ChainScheme;
use tandem_proto::{ApiError, ErrorCode};

use super::accept::{accept, mpc};
use super::channel::Channel;
use super::driver::{Work, control, drive};
use super::error::CeremonyError;
use super::service::{Ceremonies, Nonces};
use crate::failpoints::failpoint;
use crate::wallets::WalletRecord;

/// How long after `start` a keygen may still commit. The device SDK waits much longer
/// (`tandem_client::device::KEYGEN_GRACE`) before dropping a share this side never confirmed,
/// so it never drops one this side could still commit.
pub(crate) const COMMIT_WINDOW: Duration = Duration::from_secs(10 * 60);

pub(crate) async fn keygen<S: ChainScheme>(
    svc: &Ceremonies,
    user_id: &str,
    channel: &mut dyn Channel,
    nonces: &Nonces,
) -> Result<WalletRecord, CeremonyError> {
    let started = Instant::now();
    let wallet_id = uuid::Uuid::new_v4().simple().to_string();
    let protocol = S::protocol(Operation::Keygen);
    let ctx = accept(channel, protocol, &wallet_id, 0, nonces).await?;
    let (ceremony, first) = S::keygen(Role::Server, ctx).map_err(mpc)?;
    let share = drive(channel, ceremony, first, svc.round_timeout(), Work::Heavy).await?;
    let device_key = match control(channel, svc.round_timeout()).await? {
        ClientMessage::Stored { public_key } => public_key,
        _ => return Err(CeremonyError::Protocol("expected `stored`")),
    };
    confirm_key(device_key.as_deref(), share.public_key())?;
    let address = S::address(share.public_key()).map_err(CeremonyError::Rejected)?;
    let bytes = share.to_bytes().map_err(mpc)?;
    if started.elapsed() > COMMIT_WINDOW {
        return Err(CeremonyError::Aborted(
            "the device confirmed too late; the wallet was not created".into(),
        ));
    }
    failpoint!("server.keygen.before_insert");
    let record = svc
        .wallets()
        .create(
            &wallet_id,
            user_id,
            S::CHAIN,
            share.public_key(),
            &address,
            &bytes,
        )
        .await?;
    failpoint!("server.keygen.before_reply");
    let mut wallet = record.info();
    if crate::failpoints::lie("server.lie.keygen_done_other_wallet") {
        wallet.id = uuid::Uuid::new_v4().simple().to_string();
    }
    channel
        .send_control(&ServerMessage::KeygenDone { wallet })
        .await?;
    Ok(record)
}

/// Key confirmation (security bar M11): the wallet is committed only if the device computed
/// the same joint public key. Devices that predate the field send none.
fn confirm_key(device: Option<&str>, ours: &[u8]) -> Result<(), CeremonyError> {
    let Some(device) = device else {
        return Ok(());
    };
    if hex::decode(device.trim()).is_ok_and(|theirs| theirs.as_slice() == ours) {
        return Ok(());
    }
    Err(CeremonyError::Rejected(
        ApiError::new(
            ErrorCode::CeremonyFailed,
            "the device computed another public key; the wallet was not created",
        )
        .with_field("public_key"),
    ))
}
