//! The generic lifecycle suite, run for both schemes (in the manner of frost-core's
//! `ciphersuite_generic` tests): keygen, sign, refresh (both forms), export, import, codec.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use tandem_mpc::testing::run_pair;
use tandem_mpc::{
    ErrorClass, ExportedShare, ImportedShare, KeyShare, Operation, RefreshMode, Role,
    SessionContext, export,
};

fn keygen_then_sign_many<S: Suite>(n: u64) {
    let wallet = wallet();
    let (device, server) = keygen::<S>(&wallet);
    assert_eq!(device.role(), Role::Device);
    assert_eq!(server.role(), Role::Server);
    assert_eq!(device.epoch(), 0);
    for i in 0..n {
        let msg = S::message(i);
        let sig = sign(&device, &server, msg.as_ref());
        assert!(
            S::independent_verify(device.public_key(), msg.as_ref(), &sig),
            "signature {i}"
        );
        // The same signature does not verify for another message.
        let other = S::message(i + 1_000_000);
        assert!(!S::independent_verify(
            device.public_key(),
            other.as_ref(),
            &sig
        ));
    }
}

fn refresh_keeps_key_and_old_shares_cannot_mix<S: Suite>(mode: RefreshMode) {
    let wallet = wallet();
    let (device, server) = keygen::<S>(&wallet);
    let (new_device, new_server) = refresh(&device, &server, mode);
    assert_eq!(new_device.public_key(), device.public_key());
    assert_eq!(new_server.public_key(), device.public_key());
    assert_eq!((new_device.epoch(), new_server.epoch()), (1, 1));
    let msg = S::message(7);
    let sig = sign(&new_device, &new_server, msg.as_ref());
    assert!(S::independent_verify(
        device.public_key(),
        msg.as_ref(),
        &sig
    ));
    // And again: refresh of a refreshed pair.
    let (d2, s2) = refresh(&new_device, &new_server, mode);
    let sig = sign(&d2, &s2, msg.as_ref());
    assert!(S::independent_verify(
        device.public_key(),
        msg.as_ref(),
        &sig
    ));

    // Old device share with the new server share: refused at the API (epochs differ)...
    let mixed = ctx::<S>(Operation::Sign, &wallet, 1);
    assert!(S::sign(&device, mixed, msg.as_ref()).is_err());
    // ...and, with the epoch check bypassed, refused by the cryptography itself.
    let mut stale = KeyShare::<S>::from_bytes(&device.to_bytes().unwrap()).unwrap();
    stale.hazmat_set_epoch(1);
    let mixed = ctx::<S>(Operation::Sign, &wallet, 1);
    let result = run_pair(sign_pair(&stale, &new_server, msg.as_ref(), mixed).unwrap());
    let (_, err) = result.expect_err("a stale device share must not produce a signature");
    // Terminal; an honest device with a stale share is no reason to freeze (docs/mpc.md).
    assert!(
        matches!(err.class(), ErrorClass::Invalid | ErrorClass::Cheating),
        "{err:?}"
    );
    println!("stale share refused as {:?}: {err}", err.class());
}

fn export_gives_the_wallet_key<S: Suite>() {
    let wallet = wallet();
    let (device, server) = keygen::<S>(&wallet);
    let (device, server) = refresh(&device, &server, RefreshMode::Fast);
    let exported = ExportedShare::from_server_share(server).unwrap();
    let exported = ExportedShare::<S>::from_bytes(&exported.to_bytes().unwrap()).unwrap();
    let key = export(&device, exported).unwrap();
    assert_eq!(key.public_key(), device.public_key());
    assert_eq!(S::public_of_export(key.as_bytes()), device.public_key());
    assert_eq!(format!("{key:?}"), "[redacted]");
    // Exporting with the device share in the server's place is refused.
    assert!(ExportedShare::from_server_share(device).is_err());
}

fn import_then_complete_refresh_signs<S: Suite>() {
    let wallet = wallet();
    let (public_key, secret) = S::random_key();
    let pair = S::import(&secret, wallet.clone()).unwrap();
    assert_eq!(pair.device.public_key(), public_key.as_slice());
    // The server's half travels as bytes; an imported share is not a normal share.
    let server_bytes = pair.server.to_bytes().unwrap();
    assert!(KeyShare::<S>::from_bytes(&server_bytes).is_err());
    let server = ImportedShare::<S>::from_bytes(&server_bytes).unwrap();
    let ctx = ctx::<S>(Operation::RefreshComplete, &wallet, 0);
    let pair = (
        pair.device.refresh_complete(ctx.clone()).unwrap(),
        server.refresh_complete(ctx).unwrap(),
    );
    let (device, server, _) = run_pair(pair).unwrap();
    assert_eq!(device.public_key(), public_key.as_slice());
    let msg = S::message(3);
    let sig = sign(&device, &server, msg.as_ref());
    assert!(S::independent_verify(&public_key, msg.as_ref(), &sig));
    // Wrong-length keys are refused with an error, not a panic.
    assert!(S::import(&[1u8; 31], wallet.clone()).is_err());
}

