//! Who is making a request: the user, the session, what the session has proven and when, and
//! from where. Built once per request by the HTTP layer (`http::authn`); services take it
//! instead of a bare user id, so that the checks that depend on how someone signed in (step-up)
//! or where they are (throttles) cannot be skipped by a caller that forgot to pass them.

/// A method a session proved, and when (Unix ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodUse {
    pub method: String,
    pub at: i64,
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: String,
    pub session_id: String,
    /// Every method the session has proven (at login, then by step-ups), with its latest time.
    pub methods: Vec<MethodUse>,
    /// The client's throttle key (its address, or its IPv6 /64).
    pub client: String,
    /// The client's User-Agent, shortened, if it sent one.
    pub user_agent: Option<String>,
}

impl Principal {
    /// Whether some method was proven at or after `since` (Unix ms).
    pub fn proved_since(&self, since: i64) -> bool {
        self.methods.iter().any(|m| m.at >= since)
    }
}
