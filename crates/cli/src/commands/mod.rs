mod bench;
mod login;
mod serve;
mod server_config;
mod session;
mod sign;
mod vault;
mod wallet;

use tandem_client::{ClientError, Timeouts};

use crate::cli::{Cli, Command};
use crate::context::Context;

pub async fn run(cli: Cli) -> Result<(), ClientError> {
    let timeouts = Timeouts::uniform(std::time::Duration::from_secs(cli.timeout));
    let ctx = Context::new(cli.server.clone(), cli.ca_file.clone(), timeouts);
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
