//! Tests of the device-side encrypted share store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead as _, Payload};
use chacha20poly1305::{KeyInit as _, XChaCha20Poly1305, XNonce};
use tandem_client::store::{KdfParams, ShareState, ShareStore, StoreError};
use tempfile::TempDir;

const PASS: &str = "correct horse battery staple";
/// A second passphrase that passes the passphrase rule.
const NEW: &str = "another quite long passphrase";
const W: &str = "wallet-1";

/// Cheap Argon2 so the suite stays fast; one test below uses the real defaults.
fn cheap() -> KdfParams {
    KdfParams {
        m_kib: 256,
        t: 1,
        p: 1,
    }
}

fn fresh() -> (TempDir, PathBuf, ShareStore) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let store = ShareStore::open_with(&dir, PASS, cheap()).unwrap();
    (tmp, dir, store)
}

fn reopen(dir: &Path, pass: &str) -> Result<ShareStore, StoreError> {
    ShareStore::open_with(dir, pass, cheap())
}

fn wallet_dir(dir: &Path, wallet: &str) -> PathBuf {
    dir.join("shares").join(wallet)
}

fn share_path(dir: &Path, wallet: &str, epoch: u64, state: &str) -> PathBuf {
    wallet_dir(dir, wallet).join(format!("{epoch}.{state}"))
}

/// File names in a wallet directory, sorted.
fn names(dir: &Path, wallet: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(wallet_dir(dir, wallet))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn current(store: &ShareStore, wallet: &str) -> Option<(u64, Vec<u8>)> {
    store
        .current(wallet)
        .unwrap()
        .map(|(epoch, share)| (epoch, share.to_vec()))
}

fn staged(store: &ShareStore, wallet: &str) -> Option<(u64, Vec<u8>)> {
    store
        .staged(wallet)
        .unwrap()
        .map(|(epoch, share)| (epoch, share.to_vec()))
}

/// The store key, derived independently from keystore.json as documented.
fn derive_key(dir: &Path, pass: &str) -> [u8; 32] {
    let ks: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("keystore.json")).unwrap()).unwrap();
    let salt = B64.decode(ks["salt"].as_str().unwrap()).unwrap();
    let num = |k: &str| u32::try_from(ks[k].as_u64().unwrap()).unwrap();
    let params = Params::new(num("m_kib"), num("t"), num("p"), Some(32)).unwrap();
    let mut key = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(pass.as_bytes(), &salt, &mut key)
        .unwrap();
    key
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn round_trip() {
    let (_tmp, _dir, store) = fresh();
    store.put(W, 0, ShareState::Current, b"share zero").unwrap();
    assert_eq!(store.get(W, 0).unwrap().as_slice(), b"share zero");
    assert_eq!(current(&store, W), Some((0, b"share zero".to_vec())));
    assert_eq!(staged(&store, W), None);
    assert!(matches!(store.get(W, 1), Err(StoreError::NotFound)));
    assert_eq!(current(&store, "other"), None);
}

#[test]
fn empty_and_binary_shares_round_trip() {
    let (_tmp, _dir, store) = fresh();
    let binary: Vec<u8> = (0..=255).cycle().take(10_000).collect();
    store.put(W, 1, ShareState::Current, &binary).unwrap();
    store.put("w2", 1, ShareState::Current, b"").unwrap();
    assert_eq!(store.get(W, 1).unwrap().as_slice(), binary.as_slice());
    assert!(store.get("w2", 1).unwrap().is_empty());
}

#[test]
fn persists_across_reopen() {
    let (_tmp, dir, store) = fresh();
    assert!(ShareStore::exists(&dir));
    store.put(W, 3, ShareState::Current, b"three").unwrap();
    store.put(W, 4, ShareState::Staged, b"four").unwrap();
    drop(store);

    let store = reopen(&dir, PASS).unwrap();
    assert_eq!(current(&store, W), Some((3, b"three".to_vec())));
    assert_eq!(staged(&store, W), Some((4, b"four".to_vec())));
    assert_eq!(store.kdf_params(), cheap());
    assert_eq!(store.dir(), dir.as_path());
}

#[test]
fn exists_is_false_before_creation() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(!ShareStore::exists(&tmp.path().join("store")));
    assert!(!ShareStore::exists(tmp.path()));
}

#[test]
fn params_are_read_from_keystore_on_later_opens() {
    let (_tmp, dir, store) = fresh();
    drop(store);
    let other = KdfParams {
        m_kib: 512,
        t: 3,
        p: 1,
    };
    // A caller asking for costlier parameters than the file's (and below the floor) is
    // refused: `open_with`'s parameters are also the cheapest it accepts.
    assert!(matches!(
        ShareStore::open_with(&dir, PASS, other),
        Err(StoreError::KdfBelowFloor { .. })
    ));
    let cheaper = KdfParams {
        m_kib: 128,
        t: 1,
        p: 1,
    };
    let store = ShareStore::open_with(&dir, PASS, cheaper).unwrap();
    assert_eq!(store.kdf_params(), cheap());
}

