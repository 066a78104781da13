//! `tandem vault …`: key-encryption-key administration on a server host. Runs against the
//! server's own configuration and database; servers keep serving meanwhile.

use std::io::Write;

use tandem_client::ClientError;
use tandem_server::clock;
use tandem_server::config::{Config, VaultProviderKind};
use tandem_server::store::Store;
use tandem_server::vault_ops::{self, RetireReport, RotateReport};
use tandem_server::wallets::RewrapProgress;

use super::server_config;
use crate::cli::{ProviderArg, ServerConfigArgs, VaultCommand};
use crate::output;

fn local(e: impl std::fmt::Display) -> ClientError {
    ClientError::Local(e.to_string())
}

pub async fn run(json: bool, cmd: VaultCommand) -> Result<(), ClientError> {
    server_config::init_logging("warn,sqlx=warn");
    // Data keys pass through this process in plaintext during a re-wrap.
    tandem_server::hardening::harden_process();
    match cmd {
        VaultCommand::Init { server } => {
            let (config, store, clock) = open(server).await?;
            let report = vault_ops::init(&config, store.clone(), clock)
                .await
                .map_err(local);
            store.close().await;
            let report = report?;
            output::print(json, &report, || {
                let mut text = format!(
                    "{} {} KEK {}\n  location: {}",
                    if report.created { "Created" } else { "Found" },
                    report.provider,
                    report.kek_id,
                    report.location
                );
                if report.registered {
                    text.push_str("\n  registered as the database's active KEK");
                } else {
                    text.push_str(&format!("\n  active KEK: {}", report.active_kek));
                }
                if let Some(note) = &report.note {
                    text.push_str(&format!("\nNote: {note}"));
                }
                text
            });
            Ok(())
        }
        VaultCommand::Rotate { server, retire_old } => {
            let (config, store, clock) = open(server).await?;
            let mut progress = progress_printer();
            let report =
                vault_ops::rotate(&config, store.clone(), clock, retire_old, &mut progress).await;
            store.close().await;
            finish_rewrap(json, report.map_err(local)?)
        }
        VaultCommand::Migrate {
            server,
            to,
            retire_old,
        } => {
            let (config, store, clock) = open(server).await?;
            let to = match to {
                ProviderArg::Pkcs11 => VaultProviderKind::Pkcs11,
            };
            let mut progress = progress_printer();
            let report =
                vault_ops::migrate(&config, store.clone(), clock, to, retire_old, &mut progress)
                    .await;
            store.close().await;
            finish_rewrap(json, report.map_err(local)?)
        }
        VaultCommand::Retire { server } => {
            let (config, store, clock) = open(server).await?;
            let report = vault_ops::retire(&config, store.clone(), clock).await;
            store.close().await;
            let report = report.map_err(local)?;
            output::print(json, &report, || describe_retire(&report));
            Ok(())
        }
        VaultCommand::Status { server } => {
            let (_config, store, _clock) = open(server).await?;
            let report = vault_ops::status(&store).await;
            store.close().await;
            let report = report.map_err(local)?;
            output::print(json, &report, || {
                let mut text = format!(
                    "active KEK: {}",
                    report.active.as_deref().unwrap_or("(none registered yet)")
                );
                for k in &report.keks {
                    text.push_str(&format!(
                        "\n  {:<12} {:<50} {} shares",
                        k.state, k.kek_id, k.shares
                    ));
                }
                if report.pending > 0 {
                    text.push_str(&format!(
                        "\n{} shares are not under the active KEK yet: `tandem vault rotate` finishes the job",
                        report.pending
                    ));
                }
                text
            });
            Ok(())
        }
    }
}

async fn open(
    server: ServerConfigArgs,
) -> Result<(Config, Store, tandem_server::clock::SharedClock), ClientError> {
    let config = server_config::load(server.config, server.data_dir, None)?;
    let clock = clock::from_spec(&config.clock).map_err(local)?;
    tandem_server::store::private_dir(&config.data_dir)
        .map_err(|e| local(format!("data dir: {e}")))?;
    let store = Store::connect(&config.database_url())
        .await
        .map_err(|e| local(format!("database: {e}")))?;
    Ok((config, store, clock))
}

/// Progress lines on stderr, with `--json` too (stdout stays pure JSON): plain lines, so they
/// also read well in a log file.
fn progress_printer() -> impl FnMut(RewrapProgress) + Send {
    let mut last = None;
    move |p: RewrapProgress| {
        if p.total == 0 || last == Some(p.done) {
            return;
        }
        last = Some(p.done);
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "re-wrapped {}/{} shares", p.done, p.total);
    }
}

fn finish_rewrap(json: bool, report: RotateReport) -> Result<(), ClientError> {
    output::print(json, &report, || {
        let mut text = if report.resumed {
            format!("Finished an interrupted re-wrap to KEK {}", report.to)
        } else {
            format!(
                "Switched to KEK {} ({}, {})\n  from: {}",
                report.to,
                if report.created {
                    "created"
                } else {
                    "existing"
                },
                report.location,
                report.from.join(", ")
            )
        };
        text.push_str(&format!("\nRe-wrapped {} shares", report.rewrapped));
        if report.raced > 0 {
            text.push_str(&format!(
                " ({} changed underneath by refreshes and needed none)",
                report.raced
            ));
        }
        for f in &report.failed {
            text.push_str(&format!(
                "\n  FAILED wallet {} epoch {} (under {}): {}",
                f.wallet_id, f.epoch, f.kek_id, f.reason
            ));
        }
        match &report.retired {
            Some(r) => text.push_str(&format!("\n{}", describe_retire(r))),
            None if report.remaining == 0 => text.push_str(
                "\nOld KEKs are kept (restoring an older database backup needs them); \
                 `tandem vault retire` destroys those no share names.",
            ),
            None => {}
        }
        if let Some(note) = &report.note {
            text.push_str(&format!("\nNote: {note}"));
        }
        text
    });
    if report.remaining > 0 {
        return Err(ClientError::Local(format!(
            "{} shares are still under an older KEK; run the command again after fixing the failures",
            report.remaining
        )));
    }
    Ok(())
}

fn describe_retire(report: &RetireReport) -> String {
    let mut text = if report.retired.is_empty() {
        "No KEK retired".to_owned()
    } else {
        format!("Retired and destroyed: {}", report.retired.join(", "))
    };
    for k in &report.kept {
        text.push_str(&format!("\n  kept {}: {}", k.kek_id, k.reason));
    }
    text
}
