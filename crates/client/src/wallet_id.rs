//! [`WalletId`]: the id the server gives a wallet, checked once.

use serde::{Deserialize, Serialize};
use tandem_proto::wallet::WalletInfo;

use crate::error::ClientError;
use crate::store::is_valid_wallet_id;

/// A wallet's id as the server assigned it: 1 to 64 characters of `[A-Za-z0-9_-]`.
///
/// It dereferences to `&str`, so it can be passed wherever the SDK takes a wallet id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WalletId(String);

impl WalletId {
    /// Checks `id` (the charset and length the share store accepts).
    pub fn parse(id: impl Into<String>) -> Result<WalletId, ClientError> {
        let id = id.into();
        if is_valid_wallet_id(&id) {
            Ok(WalletId(id))
        } else {
            Err(ClientError::Invalid(
                "a wallet id is 1 to 64 characters of A-Z, a-z, 0-9, _ and -".into(),
            ))
        }
    }

    /// The id of a wallet the server described.
    pub fn of(wallet: &WalletInfo) -> Result<WalletId, ClientError> {
        WalletId::parse(wallet.id.clone())
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for WalletId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for WalletId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for WalletId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for WalletId {
    type Err = ClientError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WalletId::parse(s)
    }
}

impl TryFrom<String> for WalletId {
    type Error = ClientError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        WalletId::parse(s)
    }
}

impl From<WalletId> for String {
    fn from(id: WalletId) -> String {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_store_safe_ids_parse() {
        assert!(WalletId::parse("w_01HZX-abc").is_ok());
        for bad in ["", "../x", "a/b", ".hidden", &"a".repeat(65)] {
            assert!(WalletId::parse(bad).is_err(), "{bad:?}");
        }
        let id: WalletId =
            serde_json::from_str("\"w1\"").unwrap_or_else(|_| WalletId(String::new()));
        assert_eq!(&*id, "w1");
        assert!(serde_json::from_str::<WalletId>("\"a/b\"").is_err());
    }
}