fn codec_round_trip_and_versioning<S: Suite>() {
    let wallet = wallet();
    let (device, server) = keygen::<S>(&wallet);
    let bytes = device.to_bytes().unwrap();
    let decoded = KeyShare::<S>::from_bytes(&bytes).unwrap();
    assert_eq!(decoded.to_bytes().unwrap().as_slice(), bytes.as_slice());
    assert_eq!(decoded.public_key(), device.public_key());
    let msg = S::message(1);
    let sig = sign(&decoded, &server, msg.as_ref());
    assert!(S::independent_verify(
        device.public_key(),
        msg.as_ref(),
        &sig
    ));
    // Unknown format versions: the next one, and 0.
    let next = tandem_mpc::SHARE_FORMAT_VERSION + 1;
    for version in [next, 0] {
        let mut unknown = bytes.to_vec();
        unknown[4] = version;
        assert_eq!(
            KeyShare::<S>::from_bytes(&unknown).unwrap_err(),
            tandem_mpc::Error::UnsupportedVersion(version)
        );
    }
    // Truncations and trailing bytes are refused.
    for len in [0, 3, 8, 30, bytes.len() - 1] {
        assert!(KeyShare::<S>::from_bytes(&bytes[..len]).is_err());
    }
    let mut longer = bytes.to_vec();
    longer.push(0);
    assert!(KeyShare::<S>::from_bytes(&longer).is_err());
}

fn debug_never_prints_secrets<S: Suite>() {
    let wallet = wallet();
    let (device, _server) = keygen::<S>(&wallet);
    let printed = format!("{device:?} {device:#?}");
    assert!(printed.contains("[redacted]"));
    let encoded = device.to_bytes().unwrap();
    // No 8-byte window of the secret part appears in hex in the Debug output.
    let secret_part = &encoded[encoded.len() - 64..];
    for window in secret_part.windows(8) {
        assert!(!printed.contains(&hex::encode(window)));
    }
}

fn wrong_context_is_refused_before_any_cryptography<S: Suite>() {
    let wallet = wallet();
    let (device, _server) = keygen::<S>(&wallet);
    let msg = S::message(1);
    let other = tandem_mpc::WalletId::new("someone-else").unwrap();
    for ctx in [
        ctx::<S>(Operation::Sign, &other, 0),
        ctx::<S>(Operation::Sign, &wallet, 5),
        ctx::<S>(Operation::Keygen, &wallet, 0),
    ] {
        assert!(S::sign(&device, ctx, msg.as_ref()).is_err());
    }
    // Keygen at a non-zero epoch makes no sense.
    let ctx = ctx::<S>(Operation::Keygen, &wallet, 3);
    assert!(S::keygen(Role::Device, ctx).is_err());
    // Both sides derive the same session id from the same nonces, and it depends on each input.
    let (a, b) = (tandem_mpc::Nonce([1; 32]), tandem_mpc::Nonce([2; 32]));
    let p = tandem_mpc::Protocol::for_op(S::ID, Operation::Sign);
    let base = SessionContext::derive(p, wallet.clone(), 0, &a, &b);
    assert_eq!(base, SessionContext::derive(p, wallet.clone(), 0, &a, &b));
    assert_ne!(
        base.session_id,
        SessionContext::derive(p, wallet.clone(), 0, &b, &a).session_id
    );
    assert_ne!(
        base.session_id,
        SessionContext::derive(p, wallet.clone(), 1, &a, &b).session_id
    );
    assert_ne!(
        base.session_id,
        SessionContext::derive(p, other, 0, &a, &b).session_id
    );
}

macro_rules! generic_suite {
    ($module:ident, $scheme:ty, $signatures:expr) => {
        mod $module {
            use super::*;

            #[test]
            fn keygen_then_sign_many() {
                super::keygen_then_sign_many::<$scheme>($signatures)
            }
            #[test]
            fn fast_refresh_keeps_key_and_old_shares_cannot_mix() {
                super::refresh_keeps_key_and_old_shares_cannot_mix::<$scheme>(RefreshMode::Fast)
            }
            #[test]
            fn complete_refresh_keeps_key_and_old_shares_cannot_mix() {
                super::refresh_keeps_key_and_old_shares_cannot_mix::<$scheme>(RefreshMode::Complete)
            }
            #[test]
            fn export_gives_the_wallet_key() {
                super::export_gives_the_wallet_key::<$scheme>()
            }
            #[test]
            fn import_then_complete_refresh_signs() {
                super::import_then_complete_refresh_signs::<$scheme>()
            }
            #[test]
            fn codec_round_trip_and_versioning() {
                super::codec_round_trip_and_versioning::<$scheme>()
            }
            #[test]
            fn debug_never_prints_secrets() {
                super::debug_never_prints_secrets::<$scheme>()
            }
            #[test]
            fn wrong_context_is_refused_before_any_cryptography() {
                super::wrong_context_is_refused_before_any_cryptography::<$scheme>()
            }
        }
    };
}

generic_suite!(secp256k1, tandem_mpc::ecdsa::Secp256k1, 50);
generic_suite!(ed25519, tandem_mpc::ed25519::Ed25519, 300);
