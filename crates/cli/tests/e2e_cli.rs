//! End to end with the real binary: `tandem serve` on loopback, driven by the `tandem` CLI
//! as a user would, on SQLite and on PostgreSQL. Every signature is checked independently
//! (alloy ecrecover, the signed raw transaction decoded and recovered, ed25519-dalek
//! `verify_strict`), before and after a refresh.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::verify::*;
use common::{Backend, Cli, Server, each_backend, unique_email};

fn id(v: &serde_json::Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

/// Signs every EVM payload kind and checks each result independently.
fn sign_all_evm(cli: &Cli, wallet: &str, address: &str, round: u64) {
    let address: alloy_primitives::Address = address.parse().expect("address");

    let text = format!("hello from tandem #{round}");
    let r = cli.json(&["sign", "message", "--wallet", wallet, &text]);
    assert_eq!(
        recover_personal(text.as_bytes(), r["signature"].as_str().unwrap()),
        address
    );

    let r = cli.json(&["sign", "message", "--wallet", wallet, "--hex", "0xdeadbeef"]);
    assert_eq!(
        recover_personal(&[0xde, 0xad, 0xbe, 0xef], r["signature"].as_str().unwrap()),
        address
    );

    let typed = mail_typed_data();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mail.json");
    std::fs::write(&file, typed.to_string()).unwrap();
    let r = cli.json(&[
        "sign",
        "typed-data",
        "--wallet",
        wallet,
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        recover_typed(&typed, r["signature"].as_str().unwrap()),
        address
    );

    for (kind, unsigned) in [
        ("legacy", legacy_tx(round)),
        ("eip2930", eip2930_tx(round)),
        ("eip1559", eip1559_tx(round)),
    ] {
        let hex_tx = format!("0x{}", hex::encode(&unsigned));
        let r = cli.json(&["sign", "tx", "--wallet", wallet, &hex_tx]);
        let raw = r["signed_transaction"].as_str().expect("signed tx");
        let (env, from) = recover_raw_tx(raw);
        assert_eq!(from, address, "{kind}: sender");
        assert_eq!(tx_nonce(&env), round, "{kind}: nonce");
        assert_eq!(
            r["transaction_hash"].as_str().unwrap(),
            format!("{:#x}", env.tx_hash()),
            "{kind}: hash"
        );
        if kind == "legacy" {
            // EIP-155: v = chain_id * 2 + 35 + parity.
            let sig = env.signature();
            assert!(sig.r() > alloy_primitives::U256::ZERO);
        }
    }
}

fn sign_all_solana(cli: &Cli, wallet: &str, public_key: &[u8], round: u64) {
    let tx = solana_transfer(public_key, 1_000 + round);
    let r = cli.json(&["sign", "solana-tx", "--wallet", wallet, &tx]);
    verify_solana_tx(
        r["signed_transaction"].as_str().expect("signed tx"),
        public_key,
    );
    assert_eq!(
        r["intent"]["instructions"][0]["system_transfer"]["lamports"],
        1_000 + round
    );

    let text = format!("log in to example.com, nonce {round}");
    let r = cli.json(&["sign", "solana-message", "--wallet", wallet, &text]);
    let signed_bytes = solana_offchain_bytes(public_key, text.as_bytes());
    verify_ed25519(public_key, &signed_bytes, r["signature"].as_str().unwrap());
}

async fn full_flow(backend: Backend) {
    let server = Server::start(&backend);
    let cli = Cli::new(&server);
    let email = unique_email("e2e");
    let login = cli.login(&server, &email);
    assert_eq!(login["user"]["email"], email.as_str());

    let evm = cli.json(&["wallet", "create", "--chain", "evm"]);
    let sol = cli.json(&["wallet", "create", "--chain", "solana"]);
    assert_eq!(evm["chain"], "evm");
    assert_eq!(sol["chain"], "solana");
    assert_eq!(evm["epoch"], 0);
    let evm_id = id(&evm);
    let sol_id = id(&sol);
    let evm_addr = evm["address"].as_str().unwrap().to_owned();
    let sol_pk = unhex(sol["public_key"].as_str().unwrap());
    // The address is derived from the joint public key, independently here.
    let evm_pk = unhex(evm["public_key"].as_str().unwrap());
    let point = k256::PublicKey::from_sec1_bytes(&evm_pk).expect("secp256k1 point");
    use k256::elliptic_curve::sec1::ToSec1Point;
    let uncompressed = point.to_sec1_point(false);
    let derived = alloy_primitives::Address::from_raw_public_key(&uncompressed.as_bytes()[1..]);
    assert_eq!(
        derived.to_checksum(None),
        evm_addr,
        "EIP-55 address of the joint key"
    );
    assert_eq!(
        bs58::encode(&sol_pk).into_string(),
        sol["address"].as_str().unwrap()
    );

    let list = cli.json(&["wallet", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2);

    sign_all_evm(&cli, &evm_id, &evm_addr, 1);
    sign_all_solana(&cli, &sol_id, &sol_pk, 1);

    let refreshed = cli.json(&["wallet", "refresh", &evm_id]);
    assert_eq!(refreshed["epoch"], 1);
    assert_eq!(refreshed["address"], evm_addr.as_str());
    let refreshed = cli.json(&["wallet", "refresh", &sol_id]);
    assert_eq!(refreshed["epoch"], 1);

    sign_all_evm(&cli, &evm_id, &evm_addr, 2);
    sign_all_solana(&cli, &sol_id, &sol_pk, 2);

    // The old device share is gone after the refresh: only epoch 1 remains on disk.
    let shares = cli.home().join("shares/shares").join(&evm_id);
    let names: Vec<String> = std::fs::read_dir(&shares)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(names, vec!["1.current".to_owned()], "{}", backend.name());

    let status = cli.json(&["session", "status"]);
    assert_eq!(status["current"], true);
    let token = cli.token();
    cli.json(&["session", "logout"]);
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/wallets", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "session_revoked");
    let out = cli.run(&["wallet", "list"]);
    assert!(!out.status.success(), "the CLI forgot the session");
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_end_to_end_on_every_backend() {
    each_backend(full_flow).await;
}
