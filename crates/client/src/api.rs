//! The HTTP half of the API (login, sessions, wallet listing).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tandem_proto::auth::{
    EmailStartRequest, EmailStartResponse, EmailVerifyRequest, LoginResponse, SessionInfo,
    SessionList,
};
use tandem_proto::sign::{PreviewResponse, SignPayload};
use tandem_proto::wallet::WalletInfo;
use tandem_proto::{ApiError, ErrorCode};

use crate::error::{ClientError, TimeoutStep};

/// How long the device waits for each step before giving up with
/// [`ClientError::Timeout`]. The defaults match the server's round timeout
/// (`limits.round_timeout_secs`, 30 s): past it the server has abandoned the ceremony anyway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening a TCP connection (HTTP and the ceremony socket).
    pub connect: Duration,
    /// One HTTP call, from sending the request to the last byte of the answer.
    pub http: Duration,
    /// The ceremony socket's TLS and WebSocket upgrade.
    pub upgrade: Duration,
    /// The encrypted channel's handshake.
    pub handshake: Duration,
    /// Each ceremony message awaited from (or sent to) the server.
    pub round: Duration,
}

impl Timeouts {
    /// The same deadline for every step.
    pub const fn uniform(d: Duration) -> Timeouts {
        Timeouts {
            connect: d,
            http: d,
            upgrade: d,
            handshake: d,
            round: d,
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::uniform(Duration::from_secs(30))
    }
}

/// The largest HTTP answer read by default: far above any real one (a wallet list of
/// thousands of wallets), small enough that a hostile server cannot exhaust memory.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 << 20;

/// An HTTP client for one server, optionally holding a session token.
#[derive(Clone)]
pub struct ApiClient {
    base: String,
    http: reqwest::Client,
    /// Extra trusted CAs, kept to rebuild `http` when the timeouts change.
    extra_roots: Vec<reqwest::Certificate>,
    token: Option<String>,
    server_key: Option<[u8; 32]>,
    /// TLS for the ceremony socket: the web PKI roots plus any extra CA.
    tls: std::sync::Arc<rustls::ClientConfig>,
    timeouts: Timeouts,
    max_response: usize,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

fn build_http(
    roots: &[reqwest::Certificate],
    timeouts: &Timeouts,
) -> Result<reqwest::Client, ClientError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeouts.connect)
        .user_agent(concat!("tandem-client/", env!("CARGO_PKG_VERSION")));
    for cert in roots {
        builder = builder.add_root_certificate(cert.clone());
    }
    builder.build().map_err(ClientError::http)
}

impl ApiClient {
    /// A client for the server at `base` (e.g. `https://tandem.example.com`), trusting the
    /// web PKI roots. Set the token and the pinned key with [`ApiClient::with_token`] and
    /// [`ApiClient::with_server_key`] (or use [`Session`](crate::Session), which does both).
    pub fn new(base: &str) -> Result<ApiClient, ClientError> {
        ApiClient::with_ca(base, None)
    }

