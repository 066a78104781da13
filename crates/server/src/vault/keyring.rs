//! Every KEK a server can use, by id: loaded on first use from the source that recognises
//! the id, then kept for the life of the process.
//!
//! Rotation depends on this: shares name their KEK, and during a rotation some name the old
//! key and some the new one. Whatever a share names, the keyring finds it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use crate::config::VaultProviderKind;

use super::source::KekSource;
use super::{KeyProvider, VaultError};

/// The KEKs of one server.
pub struct Keyring {
    sources: Vec<Arc<dyn KekSource>>,
    loaded: RwLock<HashMap<String, Arc<dyn KeyProvider>>>,
    /// The families this keyring may use (those of its sources); `None` for a fixed keyring.
    /// A key of any other family is refused even if the database names it.
    families: Option<Vec<VaultProviderKind>>,
    /// Whether any key may block on I/O (see [`KeyProvider::blocks`]).
    blocking: AtomicBool,
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
    /// Only keys of the sources' families are ever used.
    pub fn new(sources: Vec<Arc<dyn KekSource>>) -> Self {
        let families = sources.iter().map(|s| s.kind()).collect();
        let blocking = sources
            .iter()
            .any(|s| s.kind() == VaultProviderKind::Pkcs11);
        Self {
            sources,
            loaded: RwLock::new(HashMap::new()),
            families: Some(families),
            blocking: AtomicBool::new(blocking),
        }
    }

    /// A keyring of exactly one key and no sources (tests, tools).
    pub fn fixed(provider: Arc<dyn KeyProvider>) -> Self {
        let keyring = Self {
            sources: Vec::new(),
            loaded: RwLock::new(HashMap::new()),
            families: None,
            blocking: AtomicBool::new(false),
        };
        keyring.insert(provider);
        keyring
    }

    /// Whether a call on this keyring may block on I/O (a PKCS#11 token).
    pub fn blocks(&self) -> bool {
        self.blocking.load(Ordering::Relaxed)
    }

    /// Refuses `kek_id` if it is of a family this keyring does not use.
    fn check_family(&self, kek_id: &str) -> Result<(), VaultError> {
        let Some(families) = &self.families else {
            return Ok(());
        };
        match Self::kind_of(kek_id) {
            Some(kind) if families.contains(&kind) => Ok(()),
            Some(kind) => Err(VaultError::ForeignKek {
                kek_id: kek_id.to_owned(),
                family: kind.as_str(),
            }),
            None => Err(VaultError::UnknownKek(kek_id.to_owned())),
        }
    }

    /// Adds a key already at hand (e.g. one just created).
    pub fn insert(&self, provider: Arc<dyn KeyProvider>) {
        // A poisoned lock only means another thread panicked mid-insert of an immutable
        // value; the map itself is consistent.
        if provider.blocks() {
            self.blocking.store(true, Ordering::Relaxed);
        }
        let mut map = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        map.insert(provider.kek_id().to_owned(), provider);
    }

    /// The key `kek_id`, loading it if needed.
    pub fn get(&self, kek_id: &str) -> Result<Arc<dyn KeyProvider>, VaultError> {
        self.check_family(kek_id)?;
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
