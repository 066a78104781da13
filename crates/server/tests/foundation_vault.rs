//! Vault: envelope encryption bound to (wallet, epoch, role) and the local key file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use tandem_server::vault::{KeyProvider, LocalKeyProvider, SealedShare, Vault, VaultError};
use zeroize::Zeroizing;

fn vault_in(dir: &tempfile::TempDir, name: &str) -> Vault {
    let provider = LocalKeyProvider::open_or_create(&dir.path().join(name)).unwrap();
    Vault::new(Arc::new(provider))
}

const SHARE: &[u8] = b"server share bytes: not really a share, but secret all the same";

#[test]
fn seal_and_open_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault_in(&dir, "kek.key");
    let sealed = vault.seal("wallet-1", 7, "server", SHARE).unwrap();
    assert_eq!(sealed.kek_id, vault.kek_id());
    assert!(sealed.kek_id.starts_with("local:") && sealed.kek_id.len() == 14);
    assert!(!sealed.ciphertext.windows(SHARE.len()).any(|w| w == SHARE));
    let opened = vault.open("wallet-1", 7, "server", &sealed).unwrap();
    assert_eq!(opened.as_slice(), SHARE);
}

#[test]
fn every_seal_uses_a_fresh_data_key_and_nonce() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault_in(&dir, "kek.key");
    let a = vault.seal("w", 1, "server", SHARE).unwrap();
    let b = vault.seal("w", 1, "server", SHARE).unwrap();
    assert_ne!(a.wrapped_dek, b.wrapped_dek);
    assert_ne!(a.ciphertext, b.ciphertext);
}

#[test]
fn wrong_context_fails_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault_in(&dir, "kek.key");
    let sealed = vault.seal("wallet-1", 7, "server", SHARE).unwrap();
    for (wallet, epoch, role) in [
        ("wallet-2", 7, "server"),
        ("wallet-1", 8, "server"),
        ("wallet-1", 6, "server"),
        ("wallet-1", 7, "device"),
        ("wallet-", 7, "1server"),
    ] {
        assert!(matches!(
            vault.open(wallet, epoch, role, &sealed),
            Err(VaultError::Authentication)
        ));
    }
}

#[test]
fn any_flipped_bit_fails_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault_in(&dir, "kek.key");
    let sealed = vault.seal("w", 1, "server", SHARE).unwrap();
    for i in 0..sealed.wrapped_dek.len() * 8 {
        let mut bad = sealed.clone();
        bad.wrapped_dek[i / 8] ^= 1 << (i % 8);
        assert!(matches!(
            vault.open("w", 1, "server", &bad),
            Err(VaultError::Authentication)
        ));
    }
    for i in 0..sealed.ciphertext.len() * 8 {
        let mut bad = sealed.clone();
        bad.ciphertext[i / 8] ^= 1 << (i % 8);
        assert!(matches!(
            vault.open("w", 1, "server", &bad),
            Err(VaultError::Authentication)
        ));
    }
    // Truncated and empty values, too.
    let mut short = sealed.clone();
    short.ciphertext.truncate(10);
    assert!(matches!(
        vault.open("w", 1, "server", &short),
        Err(VaultError::Authentication)
    ));
    let mut empty = sealed.clone();
    empty.wrapped_dek.clear();
    assert!(matches!(
        vault.open("w", 1, "server", &empty),
        Err(VaultError::Authentication)
    ));
}

#[test]
fn another_kek_fails_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let vault_a = vault_in(&dir, "a.key");
    let vault_b = vault_in(&dir, "b.key");
    assert_ne!(vault_a.kek_id(), vault_b.kek_id());
    let sealed = vault_a.seal("w", 1, "server", SHARE).unwrap();
    // B has no key by A's id at all: said so, with the (non-secret) id.
    assert!(matches!(
        vault_b.open("w", 1, "server", &sealed),
        Err(VaultError::UnknownKek(id)) if id == vault_a.kek_id()
    ));
    // Even with the kek_id relabelled, B cannot unwrap A's data key.
    let relabelled = SealedShare {
        kek_id: vault_b.kek_id().to_owned(),
        ..sealed
    };
    assert!(matches!(
        vault_b.open("w", 1, "server", &relabelled),
        Err(VaultError::Authentication)
    ));
}

#[test]
fn empty_plaintext_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault_in(&dir, "kek.key");
    let sealed = vault.seal("w", 0, "server", b"").unwrap();
    assert!(vault.open("w", 0, "server", &sealed).unwrap().is_empty());
}

