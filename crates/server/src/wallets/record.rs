use tandem_proto::wallet::{Chain, WalletInfo, WalletStatus};

/// A wallet row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalletRecord {
    pub id: String,
    pub user_id: String,
    pub chain: Chain,
    pub public_key: Vec<u8>,
    pub address: String,
    pub epoch: u64,
    pub status: WalletStatus,
    /// When the wallet was frozen (set while `status` is frozen).
    pub frozen_at: Option<i64>,
    pub created_at: i64,
    /// When the whole key was last exported (Unix ms).
    pub exported_at: Option<i64>,
}

impl WalletRecord {
    pub fn info(&self) -> WalletInfo {
        WalletInfo {
            id: self.id.clone(),
            chain: self.chain,
            address: self.address.clone(),
            public_key: hex::encode(&self.public_key),
            epoch: self.epoch,
            status: self.status,
            created_at: self.created_at,
            exported_at: self.exported_at,
        }
    }
}

pub(crate) fn parse_status(s: &str) -> WalletStatus {
    // Anything unknown is treated as frozen: failing closed is the safe reading.
    match s {
        "active" => WalletStatus::Active,
        _ => WalletStatus::Frozen,
    }
}
