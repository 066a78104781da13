//! The Backup Kit against real shares from a real keygen: seal, file round trip, open, sign
//! offline with the device's share, and every way a kit must refuse to open. Golden files keep
//! every format ever written readable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::ed25519::Ed25519;
use tandem_mpc::local::{run_pair, sign};
use tandem_mpc::{KeyShare, Operation, Protocol, Role, Scheme, SessionContext, WalletId};
use tandem_recovery::{BackupKit, KitError, KitLabels, RecoverySecret};

const GOLDEN_SECRET: &str = "0W3G-E1R7-0W3G-E1R7-0W3G-E1R7-0W3G-E1R7-0W3G-E1R7-0W3G-E1R7-0W3G-FYRE";

fn keygen<S: Scheme>(wallet: &str) -> (KeyShare<S>, KeyShare<S>) {
    let ctx = SessionContext::fresh(
        Protocol::for_op(S::ID, Operation::Keygen),
        WalletId::new(wallet).unwrap(),
        0,
    )
    .unwrap();
    let pair = (
        S::keygen(Role::Device, ctx.clone()).unwrap(),
        S::keygen(Role::Server, ctx).unwrap(),
    );
    let (d, s, _) = run_pair(pair).unwrap();
    (d, s)
}

fn labels() -> KitLabels {
    KitLabels {
        chain: "evm".into(),
        address: "0x0000000000000000000000000000000000000001".into(),
        issued_at: "2026-12-05T19:00:00Z".into(),
    }
}

#[test]
fn a_kit_opens_with_its_secret_and_signs_with_the_device_share() {
    let secret = RecoverySecret::generate().unwrap();
    let keys = secret.keys();
    let (device, server) = keygen::<Secp256k1>("w_kit_evm");
    let kit = BackupKit::seal(&server, &keys.public_key()).unwrap();
    let text = kit.to_text(&labels());
    assert!(text.starts_with("TANDEM BACKUP KIT (format 1)"));
    assert!(text.contains("wallet: w_kit_evm") && text.contains("epoch: 0"));
    let read = BackupKit::from_text(&text).unwrap();
    assert_eq!(read, kit);
    let opened: KeyShare<Secp256k1> = read.open(&keys).unwrap();
    assert_eq!(opened.to_bytes().unwrap(), server.to_bytes().unwrap());
    let digest = [9u8; 32];
    let sig = sign(&device, &opened, &digest).unwrap();
    let vk = k256_verify(device.public_key(), &digest, &sig);
    assert!(vk);
    // The kit's text never carries the share in the clear.
    let plain = server.to_bytes().unwrap();
    assert!(
        !text
            .as_bytes()
            .windows(32)
            .any(|w| plain.windows(32).any(|p| p == w))
    );
}

fn k256_verify(
    public_key: &[u8],
    digest: &[u8; 32],
    sig: &tandem_mpc::ecdsa::EcdsaSignature,
) -> bool {
    use k256::ecdsa::signature::hazmat::PrehashVerifier;
    let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(public_key).unwrap();
    let sig = k256::ecdsa::Signature::from_slice(&sig.to_bytes()).unwrap();
    vk.verify_prehash(digest, &sig).is_ok()
}

#[test]
fn an_ed25519_kit_signs_a_message_that_ed25519_dalek_accepts() {
    let keys = RecoverySecret::generate().unwrap().keys();
    let (device, server) = keygen::<Ed25519>("w_kit_sol");
    let text = BackupKit::seal(&server, &keys.public_key())
        .unwrap()
        .to_text(&KitLabels::default());
    let opened: KeyShare<Ed25519> = BackupKit::from_text(&text).unwrap().open(&keys).unwrap();
    let sig = sign(&device, &opened, b"offline message").unwrap();
    let vk =
        ed25519_dalek::VerifyingKey::from_bytes(device.public_key().try_into().unwrap()).unwrap();
    let sig = ed25519_dalek::Signature::from_bytes(&sig.0);
    vk.verify_strict(b"offline message", &sig).unwrap();
}

