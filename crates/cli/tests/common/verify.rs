//! Independent checks of what the server released, and the payloads the tests sign.

use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{
    SignableTransaction, Transaction, TxEip1559, TxEip2930, TxEnvelope, TxLegacy,
};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, Bytes, Signature, TxKind, U256, eip191_hash_message};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature as EdSignature, VerifyingKey};
use solana_message::{
    AccountMeta, Address as SolAddress, Hash, Instruction, Message, VersionedMessage,
};
use solana_transaction::versioned::VersionedTransaction;

pub const DEAD: Address = Address::new([0xde; 20]);

pub fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.trim_start_matches("0x")).expect("hex")
}

/// ecrecover of an EIP-191 signature (r ‖ s ‖ v hex).
pub fn recover_personal(message: &[u8], signature_hex: &str) -> Address {
    let sig = Signature::try_from(unhex(signature_hex).as_slice()).expect("65-byte signature");
    sig.recover_address_from_prehash(&eip191_hash_message(message))
        .expect("recoverable")
}

/// ecrecover over an EIP-712 digest computed by alloy-dyn-abi from the same JSON.
pub fn recover_typed(typed: &serde_json::Value, signature_hex: &str) -> Address {
    let data: alloy_dyn_abi::TypedData = serde_json::from_value(typed.clone()).expect("typed data");
    let digest = data.eip712_signing_hash().expect("hash");
    let sig = Signature::try_from(unhex(signature_hex).as_slice()).expect("signature");
    sig.recover_address_from_prehash(&digest)
        .expect("recoverable")
}

/// Decodes a signed raw transaction and recovers its sender.
pub fn recover_raw_tx(raw_hex: &str) -> (TxEnvelope, Address) {
    let raw = unhex(raw_hex);
    let env = TxEnvelope::decode_2718(&mut raw.as_slice()).expect("signed tx decodes");
    let from = env.recover_signer().expect("recoverable");
    (env, from)
}

pub fn legacy_tx(nonce: u64) -> Vec<u8> {
    let tx = TxLegacy {
        chain_id: Some(1),
        nonce,
        gas_price: 20_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(DEAD),
        value: U256::from(1_000_000_000_000_000u64),
        input: Bytes::new(),
    };
    tx.encoded_for_signing()
}

pub fn eip2930_tx(nonce: u64) -> Vec<u8> {
    let tx = TxEip2930 {
        chain_id: 11155111,
        nonce,
        gas_price: 30_000_000_000,
        gas_limit: 50_000,
        to: TxKind::Call(DEAD),
        value: U256::from(7u64),
        input: Bytes::from(vec![0xa9, 0x05, 0x9c, 0xbb]),
        access_list: Default::default(),
    };
    tx.encoded_for_signing()
}

pub fn eip1559_tx(nonce: u64) -> Vec<u8> {
    let tx = TxEip1559 {
        chain_id: 8453,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 3_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(DEAD),
        value: U256::from(123_456u64),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    tx.encoded_for_signing()
}

/// The EIP-712 specification's `Mail` example.
pub fn mail_typed_data() -> serde_json::Value {
    serde_json::json!({
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"}
            ],
            "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
            "Mail": [
                {"name": "from", "type": "Person"},
                {"name": "to", "type": "Person"},
                {"name": "contents", "type": "string"}
            ]
        },
        "primaryType": "Mail",
        "domain": {
            "name": "Ether Mail",
            "version": "1",
            "chainId": 1,
            "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"
        },
        "message": {
            "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
            "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
            "contents": "Hello, Bob!"
        }
    })
}

/// An unsigned legacy Solana transfer from `payer` (base64 wire form).
pub fn solana_transfer(payer: &[u8], lamports: u64) -> String {
    let from = SolAddress::new_from_array(payer.try_into().expect("32-byte key"));
    let to = SolAddress::new_from_array([9; 32]);
    let mut data = 2u32.to_le_bytes().to_vec();
    data.extend_from_slice(&lamports.to_le_bytes());
    let instruction = Instruction {
        program_id: SolAddress::new_from_array([0; 32]),
        accounts: vec![AccountMeta::new(from, true), AccountMeta::new(to, false)],
        data,
    };
    let mut message = Message::new(&[instruction], Some(&from));
    message.recent_blockhash = Hash::new_from_array([7; 32]);
    let tx = VersionedTransaction::new_unsigned(VersionedMessage::Legacy(message));
    B64.encode(wincode::serialize(&tx).expect("serialize"))
}

/// Decodes a signed Solana wire transaction and strictly verifies the payer's signature.
pub fn verify_solana_tx(signed_b64: &str, payer: &[u8]) {
    let bytes = B64.decode(signed_b64).expect("base64");
    let tx: VersionedTransaction = wincode::deserialize_exact(&bytes).expect("wire tx");
    let key = VerifyingKey::from_bytes(payer.try_into().expect("key")).expect("point");
    let sig = EdSignature::from_bytes(tx.signatures[0].as_ref().try_into().expect("64 bytes"));
    key.verify_strict(&tx.message.serialize(), &sig)
        .expect("the payer's signature verifies strictly");
}

/// Strict Ed25519 verification of a base58 signature over `message`.
pub fn verify_ed25519(public_key: &[u8], message: &[u8], signature_b58: &str) {
    let sig = bs58::decode(signature_b58).into_vec().expect("base58");
    let key = VerifyingKey::from_bytes(public_key.try_into().expect("key")).expect("point");
    let sig = EdSignature::from_bytes(sig.as_slice().try_into().expect("64 bytes"));
    key.verify_strict(message, &sig).expect("verifies strictly");
}

/// Solana off-chain message bytes (v0 header, one signer), built independently of
/// tandem-chains from the Agave proposal's layout.
pub fn solana_offchain_bytes(public_key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut out = b"\xffsolana offchain".to_vec();
    out.push(0); // header version
    out.extend_from_slice(&[0u8; 32]); // application domain
    let ascii = message.iter().all(|b| (0x20..=0x7e).contains(b));
    out.push(if ascii { 0 } else { 1 }); // message format (short messages)
    out.push(1); // signer count
    out.extend_from_slice(public_key);
    out.extend_from_slice(&(message.len() as u16).to_le_bytes());
    out.extend_from_slice(message);
    out
}

pub fn tx_nonce(env: &TxEnvelope) -> u64 {
    env.nonce()
}
