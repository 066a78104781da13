//! Raw Solana message signing (`solana:signMessage`): text is signed byte for byte; bytes
//! that are (or start with) a transaction message or an off-chain message are refused.
// Tests may panic on unexpected values: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::sol_key;
use ed25519_dalek::{Signer as _, Verifier as _};
use solana_message::v0;
use solana_message::{AccountMeta, Address, Hash, Instruction, Message, VersionedMessage};
use tandem_chains::{ErrorKind, solana};

fn transfer(from: &Address) -> Instruction {
    let mut data = 2u32.to_le_bytes().to_vec();
    data.extend_from_slice(&5u64.to_le_bytes());
    Instruction {
        program_id: Address::new_from_array([0; 32]),
        accounts: vec![
            AccountMeta::new(*from, true),
            AccountMeta::new(Address::new_from_array([9; 32]), false),
        ],
        data,
    }
}

#[test]
fn sign_in_with_solana_text_is_signed_as_is() {
    let key = sol_key(3);
    let signer = key.verifying_key().to_bytes();
    let text = b"example.com wants you to sign in with your Solana account:\nAbc\n\nNonce: 42";
    let prepared = solana::prepare_raw_message(text, &signer).unwrap();
    assert_eq!(prepared.message, text);
    let signature = key.sign(&prepared.message).to_bytes();
    // An independent verifier checks the bytes the dapp holds, nothing else.
    key.verifying_key()
        .verify(text, &ed25519_dalek::Signature::from_bytes(&signature))
        .unwrap();
    let signed = solana::finish(&prepared, signature).unwrap();
    assert_eq!(signed.signed_transaction, None);
    assert!(matches!(
        prepared.intent,
        solana::Intent::RawMessage { length, .. } if length == text.len()
    ));
}

#[test]
fn transaction_messages_are_never_signed_raw() {
    let key = sol_key(4);
    let signer = key.verifying_key().to_bytes();
    let me = Address::new_from_array(signer);
    let mut legacy = Message::new(&[transfer(&me)], Some(&me));
    legacy.recent_blockhash = Hash::new_from_array([7; 32]);
    let v0 = v0::Message::try_compile(&me, &[transfer(&me)], &[], Hash::new_from_array([7; 32]))
        .unwrap();
    for message in [VersionedMessage::Legacy(legacy), VersionedMessage::V0(v0)] {
        let bytes = message.serialize();
        let mut with_tail = bytes.clone();
        with_tail.extend_from_slice(b" trailing text");
        for candidate in [bytes, with_tail] {
            let err = solana::prepare_raw_message(&candidate, &signer).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidMessage, "{err}");
        }
    }
}

#[test]
fn off_chain_messages_and_empty_input_are_refused() {
    let signer = sol_key(5).verifying_key().to_bytes();
    let offchain = solana::prepare_offchain(b"hello", &signer).unwrap().message;
    let err = solana::prepare_raw_message(&offchain, &signer).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidMessage);
    let err = solana::prepare_raw_message(b"", &signer).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidMessage);
    let huge = vec![b'a'; solana::MAX_RAW_MESSAGE_BYTES + 1];
    let err = solana::prepare_raw_message(&huge, &signer).unwrap_err();
    assert_eq!(err.kind, ErrorKind::TooLarge);
}
