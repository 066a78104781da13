//! `[vault]`: which KEK provider protects server shares, and where its key lives.
//!
//! The PKCS#11 user PIN is read only from the environment (`TANDEM_VAULT_PKCS11_PIN`): a PIN
//! in the file would sit next to the database credentials in backups and config repositories.
//! A `pin` key in the file (or `TANDEM_VAULT__PKCS11__PIN`) is refused rather than ignored, so
//! nobody believes it is in effect.

use std::fmt;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::{ConfigError, lenient};

/// The environment variable holding the PKCS#11 user PIN, read verbatim.
pub const PKCS11_PIN_ENV: &str = "TANDEM_VAULT_PKCS11_PIN";

/// The default label of the first KEK in the token; rotations add `-v2`, `-v3`, ….
pub const DEFAULT_KEY_LABEL: &str = "tandem-kek";

/// Which KEK provider protects server shares.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum VaultProviderKind {
    /// A 32-byte key file (created on first start, mode 0600). Development and single hosts.
    #[default]
    Local,
    /// A non-extractable AES-256 key inside a PKCS#11 token (an HSM; SoftHSM2 in tests).
    Pkcs11,
}

impl VaultProviderKind {
    /// The configuration spelling (`local`, `pkcs11`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Pkcs11 => "pkcs11",
        }
    }
}

/// `[vault]`.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct VaultConfig {
    /// The KEK provider new deployments start with, and the one `tandem serve` expects.
    pub provider: VaultProviderKind,
    /// Key file of the `local` provider; `None` means `<data_dir>/server-kek.key`.
    pub key_file: Option<PathBuf>,
    /// `[vault.pkcs11]`: the token holding the KEK.
    pub pkcs11: Pkcs11Settings,
}

/// `[vault.pkcs11]`. The PIN comes from `TANDEM_VAULT_PKCS11_PIN` only.
#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Pkcs11Settings {
    /// Path of the PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: Option<PathBuf>,
    /// Label of the token (found by label: slot numbers are not stable).
    #[serde(deserialize_with = "lenient::opt_string")]
    pub token_label: Option<String>,
    /// Label of the first KEK; rotated keys carry `-v2`, `-v3`, … after it.
    #[serde(deserialize_with = "lenient::string")]
    pub key_label: String,
    /// Present only to refuse a PIN placed in the file (see the module documentation).
    #[serde(rename = "pin", skip_serializing)]
    pin_in_config: Option<IgnoredAny>,
    /// The user PIN, from `TANDEM_VAULT_PKCS11_PIN` (shown as `[redacted]` when set).
    #[serde(skip_deserializing, serialize_with = "super::redacted")]
    pub pin: Option<SecretString>,
}

impl Default for Pkcs11Settings {
    fn default() -> Self {
        Self {
            module: None,
            token_label: None,
            key_label: DEFAULT_KEY_LABEL.to_owned(),
            pin_in_config: None,
            pin: None,
        }
    }
}

impl fmt::Debug for Pkcs11Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Settings")
            .field("module", &self.module)
            .field("token_label", &self.token_label)
            .field("key_label", &self.key_label)
            .field("pin", &self.pin.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Pkcs11Settings {
    /// Whether module and token are named, i.e. this server could reach a token.
    pub fn is_configured(&self) -> bool {
        self.module.is_some() && self.token_label.is_some()
    }

    /// Takes the PIN from the environment (verbatim: any character is allowed).
    pub(super) fn read_pin_from_env(&mut self) -> Result<(), ConfigError> {
        if let Some(raw) = std::env::var_os(PKCS11_PIN_ENV) {
            let raw = raw
                .into_string()
                .map_err(|_| ConfigError::invalid("vault.pkcs11.pin", "not valid UTF-8"))?;
            self.pin = (!raw.is_empty()).then(|| SecretString::from(raw));
        }
        Ok(())
    }
}

impl VaultConfig {
    /// Checks the `[vault]` section; errors name the key and never echo a PIN.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let p = &self.pkcs11;
        if p.pin_in_config.is_some() {
            return Err(ConfigError::invalid(
                "vault.pkcs11.pin",
                format!(
                    "the PIN is never read from the configuration; remove it and set {PKCS11_PIN_ENV}"
                ),
            ));
        }
        if p.module.as_ref().is_some_and(|m| m.as_os_str().is_empty()) {
            return Err(ConfigError::invalid(
                "vault.pkcs11.module",
                "must not be empty",
            ));
        }
        if p.token_label
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            return Err(ConfigError::invalid(
                "vault.pkcs11.token_label",
                "must not be empty",
            ));
        }
        if p.key_label.trim().is_empty() {
            return Err(ConfigError::invalid(
                "vault.pkcs11.key_label",
                "must not be empty",
            ));
        }
        if self.provider == VaultProviderKind::Pkcs11 {
            if p.module.is_none() {
                return Err(ConfigError::invalid(
                    "vault.pkcs11.module",
                    "is required when vault.provider = \"pkcs11\"",
                ));
            }
            if p.token_label.is_none() {
                return Err(ConfigError::invalid(
                    "vault.pkcs11.token_label",
                    "is required when vault.provider = \"pkcs11\"",
                ));
            }
        }
        Ok(())
    }
}
