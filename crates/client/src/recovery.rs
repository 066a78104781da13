//! The device's side of the exits (DESIGN.md §6): the recovery secret, Backup Kits, online
//! export, and signing or exporting offline with a kit and no server at all.
//!
//! The recovery secret is made here and only its public derivations go to the server. A kit
//! is checked against this device's share when it arrives, and the share of its epoch is kept
//! beside the current one for as long as it is the newest kit saved (see
//! [`ShareStore::keep_for_kit`]), so later refreshes never leave the user holding a kit that
//! pairs with nothing. An export's server share arrives sealed to a one-use key made for it.

use core::fmt;

use base64::Engine as _;
use reqwest::Method;
use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::ed25519::Ed25519;
use tandem_mpc::{ExportedShare, KeyShare, SchemeId};
use tandem_proto::prepare::prepare;
use tandem_proto::recovery::{
    BackupKitResponse, EscrowInfo, EscrowRequest, ExportRequest, ExportResponse, RecoveryCompleted,
    RecoveryKeyRequest, RecoveryProof, RecoveryRequestInfo, RecoveryStatus,
};
use tandem_proto::scheme::ChainScheme;
use tandem_proto::sign::{SignPayload, SignResult};
use tandem_proto::wallet::Chain;
use tandem_recovery::transfer::{self, Purpose, TransferKey};
pub use tandem_recovery::{BackupKit, Escrow, KitError, RecoveryKeys, RecoverySecret, SecretError};
use zeroize::Zeroizing;

use crate::api::ApiClient;
use crate::device::Device;
use crate::error::ClientError;
use crate::store::ShareStore;

impl ApiClient {
    /// `GET /v1/recovery`.
    pub async fn recovery_status(&self) -> Result<RecoveryStatus, ClientError> {
        self.call::<(), _>(Method::GET, "/v1/recovery", None).await
    }

    /// `PUT /v1/recovery` (step-up): registers the public halves of a recovery secret.
    pub async fn set_recovery(&self, keys: &RecoveryKeys) -> Result<RecoveryStatus, ClientError> {
        let body = RecoveryKeyRequest {
            public_key: hex::encode(keys.public_key()),
            verifier_hash: hex::encode(keys.verifier_hash()),
        };
        self.call(Method::PUT, "/v1/recovery", Some(&body)).await
    }

    /// `POST /v1/wallets/{id}/backup-kit` (step-up, plus TOTP when enrolled), unchecked:
    /// prefer [`Device::backup_kit`], which checks it and keeps the share it pairs with.
    pub async fn backup_kit(&self, wallet_id: &str) -> Result<BackupKitResponse, ClientError> {
        crate::wallet_id::WalletId::parse(wallet_id)?;
        self.call::<(), _>(
            Method::POST,
            &format!("/v1/wallets/{wallet_id}/backup-kit"),
            None,
        )
        .await
    }

    /// `POST /v1/wallets/{id}/export` (step-up, plus TOTP when enrolled): the server's share
    /// sealed to `public_key`. Prefer [`Device::export_key`].
    pub async fn export_share(
        &self,
        wallet_id: &str,
        public_key: [u8; 32],
    ) -> Result<ExportResponse, ClientError> {
        crate::wallet_id::WalletId::parse(wallet_id)?;
        let body = ExportRequest {
            public_key: hex::encode(public_key),
        };
        self.call(
            Method::POST,
            &format!("/v1/wallets/{wallet_id}/export"),
            Some(&body),
        )
        .await
    }
}

/// A Backup Kit this device checked and can sign with (offline, with the recovery secret).
#[derive(Debug, Clone)]
pub struct SavedKit {
    /// The wallet it belongs to.
    pub wallet_id: String,
    /// The epoch of the sealed server share (this device keeps its share of it).
    pub epoch: u64,
    /// Which recovery secret opens it (printed on the kit).
    pub recovery_key_id: String,
    /// A suggested file name.
    pub file_name: String,
    /// The file's text: save it as is.
    pub text: String,
}

