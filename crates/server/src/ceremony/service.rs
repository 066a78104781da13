use std::time::{Duration, Instant};

use tandem_mpc::Nonce;
use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::ed25519::Ed25519;
use tandem_proto::ceremony::{ClientMessage, Operation, ServerMessage};
use tandem_proto::wallet::Chain;
use tandem_proto::{ApiError, ErrorCode};

use super::channel::Channel;
use super::driver::control;
use super::error::CeremonyError;
use super::limiter::CeremonyLimiter;
use super::{keygen, refresh, sign};
use crate::wallets::{WalletRecord, Wallets};

#[derive(Clone, Debug)]
pub struct CeremonyConfig {
    pub round_timeout: Duration,
    pub max_per_user: usize,
}

/// Runs ceremonies for authenticated users.
#[derive(Clone)]
pub struct Ceremonies {
    wallets: Wallets,
    limiter: CeremonyLimiter,
    config: CeremonyConfig,
}

impl Ceremonies {
    pub fn new(wallets: Wallets, config: CeremonyConfig) -> Self {
        Ceremonies {
            wallets,
            limiter: CeremonyLimiter::new(config.max_per_user),
            config,
        }
    }

    pub(crate) fn wallets(&self) -> &Wallets {
        &self.wallets
    }

    pub(crate) fn round_timeout(&self) -> Duration {
        self.config.round_timeout
    }

    /// Serves one socket: reads `start`, runs the ceremony, and on failure tells the device
    /// why before the socket closes.
    pub async fn serve(&self, user_id: &str, channel: &mut dyn Channel) {
        let started = Instant::now();
        let (operation, chain, result) = self.run(user_id, channel).await;
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
        metrics::histogram!(
            "tandem_ceremony_seconds",
            "operation" => operation,
            "chain" => chain
        )
        .record(started.elapsed().as_secs_f64());
        if let Err(e) = result {
            tracing::info!(operation, chain, outcome, error = %e, "ceremony failed");
            let failed = ServerMessage::Failed { error: e.to_api() };
            // The device may already be gone; nothing more to do then.
            let _ = channel.send_control(&failed).await;
        }
    }

    async fn run(
        &self,
        user_id: &str,
        channel: &mut dyn Channel,
    ) -> (&'static str, &'static str, Result<(), CeremonyError>) {
        let Some(_permit) = self.limiter.acquire(user_id) else {
            let e = ApiError::new(
                ErrorCode::TooManyCeremonies,
                "too many ceremonies running for this user",
            );
            return ("unknown", "unknown", Err(CeremonyError::Rejected(e)));
        };
        let (operation, device_nonce) = match control(channel, self.config.round_timeout).await {
            Ok(ClientMessage::Start {
                operation,
                device_nonce,
            }) => match parse_nonce(&device_nonce) {
                Ok(n) => (operation, n),
                Err(e) => return ("unknown", "unknown", Err(e)),
            },
            Ok(_) => {
                return (
                    "unknown",
                    "unknown",
                    Err(CeremonyError::Protocol("expected `start`")),
                );
            }
            Err(e) => return ("unknown", "unknown", Err(e)),
        };
        match operation {
            Operation::Keygen { chain } => {
                let r = match chain {
                    Chain::Evm => {
                        keygen::keygen::<Secp256k1>(self, user_id, channel, device_nonce).await
                    }
                    Chain::Solana => {
                        keygen::keygen::<Ed25519>(self, user_id, channel, device_nonce).await
                    }
                };
                ("keygen", chain.as_str(), r.map(|_| ()))
            }
            Operation::Sign {
                wallet_id,
                epoch,
                payload,
            } => {
                let wallet = match self.wallets.get(user_id, &wallet_id).await {
                    Ok(w) => w,
                    Err(e) => return ("sign", "unknown", Err(e.into())),
                };
                let r = match wallet.chain {
                    Chain::Evm => {
                        sign::sign::<Secp256k1>(
                            self,
                            &wallet,
                            epoch,
                            &payload,
                            channel,
                            device_nonce,
                        )
                        .await
                    }
                    Chain::Solana => {
                        sign::sign::<Ed25519>(self, &wallet, epoch, &payload, channel, device_nonce)
                            .await
                    }
                };
                self.freeze_on_cheating(&wallet, &r).await;
                ("sign", wallet.chain.as_str(), r.map(|_| ()))
            }
            Operation::Refresh { wallet_id, epoch } => {
                let wallet = match self.wallets.get(user_id, &wallet_id).await {
                    Ok(w) => w,
                    Err(e) => return ("refresh", "unknown", Err(e.into())),
                };
                let r = match wallet.chain {
                    Chain::Evm => {
                        refresh::refresh::<Secp256k1>(self, &wallet, epoch, channel, device_nonce)
                            .await
                    }
                    Chain::Solana => {
                        refresh::refresh::<Ed25519>(self, &wallet, epoch, channel, device_nonce)
                            .await
                    }
                };
                self.freeze_on_cheating(&wallet, &r).await;
                ("refresh", wallet.chain.as_str(), r.map(|_| ()))
            }
        }
    }

    /// DESIGN.md §3: a detected cheat freezes the wallet, persisted before the reply.
    async fn freeze_on_cheating<T>(&self, wallet: &WalletRecord, r: &Result<T, CeremonyError>) {
        if let Err(CeremonyError::Cheating) = r {
            if let Err(e) = self.wallets.freeze(&wallet.id).await {
                tracing::error!(error = %e, wallet = %wallet.id, "could not freeze a wallet after cheating");
            } else {
                tracing::warn!(wallet = %wallet.id, "wallet frozen after detected cheating");
            }
        }
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
