//! Server configuration: safe defaults ← TOML file ← `TANDEM_*` environment.
//!
//! Every value has a default, so no configuration at all gives a working development server
//! (SQLite under `./tandem-data`, a local key file, login codes in the development outbox).
//!
//! Environment variables use `__` for nesting (`TANDEM_MAIL__SMTP__HOST`); the top-level keys
//! are simply `TANDEM_LISTEN`, `TANDEM_DATA_DIR`, `TANDEM_DATABASE_URL`, `TANDEM_CLOCK`.
//! `TANDEM_CONFIG` names the TOML file when none is given explicitly.
//! `TANDEM_MAIL__SMTP__PASSWORD` is taken verbatim (not parsed as a TOML-like value), so any
//! password works; keep secrets in the environment rather than in the file. The PKCS#11 user
//! PIN is accepted only from the environment (`TANDEM_VAULT_PKCS11_PIN`, see [`vault`]).

mod mode;
mod social;
mod strict;
mod vault;

pub use mode::Mode;
pub use social::{
    APPLE_MAX_SECRET_SECS, PROVIDERS, Protocol, ProviderConfig, SocialConfig, TokenAuth,
};
pub use strict::{OTHER_PREFIXES, OTHER_VARIABLES, nearest};
pub use vault::{
    DEFAULT_KEY_LABEL, PKCS11_PIN_ENV, Pkcs11Settings, VaultConfig, VaultProviderKind,
};

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize, Serializer};

use crate::store::redact_url;

/// The environment variable holding the SMTP password, read verbatim.
const SMTP_PASSWORD_ENV: &str = "TANDEM_MAIL__SMTP__PASSWORD";
/// The environment variable holding the metrics bearer token, read verbatim.
const METRICS_TOKEN_ENV: &str = "TANDEM_METRICS_TOKEN";
/// The environment variable naming the configuration file.
const CONFIG_FILE_ENV: &str = "TANDEM_CONFIG";

/// Errors from [`Config::load`]. Messages name the key and never contain a secret value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file given (or named by `TANDEM_CONFIG`) does not exist.
    #[error("configuration file `{}` not found", .0.display())]
    FileNotFound(PathBuf),
    /// A value is malformed or out of range.
    #[error("invalid configuration value for `{key}`: {message}")]
    Invalid {
        /// The dotted key, e.g. `mail.smtp.port`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A source could not be read or parsed as a whole (e.g. a TOML syntax error).
    #[error("cannot read configuration: {0}")]
    Source(String),
    /// A key of the file, or a `TANDEM_*` variable, that is no configuration key; the message
    /// names the nearest valid one.
    #[error("{message}")]
    Unknown {
        /// The dotted key (file) or the variable name (environment).
        key: String,
        /// What is wrong, with the likely intended key.
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.to_owned(),
            message: message.into(),
        }
    }

    /// The dotted key this error is about, if it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Invalid { key, .. } | Self::Unknown { key, .. } => Some(key),
            _ => None,
        }
    }

    fn from_figment(err: figment::Error) -> Self {
        let key = err.path.join(".");
        let origin = err
            .metadata
            .as_ref()
            .map(|m| format!(" (from {})", m.name))
            .unwrap_or_default();
        if key.is_empty() {
            return Self::Source(format!("{}{origin}", err.kind));
        }
        let message = if key.contains("password")
            || key.ends_with("pin")
            || key.contains("token")
            || key.contains("secret")
        {
            // Never echo a (possibly) secret value back.
            format!("invalid value{origin}")
        } else {
            format!("{}{origin}", err.kind)
        };
        Self::Invalid { key, message }
    }
}

