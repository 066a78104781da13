//! Where the CLI keeps its state: the data directory, the saved login (server URL and
//! session token, file mode 0600) and the share store under `shares/`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ClientError;

/// The saved login.
#[derive(Clone, Serialize, Deserialize)]
pub struct Profile {
    /// The server's base URL.
    pub server: String,
    /// The session's bearer token (the file is mode 0600).
    pub token: String,
    /// The account's email address.
    pub email: String,
    /// The session's id.
    pub session_id: String,
    /// Hex of the server's channel key, as logins before `known_servers.json` saved it.
    /// Read once to carry the pin over; the pin itself lives in
    /// [`KnownServers`](crate::known_servers::KnownServers), which logout leaves alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_key: Option<String>,
    /// An extra CA certificate file trusted for this server.
    #[serde(default)]
    pub ca_file: Option<String>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("server", &self.server)
            .field("token", &"[redacted]")
            .field("email", &self.email)
            .field("server_key", &self.server_key)
            .finish()
    }
}

/// `TANDEM_HOME`, else `$XDG_DATA_HOME/tandem`, else `~/.local/share/tandem`.
pub fn data_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("TANDEM_HOME") {
        return PathBuf::from(home);
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(xdg).join("tandem");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/share/tandem"),
        None => PathBuf::from(".tandem"),
    }
}

fn profile_path(dir: &Path) -> PathBuf {
    dir.join("session.json")
}

impl Profile {
    /// Reads `<dir>/session.json` (`None` if there is none).
    pub fn load(dir: &Path) -> Result<Option<Profile>, ClientError> {
        match std::fs::read(profile_path(dir)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|_| {
                ClientError::Local("the saved session file is corrupt; log in again".into())
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ClientError::Local(format!(
                "cannot read the saved session: {e}"
            ))),
        }
    }

    /// Writes the file atomically with mode 0600 (it holds a bearer token).
    pub fn save(&self, dir: &Path) -> Result<(), ClientError> {
        let json =
            serde_json::to_vec_pretty(self).map_err(|e| ClientError::Local(e.to_string()))?;
        write_private(&profile_path(dir), &json)
            .map_err(|e| ClientError::Local(format!("cannot save the session: {e}")))
    }

    /// Deletes the saved login (the pinned keys stay).
    pub fn remove(dir: &Path) -> Result<(), ClientError> {
        match std::fs::remove_file(profile_path(dir)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ClientError::Local(format!(
                "cannot remove the saved session: {e}"
            ))),
        }
    }
}

/// Writes `path` atomically (temp file, fsync, rename) with mode 0600, creating its directory.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
