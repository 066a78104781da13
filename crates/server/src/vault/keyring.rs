//! Every KEK a server can use, by id: loaded on first use from the source that recognises
//! the id, then kept for the life of the process.
//!
//! Rotation depends on this: shares name their KEK, and during a rotation some name the old
//! key and some the new one. Whatever a share names, the keyring finds it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::config::VaultProviderKind;

use super::source::KekSource;
use super::{KeyProvider, VaultError};

/// The KEKs of one server.
pub struct Keyring {
    sources: Vec<Arc<dyn KekSource>>,
    loaded: RwLock<HashMap<String, Arc<dyn KeyProvider>>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<String> = self
            .loaded
            .read()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        f.debug_struct("Keyring").field("loaded", &ids).finish()
    }
}

impl Keyring {
    /// A keyring that can load keys from `sources`.
    pub fn new(sources: Vec<Arc<dyn KekSource>>) -> Self {
        Self {
            sources,
            loaded: RwLock::new(HashMap::new()),
        }
    }

    /// A keyring of exactly one key and no sources (tests, tools).
    pub fn fixed(provider: Arc<dyn KeyProvider>) -> Self {
        let keyring = Self::new(Vec::new());
        keyring.insert(provider);
        keyring
    }

    /// Adds a key already at hand (e.g. one just created).
    pub fn insert(&self, provider: Arc<dyn KeyProvider>) {
        // A poisoned lock only means another thread panicked mid-insert of an immutable
        // value; the map itself is consistent.
        let mut map = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        map.insert(provider.kek_id().to_owned(), provider);
    }

    /// The key `kek_id`, loading it if needed.
    pub fn get(&self, kek_id: &str) -> Result<Arc<dyn KeyProvider>, VaultError> {
        {
            let map = self.loaded.read().unwrap_or_else(|p| p.into_inner());
            if let Some(provider) = map.get(kek_id) {
                return Ok(provider.clone());
            }
        }
        let source = self
            .source_of(kek_id)
            .ok_or_else(|| VaultError::UnknownKek(kek_id.to_owned()))?;
        let provider = source.load(kek_id)?;
        if provider.kek_id() != kek_id {
            // A source must never hand out a different key than asked for.
            return Err(VaultError::UnknownKek(kek_id.to_owned()));
        }
        self.insert(provider.clone());
        Ok(provider)
    }

    /// The source that recognises `kek_id`.
    pub fn source_of(&self, kek_id: &str) -> Option<&Arc<dyn KekSource>> {
        self.sources.iter().find(|s| s.claims(kek_id))
    }

    /// The source of a family, if this server can reach it.
    pub fn source(&self, kind: VaultProviderKind) -> Option<&Arc<dyn KekSource>> {
        self.sources.iter().find(|s| s.kind() == kind)
    }

    /// The family `kek_id` belongs to, judged by its prefix.
    pub fn kind_of(kek_id: &str) -> Option<VaultProviderKind> {
        if kek_id.starts_with("local:") {
            Some(VaultProviderKind::Local)
        } else if kek_id.starts_with("pkcs11:") {
            Some(VaultProviderKind::Pkcs11)
        } else {
            None
        }
    }
}
