//! Configuration: defaults ← TOML file ← environment, validation naming the key, redaction.
//! `figment::Jail` gives each test its own working directory and environment (serialised).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Jail;
use secrecy::ExposeSecret;
use tandem_server::config::{Config, ConfigError, MailMode, Mode, SmtpTls, VaultProviderKind};

fn load(file: Option<&str>) -> Result<Config, ConfigError> {
    Config::load(file.map(Path::new))
}

fn key_of(result: Result<Config, ConfigError>) -> String {
    match result {
        Err(e) => e
            .key()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("<{e}>")),
        Ok(_) => "<accepted>".to_owned(),
    }
}

#[test]
fn defaults_need_no_configuration() {
    Jail::expect_with(|_jail| {
        let c = load(None).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
        assert_eq!(c.data_dir, PathBuf::from("./tandem-data"));
        assert_eq!(c.database_url, None);
        assert_eq!(c.database_url(), "sqlite://./tandem-data/tandem.db");
        assert_eq!(c.key_file(), PathBuf::from("./tandem-data/server-kek.key"));
        assert_eq!(c.clock, "system");
        assert_eq!(
            (c.sessions.lifetime_minutes, c.sessions.absolute_hours),
            (90, 12)
        );
        assert_eq!(
            (
                c.otp.ttl_minutes,
                c.otp.max_attempts,
                c.otp.per_address_per_hour,
                c.otp.per_ip_per_hour
            ),
            (10, 5, 5, 30)
        );
        assert_eq!(c.mail.mode, MailMode::Outbox);
        assert_eq!(c.mail.from, "Tandem <no-reply@tandem.localhost>");
        assert_eq!(c.mail.smtp.host, "127.0.0.1");
        assert_eq!(c.mail.smtp.port, 587);
        assert_eq!(c.mail.smtp.tls, SmtpTls::Starttls);
        assert!(c.mail.smtp.username.is_none() && c.mail.smtp.password.is_none());
        assert_eq!(c.vault.key_file, None);
        assert_eq!(c.limits.max_body_bytes, 262_144);
        assert_eq!(c.limits.max_frame_bytes, 600_000);
        assert_eq!(c.limits.round_timeout_secs, 30);
        assert_eq!(c.limits.max_ceremonies_per_user, 32);
        Ok(())
    });
}

const FILE: &str = r#"
listen = "0.0.0.0:9000"
data_dir = "/var/lib/tandem"
clock = "file:/tmp/tandem-clock"

[sessions]
lifetime_minutes = 30

[otp]
max_attempts = 3

[mail]
mode = "smtp"
from = "Wallet <login@example.com>"

[mail.smtp]
host = "smtp.example.com"
port = 465
tls = "tls"
username = "mailer"

[vault]
key_file = "/etc/tandem/kek.key"

[limits]
max_frame_bytes = 1000000
"#;

#[test]
fn toml_file_overrides_defaults() {
    Jail::expect_with(|jail| {
        jail.create_file("tandem.toml", FILE)?;
        let c = load(Some("tandem.toml")).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000".parse::<SocketAddr>().unwrap());
        assert_eq!(c.database_url(), "sqlite:///var/lib/tandem/tandem.db");
        assert_eq!(c.clock, "file:/tmp/tandem-clock");
        assert_eq!(c.sessions.lifetime_minutes, 30);
        assert_eq!(
            c.sessions.absolute_hours, 12,
            "untouched keys keep defaults"
        );
        assert_eq!(c.otp.max_attempts, 3);
        assert_eq!(c.otp.ttl_minutes, 10);
        assert_eq!(c.mail.mode, MailMode::Smtp);
        assert_eq!(c.mail.smtp.host, "smtp.example.com");
        assert_eq!(c.mail.smtp.port, 465);
        assert_eq!(c.mail.smtp.tls, SmtpTls::Tls);
        assert_eq!(c.mail.smtp.username.as_deref(), Some("mailer"));
        assert_eq!(c.key_file(), PathBuf::from("/etc/tandem/kek.key"));
        assert_eq!(c.limits.max_frame_bytes, 1_000_000);
        Ok(())
    });
}

