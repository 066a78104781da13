//! Solana transactions: build with the Solana crates, prepare, sign with a
//! plain Ed25519 key, finish, then verify the signed wire transaction.
// Tests may panic on unexpected values: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::sol_key;
use ed25519_dalek::{Signer as _, SigningKey};
use solana_message::compiled_instruction::CompiledInstruction;
use solana_message::v0::{self, MessageAddressTableLookup};
use solana_message::{
    AccountMeta, Address, Hash, Instruction, Message, MessageHeader, VersionedMessage,
};
use solana_signature::Signature;
use solana_transaction::versioned::VersionedTransaction;
use tandem_chains::{ErrorKind, solana};

const SYSTEM_PROGRAM: Address = Address::new_from_array([0; 32]);
const BLOCKHASH: [u8; 32] = [7; 32];

fn addr(key: &SigningKey) -> Address {
    Address::new_from_array(key.verifying_key().to_bytes())
}

fn transfer_data(lamports: u64) -> Vec<u8> {
    let mut data = 2u32.to_le_bytes().to_vec();
    data.extend_from_slice(&lamports.to_le_bytes());
    data
}

fn legacy_transfer(from: &Address, to: &Address, lamports: u64) -> VersionedMessage {
    let instruction = Instruction {
        program_id: SYSTEM_PROGRAM,
        accounts: vec![AccountMeta::new(*from, true), AccountMeta::new(*to, false)],
        data: transfer_data(lamports),
    };
    let mut message = Message::new(&[instruction], Some(from));
    message.recent_blockhash = Hash::new_from_array(BLOCKHASH);
    VersionedMessage::Legacy(message)
}

fn v0_transfer(from: &Address, to: &Address, lamports: u64) -> VersionedMessage {
    VersionedMessage::V0(v0::Message {
        header: MessageHeader {
            num_required_signatures: 1,
            num_readonly_signed_accounts: 0,
            num_readonly_unsigned_accounts: 1,
        },
        account_keys: vec![*from, *to, SYSTEM_PROGRAM],
        recent_blockhash: Hash::new_from_array(BLOCKHASH),
        instructions: vec![CompiledInstruction {
            program_id_index: 2,
            accounts: vec![0, 1],
            data: transfer_data(lamports),
        }],
        address_table_lookups: vec![],
    })
}

fn wire(message: VersionedMessage) -> Vec<u8> {
    wincode::serialize(&VersionedTransaction::new_unsigned(message)).unwrap()
}

/// Prepare, sign `prepared.message`, finish; then decode the signed wire
/// transaction and verify the fee payer's signature over `message.serialize()`.
fn sign_and_verify(wire: &[u8], key: &SigningKey) -> (solana::Prepared, VersionedTransaction) {
    let signer = key.verifying_key().to_bytes();
    let prepared = solana::prepare_transaction(wire, &signer).unwrap();
    let signature = key.sign(&prepared.message).to_bytes();
    let signed = solana::finish(&prepared, signature).unwrap();
    assert_eq!(signed.signature, signature);

    let bytes = signed.signed_transaction.unwrap();
    let tx: VersionedTransaction = wincode::deserialize_exact(&bytes).unwrap();
    tx.sanitize().unwrap();
    let message = tx.message.serialize();
    assert_eq!(message, prepared.message);
    let index = tx
        .message
        .static_account_keys()
        .iter()
        .position(|k| *k == addr(key))
        .unwrap();
    let on_wire = ed25519_dalek::Signature::from_bytes(tx.signatures[index].as_array());
    key.verifying_key()
        .verify_strict(&message, &on_wire)
        .unwrap();
    (prepared, tx)
}

#[test]
fn legacy_transfer_round_trip_and_intent() {
    let payer = sol_key(1);
    let to = addr(&sol_key(2));
    let (prepared, _) = sign_and_verify(
        &wire(legacy_transfer(&addr(&payer), &to, 1_500_000)),
        &payer,
    );

    let b58 = |a: &Address| bs58::encode(a.to_bytes()).into_string();
    assert_eq!(
        serde_json::to_value(&prepared.intent).unwrap(),
        serde_json::json!({
            "kind": "transaction",
            "version": "legacy",
            "fee_payer": b58(&addr(&payer)),
            "required_signers": 1,
            "signer_index": 0,
            "recent_blockhash": bs58::encode(BLOCKHASH).into_string(),
            "instructions": [{
                "program_id": "11111111111111111111111111111111",
                "accounts": 2,
                "data_len": 12,
                "system_transfer": {"from": b58(&addr(&payer)), "to": b58(&to), "lamports": 1_500_000}
            }],
            "uses_lookup_tables": false
        })
    );
}

