//! Random identifiers.

use super::StoreError;

/// A fresh 128-bit random identifier as 32 lowercase hex characters (from the OS CSPRNG).
pub fn new_id() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| StoreError::Random)?;
    Ok(hex::encode(bytes))
}
