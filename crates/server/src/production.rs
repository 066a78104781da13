//! Production mode: the start-up checks that keep development conveniences away from real
//! users, and the loud announcement of development mode.
//!
//! `mode = "production"` refuses to start unless login codes go out by SMTP (the development
//! outbox prints them), TLS is on in-process or a proxy is declared to terminate it, the KEK is
//! not a local key file, time comes from the system clock, the database is PostgreSQL (an
//! SQLite file is one host's: a misspelled `database_url` must not start a fresh one) and the
//! mail sender is set explicitly (not the development `.localhost` default). Every problem is
//! listed at once, so an operator fixes the configuration in one go.

use std::net::IpAddr;

use crate::config::{Config, MailMode, Mode, SmsMode, SmtpTls, VaultProviderKind};
use crate::tls::TlsSetup;

/// The problems that keep `config` (with `tls` as chosen on the command line) from running in
/// production mode; empty when it may start. Only meaningful in production mode.
pub fn problems(config: &Config, tls: Option<&TlsSetup>) -> Vec<String> {
    let mut out = Vec::new();
    if !config.database_url().trim_start().starts_with("postgres") {
        out.push(
            "database_url is not PostgreSQL: production runs on PostgreSQL (shared by all \
             instances, backed up with the usual tools); set database_url = \
             \"postgres://user@host:5432/tandem\" (TANDEM_DATABASE_URL)"
                .to_owned(),
        );
    }
    if sender_is_local(&config.mail.from) {
        out.push(format!(
            "mail.from is `{}`, a development address: set mail.from to a sender of your own \
             domain, e.g. \"Wallet <no-reply@example.com>\" (TANDEM_MAIL__FROM)",
            config.mail.from
        ));
    }
    if config.mail.mode == MailMode::Outbox {
        out.push(
            "mail.mode is \"outbox\": the development outbox prints login codes instead of \
             sending them; set mail.mode = \"smtp\" and [mail.smtp] (TANDEM_MAIL__MODE=smtp)"
                .to_owned(),
        );
    } else if config.mail.smtp.tls == SmtpTls::None && !is_loopback(&config.mail.smtp.host) {
        out.push(format!(
            "mail.smtp.tls is \"none\" towards `{}`: login codes would cross the network in \
             plaintext; use \"starttls\" or \"tls\" (plaintext is allowed only to a relay on \
             loopback)",
            config.mail.smtp.host
        ));
    }
    if config.sms.enabled && config.sms.mode == SmsMode::Outbox {
        out.push(
            "sms.mode is \"outbox\" with sms.enabled: the development outbox writes SMS codes \
             to a file instead of sending them; set sms.mode = \"smpp\" and [sms.smpp] \
             (TANDEM_SMS__MODE=smpp), or turn SMS login off (sms.enabled = false)"
                .to_owned(),
        );
    } else if config.sms.enabled && !is_loopback(&config.sms.smpp.host) {
        out.push(format!(
            "sms.smpp.host is `{}`: SMPP has no encryption of its own, so the gateway password \
             and every code would cross the network in plaintext; reach the gateway through a \
             TLS tunnel or VPN endpoint on loopback (e.g. stunnel on 127.0.0.1)",
            config.sms.smpp.host
        ));
    }
    out.extend(config.social.production_problems());
    match tls {
        Some(TlsSetup::Dev) => out.push(
            "--dev-tls serves a throwaway self-signed certificate: use --tls-cert/--tls-key"
                .to_owned(),
        ),
        Some(TlsSetup::Files { .. }) => {}
        None if config.tls_terminated_by_proxy => {}
        None => out.push(
            "TLS is off: set tls_cert/tls_key (--tls-cert/--tls-key), or, if a reverse proxy terminates TLS in \
             front of this server, say so with tls_terminated_by_proxy = true \
             (--behind-tls-proxy, TANDEM_TLS_TERMINATED_BY_PROXY=true)"
                .to_owned(),
        ),
    }
    if config.vault.provider == VaultProviderKind::Local {
        out.push(
            "vault.provider is \"local\": the KEK is a file next to the data; use \"pkcs11\" \
             (an HSM) and `tandem vault migrate --to pkcs11` for existing shares"
                .to_owned(),
        );
    }
    if config.admin_address().is_none() && config.metrics_token.is_none() {
        out.push(
            "/metrics would be public on the API listener (it shows ceremony outcomes and \
             cheating counts): set admin_listen to a private address \
             (TANDEM_ADMIN_LISTEN=127.0.0.1:9090) or a metrics_token (TANDEM_METRICS_TOKEN)"
                .to_owned(),
        );
    }
    if config.clock != "system" {
        out.push(format!(
            "clock is \"{}\": a test clock; production runs on the system clock (remove \
             `clock` / TANDEM_CLOCK)",
            config.clock
        ));
    }
    out
}

