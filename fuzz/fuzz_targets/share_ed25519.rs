//! The Ed25519 (FROST) share codec: `KeyShare`, `ExportedShare` and `ImportedShare`
//! `from_bytes`, and re-encoding whatever they accept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_mpc::ed25519::Ed25519;
use tandem_mpc::{ExportedShare, ImportedShare, KeyShare};

fuzz_target!(|data: &[u8]| {
    if let Ok(share) = KeyShare::<Ed25519>::from_bytes(data) {
        let _ = share.to_bytes();
    }
    if let Ok(share) = ExportedShare::<Ed25519>::from_bytes(data) {
        let _ = share.to_bytes();
    }
    if let Ok(share) = ImportedShare::<Ed25519>::from_bytes(data) {
        let _ = share.to_bytes();
    }
});
