//! Production mode with the real binary: every unfit setting is refused with its own message
//! (all of them listed at once), before anything is written; a fit configuration (SMTP relay
//! on loopback, `--tls-cert`/`--tls-key` or `--behind-tls-proxy`, the pkcs11 provider on
//! SoftHSM2, the system clock) starts; development mode announces itself loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::softhsm::SoftHsm;
use common::{Backend, Server, ServerOptions, vault};

/// A self-signed certificate for 127.0.0.1 and its key, as PEM files in `dir`.
fn cert_files(dir: &Path) -> (PathBuf, PathBuf) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

const METRICS_TOKEN: &str = "metrics-scrape-token-0123456789";

/// A production configuration that is fit in every respect, with `vault` as the PKCS#11
/// settings (a real token, or a placeholder for tests that never reach the vault).
fn fit_env(vault: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("TANDEM_MODE", "production".to_owned()),
        ("TANDEM_CLOCK", "system".to_owned()),
        ("TANDEM_MAIL__MODE", "smtp".to_owned()),
        ("TANDEM_MAIL__SMTP__HOST", "127.0.0.1".to_owned()),
        ("TANDEM_MAIL__SMTP__PORT", common::free_port().to_string()),
        ("TANDEM_MAIL__SMTP__TLS", "none".to_owned()),
        (
            "TANDEM_MAIL__FROM",
            "Wallet <no-reply@example.com>".to_owned(),
        ),
        ("TANDEM_VAULT__PROVIDER", "pkcs11".to_owned()),
        ("TANDEM_METRICS_TOKEN", METRICS_TOKEN.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    env.extend(vault);
    env
}

fn placeholder_token() -> Vec<(String, String)> {
    vec![
        (
            "TANDEM_VAULT__PKCS11__MODULE".into(),
            "/usr/lib/softhsm/libsofthsm2.so".into(),
        ),
        ("TANDEM_VAULT__PKCS11__TOKEN_LABEL".into(), "prod".into()),
        ("TANDEM_VAULT_PKCS11_PIN".into(), "1234".into()),
    ]
}

fn set(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    env.retain(|(k, _)| k != key);
    env.push((key.to_owned(), value.to_owned()));
}

fn problems(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("- "))
        .collect()
}