#[test]
fn tandem_config_names_the_file() {
    Jail::expect_with(|jail| {
        jail.create_file("elsewhere.toml", "listen = \"127.0.0.1:7000\"")?;
        jail.set_env("TANDEM_CONFIG", "elsewhere.toml");
        assert_eq!(load(None).unwrap().listen.port(), 7000);
        Ok(())
    });
}

#[test]
fn a_missing_file_is_an_error() {
    Jail::expect_with(|_jail| {
        assert!(matches!(
            load(Some("nope.toml")),
            Err(ConfigError::FileNotFound(_))
        ));
        Ok(())
    });
}

#[test]
fn environment_overrides_file() {
    Jail::expect_with(|jail| {
        jail.create_file("tandem.toml", FILE)?;
        jail.set_env("TANDEM_LISTEN", "127.0.0.1:9999");
        jail.set_env("TANDEM_DATA_DIR", "/srv/tandem");
        jail.set_env(
            "TANDEM_DATABASE_URL",
            "postgres://tandem:pw@db.internal/tandem",
        );
        jail.set_env("TANDEM_CLOCK", "system");
        jail.set_env("TANDEM_MAIL__SMTP__HOST", "relay.internal");
        jail.set_env("TANDEM_MAIL__SMTP__PORT", "2525");
        jail.set_env("TANDEM_MAIL__SMTP__TLS", "none");
        jail.set_env("TANDEM_MAIL__SMTP__USERNAME", "12345");
        jail.set_env("TANDEM_MAIL__SMTP__PASSWORD", "007 \"quoted\" [x]");
        jail.set_env("TANDEM_OTP__MAX_ATTEMPTS", "7");
        jail.set_env("TANDEM_SESSIONS__ABSOLUTE_HOURS", "48");
        let c = load(Some("tandem.toml")).unwrap();
        assert_eq!(c.listen.port(), 9999);
        assert_eq!(c.data_dir, PathBuf::from("/srv/tandem"));
        assert_eq!(c.database_url(), "postgres://tandem:pw@db.internal/tandem");
        assert_eq!(c.key_file(), PathBuf::from("/etc/tandem/kek.key"));
        assert_eq!(c.clock, "system");
        assert_eq!(c.mail.smtp.host, "relay.internal");
        assert_eq!(c.mail.smtp.port, 2525);
        assert_eq!(c.mail.smtp.tls, SmtpTls::None);
        assert_eq!(c.mail.smtp.username.as_deref(), Some("12345"));
        assert_eq!(
            c.mail.smtp.password.as_ref().unwrap().expose_secret(),
            "007 \"quoted\" [x]",
            "the password is taken verbatim"
        );
        assert_eq!(c.otp.max_attempts, 7);
        assert_eq!(c.sessions.absolute_hours, 48);
        assert_eq!(c.sessions.lifetime_minutes, 30, "file value kept");
        Ok(())
    });
}

