//! Sends an ETH transfer through an alloy provider whose wallet is a Tandem wallet:
//! `ProviderBuilder::new().wallet(signer)`. The provider fills chain id, nonce and fees
//! from the node, the Tandem signer signs (a ceremony with the server, which parses the
//! transaction), and the provider broadcasts it with `eth_sendRawTransaction`.
//!
//! ```text
//! TANDEM_URL=http://127.0.0.1:8080 TANDEM_PASSPHRASE='a long device passphrase' \
//! RPC_URL=http://127.0.0.1:8545 cargo run -p tandem-client --example alloy_provider
//! ```
//!
//! Uses the login the quickstart saved in `TANDEM_DATA` (default `./tandem-data`). Without
//! `RPC_URL` it starts a small mocked JSON-RPC node on loopback that accepts the
//! transaction and checks its signature, so the example runs with no chain at all.

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, U256};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
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
    let (rpc_url, node) = match std::env::var("RPC_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let node = mock_node::start().await?;
            (node.url.clone(), Some(node))
        }
    };
    let hash = send_transfer(&device, &rpc_url).await?;
    println!("sent transaction {hash}");
    if let Some(node) = node {
        println!(
            "the mocked node received {} transaction(s)",
            node.received().len()
        );
    }
    Ok(())
}

/// Creates an EVM wallet and sends 1 wei from it through an alloy provider at `rpc_url`.
pub async fn send_transfer(
    device: &Device,
    rpc_url: &str,
) -> Result<B256, Box<dyn std::error::Error>> {
    let wallet = device.keygen(Chain::Evm).await?;
    let signer = device.evm_signer(&wallet)?;
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(rpc_url.parse()?);
    let tx = TransactionRequest::default()
        .with_to(Address::repeat_byte(0xde))
        .with_value(U256::from(1));
    let pending = provider.send_transaction(tx).await?;
    Ok(*pending.tx_hash())
}

/// A JSON-RPC node on loopback that answers what a provider asks before sending, and
/// keeps every raw transaction it receives.
pub mod mock_node {
    use std::sync::{Arc, Mutex};

    use axum::Json;
    use axum::extract::State;
    use serde_json::{Value, json};

    /// A running mocked node.
    pub struct MockNode {
        /// Its URL.
        pub url: String,
        received: Arc<Mutex<Vec<Vec<u8>>>>,
    }

    impl MockNode {
        /// The raw (EIP-2718) transactions sent to it so far.
        pub fn received(&self) -> Vec<Vec<u8>> {
            self.received.lock().map(|r| r.clone()).unwrap_or_default()
        }
    }

    /// Starts the node on a free loopback port.
    pub async fn start() -> std::io::Result<MockNode> {
        let received = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .route("/", axum::routing::post(rpc))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(MockNode { url, received })
    }

    async fn rpc(
        State(received): State<Arc<Mutex<Vec<Vec<u8>>>>>,
        Json(req): Json<Value>,
    ) -> Json<Value> {
        let gwei = "0x3b9aca00";
        let result = match req["method"].as_str().unwrap_or_default() {
            "eth_chainId" => json!("0x7a69"),
            "eth_getTransactionCount" => json!("0x0"),
            "eth_estimateGas" => json!("0x5208"),
            "eth_gasPrice" | "eth_maxPriorityFeePerGas" => json!(gwei),
            "eth_blockNumber" => json!("0x1"),
            "eth_feeHistory" => json!({
                "oldestBlock": "0x1",
                "baseFeePerGas": [gwei, gwei],
                "gasUsedRatio": [0.5],
                "reward": [[gwei]],
            }),
            "eth_sendRawTransaction" => {
                let raw = req["params"][0].as_str().unwrap_or_default();
                let bytes = hex::decode(raw.trim_start_matches("0x")).unwrap_or_default();
                let hash = alloy_primitives::keccak256(&bytes);
                if let Ok(mut r) = received.lock() {
                    r.push(bytes);
                }
                json!(hash)
            }
            other => {
                return Json(json!({"jsonrpc": "2.0", "id": req["id"],
                    "error": {"code": -32601, "message": format!("mock node: {other} not supported")}}));
            }
        };
        Json(json!({"jsonrpc": "2.0", "id": req["id"], "result": result}))
    }
}
