//! Vault: the PKCS#11 KEK provider against a real SoftHSM2 token.
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` at `C_Initialize`, and a module is initialised once per
//! process, so the outer test writes a private config and token directory and re-runs this test
//! binary (only `pkcs11_child`) with `SOFTHSM2_CONF` pointing at it. All cases run in that one
//! child process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::UserType;
use secrecy::SecretString;
use tandem_server::vault::testing::SoftHsmConf;
use tandem_server::vault::{KeyProvider, Pkcs11Config, Pkcs11KeyProvider, Vault, VaultError};

const CHILD_ENV: &str = "TANDEM_PKCS11_TEST_MODULE";
const LABEL_ENV: &str = "TANDEM_PKCS11_TEST_LABEL";
const SO_PIN: &str = "so-pin-123456";
const USER_PIN: &str = "user-pin-654321";
const KEY_LABEL: &str = "tandem-kek-v1";
const SHARE: &[u8] = b"server share bytes: not really a share, but secret all the same";

#[test]
fn softhsm_kek_provider() {
    let Some(hsm) = SoftHsmConf::new() else {
        return;
    };
    let (conf, module) = (&hsm.conf, &hsm.module);
    let mut suffix = [0u8; 4];
    getrandom::fill(&mut suffix).unwrap();
    let token_label = format!("tandem-test-{}", hex::encode(suffix));

    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "pkcs11_child", "--nocapture", "--test-threads=1"])
        .env("SOFTHSM2_CONF", conf)
        .env(CHILD_ENV, module)
        .env(LABEL_ENV, &token_label)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("--- child stdout ---\n{stdout}\n--- child stderr ---\n{stderr}");
    assert!(out.status.success(), "child test failed: {}", out.status);
    assert!(
        stdout.contains("pkcs11 child: all cases passed"),
        "child did not run the cases"
    );
}

/// Runs only when started by `softhsm_kek_provider` with a private `SOFTHSM2_CONF`.
#[test]
fn pkcs11_child() {
    let (Some(module), Some(token_label)) =
        (std::env::var_os(CHILD_ENV), std::env::var(LABEL_ENV).ok())
    else {
        return;
    };
    let module = PathBuf::from(module);
    init_token(&module, &token_label);
    run_cases(&module, &token_label);
    println!("pkcs11 child: all cases passed");
}

fn config(module: &Path, token_label: &str) -> Pkcs11Config {
    Pkcs11Config {
        module: module.to_path_buf(),
        token_label: token_label.to_owned(),
        pin: SecretString::from(USER_PIN),
        key_label: KEY_LABEL.to_owned(),
    }
}

/// Initialises a fresh token on a free slot and sets its user PIN, through the process-wide
/// context (never a second `Pkcs11` for the same module).
fn init_token(module: &Path, label: &str) {
    let ctx = Pkcs11KeyProvider::context(module).unwrap();
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| !ctx.get_token_info(*s).unwrap().token_initialized())
        .expect("a free SoftHSM slot");
    ctx.init_token(slot, &SecretString::from(SO_PIN), label)
        .unwrap();
    // SoftHSM moves the token to a new slot id: find it again by label.
    let slot = ctx
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label() == label)
        .expect("the initialised token");
    let session = ctx.open_rw_session(slot).unwrap();
    session
        .login(UserType::So, Some(&SecretString::from(SO_PIN)))
        .unwrap();
    session.init_pin(&SecretString::from(USER_PIN)).unwrap();
    session.logout().unwrap();
    session.close().unwrap();
}

fn run_cases(module: &Path, token_label: &str) {
    // open before init: no key yet.
    assert!(matches!(
        Pkcs11KeyProvider::open(config(module, token_label)),
        Err(VaultError::UnknownKek(_))
    ));
    // A wrong PIN does not open.
    let mut bad = config(module, token_label);
    bad.pin = SecretString::from("wrong-pin");
    // (Logged-in state is per token, so test the wrong PIN before anyone logs in.)
    match Pkcs11KeyProvider::init(bad) {
        Err(VaultError::Provider(msg)) => {
            assert!(msg.contains("PIN was refused"), "{msg}");
            assert!(!msg.contains("wrong-pin"), "the error shows the PIN: {msg}");
        }
        other => panic!("a wrong PIN opened the token: {other:?}"),
    }

    // init creates the key.
    let first = Pkcs11KeyProvider::init(config(module, token_label)).unwrap();
    assert_eq!(first.kek_id(), format!("pkcs11:{token_label}:{KEY_LABEL}"));
    let debug = format!("{first:?} {:?}", config(module, token_label));
    assert!(!debug.contains(USER_PIN), "Debug leaks the PIN: {debug}");

    // wrap/unwrap round trip; fresh IV each time.
    let dek = [7u8; 32];
    let aad = b"wallet-1|7|server";
    let wrapped = first.wrap(&dek, aad).unwrap();
    assert_eq!(wrapped.len(), 12 + 32 + 16);
    assert!(!wrapped.windows(32).any(|w| w == dek));
    assert_ne!(wrapped, first.wrap(&dek, aad).unwrap());
    assert_eq!(*first.unwrap(&wrapped, aad).unwrap(), dek);

    // A second init and an open find the same key.
    let second = Pkcs11KeyProvider::init(config(module, token_label)).unwrap();
    let reopened = Pkcs11KeyProvider::open(config(module, token_label)).unwrap();
    assert_eq!(second.kek_id(), first.kek_id());
    assert_eq!(reopened.kek_id(), first.kek_id());
    assert_eq!(*second.unwrap(&wrapped, aad).unwrap(), dek);
    assert_eq!(*reopened.unwrap(&wrapped, aad).unwrap(), dek);
    assert_eq!(
        *first
            .unwrap(&reopened.wrap(&dek, aad).unwrap(), aad)
            .unwrap(),
        dek
    );

    // Exactly one key with that label, and it cannot leave the token.
    check_key_attributes(module, token_label);

    // Wrong AAD fails, and the provider still works afterwards.
    assert!(matches!(
        first.unwrap(&wrapped, b"wallet-2|7|server"),
        Err(VaultError::Authentication)
    ));
    assert_eq!(*first.unwrap(&wrapped, aad).unwrap(), dek);

    // Every flipped bit (IV, ciphertext, tag) fails; so do truncation and extension.
    for i in 0..wrapped.len() {
        for bit in [0u8, 7] {
            let mut bad = wrapped.clone();
            bad[i] ^= 1 << bit;
            assert!(
                matches!(first.unwrap(&bad, aad), Err(VaultError::Authentication)),
                "flipped bit {bit} of byte {i} was accepted"
            );
        }
    }
    assert!(matches!(
        first.unwrap(&wrapped[..wrapped.len() - 1], aad),
        Err(VaultError::Authentication)
    ));
    let mut longer = wrapped.clone();
    longer.push(0);
    assert!(matches!(
        first.unwrap(&longer, aad),
        Err(VaultError::Authentication)
    ));
    assert!(matches!(
        first.unwrap(&[], aad),
        Err(VaultError::Authentication)
    ));
    assert_eq!(*first.unwrap(&wrapped, aad).unwrap(), dek);

    // Through the vault.
    let vault = Vault::new(Arc::new(first));
    let other = Vault::new(Arc::new(reopened));
    let a = vault.seal("wallet-a", 3, "server", SHARE).unwrap();
    assert_eq!(a.kek_id, format!("pkcs11:{token_label}:{KEY_LABEL}"));
    assert_eq!(
        vault.open("wallet-a", 3, "server", &a).unwrap().as_slice(),
        SHARE
    );
    assert_eq!(
        other.open("wallet-a", 3, "server", &a).unwrap().as_slice(),
        SHARE
    );

    // Two wallets' shares swapped.
    let b = vault
        .seal("wallet-b", 3, "server", b"wallet b share")
        .unwrap();
    assert!(matches!(
        vault.open("wallet-b", 3, "server", &a),
        Err(VaultError::Authentication)
    ));
    assert!(matches!(
        vault.open("wallet-a", 3, "server", &b),
        Err(VaultError::Authentication)
    ));

    // An old epoch's blob opened as the current epoch.
    let old = vault
        .seal("wallet-a", 2, "server", b"epoch 2 share")
        .unwrap();
    assert!(matches!(
        vault.open("wallet-a", 3, "server", &old),
        Err(VaultError::Authentication)
    ));
    assert_eq!(
        vault
            .open("wallet-a", 2, "server", &old)
            .unwrap()
            .as_slice(),
        b"epoch 2 share"
    );

    // A session the token drops (here: the application's login ends) is reopened and logged
    // in again: the same provider keeps working, without a restart.
    let admin = user_session(module, token_label);
    admin.logout().unwrap();
    assert_eq!(*second.unwrap(&wrapped, aad).unwrap(), dek);
    assert_eq!(
        *second
            .unwrap(&second.wrap(&dek, aad).unwrap(), aad)
            .unwrap(),
        dek
    );
    assert_eq!(vault.probe(&a.kek_id).map_err(|e| e.to_string()), Ok(()));

    // A token that refuses the login (here: the PIN was changed under the server) makes every
    // call `Unavailable`, never an authentication failure, without the PIN in the message;
    // the provider recovers by itself once the token accepts it again.
    let temp_pin = SecretString::from("temporary-pin-777");
    admin
        .set_pin(&SecretString::from(USER_PIN), &temp_pin)
        .unwrap();
    admin.logout().unwrap();
    for result in [
        second.unwrap(&wrapped, aad).map(|_| ()),
        second.wrap(&dek, aad).map(|_| ()),
        vault.probe(&a.kek_id),
        vault.open("wallet-a", 3, "server", &a).map(|_| ()),
    ] {
        match result {
            Err(VaultError::Unavailable(msg)) => {
                assert!(msg.contains("PIN was refused"), "{msg}");
                assert!(
                    !msg.contains(USER_PIN) && !msg.contains("temporary-pin"),
                    "{msg}"
                );
            }
            other => panic!("an unreachable token gave {other:?}"),
        }
    }
    admin.login(UserType::User, Some(&temp_pin)).unwrap();
    admin
        .set_pin(&temp_pin, &SecretString::from(USER_PIN))
        .unwrap();
    admin.logout().unwrap();
    assert_eq!(*second.unwrap(&wrapped, aad).unwrap(), dek);
    assert_eq!(
        vault.open("wallet-a", 3, "server", &a).unwrap().as_slice(),
        SHARE
    );
    admin.close().unwrap();

    // A second module path in the same process is refused.
    let mut elsewhere = config(module, token_label);
    elsewhere.module = PathBuf::from("/nonexistent/libother-pkcs11.so");
    assert!(matches!(
        Pkcs11KeyProvider::open(elsewhere),
        Err(VaultError::Provider(_))
    ));
}

/// A session on the token, logged in as user (logging in is per application and token, so
/// the providers' sessions may already have done it).
fn user_session(module: &Path, token_label: &str) -> cryptoki::session::Session {
    let ctx = Pkcs11KeyProvider::context(module).unwrap();
    let slot = ctx
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label() == token_label)
        .unwrap();
    let session = ctx.open_rw_session(slot).unwrap();
    match session.login(UserType::User, Some(&SecretString::from(USER_PIN))) {
        Ok(())
        | Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserAlreadyLoggedIn, _)) => {
        }
        Err(e) => panic!("login: {e}"),
    }
    session
}

fn check_key_attributes(module: &Path, token_label: &str) {
    let ctx = Pkcs11KeyProvider::context(module).unwrap();
    let slot = ctx
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label() == token_label)
        .unwrap();
    let session = ctx.open_ro_session(slot).unwrap();
    // The providers' sessions already hold the user login for this token.
    let keys = session
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Label(KEY_LABEL.as_bytes().to_vec()),
        ])
        .unwrap();
    assert_eq!(keys.len(), 1, "init must be idempotent");
    let attrs = session
        .get_attributes(
            keys[0],
            &[
                AttributeType::Value,
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::Token,
                AttributeType::Private,
                AttributeType::ValueLen,
            ],
        )
        // Either no attribute or an error is acceptable for CKA_VALUE; an error here would
        // hide the others, so require the call to succeed and the value to be absent.
        .unwrap();
    assert!(
        !attrs.iter().any(|a| matches!(a, Attribute::Value(_))),
        "CKA_VALUE of the KEK was readable"
    );
    assert!(attrs.contains(&Attribute::Sensitive(true)));
    assert!(attrs.contains(&Attribute::Extractable(false)));
    assert!(attrs.contains(&Attribute::Token(true)));
    assert!(attrs.contains(&Attribute::Private(true)));
    assert!(
        attrs
            .iter()
            .any(|a| matches!(a, Attribute::ValueLen(v) if usize::from(*v) == 32))
    );
    session.close().unwrap();
}