#[test]
fn wrong_passphrase_is_detected() {
    let (_tmp, dir, store) = fresh();
    store.put(W, 1, ShareState::Current, b"one").unwrap();
    drop(store);
    assert!(matches!(
        reopen(&dir, "not the passphrase"),
        Err(StoreError::WrongPassphrase)
    ));
    assert!(matches!(reopen(&dir, ""), Err(StoreError::WrongPassphrase)));
    // Nothing was touched.
    let store = reopen(&dir, PASS).unwrap();
    assert_eq!(store.get(W, 1).unwrap().as_slice(), b"one");
}

#[test]
fn tampered_file_is_corrupt() {
    let (_tmp, dir, store) = fresh();
    store.put(W, 1, ShareState::Current, b"a share").unwrap();
    let path = share_path(&dir, W, 1, "current");
    let original = fs::read(&path).unwrap();

    // Every byte: header, nonce, ciphertext and tag.
    for i in 0..original.len() {
        let mut bytes = original.clone();
        bytes[i] ^= 0x01;
        fs::write(&path, &bytes).unwrap();
        assert!(
            matches!(store.get(W, 1), Err(StoreError::Corrupt(_))),
            "flipped byte {i}"
        );
    }
    for len in [0, 4, 5, 29, original.len() - 1] {
        fs::write(&path, &original[..len]).unwrap();
        assert!(
            matches!(store.get(W, 1), Err(StoreError::Corrupt(_))),
            "truncated to {len}"
        );
    }
    let mut longer = original.clone();
    longer.push(0);
    fs::write(&path, &longer).unwrap();
    assert!(matches!(store.current(W), Err(StoreError::Corrupt(_))));

    fs::write(&path, &original).unwrap();
    assert_eq!(store.get(W, 1).unwrap().as_slice(), b"a share");
}

#[test]
fn file_moved_to_another_epoch_or_wallet_is_corrupt() {
    let (_tmp, dir, store) = fresh();
    store.put(W, 1, ShareState::Current, b"w1 e1").unwrap();
    store
        .put("victim", 9, ShareState::Current, b"victim")
        .unwrap();
    let original = share_path(&dir, W, 1, "current");

    fs::copy(&original, share_path(&dir, W, 2, "current")).unwrap();
    assert!(matches!(store.get(W, 2), Err(StoreError::Corrupt(_))));
    assert!(matches!(store.current(W), Err(StoreError::Corrupt(_))));
    fs::remove_file(share_path(&dir, W, 2, "current")).unwrap();

    fs::copy(&original, share_path(&dir, "victim", 1, "current")).unwrap();
    assert!(matches!(
        store.get("victim", 1),
        Err(StoreError::Corrupt(_))
    ));

    // Moving between states is allowed by design (promotion is a rename).
    fs::copy(&original, share_path(&dir, W, 1, "staged")).unwrap();
    fs::remove_file(&original).unwrap();
    assert_eq!(staged(&store, W), Some((1, b"w1 e1".to_vec())));
}

#[test]
fn share_from_another_store_is_corrupt() {
    let (_tmp, dir, store) = fresh();
    let (_tmp2, dir2, store2) = fresh();
    store.put(W, 1, ShareState::Current, b"mine").unwrap();
    store2.put(W, 1, ShareState::Current, b"theirs").unwrap();
    fs::copy(
        share_path(&dir2, W, 1, "current"),
        share_path(&dir, W, 1, "current"),
    )
    .unwrap();
    assert!(matches!(store.get(W, 1), Err(StoreError::Corrupt(_))));
}

