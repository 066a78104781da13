//! Sessions on both backends: tokens, expiry to the millisecond, refresh capped at the
//! absolute limit, logout, revocation seen at once by a second instance, listing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::sync::Arc;

use common::{TestDb, manual_clock};
use sqlx::Row;
use tandem_server::clock::{ManualClock, SharedClock};
use tandem_server::sessions::{SessionConfig, SessionError, Sessions};
use tandem_server::store::Store;
use tandem_server::vault::PiiKeys;

const MIN: i64 = 60_000;

async fn user(store: &Store, id: &str) {
    sqlx::query("INSERT INTO users (id, email, created_at) VALUES ($1, $2, 0)")
        .bind(id)
        .bind(format!("{id}@example.com"))
        .execute(store.pool())
        .await
        .unwrap();
}

/// The vault's identifier keys, the same for every instance of a test.
fn keys() -> PiiKeys {
    PiiKeys::derive(&[7; 32])
}

fn sessions(store: &Store) -> (Sessions, Arc<ManualClock>, SharedClock) {
    let (clock, shared) = manual_clock();
    (
        Sessions::new(store.clone(), shared.clone(), SessionConfig::default()).with_pii(keys()),
        clock,
        shared,
    )
}

async fn tokens_authenticate_and_are_stored_hashed(db: &TestDb) {
    user(&db.store, "u1").await;
    let (s, _clock, shared) = sessions(&db.store);
    let new = s
        .create("u1", "email_otp", Some("tandem-cli/0.1"))
        .await
        .unwrap();
    let token = new.token.expose().to_owned();
    assert!(token.starts_with("tdm_"));
    assert_eq!(token.len(), 4 + 43);
    assert!(!format!("{:?}", new.token).contains(&token[4..]));
    assert!(format!("{new:?}").contains("[redacted]"));

    let now = shared.now_ms();
    assert_eq!(new.record.created_at, now);
    assert_eq!(new.record.expires_at, now + 90 * MIN);
    assert_eq!(new.record.absolute_expires_at, now + 12 * 60 * MIN);
    assert_eq!(new.record.auth_method, "email_otp");
    assert_eq!(new.record.user_agent.as_deref(), Some("tandem-cli/0.1"));

    let rec = s.authenticate(&token).await.unwrap();
    assert_eq!(rec, new.record);

    // The database holds a 32-byte hash, never the token.
    let stored: Vec<u8> = sqlx::query("SELECT token_hash FROM sessions WHERE id = $1")
        .bind(&rec.id)
        .fetch_one(db.store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(stored.len(), 32);

    // Malformed and unknown tokens.
    for bad in [
        "",
        "tdm_",
        "tdm_!!!!",
        &token[..token.len() - 1],
        &token.replacen("tdm_", "tdx_", 1),
        "tdm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert!(
            matches!(s.authenticate(bad).await, Err(SessionError::Invalid)),
            "{bad:?}"
        );
    }
}

async fn sessions_expire_at_exactly_ninety_minutes(db: &TestDb) {
    user(&db.store, "u1").await;
    let (s, clock, _) = sessions(&db.store);
    let t = s.create("u1", "email_otp", None).await.unwrap().token;
    clock.advance(90 * MIN - 1);
    s.authenticate(t.expose()).await.unwrap();
    clock.advance(1);
    assert!(matches!(
        s.authenticate(t.expose()).await,
        Err(SessionError::Expired)
    ));
    // And an expired session cannot be refreshed back to life.
    assert!(matches!(
        s.refresh(t.expose()).await,
        Err(SessionError::Expired)
    ));
    // 89:59 is still valid.
    let t2 = s.create("u1", "email_otp", None).await.unwrap().token;
    clock.advance(89 * MIN + 59_000);
    s.authenticate(t2.expose()).await.unwrap();
}

async fn refresh_extends_up_to_the_absolute_limit(db: &TestDb) {
    user(&db.store, "u1").await;
    let (s, clock, shared) = sessions(&db.store);
    let new = s.create("u1", "email_otp", None).await.unwrap();
    let t = new.token;
    let absolute = new.record.absolute_expires_at;

    clock.advance(60 * MIN);
    let r = s.refresh(t.expose()).await.unwrap();
    assert_eq!(r.refreshed_at, shared.now_ms());
    assert_eq!(r.expires_at, shared.now_ms() + 90 * MIN);
    clock.advance(89 * MIN);
    s.authenticate(t.expose()).await.unwrap();

    // Keep refreshing until the absolute limit caps it.
    while shared.now_ms() + 90 * MIN < absolute {
        s.refresh(t.expose()).await.unwrap();
        clock.advance(80 * MIN);
    }
    let r = s.refresh(t.expose()).await.unwrap();
    assert_eq!(r.expires_at, absolute);
    clock.set(absolute - 1);
    s.authenticate(t.expose()).await.unwrap();
    clock.set(absolute);
    assert!(matches!(
        s.authenticate(t.expose()).await,
        Err(SessionError::Expired)
    ));
    assert!(matches!(
        s.refresh(t.expose()).await,
        Err(SessionError::Expired)
    ));
}