#[test]
fn bad_values_name_the_key() {
    let cases: &[(&str, &str, &str)] = &[
        ("TANDEM_LISTEN", "not-an-address", "listen"),
        ("TANDEM_MAIL__SMTP__PORT", "seventy", "mail.smtp.port"),
        ("TANDEM_MAIL__SMTP__PORT", "70000", "mail.smtp.port"),
        ("TANDEM_MAIL__SMTP__PORT", "0", "mail.smtp.port"),
        ("TANDEM_MAIL__MODE", "pigeon", "mail.mode"),
        ("TANDEM_MAIL__SMTP__TLS", "ssl3", "mail.smtp.tls"),
        ("TANDEM_MAIL__FROM", "not a mailbox", "mail.from"),
        ("TANDEM_CLOCK", "sundial", "clock"),
        ("TANDEM_DATABASE_URL", "mysql://x/y", "database_url"),
        (
            "TANDEM_SESSIONS__LIFETIME_MINUTES",
            "0",
            "sessions.lifetime_minutes",
        ),
        (
            "TANDEM_SESSIONS__LIFETIME_MINUTES",
            "-5",
            "sessions.lifetime_minutes",
        ),
        (
            "TANDEM_SESSIONS__ABSOLUTE_HOURS",
            "0",
            "sessions.absolute_hours",
        ),
        ("TANDEM_OTP__TTL_MINUTES", "0", "otp.ttl_minutes"),
        ("TANDEM_OTP__MAX_ATTEMPTS", "0", "otp.max_attempts"),
        ("TANDEM_OTP__PER_IP_PER_HOUR", "lots", "otp.per_ip_per_hour"),
        ("TANDEM_VAULT__PROVIDER", "cloud", "vault.provider"),
        (
            "TANDEM_LIMITS__MAX_BODY_BYTES",
            "0",
            "limits.max_body_bytes",
        ),
        (
            "TANDEM_LIMITS__ROUND_TIMEOUT_SECS",
            "x",
            "limits.round_timeout_secs",
        ),
    ];
    for &(var, value, key) in cases {
        Jail::expect_with(|jail| {
            jail.set_env(var, value);
            assert_eq!(key_of(load(None)), key, "{var}={value}");
            Ok(())
        });
    }
    // Relations between keys, and the same checks for the file.
    Jail::expect_with(|jail| {
        jail.create_file(
            "t.toml",
            "[sessions]\nlifetime_minutes = 120\nabsolute_hours = 1\n",
        )?;
        assert_eq!(key_of(load(Some("t.toml"))), "sessions.absolute_hours");
        jail.create_file("u.toml", "[mail.smtp]\nport = \"abc\"\n")?;
        assert_eq!(key_of(load(Some("u.toml"))), "mail.smtp.port");
        jail.create_file("v.toml", "[mail.smtp]\npassword = \"pw\"\n")?;
        assert_eq!(key_of(load(Some("v.toml"))), "mail.smtp.username");
        Ok(())
    });
}

#[test]
fn a_toml_syntax_error_is_reported() {
    Jail::expect_with(|jail| {
        jail.create_file("t.toml", "listen = \n[[[")?;
        assert!(matches!(load(Some("t.toml")), Err(ConfigError::Source(_))));
        Ok(())
    });
}

#[test]
fn secrets_stay_out_of_errors_and_debug() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "t.toml",
            "[mail.smtp]\nusername = \"u\"\npassword = { nested = \"hunter2\" }\n",
        )?;
        let err = load(Some("t.toml")).unwrap_err();
        assert_eq!(err.key(), Some("mail.smtp.password"));
        assert!(!err.to_string().contains("hunter2"), "{err}");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.set_env("TANDEM_MAIL__SMTP__USERNAME", "u");
        jail.set_env("TANDEM_MAIL__SMTP__PASSWORD", "hunter2");
        jail.set_env(
            "TANDEM_DATABASE_URL",
            "postgres://tandem:dbsecret@db/tandem?password=dbsecret2",
        );
        let c = load(None).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("dbsecret"), "{shown}");
        assert!(shown.contains("[redacted]"));
        Ok(())
    });
}

#[test]
fn pkcs11_settings_from_file_and_environment_pin_from_environment_only() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "t.toml",
            "mode = \"production\"\ntls_terminated_by_proxy = true\n\n[vault]\nprovider = \"pkcs11\"\n\n[vault.pkcs11]\nmodule = \"/usr/lib/softhsm/libsofthsm2.so\"\ntoken_label = \"tandem\"\n",
        )?;
        jail.set_env("TANDEM_VAULT__PKCS11__KEY_LABEL", "kek-prod");
        jail.set_env("TANDEM_VAULT_PKCS11_PIN", "12 34 \"x\" [pin]");
        let c = load(Some("t.toml")).unwrap();
        assert_eq!(c.mode, Mode::Production);
        assert!(c.tls_terminated_by_proxy);
        assert_eq!(c.vault.provider, VaultProviderKind::Pkcs11);
        let p = &c.vault.pkcs11;
        assert_eq!(
            p.module.as_deref(),
            Some(Path::new("/usr/lib/softhsm/libsofthsm2.so"))
        );
        assert_eq!(p.token_label.as_deref(), Some("tandem"));
        assert_eq!(p.key_label, "kek-prod");
        assert_eq!(
            p.pin.as_ref().unwrap().expose_secret(),
            "12 34 \"x\" [pin]",
            "the PIN is taken verbatim"
        );
        let shown = format!("{c:?}");
        assert!(!shown.contains("[pin]"), "{shown}");
        assert!(shown.contains("[redacted]"));
        Ok(())
    });
    Jail::expect_with(|_jail| {
        let c = load(None).unwrap();
        assert_eq!(c.mode, Mode::Development);
        assert!(!c.tls_terminated_by_proxy);
        assert_eq!(c.vault.provider, VaultProviderKind::Local);
        assert_eq!(c.vault.pkcs11.key_label, "tandem-kek");
        assert!(c.vault.pkcs11.pin.is_none());
        Ok(())
    });
}

