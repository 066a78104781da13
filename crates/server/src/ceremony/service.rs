use std::time::{Duration, Instant};

use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::ed25519::Ed25519;
use tandem_mpc::{Nonce, RefreshMode};
use tandem_proto::ceremony::{ClientMessage, Operation, RefreshKind, ServerMessage};
use tandem_proto::wallet::{Chain, WalletStatus};
use tandem_proto::{ApiError, ErrorCode};

use super::channel::{Channel, ChannelError};
use super::driver::control;
use super::error::CeremonyError;
use super::freeze::{FreezeSignals, Watched};
use super::limiter::CeremonyLimiter;
use super::{keygen, refresh, sign};
use crate::wallets::{Access, WalletError, WalletRecord, Wallets};

#[derive(Clone, Debug)]
pub struct CeremonyConfig {
    pub round_timeout: Duration,
    /// How long an open socket may wait for its next ceremony.
    pub idle_timeout: Duration,
    pub max_per_user: usize,
}

/// Who opened the socket: the user, when their session began, and a re-check of that
/// session (it may have been revoked or have expired since the upgrade).
#[async_trait::async_trait]
pub trait Caller: Send + Sync {
    fn user_id(&self) -> &str;
    /// When the session was created (Unix ms).
    fn session_created_at(&self) -> i64;
    /// The session is still live: checked before every ceremony, the first included.
    async fn check(&self) -> Result<(), ApiError>;
    /// Resolves when the session may have ended (logout, revocation, expiry), so that a
    /// socket waiting for its next ceremony is closed rather than kept.
    async fn ended(&self) {
        std::future::pending::<()>().await
    }
}

/// Runs ceremonies for authenticated users.
#[derive(Clone)]
pub struct Ceremonies {
    wallets: Wallets,
    limiter: CeremonyLimiter,
    freezes: FreezeSignals,
    config: CeremonyConfig,
}

impl Ceremonies {
    pub fn new(wallets: Wallets, config: CeremonyConfig) -> Self {
        Ceremonies {
            wallets,
            limiter: CeremonyLimiter::new(config.max_per_user),
            freezes: FreezeSignals::default(),
            config,
        }
    }

    pub(crate) fn wallets(&self) -> &Wallets {
        &self.wallets
    }

    pub(crate) fn round_timeout(&self) -> Duration {
        self.config.round_timeout
    }

    /// Serves one socket: ceremonies one after the other, each opened by a `start`. The
    /// socket stays open between ceremonies (a device signing repeatedly skips the TCP,
    /// upgrade and channel handshakes) until the device closes it, it idles past the idle
    /// timeout, a ceremony fails, or its session ends. The session is checked again before
    /// every ceremony, the first included: the upgrade may be long past, and a revoked or
    /// expired session must not run anything on a socket it opened while live.
    pub async fn serve(&self, channel: &mut dyn Channel, caller: &dyn Caller) {
        let mut first = true;
        // The nonce issued for the next ceremony on this socket (pipelined signing); every
        // `start` takes it, used or not, so none is ever used twice.
        let mut pending: Option<Nonce> = None;
        loop {
            let wait = if first {
                self.config.round_timeout
            } else {
                self.config.idle_timeout
            };
            let next = tokio::select! {
                r = control(channel, wait) => Some(r),
                () = caller.ended() => None,
            };
            let Some(next) = next else {
                let error = match caller.check().await {
                    Err(e) => e,
                    Ok(()) => ApiError::new(ErrorCode::SessionRevoked, "the session has ended"),
                };
                tracing::debug!(code = ?error.code, "closing a ceremony socket: session ended");
                let _ = channel.send_control(&ServerMessage::Failed { error }).await;
                return;
            };
            let start = match next {
                Ok(ClientMessage::Start {
                    operation,
                    device_nonce,
                    server_nonce,
                    pipeline,
                }) => {
                    let issued = pending.take();
                    Nonces::for_start(&device_nonce, server_nonce.as_deref(), issued, pipeline)
                        .map(|n| (operation, n))
                }
                Ok(_) => Err(CeremonyError::Protocol("expected `start`")),
                // Between ceremonies, silence or a close is the normal end of the socket.
                Err(
                    CeremonyError::Timeout
                    | CeremonyError::Channel(ChannelError::Closed | ChannelError::Transport(_)),
                ) if !first => {
                    return;
                }
                Err(e) => Err(e),
            };
            let start = match start {
                Ok(s) => match caller.check().await {
                    Ok(()) => Ok(s),
                    Err(e) => Err(CeremonyError::Rejected(e)),
                },
                other => other,
            };
            let next = start.as_ref().ok().and_then(|(_, n)| n.next);
            if !self.serve_one(caller, channel, start).await {
                return;
            }
            pending = next;
            first = false;
        }
    }

