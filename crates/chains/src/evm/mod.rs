//! Ethereum and other EVM chains (secp256k1 ECDSA over a keccak-256 digest).
//!
//! Three payload kinds, each parsed and hashed here:
//!
//! * [`prepare_personal_sign`]: EIP-191 `personal_sign` messages,
//! * [`prepare_typed_data`]: EIP-712 typed data (`eth_signTypedData_v4`),
//! * [`prepare_transaction`]: unsigned legacy (EIP-155 only), EIP-2930 and
//!   EIP-1559 transactions.
//!
//! Then [`finish`] turns `(r, s, recovery_id)` into the wallet API output.

mod address;
mod finish;
mod intent;
mod legacy;
mod personal_sign;
mod prepared;
mod transaction;
mod typed_data;
mod unsigned_tx;

pub use address::address;
pub use finish::{EvmSigned, finish, recover_address};
pub use intent::Intent;
pub use personal_sign::prepare_personal_sign;
pub use prepared::Prepared;
pub use transaction::{MAX_TRANSACTION_BYTES, prepare_transaction};
pub use typed_data::{MAX_TYPED_DATA_BYTES, limits as typed_data_limits, prepare_typed_data};
