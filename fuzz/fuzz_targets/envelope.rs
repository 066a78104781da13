//! The envelope decoder (`tandem_mpc::decode`) and the header check that follows it.
#![no_main]

mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tandem_mpc::{Protocol, Role, SessionContext};

fuzz_target!(|data: &[u8]| {
    static CTX: OnceLock<SessionContext> = OnceLock::new();
    if let Ok(envelope) = tandem_mpc::decode(data) {
        let ctx = CTX.get_or_init(|| common::context(Protocol::EcdsaSign, 0));
        let _ = envelope.check(ctx, Role::Device, 1);
        let _ = envelope.check(ctx, Role::Server, envelope.round);
    }
});
