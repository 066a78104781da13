//! The FROST key package (zeroized on drop by `frost-core`) plus the public package.

use frost_ed25519::Identifier;
use frost_ed25519::keys::{KeyPackage, PublicKeyPackage};
use serde::{Deserialize, Serialize};

use crate::envelope::decode_body;
use crate::error::{Error, Result};
use crate::role::Role;
use crate::scheme::ShareSecret;

#[derive(Clone)]
pub struct Ed25519Secret {
    pub(crate) key: KeyPackage,
    pub(crate) public: PublicKeyPackage,
}

#[derive(Serialize, Deserialize)]
struct Encoded {
    key: Vec<u8>,
    public: Vec<u8>,
}

pub(crate) fn identifier(role: Role) -> Result<Identifier> {
    Identifier::try_from(u16::from(role.index())).map_err(|_| Error::aborted("identifier"))
}

impl ShareSecret for Ed25519Secret {
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
        let mut encoded = Encoded {
            key: self.key.serialize().map_err(fail)?,
            public: self.public.serialize().map_err(fail)?,
        };
        let out = postcard::to_allocvec(&encoded)
            .map_err(|_| Error::aborted("share serialisation failed"));
        zeroize::Zeroize::zeroize(&mut encoded.key);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        let mut encoded: Encoded = decode_body(bytes)?;
        let key =
            KeyPackage::deserialize(&encoded.key).map_err(|_| Error::Malformed("key package"));
        zeroize::Zeroize::zeroize(&mut encoded.key);
        let key = key?;
        let public = PublicKeyPackage::deserialize(&encoded.public)
            .map_err(|_| Error::Malformed("public key package"))?;
        if *key.min_signers() != 2 || key.verifying_key() != public.verifying_key() {
            return Err(Error::Malformed("share is not a consistent 2-of-2"));
        }
        Ok(Ed25519Secret { key, public })
    }

    #[cfg(feature = "testing")]
    fn hazmat_secret_scalar(&self) -> zeroize::Zeroizing<Vec<u8>> {
        zeroize::Zeroizing::new(self.key.signing_share().serialize())
    }
}
