//! Login as one service, step-up, and the account's methods.
//!
//! Every login method ends in [`Accounts::finish_first_factor`]: the one place that asks for a
//! second factor, creates the session, records the method and its time, and emits the login
//! event. Sensitive operations (adding or removing a method, TOTP changes; later export and
//! recovery settings) go through [`Accounts::require_recent`]: some method proven within
//! `accounts.step_up_minutes`, else `step_up_required` naming the methods that would do.
//! Owns `session_methods` and `login_tickets`.

mod error;
mod events;
pub mod http;
mod tickets;

use std::sync::Arc;

use sqlx::Row;
use zeroize::Zeroizing;

pub use error::AccountError;
pub use events::{AccountEvent, Notice};

use crate::auth::{EmailOtp, normalize_email};
use crate::clock::SharedClock;
use crate::credentials::{CredentialKind, Credentials, Summary, TotpEnrolment};
use crate::notify::Mailer;
use crate::principal::{MethodUse, Principal};
use crate::sessions::{NewSession, Sessions};
use crate::store::{Step, Store};
use crate::users::{Identity, IdentityKind, Users};

/// The tables of this module.
pub const MIGRATIONS: &[Step] = &[Step {
    version: 8,
    description: "session methods",
    sqlite: include_str!("migrations/sqlite/0008_session_methods.sql"),
    postgres: include_str!("migrations/postgres/0008_session_methods.sql"),
}];

/// Method names as recorded and as sent to clients.
pub mod method {
    pub const EMAIL_OTP: &str = "email_otp";
    pub const PASSWORD: &str = "password";
    pub const PIN: &str = "pin";
    pub const TOTP: &str = "totp";
    pub const RECOVERY_CODE: &str = "recovery_code";
    pub const SMS_OTP: &str = "sms_otp";
    /// The session a completed recovery opened on the recovering device.
    pub const RECOVERY: &str = "recovery";
    pub const SOCIAL: &str = "social";
}

/// `[accounts]` as the service uses it.
#[derive(Debug, Clone, Copy)]
pub struct AccountSettings {
    /// How long a proven method satisfies sensitive operations.
    pub step_up_ms: i64,
    /// How long a login waits for its second factor.
    pub ticket_ms: i64,
}

/// Where a request comes from.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    /// The throttle key (address, or IPv6 /64).
    pub key: &'a str,
    pub user_agent: Option<&'a str>,
}

/// A completed login.
#[derive(Debug)]
pub struct Login {
    pub session: NewSession,
    pub user_id: String,
    /// The address the user signed in with, or the account's first one.
    pub email: String,
    pub created: bool,
}

/// The account as its owner sees it.
#[derive(Debug, Clone)]
pub struct AccountView {
    pub user_id: String,
    pub identities: Vec<Identity>,
    pub credentials: Summary,
    pub session_methods: Vec<MethodUse>,
}

