//! What the user commands share: the data directory, the saved login, the share store.

use std::path::PathBuf;

use tandem_client::known_servers::{KnownServers, origin};
use tandem_client::profile::{Profile, data_dir};
use tandem_client::store::{MIN_PASSPHRASE_CHARS, check_new_passphrase};
use tandem_client::{ApiClient, ClientError, Device, ShareStore, Timeouts};

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

pub struct Context {
    pub dir: PathBuf,
    pub server: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub timeouts: Timeouts,
}

impl Context {
    pub fn new(server: Option<String>, ca_file: Option<PathBuf>, timeouts: Timeouts) -> Context {
        Context {
            dir: data_dir(),
            server,
            ca_file,
            timeouts,
        }
    }

    /// An API client for `server`, trusting `--ca-file` (or the one saved at login).
    pub fn client_for(
        &self,
        server: &str,
        saved_ca: Option<&str>,
    ) -> Result<ApiClient, ClientError> {
        let ca = self.ca_file.clone().or_else(|| saved_ca.map(PathBuf::from));
        let pem = match &ca {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                ClientError::Local(format!("cannot read the CA file {}: {e}", path.display()))
            })?),
            None => None,
        };
        ApiClient::with_ca(server, pem.as_deref())?.with_timeouts(self.timeouts)
    }

    /// The channel keys pinned on this machine (they survive logout).
    pub fn known_servers(&self) -> Result<KnownServers, ClientError> {
        KnownServers::open(&self.dir)
    }

    pub fn profile(&self) -> Result<Profile, ClientError> {
        let profile = Profile::load(&self.dir)?.ok_or(ClientError::NotLoggedIn)?;
        if let Some(server) = &self.server
            && origin(server)? != origin(&profile.server)?
        {
            return Err(ClientError::Local(format!(
                "the saved login is for {}; run `tandem login` for {server}",
                profile.server
            )));
        }
        Ok(profile)
    }

    pub fn server_url(&self) -> String {
        if let Some(s) = &self.server {
            return s.clone();
        }
        match Profile::load(&self.dir) {
            Ok(Some(p)) => p.server,
            _ => DEFAULT_SERVER.to_owned(),
        }
    }

    /// The saved login's API client, set to the channel key pinned for its server.
    pub fn api(&self) -> Result<ApiClient, ClientError> {
        let profile = self.profile()?;
        let api = self
            .client_for(&profile.server, profile.ca_file.as_deref())?
            .with_token(profile.token.clone());
        let mut known = self.known_servers()?;
        carry_over_legacy_pin(&mut known, &profile)?;
        Ok(match known.apply(api.clone())? {
            Some(pinned) => pinned,
            None => api,
        })
    }

    /// Opens the device share store, asking for the passphrase (twice on first use) unless
    /// `TANDEM_PASSPHRASE` is set.
    pub fn store(&self) -> Result<ShareStore, ClientError> {
        let dir = self.dir.join("shares");
        let first_use = !ShareStore::exists(&dir);
        let passphrase = match std::env::var("TANDEM_PASSPHRASE") {
            Ok(p) if !p.is_empty() => p,
            _ => prompt_passphrase(first_use)?,
        };
        Ok(ShareStore::open(&dir, &passphrase)?)
    }

    pub fn device(&self) -> Result<Device, ClientError> {
        Ok(Device::new(self.api()?, self.store()?))
    }
}

/// Logins saved before `known_servers.json` kept their pin in `session.json`: move it over
/// (a conflicting pin there is refused like any changed key).
pub fn carry_over_legacy_pin(
    known: &mut KnownServers,
    profile: &Profile,
) -> Result<(), ClientError> {
    let legacy = profile
        .server_key
        .as_deref()
        .and_then(|k| hex::decode(k).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok());
    match legacy {
        Some(key) => known.pin(&profile.server, key),
        None => Ok(()),
    }
}

fn prompt_passphrase(first_use: bool) -> Result<String, ClientError> {
    let read = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map_err(|e| ClientError::Local(format!("cannot read the passphrase: {e}")))
    };
    if !first_use {
        return read("Passphrase for your device shares: ");
    }
    eprintln!("Choose a passphrase to encrypt your device shares on this machine.");
    eprintln!(
        "It needs at least {MIN_PASSPHRASE_CHARS} characters and must not be a common password."
    );
    let first = read("New passphrase: ")?;
    check_new_passphrase(&first)?;
    let again = read("Repeat it: ")?;
    if first != again {
        return Err(ClientError::Local("the passphrases do not match".into()));
    }
    Ok(first)
}
