//! Building a server's keyring from the configuration, and the start-up checks and first
//! registration that `tandem serve` and every `tandem vault` command run.

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::{Config, PKCS11_PIN_ENV, VaultProviderKind};
use crate::store::Store;
use crate::vault::{
    KekSource, Keyring, LocalSource, PiiKeys, Pkcs11KeyProvider, Pkcs11Source, Vault, VaultError,
    registry,
};
use crate::wallets::Wallets;

use super::VaultOpsError;

/// Who is preparing: the server, or an administrative command (which must be able to run
/// on a deployment that is half-way through a migration, to finish it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Serve,
    Admin,
}

/// A prepared vault on a database: the keys, the active KEK, the shares.
pub struct VaultSession {
    pub store: Store,
    pub keyring: Arc<Keyring>,
    pub wallets: Wallets,
    /// The active KEK (registered now if the database had none).
    pub active: String,
    /// Warnings for the operator (already logged).
    pub warnings: Vec<String>,
    /// The keys for login codes and personal data at rest (unwrapped now).
    pub pii: PiiKeys,
}

/// The key sources this configuration reaches: the PKCS#11 token when `[vault.pkcs11]` names
/// one, and the key-file family (it only reads files that exist), except for a server
/// configured for `pkcs11`: it never touches a key file, so that someone able to write the
/// database cannot point seals or opens at a leftover (weaker) local key. Administrative
/// commands reach both, since migrating from the key file to the token needs both.
pub fn keyring_from_config(
    config: &Config,
    purpose: Purpose,
) -> Result<Arc<Keyring>, VaultOpsError> {
    let mut sources: Vec<Arc<dyn KekSource>> = Vec::new();
    let pkcs11 = Pkcs11Source::from_settings(&config.vault.pkcs11);
    if config.vault.provider == VaultProviderKind::Pkcs11 {
        if pkcs11.is_none() {
            return Err(VaultOpsError::Setup(
                "vault.provider = \"pkcs11\" needs vault.pkcs11.module and vault.pkcs11.token_label"
                    .to_owned(),
            ));
        }
        if config.vault.pkcs11.pin.is_none() {
            return Err(VaultOpsError::Setup(format!(
                "vault.provider = \"pkcs11\" needs the token's user PIN in {PKCS11_PIN_ENV}"
            )));
        }
    }
    if let Some(source) = pkcs11 {
        sources.push(Arc::new(source));
    }
    if purpose == Purpose::Admin || config.vault.provider == VaultProviderKind::Local {
        sources.push(Arc::new(LocalSource::new(config.key_file())));
    }
    Ok(Arc::new(Keyring::new(sources)))
}