/// The whole server configuration.
#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Config {
    /// `development` (default) or `production` (refuses unsafe settings at start).
    pub mode: Mode,
    /// A reverse proxy in front terminates TLS, so plain HTTP here is intended (production
    /// mode otherwise requires `--tls-cert`/`--tls-key`).
    pub tls_terminated_by_proxy: bool,
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Directory for the SQLite database, the local key file and the development outbox.
    pub data_dir: PathBuf,
    /// Database URL; `None` means SQLite at `<data_dir>/tandem.db`. See [`Config::database_url`].
    #[serde(
        deserialize_with = "lenient::opt_string",
        serialize_with = "redacted_url"
    )]
    pub database_url: Option<String>,
    /// `system`, or `file:<path>` for end-to-end tests (see [`crate::clock::from_spec`]).
    #[serde(deserialize_with = "lenient::string")]
    pub clock: String,
    /// Session lifetimes.
    pub sessions: SessionsConfig,
    /// Email one-time codes.
    pub otp: OtpConfig,
    /// Passwords, PINs, TOTP and step-up.
    pub accounts: AccountsConfig,
    /// Outgoing mail.
    pub mail: MailConfig,
    /// SMS one-time codes (login and linked phone numbers).
    pub sms: SmsConfig,
    /// Backup Kits and export.
    pub recovery: crate::recovery::RecoveryConfig,
    /// Sign-in with outside identity providers (OpenID Connect, OAuth 2.0).
    pub social: SocialConfig,
    /// Key-encryption-key provider for server shares.
    pub vault: VaultConfig,
    /// Request and ceremony limits.
    pub limits: LimitsConfig,
    /// Reverse proxies (CIDRs, or single addresses) whose client-address header is believed.
    #[serde(deserialize_with = "lenient::string_list")]
    pub trusted_proxies: Vec<String>,
    /// The header a trusted proxy names the client in: `x-forwarded-for` or `forwarded`.
    pub proxy_header: ProxyHeader,
    /// Serve `/metrics` on this separate address (and not on `listen`).
    pub metrics_listen: Option<SocketAddr>,
    /// The admin listener: `/livez`, `/readyz`, `/healthz` and `/metrics` on a separate
    /// plain-HTTP address for a private network (`/metrics` is then not on `listen`). Takes
    /// the place of `metrics_listen`, which remains an older name for it.
    pub admin_listen: Option<SocketAddr>,
    /// Require `Authorization: Bearer <token>` on `/metrics` (best given as
    /// `TANDEM_METRICS_TOKEN`).
    #[serde(deserialize_with = "lenient::opt_secret", serialize_with = "redacted")]
    pub metrics_token: Option<SecretString>,
    /// PEM certificate chain for in-process TLS (with `tls_key`); reloaded on SIGHUP.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
}

/// The header carrying the client address behind a reverse proxy. Only one is read: a
/// proxy that sets one passes the other through from the client unchecked.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ProxyHeader {
    /// `X-Forwarded-For` (nginx, HAProxy, most load balancers).
    #[default]
    XForwardedFor,
    /// `Forwarded` (RFC 7239), its `for=` parameters.
    Forwarded,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mode: Mode::Development,
            tls_terminated_by_proxy: false,
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            data_dir: PathBuf::from("./tandem-data"),
            database_url: None,
            clock: "system".to_owned(),
            sessions: SessionsConfig::default(),
            otp: OtpConfig::default(),
            accounts: AccountsConfig::default(),
            mail: MailConfig::default(),
            sms: SmsConfig::default(),
            recovery: crate::recovery::RecoveryConfig::default(),
            social: SocialConfig::default(),
            vault: VaultConfig::default(),
            limits: LimitsConfig::default(),
            trusted_proxies: Vec::new(),
            proxy_header: ProxyHeader::default(),
            metrics_listen: None,
            admin_listen: None,
            metrics_token: None,
            tls_cert: None,
            tls_key: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("mode", &self.mode)
            .field("tls_terminated_by_proxy", &self.tls_terminated_by_proxy)
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("clock", &self.clock)
            .field("sessions", &self.sessions)
            .field("otp", &self.otp)
            .field("mail", &self.mail)
            .field("sms", &self.sms)
            .field("recovery", &self.recovery)
            .field("social", &self.social)
            .field("vault", &self.vault)
            .field("limits", &self.limits)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("proxy_header", &self.proxy_header)
            .field("metrics_listen", &self.metrics_listen)
            .field("admin_listen", &self.admin_listen)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "[redacted]"),
            )
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .finish()
    }
}

/// `[sessions]`: bearer-session lifetimes.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct SessionsConfig {
    /// Idle lifetime; each refresh extends the session by this much.
    pub lifetime_minutes: u64,
    /// Hard cap from creation, whatever the refreshes.
    pub absolute_hours: u64,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        Self {
            lifetime_minutes: 90,
            // NIST SP 800-63B AAL2 reauthentication (security bar S1: at most 12 h).
            absolute_hours: 12,
        }
    }
}

