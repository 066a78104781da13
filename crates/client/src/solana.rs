//! A Tandem Solana wallet as a Solana signer: async methods returning Solana types, and
//! [`solana_signer::Signer`] so it fits `Transaction::try_sign`, `try_partial_sign` and
//! the other Solana SDK APIs that take `&dyn Signer`.
//!
//! # Runtime
//!
//! The Solana `Signer` trait is synchronous, while signing is a network ceremony. The
//! trait methods therefore block the calling thread on the Tokio runtime captured by
//! [`SolanaSigner::new`]: call them from a multi-thread runtime's worker (they use
//! `tokio::task::block_in_place`) or from a thread outside any runtime (e.g.
//! `spawn_blocking`). On a current-thread runtime they return
//! `SignerError::Custom` instead of deadlocking. Inside async code prefer the `async`
//! methods, which also keep the typed [`ClientError`].
//!
//! # What gets signed
//!
//! * [`sign_transaction`](SolanaSigner::sign_transaction): legacy or v0 transactions; the
//!   server parses and checks them (the wallet must be a required signer). Only this
//!   wallet's slot is filled, so other parties can sign before or after (partial signing).
//! * [`sign_message`](SolanaSigner::sign_message): raw bytes as wallet-standard
//!   `solana:signMessage` (Sign-In-With-Solana, wallet-adapter `signMessage`). Bytes that
//!   parse as a transaction message are refused: this is never blind signing.
//! * [`sign_offchain_message`](SolanaSigner::sign_offchain_message): the Solana off-chain
//!   message format (`solana:signOffchainMessage`).

use std::future::Future;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use solana_address::Address;
use solana_message::VersionedMessage;
use solana_signature::Signature;
use solana_signer::SignerError;
use solana_transaction::Transaction;
use solana_transaction::versioned::VersionedTransaction;
use tandem_proto::sign::{Encoding, SignPayload, SignResult};
use tandem_proto::wallet::{Chain, WalletInfo};
use tokio::runtime::{Handle, RuntimeFlavor};

use crate::device::Device;
use crate::error::ClientError;
use crate::wallet_id::WalletId;

/// A Solana wallet of a logged-in [`Device`]. Cheap to clone.
#[derive(Clone)]
pub struct SolanaSigner {
    device: Device,
    wallet_id: WalletId,
    pubkey: Address,
    runtime: Handle,
}

impl std::fmt::Debug for SolanaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SolanaSigner")
            .field("wallet_id", &self.wallet_id)
            .field("pubkey", &self.pubkey)
            .finish()
    }
}

impl SolanaSigner {
    /// The signer of `wallet`, a Solana wallet this device holds a share of (its public
    /// key is checked against the share). Call inside a Tokio runtime: the synchronous
    /// [`solana_signer::Signer`] methods run on it (see the [module docs](self)).
    pub fn new(device: Device, wallet: &WalletInfo) -> Result<SolanaSigner, ClientError> {
        if wallet.chain != Chain::Solana {
            return Err(ClientError::Invalid(
                "a Solana signer needs a Solana wallet".into(),
            ));
        }
        if device.store().current(&wallet.id)?.is_none() {
            return Err(ClientError::NoShare(wallet.id.clone()));
        }
        device.verify(wallet)?;
        let key: [u8; 32] = hex::decode(&wallet.public_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| ClientError::Protocol("the server sent an invalid public key".into()))?;
        let runtime = Handle::try_current().map_err(|_| {
            ClientError::Invalid("create the Solana signer inside a Tokio runtime".into())
        })?;
        Ok(SolanaSigner {
            device,
            wallet_id: WalletId::of(wallet)?,
            pubkey: Address::new_from_array(key),
            runtime,
        })
    }

    /// Runs the synchronous trait methods on `runtime` instead of the one current at
    /// construction.
    pub fn with_runtime(mut self, runtime: Handle) -> Self {
        self.runtime = runtime;
        self
    }

    /// The wallet this signer signs for.
    pub fn wallet_id(&self) -> &WalletId {
        &self.wallet_id
    }

    /// The wallet's address (its Ed25519 public key).
    pub fn pubkey(&self) -> Address {
        self.pubkey
    }

    /// Signs `tx` (legacy or v0 message) in this wallet's slot and returns the signature;
    /// the other slots are left as they are (partial signing). The wallet must be one of
    /// the message's required signers.
    pub async fn sign_transaction(
        &self,
        tx: &mut VersionedTransaction,
    ) -> Result<Signature, ClientError> {
        let index = self.slot(&tx.message)?;
        let required = usize::from(tx.message.header().num_required_signatures);
        if tx.signatures.len() != required {
            // An unsigned transaction built by hand may have no slots yet.
            tx.signatures.resize(required, Signature::default());
        }
        let wire = wincode::serialize(&*tx)
            .map_err(|e| ClientError::Invalid(format!("cannot serialize the transaction: {e}")))?;
        let result = self
            .run(SignPayload::SolanaTransaction {
                transaction: B64.encode(wire),
            })
            .await?;
        let signature = parse_signature(&result)?;
        let slot = tx
            .signatures
            .get_mut(index)
            .ok_or_else(|| ClientError::Invalid("signer slot out of range".into()))?;
        *slot = signature;
        Ok(signature)
    }

