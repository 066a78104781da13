//! A Tandem EVM wallet as an alloy signer: [`Signer`] (messages, typed data),
//! [`TxSigner`] (transactions), and through that an [`EthereumWallet`] for
//! `ProviderBuilder::new().wallet(..)`, the way `alloy-signer-ledger` and
//! `alloy-signer-aws` plug in.
//!
//! Every signature is a joint ceremony with the server over the parsed payload, so
//! [`Signer::sign_hash`] (a bare digest) is deliberately unsupported
//! ([`UnsupportedSignerOperation::SignHash`]); messages, typed data and transactions are
//! signed as what they are. Errors come back as `alloy_signer::Error::Other` wrapping a
//! [`ClientError`]: see [`ClientError::from_alloy`].
//!
//! ```no_run
//! # async fn demo(device: tandem_client::Device, wallet: tandem_proto::wallet::WalletInfo)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use alloy_network::EthereumWallet;
//! use tandem_client::TandemSigner;
//!
//! let signer = TandemSigner::new(device, &wallet)?.with_chain_id(Some(1));
//! let wallet = EthereumWallet::from(signer);
//! // ProviderBuilder::new().wallet(wallet).connect_http(url)
//! # let _ = wallet; Ok(()) }
//! ```

use alloy_consensus::{SignableTransaction, TxEnvelope, TypedTransaction};
use alloy_dyn_abi::{DynSolValue, Resolver, TypedData};
pub use alloy_network::EthereumWallet;
use alloy_network::TxSigner;
use alloy_primitives::{Address, B256, ChainId, Signature};
use alloy_signer::{
    Error as SignerError, Result as SignerResult, Signer, UnsupportedSignerOperation,
};
use alloy_sol_types::{Eip712Domain, SolStruct, SolType};
use async_trait::async_trait;
use tandem_proto::sign::{Encoding, SignPayload, SignResult};
use tandem_proto::wallet::{Chain, WalletInfo};

use crate::device::Device;
use crate::error::ClientError;
use crate::wallet_id::WalletId;

/// An EVM wallet of a logged-in [`Device`], usable wherever alloy takes a signer.
#[derive(Clone)]
pub struct TandemSigner {
    device: Device,
    wallet_id: WalletId,
    address: Address,
    chain_id: Option<ChainId>,
}

impl std::fmt::Debug for TandemSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TandemSigner")
            .field("wallet_id", &self.wallet_id)
            .field("address", &self.address)
            .finish()
    }
}

impl TandemSigner {
    /// The signer of `wallet`, which must be an EVM wallet this device holds a share of.
    /// Its address is the one derived from this device's share: a signer whose
    /// `address()` were someone else's would send funds there.
    pub fn new(device: Device, wallet: &WalletInfo) -> Result<TandemSigner, ClientError> {
        if wallet.chain != Chain::Evm {
            return Err(ClientError::Invalid(
                "an alloy signer needs an EVM wallet".into(),
            ));
        }
        if device.store().current(&wallet.id)?.is_none() {
            return Err(ClientError::NoShare(wallet.id.clone()));
        }
        device.verify(wallet)?;
        let address = wallet
            .address
            .parse::<Address>()
            .map_err(|_| ClientError::Protocol("the server sent an invalid address".into()))?;
        Ok(TandemSigner {
            device,
            wallet_id: WalletId::of(wallet)?,
            address,
            chain_id: None,
        })
    }

    /// Sets the EIP-155 chain id applied to transactions (builder form of
    /// [`Signer::set_chain_id`]).
    pub fn with_chain_id(mut self, chain_id: Option<ChainId>) -> Self {
        self.chain_id = chain_id;
        self
    }

    /// The wallet this signer signs for.
    pub fn wallet_id(&self) -> &WalletId {
        &self.wallet_id
    }

    /// The wallet's address (also [`Signer::address`]).
    pub fn address(&self) -> Address {
        self.address
    }

    /// Signs an unsigned transaction (legacy with EIP-155, EIP-2930 or EIP-1559), as
    /// alloy's [`TxSigner`] does; the signer's chain id, if set, is applied first.
    pub async fn sign_transaction(
        &self,
        tx: &mut dyn SignableTransaction<Signature>,
    ) -> SignerResult<Signature> {
        self.sign_tx(tx).await.map_err(SignerError::other)
    }

    /// Signs `tx` and returns the signed transaction, ready for
    /// `eth_sendRawTransaction` (`alloy_eips::eip2718::Encodable2718`).
    pub async fn sign_envelope(&self, tx: TypedTransaction) -> Result<TxEnvelope, ClientError> {
        let mut tx = tx;
        let signature = match &mut tx {
            TypedTransaction::Legacy(t) => self.sign_tx(t).await?,
            TypedTransaction::Eip2930(t) => self.sign_tx(t).await?,
            TypedTransaction::Eip1559(t) => self.sign_tx(t).await?,
            _ => {
                return Err(ClientError::Invalid(
                    "Tandem signs legacy, EIP-2930 and EIP-1559 transactions".into(),
                ));
            }
        };
        Ok(tx.into_envelope(signature))
    }

    /// Signs an EIP-712 struct from alloy's `sol!` macro, without needing `serde` on it:
    /// the struct is ABI-encoded, decoded through its EIP-712 type description, and sent
    /// as `eth_signTypedData_v4` JSON, which the server parses and hashes itself.
    pub async fn sign_sol_struct<T: SolStruct + Sync>(
        &self,
        value: &T,
        domain: &Eip712Domain,
    ) -> Result<Signature, ClientError> {
        let typed = typed_data(value, domain)?;
        self.sign_typed(&typed).await
    }