/// `[otp]`: email one-time codes.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct OtpConfig {
    /// How long a code is valid.
    pub ttl_minutes: u64,
    /// Wrong tries after which a code is dead.
    pub max_attempts: u32,
    /// Codes one client may request for one address per hour. Keyed on the address and the
    /// client together, so nobody can use it up for someone else.
    pub per_address_per_hour: u32,
    /// Codes one client may request per hour, whatever the addresses.
    pub per_ip_per_hour: u32,
    /// Codes sent to one address per day from all clients together: the larger, slower
    /// budget that bounds what many clients can send to (and guess for) one address.
    pub per_address_per_day: u32,
    /// Wrong codes accepted for one address per hour, across all its attempts and clients.
    pub wrong_codes_per_address_per_hour: u32,
}

impl Default for OtpConfig {
    fn default() -> Self {
        Self {
            ttl_minutes: 10,
            max_attempts: 5,
            per_address_per_hour: 5,
            per_ip_per_hour: 30,
            per_address_per_day: 20,
            wrong_codes_per_address_per_hour: 30,
        }
    }
}

/// `[accounts]`: passwords, PINs, TOTP and step-up.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct AccountsConfig {
    /// How long a proven method satisfies sensitive operations (adding or removing a method,
    /// TOTP changes) before `step_up_required`.
    pub step_up_minutes: u64,
    /// How long a login whose first factor passed waits for its second.
    pub second_factor_minutes: u64,
    /// Wrong PINs in a row after which the PIN is locked until another method is proven.
    pub pin_max_attempts: u32,
    /// The issuer name authenticator apps show next to the account.
    pub totp_issuer: String,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            step_up_minutes: 5,
            second_factor_minutes: 5,
            pin_max_attempts: 5,
            totp_issuer: "Tandem".into(),
        }
    }
}

/// How login codes leave the server.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum MailMode {
    /// Development only: the code is printed in the server log and appended to
    /// `<data_dir>/dev-outbox.jsonl`. Never use it where real users log in.
    #[default]
    Outbox,
    /// Real delivery through an SMTP relay.
    Smtp,
}

/// `[mail]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct MailConfig {
    /// `outbox` (development) or `smtp`.
    pub mode: MailMode,
    /// The From header, e.g. `Tandem <no-reply@example.com>`.
    #[serde(deserialize_with = "lenient::string")]
    pub from: String,
    /// The SMTP relay (used when `mode = "smtp"`).
    pub smtp: SmtpConfig,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            mode: MailMode::Outbox,
            from: "Tandem <no-reply@tandem.localhost>".to_owned(),
            smtp: SmtpConfig::default(),
        }
    }
}

/// Transport security towards the SMTP relay.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plaintext. Only for a relay on loopback or a trusted local network.
    None,
    /// STARTTLS (usually port 587), required.
    #[default]
    Starttls,
    /// Implicit TLS (usually port 465).
    Tls,
}

/// `[mail.smtp]`.
#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct SmtpConfig {
    /// Relay host name or address.
    #[serde(deserialize_with = "lenient::string")]
    pub host: String,
    /// Relay port.
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub tls: SmtpTls,
    /// SMTP AUTH user name.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub username: Option<String>,
    /// SMTP AUTH password (best given as `TANDEM_MAIL__SMTP__PASSWORD`).
    #[serde(deserialize_with = "lenient::opt_secret", serialize_with = "redacted")]
    pub password: Option<SecretString>,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 587,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
        }
    }
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// Where SMS codes go.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmsMode {
    /// Development only: codes are appended to `<data_dir>/dev-sms-outbox.jsonl`.
    #[default]
    Outbox,
    /// An SMPP 3.4/5.0 gateway (the operator's SMSC or an aggregator's).
    Smpp,
}

