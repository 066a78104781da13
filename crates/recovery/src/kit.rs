//! The Backup Kit file (format 1).
//!
//! A text file: a header a person can read (what the file is, how to use it, which wallet and
//! epoch), then the sealed data between armour lines, base64 in 64-character lines. The sealed
//! data is
//!
//! ```text
//! "TDMK" | format u8 | scheme u8 | epoch u64 BE | wallet id length u8 | wallet id
//! | public key length u8 | public key | recovery key (X25519 public, 32)
//! | enc (32) | ciphertext length u32 BE | ciphertext
//! ```
//!
//! The ciphertext is HPKE (see `seal.rs`) of the server's share in its storage encoding, with
//! `info = "tandem/backup-kit/v1"` and everything before `enc` as associated data: nothing
//! that names the wallet, scheme, epoch, key or recipient can change without the kit failing
//! to open. The readable header repeats those fields; a reader checks them against the
//! sealed ones, so an edited header is refused rather than believed. Every format ever written
//! stays readable (golden files under `tests/fixtures`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tandem_mpc::{KeyShare, Role, Scheme, SchemeId};
use zeroize::Zeroizing;

use crate::error::KitError;
use crate::seal::{self, ENC_LEN};
use crate::secret::{RecoveryKeys, key_id};

/// The newest format this crate writes (and the only one so far).
pub const KIT_FORMAT_VERSION: u8 = 1;
const MAGIC: &[u8; 4] = b"TDMK";
const INFO: &[u8] = b"tandem/backup-kit/v1";
const BEGIN: &str = "-----BEGIN TANDEM BACKUP KIT-----";
const END: &str = "-----END TANDEM BACKUP KIT-----";
/// Far above a real share (a DKLs23 share is ~52 KB); caps what a hostile file allocates.
const MAX_CIPHERTEXT: usize = 1 << 20;

/// Labels printed in the readable header that the sealed data does not carry.
#[derive(Debug, Clone, Default)]
pub struct KitLabels {
    /// The chain's name (`evm`, `solana`).
    pub chain: String,
    /// The wallet's address on that chain.
    pub address: String,
    /// When the server sealed it (RFC 3339).
    pub issued_at: String,
}

/// What a sealed share is for: each has its own magic, HPKE `info` and party, so one never
/// opens as the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// The server's share, for the user's Backup Kit.
    Kit,
    /// The device's share, escrowed with the server for recovery.
    Escrow,
}

impl Purpose {
    fn magic(self) -> &'static [u8; 4] {
        match self {
            Purpose::Kit => MAGIC,
            Purpose::Escrow => b"TDME",
        }
    }

    fn info(self) -> &'static [u8] {
        match self {
            Purpose::Kit => INFO,
            Purpose::Escrow => b"tandem/escrow/v1",
        }
    }

    fn role(self) -> Role {
        match self {
            Purpose::Kit => Role::Server,
            Purpose::Escrow => Role::Device,
        }
    }
}

/// A share sealed to a recovery key: the binary layout above, for either purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sealed {
    purpose: Purpose,
    pub(crate) scheme: SchemeId,
    pub(crate) epoch: u64,
    pub(crate) wallet: String,
    pub(crate) public_key: Vec<u8>,
    pub(crate) recovery_key: [u8; 32],
    enc: [u8; ENC_LEN],
    ciphertext: Vec<u8>,
}

/// A sealed Backup Kit. Holds no secret in the clear: the server makes it, the user keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupKit(Sealed);

impl BackupKit {
    /// Server side: seals its share of the wallet to a recovery public key.
    pub fn seal<S: Scheme>(
        server_share: &KeyShare<S>,
        recovery_key: &[u8; 32],
    ) -> Result<BackupKit, KitError> {
        if server_share.role() != Role::Server {
            return Err(KitError::NotServerShare);
        }
        Sealed::seal(Purpose::Kit, server_share, recovery_key).map(BackupKit)
    }

    /// Device side: opens the kit with the keys of the recovery secret it was sealed to and
    /// returns the server's share, checked against everything the kit names.
    pub fn open<S: Scheme>(&self, keys: &RecoveryKeys) -> Result<KeyShare<S>, KitError> {
        self.0.open(keys)
    }

    pub fn wallet(&self) -> &str {
        &self.0.wallet
    }

