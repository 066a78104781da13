//! Which `tandem-mpc` scheme serves which chain, and the per-chain glue both parties need
//! to run a ceremony: what exactly is signed, how a signature becomes a result, how a public
//! key becomes an address.

use sha2::{Digest, Sha256};
use tandem_chains::{evm, solana};
use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::ed25519::Ed25519;
use tandem_mpc::{Operation, Protocol, Scheme};

use crate::error::{ApiError, ErrorCode};
use crate::prepare::{Prepared, chain_error};
use crate::sign::SignResult;
use crate::wallet::Chain;

/// A signature scheme bound to the chain it serves.
pub trait ChainScheme: Scheme {
    const CHAIN: Chain;

    /// Views signing input bytes as this scheme's message type.
    fn message(input: &[u8]) -> Result<&Self::Message, ApiError>;

    /// Turns a joint signature into the released result.
    fn finish(prepared: &Prepared, signature: &Self::Signature) -> Result<SignResult, ApiError>;

    fn address(public_key: &[u8]) -> Result<String, ApiError>;

    fn protocol(op: Operation) -> Protocol {
        Protocol::for_op(Self::ID, op)
    }
}

impl ChainScheme for Secp256k1 {
    const CHAIN: Chain = Chain::Evm;

    fn message(input: &[u8]) -> Result<&[u8; 32], ApiError> {
        input
            .try_into()
            .map_err(|_| ApiError::new(ErrorCode::Internal, "ECDSA signs 32-byte digests"))
    }

    fn finish(prepared: &Prepared, sig: &Self::Signature) -> Result<SignResult, ApiError> {
        prepared.finish_evm(sig.r, sig.s, sig.recovery_id)
    }

    fn address(public_key: &[u8]) -> Result<String, ApiError> {
        evm::address(public_key).map_err(chain_error)
    }
}

impl ChainScheme for Ed25519 {
    const CHAIN: Chain = Chain::Solana;

    fn message(input: &[u8]) -> Result<&[u8], ApiError> {
        Ok(input)
    }

    fn finish(prepared: &Prepared, sig: &Self::Signature) -> Result<SignResult, ApiError> {
        prepared.finish_solana(sig.0)
    }

    fn address(public_key: &[u8]) -> Result<String, ApiError> {
        solana::address(public_key).map_err(chain_error)
    }
}

/// The address of a wallet on `chain` with `public_key`: the only source of an address.
/// Device and server derive it; neither takes it from storage or from the other side.
pub fn address_for(chain: Chain, public_key: &[u8]) -> Result<String, ApiError> {
    match chain {
        Chain::Evm => Secp256k1::address(public_key),
        Chain::Solana => Ed25519::address(public_key),
    }
}

/// What a refresh's test signature signs: a fixed, domain-separated message bound to the
/// wallet, the new epoch and the refresh session, so it is never a meaningful signature.
/// ECDSA signs its SHA-256; Ed25519 signs it as is.
pub fn refresh_test_input(
    chain: Chain,
    wallet_id: &str,
    new_epoch: u64,
    session: &[u8],
) -> Vec<u8> {
    let message = crate::ceremony::refresh_test_message(wallet_id, new_epoch, session);
    match chain {
        Chain::Evm => Sha256::digest(&message).to_vec(),
        Chain::Solana => message,
    }
}