#[test]
fn staged_promote_discard_lifecycle() {
    let (_tmp, dir, store) = fresh();
    store.put(W, 1, ShareState::Current, b"e1").unwrap();
    store.put(W, 2, ShareState::Staged, b"e2").unwrap();
    assert_eq!(names(&dir, W), ["1.current", "2.staged"]);
    assert_eq!(current(&store, W), Some((1, b"e1".to_vec())));
    assert_eq!(staged(&store, W), Some((2, b"e2".to_vec())));
    // get() falls back to the staged share.
    assert_eq!(store.get(W, 2).unwrap().as_slice(), b"e2");

    store.promote(W, 2).unwrap();
    // The previous share stays until a ceremony at epoch 2 confirms the pair.
    assert_eq!(names(&dir, W), ["1.current", "2.current"]);
    assert_eq!(current(&store, W), Some((2, b"e2".to_vec())));
    assert_eq!(store.current_epochs(W).unwrap(), [1, 2]);
    assert_eq!(staged(&store, W), None);
    assert_eq!(store.confirm(W, 2).unwrap(), 1);
    assert_eq!(names(&dir, W), ["2.current"]);
    assert!(matches!(store.get(W, 1), Err(StoreError::NotFound)));

    // A refresh the server never committed.
    store.put(W, 3, ShareState::Staged, b"e3").unwrap();
    store.discard_staged(W, 3).unwrap();
    assert_eq!(names(&dir, W), ["2.current"]);
    assert_eq!(staged(&store, W), None);
    assert!(matches!(
        store.discard_staged(W, 3),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(store.promote(W, 3), Err(StoreError::NotFound)));
    assert_eq!(current(&store, W), Some((2, b"e2".to_vec())));

    // First share of a wallet may arrive staged and be promoted with nothing to delete.
    store.put("fresh", 0, ShareState::Staged, b"first").unwrap();
    store.promote("fresh", 0).unwrap();
    assert_eq!(names(&dir, "fresh"), ["0.current"]);
}

#[test]
fn promote_keeps_only_the_previous_current_and_other_staged() {
    let (_tmp, dir, store) = fresh();
    store.put(W, 1, ShareState::Current, b"e1").unwrap();
    store.put(W, 2, ShareState::Current, b"e2").unwrap();
    store.put(W, 5, ShareState::Staged, b"e5").unwrap();
    store.put(W, 6, ShareState::Staged, b"e6").unwrap();
    store.promote(W, 5).unwrap();
    assert_eq!(names(&dir, W), ["2.current", "5.current", "6.staged"]);
}

#[test]
fn demote_brings_back_the_previous_share_without_deleting() {
    let (_tmp, dir, store) = fresh();
    store.put(W, 1, ShareState::Current, b"e1").unwrap();
    // Nothing to fall back to: refused.
    assert!(store.demote(W, 1).is_err());
    store.put(W, 2, ShareState::Staged, b"e2").unwrap();
    store.promote(W, 2).unwrap();
    store.demote(W, 2).unwrap();
    assert_eq!(names(&dir, W), ["1.current", "2.staged"]);
    assert_eq!(current(&store, W), Some((1, b"e1".to_vec())));
    assert_eq!(staged(&store, W), Some((2, b"e2".to_vec())));
    assert!(matches!(store.confirm(W, 2), Err(StoreError::NotFound)));
    assert_eq!(store.confirm(W, 1).unwrap(), 0);
}

#[test]
fn promote_refuses_garbage_and_keeps_the_old_share() {
    let (_tmp, dir, store) = fresh();
    store.put(W, 1, ShareState::Current, b"e1").unwrap();
    store.put(W, 2, ShareState::Staged, b"e2").unwrap();
    let staged = share_path(&dir, W, 2, "staged");
    let mut bytes = fs::read(&staged).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x80;
    fs::write(&staged, bytes).unwrap();
    assert!(matches!(store.promote(W, 2), Err(StoreError::Corrupt(_))));
    assert_eq!(names(&dir, W), ["1.current", "2.staged"]);
    assert_eq!(current(&store, W), Some((1, b"e1".to_vec())));
}

#[test]
fn current_returns_highest_epoch() {
    let (_tmp, _dir, store) = fresh();
    // 10 sorts before 7 as a string: the store must compare numbers.
    for epoch in [3u64, 10, 7] {
        store
            .put(
                W,
                epoch,
                ShareState::Current,
                format!("e{epoch}").as_bytes(),
            )
            .unwrap();
    }
    assert_eq!(current(&store, W), Some((10, b"e10".to_vec())));
    store.put(W, 11, ShareState::Staged, b"s11").unwrap();
    store.put(W, 20, ShareState::Staged, b"s20").unwrap();
    assert_eq!(staged(&store, W), Some((20, b"s20".to_vec())));
    store.put(W, u64::MAX, ShareState::Current, b"max").unwrap();
    assert_eq!(current(&store, W), Some((u64::MAX, b"max".to_vec())));
}

#[test]
fn non_canonical_file_names_are_ignored() {
    let (_tmp, dir, store) = fresh();
    store.put(W, 5, ShareState::Current, b"e5").unwrap();
    let file = share_path(&dir, W, 5, "current");
    for name in [
        "05.current",
        "+9.current",
        "9.current.bak",
        "x.current",
        "9.other",
    ] {
        fs::copy(&file, wallet_dir(&dir, W).join(name)).unwrap();
    }
    assert_eq!(current(&store, W), Some((5, b"e5".to_vec())));
}

#[test]
fn shares_are_never_silently_replaced() {
    let (_tmp, _dir, store) = fresh();
    store.put(W, 1, ShareState::Current, b"e1").unwrap();
    // Identical retry is fine.
    store.put(W, 1, ShareState::Current, b"e1").unwrap();
    assert!(matches!(
        store.put(W, 1, ShareState::Current, b"other"),
        Err(StoreError::AlreadyExists)
    ));
    assert!(matches!(
        store.put(W, 1, ShareState::Staged, b"e1"),
        Err(StoreError::AlreadyExists)
    ));
    store.put(W, 2, ShareState::Staged, b"e2").unwrap();
    store.put(W, 2, ShareState::Staged, b"e2").unwrap();
    assert!(matches!(
        store.put(W, 2, ShareState::Staged, b"different"),
        Err(StoreError::AlreadyExists)
    ));
    assert!(matches!(
        store.put(W, 2, ShareState::Current, b"e2"),
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(store.get(W, 1).unwrap().as_slice(), b"e1");
    assert_eq!(store.get(W, 2).unwrap().as_slice(), b"e2");
}

#[test]
fn older_epochs_cannot_be_staged_or_promoted() {
    let (_tmp, dir, store) = fresh();
    store.put(W, 1, ShareState::Staged, b"e1").unwrap();
    store.put(W, 5, ShareState::Current, b"e5").unwrap();
    assert!(matches!(
        store.put(W, 3, ShareState::Staged, b"e3"),
        Err(StoreError::StaleEpoch {
            epoch: 3,
            current: 5
        })
    ));
    assert!(matches!(
        store.promote(W, 1),
        Err(StoreError::StaleEpoch {
            epoch: 1,
            current: 5
        })
    ));
    assert_eq!(names(&dir, W), ["1.staged", "5.current"]);
}

#[test]
fn oversized_share_is_refused() {
    let (_tmp, _dir, store) = fresh();
    let big = vec![0u8; tandem_client::store::MAX_SHARE_LEN + 1];
    assert!(matches!(
        store.put(W, 1, ShareState::Current, &big),
        Err(StoreError::ShareTooLarge { .. })
    ));
}

#[test]
fn file_and_directory_modes() {
    let (_tmp, dir, store) = fresh();
    store.put(W, 1, ShareState::Current, b"e1").unwrap();
    store.put(W, 2, ShareState::Staged, b"e2").unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("shares")), 0o700);
    assert_eq!(mode(&wallet_dir(&dir, W)), 0o700);
    assert_eq!(mode(&dir.join("keystore.json")), 0o600);
    assert_eq!(mode(&share_path(&dir, W, 1, "current")), 0o600);
    assert_eq!(mode(&share_path(&dir, W, 2, "staged")), 0o600);
    store.promote(W, 2).unwrap();
    assert_eq!(mode(&share_path(&dir, W, 2, "current")), 0o600);
    let store = store.change_passphrase(NEW).unwrap();
    assert_eq!(mode(&share_path(&dir, W, 2, "current")), 0o600);
    assert_eq!(mode(&dir.join("keystore.json")), 0o600);
    drop(store);
}

#[test]
fn pre_existing_directory_is_restricted_on_creation() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let _store = ShareStore::open_with(&dir, PASS, cheap()).unwrap();
    assert_eq!(mode(&dir), 0o700);
}

