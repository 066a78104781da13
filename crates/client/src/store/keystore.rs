//! `keystore.json`: the KDF parameters, the salt, and a check value that tells a wrong
//! passphrase apart from a corrupt store.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use super::aead::{NONCE_LEN, StoreKey, TAG_LEN};
use super::error::StoreError;
use super::fsio;
use super::kdf::KdfParams;

const VERSION: u32 = 1;
const KDF: &str = "argon2id";
const SALT_LEN: usize = 16;
const CHECK_PLAINTEXT: &[u8] = b"tandem share store key check v1";
const CHECK_LEN: usize = NONCE_LEN + CHECK_PLAINTEXT.len() + TAG_LEN;
// Far above any real keystore; stops a hostile file from being read into memory whole.
const MAX_FILE_LEN: u64 = 4096;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeystoreJson {
    version: u32,
    kdf: String,
    m_kib: u32,
    t: u32,
    p: u32,
    salt: String,
    check: String,
}

/// A parsed keystore. Holds nothing secret: the salt and check value are public by design.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Keystore {
    params: KdfParams,
    salt: [u8; SALT_LEN],
    check: Vec<u8>,
}

impl Keystore {
    /// A new keystore with a fresh salt, and the key it unlocks to.
    pub(crate) fn create(
        passphrase: &str,
        params: KdfParams,
    ) -> Result<(Keystore, StoreKey), StoreError> {
        params.validate()?;
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|_| StoreError::Rng)?;
        let key = params.derive(passphrase, &salt)?;
        let check = key.seal(&check_aad(&params, &salt), CHECK_PLAINTEXT)?;
        Ok((
            Keystore {
                params,
                salt,
                check,
            },
            key,
        ))
    }

    pub(crate) fn params(&self) -> KdfParams {
        self.params
    }

    /// Derives the key and verifies it against the check value.
    pub(crate) fn unlock(&self, passphrase: &str) -> Result<StoreKey, StoreError> {
        let key = self.params.derive(passphrase, &self.salt)?;
        match key.open(&check_aad(&self.params, &self.salt), &self.check) {
            Some(plain) if plain.as_slice() == CHECK_PLAINTEXT => Ok(key),
            // Authentic but wrong content: only someone holding the key could have made it.
            Some(_) => Err(corrupt("check value has unexpected content")),
            None => Err(StoreError::WrongPassphrase),
        }
    }

    /// Reads and validates `path`; `NotFound` if it does not exist.
    pub(crate) fn load(path: &Path) -> Result<Keystore, StoreError> {
        let bytes = fsio::read_capped(path, MAX_FILE_LEN).map_err(|e| match e {
            StoreError::Corrupt(_) => corrupt("file too large"),
            other => other,
        })?;
        let json: KeystoreJson = serde_json::from_slice(&bytes).map_err(|e| {
            corrupt(&format!(
                "malformed JSON at line {} column {}",
                e.line(),
                e.column()
            ))
        })?;
        if json.version != VERSION {
            return Err(corrupt(&format!("unsupported version {}", json.version)));
        }
        if json.kdf != KDF {
            return Err(corrupt("unsupported kdf"));
        }
        let params = KdfParams {
            m_kib: json.m_kib,
            t: json.t,
            p: json.p,
        };
        params
            .validate()
            .map_err(|_| corrupt("KDF parameters out of range"))?;
        let salt = B64
            .decode(&json.salt)
            .ok()
            .and_then(|s| <[u8; SALT_LEN]>::try_from(s).ok())
            .ok_or_else(|| corrupt("bad salt"))?;
        let check = B64
            .decode(&json.check)
            .ok()
            .filter(|c| c.len() == CHECK_LEN)
            .ok_or_else(|| corrupt("bad check value"))?;
        Ok(Keystore {
            params,
            salt,
            check,
        })
    }

    pub(crate) fn to_json(&self) -> Result<Vec<u8>, StoreError> {
        let json = KeystoreJson {
            version: VERSION,
            kdf: KDF.to_owned(),
            m_kib: self.params.m_kib,
            t: self.params.t,
            p: self.params.p,
            salt: B64.encode(self.salt),
            check: B64.encode(&self.check),
        };
        serde_json::to_vec_pretty(&json)
            .map_err(|_| StoreError::Corrupt("keystore.json could not be serialised".into()))
    }
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("keystore.json: {what}"))
}

// Binding the parameters and salt means a check value cannot be transplanted between
// keystores; tampering with them already changes the key, this just makes it explicit.
fn check_aad(params: &KdfParams, salt: &[u8; SALT_LEN]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32 + 12 + SALT_LEN);
    aad.extend_from_slice(b"TDSS\x01keystore-check");
    aad.extend_from_slice(&params.m_kib.to_be_bytes());
    aad.extend_from_slice(&params.t.to_be_bytes());
    aad.extend_from_slice(&params.p.to_be_bytes());
    aad.extend_from_slice(salt);
    aad
}
