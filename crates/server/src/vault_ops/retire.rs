//! `tandem vault retire`: destroy the KEKs no stored share names any more.
//!
//! Not automatic after a rotation on purpose: a database backup taken before the rotation
//! holds data keys wrapped under the old KEK, and restoring it needs that key. Retire once
//! such backups have expired (or are not wanted: destroying the KEK is also how old backups
//! are made unreadable).

use serde::Serialize;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::store::Store;
use crate::vault::registry::{self, KekState};

use super::{VaultOpsError, keyring_from_config};

/// What `retire` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RetireReport {
    /// KEKs marked retired and destroyed by this run.
    pub retired: Vec<String>,
    /// KEKs kept, with why.
    pub kept: Vec<KeptKek>,
}

/// A previous KEK that was not retired.
#[derive(Debug, Clone, Serialize)]
pub struct KeptKek {
    pub kek_id: String,
    pub reason: String,
}

/// Retires every `previous` KEK that no stored share names: marks it `retired` in the
/// database (only if no share names it, checked in the same statement), then destroys the key
/// (the token object, or the key file). Runs again safely: keys already gone are skipped.
pub async fn retire(
    config: &Config,
    store: Store,
    clock: SharedClock,
) -> Result<RetireReport, VaultOpsError> {
    let keyring = keyring_from_config(config, super::Purpose::Admin)?;
    let mut report = RetireReport::default();
    for record in registry::list(store.pool()).await? {
        match record.state {
            KekState::Active => {}
            KekState::Previous => {
                let mut tx = store.begin_write().await?;
                let retired = registry::retire_in(&mut tx, &record.kek_id, clock.now_ms()).await?;
                tx.commit().await?;
                if !retired {
                    report.kept.push(KeptKek {
                        kek_id: record.kek_id,
                        reason: "stored shares or the data-at-rest key still name it: run \
                                 `tandem vault rotate` to finish moving them"
                            .to_owned(),
                    });
                    continue;
                }
                match keyring.source_of(&record.kek_id) {
                    Some(source) => source.destroy(&record.kek_id)?,
                    None => report.kept.push(KeptKek {
                        kek_id: record.kek_id.clone(),
                        reason: "marked retired, but this machine cannot reach the key: \
                                 destroy it by hand"
                            .to_owned(),
                    }),
                }
                tracing::info!(kek = %record.kek_id, "retired a key-encryption key");
                report.retired.push(record.kek_id);
            }
            // Finish a destruction an earlier run could not complete.
            KekState::Retired => {
                if let Some(source) = keyring.source_of(&record.kek_id) {
                    source.destroy(&record.kek_id)?;
                }
            }
        }
    }
    Ok(report)
}
