//! The Tandem device SDK: a 2-of-2 MPC wallet whose other share lives on a Tandem server.
//!
//! It keeps the device share in an encrypted file store, logs in, runs the ceremonies with
//! the server (keygen, sign, refresh), and offers the signers integrators already use:
//!
//! * [`TandemSigner`] (feature `evm`): an alloy [`Signer`](alloy_signer::Signer) and
//!   [`TxSigner`](alloy_network::TxSigner), convertible into an
//!   [`EthereumWallet`](alloy_network::EthereumWallet) for
//!   `ProviderBuilder::new().wallet(..)`, that also signs `sol!` structs.
//! * [`SolanaSigner`] (feature `solana`): typed async signing of legacy and versioned
//!   transactions (partial signing), `signMessage` and off-chain messages, and
//!   [`solana_signer::Signer`].
//!
//! The device never sends its share anywhere, and computes what it signs from the payload
//! itself, exactly as the server does; it refuses a wallet the server describes with
//! another key or address than its own share's.
//!
//! # Quickstart
//!
//! ```no_run
//! use tandem_client::{Session, TandemSigner};
//! use tandem_proto::wallet::Chain;
//!
//! # async fn demo() -> Result<(), tandem_client::ClientError> {
//! // Log in (the server emails a code), pinning the server's channel key.
//! let builder = Session::builder("https://tandem.example.com").data_dir("./tandem-data");
//! let session = match builder.restore().await? {
//!     Some(saved) => saved,
//!     None => builder.start_email_login("me@example.com").await?.verify("123456").await?,
//! };
//! let device = session.open_device("a long device passphrase").await?;
//! let wallet = device.keygen(Chain::Evm).await?;
//! let signer = TandemSigner::new(device, &wallet)?;
//! println!("{}", signer.address());
//! # Ok(()) }
//! ```
//!
//! Runnable programs are in `crates/client/examples/` (quickstart, an alloy provider, a
//! Solana transfer); `docs/sdk.md` is the guide.
//!
//! # Requirements
//!
//! * **Tokio.** Every call is async and must run inside a Tokio runtime; the ceremonies
//!   move their CPU-heavy steps off the executor with `block_in_place`, so use the
//!   multi-thread runtime (`#[tokio::main]`, or `flavor = "multi_thread"` in tests).
//! * **Optimised dependencies in debug builds.** The threshold cryptography is about 18×
//!   slower unoptimised (a keygen takes tens of seconds). Add to your `Cargo.toml`:
//!
//!   ```toml
//!   [profile.dev.package."*"]
//!   opt-level = 3
//!   ```
//!
//! # Errors
//!
//! Everything returns [`ClientError`]; see its helpers ([`ClientError::code`],
//! [`ClientError::is_retryable`], [`ClientError::retry_after`],
//! [`ClientError::needs_login`]) and [`ClientError::from_alloy`] for errors that came
//! through alloy's traits.
#![deny(missing_docs)]

pub mod account;
pub mod api;
mod binding;
pub mod ceremony;
pub mod device;
pub mod error;
pub mod failpoints;
mod keystore;
pub mod known_servers;
pub mod profile;
pub mod reconcile;
pub mod recovery;
pub mod requests;
pub mod session;
#[cfg(feature = "evm")]
pub mod signer;
pub mod social;
#[cfg(feature = "solana")]
pub mod solana;
pub mod store;
pub mod wallet_id;

pub use api::{ApiClient, Timeouts};
pub use device::Device;
pub use error::{ClientError, TimeoutStep, TransportError};
pub use known_servers::KnownServers;
pub use session::{EmailLogin, Session, SessionBuilder};
#[cfg(feature = "evm")]
pub use signer::{EthereumWallet, TandemSigner};
#[cfg(feature = "solana")]
pub use solana::SolanaSigner;
pub use store::ShareStore;
/// The wire types (payloads, wallet descriptions, error codes) the SDK takes and returns.
pub use tandem_proto as proto;
pub use wallet_id::WalletId;
