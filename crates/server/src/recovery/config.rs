//! `[recovery]`: the recovery secret, Backup Kits and export.

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecoveryConfig {
    /// Backup Kits one account may take in 24 hours (security bar K5 suggests 3).
    pub kits_per_day: u32,
    /// Online exports of the whole key one account may make in 24 hours.
    pub exports_per_day: u32,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            kits_per_day: 3,
            exports_per_day: 3,
        }
    }
}

impl RecoveryConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, v) in [
            ("recovery.kits_per_day", self.kits_per_day),
            ("recovery.exports_per_day", self.exports_per_day),
        ] {
            if !(1..=100).contains(&v) {
                return Err(ConfigError::invalid(name, "must be between 1 and 100"));
            }
        }
        Ok(())
    }
}