/// Fails with every problem listed when `config` is in production mode and unfit for it.
pub fn check(config: &Config, tls: Option<&TlsSetup>) -> Result<(), Vec<String>> {
    if config.mode != Mode::Production {
        return Ok(());
    }
    let found = problems(config, tls);
    if found.is_empty() { Ok(()) } else { Err(found) }
}

/// The multi-line warning development mode prints at start (stderr), naming each
/// development-only setting in effect.
pub fn development_banner(config: &Config, tls: Option<&TlsSetup>) -> String {
    let mut lines = vec!["DEVELOPMENT MODE: this server is not set up for real users.".to_owned()];
    if config.mail.mode == MailMode::Outbox {
        lines.push(format!(
            "- login codes are NOT emailed: the development outbox prints them in this log and \
             in {}",
            config.data_dir.join("dev-outbox.jsonl").display()
        ));
    }
    if config.sms.enabled && config.sms.mode == SmsMode::Outbox {
        lines.push(format!(
            "- SMS codes are NOT sent: the development outbox writes them to {}",
            config.data_dir.join("dev-sms-outbox.jsonl").display()
        ));
    }
    if config.vault.provider == VaultProviderKind::Local {
        lines.push(format!(
            "- server shares are protected by a local key file ({}), not an HSM",
            config.key_file().display()
        ));
    }
    match tls {
        Some(TlsSetup::Dev) => {
            lines.push("- TLS uses a throwaway self-signed certificate (--dev-tls)".to_owned())
        }
        None if !config.tls_terminated_by_proxy => {
            lines.push("- no TLS: tokens and login codes cross the network in plaintext".to_owned())
        }
        _ => {}
    }
    if config.clock != "system" {
        lines.push(format!("- the clock is a test clock (`{}`)", config.clock));
    }
    lines.push(
        "Set mode = \"production\" (TANDEM_MODE=production) to have these refused.".to_owned(),
    );
    let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let rule = "!".repeat(width + 4);
    let mut out = format!("{rule}\n");
    for line in lines {
        out.push_str(&format!("! {line:<width$} !\n"));
    }
    out.push_str(&rule);
    out
}

/// Whether the sender's domain is `localhost` or under `.localhost` (never deliverable).
fn sender_is_local(from: &str) -> bool {
    let address = from
        .rsplit_once('<')
        .map_or(from, |(_, rest)| rest.trim_end_matches('>'));
    let domain = address
        .rsplit_once('@')
        .map_or("", |(_, d)| d)
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    domain == "localhost" || domain.ends_with(".localhost")
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("127.8.9.1"));
        assert!(is_loopback("[::1]"));
        assert!(is_loopback("LOCALHOST"));
        assert!(!is_loopback("smtp.example.com"));
        assert!(!is_loopback("10.0.0.1"));
    }

    #[test]
    fn development_config_has_every_problem() {
        let config = Config {
            clock: "file:/tmp/x".to_owned(),
            mode: Mode::Production,
            ..Config::default()
        };
        assert_eq!(problems(&config, None).len(), 7);
        assert_eq!(problems(&config, Some(&TlsSetup::Dev)).len(), 7);
        let private = Config {
            metrics_listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9090))),
            ..config.clone()
        };
        assert_eq!(problems(&private, None).len(), 6);
        assert!(sender_is_local("Tandem <no-reply@tandem.localhost>"));
        assert!(sender_is_local("x@LOCALHOST."));
        assert!(!sender_is_local("Wallet <no-reply@example.com>"));
        assert!(
            check(&Config::default(), None).is_ok(),
            "development mode never refuses"
        );
        let banner = development_banner(&config, None);
        assert!(banner.contains("DEVELOPMENT MODE"));
        assert!(banner.lines().count() >= 6);
    }
}