#[test]
fn each_unfit_setting_is_refused_with_its_own_error() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = cert_files(dir.path());
    let tls_args = vec![
        "--tls-cert".to_owned(),
        cert.display().to_string(),
        "--tls-key".to_owned(),
        key.display().to_string(),
    ];
    type Case = (
        &'static str,
        fn(&mut Vec<(String, String)>, &mut Vec<String>),
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "development outbox",
            |env, _| set(env, "TANDEM_MAIL__MODE", "outbox"),
            "mail.mode is \"outbox\"",
        ),
        (
            "plaintext SMTP to another host",
            |env, _| set(env, "TANDEM_MAIL__SMTP__HOST", "smtp.example.com"),
            "mail.smtp.tls is \"none\" towards `smtp.example.com`",
        ),
        ("no TLS", |_, args| args.clear(), "TLS is off"),
        (
            "development certificate",
            |_, args| *args = vec!["--dev-tls".to_owned()],
            "--dev-tls",
        ),
        (
            "local key file",
            |env, _| set(env, "TANDEM_VAULT__PROVIDER", "local"),
            "vault.provider is \"local\"",
        ),
        (
            "test clock",
            |env, _| set(env, "TANDEM_CLOCK", "file:/tmp/tandem-test-clock"),
            "clock is \"file:/tmp/tandem-test-clock\"",
        ),
        (
            "public metrics",
            |env, _| env.retain(|(k, _)| k != "TANDEM_METRICS_TOKEN"),
            "/metrics would be public",
        ),
        (
            "sqlite",
            |env, _| env.retain(|(k, _)| k != "TANDEM_DATABASE_URL"),
            "database_url is not PostgreSQL",
        ),
        (
            "development sender",
            |env, _| env.retain(|(k, _)| k != "TANDEM_MAIL__FROM"),
            "mail.from is `Tandem <no-reply@tandem.localhost>`",
        ),
    ];
    for (name, unfit, expected) in cases {
        let data = dir.path().join(name.replace(' ', "-"));
        let mut env = fit_env(placeholder_token());
        // Never reached: the checks refuse before connecting.
        set(
            &mut env,
            "TANDEM_DATABASE_URL",
            "postgres://tandem@127.0.0.1:1/tandem",
        );
        let mut args = tls_args.clone();
        unfit(&mut env, &mut args);
        let err = Server::refused(&Backend::Sqlite, &data, &ServerOptions { env, args });
        assert!(
            err.contains("refusing to start in production mode"),
            "{name}: {err}"
        );
        assert!(
            err.contains(expected),
            "{name}: expected `{expected}` in:\n{err}"
        );
        assert_eq!(
            problems(&err).len(),
            1,
            "{name}: exactly one problem:\n{err}"
        );
        assert!(!err.contains("DEVELOPMENT MODE"), "{name}: {err}");
        assert!(!err.contains("1234"), "{name}: the PIN leaked: {err}");
        // Refused before anything was created.
        assert!(
            !data.exists(),
            "{name}: the refused start wrote {}",
            data.display()
        );
    }

    // The zero-configuration development setup in production mode: every problem at once.
    let data = dir.path().join("all");
    let env = vec![
        ("TANDEM_MODE".to_owned(), "production".to_owned()),
        (
            "TANDEM_CLOCK".to_owned(),
            "file:/tmp/tandem-test-clock".to_owned(),
        ),
    ];
    let err = Server::refused(
        &Backend::Sqlite,
        &data,
        &ServerOptions {
            env,
            args: vec!["--dev-tls".into()],
        },
    );
    let found = problems(&err);
    assert_eq!(found.len(), 7, "{err}");
    for expected in [
        "database_url",
        "mail.from",
        "mail.mode",
        "--dev-tls",
        "vault.provider",
        "clock is",
        "/metrics",
    ] {
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "{expected}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fit_production_configuration_starts() {
    let Some(hsm) = SoftHsm::new() else { return };
    let Some(db) = tandem_server::store::testing::temp_postgres().await else {
        return;
    };
    let backend = Backend::Postgres(db.url.clone());
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = cert_files(dir.path());
    let env = fit_env(hsm.env());
    vault::json(&backend, &dir.path().join("data"), &env, &["init"]);
    let server = Server::start_in(
        &backend,
        dir,
        ServerOptions {
            env: env.clone(),
            args: vec![
                "--tls-cert".into(),
                cert.display().to_string(),
                "--tls-key".into(),
                key.display().to_string(),
            ],
        },
    );
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let log = server.log();
    assert!(!log.contains("DEVELOPMENT MODE"), "{log}");

    // `tandem config check` on this deployment: the token's KEK (the database's active one)
    // and the channel key pass; the relay (a closed port) fails, naming host and port.
    let mut check_env: Vec<(&str, String)> =
        env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    check_env.push(("TANDEM_DATABASE_URL", db.url.clone()));
    check_env.push(("TANDEM_DATA_DIR", server.data_dir.display().to_string()));
    check_env.push(("TANDEM_TLS_CERT", cert.display().to_string()));
    check_env.push(("TANDEM_TLS_KEY", key.display().to_string()));
    let (ok, json, _) = config_check(&check_env, true);
    assert!(!ok, "{json}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let check = |name: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name} check: {report}"))
            .clone()
    };
    for name in ["database", "vault", "channel_key", "tls"] {
        assert_eq!(check(name)["ok"], true, "{name}: {report}");
    }
    assert!(
        check("vault")["detail"]
            .as_str()
            .unwrap()
            .contains(&hsm.kek_id("tandem-kek")),
        "{report}"
    );
    let smtp_port = env
        .iter()
        .find(|(k, _)| k == "TANDEM_MAIL__SMTP__PORT")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert_eq!(check("mail")["ok"], false);
    assert!(
        check("mail")["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("127.0.0.1:{smtp_port}")),
        "{report}"
    );
    assert!(!json.contains("user-pin"), "the PIN leaked: {json}");
    let pem = std::fs::read(&cert).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let resp = client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Metrics only for the scraper's token, which never shows in the log.
    let metrics = format!("{}/metrics", server.url);
    let resp = client.get(&metrics).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = client
        .get(&metrics)
        .bearer_auth("metrics-scrape-token-wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = client
        .get(&metrics)
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(!server.log().contains(METRICS_TOKEN));

    // Behind a TLS-terminating proxy, plain HTTP here is accepted once declared.
    let server = server.restart_with(
        &backend,
        ServerOptions {
            env,
            args: vec!["--behind-tls-proxy".into()],
        },
    );
    assert!(server.url.starts_with("http://"), "{}", server.url);
    drop(server);
    let _ = db.drop_db().await;
}

/// Issue 14, item 2: `databse_url` in the file of a production instance stops it with the
/// key and the intended one named, instead of a fresh SQLite database answering `/healthz`.
#[test]
fn a_misspelled_setting_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tandem.toml");
    std::fs::write(
        &file,
        "mode = \"production\"\ndatabse_url = \"postgres://tandem@127.0.0.1:1/tandem\"\n\n\
         [mail.smtp]\nprot = 2525\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let env = vec![("TANDEM_CONFIG".to_owned(), file.display().to_string())];
    let err = Server::refused(
        &Backend::Sqlite,
        &data,
        &ServerOptions {
            env: env.clone(),
            args: Vec::new(),
        },
    );
    assert!(
        err.contains("unknown key `databse_url`") && err.contains("did you mean `database_url`?"),
        "{err}"
    );
    assert!(!data.exists(), "nothing created: {err}");
    // The environment too.
    let err = Server::refused(
        &Backend::Sqlite,
        &data,
        &ServerOptions {
            env: vec![("TANDEM_MAIL__SMTP__PROT".to_owned(), "2525".to_owned())],
            args: Vec::new(),
        },
    );
    assert!(
        err.contains("`TANDEM_MAIL__SMTP__PROT`")
            && err.contains("did you mean `TANDEM_MAIL__SMTP__PORT`?"),
        "{err}"
    );
    assert!(!data.exists());
}

/// `tandem config check` with `env` (and no inherited server settings): (exit ok, stdout,
/// stderr).
fn config_check(env: &[(&str, String)], json: bool) -> (bool, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"));
    cmd.args(["config", "check"]);
    if json {
        cmd.arg("--json");
    }
    cmd.env_remove("TANDEM_CONFIG")
        .env_remove("TANDEM_DATABASE_URL")
        .env_remove("TANDEM_DATA_DIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Issue 14, item 2: `tandem config check` prints the effective configuration without
/// secrets and says what to fix for the database, the mail relay and production mode, with
/// host and port in every connection error; it creates nothing.
#[tokio::test(flavor = "multi_thread")]
async fn config_check_says_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_dir = data.display().to_string();

    // The zero-configuration development setup passes and creates nothing.
    let (ok, out, err) = config_check(&[("TANDEM_DATA_DIR", data_dir.clone())], false);
    assert!(
        ok,
        "{out}
{err}"
    );
    assert!(out.contains("mail.smtp.port = 587"), "{out}");
    assert!(out.contains("does not exist yet"), "{out}");
    assert!(!data.exists(), "config check created {}", data.display());

    // Unreachable database and relay: host and port named; secrets hidden.
    let db_port = common::free_port();
    let smtp_port = common::free_port();
    let env = vec![
        ("TANDEM_DATA_DIR", data_dir.clone()),
        (
            "TANDEM_DATABASE_URL",
            format!("postgres://tandem:db-secret-77@127.0.0.1:{db_port}/tandem"),
        ),
        ("TANDEM_MAIL__MODE", "smtp".to_owned()),
        ("TANDEM_MAIL__SMTP__HOST", "127.0.0.1".to_owned()),
        ("TANDEM_MAIL__SMTP__PORT", smtp_port.to_string()),
        ("TANDEM_MAIL__SMTP__TLS", "none".to_owned()),
        ("TANDEM_MAIL__SMTP__USERNAME", "mailer".to_owned()),
        ("TANDEM_MAIL__SMTP__PASSWORD", "smtp-secret-88".to_owned()),
        ("TANDEM_MODE", "production".to_owned()),
    ];
    let (ok, out, err) = config_check(&env, false);
    assert!(!ok, "{out}");
    assert!(err.contains("configuration check failed"), "{err}");
    for secret in ["db-secret-77", "smtp-secret-88"] {
        assert!(!out.contains(secret) && !err.contains(secret), "{out}{err}");
    }
    assert!(out.contains("mail.smtp.password = \"[redacted]\""), "{out}");
    let fails: Vec<&str> = out.lines().filter(|l| l.contains("FAIL")).collect();
    let line = |name: &str| {
        fails
            .iter()
            .find(|l| l.contains(name))
            .copied()
            .unwrap_or_else(|| panic!("no failed {name} check in:\n{out}"))
    };
    assert!(
        line("database").contains(&format!("127.0.0.1:{db_port}")),
        "{out}"
    );
    assert!(
        line("mail").contains(&format!("127.0.0.1:{smtp_port}")),
        "{out}"
    );
    assert!(out.contains("vault.provider is \"local\""), "{out}");

    // --json: the same, machine-readable.
    let (ok, json, _) = config_check(&env, true);
    assert!(!ok);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["config"]["mail"]["smtp"]["password"], "[redacted]");
    let checks = report["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "database" && c["ok"] == false)
    );
    assert!(!data.exists());

    // A PostgreSQL server without the database: the command that creates it.
    if let Some(db) = tandem_server::store::testing::temp_postgres().await {
        let (host, port) = ("127.0.0.1", 5432);
        let mut url = db.url.clone();
        let name_at = url.rfind('/').unwrap();
        url.replace_range(name_at + 1.., "tandem_missing_db");
        let (ok, out, _) = config_check(
            &[
                ("TANDEM_DATA_DIR", data_dir.clone()),
                ("TANDEM_DATABASE_URL", url.clone()),
            ],
            false,
        );
        assert!(!ok, "{out}");
        if url.contains(&format!("{host}:{port}")) {
            assert!(
                out.contains(&format!("createdb -h {host} -p {port}"))
                    && out.contains("tandem_missing_db")
                    && out.contains("CREATE DATABASE \"tandem_missing_db\""),
                "{out}"
            );
        } else {
            assert!(out.contains("createdb -h"), "{out}");
        }
        // The real database passes.
        let (ok, out, err) = config_check(
            &[
                ("TANDEM_DATA_DIR", data_dir.clone()),
                ("TANDEM_DATABASE_URL", db.url.clone()),
            ],
            false,
        );
        assert!(ok, "{out}\n{err}");
        assert!(out.contains("PostgreSQL at"), "{out}");
        let _ = db.drop_db().await;
    }
}

#[test]
fn development_mode_announces_itself() {
    let server = Server::start(&Backend::Sqlite);
    let log = server.log();
    for expected in [
        "DEVELOPMENT MODE",
        "login codes are NOT emailed",
        "local key file",
        "no TLS",
        "test clock",
        "mode = \"production\"",
    ] {
        assert!(log.contains(expected), "`{expected}` missing from:\n{log}");
    }
}

/// Security bar Z4: the running server cannot be read by another process of its own user
/// (ptrace-style access: `/proc/<pid>/environ`, `mem`), and writes no core file. Run as root,
/// the test runs the server and the prying process as `nobody`; otherwise both as the
/// current user. A control process of the same user, without the hardening, is readable, so
/// the check can tell the difference.
#[test]
fn another_process_of_the_same_user_cannot_read_the_server() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    let me = std::fs::metadata("/proc/self").unwrap().uid();
    let (uid, gid) = if me == 0 { (65534, 65534) } else { (me, me) };
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // The test binary's target directory may not be reachable by `nobody`: run a copy.
    let binary = dir.path().join("tandem");
    std::fs::copy(env!("CARGO_BIN_EXE_tandem"), &binary).unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The server refuses a data directory open to group or others.
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    if me == 0 {
        std::os::unix::fs::chown(&data, Some(uid), Some(gid)).unwrap();
    }
    let as_user = |cmd: &mut Command| {
        if me == 0 {
            cmd.uid(uid).gid(gid);
        }
    };

    let port = common::free_port();
    let mut cmd = Command::new(&binary);
    cmd.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ])
    .arg(&data)
    .env_clear()
    .env("TANDEM_SECRET_CANARY", "not-for-other-processes")
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    as_user(&mut cmd);
    let mut server = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(server.try_wait().unwrap().is_none(), "the server exited");
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    let mut control_cmd = Command::new("sleep");
    control_cmd
        .arg("60")
        .env_clear()
        .env("TANDEM_SECRET_CANARY", "x");
    as_user(&mut control_cmd);
    let mut control = control_cmd.spawn().unwrap();

    let pry = |pid: u32, file: &str| {
        let mut cmd = Command::new("head");
        cmd.args(["-c", "64"]).arg(format!("/proc/{pid}/{file}"));
        as_user(&mut cmd);
        cmd.output().unwrap()
    };
    let control_read = pry(control.id(), "environ");
    let server_environ = pry(server.id(), "environ");
    let server_mem = pry(server.id(), "mem");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.id())).unwrap();
    let _ = control.kill();
    let _ = control.wait();
    let _ = server.kill();
    let _ = server.wait();

    assert!(
        control_read.status.success(),
        "control: a same-user process should be readable: {}",
        String::from_utf8_lossy(&control_read.stderr)
    );
    for (what, out) in [("environ", &server_environ), ("mem", &server_mem)] {
        assert!(
            !out.status.success(),
            "/proc/<server>/{what} was readable by a same-user process"
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert_eq!(
        core.split_whitespace().collect::<Vec<_>>()[4..6],
        ["0", "0"],
        "{core}"
    );
}
