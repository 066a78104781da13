//! DKLs23 signing round bodies, reached through `Ceremony::receive` behind a valid header.
//! First byte: see `common::selector`. The shares come from one honest keygen per process.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::{Protocol, Scheme};

fuzz_target!(|data: &[u8]| {
    let shares = common::ecdsa_shares();
    common::fuzz_round(data, |role| {
        let ctx = common::context(Protocol::EcdsaSign, 0);
        Secp256k1::sign(common::share_of(shares, role), ctx, &common::ECDSA_DIGEST)
            .expect("sign start")
    });
});
