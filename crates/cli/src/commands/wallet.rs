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
            let wallet = device.create_wallet(chain, Some(&set)).await;
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
            let wallets = ctx.api()?.wallets().await?;
            output::print(json, &wallets, || {
                if wallets.is_empty() {
                    return "No wallets yet: `tandem wallet create --chain evm`".to_owned();
                }
                wallets
                    .iter()
                    .map(|w| {
                        format!(
                            "{}  {:<6}  {}  epoch {}",
                            output::clean(&w.id),
                            w.chain,
                            output::clean(&w.address),
                            w.epoch
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        WalletCommand::Show { wallet } => {
            let device = ctx.device()?;
            let wallet = device.wallet(&wallet).await?;
            output::print(json, &wallet, || describe(&wallet));
        }
        WalletCommand::Refresh { wallet, complete } => {
            let device = ctx.device()?;
            let bar = output::spinner(json, "refreshing key shares");
            let set = |phase: &str| bar.set_message(phase.to_owned());
            let wallet = if complete {
                device.refresh_complete(&wallet, Some(&set)).await
            } else {
                device.refresh(&wallet, Some(&set)).await
            };
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

fn describe(w: &WalletInfo) -> String {
    format!(
        "  chain:      {}\n  address:    {}\n  public key: {}\n  epoch:      {}\n  status:     {:?}",
        w.chain,
        output::clean(&w.address),
        output::clean(&w.public_key),
        w.epoch,
        w.status
    )
}
