use tandem_mpc::Nonce;
use tandem_proto::ErrorCode;
use tandem_proto::ceremony::{Operation, ServerMessage};
use tandem_proto::wallet::WalletInfo;

use super::socket::Socket;
use crate::error::ClientError;

/// The wallet as the server's database holds it, asked inside the encrypted channel: the only
/// answer the device settles its shares on (docs/crash-safety.md). `None`: the server says,
/// in the channel, that this session's user has no such wallet (after which it closes the
/// socket).
pub(crate) async fn status(
    socket: &mut Socket,
    wallet_id: &str,
) -> Result<Option<WalletInfo>, ClientError> {
    let operation = Operation::Status {
        wallet_id: wallet_id.to_owned(),
    };
    let (start, _) = socket.start(operation, &Nonce::generate()?, false);
    socket.send_control(&start).await?;
    match socket.control().await {
        Ok(ServerMessage::Status { wallet, next_nonce }) if wallet.id == wallet_id => {
            socket.issued(next_nonce.as_deref())?;
            socket.finished_ceremony();
            Ok(Some(wallet))
        }
        Ok(_) => Err(ClientError::Protocol("expected `status`".into())),
        Err(e) if e.code() == Some(ErrorCode::WalletNotFound) => Ok(None),
        Err(e) => Err(e),
    }
}
