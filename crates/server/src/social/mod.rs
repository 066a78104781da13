//! Social sign-in: an account at an outside identity provider as a login method and a
//! linkable identity (`users::IdentityKind::Social`, subject `<issuer> <subject>`).
//!
//! The flow is RFC 8252's for native clients, with Tandem in the middle:
//! 1. `start`: the client sends its redirect URI (loopback, or listed), its PKCE challenge and
//!    its state; the server keeps a flow (its own state to the provider only as SHA-256; the
//!    nonce, its own PKCE verifier and the client's state sealed) for 10 minutes and answers
//!    the provider's authorization URL.
//! 2. `callback`: the provider sends the browser back; the server checks the state, exchanges
//!    the code with its own PKCE verifier, verifies the identity (ID token, or user endpoint)
//!    and sends the browser on to the client's redirect URI with a one-time code (SHA-256 at
//!    rest, 2 minutes) and the client's state.
//! 3. `finish`: the client proves it started the flow (its PKCE verifier) and gets what the
//!    flow was for: a login through `Accounts::login_social` (second factor, session, login
//!    event), or the identity linked to its signed-in account.
//!
//! An address a provider asserts is never used: identities are the provider's subject, so a
//! provider cannot take over an account by naming its email (linking is explicit).

mod apple;
mod error;
mod flows;
pub mod http;
mod provider;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub use apple::AppleSigner;
pub use error::SocialError;
pub use provider::Providers;

use crate::account::{Accounts, Client, Login};
use crate::auth::Budget;
use crate::auth::throttle::{self, Bucket};
use crate::clock::SharedClock;
use crate::config::SocialConfig;
use crate::principal::Principal;
use crate::store::{Step, Store, new_id};
use crate::users::{Identity, IdentityKind, Users};
use crate::vault::PiiKeys;
use flows::{NewFlow, Purpose};
use provider::FlowSecrets;

/// The tables of this module.
pub const MIGRATIONS: &[Step] = &[Step {
    version: 13,
    description: "social flows",
    sqlite: include_str!("migrations/sqlite/0013_social_flows.sql"),
    postgres: include_str!("migrations/postgres/0013_social_flows.sql"),
}];

/// How long a started flow waits for the provider's callback.
const FLOW_MS: i64 = 10 * 60_000;
/// How long the client has to finish with the one-time code.
const CODE_MS: i64 = 2 * 60_000;
const CODE_PREFIX: &str = "tds_";
/// Starts per client: each costs the provider a request, and the server a row.
const STARTS_PER_CLIENT: Budget = Budget {
    max: 30,
    window_ms: 10 * 60_000,
};
/// Failed finishes per client (a wrong code or verifier): the codes are 256-bit, so this only
/// bounds noise.
const FAILED_FINISHES_PER_CLIENT: Budget = Budget {
    max: 20,
    window_ms: 15 * 60_000,
};

/// What the client asks for at start.
#[derive(Debug, Clone, Copy)]
pub struct StartRequest<'a> {
    pub provider: &'a str,
    pub redirect_uri: &'a str,
    pub code_challenge: &'a str,
    pub state: &'a str,
}

/// A started flow.
#[derive(Debug, Clone)]
pub struct Started {
    pub authorization_url: String,
    pub expires_at: i64,
}

/// The sealed parts of a flow (wiped from memory when dropped).
#[derive(serde::Serialize, serde::Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
struct Sealed {
    nonce: String,
    verifier: String,
    client_state: String,
}

/// Social sign-in. Cheap to clone.
#[derive(Clone)]
pub struct Social {
    store: Store,
    clock: SharedClock,
    keys: PiiKeys,
    users: Users,
    accounts: Accounts,
    providers: Providers,
}

impl std::fmt::Debug for Social {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Social").finish_non_exhaustive()
    }
}