    /// Like [`ApiClient::new`], also trusting the CA certificates in `ca_pem` (for a server
    /// with a private or self-signed certificate). Certificates are verified normally.
    pub fn with_ca(base: &str, ca_pem: Option<&[u8]>) -> Result<ApiClient, ClientError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let mut extra_roots = Vec::new();
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
                extra_roots.push(
                    reqwest::Certificate::from_der(&cert)
                        .map_err(|e| ClientError::Local(format!("CA certificate: {e}")))?,
                );
                roots
                    .add(cert)
                    .map_err(|e| ClientError::Local(format!("CA certificate: {e}")))?;
            }
        }
        let timeouts = Timeouts::default();
        let http = build_http(&extra_roots, &timeouts)?;
        let tls = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(ApiClient {
            base: normalise_base(base),
            http,
            extra_roots,
            token: None,
            server_key: None,
            tls: std::sync::Arc::new(tls),
            timeouts,
            max_response: DEFAULT_MAX_RESPONSE_BYTES,
        })
    }

    /// Replaces the deadlines ([`Timeouts::default`]: 30 s each).
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Result<Self, ClientError> {
        self.http = build_http(&self.extra_roots, &timeouts)?;
        self.timeouts = timeouts;
        Ok(self)
    }

    /// The deadlines in use.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Caps every HTTP answer's body ([`DEFAULT_MAX_RESPONSE_BYTES`] by default).
    pub fn with_max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response = limit;
        self
    }

    pub(crate) fn tls(&self) -> std::sync::Arc<rustls::ClientConfig> {
        self.tls.clone()
    }

    /// Sends `token` (a session's bearer token) with every request.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Pins the server's channel key (from a saved login, or compared out of band).
    pub fn with_server_key(mut self, key: [u8; 32]) -> Self {
        self.server_key = Some(key);
        self
    }

    /// The pinned channel key, if any.
    pub fn server_key(&self) -> Option<&[u8; 32]> {
        self.server_key.as_ref()
    }

    /// Fetches the server's channel key and pins it in this client only (trust on first
    /// use). [`KnownServers::pin_server`](crate::known_servers::KnownServers::pin_server)
    /// does the same but also remembers the key and refuses a changed one: prefer it.
    pub async fn pin_server_key(mut self) -> Result<Self, ClientError> {
        self.server_key = Some(self.fetch_server_key().await?);
        Ok(self)
    }

    /// The channel key the server presents now (over HTTP: only a pin makes it trustworthy).
    pub async fn fetch_server_key(&self) -> Result<[u8; 32], ClientError> {
        let key: tandem_proto::channel::ServerKey = self
            .call::<(), _>(Method::GET, "/v1/server-key", None)
            .await?;
        hex::decode(&key.public_key)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| ClientError::Protocol("the server sent an invalid channel key".into()))
    }

    /// The server's base URL (normalised).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The session token, if any.
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

    /// `POST /v1/auth/email/start`: asks the server to email a login code.
    pub async fn email_start(&self, email: &str) -> Result<EmailStartResponse, ClientError> {
        let body = EmailStartRequest {
            email: email.to_owned(),
        };
        self.call(Method::POST, "/v1/auth/email/start", Some(&body))
            .await
    }

    /// `POST /v1/auth/email/verify`: exchanges the code for a session.
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

    /// `GET /v1/session`: the current session.
    pub async fn session(&self) -> Result<SessionInfo, ClientError> {
        self.call::<(), _>(Method::GET, "/v1/session", None).await
    }

    /// `POST /v1/session/refresh`: extends the current session (same token).
    pub async fn refresh_session(&self) -> Result<SessionInfo, ClientError> {
        self.call::<(), _>(Method::POST, "/v1/session/refresh", None)
            .await
    }

    /// `POST /v1/session/logout`: ends the current session.
    pub async fn logout(&self) -> Result<(), ClientError> {
        self.call_empty(Method::POST, "/v1/session/logout").await
    }

    /// `GET /v1/sessions`: the user's live sessions.
    pub async fn sessions(&self) -> Result<Vec<SessionInfo>, ClientError> {
        let list: SessionList = self
            .call::<(), _>(Method::GET, "/v1/sessions", None)
            .await?;
        Ok(list.sessions)
    }

    /// `DELETE /v1/sessions/{id}`: ends another session of the user.
    pub async fn revoke_session(&self, id: &str) -> Result<(), ClientError> {
        self.call_empty(Method::DELETE, &format!("/v1/sessions/{id}"))
            .await
    }

    /// `GET /v1/wallets`, unverified: prefer [`Device::wallets`](crate::Device::wallets),
    /// which checks each wallet against this device's share.
    ///
    /// Entries this client cannot read (a chain or field a newer server added) are left
    /// out; [`Device::wallets`](crate::Device::wallets) reports them as errors instead.
    pub async fn wallets(&self) -> Result<Vec<WalletInfo>, ClientError> {
        Ok(self
            .wallet_entries()
            .await?
            .into_iter()
            .filter_map(|(_, w)| w.ok())
            .collect())
    }

    /// The wallet list, each entry decoded on its own: `(id, Err(_))` for one this client
    /// cannot read, so a wallet on a chain added by a newer server hides no other.
    pub(crate) async fn wallet_entries(
        &self,
    ) -> Result<Vec<(String, Result<WalletInfo, ClientError>)>, ClientError> {
        #[derive(serde::Deserialize)]
        struct Lenient {
            wallets: Vec<serde_json::Value>,
        }
        let list: Lenient = self.call::<(), _>(Method::GET, "/v1/wallets", None).await?;
        Ok(list.wallets.into_iter().map(decode_wallet).collect())
    }

    /// `GET /v1/wallets/{id}`, unverified: prefer [`Device::wallet`](crate::Device::wallet).
    pub async fn wallet(&self, id: &str) -> Result<WalletInfo, ClientError> {
        self.call::<(), _>(Method::GET, &format!("/v1/wallets/{id}"), None)
            .await
    }

    /// `POST /v1/wallets/{id}/preview`: what signing `payload` would mean, without signing.
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

    /// Sends the request and reads the whole answer within `timeouts.http`, never more
    /// than `max_response` bytes of it.
    pub(crate) async fn exchange<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Vec<u8>, ClientError> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let limit = self.max_response;
        let work = async move {
            let resp = req.send().await.map_err(|e| self.http_error(e))?;
            let status = resp.status();
            let bytes = read_capped(resp, limit)
                .await
                .map_err(|e| e.unwrap_or_else(|e| self.http_error(e)))?;
            Ok::<_, ClientError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(self.timeouts.http, work)
            .await
            .map_err(|_| ClientError::Timeout {
                step: TimeoutStep::Http,
                after: self.timeouts.http,
            })??;
        if status.is_success() {
            return Ok(bytes);
        }
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

    fn http_error(&self, e: reqwest::Error) -> ClientError {
        if e.is_connect() && e.is_timeout() {
            ClientError::Timeout {
                step: TimeoutStep::Connect,
                after: self.timeouts.connect,
            }
        } else {
            ClientError::http(e)
        }
    }

    pub(crate) async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let bytes = self.exchange(method, path, body).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Protocol(format!("unexpected response: {e}")))
    }

    async fn call_empty(&self, method: Method, path: &str) -> Result<(), ClientError> {
        self.exchange::<()>(method, path, None).await.map(|_| ())
    }
}

