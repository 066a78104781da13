//! What the recovery module tells the user and the operator: a log line and a counter per
//! event, and a notice on every channel of the account.

use crate::account::Notice;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryEvent {
    /// A recovery secret was set up for the first time.
    KeySet,
    /// The recovery secret was replaced.
    KeyRotated,
    /// A Backup Kit of a wallet was issued.
    KitIssued { wallet: String, epoch: u64 },
    /// The whole key of a wallet was exported.
    Exported { wallet: String },
}

impl RecoveryEvent {
    pub fn name(&self) -> &'static str {
        match self {
            RecoveryEvent::KeySet => "recovery_key_set",
            RecoveryEvent::KeyRotated => "recovery_key_rotated",
            RecoveryEvent::KitIssued { .. } => "backup_kit_issued",
            RecoveryEvent::Exported { .. } => "key_exported",
        }
    }

    pub(super) fn record(&self, user_id: &str, session_id: &str) {
        match self {
            RecoveryEvent::KitIssued { wallet, epoch } => {
                tracing::info!(user = %user_id, session = %session_id, wallet = %wallet, epoch, event = self.name(), "recovery");
            }
            RecoveryEvent::Exported { wallet } => {
                tracing::warn!(user = %user_id, session = %session_id, wallet = %wallet, event = self.name(), "recovery");
            }
            _ => {
                tracing::info!(user = %user_id, session = %session_id, event = self.name(), "recovery")
            }
        }
        metrics::counter!("tandem_recovery_events_total", "event" => self.name()).increment(1);
    }

    pub fn notice(&self) -> Notice {
        let (subject, what, sms) = match self {
            RecoveryEvent::KeySet => (
                "Tandem: a recovery secret was set up",
                "set up a recovery secret".to_owned(),
                "Tandem: a recovery secret was set up on your account.".to_owned(),
            ),
            RecoveryEvent::KeyRotated => (
                "Tandem: your recovery secret was replaced",
                "replaced the account's recovery secret".to_owned(),
                "Tandem: your recovery secret was replaced.".to_owned(),
            ),
            RecoveryEvent::KitIssued { wallet, epoch } => (
                "Tandem: a Backup Kit was downloaded",
                format!("downloaded a Backup Kit of wallet {wallet} (epoch {epoch})"),
                format!("Tandem: a Backup Kit of wallet {wallet} was downloaded."),
            ),
            RecoveryEvent::Exported { wallet } => (
                "Tandem: a wallet's private key was exported",
                format!("exported the whole private key of wallet {wallet}"),
                format!("Tandem: the private key of wallet {wallet} was exported."),
            ),
        };
        Notice {
            subject: subject.to_owned(),
            body: format!(
                "Someone signed in to your Tandem account {what}.\r\n\r\n\
                 If this was you, nothing more is needed. If it was not, sign in now, revoke the \
                 sessions you do not recognise, and move your funds to a new wallet: a Backup \
                 Kit or an export in other hands, together with your device or recovery secret, \
                 is your key.\r\n"
            ),
            sms: format!("{sms} Not you? Sign in and act now."),
        }
    }
}
