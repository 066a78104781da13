//! Email one-time codes on both backends: success, reuse, expiry, attempt limits, binding to
//! the attempt, throttles (keyed so nobody can lock out someone else, counted atomically),
//! the per-address wrong-code budget, what a database copy reveals, validation, delivery
//! failure, legacy rows, and two instances racing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::{TestDb, manual_clock};
use sha2::{Digest, Sha256};
use sqlx::Row;
use tandem_server::auth::{
    AuthError, EMAIL_OTP, EmailOtp, LockoutPolicy, OtpStarted, seal_legacy_rows,
};
use tandem_server::clock::SharedClock;
use tandem_server::config::OtpConfig;
use tandem_server::notify::{LoginCode, MailError, Mailer};
use tandem_server::store::Store;
use tandem_server::vault::PiiKeys;

/// Records what would have been mailed; can be told to fail.
#[derive(Default)]
struct TestMailer {
    sent: Mutex<Vec<(String, String)>>,
    fail: AtomicBool,
}

impl TestMailer {
    fn last_code_for(&self, to: &str) -> String {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(addr, _)| addr == to)
            .map(|(_, code)| code.clone())
            .expect("a code was sent")
    }
    fn count(&self) -> usize {
        self.sent.lock().unwrap().len()
    }
}

#[async_trait]
impl Mailer for TestMailer {
    async fn send_login_code(&self, to: &str, code: &LoginCode) -> Result<(), MailError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(MailError::Smtp("sink refused".to_owned()));
        }
        self.sent
            .lock()
            .unwrap()
            .push((to.to_owned(), code.expose().to_owned()));
        Ok(())
    }
    async fn send_notice(&self, _to: &str, _subject: &str, _body: &str) -> Result<(), MailError> {
        Ok(())
    }
}

struct Fixture {
    otp: EmailOtp,
    keys: PiiKeys,
    mailer: Arc<TestMailer>,
    clock: Arc<tandem_server::clock::ManualClock>,
    shared_clock: SharedClock,
}

fn fixture(store: &Store) -> Fixture {
    let (clock, shared_clock) = manual_clock();
    let mailer = Arc::new(TestMailer::default());
    let keys = PiiKeys::random().unwrap();
    let otp = EmailOtp::new(
        store.clone(),
        shared_clock.clone(),
        mailer.clone(),
        OtpConfig::default(),
        keys.clone(),
    );
    Fixture {
        otp,
        keys,
        mailer,
        clock,
        shared_clock,
    }
}