    /// [`sign_transaction`](Self::sign_transaction) for a legacy [`Transaction`].
    pub async fn sign_legacy_transaction(
        &self,
        tx: &mut Transaction,
    ) -> Result<Signature, ClientError> {
        let mut versioned = VersionedTransaction::from(tx.clone());
        let signature = self.sign_transaction(&mut versioned).await?;
        tx.signatures = versioned.signatures;
        Ok(signature)
    }

    /// Signs `message` byte for byte, as wallet-standard `solana:signMessage` does (what
    /// Sign-In-With-Solana and wallet-adapter verifiers check). Refused
    /// ([`ErrorCode::InvalidMessage`](tandem_proto::ErrorCode::InvalidMessage)) if the
    /// bytes parse as a transaction message or are an off-chain message.
    pub async fn sign_message(&self, message: &[u8]) -> Result<Signature, ClientError> {
        let result = self
            .run(SignPayload::SolanaRawMessage {
                message: hex::encode(message),
                encoding: Encoding::Hex,
            })
            .await?;
        parse_signature(&result)
    }

    /// Signs `message` (UTF-8 text) in the Solana off-chain message format (header
    /// version 0, this wallet as the only signer, no application domain).
    pub async fn sign_offchain_message(&self, message: &str) -> Result<Signature, ClientError> {
        let result = self
            .run(SignPayload::SolanaMessage {
                message: message.to_owned(),
                encoding: Encoding::Utf8,
            })
            .await?;
        parse_signature(&result)
    }

    /// What [`solana_signer::Signer::try_sign_message`] signs: a serialized transaction
    /// message as a transaction, anything else as a raw message (refused if it could be
    /// a transaction).
    async fn sign_bytes(&self, message: &[u8]) -> Result<Signature, ClientError> {
        match wincode::deserialize_exact::<VersionedMessage>(message) {
            Ok(parsed) if parsed.serialize() == message => {
                let mut tx = VersionedTransaction::new_unsigned(parsed);
                self.sign_transaction(&mut tx).await
            }
            _ => self.sign_message(message).await,
        }
    }

    fn slot(&self, message: &VersionedMessage) -> Result<usize, ClientError> {
        let required = usize::from(message.header().num_required_signatures);
        message
            .static_account_keys()
            .iter()
            .take(required)
            .position(|k| *k == self.pubkey)
            .ok_or_else(|| {
                ClientError::Invalid(format!(
                    "{} is not a required signer of this transaction",
                    self.pubkey
                ))
            })
    }

    async fn run(&self, payload: SignPayload) -> Result<SignResult, ClientError> {
        self.device.sign(&self.wallet_id, &payload, None).await
    }

    fn block_on<F: Future>(&self, work: F) -> Result<F::Output, SignerError> {
        let not_here = || {
            SignerError::Custom(
                "the synchronous Solana Signer needs a multi-thread Tokio runtime; use the async SolanaSigner methods"
                    .into(),
            )
        };
        match Handle::try_current() {
            Ok(current) if current.runtime_flavor() == RuntimeFlavor::MultiThread => {
                Ok(tokio::task::block_in_place(|| current.block_on(work)))
            }
            Ok(_) => Err(not_here()),
            Err(_) if self.runtime.runtime_flavor() == RuntimeFlavor::MultiThread => {
                Ok(self.runtime.block_on(work))
            }
            Err(_) => Err(not_here()),
        }
    }
}

fn parse_signature(result: &SignResult) -> Result<Signature, ClientError> {
    let bytes: [u8; 64] = bs58::decode(&result.signature)
        .into_vec()
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            ClientError::Protocol("the server sent an invalid Ed25519 signature".into())
        })?;
    Ok(Signature::from(bytes))
}

/// Errors cross the synchronous trait as text (`SignerError` has no room for a source):
/// use the async methods to keep the typed [`ClientError`].
fn to_signer_error(e: ClientError) -> SignerError {
    match e {
        ClientError::Invalid(why) => SignerError::InvalidInput(why),
        ClientError::Http(_) | ClientError::Socket(_) | ClientError::Timeout { .. } => {
            SignerError::Connection(e.to_string())
        }
        ClientError::Api(_) => SignerError::Custom(e.to_string()),
        other => SignerError::Protocol(other.to_string()),
    }
}

impl solana_signer::Signer for SolanaSigner {
    fn try_pubkey(&self) -> Result<Address, SignerError> {
        Ok(self.pubkey)
    }

    /// Blocks on the runtime (see the [module docs](self)).
    fn try_sign_message(&self, message: &[u8]) -> Result<Signature, SignerError> {
        self.block_on(self.sign_bytes(message))?
            .map_err(to_signer_error)
    }

    fn is_interactive(&self) -> bool {
        false
    }
}
