//! Wallets: records, their encrypted server shares, and the state transitions of the key
//! lifecycle (create, stage + commit a refresh, freeze). Every transition is one guarded
//! transaction, so racing instances cannot both win.

mod record;
mod repo;
mod rewrap;
mod shares;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;

/// The tables this module adds to the core schema's `wallets` and `server_shares`.
pub const MIGRATIONS: &[crate::store::Step] = &[crate::store::Step {
    version: 11,
    description: "wallet exported",
    sqlite: include_str!("migrations/sqlite/0011_wallet_exported.sql"),
    postgres: include_str!("migrations/postgres/0011_wallet_exported.sql"),
}];

pub use record::WalletRecord;
pub use repo::{Access, CurrentShare, RefreshFence, WalletError, Wallets};
pub use rewrap::{KekUsage, RewrapFailure, RewrapProgress, RewrapReport};
