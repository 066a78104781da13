//! What the account module tells the rest of the system: log lines and metrics for logins,
//! and notices to every address of the account when its methods change.

/// What every channel of an account is told: a mail subject and body, and a short SMS text.
/// None of them holds a secret or an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub subject: String,
    pub body: String,
    pub sms: String,
}

/// A change to the account's ways in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountEvent {
    /// A method was added (`password`, `pin`, `totp`, `email`).
    Added(&'static str),
    /// A method was replaced (a new password, PIN or TOTP key).
    Changed(&'static str),
    /// A method was removed.
    Removed(&'static str),
}

impl AccountEvent {
    pub fn name(self) -> &'static str {
        match self {
            AccountEvent::Added(_) => "method_added",
            AccountEvent::Changed(_) => "method_changed",
            AccountEvent::Removed(_) => "method_removed",
        }
    }

    pub fn method(self) -> &'static str {
        match self {
            AccountEvent::Added(m) | AccountEvent::Changed(m) | AccountEvent::Removed(m) => m,
        }
    }

    fn label(self) -> &'static str {
        match self.method() {
            "password" => "a password",
            "pin" => "a PIN",
            "totp" => "an authenticator app (TOTP)",
            "email" => "an email address",
            "social" => "a social sign-in (an account at an identity provider)",
            _ => "a sign-in method",
        }
    }

    /// The notice (no secret, no address).
    pub fn notice(self) -> Notice {
        let what = self.label();
        let (subject, verb) = match self {
            AccountEvent::Added(_) => ("Tandem: a sign-in method was added", "added"),
            AccountEvent::Changed(_) => ("Tandem: a sign-in method was changed", "changed"),
            AccountEvent::Removed(_) => ("Tandem: a sign-in method was removed", "removed"),
        };
        Notice {
            subject: subject.to_owned(),
            body: format!(
                "Someone signed in to your Tandem account {verb} {what}.\r\n\r\n\
                 If this was you, nothing more is needed. If it was not, sign in, review your \
                 account's methods and sessions, and revoke what you do not recognise.\r\n"
            ),
            sms: format!(
                "Tandem: {what} was {verb} on your account. Not you? Sign in and review it."
            ),
        }
    }
}

/// The login event: one log line and a counter per method combination.
pub(super) fn login(user_id: &str, session_id: &str, methods: &[&'static str], created: bool) {
    let joined = methods.join("+");
    tracing::info!(user = %user_id, session = %session_id, methods = %joined, created, "login");
    metrics::counter!("tandem_logins_total", "method" => joined).increment(1);
}
