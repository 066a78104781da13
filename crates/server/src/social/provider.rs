//! Talking to the providers: the authorization URL, then the code exchange and what proves
//! who the user is: a verified ID token (OpenID Connect: signature against the provider's
//! JWKS, issuer, audience, expiry by the injected clock, nonce) or, for the OAuth 2.0
//! presets, the provider's user endpoint read with the access token.
//!
//! Outgoing requests never follow redirects (a redirect from a provider endpoint could point
//! the server at an internal address) and give up after 10 seconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use oauth2::basic::BasicClient;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::reqwest;
use openidconnect::{
    AuthType, AuthUrl, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::SocialError;
use super::apple::AppleSigner;
use crate::config::{Protocol, ProviderConfig, SocialConfig, TokenAuth};

/// How long discovered metadata (with its JWKS) is reused.
const METADATA_TTL_MS: i64 = 10 * 60_000;

/// The secrets of one flow, as the provider sees them.
pub struct FlowSecrets<'a> {
    pub state: &'a str,
    pub nonce: &'a str,
    pub pkce_verifier: &'a str,
}

/// The enabled providers, the HTTP client and the discovery cache. Cheap to clone.
#[derive(Clone)]
pub struct Providers {
    config: Arc<SocialConfig>,
    http: reqwest::Client,
    apple: Option<Arc<AppleSigner>>,
    metadata: Arc<Mutex<HashMap<&'static str, (i64, CoreProviderMetadata)>>>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers").finish_non_exhaustive()
    }
}

fn redirect_url(config: &SocialConfig) -> Result<RedirectUrl, SocialError> {
    RedirectUrl::new(config.callback_url.trim().to_owned())
        .map_err(|_| SocialError::Provider("callback_url"))
}

/// The configured scopes; OpenID Connect requests get `openid` from the library already.
fn scopes(p: &ProviderConfig, protocol: Protocol) -> impl Iterator<Item = Scope> + '_ {
    p.scopes
        .iter()
        .filter(move |s| {
            let implied = protocol == Protocol::Oidc && s.as_str() == "openid";
            !s.is_empty() && !implied
        })
        .map(|s| Scope::new(s.clone()))
}

fn auth_type(p: &ProviderConfig) -> AuthType {
    match p.token_auth.unwrap_or_default() {
        TokenAuth::Basic => AuthType::BasicAuth,
        TokenAuth::Post => AuthType::RequestBody,
    }
}

