//! The `pkcs11` KEK provider: a non-extractable AES-256 key inside a PKCS#11 token (an HSM,
//! or SoftHSM2 in tests).
//!
//! Data keys are wrapped with `CKM_AES_GCM` on the token: a fresh 96-bit IV from the operating
//! system (not the token), the vault's associated data, and a 128-bit tag. The wrapped form is
//! `IV ‖ ciphertext ‖ tag` (12 + 32 + 16 = 60 bytes).
//!
//! A PKCS#11 module may be initialised only once per process (`C_Initialize` twice errors or
//! crashes some modules), so the loaded module lives in a process-wide slot, keyed by its path;
//! asking for a second, different module in the same process is an error.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::pkcs11_pool::{PoolError, SessionPool};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::Ulong;
use secrecy::SecretString;
use zeroize::Zeroizing;

use super::{KeyProvider, VaultError};

const IV_LEN: usize = 12;
const DEK_LEN: usize = 32;
const TAG_LEN: usize = 16;
const WRAPPED_LEN: usize = IV_LEN + DEK_LEN + TAG_LEN;

/// Where the KEK lives: a PKCS#11 module, a token in it, the user PIN and the key's label.
#[derive(Clone)]
pub struct Pkcs11Config {
    /// Path of the PKCS#11 module (e.g. `/usr/lib/softhsm/libsofthsm2.so`).
    pub module: PathBuf,
    /// Label of the token holding the KEK (the token is found by label, not slot number).
    pub token_label: String,
    /// The token's user PIN.
    pub pin: SecretString,
    /// Label of the AES-256 KEK on the token, e.g. `tandem-kek-v1`.
    pub key_label: String,
}

impl std::fmt::Debug for Pkcs11Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Config")
            .field("module", &self.module)
            .field("token_label", &self.token_label)
            .field("pin", &"[redacted]")
            .field("key_label", &self.key_label)
            .finish()
    }
}

/// A KEK held in a PKCS#11 token. The key never leaves the token; wrapping and unwrapping run
/// on it with `CKM_AES_GCM`.
///
/// Calls go through a small pool of logged-in sessions ([`SessionPool`]): a session the token
/// has lost (closed, logged out, device removed) is dropped and a new one opened, so one bad
/// session never takes the vault down for good. Every call blocks on the token; the vault
/// moves such calls off the async workers ([`KeyProvider::blocks`]).
pub struct Pkcs11KeyProvider {
    pool: SessionPool,
    kek_id: String,
}

impl std::fmt::Debug for Pkcs11KeyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11KeyProvider")
            .field("kek_id", &self.kek_id)
            .finish_non_exhaustive()
    }
}

/// The process-wide PKCS#11 context and the module it was loaded from.
static CONTEXT: Mutex<Option<(PathBuf, Pkcs11)>> = Mutex::new(None);

fn provider_err(what: &str, e: impl std::fmt::Display) -> VaultError {
    VaultError::Provider(format!("pkcs11: {what}: {e}"))
}

impl Pkcs11KeyProvider {
    /// Opens an existing KEK: loads the module (once per process), finds the token by label,
    /// logs in as user, checks that the token supports `CKM_AES_GCM`, and finds the AES key by
    /// label. Fails if the key is missing ([`VaultError::UnknownKek`]), ambiguous, not AES-256,
    /// or extractable/not sensitive.
    pub fn open(config: Pkcs11Config) -> Result<Self, VaultError> {
        Self::connect(config, false).map(|(provider, _)| provider)
    }

    /// Like [`open`](Self::open), but first creates the KEK on the token if no key with that
    /// label exists (AES-256, token object, private, sensitive, not extractable, usable for
    /// encrypt/decrypt/wrap/unwrap). Idempotent: an existing key is used as is.
    pub fn init(config: Pkcs11Config) -> Result<Self, VaultError> {
        Self::connect(config, true).map(|(provider, _)| provider)
    }

    /// [`init`](Self::init), also telling whether the key was created now (`true`) or found.
    pub fn init_reporting(config: Pkcs11Config) -> Result<(Self, bool), VaultError> {
        Self::connect(config, true)
    }

    /// The identifier a key labelled `key_label` on token `token_label` has.
    pub fn kek_id_for(token_label: &str, key_label: &str) -> String {
        format!("pkcs11:{token_label}:{key_label}")
    }

    /// Destroys this KEK inside the token. Every share it wrapped becomes unreadable for good,
    /// so callers check first that no stored share still names it.
    pub fn destroy(self) -> Result<(), VaultError> {
        self.pool
            .run(|session, key| session.destroy_object(key))
            .map_err(|e| pool_err("C_DestroyObject", e))
    }

