//! Delivery of SMS codes: the development outbox, or an SMPP gateway.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use crate::clock::SharedClock;
use crate::config::{Config, SmsMode};
use crate::notify::LoginCode;

/// Why an SMS was not handed over. Never holds the code nor the gateway's password.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    #[error("SMS outbox: {0}")]
    Outbox(#[source] std::io::Error),
    #[error("SMPP gateway: {0}")]
    Gateway(String),
    #[error("SMPP gateway did not answer in time")]
    Timeout,
}

/// Sends login codes by SMS.
#[async_trait]
pub trait SmsSender: Send + Sync {
    /// Hands `code` over for delivery to `to` (E.164). Errors never contain the code.
    async fn send_code(&self, to: &str, code: &LoginCode) -> Result<(), SmsError>;

    /// Tells `to` that something happened to the account (a method changed, a Backup Kit was
    /// issued, a recovery began). `text` holds no secret.
    async fn send_notice(&self, to: &str, text: &str) -> Result<(), SmsError>;
}

/// The text of the message. Short enough for one GSM-7 segment.
pub(crate) fn message(code: &LoginCode, ttl_minutes: u64) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "Your Tandem code is {}. It expires in {ttl_minutes} min. Never share it: we will \
         never ask for it.",
        code.expose()
    ))
}

/// The sender the configuration asks for.
pub fn sender_from_config(config: &Config, clock: SharedClock) -> Arc<dyn SmsSender> {
    match config.sms.mode {
        SmsMode::Outbox => {
            if config.sms.enabled {
                tracing::warn!(
                    "sms.mode = \"outbox\": SMS codes are written to dev-sms-outbox.jsonl, not \
                     sent. For development only."
                );
            }
            Arc::new(SmsOutbox::new(&config.data_dir, clock))
        }
        SmsMode::Smpp => Arc::new(super::smpp::SmppSender::new(&config.sms)),
    }
}

/// **Development only**: appends `{"to":…,"code":…,"at":…}` lines to
/// `<data_dir>/dev-sms-outbox.jsonl` (mode 0600) instead of sending anything.
pub struct SmsOutbox {
    path: PathBuf,
    clock: SharedClock,
    write: Mutex<()>,
}

impl std::fmt::Debug for SmsOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsOutbox")
            .field("path", &self.path)
            .finish()
    }
}

impl SmsOutbox {
    /// The outbox file name inside the data directory.
    pub const FILE_NAME: &'static str = "dev-sms-outbox.jsonl";

    pub fn new(data_dir: impl AsRef<Path>, clock: SharedClock) -> Self {
        Self {
            path: data_dir.as_ref().join(Self::FILE_NAME),
            clock,
            write: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl SmsSender for SmsOutbox {
    async fn send_code(&self, to: &str, code: &LoginCode) -> Result<(), SmsError> {
        let at = self.clock.now_ms();
        let line = Zeroizing::new(
            serde_json::json!({ "to": to, "code": code.expose(), "at": at }).to_string(),
        );
        self.append(line).await?;
        tracing::info!(target: "tandem::outbox", "development SMS outbox: code written");
        Ok(())
    }

    async fn send_notice(&self, to: &str, text: &str) -> Result<(), SmsError> {
        let at = self.clock.now_ms();
        let line =
            Zeroizing::new(serde_json::json!({ "to": to, "notice": text, "at": at }).to_string());
        self.append(line).await
    }
}

impl SmsOutbox {
    async fn append(&self, mut line: Zeroizing<String>) -> Result<(), SmsError> {
        line.push('\n');
        let _guard = self.write.lock().await;
        if let Some(dir) = self.path.parent()
            && !dir.as_os_str().is_empty()
        {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(SmsError::Outbox)?;
        }
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)
            .await
            .map_err(SmsError::Outbox)?;
        file.write_all(line.as_bytes())
            .await
            .map_err(SmsError::Outbox)?;
        file.flush().await.map_err(SmsError::Outbox)?;
        Ok(())
    }
}
