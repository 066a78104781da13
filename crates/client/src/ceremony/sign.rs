use tandem_mpc::{KeyShare, Nonce, Operation as MpcOp, SessionContext, WalletId};
use tandem_proto::ceremony::{ClientMessage, Operation, ServerMessage};
use tandem_proto::prepare::prepare;
use tandem_proto::scheme::ChainScheme;
use tandem_proto::sign::{SignPayload, SignResult};

use super::driver::{Work, drive, nonce_hex, parse_nonce};
use super::guard::WalletGuard;
use super::socket::Socket;
use super::{Progress, report};
use crate::error::ClientError;

/// Signs `payload` jointly. The device parses the payload itself and checks that what the
/// server releases is exactly the signature the ceremony produced. The socket stays open for
/// the next ceremony; on a reused socket the server already closed, this returns
/// [`ClientError::StaleSocket`] before anything happened. Runs under `guard` (refused on a
/// locked share; detected cheating locks it before this returns).
pub async fn sign<S: ChainScheme>(
    socket: &mut Socket,
    guard: &WalletGuard,
    share: &KeyShare<S>,
    payload: &SignPayload,
    progress: Progress<'_>,
) -> Result<SignResult, ClientError> {
    let wallet_id = guard.wallet_id();
    guard
        .run(
            false,
            sign_unguarded(socket, wallet_id, share, payload, progress),
        )
        .await
}

async fn sign_unguarded<S: ChainScheme>(
    socket: &mut Socket,
    wallet_id: &str,
    share: &KeyShare<S>,
    payload: &SignPayload,
    progress: Progress<'_>,
) -> Result<SignResult, ClientError> {
    let prepared = prepare(payload, S::CHAIN, share.public_key())?;
    let device_nonce = Nonce::generate()?;
    let reused = socket.is_used();
    let stale = |e| match e {
        ClientError::Socket(_) if reused => ClientError::StaleSocket,
        e => e,
    };
    socket
        .send_control(&ClientMessage::Start {
            operation: Operation::Sign {
                wallet_id: wallet_id.to_owned(),
                epoch: share.epoch(),
                payload: payload.clone(),
                signing_input: Some(hex::encode(prepared.input_hash())),
            },
            device_nonce: nonce_hex(&device_nonce),
        })
        .await
        .map_err(stale)?;
    let accepted = socket.control().await.map_err(stale)?;
    let server_nonce = match accepted {
        ServerMessage::Accepted {
            wallet_id: id,
            epoch,
            server_nonce,
        } if id == wallet_id && epoch == share.epoch() => parse_nonce(&server_nonce)?,
        _ => return Err(ClientError::Protocol("expected `accepted`".into())),
    };
    report(progress, "signing");
    let ctx = SessionContext::derive(
        S::protocol(MpcOp::Sign),
        WalletId::new(wallet_id.to_owned())?,
        share.epoch(),
        &device_nonce,
        &server_nonce,
    );
    let message = S::message(prepared.signing_input())?;
    let (ceremony, first) = S::sign(share, ctx, message)?;
    let signature = drive(socket, ceremony, first, Work::Light).await?;
    let ours = S::finish(&prepared, &signature)?;
    let released = match socket.control().await? {
        ServerMessage::Signed { result } => result,
        _ => return Err(ClientError::Protocol("expected `signed`".into())),
    };
    socket.finished_ceremony();
    if released.signature != ours.signature
        || released.signed_transaction != ours.signed_transaction
    {
        return Err(ClientError::Protocol(
            "the server released a different signature than the ceremony produced".into(),
        ));
    }
    Ok(ours)
}