fn decode_wallet(v: serde_json::Value) -> (String, Result<WalletInfo, ClientError>) {
    let id = v["id"].as_str().unwrap_or_default().to_owned();
    let w = serde_json::from_value::<WalletInfo>(v)
        .map_err(|e| ClientError::Protocol(format!("a wallet this client cannot read: {e}")));
    (id, w)
}

/// Reads a body chunk by chunk, stopping as soon as it would exceed `limit` (a declared
/// `Content-Length` over it is refused before reading anything). `Err(Err(_))` is a
/// transport error for the caller to classify.
async fn read_capped(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, Result<ClientError, reqwest::Error>> {
    let too_large = || {
        Ok(ClientError::TooLarge {
            what: "an HTTP answer",
            limit,
        })
    };
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(Err)? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The base URL without trailing slashes and with a lower-case scheme (`HTTP://h` is
/// `http://h`, and the ceremony URL is derived from the scheme).
fn normalise_base(base: &str) -> String {
    let base = base.trim().trim_end_matches('/');
    match base.split_once("://") {
        Some((scheme, rest)) => format!("{}://{rest}", scheme.to_ascii_lowercase()),
        None => base.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wallet_on_an_unknown_chain_hides_no_other() {
        let known = serde_json::json!({"id": "w1", "chain": "evm", "address": "0x00",
            "public_key": "02", "epoch": 0, "status": "active", "created_at": 0});
        let mut newer = known.clone();
        newer["id"] = "w2".into();
        newer["chain"] = "bitcoin".into();
        newer["status"] = "archived".into();
        let decoded: Vec<_> = [known, newer].into_iter().map(decode_wallet).collect();
        assert!(decoded[0].1.is_ok());
        assert_eq!(decoded[1].0, "w2");
        assert!(matches!(decoded[1].1, Err(ClientError::Protocol(_))));
        // An unknown status alone is readable (and not `Active`).
        let mut status_only = serde_json::json!({"id": "w3", "chain": "solana", "address": "a",
            "public_key": "00", "epoch": 1, "status": "archived", "created_at": 0});
        status_only["status"] = "archived".into();
        let (_, w) = decode_wallet(status_only);
        assert!(matches!(w, Ok(w) if w.status == tandem_proto::wallet::WalletStatus::Unknown));
    }
}