#[test]
fn a_pin_in_the_file_is_refused_and_not_echoed() {
    Jail::expect_with(|jail| {
        jail.create_file("t.toml", "[vault.pkcs11]\npin = \"secret-pin-77\"\n")?;
        let err = load(Some("t.toml")).unwrap_err();
        assert_eq!(err.key(), Some("vault.pkcs11.pin"));
        let msg = err.to_string();
        assert!(msg.contains("TANDEM_VAULT_PKCS11_PIN"), "{msg}");
        assert!(!msg.contains("secret-pin-77"), "{msg}");
        Ok(())
    });
    Jail::expect_with(|jail| {
        // The nested spelling would come from the figment convention: refused the same way.
        jail.set_env("TANDEM_VAULT__PKCS11__PIN", "secret-pin-77");
        let err = load(None).unwrap_err();
        assert_eq!(err.key(), Some("vault.pkcs11.pin"));
        assert!(!err.to_string().contains("secret-pin-77"));
        Ok(())
    });
}

#[test]
fn pkcs11_provider_needs_module_and_token() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("TANDEM_VAULT__PROVIDER", "pkcs11")],
            "vault.pkcs11.module",
        ),
        (
            &[
                ("TANDEM_VAULT__PROVIDER", "pkcs11"),
                ("TANDEM_VAULT__PKCS11__MODULE", "/x.so"),
            ],
            "vault.pkcs11.token_label",
        ),
        (
            &[("TANDEM_VAULT__PKCS11__KEY_LABEL", "\" \"")],
            "vault.pkcs11.key_label",
        ),
        (&[("TANDEM_MODE", "staging")], "mode"),
        (
            &[("TANDEM_TLS_TERMINATED_BY_PROXY", "maybe")],
            "tls_terminated_by_proxy",
        ),
    ];
    for (vars, key) in cases {
        Jail::expect_with(|jail| {
            for (k, v) in *vars {
                jail.set_env(k, v);
            }
            assert_eq!(key_of(load(None)), *key, "{vars:?}");
            Ok(())
        });
    }
}

