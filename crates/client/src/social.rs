//! Social sign-in and linking (`/v1/auth/social/…`, `/v1/account/social/…`): the client side of
//! an RFC 8252 loopback flow. Make a [`SocialRequest`] (a PKCE verifier and a state), start
//! with its redirect URI, open `authorization_url` in a browser, wait for the browser at the
//! redirect URI, check the state with [`SocialRequest::code_from`], then finish with the code.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use sha2::{Digest, Sha256};
use tandem_proto::account::IdentityInfo;
use tandem_proto::auth::LoginResponse;
use tandem_proto::social::{SocialFinishRequest, SocialStartRequest, SocialStartResponse};
use zeroize::Zeroizing;

use crate::{ApiClient, ClientError};

/// One flow's client secrets: the PKCE verifier and the state, both 256-bit random.
pub struct SocialRequest {
    verifier: Zeroizing<String>,
    state: String,
}

impl std::fmt::Debug for SocialRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocialRequest").finish_non_exhaustive()
    }
}

fn random() -> Result<String, ClientError> {
    let mut raw = Zeroizing::new([0u8; 32]);
    getrandom::fill(raw.as_mut_slice())
        .map_err(|_| ClientError::Local("no randomness from the OS".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(raw.as_slice()))
}

impl SocialRequest {
    /// A fresh verifier and state from the OS's randomness.
    pub fn new() -> Result<Self, ClientError> {
        Ok(Self {
            verifier: Zeroizing::new(random()?),
            state: random()?,
        })
    }

    /// `BASE64URL(SHA-256(verifier))`, sent at start.
    pub fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.verifier.as_bytes()))
    }

    /// The state sent at start; the redirect must carry it back.
    pub fn state(&self) -> &str {
        &self.state
    }

    fn start_body(&self, provider: &str, redirect_uri: &str) -> SocialStartRequest {
        SocialStartRequest {
            provider: provider.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            code_challenge: self.challenge(),
            state: self.state.clone(),
        }
    }

    fn finish_body(&self, code: &str) -> SocialFinishRequest {
        SocialFinishRequest {
            code: code.to_owned(),
            code_verifier: self.verifier.to_string(),
        }
    }

    /// The one-time code of the redirect's query (`code=…&state=…`), once its state is this
    /// flow's; the server's `error` otherwise.
    pub fn code_from(&self, query: &str) -> Result<Zeroizing<String>, ClientError> {
        let mut code = None;
        let mut state = None;
        let mut error = None;
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v);
            match k {
                "code" => code = Some(Zeroizing::new(v)),
                "state" => state = Some(v),
                "error" => error = Some(v),
                _ => {}
            }
        }
        if state.as_deref() != Some(self.state.as_str()) {
            return Err(ClientError::Local(
                "the browser came back with another sign-in's state; start again".into(),
            ));
        }
        if let Some(e) = error {
            return Err(ClientError::Local(format!("the sign-in failed: {e}")));
        }
        code.ok_or_else(|| ClientError::Local("the browser came back without a code".into()))
    }
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let pair = (
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        );
        match (b, pair) {
            (b'+', _) => out.push(b' '),
            (b'%', (Some(hi), Some(lo))) => {
                out.push(hi * 16 + lo);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl ApiClient {
    /// `POST /v1/auth/social/start`.
    pub async fn social_start(
        &self,
        provider: &str,
        redirect_uri: &str,
        request: &SocialRequest,
    ) -> Result<SocialStartResponse, ClientError> {
        let body = request.start_body(provider, redirect_uri);
        self.call(Method::POST, "/v1/auth/social/start", Some(&body))
            .await
    }

    /// `POST /v1/auth/social/finish`: a session, or `second_factor_required`.
    pub async fn social_finish(
        &self,
        code: &str,
        request: &SocialRequest,
    ) -> Result<LoginResponse, ClientError> {
        let body = request.finish_body(code);
        self.call(Method::POST, "/v1/auth/social/finish", Some(&body))
            .await
    }

    /// `POST /v1/account/social/start` (step-up): links a provider's account.
    pub async fn link_social_start(
        &self,
        provider: &str,
        redirect_uri: &str,
        request: &SocialRequest,
    ) -> Result<SocialStartResponse, ClientError> {
        let body = request.start_body(provider, redirect_uri);
        self.call(Method::POST, "/v1/account/social/start", Some(&body))
            .await
    }

    /// `POST /v1/account/social/finish`: the linked identity (`identity_in_use` if another
    /// account has it).
    pub async fn link_social_finish(
        &self,
        code: &str,
        request: &SocialRequest,
    ) -> Result<IdentityInfo, ClientError> {
        let body = request.finish_body(code);
        self.call(Method::POST, "/v1/account/social/finish", Some(&body))
            .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_state_is_checked_and_the_code_decoded() {
        let r = SocialRequest::new().unwrap();
        assert_eq!(r.challenge().len(), 43);
        let ok = format!("code=tds_a%2Bb&state={}", r.state());
        assert_eq!(r.code_from(&ok).unwrap().as_str(), "tds_a+b");
        assert!(r.code_from("code=x&state=other").is_err());
        let err = format!("error=social_failed&state={}", r.state());
        assert!(r.code_from(&err).is_err());
        assert_eq!(percent_decode("a%zz%4"), "a%zz%4");
    }
}
