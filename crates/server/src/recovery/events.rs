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
    /// A recovery of the account was opened; it completes after `not_before` (Unix ms).
    RequestOpened { not_before: i64 },
    /// A second recovery was tried while one is open.
    SecondRequestRefused,
    /// The open recovery was cancelled.
    RequestCancelled,
    /// A recovery completed.
    RequestCompleted,
}

impl RecoveryEvent {
    pub fn name(&self) -> &'static str {
        match self {
            RecoveryEvent::KeySet => "recovery_key_set",
            RecoveryEvent::KeyRotated => "recovery_key_rotated",
            RecoveryEvent::KitIssued { .. } => "backup_kit_issued",
            RecoveryEvent::Exported { .. } => "key_exported",
            RecoveryEvent::RequestOpened { .. } => "recovery_started",
            RecoveryEvent::SecondRequestRefused => "recovery_second_refused",
            RecoveryEvent::RequestCancelled => "recovery_cancelled",
            RecoveryEvent::RequestCompleted => "recovery_completed",
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
        if let Some(notice) = self.request_notice() {
            return notice;
        }
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
            _ => (
                "Tandem: recovery",
                String::new(),
                "Tandem: recovery.".to_owned(),
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

    /// The notices of recovery requests: what happens, when, and how to stop it.
    fn request_notice(&self) -> Option<Notice> {
        const STOP: &str = "If this was not you, sign in on any of your devices now and cancel it \
             (`tandem recovery cancel`), then replace your recovery secret: whoever started it \
             knows it.";
        let (subject, body, sms) = match self {
            RecoveryEvent::RequestOpened { not_before } => (
                "Tandem: a recovery of your account was started",
                format!(
                    "Someone signed in to your Tandem account and started a recovery of your \
                     account with its recovery secret. Unless it is cancelled, it completes after \
                     {} (UTC): that device then gets your wallets and every other session ends.\r\n\r\n{STOP}\r\n",
                    tandem_proto::rfc3339(*not_before)
                ),
                format!(
                    "Tandem: a recovery of your account was started; it completes after {} \
                     unless you cancel it. Not you? Sign in and run: tandem recovery cancel",
                    tandem_proto::rfc3339(*not_before)
                ),
            ),
            RecoveryEvent::SecondRequestRefused => (
                "Tandem: a second recovery of your account was refused",
                format!(
                    "Someone tried to start another recovery of your Tandem account while one is \
                     under way; it was refused.\r\n\r\n{STOP}\r\n"
                ),
                "Tandem: another recovery of your account was tried and refused.".to_owned(),
            ),
            RecoveryEvent::RequestCancelled => (
                "Tandem: the recovery of your account was cancelled",
                "The recovery under way on your Tandem account was cancelled from a signed-in \
                 device. Nothing changes.\r\n"
                    .to_owned(),
                "Tandem: the recovery of your account was cancelled.".to_owned(),
            ),
            RecoveryEvent::RequestCompleted => (
                "Tandem: your account was recovered",
                "A recovery of your Tandem account completed: every other session has ended, and \
                 the recovered device renews every wallet's key shares, after which the lost \
                 devices' shares no longer work. If this was not you, contact your operator \
                 at once.\r\n"
                    .to_owned(),
                "Tandem: your account was recovered on a new device.".to_owned(),
            ),
            _ => return None,
        };
        Some(Notice {
            subject: subject.to_owned(),
            body,
            sms,
        })
    }
}