#[test]
fn v0_transfer_round_trip() {
    let payer = sol_key(3);
    let to = addr(&sol_key(4));
    let (prepared, tx) = sign_and_verify(&wire(v0_transfer(&addr(&payer), &to, 42)), &payer);
    assert!(matches!(tx.message, VersionedMessage::V0(_)));
    let solana::Intent::Transaction {
        version,
        instructions,
        uses_lookup_tables,
        ..
    } = prepared.intent
    else {
        panic!()
    };
    assert_eq!(version, "v0");
    assert!(!uses_lookup_tables);
    let transfer = instructions[0].system_transfer.clone().unwrap();
    assert_eq!(transfer.lamports, 42);
    assert_eq!(transfer.to, Some(bs58::encode(to.to_bytes()).into_string()));
}

#[test]
fn lookup_table_destination_is_unknown_not_guessed() {
    let payer = sol_key(5);
    let message = VersionedMessage::V0(v0::Message {
        header: MessageHeader {
            num_required_signatures: 1,
            num_readonly_signed_accounts: 0,
            num_readonly_unsigned_accounts: 1,
        },
        account_keys: vec![addr(&payer), SYSTEM_PROGRAM],
        recent_blockhash: Hash::new_from_array(BLOCKHASH),
        instructions: vec![CompiledInstruction {
            program_id_index: 1,
            accounts: vec![0, 2], // index 2 = first writable lookup-table account
            data: transfer_data(9),
        }],
        address_table_lookups: vec![MessageAddressTableLookup {
            account_key: Address::new_from_array([9; 32]),
            writable_indexes: vec![0],
            readonly_indexes: vec![],
        }],
    });
    let (prepared, _) = sign_and_verify(&wire(message), &payer);
    let solana::Intent::Transaction {
        instructions,
        uses_lookup_tables,
        ..
    } = prepared.intent
    else {
        panic!()
    };
    assert!(uses_lookup_tables);
    let transfer = instructions[0].system_transfer.clone().unwrap();
    assert_eq!(transfer.lamports, 9);
    assert!(transfer.from.is_some());
    assert_eq!(transfer.to, None);
}

#[test]
fn transfer_with_trailing_data_is_still_a_transfer() {
    // The System program ignores trailing instruction bytes, so must we.
    let payer = sol_key(6);
    let to = addr(&sol_key(7));
    let mut message = legacy_transfer(&addr(&payer), &to, 77);
    if let VersionedMessage::Legacy(m) = &mut message {
        m.instructions[0].data.extend_from_slice(&[0xaa; 8]);
    }
    let prepared =
        solana::prepare_transaction(&wire(message), &payer.verifying_key().to_bytes()).unwrap();
    let solana::Intent::Transaction { instructions, .. } = prepared.intent else {
        panic!()
    };
    assert_eq!(
        instructions[0].system_transfer.as_ref().unwrap().lamports,
        77
    );
    assert_eq!(instructions[0].data_len, 20);
}

#[test]
fn non_transfer_instructions_are_not_decoded() {
    let payer = sol_key(8);
    let program = Address::new_from_array([5; 32]);
    let instruction = Instruction {
        program_id: program,
        accounts: vec![AccountMeta::new(addr(&payer), true)],
        data: transfer_data(1), // transfer-shaped data, but not the System program
    };
    let mut message = Message::new(&[instruction], Some(&addr(&payer)));
    message.recent_blockhash = Hash::new_from_array(BLOCKHASH);
    let (prepared, _) = sign_and_verify(&wire(VersionedMessage::Legacy(message)), &payer);
    let solana::Intent::Transaction { instructions, .. } = prepared.intent else {
        panic!()
    };
    assert_eq!(instructions[0].system_transfer, None);
    assert_eq!(
        instructions[0].program_id,
        bs58::encode([5; 32]).into_string()
    );
}

