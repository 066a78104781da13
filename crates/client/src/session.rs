//! Logging in and staying logged in: [`Session::builder`] logs in (email code, the method
//! the server offers), pins the server's channel key, saves the token and the pin under a
//! data directory, restores them on the next start, and refreshes the session before it
//! expires. The files are the ones the `tandem` CLI uses (`session.json`,
//! `known_servers.json`, `shares/`), so a CLI login and an SDK program share a directory.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tandem_client::ClientError> {
//! use tandem_client::Session;
//!
//! let builder = Session::builder("https://tandem.example.com").data_dir("./tandem-data");
//! let session = match builder.restore().await? {
//!     Some(session) => session,
//!     None => {
//!         let login = builder.start_email_login("me@example.com").await?;
//!         let code = "123456"; // what the user received by email
//!         login.verify(code).await?
//!     }
//! };
//! let device = session.open_device("a long device passphrase").await?;
//! # let _ = device; Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use tandem_proto::auth::SessionInfo;

use crate::api::{ApiClient, Timeouts};
use crate::device::Device;
use crate::error::ClientError;
use crate::known_servers::{KnownServers, PinCheck, origin};
use crate::profile::Profile;
use crate::store::{KdfParams, ShareStore};

/// Refresh when less than this is left of the session (the server's sliding window is
/// much longer, so one refresh per program start or per hour of use keeps it alive).
const DEFAULT_REFRESH_WITHIN: Duration = Duration::from_secs(30 * 60);

/// Configures where and how to log in; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct SessionBuilder {
    server: String,
    dir: PathBuf,
    ca_pem: Option<Vec<u8>>,
    timeouts: Timeouts,
    refresh_within: Duration,
}

impl SessionBuilder {
    /// Keeps the session, the pins and the share store under `dir` (default: the CLI's
    /// data directory, [`crate::profile::data_dir`]).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = dir.into();
        self
    }

    /// Also trusts the CA certificates in `pem` (a server with a private CA).
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// Replaces the network deadlines ([`Timeouts::default`]).
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Refreshes the session when less than `within` is left (default 30 minutes).
    pub fn refresh_within(mut self, within: Duration) -> Self {
        self.refresh_within = within;
        self
    }

    fn client(&self) -> Result<ApiClient, ClientError> {
        ApiClient::with_ca(&self.server, self.ca_pem.as_deref())?.with_timeouts(self.timeouts)
    }

    /// The saved session for this server, with the pinned key applied, refreshed if it is
    /// close to expiry. `None` if there is no saved login for this server, or the server
    /// no longer accepts it (log in again).
    pub async fn restore(&self) -> Result<Option<Session>, ClientError> {
        let dir = self.dir.clone();
        let profile = blocking(move || Profile::load(&dir)).await?;
        let Some(profile) = profile else {
            return Ok(None);
        };
        if origin(&profile.server)? != origin(&self.server)? {
            return Ok(None);
        }
        let known = KnownServers::open(&self.dir)?;
        let api = self.client()?.with_token(profile.token.clone());
        // A session without a pin cannot run ceremonies; logging in again pins the key.
        let Some(api) = known.apply(api)? else {
            return Ok(None);
        };
        let info = match api.session().await {
            Ok(info) => info,
            Err(e) if e.needs_login() => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut session = Session {
            api,
            dir: self.dir.clone(),
            info,
            refresh_within: self.refresh_within,
        };
        session.refresh_if_due().await?;
        Ok(Some(session))
    }

    /// Checks the server's channel key against the pin for its origin (refusing a changed
    /// key before anything is sent), then asks the server to email a login code to
    /// `email`. Finish with [`EmailLogin::verify`].
    pub async fn start_email_login(&self, email: &str) -> Result<EmailLogin, ClientError> {
        let api = self.client()?;
        let known = KnownServers::open(&self.dir)?;
        let key = api.fetch_server_key().await?;
        let first_use = known.check(&self.server, &key)? == PinCheck::Unknown;
        let started = api.email_start(email).await?;
        Ok(EmailLogin {
            builder: self.clone(),
            api,
            key,
            first_use,
            attempt_id: started.attempt_id,
            expires_at: started.expires_at,
        })
    }
}

/// A login waiting for the emailed code.
#[derive(Debug)]
pub struct EmailLogin {
    builder: SessionBuilder,
    api: ApiClient,
    key: [u8; 32],
    first_use: bool,
    attempt_id: String,
    expires_at: i64,
}

impl EmailLogin {
    /// The attempt the code is bound to.
    pub fn attempt_id(&self) -> &str {
        &self.attempt_id
    }

