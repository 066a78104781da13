//! Signing: the server parses the payload and computes what is signed itself; the device's
//! word on it is never taken.

use tandem_mpc::Operation;
use tandem_proto::ceremony::ServerMessage;
use tandem_proto::prepare::{Prepared, prepare};
use tandem_proto::scheme::ChainScheme;
use tandem_proto::sign::{SignPayload, SignResult};
use tandem_proto::{ApiError, ErrorCode};

use super::accept::{accept, load_share, mpc};
use super::channel::Channel;
use super::driver::{Work, drive};
use super::error::CeremonyError;
use super::service::{Ceremonies, Nonces};
use crate::failpoints::failpoint;
use crate::wallets::{Access, CurrentShare, WalletRecord};

pub(crate) async fn sign<S: ChainScheme>(
    svc: &Ceremonies,
    wallet: &WalletRecord,
    current: CurrentShare,
    epoch: u64,
    (payload, device_input): (&SignPayload, Option<&str>),
    channel: &mut dyn Channel,
    nonces: &Nonces,
) -> Result<SignResult, CeremonyError> {
    let prepared =
        prepare(payload, wallet.chain, &wallet.public_key).map_err(CeremonyError::Rejected)?;
    same_signing_input(&prepared, device_input)?;
    let share = load_share::<S>(svc, wallet, current, epoch, Access::Active)?;
    let protocol = S::protocol(Operation::Sign);
    let ctx = accept(channel, protocol, &wallet.id, epoch, nonces).await?;
    failpoint!("server.sign.after_accept");
    let message = S::message(prepared.signing_input()).map_err(CeremonyError::Rejected)?;
    let (ceremony, first) = S::sign(&share, ctx, message).map_err(mpc)?;
    drop(share);
    let signature = drive(channel, ceremony, first, svc.round_timeout(), Work::Light).await?;
    failpoint!("server.sign.after_rounds");
    // The state machine has verified the signature (low-s and recovery id for ECDSA,
    // strict for Ed25519) before returning it; this is the release.
    let result = S::finish(&prepared, &signature).map_err(CeremonyError::Rejected)?;
    // A ceremony on another instance may have frozen the wallet meanwhile: a frozen wallet
    // releases nothing.
    svc.wallets().ensure_active(&wallet.id).await?;
    failpoint!("server.sign.before_reply");
    let mut released = result.clone();
    if crate::failpoints::lie("server.lie.signed_other") {
        // Another signature than the ceremony produced (the last character changed).
        let last = released
            .signature
            .pop()
            .map_or('0', |c| if c == '1' { '2' } else { '1' });
        released.signature.push(last);
    }
    channel
        .send_control(&ServerMessage::Signed { result: released })
        .await?;
    failpoint!("server.sign.after_reply");
    Ok(result)
}

/// The device's hash of what it will sign against ours, before `accepted` and any MPC frame:
/// two honest parties that disagree (SDK/server version skew) get a clear answer instead of
/// a ceremony that fails on the session binding. Devices that send no hash predate it.
fn same_signing_input(prepared: &Prepared, device: Option<&str>) -> Result<(), CeremonyError> {
    let Some(device) = device else {
        return Ok(());
    };
    let ours = prepared.input_hash();
    let matches = hex::decode(device.trim()).is_ok_and(|theirs| theirs.as_slice() == ours);
    if matches {
        return Ok(());
    }
    Err(CeremonyError::Rejected(
        ApiError::new(
            ErrorCode::SigningInputMismatch,
            "the device computed different bytes to sign from this payload than the server; \
             update the SDK or the server so that they agree",
        )
        .with_field("signing_input"),
    ))
}
