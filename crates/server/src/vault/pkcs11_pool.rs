//! A small pool of logged-in PKCS#11 sessions on one token, reopened when the token loses them.
//!
//! One session behind one mutex (the first design) serialised every vault call, and a session
//! the token dropped (device reset, logout by another application, a network HSM's
//! reconnect) stayed dead until restart, each failure reported as an authentication error.
//! Here a call takes an idle session (or opens one, up to [`MAX_SESSIONS`]); when the token
//! answers with an error that means "this session or login is gone", the session is
//! discarded, the key handle looked up again, and the call retried once on a fresh session.
//! If that fails too, the caller gets [`PoolError::Unavailable`], never an authentication
//! error.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::ObjectHandle;
use cryptoki::session::{Session, UserType};

use super::Pkcs11Config;
use super::pkcs11::{find_key, find_token, login_err};

/// Sessions open at once on the token. Tokens limit sessions per application; four keep
/// concurrent ceremonies from queueing behind one slow call without exhausting small HSMs.
pub(super) const MAX_SESSIONS: usize = 4;

/// How long a call waits for a free session before reporting the HSM unavailable.
const CHECKOUT_WAIT: Duration = Duration::from_secs(10);

/// Why a pooled call failed.
#[derive(Debug)]
pub(super) enum PoolError {
    /// The token could not be reached or logged into, even on a fresh session.
    Unavailable(String),
    /// The operation itself failed on a working session (e.g. a tag that does not verify).
    Op(CkError),
}

struct State {
    idle: Vec<Session>,
    /// Sessions checked out, or being opened.
    busy: usize,
    /// The key's handle; `None` after a lost session, until it is looked up again.
    key: Option<ObjectHandle>,
}

pub(super) struct SessionPool {
    config: Pkcs11Config,
    state: Mutex<State>,
    freed: Condvar,
}

/// Errors after which the session (or the application's login on the token) is gone, so a
/// fresh session may succeed where this one cannot.
pub(super) fn is_lost(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::DeviceRemoved
                | RvError::DeviceError
                | RvError::DeviceMemory
                | RvError::TokenNotPresent
                | RvError::TokenNotRecognized
                | RvError::UserNotLoggedIn
                | RvError::KeyHandleInvalid
                | RvError::ObjectHandleInvalid
                | RvError::CryptokiNotInitialized,
            _
        )
    )
}

impl SessionPool {
    /// A pool starting with `first`, already logged in, and the key's handle.
    pub(super) fn new(config: Pkcs11Config, first: Session, key: ObjectHandle) -> Self {
        Self {
            config,
            state: Mutex::new(State {
                idle: vec![first],
                busy: 0,
                key: Some(key),
            }),
            freed: Condvar::new(),
        }
    }

    /// Runs `op` with a session and the key handle; a session the token lost is replaced
    /// and `op` retried once.
    pub(super) fn run<T>(
        &self,
        op: impl Fn(&Session, ObjectHandle) -> Result<T, CkError>,
    ) -> Result<T, PoolError> {
        let mut last = None;
        for _ in 0..2 {
            let (session, key) = self.checkout()?;
            match op(&session, key) {
                Ok(v) => {
                    self.checkin(Some(session));
                    return Ok(v);
                }
                Err(e) if is_lost(&e) => {
                    tracing::warn!(token = %self.config.token_label, error = %e, "PKCS#11 session lost; reopening");
                    drop(session);
                    self.checkin(None);
                    last = Some(e);
                }
                Err(e) => {
                    self.checkin(Some(session));
                    return Err(PoolError::Op(e));
                }
            }
        }
        Err(PoolError::Unavailable(format!(
            "pkcs11: token `{}`: {}",
            self.config.token_label,
            last.map(|e| e.to_string()).unwrap_or_default()
        )))
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, PoolError> {
        self.state
            .lock()
            .map_err(|_| PoolError::Unavailable("pkcs11: session pool lock poisoned".to_owned()))
    }

    fn checkout(&self) -> Result<(Session, ObjectHandle), PoolError> {
        let deadline = Instant::now() + CHECKOUT_WAIT;
        let (idle, key) = {
            let mut st = self.lock()?;
            loop {
                if let Some(s) = st.idle.pop() {
                    st.busy += 1;
                    break (Some(s), st.key);
                }
                if st.busy < MAX_SESSIONS {
                    st.busy += 1;
                    break (None, st.key);
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(PoolError::Unavailable(format!(
                        "pkcs11: token `{}`: all {MAX_SESSIONS} sessions busy for {} s",
                        self.config.token_label,
                        CHECKOUT_WAIT.as_secs()
                    )));
                }
                st = self
                    .freed
                    .wait_timeout(st, left)
                    .map_err(|_| {
                        PoolError::Unavailable("pkcs11: session pool lock poisoned".to_owned())
                    })?
                    .0;
            }
        };
        let opened = match idle {
            Some(s) => Ok(s),
            None => self.open(),
        };
        let session = match opened {
            Ok(s) => s,
            Err(e) => {
                self.checkin(None);
                return Err(e);
            }
        };
        match key {
            Some(k) => Ok((session, k)),
            None => match self.find_key(&session) {
                Ok(k) => Ok((session, k)),
                Err(e) => {
                    drop(session);
                    self.checkin(None);
                    Err(e)
                }
            },
        }
    }

    /// Returns a session (or, with `None`, the slot of a discarded one, forgetting the key
    /// handle: after a lost session it may be stale).
    fn checkin(&self, session: Option<Session>) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.busy = st.busy.saturating_sub(1);
        match session {
            Some(s) => st.idle.push(s),
            None => st.key = None,
        }
        drop(st);
        self.freed.notify_one();
    }

    fn open(&self) -> Result<Session, PoolError> {
        let unavailable = |e: super::VaultError| PoolError::Unavailable(e.to_string());
        let ctx = super::Pkcs11KeyProvider::context(&self.config.module).map_err(unavailable)?;
        let slot = find_token(&ctx, &self.config.token_label).map_err(unavailable)?;
        let session = ctx.open_rw_session(slot).map_err(|e| {
            PoolError::Unavailable(format!(
                "pkcs11: token `{}`: C_OpenSession: {e}",
                self.config.token_label
            ))
        })?;
        match session.login(UserType::User, Some(&self.config.pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(e) => Err(unavailable(login_err(&self.config.token_label, e))),
        }
    }

    fn find_key(&self, session: &Session) -> Result<ObjectHandle, PoolError> {
        let key = find_key(session, &self.config.key_label)
            .map_err(|e| PoolError::Unavailable(e.to_string()))?
            .ok_or_else(|| {
                PoolError::Unavailable(format!(
                    "pkcs11: key `{}` is no longer on token `{}`",
                    self.config.key_label, self.config.token_label
                ))
            })?;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.key = Some(key);
        Ok(key)
    }
}
