//! Mail: the development outbox and SMTP delivery against an in-process SMTP sink.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use tandem_server::clock::{ManualClock, SharedClock};
use tandem_server::config::{Config, MailConfig, MailMode, SmtpTls};
use tandem_server::notify::{DevOutbox, LoginCode, MailError, Mailer, SmtpMailer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// One message as the sink received it.
#[derive(Debug)]
struct Received {
    mail_from: String,
    rcpt_to: Vec<String>,
    data: String,
}

/// A tiny SMTP server: enough of RFC 5321 for lettre to deliver (no TLS, no AUTH).
/// With `reject_rcpt`, every recipient is refused with 550.
async fn smtp_sink(reject_rcpt: bool) -> (SocketAddr, mpsc::UnboundedReceiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP ready\r\n").await.ok()?;
                let mut mail_from = String::new();
                let mut rcpt_to = Vec::new();
                while let Some(line) = lines.next_line().await.ok()? {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250 sink\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        mail_from = line[10..].trim().to_owned();
                        b"250 OK\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        if reject_rcpt {
                            b"550 5.1.1 no such mailbox\r\n"
                        } else {
                            rcpt_to.push(line[8..].trim().to_owned());
                            b"250 OK\r\n"
                        }
                    } else if upper == "DATA" {
                        write
                            .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                            .await
                            .ok()?;
                        let mut data = String::new();
                        while let Some(l) = lines.next_line().await.ok()? {
                            if l == "." {
                                break;
                            }
                            data.push_str(&l);
                            data.push('\n');
                        }
                        let _ = tx.send(Received {
                            mail_from: std::mem::take(&mut mail_from),
                            rcpt_to: std::mem::take(&mut rcpt_to),
                            data,
                        });
                        b"250 OK queued\r\n"
                    } else if upper.starts_with("RSET") || upper.starts_with("NOOP") {
                        b"250 OK\r\n"
                    } else if upper.starts_with("QUIT") {
                        write.write_all(b"221 Bye\r\n").await.ok()?;
                        return Some(());
                    } else {
                        b"502 not implemented\r\n"
                    };
                    write.write_all(reply).await.ok()?;
                }
                Some(())
            });
        }
    });
    (addr, rx)
}

fn smtp_config(port: u16) -> MailConfig {
    let mut mail = MailConfig {
        mode: MailMode::Smtp,
        ..MailConfig::default()
    };
    mail.smtp.host = "127.0.0.1".to_owned();
    mail.smtp.port = port;
    mail.smtp.tls = SmtpTls::None;
    mail
}

