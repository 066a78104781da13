//! 10 000 ECDSA signatures on one key have 10 000 distinct `r` values (a repeated nonce
//! would reveal the key), and every one verifies independently.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::*;
use tandem_mpc::ecdsa::Secp256k1;

const SIGNATURES: u64 = 10_000;

#[test]
fn ten_thousand_signatures_have_distinct_r() {
    let wallet = wallet();
    let (device, server) = keygen::<Secp256k1>(&wallet);
    let shares = Arc::new((device, server));
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4) as u64;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let shares = Arc::clone(&shares);
            std::thread::spawn(move || {
                let (device, server) = &*shares;
                (t..SIGNATURES)
                    .step_by(threads as usize)
                    .map(|i| {
                        let msg = Secp256k1::message(i);
                        let sig = sign(device, server, msg.as_ref());
                        assert!(Secp256k1::independent_verify(
                            device.public_key(),
                            msg.as_ref(),
                            &sig
                        ));
                        sig.r
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for h in handles {
        for r in h.join().unwrap() {
            assert!(seen.insert(r), "repeated r value");
        }
    }
    assert_eq!(seen.len() as u64, SIGNATURES);
}
