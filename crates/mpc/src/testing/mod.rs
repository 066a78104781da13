//! Test support, compiled only with the `testing` feature: an in-memory two-party driver and
//! the adversarial harness later issues reuse against the real server and SDK.

mod adversary;
mod fields;

pub use crate::local::{Pair, Transcript, run_pair};
pub use adversary::{
    Attack, HopReport, OtField, Outcome, droppable_battery, rebind_ecdsa_sign, reflect_ecdsa_sign,
    run_with_attack, tamper_ecdsa_sign_ot,
};
pub use fields::{
    BadLength, BadPoint, BadScalar, Mutation, SignField, mutate_sign_field, signing_fields,
};
