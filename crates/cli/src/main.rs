//! `tandem`: the server (`tandem serve`) and the device-side user commands in one binary.

mod bench;
mod cli;
mod commands;
mod context;
mod output;

use clap::Parser;

// The ceremonies allocate and free many short-lived buffers (82 KB ECDSA frames, OT
// vectors); mimalloc's per-thread pools cut that cost (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // One TLS provider for the whole process (reqwest, sqlx and lettre all use rustls).
    let _ = rustls::crypto::ring::default_provider().install_default();
    // The server-side commands get their own parser, so that `tandem serve --help` lists no
    // device options.
    let server_side = std::env::args_os()
        .nth(1)
        .and_then(|a| a.into_string().ok())
        .is_some_and(|a| cli::ServerCommand::NAMES.contains(&a.as_str()));
    let args = if server_side {
        let server = cli::ServerCli::parse();
        commands::Invocation::Server(server)
    } else {
        commands::Invocation::Device(cli::Cli::parse())
    };
    let json = args.json();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            output::error(json, &e);
            std::process::ExitCode::FAILURE
        }
    }
}
