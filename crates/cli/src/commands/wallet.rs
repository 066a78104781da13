use tandem_client::ClientError;
use tandem_proto::wallet::{Chain, WalletInfo};

use crate::cli::{ChainArg, WalletCommand};
use crate::context::Context;
use crate::output;

pub async fn run(ctx: &Context, json: bool, cmd: WalletCommand) -> Result<(), ClientError> {
    match cmd {
        WalletCommand::Create { chain } => {
            let device = ctx.device()?;
            let chain = match chain {
                ChainArg::Evm => Chain::Evm,
                ChainArg::Solana => Chain::Solana,
            };
            let bar = output::spinner(json, &format!("creating a {chain} wallet"));
            let set = |phase: &str| bar.set_message(phase.to_owned());
            let wallet = device.keygen(chain).progress(&set).await;
            bar.finish_and_clear();
            let wallet = wallet?;
            output::print(json, &wallet, || {
                format!(
                    "Created {} wallet {}\n{}",
                    wallet.chain,
                    output::clean(&wallet.id),
                    describe(&wallet)
                )
            });
        }
        WalletCommand::List => {
            // Each wallet is checked against this device's key; one the server misreports is
            // flagged (never shown with the reported address) and the command then fails.
            let listed = ctx.device()?.wallets().await?;
            let entries: Vec<serde_json::Value> = listed.iter().map(list_entry).collect();
            output::print(json, &entries, || {
                if listed.is_empty() {
                    return "No wallets yet: `tandem wallet create --chain evm`".to_owned();
                }
                listed
                    .iter()
                    .map(|(id, w)| match w {
                        Ok(w) => format!(
                            "{}  {:<6}  {}  epoch {}",
                            output::clean(&w.id),
                            w.chain,
                            output::clean(&w.address),
                            w.epoch
                        ),
                        Err(e) => format!(
                            "{}  REFUSED  {}",
                            output::clean(id),
                            output::clean(&e.to_string())
                        ),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            if let Some((_, Err(e))) = listed.into_iter().find(|(_, w)| w.is_err()) {
                return Err(e);
            }
        }
        WalletCommand::Show { wallet } => {
            let device = ctx.device()?;
            let wallet = device.wallet(&wallet).await?;
            output::print(json, &wallet, || describe(&wallet));
        }
        WalletCommand::Export {
            wallet,
            out,
            format,
            yes,
        } => {
            super::recovery::export(ctx, json, &wallet, out.as_deref(), format, yes).await?;
        }
        WalletCommand::Refresh { wallet, complete } => {
            let device = ctx.device()?;
            let bar = output::spinner(json, "refreshing key shares");
            let set = |phase: &str| bar.set_message(phase.to_owned());
            let mut refresh = device.refreshing(&wallet).progress(&set);
            if complete {
                refresh = refresh.complete();
            }
            let wallet = refresh.await;
            bar.finish_and_clear();
            let wallet = wallet?;
            output::print(json, &wallet, || {
                format!(
                    "Refreshed {} to epoch {} (same address {})",
                    output::clean(&wallet.id),
                    wallet.epoch,
                    output::clean(&wallet.address)
                )
            });
        }
    }
    Ok(())
}

fn list_entry((id, wallet): &(String, Result<WalletInfo, ClientError>)) -> serde_json::Value {
    match wallet {
        Ok(w) => serde_json::to_value(w).unwrap_or_default(),
        Err(e) => {
            let code = match e {
                ClientError::WalletMismatch { .. } => "wallet_mismatch",
                _ => "client_error",
            };
            serde_json::json!({ "id": id, "error": { "code": code, "message": e.to_string() } })
        }
    }
}

fn describe(w: &WalletInfo) -> String {
    let mut s = format!(
        "  chain:      {}\n  address:    {}\n  public key: {}\n  epoch:      {}\n  status:     {:?}",
        w.chain,
        output::clean(&w.address),
        output::clean(&w.public_key),
        w.epoch,
        w.status
    );
    if let Some(at) = w.exported_at {
        s.push_str(&format!(
            "\n  exported:   {} (the whole key has existed on the device that exported it)",
            output::when(at)
        ));
    }
    s
}
