//! EVM addresses from public keys, and EIP-55 checksums.
// Tests may panic on unexpected values: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_primitives::Address;
use common::{evm_key, evm_key_n, evm_public};
use tandem_chains::{ErrorKind, evm};

#[test]
fn known_private_keys_give_known_addresses() {
    // Widely published: private key 1, 2, 3 and Hardhat's account #0.
    let cases = [
        (evm_key_n(1), "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"),
        (evm_key_n(2), "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF"),
        (evm_key_n(3), "0x6813Eb9362372EEF6200f3b1dbC3f819671cBA69"),
        (
            evm_key(
                hex::decode("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
                    .unwrap()
                    .try_into()
                    .unwrap(),
            ),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        ),
    ];
    for (key, expected) in cases {
        assert_eq!(evm::address(&evm_public(&key, true)).unwrap(), expected);
        assert_eq!(evm::address(&evm_public(&key, false)).unwrap(), expected);
    }
}

#[test]
fn eip712_cow_key_gives_the_eip_address() {
    // EIP-712's example signer: private key keccak256("cow").
    let key = evm_key(alloy_primitives::keccak256(b"cow").0);
    assert_eq!(
        evm::address(&evm_public(&key, true)).unwrap(),
        "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"
    );
}

#[test]
fn output_is_eip55_checksummed() {
    // The EIP-55 test vectors, checked on an address this crate outputs: the
    // `to` of a transaction intent (we cannot know the keys behind them).
    for expected in [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ] {
        let to: Address = expected.to_lowercase().parse().unwrap();
        let tx = alloy_consensus::TxEip1559 {
            chain_id: 1,
            to: to.into(),
            gas_limit: 21_000,
            ..Default::default()
        };
        let unsigned = alloy_consensus::SignableTransaction::encoded_for_signing(&tx);
        let prepared = evm::prepare_transaction(&unsigned).unwrap();
        let evm::Intent::Transaction { to, .. } = prepared.intent else {
            panic!("not a transaction intent")
        };
        assert_eq!(to.as_deref(), Some(expected));
    }
}

#[test]
fn refuses_malformed_public_keys() {
    let key = evm_public(&evm_key_n(7), true);
    let cases: Vec<Vec<u8>> = vec![
        vec![],
        key[1..].to_vec(),                                          // missing tag
        [&key[..], &[0]].concat(),                                  // too long
        [&[0x04], &key[1..]].concat(), // 33 bytes with the uncompressed tag
        [&[0x06], &evm_public(&evm_key_n(7), false)[1..]].concat(), // hybrid encoding
        vec![0x00],                    // identity
        {
            // x = 5 is not the x-coordinate of a curve point (5^3 + 7 = 132 is a non-residue).
            let mut bad = vec![0x02];
            bad.extend_from_slice(&[0; 31]);
            bad.push(5);
            bad
        },
    ];
    for bad in cases {
        let error = evm::address(&bad).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidPublicKey, "{bad:02x?}");
        assert_eq!(error.field, "public_key");
        assert!(error.to_string().starts_with("public_key: "));
    }
}