    pub fn scheme(&self) -> SchemeId {
        self.0.scheme
    }

    pub fn epoch(&self) -> u64 {
        self.0.epoch
    }

    /// The wallet's group public key.
    pub fn public_key(&self) -> &[u8] {
        &self.0.public_key
    }

    /// Which recovery key it is sealed to (see [`crate::key_id`]).
    pub fn recovery_key_id(&self) -> String {
        key_id(&self.0.recovery_key)
    }

    /// The sealed data alone.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes()
    }

    /// Reads the sealed data alone.
    pub fn from_bytes(bytes: &[u8]) -> Result<BackupKit, KitError> {
        Sealed::from_bytes(Purpose::Kit, bytes).map(BackupKit)
    }

    /// The file a user saves.
    pub fn to_text(&self, labels: &KitLabels) -> String {
        let scheme = scheme_name(self.0.scheme);
        let mut out = format!(
            "TANDEM BACKUP KIT (format {KIT_FORMAT_VERSION})\n\
             \n\
             This file holds the Tandem server's share of one wallet key, encrypted to your\n\
             recovery secret. On its own it can do nothing. Together with your device's share\n\
             and your recovery secret it signs, or prints the private key, with no server at all:\n\
             \n\
             \x20   tandem offline sign --kit <this file> --wallet {wallet} ...\n\
             \x20   tandem offline export --kit <this file> --wallet {wallet}\n\
             \n\
             Keep it with your backups; keep the recovery secret somewhere else. A newer kit of\n\
             the same wallet replaces this one on the device that saved it.\n\
             \n\
             wallet: {wallet}\n",
            wallet = self.0.wallet,
        );
        if !labels.chain.is_empty() {
            out.push_str(&format!("chain: {}\n", labels.chain));
        }
        if !labels.address.is_empty() {
            out.push_str(&format!("address: {}\n", labels.address));
        }
        out.push_str(&format!(
            "scheme: {scheme}\npublic key: {}\nepoch: {}\nrecovery key: {}\n",
            hex::encode(&self.0.public_key),
            self.0.epoch,
            self.recovery_key_id(),
        ));
        if !labels.issued_at.is_empty() {
            out.push_str(&format!("issued: {}\n", labels.issued_at));
        }
        out.push('\n');
        out.push_str(BEGIN);
        out.push('\n');
        let body = STANDARD.encode(self.to_bytes());
        for line in body.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str(END);
        out.push('\n');
        out
    }

    /// Reads a kit file, refusing one whose readable header disagrees with its sealed data.
    pub fn from_text(text: &str) -> Result<BackupKit, KitError> {
        let (head, rest) = text
            .split_once(BEGIN)
            .ok_or(KitError::Malformed("no BEGIN TANDEM BACKUP KIT line"))?;
        let (body, _) = rest
            .split_once(END)
            .ok_or(KitError::Malformed("no END TANDEM BACKUP KIT line"))?;
        let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = Zeroizing::new(
            STANDARD
                .decode(body.as_bytes())
                .map_err(|_| KitError::Malformed("the sealed data is not base64"))?,
        );
        let kit = BackupKit::from_bytes(&bytes)?;
        for line in head.lines() {
            let Some((field, value)) = line.split_once(": ") else {
                continue;
            };
            let value = value.trim();
            let agrees = match field {
                "wallet" => value == kit.0.wallet,
                "scheme" => value == scheme_name(kit.0.scheme),
                "public key" => value == hex::encode(&kit.0.public_key),
                "epoch" => value == kit.0.epoch.to_string(),
                "recovery key" => value == kit.recovery_key_id(),
                _ => true,
            };
            if !agrees {
                return Err(KitError::HeaderMismatch {
                    field: match field {
                        "wallet" => "wallet",
                        "scheme" => "scheme",
                        "public key" => "public key",
                        "epoch" => "epoch",
                        _ => "recovery key",
                    },
                });
            }
        }
        Ok(kit)
    }
}

