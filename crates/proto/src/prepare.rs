//! How a [`SignPayload`] becomes the exact bytes a scheme signs. The server and the device
//! both run this, each on its own copy of the payload: the server signs only what it
//! computed itself, and a device that computed something else simply fails the ceremony.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use tandem_chains::{ChainError, ErrorKind, evm, solana};

use crate::error::{ApiError, ErrorCode};
use crate::sign::{Encoding, SignPayload, SignResult};
use crate::wallet::Chain;

/// A parsed payload, ready to sign.
#[derive(Clone, Debug)]
pub enum Prepared {
    Evm(evm::Prepared),
    Solana(solana::Prepared),
}

impl Prepared {
    pub fn chain(&self) -> Chain {
        match self {
            Prepared::Evm(_) => Chain::Evm,
            Prepared::Solana(_) => Chain::Solana,
        }
    }

    /// The 32-byte digest (EVM) or the message bytes (Solana).
    pub fn signing_input(&self) -> &[u8] {
        match self {
            Prepared::Evm(p) => &p.digest,
            Prepared::Solana(p) => &p.message,
        }
    }

    /// SHA-256 over a domain tag and [`Prepared::signing_input`]: what device and server
    /// compare in `start` before any MPC frame, so that disagreeing on the bytes to sign is
    /// a clear refusal rather than a failed ceremony.
    pub fn input_hash(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"tandem/signing-input/v1");
        h.update(self.signing_input());
        h.finalize().into()
    }

    /// The EVM digest; `None` for Solana.
    pub fn digest(&self) -> Option<&[u8; 32]> {
        match self {
            Prepared::Evm(p) => Some(&p.digest),
            Prepared::Solana(_) => None,
        }
    }

    pub fn intent(&self) -> serde_json::Value {
        let value = match self {
            Prepared::Evm(p) => serde_json::to_value(&p.intent),
            Prepared::Solana(p) => serde_json::to_value(&p.intent),
        };
        value.unwrap_or(serde_json::Value::Null)
    }

    /// Assembles the released result from an ECDSA signature.
    pub fn finish_evm(
        &self,
        r: [u8; 32],
        s: [u8; 32],
        recovery_id: u8,
    ) -> Result<SignResult, ApiError> {
        let Prepared::Evm(p) = self else {
            return Err(ApiError::new(ErrorCode::WrongChain, "not an EVM payload"));
        };
        let signed = evm::finish(p, r, s, recovery_id).map_err(chain_error)?;
        Ok(SignResult {
            signature: format!("0x{}", hex::encode(signed.signature)),
            signed_transaction: signed
                .raw_transaction
                .map(|t| format!("0x{}", hex::encode(t))),
            transaction_hash: signed
                .transaction_hash
                .map(|h| format!("0x{}", hex::encode(h))),
            intent: self.intent(),
        })
    }

    /// Assembles the released result from an Ed25519 signature.
    pub fn finish_solana(&self, signature: [u8; 64]) -> Result<SignResult, ApiError> {
        let Prepared::Solana(p) = self else {
            return Err(ApiError::new(ErrorCode::WrongChain, "not a Solana payload"));
        };
        let signed = solana::finish(p, signature).map_err(chain_error)?;
        Ok(SignResult {
            signature: bs58::encode(signed.signature).into_string(),
            signed_transaction: signed.signed_transaction.map(|t| B64.encode(t)),
            transaction_hash: None,
            intent: self.intent(),
        })
    }
}

