//! Golden share fixtures: every share format version ever written stays decodable and the
//! decoded pair still signs. The files hold throwaway test keys, never a real wallet's.
//!
//! Regenerate (only when adding a new format version, into a new `vN` folder):
//! `TANDEM_WRITE_FIXTURES=1 cargo test -p tandem-mpc --test fixtures -- --ignored`
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use common::*;
use tandem_mpc::{KeyShare, SHARE_FORMAT_VERSION};

fn dir(version: u8) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/v{version}"))
}

fn name<S: Suite>() -> &'static str {
    match S::ID {
        tandem_mpc::SchemeId::Secp256k1 => "secp256k1",
        tandem_mpc::SchemeId::Ed25519 => "ed25519",
    }
}

fn check_golden<S: Suite>(version: u8) {
    let dir = dir(version);
    let read =
        |role: &str| std::fs::read(dir.join(format!("{}-{role}.share", name::<S>()))).unwrap();
    let device = KeyShare::<S>::from_bytes(&read("device")).unwrap();
    let server = KeyShare::<S>::from_bytes(&read("server")).unwrap();
    let pk = std::fs::read_to_string(dir.join(format!("{}.public-key.hex", name::<S>()))).unwrap();
    assert_eq!(hex::encode(device.public_key()), pk.trim());
    assert_eq!(device.wallet().as_str(), "golden-wallet");
    let msg = S::message(11);
    let sig = sign(&device, &server, msg.as_ref());
    assert!(S::independent_verify(
        device.public_key(),
        msg.as_ref(),
        &sig
    ));
}

#[test]
fn golden_shares_v1_decode_and_sign() {
    check_golden::<tandem_mpc::ecdsa::Secp256k1>(1);
    check_golden::<tandem_mpc::ed25519::Ed25519>(1);
}

#[test]
fn golden_shares_v2_decode_and_sign() {
    check_golden::<tandem_mpc::ecdsa::Secp256k1>(2);
    check_golden::<tandem_mpc::ed25519::Ed25519>(2);
}

/// An Ed25519 v1 share re-encoded is written in format 2 and decodes to the same share; a
/// secp256k1 share stays in format 1 (its encoding did not change, older releases read it).
#[test]
fn v1_shares_re_encode_in_the_current_format() {
    let v1 = std::fs::read(dir(1).join("ed25519-device.share")).unwrap();
    let share = KeyShare::<tandem_mpc::ed25519::Ed25519>::from_bytes(&v1).unwrap();
    let again = share.to_bytes().unwrap();
    assert_eq!(again[4], 2);
    let back = KeyShare::<tandem_mpc::ed25519::Ed25519>::from_bytes(&again).unwrap();
    assert_eq!(back.public_key(), share.public_key());
    assert_eq!(back.role(), share.role());
    let v1 = std::fs::read(dir(1).join("secp256k1-device.share")).unwrap();
    let share = KeyShare::<tandem_mpc::ecdsa::Secp256k1>::from_bytes(&v1).unwrap();
    assert_eq!(share.to_bytes().unwrap().as_slice(), v1.as_slice());
}

#[test]
fn a_golden_fixture_exists_for_the_current_format() {
    assert!(
        dir(SHARE_FORMAT_VERSION).is_dir(),
        "add fixtures for format v{SHARE_FORMAT_VERSION}"
    );
}

fn write<S: Suite>() {
    let wallet = tandem_mpc::WalletId::new("golden-wallet").unwrap();
    let (device, server) = keygen::<S>(&wallet);
    let dir = dir(SHARE_FORMAT_VERSION);
    std::fs::create_dir_all(&dir).unwrap();
    for share in [&device, &server] {
        let role = format!("{:?}", share.role()).to_lowercase();
        std::fs::write(
            dir.join(format!("{}-{role}.share", name::<S>())),
            share.to_bytes().unwrap().as_slice(),
        )
        .unwrap();
    }
    std::fs::write(
        dir.join(format!("{}.public-key.hex", name::<S>())),
        hex::encode(device.public_key()) + "\n",
    )
    .unwrap();
}

#[test]
#[ignore = "writes fixture files; run explicitly when adding a format version"]
fn regenerate_golden_fixtures() {
    if std::env::var("TANDEM_WRITE_FIXTURES").as_deref() != Ok("1") {
        return;
    }
    write::<tandem_mpc::ecdsa::Secp256k1>();
    write::<tandem_mpc::ed25519::Ed25519>();
}
