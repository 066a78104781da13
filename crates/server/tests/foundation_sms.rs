//! SMS codes on both backends: the rules of the email codes (bar A4) through the shared
//! implementation, and the SMS throttles (bar A5).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::{TestDb, manual_clock};
use tandem_server::auth::AuthError;
use tandem_server::config::SmsConfig;
use tandem_server::notify::LoginCode;
use tandem_server::sms::{PhoneOtp, SmsError, SmsSender};
use tandem_server::vault::PiiKeys;

const MIN: i64 = 60_000;
const NUMBER: &str = "+447400123456";

#[derive(Default)]
struct TestSender {
    sent: Mutex<Vec<(String, String)>>,
    fail: AtomicBool,
}

impl TestSender {
    fn last_code(&self) -> String {
        self.sent.lock().unwrap().last().unwrap().1.clone()
    }
}

#[async_trait]
impl SmsSender for TestSender {
    async fn send_code(&self, to: &str, code: &LoginCode) -> Result<(), SmsError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(SmsError::Gateway("refused".into()));
        }
        self.sent
            .lock()
            .unwrap()
            .push((to.to_owned(), code.expose().to_owned()));
        Ok(())
    }

    async fn send_notice(&self, to: &str, text: &str) -> Result<(), SmsError> {
        self.sent
            .lock()
            .unwrap()
            .push((to.to_owned(), format!("notice: {text}")));
        Ok(())
    }
}

struct Fixture {
    sms: PhoneOtp,
    sender: Arc<TestSender>,
    clock: Arc<tandem_server::clock::ManualClock>,
}

fn fixture(db: &TestDb) -> Fixture {
    let (clock, shared) = manual_clock();
    let sender = Arc::new(TestSender::default());
    let sms = PhoneOtp::new(
        db.store.clone(),
        shared,
        sender.clone(),
        &SmsConfig::default(),
        PiiKeys::random().unwrap(),
    );
    Fixture { sms, sender, clock }
}

fn wrong(code: &str) -> &'static str {
    if code == "000000" { "000001" } else { "000000" }
}

async fn codes_live_five_minutes_and_work_once(db: &TestDb) {
    let f = fixture(db);
    let a = f.sms.start("+44 7400 123456", "c1").await.unwrap();
    let code_a = f.sender.last_code();
    assert_eq!(f.sender.sent.lock().unwrap()[0].0, NUMBER);
    f.clock.advance(5 * MIN - 1);
    let v = f.sms.verify(&a.attempt_id, &code_a).await.unwrap();
    assert_eq!(v.phone, NUMBER);
    assert!(v.created);
    assert!(matches!(
        f.sms.verify(&a.attempt_id, &code_a).await,
        Err(AuthError::CodeInvalid)
    ));
    let b = f.sms.start(NUMBER, "c1").await.unwrap();
    let code_b = f.sender.last_code();
    f.clock.advance(5 * MIN);
    assert!(matches!(
        f.sms.verify(&b.attempt_id, &code_b).await,
        Err(AuthError::CodeExpired)
    ));
}

async fn five_wrong_tries_kill_the_code(db: &TestDb) {
    let f = fixture(db);
    let a = f.sms.start(NUMBER, "c1").await.unwrap();
    let code = f.sender.last_code();
    for _ in 0..4 {
        assert!(matches!(
            f.sms.verify(&a.attempt_id, wrong(&code)).await,
            Err(AuthError::CodeInvalid)
        ));
    }
    assert!(matches!(
        f.sms.verify(&a.attempt_id, wrong(&code)).await,
        Err(AuthError::CodeExhausted)
    ));
    assert!(matches!(
        f.sms.verify(&a.attempt_id, &code).await,
        Err(AuthError::CodeExhausted)
    ));
}

async fn a_code_is_bound_to_its_attempt_and_a_login_kills_the_others(db: &TestDb) {
    let f = fixture(db);
    let a = f.sms.start(NUMBER, "c1").await.unwrap();
    let code_a = f.sender.last_code();
    let b = f.sms.start(NUMBER, "c1").await.unwrap();
    let code_b = f.sender.last_code();
    if code_a != code_b {
        assert!(f.sms.verify(&b.attempt_id, &code_a).await.is_err());
    }
    f.sms.verify(&b.attempt_id, &code_b).await.unwrap();
    assert!(matches!(
        f.sms.verify(&a.attempt_id, &code_a).await,
        Err(AuthError::CodeInvalid)
    ));
}

async fn concurrent_verifies_succeed_once(db: &TestDb) {
    let f = fixture(db);
    let a = f.sms.start(NUMBER, "c1").await.unwrap();
    let code = f.sender.last_code();
    let (x, y) = tokio::join!(
        f.sms.verify(&a.attempt_id, &code),
        f.sms.verify(&a.attempt_id, &code)
    );
    assert_eq!(usize::from(x.is_ok()) + usize::from(y.is_ok()), 1);
}

async fn the_sixth_send_in_ten_minutes_is_refused_for_that_client_only(db: &TestDb) {
    let f = fixture(db);
    for _ in 0..5 {
        f.sms.start(NUMBER, "c1").await.unwrap();
    }
    assert!(matches!(
        f.sms.start(NUMBER, "c1").await,
        Err(AuthError::RateLimited { .. })
    ));
    f.sms.start(NUMBER, "c2").await.unwrap();
    f.clock.advance(10 * MIN);
    f.sms.start(NUMBER, "c1").await.unwrap();
}

async fn a_refused_delivery_stores_and_costs_nothing(db: &TestDb) {
    let f = fixture(db);
    f.sender.fail.store(true, Ordering::SeqCst);
    for _ in 0..7 {
        assert!(matches!(
            f.sms.start(NUMBER, "c1").await,
            Err(AuthError::SmsDelivery(_))
        ));
    }
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sms_codes")
        .fetch_one(db.store.pool())
        .await
        .unwrap();
    assert_eq!(rows, 0);
    f.sender.fail.store(false, Ordering::SeqCst);
    f.sms.start(NUMBER, "c1").await.unwrap();
}

async fn invalid_numbers_are_refused_before_anything(db: &TestDb) {
    let f = fixture(db);
    for bad in ["07400123456", "+44 909 879 0000", "+1 800 FLOWERS", ""] {
        assert!(matches!(
            f.sms.start(bad, "c1").await,
            Err(AuthError::InvalidPhone)
        ));
    }
    assert!(f.sender.sent.lock().unwrap().is_empty());
}

on_both_backends!(
    codes_live_five_minutes_and_work_once,
    five_wrong_tries_kill_the_code,
    a_code_is_bound_to_its_attempt_and_a_login_kills_the_others,
    concurrent_verifies_succeed_once,
    the_sixth_send_in_ten_minutes_is_refused_for_that_client_only,
    a_refused_delivery_stores_and_costs_nothing,
    invalid_numbers_are_refused_before_anything,
);