    /// Runs one ceremony and records it; on failure tells the device why. Returns whether the
    /// socket may carry another ceremony.
    async fn serve_one(
        &self,
        caller: &dyn Caller,
        channel: &mut dyn Channel,
        start: Result<(Operation, Nonces), CeremonyError>,
    ) -> bool {
        let started = Instant::now();
        let mut wallet_id = match &start {
            Ok((
                Operation::Sign { wallet_id, .. }
                | Operation::Refresh { wallet_id, .. }
                | Operation::Status { wallet_id },
                _,
            )) => wallet_id.clone(),
            _ => String::new(),
        };
        let (operation, chain, result) = match start {
            Ok((operation, nonces)) => {
                self.run(caller, channel, operation, &nonces, &mut wallet_id)
                    .await
            }
            Err(e) => ("unknown", "unknown", Err(e)),
        };
        let outcome = match &result {
            Ok(()) => "ok",
            Err(e) => e.outcome(),
        };
        metrics::counter!(
            "tandem_ceremonies_total",
            "operation" => operation,
            "chain" => chain,
            "outcome" => outcome
        )
        .increment(1);
        let elapsed = started.elapsed();
        metrics::histogram!(
            crate::telemetry::CEREMONY_SECONDS,
            "operation" => operation,
            "chain" => chain,
            "outcome" => outcome
        )
        .record(elapsed.as_secs_f64());
        // One line per ceremony; the ids are opaque, nothing secret is in scope here.
        tracing::info!(
            target: "tandem::ceremony",
            ceremony_id = %ceremony_id(),
            operation,
            chain,
            wallet_id = %wallet_id,
            user_id = caller.user_id(),
            outcome,
            duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            "ceremony"
        );
        match result {
            Ok(()) => true,
            Err(e) => {
                tracing::info!(operation, chain, outcome, error = %e, "ceremony failed");
                let failed = ServerMessage::Failed { error: e.to_api() };
                // The device may already be gone; nothing more to do then.
                let _ = channel.send_control(&failed).await;
                false
            }
        }
    }

    async fn run(
        &self,
        caller: &dyn Caller,
        channel: &mut dyn Channel,
        operation: Operation,
        nonces: &Nonces,
        wallet_out: &mut String,
    ) -> (&'static str, &'static str, Result<(), CeremonyError>) {
        let user_id = caller.user_id();
        let Some(_permit) = self.limiter.acquire(user_id) else {
            let e = ApiError::new(
                ErrorCode::TooManyCeremonies,
                "too many ceremonies running for this user",
            );
            return ("unknown", "unknown", Err(CeremonyError::Rejected(e)));
        };
        match operation {
            Operation::Status { wallet_id } => {
                let r = self.status(user_id, &wallet_id, channel, nonces).await;
                ("status", "unknown", r)
            }
            Operation::Keygen { chain } => {
                let r = match chain {
                    Chain::Evm => keygen::keygen::<Secp256k1>(self, user_id, channel, nonces).await,
                    Chain::Solana => {
                        keygen::keygen::<Ed25519>(self, user_id, channel, nonces).await
                    }
                };
                if let Ok(wallet) = &r {
                    wallet_out.clone_from(&wallet.id);
                }
                ("keygen", chain.as_str(), r.map(|_| ()))
            }
            Operation::Sign {
                wallet_id,
                epoch,
                payload,
                signing_input,
            } => {
                let (wallet, current) =
                    match self.wallets.get_for_ceremony(user_id, &wallet_id).await {
                        Ok(w) => w,
                        Err(e) => return ("sign", "unknown", Err(e.into())),
                    };
                let mut channel = Watched {
                    inner: channel,
                    watch: self.freezes.watch(&wallet.id),
                };
                let channel = &mut channel;
                let r = match wallet.chain {
                    Chain::Evm => {
                        sign::sign::<Secp256k1>(
                            self,
                            &wallet,
                            current,
                            epoch,
                            (&payload, signing_input.as_deref()),
                            channel,
                            nonces,
                        )
                        .await
                    }
                    Chain::Solana => {
                        sign::sign::<Ed25519>(
                            self,
                            &wallet,
                            current,
                            epoch,
                            (&payload, signing_input.as_deref()),
                            channel,
                            nonces,
                        )
                        .await
                    }
                };
                self.freeze_on_cheating(&wallet, &r).await;
                ("sign", wallet.chain.as_str(), r.map(|_| ()))
            }
            Operation::Refresh {
                wallet_id,
                epoch,
                mode,
            } => {
                let (wallet, current) =
                    match self.wallets.get_for_ceremony(user_id, &wallet_id).await {
                        Ok(w) => w,
                        Err(e) => return ("refresh", "unknown", Err(e.into())),
                    };
                let access = match unfreeze_access(&wallet, mode, caller.session_created_at()) {
                    Ok(a) => a,
                    Err(e) => return ("refresh", wallet.chain.as_str(), Err(e)),
                };
                let mode = match mode {
                    RefreshKind::Fast => RefreshMode::Fast,
                    RefreshKind::Complete => RefreshMode::Complete,
                };
                let mut channel = Watched {
                    inner: channel,
                    watch: self.freezes.watch(&wallet.id),
                };
                let channel = &mut channel;
                let r = match wallet.chain {
                    Chain::Evm => {
                        let how = (mode, access);
                        refresh::refresh::<Secp256k1>(
                            self, &wallet, current, epoch, how, channel, nonces,
                        )
                        .await
                    }
                    Chain::Solana => {
                        let how = (mode, access);
                        refresh::refresh::<Ed25519>(
                            self, &wallet, current, epoch, how, channel, nonces,
                        )
                        .await
                    }
                };
                self.freeze_on_cheating(&wallet, &r).await;
                ("refresh", wallet.chain.as_str(), r.map(|_| ()))
            }
        }
    }

