//! `tandem vault …`: key-encryption-key administration on a server host. Runs against the
//! server's own configuration and database; servers keep serving meanwhile.
//!
//! Every command first prints what it acts on (database, provider, token or key file) on
//! stderr, refuses to run without a configuration (instead of creating a database in the
//! working directory), never creates a database, and asks before destroying a key.

use std::io::{BufRead, IsTerminal, Write};

use tandem_client::ClientError;
use tandem_server::clock;
use tandem_server::config::{Config, VaultProviderKind};
use tandem_server::store::{Store, redact_url};
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
            let (config, store, clock) = open("init", server, Existing::Optional).await?;
            let report = vault_ops::init(&config, store.clone(), clock)
                .await
                .map_err(local);
            if let Some(store) = store {
                store.close().await;
            }
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
        VaultCommand::Rotate {
            server,
            retire_old,
            yes,
        } => {
            let (config, store, clock) = open_existing("rotate", server).await?;
            if retire_old && let Err(e) = confirm_destruction(yes, "rotate --retire-old") {
                store.close().await;
                return Err(e);
            }
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
            yes,
        } => {
            let (config, store, clock) = open_existing("migrate", server).await?;
            if retire_old && let Err(e) = confirm_destruction(yes, "migrate --retire-old") {
                store.close().await;
                return Err(e);
            }
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
        VaultCommand::Retire { server, yes } => {
            let (config, store, clock) = open_existing("retire", server).await?;
            if let Err(e) = confirm_destruction(yes, "retire") {
                store.close().await;
                return Err(e);
            }
            let report = vault_ops::retire(&config, store.clone(), clock).await;
            store.close().await;
            let report = report.map_err(local)?;
            output::print(json, &report, || describe_retire(&report));
            Ok(())
        }
        VaultCommand::Status { server } => {
            let (_config, store, _clock) = open_existing("status", server).await?;
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

/// Whether the command may run before the server created its database.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Existing {
    Required,
    Optional,
}

async fn open_existing(
    command: &str,
    server: ServerConfigArgs,
) -> Result<(Config, Store, tandem_server::clock::SharedClock), ClientError> {
    let (config, store, clock) = open(command, server, Existing::Required).await?;
    let store = store.ok_or_else(|| local("no database"))?;
    Ok((config, store, clock))
}

/// Loads the server's configuration, prints the target, and opens the database if it exists
/// (an SQLite file that does not is an error unless `existing` is `Optional`).
async fn open(
    command: &str,
    server: ServerConfigArgs,
    existing: Existing,
) -> Result<(Config, Option<Store>, tandem_server::clock::SharedClock), ClientError> {
    if !server_config::explicit(&server) {
        return Err(local(
            "no server configuration given: `tandem vault` acts on a server's database and \
             keys, so name them as for `tandem serve`: --config FILE (or TANDEM_CONFIG), or \
             --data-dir DIR (TANDEM_DATA_DIR) and TANDEM_DATABASE_URL. Nothing was created.",
        ));
    }
    let config = server_config::load(server.config, server.data_dir, None)?;
    let clock = clock::from_spec(&config.clock).map_err(local)?;
    let url = config.database_url();
    eprintln!("tandem vault {command}: {}", describe_target(&config));
    if let Some(file) = tandem_server::store::sqlite_file(&url)
        && !file.exists()
    {
        if existing == Existing::Required {
            return Err(local(format!(
                "no database at {}: either the configuration does not point where the server \
                 keeps its data (check --data-dir, database_url), or the server never started \
                 there. Nothing was created.",
                file.display()
            )));
        }
        if config.vault.provider == VaultProviderKind::Local {
            tandem_server::store::private_dir(&config.data_dir)
                .map_err(|e| local(format!("data dir: {e}")))?;
        }
        return Ok((config, None, clock));
    }
    let store = Store::connect(&url)
        .await
        .map_err(|e| local(format!("database {}: {e}", redact_url(&url))))?;
    Ok((config, Some(store), clock))
}

/// The database and key a command acts on, secrets hidden.
fn describe_target(config: &Config) -> String {
    let db = redact_url(&config.database_url());
    let p = &config.vault.pkcs11;
    let keys = match config.vault.provider {
        VaultProviderKind::Local => {
            format!("provider local, key file {}", config.key_file().display())
        }
        VaultProviderKind::Pkcs11 => format!(
            "provider pkcs11, module {}, token `{}`, key label `{}`",
            p.module
                .as_deref()
                .map(|m| m.display().to_string())
                .unwrap_or_default(),
            p.token_label.as_deref().unwrap_or_default(),
            p.key_label
        ),
    };
    format!("database {db}; {keys}")
}

/// Asks before destroying keys: `--yes`, or typing `yes` on a terminal.
fn confirm_destruction(yes: bool, command: &str) -> Result<(), ClientError> {
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(local(format!(
            "`tandem vault {command}` destroys old KEKs for good (database backups taken \
             before the rotation can no longer be restored): add --yes to confirm"
        )));
    }
    eprint!(
        "This destroys old KEKs for good; database backups taken before the rotation can no \
         longer be restored. Type `yes` to continue: "
    );
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| local(format!("cannot read the answer: {e}")))?;
    if line.trim() == "yes" {
        Ok(())
    } else {
        Err(local("not confirmed; nothing was destroyed"))
    }
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
