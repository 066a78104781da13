//! `tandem recovery`, `tandem backup`, `tandem offline` and `tandem wallet export`.

use std::io::{IsTerminal, Write};
use std::path::Path;

use tandem_client::ClientError;
use tandem_client::recovery::{BackupKit, ExportedKey, RecoverySecret, offline};
use zeroize::Zeroizing;

use super::account::with_step_up;
use super::login::{prompt_line, read_secret};
use crate::cli::{BackupCommand, KeyFormat, OfflineCommand, RecoveryCommand};
use crate::context::Context;
use crate::output;

pub async fn run_recovery(
    ctx: &Context,
    json: bool,
    cmd: RecoveryCommand,
) -> Result<(), ClientError> {
    let api = ctx.api()?;
    match cmd {
        RecoveryCommand::Status => {
            let status = api.recovery_status().await?;
            let request = match api.recovery_request().await {
                Ok(r) => Some(r),
                Err(e) if e.code() == Some(tandem_client::proto::ErrorCode::NotFound) => None,
                Err(e) => return Err(e),
            };
            let mut shown = serde_json::to_value(&status).unwrap_or_default();
            shown["request"] = serde_json::to_value(&request).unwrap_or_default();
            output::print(json, &shown, || {
                let mut s = match &status.key_id {
                    Some(id) => format!(
                        "A recovery secret is set up (recovery key {}, version {}, since {}); \
                         the server holds escrows of {} wallet(s).",
                        output::clean(id),
                        status.version.unwrap_or(1),
                        output::when(status.updated_at.unwrap_or(0)),
                        status.escrows.len()
                    ),
                    None => "No recovery secret yet: `tandem recovery setup`.".to_owned(),
                };
                if let Some(r) = &request {
                    s.push_str(&format!(
                        "\nNewest recovery: {} ({}), started {}, may complete {}.",
                        output::clean(&r.id),
                        output::clean(&r.state),
                        output::when(r.created_at),
                        output::when(r.not_before)
                    ));
                }
                s
            });
        }
        RecoveryCommand::Start { secret_file } => {
            let secret = read_recovery_secret(secret_file.as_deref())?;
            let keys = secret.keys();
            let request = with_step_up(&api, || api.recovery_start(&keys)).await?;
            output::print(json, &request, || {
                format!(
                    "Recovery {} started. It can complete on {} ({} from now) with \
                     `tandem recovery complete`, unless it is cancelled from a signed-in \
                     device meanwhile; every address and number of the account has been told.",
                    output::clean(&request.id),
                    output::rfc3339(request.not_before),
                    output::duration(request.not_before - request.created_at)
                )
            });
        }
        RecoveryCommand::Cancel => {
            let request = api.recovery_cancel().await?;
            output::print(json, &request, || {
                format!("Recovery {} cancelled.", output::clean(&request.id))
            });
        }
        RecoveryCommand::Complete { secret_file } => {
            let secret = read_recovery_secret(secret_file.as_deref())?;
            let keys = secret.keys();
            let done = with_step_up(&api, || api.recovery_complete(&keys)).await?;
            // Every session ended with the completion; this device continues with the new one.
            let mut profile = ctx.profile()?;
            profile.token = done.login.token.clone();
            profile.session_id = done.login.session.id.clone();
            profile.save(&ctx.dir)?;
            let device = ctx.device()?;
            let bar = output::spinner(json, "renewing the recovered wallets' shares");
            let wallets = device.recovery_finish(&secret, &done.escrows).await;
            bar.finish_and_clear();
            let wallets = wallets?;
            let shown = serde_json::json!({ "request": done.request, "wallets": wallets });
            output::print(json, &shown, || {
                let mut s = format!(
                    "Recovered {} wallet(s); every other session of the account has ended and \
                     the lost devices' shares no longer work:",
                    wallets.len()
                );
                for w in &wallets {
                    s.push_str(&format!(
                        "\n  {}  {}  epoch {}",
                        output::clean(&w.id),
                        output::clean(&w.address),
                        w.epoch
                    ));
                }
                s.push_str(
                    "\nNow replace the recovery secret (`tandem recovery setup`) and save new \
                     Backup Kits.",
                );
                s
            });
        }
        RecoveryCommand::Setup { secret_file } => {
            let secret =
                RecoverySecret::generate().map_err(|e| ClientError::Local(e.to_string()))?;
            match &secret_file {
                Some(path) => write_new_private(path, secret.reveal().as_bytes())?,
                None => show_and_confirm(&secret)?,
            }
            let keys = secret.keys();
            let device = ctx.device()?;
            with_step_up(&api, || api.set_recovery(&keys)).await?;
            // This device seals escrows to this key from now on (and to no key an HTTP answer
            // names); its shares are escrowed under it at once.
            device.store().set_recovery_key(&keys.public_key())?;
            device.sync_escrows().await?;
            let status = api.recovery_status().await?;
            output::print(json, &status, || {
                format!(
                    "Recovery is set up (recovery key {}). Backup Kits are sealed to it from now on; \
                     kits saved before open only with the secret they were sealed to.",
                    status
                        .key_id
                        .as_deref()
                        .map(output::clean)
                        .unwrap_or_default()
                )
            });
        }
    }
    Ok(())
}