    /// The process-wide PKCS#11 context for `module`, loading and initialising the module on
    /// first use. Fails if another module is already loaded in this process. For provisioning
    /// tools and tests that must talk to the same module (e.g. to initialise a token); never
    /// create a second `Pkcs11` context for a module in the same process.
    pub fn context(module: &Path) -> Result<Pkcs11, VaultError> {
        let mut slot = CONTEXT
            .lock()
            .map_err(|_| VaultError::Provider("pkcs11: context lock poisoned".to_owned()))?;
        if let Some((path, ctx)) = slot.as_ref() {
            if path != module {
                return Err(VaultError::Provider(format!(
                    "pkcs11: module `{}` is already loaded in this process; cannot also load `{}`",
                    path.display(),
                    module.display()
                )));
            }
            return Ok(ctx.clone());
        }
        if !module.exists() {
            return Err(VaultError::Provider(format!(
                "pkcs11: module `{}` not found (vault.pkcs11.module)",
                module.display()
            )));
        }
        let ctx = Pkcs11::new(module)
            .map_err(|e| provider_err(&format!("loading `{}`", module.display()), e))?;
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(|e| provider_err("C_Initialize", e))?;
        *slot = Some((module.to_path_buf(), ctx.clone()));
        Ok(ctx)
    }

    fn connect(config: Pkcs11Config, create: bool) -> Result<(Self, bool), VaultError> {
        let ctx = Self::context(&config.module)?;
        let slot = find_token(&ctx, &config.token_label)?;

        // Asked one by one rather than through C_GetMechanismList: cryptoki logs an error for
        // every vendor mechanism in a full list it cannot name, which would flood the log.
        let supports = |m: MechanismType| ctx.get_mechanism_info(slot, m).is_ok();
        if !supports(MechanismType::AES_GCM) {
            return Err(VaultError::Provider(format!(
                "pkcs11: token `{}` does not support CKM_AES_GCM",
                config.token_label
            )));
        }

        let session = ctx
            .open_rw_session(slot)
            .map_err(|e| provider_err("C_OpenSession", e))?;
        match session.login(UserType::User, Some(&config.pin)) {
            // Login state is per application and token: another provider may have logged in.
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(e) => return Err(login_err(&config.token_label, e)),
        }

        let mut created = false;
        let key = match find_key(&session, &config.key_label)? {
            Some(key) => key,
            None if create => {
                if !supports(MechanismType::AES_KEY_GEN) {
                    return Err(VaultError::Provider(format!(
                        "pkcs11: token `{}` does not support CKM_AES_KEY_GEN",
                        config.token_label
                    )));
                }
                let key = generate_key(&session, &config.key_label)?;
                created = true;
                tracing::info!(
                    token = %config.token_label,
                    key = %config.key_label,
                    "created a new PKCS#11 key-encryption key"
                );
                key
            }
            None => {
                return Err(VaultError::UnknownKek(Self::kek_id_for(
                    &config.token_label,
                    &config.key_label,
                )));
            }
        };
        check_key(&session, key, &config.key_label)?;

        let kek_id = Self::kek_id_for(&config.token_label, &config.key_label);
        Ok((
            Self {
                pool: SessionPool::new(config, session, key),
                kek_id,
            },
            created,
        ))
    }
}

/// A login failure in words an operator can act on; never contains the PIN.
pub(super) fn login_err(token: &str, e: CkError) -> VaultError {
    let what = match &e {
        CkError::Pkcs11(RvError::PinIncorrect, _) => {
            "the user PIN was refused (check TANDEM_VAULT_PKCS11_PIN)".to_owned()
        }
        CkError::Pkcs11(RvError::PinLocked, _) => {
            "the user PIN is locked (too many wrong tries); the security officer must reset it"
                .to_owned()
        }
        CkError::Pkcs11(RvError::PinLenRange, _) => {
            "the user PIN has a length the token does not accept (check TANDEM_VAULT_PKCS11_PIN)"
                .to_owned()
        }
        CkError::Pkcs11(RvError::UserPinNotInitialized, _) => {
            "the token has no user PIN yet (initialise it with the token's tools)".to_owned()
        }
        other => format!("C_Login: {other}"),
    };
    VaultError::Provider(format!("pkcs11: token `{token}`: {what}"))
}

/// The slot whose token carries `label` (SoftHSM moves a token to a new slot id when it is
/// initialised, so slot numbers are not stable).
pub(super) fn find_token(ctx: &Pkcs11, label: &str) -> Result<Slot, VaultError> {
    let slots = ctx
        .get_slots_with_initialized_token()
        .map_err(|e| provider_err("C_GetSlotList", e))?;
    let mut found = None;
    for slot in slots {
        let info = ctx
            .get_token_info(slot)
            .map_err(|e| provider_err("C_GetTokenInfo", e))?;
        if info.label() == label {
            if found.is_some() {
                return Err(VaultError::Provider(format!(
                    "pkcs11: more than one token is labelled `{label}`"
                )));
            }
            found = Some(slot);
        }
    }
    found.ok_or_else(|| {
        VaultError::Provider(format!(
            "pkcs11: no initialised token labelled `{label}` (vault.pkcs11.token_label)"
        ))
    })
}