/// A value of the user endpoint's JSON at a dotted path, as a string id.
fn field_at(value: &serde_json::Value, path: &str) -> Option<String> {
    let mut at = value;
    for part in path.split('.') {
        at = at.get(part)?;
    }
    match at {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Providers {
    pub fn new(config: SocialConfig) -> Result<Self, SocialError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|_| SocialError::Provider("http client"))?;
        let apple = if config.apple.enabled {
            let a = &config.apple;
            let path = a
                .private_key_file
                .as_deref()
                .ok_or_else(|| SocialError::AppleKey("no private_key_file".to_owned()))?;
            Some(Arc::new(AppleSigner::from_file(
                path,
                &a.team_id,
                &a.key_id,
                &a.client_id,
            )?))
        } else {
            None
        };
        Ok(Self {
            config: Arc::new(config),
            http,
            apple,
            metadata: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    pub fn config(&self) -> &SocialConfig {
        &self.config
    }

    /// An enabled provider by name.
    pub fn enabled(
        &self,
        name: &str,
    ) -> Result<(&'static str, &ProviderConfig, Protocol), SocialError> {
        let known = crate::config::PROVIDERS
            .iter()
            .find(|p| **p == name)
            .ok_or(SocialError::UnknownProvider)?;
        match self.config.provider(known) {
            Some((p, protocol)) if p.enabled => Ok((*known, p, protocol)),
            _ => Err(SocialError::UnknownProvider),
        }
    }

    async fn metadata(
        &self,
        name: &'static str,
        p: &ProviderConfig,
        now: i64,
    ) -> Result<CoreProviderMetadata, SocialError> {
        if let Ok(cache) = self.metadata.lock()
            && let Some((at, m)) = cache.get(name)
            && now.saturating_sub(*at) < METADATA_TTL_MS
            && *at <= now
        {
            return Ok(m.clone());
        }
        let issuer = IssuerUrl::new(p.issuer.trim().to_owned())
            .map_err(|_| SocialError::Provider("issuer url"))?;
        let m = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| {
                tracing::warn!(provider = name, error = %e, "OpenID discovery failed");
                SocialError::Provider("discovery")
            })?;
        if let Ok(mut cache) = self.metadata.lock() {
            cache.insert(name, (now, m.clone()));
        }
        Ok(m)
    }

    fn forget(&self, name: &str) {
        if let Ok(mut cache) = self.metadata.lock() {
            cache.remove(name);
        }
    }

    /// The client secret to present: the configured one, or Apple's fresh JWT.
    fn secret(&self, name: &str, p: &ProviderConfig, now: i64) -> Option<ClientSecret> {
        if name == "apple" {
            let signer = self.apple.as_ref()?;
            return Some(ClientSecret::new(
                signer.client_secret(now / 1000).to_string(),
            ));
        }
        p.client_secret
            .as_ref()
            .map(|s| ClientSecret::new(s.expose_secret().to_owned()))
    }

    /// Where to send the browser.
    pub async fn authorization_url(
        &self,
        name: &'static str,
        secrets: &FlowSecrets<'_>,
        now: i64,
    ) -> Result<String, SocialError> {
        let (_, p, protocol) = self.enabled(name)?;
        let redirect = redirect_url(&self.config)?;
        let state = secrets.state.to_owned();
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            secrets.pkce_verifier.to_owned(),
        ));
        let url = match protocol {
            Protocol::Oidc => {
                let metadata = self.metadata(name, p, now).await?;
                let client = CoreClient::from_provider_metadata(
                    metadata,
                    ClientId::new(p.client_id.clone()),
                    None,
                )
                .set_redirect_uri(redirect);
                let nonce = secrets.nonce.to_owned();
                let mut request = client
                    .authorize_url(
                        CoreAuthenticationFlow::AuthorizationCode,
                        move || CsrfToken::new(state),
                        move || Nonce::new(nonce),
                    )
                    .add_scopes(scopes(p, protocol))
                    .set_pkce_challenge(challenge);
                if p.form_post == Some(true) {
                    request = request.add_extra_param("response_mode", "form_post");
                }
                request.url().0
            }
            Protocol::OAuth2 => {
                let auth = AuthUrl::new(p.authorization_url.trim().to_owned())
                    .map_err(|_| SocialError::Provider("authorization url"))?;
                BasicClient::new(ClientId::new(p.client_id.clone()))
                    .set_auth_uri(auth)
                    .set_redirect_uri(redirect)
                    .authorize_url(move || CsrfToken::new(state))
                    .add_scopes(scopes(p, protocol))
                    .set_pkce_challenge(challenge)
                    .url()
                    .0
            }
        };
        Ok(url.to_string())
    }

    /// Exchanges the code and returns the verified identity, `<issuer> <subject>`.
    pub async fn identity(
        &self,
        name: &'static str,
        code: &str,
        secrets: &FlowSecrets<'_>,
        now: i64,
    ) -> Result<String, SocialError> {
        let (_, p, protocol) = self.enabled(name)?;
        match protocol {
            Protocol::Oidc => self.oidc_identity(name, p, code, secrets, now).await,
            Protocol::OAuth2 => self.oauth2_identity(name, p, code, secrets, now).await,
        }
    }

    async fn oidc_identity(
        &self,
        name: &'static str,
        p: &ProviderConfig,
        code: &str,
        secrets: &FlowSecrets<'_>,
        now: i64,
    ) -> Result<String, SocialError> {
        let metadata = self.metadata(name, p, now).await?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(p.client_id.clone()),
            self.secret(name, p, now),
        )
        .set_redirect_uri(redirect_url(&self.config)?)
        .set_auth_type(auth_type(p));
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| SocialError::Provider("no token endpoint"))?
            .set_pkce_verifier(PkceCodeVerifier::new(secrets.pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| {
                tracing::warn!(provider = name, error = %token_error(&e), "token exchange failed");
                SocialError::Provider("token exchange")
            })?;
        let id_token = token
            .id_token()
            .ok_or(SocialError::Provider("no ID token"))?;
        // Expiry is judged by the server's clock, like every other expiry here.
        let at = DateTime::<Utc>::from_timestamp_millis(now).unwrap_or_default();
        let verifier = client.id_token_verifier().set_time_fn(move || at);
        let claims = id_token
            .claims(&verifier, &Nonce::new(secrets.nonce.to_owned()))
            .map_err(|e| {
                tracing::warn!(provider = name, error = %e, "ID token refused");
                if matches!(e, ClaimsVerificationError::SignatureVerification(_)) {
                    // Perhaps the provider rotated its keys: read its JWKS afresh next time.
                    self.forget(name);
                }
                SocialError::Provider("id token")
            })?;
        Ok(format!(
            "{} {}",
            claims.issuer().as_str(),
            claims.subject().as_str()
        ))
    }

    async fn oauth2_identity(
        &self,
        name: &'static str,
        p: &ProviderConfig,
        code: &str,
        secrets: &FlowSecrets<'_>,
        now: i64,
    ) -> Result<String, SocialError> {
        let token_url = TokenUrl::new(p.token_url.trim().to_owned())
            .map_err(|_| SocialError::Provider("token url"))?;
        let mut client = BasicClient::new(ClientId::new(p.client_id.clone()))
            .set_token_uri(token_url)
            .set_redirect_uri(redirect_url(&self.config)?)
            .set_auth_type(auth_type(p));
        if let Some(secret) = self.secret(name, p, now) {
            client = client.set_client_secret(secret);
        }
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(secrets.pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| {
                tracing::warn!(provider = name, error = %token_error(&e), "token exchange failed");
                SocialError::Provider("token exchange")
            })?;
        let access = Zeroizing::new(token.access_token().secret().clone());
        let response = self
            .http
            .get(p.user_url.trim())
            .bearer_auth(access.as_str())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|_| SocialError::Provider("user endpoint unreachable"))?;
        if !response.status().is_success() {
            tracing::warn!(provider = name, status = %response.status(), "user endpoint refused");
            return Err(SocialError::Provider("user endpoint status"));
        }
        let body = response
            .bytes()
            .await
            .map_err(|_| SocialError::Provider("user endpoint body"))?;
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|_| SocialError::Provider("user endpoint json"))?;
        let id = field_at(&value, p.user_id_field.trim())
            .ok_or(SocialError::Provider("user endpoint id"))?;
        Ok(format!("{} {}", p.issuer.trim(), id))
    }
}