/// A whole private key, on this device only.
pub enum ExportedKey {
    /// The secp256k1 scalar (32 bytes, big-endian): any EVM wallet imports it.
    Evm {
        /// The private key.
        secret: Zeroizing<[u8; 32]>,
        /// Compressed SEC1.
        public_key: Vec<u8>,
        /// EIP-55.
        address: String,
    },
    /// The Ed25519 key as `scalar || nonce prefix` (64 bytes, the expanded-key layout). A key
    /// made by distributed key generation never had an RFC 8032 seed, so wallets that import
    /// only seeds or 64-byte `seed || public key` keypairs (Phantom, Solflare, solana-keygen)
    /// cannot take it; libraries that sign with an expanded key can.
    Solana {
        /// `scalar || nonce prefix`.
        expanded: Zeroizing<[u8; 64]>,
        /// The 32-byte Ed25519 public key.
        public_key: Vec<u8>,
        /// Base58.
        address: String,
    },
}

impl ExportedKey {
    /// The chain the key is for.
    pub fn chain(&self) -> Chain {
        match self {
            ExportedKey::Evm { .. } => Chain::Evm,
            ExportedKey::Solana { .. } => Chain::Solana,
        }
    }

    /// The wallet's address, derived from the exported key's public key.
    pub fn address(&self) -> &str {
        match self {
            ExportedKey::Evm { address, .. } | ExportedKey::Solana { address, .. } => address,
        }
    }

    /// The public key the secret belongs to (checked when combined).
    pub fn public_key(&self) -> &[u8] {
        match self {
            ExportedKey::Evm { public_key, .. } | ExportedKey::Solana { public_key, .. } => {
                public_key
            }
        }
    }

    /// An EVM key as an Ethereum keystore (Web3 Secret Storage v3: scrypt n = 2^18, r = 8,
    /// p = 1; AES-128-CTR; Keccak-256 MAC) encrypted under `passphrase`, which geth, MetaMask,
    /// ethers and eth-account import. Solana keys have no such format; use the hex.
    pub fn keystore_v3(&self, passphrase: &str) -> Result<String, ClientError> {
        match self {
            ExportedKey::Evm {
                secret, address, ..
            } => crate::keystore::encrypt(secret, address, passphrase),
            ExportedKey::Solana { .. } => Err(ClientError::Local(
                "a keystore holds secp256k1 (EVM) keys; a Solana key exports as hex".into(),
            )),
        }
    }

    /// The secret as hex (`0x`-prefixed for EVM, as wallets expect).
    pub fn secret_hex(&self) -> Zeroizing<String> {
        match self {
            ExportedKey::Evm { secret, .. } => {
                Zeroizing::new(format!("0x{}", hex::encode(secret.as_slice())))
            }
            ExportedKey::Solana { expanded, .. } => {
                Zeroizing::new(hex::encode(expanded.as_slice()))
            }
        }
    }

    fn from_evm(key: tandem_mpc::SecretKey<Secp256k1>) -> Result<ExportedKey, ClientError> {
        Ok(ExportedKey::Evm {
            secret: Zeroizing::new(*key.as_bytes()),
            address: Secp256k1::address(key.public_key())?,
            public_key: key.public_key().to_vec(),
        })
    }

    fn from_solana(key: tandem_mpc::SecretKey<Ed25519>) -> Result<ExportedKey, ClientError> {
        Ok(ExportedKey::Solana {
            expanded: key.ed25519_expanded(),
            address: Ed25519::address(key.public_key())?,
            public_key: key.public_key().to_vec(),
        })
    }
}

impl fmt::Debug for ExportedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportedKey")
            .field("chain", &self.chain())
            .field("address", &self.address())
            .field("secret", &"[redacted]")
            .finish()
    }
}

fn kit_error(e: KitError) -> ClientError {
    ClientError::Local(format!("Backup Kit: {e}"))
}

impl Device {
    /// Sets up (or replaces) the account's recovery secret: registers what `secret` derives,
    /// then escrows this device's shares under it. Make the secret with
    /// [`RecoverySecret::generate`], show it, and have the user confirm it before calling this.
    pub async fn set_recovery(
        &self,
        secret: &RecoverySecret,
    ) -> Result<RecoveryStatus, ClientError> {
        let keys = secret.keys();
        self.api().set_recovery(&keys).await?;
        self.store().set_recovery_key(&keys.public_key())?;
        self.sync_escrows().await?;
        self.api().recovery_status().await
    }

    /// After a keygen or refresh: the escrow follows the new share. Never fails the ceremony
    /// (the next one, or [`Device::sync_escrows`], sends what is missing).
    pub(crate) async fn escrow_after_ceremony(&self) {
        if let Err(e) = self.sync_escrows().await {
            tracing::warn!("escrow not updated: {e}");
        }
    }