    /// When the code expires (Unix milliseconds).
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// Whether the server's channel key was seen for the first time (it is pinned when
    /// the login succeeds: compare it with the key the operator publishes).
    pub fn pins_new_key(&self) -> bool {
        self.first_use
    }

    /// The server's channel key (hex) this login pins or matched.
    pub fn server_key_hex(&self) -> String {
        hex::encode(self.key)
    }

    /// Sends the code; on success pins the server key (trust on first use), saves the
    /// session (mode 0600) and returns it.
    pub async fn verify(self, code: &str) -> Result<Session, ClientError> {
        let login = self.api.email_verify(&self.attempt_id, code.trim()).await?;
        let b = &self.builder;
        let profile = Profile {
            server: b.server.clone(),
            token: login.token.clone(),
            email: login.user.email.clone(),
            session_id: login.session.id.clone(),
            server_key: None,
            ca_file: None,
        };
        let (dir, server, key) = (b.dir.clone(), b.server.clone(), self.key);
        blocking(move || {
            KnownServers::open(&dir)?.pin(&server, key)?;
            profile.save(&dir)
        })
        .await?;
        Ok(Session {
            api: self.api.with_token(login.token).with_server_key(self.key),
            dir: b.dir.clone(),
            info: login.session,
            refresh_within: b.refresh_within,
        })
    }
}

/// A logged-in session with a pinned server key.
#[derive(Clone, Debug)]
pub struct Session {
    api: ApiClient,
    dir: PathBuf,
    info: SessionInfo,
    refresh_within: Duration,
}

impl Session {
    /// Starts configuring a login to `server` (e.g. `https://tandem.example.com`).
    pub fn builder(server: impl Into<String>) -> SessionBuilder {
        SessionBuilder {
            server: server.into(),
            dir: crate::profile::data_dir(),
            ca_pem: None,
            timeouts: Timeouts::default(),
            refresh_within: DEFAULT_REFRESH_WITHIN,
        }
    }

    /// The API client (token and pinned key set).
    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    /// The session as the server last described it.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// Refreshes the session if less than the configured margin is left before it
    /// expires. Returns whether it refreshed. Call it now and then in a long-running
    /// program (or use [`Session::keep_alive`]).
    pub async fn refresh_if_due(&mut self) -> Result<bool, ClientError> {
        let margin = i64::try_from(self.refresh_within.as_millis()).unwrap_or(i64::MAX);
        if self.info.expires_at.saturating_sub(now_ms()) > margin {
            return Ok(false);
        }
        self.info = self.api.refresh_session().await?;
        Ok(true)
    }

    /// Refreshes the session in the background before each expiry, until the session
    /// ends (the task then returns the error that ended it). Abort the handle to stop.
    pub fn keep_alive(&self) -> tokio::task::JoinHandle<ClientError> {
        let mut session = self.clone();
        tokio::spawn(async move {
            loop {
                let margin = i64::try_from(session.refresh_within.as_millis()).unwrap_or(i64::MAX);
                let wait = session
                    .info
                    .expires_at
                    .saturating_sub(now_ms())
                    .saturating_sub(margin);
                let wait = u64::try_from(wait).unwrap_or(0).max(1_000);
                tokio::time::sleep(Duration::from_millis(wait)).await;
                if let Err(e) = session.refresh_if_due().await
                    && !e.is_retryable()
                {
                    return e;
                }
            }
        })
    }

    /// Opens (or creates) the encrypted share store under `<data dir>/shares` and returns
    /// the device. The key derivation (Argon2id, 256 MiB) runs on a blocking thread.
    pub async fn open_device(&self, passphrase: &str) -> Result<Device, ClientError> {
        self.open_device_with(passphrase, KdfParams::default())
            .await
    }

    /// [`open_device`](Self::open_device) with other key derivation parameters (for tests;
    /// a weaker setting protects the shares less).
    pub async fn open_device_with(
        &self,
        passphrase: &str,
        params: KdfParams,
    ) -> Result<Device, ClientError> {
        let dir = self.dir.join("shares");
        let passphrase = zeroize::Zeroizing::new(passphrase.to_owned());
        let store = blocking(move || Ok(ShareStore::open_with(&dir, &passphrase, params)?)).await?;
        Ok(Device::new(self.api.clone(), store))
    }

    /// Ends the session on the server and removes the saved token (the pin stays: see
    /// [`KnownServers`]).
    pub async fn logout(self) -> Result<(), ClientError> {
        self.api.logout().await?;
        let dir = self.dir;
        blocking(move || Profile::remove(&dir)).await
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// File work (fsync, Argon2id) off the async executor.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ClientError> + Send + 'static,
) -> Result<T, ClientError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ClientError::Local(format!("a blocking task failed: {e}")))?
}