#[tokio::test]
async fn smtp_delivers_the_code() {
    let (addr, mut received) = smtp_sink(false).await;
    let mailer = SmtpMailer::new(&smtp_config(addr.port())).unwrap();
    let code = LoginCode::new("493017".to_owned());
    mailer
        .send_login_code("alice@example.com", &code)
        .await
        .unwrap();
    let msg = tokio::time::timeout(std::time::Duration::from_secs(10), received.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(msg.mail_from, "<no-reply@tandem.localhost>");
    assert_eq!(msg.rcpt_to, vec!["<alice@example.com>".to_owned()]);
    assert!(
        msg.data.contains("Subject: Your Tandem login code"),
        "{}",
        msg.data
    );
    assert!(msg.data.contains("493017"), "{}", msg.data);
    let message_id = |data: &str| {
        data.lines()
            .find_map(|l| l.strip_prefix("Message-ID: "))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no Message-ID in:\n{data}"))
    };
    let first_id = message_id(&msg.data);
    assert!(
        first_id.starts_with('<') && first_id.ends_with("@tandem.localhost>"),
        "{first_id}"
    );
    assert!(!first_id.contains("493017"));

    // The pooled transport is reused for the next message, with a new Message-ID.
    mailer
        .send_login_code("bob@example.com", &LoginCode::new("111222".to_owned()))
        .await
        .unwrap();
    let msg = received.recv().await.unwrap();
    assert!(msg.data.contains("111222"));
    assert_ne!(message_id(&msg.data), first_id);

    // `tandem config check` connects without sending; a closed port fails.
    mailer.test_connection().await.unwrap();
    let closed = SmtpMailer::new(&smtp_config(free_port())).unwrap();
    assert!(closed.test_connection().await.is_err());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn smtp_failures_do_not_reveal_the_code() {
    // A refused recipient.
    let (addr, _received) = smtp_sink(true).await;
    let mailer = SmtpMailer::new(&smtp_config(addr.port())).unwrap();
    let err = mailer
        .send_login_code("alice@example.com", &LoginCode::new("558866".to_owned()))
        .await
        .unwrap_err();
    assert!(matches!(err, MailError::Smtp(_)), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("558866"));

    // Nobody listening.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mailer = SmtpMailer::new(&smtp_config(port)).unwrap();
    let err = mailer
        .send_login_code("alice@example.com", &LoginCode::new("558866".to_owned()))
        .await
        .unwrap_err();
    assert!(matches!(err, MailError::Smtp(_)), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("558866"));

    // A bad recipient never reaches the wire.
    let err = mailer
        .send_login_code("not an address", &LoginCode::new("558866".to_owned()))
        .await
        .unwrap_err();
    assert!(matches!(err, MailError::InvalidAddress));
}

#[tokio::test]
async fn smtp_transports_build_for_every_tls_mode() {
    for tls in [SmtpTls::None, SmtpTls::Starttls, SmtpTls::Tls] {
        let mut mail = smtp_config(2525);
        mail.smtp.tls = tls;
        mail.smtp.host = "smtp.example.com".to_owned();
        mail.smtp.username = Some("u".to_owned());
        mail.smtp.password = Some("p".to_owned().into());
        assert!(SmtpMailer::new(&mail).is_ok(), "{tls:?}");
    }
    let mut mail = smtp_config(25);
    mail.from = "not a mailbox".to_owned();
    assert!(matches!(SmtpMailer::new(&mail), Err(MailError::Config(_))));
}

#[tokio::test]
async fn dev_outbox_appends_json_lines_readable_only_by_the_owner() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let clock = Arc::new(ManualClock::new(1_750_000_000_000));
    let shared: SharedClock = clock.clone();
    let outbox = DevOutbox::new(&data_dir, shared);
    outbox
        .send_login_code("alice@example.com", &LoginCode::new("123456".to_owned()))
        .await
        .unwrap();
    clock.advance(1_000);
    outbox
        .send_login_code("bob@example.com", &LoginCode::new("654321".to_owned()))
        .await
        .unwrap();

    let path = data_dir.join("dev-outbox.jsonl");
    assert_eq!(outbox.path(), path);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["to"], "alice@example.com");
    assert_eq!(lines[0]["code"], "123456");
    assert_eq!(lines[0]["at"], 1_750_000_000_000_i64);
    assert_eq!(lines[1]["to"], "bob@example.com");
    assert_eq!(lines[1]["code"], "654321");
    assert_eq!(lines[1]["at"], 1_750_000_001_000_i64);
}

#[tokio::test]
async fn default_configuration_selects_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let clock: SharedClock = Arc::new(ManualClock::new(5));
    let mailer = tandem_server::notify::mailer_from_config(&config, clock).unwrap();
    mailer
        .send_login_code("carol@example.com", &LoginCode::new("000042".to_owned()))
        .await
        .unwrap();
    let text = std::fs::read_to_string(dir.path().join("dev-outbox.jsonl")).unwrap();
    assert!(text.contains("\"000042\""));
}

#[test]
fn login_codes_are_redacted_in_debug() {
    let code = LoginCode::new("987654".to_owned());
    let shown = format!("{code:?}");
    assert!(!shown.contains("987654"));
    assert!(shown.contains("[redacted]"));
    assert_eq!(code.expose(), "987654");
}
