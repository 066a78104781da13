//! `tandem config check`: the effective configuration (secrets hidden) and a test of
//! everything it points at (the database, the vault's key, the channel key, the TLS files, the
//! mail relay), each failure saying what to fix. Read-only: it creates no database, table, key
//! or file, and sends no mail.

use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

use crate::config::{Config, MailMode, VaultProviderKind};
use crate::notify::SmtpMailer;
use crate::tls::TlsSetup;
use crate::vault::{Pkcs11KeyProvider, registry};
use crate::vault_ops::{Purpose, keyring_from_config};

/// How long one probe (database, relay) may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The outcome of `tandem config check`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Whether every check passed.
    pub ok: bool,
    /// The effective configuration, secrets as `[redacted]`.
    pub config: serde_json::Value,
    pub checks: Vec<Check>,
}

/// One tested item.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `production`, `database`, `vault`, `channel_key`, `tls`, `mail`.
    pub name: &'static str,
    pub ok: bool,
    /// What was found, or what is wrong and how to fix it.
    pub detail: String,
}

fn pass(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        ok: true,
        detail: detail.into(),
    }
}

fn fail(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        ok: false,
        detail: detail.into(),
    }
}

/// Runs every check; `tls` is the TLS the server would use (flags or file).
pub async fn run(config: &Config, tls: Option<&TlsSetup>) -> CheckReport {
    let mut checks = Vec::new();
    if let Err(problems) = crate::production::check(config, tls) {
        checks.push(fail(
            "production",
            format!(
                "mode = \"production\" would refuse to start:\n  - {}",
                problems.join("\n  - ")
            ),
        ));
    }
    let (db_check, pool) = database(config).await;
    checks.push(db_check);
    checks.push(vault(config, pool.as_ref()).await);
    checks.push(channel_key(config, pool.as_ref()).await);
    if let Some(TlsSetup::Files { cert, key }) = tls {
        checks.push(
            match axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await {
                Ok(_) => pass("tls", format!("certificate {} loads", cert.display())),
                Err(e) => fail(
                    "tls",
                    format!(
                        "cannot load tls_cert `{}` / tls_key `{}`: {e} (PEM chain and its \
                         private key, readable by the server's user)",
                        cert.display(),
                        key.display()
                    ),
                ),
            },
        );
    }
    checks.push(mail(config).await);
    if let Some(pool) = pool {
        pool.close().await;
    }
    CheckReport {
        ok: checks.iter().all(|c| c.ok),
        config: serde_json::to_value(config).unwrap_or_default(),
        checks,
    }
}

/// `key = value` lines of the effective configuration (from [`CheckReport::config`]).
pub fn flatten(config: &serde_json::Value) -> Vec<String> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            serde_json::Value::Null => out.push(format!("{prefix} = (not set)")),
            other => out.push(format!("{prefix} = {other}")),
        }
    }
    let mut out = Vec::new();
    walk("", config, &mut out);
    out
}