/// Parses `payload` for a wallet on `chain` with `public_key` (33-byte SEC1 or 32-byte
/// Ed25519). Every refusal names the offending field.
pub fn prepare(
    payload: &SignPayload,
    chain: Chain,
    public_key: &[u8],
) -> Result<Prepared, ApiError> {
    match payload.chain() {
        None => {
            return Err(ApiError::new(
                ErrorCode::DigestSigningRefused,
                "Tandem signs payloads it can parse (messages, typed data, transactions), never bare digests",
            )
            .with_field("kind"));
        }
        Some(c) if c != chain => {
            return Err(ApiError::new(
                ErrorCode::WrongChain,
                format!("this payload is for {c} wallets, the wallet is {chain}"),
            )
            .with_field("kind"));
        }
        Some(_) => {}
    }
    match payload {
        SignPayload::EvmMessage { message, encoding } => {
            let bytes = text(message, *encoding, "message")?;
            Ok(Prepared::Evm(evm::prepare_personal_sign(&bytes)))
        }
        SignPayload::EvmTypedData { typed_data } => {
            // Wallets send the typed data either as a JSON object or as a JSON string.
            let json = match typed_data {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            evm::prepare_typed_data(&json)
                .map(Prepared::Evm)
                .map_err(chain_error)
        }
        SignPayload::EvmTransaction { transaction } => {
            let bytes = hex_field(transaction, "transaction")?;
            evm::prepare_transaction(&bytes)
                .map(Prepared::Evm)
                .map_err(chain_error)
        }
        SignPayload::SolanaTransaction { transaction } => {
            let bytes = B64.decode(transaction.trim()).map_err(|_| {
                ApiError::new(ErrorCode::InvalidBase64, "not valid base64")
                    .with_field("transaction")
            })?;
            let signer = ed25519_key(public_key)?;
            solana::prepare_transaction(&bytes, &signer)
                .map(Prepared::Solana)
                .map_err(chain_error)
        }
        SignPayload::SolanaMessage { message, encoding } => {
            let bytes = text(message, *encoding, "message")?;
            let signer = ed25519_key(public_key)?;
            solana::prepare_offchain(&bytes, &signer)
                .map(Prepared::Solana)
                .map_err(chain_error)
        }
        SignPayload::SolanaRawMessage { message, encoding } => {
            let bytes = text(message, *encoding, "message")?;
            let signer = ed25519_key(public_key)?;
            solana::prepare_raw_message(&bytes, &signer)
                .map(Prepared::Solana)
                .map_err(chain_error)
        }
        SignPayload::Digest { .. } => Err(ApiError::new(ErrorCode::DigestSigningRefused, "digest")),
    }
}

fn ed25519_key(public_key: &[u8]) -> Result<[u8; 32], ApiError> {
    public_key
        .try_into()
        .map_err(|_| ApiError::new(ErrorCode::Internal, "wallet key is not an Ed25519 key"))
}

fn text(value: &str, encoding: Encoding, field: &str) -> Result<Vec<u8>, ApiError> {
    match encoding {
        Encoding::Utf8 => Ok(value.as_bytes().to_vec()),
        Encoding::Hex => hex_field(value, field),
    }
}

/// Decodes `0x`-prefixed or bare hex.
pub fn hex_field(value: &str, field: &str) -> Result<Vec<u8>, ApiError> {
    let v = value.trim();
    let v = v
        .strip_prefix("0x")
        .or_else(|| v.strip_prefix("0X"))
        .unwrap_or(v);
    hex::decode(v)
        .map_err(|_| ApiError::new(ErrorCode::InvalidHex, "not valid hex").with_field(field))
}

/// Maps a chain parsing error onto the stable wire codes.
pub fn chain_error(e: ChainError) -> ApiError {
    let code = match e.kind {
        ErrorKind::InvalidHex => ErrorCode::InvalidHex,
        ErrorKind::InvalidBase64 => ErrorCode::InvalidBase64,
        ErrorKind::InvalidRlp => ErrorCode::InvalidRlp,
        ErrorKind::InvalidTransaction => ErrorCode::InvalidTransaction,
        ErrorKind::UnsupportedTransactionType => ErrorCode::UnsupportedTransactionType,
        ErrorKind::AlreadySigned => ErrorCode::AlreadySigned,
        ErrorKind::MissingChainId => ErrorCode::MissingChainId,
        ErrorKind::InvalidTypedData => ErrorCode::InvalidTypedData,
        ErrorKind::InvalidMessage => ErrorCode::InvalidMessage,
        ErrorKind::NotASigner => ErrorCode::NotASigner,
        ErrorKind::TooLarge => ErrorCode::PayloadTooLarge,
        ErrorKind::InvalidPublicKey | ErrorKind::InvalidSignature => ErrorCode::Internal,
    };
    ApiError::new(code, e.detail.clone()).with_field(e.field)
}
