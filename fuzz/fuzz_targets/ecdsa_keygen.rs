//! DKLs23 keygen round bodies, reached through `Ceremony::receive` behind a valid header.
//! First byte: see `common::selector`. Rounds 2 and 3 run the honest rounds before them
//! (hundreds of milliseconds per input); round 1 is cheap.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::{Protocol, Scheme};

fuzz_target!(|data: &[u8]| {
    common::fuzz_round(data, |role| {
        Secp256k1::keygen(role, common::context(Protocol::EcdsaKeygen, 0)).expect("keygen start")
    });
});
