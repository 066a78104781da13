//! `tandem serve --dev-tls`: HTTPS and WSS on loopback, the CLI trusting the development
//! certificate through `--ca-file` and verifying it normally; HSTS on TLS responses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::verify::recover_personal;
use common::{Backend, Cli, Server, ServerOptions, unique_email};

#[tokio::test(flavor = "multi_thread")]
async fn cli_over_tls_with_the_development_certificate() {
    let server = Server::start_with(
        &Backend::Sqlite,
        ServerOptions {
            args: vec!["--dev-tls".into()],
            ..Default::default()
        },
    );
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let cert = server.data_dir.join("dev-tls-cert.pem");
    assert!(cert.exists());

    // Without trusting the certificate, the CLI refuses the server.
    let email = unique_email("tls");
    let out = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .env("TANDEM_HOME", tempfile::tempdir().unwrap().path())
        .args([
            "--server",
            &server.url,
            "login",
            "--email",
            &email,
            "--send-only",
        ])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "an untrusted certificate must be refused"
    );

    // Trusting it explicitly: the whole flow works over HTTPS and WSS.
    let cli = Cli::new(&server).with_env("TANDEM_CA_FILE", cert.to_str().unwrap());
    cli.login(&server, &email);
    let wallet = cli.json(&["wallet", "create", "--chain", "evm"]);
    let r = cli.json(&[
        "sign",
        "message",
        "--wallet",
        wallet["id"].as_str().unwrap(),
        "over tls",
    ]);
    assert_eq!(
        recover_personal(b"over tls", r["signature"].as_str().unwrap()).to_checksum(None),
        wallet["address"].as_str().unwrap()
    );

    // HSTS on TLS responses.
    let pem = std::fs::read(&cert).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let resp = client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let hsts = resp.headers().get("strict-transport-security").unwrap();
    assert!(hsts.to_str().unwrap().starts_with("max-age="));
}
