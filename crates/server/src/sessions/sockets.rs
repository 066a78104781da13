//! The ceremony sockets this instance holds, by session: caps how many one session and one
//! user may keep open, and tells a session's sockets when it ends (logout or revocation
//! through this instance). Other instances learn of the end at their next session check,
//! which every ceremony starts with.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// Open sockets allowed per session and per user on one instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketCaps {
    pub per_session: usize,
    pub per_user: usize,
}

impl Default for SocketCaps {
    fn default() -> Self {
        SocketCaps {
            per_session: 32,
            per_user: 64,
        }
    }
}

/// Why a socket could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SocketCapError {
    #[error("too many open ceremony sockets for this session")]
    PerSession,
    #[error("too many open ceremony sockets for this user")]
    PerUser,
}

struct SessionSockets {
    open: usize,
    ended: watch::Sender<bool>,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<String, SessionSockets>,
    users: HashMap<String, usize>,
}

/// Cheap to clone; clones share the registry.
#[derive(Clone, Default)]
pub struct SocketRegistry {
    caps: SocketCaps,
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for SocketRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketRegistry")
            .field("caps", &self.caps)
            .finish_non_exhaustive()
    }
}

/// One open socket's place in the registry, given back when dropped.
pub struct SocketLease {
    inner: Arc<Mutex<Inner>>,
    session_id: String,
    user_id: String,
    ended: watch::Receiver<bool>,
}

impl SocketRegistry {
    pub fn new(caps: SocketCaps) -> Self {
        SocketRegistry {
            caps,
            inner: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a place for one more socket of `session_id`, unless a cap is reached.
    pub fn open(&self, session_id: &str, user_id: &str) -> Result<SocketLease, SocketCapError> {
        let mut inner = self.lock();
        let for_session = inner.sessions.get(session_id).map_or(0, |s| s.open);
        if for_session >= self.caps.per_session {
            return Err(SocketCapError::PerSession);
        }
        if inner.users.get(user_id).copied().unwrap_or(0) >= self.caps.per_user {
            return Err(SocketCapError::PerUser);
        }
        *inner.users.entry(user_id.to_owned()).or_insert(0) += 1;
        let entry = inner
            .sessions
            .entry(session_id.to_owned())
            .or_insert_with(|| SessionSockets {
                open: 0,
                ended: watch::Sender::new(false),
            });
        entry.open += 1;
        let ended = entry.ended.subscribe();
        Ok(SocketLease {
            inner: self.inner.clone(),
            session_id: session_id.to_owned(),
            user_id: user_id.to_owned(),
            ended,
        })
    }

    /// Tells every socket of these sessions that its session has ended.
    pub fn end<'a>(&self, session_ids: impl IntoIterator<Item = &'a str>) {
        let inner = self.lock();
        for id in session_ids {
            if let Some(s) = inner.sessions.get(id) {
                s.ended.send_replace(true);
            }
        }
    }

    /// How many sockets `session_id` holds open on this instance.
    pub fn open_for_session(&self, session_id: &str) -> usize {
        self.lock().sessions.get(session_id).map_or(0, |s| s.open)
    }
}

impl SocketLease {
    /// Resolves once the session is ended through this instance.
    pub async fn ended(&self) {
        let mut rx = self.ended.clone();
        // An error means the registry entry is gone, which cannot happen while a lease
        // exists; treat it as ended rather than wait for ever.
        let _ = rx.wait_for(|ended| *ended).await;
    }
}

impl Drop for SocketLease {
    fn drop(&mut self) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = inner.sessions.get_mut(&self.session_id) {
            s.open = s.open.saturating_sub(1);
            if s.open == 0 {
                inner.sessions.remove(&self.session_id);
            }
        }
        if let Some(n) = inner.users.get_mut(&self.user_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                inner.users.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn caps_and_end() {
        let reg = SocketRegistry::new(SocketCaps {
            per_session: 2,
            per_user: 3,
        });
        let a1 = reg.open("s1", "u").ok();
        let a2 = reg.open("s1", "u").ok();
        assert!(a1.is_some() && a2.is_some());
        assert_eq!(reg.open("s1", "u").err(), Some(SocketCapError::PerSession));
        let b1 = reg.open("s2", "u").ok();
        assert!(b1.is_some());
        assert_eq!(reg.open("s3", "u").err(), Some(SocketCapError::PerUser));
        drop(a2);
        assert_eq!(reg.open_for_session("s1"), 1);
        reg.end(["s1"]);
        if let Some(a1) = &a1 {
            tokio::time::timeout(std::time::Duration::from_secs(1), a1.ended())
                .await
                .unwrap_or_else(|_| panic!("lease not told of the end"));
        }
        drop((a1, b1));
        assert_eq!(reg.open_for_session("s1"), 0);
        assert!(reg.open("s4", "u").is_ok());
    }
}