/// Shows the secret once and has the user type it back, so a miscopied one is caught now.
fn show_and_confirm(secret: &RecoverySecret) -> Result<(), ClientError> {
    let written = secret.reveal();
    let groups: Vec<&str> = written.split('-').collect();
    let mut shown = String::from(
        "\nYour recovery secret (write it down on paper; it is shown only this once):\n\n",
    );
    for line in groups.chunks(7) {
        shown.push_str("    ");
        shown.push_str(&line.join("-"));
        shown.push('\n');
    }
    shown.push_str(
        "\nWith it and a Backup Kit you can sign without the server; with it (and your TOTP\n\
         code) you can recover your wallets after losing every device. Keep it apart from\n\
         your Backup Kits. It is not a seed phrase: no other wallet will take it.\n\n",
    );
    // On a terminal it goes to the terminal only; otherwise to standard error, so that
    // standard output stays free of it.
    eprint!("{shown}");
    let _ = std::io::stderr().flush();
    let typed = Zeroizing::new(prompt_line("Type the secret back to confirm: ")?);
    match RecoverySecret::parse(&typed) {
        Ok(back) if *back.reveal() == *written => Ok(()),
        Ok(_) => Err(ClientError::Local(
            "that is a valid secret, but not this one; nothing was set up, run it again".into(),
        )),
        Err(e) => Err(ClientError::Local(format!(
            "{e}; nothing was set up, run it again"
        ))),
    }
}

pub async fn run_backup(ctx: &Context, json: bool, cmd: BackupCommand) -> Result<(), ClientError> {
    match cmd {
        BackupCommand::Kit { wallet, out, force } => {
            // Refuse before asking: every kit taken counts against the day's few and is
            // announced on every channel.
            if let Some(path) = &out
                && !force
                && path.exists()
            {
                return Err(ClientError::Local(format!(
                    "{} exists; choose another --out or pass --force",
                    path.display()
                )));
            }
            let device = ctx.device()?;
            let kit = with_step_up(device.api(), || device.backup_kit(&wallet)).await?;
            let path = out.unwrap_or_else(|| kit.file_name.clone().into());
            if force {
                write_private(&path, kit.text.as_bytes())?;
            } else {
                write_new_private(&path, kit.text.as_bytes())?;
            }
            let shown = serde_json::json!({
                "wallet_id": kit.wallet_id,
                "epoch": kit.epoch,
                "recovery_key_id": kit.recovery_key_id,
                "file": path.display().to_string(),
            });
            output::print(json, &shown, || {
                format!(
                    "Saved the Backup Kit of {} (epoch {}) to {}.\nIt opens with the recovery \
                     secret {}; this device keeps the share it pairs with, through refreshes, \
                     until you save a newer kit.",
                    output::clean(&kit.wallet_id),
                    kit.epoch,
                    path.display(),
                    output::clean(&kit.recovery_key_id)
                )
            });
            Ok(())
        }
    }
}

pub fn run_offline(ctx: &Context, json: bool, cmd: OfflineCommand) -> Result<(), ClientError> {
    match cmd {
        OfflineCommand::Sign {
            kit,
            secret_file,
            what,
        } => {
            let (wallet, payload) = super::sign::payload_of(what)?;
            let kit = read_kit(&kit)?;
            if kit.wallet() != wallet {
                return Err(ClientError::Local(format!(
                    "the kit is for wallet {}, not {wallet}",
                    kit.wallet()
                )));
            }
            let secret = read_recovery_secret(secret_file.as_deref())?;
            let store = ctx.store()?;
            let result = offline::sign(&store, &kit, &secret, &payload)?;
            super::sign::print_result(json, &result);
            Ok(())
        }
        OfflineCommand::Export {
            kit,
            secret_file,
            out,
            format,
        } => {
            let kit = read_kit(&kit)?;
            let secret = read_recovery_secret(secret_file.as_deref())?;
            let store = ctx.store()?;
            let key = offline::export(&store, &kit, &secret)?;
            print_key(json, kit.wallet(), &key, out.as_deref(), format)
        }
    }
}

