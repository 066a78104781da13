//! Maps every failure to `{code, message, field}` with a stable code and the right status.
//! Internal details go to the log, never to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tandem_proto::{ApiError, ErrorCode};

use crate::auth::AuthError;
use crate::ceremony::CeremonyError;
use crate::sessions::SessionError;
use crate::wallets::WalletError;

/// An error response.
#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl HttpError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        HttpError(ApiError::new(code, message))
    }

    pub fn internal(what: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %what, "internal error");
        HttpError::new(ErrorCode::Internal, "internal error")
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.0)).into_response()
    }
}

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        HttpError(e)
    }
}

impl From<AuthError> for HttpError {
    fn from(e: AuthError) -> Self {
        let code = match &e {
            AuthError::InvalidEmail => ErrorCode::InvalidEmail,
            AuthError::InvalidPhone => ErrorCode::InvalidPhone,
            AuthError::SmsDisabled => ErrorCode::NotFound,
            AuthError::SmsDelivery(_) => {
                tracing::warn!(error = %e, "SMS login code delivery failed");
                ErrorCode::DeliveryFailed
            }
            AuthError::RateLimited { retry_after_ms } => {
                let mut api = ApiError::new(ErrorCode::RateLimited, e.to_string());
                api.retry_after_ms = Some(u64::try_from(*retry_after_ms).unwrap_or(0));
                return HttpError(api);
            }
            AuthError::Delivery(_) => {
                tracing::warn!(error = %e, "login code delivery failed");
                ErrorCode::DeliveryFailed
            }
            AuthError::CodeInvalid => ErrorCode::CodeInvalid,
            AuthError::CodeExpired => ErrorCode::CodeExpired,
            AuthError::CodeExhausted => ErrorCode::CodeExhausted,
            AuthError::Random
            | AuthError::Store(_)
            | AuthError::Vault(_)
            | AuthError::User(_)
            | AuthError::Policy => {
                return HttpError::internal(&e);
            }
        };
        let field = match code {
            ErrorCode::InvalidEmail => Some("email"),
            ErrorCode::InvalidPhone => Some("phone"),
            ErrorCode::CodeInvalid | ErrorCode::CodeExpired | ErrorCode::CodeExhausted => {
                Some("code")
            }
            _ => None,
        };
        let mut api = ApiError::new(code, e.to_string());
        api.field = field.map(str::to_owned);
        HttpError(api)
    }
}

impl From<SessionError> for HttpError {
    fn from(e: SessionError) -> Self {
        let code = match &e {
            SessionError::Invalid => ErrorCode::Unauthorized,
            SessionError::Expired => ErrorCode::SessionExpired,
            SessionError::Revoked => ErrorCode::SessionRevoked,
            SessionError::NotFound => ErrorCode::NotFound,
            _ => return HttpError::internal(&e),
        };
        HttpError::new(code, e.to_string())
    }
}

impl From<WalletError> for HttpError {
    fn from(e: WalletError) -> Self {
        HttpError(crate::ceremony::wallet_api_error(&e))
    }
}

impl From<CeremonyError> for HttpError {
    fn from(e: CeremonyError) -> Self {
        HttpError(e.to_api())
    }
}
