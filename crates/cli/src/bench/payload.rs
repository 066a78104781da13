//! What the simulated devices sign: every request differs, so no layer can cache a result.
//! EVM: `personal_sign` text, with every fourth request an EIP-1559 transfer; Solana:
//! off-chain messages.

use tandem_proto::sign::{Encoding, SignPayload};
use tandem_proto::wallet::Chain;

/// The `i`-th request of device `device` in run `run` on `chain`.
pub fn payload(chain: Chain, run: &str, device: usize, i: u64) -> SignPayload {
    match chain {
        Chain::Evm if i % 4 == 3 => SignPayload::EvmTransaction {
            transaction: eip1559_transfer(i, device as u64 + 1),
        },
        Chain::Evm => SignPayload::EvmMessage {
            message: format!("tandem bench {run}: device {device}, request {i}"),
            encoding: Encoding::Utf8,
        },
        Chain::Solana => SignPayload::SolanaMessage {
            message: format!("tandem bench {run}: device {device}, request {i}"),
            encoding: Encoding::Utf8,
        },
    }
}

/// `0x02 ‖ rlp([chainId 1, nonce, 1 gwei tip, 30 gwei max fee, 21000 gas, to, value, "", []])`,
/// hex: an unsigned mainnet EIP-1559 transfer.
pub fn eip1559_transfer(nonce: u64, value_wei: u64) -> String {
    let to = [0x11u8; 20];
    let mut fields = Vec::new();
    rlp::uint(&mut fields, 1);
    rlp::uint(&mut fields, u128::from(nonce));
    rlp::uint(&mut fields, 1_000_000_000);
    rlp::uint(&mut fields, 30_000_000_000);
    rlp::uint(&mut fields, 21_000);
    rlp::bytes(&mut fields, &to);
    rlp::uint(&mut fields, u128::from(value_wei));
    rlp::bytes(&mut fields, &[]);
    rlp::list(&mut fields, &[]);
    let mut tx = vec![0x02];
    rlp::list(&mut tx, &fields);
    format!("0x{}", hex::encode(tx))
}

/// The little RLP the transfer needs.
mod rlp {
    fn header(out: &mut Vec<u8>, short: u8, len: usize) {
        if len <= 55 {
            out.push(short + len as u8);
        } else {
            let be = len.to_be_bytes();
            let skip = be.iter().take_while(|&&b| b == 0).count();
            out.push(short + 55 + (be.len() - skip) as u8);
            out.extend_from_slice(&be[skip..]);
        }
    }

    pub fn bytes(out: &mut Vec<u8>, b: &[u8]) {
        match b {
            [single] if *single < 0x80 => out.push(*single),
            _ => {
                header(out, 0x80, b.len());
                out.extend_from_slice(b);
            }
        }
    }

    /// An integer: big-endian without leading zeros (0 is the empty string).
    pub fn uint(out: &mut Vec<u8>, v: u128) {
        let be = v.to_be_bytes();
        let skip = be.iter().take_while(|&&b| b == 0).count();
        bytes(out, &be[skip..]);
    }

    pub fn list(out: &mut Vec<u8>, payload: &[u8]) {
        header(out, 0xc0, payload.len());
        out.extend_from_slice(payload);
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn encodes_like_the_yellow_paper() {
            let enc = |f: &dyn Fn(&mut Vec<u8>)| {
                let mut v = Vec::new();
                f(&mut v);
                v
            };
            assert_eq!(enc(&|o| uint(o, 0)), [0x80]);
            assert_eq!(enc(&|o| uint(o, 15)), [0x0f]);
            assert_eq!(enc(&|o| uint(o, 1024)), [0x82, 0x04, 0x00]);
            assert_eq!(enc(&|o| bytes(o, b"dog")), [0x83, b'd', b'o', b'g']);
            assert_eq!(enc(&|o| list(o, &[])), [0xc0]);
            let long = [0xaau8; 56];
            let e = enc(&|o| bytes(o, &long));
            assert_eq!(&e[..2], &[0xb8, 56]);
            assert_eq!(e.len(), 58);
        }
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use tandem_proto::prepare::prepare;

    use super::*;

    #[test]
    fn payloads_parse_and_differ() {
        let sec1 =
            hex::decode("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
                .expect("hex");
        let ed = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
            .verifying_key()
            .to_bytes();
        let mut digests = std::collections::HashSet::new();
        for i in 0..8 {
            let p = prepare(&payload(Chain::Evm, "r1", 2, i), Chain::Evm, &sec1)
                .unwrap_or_else(|e| panic!("EVM payload {i} refused: {e:?}"));
            assert!(digests.insert(p.signing_input().to_vec()));
        }
        let tx = prepare(&payload(Chain::Evm, "r1", 2, 3), Chain::Evm, &sec1).expect("tx");
        assert_eq!(tx.intent()["kind"], "transaction", "{}", tx.intent());
        for i in 0..4 {
            let p = prepare(&payload(Chain::Solana, "r1", 2, i), Chain::Solana, &ed)
                .unwrap_or_else(|e| panic!("Solana payload {i} refused: {e:?}"));
            assert!(digests.insert(p.signing_input().to_vec()));
        }
    }
}