/// `[sms]`: SMS one-time codes. Off unless `enabled`: SMS is a weaker factor than the others
/// (SIM swap, SS7) and costs money per message, so an operator opts in.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct SmsConfig {
    /// Serve SMS login and phone linking (otherwise those routes answer `404 not_found`).
    pub enabled: bool,
    /// `outbox` (development) or `smpp`.
    pub mode: SmsMode,
    /// How long a code is valid (at most 10).
    pub ttl_minutes: u64,
    /// Wrong tries after which a code is dead (at most 5).
    pub max_attempts: u32,
    /// Codes one client may request for one number per 10 minutes (keyed on both, so nobody
    /// can use it up for someone else).
    pub per_number_per_10_minutes: u32,
    /// Codes one client may request per hour, whatever the numbers (SMS pumping).
    pub per_client_per_hour: u32,
    /// Codes sent to one number per day from all clients together.
    pub per_number_per_day: u32,
    /// Wrong codes accepted for one number per hour, across all its attempts and clients.
    pub wrong_codes_per_number_per_hour: u32,
    /// The gateway (used when `mode = "smpp"`).
    pub smpp: SmppConfig,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            mode: SmsMode::Outbox,
            ttl_minutes: 5,
            max_attempts: 5,
            per_number_per_10_minutes: 5,
            per_client_per_hour: 20,
            per_number_per_day: 10,
            wrong_codes_per_number_per_hour: 20,
            smpp: SmppConfig::default(),
        }
    }
}

/// `[sms.smpp]`: an SMPP gateway, bound as a transmitter.
#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct SmppConfig {
    #[serde(deserialize_with = "lenient::string")]
    pub host: String,
    pub port: u16,
    /// The account name (`system_id`) the gateway gave you.
    #[serde(deserialize_with = "lenient::string")]
    pub system_id: String,
    /// Its password (best given as `TANDEM_SMS__SMPP__PASSWORD`; SMPP allows 8 characters).
    #[serde(deserialize_with = "lenient::opt_secret", serialize_with = "redacted")]
    pub password: Option<SecretString>,
    /// The sender shown on the phone: a number or an alphanumeric name (at most 11).
    #[serde(deserialize_with = "lenient::string")]
    pub source_addr: String,
    /// Connect, bind and submit must finish within this many seconds.
    pub timeout_secs: u64,
}

impl Default for SmppConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 2775,
            system_id: String::new(),
            password: None,
            source_addr: "Tandem".to_owned(),
            timeout_secs: 10,
        }
    }
}

impl fmt::Debug for SmppConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmppConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("system_id", &self.system_id)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("source_addr", &self.source_addr)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

/// `[limits]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct LimitsConfig {
    /// Largest HTTP request body.
    pub max_body_bytes: usize,
    /// Largest ceremony WebSocket frame.
    pub max_frame_bytes: usize,
    /// Per-round ceremony timeout.
    pub round_timeout_secs: u64,
    /// How long an open ceremony socket may wait for its next ceremony.
    pub ceremony_idle_secs: u64,
    /// Concurrent ceremonies one user may run.
    pub max_ceremonies_per_user: u32,
    /// Ceremony sockets one session may hold open on one instance (the SDK opens one per
    /// concurrent operation, so at least `max_ceremonies_per_user`).
    pub max_sockets_per_session: u32,
    /// Ceremony sockets one user may hold open on one instance.
    pub max_sockets_per_user: u32,
    /// Time a client has to send a request's headers (and a new connection its first one).
    pub header_timeout_secs: u64,
    /// Time a client has to send a request's whole body.
    pub body_timeout_secs: u64,
    /// Time one request may take from its headers to the response (not a ceremony socket
    /// once upgraded: those have their own round and idle timeouts).
    pub request_timeout_secs: u64,
    /// Concurrent connections; more are closed at once. Lowered at start to fit the
    /// file-descriptor limit.
    pub max_connections: u32,
    /// At shutdown (SIGTERM), how long ceremonies in flight may take to finish before the
    /// database pool closes.
    pub drain_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 262_144,
            max_frame_bytes: 600_000,
            round_timeout_secs: 30,
            ceremony_idle_secs: 60,
            max_ceremonies_per_user: 32,
            max_sockets_per_session: 32,
            max_sockets_per_user: 64,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            request_timeout_secs: 60,
            max_connections: 4096,
            drain_secs: 30,
        }
    }
}