#[test]
fn edge_proxies_metrics_and_connection_limits() {
    Jail::expect_with(|jail| {
        let c = load(None).unwrap();
        assert!(c.trusted_proxies.is_empty());
        assert_eq!(
            c.proxy_header,
            tandem_server::config::ProxyHeader::XForwardedFor
        );
        assert!(c.metrics_listen.is_none() && c.metrics_token.is_none());
        assert_eq!(
            (
                c.limits.max_sockets_per_session,
                c.limits.max_sockets_per_user,
                c.limits.header_timeout_secs,
                c.limits.body_timeout_secs,
                c.limits.request_timeout_secs,
                c.limits.max_connections,
            ),
            (32, 64, 10, 30, 60, 4096)
        );
        jail.create_file(
            "t.toml",
            "trusted_proxies = [\"10.0.0.0/8\", \"2001:db8::/32\", \"192.0.2.7\"]\n\
             proxy_header = \"forwarded\"\nmetrics_listen = \"127.0.0.1:9090\"\n",
        )?;
        let c = load(Some("t.toml")).unwrap();
        assert_eq!(c.trusted_proxies.len(), 3);
        assert_eq!(
            c.proxy_header,
            tandem_server::config::ProxyHeader::Forwarded
        );
        assert_eq!(c.metrics_listen, Some("127.0.0.1:9090".parse().unwrap()));
        Ok(())
    });
    Jail::expect_with(|jail| {
        // Comma-separated in the environment; the token verbatim and never shown.
        jail.set_env("TANDEM_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1");
        jail.set_env("TANDEM_METRICS_TOKEN", "[not,toml]=\"x\"");
        let c = load(None).unwrap();
        assert_eq!(c.trusted_proxies, ["10.0.0.0/8", "127.0.0.1"]);
        assert_eq!(
            c.metrics_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
            Some("[not,toml]=\"x\"".to_owned())
        );
        assert!(!format!("{c:?}").contains("not,toml"));
        Ok(())
    });
    for (var, value, key) in [
        (
            "TANDEM_TRUSTED_PROXIES",
            "10.0.0.0/33",
            "trusted_proxies[0]",
        ),
        (
            "TANDEM_TRUSTED_PROXIES",
            "127.0.0.1, proxy.local",
            "trusted_proxies[1]",
        ),
        ("TANDEM_PROXY_HEADER", "x-real-ip", "proxy_header"),
        (
            "TANDEM_LIMITS__MAX_CONNECTIONS",
            "0",
            "limits.max_connections",
        ),
        (
            "TANDEM_LIMITS__HEADER_TIMEOUT_SECS",
            "0",
            "limits.header_timeout_secs",
        ),
        (
            "TANDEM_LIMITS__MAX_SOCKETS_PER_SESSION",
            "0",
            "limits.max_sockets_per_session",
        ),
        ("TANDEM_METRICS_LISTEN", "127.0.0.1:8080", "metrics_listen"),
    ] {
        Jail::expect_with(|jail| {
            jail.set_env(var, value);
            assert_eq!(key_of(load(None)), key, "{var}={value}");
            Ok(())
        });
    }
}

fn message_of(result: Result<Config, ConfigError>) -> String {
    match result {
        Err(e) => e.to_string(),
        Ok(_) => "<accepted>".to_owned(),
    }
}

#[test]
fn unknown_file_keys_are_errors_naming_the_nearest_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "databse_url = \"postgres://db/tandem\"\n",
            "databse_url",
            "did you mean `database_url`?",
        ),
        (
            "[mail.smtp]\nhost = \"relay\"\nprot = 2525\n",
            "mail.smtp.prot",
            "did you mean `mail.smtp.port`?",
        ),
        ("[mial]\nmode = \"smtp\"\n", "mial", "did you mean `mail`?"),
        (
            "[limits]\nmax_frame_byte = 5\n",
            "limits.max_frame_byte",
            "did you mean `limits.max_frame_bytes`?",
        ),
        (
            "[vault.pkcs11]\nmodul = \"/x.so\"\n",
            "vault.pkcs11.modul",
            "did you mean `vault.pkcs11.module`?",
        ),
        // Nothing close: the valid keys of the section are listed instead.
        (
            "[otp]\ncolour = \"blue\"\n",
            "otp.colour",
            "valid keys in [otp]: ",
        ),
    ];
    for &(file, key, hint) in cases {
        Jail::expect_with(|jail| {
            jail.create_file("t.toml", file)?;
            let result = load(Some("t.toml"));
            let message = message_of(load(Some("t.toml")));
            assert_eq!(key_of(result), key, "{file}");
            assert!(message.contains(hint), "{file}: {message}");
            assert!(message.contains("t.toml"), "names the file: {message}");
            Ok(())
        });
    }
    // Every key the effective configuration shows is accepted back from a file.
    Jail::expect_with(|jail| {
        let all = serde_json::to_value(Config::default()).unwrap();
        let mut toml = String::new();
        for (section, keys) in all.as_object().unwrap() {
            if !keys.is_object() && !keys.is_null() {
                toml.insert_str(0, &format!("{section} = {keys}\n"));
            }
        }
        jail.create_file("all.toml", &toml)?;
        load(Some("all.toml")).unwrap();
        Ok(())
    });
}

