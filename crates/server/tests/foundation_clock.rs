//! Clocks: manual, file-driven (for end-to-end tests of the binary) and their configuration.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{SystemTime, UNIX_EPOCH};

use tandem_server::clock::{Clock, FileClock, ManualClock, SystemClock, from_spec};

fn system_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn system_clock_tracks_the_system_time() {
    let before = system_ms();
    let now = SystemClock.now_ms();
    assert!(now >= before && now <= system_ms());
}

#[test]
fn manual_clock_set_and_advance() {
    let c = ManualClock::new(10);
    c.advance(5);
    assert_eq!(c.now_ms(), 15);
    c.set(1_000);
    assert_eq!(c.now_ms(), 1_000);
}

#[test]
fn file_clock_reads_the_file_on_every_call() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clock");
    std::fs::write(&path, "1700000000000").unwrap();
    let clock = FileClock::new(&path);
    assert_eq!(clock.now_ms(), 1_700_000_000_000);
    std::fs::write(&path, "  1700000005400\n").unwrap();
    assert_eq!(clock.now_ms(), 1_700_000_005_400);
}

#[test]
fn file_clock_falls_back_to_system_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clock");
    let clock = FileClock::new(&path);
    // Missing file.
    let before = system_ms();
    let t = clock.now_ms();
    assert!(t >= before && t <= system_ms());
    // Garbage.
    std::fs::write(&path, "yesterday").unwrap();
    let t = clock.now_ms();
    assert!(t >= before && t <= system_ms());
    // And back to the file once it is valid.
    std::fs::write(&path, "42").unwrap();
    assert_eq!(clock.now_ms(), 42);
}

#[test]
fn specs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clock");
    std::fs::write(&path, "123").unwrap();
    assert_eq!(
        from_spec(&format!("file:{}", path.display()))
            .unwrap()
            .now_ms(),
        123
    );
    let sys = from_spec("system").unwrap().now_ms();
    assert!((sys - system_ms()).abs() < 60_000);
    assert!(from_spec("manual").is_err());
    assert!(from_spec("file:").is_err());
}
