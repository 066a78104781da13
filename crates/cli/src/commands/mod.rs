mod bench;
mod login;
mod serve;
mod server_config;
mod session;
mod sign;
mod vault;
mod wallet;

use tandem_client::ClientError;

use crate::cli::{Cli, Command};
use crate::context::Context;

pub async fn run(cli: Cli) -> Result<(), ClientError> {
    let ctx = Context::new(cli.server.clone(), cli.ca_file.clone());
    let json = cli.json;
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Login(args) => login::run(&ctx, json, args).await,
        Command::Wallet(cmd) => wallet::run(&ctx, json, cmd).await,
        Command::Sign(cmd) => sign::run(&ctx, json, cmd).await,
        Command::Session(cmd) => session::run(&ctx, json, cmd).await,
        Command::Bench(args) => bench::run(&ctx, json, args).await,
        Command::Vault(cmd) => vault::run(json, cmd).await,
    }
}