#[test]
fn a_kit_refuses_what_it_must() {
    let secret = RecoverySecret::generate().unwrap();
    let keys = secret.keys();
    let (device, server) = keygen::<Secp256k1>("w_kit_refuse");
    let kit = BackupKit::seal(&server, &keys.public_key()).unwrap();

    // Only the server's share goes into a kit.
    assert_eq!(
        BackupKit::seal(&device, &keys.public_key()).unwrap_err(),
        KitError::NotServerShare
    );
    // Another secret: named, not a generic failure.
    let other = RecoverySecret::generate().unwrap().keys();
    assert!(matches!(
        kit.open::<Secp256k1>(&other),
        Err(KitError::WrongSecret { .. })
    ));
    // Another scheme.
    assert_eq!(kit.open::<Ed25519>(&keys).unwrap_err(), KitError::Scheme);
    // A flipped byte anywhere in the sealed data fails to open or to parse.
    let bytes = kit.to_bytes();
    for i in [5, 6, 14, 20, bytes.len() - 40, bytes.len() - 1] {
        let mut b = bytes.clone();
        b[i] ^= 1;
        let r = BackupKit::from_bytes(&b).and_then(|k| k.open::<Secp256k1>(&keys).map(|_| ()));
        assert!(r.is_err(), "flip at {i} still opened");
    }
    // An edited readable header is refused, not believed.
    let text = kit.to_text(&labels());
    let edited = text.replace("epoch: 0", "epoch: 7");
    assert_eq!(
        BackupKit::from_text(&edited).unwrap_err(),
        KitError::HeaderMismatch { field: "epoch" }
    );
    // A newer format is named as such.
    let mut newer = bytes.clone();
    newer[4] = 9;
    assert_eq!(
        BackupKit::from_bytes(&newer).unwrap_err(),
        KitError::UnsupportedVersion(9)
    );
    assert!(BackupKit::from_text("hello").is_err());
    // Device and server shares of different epochs never sign together.
    let mut other_epoch = device;
    other_epoch.hazmat_set_epoch(1);
    assert!(sign(&other_epoch, &server, &[1u8; 32]).is_err());
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Kits written by format 1 still open and sign. `TANDEM_WRITE_GOLDEN=1` writes the files
/// when they are missing (once, when a format is introduced); they are committed.
#[test]
fn golden_kits_of_format_1_still_open_and_sign() {
    let keys = RecoverySecret::parse(GOLDEN_SECRET).unwrap().keys();
    golden::<Secp256k1>("secp256k1", &keys, &[3u8; 32]);
    golden::<Ed25519>("ed25519", &keys, &[3u8; 32]);
}

fn golden<S: Scheme>(name: &str, keys: &tandem_recovery::RecoveryKeys, message: &S::Message) {
    let kit_path = fixtures().join(format!("backup-kit-v1-{name}.txt"));
    let device_path = fixtures().join(format!("backup-kit-v1-{name}.device-share.hex"));
    if !kit_path.exists() && std::env::var_os("TANDEM_WRITE_GOLDEN").is_some() {
        let (device, server) = keygen::<S>(&format!("w_golden_{name}"));
        let kit = BackupKit::seal(&server, &keys.public_key()).unwrap();
        std::fs::write(&kit_path, kit.to_text(&KitLabels::default())).unwrap();
        std::fs::write(&device_path, hex::encode(device.to_bytes().unwrap())).unwrap();
    }
    let text = std::fs::read_to_string(&kit_path).expect("golden kit missing");
    let kit = BackupKit::from_text(&text).unwrap();
    let server: KeyShare<S> = kit.open(keys).unwrap();
    let device_hex = std::fs::read_to_string(&device_path).unwrap();
    let device = KeyShare::<S>::from_bytes(&hex::decode(device_hex.trim()).unwrap()).unwrap();
    sign(&device, &server, message).unwrap();
}

#[test]
fn an_escrow_holds_the_device_share_and_is_never_a_kit() {
    use tandem_recovery::Escrow;
    let keys = RecoverySecret::generate().unwrap().keys();
    let (device, server) = keygen::<Secp256k1>("w_escrow");
    let escrow = Escrow::seal(&device, &keys.public_key()).unwrap();
    assert!(Escrow::seal(&server, &keys.public_key()).is_err());
    let bytes = escrow.to_bytes();
    let back = Escrow::from_bytes(&bytes).unwrap();
    assert_eq!((back.wallet(), back.epoch()), ("w_escrow", 0));
    let opened: KeyShare<Secp256k1> = back.open(&keys).unwrap();
    assert_eq!(opened.to_bytes().unwrap(), device.to_bytes().unwrap());
    // The opened share signs with the server's: recovery gets a working pair.
    sign(&opened, &server, &[5u8; 32]).unwrap();
    // Not a kit, and a kit is not an escrow; another secret does not open it.
    assert!(BackupKit::from_bytes(&bytes).is_err());
    let kit = BackupKit::seal(&server, &keys.public_key()).unwrap();
    assert!(Escrow::from_bytes(&kit.to_bytes()).is_err());
    let other = RecoverySecret::generate().unwrap().keys();
    assert!(back.open::<Secp256k1>(&other).is_err());
}