#[test]
fn bad_wallet_ids_are_refused() {
    let (tmp, dir, store) = fresh();
    let too_long = "a".repeat(65);
    let bad = [
        "../x",
        "",
        too_long.as_str(),
        "..",
        ".",
        "a/b",
        "a\\b",
        "/abs",
        "a b",
        "é",
        "a\0b",
        ".hidden",
    ];
    for id in bad {
        let refused = |r: Result<(), StoreError>| matches!(r, Err(StoreError::InvalidWalletId));
        assert!(
            refused(store.put(id, 1, ShareState::Current, b"x")),
            "{id:?}"
        );
        assert!(refused(store.get(id, 1).map(|_| ())), "{id:?}");
        assert!(refused(store.current(id).map(|_| ())), "{id:?}");
        assert!(refused(store.staged(id).map(|_| ())), "{id:?}");
        assert!(refused(store.promote(id, 1)), "{id:?}");
        assert!(refused(store.discard_staged(id, 1)), "{id:?}");
        assert!(refused(store.remove_wallet(id)), "{id:?}");
        assert!(!tandem_client::store::is_valid_wallet_id(id));
    }
    // Nothing escaped the store directory.
    let outside: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(outside.len(), 1);
    assert!(fs::read_dir(dir.join("shares")).unwrap().next().is_none());

    let longest = "A-z_9".repeat(11) + "abcdefghi";
    assert_eq!(longest.len(), 64);
    store.put(&longest, 1, ShareState::Current, b"ok").unwrap();
    assert_eq!(store.wallets().unwrap(), [longest]);
}

#[test]
fn wallets_and_remove_wallet() {
    let (_tmp, dir, store) = fresh();
    assert!(store.wallets().unwrap().is_empty());
    store.put("b", 1, ShareState::Current, b"b").unwrap();
    store.put("a", 1, ShareState::Staged, b"a").unwrap();
    store.put("c", 1, ShareState::Staged, b"c").unwrap();
    assert_eq!(store.wallets().unwrap(), ["a", "b", "c"]);

    // A wallet whose last share was discarded is no longer listed.
    store.discard_staged("c", 1).unwrap();
    assert_eq!(store.wallets().unwrap(), ["a", "b"]);

    store.remove_wallet("b").unwrap();
    assert!(!wallet_dir(&dir, "b").exists());
    assert_eq!(store.wallets().unwrap(), ["a"]);
    assert_eq!(current(&store, "b"), None);
    assert!(matches!(
        store.remove_wallet("b"),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.remove_wallet("never"),
        Err(StoreError::NotFound)
    ));
}

#[test]
fn change_passphrase_reencrypts_everything() {
    let (_tmp, dir, store) = fresh();
    store.put(W, 1, ShareState::Current, b"w e1").unwrap();
    store.put(W, 2, ShareState::Staged, b"w e2").unwrap();
    store.put("other", 7, ShareState::Current, b"o e7").unwrap();
    let before = fs::read(share_path(&dir, W, 1, "current")).unwrap();

    let new = store.change_passphrase("new passphrase").unwrap();
    assert_ne!(fs::read(share_path(&dir, W, 1, "current")).unwrap(), before);
    assert_eq!(current(&new, W), Some((1, b"w e1".to_vec())));
    assert_eq!(staged(&new, W), Some((2, b"w e2".to_vec())));
    assert_eq!(current(&new, "other"), Some((7, b"o e7".to_vec())));
    assert_eq!(names(&dir, W), ["1.current", "2.staged"]);
    assert_eq!(new.kdf_params(), cheap());

    // The old handle must not write shares under a key nobody has any more.
    assert!(matches!(
        store.put(W, 3, ShareState::Staged, b"x"),
        Err(StoreError::KeyChanged)
    ));
    assert!(matches!(store.current(W), Err(StoreError::KeyChanged)));
    drop(store);
    drop(new);

    assert!(matches!(
        reopen(&dir, PASS),
        Err(StoreError::WrongPassphrase)
    ));
    let new = reopen(&dir, "new passphrase").unwrap();
    assert_eq!(current(&new, W), Some((1, b"w e1".to_vec())));
    assert_eq!(new.wallets().unwrap(), ["other", W]);
}

