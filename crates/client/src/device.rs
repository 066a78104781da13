//! A logged-in device: the API client plus the share store, with the key lifecycle rules
//! (which share to use, reconciling a refresh that was interrupted).

use std::sync::Arc;

use tandem_mpc::KeyShare;
use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::ed25519::Ed25519;
use tandem_proto::scheme::ChainScheme;
use tandem_proto::sign::{SignPayload, SignResult};
use tandem_proto::wallet::{Chain, WalletInfo};

use crate::api::ApiClient;
use crate::ceremony::{self, Progress, Socket};
use crate::error::ClientError;
use crate::store::ShareStore;

#[derive(Clone)]
pub struct Device {
    api: ApiClient,
    store: Arc<ShareStore>,
}

impl Device {
    pub fn new(api: ApiClient, store: ShareStore) -> Device {
        Device {
            api,
            store: Arc::new(store),
        }
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
        self.reconcile(&wallet)?;
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

    async fn reconcile_if_staged(&self, wallet_id: &str) -> Result<(), ClientError> {
        if self.store.staged(wallet_id)?.is_some() {
            let wallet = self.api.wallet(wallet_id).await?;
            self.reconcile(&wallet)?;
        }
        Ok(())
    }

    /// DESIGN.md §5: a staged share whose epoch the server has committed is promoted; one the
    /// server never committed is dropped. Either way one usable pair remains.
    fn reconcile(&self, wallet: &WalletInfo) -> Result<(), ClientError> {
        if let Some((staged, _)) = self.store.staged(&wallet.id)? {
            if staged == wallet.epoch {
                self.store.promote(&wallet.id, staged)?;
            } else if staged > wallet.epoch {
                self.store.discard_staged(&wallet.id, staged)?;
            }
        }
        Ok(())
    }
}
