//! The `local` KEK provider: a 32-byte key file, created on first start with mode 0600.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{KeyProvider, VaultError, aead};

/// A KEK held in a local file. For development and single-host deployments; production
/// should keep the KEK in an HSM.
pub struct LocalKeyProvider {
    key: Zeroizing<[u8; 32]>,
    kek_id: String,
}

impl std::fmt::Debug for LocalKeyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKeyProvider")
            .field("kek_id", &self.kek_id)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl LocalKeyProvider {
    /// Reads the key file, or creates it (and its directory, mode 0700) with 32 random bytes
    /// and mode 0600 if it does not exist. Refuses a file of the wrong size or one that grants
    /// any permission to group or others.
    pub fn open_or_create(path: &Path) -> Result<Self, VaultError> {
        Ok(Self::from_key(secret_key_file(path)?))
    }

    /// Reads an existing key file; never creates one (a missing file is
    /// [`VaultError::KeyFileIo`] with `NotFound`).
    pub fn open_existing(path: &Path) -> Result<Self, VaultError> {
        let file = File::open(path).map_err(|e| io_err(path, e))?;
        Ok(Self::from_key(KeyFile::read(path, file)?))
    }

    /// Creates a new key file for a rotation: 32 fresh random bytes, mode 0600, named
    /// `<stem>-<id>.key` in `dir` after its own identifier, so that any server can find the
    /// file from the `kek_id` stored next to a share. Returns the provider and the path.
    pub fn create_rotated(dir: &Path, stem: &str) -> Result<(Self, PathBuf), VaultError> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut_slice()).map_err(|_| VaultError::Random)?;
        let provider = Self::from_key(key);
        let path = dir.join(rotated_file_name(stem, &provider.kek_id));
        if !KeyFile::create_with(&path, &provider.key)? {
            // 32 random bits of name collided with an existing file: astronomically unlikely,
            // and refusing is safe (the caller can simply run the rotation again).
            return Err(VaultError::KeyFileInvalid { path });
        }
        Ok((provider, path))
    }

    /// A provider over a key held in memory (tests, tools).
    pub fn from_key(key: Zeroizing<[u8; 32]>) -> Self {
        let kek_id = kek_id_for(&key);
        Self { key, kek_id }
    }
}

/// `local:` and the first 8 hex digits of SHA-256(key): identifies a key without revealing it.
pub fn kek_id_for(key: &[u8; 32]) -> String {
    let digest = Sha256::digest(key.as_slice());
    format!("local:{}", &hex::encode(digest)[..8])
}

/// The file name of a rotated local key: `<stem>-<8 hex digits of its id>.key`.
pub fn rotated_file_name(stem: &str, kek_id: &str) -> String {
    let digits = kek_id.strip_prefix("local:").unwrap_or(kek_id);
    format!("{stem}-{digits}.key")
}

/// Reads a 32-byte secret key file, or creates it (directory mode 0700, file mode 0600, 32
/// random bytes) if it does not exist. Refuses a file of the wrong size or one that grants any
/// permission to group or others. Used for the local KEK and the server's channel key.
pub fn secret_key_file(path: &Path) -> Result<Zeroizing<[u8; 32]>, VaultError> {
    match File::open(path) {
        Ok(file) => return KeyFile::read(path, file),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(source) => return Err(io_err(path, source)),
    }
    let mut key = Zeroizing::new([0u8; 32]);
    getrandom::fill(key.as_mut_slice()).map_err(|_| VaultError::Random)?;
    if KeyFile::create_with(path, &key)? {
        return Ok(key);
    }
    // Another process created it first: use theirs.
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    KeyFile::read(path, file)
}

struct KeyFile;

impl KeyFile {
    fn read(path: &Path, mut file: File) -> Result<Zeroizing<[u8; 32]>, VaultError> {
        let meta = file.metadata().map_err(|e| io_err(path, e))?;
        if !meta.is_file() {
            return Err(VaultError::KeyFileInvalid {
                path: path.to_path_buf(),
            });
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(VaultError::KeyFilePermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
        if meta.len() != 32 {
            return Err(VaultError::KeyFileInvalid {
                path: path.to_path_buf(),
            });
        }
        let mut key = Zeroizing::new([0u8; 32]);
        file.read_exact(key.as_mut_slice())
            .map_err(|e| io_err(path, e))?;
        // Nothing may follow (the file could have grown since the metadata call).
        let mut extra = [0u8; 1];
        if file.read(&mut extra).map_err(|e| io_err(path, e))? != 0 {
            return Err(VaultError::KeyFileInvalid {
                path: path.to_path_buf(),
            });
        }
        Ok(key)
    }

    /// Creates the key file atomically: the key goes to a private temporary file, which is
    /// then hard-linked into place (fails if the name exists, so two starting instances cannot
    /// both install a key). Returns `false` if the name was taken (another process won).
    fn create_with(path: &Path, key: &[u8; 32]) -> Result<bool, VaultError> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| io_err(&dir, e))?;

        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).map_err(|_| VaultError::Random)?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "server-kek.key".to_owned());
        let tmp = dir.join(format!(".{file_name}.tmp-{}", hex::encode(suffix)));

        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(key)?;
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io_err(&tmp, e));
        }
        let linked = fs::hard_link(&tmp, path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                if let Ok(d) = File::open(&dir) {
                    let _ = d.sync_all();
                }
                tracing::info!(path = %path.display(), "created a new secret key file");
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io_err(path, e)),
        }
    }
}

fn io_err(path: &Path, source: std::io::Error) -> VaultError {
    VaultError::KeyFileIo {
        path: path.to_path_buf(),
        source,
    }
}

impl KeyProvider for LocalKeyProvider {
    fn kek_id(&self) -> &str {
        &self.kek_id
    }

    fn wrap(&self, dek: &[u8; 32], aad: &[u8]) -> Result<Vec<u8>, VaultError> {
        aead::seal(&self.key, aad, dek)
    }

    fn unwrap(&self, wrapped: &[u8], aad: &[u8]) -> Result<Zeroizing<[u8; 32]>, VaultError> {
        let plain = aead::open(&self.key, aad, wrapped)?;
        let mut dek = Zeroizing::new([0u8; 32]);
        if plain.len() != dek.len() {
            return Err(VaultError::Authentication);
        }
        dek.copy_from_slice(&plain);
        Ok(dek)
    }
}
