//! The one HPKE suite everything here uses (RFC 9180 base mode): DHKEM(X25519, HKDF-SHA256),
//! HKDF-SHA256, ChaCha20-Poly1305. `info` names the purpose and its version, `aad` binds the
//! context (wallet, epoch, ...), so a ciphertext made for one purpose or wallet never opens as
//! another.

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use zeroize::Zeroizing;

pub(crate) type Kem = X25519HkdfSha256;
pub(crate) type PrivateKey = <Kem as hpke::Kem>::PrivateKey;

/// Length of an encapsulated key and of a public key.
pub(crate) const ENC_LEN: usize = 32;

/// Derives a key pair from 32 bytes of keying material (RFC 9180 `DeriveKeyPair`).
pub(crate) fn derive_keypair(ikm: &[u8]) -> (PrivateKey, [u8; 32]) {
    let (sk, pk) = Kem::derive_keypair(ikm);
    (sk, public_bytes(&pk))
}

fn public_bytes(pk: &<Kem as hpke::Kem>::PublicKey) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&pk.to_bytes());
    out
}

/// Seals `plaintext` to `recipient`. Errors only on a public key that is not a curve point
/// HPKE accepts (all-zero output).
pub(crate) fn seal(
    recipient: &[u8; 32],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<([u8; ENC_LEN], Vec<u8>), &'static str> {
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(recipient)
        .map_err(|_| "the recipient key is not an X25519 public key")?;
    let (enc, ct) = hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, Kem>(
        &OpModeS::Base,
        &pk,
        info,
        plaintext,
        aad,
    )
    .map_err(|_| "the recipient key is unusable")?;
    let mut out = [0u8; ENC_LEN];
    out.copy_from_slice(&enc.to_bytes());
    Ok((out, ct))
}

/// Opens what [`seal`] made. Any failure (wrong key, altered bytes, other context) is one
/// error: telling them apart would only help someone probing.
pub(crate) fn open(
    sk: &PrivateKey,
    enc: &[u8; ENC_LEN],
    info: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, ()> {
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).map_err(|_| ())?;
    hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, Kem>(
        &OpModeR::Base,
        sk,
        &enc,
        info,
        ciphertext,
        aad,
    )
    .map(Zeroizing::new)
    .map_err(|_| ())
}
