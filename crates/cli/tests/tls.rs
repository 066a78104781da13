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

/// A self-signed certificate for 127.0.0.1: (certificate PEM, key PEM, certificate DER).
fn self_signed() -> (String, String, Vec<u8>) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    (
        certified.cert.pem(),
        certified.signing_key.serialize_pem(),
        certified.cert.der().to_vec(),
    )
}

/// Issue 14, item 3: `tls_cert`/`tls_key` from the TOML file; on SIGHUP the server loads the
/// replaced files: a new connection sees the new certificate while an open one stays up.
#[tokio::test(flavor = "multi_thread")]
async fn certificates_from_the_file_reload_on_sighup_without_dropping_connections() {
    let dir = tempfile::tempdir().unwrap();
    let (pem_a, key_a, der_a) = self_signed();
    let (pem_b, key_b, der_b) = self_signed();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, &pem_a).unwrap();
    std::fs::write(&key, &key_a).unwrap();
    let file = dir.path().join("tandem.toml");
    std::fs::write(
        &file,
        format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"\n",
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    let server = Server::start_with(
        &Backend::Sqlite,
        ServerOptions {
            env: vec![("TANDEM_CONFIG".into(), file.display().to_string())],
            ..Default::default()
        },
    );
    assert!(server.url.starts_with("https://"), "{}", server.url);

    let client = || {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(pem_a.as_bytes()).unwrap())
            .add_root_certificate(reqwest::Certificate::from_pem(pem_b.as_bytes()).unwrap())
            .tls_info(true)
            .build()
            .unwrap()
    };
    let presented = |client: reqwest::Client| {
        let url = format!("{}/healthz", server.url);
        async move {
            let resp = client.get(url).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            resp.extensions()
                .get::<reqwest::tls::TlsInfo>()
                .and_then(|i| i.peer_certificate())
                .map(<[u8]>::to_vec)
                .unwrap()
        }
    };
    let open = client();
    assert_eq!(presented(open.clone()).await, der_a);

    // Renew: replace both files (atomically, as certbot's deploy hooks do), then SIGHUP.
    for (path, text) in [(&cert, &pem_b), (&key, &key_b)] {
        let tmp = path.with_extension("new");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }
    let hup = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !server.log().contains("TLS certificate reloaded") {
        assert!(
            std::time::Instant::now() < deadline,
            "no reload logged:\n{}",
            server.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // The open (pooled) connection is still the one set up with A: had the server dropped
    // it, the client would have reconnected and seen B.
    assert_eq!(presented(open).await, der_a);
    // A new connection gets B.
    assert_eq!(presented(client()).await, der_b);

    // A broken file keeps the server on B (and says so).
    std::fs::write(&cert, "not a certificate").unwrap();
    let _ = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !server.log().contains("TLS certificate reload failed") {
        assert!(std::time::Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(presented(client()).await, der_b);
}
