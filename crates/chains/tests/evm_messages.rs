//! personal_sign and EIP-712 typed data: digests, signatures, refusals.
// Tests may panic on unexpected values: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_primitives::{B256, Signature, eip191_hash_message, keccak256};
use common::{evm_key, evm_key_n, evm_public, evm_sign};
use tandem_chains::{ErrorKind, evm};

/// The `Mail` example from EIP-712, as `eth_signTypedData_v4` receives it.
const MAIL: &str = r#"{
  "types": {
    "EIP712Domain": [
      {"name": "name", "type": "string"},
      {"name": "version", "type": "string"},
      {"name": "chainId", "type": "uint256"},
      {"name": "verifyingContract", "type": "address"}
    ],
    "Person": [
      {"name": "name", "type": "string"},
      {"name": "wallet", "type": "address"}
    ],
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
}"#;

fn recover(digest: [u8; 32], signature: &[u8; 65]) -> String {
    // alloy's own recovery, independent of the crate's recover_address.
    Signature::from_raw_array(signature)
        .unwrap()
        .recover_address_from_prehash(&B256::from(digest))
        .unwrap()
        .to_checksum(None)
}

#[test]
fn personal_sign_digest_signature_and_intent() {
    let message = b"Sign in to Tandem\nnonce: 42";
    let prepared = evm::prepare_personal_sign(message);

    // EIP-191 by hand.
    let mut prefixed = format!("\x19Ethereum Signed Message:\n{}", message.len()).into_bytes();
    prefixed.extend_from_slice(message);
    assert_eq!(prepared.digest, keccak256(&prefixed).0);
    assert_eq!(prepared.digest, eip191_hash_message(message).0);

    let key = evm_key_n(1);
    let (r, s, v) = evm_sign(&key, &prepared.digest);
    let signed = evm::finish(&prepared, r, s, v).unwrap();
    assert!(signed.raw_transaction.is_none() && signed.transaction_hash.is_none());
    assert!(matches!(signed.signature[64], 27 | 28));
    let address = evm::address(&evm_public(&key, true)).unwrap();
    assert_eq!(recover(prepared.digest, &signed.signature), address);
    assert_eq!(
        evm::recover_address(&prepared, &signed.signature).unwrap(),
        address
    );
    // alloy's message-level recovery agrees too.
    let signature = Signature::from_raw_array(&signed.signature).unwrap();
    assert_eq!(
        signature
            .recover_address_from_msg(message)
            .unwrap()
            .to_checksum(None),
        address
    );

    let json = serde_json::to_value(&prepared.intent).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"kind": "personal_sign", "length": 27, "utf8": "Sign in to Tandem\nnonce: 42"})
    );
}

#[test]
fn personal_sign_intent_preview_is_bounded_and_utf8_only() {
    let long = "é".repeat(500);
    let evm::Intent::PersonalSign { length, utf8 } =
        evm::prepare_personal_sign(long.as_bytes()).intent
    else {
        panic!()
    };
    assert_eq!(length, 1000);
    assert_eq!(utf8.unwrap().chars().count(), 200);

    let evm::Intent::PersonalSign { utf8, .. } =
        evm::prepare_personal_sign(&[0xff, 0xfe, 0x00]).intent
    else {
        panic!()
    };
    assert_eq!(utf8, None);
}

#[test]
fn eip712_mail_example_digest_and_signature() {
    let prepared = evm::prepare_typed_data(MAIL).unwrap();
    assert_eq!(
        hex::encode(prepared.digest),
        "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"
    );
    assert_eq!(
        serde_json::to_value(&prepared.intent).unwrap(),
        serde_json::json!({
            "kind": "typed_data",
            "primary_type": "Mail",
            "domain_name": "Ether Mail",
            "chain_id": 1,
            "verifying_contract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"
        })
    );

    // The signature published in EIP-712 recovers to Cow.
    let mut published = [0u8; 65];
    published[..32].copy_from_slice(
        &hex::decode("4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d").unwrap(),
    );
    published[32..64].copy_from_slice(
        &hex::decode("07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562").unwrap(),
    );
    published[64] = 28;
    let cow = "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826";
    assert_eq!(evm::recover_address(&prepared, &published).unwrap(), cow);

    // Our own round trip with Cow's key.
    let key = evm_key(keccak256(b"cow").0);
    let (r, s, v) = evm_sign(&key, &prepared.digest);
    let signed = evm::finish(&prepared, r, s, v).unwrap();
    assert_eq!(recover(prepared.digest, &signed.signature), cow);
    assert!(signed.raw_transaction.is_none());
}

#[test]
fn typed_data_as_a_json_string_is_accepted() {
    let quoted = serde_json::to_string(MAIL).unwrap();
    let prepared = evm::prepare_typed_data(&quoted).unwrap();
    assert_eq!(
        prepared.digest,
        evm::prepare_typed_data(MAIL).unwrap().digest
    );
}

