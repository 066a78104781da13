//! A logged-in device: the API client plus the share store, with the key lifecycle rules
//! (which share to use, reconciling a refresh that was interrupted).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::ed25519::Ed25519;
use tandem_mpc::{KeyShare, RefreshMode};
use tandem_proto::scheme::ChainScheme;
use tandem_proto::sign::{SignPayload, SignResult};
use tandem_proto::wallet::{Chain, WalletInfo};

use crate::api::ApiClient;
use crate::binding;
use crate::ceremony::{self, Progress, Socket, WalletGuard};
use crate::error::ClientError;
use crate::reconcile::{self, Reconciled};
use crate::requests::{Keygen, Refresh, Signing};
use crate::store::ShareStore;

/// Sockets idle longer than this are not reused: the server ends idle sockets after
/// `limits.ceremony_idle_secs` (60 s by default).
const REUSE_WITHIN: Duration = Duration::from_secs(20);
/// Open sockets kept for reuse (one per concurrently signing task).
const POOL_SIZE: usize = 4;

/// A logged-in device: the [`ApiClient`] (token and pinned server key) plus the
/// encrypted [`ShareStore`]. Cheap to clone; clones share the store and the pool of open
/// ceremony sockets, and may sign concurrently.
///
/// Create one with [`Session::open_device`](crate::Session::open_device), or from parts
/// with [`Device::new`]. The ceremonies are builders you await: [`Device::keygen`],
/// [`Device::signing`], [`Device::refreshing`].
#[derive(Clone)]
pub struct Device {
    api: ApiClient,
    store: Arc<ShareStore>,
    /// Ceremony sockets kept open between signatures.
    sockets: Arc<Mutex<Vec<Socket>>>,
    /// Set once the server refused a pipelined `start` as a server predating it does.
    legacy_server: Arc<std::sync::atomic::AtomicBool>,
    /// When an unconfirmed keygen share may be dropped (`None`: never); see
    /// [`Device::with_keygen_grace`].
    keygen_grace: Option<Duration>,
}