#[test]
fn key_file_is_created_0600_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/server-kek.key");
    let first = LocalKeyProvider::open_or_create(&path).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
    // No temporary files left behind.
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1);

    let second = LocalKeyProvider::open_or_create(&path).unwrap();
    assert_eq!(first.kek_id(), second.kek_id());
    let sealed = Vault::new(Arc::new(first))
        .seal("w", 3, "server", SHARE)
        .unwrap();
    let opened = Vault::new(Arc::new(second))
        .open("w", 3, "server", &sealed)
        .unwrap();
    assert_eq!(opened.as_slice(), SHARE);
}

#[test]
fn key_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kek.key");
    LocalKeyProvider::open_or_create(&path).unwrap();
    for mode in [0o644, 0o640, 0o604, 0o660] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = LocalKeyProvider::open_or_create(&path).unwrap_err();
        assert!(
            matches!(err, VaultError::KeyFilePermissions { mode: m, .. } if m == mode),
            "{mode:o}: {err}"
        );
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    assert!(LocalKeyProvider::open_or_create(&path).is_ok());
}

#[test]
fn key_file_of_wrong_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for len in [0usize, 31, 33, 64] {
        let path = dir.path().join(format!("kek-{len}.key"));
        std::fs::write(&path, vec![7u8; len]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            LocalKeyProvider::open_or_create(&path),
            Err(VaultError::KeyFileInvalid { .. })
        ));
    }
}

#[test]
fn kek_id_is_a_stable_digest_prefix() {
    let a = LocalKeyProvider::from_key(Zeroizing::new([1u8; 32]));
    let b = LocalKeyProvider::from_key(Zeroizing::new([1u8; 32]));
    let c = LocalKeyProvider::from_key(Zeroizing::new([2u8; 32]));
    assert_eq!(a.kek_id(), b.kek_id());
    assert_ne!(a.kek_id(), c.kek_id());
    // SHA-256 of 32 bytes of 0x01, first 8 hex characters.
    assert_eq!(a.kek_id(), "local:72cd6e84");
}

#[test]
fn nothing_secret_in_debug_output() {
    let provider = LocalKeyProvider::from_key(Zeroizing::new([0xAB; 32]));
    let shown = format!("{provider:?}");
    assert!(shown.contains("[redacted]"));
    assert!(!shown.to_lowercase().contains("abab"));
    let vault = Vault::new(Arc::new(provider));
    let sealed = vault.seal("w", 1, "server", SHARE).unwrap();
    let shown = format!("{sealed:?} {vault:?}");
    assert!(!shown.contains(&format!("{:?}", &sealed.ciphertext[..4])));
}

#[test]
fn concurrent_first_starts_agree_on_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kek.key");
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    LocalKeyProvider::open_or_create(&path)
                        .unwrap()
                        .kek_id()
                        .to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
}

/// A key store that takes its time, as an HSM under load or across a network does. The data
/// key is "wrapped" by XOR with a constant: this test is about scheduling, not cryptography.
struct SlowHsm;

impl KeyProvider for SlowHsm {
    fn kek_id(&self) -> &str {
        "pkcs11:slow:kek"
    }
    fn wrap(&self, dek: &[u8; 32], _aad: &[u8]) -> Result<Vec<u8>, VaultError> {
        std::thread::sleep(std::time::Duration::from_millis(800));
        Ok(dek.iter().map(|b| b ^ 0x5a).collect())
    }
    fn unwrap(&self, wrapped: &[u8], _aad: &[u8]) -> Result<Zeroizing<[u8; 32]>, VaultError> {
        std::thread::sleep(std::time::Duration::from_millis(800));
        let mut dek = Zeroizing::new([0u8; 32]);
        for (d, w) in dek.iter_mut().zip(wrapped) {
            *d = w ^ 0x5a;
        }
        Ok(dek)
    }
    fn blocks(&self) -> bool {
        true
    }
}

/// A slow key store delays only the calls that need it: with a single async worker, a task
/// that only waits on timers keeps its pace while a seal and an open sit on the "HSM".
#[test]
fn a_slow_key_store_never_stalls_the_async_workers() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let vault = Vault::new(Arc::new(SlowHsm));
        let hsm_calls = tokio::spawn(async move {
            let sealed = vault.seal("wallet-1", 0, "server", SHARE).unwrap();
            let opened = vault.open("wallet-1", 0, "server", &sealed).unwrap();
            assert_eq!(opened.as_slice(), SHARE);
        });
        // Let the HSM task start first, on the only worker.
        tokio::task::yield_now().await;
        // Timed from the spawn: a stalled task would not even start.
        let started = std::time::Instant::now();
        let ticker = tokio::spawn(async move {
            for _ in 0..20 {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            started.elapsed()
        });
        let ticked = ticker.await.unwrap();
        hsm_calls.await.unwrap();
        // 20 ticks of 10 ms; stalled behind the HSM they would take over 1.6 s.
        assert!(
            ticked < std::time::Duration::from_millis(800),
            "timer task stalled for {ticked:?} behind the key store"
        );
    });
}
