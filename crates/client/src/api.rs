//! The HTTP half of the API (login, sessions, wallet listing).

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tandem_proto::auth::{
    EmailStartRequest, EmailStartResponse, EmailVerifyRequest, LoginResponse, SessionInfo,
    SessionList,
};
use tandem_proto::sign::{PreviewResponse, SignPayload};
use tandem_proto::wallet::{WalletInfo, WalletList};
use tandem_proto::{ApiError, ErrorCode};

use crate::error::ClientError;

/// An HTTP client for one server, optionally holding a session token.
#[derive(Clone)]
pub struct ApiClient {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
    server_key: Option<[u8; 32]>,
    /// TLS for the ceremony socket: the web PKI roots plus any extra CA.
    tls: std::sync::Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl ApiClient {
    pub fn new(base: &str) -> Result<ApiClient, ClientError> {
        ApiClient::with_ca(base, None)
    }

    /// Like [`ApiClient::new`], also trusting the CA certificates in `ca_pem` (for a server
    /// with a private or self-signed certificate). Certificates are verified normally.
    pub fn with_ca(base: &str, ca_pem: Option<&[u8]>) -> Result<ApiClient, ClientError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tandem-client/", env!("CARGO_PKG_VERSION")));
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(pem) = ca_pem {
            use rustls_pki_types::CertificateDer;
            use rustls_pki_types::pem::PemObject;
            let bad = |_| ClientError::Local("the CA file holds no valid PEM certificate".into());
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<_, _>>()
                .map_err(bad)?;
            if certs.is_empty() {
                return Err(ClientError::Local(
                    "the CA file holds no certificate".into(),
                ));
            }
            for cert in certs {
                let reqwest_cert = reqwest::Certificate::from_der(&cert)
                    .map_err(|e| ClientError::Local(format!("CA certificate: {e}")))?;
                builder = builder.add_root_certificate(reqwest_cert);
                roots
                    .add(cert)
                    .map_err(|e| ClientError::Local(format!("CA certificate: {e}")))?;
            }
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let tls = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(ApiClient {
            base: base.trim_end_matches('/').to_owned(),
            http,
            token: None,
            server_key: None,
            tls: std::sync::Arc::new(tls),
        })
    }

    pub(crate) fn tls(&self) -> std::sync::Arc<rustls::ClientConfig> {
        self.tls.clone()
    }

    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Pins the server's channel key (from a saved login, or compared out of band).
    pub fn with_server_key(mut self, key: [u8; 32]) -> Self {
        self.server_key = Some(key);
        self
    }

    pub fn server_key(&self) -> Option<&[u8; 32]> {
        self.server_key.as_ref()
    }

    /// Fetches the server's channel key and pins it (trust on first use: call it once, at
    /// login, and keep the key).
    pub async fn pin_server_key(mut self) -> Result<Self, ClientError> {
        let key: tandem_proto::channel::ServerKey = self
            .call::<(), _>(Method::GET, "/v1/server-key", None)
            .await?;
        let bytes = hex::decode(&key.public_key)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                ClientError::Protocol("the server sent an invalid channel key".into())
            })?;
        self.server_key = Some(bytes);
        Ok(self)
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The ceremony socket URL (`ws://` or `wss://`).
    pub fn ceremony_url(&self) -> String {
        let ws = if let Some(rest) = self.base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = self.base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            self.base.clone()
        };
        format!("{ws}{}", tandem_proto::CEREMONY_PATH)
    }

    pub async fn email_start(&self, email: &str) -> Result<EmailStartResponse, ClientError> {
        let body = EmailStartRequest {
            email: email.to_owned(),
        };
        self.call(Method::POST, "/v1/auth/email/start", Some(&body))
            .await
    }

    pub async fn email_verify(
        &self,
        attempt_id: &str,
        code: &str,
    ) -> Result<LoginResponse, ClientError> {
        let body = EmailVerifyRequest {
            attempt_id: attempt_id.to_owned(),
            code: code.to_owned(),
        };
        self.call(Method::POST, "/v1/auth/email/verify", Some(&body))
            .await
    }

    pub async fn session(&self) -> Result<SessionInfo, ClientError> {
        self.call::<(), _>(Method::GET, "/v1/session", None).await
    }

    pub async fn refresh_session(&self) -> Result<SessionInfo, ClientError> {
        self.call::<(), _>(Method::POST, "/v1/session/refresh", None)
            .await
    }

    pub async fn logout(&self) -> Result<(), ClientError> {
        self.call_empty(Method::POST, "/v1/session/logout").await
    }

    pub async fn sessions(&self) -> Result<Vec<SessionInfo>, ClientError> {
        let list: SessionList = self
            .call::<(), _>(Method::GET, "/v1/sessions", None)
            .await?;
        Ok(list.sessions)
    }

    pub async fn revoke_session(&self, id: &str) -> Result<(), ClientError> {
        self.call_empty(Method::DELETE, &format!("/v1/sessions/{id}"))
            .await
    }

    pub async fn wallets(&self) -> Result<Vec<WalletInfo>, ClientError> {
        let list: WalletList = self.call::<(), _>(Method::GET, "/v1/wallets", None).await?;
        Ok(list.wallets)
    }

    pub async fn wallet(&self, id: &str) -> Result<WalletInfo, ClientError> {
        self.call::<(), _>(Method::GET, &format!("/v1/wallets/{id}"), None)
            .await
    }

    pub async fn preview(
        &self,
        id: &str,
        payload: &SignPayload,
    ) -> Result<PreviewResponse, ClientError> {
        self.call(
            Method::POST,
            &format!("/v1/wallets/{id}/preview"),
            Some(payload),
        )
        .await
    }

    async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<reqwest::Response, ClientError> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ClientError::Http(without_url(e)))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ClientError::Http(without_url(e)))?;
        Err(match serde_json::from_slice::<ApiError>(&bytes) {
            Ok(api) => ClientError::Api(api),
            Err(_) => ClientError::Api(ApiError::new(
                if status == StatusCode::NOT_FOUND {
                    ErrorCode::NotFound
                } else {
                    ErrorCode::Internal
                },
                format!("HTTP {status}"),
            )),
        })
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let resp = self.send(method, path, body).await?;
        resp.json::<T>()
            .await
            .map_err(|e| ClientError::Protocol(format!("unexpected response: {e}")))
    }

    async fn call_empty(&self, method: Method, path: &str) -> Result<(), ClientError> {
        self.send::<()>(method, path, None).await.map(|_| ())
    }
}

fn without_url(e: reqwest::Error) -> String {
    e.without_url().to_string()
}