impl Config {
    /// Loads defaults ← the TOML file (`file`, else `TANDEM_CONFIG` if set) ← `TANDEM_*`
    /// environment, then validates.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let file: Option<PathBuf> = match file {
            Some(p) => Some(p.to_path_buf()),
            None => std::env::var_os(CONFIG_FILE_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        };
        let env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned())))
            .filter(|(k, _)| k.starts_with("TANDEM_"))
            .collect();
        let mut figment = Figment::new();
        if let Some(path) = &file {
            if !path.is_file() {
                return Err(ConfigError::FileNotFound(path.clone()));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(
            Env::prefixed("TANDEM_")
                // Secrets read verbatim below; the PIN's variable has no `__` on purpose, so
                // that it can never be mistaken for a nested key of the file.
                .filter(|k| {
                    k != "mail__smtp__password"
                        && k != "config"
                        && k != "vault_pkcs11_pin"
                        && k != "metrics_token"
                })
                .split("__"),
        );
        let mut config: Config = figment.extract().map_err(ConfigError::from_figment)?;
        strict::check(&config, file.as_deref(), &env)?;
        config.social.fill_presets();
        if let Some(raw) = std::env::var_os(SMTP_PASSWORD_ENV) {
            let raw = raw
                .into_string()
                .map_err(|_| ConfigError::invalid("mail.smtp.password", "not valid UTF-8"))?;
            config.mail.smtp.password = (!raw.is_empty()).then(|| SecretString::from(raw));
        }
        if let Some(raw) = std::env::var_os(METRICS_TOKEN_ENV) {
            let raw = raw
                .into_string()
                .map_err(|_| ConfigError::invalid("metrics_token", "not valid UTF-8"))?;
            config.metrics_token = (!raw.is_empty()).then(|| SecretString::from(raw));
        }
        config.vault.pkcs11.read_pin_from_env()?;
        if config
            .database_url
            .as_deref()
            .is_some_and(|u| u.trim().is_empty())
        {
            config.database_url = None;
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges and formats; errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid("data_dir", "must not be empty"));
        }
        if let Some(url) = &self.database_url {
            let url = url.trim();
            if !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
            {
                return Err(ConfigError::invalid(
                    "database_url",
                    "must start with `sqlite:`, `postgres://` or `postgresql://`",
                ));
            }
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => {
                return Err(ConfigError::invalid("tls_key", "is required with tls_cert"));
            }
            (None, Some(_)) => {
                return Err(ConfigError::invalid("tls_cert", "is required with tls_key"));
            }
            _ => {}
        }
        if let Err(e) = crate::clock::from_spec(&self.clock) {
            return Err(ConfigError::invalid("clock", e.to_string()));
        }

        let s = &self.sessions;
        check_range(
            "sessions.lifetime_minutes",
            s.lifetime_minutes,
            1,
            5_256_000,
        )?;
        check_range("sessions.absolute_hours", s.absolute_hours, 1, 87_600)?;
        if s.absolute_hours * 60 < s.lifetime_minutes {
            return Err(ConfigError::invalid(
                "sessions.absolute_hours",
                "must be at least sessions.lifetime_minutes",
            ));
        }

        let o = &self.otp;
        check_range("otp.ttl_minutes", o.ttl_minutes, 1, 1_440)?;
        check_range("otp.max_attempts", u64::from(o.max_attempts), 1, 100)?;
        check_range(
            "otp.per_address_per_hour",
            u64::from(o.per_address_per_hour),
            1,
            100_000,
        )?;
        check_range(
            "otp.per_ip_per_hour",
            u64::from(o.per_ip_per_hour),
            1,
            1_000_000,
        )?;
        check_range(
            "otp.per_address_per_day",
            u64::from(o.per_address_per_day),
            1,
            1_000_000,
        )?;
        check_range(
            "otp.wrong_codes_per_address_per_hour",
            u64::from(o.wrong_codes_per_address_per_hour),
            1,
            1_000_000,
        )?;

        let a = &self.accounts;
        check_range("accounts.step_up_minutes", a.step_up_minutes, 1, 1_440)?;
        check_range(
            "accounts.second_factor_minutes",
            a.second_factor_minutes,
            1,
            60,
        )?;
        check_range(
            "accounts.pin_max_attempts",
            u64::from(a.pin_max_attempts),
            1,
            20,
        )?;
        if a.totp_issuer.trim().is_empty() || a.totp_issuer.contains(':') {
            return Err(ConfigError::invalid(
                "accounts.totp_issuer",
                "must be a non-empty name without `:`",
            ));
        }

        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::invalid(
                "mail.from",
                "is not a valid mailbox (e.g. `Tandem <no-reply@example.com>`)",
            ));
        }
        if self.mail.smtp.host.trim().is_empty() {
            return Err(ConfigError::invalid("mail.smtp.host", "must not be empty"));
        }
        if self.mail.smtp.port == 0 {
            return Err(ConfigError::invalid("mail.smtp.port", "must not be 0"));
        }
        if self.mail.smtp.password.is_some() && self.mail.smtp.username.is_none() {
            return Err(ConfigError::invalid(
                "mail.smtp.username",
                "is required when mail.smtp.password is set",
            ));
        }

        let m = &self.sms;
        check_range("sms.ttl_minutes", m.ttl_minutes, 1, 10)?;
        check_range("sms.max_attempts", u64::from(m.max_attempts), 1, 5)?;
        check_range(
            "sms.per_number_per_10_minutes",
            u64::from(m.per_number_per_10_minutes),
            1,
            100,
        )?;
        check_range(
            "sms.per_client_per_hour",
            u64::from(m.per_client_per_hour),
            1,
            10_000,
        )?;
        check_range(
            "sms.per_number_per_day",
            u64::from(m.per_number_per_day),
            1,
            1_000,
        )?;
        check_range(
            "sms.wrong_codes_per_number_per_hour",
            u64::from(m.wrong_codes_per_number_per_hour),
            1,
            1_000,
        )?;
        if m.mode == SmsMode::Smpp {
            if m.smpp.host.trim().is_empty() || m.smpp.port == 0 {
                return Err(ConfigError::invalid(
                    "sms.smpp.host",
                    "a host and a non-zero port are required when sms.mode = \"smpp\"",
                ));
            }
            if m.smpp.system_id.is_empty() || m.smpp.system_id.len() > 15 {
                return Err(ConfigError::invalid(
                    "sms.smpp.system_id",
                    "is required (at most 15 characters) when sms.mode = \"smpp\"",
                ));
            }
            if m.smpp.source_addr.is_empty() || m.smpp.source_addr.len() > 20 {
                return Err(ConfigError::invalid(
                    "sms.smpp.source_addr",
                    "must be 1 to 20 characters",
                ));
            }
            check_range("sms.smpp.timeout_secs", m.smpp.timeout_secs, 1, 120)?;
        }

        self.social.validate()?;
        self.vault.validate()?;
        self.recovery.validate()?;

        let l = &self.limits;
        check_range("limits.max_body_bytes", l.max_body_bytes as u64, 1, 1 << 30)?;
        check_range(
            "limits.max_frame_bytes",
            l.max_frame_bytes as u64,
            1,
            1 << 30,
        )?;
        check_range("limits.round_timeout_secs", l.round_timeout_secs, 1, 3_600)?;
        check_range("limits.ceremony_idle_secs", l.ceremony_idle_secs, 1, 3_600)?;
        check_range("limits.drain_secs", l.drain_secs, 0, 3_600)?;
        check_range(
            "limits.max_ceremonies_per_user",
            u64::from(l.max_ceremonies_per_user),
            1,
            100_000,
        )?;
        check_range(
            "limits.max_sockets_per_session",
            u64::from(l.max_sockets_per_session),
            1,
            100_000,
        )?;
        check_range(
            "limits.max_sockets_per_user",
            u64::from(l.max_sockets_per_user),
            1,
            1_000_000,
        )?;
        check_range(
            "limits.header_timeout_secs",
            l.header_timeout_secs,
            1,
            3_600,
        )?;
        check_range("limits.body_timeout_secs", l.body_timeout_secs, 1, 3_600)?;
        check_range(
            "limits.request_timeout_secs",
            l.request_timeout_secs,
            1,
            3_600,
        )?;
        check_range(
            "limits.max_connections",
            u64::from(l.max_connections),
            1,
            10_000_000,
        )?;
        for (i, cidr) in self.trusted_proxies.iter().enumerate() {
            if let Err(e) = parse_cidr(cidr) {
                return Err(ConfigError::invalid(&format!("trusted_proxies[{i}]"), e));
            }
        }
        if let Some(addr) = self.metrics_listen
            && addr == self.listen
            && addr.port() != 0
        {
            return Err(ConfigError::invalid(
                "metrics_listen",
                "must differ from `listen`",
            ));
        }
        if let Some(addr) = self.admin_listen
            && addr == self.listen
            && addr.port() != 0
        {
            return Err(ConfigError::invalid(
                "admin_listen",
                "must differ from `listen`",
            ));
        }
        Ok(())
    }

    /// The admin listener's address: `admin_listen`, else the older `metrics_listen`.
    pub fn admin_address(&self) -> Option<SocketAddr> {
        self.admin_listen.or(self.metrics_listen)
    }

    /// The database URL to connect to: the configured one, or SQLite at `<data_dir>/tandem.db`
    /// (`sqlite://<path>`, characters special to URLs percent-encoded).
    pub fn database_url(&self) -> String {
        match self.database_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => url.to_owned(),
            _ => sqlite_url_for(&self.data_dir.join("tandem.db")),
        }
    }

    /// The static key of the ceremony channel: `server-channel.key` next to the KEK file, so
    /// that instances sharing one share the other.
    pub fn channel_key_file(&self) -> PathBuf {
        self.key_file().with_file_name("server-channel.key")
    }

    /// The TLS files from the configuration (`tls_cert`, `tls_key`), if both are set.
    pub fn tls_files(&self) -> Option<crate::tls::TlsSetup> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::TlsSetup::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        }
    }

    /// The key file of the `local` vault provider: configured, or `<data_dir>/server-kek.key`.
    pub fn key_file(&self) -> PathBuf {
        self.vault
            .key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("server-kek.key"))
    }
}

