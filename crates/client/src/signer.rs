//! A Tandem wallet as an alloy [`Signer`]. Every signature is a joint ceremony with the
//! server over the parsed payload, so `sign_hash` (a bare digest) is deliberately
//! unsupported; messages, typed data and transactions are signed as what they are.

use alloy_consensus::SignableTransaction;
use alloy_dyn_abi::TypedData;
use alloy_primitives::{Address, B256, ChainId, Signature};
use alloy_signer::{
    Error as SignerError, Result as SignerResult, Signer, UnsupportedSignerOperation,
};
use alloy_sol_types::{Eip712Domain, SolStruct};
use async_trait::async_trait;
use tandem_proto::sign::{Encoding, SignPayload, SignResult};
use tandem_proto::wallet::{Chain, WalletInfo};

use crate::device::Device;
use crate::error::ClientError;

/// An EVM wallet of a logged-in [`Device`].
#[derive(Clone)]
pub struct TandemSigner {
    device: Device,
    wallet_id: String,
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
    pub fn new(device: Device, wallet: &WalletInfo) -> Result<TandemSigner, ClientError> {
        if wallet.chain != Chain::Evm {
            return Err(ClientError::Local(
                "an alloy signer needs an EVM wallet".into(),
            ));
        }
        // The address must be the one of the key this device holds a share of: a signer
        // whose `address()` is someone else's would send funds there.
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
            wallet_id: wallet.id.clone(),
            address,
            chain_id: None,
        })
    }

    /// Signs an unsigned transaction (legacy with EIP-155, EIP-2930 or EIP-1559), the way
    /// alloy's `TxSigner` does.
    pub async fn sign_transaction(
        &self,
        tx: &mut dyn SignableTransaction<Signature>,
    ) -> SignerResult<Signature> {
        if let Some(chain_id) = self.chain_id
            && !tx.set_chain_id_checked(chain_id)
        {
            return Err(SignerError::TransactionChainIdMismatch {
                signer: chain_id,
                tx: tx.chain_id().unwrap_or_default(),
            });
        }
        let encoded = tx.encoded_for_signing();
        self.run(SignPayload::EvmTransaction {
            transaction: format!("0x{}", hex::encode(encoded)),
        })
        .await
    }

    async fn run(&self, payload: SignPayload) -> SignerResult<Signature> {
        let result = self
            .device
            .sign(&self.wallet_id, &payload, None)
            .await
            .map_err(SignerError::other)?;
        parse_signature(&result)
    }
}

fn parse_signature(result: &SignResult) -> SignerResult<Signature> {
    let hex_sig = result.signature.trim_start_matches("0x");
    let bytes = hex::decode(hex_sig).map_err(SignerError::other)?;
    Signature::try_from(bytes.as_slice()).map_err(SignerError::other)
}

#[async_trait]
impl Signer for TandemSigner {
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
    }

    /// Statically typed structs carry no JSON form alloy can produce without `Serialize`, and
    /// the server must see the typed data itself (never a hash): use
    /// [`Signer::sign_dynamic_typed_data`] with `TypedData::from_struct`.
    async fn sign_typed_data<T: SolStruct + Send + Sync>(
        &self,
        _payload: &T,
        _domain: &Eip712Domain,
    ) -> SignerResult<Signature>
    where
        Self: Sized,
    {
        Err(SignerError::UnsupportedOperation(
            UnsupportedSignerOperation::SignHash,
        ))
    }

    async fn sign_dynamic_typed_data(&self, payload: &TypedData) -> SignerResult<Signature> {
        let json = serde_json::to_value(payload).map_err(SignerError::other)?;
        self.run(SignPayload::EvmTypedData { typed_data: json })
            .await
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