#[test]
fn typed_data_chain_id_as_hex_string_gives_the_same_digest() {
    let hex_chain = MAIL.replace(r#""chainId": 1"#, r#""chainId": "0x1""#);
    assert_eq!(
        evm::prepare_typed_data(&hex_chain).unwrap().digest,
        evm::prepare_typed_data(MAIL).unwrap().digest
    );
}

fn refuse(json: &str) -> tandem_chains::ChainError {
    let error = evm::prepare_typed_data(json).unwrap_err();
    assert_eq!(error.field, "typed_data", "{error}");
    error
}

#[test]
fn typed_data_refusals() {
    let invalid = [
        // Not JSON / not an object.
        "".to_owned(),
        "{".to_owned(),
        "[1, 2]".to_owned(),
        "\"not json inside\"".to_owned(),
        // Missing primaryType / types.
        MAIL.replace(r#""primaryType": "Mail","#, ""),
        // Primary type not defined.
        MAIL.replace(r#""primaryType": "Mail""#, r#""primaryType": "Letter""#),
        // Unknown field type.
        MAIL.replace(r#""type": "Person"}"#, r#""type": "Persona"}"#),
        // Value of the wrong type for an address.
        MAIL.replace(
            "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB",
            "not-an-address",
        ),
        // EIP712Domain missing, reordered, with a wrong type, or with an extra field.
        MAIL.replace(r#""EIP712Domain""#, r#""Unused""#),
        MAIL.replace(
            r#"{"name": "name", "type": "string"},
      {"name": "version", "type": "string"},"#,
            r#"{"name": "version", "type": "string"},
      {"name": "name", "type": "string"},"#,
        ),
        MAIL.replace(
            r#"{"name": "chainId", "type": "uint256"}"#,
            r#"{"name": "chainId", "type": "uint64"}"#,
        ),
        MAIL.replace(r#""version": "1","#, ""),
        // Unknown domain key.
        MAIL.replace(r#""version": "1","#, r#""version": "1", "extra": "x","#),
        // Numbers that JSON cannot carry exactly.
        MAIL.replace(r#""chainId": 1"#, r#""chainId": 1.5"#),
        MAIL.replace(r#""chainId": 1"#, r#""chainId": 100000000000000000000000"#),
        // Chain id beyond u64.
        MAIL.replace(r#""chainId": 1"#, r#""chainId": "0x10000000000000000""#),
    ];
    for json in invalid {
        let error = refuse(&json);
        assert_eq!(error.kind, ErrorKind::InvalidTypedData, "{json}: {error}");
    }
}

#[test]
fn typed_data_size_limit() {
    let padding = " ".repeat(evm::MAX_TYPED_DATA_BYTES);
    let error = refuse(&format!("{MAIL}{padding}"));
    assert_eq!(error.kind, ErrorKind::TooLarge);
    // Just under the limit is fine.
    let fits = format!(
        "{MAIL}{}",
        " ".repeat(evm::MAX_TYPED_DATA_BYTES - MAIL.len())
    );
    assert!(evm::prepare_typed_data(&fits).is_ok());
}

#[test]
fn finish_refuses_bad_signatures() {
    let prepared = evm::prepare_personal_sign(b"hello");
    let (r, s, v) = evm_sign(&evm_key_n(9), &prepared.digest);
    let kind = |r, s, v| evm::finish(&prepared, r, s, v).unwrap_err().kind;
    assert_eq!(kind(r, s, 2), ErrorKind::InvalidSignature);
    assert_eq!(kind(r, s, 27), ErrorKind::InvalidSignature);
    assert_eq!(kind([0; 32], s, v), ErrorKind::InvalidSignature);
    assert_eq!(kind(r, [0; 32], v), ErrorKind::InvalidSignature);
    assert_eq!(kind([0xff; 32], s, v), ErrorKind::InvalidSignature);
    assert_eq!(kind(r, [0xff; 32], v), ErrorKind::InvalidSignature);
    assert!(evm::recover_address(&prepared, &[0u8; 65]).is_err());
    let mut bad_v = evm::finish(&prepared, r, s, v).unwrap().signature;
    bad_v[64] = 29;
    assert_eq!(
        evm::recover_address(&prepared, &bad_v).unwrap_err().kind,
        ErrorKind::InvalidSignature
    );
}

#[test]
fn finish_normalizes_high_s() {
    let prepared = evm::prepare_personal_sign(b"malleable");
    let key = evm_key_n(5);
    let (r, s, v) = evm_sign(&key, &prepared.digest);
    // Build the high-s twin (r, n - s) with the parity flipped: the same key recovers from it.
    let n = alloy_primitives::U256::from_str_radix(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
        16,
    )
    .unwrap();
    let s_value = alloy_primitives::U256::from_be_bytes(s);
    let high_s: [u8; 32] = (n - s_value).to_be_bytes();
    let low = evm::finish(&prepared, r, s, v).unwrap();
    let from_high = evm::finish(&prepared, r, high_s, v ^ 1).unwrap();
    assert_eq!(low.signature, from_high.signature);
    assert!(
        alloy_primitives::U256::from_be_bytes::<32>(low.signature[32..64].try_into().unwrap())
            <= n >> 1
    );
    assert_eq!(
        recover(prepared.digest, &from_high.signature),
        evm::address(&evm_public(&key, false)).unwrap()
    );
}