fn key_template(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

pub(super) fn find_key(session: &Session, label: &str) -> Result<Option<ObjectHandle>, VaultError> {
    let keys = session
        .find_objects(&key_template(label))
        .map_err(|e| provider_err("C_FindObjects", e))?;
    match keys.as_slice() {
        [] => Ok(None),
        [key] => Ok(Some(*key)),
        _ => Err(VaultError::Provider(format!(
            "pkcs11: more than one AES key is labelled `{label}`"
        ))),
    }
}

fn generate_key(session: &Session, label: &str) -> Result<ObjectHandle, VaultError> {
    let len = Ulong::try_from(DEK_LEN).map_err(|e| provider_err("key length", e))?;
    let mut template = key_template(label);
    template.extend([
        Attribute::ValueLen(len),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(true),
        Attribute::Unwrap(true),
    ]);
    session
        .generate_key(&Mechanism::AesKeyGen, &template)
        .map_err(|e| provider_err("C_GenerateKey", e))
}

/// Refuses a key that is not AES-256, or that could leave the token.
fn check_key(session: &Session, key: ObjectHandle, label: &str) -> Result<(), VaultError> {
    let attrs = session
        .get_attributes(
            key,
            &[
                AttributeType::ValueLen,
                AttributeType::Sensitive,
                AttributeType::Extractable,
            ],
        )
        .map_err(|e| provider_err("C_GetAttributeValue", e))?;
    let (mut len, mut sensitive, mut extractable) = (None, None, None);
    for attr in attrs {
        match attr {
            Attribute::ValueLen(v) => len = Some(usize::from(v)),
            Attribute::Sensitive(v) => sensitive = Some(v),
            Attribute::Extractable(v) => extractable = Some(v),
            _ => {}
        }
    }
    if len != Some(DEK_LEN) {
        return Err(VaultError::Provider(format!(
            "pkcs11: key `{label}` is not an AES-256 key"
        )));
    }
    if sensitive != Some(true) || extractable != Some(false) {
        return Err(VaultError::Provider(format!(
            "pkcs11: key `{label}` must be sensitive and not extractable"
        )));
    }
    Ok(())
}

/// A pooled call's failure: an unreachable token is [`VaultError::Unavailable`], anything
/// else the provider error of `what`.
fn pool_err(what: &str, e: PoolError) -> VaultError {
    match e {
        PoolError::Unavailable(msg) => VaultError::Unavailable(msg),
        PoolError::Op(e) => provider_err(what, e),
    }
}

impl KeyProvider for Pkcs11KeyProvider {
    fn kek_id(&self) -> &str {
        &self.kek_id
    }

    fn blocks(&self) -> bool {
        true
    }

    fn wrap(&self, dek: &[u8; 32], aad: &[u8]) -> Result<Vec<u8>, VaultError> {
        let mut iv = [0u8; IV_LEN];
        getrandom::fill(&mut iv).map_err(|_| VaultError::Random)?;
        let tag_bits = Ulong::try_from(TAG_LEN * 8).map_err(|e| provider_err("tag length", e))?;
        // The parameters borrow the IV mutably, so each (re)try builds its own.
        let sealed = self
            .pool
            .run(|session, key| {
                let mut iv_param = iv;
                let params = GcmParams::new(&mut iv_param, aad, tag_bits)?;
                session.encrypt(&Mechanism::AesGcm(params), key, dek)
            })
            .map_err(|e| pool_err("C_Encrypt", e))?;
        if sealed.len() != DEK_LEN + TAG_LEN {
            return Err(VaultError::Provider(
                "pkcs11: unexpected AES-GCM output length".to_owned(),
            ));
        }
        let mut out = Vec::with_capacity(WRAPPED_LEN);
        out.extend_from_slice(&iv);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn unwrap(&self, wrapped: &[u8], aad: &[u8]) -> Result<Zeroizing<[u8; 32]>, VaultError> {
        if wrapped.len() != WRAPPED_LEN {
            return Err(VaultError::Authentication);
        }
        let (iv, sealed) = wrapped.split_at(IV_LEN);
        let iv: [u8; IV_LEN] = iv.try_into().map_err(|_| VaultError::Authentication)?;
        let tag_bits = Ulong::try_from(TAG_LEN * 8).map_err(|_| VaultError::Authentication)?;
        // A token that cannot be reached is `Unavailable`; any other failure of the decryption
        // itself is an authentication failure: SoftHSM reports a bad tag as CKR_GENERAL_ERROR,
        // other modules as CKR_ENCRYPTED_DATA_INVALID.
        let plain = Zeroizing::new(
            self.pool
                .run(|session, key| {
                    let mut iv = iv;
                    let params = GcmParams::new(&mut iv, aad, tag_bits)?;
                    session.decrypt(&Mechanism::AesGcm(params), key, sealed)
                })
                .map_err(|e| match e {
                    PoolError::Unavailable(msg) => VaultError::Unavailable(msg),
                    PoolError::Op(_) => VaultError::Authentication,
                })?,
        );
        if plain.len() != DEK_LEN {
            return Err(VaultError::Authentication);
        }
        let mut dek = Zeroizing::new([0u8; 32]);
        dek.copy_from_slice(&plain);
        Ok(dek)
    }
}
