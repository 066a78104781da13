//! Readiness and graceful shutdown: when SIGTERM arrives the instance stops being ready at
//! once (the balancer takes it out), refuses new work with a retryable `unavailable`, lets the
//! ceremonies in flight finish (up to `limits.drain_secs`), and only then closes the
//! database pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::watch;

/// Shared by the HTTP layer, the ceremony sockets and `serve`.
#[derive(Clone)]
pub struct Lifecycle(Arc<Inner>);

struct Inner {
    draining: watch::Sender<bool>,
    sockets: AtomicUsize,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle(Arc::new(Inner {
            draining: watch::Sender::new(false),
            sockets: AtomicUsize::new(0),
        }))
    }
}

impl Lifecycle {
    /// From now on: not ready, no new work.
    pub fn start_drain(&self) {
        self.0.draining.send_replace(true);
    }

    pub fn is_draining(&self) -> bool {
        *self.0.draining.borrow()
    }

    /// Resolves once draining has begun (at once if it already has).
    pub async fn draining(&self) {
        let mut rx = self.0.draining.subscribe();
        // Only fails if the sender is gone, and `self` holds it.
        let _ = rx.wait_for(|d| *d).await;
    }

    /// Counts an open ceremony socket until the guard is dropped.
    pub fn socket(&self) -> SocketGuard {
        let open = self.0.sockets.fetch_add(1, Ordering::AcqRel) + 1;
        metrics::gauge!("tandem_ceremony_sockets_open").set(open as f64);
        SocketGuard(self.clone())
    }

    pub fn open_sockets(&self) -> usize {
        self.0.sockets.load(Ordering::Acquire)
    }

    /// Waits until no ceremony socket is open, for at most `bound`. Returns how many are
    /// still open then (0 when drained in time).
    pub async fn sockets_closed(&self, bound: Duration) -> usize {
        let wait = async {
            while self.open_sockets() > 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let _ = tokio::time::timeout(bound, wait).await;
        self.open_sockets()
    }
}

/// One open ceremony socket (see [`Lifecycle::socket`]).
pub struct SocketGuard(Lifecycle);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        let left = self
            .0
            .0
            .sockets
            .fetch_sub(1, Ordering::AcqRel)
            .saturating_sub(1);
        metrics::gauge!("tandem_ceremony_sockets_open").set(left as f64);
    }
}
