//! `tandem vault rotate` and `tandem vault migrate --to pkcs11`: switch the active KEK, then
//! re-wrap every stored data key under it, while servers keep serving.
//!
//! Both are resumable: if shares are still under an older KEK when they start (an earlier
//! run was interrupted), they finish moving those to the active KEK instead of creating yet
//! another key. Old KEKs are kept (they may be needed to restore a database backup taken
//! before the rotation) until `tandem vault retire` (or `--retire-old`) destroys the ones no
//! share names any more.

use std::collections::HashSet;

use serde::Serialize;

use crate::clock::SharedClock;
use crate::config::{Config, VaultProviderKind};
use crate::store::Store;
use crate::vault::{Keyring, Pkcs11KeyProvider, registry};
use crate::wallets::{RewrapFailure, RewrapProgress};

use super::{Purpose, RetireReport, VaultOpsError, VaultSession, prepare, retire};

/// What a rotation or migration did.
#[derive(Debug, Clone, Serialize)]
pub struct RotateReport {
    /// The KEKs shares were under before this run (other than the target).
    pub from: Vec<String>,
    /// The KEK every share is under now (the active one).
    pub to: String,
    /// Where the target KEK lives.
    pub location: String,
    /// Whether this run created the target KEK.
    pub created: bool,
    /// Whether this run finished an earlier, interrupted run instead of starting a new one.
    pub resumed: bool,
    /// Shares re-wrapped by this run.
    pub rewrapped: u64,
    /// Shares that changed underneath (a refresh committed) and needed no re-wrap.
    pub raced: u64,
    /// Data-at-rest keys (login-code and personal-data keys) re-wrapped by this run.
    pub data_keys_rewrapped: u64,
    /// Shares that could not be re-wrapped.
    pub failed: Vec<FailedShare>,
    /// Shares still not under the target KEK (0 once the job is done).
    pub remaining: u64,
    /// What `--retire-old` destroyed, if asked.
    pub retired: Option<RetireReport>,
    /// What to do next, if anything.
    pub note: Option<String>,
}

/// A share left under its old KEK (the reason names no secret).
#[derive(Debug, Clone, Serialize)]
pub struct FailedShare {
    pub wallet_id: String,
    pub epoch: u64,
    pub kek_id: String,
    pub reason: String,
}

impl From<RewrapFailure> for FailedShare {
    fn from(f: RewrapFailure) -> Self {
        Self {
            wallet_id: f.wallet_id,
            epoch: f.epoch,
            kek_id: f.kek_id,
            reason: f.reason,
        }
    }
}

/// The KEK a run moves shares to, and how it got it.
struct Target {
    id: String,
    location: String,
    created: bool,
    resumed: bool,
    from: Vec<String>,
}

/// Rotates to a new KEK of the active KEK's provider (`<label>-v<n+1>` in the token, a new
/// key file locally), or finishes an interrupted rotation.
pub async fn rotate(
    config: &Config,
    store: Store,
    clock: SharedClock,
    retire_old: bool,
    progress: &mut (dyn FnMut(RewrapProgress) + Send),
) -> Result<RotateReport, VaultOpsError> {
    let session = prepare(config, store.clone(), clock.clone(), Purpose::Admin).await?;
    let from = sources_of_pending(&session).await?;
    let target = if !from.is_empty() {
        Target {
            id: session.active.clone(),
            location: location_of(&session, &session.active),
            created: false,
            resumed: true,
            from,
        }
    } else {
        let source = session
            .keyring
            .source_of(&session.active)
            .ok_or_else(|| {
                VaultOpsError::Setup(format!(
                    "no key source for the active KEK `{}` on this machine",
                    session.active
                ))
            })?
            .clone();
        let taken = registered_ids(&session).await?;
        let kek = source.create_next(Some(&session.active), &|id| taken.contains(id))?;
        let id = kek.provider.kek_id().to_owned();
        session.keyring.insert(kek.provider.clone());
        session.wallets.activate_kek(&id).await?;
        tracing::info!(from = %session.active, to = %id, "KEK rotation: new KEK active");
        Target {
            id,
            location: kek.location,
            created: kek.created,
            resumed: false,
            from: vec![session.active.clone()],
        }
    };
    finish(config, store, clock, &session, target, retire_old, progress).await
}

