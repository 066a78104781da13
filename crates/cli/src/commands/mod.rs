mod account;
mod bench;
mod config_check;
mod login;
mod recovery;
mod serve;
mod server_config;
mod session;
mod sign;
mod social;
mod vault;
mod wallet;

use tandem_client::{ClientError, Timeouts};

use crate::cli::{Cli, Command, ServerCli, ServerCommand};
use crate::context::Context;

/// What was parsed: the whole command line, or a server-side command alone.
pub enum Invocation {
    Device(Cli),
    Server(ServerCli),
}

impl Invocation {
    pub fn json(&self) -> bool {
        match self {
            Invocation::Device(c) => c.json,
            Invocation::Server(c) => c.json,
        }
    }
}

pub async fn run(invocation: Invocation) -> Result<(), ClientError> {
    let cli = match invocation {
        Invocation::Device(cli) => cli,
        Invocation::Server(server) => {
            let json = server.json;
            return match server.command {
                ServerCommand::Serve(args) => serve::run(args).await,
                ServerCommand::Vault(cmd) => vault::run(json, cmd).await,
                ServerCommand::Config(cmd) => config_check::run(json, cmd).await,
            };
        }
    };
    let timeouts = Timeouts::uniform(std::time::Duration::from_secs(cli.timeout));
    let ctx = Context::new(cli.server.clone(), cli.ca_file.clone(), timeouts);
    let json = cli.json;
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Login(args) => login::run(&ctx, json, args).await,
        Command::Account(cmd) => account::run(&ctx, json, cmd).await,
        Command::Wallet(cmd) => wallet::run(&ctx, json, cmd).await,
        Command::Sign(cmd) => sign::run(&ctx, json, cmd).await,
        Command::Session(cmd) => session::run(&ctx, json, cmd).await,
        Command::Recovery(cmd) => recovery::run_recovery(&ctx, json, cmd).await,
        Command::Backup(cmd) => recovery::run_backup(&ctx, json, cmd).await,
        Command::Offline(cmd) => recovery::run_offline(&ctx, json, cmd),
        Command::Bench(args) => bench::run(&ctx, json, args).await,
        Command::Vault(cmd) => vault::run(json, cmd).await,
        Command::Config(cmd) => config_check::run(json, cmd).await,
    }
}
