//! Unsigned EVM transactions: prepare, sign with a plain key, finish, and
//! check the result with alloy's own decoder and signer recovery.
// Tests may panic on unexpected values: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_consensus::transaction::SignerRecoverable as _;
use alloy_consensus::{
    SignableTransaction, TxEip1559, TxEip2930, TxEip4844, TxEip7702, TxEnvelope, TxLegacy,
};
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_eips::{Decodable2718 as _, Encodable2718 as _};
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256, address};
use alloy_rlp::{Decodable, Header};
use common::{evm_key_n, evm_public, evm_sign};
use tandem_chains::{ErrorKind, evm};

const TO: Address = address!("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");

fn legacy(chain_id: Option<u64>) -> TxLegacy {
    TxLegacy {
        chain_id,
        nonce: 7,
        gas_price: 20_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(TO),
        value: U256::from(1_000_000_000_000_000_000u128),
        input: Bytes::new(),
    }
}

fn eip2930() -> TxEip2930 {
    TxEip2930 {
        chain_id: 10,
        nonce: 1,
        gas_price: 1_000_000_000,
        gas_limit: 60_000,
        to: TxKind::Call(TO),
        value: U256::ZERO,
        input: Bytes::from(vec![0xa9, 0x05, 0x9c, 0xbb, 0, 1, 2]),
        access_list: AccessList(vec![AccessListItem {
            address: TO,
            storage_keys: vec![B256::repeat_byte(1)],
        }]),
    }
}

fn eip1559() -> TxEip1559 {
    TxEip1559 {
        chain_id: 8453,
        nonce: 42,
        gas_limit: 100_000,
        max_fee_per_gas: 3_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(TO),
        value: U256::from(12_345u64),
        access_list: AccessList::default(),
        input: Bytes::from(vec![0xde, 0xad, 0xbe, 0xef, 0x00]),
    }
}

/// Prepares, signs with a plain k256 key, finishes, then checks the signed
/// transaction with alloy alone. Returns the raw transaction.
fn sign_and_check<T>(tx: T, key_n: u8) -> Vec<u8>
where
    T: SignableTransaction<Signature> + Clone,
    TxEnvelope: From<alloy_consensus::Signed<T>>,
{
    let unsigned = tx.encoded_for_signing();
    let prepared = evm::prepare_transaction(&unsigned).unwrap();
    assert_eq!(prepared.digest, tx.signature_hash().0);

    let key = evm_key_n(key_n);
    let (r, s, v) = evm_sign(&key, &prepared.digest);
    let signed = evm::finish(&prepared, r, s, v).unwrap();
    let raw = signed.raw_transaction.clone().unwrap();

    // Decoded by alloy, the signer is our address.
    let envelope = TxEnvelope::decode_2718(&mut raw.as_slice()).unwrap();
    let expected = evm::address(&evm_public(&key, true)).unwrap();
    assert_eq!(
        envelope.recover_signer().unwrap().to_checksum(None),
        expected
    );
    assert_eq!(signed.transaction_hash.unwrap(), envelope.tx_hash().0);
    assert_eq!(
        signed.transaction_hash.unwrap(),
        alloy_primitives::keccak256(&raw).0
    );

    // Independent assembly: alloy's into_signed with the same signature.
    let signature = Signature::from_raw_array(&signed.signature).unwrap();
    let reference = TxEnvelope::from(tx.into_signed(signature)).encoded_2718();
    assert_eq!(raw, reference);

    // And the crate's own recovery agrees.
    assert_eq!(
        evm::recover_address(&prepared, &signed.signature).unwrap(),
        expected
    );
    raw
}

#[test]
fn legacy_eip155_round_trip_and_v() {
    for chain_id in [1u64, 56, 137, 11_155_111] {
        let tx = legacy(Some(chain_id));
        let raw = sign_and_check(tx, 3);

        // Read v from the signed RLP list: [nonce, gasPrice, gas, to, value, data, v, r, s].
        let mut buf = raw.as_slice();
        let header = Header::decode(&mut buf).unwrap();
        assert!(header.list);
        let _: u64 = Decodable::decode(&mut buf).unwrap();
        let _: u128 = Decodable::decode(&mut buf).unwrap();
        let _: u64 = Decodable::decode(&mut buf).unwrap();
        let _: TxKind = Decodable::decode(&mut buf).unwrap();
        let _: U256 = Decodable::decode(&mut buf).unwrap();
        let _: Bytes = Decodable::decode(&mut buf).unwrap();
        let v: u64 = Decodable::decode(&mut buf).unwrap();
        assert!(
            v == chain_id * 2 + 35 || v == chain_id * 2 + 36,
            "v = {v} for chain {chain_id}"
        );
    }
}