/// Moves every share from the local key file(s) to the configured PKCS#11 token's KEK
/// (created there if missing), then re-wraps; resumable like [`rotate`].
pub async fn migrate(
    config: &Config,
    store: Store,
    clock: SharedClock,
    to: VaultProviderKind,
    retire_old: bool,
    progress: &mut (dyn FnMut(RewrapProgress) + Send),
) -> Result<RotateReport, VaultOpsError> {
    if to != VaultProviderKind::Pkcs11 {
        return Err(VaultOpsError::Setup(
            "only `--to pkcs11` is supported (moving keys out of an HSM is not)".to_owned(),
        ));
    }
    let session = prepare(config, store.clone(), clock.clone(), Purpose::Admin).await?;
    let from = sources_of_pending(&session).await?;
    let source = session.keyring.source(to).cloned().ok_or_else(|| {
        VaultOpsError::Setup(format!(
            "`migrate --to pkcs11` needs vault.pkcs11.module, vault.pkcs11.token_label and {}",
            crate::config::PKCS11_PIN_ENV
        ))
    })?;
    let target = if Keyring::kind_of(&session.active) == Some(VaultProviderKind::Pkcs11) {
        // Already switched (an earlier run, or `rotate` since): finish the re-wrap.
        Target {
            id: session.active.clone(),
            location: source.location(&session.active),
            created: false,
            resumed: true,
            from,
        }
    } else {
        let p = &config.vault.pkcs11;
        let configured = Pkcs11KeyProvider::kek_id_for(
            p.token_label.as_deref().unwrap_or_default(),
            &p.key_label,
        );
        let taken = registered_ids(&session).await?;
        let kek = if taken.contains(&configured) {
            // The configured label was used before (and left): take the next version.
            source.create_next(Some(&configured), &|id| taken.contains(id))?
        } else {
            source.init()?
        };
        let id = kek.provider.kek_id().to_owned();
        session.keyring.insert(kek.provider.clone());
        session.wallets.activate_kek(&id).await?;
        tracing::info!(from = %session.active, to = %id, "KEK migration: PKCS#11 KEK active");
        let mut from = from;
        if !from.contains(&session.active) {
            from.insert(0, session.active.clone());
        }
        Target {
            id,
            location: kek.location,
            created: kek.created,
            resumed: false,
            from,
        }
    };
    let mut report = finish(config, store, clock, &session, target, retire_old, progress).await?;
    if report.remaining == 0 && config.vault.provider != VaultProviderKind::Pkcs11 {
        report.note = Some(
            "all shares are under the PKCS#11 KEK: now set vault.provider = \"pkcs11\" \
             (TANDEM_VAULT__PROVIDER=pkcs11) and restart the servers"
                .to_owned(),
        );
    }
    Ok(report)
}

async fn finish(
    config: &Config,
    store: Store,
    clock: SharedClock,
    session: &VaultSession,
    target: Target,
    retire_old: bool,
    progress: &mut (dyn FnMut(RewrapProgress) + Send),
) -> Result<RotateReport, VaultOpsError> {
    let outcome = session.wallets.rewrap_all(&target.id, progress).await?;
    let data_keys_rewrapped = match &outcome.superseded_by {
        Some(_) => 0,
        None => {
            super::data_key::rewrap_all(session.store.pool(), &session.keyring, &target.id).await?
        }
    };
    let retired = if retire_old && outcome.remaining == 0 {
        Some(retire(config, store, clock).await?)
    } else {
        None
    };
    let note = match (&outcome.superseded_by, outcome.remaining) {
        (Some(active), _) => Some(format!(
            "the active KEK changed to `{active}` while this ran (another rotation?): run \
             `tandem vault rotate` again to finish"
        )),
        (None, 0) => None,
        (None, n) => Some(format!(
            "{n} shares are still under an older KEK; fix the failures listed and run the \
             command again to finish"
        )),
    };
    Ok(RotateReport {
        from: target.from,
        to: target.id,
        location: target.location,
        created: target.created,
        resumed: target.resumed,
        rewrapped: outcome.rewrapped,
        raced: outcome.raced,
        data_keys_rewrapped,
        failed: outcome.failed.into_iter().map(FailedShare::from).collect(),
        remaining: outcome.remaining,
        retired,
        note,
    })
}

/// The KEKs that shares not under the active KEK are under (an interrupted run).
async fn sources_of_pending(session: &VaultSession) -> Result<Vec<String>, VaultOpsError> {
    Ok(session
        .wallets
        .shares_per_kek()
        .await?
        .into_iter()
        .filter(|u| u.kek_id != session.active)
        .map(|u| u.kek_id)
        .collect())
}

async fn registered_ids(session: &VaultSession) -> Result<HashSet<String>, VaultOpsError> {
    Ok(registry::list(session.store.pool())
        .await?
        .into_iter()
        .map(|r| r.kek_id)
        .collect())
}

fn location_of(session: &VaultSession, kek_id: &str) -> String {
    session
        .keyring
        .source_of(kek_id)
        .map(|s| s.location(kek_id))
        .unwrap_or_default()
}
