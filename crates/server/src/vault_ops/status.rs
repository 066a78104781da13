//! `tandem vault status`: the registered KEKs and how many stored shares each wraps.

use std::collections::HashMap;

use serde::Serialize;

use crate::store::Store;
use crate::vault::Keyring;
use crate::vault::registry;

use super::VaultOpsError;

/// One KEK as the database knows it.
#[derive(Debug, Clone, Serialize)]
pub struct KekStatus {
    pub kek_id: String,
    pub provider: String,
    /// `active`, `previous`, `retired`, or `unregistered` (named by shares only).
    pub state: String,
    /// Stored shares wrapped under it.
    pub shares: u64,
    pub created_at: Option<i64>,
    pub retired_at: Option<i64>,
}

/// The vault as the database records it. Needs no key access.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// The KEK new seals use (none before the first start or `tandem vault init`).
    pub active: Option<String>,
    pub keks: Vec<KekStatus>,
    /// Stored shares not under the active KEK (non-zero during a rotation).
    pub pending: u64,
}

/// Reads the registry and counts shares per KEK.
pub async fn status(store: &Store) -> Result<StatusReport, VaultOpsError> {
    let mut counts: HashMap<String, u64> = HashMap::new();
    let rows = sqlx::query("SELECT kek_id, COUNT(*) AS n FROM server_shares GROUP BY kek_id")
        .fetch_all(store.pool())
        .await?;
    for row in rows {
        use sqlx::Row;
        let n: i64 = row.try_get("n")?;
        counts.insert(row.try_get("kek_id")?, u64::try_from(n).unwrap_or(0));
    }
    let mut keks = Vec::new();
    let mut active = None;
    for r in registry::list(store.pool()).await? {
        if r.state == registry::KekState::Active {
            active = Some(r.kek_id.clone());
        }
        keks.push(KekStatus {
            shares: counts.remove(&r.kek_id).unwrap_or(0),
            kek_id: r.kek_id,
            provider: r.provider,
            state: r.state.as_str().to_owned(),
            created_at: Some(r.created_at),
            retired_at: r.retired_at,
        });
    }
    let mut rest: Vec<_> = counts.into_iter().collect();
    rest.sort();
    for (kek_id, shares) in rest {
        keks.push(KekStatus {
            provider: Keyring::kind_of(&kek_id)
                .map(|k| k.as_str().to_owned())
                .unwrap_or_default(),
            kek_id,
            state: "unregistered".to_owned(),
            shares,
            created_at: None,
            retired_at: None,
        });
    }
    let pending = keks
        .iter()
        .filter(|k| Some(&k.kek_id) != active.as_ref())
        .map(|k| k.shares)
        .sum();
    Ok(StatusReport {
        active,
        keks,
        pending,
    })
}
