//! FROST signing round bodies, reached through `Ceremony::receive` behind a valid header.
//! First byte: see `common::selector`. The shares come from one honest keygen per process.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use tandem_mpc::ed25519::Ed25519;
use tandem_mpc::{Protocol, Scheme};

fuzz_target!(|data: &[u8]| {
    let shares = common::ed25519_shares();
    common::fuzz_round(data, |role| {
        let ctx = common::context(Protocol::Ed25519Sign, 0);
        Ed25519::sign(common::share_of(shares, role), ctx, common::ED25519_MESSAGE)
            .expect("sign start")
    });
});
