//! Signs a Solana transfer with a Tandem wallet: a legacy transaction through the Solana
//! SDK's own `Transaction::try_sign` (Tandem implements `solana_signer::Signer`), and a
//! v0 transaction through the async, typed `SolanaSigner::sign_transaction`.
//!
//! ```text
//! TANDEM_URL=http://127.0.0.1:8080 TANDEM_PASSPHRASE='a long device passphrase' \
//!     cargo run -p tandem-client --example solana_transfer
//! ```
//!
//! Uses the login the quickstart saved in `TANDEM_DATA` (default `./tandem-data`). It
//! prints the signed transactions (base64, ready for `sendTransaction`); fetch a real
//! recent blockhash from your RPC node before sending.

use base64::Engine;
use solana_address::Address;
use solana_message::{AccountMeta, Hash, Instruction, Message, VersionedMessage, v0};
use solana_transaction::Transaction;
use solana_transaction::versioned::VersionedTransaction;
use tandem_client::proto::wallet::Chain;
use tandem_client::{ClientError, Device, Session};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let server = var("TANDEM_URL")?;
    let passphrase = var("TANDEM_PASSPHRASE")?;
    let data_dir = std::env::var("TANDEM_DATA").unwrap_or_else(|_| "./tandem-data".into());
    let session = Session::builder(server)
        .data_dir(data_dir)
        .restore()
        .await?
        .ok_or(ClientError::NotLoggedIn)?;
    let device = session.open_device(&passphrase).await?;
    let blockhash = Hash::new_from_array([7; 32]); // use getLatestBlockhash in real code
    let (legacy, versioned) = sign_transfers(&device, blockhash).await?;
    let b64 = base64::engine::general_purpose::STANDARD;
    println!("legacy: {}", b64.encode(wincode::serialize(&legacy)?));
    println!("v0:     {}", b64.encode(wincode::serialize(&versioned)?));
    Ok(())
}

/// A System program transfer of `lamports` from `from` to `to`.
pub fn transfer(from: &Address, to: &Address, lamports: u64) -> Instruction {
    let mut data = 2u32.to_le_bytes().to_vec(); // SystemInstruction::Transfer
    data.extend_from_slice(&lamports.to_le_bytes());
    Instruction {
        program_id: Address::default(), // the System program
        accounts: vec![AccountMeta::new(*from, true), AccountMeta::new(*to, false)],
        data,
    }
}

/// Creates a Solana wallet and signs two transfers from it.
pub async fn sign_transfers(
    device: &Device,
    blockhash: Hash,
) -> Result<(Transaction, VersionedTransaction), Box<dyn std::error::Error>> {
    let wallet = device.keygen(Chain::Solana).await?;
    let signer = device.solana_signer(&wallet)?;
    let me = signer.pubkey();
    let to = Address::new_from_array([9; 32]);

    // The Solana SDK's synchronous signing API, with Tandem as the `Signer`.
    let message = Message::new(&[transfer(&me, &to, 1_000)], Some(&me));
    let mut legacy = Transaction::new_unsigned(message);
    legacy.try_sign(&[&signer], blockhash.clone())?;

    // The async, typed API: fills this wallet's slot only (partial signing).
    let message = v0::Message::try_compile(&me, &[transfer(&me, &to, 2_000)], &[], blockhash)?;
    let mut versioned = VersionedTransaction::new_unsigned(VersionedMessage::V0(message));
    signer.sign_transaction(&mut versioned).await?;
    Ok((legacy, versioned))
}
