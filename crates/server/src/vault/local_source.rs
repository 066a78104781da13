//! The `local` family: the configured key file and the rotated files next to it.
//!
//! Rotated files are named `<stem>-<8 hex digits>.key` after their own id, so a server that
//! meets an unknown `local:` id finds the file without any other bookkeeping. Deployments with
//! several hosts must copy new key files to every host before rotating; that is one reason the
//! `local` provider is for development and single hosts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::VaultProviderKind;

use super::local::rotated_file_name;
use super::source::{KekSource, NewKek};
use super::{KeyProvider, LocalKeyProvider, VaultError};

/// Key files in the directory of the configured key file.
pub struct LocalSource {
    key_file: PathBuf,
}

impl LocalSource {
    /// The family around `key_file` (`vault.key_file`, default `<data_dir>/server-kek.key`).
    pub fn new(key_file: PathBuf) -> Self {
        Self { key_file }
    }

    fn dir(&self) -> PathBuf {
        match self.key_file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn stem(&self) -> String {
        self.key_file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "server-kek".to_owned())
    }

    /// The file holding `kek_id`, if any: the configured file or a rotated one.
    fn find(&self, kek_id: &str) -> Result<Option<(PathBuf, LocalKeyProvider)>, VaultError> {
        let rotated = self.dir().join(rotated_file_name(&self.stem(), kek_id));
        for path in [self.key_file.clone(), rotated] {
            if let Some(provider) = read_if_present(&path)?
                && provider.kek_id() == kek_id
            {
                return Ok(Some((path, provider)));
            }
        }
        Ok(None)
    }
}

fn read_if_present(path: &Path) -> Result<Option<LocalKeyProvider>, VaultError> {
    if !path.exists() {
        return Ok(None);
    }
    LocalKeyProvider::open_existing(path).map(Some)
}

impl KekSource for LocalSource {
    fn kind(&self) -> VaultProviderKind {
        VaultProviderKind::Local
    }

    fn claims(&self, kek_id: &str) -> bool {
        kek_id.starts_with("local:")
    }

    fn load(&self, kek_id: &str) -> Result<Arc<dyn KeyProvider>, VaultError> {
        match self.find(kek_id)? {
            Some((_, provider)) => Ok(Arc::new(provider)),
            None => Err(VaultError::UnknownKek(kek_id.to_owned())),
        }
    }

    fn location(&self, kek_id: &str) -> String {
        match self.find(kek_id) {
            Ok(Some((path, _))) => path.display().to_string(),
            _ => format!(
                "(no key file for `{kek_id}` next to {})",
                self.key_file.display()
            ),
        }
    }

    fn init(&self) -> Result<NewKek, VaultError> {
        let existed = self.key_file.exists();
        let provider = LocalKeyProvider::open_or_create(&self.key_file)?;
        Ok(NewKek {
            provider: Arc::new(provider),
            created: !existed,
            location: self.key_file.display().to_string(),
        })
    }

    fn create_next(
        &self,
        _after: Option<&str>,
        _taken: &dyn Fn(&str) -> bool,
    ) -> Result<NewKek, VaultError> {
        let (provider, path) = LocalKeyProvider::create_rotated(&self.dir(), &self.stem())?;
        Ok(NewKek {
            provider: Arc::new(provider),
            created: true,
            location: path.display().to_string(),
        })
    }

    fn destroy(&self, kek_id: &str) -> Result<(), VaultError> {
        let Some((path, _)) = self.find(kek_id)? else {
            // Already gone (e.g. removed by hand, or a retire run twice).
            return Ok(());
        };
        std::fs::remove_file(&path).map_err(|source| VaultError::KeyFileIo { path, source })
    }
}
