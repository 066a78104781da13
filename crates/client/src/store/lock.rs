//! An advisory lock on `<dir>/.lock`, held for the duration of each operation.
//!
//! Operations are multi-step (promote is a rename then deletes; a passphrase change rewrites
//! every file), so two handles or processes interleaving them could lose a share. Each
//! acquisition opens its own file description, so handles in one process exclude each
//! other just as processes do. The lock is released when the file is closed.

use std::fs::File;
use std::path::Path;

use super::error::StoreError;
use super::fsio;

pub(crate) struct DirLock {
    _file: File,
}

impl DirLock {
    /// Blocks until the lock is ours.
    pub(crate) fn acquire(path: &Path) -> Result<DirLock, StoreError> {
        let file = fsio::private_file_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        file.lock()?;
        Ok(DirLock { _file: file })
    }
}
