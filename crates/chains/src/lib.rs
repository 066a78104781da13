//! Chain payload handling for Tandem, the 2-of-2 MPC embedded wallet.
//!
//! For each supported chain this crate turns what a wallet or dapp asks to
//! sign into three things:
//!
//! * the exact **digest** (EVM, secp256k1 ECDSA) or **message bytes**
//!   (Solana, Ed25519) that the threshold signature must cover,
//! * an **intent**: a small, serializable description of what the payload
//!   does (recipient, amount, chain, ...) for confirmation screens and the
//!   policy engine,
//! * the private state needed to **finish**: turn the finished signature into
//!   what the wallet API returns (a 65-byte `personal_sign` signature, a raw
//!   signed transaction ready to broadcast, ...).
//!
//! It also derives addresses from public keys, and [`encoding`] decodes the
//! hex and base64 that wallet APIs carry payloads in.
//!
//! Both the server and the device SDK use it, each computing the digest
//! independently from the same payload, so neither has to trust the other's
//! hashing.
//!
//! # Never a digest
//!
//! There is deliberately **no API that accepts a raw 32-byte digest** (or raw
//! bytes to sign) as a payload. A co-signer that signs whatever hash a client
//! sends can be made to sign any transaction on any chain, whatever the
//! payload it displays. Every `prepare_*` function parses a structured
//! payload and computes the digest itself, and `Prepared` values can only
//! be built by those functions.
//!
//! This crate has no I/O and depends on no other Tandem crate.

pub mod encoding;
pub mod error;
pub mod evm;
pub mod solana;
mod text;

pub use error::{ChainError, ErrorKind};
