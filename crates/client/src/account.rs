//! Sign-in methods besides email codes, second factors, step-up and the account's methods
//! (`/v1/auth/password|pin|second-factor|step-up`, `/v1/account/…`).
//!
//! A login that needs a second factor fails with
//! [`ErrorCode::SecondFactorRequired`](tandem_proto::ErrorCode::SecondFactorRequired); read
//! the ticket with [`ClientError::second_factor`] and finish with
//! [`ApiClient::second_factor`]. An operation that needs a recent sign-in fails with
//! [`ErrorCode::StepUpRequired`](tandem_proto::ErrorCode::StepUpRequired);
//! [`ClientError::step_up_methods`] says which methods would do, and
//! [`ApiClient::step_up`] proves one.

use reqwest::Method;
use serde::Serialize;
use tandem_proto::ErrorCode;
use tandem_proto::account::{
    AccountInfo, IdentityInfo, LinkEmailVerifyRequest, PasswordLoginRequest, PinLoginRequest,
    Proof, RecoveryCodes, SecondFactorRequest, SetPasswordRequest, SetPinRequest, StepUpResponse,
    TotpConfirmRequest, TotpEnrolment,
};
use tandem_proto::auth::{EmailStartRequest, EmailStartResponse, LoginResponse};

use crate::{ApiClient, ClientError};

/// What a `second_factor_required` refusal carries.
#[derive(Clone)]
pub struct SecondFactor {
    /// The one-time ticket that finishes this login (a secret for a few minutes).
    pub ticket: String,
    /// The methods that would finish it (`totp`, `recovery_code`).
    pub methods: Vec<String>,
}

impl std::fmt::Debug for SecondFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactor")
            .field("ticket", &"[redacted]")
            .field("methods", &self.methods)
            .finish()
    }
}

impl ClientError {
    /// The ticket and methods of a login that needs a second factor.
    pub fn second_factor(&self) -> Option<SecondFactor> {
        let e = self.api_error()?;
        (e.code == ErrorCode::SecondFactorRequired).then(|| SecondFactor {
            ticket: e.login_ticket.clone().unwrap_or_default(),
            methods: e.methods.clone().unwrap_or_default(),
        })
    }

    /// The methods that would satisfy a `step_up_required` refusal.
    pub fn step_up_methods(&self) -> Option<Vec<String>> {
        let e = self.api_error()?;
        (e.code == ErrorCode::StepUpRequired).then(|| e.methods.clone().unwrap_or_default())
    }
}

impl ApiClient {
    async fn no_content<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<(), ClientError> {
        self.exchange(method, path, body).await.map(|_| ())
    }

    /// `POST /v1/auth/password/login`.
    pub async fn password_login(
        &self,
        email: &str,
        password: &str,
    ) -> Result<LoginResponse, ClientError> {
        let body = PasswordLoginRequest {
            email: email.to_owned(),
            password: password.to_owned(),
        };
        self.call(Method::POST, "/v1/auth/password/login", Some(&body))
            .await
    }

    /// `POST /v1/auth/pin/login`.
    pub async fn pin_login(&self, email: &str, pin: &str) -> Result<LoginResponse, ClientError> {
        let body = PinLoginRequest {
            email: email.to_owned(),
            pin: pin.to_owned(),
        };
        self.call(Method::POST, "/v1/auth/pin/login", Some(&body))
            .await
    }

    /// `POST /v1/auth/second-factor`: finishes a login with a TOTP or recovery code.
    pub async fn second_factor(
        &self,
        ticket: &str,
        proof: Proof,
    ) -> Result<LoginResponse, ClientError> {
        let body = SecondFactorRequest {
            login_ticket: ticket.to_owned(),
            proof,
        };
        self.call(Method::POST, "/v1/auth/second-factor", Some(&body))
            .await
    }

    /// `POST /v1/auth/step-up`: proves a method again for this session.
    pub async fn step_up(&self, proof: Proof) -> Result<StepUpResponse, ClientError> {
        self.call(Method::POST, "/v1/auth/step-up", Some(&proof))
            .await
    }

    /// `GET /v1/account`.
    pub async fn account(&self) -> Result<AccountInfo, ClientError> {
        self.call::<(), _>(Method::GET, "/v1/account", None).await
    }

    /// `PUT /v1/account/password` (step-up).
    pub async fn set_password(&self, password: &str) -> Result<(), ClientError> {
        let body = SetPasswordRequest {
            password: password.to_owned(),
        };
        self.no_content(Method::PUT, "/v1/account/password", Some(&body))
            .await
    }

    /// `DELETE /v1/account/password` (step-up).
    pub async fn remove_password(&self) -> Result<(), ClientError> {
        self.no_content::<()>(Method::DELETE, "/v1/account/password", None)
            .await
    }

    /// `PUT /v1/account/pin` (step-up).
    pub async fn set_pin(&self, pin: &str) -> Result<(), ClientError> {
        let body = SetPinRequest {
            pin: pin.to_owned(),
        };
        self.no_content(Method::PUT, "/v1/account/pin", Some(&body))
            .await
    }

    /// `DELETE /v1/account/pin` (step-up).
    pub async fn remove_pin(&self) -> Result<(), ClientError> {
        self.no_content::<()>(Method::DELETE, "/v1/account/pin", None)
            .await
    }

    /// `POST /v1/account/totp` (step-up): a new key, pending until confirmed.
    pub async fn totp_begin(&self) -> Result<TotpEnrolment, ClientError> {
        self.call(
            Method::POST,
            "/v1/account/totp",
            Some(&serde_json::json!({})),
        )
        .await
    }

    /// `POST /v1/account/totp/confirm`: the recovery codes, shown once.
    pub async fn totp_confirm(&self, code: &str) -> Result<RecoveryCodes, ClientError> {
        let body = TotpConfirmRequest {
            code: code.to_owned(),
        };
        self.call(Method::POST, "/v1/account/totp/confirm", Some(&body))
            .await
    }

    /// `DELETE /v1/account/totp` (step-up).
    pub async fn remove_totp(&self) -> Result<(), ClientError> {
        self.no_content::<()>(Method::DELETE, "/v1/account/totp", None)
            .await
    }

    /// `POST /v1/account/email/start` (step-up): mails a code to an address to link.
    pub async fn link_email_start(&self, email: &str) -> Result<EmailStartResponse, ClientError> {
        let body = EmailStartRequest {
            email: email.to_owned(),
        };
        self.call(Method::POST, "/v1/account/email/start", Some(&body))
            .await
    }

    /// `POST /v1/account/email/verify`: links the address.
    pub async fn link_email_verify(
        &self,
        attempt_id: &str,
        code: &str,
    ) -> Result<IdentityInfo, ClientError> {
        let body = LinkEmailVerifyRequest {
            attempt_id: attempt_id.to_owned(),
            code: code.to_owned(),
        };
        self.call(Method::POST, "/v1/account/email/verify", Some(&body))
            .await
    }

    /// `DELETE /v1/account/identities/{id}` (step-up).
    pub async fn unlink_identity(&self, id: &str) -> Result<(), ClientError> {
        self.no_content::<()>(
            Method::DELETE,
            &format!("/v1/account/identities/{id}"),
            None,
        )
        .await
    }
}
