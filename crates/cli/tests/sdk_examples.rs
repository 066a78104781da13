//! The SDK as an integrator uses it, against the real server binary: the examples in
//! `crates/client/examples` (compiled into this test as they are), the README snippet, the
//! alloy wallet through a provider, `sol!` typed data without serde, the Solana signer
//! (sync trait, typed async, partial signing, raw `signMessage` and its refusals), and the
//! session builder (restore, refresh, pin).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[allow(dead_code)]
#[path = "../../client/examples/quickstart.rs"]
mod quickstart;

#[allow(dead_code)]
#[path = "../../client/examples/alloy_provider.rs"]
mod alloy_provider;

#[allow(dead_code)]
#[path = "../../client/examples/solana_transfer.rs"]
mod solana_transfer;

use alloy_consensus::Transaction as _;
use alloy_eips::eip2718::Decodable2718;
use alloy_signer::Signer as _;
use common::verify::*;
use common::{Backend, Server, unique_email};
use ed25519_dalek::{Signer as _, Verifier as _};
use tandem_client::store::KdfParams;
use tandem_client::{ClientError, Device, Session, SolanaSigner, TandemSigner};
use tandem_proto::ErrorCode;
use tandem_proto::wallet::Chain;

const CHEAP: KdfParams = KdfParams {
    m_kib: 256,
    t: 1,
    p: 1,
};

/// Logs in through the session builder with the code from the server's outbox.
async fn login(server: &Server, dir: &std::path::Path) -> Session {
    let email = unique_email("sdkex");
    let login = Session::builder(server.url.clone())
        .data_dir(dir)
        .start_email_login(&email)
        .await
        .unwrap();
    assert!(login.pins_new_key());
    login.verify(&server.login_code(&email)).await.unwrap()
}