#[test]
fn change_passphrase_can_raise_kdf_cost() {
    let (_tmp, dir, store) = fresh();
    store.put(W, 1, ShareState::Current, b"e1").unwrap();
    let stronger = KdfParams {
        m_kib: 1024,
        t: 2,
        p: 1,
    };
    let new = store.change_passphrase_with(NEW, stronger).unwrap();
    assert_eq!(new.kdf_params(), stronger);
    drop(new);
    let new = reopen(&dir, NEW).unwrap();
    assert_eq!(new.kdf_params(), stronger);
    assert_eq!(new.get(W, 1).unwrap().as_slice(), b"e1");
}

#[test]
fn change_passphrase_aborts_cleanly_on_a_corrupt_share() {
    let (_tmp, dir, store) = fresh();
    store.put("a", 1, ShareState::Current, b"a").unwrap();
    store.put("b", 1, ShareState::Current, b"b").unwrap();
    let path = share_path(&dir, "b", 1, "current");
    let mut bytes = fs::read(&path).unwrap();
    bytes[10] ^= 1;
    fs::write(&path, bytes).unwrap();
    assert!(matches!(
        store.change_passphrase(NEW),
        Err(StoreError::Corrupt(_))
    ));
    // No half-written state: the old passphrase still works and no .rekey files remain.
    assert_eq!(store.get("a", 1).unwrap().as_slice(), b"a");
    assert_eq!(names(&dir, "a"), ["1.current"]);
    drop(store);
    assert!(reopen(&dir, PASS).is_ok());
}

#[test]
fn debug_never_shows_the_key() {
    let (_tmp, dir, store) = fresh();
    store
        .put(W, 1, ShareState::Current, b"super secret share")
        .unwrap();
    let key = derive_key(&dir, PASS);
    let debug = format!("{store:?}");
    let pretty = format!("{store:#?}");
    for text in [&debug, &pretty] {
        assert!(text.contains("[redacted]"), "{text}");
        assert!(!text.contains(&hex::encode(key)));
        assert!(!text.contains(&format!("{key:?}")));
        assert!(!text.contains(&format!("{:?}", &key[..8]).trim_end_matches(']').to_owned()));
        assert!(!text.contains(PASS));
        assert!(!text.contains("super secret share"));
    }
}

#[test]
fn errors_never_show_secrets() {
    let (_tmp, dir, store) = fresh();
    store
        .put(W, 1, ShareState::Current, b"super secret share")
        .unwrap();
    let path = share_path(&dir, W, 1, "current");
    let mut bytes = fs::read(&path).unwrap();
    bytes[40] ^= 1;
    fs::write(&path, bytes).unwrap();
    let err = store.get(W, 1).unwrap_err();
    let wrong = reopen(&dir, "a wrong passphrase").unwrap_err();
    for text in [
        err.to_string(),
        format!("{err:?}"),
        wrong.to_string(),
        format!("{wrong:?}"),
    ] {
        assert!(!text.contains("super secret share"));
        assert!(!text.contains(PASS));
        assert!(!text.contains("a wrong passphrase"));
    }
}

#[test]
fn documented_file_formats() {
    let (_tmp, dir, store) = fresh();
    store
        .put(W, 258, ShareState::Staged, b"format check")
        .unwrap();

    let ks: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("keystore.json")).unwrap()).unwrap();
    assert_eq!(ks["version"], 1);
    assert_eq!(ks["kdf"], "argon2id");
    assert_eq!(ks["m_kib"], 256);
    assert_eq!(ks["t"], 1);
    assert_eq!(ks["p"], 1);
    assert_eq!(B64.decode(ks["salt"].as_str().unwrap()).unwrap().len(), 16);
    assert!(B64.decode(ks["check"].as_str().unwrap()).is_ok());

    // "TDSS" ‖ 1 ‖ nonce(24) ‖ ct ‖ tag, AAD "TDSS" ‖ 1 ‖ len ‖ id ‖ epoch BE.
    let file = fs::read(share_path(&dir, W, 258, "staged")).unwrap();
    assert_eq!(&file[..5], b"TDSS\x01");
    let nonce = XNonce::try_from(&file[5..29]).unwrap();
    let mut aad = b"TDSS\x01".to_vec();
    aad.push(u8::try_from(W.len()).unwrap());
    aad.extend_from_slice(W.as_bytes());
    aad.extend_from_slice(&258u64.to_be_bytes());
    let key = derive_key(&dir, PASS);
    let cipher = XChaCha20Poly1305::new_from_slice(&key).unwrap();
    let plain = cipher
        .decrypt(
            &nonce,
            Payload {
                msg: &file[29..],
                aad: &aad,
            },
        )
        .unwrap();
    assert_eq!(plain, b"format check");
}