async fn logout_ends_the_session(db: &TestDb) {
    user(&db.store, "u1").await;
    let (s, _clock, _) = sessions(&db.store);
    let t = s.create("u1", "email_otp", None).await.unwrap().token;
    s.logout(t.expose()).await.unwrap();
    assert!(matches!(
        s.authenticate(t.expose()).await,
        Err(SessionError::Revoked)
    ));
    assert!(matches!(
        s.refresh(t.expose()).await,
        Err(SessionError::Revoked)
    ));
    // Idempotent for a known token; unknown tokens are invalid.
    s.logout(t.expose()).await.unwrap();
    assert!(matches!(
        s.logout("tdm_nothing").await,
        Err(SessionError::Invalid)
    ));
}

async fn revocation_is_seen_at_once_by_another_instance(db: &TestDb) {
    user(&db.store, "u1").await;
    user(&db.store, "u2").await;
    let (a, _clock, shared) = sessions(&db.store);
    let second_store = db.second_instance().await;
    let b = Sessions::new(second_store.clone(), shared, SessionConfig::default()).with_pii(keys());

    let new = a.create("u1", "email_otp", None).await.unwrap();
    b.authenticate(new.token.expose()).await.unwrap();

    // Only the owner can revoke it.
    assert!(matches!(
        b.revoke("u2", &new.record.id).await,
        Err(SessionError::NotFound)
    ));
    assert!(matches!(
        b.revoke("u1", "no-such-session").await,
        Err(SessionError::NotFound)
    ));
    a.authenticate(new.token.expose()).await.unwrap();

    b.revoke("u1", &new.record.id).await.unwrap();
    assert!(matches!(
        a.authenticate(new.token.expose()).await,
        Err(SessionError::Revoked)
    ));
    // Revoking again is harmless.
    b.revoke("u1", &new.record.id).await.unwrap();
    second_store.close().await;
}

async fn list_shows_live_sessions_newest_first(db: &TestDb) {
    user(&db.store, "u1").await;
    user(&db.store, "u2").await;
    let (s, clock, _) = sessions(&db.store);
    let first = s.create("u1", "email_otp", Some("a")).await.unwrap();
    clock.advance(1_000);
    let second = s.create("u1", "passkey", Some("b")).await.unwrap();
    clock.advance(1_000);
    let third = s.create("u1", "email_otp", Some("c")).await.unwrap();
    s.create("u2", "email_otp", None).await.unwrap();

    let ids: Vec<String> = s
        .list("u1")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        ids,
        vec![
            third.record.id.clone(),
            second.record.id.clone(),
            first.record.id.clone()
        ]
    );

    s.logout(second.token.expose()).await.unwrap();
    // The first one expires (created 2 s before the third).
    clock.advance(90 * MIN - 1_500);
    let ids: Vec<String> = s
        .list("u1")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, vec![third.record.id.clone()]);

    // Revoke-all keeps the one asked for.
    let fourth = s.create("u1", "email_otp", None).await.unwrap();
    assert_eq!(
        s.revoke_all("u1", Some(&fourth.record.id)).await.unwrap(),
        1
    );
    let ids: Vec<String> = s
        .list("u1")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, vec![fourth.record.id.clone()]);
    assert_eq!(s.list("u2").await.unwrap().len(), 1);
}

async fn prune_removes_ended_sessions(db: &TestDb) {
    user(&db.store, "u1").await;
    let (s, clock, _) = sessions(&db.store);
    let a = s.create("u1", "email_otp", None).await.unwrap();
    s.logout(a.token.expose()).await.unwrap();
    clock.advance(91 * MIN);
    let live = s.create("u1", "email_otp", None).await.unwrap();
    assert_eq!(s.prune(0).await.unwrap(), 1);
    s.authenticate(live.token.expose()).await.unwrap();
}

on_both_backends!(
    tokens_authenticate_and_are_stored_hashed,
    sessions_expire_at_exactly_ninety_minutes,
    refresh_extends_up_to_the_absolute_limit,
    logout_ends_the_session,
    revocation_is_seen_at_once_by_another_instance,
    list_shows_live_sessions_newest_first,
    prune_removes_ended_sessions,
);
