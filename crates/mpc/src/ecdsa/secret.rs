//! The DKLs23 party state as our share secret.

use dkls23::protocols::Party;
use k256::elliptic_curve::group::GroupEncoding;

use crate::envelope::decode_body;
use crate::error::{Error, Result};
use crate::role::Role;
use crate::scheme::ShareSecret;

pub(crate) type Curve = k256::Secp256k1;

/// `dkls23`'s `Party` (key share, zero-share seeds, OT/multiplication state). It zeroizes
/// itself on drop.
#[derive(Clone)]
pub struct EcdsaSecret(pub(crate) Party<Curve>);

impl ShareSecret for EcdsaSecret {
    const FORMAT: u8 = 1;

    fn public_key(&self) -> Vec<u8> {
        self.0.pk.to_bytes().to_vec()
    }

    fn role(&self) -> Option<Role> {
        Role::from_index(self.0.party_index.as_u8())
    }

    fn encode(&self) -> Result<Vec<u8>> {
        postcard::to_allocvec(&self.0).map_err(|_| Error::aborted("share serialisation failed"))
    }

    // The same encoding in every share format version so far.
    fn decode(bytes: &[u8], _format: u8) -> Result<Self> {
        let party: Party<Curve> = decode_body(bytes)?;
        if party.parameters.threshold != 2 || party.parameters.share_count != 2 {
            return Err(Error::Malformed("share is not 2-of-2"));
        }
        Ok(EcdsaSecret(party))
    }

    #[cfg(feature = "testing")]
    fn hazmat_secret_scalar(&self) -> zeroize::Zeroizing<Vec<u8>> {
        zeroize::Zeroizing::new(self.0.poly_point.to_bytes().to_vec())
    }
}
