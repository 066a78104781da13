//! Security bar I3: schemathesis (an independent, schema-driven API fuzzer) against the
//! running binary's own `/openapi.json`, authenticated with a real session: no 5xx, and every
//! answer conforms to the document (status codes, content types, bodies), schema-valid input
//! is accepted, schema-invalid input is refused. Bounded to a few minutes.
//!
//! Needs schemathesis in the test-peer venv (`.ci/run` installs it): skipped with a reason
//! without it, unless `TANDEM_REQUIRE_PEERS=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::http::Http;
use common::{Backend, Cli, Server, ServerOptions, unique_email};

/// Cases per operation and phase (about 5 000 in all, about a minute and a half on 2 cores).
const MAX_EXAMPLES: &str = "500";
/// A fixed seed: a failure in CI reproduces locally with the same command.
const SEED: &str = "20261205";

fn python() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("TANDEM_PEER_PYTHON").map(PathBuf::from),
        std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".cache/tandem-peers/venv/bin/python")),
    ];
    candidates.into_iter().flatten().find(|p| {
        Command::new(p)
            .args(["-c", "import schemathesis"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn schemathesis_finds_no_server_error_and_no_lie_in_the_openapi_document() {
    let Some(python) = python() else {
        let why = "schemathesis not installed (pip install schemathesis==4.32.5 into \
                   $HOME/.cache/tandem-peers/venv, as .ci/run does)";
        assert!(
            std::env::var("TANDEM_REQUIRE_PEERS").as_deref() != Ok("1"),
            "{why}"
        );
        eprintln!("skipped: {why}");
        return;
    };
    // Generous login-code budgets: the fuzzer asks for many codes from one address; the
    // throttles themselves are tested elsewhere and still answer 429 as documented.
    let opts = ServerOptions {
        env: [
            ("TANDEM_OTP__PER_IP_PER_HOUR", "100000"),
            ("TANDEM_OTP__PER_ADDRESS_PER_HOUR", "100000"),
            ("TANDEM_OTP__PER_ADDRESS_PER_DAY", "100000"),
            ("TANDEM_OTP__WRONG_CODES_PER_ADDRESS_PER_HOUR", "100000"),
            // SMS on (development outbox), so its routes are fuzzed past the 404.
            ("TANDEM_SMS__ENABLED", "true"),
            ("TANDEM_SMS__PER_NUMBER_PER_10_MINUTES", "100"),
            ("TANDEM_SMS__PER_CLIENT_PER_HOUR", "10000"),
            ("TANDEM_SMS__PER_NUMBER_PER_DAY", "1000"),
            ("TANDEM_SMS__WRONG_CODES_PER_NUMBER_PER_HOUR", "1000"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect(),
        args: Vec::new(),
    };
    let server = Server::start_with(&Backend::Sqlite, opts);
    // A user with a wallet: the wallet routes are fuzzed against it (random ids only ever
    // reach the 404 path).
    let cli = Cli::new(&server);
    cli.login(&server, &unique_email("fuzz"));
    let wallet = cli.json(&["wallet", "create", "--chain", "evm"]);
    let wallet_id = wallet["id"].as_str().unwrap();
    let token = cli.token();
    // Two more sessions, each spent by the run over one route that ends a session.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let http = Http::new(&server);
    let spare = [
        rt.block_on(http.login(&server, &unique_email("fuzz-revoke"))),
        rt.block_on(http.login(&server, &unique_email("fuzz-logout"))),
    ];

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(&config, config_toml(wallet_id)).unwrap();
    let started = std::time::Instant::now();
    // Everything but the routes that end the caller's session, with the main session.
    let main = schemathesis(&python, &config, &server.url, &token, dir.path(), |cmd| {
        cmd.args(["--exclude-path", "/v1/session/logout"])
            .args(["--exclude-path", "/v1/sessions/{id}"])
            // A WebSocket upgrade (OpenAPI cannot describe the socket); its messages are
            // fuzzed in bad_input.rs and the adversarial suites.
            .args(["--exclude-path", "/v1/ceremony"]);
    });
    // Revoke and logout, each with its own session (ended by the first success, 401 after).
    let revoke = schemathesis(
        &python,
        &config,
        &server.url,
        &spare[0],
        dir.path(),
        |cmd| {
            cmd.args(["--include-path", "/v1/sessions/{id}"]);
        },
    );
    let logout = schemathesis(
        &python,
        &config,
        &server.url,
        &spare[1],
        dir.path(),
        |cmd| {
            cmd.args(["--include-path", "/v1/session/logout"]);
        },
    );
    println!("schemathesis took {:?}", started.elapsed());
    for (what, out) in [("main run", main), ("revoke", revoke), ("logout", logout)] {
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        println!("---- {what}\n{stdout}\n{stderr}");
        assert!(
            out.status.success(),
            "schemathesis found problems in the {what} (exit {:?}); see the output above",
            out.status.code()
        );
    }
    assert!(!server.log().contains("panicked"));
}

/// Where the document cannot say everything the server checks, and why (each relaxes one
/// check for one route; everything else runs every check).
fn config_toml(wallet_id: &str) -> String {
    format!(
        r#"
# A well-formed code that is not the live one for the attempt is `code_invalid` (400), and
# the address's wrong-code budget answers 429: no schema can tell which code is live.
[[operations]]
include-path = "/v1/auth/email/verify"
checks.positive_data_acceptance.expected-statuses = [200, 400, 429]

# The same for SMS codes (step-up proofs are below); and whether a string of
# digits is a phone number that can take an SMS is libphonenumber's metadata, not a pattern:
# `invalid_phone` (400).
[[operations]]
include-path = "/v1/auth/sms/verify"
checks.positive_data_acceptance.expected-statuses = [200, 400, 429]

[[operations]]
include-path = "/v1/auth/sms/start"
checks.positive_data_acceptance.expected-statuses = [200, 400, 429]

[[operations]]
include-path = "/v1/account/phone/start"
checks.positive_data_acceptance.expected-statuses = [200, 400, 401, 403, 429]

[[operations]]
include-path = "/v1/account/phone/verify"
checks.positive_data_acceptance.expected-statuses = [200, 400, 401, 403, 409, 429]

# What a payload means (RLP, a transaction's fields, EIP-712 rules, chain) is checked by the
# parsers and refused with a 400 naming the field: the schema gives only the syntax.
[[operations]]
include-path = "/v1/wallets/{{id}}/preview"
parameters = {{ id = "{wallet_id}" }}
checks.positive_data_acceptance.expected-statuses = [200, 400, 401, 404]

[[operations]]
include-path = "/v1/wallets/{{id}}"
parameters = {{ id = "{wallet_id}" }}

# Codes, tickets and secrets: a well-formed one that is not the right one is refused (400 for
# an email code, 401 for the others), and only the server knows which is right; a method the
# account does not have is 404.
[[operations]]
include-path-regex = "^/v1/(auth/(second-factor|step-up|password/login|pin/login)|account/(email/verify|totp/confirm))$"
checks.positive_data_acceptance.expected-statuses = [200, 400, 401, 403, 404, 409, 429]

# A recovery key of all zeros is a valid hex string but no usable X25519 key (400).
[[operations]]
include-name = "PUT /v1/recovery"
checks.positive_data_acceptance.expected-statuses = [200, 400]

# A Backup Kit needs a recovery key set up first (409 `recovery_not_set_up` until the run has
# sent one), and a few a day (429); an export's one-use key may be a point HPKE refuses (400).
[[operations]]
include-path = "/v1/wallets/{{id}}/backup-kit"
parameters = {{ id = "{wallet_id}" }}
checks.positive_data_acceptance.expected-statuses = [200, 409, 429]

[[operations]]
include-path = "/v1/wallets/{{id}}/export"
parameters = {{ id = "{wallet_id}" }}
checks.positive_data_acceptance.expected-statuses = [200, 400, 429]

# An escrow is a sealed share of this wallet at its epoch: random bytes are not one (400), and
# none is taken before a recovery key exists (409).
[[operations]]
include-path = "/v1/wallets/{{id}}/escrow"
parameters = {{ id = "{wallet_id}" }}
checks.positive_data_acceptance.expected-statuses = [200, 400, 409]

# Recovery requests: a well-formed verifier that is not the secret's is 401; without a recovery
# key 409; nothing pending to cancel or complete is 404; there is no request to show until one
# was started.
[[operations]]
include-path-regex = "^/v1/recovery/requests(/(cancel|complete|current))?$"
checks.positive_data_acceptance.expected-statuses = [200, 401, 403, 404, 409, 429]
# Social sign-in: no provider is enabled in this run (each would need a live provider), so a
# well-formed start names one that is off (404); a well-formed code or state is not a live
# one (400), and failed finishes are throttled per client (429).
[[operations]]
include-path-regex = "^/v1/(auth|account)/social/start$"
checks.positive_data_acceptance.expected-statuses = [200, 400, 401, 403, 404, 429]

[[operations]]
include-path-regex = "^/v1/(auth|account)/social/finish$"
checks.positive_data_acceptance.expected-statuses = [200, 400, 401, 403, 409, 429]

[[operations]]
include-path = "/v1/auth/social/callback"
checks.positive_data_acceptance.expected-statuses = [303, 400]

# A new password or PIN has rules the schema cannot say: not a common password, 15 characters
# without a second factor, no repeated digit or run.
[[operations]]
include-name-regex = "^PUT /v1/account/(password|pin)$"
checks.positive_data_acceptance.expected-statuses = [204, 400, 403]
"#
    )
}

fn schemathesis(
    python: &std::path::Path,
    config: &std::path::Path,
    url: &str,
    token: &str,
    reports: &std::path::Path,
    filters: impl FnOnce(&mut Command),
) -> std::process::Output {
    let mut cmd = Command::new(python);
    cmd.args(["-m", "schemathesis.cli", "--config-file"])
        .arg(config)
        .arg("run")
        .arg(format!("{url}/openapi.json"))
        .args(["--checks", "all"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED])
        .args(["--workers", "2", "--request-timeout", "30"])
        .args(["--suppress-health-check", "all"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .arg("--report-dir")
        .arg(reports)
        // Its cache directory goes there too, not into the source tree.
        .current_dir(reports)
        .env("NO_COLOR", "1");
    filters(&mut cmd);
    cmd.output().expect("run schemathesis")
}