/// Checks that this server can use the vault, and registers the first KEK on a fresh
/// database:
/// - no active KEK yet: the configured provider's first key becomes active (the `local` key
///   file is created on first start; a PKCS#11 key must exist: `tandem vault init`);
/// - the active KEK and every KEK a stored share names must be loadable here;
/// - a server configured for `pkcs11` refuses to start while the active KEK is a local key
///   file (the migration has not run), instead of silently sealing under the file.
pub async fn prepare(
    config: &Config,
    store: Store,
    clock: SharedClock,
    purpose: Purpose,
) -> Result<VaultSession, VaultOpsError> {
    let keyring = keyring_from_config(config, purpose)?;
    let registered = registry::active(store.pool()).await?;
    let (active, bootstrap) = match registered {
        Some(record) => {
            keyring
                .get(&record.kek_id)
                .map_err(|e| unusable_active(config, &record.kek_id, e))?;
            (record.kek_id, false)
        }
        None => (first_kek(config, &keyring)?, true),
    };
    let vault = Vault::with_keyring(keyring.clone(), active.clone());
    let now = clock.now_ms();
    let wallets = Wallets::new(store.clone(), vault, clock);
    if bootstrap {
        wallets.activate_kek(&active).await?;
        tracing::info!(kek = %active, "registered the first key-encryption key");
    }

    let mut unreadable = Vec::new();
    for usage in wallets.shares_per_kek().await? {
        if let Err(e) = keyring.get(&usage.kek_id) {
            unreadable.push(format!(
                "{} shares under `{}`: {e}",
                usage.shares, usage.kek_id
            ));
        }
    }
    if !unreadable.is_empty() {
        return Err(VaultOpsError::Setup(format!(
            "this server cannot open every stored share:\n  - {}",
            unreadable.join("\n  - ")
        )));
    }

    let mut warnings = Vec::new();
    let active_kind = Keyring::kind_of(&active);
    if config.vault.provider == VaultProviderKind::Pkcs11
        && active_kind == Some(VaultProviderKind::Local)
    {
        let msg = format!(
            "vault.provider is \"pkcs11\" but the database's active KEK is the local key file \
             `{active}`: run `tandem vault migrate --to pkcs11` first"
        );
        if purpose == Purpose::Serve {
            return Err(VaultOpsError::Setup(msg));
        }
        warnings.push(msg);
    }
    if config.vault.provider == VaultProviderKind::Local
        && active_kind == Some(VaultProviderKind::Pkcs11)
    {
        warnings.push(format!(
            "vault.provider is \"local\" but the active KEK `{active}` is in the PKCS#11 token; \
             set vault.provider = \"pkcs11\""
        ));
    }
    let pending = wallets.shares_not_under(&active).await?;
    if pending > 0 && purpose == Purpose::Serve {
        warnings.push(format!(
            "{pending} stored shares are still under an older KEK (an unfinished rotation or \
             migration): run `tandem vault rotate` to finish it"
        ));
    }
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let pii = super::data_key::load_or_create(store.pool(), &keyring, &active, now).await?;
    Ok(VaultSession {
        store,
        keyring,
        wallets,
        active,
        warnings,
        pii,
    })
}

/// The configured provider's first key, for a database with no KEK registered yet.
fn first_kek(config: &Config, keyring: &Keyring) -> Result<String, VaultOpsError> {
    let kind = config.vault.provider;
    let source = keyring.source(kind).ok_or_else(|| {
        VaultOpsError::Setup(format!(
            "vault.provider = \"{}\" is not configured",
            kind.as_str()
        ))
    })?;
    match kind {
        // Zero configuration: the key file is created on first start.
        VaultProviderKind::Local => {
            let kek = source.init()?;
            keyring.insert(kek.provider.clone());
            Ok(kek.provider.kek_id().to_owned())
        }
        // An HSM key is created deliberately, by `tandem vault init`.
        VaultProviderKind::Pkcs11 => {
            let p = &config.vault.pkcs11;
            let id = Pkcs11KeyProvider::kek_id_for(
                p.token_label.as_deref().unwrap_or_default(),
                &p.key_label,
            );
            match keyring.get(&id) {
                Ok(_) => Ok(id),
                Err(VaultError::UnknownKek(_)) => Err(VaultOpsError::Setup(format!(
                    "no KEK labelled `{}` on PKCS#11 token `{}`: run `tandem vault init` to create it",
                    p.key_label,
                    p.token_label.as_deref().unwrap_or_default()
                ))),
                Err(e) => Err(e.into()),
            }
        }
    }
}

fn unusable_active(config: &Config, kek_id: &str, e: VaultError) -> VaultOpsError {
    let hint = match (Keyring::kind_of(kek_id), &e) {
        (Some(VaultProviderKind::Pkcs11), VaultError::UnknownKek(_))
            if !config.vault.pkcs11.is_configured() =>
        {
            " (this server has no [vault.pkcs11] module/token_label; set them and the PIN)"
        }
        (Some(VaultProviderKind::Pkcs11), VaultError::UnknownKek(_)) => {
            " (the key is not on the configured token: was it deleted, or is this the wrong token?)"
        }
        (_, VaultError::ForeignKek { .. }) => {
            " (run `tandem vault migrate --to pkcs11` to move every share into the token first)"
        }
        (Some(VaultProviderKind::Local), VaultError::UnknownKek(_)) => {
            " (its key file is missing next to vault.key_file; copy it from the host that rotated)"
        }
        _ => "",
    };
    VaultOpsError::Setup(format!(
        "the database's active KEK `{kek_id}` is not usable here: {e}{hint}"
    ))
}
