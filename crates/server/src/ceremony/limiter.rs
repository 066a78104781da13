//! Caps how many ceremonies one user may run at once on this instance, so one account
//! cannot monopolise the CPU the MPC math needs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct CeremonyLimiter {
    max: usize,
    running: Arc<Mutex<HashMap<String, usize>>>,
}

/// Releases the slot when dropped.
pub struct Permit {
    user: String,
    running: Arc<Mutex<HashMap<String, usize>>>,
}

impl CeremonyLimiter {
    pub fn new(max: usize) -> Self {
        CeremonyLimiter {
            max,
            running: Arc::default(),
        }
    }

    pub fn acquire(&self, user: &str) -> Option<Permit> {
        let mut map = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(user.to_owned()).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Permit {
            user: user.to_owned(),
            running: self.running.clone(),
        })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut map = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.user);
            }
        }
    }
}