#[test]
fn second_signer_keeps_the_other_slot() {
    // The fee payer is someone else and has already signed; we are signer #1.
    let payer = sol_key(10);
    let us = sol_key(11);
    let to = addr(&sol_key(12));
    let instruction = Instruction {
        program_id: SYSTEM_PROGRAM,
        accounts: vec![
            AccountMeta::new(addr(&us), true),
            AccountMeta::new(to, false),
        ],
        data: transfer_data(5),
    };
    let mut message = Message::new(&[instruction], Some(&addr(&payer)));
    message.recent_blockhash = Hash::new_from_array(BLOCKHASH);
    let message = VersionedMessage::Legacy(message);
    let payer_signature = payer.sign(&message.serialize()).to_bytes();
    let mut tx = VersionedTransaction::new_unsigned(message);
    tx.signatures[0] = Signature::from(payer_signature);
    let wire = wincode::serialize(&tx).unwrap();

    let (prepared, signed) = sign_and_verify(&wire, &us);
    let solana::Intent::Transaction {
        signer_index,
        required_signers,
        fee_payer,
        ..
    } = prepared.intent
    else {
        panic!()
    };
    assert_eq!((signer_index, required_signers), (1, 2));
    assert_eq!(
        fee_payer,
        bs58::encode(addr(&payer).to_bytes()).into_string()
    );
    assert_eq!(signed.signatures[0], Signature::from(payer_signature));
    // Both signatures now verify: the transaction is complete.
    let message = signed.message.serialize();
    for (i, key) in [&payer, &us].into_iter().enumerate() {
        let signature = ed25519_dalek::Signature::from_bytes(signed.signatures[i].as_array());
        key.verifying_key()
            .verify_strict(&message, &signature)
            .unwrap();
    }
}

#[test]
fn prepare_message_returns_a_transaction_with_zeroed_other_slots() {
    let us = sol_key(13);
    let payer = sol_key(14);
    let instruction = Instruction {
        program_id: SYSTEM_PROGRAM,
        accounts: vec![
            AccountMeta::new(addr(&us), true),
            AccountMeta::new(addr(&payer), false),
        ],
        data: transfer_data(3),
    };
    let mut message = Message::new(&[instruction], Some(&addr(&payer)));
    message.recent_blockhash = Hash::new_from_array(BLOCKHASH);
    let bytes = VersionedMessage::Legacy(message).serialize();

    let prepared = solana::prepare_message(&bytes, &us.verifying_key().to_bytes()).unwrap();
    assert_eq!(prepared.message, bytes);
    let signed = solana::finish(&prepared, us.sign(&bytes).to_bytes()).unwrap();
    let tx: VersionedTransaction =
        wincode::deserialize_exact(&signed.signed_transaction.unwrap()).unwrap();
    assert_eq!(tx.signatures.len(), 2);
    assert_eq!(tx.signatures[0], Signature::default());
    assert_eq!(tx.signatures[1], Signature::from(signed.signature));
    assert_eq!(tx.message.serialize(), bytes);

    // A single-signer message comes back ready to broadcast.
    let single = legacy_transfer(&addr(&us), &addr(&payer), 1).serialize();
    let prepared = solana::prepare_message(&single, &us.verifying_key().to_bytes()).unwrap();
    let signed = solana::finish(&prepared, us.sign(&single).to_bytes()).unwrap();
    let tx: VersionedTransaction =
        wincode::deserialize_exact(&signed.signed_transaction.unwrap()).unwrap();
    assert!(tx.is_signed());
}

fn refused(wire: &[u8], signer: &SigningKey) -> ErrorKind {
    let error = solana::prepare_transaction(wire, &signer.verifying_key().to_bytes()).unwrap_err();
    assert_eq!(error.field, "transaction", "{error}");
    error.kind
}

#[test]
fn refuses_non_signers() {
    let payer = sol_key(20);
    let recipient = sol_key(21);
    let stranger = sol_key(22);
    let bytes = wire(legacy_transfer(&addr(&payer), &addr(&recipient), 1));
    // In the transaction but not a signer, and not in it at all.
    assert_eq!(refused(&bytes, &recipient), ErrorKind::NotASigner);
    assert_eq!(refused(&bytes, &stranger), ErrorKind::NotASigner);
    let message = legacy_transfer(&addr(&payer), &addr(&recipient), 1).serialize();
    assert_eq!(
        solana::prepare_message(&message, &recipient.verifying_key().to_bytes())
            .unwrap_err()
            .kind,
        ErrorKind::NotASigner
    );
}