impl Sealed {
    pub(crate) fn seal<S: Scheme>(
        purpose: Purpose,
        share: &KeyShare<S>,
        recovery_key: &[u8; 32],
    ) -> Result<Sealed, KitError> {
        if share.role() != purpose.role() {
            return Err(KitError::Binding);
        }
        let mut kit = Sealed {
            purpose,
            scheme: S::ID,
            epoch: share.epoch(),
            wallet: share.wallet().as_str().to_owned(),
            public_key: share.public_key().to_vec(),
            recovery_key: *recovery_key,
            enc: [0; ENC_LEN],
            ciphertext: Vec::new(),
        };
        let plaintext = share.to_bytes()?;
        let (enc, ciphertext) = seal::seal(
            recovery_key,
            purpose.info(),
            &kit.associated_data(),
            &plaintext,
        )
        .map_err(KitError::Seal)?;
        kit.enc = enc;
        kit.ciphertext = ciphertext;
        Ok(kit)
    }

    pub(crate) fn open<S: Scheme>(&self, keys: &RecoveryKeys) -> Result<KeyShare<S>, KitError> {
        if self.scheme != S::ID {
            return Err(KitError::Scheme);
        }
        if keys.public_key() != self.recovery_key {
            return Err(KitError::WrongSecret {
                kit: key_id(&self.recovery_key),
                yours: keys.key_id(),
            });
        }
        let plaintext = seal::open(
            &keys.kem_secret,
            &self.enc,
            self.purpose.info(),
            &self.associated_data(),
            &self.ciphertext,
        )
        .map_err(|()| KitError::Open)?;
        let share = KeyShare::<S>::from_bytes(&plaintext)?;
        if share.role() != self.purpose.role()
            || share.epoch() != self.epoch
            || share.wallet().as_str() != self.wallet
            || share.public_key() != self.public_key.as_slice()
        {
            return Err(KitError::Binding);
        }
        Ok(share)
    }

    fn associated_data(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.wallet.len() + self.public_key.len());
        out.extend_from_slice(self.purpose.magic());
        out.push(KIT_FORMAT_VERSION);
        out.push(self.scheme as u8);
        out.extend_from_slice(&self.epoch.to_be_bytes());
        // Wallet ids and public keys are short (checked by tandem-mpc): the lengths fit a byte.
        out.push(self.wallet.len() as u8);
        out.extend_from_slice(self.wallet.as_bytes());
        out.push(self.public_key.len() as u8);
        out.extend_from_slice(&self.public_key);
        out.extend_from_slice(&self.recovery_key);
        out
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.associated_data();
        out.extend_from_slice(&self.enc);
        out.extend_from_slice(&(self.ciphertext.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.ciphertext);
        out
    }

    pub(crate) fn from_bytes(purpose: Purpose, bytes: &[u8]) -> Result<Sealed, KitError> {
        let mut r = Reader(bytes);
        if r.take(4)? != purpose.magic() {
            return Err(KitError::Malformed(match purpose {
                Purpose::Kit => "no kit magic",
                Purpose::Escrow => "no escrow magic",
            }));
        }
        let version = r.byte()?;
        if version == 0 {
            return Err(KitError::Malformed("format 0"));
        }
        if version > KIT_FORMAT_VERSION {
            return Err(KitError::UnsupportedVersion(version));
        }
        let scheme = SchemeId::from_u8(r.byte()?).ok_or(KitError::Malformed("unknown scheme"))?;
        let epoch = u64::from_be_bytes(r.array()?);
        let wallet_len = usize::from(r.byte()?);
        let wallet = core::str::from_utf8(r.take(wallet_len)?)
            .map_err(|_| KitError::Malformed("wallet id is not UTF-8"))?
            .to_owned();
        let pk_len = usize::from(r.byte()?);
        let public_key = r.take(pk_len)?.to_vec();
        let recovery_key = r.array()?;
        let enc = r.array()?;
        let ct_len = u32::from_be_bytes(r.array()?) as usize;
        if ct_len > MAX_CIPHERTEXT {
            return Err(KitError::Malformed("sealed share too large"));
        }
        let ciphertext = r.take(ct_len)?.to_vec();
        if !r.0.is_empty() {
            return Err(KitError::Malformed("trailing bytes"));
        }
        Ok(Sealed {
            purpose,
            scheme,
            epoch,
            wallet,
            public_key,
            recovery_key,
            enc,
            ciphertext,
        })
    }
}

fn scheme_name(scheme: SchemeId) -> &'static str {
    match scheme {
        SchemeId::Secp256k1 => "secp256k1",
        SchemeId::Ed25519 => "ed25519",
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], KitError> {
        if self.0.len() < n {
            return Err(KitError::Malformed("truncated"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, KitError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], KitError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
}