async fn count(store: &Store, sql: &'static str) -> i64 {
    sqlx::query(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

/// A code that is certainly not `code`.
fn wrong(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

async fn login_succeeds_and_creates_the_user_once(db: &TestDb) {
    let f = fixture(&db.store);
    let started = f
        .otp
        .start("  Alice@Example.COM ", "10.0.0.1")
        .await
        .unwrap();
    assert_eq!(started.attempt_id.len(), 32);
    assert_eq!(started.expires_at, f.clock_now() + 600_000);
    let code = f.mailer.last_code_for("alice@example.com");
    assert_eq!(code.len(), 6);

    // Only a keyed MAC is stored: with a copy of the database, trying every code under the
    // old unkeyed construction, SHA-256(attempt id ‖ code), finds nothing.
    let stored: Vec<u8> = sqlx::query("SELECT code_mac FROM otp_codes WHERE id = $1")
        .bind(&started.attempt_id)
        .fetch_one(db.store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(stored.len(), 32);
    assert!(!stored.windows(6).any(|w| w == code.as_bytes()));
    let found = (0..1_000_000u32).find(|n| {
        let mut h = Sha256::new();
        h.update(started.attempt_id.as_bytes());
        h.update(format!("{n:06}").as_bytes());
        h.finalize().as_slice() == stored.as_slice()
    });
    assert_eq!(
        found, None,
        "the stored code opens to a brute force without the key"
    );
    assert_eq!(
        f.keys.code_mac(&started.attempt_id, &code).as_slice(),
        stored.as_slice()
    );

    let v = f.otp.verify(&started.attempt_id, &code).await.unwrap();
    assert_eq!(v.email, "alice@example.com");
    assert!(v.created);

    let again = f.otp.start("alice@example.com", "10.0.0.1").await.unwrap();
    let code2 = f.mailer.last_code_for("alice@example.com");
    let v2 = f.otp.verify(&again.attempt_id, &code2).await.unwrap();
    assert!(!v2.created);
    assert_eq!(v2.user_id, v.user_id);
    assert_eq!(count(&db.store, "SELECT COUNT(*) FROM users").await, 1);
    assert_no_clear_text(&db.store, &["alice@example.com", "10.0.0.1"]).await;
}

/// Every text and blob in the auth tables, as bytes.
async fn auth_table_bytes(store: &Store) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (table, text, blobs) in [
        ("users", "id || email", "email_index, email_sealed"),
        ("otp_codes", "id", "email_index, email_sealed"),
        ("auth_throttles", "scope", "bucket, bucket"),
    ] {
        let sql = format!("SELECT {text}, {blobs} FROM {table}");
        for row in sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(store.pool())
            .await
            .unwrap()
        {
            out.push(row.try_get::<String, _>(0).unwrap().into_bytes());
            for i in 1..3 {
                out.push(
                    row.try_get::<Option<Vec<u8>>, _>(i)
                        .unwrap()
                        .unwrap_or_default(),
                );
            }
        }
    }
    out
}

async fn assert_no_clear_text(store: &Store, needles: &[&str]) {
    for value in auth_table_bytes(store).await {
        for needle in needles {
            assert!(
                !value.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} stored in clear"
            );
        }
    }
}

impl Fixture {
    fn clock_now(&self) -> i64 {
        self.shared_clock.now_ms()
    }
}

async fn start_looks_the_same_for_known_and_unknown_addresses(db: &TestDb) {
    let f = fixture(&db.store);
    let a = f.otp.start("known@example.com", "10.0.0.1").await.unwrap();
    let code = f.mailer.last_code_for("known@example.com");
    f.otp.verify(&a.attempt_id, &code).await.unwrap();
    let known = f.otp.start("known@example.com", "10.0.0.1").await.unwrap();
    let unknown = f
        .otp
        .start("unknown@example.com", "10.0.0.1")
        .await
        .unwrap();
    assert_eq!(known.expires_at, unknown.expires_at);
    assert_eq!(known.attempt_id.len(), unknown.attempt_id.len());
    // No user is created before a code is verified.
    assert_eq!(count(&db.store, "SELECT COUNT(*) FROM users").await, 1);
}

async fn a_code_works_once(db: &TestDb) {
    let f = fixture(&db.store);
    let s = f.otp.start("bob@example.com", "10.0.0.2").await.unwrap();
    let code = f.mailer.last_code_for("bob@example.com");
    f.otp.verify(&s.attempt_id, &code).await.unwrap();
    assert!(matches!(
        f.otp.verify(&s.attempt_id, &code).await,
        Err(AuthError::CodeInvalid)
    ));
}

async fn codes_expire_at_exactly_ten_minutes(db: &TestDb) {
    let f = fixture(&db.store);
    let a = f.otp.start("carol@example.com", "10.0.0.3").await.unwrap();
    let code_a = f.mailer.last_code_for("carol@example.com");
    f.clock.advance(9 * 60_000 + 59_999);
    f.otp.verify(&a.attempt_id, &code_a).await.unwrap();

    let b = f.otp.start("carol@example.com", "10.0.0.3").await.unwrap();
    let code_b = f.mailer.last_code_for("carol@example.com");
    f.clock.advance(10 * 60_000);
    assert_eq!(f.clock_now(), b.expires_at);
    assert!(matches!(
        f.otp.verify(&b.attempt_id, &code_b).await,
        Err(AuthError::CodeExpired)
    ));
    // 9:59 works, as said.
    let c = f.otp.start("carol@example.com", "10.0.0.3").await.unwrap();
    let code_c = f.mailer.last_code_for("carol@example.com");
    f.clock.advance(9 * 60_000 + 59_000);
    f.otp.verify(&c.attempt_id, &code_c).await.unwrap();
}

async fn five_wrong_tries_kill_the_code(db: &TestDb) {
    let f = fixture(&db.store);
    let s = f.otp.start("dave@example.com", "10.0.0.4").await.unwrap();
    let code = f.mailer.last_code_for("dave@example.com");
    for _ in 0..4 {
        assert!(matches!(
            f.otp.verify(&s.attempt_id, &wrong(&code)).await,
            Err(AuthError::CodeInvalid)
        ));
    }
    assert!(matches!(
        f.otp.verify(&s.attempt_id, &wrong(&code)).await,
        Err(AuthError::CodeExhausted)
    ));
    assert!(matches!(
        f.otp.verify(&s.attempt_id, &code).await,
        Err(AuthError::CodeExhausted)
    ));
    assert_eq!(count(&db.store, "SELECT COUNT(*) FROM users").await, 0);
    // Exhausted wins over expired.
    f.clock.advance(3_600_000);
    assert!(matches!(
        f.otp.verify(&s.attempt_id, &code).await,
        Err(AuthError::CodeExhausted)
    ));
}

async fn four_wrong_tries_still_allow_the_right_code(db: &TestDb) {
    let f = fixture(&db.store);
    let s = f.otp.start("erin@example.com", "10.0.0.5").await.unwrap();
    let code = f.mailer.last_code_for("erin@example.com");
    for _ in 0..4 {
        assert!(f.otp.verify(&s.attempt_id, &wrong(&code)).await.is_err());
    }
    f.otp.verify(&s.attempt_id, &code).await.unwrap();
}

async fn a_code_is_bound_to_its_attempt(db: &TestDb) {
    let f = fixture(&db.store);
    let a = f.otp.start("frank@example.com", "10.0.0.6").await.unwrap();
    let code_a = f.mailer.last_code_for("frank@example.com");
    let b = f.otp.start("grace@example.com", "10.0.0.6").await.unwrap();
    let code_b = f.mailer.last_code_for("grace@example.com");
    assert!(
        matches!(
            f.otp.verify(&a.attempt_id, &code_b).await.map(|_| ()),
            Err(AuthError::CodeInvalid)
        ) || code_a == code_b
    );
    let v = f.otp.verify(&b.attempt_id, &code_b).await.unwrap();
    assert_eq!(v.email, "grace@example.com");
    // Unknown attempts look exactly like wrong codes.
    assert!(matches!(
        f.otp
            .verify("00000000000000000000000000000000", &code_a)
            .await,
        Err(AuthError::CodeInvalid)
    ));
    assert!(matches!(
        f.otp.verify("", "").await,
        Err(AuthError::CodeInvalid)
    ));
}

async fn sends_are_throttled_per_address_and_client(db: &TestDb) {
    let f = fixture(&db.store);
    for _ in 0..5 {
        f.otp.start("heidi@example.com", "10.1.0.1").await.unwrap();
        f.clock.advance(1_000);
    }
    let err = f
        .otp
        .start("HEIDI@example.com", "10.1.0.1")
        .await
        .unwrap_err();
    let AuthError::RateLimited { retry_after_ms } = err else {
        panic!("expected RateLimited, got {err:?}");
    };
    // The caller's own bucket: exact.
    assert_eq!(retry_after_ms, 3_600_000 - 5_000);
    assert_eq!(f.mailer.count(), 5);
    // The address's owner, from another client, is not locked out by that.
    f.otp.start("heidi@example.com", "10.1.0.2").await.unwrap();
    // Another address from the same client is not affected either.
    f.otp.start("ivan@example.com", "10.1.0.1").await.unwrap();
    // Once the window has passed, there is room again.
    f.clock.advance(retry_after_ms);
    f.otp.start("heidi@example.com", "10.1.0.1").await.unwrap();
}

async fn the_address_budget_is_larger_and_tells_no_timing(db: &TestDb) {
    let f = fixture(&db.store);
    // Twenty clients, one code each, spread over the day.
    for i in 0..20 {
        f.otp
            .start("judith@example.com", &format!("10.2.0.{i}"))
            .await
            .unwrap();
        f.clock.advance(60_000);
    }
    let err = f
        .otp
        .start("judith@example.com", "10.2.1.1")
        .await
        .unwrap_err();
    // Shared with others: the whole window, not when the others' requests age out.
    assert!(
        matches!(err, AuthError::RateLimited { retry_after_ms } if retry_after_ms == 86_400_000),
        "{err:?}"
    );
    f.clock.advance(3_600_000);
    let later = f.otp.start("judith@example.com", "10.2.1.2").await;
    assert!(
        matches!(later, Err(AuthError::RateLimited { retry_after_ms }) if retry_after_ms == 86_400_000),
        "{later:?}"
    );
    f.clock.advance(86_400_000);
    f.otp.start("judith@example.com", "10.2.1.3").await.unwrap();
}

async fn concurrent_starts_never_exceed_the_limit(db: &TestDb) {
    let f = fixture(&db.store);
    let second = db.second_instance().await;
    let other = EmailOtp::new(
        second.clone(),
        f.shared_clock.clone(),
        f.mailer.clone(),
        OtpConfig::default(),
        f.keys.clone(),
    );
    let mut tasks = Vec::new();
    for i in 0..100 {
        let otp = if i % 2 == 0 {
            f.otp.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            otp.start("mallory@example.com", "10.3.0.1").await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(AuthError::RateLimited { .. }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(count(&db.store, "SELECT COUNT(*) FROM otp_codes").await, 5);
    assert_eq!(f.mailer.count(), 5);
    second.close().await;
}

async fn wrong_codes_are_budgeted_per_address_across_attempts(db: &TestDb) {
    let f = fixture(&db.store);
    let email = "nina@example.com";
    // 30 wrong codes over six attempts from six clients: every attempt still below its own
    // limit of five, but the address's budget is used up.
    for i in 0..6 {
        let s = f.otp.start(email, &format!("10.4.0.{i}")).await.unwrap();
        let code = f.mailer.last_code_for(email);
        for _ in 0..5 {
            assert!(f.otp.verify(&s.attempt_id, &wrong(&code)).await.is_err());
        }
    }
    let s = f.otp.start(email, "10.4.1.1").await.unwrap();
    let code = f.mailer.last_code_for(email);
    assert!(matches!(
        f.otp.verify(&s.attempt_id, &code).await,
        Err(AuthError::RateLimited { .. })
    ));
    // Once the hour has passed there is room again; right codes are not counted: 29 wrong
    // codes and then two logins fit in the budget of 30.
    f.clock.advance(3_600_000);
    for i in 0..6 {
        let s = f.otp.start(email, &format!("10.4.2.{i}")).await.unwrap();
        let code = f.mailer.last_code_for(email);
        for _ in 0..(if i < 5 { 5 } else { 4 }) {
            assert!(matches!(
                f.otp.verify(&s.attempt_id, &wrong(&code)).await,
                Err(AuthError::CodeInvalid | AuthError::CodeExhausted)
            ));
        }
        if i == 5 {
            f.otp.verify(&s.attempt_id, &code).await.unwrap();
        }
    }
    let s = f.otp.start(email, "10.4.3.1").await.unwrap();
    let code = f.mailer.last_code_for(email);
    f.otp.verify(&s.attempt_id, &code).await.unwrap();
}

async fn a_login_kills_the_other_live_codes(db: &TestDb) {
    let f = fixture(&db.store);
    let a = f.otp.start("olga@example.com", "10.5.0.1").await.unwrap();
    let code_a = f.mailer.last_code_for("olga@example.com");
    let b = f.otp.start("olga@example.com", "10.5.0.2").await.unwrap();
    let code_b = f.mailer.last_code_for("olga@example.com");
    let other = f.otp.start("peggy@example.com", "10.5.0.2").await.unwrap();
    let code_other = f.mailer.last_code_for("peggy@example.com");
    f.otp.verify(&b.attempt_id, &code_b).await.unwrap();
    assert!(matches!(
        f.otp.verify(&a.attempt_id, &code_a).await,
        Err(AuthError::CodeInvalid)
    ));
    // Other addresses keep theirs.
    f.otp.verify(&other.attempt_id, &code_other).await.unwrap();
}

async fn the_policy_is_stored_per_credential_kind(db: &TestDb) {
    let f = fixture(&db.store);
    assert_eq!(
        LockoutPolicy::load(&db.store, EMAIL_OTP).await.unwrap(),
        None
    );
    f.otp.publish_policy().await.unwrap();
    assert_eq!(
        LockoutPolicy::load(&db.store, EMAIL_OTP)
            .await
            .unwrap()
            .as_ref(),
        Some(f.otp.policy())
    );
}

async fn legacy_clear_rows_are_sealed_and_still_log_in(db: &TestDb) {
    let f = fixture(&db.store);
    sqlx::query(
        "INSERT INTO users (id, email, created_at) VALUES ('old-user', 'quinn@example.com', 1)",
    )
    .execute(db.store.pool())
    .await
    .unwrap();
    let migrated = seal_legacy_rows(&db.store, &f.keys).await.unwrap();
    assert_eq!(migrated.users, 1);
    assert_eq!(seal_legacy_rows(&db.store, &f.keys).await.unwrap().users, 0);
    assert_no_clear_text(&db.store, &["quinn@example.com"]).await;
    let s = f.otp.start("Quinn@example.com", "10.6.0.1").await.unwrap();
    let code = f.mailer.last_code_for("quinn@example.com");
    let v = f.otp.verify(&s.attempt_id, &code).await.unwrap();
    assert_eq!((v.user_id.as_str(), v.created), ("old-user", false));
}

async fn sends_are_throttled_per_client_ip(db: &TestDb) {
    let f = fixture(&db.store);
    for i in 0..30 {
        f.otp
            .start(&format!("user{i}@example.com"), "192.0.2.7")
            .await
            .unwrap();
    }
    assert!(matches!(
        f.otp.start("user99@example.com", "192.0.2.7").await,
        Err(AuthError::RateLimited { .. })
    ));
    f.otp
        .start("user99@example.com", "192.0.2.8")
        .await
        .unwrap();
}

async fn invalid_addresses_are_refused(db: &TestDb) {
    let f = fixture(&db.store);
    let too_long = format!("{}@example.com", "x".repeat(250));
    for bad in [
        "",
        "   ",
        "plainaddress",
        "@example.com",
        "alice@",
        "a@b@example.com",
        "al ice@example.com",
        "alice@exa mple.com",
        "alice@example.com\r\nBcc: eve@example.com",
        "ali\u{7}ce@example.com",
        too_long.as_str(),
    ] {
        assert!(
            matches!(
                f.otp.start(bad, "10.0.0.9").await,
                Err(AuthError::InvalidEmail)
            ),
            "{bad:?}"
        );
    }
    assert_eq!(f.mailer.count(), 0);
    assert_eq!(count(&db.store, "SELECT COUNT(*) FROM otp_codes").await, 0);
}

async fn a_failed_delivery_writes_nothing(db: &TestDb) {
    let f = fixture(&db.store);
    f.mailer.fail.store(true, Ordering::SeqCst);
    for _ in 0..6 {
        assert!(matches!(
            f.otp.start("judy@example.com", "10.0.0.10").await,
            Err(AuthError::Delivery(_))
        ));
    }
    assert_eq!(count(&db.store, "SELECT COUNT(*) FROM otp_codes").await, 0);
    // Failed deliveries do not use up the throttle.
    f.mailer.fail.store(false, Ordering::SeqCst);
    for _ in 0..5 {
        f.otp.start("judy@example.com", "10.0.0.10").await.unwrap();
    }
}

async fn two_instances_racing_cannot_both_win(db: &TestDb) {
    let f = fixture(&db.store);
    let second_store = db.second_instance().await;
    let other = EmailOtp::new(
        second_store.clone(),
        f.shared_clock.clone(),
        f.mailer.clone(),
        OtpConfig::default(),
        f.keys.clone(),
    );
    for round in 0..5 {
        let email = format!("race{round}@example.com");
        let s: OtpStarted = f.otp.start(&email, "10.0.0.11").await.unwrap();
        let code = f.mailer.last_code_for(&email);
        let (a, b) = tokio::join!(
            f.otp.verify(&s.attempt_id, &code),
            other.verify(&s.attempt_id, &code)
        );
        let wins = [a.is_ok(), b.is_ok()].iter().filter(|w| **w).count();
        assert_eq!(wins, 1, "round {round}: {a:?} / {b:?}");
    }
    second_store.close().await;
}

async fn prune_removes_only_dead_attempts(db: &TestDb) {
    let f = fixture(&db.store);
    f.otp.start("ken@example.com", "10.0.0.12").await.unwrap();
    assert_eq!(f.otp.prune().await.unwrap(), 0);
    f.clock.advance(600_000);
    f.otp.start("ken@example.com", "10.0.0.12").await.unwrap();
    // The expired attempt goes; the counters stay while their window runs.
    assert_eq!(f.otp.prune().await.unwrap(), 1);
    assert_eq!(count(&db.store, "SELECT COUNT(*) FROM otp_codes").await, 1);
    assert_eq!(
        count(&db.store, "SELECT COUNT(*) FROM auth_throttles").await,
        3
    );
    f.clock.advance(86_400_000);
    assert_eq!(f.otp.prune().await.unwrap(), 4);
}

on_both_backends!(
    login_succeeds_and_creates_the_user_once,
    start_looks_the_same_for_known_and_unknown_addresses,
    a_code_works_once,
    codes_expire_at_exactly_ten_minutes,
    five_wrong_tries_kill_the_code,
    four_wrong_tries_still_allow_the_right_code,
    a_code_is_bound_to_its_attempt,
    sends_are_throttled_per_address_and_client,
    the_address_budget_is_larger_and_tells_no_timing,
    concurrent_starts_never_exceed_the_limit,
    wrong_codes_are_budgeted_per_address_across_attempts,
    a_login_kills_the_other_live_codes,
    the_policy_is_stored_per_credential_kind,
    legacy_clear_rows_are_sealed_and_still_log_in,
    sends_are_throttled_per_client_ip,
    invalid_addresses_are_refused,
    a_failed_delivery_writes_nothing,
    two_instances_racing_cannot_both_win,
    prune_removes_only_dead_attempts,
);
