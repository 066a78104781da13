//! FROST DKG round bodies, reached through `Ceremony::receive` behind a valid header.
//! First byte: see `common::selector`.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use tandem_mpc::ed25519::Ed25519;
use tandem_mpc::{Protocol, Scheme};

fuzz_target!(|data: &[u8]| {
    common::fuzz_round(data, |role| {
        Ed25519::keygen(role, common::context(Protocol::Ed25519Keygen, 0)).expect("keygen start")
    });
});
