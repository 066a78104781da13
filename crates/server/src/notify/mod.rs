//! Outgoing notifications by email: login codes, and notices of account changes.
//!
//! [`SmtpMailer`] delivers through an SMTP relay. [`DevOutbox`] is for development only: it
//! shows the code in the server log and in `<data_dir>/dev-outbox.jsonl`; it is the one place
//! where a code is ever written out, and it is used only when `mail.mode = "outbox"`.

mod code;
mod error;
mod outbox;
mod smtp;

pub use code::LoginCode;
pub use error::MailError;
pub use outbox::DevOutbox;
pub use smtp::SmtpMailer;

use std::sync::Arc;

use async_trait::async_trait;

use crate::clock::SharedClock;
use crate::config::{Config, MailMode};

/// Sends login codes.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Delivers `code` to the address `to`. Errors never contain the code.
    async fn send_login_code(&self, to: &str, code: &LoginCode) -> Result<(), MailError>;

    /// Tells the address `to` that something happened to the account (a login method added
    /// or removed, TOTP changed). `subject` and `body` are plain text and hold no secret.
    async fn send_notice(&self, to: &str, subject: &str, body: &str) -> Result<(), MailError>;
}

/// The mailer the configuration asks for: the development outbox under `data_dir`, or SMTP.
pub fn mailer_from_config(
    config: &Config,
    clock: SharedClock,
) -> Result<Arc<dyn Mailer>, MailError> {
    match config.mail.mode {
        MailMode::Outbox => {
            tracing::warn!(
                "mail.mode = \"outbox\": login codes are written to the server log and to \
                 dev-outbox.jsonl, not sent. For development only."
            );
            Ok(Arc::new(DevOutbox::new(&config.data_dir, clock)))
        }
        MailMode::Smtp => Ok(Arc::new(SmtpMailer::new(&config.mail)?)),
    }
}
