//! Binding what the server says about a wallet to the key this device holds.
//!
//! The server's `address` and `public_key` are claims: a database writer or a malicious
//! server could make them anyone's. The device derives the address itself (with
//! `tandem-chains`) from the public key of its own share, and refuses a wallet whose reported
//! key or address differs, so nothing it shows, and no signer it builds, carries an address
//! its key pair does not control. A device without a share of the wallet can only check that
//! the reported address is the one of the reported key.

use tandem_mpc::KeyShare;
use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::ed25519::Ed25519;
use tandem_proto::scheme::address_for;
use tandem_proto::wallet::{Chain, WalletInfo};

use crate::error::ClientError;

/// The public key and chain recorded in a share (the share records its scheme).
pub(crate) fn share_key(share: &[u8]) -> Option<(Chain, Vec<u8>)> {
    if let Ok(s) = KeyShare::<Secp256k1>::from_bytes(share) {
        return Some((Chain::Evm, s.public_key().to_vec()));
    }
    KeyShare::<Ed25519>::from_bytes(share)
        .ok()
        .map(|s| (Chain::Solana, s.public_key().to_vec()))
}

/// Refuses `wallet` unless its chain, public key and address are those of `share` (the key
/// and chain of the device's share, when it holds one).
pub(crate) fn check(wallet: &WalletInfo, share: Option<(Chain, &[u8])>) -> Result<(), ClientError> {
    let refuse = |what: &'static str| ClientError::WalletMismatch {
        wallet: wallet.id.clone(),
        what,
    };
    let key = match share {
        Some((chain, key)) => {
            if chain != wallet.chain {
                return Err(refuse("a chain"));
            }
            if hex::encode(key) != wallet.public_key.to_ascii_lowercase() {
                return Err(refuse("a public key"));
            }
            key.to_vec()
        }
        None => hex::decode(&wallet.public_key).map_err(|_| refuse("an unreadable public key"))?,
    };
    let derived = address_for(wallet.chain, &key).map_err(|_| refuse("an invalid public key"))?;
    if derived != wallet.address {
        return Err(refuse("an address"));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use tandem_proto::wallet::WalletStatus;

    use super::*;

    fn wallet(public_key: &[u8], address: &str) -> WalletInfo {
        WalletInfo {
            id: "w1".into(),
            chain: Chain::Evm,
            address: address.into(),
            public_key: hex::encode(public_key),
            epoch: 0,
            status: WalletStatus::Active,
            created_at: 0,
            exported_at: None,
        }
    }

    #[test]
    fn only_the_address_of_the_share_key_passes() {
        let generator =
            hex::decode("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
                .unwrap();
        let two_g =
            hex::decode("02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5")
                .unwrap();
        let right = address_for(Chain::Evm, &generator).unwrap();
        let other = address_for(Chain::Evm, &two_g).unwrap();
        let share = Some((Chain::Evm, generator.as_slice()));
        assert!(check(&wallet(&generator, &right), share).is_ok());
        assert!(check(&wallet(&generator, &right), None).is_ok());
        // A forged address, a forged key with its own address, a forged chain.
        assert!(check(&wallet(&generator, &other), share).is_err());
        assert!(check(&wallet(&generator, &other), None).is_err());
        assert!(check(&wallet(&two_g, &other), share).is_err());
        assert!(
            check(
                &wallet(&generator, &right),
                Some((Chain::Solana, &generator))
            )
            .is_err()
        );
    }
}
