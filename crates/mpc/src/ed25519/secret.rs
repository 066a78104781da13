//! The FROST key package (zeroized on drop by `frost-core`) plus the public package.
//!
//! Share format 2 stores the signing share, this party's identifier and the serialised public
//! package, not FROST's key package. Deserialising a FROST point decompresses it and checks
//! that it is torsion-free (a scalar multiplication by the group order): five points per
//! share, about 0.25 ms, paid on every signature by both parties when they open their share.
//! The public package is public data, so its decoded form is kept in a small process-wide
//! cache keyed by the hash of its bytes; the key package is rebuilt from the signing share and
//! the cached public values. Nothing secret is cached. What is decoded is what the party
//! itself wrote and sealed (an AEAD protects it at rest on both sides), and it was validated
//! when it was first decoded in this process, or by the ceremony that produced it.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use frost_ed25519::Identifier;
use frost_ed25519::keys::{KeyPackage, PublicKeyPackage, SigningShare};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::envelope::decode_body;
use crate::error::{Error, Result};
use crate::role::Role;
use crate::scheme::ShareSecret;

#[derive(Clone)]
pub struct Ed25519Secret {
    pub(crate) key: KeyPackage,
    pub(crate) public: PublicKeyPackage,
}

/// Share format 1.
#[derive(Serialize, Deserialize)]
struct EncodedV1 {
    key: Vec<u8>,
    public: Vec<u8>,
}

/// Share format 2.
#[derive(Serialize, Deserialize)]
struct EncodedV2 {
    identifier: u16,
    signing_share: Vec<u8>,
    public: Vec<u8>,
}

pub(crate) fn identifier(role: Role) -> Result<Identifier> {
    Identifier::try_from(u16::from(role.index())).map_err(|_| Error::aborted("identifier"))
}

/// Decoded public packages by the SHA-256 of their encoding. Bounded: emptied when full
/// (a server with more wallets than this decodes the others as before).
const PUBLIC_CACHE_MAX: usize = 4096;

fn public_package(bytes: &[u8]) -> Result<PublicKeyPackage> {
    static CACHE: OnceLock<Mutex<HashMap<[u8; 32], PublicKeyPackage>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let digest: [u8; 32] = Sha256::digest(bytes).into();
    if let Some(found) = cache.lock().ok().and_then(|c| c.get(&digest).cloned()) {
        return Ok(found);
    }
    let decoded =
        PublicKeyPackage::deserialize(bytes).map_err(|_| Error::Malformed("public key package"))?;
    if let Ok(mut c) = cache.lock() {
        if c.len() >= PUBLIC_CACHE_MAX {
            c.clear();
        }
        c.insert(digest, decoded.clone());
    }
    Ok(decoded)
}

impl Ed25519Secret {
    fn checked(key: KeyPackage, public: PublicKeyPackage) -> Result<Self> {
        if *key.min_signers() != 2
            || key.verifying_key() != public.verifying_key()
            || public.verifying_shares().len() != 2
            || public.verifying_shares().get(key.identifier()) != Some(key.verifying_share())
        {
            return Err(Error::Malformed("share is not a consistent 2-of-2"));
        }
        Ok(Ed25519Secret { key, public })
    }

    fn decode_v1(bytes: &[u8]) -> Result<Self> {
        let mut encoded: EncodedV1 = decode_body(bytes)?;
        let key =
            KeyPackage::deserialize(&encoded.key).map_err(|_| Error::Malformed("key package"));
        zeroize::Zeroize::zeroize(&mut encoded.key);
        let public = public_package(&encoded.public)?;
        Self::checked(key?, public)
    }

    fn decode_v2(bytes: &[u8]) -> Result<Self> {
        let mut encoded: EncodedV2 = decode_body(bytes)?;
        let signing_share = SigningShare::deserialize(&encoded.signing_share)
            .map_err(|_| Error::Malformed("signing share"));
        zeroize::Zeroize::zeroize(&mut encoded.signing_share);
        let signing_share = signing_share?;
        let identifier =
            Identifier::try_from(encoded.identifier).map_err(|_| Error::Malformed("identifier"))?;
        let public = public_package(&encoded.public)?;
        let verifying_share = *public
            .verifying_shares()
            .get(&identifier)
            .ok_or(Error::Malformed("identifier not in the public package"))?;
        let key = KeyPackage::new(
            identifier,
            signing_share,
            verifying_share,
            *public.verifying_key(),
            2,
        );
        Self::checked(key, public)
    }
}

impl ShareSecret for Ed25519Secret {
    const FORMAT: u8 = 2;

    fn public_key(&self) -> Vec<u8> {
        self.key.verifying_key().serialize().unwrap_or_default()
    }

    fn role(&self) -> Option<Role> {
        [Role::Device, Role::Server]
            .into_iter()
            .find(|r| identifier(*r).ok().as_ref() == Some(self.key.identifier()))
    }

    fn encode(&self) -> Result<Vec<u8>> {
        let fail = |_| Error::aborted("share serialisation failed");
        let identifier = self
            .role()
            .map(|r| u16::from(r.index()))
            .ok_or(Error::aborted("share identifier is not a Tandem role"))?;
        let mut encoded = EncodedV2 {
            identifier,
            signing_share: self.key.signing_share().serialize(),
            public: self.public.serialize().map_err(fail)?,
        };
        let out = postcard::to_allocvec(&encoded)
            .map_err(|_| Error::aborted("share serialisation failed"));
        zeroize::Zeroize::zeroize(&mut encoded.signing_share);
        out
    }

    fn decode(bytes: &[u8], format: u8) -> Result<Self> {
        match format {
            1 => Self::decode_v1(bytes),
            _ => Self::decode_v2(bytes),
        }
    }

    #[cfg(feature = "testing")]
    fn hazmat_secret_scalar(&self) -> zeroize::Zeroizing<Vec<u8>> {
        zeroize::Zeroizing::new(self.key.signing_share().serialize())
    }
}