async fn database(config: &Config) -> (Check, Option<AnyPool>) {
    let url = config.database_url();
    let shown = crate::store::redact_url(&url);
    sqlx::any::install_default_drivers();
    let connect_url = if let Some(file) = crate::store::sqlite_file(&url) {
        if !file.exists() {
            return (
                pass(
                    "database",
                    format!(
                        "SQLite file {} does not exist yet; `tandem serve` creates it at its \
                         first start",
                        file.display()
                    ),
                ),
                None,
            );
        }
        // `rw`, not sqlx's default `rwc`: a check must not create a database.
        format!("{}?mode=rw", url.split('?').next().unwrap_or(&url))
    } else {
        url.clone()
    };
    let pg = sqlx::postgres::PgConnectOptions::from_str(&url).ok();
    let where_ = pg
        .as_ref()
        .map(|o| format!("{}:{}", o.get_host(), o.get_port()))
        .unwrap_or_default();
    // One plain connection first: a pool would retry a refused connection until its timeout
    // and report only that.
    let probe = tokio::time::timeout(PROBE_TIMEOUT, async {
        use sqlx::Connection;
        let conn = sqlx::AnyConnection::connect(&connect_url).await?;
        let _ = conn.close().await;
        AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(PROBE_TIMEOUT)
            .connect(&connect_url)
            .await
    })
    .await;
    let pool = match probe {
        Ok(Ok(pool)) => pool,
        Ok(Err(e)) => return (fail("database", db_error(&e, pg.as_ref(), &shown)), None),
        Err(_) => {
            return (
                fail(
                    "database",
                    format!(
                        "no answer from the database at {where_} within {}s ({shown}): is it \
                         running and reachable from here (firewall, host and port in \
                         database_url)?",
                        PROBE_TIMEOUT.as_secs()
                    ),
                ),
                None,
            );
        }
    };
    let applied = sqlx::query("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await;
    let detail = match applied {
        Ok(row) => {
            use sqlx::Row;
            let n: i64 = row.try_get(0).unwrap_or(0);
            format!("{shown}: reachable, {n} migrations applied")
        }
        Err(_) => format!("{shown}: reachable, empty (`tandem serve` creates the tables)"),
    };
    let backend = if pg.is_some() && !url.starts_with("sqlite") {
        format!("PostgreSQL at {where_}, ")
    } else {
        String::new()
    };
    (pass("database", format!("{backend}{detail}")), Some(pool))
}

fn db_error(e: &sqlx::Error, pg: Option<&sqlx::postgres::PgConnectOptions>, shown: &str) -> String {
    let Some(pg) = pg.filter(|_| !shown.starts_with("sqlite")) else {
        return format!("cannot open the SQLite database {shown}: {e}");
    };
    let (host, port) = (pg.get_host(), pg.get_port());
    let user = pg.get_username();
    let code = match e {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    };
    match code.as_deref() {
        // invalid_catalog_name
        Some("3D000") => {
            let db = pg.get_database().unwrap_or(user);
            format!(
                "PostgreSQL at {host}:{port} has no database `{db}`: create it with \
                 `createdb -h {host} -p {port} -U {user} {db}` (or `CREATE DATABASE \"{db}\" \
                 OWNER \"{user}\";` in psql)"
            )
        }
        // invalid_password, invalid_authorization_specification
        Some("28P01") | Some("28000") => format!(
            "PostgreSQL at {host}:{port} refused user `{user}`: check the user and password \
             in database_url (and pg_hba.conf): {e}"
        ),
        _ => format!(
            "cannot connect to PostgreSQL at {host}:{port} as `{user}`: {e}; is the server \
             running, and are host and port in database_url right?"
        ),
    }
}

async fn vault(config: &Config, pool: Option<&AnyPool>) -> Check {
    let keyring = match keyring_from_config(config, Purpose::Serve) {
        Ok(k) => k,
        Err(e) => return fail("vault", e.to_string()),
    };
    let active = match pool {
        Some(pool) => registry::active(pool).await.ok().flatten(),
        None => None,
    };
    if let Some(active) = active {
        return match keyring.get(&active.kek_id) {
            Ok(_) => pass(
                "vault",
                format!("the database's active KEK `{}` is usable", active.kek_id),
            ),
            Err(e) => fail(
                "vault",
                format!(
                    "the database's active KEK `{}` is not usable here: {e}",
                    active.kek_id
                ),
            ),
        };
    }
    match config.vault.provider {
        VaultProviderKind::Pkcs11 => {
            let p = &config.vault.pkcs11;
            let token = p.token_label.as_deref().unwrap_or_default();
            let id = Pkcs11KeyProvider::kek_id_for(token, &p.key_label);
            match keyring.get(&id) {
                Ok(_) => pass(
                    "vault",
                    format!("KEK `{}` found on token `{token}`", p.key_label),
                ),
                Err(e) => fail(
                    "vault",
                    format!(
                        "KEK `{}` on token `{token}`: {e} (`tandem vault init` creates it)",
                        p.key_label
                    ),
                ),
            }
        }
        VaultProviderKind::Local => {
            let file = config.key_file();
            if file.exists() {
                pass("vault", format!("local key file {}", file.display()))
            } else {
                pass(
                    "vault",
                    format!(
                        "local key file {} does not exist yet; `tandem serve` creates it",
                        file.display()
                    ),
                )
            }
        }
    }
}

async fn channel_key(config: &Config, pool: Option<&AnyPool>) -> Check {
    let path = config.channel_key_file();
    let registered = match pool {
        Some(pool) => crate::channel_key::registered(pool).await.ok().flatten(),
        None => None,
    };
    if !path.exists() {
        return match registered {
            Some(r) => fail(
                "channel_key",
                format!(
                    "`{}` is missing, but the database registered channel key {r}: copy \
                     server-channel.key from an instance that serves",
                    path.display()
                ),
            ),
            None => pass(
                "channel_key",
                format!(
                    "{} does not exist yet; `tandem serve` creates it (back it up, and give \
                     every instance the same file)",
                    path.display()
                ),
            ),
        };
    }
    let public = crate::vault::secret_key_file(&path)
        .map_err(|e| e.to_string())
        .and_then(|secret| {
            tandem_proto::channel::StaticKeypair::from_private(secret.as_slice())
                .map(|k| hex::encode(k.public()))
                .map_err(|e| e.to_string())
        });
    match (public, registered) {
        (Err(e), _) => fail("channel_key", format!("`{}`: {e}", path.display())),
        (Ok(p), Some(r)) if p != r => fail(
            "channel_key",
            format!(
                "`{}` holds public key {p}, but the database registered {r}: copy \
                 server-channel.key from an instance that serves",
                path.display()
            ),
        ),
        (Ok(p), _) => pass("channel_key", format!("{}: public key {p}", path.display())),
    }
}

async fn mail(config: &Config) -> Check {
    let smtp = &config.mail.smtp;
    if config.mail.mode == MailMode::Outbox {
        return pass(
            "mail",
            "development outbox: login codes are written to the log, not sent",
        );
    }
    let relay = format!("{}:{} ({:?})", smtp.host, smtp.port, smtp.tls).to_lowercase();
    let mailer = match SmtpMailer::new(&config.mail) {
        Ok(m) => m,
        Err(e) => return fail("mail", format!("SMTP relay {relay}: {e}")),
    };
    match tokio::time::timeout(PROBE_TIMEOUT, mailer.test_connection()).await {
        Ok(Ok(())) => pass(
            "mail",
            format!("SMTP relay {relay} answered; sender {}", config.mail.from),
        ),
        Ok(Err(e)) => fail(
            "mail",
            format!(
                "SMTP relay {relay}: {e}; check mail.smtp.host, port and tls (STARTTLS is \
                 usually 587, implicit TLS 465) and the credentials"
            ),
        ),
        Err(_) => fail(
            "mail",
            format!(
                "SMTP relay {relay} did not answer within {}s: check host, port and firewall",
                PROBE_TIMEOUT.as_secs()
            ),
        ),
    }
}
