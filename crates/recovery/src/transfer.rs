//! A share sealed to a key one device made for one purpose.
//!
//! Online export: the device makes a [`TransferKey`], sends its public half with the request,
//! and the server answers with its share sealed to it. TLS may end at a proxy and the server
//! relays many things; neither can read this, and the key dies with the request. The sealed
//! form is `version u8 (1) | enc (32) | ciphertext`, HPKE with `info` naming the purpose and
//! the wallet and epoch as associated data.

use core::fmt;

use zeroize::Zeroizing;

use crate::error::TransferError;
use crate::seal::{self, ENC_LEN, PrivateKey};

const VERSION: u8 = 1;

/// What a transfer is for; part of what the ciphertext is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The server's share, released for the user to combine the private key.
    Export,
}

impl Purpose {
    fn info(self) -> &'static [u8] {
        match self {
            Purpose::Export => b"tandem/transfer/v1/export",
        }
    }
}

/// The associated data binding a transfer to one wallet at one epoch.
pub fn context(wallet: &str, epoch: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(wallet.len() + 10);
    out.push(wallet.len().min(255) as u8);
    out.extend_from_slice(wallet.as_bytes());
    out.extend_from_slice(&epoch.to_be_bytes());
    out
}

/// A one-use X25519 key of the receiving device.
pub struct TransferKey {
    sk: PrivateKey,
    pk: [u8; 32],
}

impl TransferKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<TransferKey, TransferError> {
        let mut ikm = Zeroizing::new([0u8; 32]);
        getrandom::fill(ikm.as_mut()).map_err(|_| TransferError::Seal("no randomness"))?;
        let (sk, pk) = seal::derive_keypair(ikm.as_ref());
        Ok(TransferKey { sk, pk })
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.pk
    }

    /// Opens what [`seal`] made for this key, purpose and context.
    pub fn open(
        &self,
        purpose: Purpose,
        context: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, TransferError> {
        let (&version, rest) = sealed
            .split_first()
            .ok_or(TransferError::Malformed("empty"))?;
        if version != VERSION {
            return Err(TransferError::Malformed("unknown version"));
        }
        if rest.len() < ENC_LEN {
            return Err(TransferError::Malformed("truncated"));
        }
        let (enc, ct) = rest.split_at(ENC_LEN);
        let mut e = [0u8; ENC_LEN];
        e.copy_from_slice(enc);
        seal::open(&self.sk, &e, purpose.info(), context, ct).map_err(|()| TransferError::Open)
    }
}

impl fmt::Debug for TransferKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransferKey")
            .field("public", &hex::encode(self.pk))
            .finish_non_exhaustive()
    }
}

/// Seals `plaintext` to a device's transfer key.
pub fn seal(
    recipient: &[u8; 32],
    purpose: Purpose,
    context: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, TransferError> {
    let (enc, ct) =
        seal::seal(recipient, purpose.info(), context, plaintext).map_err(TransferError::Seal)?;
    let mut out = Vec::with_capacity(1 + ENC_LEN + ct.len());
    out.push(VERSION);
    out.extend_from_slice(&enc);
    out.extend_from_slice(&ct);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_for_its_key_purpose_and_context() {
        let key = TransferKey::generate().unwrap();
        let ctx = context("w_1", 3);
        let sealed = seal(&key.public_key(), Purpose::Export, &ctx, b"share").unwrap();
        assert_eq!(
            &key.open(Purpose::Export, &ctx, &sealed).unwrap()[..],
            b"share"
        );
        let other = TransferKey::generate().unwrap();
        assert_eq!(
            other.open(Purpose::Export, &ctx, &sealed),
            Err(TransferError::Open)
        );
        assert_eq!(
            key.open(Purpose::Export, &context("w_1", 4), &sealed),
            Err(TransferError::Open)
        );
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(
            key.open(Purpose::Export, &ctx, &flipped),
            Err(TransferError::Open)
        );
        assert!(!format!("{key:?}").is_empty());
    }
}
