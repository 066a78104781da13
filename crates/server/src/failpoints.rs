//! Named failpoints at the durable steps of keygen and refresh, and at the steps of a
//! signature (docs/crash-safety.md).
//!
//! They exist only with the `failpoints` feature, which only tests enable; without it the
//! [`failpoint!`] macro expands to nothing and [`init_from_env`] does nothing but warn.
//!
//! `TANDEM_FAILPOINTS` arms them at start: `name=action;name=action`. The action `kill` is
//! what the crash tests use: the process prints a marker line and sends itself SIGKILL at that
//! very point, so nothing after it runs (no reply, no rollback handler, no destructor, no
//! graceful shutdown). Any other action (`pause`, `sleep(ms)`, `panic`, …) is handed to the
//! `fail` crate unchanged.

/// The server's failpoints, in ceremony order. Tests iterate over this list, so a failpoint
/// added to the code without being listed here is one no test crashes at.
pub const SERVER_FAILPOINTS: &[&str] = &[
    // Keygen: the device has said `stored`.
    "server.keygen.before_insert",
    // Wallet and share rows inserted, the transaction not yet committed.
    "server.keygen.before_commit",
    // The wallet exists; `keygen_done` not yet sent.
    "server.keygen.after_commit",
    "server.keygen.before_reply",
    // Refresh: the new share is staged (committed as `staged`).
    "server.refresh.after_stage",
    // The joint test signature verified; the commit not yet started.
    "server.refresh.before_commit",
    // Inside the commit transaction: epoch moved and the old share deleted, not yet committed.
    "server.refresh.after_delete_old",
    // The commit is durable; `committed` not yet sent.
    "server.refresh.after_commit",
    "server.refresh.before_reply",
    // Sign (nothing durable: these prove a crash leaves nothing behind, security bar C2).
    // `accepted` sent, no MPC frame yet.
    "server.sign.after_accept",
    // The MPC rounds are done and the signature verified; not yet released.
    "server.sign.after_rounds",
    // The wallet re-checked as active; `signed` not yet sent.
    "server.sign.before_reply",
    // `signed` sent.
    "server.sign.after_reply",
];

/// Lies the server tells inside the channel when armed with `name=return` (tests of the
/// device against a hostile server, `crates/cli/tests/hostile.rs`). Each one is a message the
/// device acts on; the device must come out of every one with a usable share.
pub const SERVER_LIES: &[&str] = &[
    // `keygen_done` names another wallet (after the real commit).
    "server.lie.keygen_done_other_wallet",
    // `committed` reports an epoch one past the committed one (after the real commit).
    "server.lie.committed_epoch",
    // `committed` is sent, but the commit is not made (the staged row is left behind).
    "server.lie.committed_without_commit",
    // `status` reports an epoch one past the wallet's.
    "server.lie.status_epoch",
    // `status` answers `wallet_not_found` for a wallet the user has.
    "server.lie.status_not_found",
    // A refresh's `accepted` is sent without fencing off earlier refreshes (their staged rows
    // are kept and the wallet version is not bumped).
    "server.lie.accepted_unfenced",
    // `signed` carries another signature than the ceremony produced.
    "server.lie.signed_other",
    // `test_sign` announces another nonce than the server binds the test signature to.
    "server.lie.test_sign_nonce",
];

/// Whether the lie `name` (one of [`SERVER_LIES`]) is armed. Always false without the
/// `failpoints` feature.
pub(crate) fn lie(name: &str) -> bool {
    #[cfg(feature = "failpoints")]
    {
        fail::eval(name, |_| ()).is_some()
    }
    #[cfg(not(feature = "failpoints"))]
    {
        let _ = name;
        false
    }
}

/// The environment variable [`init_from_env`] reads.
pub const ENV: &str = "TANDEM_FAILPOINTS";

/// Marks a durable step. Expands to nothing without the `failpoints` feature.
macro_rules! failpoint {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        fail::fail_point!($name);
    };
}
pub(crate) use failpoint;

/// Arms the failpoints named in `TANDEM_FAILPOINTS`. Called once at server start.
pub fn init_from_env() {
    let Some(spec) = std::env::var(ENV).ok().filter(|s| !s.trim().is_empty()) else {
        return;
    };
    #[cfg(feature = "failpoints")]
    for (name, action) in parse(&spec) {
        let armed = if action == "kill" {
            let marker = name.clone();
            fail::cfg_callback(name.clone(), move || kill_self(&marker))
        } else {
            fail::cfg(name.clone(), &action)
        };
        match armed {
            Ok(()) => tracing::warn!(failpoint = %name, %action, "failpoint armed"),
            Err(e) => tracing::error!(failpoint = %name, error = %e, "bad failpoint action"),
        }
    }
    #[cfg(not(feature = "failpoints"))]
    {
        let _ = spec;
        tracing::warn!("{ENV} is set but this build has no failpoints; ignored");
    }
}

/// `a=b;c=d` → [(a, b), (c, d)]; entries without `=` are skipped.
#[cfg_attr(not(feature = "failpoints"), allow(dead_code))]
fn parse(spec: &str) -> Vec<(String, String)> {
    spec.split(';')
        .filter_map(|entry| entry.split_once('='))
        .map(|(name, action)| (name.trim().to_owned(), action.trim().to_owned()))
        .filter(|(name, action)| !name.is_empty() && !action.is_empty())
        .collect()
}

/// What `kill -9` does from outside, done from inside at the exact point: the marker line
/// tells the test which point was reached, then SIGKILL ends the process with no more code run.
#[cfg(feature = "failpoints")]
fn kill_self(name: &str) {
    use std::io::Write as _;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "tandem failpoint hit: {name}");
    let _ = err.flush();
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{Signal, getpid, kill_process};
        let _ = kill_process(getpid(), Signal::KILL);
    }
    // Not reached on Linux; elsewhere, abort is the closest: no unwinding, no destructors.
    std::process::abort();
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parses_name_action_pairs() {
        assert_eq!(
            parse(" a.b=kill ; c=sleep(10);bad;=x;d= "),
            vec![
                ("a.b".to_owned(), "kill".to_owned()),
                ("c".to_owned(), "sleep(10)".to_owned())
            ]
        );
    }
}
