//! Aborting every in-flight ceremony of a wallet the moment it is frozen (DESIGN.md §3).
//!
//! Each ceremony on a wallet watches a per-wallet signal; a freeze fires it and every
//! ceremony waiting for the device's next message ends with `wallet_frozen` at once. Other
//! instances' ceremonies are stopped by the status check before a signature is released.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tandem_proto::ceremony::ServerMessage;
use tokio::sync::watch;

use super::channel::{Channel, ChannelError, Incoming};

type Signals = Arc<Mutex<HashMap<String, watch::Sender<bool>>>>;

/// The freeze signals of the wallets with ceremonies running on this instance.
#[derive(Clone, Default)]
pub(crate) struct FreezeSignals {
    signals: Signals,
}

impl FreezeSignals {
    /// Starts watching `wallet_id` for a freeze.
    pub(crate) fn watch(&self, wallet_id: &str) -> FreezeWatch {
        let mut map = self.signals.lock().unwrap_or_else(|p| p.into_inner());
        let rx = map
            .entry(wallet_id.to_owned())
            .or_insert_with(|| watch::channel(false).0)
            .subscribe();
        FreezeWatch {
            wallet_id: wallet_id.to_owned(),
            rx,
            signals: self.signals.clone(),
        }
    }

    /// Aborts every ceremony watching `wallet_id`.
    pub(crate) fn freeze(&self, wallet_id: &str) {
        let map = self.signals.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = map.get(wallet_id) {
            tx.send_replace(true);
        }
    }
}

/// One ceremony's view of its wallet's freeze signal.
pub(crate) struct FreezeWatch {
    wallet_id: String,
    rx: watch::Receiver<bool>,
    signals: Signals,
}

impl FreezeWatch {
    async fn frozen(&mut self) {
        // An error means the sender is gone, which cannot happen while we are registered.
        if self.rx.wait_for(|frozen| *frozen).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for FreezeWatch {
    fn drop(&mut self) {
        let mut map = self.signals.lock().unwrap_or_else(|p| p.into_inner());
        // The last watcher (this one) removes the entry.
        if map
            .get(&self.wallet_id)
            .is_some_and(|tx| tx.receiver_count() <= 1)
        {
            map.remove(&self.wallet_id);
        }
    }
}

/// A channel that fails with [`ChannelError::Frozen`] as soon as its wallet is frozen.
pub(crate) struct Watched<'a> {
    pub(crate) inner: &'a mut dyn Channel,
    pub(crate) watch: FreezeWatch,
}

#[async_trait]
impl Channel for Watched<'_> {
    async fn recv(&mut self) -> Result<Incoming, ChannelError> {
        if *self.watch.rx.borrow() {
            return Err(ChannelError::Frozen);
        }
        tokio::select! {
            biased;
            () = self.watch.frozen() => Err(ChannelError::Frozen),
            r = self.inner.recv() => r,
        }
    }

    async fn send_control(&mut self, msg: &ServerMessage) -> Result<(), ChannelError> {
        self.inner.send_control(msg).await
    }

    async fn send_frame(&mut self, frame: Vec<u8>) -> Result<(), ChannelError> {
        if *self.watch.rx.borrow() {
            return Err(ChannelError::Frozen);
        }
        self.inner.send_frame(frame).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_freeze_reaches_every_watcher_and_entries_are_cleaned_up() {
        let signals = FreezeSignals::default();
        let mut a = signals.watch("w1");
        let mut b = signals.watch("w1");
        let other = signals.watch("w2");
        signals.freeze("w1");
        a.frozen().await;
        b.frozen().await;
        assert!(!*other.rx.borrow());
        drop(a);
        drop(b);
        drop(other);
        assert!(signals.signals.lock().unwrap().is_empty());
    }
}
