//! Wires the services together from a [`Config`] and runs the server.

use axum_server::accept::NoDelayAcceptor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::{AuthError, EmailOtp, LegacyRows, seal_legacy_rows};
use crate::ceremony::{Ceremonies, CeremonyConfig};
use crate::clock::{self, SharedClock};
use crate::config::{Config, Mode};
use crate::conn_limit::CappedAcceptor;
use crate::http::{MetricsAccess, TrustedProxies};
use crate::lifecycle::Lifecycle;
use crate::notify::mailer_from_config;
use crate::sessions::{SessionConfig, Sessions, SocketCaps};
use crate::store::Store;
use crate::tls::TlsSetup;
use crate::vault_ops::{Purpose, VaultOpsError};
use crate::wallets::Wallets;
use tandem_proto::channel::StaticKeypair;

/// Request-size, time and ceremony limits the HTTP layer enforces.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_frame_bytes: usize,
    pub body_timeout: Duration,
    pub request_timeout: Duration,
}

/// Everything a request handler may use.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub clock: SharedClock,
    pub otp: EmailOtp,
    pub sessions: Sessions,
    /// Logins, step-up and the account's methods.
    pub accounts: crate::account::Accounts,
    /// The recovery key, Backup Kits and export.
    pub recovery: crate::recovery::Recovery,
    /// Social sign-in and linking.
    pub social: crate::social::Social,
    pub wallets: Wallets,
    pub ceremonies: Ceremonies,
    pub limits: Limits,
    pub metrics: PrometheusHandle,
    /// The static key of the end-to-end ceremony channel; devices pin its public half.
    pub channel_key: Arc<StaticKeypair>,
    /// Whose forwarding headers name the client (`ClientAddr`).
    pub proxies: Arc<TrustedProxies>,
    pub metrics_access: MetricsAccess,
    /// Readiness and the shutdown drain.
    pub lifecycle: Lifecycle,
    /// What `/readyz` reports about outgoing mail (`smtp`, or `outbox` in development).
    pub mail: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("configuration: {0}")]
    Config(String),
    /// `mode = "production"` and the configuration is not fit for it: every problem.
    #[error("refusing to start in production mode:\n  - {}", .0.join("\n  - "))]
    Production(Vec<String>),
    #[error("database: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("key provider: {0}")]
    Vault(#[from] crate::vault::VaultError),
    #[error("vault: {0}")]
    VaultSetup(#[from] VaultOpsError),
    #[error("login codes: {0}")]
    Auth(#[from] AuthError),
    #[error("mail: {0}")]
    Mail(#[from] crate::notify::MailError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

impl AppState {
    pub async fn build(config: &Config) -> Result<AppState, StartError> {
        let clock =
            clock::from_spec(&config.clock).map_err(|e| StartError::Config(e.to_string()))?;
        crate::store::private_dir(&config.data_dir)?;
        let store = Store::connect(&config.database_url()).await?;
        // Next to the KEK file: instances of one deployment share both. Checked first, so
        // that an instance with another key changes nothing before it refuses.
        let channel_key = crate::channel_key::load_and_register(
            &store,
            &config.channel_key_file(),
            clock.now_ms(),
        )
        .await
        .map_err(StartError::Config)?;
        let vault =
            crate::vault_ops::prepare(config, store.clone(), clock.clone(), Purpose::Serve).await?;
        let pii = vault.pii.clone();
        let legacy = seal_legacy_rows(&store, &pii).await?;
        if legacy != LegacyRows::default() {
            tracing::info!(
                users = legacy.users,
                sessions = legacy.sessions,
                "sealed identifiers stored in clear by an earlier version"
            );
        }
        let mailer = mailer_from_config(config, clock.clone())?;
        let otp = EmailOtp::new(
            store.clone(),
            clock.clone(),
            mailer.clone(),
            config.otp.clone(),
            pii.clone(),
        );
        otp.publish_policy().await?;
        let sessions = Sessions::new(
            store.clone(),
            clock.clone(),
            SessionConfig::from_settings(&config.sessions),
        )
        .with_socket_caps(SocketCaps {
            per_session: config.limits.max_sockets_per_session as usize,
            per_user: config.limits.max_sockets_per_user as usize,
        })
        .with_pii(pii.clone());
        let mut accounts =
            build_accounts(config, &store, &clock, &pii, &otp, &sessions, mailer).await?;
        if config.sms.enabled {
            let sms = crate::sms::PhoneOtp::new(
                store.clone(),
                clock.clone(),
                crate::sms::sender_from_config(config, clock.clone()),
                &config.sms,
                pii.clone(),
            );
            sms.publish_policy().await?;
            accounts = accounts.with_sms(sms);
        }
        let social = crate::social::Social::new(
            store.clone(),
            clock.clone(),
            pii.clone(),
            accounts.clone(),
            config.social.clone(),
        )
        .map_err(|e| StartError::Config(format!("social: {e}")))?;
        let wallets = vault.wallets;
        let recovery = crate::recovery::Recovery::new(
            store.clone(),
            clock.clone(),
            accounts.clone(),
            wallets.clone(),
            config.recovery.clone(),
        );
        let ceremonies = Ceremonies::new(
            wallets.clone(),
            CeremonyConfig {
                round_timeout: Duration::from_secs(config.limits.round_timeout_secs),
                idle_timeout: Duration::from_secs(config.limits.ceremony_idle_secs),
                max_per_user: config.limits.max_ceremonies_per_user as usize,
            },
        );
        Ok(AppState {
            store,
            clock,
            otp,
            sessions,
            accounts,
            recovery,
            social,
            wallets,
            ceremonies,
            limits: Limits {
                max_body_bytes: config.limits.max_body_bytes,
                max_frame_bytes: config.limits.max_frame_bytes,
                body_timeout: Duration::from_secs(config.limits.body_timeout_secs),
                request_timeout: Duration::from_secs(config.limits.request_timeout_secs),
            },
            metrics: crate::telemetry::handle(),
            channel_key: Arc::new(channel_key),
            proxies: Arc::new(TrustedProxies::new(
                &config.trusted_proxies,
                config.proxy_header,
            )),
            metrics_access: MetricsAccess {
                on_api: config.admin_address().is_none(),
                token: config.metrics_token.clone().map(Arc::new),
            },
            lifecycle: Lifecycle::default(),
            mail: match config.mail.mode {
                crate::config::MailMode::Smtp => "smtp",
                crate::config::MailMode::Outbox => "outbox",
            },
        })
    }
}

/// The accounts service and the modules it stands on (users, credentials).
async fn build_accounts(
    config: &Config,
    store: &Store,
    clock: &SharedClock,
    pii: &crate::vault::PiiKeys,
    otp: &EmailOtp,
    sessions: &Sessions,
    mailer: Arc<dyn crate::notify::Mailer>,
) -> Result<crate::account::Accounts, StartError> {
    let minutes = |m: u64| {
        i64::try_from(m)
            .unwrap_or(i64::MAX / 60_000)
            .saturating_mul(60_000)
    };
    let credentials = crate::credentials::Credentials::new(
        store.clone(),
        clock.clone(),
        pii.clone(),
        crate::credentials::CredentialSettings {
            pin_max_attempts: config.accounts.pin_max_attempts,
            totp_issuer: config.accounts.totp_issuer.clone(),
        },
    );
    credentials.publish_policies().await?;
    Ok(crate::account::Accounts::new(
        store.clone(),
        clock.clone(),
        crate::users::Users::new(store.clone(), pii.clone()),
        credentials,
        otp.clone(),
        sessions.clone(),
        mailer,
        crate::account::AccountSettings {
            step_up_ms: minutes(config.accounts.step_up_minutes),
            ticket_ms: minutes(config.accounts.second_factor_minutes),
        },
    ))
}

/// Starts the server and runs until Ctrl-C or SIGTERM, then drains in-flight requests.
pub async fn serve(config: Config, tls: Option<TlsSetup>) -> Result<(), StartError> {
    crate::production::check(&config, tls.as_ref()).map_err(StartError::Production)?;
    if config.mode == Mode::Development {
        // On stderr directly as well as in the log: it must be seen whatever the log filter.
        eprintln!(
            "{}",
            crate::production::development_banner(&config, tls.as_ref())
        );
        tracing::warn!("running in development mode (mode = \"development\")");
    }
    crate::hardening::harden_process();
    let fd_limit = crate::hardening::raise_fd_limit();
    let max_connections = connection_cap(config.limits.max_connections, fd_limit);
    crate::failpoints::init_from_env();
    let state = AppState::build(&config).await?;
    // Staged shares are left only by ceremonies that crashed (docs/crash-safety.md).
    match state.wallets.discard_staged_shares().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            deleted = n,
            "dropped staged shares of interrupted refreshes"
        ),
        Err(e) => tracing::warn!(error = %e, "could not drop staged shares"),
    }
    let store = state.store.clone();
    let lifecycle = state.lifecycle.clone();
    let mail = state.mail;
    let channel_public = hex::encode(state.channel_key.public());
    let housekeeping = tokio::spawn(housekeeping(state.clone()));
    let admin_server = match config.admin_address() {
        Some(addr) => Some(serve_admin(addr, state.clone())?),
        None => None,
    };
    let app = crate::http::router(state, tls.is_some())
        .into_make_service_with_connect_info::<SocketAddr>();
    let listener =
        std::net::TcpListener::bind(config.listen).map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
    listener.set_nonblocking(true).map_err(StartError::Serve)?;
    let addr = listener.local_addr().map_err(StartError::Serve)?;
    let handle = axum_server::Handle::new();
    // Ceremony sockets stay open across signatures and alternate big MPC frames with small
    // control messages: with Nagle's algorithm on, a small write waits for the peer's
    // delayed ACK (~40 ms on Linux).
    let shutdown = handle.clone();
    let drain_bound = Duration::from_secs(config.limits.drain_secs);
    let draining = lifecycle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        // Not ready from this instant; new work is answered `503 unavailable` (retryable)
        // while the ceremonies in flight finish.
        draining.start_drain();
        tracing::info!(
            ceremony_sockets = draining.open_sockets(),
            bound_secs = drain_bound.as_secs(),
            "shutting down: readiness failed, draining ceremonies"
        );
        let left = draining.sockets_closed(drain_bound).await;
        if left > 0 {
            tracing::warn!(
                ceremony_sockets = left,
                "drain bound (limits.drain_secs) reached with ceremonies still running"
            );
        }
        shutdown.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    let scheme = if tls.is_some() { "https" } else { "http" };
    let header_timeout = Duration::from_secs(config.limits.header_timeout_secs);
    let acceptor = CappedAcceptor::new(NoDelayAcceptor::new(), max_connections);
    let database = match crate::store::Backend::from_url(&config.database_url()) {
        Ok(crate::store::Backend::Postgres) => "postgres",
        _ => "sqlite",
    };
    let announce = |extra: Option<&std::path::Path>| {
        tracing::info!(
            mode = config.mode.as_str(),
            database,
            vault = config.vault.provider.as_str(),
            mail,
            listen = %addr,
            admin = %config.admin_address().map_or_else(|| "none".to_owned(), |a| a.to_string()),
            tls = scheme == "https",
            version = env!("CARGO_PKG_VERSION"),
            commit = crate::telemetry::GIT_COMMIT,
            data_dir = %config.data_dir.display(),
            "tandem server listening"
        );
        // Plain lines on stdout too: scripts and tests wait for them.
        println!("tandem listening on {scheme}://{addr}");
        // Devices pin this key on first login; compare it out of band to rule out a MITM then.
        println!("tandem channel key: {channel_public}");
        if let Some(cert) = extra {
            println!("tandem development TLS certificate: {}", cert.display());
        }
    };
    let served = match tls {
        Some(setup) => {
            let (rustls, dev_cert) = crate::tls::rustls_config(&setup, &config.data_dir).await?;
            if let TlsSetup::Files { cert, key } = &setup {
                crate::tls::reload_on_sighup(rustls.clone(), cert.clone(), key.clone());
            }
            announce(dev_cert.as_deref());
            let mut server = axum_server::tls_rustls::from_tcp_rustls(listener, rustls)
                .map_err(StartError::Serve)?
                .map(|tls| tls.handshake_timeout(header_timeout).acceptor(acceptor))
                .handle(handle)
                .first_request_timeout(header_timeout);
            server
                .http_builder()
                .http1()
                .header_read_timeout(header_timeout);
            server.serve(app).await
        }
        None => {
            announce(None);
            let mut server = axum_server::from_tcp(listener)
                .map_err(StartError::Serve)?
                .acceptor(acceptor)
                .handle(handle)
                .first_request_timeout(header_timeout);
            server
                .http_builder()
                .http1()
                .header_read_timeout(header_timeout);
            server.serve(app).await
        }
    };
    served.map_err(StartError::Serve)?;
    housekeeping.abort();
    if let Some(task) = admin_server {
        task.abort();
    }
    // Only now: a ceremony still finishing needs the database to the end.
    store.close().await;
    tracing::info!("tandem server stopped");
    Ok(())
}

/// The connection cap in effect: the configured one, lowered to leave room under the
/// open-file limit for the database, the log and the key files.
fn connection_cap(configured: u32, fd_limit: Option<u64>) -> usize {
    const RESERVED_FDS: u64 = 64;
    let configured = u64::from(configured);
    let cap = match fd_limit {
        Some(limit) if limit.saturating_sub(RESERVED_FDS) < configured => {
            let lowered = limit.saturating_sub(RESERVED_FDS).max(1);
            tracing::warn!(
                configured,
                lowered,
                "limits.max_connections lowered to fit the open-file limit"
            );
            lowered
        }
        _ => configured,
    };
    usize::try_from(cap).unwrap_or(usize::MAX)
}

/// `/livez`, `/readyz` and `/metrics` on their own plain-HTTP listener, for the balancer and
/// a scraper on a private network.
fn serve_admin(
    addr: SocketAddr,
    state: AppState,
) -> Result<tokio::task::JoinHandle<()>, StartError> {
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| StartError::Listen { addr, source })?;
    listener.set_nonblocking(true).map_err(StartError::Serve)?;
    let bound = listener.local_addr().map_err(StartError::Serve)?;
    let app = crate::http::admin_router(state);
    let server = axum_server::from_tcp(listener).map_err(StartError::Serve)?;
    println!("tandem admin on http://{bound}");
    println!("tandem metrics on http://{bound}/metrics");
    tracing::info!(%bound, "admin listener (livez, readyz, metrics)");
    Ok(tokio::spawn(async move {
        let mut server = server
            .acceptor(CappedAcceptor::new(NoDelayAcceptor::new(), 64))
            .first_request_timeout(Duration::from_secs(10));
        server
            .http_builder()
            .http1()
            .header_read_timeout(Duration::from_secs(10));
        if let Err(e) = server.serve(app.into_make_service()).await {
            tracing::error!(error = %e, "admin listener failed");
        }
    }))
}

/// Deletes login attempts and sessions that can matter no more, every ten minutes.
async fn housekeeping(state: AppState) {
    const EVERY: Duration = Duration::from_secs(600);
    const SESSION_GRACE_MS: i64 = 24 * 3_600_000;
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        match state.otp.prune().await {
            Ok(n) if n > 0 => tracing::debug!(deleted = n, "pruned login attempts"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning login attempts failed"),
        }
        match state.accounts.prune_sms().await {
            Ok(n) if n > 0 => tracing::debug!(deleted = n, "pruned SMS login attempts"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning SMS login attempts failed"),
        }
        match state.social.prune().await {
            Ok(n) if n > 0 => tracing::debug!(deleted = n, "pruned social sign-in flows"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning social sign-in flows failed"),
        }
        match state.sessions.prune(SESSION_GRACE_MS).await {
            Ok(n) if n > 0 => tracing::debug!(deleted = n, "pruned ended sessions"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning sessions failed"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