#[test]
fn nonces_are_fresh_per_write() {
    let (_tmp, dir, store) = fresh();
    store.put("a", 1, ShareState::Current, b"same").unwrap();
    store.put("b", 1, ShareState::Current, b"same").unwrap();
    let a = fs::read(share_path(&dir, "a", 1, "current")).unwrap();
    let b = fs::read(share_path(&dir, "b", 1, "current")).unwrap();
    assert_ne!(a[5..29], b[5..29]);
}

#[test]
fn default_kdf_params() {
    assert_eq!(
        KdfParams::default(),
        KdfParams {
            m_kib: 256 * 1024,
            t: 3,
            p: 1
        }
    );
    assert!(KdfParams::default().at_least(&KdfParams::FLOOR));
    assert!(!KdfParams::OWASP.at_least(&KdfParams::FLOOR));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let store = ShareStore::open(&dir, PASS).unwrap();
    assert_eq!(store.kdf_params(), KdfParams::default());
    store.put(W, 1, ShareState::Current, b"e1").unwrap();
    drop(store);
    assert!(matches!(
        ShareStore::open(&dir, "wrong"),
        Err(StoreError::WrongPassphrase)
    ));
    let store = ShareStore::open(&dir, PASS).unwrap();
    assert_eq!(store.get(W, 1).unwrap().as_slice(), b"e1");
}

#[test]
fn invalid_kdf_params_are_refused_at_creation() {
    let tmp = tempfile::tempdir().unwrap();
    for params in [
        KdfParams {
            m_kib: 256,
            t: 0,
            p: 1,
        },
        KdfParams {
            m_kib: 256,
            t: 1,
            p: 0,
        },
        KdfParams {
            m_kib: 1,
            t: 1,
            p: 1,
        },
        KdfParams {
            m_kib: u32::MAX,
            t: 1,
            p: 1,
        },
        KdfParams {
            m_kib: 256,
            t: 1_000_000,
            p: 1,
        },
    ] {
        let dir = tmp.path().join("store");
        assert!(
            matches!(
                ShareStore::open_with(&dir, PASS, params),
                Err(StoreError::InvalidKdfParams(_))
            ),
            "{params:?}"
        );
        assert!(!ShareStore::exists(&dir));
    }
}

#[test]
fn tampered_keystore_is_corrupt_not_slow() {
    let (_tmp, dir, store) = fresh();
    drop(store);
    let path = dir.join("keystore.json");
    let original = fs::read_to_string(&path).unwrap();
    let mut ks: serde_json::Value = serde_json::from_str(&original).unwrap();

    let mut huge = ks.clone();
    huge["m_kib"] = serde_json::json!(u32::MAX);
    huge["t"] = serde_json::json!(u32::MAX);
    fs::write(&path, serde_json::to_vec(&huge).unwrap()).unwrap();
    assert!(matches!(reopen(&dir, PASS), Err(StoreError::Corrupt(_))));

    for (field, value) in [
        ("version", serde_json::json!(2)),
        ("kdf", serde_json::json!("scrypt")),
        ("salt", serde_json::json!("AAAA")),
        ("check", serde_json::json!("not base64!")),
    ] {
        let mut bad = ks.clone();
        bad[field] = value;
        fs::write(&path, serde_json::to_vec(&bad).unwrap()).unwrap();
        assert!(
            matches!(reopen(&dir, PASS), Err(StoreError::Corrupt(_))),
            "{field}"
        );
    }
    fs::write(&path, b"{not json").unwrap();
    assert!(matches!(reopen(&dir, PASS), Err(StoreError::Corrupt(_))));

    // Changing the salt or the params changes the key: reported as a wrong passphrase,
    // which is all anyone can tell.
    ks["t"] = serde_json::json!(2);
    fs::write(&path, serde_json::to_vec(&ks).unwrap()).unwrap();
    assert!(matches!(
        reopen(&dir, PASS),
        Err(StoreError::WrongPassphrase)
    ));

    fs::write(&path, original).unwrap();
    assert!(reopen(&dir, PASS).is_ok());
}

#[test]
fn missing_keystore_with_shares_is_not_silently_recreated() {
    let (_tmp, dir, store) = fresh();
    store.put(W, 1, ShareState::Current, b"e1").unwrap();
    drop(store);
    fs::remove_file(dir.join("keystore.json")).unwrap();
    assert!(!ShareStore::exists(&dir));
    assert!(matches!(reopen(&dir, PASS), Err(StoreError::Corrupt(_))));
    assert!(!ShareStore::exists(&dir));
}

