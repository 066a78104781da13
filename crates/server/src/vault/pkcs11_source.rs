//! The `pkcs11` family: AES keys on one token, `<key_label>`, `<key_label>-v2`, ….
//!
//! Ids are `pkcs11:<token label>:<key label>`; a server resolves any id on its configured token
//! by looking the label up there, so keys created by a rotation are found without a restart.

use std::sync::Arc;

use secrecy::SecretString;

use crate::config::{Pkcs11Settings, VaultProviderKind};

use super::source::{KekSource, NewKek};
use super::{KeyProvider, Pkcs11Config, Pkcs11KeyProvider, VaultError};

/// Keys on the configured token.
pub struct Pkcs11Source {
    module: std::path::PathBuf,
    token_label: String,
    key_label: String,
    pin: Option<SecretString>,
}

impl Pkcs11Source {
    /// The source for `[vault.pkcs11]`, or `None` if module or token is not configured.
    pub fn from_settings(settings: &Pkcs11Settings) -> Option<Self> {
        Some(Self {
            module: settings.module.clone()?,
            token_label: settings.token_label.clone()?,
            key_label: settings.key_label.clone(),
            pin: settings.pin.clone(),
        })
    }

    fn config(&self, key_label: &str) -> Result<Pkcs11Config, VaultError> {
        let pin = self.pin.clone().ok_or_else(|| {
            VaultError::Provider(format!(
                "pkcs11: no user PIN for token `{}` (set {})",
                self.token_label,
                crate::config::PKCS11_PIN_ENV
            ))
        })?;
        Ok(Pkcs11Config {
            module: self.module.clone(),
            token_label: self.token_label.clone(),
            pin,
            key_label: key_label.to_owned(),
        })
    }

    fn label_of<'a>(&self, kek_id: &'a str) -> Option<&'a str> {
        kek_id
            .strip_prefix("pkcs11:")?
            .strip_prefix(self.token_label.as_str())?
            .strip_prefix(':')
    }

    fn located(&self, provider: Pkcs11KeyProvider, created: bool, label: &str) -> NewKek {
        NewKek {
            provider: Arc::new(provider),
            created,
            location: format!("token `{}`, key `{label}`", self.token_label),
        }
    }
}

/// The label after `label`: `x-v<n>` becomes `x-v<n+1>`, anything else `x-v2`.
pub fn next_label(label: &str) -> String {
    if let Some((base, n)) = label.rsplit_once("-v")
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
        && let Ok(n) = n.parse::<u32>()
        && let Some(next) = n.checked_add(1)
    {
        return format!("{base}-v{next}");
    }
    format!("{label}-v2")
}

impl KekSource for Pkcs11Source {
    fn kind(&self) -> VaultProviderKind {
        VaultProviderKind::Pkcs11
    }

    fn claims(&self, kek_id: &str) -> bool {
        self.label_of(kek_id).is_some()
    }

    fn load(&self, kek_id: &str) -> Result<Arc<dyn KeyProvider>, VaultError> {
        let label = self
            .label_of(kek_id)
            .ok_or_else(|| VaultError::UnknownKek(kek_id.to_owned()))?;
        Ok(Arc::new(Pkcs11KeyProvider::open(self.config(label)?)?))
    }

    fn location(&self, kek_id: &str) -> String {
        format!(
            "token `{}`, key `{}`",
            self.token_label,
            self.label_of(kek_id).unwrap_or(kek_id)
        )
    }

    fn init(&self) -> Result<NewKek, VaultError> {
        let (provider, created) = Pkcs11KeyProvider::init_reporting(self.config(&self.key_label)?)?;
        Ok(self.located(provider, created, &self.key_label))
    }

    fn create_next(
        &self,
        after: Option<&str>,
        taken: &dyn Fn(&str) -> bool,
    ) -> Result<NewKek, VaultError> {
        let mut label = next_label(
            after
                .and_then(|id| self.label_of(id))
                .unwrap_or(&self.key_label),
        );
        // Skip every registered label; an unregistered existing key is a leftover of an
        // interrupted rotation and is reused (init is idempotent).
        for _ in 0..1000 {
            if !taken(&Pkcs11KeyProvider::kek_id_for(&self.token_label, &label)) {
                let (provider, created) = Pkcs11KeyProvider::init_reporting(self.config(&label)?)?;
                return Ok(self.located(provider, created, &label));
            }
            label = next_label(&label);
        }
        Err(VaultError::Provider(
            "pkcs11: no free key label after 1000 versions".to_owned(),
        ))
    }

    fn destroy(&self, kek_id: &str) -> Result<(), VaultError> {
        let label = self
            .label_of(kek_id)
            .ok_or_else(|| VaultError::UnknownKek(kek_id.to_owned()))?;
        match Pkcs11KeyProvider::open(self.config(label)?) {
            Ok(provider) => provider.destroy(),
            // Already gone: retiring twice is fine.
            Err(VaultError::UnknownKek(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::next_label;

    #[test]
    fn labels_count_up() {
        assert_eq!(next_label("tandem-kek"), "tandem-kek-v2");
        assert_eq!(next_label("tandem-kek-v2"), "tandem-kek-v3");
        assert_eq!(next_label("tandem-kek-v19"), "tandem-kek-v20");
        assert_eq!(next_label("kek-vx"), "kek-vx-v2");
        assert_eq!(next_label("kek-v"), "kek-v-v2");
    }
}
