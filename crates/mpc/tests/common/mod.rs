//! Per-scheme glue for the generic suites: messages, independent verifiers, key material.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use ed25519_dalek::Verifier as _;
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use tandem_mpc::ecdsa::{EcdsaSignature, Secp256k1};
use tandem_mpc::ed25519::{Ed25519, Ed25519Signature};
use tandem_mpc::testing::{Pair, run_pair};
use tandem_mpc::{
    KeyShare, Operation, Protocol, RefreshMode, Role, Scheme, SessionContext, WalletId,
};

/// What a generic test needs to know about a scheme beyond [`Scheme`].
pub trait Suite: Scheme {
    type Msg: AsRef<Self::Message>;
    fn message(i: u64) -> Self::Msg;
    /// A verifier that shares no code with tandem-mpc.
    fn independent_verify(
        public_key: &[u8],
        message: &Self::Message,
        sig: &Self::Signature,
    ) -> bool;
    /// Public key of a freshly drawn private key, and the key bytes as `import` takes them.
    fn random_key() -> (Vec<u8>, Vec<u8>);
    /// Public key for exported secret key bytes, computed independently.
    fn public_of_export(secret: &[u8; 32]) -> Vec<u8>;
}

pub struct Msg32([u8; 32]);
impl AsRef<[u8; 32]> for Msg32 {
    fn as_ref(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Suite for Secp256k1 {
    type Msg = Msg32;
    fn message(i: u64) -> Msg32 {
        use k256::sha2::{Digest, Sha256};
        Msg32(Sha256::digest(format!("message {i}")).into())
    }
    fn independent_verify(public_key: &[u8], digest: &[u8; 32], sig: &EcdsaSignature) -> bool {
        let key = k256::ecdsa::VerifyingKey::from_sec1_bytes(public_key).unwrap();
        let Ok(s) = k256::ecdsa::Signature::from_slice(&sig.to_bytes()) else {
            return false;
        };
        let low_s = s.normalize_s() == s;
        let recovered = k256::ecdsa::RecoveryId::from_byte(sig.recovery_id)
            .and_then(|id| k256::ecdsa::VerifyingKey::recover_from_prehash(digest, &s, id).ok());
        low_s && key.verify_prehash(digest, &s).is_ok() && recovered == Some(key)
    }
    fn random_key() -> (Vec<u8>, Vec<u8>) {
        let mut bytes = [0u8; 32];
        loop {
            getrandom::fill(&mut bytes).unwrap();
            if let Ok(sk) = k256::ecdsa::SigningKey::from_slice(&bytes) {
                let pk = sk.verifying_key().to_sec1_bytes().to_vec();
                return (pk, bytes.to_vec());
            }
        }
    }
    fn public_of_export(secret: &[u8; 32]) -> Vec<u8> {
        let sk = k256::ecdsa::SigningKey::from_slice(secret).unwrap();
        sk.verifying_key().to_sec1_bytes().to_vec()
    }
}

pub struct MsgBytes(Vec<u8>);
impl AsRef<[u8]> for MsgBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Suite for Ed25519 {
    type Msg = MsgBytes;
    fn message(i: u64) -> MsgBytes {
        // Varying lengths, including empty and longer than one SHA-512 block.
        MsgBytes((0..(i % 300)).map(|j| (i ^ j) as u8).collect())
    }
    fn independent_verify(public_key: &[u8], message: &[u8], sig: &Ed25519Signature) -> bool {
        let key = ed25519_dalek::VerifyingKey::from_bytes(public_key.try_into().unwrap()).unwrap();
        let s = ed25519_dalek::Signature::from_bytes(&sig.0);
        key.verify_strict(message, &s).is_ok() && key.verify(message, &s).is_ok()
    }
    fn random_key() -> (Vec<u8>, Vec<u8>) {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).unwrap();
        let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
        (sk.verifying_key().to_bytes().to_vec(), seed.to_vec())
    }
    fn public_of_export(secret: &[u8; 32]) -> Vec<u8> {
        let scalar = curve25519_dalek::Scalar::from_canonical_bytes(*secret).unwrap();
        curve25519_dalek::EdwardsPoint::mul_base(&scalar)
            .compress()
            .to_bytes()
            .to_vec()
    }
}

pub fn wallet() -> WalletId {
    WalletId::new("wallet-test").unwrap()
}

pub fn ctx<S: Scheme>(op: Operation, wallet: &WalletId, epoch: u64) -> SessionContext {
    SessionContext::fresh(Protocol::for_op(S::ID, op), wallet.clone(), epoch).unwrap()
}

pub fn keygen_pair<S: Scheme>(
    ctx: SessionContext,
) -> tandem_mpc::Result<Pair<S::Keygen, S::Keygen>> {
    Ok((
        S::keygen(Role::Device, ctx.clone())?,
        S::keygen(Role::Server, ctx)?,
    ))
}

pub fn keygen<S: Scheme>(wallet: &WalletId) -> (KeyShare<S>, KeyShare<S>) {
    let (d, s, _) =
        run_pair(keygen_pair::<S>(ctx::<S>(Operation::Keygen, wallet, 0)).unwrap()).unwrap();
    assert_eq!(d.public_key(), s.public_key());
    (d, s)
}

pub fn sign_pair<S: Scheme>(
    device: &KeyShare<S>,
    server: &KeyShare<S>,
    message: &S::Message,
    ctx: SessionContext,
) -> tandem_mpc::Result<Pair<S::Sign, S::Sign>> {
    Ok((
        S::sign(device, ctx.clone(), message)?,
        S::sign(server, ctx, message)?,
    ))
}

pub fn sign<S: Scheme>(
    device: &KeyShare<S>,
    server: &KeyShare<S>,
    message: &S::Message,
) -> S::Signature {
    let ctx = ctx::<S>(Operation::Sign, device.wallet(), device.epoch());
    let (d, s, _) = run_pair(sign_pair(device, server, message, ctx).unwrap()).unwrap();
    assert_eq!(d, s, "both parties must finish with the same signature");
    d
}

pub fn refresh_pair<S: Scheme>(
    device: &KeyShare<S>,
    server: &KeyShare<S>,
    mode: RefreshMode,
    ctx: SessionContext,
) -> tandem_mpc::Result<Pair<S::Refresh, S::Refresh>> {
    Ok((
        S::refresh(device, ctx.clone(), mode)?,
        S::refresh(server, ctx, mode)?,
    ))
}

pub fn refresh<S: Scheme>(
    device: &KeyShare<S>,
    server: &KeyShare<S>,
    mode: RefreshMode,
) -> (KeyShare<S>, KeyShare<S>) {
    let ctx = ctx::<S>(mode.operation(), device.wallet(), device.epoch());
    let (d, s, _) = run_pair(refresh_pair(device, server, mode, ctx).unwrap()).unwrap();
    (d, s)
}
