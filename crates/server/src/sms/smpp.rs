//! SMPP 3.4 delivery with `rusmpp`: per message, connect, `bind_transmitter`, `submit_sm`,
//! `unbind`. A code goes out a few times a minute at most, so a connection per message keeps
//! the sender stateless (no keep-alive, no rebind logic) at the cost of one round trip.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::{SinkExt, StreamExt};
use rusmpp::pdus::{BindTransmitter, SubmitSm};
use rusmpp::tokio_codec::CommandCodec;
use rusmpp::types::{COctetString, OctetString};
use rusmpp::values::{InterfaceVersion, Npi, Ton};
use rusmpp::{Command, CommandStatus, Pdu};
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use super::sender::{SmsError, SmsSender, message};
use crate::config::SmsConfig;
use crate::notify::LoginCode;

/// An SMPP gateway bound as a transmitter.
pub struct SmppSender {
    host: String,
    port: u16,
    system_id: String,
    password: Option<SecretString>,
    source_addr: String,
    timeout: Duration,
    ttl_minutes: u64,
}

impl std::fmt::Debug for SmppSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmppSender")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("system_id", &self.system_id)
            .finish_non_exhaustive()
    }
}

type Conn = Framed<TcpStream, CommandCodec>;

impl SmppSender {
    pub fn new(config: &SmsConfig) -> Self {
        Self {
            host: config.smpp.host.clone(),
            port: config.smpp.port,
            system_id: config.smpp.system_id.clone(),
            password: config.smpp.password.clone(),
            source_addr: config.smpp.source_addr.clone(),
            timeout: Duration::from_secs(config.smpp.timeout_secs),
            ttl_minutes: config.ttl_minutes,
        }
    }

    async fn deliver(&self, to: &str, text: &str) -> Result<(), SmsError> {
        let stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| SmsError::Gateway(format!("connect: {e}")))?;
        let mut conn = Framed::new(stream, CommandCodec::new());

        let password = self.password.as_ref().map_or("", |p| p.expose_secret());
        let bind = BindTransmitter::builder()
            .system_id(c_octets(&self.system_id, "system_id")?)
            .password(c_octets(password, "password")?)
            .system_type(COctetString::empty())
            .interface_version(InterfaceVersion::Smpp3_4)
            .addr_ton(Ton::Unknown)
            .addr_npi(Npi::Unknown)
            .address_range(COctetString::empty())
            .build();
        exchange(&mut conn, 1, bind.into(), "bind_transmitter").await?;

        // The gateway wants the number without `+`, typed international/ISDN.
        let destination = to.trim_start_matches('+');
        let (source_ton, source_npi) = if self.source_addr.bytes().all(|b| b.is_ascii_digit()) {
            (Ton::International, Npi::Isdn)
        } else {
            (Ton::Alphanumeric, Npi::Unknown)
        };
        let short_message = OctetString::from_slice(text.as_bytes())
            .map_err(|_| SmsError::Gateway("message too long".into()))?;
        let submit = SubmitSm::builder()
            .source_addr_ton(source_ton)
            .source_addr_npi(source_npi)
            .source_addr(c_octets(&self.source_addr, "source_addr")?)
            .dest_addr_ton(Ton::International)
            .dest_addr_npi(Npi::Isdn)
            .destination_addr(c_octets(destination, "destination_addr")?)
            .short_message(short_message)
            .build();
        exchange(&mut conn, 2, submit.into(), "submit_sm").await?;

        // The message is accepted: a failed unbind changes nothing for the user.
        if let Err(e) = exchange(&mut conn, 3, Pdu::Unbind, "unbind").await {
            tracing::debug!(error = %e, "SMPP unbind");
        }
        Ok(())
    }
}

fn c_octets<const MIN: usize, const MAX: usize>(
    value: &str,
    field: &str,
) -> Result<COctetString<MIN, MAX>, SmsError> {
    COctetString::from_str(value).map_err(|_| SmsError::Gateway(format!("{field} is not valid")))
}

/// Sends one request and waits for its response (same sequence number), answering the
/// gateway's `enquire_link`s meanwhile.
async fn exchange(conn: &mut Conn, sequence: u32, pdu: Pdu, what: &str) -> Result<(), SmsError> {
    conn.send(Command::new(CommandStatus::EsmeRok, sequence, pdu))
        .await
        .map_err(|e| SmsError::Gateway(format!("{what}: {e}")))?;
    while let Some(frame) = conn.next().await {
        let command = frame.map_err(|e| SmsError::Gateway(format!("{what}: {e}")))?;
        if let Some(Pdu::EnquireLink) = command.pdu() {
            let resp = Command::new(
                CommandStatus::EsmeRok,
                command.sequence_number(),
                Pdu::EnquireLinkResp,
            );
            conn.send(resp)
                .await
                .map_err(|e| SmsError::Gateway(format!("{what}: {e}")))?;
            continue;
        }
        if command.sequence_number() != sequence {
            continue;
        }
        return match command.status() {
            CommandStatus::EsmeRok => Ok(()),
            status => Err(SmsError::Gateway(format!("{what} refused: {status:?}"))),
        };
    }
    Err(SmsError::Gateway(format!("{what}: connection closed")))
}

#[async_trait]
impl SmsSender for SmppSender {
    async fn send_code(&self, to: &str, code: &LoginCode) -> Result<(), SmsError> {
        let text = message(code, self.ttl_minutes);
        tokio::time::timeout(self.timeout, self.deliver(to, &text))
            .await
            .map_err(|_| SmsError::Timeout)?
    }

    async fn send_notice(&self, to: &str, text: &str) -> Result<(), SmsError> {
        tokio::time::timeout(self.timeout, self.deliver(to, text))
            .await
            .map_err(|_| SmsError::Timeout)?
    }
}
