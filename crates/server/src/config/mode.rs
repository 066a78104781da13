//! `mode`: development (the zero-configuration default) or production.

use serde::{Deserialize, Serialize};

/// How strict the server is about its own configuration.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Anything goes (development outbox, local key file, plain HTTP, test clocks); the
    /// server says so loudly at start.
    #[default]
    Development,
    /// Refuses to start unless mail, TLS, the key provider and the clock are fit for real
    /// users (see `crate::production`).
    Production,
}

impl Mode {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Production => "production",
        }
    }
}
