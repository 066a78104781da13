use std::io::Read;

use tandem_client::ClientError;
use tandem_proto::sign::{Encoding, SignPayload, SignResult};

use crate::cli::SignCommand;
use crate::context::Context;
use crate::output;

pub async fn run(ctx: &Context, json: bool, cmd: SignCommand) -> Result<(), ClientError> {
    let (wallet, payload) = payload_of(cmd)?;
    let device = ctx.device()?;
    let bar = output::spinner(json, "signing");
    let set = |phase: &str| bar.set_message(phase.to_owned());
    let result = device.signing(&wallet, &payload).progress(&set).await;
    bar.finish_and_clear();
    print_result(json, &result?);
    Ok(())
}

/// The wallet a sign command names, and what it signs.
pub fn payload_of(cmd: SignCommand) -> Result<(String, SignPayload), ClientError> {
    let enc = |hex: bool| if hex { Encoding::Hex } else { Encoding::Utf8 };
    let (wallet, payload) = match cmd {
        SignCommand::Message {
            wallet,
            hex,
            message,
        } => (
            wallet,
            SignPayload::EvmMessage {
                message,
                encoding: enc(hex),
            },
        ),
        SignCommand::TypedData { wallet, file } => {
            let text = if file.as_os_str() == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .map_err(|e| ClientError::Local(format!("cannot read stdin: {e}")))?;
                s
            } else {
                std::fs::read_to_string(&file).map_err(|e| {
                    ClientError::Local(format!("cannot read {}: {e}", file.display()))
                })?
            };
            let typed_data: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| ClientError::Local(format!("typed data is not JSON: {e}")))?;
            (wallet, SignPayload::EvmTypedData { typed_data })
        }
        SignCommand::Tx {
            wallet,
            transaction,
        } => (wallet, SignPayload::EvmTransaction { transaction }),
        SignCommand::SolanaTx {
            wallet,
            transaction,
        } => (wallet, SignPayload::SolanaTransaction { transaction }),
        SignCommand::SolanaMessage {
            wallet,
            hex,
            message,
        } => (
            wallet,
            SignPayload::SolanaMessage {
                message,
                encoding: enc(hex),
            },
        ),
        SignCommand::SolanaSignMessage {
            wallet,
            hex,
            message,
        } => (
            wallet,
            SignPayload::SolanaRawMessage {
                message,
                encoding: enc(hex),
            },
        ),
    };
    Ok((wallet, payload))
}

pub fn print_result(json: bool, result: &SignResult) {
    output::print(json, result, || {
        let mut s = format!("signature: {}", result.signature);
        if let Some(tx) = &result.signed_transaction {
            s.push_str(&format!("\nsigned transaction: {tx}"));
        }
        if let Some(h) = &result.transaction_hash {
            s.push_str(&format!("\ntransaction hash: {h}"));
        }
        s
    });
}
