//! The Tandem device SDK. It keeps the device share in an encrypted file store, logs in,
//! runs the ceremonies with the server (keygen, sign, refresh), and offers an alloy
//! [`Signer`](alloy_signer::Signer) so a Tandem wallet works wherever alloy takes a signer.
//!
//! The device never sends its share anywhere, and computes what it signs from the payload
//! itself, exactly as the server does.

pub mod api;
mod binding;
pub mod ceremony;
pub mod device;
pub mod error;
pub mod failpoints;
pub mod known_servers;
pub mod profile;
pub mod reconcile;
pub mod signer;
pub mod store;

pub use api::{ApiClient, Timeouts};
pub use device::Device;
pub use error::{ClientError, TimeoutStep};
pub use known_servers::KnownServers;
pub use signer::TandemSigner;
pub use store::ShareStore;
