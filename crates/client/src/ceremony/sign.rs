use tandem_mpc::{KeyShare, Nonce, Operation as MpcOp, SessionContext, WalletId};
use tandem_proto::ceremony::{Operation, ServerMessage};
use tandem_proto::prepare::prepare;
use tandem_proto::scheme::ChainScheme;
use tandem_proto::sign::{SignPayload, SignResult};

use super::driver::{Work, drive, drive_sent, parse_nonce};
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
    let operation = Operation::Sign {
        wallet_id: wallet_id.to_owned(),
        epoch: share.epoch(),
        payload: payload.clone(),
        signing_input: Some(hex::encode(prepared.input_hash())),
    };
    let (start, issued) = socket.start(operation, &device_nonce, true);
    let message = S::message(prepared.signing_input())?;
    let begin = |server_nonce: &Nonce| -> Result<_, ClientError> {
        let ctx = SessionContext::derive(
            S::protocol(MpcOp::Sign),
            WalletId::new(wallet_id.to_owned())?,
            share.epoch(),
            &device_nonce,
            server_nonce,
        );
        Ok(S::sign(share, ctx, message)?)
    };
    // Pipelined (docs/server.md): with a nonce the server issued ahead, the first frame goes
    // out right behind `start`, saving the round trip to `accepted`.
    let mut pipelined = None;
    if let Some(nonce) = &issued {
        pipelined = Some(begin(nonce)?);
    }
    socket.send_control(&start).await.map_err(stale)?;
    let pipelined = match pipelined {
        Some((ceremony, first)) => {
            socket.send_frame(first).await.map_err(stale)?;
            Some(ceremony)
        }
        None => None,
    };
    let accepted = socket.control().await.map_err(stale)?;
    let server_nonce = match accepted {
        ServerMessage::Accepted {
            wallet_id: id,
            epoch,
            server_nonce,
            next_nonce,
        } if id == wallet_id && epoch == share.epoch() => {
            socket.issued(next_nonce.as_deref())?;
            parse_nonce(&server_nonce)?
        }
        _ => return Err(ClientError::Protocol("expected `accepted`".into())),
    };
    report(progress, "signing");
    let signature = match (pipelined, issued) {
        (Some(ceremony), Some(issued)) => {
            if issued != server_nonce {
                return Err(ClientError::Protocol(
                    "the server accepted the signature under another nonce than it issued".into(),
                ));
            }
            drive_sent(socket, ceremony, Work::Light).await?
        }
        _ => {
            let (ceremony, first) = begin(&server_nonce)?;
            drive(socket, ceremony, first, Work::Light).await?
        }
    };
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
