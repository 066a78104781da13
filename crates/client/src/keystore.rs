//! The Ethereum keystore (Web3 Secret Storage, version 3) an exported EVM key can be saved as:
//! scrypt (n = 2^18, r = 8, p = 1) stretches the passphrase, AES-128-CTR encrypts the key, and
//! Keccak-256 of the second half of the derived key and the ciphertext is the MAC. Geth,
//! MetaMask, ethers, web3.py and eth-account read it.

use aes::cipher::{KeyIvInit, StreamCipher};
use sha3::{Digest, Keccak256};
use zeroize::Zeroizing;

use crate::error::ClientError;

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// scrypt's cost: geth's "standard" setting (about a second on a laptop, 256 MiB).
const LOG_N: u8 = 18;
const R: u32 = 8;
const P: u32 = 1;

/// The keystore JSON for `secret` (a secp256k1 private key) under `passphrase`.
pub(crate) fn encrypt(
    secret: &[u8; 32],
    address: &str,
    passphrase: &str,
) -> Result<String, ClientError> {
    let random = |n: usize| -> Result<Vec<u8>, ClientError> {
        let mut b = vec![0u8; n];
        getrandom::fill(&mut b).map_err(|_| ClientError::Local("no randomness".into()))?;
        Ok(b)
    };
    let salt = random(32)?;
    let iv = random(16)?;
    let mut id = random(16)?;
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    let params = scrypt::Params::new(LOG_N, R, P)
        .map_err(|e| ClientError::Local(format!("scrypt parameters: {e}")))?;
    let mut derived = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(passphrase.as_bytes(), &salt, &params, derived.as_mut())
        .map_err(|e| ClientError::Local(format!("scrypt: {e}")))?;
    let mut ciphertext = secret.to_vec();
    let mut cipher = Aes128Ctr::new_from_slices(&derived[..16], &iv)
        .map_err(|_| ClientError::Local("AES-128-CTR key or IV length".into()))?;
    cipher.apply_keystream(&mut ciphertext);
    let mut mac = Keccak256::new();
    mac.update(&derived[16..32]);
    mac.update(&ciphertext);
    let mac = mac.finalize();
    let h = hex::encode(&id);
    let uuid = format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    );
    let json = serde_json::json!({
        "version": 3,
        "id": uuid,
        "address": address.trim_start_matches("0x").to_lowercase(),
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": { "iv": hex::encode(&iv) },
            "ciphertext": hex::encode(&ciphertext),
            "kdf": "scrypt",
            "kdfparams": { "dklen": 32, "n": 1u64 << LOG_N, "r": R, "p": P, "salt": hex::encode(&salt) },
            "mac": hex::encode(mac),
        },
    });
    Ok(json.to_string())
}