#[test]
fn legacy_intent() {
    let prepared = evm::prepare_transaction(&legacy(Some(1)).encoded_for_signing()).unwrap();
    assert_eq!(
        serde_json::to_value(&prepared.intent).unwrap(),
        serde_json::json!({
            "kind": "transaction",
            "tx_type": "legacy",
            "chain_id": 1,
            "nonce": 7,
            "to": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "value_wei": "1000000000000000000",
            "gas_limit": 21000,
            "max_fee_per_gas_wei": "20000000000",
            "data_len": 0,
            "selector": null
        })
    );
}

#[test]
fn eip2930_round_trip() {
    let raw = sign_and_check(eip2930(), 4);
    assert_eq!(raw[0], 0x01);
}

#[test]
fn eip1559_round_trip_and_intent() {
    let raw = sign_and_check(eip1559(), 5);
    assert_eq!(raw[0], 0x02);

    let prepared = evm::prepare_transaction(&eip1559().encoded_for_signing()).unwrap();
    let evm::Intent::Transaction {
        tx_type,
        chain_id,
        nonce,
        to,
        value_wei,
        gas_limit,
        max_fee_per_gas_wei,
        data_len,
        selector,
    } = prepared.intent
    else {
        panic!("not a transaction")
    };
    assert_eq!(tx_type, "eip1559");
    assert_eq!(chain_id, 8453);
    assert_eq!(nonce, 42);
    assert_eq!(
        to.as_deref(),
        Some("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
    );
    assert_eq!(value_wei, "12345");
    assert_eq!(gas_limit, 100_000);
    assert_eq!(max_fee_per_gas_wei, "3000000000");
    assert_eq!(data_len, 5);
    assert_eq!(selector.as_deref(), Some("0xdeadbeef"));
}

#[test]
fn contract_creation_has_no_recipient_and_large_values_stay_exact() {
    let mut tx = eip1559();
    tx.to = TxKind::Create;
    tx.value = U256::MAX;
    let prepared = evm::prepare_transaction(&tx.encoded_for_signing()).unwrap();
    let evm::Intent::Transaction { to, value_wei, .. } = &prepared.intent else {
        panic!()
    };
    assert_eq!(*to, None);
    assert_eq!(*value_wei, U256::MAX.to_string());
    sign_and_check(tx, 6);
}

fn refused(bytes: &[u8]) -> ErrorKind {
    let error = evm::prepare_transaction(bytes).unwrap_err();
    assert_eq!(error.field, "transaction");
    assert!(!error.detail.is_empty());
    error.kind
}

#[test]
fn refuses_pre_eip155_legacy() {
    let unsigned = legacy(None).encoded_for_signing();
    assert_eq!(refused(&unsigned), ErrorKind::MissingChainId);
}

#[test]
fn refuses_chain_id_zero() {
    let mut tx = eip1559();
    tx.chain_id = 0;
    assert_eq!(
        refused(&tx.encoded_for_signing()),
        ErrorKind::MissingChainId
    );
    assert_eq!(
        refused(&legacy(Some(0)).encoded_for_signing()),
        ErrorKind::MissingChainId
    );
}

#[test]
fn refuses_signed_transactions() {
    let key = evm_key_n(8);
    let sign = |hash: B256| {
        let (r, s, v) = evm_sign(&key, &hash.0);
        Signature::from_scalars_and_parity(B256::from(r), B256::from(s), v == 1)
    };

    let tx = eip1559();
    let signature = sign(tx.signature_hash());
    let raw = TxEnvelope::from(tx.into_signed(signature)).encoded_2718();
    assert_eq!(refused(&raw), ErrorKind::AlreadySigned);

    let tx = eip2930();
    let signature = sign(tx.signature_hash());
    let raw = TxEnvelope::from(tx.into_signed(signature)).encoded_2718();
    assert_eq!(refused(&raw), ErrorKind::AlreadySigned);

    // EIP-155 signed legacy: v = chainId * 2 + 35 + y, r and s non-zero.
    let tx = legacy(Some(1));
    let signature = sign(tx.signature_hash());
    let raw = TxEnvelope::from(tx.into_signed(signature)).encoded_2718();
    assert_eq!(refused(&raw), ErrorKind::AlreadySigned);

    // Pre-EIP-155 signed legacy: v = 27 or 28.
    let tx = legacy(None);
    let signature = sign(tx.signature_hash());
    let raw = TxEnvelope::from(tx.into_signed(signature)).encoded_2718();
    assert_eq!(refused(&raw), ErrorKind::AlreadySigned);
}

#[test]
fn refuses_unsupported_types() {
    let blob = TxEip4844 {
        chain_id: 1,
        blob_versioned_hashes: vec![B256::repeat_byte(1)],
        ..Default::default()
    };
    assert_eq!(
        refused(&blob.encoded_for_signing()),
        ErrorKind::UnsupportedTransactionType
    );
    let set_code = TxEip7702 {
        chain_id: 1,
        ..Default::default()
    };
    assert_eq!(
        refused(&set_code.encoded_for_signing()),
        ErrorKind::UnsupportedTransactionType
    );
    for ty in [0x00u8, 0x05, 0x7f] {
        let mut bytes = eip1559().encoded_for_signing();
        bytes[0] = ty;
        assert_eq!(refused(&bytes), ErrorKind::UnsupportedTransactionType);
    }
}

#[test]
fn refuses_malformed_rlp() {
    let good = eip1559().encoded_for_signing();

    // Truncated.
    assert_eq!(refused(&good[..good.len() - 1]), ErrorKind::InvalidRlp);
    // Trailing bytes, typed and legacy.
    assert_eq!(
        refused(&[&good[..], &[0x00]].concat()),
        ErrorKind::InvalidRlp
    );
    let legacy_good = legacy(Some(1)).encoded_for_signing();
    assert_eq!(
        refused(&[&legacy_good[..], &[0x80]].concat()),
        ErrorKind::InvalidRlp
    );
    // An RLP string where a list or type byte belongs (network-wrapped form).
    let mut wrapped = Vec::new();
    alloy_rlp::Encodable::encode(&Bytes::from(good.clone()), &mut wrapped);
    assert_eq!(refused(&wrapped), ErrorKind::InvalidRlp);
    // Typed payload that is not a list.
    assert_eq!(refused(&[0x02, 0x83, 1, 2, 3]), ErrorKind::InvalidRlp);
    // Legacy with 7 or 8 fields, or 10.
    let fields = |n: usize| {
        let items: Vec<u8> = vec![0x80; n];
        let mut out = Vec::new();
        Header {
            list: true,
            payload_length: items.len(),
        }
        .encode(&mut out);
        out.extend_from_slice(&items);
        out
    };
    assert_eq!(refused(&fields(5)), ErrorKind::InvalidRlp);
    assert_eq!(refused(&fields(7)), ErrorKind::InvalidRlp);
    assert_eq!(refused(&fields(8)), ErrorKind::InvalidRlp);
    assert_eq!(refused(&fields(10)), ErrorKind::InvalidRlp);
    // Non-canonical integer (nonce 1 as 0x820001).
    let mut items = vec![0x82, 0x00, 0x01];
    items.extend_from_slice(&[0x80; 5]);
    items.extend_from_slice(&[0x01, 0x80, 0x80]);
    let mut non_canonical = Vec::new();
    Header {
        list: true,
        payload_length: items.len(),
    }
    .encode(&mut non_canonical);
    non_canonical.extend_from_slice(&items);
    assert_eq!(refused(&non_canonical), ErrorKind::InvalidRlp);
    // The same list with a canonical nonce is accepted: the refusal was the encoding.
    items.splice(0..3, [0x01]);
    let mut canonical = Vec::new();
    Header {
        list: true,
        payload_length: items.len(),
    }
    .encode(&mut canonical);
    canonical.extend_from_slice(&items);
    assert!(evm::prepare_transaction(&canonical).is_ok());
}

#[test]
fn refuses_empty_and_oversized() {
    assert_eq!(refused(&[]), ErrorKind::InvalidTransaction);
    let mut tx = eip1559();
    tx.input = Bytes::from(vec![0u8; evm::MAX_TRANSACTION_BYTES]);
    assert_eq!(refused(&tx.encoded_for_signing()), ErrorKind::TooLarge);
    tx.input = Bytes::from(vec![0u8; evm::MAX_TRANSACTION_BYTES - 100]);
    assert!(evm::prepare_transaction(&tx.encoded_for_signing()).is_ok());
}