/// A token-endpoint failure for the log: the OAuth error code, never a body that might hold
/// a token.
fn token_error<RE, T>(e: &oauth2::RequestTokenError<RE, T>) -> String
where
    RE: std::error::Error + 'static,
    T: oauth2::ErrorResponse + 'static,
{
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => format!("provider error: {r}"),
        oauth2::RequestTokenError::Request(_) => "request failed".to_owned(),
        oauth2::RequestTokenError::Parse(_, _) => "unparsable answer".to_owned(),
        oauth2::RequestTokenError::Other(_) => "other".to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_read_at_dotted_paths() {
        let v = serde_json::json!({"id": "42", "data": {"id": 7}, "empty": ""});
        assert_eq!(field_at(&v, "id").as_deref(), Some("42"));
        assert_eq!(field_at(&v, "data.id").as_deref(), Some("7"));
        assert_eq!(field_at(&v, "empty"), None);
        assert_eq!(field_at(&v, "missing.id"), None);
    }

    #[test]
    fn unknown_and_disabled_providers_are_refused() {
        let p = Providers::new(SocialConfig::default()).unwrap();
        assert!(matches!(
            p.enabled("google"),
            Err(SocialError::UnknownProvider)
        ));
        assert!(matches!(
            p.enabled("myspace"),
            Err(SocialError::UnknownProvider)
        ));
    }

    #[test]
    fn the_challenge_is_s256_of_the_verifier() {
        // RFC 7636 appendix B.
        let v = PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_owned());
        let c = PkceCodeChallenge::from_code_verifier_sha256(&v);
        assert_eq!(c.as_str(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }
}
