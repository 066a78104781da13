//! Where the CLI keeps its state: the data directory, the saved login (server URL and
//! session token, file mode 0600) and the share store under `shares/`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ClientError;

/// The saved login.
#[derive(Clone, Serialize, Deserialize)]
pub struct Profile {
    pub server: String,
    pub token: String,
    pub email: String,
    pub session_id: String,
    /// Hex of the server's channel key, pinned at login.
    #[serde(default)]
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
        use std::io::Write;
        #[cfg(unix)]
        use std::os::unix::fs::OpenOptionsExt;
        let io = |e: std::io::Error| ClientError::Local(format!("cannot save the session: {e}"));
        std::fs::create_dir_all(dir).map_err(io)?;
        let tmp = dir.join(format!(".session.json.{}", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options.open(&tmp).map_err(io)?;
        let json =
            serde_json::to_vec_pretty(self).map_err(|e| ClientError::Local(e.to_string()))?;
        file.write_all(&json).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, profile_path(dir)).map_err(io)?;
        Ok(())
    }

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
