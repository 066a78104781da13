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

pub use record::WalletRecord;
pub use repo::{Access, CurrentShare, RefreshFence, WalletError, Wallets};
pub use rewrap::{KekUsage, RewrapFailure, RewrapProgress, RewrapReport};
