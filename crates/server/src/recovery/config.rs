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
    /// How long a recovery request waits before it can complete (any signed-in device can
    /// cancel it meanwhile).
    pub delay_hours: u32,
    /// Recovery requests one account may open in 24 hours.
    pub starts_per_day: u32,
    /// Wrong recovery secrets one account may present in 24 hours before further tries wait.
    pub verifier_failures_per_day: u32,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            kits_per_day: 3,
            exports_per_day: 3,
            delay_hours: 48,
            starts_per_day: 5,
            verifier_failures_per_day: 100,
        }
    }
}

impl RecoveryConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, v) in [
            ("recovery.kits_per_day", self.kits_per_day),
            ("recovery.exports_per_day", self.exports_per_day),
            ("recovery.starts_per_day", self.starts_per_day),
        ] {
            if !(1..=100).contains(&v) {
                return Err(ConfigError::invalid(name, "must be between 1 and 100"));
            }
        }
        if !(1..=720).contains(&self.delay_hours) {
            return Err(ConfigError::invalid(
                "recovery.delay_hours",
                "must be between 1 and 720",
            ));
        }
        if !(1..=100).contains(&self.verifier_failures_per_day) {
            return Err(ConfigError::invalid(
                "recovery.verifier_failures_per_day",
                "must be between 1 and 100 (NIST SP 800-63B: at most 100 failures)",
            ));
        }
        Ok(())
    }
}