/// The accounts service. Cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    clock: SharedClock,
    users: Users,
    credentials: Credentials,
    otp: EmailOtp,
    /// SMS codes, when `sms.enabled`.
    sms: Option<crate::sms::PhoneOtp>,
    sessions: Sessions,
    mailer: Arc<dyn Mailer>,
    settings: AccountSettings,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Accounts {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        clock: SharedClock,
        users: Users,
        credentials: Credentials,
        otp: EmailOtp,
        sessions: Sessions,
        mailer: Arc<dyn Mailer>,
        settings: AccountSettings,
    ) -> Self {
        Self {
            store,
            clock,
            users,
            credentials,
            otp,
            sms: None,
            sessions,
            mailer,
            settings,
        }
    }

    /// Serves SMS codes too (login, linking numbers, step-up).
    pub fn with_sms(mut self, sms: crate::sms::PhoneOtp) -> Self {
        self.sms = Some(sms);
        self
    }

    fn sms(&self) -> Result<&crate::sms::PhoneOtp, AccountError> {
        self.sms
            .as_ref()
            .ok_or(AccountError::Auth(crate::auth::AuthError::SmsDisabled))
    }

    /// Deletes expired SMS attempts (nothing when SMS is off).
    pub async fn prune_sms(&self) -> Result<u64, AccountError> {
        match &self.sms {
            Some(sms) => Ok(sms.prune().await?),
            None => Ok(0),
        }
    }

    /// Sends a login code by SMS.
    pub async fn sms_start(
        &self,
        phone: &str,
        client: &str,
    ) -> Result<crate::auth::OtpStarted, AccountError> {
        Ok(self.sms()?.start(phone, client).await?)
    }

    /// Login with a code sent by SMS.
    pub async fn login_sms(
        &self,
        attempt_id: &str,
        code: &str,
        client: Client<'_>,
    ) -> Result<Login, AccountError> {
        let verified = self.sms()?.verify(attempt_id, code).await?;
        let email = self.first_email(&verified.user_id).await?;
        self.finish_first_factor(
            &verified.user_id,
            method::SMS_OTP,
            email,
            verified.created,
            client,
        )
        .await
    }

    /// Login with an identity an outside provider vouched for (the `social` module checked
    /// it). Through the same second factor and session as every other method.
    pub async fn login_social(
        &self,
        user_id: &str,
        created: bool,
        client: Client<'_>,
    ) -> Result<Login, AccountError> {
        let email = self.first_email(user_id).await?;
        self.finish_first_factor(user_id, method::SOCIAL, email, created, client)
            .await
    }

    /// Links an identity a provider vouched for to the signed-in account (step-up), with the
    /// notices every method change sends. Refused if another account holds it.
    pub async fn link_social(
        &self,
        principal: &Principal,
        subject: &str,
    ) -> Result<Identity, AccountError> {
        self.require_recent(principal).await?;
        let now = self.clock.now_ms();
        let id = self
            .users
            .link(&principal.user_id, IdentityKind::Social, subject, now)
            .await?;
        self.emit(&principal.user_id, AccountEvent::Added("social"))
            .await;
        Ok(Identity {
            id,
            kind: IdentityKind::Social,
            subject: subject.to_owned(),
            created_at: now,
            last_used_at: Some(now),
        })
    }

    /// The account's first address (empty for an account known only by phone).
    async fn first_email(&self, user_id: &str) -> Result<String, AccountError> {
        Ok(self
            .users
            .emails(user_id, self.clock.now_ms())
            .await?
            .into_iter()
            .next()
            .unwrap_or_default())
    }

    /// The step-up window.
    pub fn settings(&self) -> AccountSettings {
        self.settings
    }

    /// Login with an emailed code.
    pub async fn login_email(
        &self,
        attempt_id: &str,
        code: &str,
        client: Client<'_>,
    ) -> Result<Login, AccountError> {
        let verified = self.otp.verify(attempt_id, code).await?;
        self.finish_first_factor(
            &verified.user_id,
            method::EMAIL_OTP,
            verified.email,
            verified.created,
            client,
        )
        .await
    }

    /// Login with an address and its account's password or PIN. An unknown address, an
    /// account without that credential and a wrong secret are the same `invalid_credentials`,
    /// after the same work.
    pub async fn login_secret(
        &self,
        kind: CredentialKind,
        email: &str,
        secret: Zeroizing<String>,
        client: Client<'_>,
    ) -> Result<Login, AccountError> {
        let email = normalize_email(email)?;
        let user_id = self.users.lookup(IdentityKind::Email, &email).await?;
        self.credentials
            .verify_secret(user_id.as_deref(), kind, secret, &email, client.key)
            .await
            .map_err(|e| match e {
                // Before sign-in, a locked PIN looks like a wrong one: "locked" would tell a
                // stranger that the address has an account (they can lock it at will). The
                // owner sees it on the account page and after a step-up attempt.
                crate::credentials::CredentialError::Locked => {
                    crate::credentials::CredentialError::Invalid
                }
                other => other,
            })?;
        let user_id = user_id.ok_or(AccountError::Credential(
            crate::credentials::CredentialError::Invalid,
        ))?;
        let name = match kind {
            CredentialKind::Pin => method::PIN,
            _ => method::PASSWORD,
        };
        self.finish_first_factor(&user_id, name, email, false, client)
            .await
    }

    /// After any first factor: a second one if the account has TOTP, else the session.
    async fn finish_first_factor(
        &self,
        user_id: &str,
        first: &'static str,
        email: String,
        created: bool,
        client: Client<'_>,
    ) -> Result<Login, AccountError> {
        if first != method::PIN {
            // Proving another method unlocks a PIN locked by wrong tries.
            self.credentials.unlock_pin(user_id).await?;
        }
        let summary = self.credentials.summary(user_id).await?;
        if summary.totp {
            let now = self.clock.now_ms();
            let ticket =
                tickets::issue(&self.store, user_id, first, now, self.settings.ticket_ms).await?;
            return Err(AccountError::SecondFactorRequired {
                ticket,
                methods: vec![method::TOTP, method::RECOVERY_CODE],
            });
        }
        self.open_session(user_id, &[first], email, created, client)
            .await
    }

    /// Finishes a login that waits for its second factor.
    pub async fn second_factor(
        &self,
        ticket: &str,
        proof: &tandem_proto::account::Proof,
        client: Client<'_>,
    ) -> Result<Login, AccountError> {
        use tandem_proto::account::Proof;
        let now = self.clock.now_ms();
        let (user_id, first) = tickets::take_try(&self.store, ticket, now).await?;
        let second = match proof {
            Proof::Totp { code } => {
                self.credentials
                    .verify_totp(&user_id, code, client.key)
                    .await?;
                method::TOTP
            }
            Proof::RecoveryCode { code } => {
                self.credentials
                    .use_recovery_code(&user_id, code, client.key)
                    .await?;
                method::RECOVERY_CODE
            }
            _ => return Err(AccountError::WrongSecondFactor),
        };
        tickets::consume(&self.store, ticket, now).await?;
        let email = self
            .users
            .emails(&user_id, now)
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        let first = match first.as_str() {
            method::PASSWORD => method::PASSWORD,
            method::PIN => method::PIN,
            method::SMS_OTP => method::SMS_OTP,
            method::SOCIAL => method::SOCIAL,
            _ => method::EMAIL_OTP,
        };
        self.open_session(&user_id, &[first, second], email, false, client)
            .await
    }

    /// The one place a session is created: records the methods and emits the login event.
    async fn open_session(
        &self,
        user_id: &str,
        methods: &[&'static str],
        email: String,
        created: bool,
        client: Client<'_>,
    ) -> Result<Login, AccountError> {
        let first = methods.first().copied().unwrap_or(method::EMAIL_OTP);
        let session = self
            .sessions
            .create(user_id, first, client.user_agent)
            .await?;
        let now = self.clock.now_ms();
        for m in methods {
            self.record_method(&session.record.id, m, now).await?;
        }
        events::login(user_id, &session.record.id, methods, created);
        Ok(Login {
            session,
            user_id: user_id.to_owned(),
            email,
            created,
        })
    }

    async fn record_method(&self, session_id: &str, m: &str, now: i64) -> Result<(), AccountError> {
        sqlx::query(
            "INSERT INTO session_methods (session_id, method, at) VALUES ($1, $2, $3) \
             ON CONFLICT (session_id, method) DO UPDATE SET at = excluded.at",
        )
        .bind(session_id)
        .bind(m)
        .bind(now)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// The methods a session has proven.
    pub async fn session_methods(&self, session_id: &str) -> Result<Vec<MethodUse>, AccountError> {
        let rows = sqlx::query(
            "SELECT method, at FROM session_methods WHERE session_id = $1 ORDER BY at, method",
        )
        .bind(session_id)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MethodUse {
                    method: r.try_get(0)?,
                    at: r.try_get(1)?,
                })
            })
            .collect()
    }

    /// Proves a method again for the current session (no new session).
    pub async fn step_up(
        &self,
        principal: &Principal,
        proof: &tandem_proto::account::Proof,
    ) -> Result<Vec<MethodUse>, AccountError> {
        use tandem_proto::account::Proof;
        let user = principal.user_id.as_str();
        let client = principal.client.as_str();
        let proven = match proof {
            Proof::Totp { code } => {
                self.credentials.verify_totp(user, code, client).await?;
                method::TOTP
            }
            Proof::RecoveryCode { code } => {
                self.credentials
                    .use_recovery_code(user, code, client)
                    .await?;
                method::RECOVERY_CODE
            }
            Proof::Password { password } => {
                self.credentials
                    .verify_secret(
                        Some(user),
                        CredentialKind::Password,
                        Zeroizing::new(password.clone()),
                        user,
                        client,
                    )
                    .await?;
                method::PASSWORD
            }
            Proof::Pin { pin } => {
                self.credentials
                    .verify_secret(
                        Some(user),
                        CredentialKind::Pin,
                        Zeroizing::new(pin.clone()),
                        user,
                        client,
                    )
                    .await?;
                method::PIN
            }
            Proof::EmailOtp { attempt_id, code } => {
                let email = self.otp.verify_address(attempt_id, code).await?;
                // The code must have gone to one of this account's addresses.
                if self
                    .users
                    .lookup(IdentityKind::Email, &email)
                    .await?
                    .as_deref()
                    != Some(user)
                {
                    return Err(AccountError::Credential(
                        crate::credentials::CredentialError::Invalid,
                    ));
                }
                method::EMAIL_OTP
            }
            Proof::SmsOtp { attempt_id, code } => {
                // With SMS off no code can exist: the proof is simply not valid.
                let sms = self.sms.as_ref().ok_or(AccountError::Credential(
                    crate::credentials::CredentialError::Invalid,
                ))?;
                let phone = sms.verify_number(attempt_id, code).await?;
                // The code must have gone to one of this account's numbers.
                if self
                    .users
                    .lookup(IdentityKind::Phone, &phone)
                    .await?
                    .as_deref()
                    != Some(user)
                {
                    return Err(AccountError::Credential(
                        crate::credentials::CredentialError::Invalid,
                    ));
                }
                method::SMS_OTP
            }
        };
        if proven != method::PIN {
            self.credentials.unlock_pin(user).await?;
        }
        self.record_method(&principal.session_id, proven, self.clock.now_ms())
            .await?;
        self.session_methods(&principal.session_id).await
    }

    /// The methods this user could prove now.
    pub async fn available_methods(
        &self,
        user_id: &str,
    ) -> Result<Vec<&'static str>, AccountError> {
        let now = self.clock.now_ms();
        let mut out = Vec::new();
        if !self.users.emails(user_id, now).await?.is_empty() {
            out.push(method::EMAIL_OTP);
        }
        if self.sms.is_some() && !self.users.phones(user_id, now).await?.is_empty() {
            out.push(method::SMS_OTP);
        }
        let s = self.credentials.summary(user_id).await?;
        if s.password {
            out.push(method::PASSWORD);
        }
        if s.pin && !s.pin_locked {
            out.push(method::PIN);
        }
        if s.totp {
            out.push(method::TOTP);
            if s.recovery_codes_left > 0 {
                out.push(method::RECOVERY_CODE);
            }
        }
        Ok(out)
    }

    /// Refuses unless the session proved some method within the step-up window.
    pub async fn require_recent(&self, principal: &Principal) -> Result<(), AccountError> {
        let since = self.clock.now_ms().saturating_sub(self.settings.step_up_ms);
        if principal.proved_since(since) {
            return Ok(());
        }
        Err(AccountError::StepUpRequired {
            methods: self.available_methods(&principal.user_id).await?,
        })
    }

    /// For what lets a key leave the 2-of-2 (a Backup Kit, an export): a recent method, and
    /// when the account has TOTP, a recent TOTP (or recovery) code (security bar K5).
    pub async fn require_strong(&self, principal: &Principal) -> Result<(), AccountError> {
        self.require_recent(principal).await?;
        if !self.credentials.summary(&principal.user_id).await?.totp {
            return Ok(());
        }
        let since = self.clock.now_ms().saturating_sub(self.settings.step_up_ms);
        let second = principal.methods.iter().any(|m| {
            m.at >= since && (m.method == method::TOTP || m.method == method::RECOVERY_CODE)
        });
        if second {
            return Ok(());
        }
        Err(AccountError::StepUpRequired {
            methods: vec![method::TOTP, method::RECOVERY_CODE],
        })
    }

    /// Ends every session of the account (a completed recovery).
    pub async fn end_all_sessions(&self, user_id: &str) -> Result<u64, AccountError> {
        Ok(self.sessions.revoke_all(user_id, None).await?)
    }

    /// The session a completed recovery opens on the recovering device.
    pub async fn open_recovery_session(
        &self,
        user_id: &str,
        client: Client<'_>,
    ) -> Result<Login, AccountError> {
        let email = self.first_email(user_id).await.unwrap_or_default();
        self.open_session(user_id, &[method::RECOVERY], email, false, client)
            .await
    }

    /// The account page.
    pub async fn view(&self, principal: &Principal) -> Result<AccountView, AccountError> {
        let now = self.clock.now_ms();
        Ok(AccountView {
            user_id: principal.user_id.clone(),
            identities: self.users.identities(&principal.user_id, now).await?,
            credentials: self.credentials.summary(&principal.user_id).await?,
            session_methods: principal.methods.clone(),
        })
    }

    /// Sets or replaces the password or PIN.
    pub async fn set_secret(
        &self,
        principal: &Principal,
        kind: CredentialKind,
        value: Zeroizing<String>,
    ) -> Result<(), AccountError> {
        self.require_recent(principal).await?;
        let had = self.credentials.summary(&principal.user_id).await?;
        self.credentials
            .set_secret(&principal.user_id, kind, value)
            .await?;
        let existed = match kind {
            CredentialKind::Password => had.password,
            _ => had.pin,
        };
        self.emit(
            &principal.user_id,
            if existed {
                AccountEvent::Changed(kind.as_str())
            } else {
                AccountEvent::Added(kind.as_str())
            },
        )
        .await;
        Ok(())
    }

    /// Removes the password, the PIN or the TOTP key.
    pub async fn remove_credential(
        &self,
        principal: &Principal,
        kind: CredentialKind,
    ) -> Result<(), AccountError> {
        self.require_recent(principal).await?;
        self.credentials.remove(&principal.user_id, kind).await?;
        self.emit(&principal.user_id, AccountEvent::Removed(kind.as_str()))
            .await;
        Ok(())
    }

    /// Starts a TOTP enrolment.
    pub async fn totp_begin(&self, principal: &Principal) -> Result<TotpEnrolment, AccountError> {
        self.require_recent(principal).await?;
        let now = self.clock.now_ms();
        let label = self
            .users
            .emails(&principal.user_id, now)
            .await?
            .into_iter()
            .next()
            .unwrap_or_else(|| principal.user_id.clone());
        Ok(self
            .credentials
            .totp_begin(&principal.user_id, &label)
            .await?)
    }

    /// Confirms a TOTP enrolment; returns the recovery codes.
    pub async fn totp_confirm(
        &self,
        principal: &Principal,
        code: &str,
    ) -> Result<Vec<Zeroizing<String>>, AccountError> {
        self.require_recent(principal).await?;
        let had = self.credentials.summary(&principal.user_id).await?.totp;
        let codes = self
            .credentials
            .totp_confirm(&principal.user_id, code, &principal.client)
            .await?;
        // The code just checked proves the new key for this session.
        self.record_method(&principal.session_id, method::TOTP, self.clock.now_ms())
            .await?;
        self.emit(
            &principal.user_id,
            if had {
                AccountEvent::Changed("totp")
            } else {
                AccountEvent::Added("totp")
            },
        )
        .await;
        Ok(codes)
    }

    /// Sends a code to an address to link to the account.
    pub async fn link_email_start(
        &self,
        principal: &Principal,
        email: &str,
    ) -> Result<crate::auth::OtpStarted, AccountError> {
        self.require_recent(principal).await?;
        Ok(self.otp.start(email, &principal.client).await?)
    }

    /// Links the address the code proves. Refused if it belongs to another account.
    pub async fn link_email_verify(
        &self,
        principal: &Principal,
        attempt_id: &str,
        code: &str,
    ) -> Result<Identity, AccountError> {
        self.require_recent(principal).await?;
        let email = self.otp.verify_address(attempt_id, code).await?;
        let now = self.clock.now_ms();
        let id = self
            .users
            .link(&principal.user_id, IdentityKind::Email, &email, now)
            .await?;
        self.emit(&principal.user_id, AccountEvent::Added("email"))
            .await;
        Ok(Identity {
            id,
            kind: IdentityKind::Email,
            subject: email,
            created_at: now,
            last_used_at: Some(now),
        })
    }

    /// Sends a code to a phone number to link to the account.
    pub async fn link_phone_start(
        &self,
        principal: &Principal,
        phone: &str,
    ) -> Result<crate::auth::OtpStarted, AccountError> {
        let sms = self.sms()?;
        self.require_recent(principal).await?;
        Ok(sms.start(phone, &principal.client).await?)
    }

    /// Links the number the code proves. Refused if it belongs to another account.
    pub async fn link_phone_verify(
        &self,
        principal: &Principal,
        attempt_id: &str,
        code: &str,
    ) -> Result<Identity, AccountError> {
        let sms = self.sms()?;
        self.require_recent(principal).await?;
        let phone = sms.verify_number(attempt_id, code).await?;
        let now = self.clock.now_ms();
        let id = self
            .users
            .link(&principal.user_id, IdentityKind::Phone, &phone, now)
            .await?;
        self.emit(&principal.user_id, AccountEvent::Added("phone"))
            .await;
        Ok(Identity {
            id,
            kind: IdentityKind::Phone,
            subject: phone,
            created_at: now,
            last_used_at: Some(now),
        })
    }

    /// Removes an identity, unless it is the last way in.
    pub async fn unlink(
        &self,
        principal: &Principal,
        identity_id: &str,
    ) -> Result<(), AccountError> {
        self.require_recent(principal).await?;
        // Addresses from before identities existed are moved first, so they count.
        let notify = self
            .users
            .emails(&principal.user_id, self.clock.now_ms())
            .await?;
        let mut tx = self.store.begin_write().await?;
        if self.users.count_in(&mut tx, &principal.user_id).await? <= 1 {
            tx.rollback().await?;
            return Err(AccountError::LastMethod);
        }
        let kind = self
            .users
            .unlink_in(&mut tx, &principal.user_id, identity_id)
            .await?;
        tx.commit().await?;
        // The removed address hears of it too.
        self.notify(&notify, &AccountEvent::Removed(kind.as_str()).notice())
            .await;
        Ok(())
    }

    async fn emit(&self, user_id: &str, event: AccountEvent) {
        tracing::info!(user = %user_id, event = event.name(), method = event.method(), "account changed");
        self.tell(user_id, &event.notice()).await;
    }

    /// Tells every channel of the account (each address by mail, each number by SMS when SMS
    /// is on). Best effort: a channel that fails is logged and the others still hear of it.
    /// Returns how many messages were handed over.
    pub async fn tell(&self, user_id: &str, notice: &Notice) -> usize {
        let now = self.clock.now_ms();
        let mut sent = match self.users.emails(user_id, now).await {
            Ok(to) => self.notify(&to, notice).await,
            Err(e) => {
                tracing::warn!(error = %e, "account notice: addresses unreadable");
                0
            }
        };
        if let Some(sms) = &self.sms {
            match self.users.phones(user_id, now).await {
                Ok(numbers) => {
                    for number in numbers {
                        match sms.send_notice(&number, &notice.sms).await {
                            Ok(()) => sent += 1,
                            Err(e) => {
                                tracing::warn!(error = %e, "account notice not delivered by SMS")
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "account notice: numbers unreadable"),
            }
        }
        sent
    }

    async fn notify(&self, to: &[String], notice: &Notice) -> usize {
        let mut sent = 0;
        for address in to {
            match self
                .mailer
                .send_notice(address, &notice.subject, &notice.body)
                .await
            {
                Ok(()) => sent += 1,
                Err(e) => tracing::warn!(error = %e, "account notice not delivered"),
            }
        }
        sent
    }
}