    /// Fetches the wallet's Backup Kit, checks that it is this wallet's and pairs with this
    /// device's share, and keeps that share for it. Save [`SavedKit::text`] as a file.
    pub async fn backup_kit(&self, wallet_id: &str) -> Result<SavedKit, ClientError> {
        let (epoch, public_key) = self.current_share_key(wallet_id)?;
        let response = self.api().backup_kit(wallet_id).await?;
        let kit = BackupKit::from_text(&response.kit).map_err(kit_error)?;
        if kit.wallet() != wallet_id || kit.public_key() != public_key.as_slice() {
            return Err(ClientError::Protocol(
                "the server sent a Backup Kit of another wallet or key".into(),
            ));
        }
        if kit.epoch() != epoch {
            return Err(ClientError::Local(format!(
                "the server sealed epoch {} and this device is at epoch {epoch}; sign or \
                 refresh once to settle, then take the kit again",
                kit.epoch()
            )));
        }
        self.store().keep_for_kit(wallet_id, epoch)?;
        Ok(SavedKit {
            wallet_id: wallet_id.to_owned(),
            epoch,
            recovery_key_id: kit.recovery_key_id(),
            file_name: response.file_name,
            text: response.kit,
        })
    }

    /// Exports the wallet's whole private key to this device: the server's share arrives
    /// sealed to a key made for this request, and is combined here. The server marks the
    /// wallet as exported.
    pub async fn export_key(&self, wallet_id: &str) -> Result<ExportedKey, ClientError> {
        let (epoch, _) = self.current_share_key(wallet_id)?;
        let key = TransferKey::generate().map_err(|e| ClientError::Local(e.to_string()))?;
        let response = self.api().export_share(wallet_id, key.public_key()).await?;
        if response.wallet_id != wallet_id || response.epoch != epoch {
            return Err(ClientError::Local(format!(
                "the server released epoch {} and this device is at epoch {epoch}; sign or \
                 refresh once to settle, then export again",
                response.epoch
            )));
        }
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(response.sealed_share.as_bytes())
            .map_err(|_| ClientError::Protocol("the sealed share is not base64".into()))?;
        let plain = key
            .open(
                Purpose::Export,
                &transfer::context(wallet_id, epoch),
                &sealed,
            )
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let (_, device) = self
            .store()
            .current(wallet_id)?
            .ok_or_else(|| ClientError::NoShare(wallet_id.to_owned()))?;
        combine(&device, &plain)
    }

    fn current_share_key(&self, wallet_id: &str) -> Result<(u64, Vec<u8>), ClientError> {
        let (epoch, bytes) = self
            .store()
            .current(wallet_id)?
            .ok_or_else(|| ClientError::NoShare(wallet_id.to_owned()))?;
        let public_key = match KeyShare::<Secp256k1>::from_bytes(&bytes) {
            Ok(s) => s.public_key().to_vec(),
            Err(_) => KeyShare::<Ed25519>::from_bytes(&bytes)?
                .public_key()
                .to_vec(),
        };
        Ok((epoch, public_key))
    }
}

/// Combines a device share with the server's exported share (either scheme).
fn combine(device: &[u8], server: &[u8]) -> Result<ExportedKey, ClientError> {
    if let Ok(device) = KeyShare::<Secp256k1>::from_bytes(device) {
        let server = ExportedShare::<Secp256k1>::from_bytes(server)?;
        return ExportedKey::from_evm(tandem_mpc::export(&device, server)?);
    }
    let device = KeyShare::<Ed25519>::from_bytes(device)?;
    let server = ExportedShare::<Ed25519>::from_bytes(server)?;
    ExportedKey::from_solana(tandem_mpc::export(&device, server)?)
}

impl ApiClient {
    /// `PUT /v1/wallets/{id}/escrow`.
    pub async fn put_escrow(
        &self,
        wallet_id: &str,
        sealed: &[u8],
    ) -> Result<EscrowInfo, ClientError> {
        crate::wallet_id::WalletId::parse(wallet_id)?;
        let body = EscrowRequest {
            sealed: base64::engine::general_purpose::STANDARD.encode(sealed),
        };
        self.call(
            Method::PUT,
            &format!("/v1/wallets/{wallet_id}/escrow"),
            Some(&body),
        )
        .await
    }

