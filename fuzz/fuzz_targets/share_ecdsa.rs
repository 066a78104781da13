//! The secp256k1 (DKLs23) share codec: `KeyShare`, `ExportedShare` and `ImportedShare`
//! `from_bytes`, and re-encoding whatever they accept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::{ExportedShare, ImportedShare, KeyShare};

fuzz_target!(|data: &[u8]| {
    if let Ok(share) = KeyShare::<Secp256k1>::from_bytes(data) {
        let _ = share.to_bytes();
    }
    if let Ok(share) = ExportedShare::<Secp256k1>::from_bytes(data) {
        let _ = share.to_bytes();
    }
    if let Ok(share) = ImportedShare::<Secp256k1>::from_bytes(data) {
        let _ = share.to_bytes();
    }
});
