//! secp256k1 export (x = 2·s₁ − s₂, Lagrange at 0 for indices {1, 2}) and import
//! (`dkls23::re_key` as a dealer on the device).

use core::marker::PhantomData;

use dkls23::protocols::re_key::re_key;
use k256::elliptic_curve::group::GroupEncoding;
use k256::elliptic_curve::{Field, PrimeField};
use k256::{ProjectivePoint, Scalar};
use zeroize::Zeroizing;

use super::Secp256k1;
use super::parties::parameters;
use super::secret::{Curve, EcdsaSecret};
use crate::context::{Nonce, WalletId};
use crate::error::{Error, Result};
use crate::keys::{ExportedShare, ImportedPair, ImportedShare, SecretKey};
use crate::role::Role;
use crate::share::KeyShare;

pub(crate) fn combine(
    device: &KeyShare<Secp256k1>,
    server: ExportedShare<Secp256k1>,
) -> Result<SecretKey<Secp256k1>> {
    let s1 = device.secret.0.poly_point;
    let s2 = server.0.secret.0.poly_point;
    let x = Zeroizing::new(s1.double() - s2);
    let public = (ProjectivePoint::GENERATOR * *x).to_affine();
    if public.to_bytes().as_slice() != device.public_key.as_slice() {
        return Err(Error::InvalidInput(
            "the two shares do not combine to the wallet key",
        ));
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    bytes.copy_from_slice(&x.to_repr());
    Ok(SecretKey {
        bytes,
        public_key: device.public_key.clone(),
        _scheme: PhantomData,
    })
}

pub(crate) fn import(secret_key: &[u8], wallet: WalletId) -> Result<ImportedPair<Secp256k1>> {
    let bytes: [u8; 32] = secret_key
        .try_into()
        .map_err(|_| Error::InvalidInput("a secp256k1 private key is 32 bytes"))?;
    let scalar: Option<Scalar> = Scalar::from_repr(bytes.into()).into();
    let scalar = Zeroizing::new(scalar.ok_or(Error::InvalidInput(
        "private key is not below the group order",
    ))?);
    if bool::from(scalar.is_zero()) {
        return Err(Error::InvalidInput("private key is zero"));
    }
    let session_id = Nonce::generate()?.0;
    let (mut parties, _package) =
        re_key::<Curve>(&parameters()?, &session_id, &scalar, None, |_| {
            String::new()
        });
    let server = parties
        .pop()
        .ok_or(Error::aborted("dealer produced no server share"))?;
    let device = parties
        .pop()
        .ok_or(Error::aborted("dealer produced no device share"))?;
    let device = KeyShare::new(Role::Device, wallet.clone(), 0, EcdsaSecret(device));
    let server = KeyShare::new(Role::Server, wallet, 0, EcdsaSecret(server));
    if device.role() != Role::Device || server.role() != Role::Server {
        return Err(Error::aborted("dealer assigned unexpected party indices"));
    }
    Ok(ImportedPair {
        device: ImportedShare(device),
        server: ImportedShare(server),
    })
}