#[test]
fn crash_during_promote_leaves_a_usable_share() {
    let (_tmp, dir, store) = fresh();
    store.put(W, 1, ShareState::Current, b"e1").unwrap();
    store.put(W, 2, ShareState::Staged, b"e2").unwrap();
    drop(store);
    // First half of promote only: the rename, not the deletion of the old current.
    fs::rename(
        share_path(&dir, W, 2, "staged"),
        share_path(&dir, W, 2, "current"),
    )
    .unwrap();

    let store = reopen(&dir, PASS).unwrap();
    assert_eq!(current(&store, W), Some((2, b"e2".to_vec())));
    assert_eq!(store.get(W, 1).unwrap().as_slice(), b"e1");
    // The next promotion keeps only the share it supersedes; confirming clears that too.
    store.put(W, 3, ShareState::Staged, b"e3").unwrap();
    store.promote(W, 3).unwrap();
    assert_eq!(names(&dir, W), ["2.current", "3.current"]);
    store.confirm(W, 3).unwrap();
    assert_eq!(names(&dir, W), ["3.current"]);
}

#[test]
fn crash_during_write_leaves_the_old_state_and_temp_files_are_cleaned() {
    let (_tmp, dir, store) = fresh();
    store.put(W, 1, ShareState::Current, b"e1").unwrap();
    drop(store);
    // A temp file that was never renamed into place, as a crash mid-put or mid-keystore
    // write would leave.
    fs::write(
        wallet_dir(&dir, W).join(".tmp-0123456789abcdef"),
        b"partial",
    )
    .unwrap();
    fs::write(dir.join(".tmp-fedcba9876543210"), b"{\"partial").unwrap();

    let store = reopen(&dir, PASS).unwrap();
    assert_eq!(current(&store, W), Some((1, b"e1".to_vec())));
    assert_eq!(names(&dir, W), ["1.current"]);
    assert!(!dir.join(".tmp-fedcba9876543210").exists());
}

/// Builds the on-disk state of a passphrase change interrupted between writing the
/// re-encrypted `.rekey` files and renaming them into place, with or without the new
/// keystore having been committed.
fn interrupted_rekey(committed: bool) -> (TempDir, PathBuf) {
    let (tmp, dir, store) = fresh();
    store.put(W, 1, ShareState::Current, b"w e1").unwrap();
    store.put(W, 2, ShareState::Staged, b"w e2").unwrap();
    store.put("other", 4, ShareState::Current, b"o e4").unwrap();
    drop(store);

    // Finish a real change in a copy, then graft its files onto the original as `.rekey`.
    let done = tmp.path().join("done");
    copy_dir(&dir, &done);
    let store = reopen(&done, PASS).unwrap();
    drop(store.change_passphrase(NEW).unwrap());
    for (wallet, file) in [(W, "1.current"), (W, "2.staged"), ("other", "4.current")] {
        fs::copy(
            wallet_dir(&done, wallet).join(file),
            wallet_dir(&dir, wallet).join(format!("{file}.rekey")),
        )
        .unwrap();
    }
    if committed {
        fs::copy(done.join("keystore.json"), dir.join("keystore.json")).unwrap();
    }
    (tmp, dir)
}

fn assert_all_shares(store: &ShareStore, dir: &Path) {
    assert_eq!(current(store, W), Some((1, b"w e1".to_vec())));
    assert_eq!(staged(store, W), Some((2, b"w e2".to_vec())));
    assert_eq!(current(store, "other"), Some((4, b"o e4".to_vec())));
    assert_eq!(names(dir, W), ["1.current", "2.staged"]);
    assert_eq!(names(dir, "other"), ["4.current"]);
}

#[test]
fn crash_before_passphrase_change_commit_rolls_back() {
    let (_tmp, dir) = interrupted_rekey(false);
    assert!(matches!(
        reopen(&dir, NEW),
        Err(StoreError::WrongPassphrase)
    ));
    let store = reopen(&dir, PASS).unwrap();
    assert_all_shares(&store, &dir);
}

#[test]
fn crash_after_passphrase_change_commit_rolls_forward() {
    let (_tmp, dir) = interrupted_rekey(true);
    assert!(matches!(
        reopen(&dir, PASS),
        Err(StoreError::WrongPassphrase)
    ));
    let store = reopen(&dir, NEW).unwrap();
    assert_all_shares(&store, &dir);
}

#[test]
fn concurrent_handles_serialise() {
    let (_tmp, dir, store) = fresh();
    drop(store);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let dir = &dir;
            s.spawn(move || {
                let store = reopen(dir, PASS).unwrap();
                for i in 0..5u64 {
                    let epoch = t * 100 + i;
                    store
                        .put(W, epoch, ShareState::Staged, &epoch.to_be_bytes())
                        .unwrap();
                }
            });
        }
    });
    let store = reopen(&dir, PASS).unwrap();
    assert_eq!(names(&dir, W).len(), 20);
    assert_eq!(
        staged(&store, W),
        Some((304, 304u64.to_be_bytes().to_vec()))
    );
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<ShareStore>();
    check::<StoreError>();
}

#[test]
fn weak_passphrases_are_refused_on_every_sdk_path() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    for weak in [
        "x",
        "eleven char",
        "password1234",
        "Qwertyuiop!!",
        "abcabcabcabcabc",
    ] {
        for result in [
            ShareStore::open(&dir, weak),
            ShareStore::open_with(&dir, weak, cheap()),
        ] {
            let err = result.unwrap_err();
            assert!(
                matches!(err, StoreError::WeakPassphrase(_)),
                "{weak}: {err}"
            );
            assert!(!err.to_string().contains(weak), "{err}");
        }
        assert!(!ShareStore::exists(&dir), "{weak}: a store was created");
    }
    let (_tmp, dir, store) = fresh();
    store.put(W, 1, ShareState::Current, b"e1").unwrap();
    for weak in ["x", "password1234"] {
        assert!(matches!(
            store.change_passphrase(weak),
            Err(StoreError::WeakPassphrase(_))
        ));
    }
    // Nothing changed: the old passphrase still opens the store.
    drop(store);
    assert_eq!(
        reopen(&dir, PASS).unwrap().get(W, 1).unwrap().as_slice(),
        b"e1"
    );
}

