//! `tandem vault init`: make sure the configured provider holds a KEK this deployment uses.

use serde::Serialize;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::store::Store;
use crate::vault::{Keyring, registry};
use crate::wallets::Wallets;

use super::{VaultOpsError, keyring_from_config};

/// What `init` found or did.
#[derive(Debug, Clone, Serialize)]
pub struct InitReport {
    /// `local` or `pkcs11`.
    pub provider: &'static str,
    /// The KEK of the configured provider this deployment uses (or will use).
    pub kek_id: String,
    /// Whether the key was created by this run (`false`: it existed).
    pub created: bool,
    /// Where the key lives: a file path, or the token and label.
    pub location: String,
    /// Whether this run registered it as the database's active KEK (a fresh database).
    pub registered: bool,
    /// The database's active KEK after this run.
    pub active_kek: String,
    /// What to do next, if anything.
    pub note: Option<String>,
}

/// Creates or locates the configured provider's KEK (in the token: AES-256, non-extractable,
/// sensitive; locally: the key file, mode 0600) and registers it on a fresh database. With no
/// database yet (`store` is `None`: an SQLite file the server has not created), only the key
/// is made; the server registers it at its first start.
/// Idempotent: run again, it finds the same key and changes nothing. If the active KEK is
/// already one of this provider's (e.g. a rotated one), that is the answer.
pub async fn init(
    config: &Config,
    store: Option<Store>,
    clock: SharedClock,
) -> Result<InitReport, VaultOpsError> {
    let kind = config.vault.provider;
    let keyring = keyring_from_config(config, super::Purpose::Admin)?;
    let source = keyring.source(kind).ok_or_else(|| {
        VaultOpsError::Setup(format!(
            "vault.provider = \"{}\" is not configured",
            kind.as_str()
        ))
    })?;
    let active = match &store {
        Some(store) => registry::active(store.pool()).await?.map(|r| r.kek_id),
        None => None,
    };

    if let Some(active) = &active
        && Keyring::kind_of(active) == Some(kind)
    {
        keyring.get(active)?;
        return Ok(InitReport {
            provider: kind.as_str(),
            kek_id: active.clone(),
            created: false,
            location: source.location(active),
            registered: false,
            active_kek: active.clone(),
            note: None,
        });
    }

    let kek = source.init()?;
    let kek_id = kek.provider.kek_id().to_owned();
    keyring.insert(kek.provider.clone());
    let (registered, active_kek, note) = match (active, store) {
        (None, None) => (
            false,
            kek_id.clone(),
            Some(
                "no database yet: `tandem serve` registers this KEK as the active one at its \
                 first start"
                    .to_owned(),
            ),
        ),
        (None, Some(store)) => {
            let vault = crate::vault::Vault::with_keyring(keyring.clone(), kek_id.clone());
            Wallets::new(store, vault, clock)
                .activate_kek(&kek_id)
                .await?;
            (true, kek_id.clone(), None)
        }
        (Some(active), _) => {
            let note = format!(
                "the database's active KEK is `{active}`; `tandem vault migrate --to {}` moves \
                 the stored shares to this key",
                kind.as_str()
            );
            (false, active, Some(note))
        }
    };
    Ok(InitReport {
        provider: kind.as_str(),
        kek_id,
        created: kek.created,
        location: kek.location,
        registered,
        active_kek,
        note,
    })
}
