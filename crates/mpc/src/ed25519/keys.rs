//! Ed25519 export (Lagrange reconstruction of the scalar) and import (an RFC 8032 seed,
//! expanded and clamped as RFC 8032 §5.1.5 says, then split by a dealer on the device).
//!
//! Why an exported key is not a seed: RFC 8032 derives the signing scalar as
//! `clamp(SHA-512(seed)[..32])`. A DKG-born key is a random scalar that was never the
//! output of that hash, and the hash cannot be inverted, so no seed exists for it. Wallets
//! that only import a 32-byte seed (Phantom, Solflare) therefore cannot take it. What we
//! export is the scalar, plus [`SecretKey::ed25519_expanded`] for tools that accept an
//! expanded secret key (`ed25519-dalek` hazmat `ExpandedSecretKey`).

use core::marker::PhantomData;

use curve25519_dalek::{EdwardsPoint, Scalar};
use frost_ed25519::keys::{IdentifierList, KeyPackage};
use rand_core::OsRng;
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use super::Ed25519;
use super::secret::Ed25519Secret;
use crate::context::WalletId;
use crate::error::{Error, Result};
use crate::keys::{ExportedShare, ImportedPair, ImportedShare, SecretKey};
use crate::role::Role;
use crate::share::KeyShare;

pub(crate) fn combine(
    device: &KeyShare<Ed25519>,
    server: ExportedShare<Ed25519>,
) -> Result<SecretKey<Ed25519>> {
    let packages = [device.secret.key.clone(), server.0.secret.key.clone()];
    let key = frost_ed25519::keys::reconstruct(&packages)
        .map_err(|_| Error::InvalidInput("the shares do not reconstruct"))?;
    let scalar = Zeroizing::new(key.to_scalar());
    let public = EdwardsPoint::mul_base(&scalar).compress();
    if public.as_bytes().as_slice() != device.public_key.as_slice() {
        return Err(Error::InvalidInput(
            "the two shares do not combine to the wallet key",
        ));
    }
    Ok(SecretKey {
        bytes: Zeroizing::new(scalar.to_bytes()),
        public_key: device.public_key.clone(),
        _scheme: PhantomData,
    })
}

impl SecretKey<Ed25519> {
    /// `scalar || prefix` as 64 bytes, the layout of an expanded Ed25519 secret key. The
    /// nonce prefix is derived from the scalar so that signing with it stays deterministic.
    pub fn ed25519_expanded(&self) -> Zeroizing<[u8; 64]> {
        let mut h = Sha512::new();
        h.update(b"tandem/ed25519-export/nonce-prefix/v1");
        h.update(self.bytes.as_slice());
        let digest = Zeroizing::new(h.finalize());
        let mut out = Zeroizing::new([0u8; 64]);
        out[..32].copy_from_slice(self.bytes.as_slice());
        out[32..].copy_from_slice(&digest[..32]);
        out
    }
}

pub(crate) fn import(seed: &[u8], wallet: WalletId) -> Result<ImportedPair<Ed25519>> {
    let seed: &[u8; 32] = seed
        .try_into()
        .map_err(|_| Error::InvalidInput("an Ed25519 seed is 32 bytes"))?;
    let digest = Zeroizing::new(Sha512::digest(seed));
    let mut clamped = Zeroizing::new([0u8; 32]);
    clamped.copy_from_slice(&digest[..32]);
    clamped[0] &= 248;
    clamped[31] &= 127;
    clamped[31] |= 64;
    let scalar = Zeroizing::new(Scalar::from_bytes_mod_order(*clamped));
    let signing_key = frost_ed25519::SigningKey::from_scalar(*scalar)
        .map_err(|_| Error::InvalidInput("seed yields a zero scalar"))?;
    let (shares, public) =
        frost_ed25519::keys::split(&signing_key, 2, 2, IdentifierList::Default, &mut OsRng)
            .map_err(|_| Error::aborted("dealer failed to split the key"))?;
    let mut pair = [None, None];
    for (_, share) in shares {
        let key = KeyPackage::try_from(share).map_err(|_| Error::aborted("dealt share invalid"))?;
        let secret = Ed25519Secret {
            key,
            public: public.clone(),
        };
        let role =
            crate::scheme::ShareSecret::role(&secret).ok_or(Error::aborted("dealt identifier"))?;
        pair[usize::from(role.index() - 1)] = Some(KeyShare::new(role, wallet.clone(), 0, secret));
    }
    let [Some(device), Some(server)] = pair else {
        return Err(Error::aborted("dealer did not produce both shares"));
    };
    if device.role() != Role::Device {
        return Err(Error::aborted("dealer assigned unexpected identifiers"));
    }
    Ok(ImportedPair {
        device: ImportedShare(device),
        server: ImportedShare(server),
    })
}
