//! The channel keys this device has pinned, one per server origin, in `known_servers.json`
//! beside the saved login. The file outlives logins and logouts: a pin is only ever removed
//! on purpose ([`KnownServers::forget`]), so a proxy cannot get a forged key accepted by
//! waiting for the user to log out, or by spelling the server's URL another way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::api::ApiClient;
use crate::error::ClientError;

const FILE_NAME: &str = "known_servers.json";
const VERSION: u32 = 1;
// Thousands of servers fit; a hostile file cannot make `open` read gigabytes.
const MAX_FILE_LEN: u64 = 1 << 20;

/// `scheme://host:port` of a server URL: the scheme and host lower-cased, the port explicit
/// (80 and 443 filled in), path, query, fragment and trailing slash dropped. Two URLs that
/// reach the same server by HTTP's rules have the same origin.
pub fn origin(url: &str) -> Result<String, ClientError> {
    let bad = |why: &str| ClientError::Local(format!("invalid server URL {url:?}: {why}"));
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| bad(&e.to_string()))?;
    let scheme = parsed.scheme();
    if scheme != "http" && scheme != "https" {
        return Err(bad("only http:// and https:// are supported"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("credentials in the URL are not supported"));
    }
    // The URL parser already lower-cases domain names and normalises IP addresses.
    let host = parsed.host_str().ok_or_else(|| bad("no host"))?;
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| bad("no port"))?;
    Ok(format!("{scheme}://{host}:{port}"))
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileJson {
    version: u32,
    servers: BTreeMap<String, PinJson>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PinJson {
    /// Hex of the server's 32-byte channel key.
    channel_key: String,
}

/// What [`KnownServers::check`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinCheck {
    /// Nothing is pinned for the origin yet (trust on first use applies).
    Unknown,
    /// The key is the pinned one.
    Matches,
}

/// The pinned channel keys (public data: no secret is kept here).
#[derive(Clone, Debug)]
pub struct KnownServers {
    path: PathBuf,
    servers: BTreeMap<String, [u8; 32]>,
}

impl KnownServers {
    /// Loads `<dir>/known_servers.json` (empty if it does not exist yet).
    pub fn open(dir: &Path) -> Result<KnownServers, ClientError> {
        Self::open_file(dir.join(FILE_NAME))
    }

    /// Loads the pins from `path` (empty if it does not exist yet).
    pub fn open_file(path: PathBuf) -> Result<KnownServers, ClientError> {
        let servers = read(&path)?;
        Ok(KnownServers { path, servers })
    }

    /// The pins file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key pinned for `url`'s origin.
    pub fn get(&self, url: &str) -> Result<Option<[u8; 32]>, ClientError> {
        Ok(self.servers.get(&origin(url)?).copied())
    }

    /// Every origin and its pinned key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8; 32])> {
        self.servers.iter().map(|(o, k)| (o.as_str(), k))
    }

    /// Compares `key` with the pin for `url`'s origin; a different pinned key is
    /// [`ClientError::ServerKeyChanged`].
    pub fn check(&self, url: &str, key: &[u8; 32]) -> Result<PinCheck, ClientError> {
        let origin = origin(url)?;
        match self.servers.get(&origin) {
            None => Ok(PinCheck::Unknown),
            Some(pinned) if pinned == key => Ok(PinCheck::Matches),
            Some(pinned) => Err(ClientError::ServerKeyChanged {
                origin,
                pinned: hex::encode(pinned),
                presented: hex::encode(key),
                file: self.path.display().to_string(),
            }),
        }
    }

    /// Pins `key` for `url`'s origin and saves the file. Refuses to replace a different
    /// pinned key: that takes [`forget`](Self::forget) first.
    pub fn pin(&mut self, url: &str, key: [u8; 32]) -> Result<(), ClientError> {
        // Another process may have pinned something meanwhile: decide against the file.
        self.servers = read(&self.path)?;
        if self.check(url, &key)? == PinCheck::Matches {
            return Ok(());
        }
        self.servers.insert(origin(url)?, key);
        self.save()
    }

    /// Removes the pin for `url`'s origin (the deliberate reset after the operator confirmed
    /// a new key). Returns whether there was one.
    pub fn forget(&mut self, url: &str) -> Result<bool, ClientError> {
        self.servers = read(&self.path)?;
        let removed = self.servers.remove(&origin(url)?).is_some();
        if removed {
            self.save()?;
        }
        Ok(removed)
    }

    /// Fetches the key `api`'s server presents, checks it against the pin (refusing a
    /// changed one), pins it if the origin is new, and returns `api` set to use it.
    pub async fn pin_server(&mut self, api: ApiClient) -> Result<ApiClient, ClientError> {
        let key = api.fetch_server_key().await?;
        self.pin(api.base(), key)?;
        Ok(api.with_server_key(key))
    }

    /// `api` set to the key pinned for its server, without asking the server; `None` if
    /// nothing is pinned for it.
    pub fn apply(&self, api: ApiClient) -> Result<Option<ApiClient>, ClientError> {
        Ok(self.get(api.base())?.map(|key| api.with_server_key(key)))
    }

    fn save(&self) -> Result<(), ClientError> {
        let file = FileJson {
            version: VERSION,
            servers: self
                .servers
                .iter()
                .map(|(o, k)| {
                    (
                        o.clone(),
                        PinJson {
                            channel_key: hex::encode(k),
                        },
                    )
                })
                .collect(),
        };
        let json =
            serde_json::to_vec_pretty(&file).map_err(|e| ClientError::Local(e.to_string()))?;
        crate::profile::write_private(&self.path, &json)
            .map_err(|e| ClientError::Local(format!("cannot save the pinned server keys: {e}")))
    }
}

fn read(path: &Path) -> Result<BTreeMap<String, [u8; 32]>, ClientError> {
    use std::io::Read;
    let corrupt = |why: &str| {
        ClientError::Local(format!(
            "the pinned server keys in {} are unreadable ({why}); fix or remove the file deliberately",
            path.display()
        ))
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(corrupt(&e.to_string())),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| corrupt(&e.to_string()))?;
    if bytes.len() as u64 > MAX_FILE_LEN {
        return Err(corrupt("too large"));
    }
    let json: FileJson = serde_json::from_slice(&bytes).map_err(|e| corrupt(&e.to_string()))?;
    if json.version != VERSION {
        return Err(corrupt("unsupported version"));
    }
    let mut servers = BTreeMap::new();
    for (name, pin) in json.servers {
        let key = hex::decode(&pin.channel_key)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| corrupt("a key is not 32 bytes of hex"))?;
        // Keys are stored normalised; one that is not would never match a lookup.
        if origin(&name).ok().as_deref() != Some(name.as_str()) {
            return Err(corrupt("an entry is not a normalised origin"));
        }
        servers.insert(name, key);
    }
    Ok(servers)
}
