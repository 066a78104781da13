//! Delivery through an SMTP relay (lettre, pooled, created once).

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::{LoginCode, MailError, Mailer};
use crate::config::{MailConfig, SmtpTls};

/// The subject of login-code messages.
pub const LOGIN_CODE_SUBJECT: &str = "Your Tandem login code";

/// Sends login codes through the configured relay. Holds one pooled transport.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// Builds the transport: `tls = none` → plaintext (loopback or trusted network only),
    /// `starttls` → STARTTLS required, `tls` → implicit TLS; always on the configured port,
    /// with SMTP AUTH when a user name is configured.
    pub fn new(config: &MailConfig) -> Result<Self, MailError> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|_| MailError::Config("mail.from is not a valid mailbox".to_owned()))?;
        let smtp = &config.smtp;
        let relay_err = |e: lettre::transport::smtp::Error| MailError::Config(e.to_string());
        let mut builder = match smtp.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
                .map_err(relay_err)?,
            SmtpTls::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(relay_err)?
            }
        }
        .port(smtp.port)
        .timeout(Some(Duration::from_secs(30)));
        if let Some(user) = &smtp.username {
            let password = smtp
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_owned())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }
}

impl SmtpMailer {
    /// Connects to the relay, says EHLO (and STARTTLS / AUTH as configured) and quits without
    /// sending anything: what `tandem config check` tests.
    pub async fn test_connection(&self) -> Result<(), MailError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(MailError::Smtp(
                "the relay did not accept the connection".into(),
            )),
            Err(e) => Err(MailError::Smtp(e.to_string())),
        }
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send_login_code(&self, to: &str, code: &LoginCode) -> Result<(), MailError> {
        let body = Zeroizing::new(format!(
            "Your Tandem login code is {}\r\n\r\n\
             Enter it where you started signing in. It works once and expires in a few \
             minutes.\r\nIf you did not ask for it, you can ignore this message.\r\n",
            code.expose()
        ));
        self.send(to, LOGIN_CODE_SUBJECT, &body).await
    }

    async fn send_notice(&self, to: &str, subject: &str, body: &str) -> Result<(), MailError> {
        self.send(to, subject, body).await
    }
}

impl SmtpMailer {
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), MailError> {
        let to: Mailbox = to.parse().map_err(|_| MailError::InvalidAddress)?;
        // Some relays and spam filters reject or penalise mail without a Message-ID; the id is
        // random (it must not reveal anything) under the sender's own domain.
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(|_| MailError::Build)?;
        let message_id = format!("<{}@{}>", hex::encode(id), self.from.email.domain());
        let message = Message::builder()
            .message_id(Some(message_id))
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|_| MailError::Build)?;
        self.transport
            .send(message)
            .await
            .map_err(|e| MailError::Smtp(e.to_string()))?;
        Ok(())
    }
}