#[test]
fn unknown_tandem_variables_are_errors_but_other_programs_variables_are_not() {
    for (var, hint) in [
        ("TANDEM_DATABSE_URL", "did you mean `TANDEM_DATABASE_URL`?"),
        (
            "TANDEM_MAIL__SMTP__PROT",
            "did you mean `TANDEM_MAIL__SMTP__PORT`?",
        ),
        (
            "TANDEM_MAIL_SMTP_PORT",
            "did you mean `TANDEM_MAIL__SMTP__PORT`?",
        ),
        ("TANDEM_LISTEN_ADDR", "did you mean `TANDEM_LISTEN`?"),
    ] {
        Jail::expect_with(|jail| {
            jail.set_env(var, "2525");
            let result = load(None);
            let message = message_of(load(None));
            assert_eq!(key_of(result), var);
            assert!(message.contains(hint), "{var}: {message}");
            assert!(!message.contains("2525"), "no value echoed: {message}");
            Ok(())
        });
    }
    // Read by the device commands, logging, tests and `Config::load` itself.
    Jail::expect_with(|jail| {
        for var in [
            "TANDEM_SERVER",
            "TANDEM_HOME",
            "TANDEM_PASSPHRASE",
            "TANDEM_TIMEOUT",
            "TANDEM_CA_FILE",
            "TANDEM_LOG",
            "TANDEM_LOG_FORMAT",
            "TANDEM_REQUIRE_PEERS",
            "TANDEM_TEST_PG_URL",
            "TANDEM_PEER_PYTHON",
            "TANDEM_FAILPOINTS",
            "TANDEM_VAULT_PKCS11_PIN",
            "TANDEM_METRICS_TOKEN",
        ] {
            jail.set_env(var, "x");
        }
        load(None).unwrap();
        Ok(())
    });
}

#[test]
fn tls_files_from_the_file_or_environment_both_or_neither() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "t.toml",
            "tls_cert = \"/etc/tandem/cert.pem\"\ntls_key = \"/etc/tandem/key.pem\"\n",
        )?;
        let c = load(Some("t.toml")).unwrap();
        assert_eq!(c.tls_cert, Some(PathBuf::from("/etc/tandem/cert.pem")));
        assert!(matches!(
            c.tls_files(),
            Some(tandem_server::tls::TlsSetup::Files { .. })
        ));
        jail.set_env("TANDEM_TLS_KEY", "/srv/key.pem");
        assert_eq!(
            load(Some("t.toml")).unwrap().tls_key,
            Some(PathBuf::from("/srv/key.pem"))
        );
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.create_file("u.toml", "tls_cert = \"/etc/tandem/cert.pem\"\n")?;
        assert_eq!(key_of(load(Some("u.toml"))), "tls_key");
        Ok(())
    });
}

#[test]
fn the_effective_configuration_hides_secrets() {
    Jail::expect_with(|jail| {
        jail.set_env("TANDEM_MAIL__SMTP__USERNAME", "u");
        jail.set_env("TANDEM_MAIL__SMTP__PASSWORD", "hunter2");
        jail.set_env("TANDEM_METRICS_TOKEN", "scrape-secret");
        jail.set_env("TANDEM_VAULT_PKCS11_PIN", "pin-9876");
        jail.set_env(
            "TANDEM_DATABASE_URL",
            "postgres://tandem:dbsecret@db/tandem",
        );
        let shown = serde_json::to_value(load(None).unwrap()).unwrap();
        let text = shown.to_string();
        for secret in ["hunter2", "scrape-secret", "pin-9876", "dbsecret"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(shown["mail"]["smtp"]["password"], "[redacted]");
        assert_eq!(shown["vault"]["pkcs11"]["pin"], "[redacted]");
        assert_eq!(shown["mail"]["smtp"]["port"], 587);
        Ok(())
    });
}
