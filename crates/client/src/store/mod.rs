//! Device-side encrypted share store.
//!
//! The device half of every wallet key lives here, encrypted at rest under a key derived
//! from the user's passphrase. The layout of a store directory:
//!
//! ```text
//! <dir>/                       mode 0700
//!   keystore.json              {"version":1,"kdf":"argon2id","m_kib":…,"t":…,"p":…,"salt":b64,"check":b64}
//!   .lock                      advisory lock, held for the duration of each operation
//!   shares/<wallet_id>/<epoch>.current
//!   shares/<wallet_id>/<epoch>.staged
//!   shares/<wallet_id>/locked   present while the device has locked the share (see `locks`)
//! ```
//!
//! Share file (mode 0600): `"TDSS" ‖ 0x01 ‖ nonce (24 bytes) ‖ XChaCha20-Poly1305 ciphertext ‖ tag`,
//! with AAD `"TDSS" ‖ 0x01 ‖ len(wallet_id) as u8 ‖ wallet_id ‖ epoch as u64 BE`.
//! The state (current/staged) is deliberately not authenticated so promotion is a single
//! rename, but a file moved to another wallet or epoch fails to open.
//!
//! `check` in `keystore.json` is `nonce ‖ ciphertext ‖ tag` of a fixed constant under the
//! derived key: it tells a wrong passphrase apart from a corrupt share before any share is read.
//!
//! Every write goes to a 0600 temp file in the target directory, is fsynced, renamed into
//! place, and the directory is fsynced, so a crash leaves either the old or the new file.

mod aead;
mod envelope;
mod error;
mod fsio;
mod kdf;
mod keystore;
mod kit;
mod layout;
mod lock;
pub(crate) mod locks;
mod passphrase;
mod rekey;
mod settle;
mod share_store;
mod wallet_id;

pub use error::StoreError;
pub use kdf::KdfParams;
pub use layout::ShareState;
pub use passphrase::{MIN_PASSPHRASE_CHARS, check_new_passphrase};
pub use share_store::{EpochShare, MAX_SHARE_LEN, ShareStore};
pub use wallet_id::{MAX_WALLET_ID_LEN, is_valid_wallet_id};