    /// The wallet as the database holds it now, for the device to settle its staged share on
    /// (docs/crash-safety.md): inside the channel, so no proxy can forge it.
    async fn status(
        &self,
        user_id: &str,
        wallet_id: &str,
        channel: &mut dyn Channel,
        nonces: &Nonces,
    ) -> Result<(), CeremonyError> {
        if crate::failpoints::lie("server.lie.status_not_found") {
            return Err(WalletError::NotFound.into());
        }
        let mut wallet = self.wallets.get(user_id, wallet_id).await?.info();
        if crate::failpoints::lie("server.lie.status_epoch") {
            wallet.epoch += 1;
        }
        channel
            .send_control(&ServerMessage::Status {
                wallet,
                next_nonce: nonces.next_hex(),
            })
            .await?;
        Ok(())
    }

    /// DESIGN.md §3: a detected cheat freezes the wallet, persisted before the reply, and
    /// aborts every other ceremony on it.
    async fn freeze_on_cheating<T>(&self, wallet: &WalletRecord, r: &Result<T, CeremonyError>) {
        if let Err(CeremonyError::Cheating) = r {
            if let Err(e) = self.wallets.freeze(&wallet.id).await {
                tracing::error!(error = %e, wallet = %wallet.id, "could not freeze a wallet after cheating");
            } else {
                tracing::warn!(wallet = %wallet.id, "wallet frozen after detected cheating");
            }
            self.freezes.freeze(&wallet.id);
        }
    }
}

/// A frozen wallet runs only the complete refresh of a session opened after the freeze
/// (DESIGN.md §3); everything else on it gets the same `wallet_frozen`.
fn unfreeze_access(
    wallet: &WalletRecord,
    mode: RefreshKind,
    session_created_at: i64,
) -> Result<Access, CeremonyError> {
    if wallet.status == WalletStatus::Active {
        return Ok(Access::Active);
    }
    if mode != RefreshKind::Complete {
        return Err(WalletError::Frozen.into());
    }
    match wallet.frozen_at {
        Some(frozen_at) if session_created_at > frozen_at => Ok(Access::Unfreeze),
        _ => Err(CeremonyError::Rejected(ApiError::new(
            ErrorCode::WalletFrozen,
            "wallet is frozen: log in again, then run a complete refresh",
        ))),
    }
}

/// The nonces a ceremony starts with (docs/server.md, "Pipelined signing").
pub(crate) struct Nonces {
    pub(crate) device: Nonce,
    /// The server nonce this socket issued ahead of time and the device's `start` named.
    pub(crate) issued: Option<Nonce>,
    /// The nonce to issue for the next ceremony, when the device asked for one.
    pub(crate) next: Option<Nonce>,
}

impl Nonces {
    fn for_start(
        device: &str,
        named: Option<&str>,
        issued: Option<Nonce>,
        pipeline: bool,
    ) -> Result<Nonces, CeremonyError> {
        let device = parse_nonce(device)?;
        let issued = match named {
            None => None,
            // Only the nonce this socket issued, once: anything else could replay a session.
            Some(named) => match issued {
                Some(n) if hex::decode(named).is_ok_and(|b| b.as_slice() == n.0.as_slice()) => {
                    Some(n)
                }
                _ => {
                    return Err(CeremonyError::Protocol(
                        "`start` names a server nonce this socket did not issue or already used",
                    ));
                }
            },
        };
        let next = match pipeline {
            true => Some(Nonce::generate().map_err(super::accept::mpc)?),
            false => None,
        };
        Ok(Nonces {
            device,
            issued,
            next,
        })
    }

    pub(crate) fn next_hex(&self) -> Option<String> {
        self.next.map(|n| hex::encode(n.0))
    }
}

pub(crate) fn parse_nonce(hex_nonce: &str) -> Result<Nonce, CeremonyError> {
    let bad = || {
        CeremonyError::Rejected(
            ApiError::new(ErrorCode::InvalidField, "expected 32 bytes of hex")
                .with_field("device_nonce"),
        )
    };
    let bytes = hex::decode(hex_nonce).map_err(|_| bad())?;
    let arr: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
    if arr == [0u8; 32] {
        return Err(bad());
    }
    Ok(Nonce(arr))
}

/// A random id naming one ceremony in the log (not a secret).
fn ceremony_id() -> String {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}
