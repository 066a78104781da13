//! Quickstart: log in with an emailed code, create an EVM wallet, sign a message.
//!
//! ```text
//! TANDEM_URL=http://127.0.0.1:8080 TANDEM_EMAIL=me@example.com \
//! TANDEM_PASSPHRASE='a long device passphrase' \
//!     cargo run -p tandem-client --example quickstart
//! ```
//!
//! The code the server emails is read from standard input. The session, the pinned server
//! key and the encrypted share store are kept in `TANDEM_DATA` (default `./tandem-data`):
//! a second run reuses the login.

use std::io::BufRead;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let server = var("TANDEM_URL")?;
    let email = var("TANDEM_EMAIL")?;
    let passphrase = var("TANDEM_PASSPHRASE")?;
    let data_dir = std::env::var("TANDEM_DATA").unwrap_or_else(|_| "./tandem-data".into());
    let read_code = || {
        eprintln!("Enter the code sent to {email}:");
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        line.trim().to_owned()
    };
    let (address, signature) =
        quickstart(&server, &email, &passphrase, &data_dir, read_code).await?;
    println!("wallet {address} signed: {signature}");
    Ok(())
}

// ANCHOR: readme
use alloy_signer::Signer;
use tandem_client::Session;
use tandem_client::proto::wallet::Chain;

/// Logs in (or restores the saved login), creates an EVM wallet and signs a message.
pub async fn quickstart(
    server: &str,
    email: &str,
    passphrase: &str,
    data_dir: &str,
    read_code: impl FnOnce() -> String,
) -> Result<(alloy_primitives::Address, alloy_primitives::Signature), Box<dyn std::error::Error>> {
    // 1. Log in: the server emails a code; its channel key is pinned on first use.
    let builder = Session::builder(server).data_dir(data_dir);
    let session = match builder.restore().await? {
        Some(saved) => saved,
        None => {
            builder
                .start_email_login(email)
                .await?
                .verify(&read_code())
                .await?
        }
    };
    // 2. Open the encrypted share store (Argon2id runs off the async executor).
    let device = session.open_device(passphrase).await?;
    // 3. Create a wallet (a keygen ceremony) and sign with it as an alloy signer.
    let wallet = device.keygen(Chain::Evm).await?;
    let signer = device.evm_signer(&wallet)?;
    let signature = signer.sign_message(b"hello from Tandem").await?;
    Ok((signer.address(), signature))
}
// ANCHOR_END: readme