/// The cost of the floor's parameters, for a keystore made with them.
fn at_floor(dir: &Path) -> ShareStore {
    ShareStore::open_with(dir, PASS, KdfParams::FLOOR).unwrap()
}

#[test]
fn keystore_params_below_the_floor_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    drop(at_floor(&dir));
    assert!(ShareStore::open(&dir, PASS).is_ok());

    // A keystore.json edited down to cheaper parameters: refused before any Argon2 run,
    // whatever the passphrase, and whether or not the check value still matches.
    let path = dir.join("keystore.json");
    let original = fs::read_to_string(&path).unwrap();
    for (field, value) in [("m_kib", 64 * 1024 - 1), ("t", 1), ("m_kib", 256)] {
        let mut ks: serde_json::Value = serde_json::from_str(&original).unwrap();
        ks[field] = serde_json::json!(value);
        fs::write(&path, serde_json::to_vec(&ks).unwrap()).unwrap();
        let err = ShareStore::open(&dir, PASS).unwrap_err();
        assert!(
            matches!(err, StoreError::KdfBelowFloor { .. }),
            "{field}={value}: {err}"
        );
    }

    // A store made cheap on purpose (tests, load simulation) does not open with the
    // production floor either.
    let (_tmp, cheap_dir, store) = fresh();
    drop(store);
    assert!(matches!(
        ShareStore::open(&cheap_dir, PASS),
        Err(StoreError::KdfBelowFloor { .. })
    ));

    // And a passphrase change cannot lower the cost below the floor.
    fs::write(&path, &original).unwrap();
    let store = ShareStore::open(&dir, PASS).unwrap();
    assert!(matches!(
        store.change_passphrase_with(NEW, cheap()),
        Err(StoreError::InvalidKdfParams(_))
    ));
}

#[test]
fn a_legacy_store_opens_and_is_rekeyed_to_the_new_default() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    // A store as the previous release created it: the OWASP parameters, below the floor.
    let store = ShareStore::open_with(&dir, "legacy passphrase", KdfParams::OWASP).unwrap();
    store.put(W, 3, ShareState::Current, b"legacy e3").unwrap();
    store.put(W, 4, ShareState::Staged, b"legacy e4").unwrap();
    drop(store);
    let ks: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("keystore.json")).unwrap()).unwrap();
    assert_eq!(ks["m_kib"], 19_456);

    let store = ShareStore::open(&dir, "legacy passphrase").unwrap();
    assert_eq!(store.kdf_params(), KdfParams::default());
    assert_eq!(current(&store, W), Some((3, b"legacy e3".to_vec())));
    assert_eq!(staged(&store, W), Some((4, b"legacy e4".to_vec())));
    drop(store);
    let ks: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("keystore.json")).unwrap()).unwrap();
    assert_eq!(
        (ks["m_kib"].as_u64(), ks["t"].as_u64()),
        (Some(256 * 1024), Some(3))
    );
    assert_eq!(names(&dir, W), ["3.current", "4.staged"]);
    assert!(matches!(
        ShareStore::open(&dir, "wrong passphrase"),
        Err(StoreError::WrongPassphrase)
    ));
    let store = ShareStore::open(&dir, "legacy passphrase").unwrap();
    assert_eq!(store.get(W, 3).unwrap().as_slice(), b"legacy e3");
}

/// How long one wrong guess costs with the default parameters (run with `--nocapture` to
/// see the figure; asserted only loosely, since the machine may be busy).
#[test]
fn a_wrong_guess_costs_the_default_argon2_time() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    drop(ShareStore::open(&dir, PASS).unwrap());
    let start = std::time::Instant::now();
    let guesses = 2;
    for _ in 0..guesses {
        assert!(matches!(
            ShareStore::open(&dir, "a wrong guess"),
            Err(StoreError::WrongPassphrase)
        ));
    }
    let per_guess = start.elapsed() / guesses;
    println!("one wrong passphrase guess: {per_guess:?} (m = 256 MiB, t = 3, p = 1)");
    assert!(
        per_guess >= std::time::Duration::from_millis(200),
        "{per_guess:?}"
    );
}

#[test]
fn a_lock_that_cannot_be_saved_still_holds_in_the_process() {
    let (_tmp, dir, store) = fresh();
    store.put(W, 1, ShareState::Current, b"e1").unwrap();
    let other_handle = reopen(&dir, PASS).unwrap();
    // The store can no longer be written (its keystore is gone): the marker fails.
    fs::remove_file(dir.join("keystore.json")).unwrap();
    assert!(store.lock_wallet(W).is_err());
    assert!(store.is_locked(W).unwrap());
    assert!(other_handle.is_locked(W).unwrap());
    assert!(!store.is_locked("w2").unwrap());
}
