//! Crash-safe file primitives. Everything the store writes goes through `write_atomic`,
//! so after a crash a path holds either its old or its new complete content.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::Path;

use super::error::StoreError;

/// Prefix of in-flight temp files; anything carrying it after a crash is garbage.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

/// Options for a new file only the owner can read: shares and keys must never be
/// world-readable, not even for the instant before a chmod.
pub(crate) fn private_file_options() -> OpenOptions {
    let mut opts = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    opts
}

/// Creates `path` (and any missing parents) with mode 0700 if it does not exist yet.
pub(crate) fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    match builder.create(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        other => other,
    }
}

/// Forces `path` to mode 0700 (for a directory that existed before the store did).
pub(crate) fn restrict_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Whether group or others have any access to `path` (always false off Unix).
pub(crate) fn is_loosely_permitted(path: &Path) -> io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        Ok(fs::metadata(path)?.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(false)
    }
}

/// Makes renames and unlinks in `dir` durable: without this a crash may forget them.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    // Directories cannot be opened as files elsewhere; there is nothing more to do.
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Writes `bytes` to `path` via a 0600 temp file in the same directory: write, fsync,
/// rename over `path`, fsync the directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = parent(path)?;
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|_| StoreError::Rng)?;
    let tmp = dir.join(format!("{TEMP_PREFIX}{}", hex::encode(suffix)));
    let result = (|| {
        let mut file = private_file_options()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        // Best effort: a leftover temp file is also removed on the next open.
        let _ = fs::remove_file(&tmp);
    }
    Ok(result?)
}

/// Reads a whole file of at most `max` bytes. `NotFound` if missing; `Corrupt` if larger,
/// so a hostile file cannot exhaust memory.
pub(crate) fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>, StoreError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if u64::try_from(bytes.len()).map_or(true, |len| len > max) {
        return Err(StoreError::Corrupt("file too large".into()));
    }
    Ok(bytes)
}

/// Removes `path`; `Ok(false)` if it was already gone.
pub(crate) fn remove_if_exists(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

pub(crate) fn parent(path: &Path) -> Result<&Path, StoreError> {
    path.parent()
        .ok_or_else(|| StoreError::Io(io::Error::other("store path has no parent directory")))
}
