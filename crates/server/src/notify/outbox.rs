//! The development outbox. **For development only**: it never sends mail, it shows the code.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use super::{LoginCode, MailError, Mailer};
use crate::clock::SharedClock;

/// Shows login codes instead of mailing them: one `info` line on the `tandem::outbox` target
/// and one JSON line `{"to":…,"code":…,"at":…}` appended to `<data_dir>/dev-outbox.jsonl`
/// (mode 0600), where tests and developers can read it. Selected by `mail.mode = "outbox"`,
/// the zero-configuration default; never use it where real users log in.
pub struct DevOutbox {
    path: PathBuf,
    clock: SharedClock,
    write: Mutex<()>,
}

impl std::fmt::Debug for DevOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevOutbox")
            .field("path", &self.path)
            .finish()
    }
}

impl DevOutbox {
    /// The outbox file name inside the data directory.
    pub const FILE_NAME: &'static str = "dev-outbox.jsonl";

    /// An outbox writing to `<data_dir>/dev-outbox.jsonl`, stamping lines with `clock`.
    pub fn new(data_dir: impl AsRef<Path>, clock: SharedClock) -> Self {
        Self {
            path: data_dir.as_ref().join(Self::FILE_NAME),
            clock,
            write: Mutex::new(()),
        }
    }

    /// The outbox file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl Mailer for DevOutbox {
    async fn send_login_code(&self, to: &str, code: &LoginCode) -> Result<(), MailError> {
        let at = self.clock.now_ms();
        let line = Zeroizing::new(
            serde_json::json!({ "to": to, "code": code.expose(), "at": at }).to_string(),
        );
        self.append(&line).await?;
        let code = code.expose();
        // The one deliberate place a code is logged: development only (see the type docs).
        tracing::info!(target: "tandem::outbox", to = %to, "development outbox: login code {code}");
        Ok(())
    }

    async fn send_notice(&self, to: &str, subject: &str, body: &str) -> Result<(), MailError> {
        let at = self.clock.now_ms();
        let line =
            serde_json::json!({ "to": to, "notice": subject, "body": body, "at": at }).to_string();
        self.append(&line).await?;
        tracing::info!(target: "tandem::outbox", to = %to, "development outbox: notice: {subject}");
        Ok(())
    }
}

impl DevOutbox {
    /// Appends one JSON line to the outbox file (created 0600).
    async fn append(&self, json: &str) -> Result<(), MailError> {
        let mut line = Zeroizing::new(String::with_capacity(json.len() + 1));
        line.push_str(json);
        line.push('\n');
        let _guard = self.write.lock().await;
        if let Some(dir) = self.path.parent()
            && !dir.as_os_str().is_empty()
        {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(MailError::Outbox)?;
        }
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)
            .await
            .map_err(MailError::Outbox)?;
        file.write_all(line.as_bytes())
            .await
            .map_err(MailError::Outbox)?;
        file.flush().await.map_err(MailError::Outbox)?;
        Ok(())
    }
}