    async fn sign_typed(&self, typed: &TypedData) -> Result<Signature, ClientError> {
        let json = serde_json::to_value(typed)
            .map_err(|e| ClientError::Invalid(format!("typed data: {e}")))?;
        self.run(SignPayload::EvmTypedData { typed_data: json })
            .await
    }

    async fn sign_tx(
        &self,
        tx: &mut dyn SignableTransaction<Signature>,
    ) -> Result<Signature, ClientError> {
        if let Some(chain_id) = self.chain_id
            && !tx.set_chain_id_checked(chain_id)
        {
            return Err(ClientError::Invalid(format!(
                "the transaction is for chain {}, the signer for chain {chain_id}",
                tx.chain_id().unwrap_or_default()
            )));
        }
        let encoded = tx.encoded_for_signing();
        self.run(SignPayload::EvmTransaction {
            transaction: format!("0x{}", hex::encode(encoded)),
        })
        .await
    }

    async fn run(&self, payload: SignPayload) -> Result<Signature, ClientError> {
        let result = self.device.sign(&self.wallet_id, &payload, None).await?;
        parse_signature(&result)
    }
}

fn parse_signature(result: &SignResult) -> Result<Signature, ClientError> {
    let bad = || ClientError::Protocol("the server sent an invalid ECDSA signature".into());
    let bytes = hex::decode(result.signature.trim_start_matches("0x")).map_err(|_| bad())?;
    Signature::try_from(bytes.as_slice()).map_err(|_| bad())
}

/// The `eth_signTypedData_v4` form of a `sol!` struct (see
/// [`TandemSigner::sign_sol_struct`]).
pub fn typed_data<T: SolStruct>(
    value: &T,
    domain: &Eip712Domain,
) -> Result<TypedData, ClientError> {
    let invalid = |e: alloy_dyn_abi::Error| ClientError::Invalid(format!("EIP-712 struct: {e}"));
    let mut resolver = Resolver::from_struct::<T>();
    resolver
        .ingest_string(domain.encode_type())
        .map_err(invalid)?;
    let ty = resolver.resolve(T::NAME).map_err(invalid)?;
    let decoded = ty.abi_decode(&abi_encode::<T>(value)).map_err(invalid)?;
    Ok(TypedData {
        domain: domain.clone(),
        resolver,
        primary_type: T::NAME.to_owned(),
        message: to_json(&decoded)?,
    })
}

/// `S::abi_encode` needs `S::RustType: SolTypeValue<S>`, which the trait declares but a
/// `T: SolStruct` bound alone does not expose; through the projection it holds.
fn abi_encode<S: SolType>(value: &S::RustType) -> Vec<u8> {
    S::abi_encode(value)
}

/// JSON as wallets send it: integers as decimal strings (any width), bytes as `0x` hex,
/// addresses checksummed, structs as objects.
fn to_json(value: &DynSolValue) -> Result<serde_json::Value, ClientError> {
    use serde_json::Value;
    let hex = |b: &[u8]| Value::String(format!("0x{}", hex::encode(b)));
    Ok(match value {
        DynSolValue::Bool(b) => Value::Bool(*b),
        DynSolValue::Int(i, _) => Value::String(i.to_string()),
        DynSolValue::Uint(u, _) => Value::String(u.to_string()),
        DynSolValue::FixedBytes(word, size) => hex(&word[..*size]),
        DynSolValue::Address(a) => Value::String(a.to_checksum(None)),
        DynSolValue::Bytes(b) => hex(b),
        DynSolValue::String(s) => Value::String(s.clone()),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) => {
            Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        DynSolValue::CustomStruct {
            prop_names, tuple, ..
        } => Value::Object(
            prop_names
                .iter()
                .zip(tuple)
                .map(|(name, v)| Ok((name.clone(), to_json(v)?)))
                .collect::<Result<_, ClientError>>()?,
        ),
        other => {
            return Err(ClientError::Invalid(format!(
                "EIP-712 has no JSON form for {:?}",
                other.as_type()
            )));
        }
    })
}

#[async_trait]
impl Signer for TandemSigner {
    /// Always [`UnsupportedSignerOperation::SignHash`]: Tandem signs payloads it parses.
    async fn sign_hash(&self, _hash: &B256) -> SignerResult<Signature> {
        Err(SignerError::UnsupportedOperation(
            UnsupportedSignerOperation::SignHash,
        ))
    }

    async fn sign_message(&self, message: &[u8]) -> SignerResult<Signature> {
        self.run(SignPayload::EvmMessage {
            message: hex::encode(message),
            encoding: Encoding::Hex,
        })
        .await
        .map_err(SignerError::other)
    }

    /// Signs a `sol!` struct through [`TandemSigner::sign_sol_struct`] (no `serde` needed).
    async fn sign_typed_data<T: SolStruct + Send + Sync>(
        &self,
        payload: &T,
        domain: &Eip712Domain,
    ) -> SignerResult<Signature>
    where
        Self: Sized,
    {
        self.sign_sol_struct(payload, domain)
            .await
            .map_err(SignerError::other)
    }

    async fn sign_dynamic_typed_data(&self, payload: &TypedData) -> SignerResult<Signature> {
        self.sign_typed(payload).await.map_err(SignerError::other)
    }

    fn address(&self) -> Address {
        self.address
    }

    fn chain_id(&self) -> Option<ChainId> {
        self.chain_id
    }

    fn set_chain_id(&mut self, chain_id: Option<ChainId>) {
        self.chain_id = chain_id;
    }
}

#[async_trait]
impl TxSigner<Signature> for TandemSigner {
    fn address(&self) -> Address {
        self.address
    }

    async fn sign_transaction(
        &self,
        tx: &mut dyn SignableTransaction<Signature>,
    ) -> SignerResult<Signature> {
        TandemSigner::sign_transaction(self, tx).await
    }
}
