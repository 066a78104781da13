//! A logged-in device: the API client plus the share store, with the key lifecycle rules
//! (which share to use, reconciling a refresh that was interrupted).

use std::sync::Arc;
use std::time::Duration;

use tandem_mpc::KeyShare;
use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::ed25519::Ed25519;
use tandem_proto::scheme::ChainScheme;
use tandem_proto::sign::{SignPayload, SignResult};
use tandem_proto::wallet::{Chain, WalletInfo};

use crate::api::ApiClient;
use crate::ceremony::{self, Progress, Socket};
use crate::error::ClientError;
use crate::reconcile::{self, Reconciled};
use crate::store::ShareStore;

#[derive(Clone)]
pub struct Device {
    api: ApiClient,
    store: Arc<ShareStore>,
    /// When an unconfirmed keygen share may be dropped (`None`: never); see
    /// [`Device::with_keygen_grace`].
    keygen_grace: Option<Duration>,
}

impl Device {
    pub fn new(api: ApiClient, store: ShareStore) -> Device {
        Device {
            api,
            store: Arc::new(store),
            keygen_grace: None,
        }
    }

    /// Lets [`Device::reconcile`] delete a keygen share the server has not confirmed once it
    /// is older than `grace`. By default such a share is kept (unused, and no wallet shows
    /// for it), because the server cannot tell "never committed" from "not yours": a store
    /// shared by several accounts or servers must not drop it. `grace` must exceed the
    /// server's keygen commit window (10 minutes) unless the caller knows the ceremony is dead.
    pub fn with_keygen_grace(mut self, grace: Duration) -> Device {
        self.keygen_grace = Some(grace);
        self
    }

    /// Settles every staged share left by an interrupted keygen or refresh against the
    /// server (call after a restart). Returns what happened per wallet with a staged share.
    pub async fn reconcile(&self) -> Result<Vec<(String, Reconciled)>, ClientError> {
        let mut settled = Vec::new();
        for wallet_id in self.store.wallets()? {
            let r =
                reconcile::reconcile(&self.api, &self.store, &wallet_id, self.keygen_grace).await?;
            if r != Reconciled::Nothing {
                settled.push((wallet_id, r));
            }
        }
        Ok(settled)
    }

    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    pub fn store(&self) -> &ShareStore {
        &self.store
    }

    /// Runs keygen; the wallet exists once this returns.
    pub async fn create_wallet(
        &self,
        chain: Chain,
        progress: Progress<'_>,
    ) -> Result<WalletInfo, ClientError> {
        let socket = Socket::connect(&self.api).await?;
        let wallet = match chain {
            Chain::Evm => {
                ceremony::keygen::<Secp256k1>(socket, &self.store, progress)
                    .await?
                    .0
            }
            Chain::Solana => {
                ceremony::keygen::<Ed25519>(socket, &self.store, progress)
                    .await?
                    .0
            }
        };
        Ok(wallet)
    }

    /// The server's view of the wallet, after reconciling any interrupted refresh.
    pub async fn wallet(&self, wallet_id: &str) -> Result<WalletInfo, ClientError> {
        let wallet = self.api.wallet(wallet_id).await?;
        reconcile::settle(&self.store, &wallet)?;
        Ok(wallet)
    }

    pub async fn sign(
        &self,
        wallet_id: &str,
        payload: &SignPayload,
        progress: Progress<'_>,
    ) -> Result<SignResult, ClientError> {
        self.reconcile_if_staged(wallet_id).await?;
        match self.local_chain(wallet_id)? {
            Chain::Evm => {
                self.sign_with::<Secp256k1>(wallet_id, payload, progress)
                    .await
            }
            Chain::Solana => {
                self.sign_with::<Ed25519>(wallet_id, payload, progress)
                    .await
            }
        }
    }

    pub async fn refresh(
        &self,
        wallet_id: &str,
        progress: Progress<'_>,
    ) -> Result<WalletInfo, ClientError> {
        self.reconcile_if_staged(wallet_id).await?;
        match self.local_chain(wallet_id)? {
            Chain::Evm => self.refresh_with::<Secp256k1>(wallet_id, progress).await,
            Chain::Solana => self.refresh_with::<Ed25519>(wallet_id, progress).await,
        }
    }

    /// The device's current share of a wallet.
    pub fn share<S: ChainScheme>(&self, wallet_id: &str) -> Result<KeyShare<S>, ClientError> {
        let (_, bytes) = self
            .store
            .current(wallet_id)?
            .ok_or_else(|| ClientError::NoShare(wallet_id.to_owned()))?;
        Ok(KeyShare::<S>::from_bytes(&bytes)?)
    }

    /// Which chain the local share serves (the share records its scheme).
    pub fn local_chain(&self, wallet_id: &str) -> Result<Chain, ClientError> {
        let (_, bytes) = self
            .store
            .current(wallet_id)?
            .ok_or_else(|| ClientError::NoShare(wallet_id.to_owned()))?;
        if KeyShare::<Secp256k1>::from_bytes(&bytes).is_ok() {
            Ok(Chain::Evm)
        } else if KeyShare::<Ed25519>::from_bytes(&bytes).is_ok() {
            Ok(Chain::Solana)
        } else {
            Err(ClientError::Local(format!(
                "the stored share of {wallet_id} is unreadable"
            )))
        }
    }

    async fn sign_with<S: ChainScheme>(
        &self,
        wallet_id: &str,
        payload: &SignPayload,
        progress: Progress<'_>,
    ) -> Result<SignResult, ClientError> {
        let share = self.share::<S>(wallet_id)?;
        let socket = Socket::connect(&self.api).await?;
        ceremony::sign::<S>(socket, wallet_id, &share, payload, progress).await
    }

    async fn refresh_with<S: ChainScheme>(
        &self,
        wallet_id: &str,
        progress: Progress<'_>,
    ) -> Result<WalletInfo, ClientError> {
        let share = self.share::<S>(wallet_id)?;
        let socket = Socket::connect(&self.api).await?;
        let (wallet, _) =
            ceremony::refresh::<S>(socket, wallet_id, &share, &self.store, progress).await?;
        Ok(wallet)
    }

    /// DESIGN.md §5: a staged share whose epoch the server has committed is promoted; one the
    /// server can no longer commit is dropped (rules in [`crate::reconcile`]).
    async fn reconcile_if_staged(&self, wallet_id: &str) -> Result<(), ClientError> {
        reconcile::reconcile(&self.api, &self.store, wallet_id, self.keygen_grace).await?;
        Ok(())
    }
}