    /// `POST /v1/recovery/requests`: opens a recovery on this device.
    pub async fn recovery_start(
        &self,
        keys: &RecoveryKeys,
    ) -> Result<RecoveryRequestInfo, ClientError> {
        let body = RecoveryProof {
            verifier: hex::encode(keys.verifier()),
        };
        self.call(Method::POST, "/v1/recovery/requests", Some(&body))
            .await
    }

    /// `GET /v1/recovery/requests/current`.
    pub async fn recovery_request(&self) -> Result<RecoveryRequestInfo, ClientError> {
        self.call::<(), _>(Method::GET, "/v1/recovery/requests/current", None)
            .await
    }

    /// `POST /v1/recovery/requests/cancel`.
    pub async fn recovery_cancel(&self) -> Result<RecoveryRequestInfo, ClientError> {
        self.call::<(), _>(Method::POST, "/v1/recovery/requests/cancel", None)
            .await
    }

    /// `POST /v1/recovery/requests/complete`. Every session of the account ends; use the
    /// returned one. Prefer [`Device::recovery_finish`] for what comes next.
    pub async fn recovery_complete(
        &self,
        keys: &RecoveryKeys,
    ) -> Result<RecoveryCompleted, ClientError> {
        let body = RecoveryProof {
            verifier: hex::encode(keys.verifier()),
        };
        self.call(Method::POST, "/v1/recovery/requests/complete", Some(&body))
            .await
    }
}

