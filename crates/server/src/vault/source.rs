//! Where the keys of one provider family come from.
//!
//! A server holds one source per family it can reach (the key file directory, the PKCS#11
//! token). A share names its KEK by id; the source that recognises the id loads that key on
//! first use, so a server keeps opening shares while a rotation on another machine moves them
//! to a key it has never seen before.

use std::sync::Arc;

use crate::config::VaultProviderKind;

use super::{KeyProvider, VaultError};

/// A KEK just created or located for a rotation or migration.
pub struct NewKek {
    /// The provider holding it.
    pub provider: Arc<dyn KeyProvider>,
    /// Whether it was created now (`false`: an existing key was found and reused).
    pub created: bool,
    /// Where it lives, for the operator: a key file path or `token/label`.
    pub location: String,
}

/// Loads, creates and destroys the KEKs of one provider family.
pub trait KekSource: Send + Sync {
    /// The family.
    fn kind(&self) -> VaultProviderKind;

    /// Whether `kek_id` is one of this source's keys.
    fn claims(&self, kek_id: &str) -> bool;

    /// Loads the key `kek_id` (which this source claims). A key that does not exist is
    /// [`VaultError::UnknownKek`].
    fn load(&self, kek_id: &str) -> Result<Arc<dyn KeyProvider>, VaultError>;

    /// Where `kek_id` lives, for the operator (a file path, or the token and label).
    fn location(&self, kek_id: &str) -> String;

    /// Creates the configured first key, or finds it if it exists (`tandem vault init`).
    fn init(&self) -> Result<NewKek, VaultError>;

    /// Creates a key to rotate to. `after` is the key being replaced (if it is this
    /// source's); `taken` tells whether an id is already registered, so that a key left over
    /// by an interrupted rotation is reused rather than a registered one.
    fn create_next(
        &self,
        after: Option<&str>,
        taken: &dyn Fn(&str) -> bool,
    ) -> Result<NewKek, VaultError>;

    /// Destroys the key `kek_id` for good (a retired KEK).
    fn destroy(&self, kek_id: &str) -> Result<(), VaultError>;
}
