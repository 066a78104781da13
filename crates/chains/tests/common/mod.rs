//! Helpers shared by the integration tests. Each test binary uses a subset.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use k256::ecdsa::SigningKey;

/// A secp256k1 key from a big-endian scalar.
pub fn evm_key(scalar: [u8; 32]) -> SigningKey {
    SigningKey::from_slice(&scalar).expect("valid scalar")
}

/// A secp256k1 key whose scalar is the small integer `n`.
pub fn evm_key_n(n: u8) -> SigningKey {
    let mut scalar = [0u8; 32];
    scalar[31] = n;
    evm_key(scalar)
}

/// SEC1 public key, compressed or not.
pub fn evm_public(key: &SigningKey, compressed: bool) -> Vec<u8> {
    key.verifying_key()
        .to_sec1_point(compressed)
        .as_bytes()
        .to_vec()
}

/// Plain (non-MPC) ECDSA over a prehash: `(r, s, recovery_id)`.
pub fn evm_sign(key: &SigningKey, digest: &[u8; 32]) -> ([u8; 32], [u8; 32], u8) {
    let (signature, recovery_id) = key.sign_prehash_recoverable(digest);
    let (r, s) = signature.split_bytes();
    (
        r.as_slice().try_into().expect("32 bytes"),
        s.as_slice().try_into().expect("32 bytes"),
        recovery_id.to_byte(),
    )
}

/// Deterministic Ed25519 key from a one-byte seed.
pub fn sol_key(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

/// Tiny deterministic PRNG (xorshift64*) so the fuzz-ish tests need no extra crates.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }

    /// A copy of `input` with a few random byte changes, insertions or deletions.
    pub fn mutate(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..=self.below(4) {
            match self.below(3) {
                0 if !out.is_empty() => {
                    let i = self.below(out.len());
                    out[i] = self.next_u64() as u8;
                }
                1 => {
                    let i = self.below(out.len() + 1);
                    out.insert(i, self.next_u64() as u8);
                }
                _ if !out.is_empty() => {
                    let i = self.below(out.len());
                    out.remove(i);
                }
                _ => {}
            }
        }
        out
    }
}