impl Device {
    /// Makes sure the server holds an escrow of this device's current share of every wallet,
    /// sealed to the account's current recovery key: sends the ones it lacks or holds of an
    /// older epoch or key. Does nothing before recovery is set up. Returns the wallets sent.
    ///
    /// Escrows are sealed only to the recovery key set up on this device
    /// ([`ShareStore::recovery_key`]), never to one an HTTP answer names: what the server says
    /// here only decides what is sent, not to whom it is sealed.
    pub async fn sync_escrows(&self) -> Result<Vec<String>, ClientError> {
        let Some(recovery_key) = self.store().recovery_key()? else {
            return Ok(Vec::new());
        };
        let status = self.api().recovery_status().await?;
        if status.public_key.as_deref() != Some(hex::encode(recovery_key).as_str()) {
            return Err(ClientError::Local(
                "the server names another recovery key than the one set up on this device; \
                 if you replaced the recovery secret elsewhere, run `tandem recovery setup` \
                 here too"
                    .into(),
            ));
        }
        let version = status.version.unwrap_or(0);
        let mut sent = Vec::new();
        for wallet_id in self.store().wallets()? {
            let Some((epoch, bytes)) = self.store().current(&wallet_id)? else {
                continue;
            };
            let fresh = status
                .escrows
                .iter()
                .any(|e| e.wallet_id == wallet_id && e.epoch == epoch && e.key_version == version);
            if fresh {
                continue;
            }
            let sealed = match KeyShare::<Secp256k1>::from_bytes(&bytes) {
                Ok(share) => Escrow::seal(&share, &recovery_key),
                Err(_) => Escrow::seal(&KeyShare::<Ed25519>::from_bytes(&bytes)?, &recovery_key),
            }
            .map_err(kit_error)?;
            match self.api().put_escrow(&wallet_id, &sealed.to_bytes()).await {
                Ok(_) => sent.push(wallet_id),
                // The server moved on (a refresh this device has not settled): the next sync
                // after it settles sends the right one.
                Err(e) if e.code() == Some(tandem_proto::ErrorCode::InvalidField) => {
                    tracing::warn!(wallet = %wallet_id, "escrow refused: {e}");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(sent)
    }

    /// After [`ApiClient::recovery_complete`]: opens the escrows with the recovery secret,
    /// stores the shares on this device, and runs a complete refresh of each wallet, which
    /// unfreezes it and makes the lost device's share useless. `self` must use the session the
    /// completion returned.
    pub async fn recovery_finish(
        &self,
        secret: &RecoverySecret,
        escrows: &[tandem_proto::recovery::SealedEscrow],
    ) -> Result<Vec<tandem_proto::wallet::WalletInfo>, ClientError> {
        let keys = secret.keys();
        self.store().set_recovery_key(&keys.public_key())?;
        for e in escrows {
            let sealed = base64::engine::general_purpose::STANDARD
                .decode(e.sealed.as_bytes())
                .map_err(|_| ClientError::Protocol("an escrow is not base64".into()))?;
            let escrow = Escrow::from_bytes(&sealed).map_err(kit_error)?;
            if escrow.wallet() != e.wallet_id || escrow.epoch() != e.epoch {
                return Err(ClientError::Protocol(
                    "the server labelled an escrow with another wallet or epoch".into(),
                ));
            }
            let bytes = match escrow.scheme() {
                SchemeId::Secp256k1 => escrow
                    .open::<Secp256k1>(&keys)
                    .map_err(kit_error)?
                    .to_bytes()?,
                SchemeId::Ed25519 => escrow
                    .open::<Ed25519>(&keys)
                    .map_err(kit_error)?
                    .to_bytes()?,
            };
            self.store().put(
                &e.wallet_id,
                e.epoch,
                crate::store::ShareState::Current,
                &bytes,
            )?;
        }
        let mut wallets = Vec::new();
        for e in escrows {
            wallets.push(self.refresh_complete(&e.wallet_id, None).await?);
        }
        Ok(wallets)
    }
}

/// With a Backup Kit, the recovery secret and this device's share store: no server at all.
pub mod offline {
    use super::*;

    /// The device share the kit pairs with: the copy kept when the kit was saved, or a share
    /// of the kit's epoch still current or staged.
    fn paired_share(
        store: &ShareStore,
        kit: &BackupKit,
    ) -> Result<Zeroizing<Vec<u8>>, ClientError> {
        if let Some((epoch, share)) = store.kit_share(kit.wallet())?
            && epoch == kit.epoch()
        {
            return Ok(share);
        }
        match store.get(kit.wallet(), kit.epoch()) {
            Ok(share) => Ok(share),
            Err(crate::store::StoreError::NotFound) => Err(ClientError::Local(format!(
                "this device has no share of wallet {} at epoch {} to pair with this kit; use \
                 the kit saved last on this device",
                kit.wallet(),
                kit.epoch()
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Signs `payload` with the kit's server share and this device's share, both parties
    /// running here (the key is never assembled). Returns what an online signature returns.
    pub fn sign(
        store: &ShareStore,
        kit: &BackupKit,
        secret: &RecoverySecret,
        payload: &SignPayload,
    ) -> Result<SignResult, ClientError> {
        let device = paired_share(store, kit)?;
        let keys = secret.keys();
        match kit.scheme() {
            SchemeId::Secp256k1 => sign_with::<Secp256k1>(&device, kit, &keys, payload),
            SchemeId::Ed25519 => sign_with::<Ed25519>(&device, kit, &keys, payload),
        }
    }

    fn sign_with<S: ChainScheme>(
        device: &[u8],
        kit: &BackupKit,
        keys: &RecoveryKeys,
        payload: &SignPayload,
    ) -> Result<SignResult, ClientError> {
        let device = KeyShare::<S>::from_bytes(device)?;
        let server = kit.open::<S>(keys).map_err(kit_error)?;
        let prepared = prepare(payload, S::CHAIN, device.public_key())?;
        let message = S::message(prepared.signing_input())?;
        let signature = tandem_mpc::local::sign(&device, &server, message)?;
        Ok(S::finish(&prepared, &signature)?)
    }

    /// The wallet's whole private key from the kit and this device's share.
    pub fn export(
        store: &ShareStore,
        kit: &BackupKit,
        secret: &RecoverySecret,
    ) -> Result<ExportedKey, ClientError> {
        let device = paired_share(store, kit)?;
        let keys = secret.keys();
        match kit.scheme() {
            SchemeId::Secp256k1 => {
                let device = KeyShare::<Secp256k1>::from_bytes(&device)?;
                let server = kit.open::<Secp256k1>(&keys).map_err(kit_error)?;
                let server = ExportedShare::from_server_share(server)?;
                ExportedKey::from_evm(tandem_mpc::export(&device, server)?)
            }
            SchemeId::Ed25519 => {
                let device = KeyShare::<Ed25519>::from_bytes(&device)?;
                let server = kit.open::<Ed25519>(&keys).map_err(kit_error)?;
                let server = ExportedShare::from_server_share(server)?;
                ExportedKey::from_solana(tandem_mpc::export(&device, server)?)
            }
        }
    }
}
