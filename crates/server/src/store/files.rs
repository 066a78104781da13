//! Filesystem permissions of the data directory and the SQLite files: private to the
//! server's user (directory 0700, files 0600), created so and checked at every start like the
//! key file, since they hold sealed shares, wrapped keys and the development outbox.

use std::fs::{DirBuilder, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::StoreError;

/// Creates `dir` (and missing parents) with mode 0700, or checks that an existing one grants
/// nothing to group or others.
pub fn private_dir(dir: &Path) -> Result<(), StoreError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    check(dir, "700")
}

/// Creates the SQLite file with mode 0600 if it does not exist (SQLite gives its `-wal` and
/// `-shm` files the database file's mode), and checks the file and those companions.
pub(super) fn private_sqlite_files(file: &Path) -> Result<(), StoreError> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
    {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(StoreError::CreateDir {
                path: file.to_path_buf(),
                source,
            });
        }
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        let path = PathBuf::from(name);
        if suffix.is_empty() || path.exists() {
            check(&path, "600")?;
        }
    }
    Ok(())
}

fn check(path: &Path, fix: &'static str) -> Result<(), StoreError> {
    let meta = std::fs::metadata(path).map_err(|source| StoreError::CreateDir {
        path: path.to_path_buf(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(StoreError::Permissions {
            path: path.to_path_buf(),
            mode,
            fix,
        });
    }
    Ok(())
}