/// Secrets appear in the effective configuration only as `[redacted]` (set) or null.
pub(crate) fn redacted<S: Serializer>(v: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("[redacted]"),
        None => s.serialize_none(),
    }
}

fn redacted_url<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(url) => s.serialize_str(&redact_url(url)),
        None => s.serialize_none(),
    }
}

/// A CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a single address (as /32 or /128).
pub fn parse_cidr(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    if let Ok(net) = text.parse::<ipnet::IpNet>() {
        return Ok(net.trunc());
    }
    text.parse::<std::net::IpAddr>()
        .map(ipnet::IpNet::from)
        .map_err(|_| format!("`{text}` is not an address or a CIDR (e.g. `10.0.0.0/8`)"))
}

fn check_range(key: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(ConfigError::invalid(
            key,
            format!("must be between {min} and {max} (got {value})"),
        ));
    }
    Ok(())
}

/// `sqlite://<path>` for a file path, with `%`, `?` and `#` percent-encoded.
pub fn sqlite_url_for(path: &Path) -> String {
    let mut url = String::from("sqlite://");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => url.push_str("%25"),
            '?' => url.push_str("%3F"),
            '#' => url.push_str("%23"),
            c => url.push(c),
        }
    }
    url
}

/// Deserializers that accept a scalar of any type as a string: environment values are parsed
/// as TOML-like values, so `TANDEM_MAIL__SMTP__USERNAME=1234` arrives as an integer.
mod lenient {
    use std::fmt;

    use secrecy::SecretString;
    use serde::Deserializer;
    use serde::de::{self, Visitor};

    struct StringLike;

    impl Visitor<'_> for StringLike {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
        fn visit_char<E: de::Error>(self, v: char) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i128<E: de::Error>(self, v: i128) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u128<E: de::Error>(self, v: u128) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }

    struct OptStringLike;

    impl<'de> Visitor<'de> for OptStringLike {
        type Value = Option<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            string(d).map(Some)
        }
    }

    pub(super) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        d.deserialize_any(StringLike)
    }

    pub(super) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_option(OptStringLike)
    }

    /// A list of strings, or one string of comma-separated items (handy in the environment).
    pub(super) fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            Many(Vec<String>),
            One(String),
        }
        Ok(match <OneOrMany as serde::Deserialize>::deserialize(d)? {
            OneOrMany::Many(v) => v,
            OneOrMany::One(s) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }

    pub(super) fn opt_secret<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SecretString>, D::Error> {
        Ok(opt_string(d)?
            .filter(|s| !s.is_empty())
            .map(SecretString::from))
    }
}