impl Device {
    /// A device from an API client (with token and pinned server key) and an open store.
    pub fn new(api: ApiClient, store: ShareStore) -> Device {
        Device {
            api,
            store: Arc::new(store),
            sockets: Arc::default(),
            legacy_server: Arc::default(),
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

    /// Settles every staged or unconfirmed share left by an interrupted keygen or refresh
    /// against the server's in-channel status (call after a restart). Returns what happened
    /// per wallet that had something to settle.
    pub async fn reconcile(&self) -> Result<Vec<(String, Reconciled)>, ClientError> {
        let mut settled = Vec::new();
        for wallet_id in self.store.wallets()? {
            let r = self.reconcile_wallet(&wallet_id).await?;
            if r != Reconciled::Nothing {
                settled.push((wallet_id, r));
            }
        }
        Ok(settled)
    }

    /// The right to run ceremonies with the wallet's share (see [`WalletGuard`]).
    pub fn guard(&self, wallet_id: &str) -> Result<WalletGuard, ClientError> {
        WalletGuard::new(self.store.clone(), wallet_id)
    }

    /// An alloy signer for the EVM wallet (see [`TandemSigner::new`](crate::TandemSigner::new)).
    #[cfg(feature = "evm")]
    pub fn evm_signer(&self, wallet: &WalletInfo) -> Result<crate::TandemSigner, ClientError> {
        crate::TandemSigner::new(self.clone(), wallet)
    }

    /// A Solana signer for the Solana wallet (see
    /// [`SolanaSigner::new`](crate::SolanaSigner::new)).
    #[cfg(feature = "solana")]
    pub fn solana_signer(&self, wallet: &WalletInfo) -> Result<crate::SolanaSigner, ClientError> {
        crate::SolanaSigner::new(self.clone(), wallet)
    }

    /// The API client.
    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    /// The share store.
    pub fn store(&self) -> &ShareStore {
        &self.store
    }

    /// Creates a wallet on `chain` (a keygen ceremony); await the returned builder.
    pub fn keygen(&self, chain: Chain) -> Keygen<'_> {
        Keygen {
            device: self,
            chain,
            progress: None,
        }
    }

    /// Signs `payload` with the wallet (a sign ceremony); await the returned builder.
    pub fn signing<'a>(&'a self, wallet_id: &'a str, payload: &'a SignPayload) -> Signing<'a> {
        Signing {
            device: self,
            wallet_id,
            payload,
            progress: None,
        }
    }

    /// Refreshes the wallet's shares (fast unless [`Refresh::complete`]); await it.
    pub fn refreshing<'a>(&'a self, wallet_id: &'a str) -> Refresh<'a> {
        Refresh {
            device: self,
            wallet_id,
            complete: false,
            progress: None,
        }
    }

    /// Runs keygen; the wallet exists once this returns ([`Device::keygen`] is the
    /// builder form).
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
        self.escrow_after_ceremony().await;
        Ok(wallet)
    }

    /// The server's view of the wallet over HTTP, refused with
    /// [`ClientError::WalletMismatch`] unless its key and address are those of this device's
    /// share ([`Device::verify`]). Shares are never settled on it (see [`crate::reconcile`]).
    pub async fn wallet(&self, wallet_id: &str) -> Result<WalletInfo, ClientError> {
        let wallet = self.api.wallet(wallet_id).await?;
        self.verify(&wallet)?;
        Ok(wallet)
    }

    /// Every wallet of the account, each verified on its own: one the server misreports (or
    /// one this client cannot read, e.g. on a chain a newer server added) is an `Err`
    /// naming it, and does not hide the others.
    pub async fn wallets(
        &self,
    ) -> Result<Vec<(String, Result<WalletInfo, ClientError>)>, ClientError> {
        let wallets = self.api.wallet_entries().await?;
        Ok(wallets
            .into_iter()
            .map(|(id, w)| {
                let checked = w.and_then(|w| self.verify(&w).map(|()| w));
                (id, checked)
            })
            .collect())
    }

    /// Checks a wallet the server described against the key of this device's current share:
    /// same chain, same public key, and the address derived here from that key. Without a
    /// share of it here, only that the address is the reported key's.
    pub fn verify(&self, wallet: &WalletInfo) -> Result<(), ClientError> {
        let local = self.store.current(&wallet.id)?;
        let key = match &local {
            Some((_, bytes)) => Some(binding::share_key(bytes).ok_or_else(|| {
                ClientError::Local(format!("the stored share of {} is unreadable", wallet.id))
            })?),
            None => None,
        };
        binding::check(wallet, key.as_ref().map(|(c, k)| (*c, k.as_slice())))
    }

    /// Signs `payload` with the wallet: the device parses the payload itself and checks
    /// that the released signature is the one the ceremony produced ([`Device::signing`]
    /// is the builder form; [`TandemSigner`](crate::TandemSigner) and
    /// [`SolanaSigner`](crate::SolanaSigner) return typed results).
    pub async fn sign(
        &self,
        wallet_id: &str,
        payload: &SignPayload,
        progress: Progress<'_>,
    ) -> Result<SignResult, ClientError> {
        self.reconcile_if_unsettled(wallet_id).await?;
        let guard = self.guard(wallet_id)?;
        self.refuse_if_locked(wallet_id)?;
        let (epoch, r) = match self.any_share(wallet_id)? {
            AnyShare::Evm(share) => (
                share.epoch(),
                self.sign_with(&guard, &share, payload, progress).await,
            ),
            AnyShare::Solana(share) => (
                share.epoch(),
                self.sign_with(&guard, &share, payload, progress).await,
            ),
        };
        let result = r?;
        self.confirmed(wallet_id, epoch)?;
        Ok(result)
    }

    /// A ceremony at `epoch` succeeded: the server holds the pair, so a previous share goes.
    fn confirmed(&self, wallet_id: &str, epoch: u64) -> Result<(), ClientError> {
        match self.store.confirm(wallet_id, epoch) {
            Ok(_) | Err(crate::store::StoreError::NotFound) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Fast refresh: new shares for the same key, same OT state.
    pub async fn refresh(
        &self,
        wallet_id: &str,
        progress: Progress<'_>,
    ) -> Result<WalletInfo, ClientError> {
        self.refresh_mode(wallet_id, RefreshMode::Fast, progress)
            .await
    }

    /// Complete refresh: new shares and new OT state. The only ceremony a locked share (or a
    /// wallet the server froze) may run; a committed one unlocks the share.
    pub async fn refresh_complete(
        &self,
        wallet_id: &str,
        progress: Progress<'_>,
    ) -> Result<WalletInfo, ClientError> {
        self.refresh_mode(wallet_id, RefreshMode::Complete, progress)
            .await
    }

    async fn refresh_mode(
        &self,
        wallet_id: &str,
        mode: RefreshMode,
        progress: Progress<'_>,
    ) -> Result<WalletInfo, ClientError> {
        self.reconcile_if_unsettled(wallet_id).await?;
        let guard = self.guard(wallet_id)?;
        if mode == RefreshMode::Fast {
            self.refuse_if_locked(wallet_id)?;
        }
        let wallet = match self.any_share(wallet_id)? {
            AnyShare::Evm(share) => self.refresh_with(&guard, &share, mode, progress).await?,
            AnyShare::Solana(share) => self.refresh_with(&guard, &share, mode, progress).await?,
        };
        if mode == RefreshMode::Complete {
            self.store.unlock_wallet(wallet_id)?;
        }
        self.verify(&wallet)?;
        self.escrow_after_ceremony().await;
        Ok(wallet)
    }

    /// Whether this device has locked the wallet's share after catching the server cheating.
    pub fn is_locked(&self, wallet_id: &str) -> Result<bool, ClientError> {
        Ok(self.store.is_locked(wallet_id)?)
    }

    fn refuse_if_locked(&self, wallet_id: &str) -> Result<(), ClientError> {
        if self.store.is_locked(wallet_id)? {
            return Err(ClientError::ShareLocked(wallet_id.to_owned()));
        }
        Ok(())
    }

    /// The device's current share of a wallet; refused while the share is locked.
    pub fn share<S: ChainScheme>(&self, wallet_id: &str) -> Result<KeyShare<S>, ClientError> {
        self.refuse_if_locked(wallet_id)?;
        let (_, bytes) = self
            .store
            .current(wallet_id)?
            .ok_or_else(|| ClientError::NoShare(wallet_id.to_owned()))?;
        Ok(KeyShare::<S>::from_bytes(&bytes)?)
    }

    /// Which chain the local share serves (the share records its scheme).
    pub fn local_chain(&self, wallet_id: &str) -> Result<Chain, ClientError> {
        Ok(match self.any_share(wallet_id)? {
            AnyShare::Evm(_) => Chain::Evm,
            AnyShare::Solana(_) => Chain::Solana,
        })
    }

    /// The current share, decoded as whichever scheme it records.
    fn any_share(&self, wallet_id: &str) -> Result<AnyShare, ClientError> {
        let (_, bytes) = self
            .store
            .current(wallet_id)?
            .ok_or_else(|| ClientError::NoShare(wallet_id.to_owned()))?;
        if let Ok(share) = KeyShare::<Secp256k1>::from_bytes(&bytes) {
            Ok(AnyShare::Evm(share))
        } else if let Ok(share) = KeyShare::<Ed25519>::from_bytes(&bytes) {
            Ok(AnyShare::Solana(share))
        } else {
            Err(ClientError::Local(format!(
                "the stored share of {wallet_id} is unreadable"
            )))
        }
    }

    /// Signs on a pooled socket if one is open, else (or if the server already closed it)
    /// on a new one, which then joins the pool.
    async fn sign_with<S: ChainScheme>(
        &self,
        guard: &WalletGuard,
        share: &KeyShare<S>,
        payload: &SignPayload,
        progress: Progress<'_>,
    ) -> Result<SignResult, ClientError> {
        if let Some(mut socket) = self.pooled_socket() {
            match ceremony::sign::<S>(&mut socket, guard, share, payload, progress).await {
                Ok(result) => {
                    self.return_socket(socket);
                    return Ok(result);
                }
                Err(ClientError::StaleSocket) => {}
                Err(e) => return Err(e),
            }
        }
        let mut socket = self.fresh_socket().await?;
        let result = match ceremony::sign::<S>(&mut socket, guard, share, payload, progress).await {
            // A server from before pipelined signing refuses the `start` (nothing ran): ask
            // it the old way from now on.
            Err(ClientError::Api(e)) if socket.pipelining() && predates_pipelining(&e) => {
                self.legacy_server
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                socket = self.fresh_socket().await?;
                ceremony::sign::<S>(&mut socket, guard, share, payload, progress).await?
            }
            other => other?,
        };
        self.return_socket(socket);
        Ok(result)
    }

    async fn fresh_socket(&self) -> Result<Socket, ClientError> {
        let socket = Socket::connect(&self.api).await?;
        if self
            .legacy_server
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(socket.without_pipelining());
        }
        Ok(socket)
    }

    fn pooled_socket(&self) -> Option<Socket> {
        let mut pool = self.sockets.lock().ok()?;
        while let Some(socket) = pool.pop() {
            if socket.idle_for() < REUSE_WITHIN {
                return Some(socket);
            }
        }
        None
    }

    fn return_socket(&self, socket: Socket) {
        if let Ok(mut pool) = self.sockets.lock()
            && pool.len() < POOL_SIZE
        {
            pool.push(socket);
        }
    }

    async fn refresh_with<S: ChainScheme>(
        &self,
        guard: &WalletGuard,
        share: &KeyShare<S>,
        mode: RefreshMode,
        progress: Progress<'_>,
    ) -> Result<WalletInfo, ClientError> {
        let socket = Socket::connect(&self.api).await?;
        let (wallet, _) = ceremony::refresh::<S>(socket, guard, share, mode, progress).await?;
        Ok(wallet)
    }

    /// DESIGN.md §5: a staged or unconfirmed share is settled on the server's in-channel
    /// status before it is used (rules in [`crate::reconcile`]).
    async fn reconcile_if_unsettled(&self, wallet_id: &str) -> Result<(), ClientError> {
        self.reconcile_wallet(wallet_id).await?;
        Ok(())
    }

    async fn reconcile_wallet(&self, wallet_id: &str) -> Result<Reconciled, ClientError> {
        if !reconcile::unsettled(&self.store, wallet_id)? {
            return Ok(Reconciled::Nothing);
        }
        if let Some(mut socket) = self.pooled_socket() {
            match reconcile::reconcile(&mut socket, &self.store, wallet_id, self.keygen_grace).await
            {
                Ok(r) => {
                    self.return_socket(socket);
                    return Ok(r);
                }
                // A closed pooled socket: fall through to a new one (status changes nothing).
                Err(ClientError::Socket(_) | ClientError::Channel(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let mut socket = Socket::connect(&self.api).await?;
        let r =
            reconcile::reconcile(&mut socket, &self.store, wallet_id, self.keygen_grace).await?;
        // After a `not found` the server has closed it.
        if socket.is_used() {
            self.return_socket(socket);
        }
        Ok(r)
    }
}

enum AnyShare {
    Evm(KeyShare<Secp256k1>),
    Solana(KeyShare<Ed25519>),
}

/// How a server from before pipelined signing answers a `start` carrying its fields: its
/// strict parser fails the whole message. A current server names the field instead
/// (`invalid_request`), so this answer means an older server, before anything ran.
fn predates_pipelining(e: &tandem_proto::ApiError) -> bool {
    e.code == tandem_proto::ErrorCode::ProtocolError && e.message == "malformed control message"
}
