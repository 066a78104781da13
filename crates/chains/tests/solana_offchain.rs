//! Solana off-chain messages: byte layout per the spec, formats, limits, signing.
// Tests may panic on unexpected values: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::sol_key;
use ed25519_dalek::Signer as _;
use tandem_chains::{ErrorKind, solana};

/// Builds the expected bytes straight from the spec's preamble table
/// (docs.anza.xyz/proposals/off-chain-message-signing), field by field.
fn expected(format: u8, domain: [u8; 32], signer: [u8; 32], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"\xffsolana offchain"); // 0x00, 16 bytes
    out.push(0); // 0x10 header version
    out.extend_from_slice(&domain); // 0x11 application domain
    out.push(format); // 0x31 message format
    out.push(1); // 0x32 signer count
    out.extend_from_slice(&signer); // 0x33 signers
    out.extend_from_slice(&(body.len() as u16).to_le_bytes()); // 0x53 length
    out.extend_from_slice(body);
    out
}

#[test]
fn ascii_message_layout_offsets_and_signature() {
    let key = sol_key(1);
    let signer = key.verifying_key().to_bytes();
    let prepared = solana::prepare_offchain(b"Hello, Tandem!", &signer).unwrap();
    let bytes = &prepared.message;
    assert_eq!(*bytes, expected(0, [0; 32], signer, b"Hello, Tandem!"));
    // Offsets exactly as the spec's table lists them.
    assert_eq!(&bytes[..0x10], solana::OFFCHAIN_SIGNING_DOMAIN);
    assert_eq!(bytes[0x10], 0);
    assert_eq!(&bytes[0x11..0x31], &[0u8; 32]);
    assert_eq!(bytes[0x31], 0);
    assert_eq!(bytes[0x32], 1);
    assert_eq!(&bytes[0x33..0x53], &signer);
    assert_eq!(&bytes[0x53..0x55], &[14, 0]);
    assert_eq!(&bytes[0x55..], b"Hello, Tandem!");

    assert_eq!(
        serde_json::to_value(&prepared.intent).unwrap(),
        serde_json::json!({
            "kind": "offchain",
            "length": 14,
            "utf8": "Hello, Tandem!",
            "format": "restricted_ascii",
            "application_domain": "11111111111111111111111111111111"
        })
    );

    let signature = key.sign(bytes).to_bytes();
    let signed = solana::finish(&prepared, signature).unwrap();
    assert_eq!(signed.signed_transaction, None);
    key.verifying_key()
        .verify_strict(
            bytes,
            &ed25519_dalek::Signature::from_bytes(&signed.signature),
        )
        .unwrap();
    assert_eq!(
        solana::finish(&prepared, sol_key(2).sign(bytes).to_bytes())
            .unwrap_err()
            .kind,
        ErrorKind::InvalidSignature
    );
}

#[test]
fn format_is_chosen_by_content_and_total_length() {
    let signer = sol_key(3).verifying_key().to_bytes();
    let format = |body: &[u8]| solana::prepare_offchain(body, &signer).unwrap().message[0x31];

    assert_eq!(format(b"plain ascii ~"), 0);
    // Newline is not restricted ASCII in header version 0.
    assert_eq!(format(b"two\nlines"), 1);
    assert_eq!(format("Тестовое сообщение".as_bytes()), 1);
    // Formats 0 and 1 cap preamble (85 bytes with one signer) + body at 1232.
    assert_eq!(format(&[b'a'; 1232 - 85]), 0);
    assert_eq!(format(&[b'a'; 1232 - 85 + 1]), 2);
    assert_eq!(format("é".repeat(573).as_bytes()), 1); // 1146 bytes: fits 1232
    assert_eq!(format("é".repeat(574).as_bytes()), 2); // 1148 bytes: does not
    assert_eq!(format(&vec![b'a'; solana::MAX_OFFCHAIN_MESSAGE_BYTES]), 2);

    let long = vec![b'x'; 5000];
    assert_eq!(
        solana::prepare_offchain(&long, &signer).unwrap().message,
        expected(2, [0; 32], signer, &long)
    );
}

#[test]
fn application_domain_is_in_the_preamble() {
    let signer = sol_key(4).verifying_key().to_bytes();
    let domain = [0x42; 32];
    let prepared = solana::prepare_offchain_with_domain(b"gm", &signer, &domain).unwrap();
    assert_eq!(prepared.message, expected(0, domain, signer, b"gm"));
    let solana::Intent::Offchain {
        application_domain, ..
    } = prepared.intent
    else {
        panic!()
    };
    assert_eq!(application_domain, bs58::encode(domain).into_string());
}

#[test]
fn refusals() {
    let signer = sol_key(5).verifying_key().to_bytes();
    let kind = |body: &[u8]| solana::prepare_offchain(body, &signer).unwrap_err().kind;
    assert_eq!(kind(b""), ErrorKind::InvalidMessage);
    assert_eq!(kind(&[0xff, 0xfe]), ErrorKind::InvalidMessage);
    assert_eq!(kind(&[b'a', 0x80]), ErrorKind::InvalidMessage);
    assert_eq!(
        kind(&vec![b'a'; solana::MAX_OFFCHAIN_MESSAGE_BYTES + 1]),
        ErrorKind::TooLarge
    );
    assert_eq!(
        solana::prepare_offchain(b"hi", &[0; 32]).unwrap_err().kind,
        ErrorKind::InvalidPublicKey
    );
    let error = solana::prepare_offchain(b"", &signer).unwrap_err();
    assert_eq!(error.field, "message");
}