/// 32 random bytes, base64url.
fn random_token() -> Result<Zeroizing<String>, SocialError> {
    let mut raw = Zeroizing::new([0u8; 32]);
    getrandom::fill(raw.as_mut_slice()).map_err(|_| SocialError::Random)?;
    Ok(Zeroizing::new(
        data_encoding::BASE64URL_NOPAD.encode(raw.as_slice()),
    ))
}

fn sha256(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

/// RFC 8252 §7.3: loopback IP literals (and `localhost`, which §8.3 discourages but CLIs
/// use), plain http, any port; or exactly a URI the operator listed.
fn redirect_allowed(uri: &str, listed: &[String]) -> bool {
    if listed.iter().any(|l| l.trim() == uri) {
        return true;
    }
    let Ok(url) = openidconnect::url::Url::parse(uri) else {
        return false;
    };
    if url.scheme() != "http"
        || !url.username().is_empty()
        || url.password().is_some()
        || url.fragment().is_some()
    {
        return false;
    }
    match url.host() {
        Some(openidconnect::url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(openidconnect::url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(openidconnect::url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The client's redirect URI with these parameters added.
pub fn client_redirect(uri: &str, params: &[(&str, &str)]) -> Option<String> {
    let mut url = openidconnect::url::Url::parse(uri).ok()?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    Some(url.to_string())
}

impl Social {
    pub fn new(
        store: Store,
        clock: SharedClock,
        keys: PiiKeys,
        accounts: Accounts,
        config: SocialConfig,
    ) -> Result<Self, SocialError> {
        Ok(Self {
            users: Users::new(store.clone(), keys.clone()),
            providers: Providers::new(config)?,
            store,
            clock,
            keys,
            accounts,
        })
    }

    async fn charge(
        &self,
        scope: &'static str,
        budget: Budget,
        client: &str,
    ) -> Result<Bucket, SocialError> {
        let bucket = Bucket {
            scope,
            key: self.keys.throttle_bucket(scope, &[client]),
            budget,
            own: true,
        };
        let mut tx = self.store.begin_write().await?;
        if let Some(retry_after_ms) = throttle::take(&mut tx, &bucket, self.clock.now_ms()).await? {
            tx.rollback().await?;
            return Err(SocialError::RateLimited { retry_after_ms });
        }
        tx.commit().await?;
        Ok(bucket)
    }

    /// Starts a sign-in.
    pub async fn start_login(
        &self,
        req: StartRequest<'_>,
        client: &str,
    ) -> Result<Started, SocialError> {
        self.start(req, client, Purpose::Login, None).await
    }

    /// Starts linking an identity to the signed-in account (step-up).
    pub async fn start_link(
        &self,
        principal: &Principal,
        req: StartRequest<'_>,
    ) -> Result<Started, SocialError> {
        self.accounts.require_recent(principal).await?;
        self.start(req, &principal.client, Purpose::Link, Some(principal))
            .await
    }

    async fn start(
        &self,
        req: StartRequest<'_>,
        client: &str,
        purpose: Purpose,
        principal: Option<&Principal>,
    ) -> Result<Started, SocialError> {
        let (provider, _, _) = self.providers.enabled(req.provider)?;
        if req.redirect_uri.len() > 2048
            || !redirect_allowed(req.redirect_uri, &self.providers.config().redirect_uris)
        {
            return Err(SocialError::InvalidField("redirect_uri"));
        }
        if req.code_challenge.len() != 43
            || !req
                .code_challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(SocialError::InvalidField("code_challenge"));
        }
        if req.state.is_empty()
            || req.state.len() > 256
            || !req.state.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(SocialError::InvalidField("state"));
        }
        self.charge("social_start", STARTS_PER_CLIENT, client)
            .await?;
        let now = self.clock.now_ms();
        let id = new_id()?;
        let state = random_token()?;
        let sealed = Sealed {
            nonce: random_token()?.to_string(),
            verifier: random_token()?.to_string(),
            client_state: req.state.to_owned(),
        };
        let json = Zeroizing::new(serde_json::to_string(&sealed).map_err(|_| SocialError::Random)?);
        let secrets_sealed = self.keys.seal("social_flows", "secrets", &id, &json)?;
        let url = self
            .providers
            .authorization_url(
                provider,
                &FlowSecrets {
                    state: &state,
                    nonce: &sealed.nonce,
                    pkce_verifier: &sealed.verifier,
                },
                now,
            )
            .await?;
        let expires_at = now.saturating_add(FLOW_MS);
        flows::insert(
            &self.store,
            &NewFlow {
                id: &id,
                state_hash: &sha256(&state),
                provider,
                purpose,
                user_id: principal.map(|p| p.user_id.as_str()),
                session_id: principal.map(|p| p.session_id.as_str()),
                redirect_uri: req.redirect_uri,
                code_challenge: req.code_challenge,
                secrets_sealed: &secrets_sealed,
                now,
                expires_at,
            },
        )
        .await?;
        Ok(Started {
            authorization_url: url,
            expires_at,
        })
    }

    /// The provider's callback: where to send the browser next. `Err` only when the flow is
    /// unknown (there is then no client to send it to).
    pub async fn callback(
        &self,
        state: Option<&str>,
        code: Option<&str>,
        error: Option<&str>,
    ) -> Result<String, SocialError> {
        let state = state
            .filter(|s| !s.is_empty() && s.len() <= 256)
            .ok_or(SocialError::FlowInvalid)?;
        let now = self.clock.now_ms();
        let flow = flows::take_callback(&self.store, &sha256(state), now)
            .await?
            .ok_or(SocialError::FlowInvalid)?;
        let json = Zeroizing::new(self.keys.open(
            "social_flows",
            "secrets",
            &flow.id,
            &flow.secrets_sealed,
        )?);
        let sealed: Sealed = serde_json::from_str(&json).map_err(|_| SocialError::FlowInvalid)?;
        let outcome = self.verify(&flow, state, code, error, &sealed, now).await;
        let params: Vec<(&str, &str)> = match &outcome {
            Ok(code) => vec![
                ("code", code.as_str()),
                ("state", sealed.client_state.as_str()),
            ],
            Err(e) => {
                tracing::warn!(
                    provider = %flow.provider,
                    reason = %e,
                    detail = ?provider_reason(e),
                    "social sign-in failed at the callback"
                );
                vec![
                    ("error", e.redirect_code()),
                    ("state", sealed.client_state.as_str()),
                ]
            }
        };
        client_redirect(&flow.redirect_uri, &params).ok_or(SocialError::FlowInvalid)
    }

    async fn verify(
        &self,
        flow: &flows::CalledBack,
        state: &str,
        code: Option<&str>,
        error: Option<&str>,
        sealed: &Sealed,
        now: i64,
    ) -> Result<Zeroizing<String>, SocialError> {
        if error.is_some() {
            return Err(SocialError::Denied);
        }
        let code = code
            .filter(|c| !c.is_empty() && c.len() <= 4096)
            .ok_or(SocialError::Provider("no code"))?;
        let (provider, _, _) = self.providers.enabled(&flow.provider)?;
        let subject = self
            .providers
            .identity(
                provider,
                code,
                &FlowSecrets {
                    state,
                    nonce: &sealed.nonce,
                    pkce_verifier: &sealed.verifier,
                },
                now,
            )
            .await?;
        let tandem_code = Zeroizing::new(format!("{CODE_PREFIX}{}", random_token()?.as_str()));
        let subject_sealed = self
            .keys
            .seal("social_flows", "subject", &flow.id, &subject)?;
        flows::complete_callback(
            &self.store,
            &flow.id,
            &sha256(&tandem_code),
            now.saturating_add(CODE_MS),
            &subject_sealed,
        )
        .await?;
        Ok(tandem_code)
    }

    /// Spends a one-time code: the flow it names, if the verifier matches its challenge.
    async fn take(
        &self,
        code: &str,
        verifier: &str,
        client: &str,
        purpose: Purpose,
    ) -> Result<(flows::Finished, String), SocialError> {
        let bucket = self
            .charge("social_finish", FAILED_FINISHES_PER_CLIENT, client)
            .await?;
        let now = self.clock.now_ms();
        let found = flows::take_finish(&self.store, &sha256(code), now).await?;
        let Some(flow) = found else {
            return Err(SocialError::CodeInvalid);
        };
        let challenge = data_encoding::BASE64URL_NOPAD.encode(&Sha256::digest(verifier.as_bytes()));
        let verifier_ok = verifier.len() >= 43
            && verifier.len() <= 128
            && bool::from(challenge.as_bytes().ct_eq(flow.code_challenge.as_bytes()));
        if !verifier_ok || flow.purpose != purpose.as_str() {
            return Err(SocialError::CodeInvalid);
        }
        let subject = self
            .keys
            .open("social_flows", "subject", &flow.id, &flow.subject_sealed)?;
        let mut tx = self.store.begin_write().await?;
        throttle::give_back(&mut tx, &bucket).await?;
        tx.commit().await?;
        Ok((flow, subject))
    }

    /// Finishes a sign-in: the account of the identity (created now if allowed), through the
    /// second factor and session of every login.
    pub async fn finish_login(
        &self,
        code: &str,
        verifier: &str,
        client: Client<'_>,
    ) -> Result<Login, SocialError> {
        let (_, subject) = self
            .take(code, verifier, client.key, Purpose::Login)
            .await?;
        let now = self.clock.now_ms();
        let mut tx = self.store.begin_write().await?;
        let (user_id, created) = if self.providers.config().create_accounts {
            self.users
                .resolve_or_create_in(&mut tx, IdentityKind::Social, &subject, now)
                .await?
        } else {
            match self
                .users
                .find_in(&mut tx, IdentityKind::Social, &subject, now)
                .await?
            {
                Some(user) => (user, false),
                None => {
                    tx.rollback().await?;
                    return Err(SocialError::NoAccount);
                }
            }
        };
        tx.commit().await?;
        Ok(self
            .accounts
            .login_social(&user_id, created, client)
            .await?)
    }

    /// Finishes linking: the identity joins the signed-in account that started the flow.
    pub async fn finish_link(
        &self,
        principal: &Principal,
        code: &str,
        verifier: &str,
    ) -> Result<Identity, SocialError> {
        let (flow, subject) = self
            .take(code, verifier, &principal.client, Purpose::Link)
            .await?;
        if flow.session_id.as_deref() != Some(principal.session_id.as_str()) {
            return Err(SocialError::CodeInvalid);
        }
        Ok(self.accounts.link_social(principal, &subject).await?)
    }

    /// Deletes flows that can matter no more.
    pub async fn prune(&self) -> Result<u64, SocialError> {
        flows::prune(&self.store, self.clock.now_ms()).await
    }
}

/// The category of a provider failure, for the log.
fn provider_reason(e: &SocialError) -> Option<&'static str> {
    match e {
        SocialError::Provider(why) => Some(why),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_and_listed_ones_only() {
        let listed = vec!["https://app.example/done".to_owned()];
        for ok in [
            "http://127.0.0.1:4711/callback",
            "http://[::1]:80/",
            "http://localhost:9/x?y=1",
            "https://app.example/done",
        ] {
            assert!(redirect_allowed(ok, &listed), "{ok}");
        }
        for bad in [
            "https://127.0.0.1/",
            "http://127.0.0.1.evil.example/",
            "http://user@127.0.0.1/",
            "http://127.0.0.1/#frag",
            "http://10.0.0.1/",
            "https://app.example/done/",
            "javascript:alert(1)",
            "",
        ] {
            assert!(!redirect_allowed(bad, &listed), "{bad}");
        }
    }

    #[test]
    fn parameters_are_added_encoded() {
        let url = client_redirect(
            "http://127.0.0.1:5/cb?x=1",
            &[("code", "a b"), ("state", "s&t")],
        );
        assert_eq!(
            url.as_deref(),
            Some("http://127.0.0.1:5/cb?x=1&code=a+b&state=s%26t")
        );
    }
}