/// `tandem wallet export`.
pub async fn export(
    ctx: &Context,
    json: bool,
    wallet: &str,
    out: Option<&Path>,
    format: KeyFormat,
    yes: bool,
) -> Result<(), ClientError> {
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(ClientError::Local(
                "exporting puts the whole key on this machine; confirm with --yes".into(),
            ));
        }
        let answer = prompt_line(
            "This assembles the wallet's whole private key on this machine, and the server \
             will show the wallet as exported from now on. Type `export` to go on: ",
        )?;
        if answer != "export" {
            return Err(ClientError::Local("not exported".into()));
        }
    }
    let device = ctx.device()?;
    let key = with_step_up(device.api(), || device.export_key(wallet)).await?;
    print_key(json, wallet, &key, out, format)
}

fn print_key(
    json: bool,
    wallet: &str,
    key: &ExportedKey,
    out: Option<&Path>,
    format: KeyFormat,
) -> Result<(), ClientError> {
    if format == KeyFormat::Keystore {
        return print_keystore(json, wallet, key, out);
    }
    let note = match key {
        ExportedKey::Evm { .. } => {
            "a secp256k1 private key: any EVM wallet imports it (MetaMask: Import account)"
        }
        ExportedKey::Solana { .. } => {
            "an expanded Ed25519 key (scalar || nonce prefix, 64 bytes). This key was made \
             by two parties and never had a seed: wallets that import only seeds or \
             seed||public-key keypairs (Phantom, Solflare, solana-keygen) cannot take it; \
             libraries that sign with an expanded key (e.g. ed25519-dalek's hazmat API) can"
        }
    };
    let secret = key.secret_hex();
    if let Some(path) = out {
        write_new_private(path, secret.as_bytes())?;
    }
    let mut shown = serde_json::json!({
        "wallet_id": wallet,
        "chain": key.chain(),
        "address": key.address(),
        "public_key": hex::encode(key.public_key()),
        "format": note,
    });
    match out {
        Some(path) => shown["file"] = path.display().to_string().into(),
        None => shown["private_key"] = secret.as_str().into(),
    }
    output::print(json, &shown, || {
        let mut s = format!(
            "Wallet {} ({}, {})\nThis is {note}.\n",
            output::clean(wallet),
            key.chain(),
            output::clean(key.address())
        );
        match out {
            Some(path) => s.push_str(&format!("Written to {}.", path.display())),
            None => s.push_str(&format!("private key: {}", secret.as_str())),
        }
        s
    });
    Ok(())
}

fn print_keystore(
    json: bool,
    wallet: &str,
    key: &ExportedKey,
    out: Option<&Path>,
) -> Result<(), ClientError> {
    let passphrase = Zeroizing::new(read_secret("Passphrase for the keystore: ")?);
    if std::io::stdin().is_terminal() {
        let again = Zeroizing::new(read_secret("Again: ")?);
        if *again != *passphrase {
            return Err(ClientError::Local("the passphrases differ".into()));
        }
    }
    let keystore = Zeroizing::new(key.keystore_v3(&passphrase)?);
    if let Some(path) = out {
        write_new_private(path, keystore.as_bytes())?;
    }
    let mut shown = serde_json::json!({
        "wallet_id": wallet,
        "chain": key.chain(),
        "address": key.address(),
        "format": "ethereum keystore v3",
    });
    match out {
        Some(path) => shown["file"] = path.display().to_string().into(),
        None => {
            shown["keystore"] = serde_json::from_str(&keystore).unwrap_or_default();
        }
    }
    output::print(json, &shown, || match out {
        Some(path) => format!(
            "Wrote the keystore of {} ({}) to {}.",
            output::clean(wallet),
            output::clean(key.address()),
            path.display()
        ),
        None => keystore.to_string(),
    });
    Ok(())
}

fn read_kit(path: &Path) -> Result<BackupKit, ClientError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ClientError::Local(format!("cannot read {}: {e}", path.display())))?;
    BackupKit::from_text(&text).map_err(|e| ClientError::Local(format!("{}: {e}", path.display())))
}

fn read_recovery_secret(file: Option<&Path>) -> Result<RecoverySecret, ClientError> {
    let text = match file {
        Some(path) => Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| ClientError::Local(format!("cannot read {}: {e}", path.display())))?,
        ),
        None => Zeroizing::new(read_secret("Recovery secret: ")?),
    };
    RecoverySecret::parse(&text).map_err(|e| ClientError::Local(format!("recovery secret: {e}")))
}

/// Creates `path` (refusing to replace anything) readable by its owner only.
fn write_new_private(path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
    open_private(path, true)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .map_err(|e| ClientError::Local(format!("cannot write {}: {e}", path.display())))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
    open_private(path, false)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .map_err(|e| ClientError::Local(format!("cannot write {}: {e}", path.display())))
}

fn open_private(path: &Path, new: bool) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(0o600);
    if new {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    options.open(path)
}