async fn device(server: &Server, dir: &std::path::Path) -> Device {
    let session = login(server, dir).await;
    session
        .open_device_with("a device passphrase for tests", CHEAP)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn quickstart_example_and_readme_snippet_run_as_written() {
    let server = Server::start(&Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let email = unique_email("quick");
    let (address, signature) = quickstart::quickstart(
        &server.url,
        &email,
        "a long device passphrase",
        data,
        || server.login_code(&email),
    )
    .await
    .unwrap();
    assert_eq!(
        signature
            .recover_address_from_msg(b"hello from Tandem")
            .unwrap(),
        address
    );
    // A second run restores the saved login: no code is asked for.
    let (second, _) = quickstart::quickstart(
        &server.url,
        &email,
        "a long device passphrase",
        data,
        || panic!("the saved session should have been restored"),
    )
    .await
    .unwrap();
    assert_ne!(second, address, "a second wallet");

    // The README shows exactly the code that just ran.
    let example = include_str!("../../client/examples/quickstart.rs");
    let snippet = example
        .split("// ANCHOR: readme\n")
        .nth(1)
        .and_then(|rest| rest.split("// ANCHOR_END: readme").next())
        .unwrap();
    let readme = include_str!("../../../README.md");
    assert!(
        readme.contains(snippet),
        "README.md's SDK snippet differs from crates/client/examples/quickstart.rs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn alloy_provider_example_sends_through_an_ethereum_wallet() {
    let server = Server::start(&Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let device = device(&server, dir.path()).await;
    let node = alloy_provider::mock_node::start().await.unwrap();
    let hash = alloy_provider::send_transfer(&device, &node.url)
        .await
        .unwrap();

    let received = node.received();
    assert_eq!(received.len(), 1);
    let envelope = alloy_consensus::TxEnvelope::decode_2718(&mut received[0].as_slice()).unwrap();
    assert_eq!(*envelope.tx_hash(), hash);
    assert_eq!(envelope.chain_id(), Some(31337), "filled from eth_chainId");
    assert_eq!(envelope.value(), alloy_primitives::U256::from(1));
    // Recovered independently from the broadcast bytes: the wallet's own address.
    let signer =
        alloy_consensus::transaction::SignerRecoverable::recover_signer(&envelope).unwrap();
    let wallets = device.wallets().await.unwrap();
    let wallet = wallets[0].1.as_ref().unwrap();
    assert_eq!(signer.to_checksum(None), wallet.address);
}

alloy_sol_types::sol! {
    struct Person {
        string name;
        address wallet;
    }
    struct Mail {
        Person from;
        Person[] to;
        string contents;
        uint256 amount;
        int64 delta;
        bytes32 tag;
        bytes note;
        bool urgent;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sol_structs_sign_without_serde_and_errors_come_back_typed() {
    let server = Server::start(&Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let device = device(&server, dir.path()).await;
    let wallet = device.keygen(Chain::Evm).await.unwrap();
    let signer = TandemSigner::new(device.clone(), &wallet).unwrap();
    let person = |name: &str, byte| Person {
        name: name.into(),
        wallet: alloy_primitives::Address::repeat_byte(byte),
    };
    let mail = Mail {
        from: person("Cow", 0xcd),
        to: vec![person("Bob", 0xbb), person("Eve", 0xee)],
        contents: "Hello, Bob!".into(),
        amount: alloy_primitives::U256::MAX,
        delta: -42,
        tag: alloy_primitives::B256::repeat_byte(0x11),
        note: vec![1, 2, 3].into(),
        urgent: true,
    };
    let domain = alloy_sol_types::eip712_domain! {
        name: "Ether Mail",
        version: "1",
        chain_id: 1,
        verifying_contract: alloy_primitives::Address::repeat_byte(0xcc),
    };
    // Through alloy's trait (generic over any SolStruct), no serde derive on `Mail`.
    let sig = signer.sign_typed_data(&mail, &domain).await.unwrap();
    let hash = alloy_sol_types::SolStruct::eip712_signing_hash(&mail, &domain);
    assert_eq!(
        sig.recover_address_from_prehash(&hash).unwrap(),
        signer.address()
    );

    // A bare hash is the one unsupported operation.
    let err = signer
        .sign_hash(&alloy_primitives::B256::repeat_byte(1))
        .await
        .unwrap_err();
    assert_eq!(
        err.unsupported(),
        Some(alloy_signer::UnsupportedSignerOperation::SignHash)
    );

    // A server refusal comes back out of alloy's error as the Tandem error.
    let frozen = signer.clone().with_chain_id(Some(5));
    let mut tx = alloy_consensus::TxLegacy {
        chain_id: Some(1),
        gas_limit: 21_000,
        ..Default::default()
    };
    let err = frozen.sign_transaction(&mut tx).await.unwrap_err();
    let tandem = ClientError::from_alloy(err).unwrap();
    assert!(matches!(tandem, ClientError::Invalid(_)), "{tandem}");
    let too_big = signer.sign_message(&vec![b'a'; 2 << 20]).await.unwrap_err();
    let tandem = ClientError::downcast_alloy_ref(&too_big).expect("a Tandem error");
    assert!(
        tandem.code().is_some() || matches!(tandem, ClientError::TooLarge { .. }),
        "{tandem}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn solana_signer_signs_transfers_partially_and_raw_messages() {
    let server = Server::start(&Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let device = device(&server, dir.path()).await;
    let blockhash = solana_message::Hash::new_from_array([7; 32]);
    let (legacy, versioned) = solana_transfer::sign_transfers(&device, blockhash.clone())
        .await
        .unwrap();
    let wallet = device.wallets().await.unwrap()[0]
        .1
        .as_ref()
        .unwrap()
        .clone();
    let key = unhex(&wallet.public_key);
    let verify = |message: &[u8], sig: &solana_signature::Signature| {
        verify_ed25519(&key, message, &bs58::encode(sig.as_ref()).into_string())
    };
    verify(&legacy.message.serialize(), &legacy.signatures[0]);
    verify(&versioned.message.serialize(), &versioned.signatures[0]);

    // Partial signing: a co-signer signed first; Tandem fills only its own slot.
    let signer = SolanaSigner::new(device.clone(), &wallet).unwrap();
    let cosigner = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let co = solana_address::Address::new_from_array(cosigner.verifying_key().to_bytes());
    let me = signer.pubkey();
    let instructions = [
        solana_transfer::transfer(&me, &co, 10),
        solana_transfer::transfer(&co, &me, 20),
    ];
    let message = solana_message::Message::new(&instructions, Some(&me));
    let mut tx = solana_transaction::Transaction::new_unsigned(message);
    tx.message.recent_blockhash = blockhash;
    let co_index = tx
        .message
        .account_keys
        .iter()
        .position(|k| *k == co)
        .unwrap();
    let co_sig = cosigner.sign(&tx.message.serialize()).to_bytes();
    tx.signatures[co_index] = solana_signature::Signature::from(co_sig);
    signer.sign_legacy_transaction(&mut tx).await.unwrap();
    assert_eq!(tx.signatures[co_index].as_ref(), co_sig.as_slice(), "kept");
    verify(&tx.message.serialize(), &tx.signatures[0]);

    // Raw signMessage (Sign-In-With-Solana): the signature covers the exact bytes.
    let siws = b"example.com wants you to sign in with your Solana account:\nNonce: 1";
    let sig = signer.sign_message(siws).await.unwrap();
    cosigner_free_verify(&key, siws, &sig);
    // ... and never a transaction message, even through the raw method.
    let err = signer
        .sign_message(&tx.message.serialize())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidMessage), "{err}");
    // Off-chain messages are the other format.
    let sig = signer.sign_offchain_message("hello").await.unwrap();
    verify(&solana_offchain_bytes(&key, b"hello"), &sig);

    // The synchronous trait on a thread outside the runtime uses the captured one; on a
    // current-thread runtime it refuses instead of deadlocking.
    let outside = signer.clone();
    let sig = std::thread::spawn(move || {
        solana_signer::Signer::try_sign_message(&outside, b"from a plain thread")
    })
    .join()
    .unwrap()
    .unwrap();
    cosigner_free_verify(&key, b"from a plain thread", &sig);
    let stuck = signer.clone();
    let refused = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async { solana_signer::Signer::try_sign_message(&stuck, b"x") })
    })
    .join()
    .unwrap();
    assert!(refused.is_err());
}

fn cosigner_free_verify(key: &[u8], message: &[u8], sig: &solana_signature::Signature) {
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&key.try_into().unwrap()).unwrap();
    let sig = ed25519_dalek::Signature::from_bytes(&<[u8; 64]>::from(*sig));
    vk.verify(message, &sig).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn session_restores_refreshes_and_refuses_a_changed_server_key() {
    let server = Server::start(&Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let first = login(&server, dir.path()).await;
    let builder = Session::builder(server.url.clone())
        .data_dir(dir.path())
        .refresh_within(std::time::Duration::from_secs(100 * 365 * 86_400));
    // Restored with the token and the pin; refreshed because expiry is "near".
    let restored = builder.restore().await.unwrap().expect("a saved session");
    assert_eq!(restored.info().id, first.info().id);
    assert!(restored.info().refreshed_at >= first.info().refreshed_at);
    assert_eq!(restored.api().server_key(), first.api().server_key());

    // Another key pinned for this origin: the login refuses before sending the email.
    let mut known = tandem_client::KnownServers::open(dir.path()).unwrap();
    known.forget(&server.url).unwrap();
    known.pin(&server.url, [9; 32]).unwrap();
    let err = builder
        .start_email_login("x@example.test")
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::ServerKeyChanged { .. }), "{err}");

    // After logout nothing is restored, and the old token needs a login.
    let api = restored.api().clone();
    restored.logout().await.unwrap();
    known.forget(&server.url).unwrap();
    assert!(builder.restore().await.unwrap().is_none());
    let err = api.session().await.unwrap_err();
    assert!(err.needs_login(), "{err}");
}

/// The CLI goes through the same public API: keygen and signing builders, and the raw
/// Solana `signMessage` payload with its refusal of transaction messages.
#[tokio::test(flavor = "multi_thread")]
async fn cli_signs_raw_solana_messages_through_the_public_api() {
    let server = Server::start(&Backend::Sqlite);
    let cli = common::Cli::new(&server);
    cli.login(&server, &unique_email("clisol"));
    let sol = cli.json(&["wallet", "create", "--chain", "solana"]);
    let wallet = sol["id"].as_str().unwrap();
    let key = unhex(sol["public_key"].as_str().unwrap());
    let text = "example.com wants you to sign in with your Solana account";
    let r = cli.json(&["sign", "solana-sign-message", "--wallet", wallet, text]);
    verify_ed25519(&key, text.as_bytes(), r["signature"].as_str().unwrap());

    let me = solana_address::Address::new_from_array(key.as_slice().try_into().unwrap());
    let message =
        solana_message::Message::new(&[solana_transfer::transfer(&me, &me, 1)], Some(&me));
    let tx_hex = hex::encode(message.serialize());
    let out = cli.run(&[
        "--json",
        "sign",
        "solana-sign-message",
        "--wallet",
        wallet,
        "--hex",
        &tx_hex,
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid_message")
            || String::from_utf8_lossy(&out.stdout).contains("invalid_message"),
        "{out:?}"
    );
}