#[test]
fn refuses_malformed_transactions() {
    let payer = sol_key(23);
    let to = addr(&sol_key(24));
    let good = wire(legacy_transfer(&addr(&payer), &to, 1));

    assert_eq!(refused(&[], &payer), ErrorKind::InvalidTransaction);
    assert_eq!(
        refused(&good[..good.len() - 1], &payer),
        ErrorKind::InvalidTransaction
    );
    assert_eq!(
        refused(&[&good[..], &[0]].concat(), &payer),
        ErrorKind::InvalidTransaction
    );

    // Signature slots must match num_required_signatures.
    let mut tx: VersionedTransaction = wincode::deserialize(&good).unwrap();
    tx.signatures.push(Signature::default());
    assert_eq!(
        refused(&wincode::serialize(&tx).unwrap(), &payer),
        ErrorKind::InvalidTransaction
    );
    tx.signatures.clear();
    assert_eq!(
        refused(&wincode::serialize(&tx).unwrap(), &payer),
        ErrorKind::InvalidTransaction
    );

    // Fails sanitize(): instruction refers to a missing account.
    let mut tx: VersionedTransaction = wincode::deserialize(&good).unwrap();
    if let VersionedMessage::Legacy(m) = &mut tx.message {
        m.instructions[0].accounts.push(200);
    }
    assert_eq!(
        refused(&wincode::serialize(&tx).unwrap(), &payer),
        ErrorKind::InvalidTransaction
    );

    // An off-chain message is never a transaction message.
    let offchain = solana::prepare_offchain(b"hello", &payer.verifying_key().to_bytes()).unwrap();
    assert_eq!(
        solana::prepare_message(&offchain.message, &payer.verifying_key().to_bytes())
            .unwrap_err()
            .kind,
        ErrorKind::InvalidTransaction
    );

    // Oversized.
    assert_eq!(
        refused(&vec![0u8; solana::MAX_TRANSACTION_BYTES + 1], &payer),
        ErrorKind::TooLarge
    );
}

#[test]
fn refuses_v1_messages() {
    let payer = sol_key(25);
    let message = VersionedMessage::V1(solana_message::v1::Message {
        header: MessageHeader {
            num_required_signatures: 1,
            num_readonly_signed_accounts: 0,
            num_readonly_unsigned_accounts: 1,
        },
        config: Default::default(),
        lifetime_specifier: Hash::new_from_array(BLOCKHASH),
        account_keys: vec![addr(&payer), addr(&sol_key(26)), SYSTEM_PROGRAM],
        instructions: vec![CompiledInstruction {
            program_id_index: 2,
            accounts: vec![0, 1],
            data: transfer_data(1),
        }],
    });
    message.sanitize().unwrap();
    let signer = payer.verifying_key().to_bytes();
    let error = solana::prepare_message(&message.serialize(), &signer).unwrap_err();
    assert_eq!(error.kind, ErrorKind::UnsupportedTransactionType, "{error}");
    let error = solana::prepare_transaction(&wire(message), &signer).unwrap_err();
    assert_eq!(error.kind, ErrorKind::UnsupportedTransactionType, "{error}");
}

#[test]
fn finish_refuses_a_wrong_signature() {
    let payer = sol_key(27);
    let bytes = wire(legacy_transfer(&addr(&payer), &addr(&sol_key(28)), 1));
    let prepared = solana::prepare_transaction(&bytes, &payer.verifying_key().to_bytes()).unwrap();
    let other = sol_key(29).sign(&prepared.message).to_bytes();
    assert_eq!(
        solana::finish(&prepared, other).unwrap_err().kind,
        ErrorKind::InvalidSignature
    );
    let mut tampered = payer.sign(&prepared.message).to_bytes();
    tampered[0] ^= 1;
    assert_eq!(
        solana::finish(&prepared, tampered).unwrap_err().kind,
        ErrorKind::InvalidSignature
    );
}

#[test]
fn solana_addresses() {
    let key = sol_key(30);
    let public = key.verifying_key().to_bytes();
    let address = solana::address(&public).unwrap();
    assert_eq!(bs58::decode(&address).into_vec().unwrap(), public);

    for bad in [&public[..31], &[public.as_slice(), &[0]].concat()[..]] {
        assert_eq!(
            solana::address(bad).unwrap_err().kind,
            ErrorKind::InvalidPublicKey
        );
    }
    // The all-zero key (the System program id) is a small-order point: not a wallet.
    assert_eq!(
        solana::address(&[0; 32]).unwrap_err().kind,
        ErrorKind::InvalidPublicKey
    );
    // A non-point.
    let not_a_point = (2u8..=255)
        .map(|y| {
            let mut bytes = [0u8; 32];
            bytes[0] = y;
            bytes
        })
        .find(|bytes| ed25519_dalek::VerifyingKey::from_bytes(bytes).is_err())
        .unwrap();
    assert_eq!(
        solana::address(&not_a_point).unwrap_err().kind,
        ErrorKind::InvalidPublicKey
    );
}
