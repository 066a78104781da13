//! Fuzz-ish robustness: random and mutated inputs into every `prepare_*`
//! must return `Ok` or `Err`, never panic. Seeded xorshift, no extra crates.
// Tests may panic on unexpected values: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_consensus::TxEnvelope;
use alloy_consensus::transaction::SignerRecoverable as _;
use alloy_consensus::{SignableTransaction as _, TxEip1559, TxEip2930, TxLegacy};
use alloy_eips::Decodable2718 as _;
use alloy_primitives::{Bytes, TxKind, U256};
use common::{XorShift, evm_key_n, evm_public, evm_sign, sol_key};
use ed25519_dalek::Signer as _;
use solana_message::{AccountMeta, Address, Hash, Instruction, Message, VersionedMessage};
use solana_transaction::versioned::VersionedTransaction;
use tandem_chains::{evm, solana};

const ROUNDS: usize = 10_000;

const MAIL: &str = r#"{"types":{"EIP712Domain":[{"name":"name","type":"string"},{"name":"version","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],"Person":[{"name":"name","type":"string"},{"name":"wallet","type":"address"}],"Mail":[{"name":"from","type":"Person"},{"name":"to","type":"Person"},{"name":"contents","type":"string"}]},"primaryType":"Mail","domain":{"name":"Ether Mail","version":"1","chainId":1,"verifyingContract":"0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"},"message":{"from":{"name":"Cow","wallet":"0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},"to":{"name":"Bob","wallet":"0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},"contents":"Hello, Bob!"}}"#;

fn evm_seeds() -> Vec<Vec<u8>> {
    let to = TxKind::Call(alloy_primitives::Address::repeat_byte(0x11));
    vec![
        TxLegacy {
            chain_id: Some(1),
            gas_limit: 21_000,
            to,
            value: U256::from(5u8),
            ..Default::default()
        }
        .encoded_for_signing(),
        TxEip2930 {
            chain_id: 1,
            to,
            input: Bytes::from(vec![1, 2, 3, 4, 5]),
            ..Default::default()
        }
        .encoded_for_signing(),
        TxEip1559 {
            chain_id: 1,
            to,
            ..Default::default()
        }
        .encoded_for_signing(),
    ]
}

fn solana_seed(payer: &Address) -> VersionedMessage {
    let mut data = 2u32.to_le_bytes().to_vec();
    data.extend_from_slice(&1u64.to_le_bytes());
    let instruction = Instruction {
        program_id: Address::new_from_array([0; 32]),
        accounts: vec![
            AccountMeta::new(*payer, true),
            AccountMeta::new(Address::new_from_array([3; 32]), false),
        ],
        data,
    };
    let mut message = Message::new(&[instruction], Some(payer));
    message.recent_blockhash = Hash::new_from_array([1; 32]);
    VersionedMessage::Legacy(message)
}

#[test]
fn evm_prepare_never_panics() {
    let mut rng = XorShift::new(0x5eed_0001);
    let seeds = evm_seeds();
    let key = evm_key_n(1);
    let address = evm::address(&evm_public(&key, true)).unwrap();
    let mut accepted = 0;
    for round in 0..ROUNDS {
        let input = if round % 2 == 0 {
            let len = rng.below(300);
            let mut bytes = rng.bytes(len);
            // Steer half of the random inputs towards the interesting first bytes.
            if let Some(first) = bytes.first_mut() {
                let pick = rng.below(7);
                *first = [0x01, 0x02, 0x03, 0x04, 0xc0, 0xf8, *first][pick];
            }
            bytes
        } else {
            let seed = rng.below(seeds.len());
            rng.mutate(&seeds[seed])
        };
        if let Ok(prepared) = evm::prepare_transaction(&input) {
            accepted += 1;
            // Whatever was accepted must finish into a transaction alloy decodes
            // and attributes to the signing key.
            let (r, s, v) = evm_sign(&key, &prepared.digest);
            let raw = evm::finish(&prepared, r, s, v)
                .unwrap()
                .raw_transaction
                .unwrap();
            let envelope = TxEnvelope::decode_2718(&mut raw.as_slice()).unwrap();
            assert_eq!(
                envelope.recover_signer().unwrap().to_checksum(None),
                address
            );
        }
        let _ = evm::prepare_personal_sign(&input);
        let _ = evm::prepare_typed_data(&String::from_utf8_lossy(&input));
    }
    // Sanity: the mutations do not all break the payload.
    assert!(accepted > 0);
}

#[test]
fn typed_data_mutations_never_panic() {
    let mut rng = XorShift::new(0x5eed_0002);
    let mut accepted = 0;
    for _ in 0..ROUNDS {
        let mutated = rng.mutate(MAIL.as_bytes());
        accepted +=
            usize::from(evm::prepare_typed_data(&String::from_utf8_lossy(&mutated)).is_ok());
    }
    assert!(accepted > 0);
}

#[test]
fn solana_prepare_never_panics() {
    let mut rng = XorShift::new(0x5eed_0003);
    let key = sol_key(9);
    let signer = key.verifying_key().to_bytes();
    let message = solana_seed(&Address::new_from_array(signer));
    let seeds = [
        message.serialize(),
        wincode::serialize(&VersionedTransaction::new_unsigned(message)).unwrap(),
    ];
    let mut accepted = 0;
    for round in 0..ROUNDS {
        let input = if round % 2 == 0 {
            let len = rng.below(400);
            rng.bytes(len)
        } else {
            let seed = rng.below(seeds.len());
            rng.mutate(&seeds[seed])
        };
        for prepared in [
            solana::prepare_transaction(&input, &signer),
            solana::prepare_message(&input, &signer),
        ]
        .into_iter()
        .flatten()
        {
            accepted += 1;
            // Whatever was accepted must finish into a decodable, verifiable transaction.
            let signature = key.sign(&prepared.message).to_bytes();
            let wire = solana::finish(&prepared, signature)
                .unwrap()
                .signed_transaction
                .unwrap();
            let tx: VersionedTransaction = wincode::deserialize_exact(&wire).unwrap();
            assert_eq!(tx.message.serialize(), prepared.message);
            assert!(
                tx.signatures
                    .contains(&solana_signature::Signature::from(signature))
            );
        }
        let _ = solana::prepare_offchain(&input, &signer);
        // Random signers too (mostly invalid points).
        let random_signer: [u8; 32] = rng.bytes(32).try_into().unwrap();
        let _ = solana::prepare_transaction(&input, &random_signer);
    }
    assert!(accepted > 0);
}
